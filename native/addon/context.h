// Per-JS-context state for locks and waits (main thread or one worker). JS thread only,
// except Deliver(), which the parker thread calls.
//
// The context claims its OwnerId lazily, on the JS thread (whose life the id represents), and
// releases it in the env cleanup hook, which runs on worker.terminate() and normal exit. A
// SIGKILL skips the hook; the kernel's robust list then marks the id dead.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/owner-table.h"
#include "../core/parker.h"
#include "../core/wait-interrupt.h"

namespace shmsync {

class Context {
 public:
  static Context* Get(Napi::Env env);  // creates it on first use

  // Claims the OwnerId if not yet done. Returns false with a JS exception pending on failure.
  bool EnsureOwner(Napi::Env env, uint32_t js_thread_id = 0);
  OwnerId owner() const { return owner_; }
  OwnerTable* table() const { return table_.get(); }
  const std::shared_ptr<OwnerTable>& table_ptr() const { return table_; }

  // Parker callback target: posts (request id, status) to this context's event loop.
  static void Deliver(void* target, uint64_t request_id, Status status);
  // True once setGrantHandler ran: parking without it would lose the completion.
  bool CanDeliver() const { return tsfn_ != nullptr; }
  // Keeps the event loop alive while requests are parked (JS thread).
  void Parked();
  void Unparked();

  // JS: setGrantHandler((requestId, status) => void)
  void SetGrantHandler(Napi::Env env, Napi::Function fn);

  // For blocking waits on this context's JS thread: ends the wait once this environment may no
  // longer run JS (worker.terminate(), the worker's or the process's exit). See wait-interrupt.h.
  const WaitInterrupt* interrupt() const { return &interrupt_; }
  // JS thread: true once N-API refuses to run JS in `env` (the environment is stopping).
  static bool EnvStopping(void* env);

 private:
  explicit Context(Napi::Env env);
  ~Context();
  static void Cleanup(void* arg);
  static void CallJs(napi_env env, napi_value js_cb, void* context, void* data);

  napi_env env_;
  std::shared_ptr<OwnerTable> table_;
  OwnerId owner_ = 0;
  napi_threadsafe_function tsfn_ = nullptr;
  Napi::FunctionReference grant_handler_;
  int parked_ = 0;
  WaitInterrupt interrupt_;
};

}  // namespace shmsync
