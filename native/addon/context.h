// Per-JS-context state for locks and waits (main thread or one worker). JS thread only,
// except Deliver(), which the parker thread calls.
//
// The context claims its OwnerId lazily, on the JS thread (whose life the id represents), and
// releases it in its async env cleanup hook, which runs on worker.terminate() and normal exit.
// A SIGKILL skips the hook; the kernel's robust list then marks the id dead.
//
// Wake path (docs/concepts/wake-path.md): completions reach JS in one hop.
//  - Queue watches sleep on this context's own io_uring (FutexRing), polled by the event loop:
//    a publisher's FUTEX_WAKE wakes this loop directly; arming costs one io_uring_enter and
//    never wakes the parker thread. Without io_uring futex ops (Linux < 6.7, seccomp) or with
//    SHMSYNC_WAKE=parker, watches use the parker thread like locks.
//  - Parker-thread completions (locks, fallback watches) go through a CompletionInbox and one
//    uv_async_t (one eventfd write per batch; no threadsafe-function queue).
// The loop stays referenced exactly while requests are outstanding: Parked() counts one up
// (the wraps call it after each park), and native code counts it down when the completion is
// drained or the request is withdrawn (ParkerTarget::Withdrawn). JS calls nothing to balance it.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>
#include <unordered_set>
#include <vector>

#include "../core/completion-inbox.h"
#include "../core/futex-ring.h"
#include "../core/owner-table.h"
#include "../core/parker.h"
#include "../core/wait-interrupt.h"

namespace shmsync {

class Context final : public ParkerTarget {
 public:
  static Context* Get(Napi::Env env);  // creates it on first use

  // JS: init({ threadId, createError, dispatch, wake }) — the one handshake, at addon load.
  // `dispatch` (requestId, status) receives completions on this thread; `parker_only`
  // (SHMSYNC_WAKE=parker in this context's process.env) turns direct watches off. Returns false
  // with an exception.
  bool Init(Napi::Env env, uint32_t js_thread_id, Napi::Function dispatch, bool parker_only);

  // Claims the OwnerId if not yet done (js_thread_id 0: the one init() recorded). Returns false
  // with a JS exception pending on failure.
  bool EnsureOwner(Napi::Env env, uint32_t js_thread_id = 0);
  OwnerId owner() const { return owner_; }
  OwnerTable* table() const { return table_.get(); }
  const std::shared_ptr<OwnerTable>& table_ptr() const { return table_; }

  // Parker callback target (parker thread, Parker lock held): queues the completion for this
  // context's loop and rings its doorbell once per batch.
  static void Deliver(void* target, uint64_t request_id, Status status);
  // True once init() ran: parking without it would lose the completion.
  bool CanDeliver() const { return dispatch_ != nullptr; }
  // JS thread: one more request is outstanding (after a park returned its id).
  void Parked();
  // JS thread: request `id` is outstanding but must not keep the event loop alive (a watch for
  // a steal of a held Web Lock). Its completion or withdrawal is then not counted down.
  void ParkedUnref(uint64_t id) { unref_.insert(id); }

  // ParkerTarget (this context's JS thread).
  bool ArmWatch(uint64_t id, std::atomic<uint32_t>* word, uint32_t expected) override;
  void Withdrawn(uint64_t id, bool direct) override;

  // For blocking waits on this context's JS thread: ends the wait once this environment may no
  // longer run JS (worker.terminate(), the worker's or the process's exit). See wait-interrupt.h.
  const WaitInterrupt* interrupt() const { return &interrupt_; }
  // JS thread: true once N-API refuses to run JS in `env` (the environment is stopping).
  static bool EnvStopping(void* env);

  // Diagnostics for tests: outstanding requests, whether watches use the ring.
  int outstanding() const { return pending_; }
  bool direct_watches() const { return ring_ != nullptr; }

 private:
  explicit Context(Napi::Env env);
  ~Context();
  static void AsyncCleanup(napi_async_cleanup_hook_handle handle, void* arg);
  static void OnClosed(uv_handle_t* handle);
  static void OnAsync(uv_async_t* handle);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Settled(int n);
  // How many of `items` were counted by Parked() (forgets the unreferenced ones).
  int Counted(const std::vector<Completion>&
                  items);  // n requests ended: drop the loop reference when none is left
  // Calls dispatch(id, status) for each; `forget`: drop the Parker's completion record of the
  // ones JS received (parker-thread completions; a lock granted to nobody keeps its record so
  // teardown releases it).
  void DeliverToJs(const std::vector<Completion>& items, bool forget);
  bool OpenRing();

  napi_env env_;
  uv_loop_t* loop_ = nullptr;
  std::shared_ptr<OwnerTable> table_;
  OwnerId owner_ = 0;
  uint32_t js_thread_id_ = 0;
  napi_ref dispatch_ = nullptr;
  napi_ref resource_ = nullptr;
  napi_async_context async_context_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  uv_async_t async_;
  uv_poll_t poll_;
  bool async_open_ = false;
  bool poll_open_ = false;
  int closing_ = 0;  // handles whose close callback has not run yet
  bool ring_tried_ = false;
  bool ring_allowed_ = true;  // SHMSYNC_WAKE=parker turns direct watches off
  std::unique_ptr<FutexRing> ring_;
  CompletionInbox inbox_;
  std::unordered_set<uint64_t> unref_;  // outstanding requests not counted in pending_
  int pending_ = 0;                     // outstanding requests (JS thread)
  bool referenced_ = false;             // async_ holds the loop open
  WaitInterrupt interrupt_;
};

}  // namespace shmsync
