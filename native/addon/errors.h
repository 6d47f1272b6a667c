// The one place where a native Status becomes a JS error (main/worker JS thread only).
#pragma once

#include <napi.h>

#include "../core/status.h"

namespace shmsync {

// Stable JS code for a status ("SHMSYNC_NOT_FOUND", ...). Never null.
const char* StatusCode(Status status);

// Builds the error through the JS factory registered at init (so it is an instance of the
// library's error classes) and throws it. `context` names the object, e.g. 'segment "foo"'.
void ThrowResult(Napi::Env env, const Result& result, const std::string& context);

// Argument errors that JS validation should have caught; thrown as TypeError.
void ThrowBadArgument(Napi::Env env, const char* what);

}  // namespace shmsync
