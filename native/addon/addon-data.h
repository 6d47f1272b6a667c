// Per-environment addon state (one per JS context: main thread or a worker).
// Created in addon.cc Init, owned by the env through SetInstanceData; main/worker JS thread only.
#pragma once

#include <napi.h>

namespace shmsync {

class Context;

struct AddonData {
  Context* context = nullptr;  // lock/wait state of this JS context (context.h), lazily made
  Napi::FunctionReference create_error;  // JS: (code, message, errno, syscall) => Error
  Napi::FunctionReference region_ctor;
  Napi::FunctionReference mutex_ctor;
  Napi::FunctionReference queue_ctor;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace shmsync
