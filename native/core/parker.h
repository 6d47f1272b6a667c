// The parker: one thread per process that waits, on behalf of JS contexts, for contended
// lock words (and, for queues, for words to change), so Promise waits never block an event
// loop and never occupy the libuv threadpool.
//
// JS threads add and cancel requests; the parker thread sleeps in futex_waitv on every
// request's words plus its own control word, acquires locks on the requesting context's
// behalf (TryLock with that context's OwnerId) and reports each outcome once through the
// request's callback, called on the parker thread (the addon posts it to the right event
// loop). Node-free, so the C++ tests drive it directly.
//
// Direct watches: a target that attached a ParkerTarget (the addon's Context, when io_uring
// futex waits work) sleeps on its watch words itself, from its event loop (futex-ring.h). The
// parker thread then neither polls those requests nor is woken to add them; the target reports
// what its ring saw through CompleteDirect. Lock requests always use the parker thread (they
// must act on the lock word when woken: TryLock, hand-off, liveness slices).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "futex.h"
#include "mutex-layout.h"
#include "owner-table.h"
#include "robust-lock.h"
#include "status.h"

namespace shmsync {

// Hooks of one target (a JS context), called on that target's own thread.
class ParkerTarget {
 public:
  // Arms a direct wait for watch request `id` (no Parker lock held). False: the parker
  // thread waits for it instead.
  virtual bool ArmWatch(uint64_t id, std::atomic<uint32_t>* word, uint32_t expected) = 0;
  // Request `id` ended without a completion (Cancel/CancelAll withdrew it while pending; no
  // Parker lock held). `direct`: it was armed through ArmWatch (withdraw that wait too).
  virtual void Withdrawn(uint64_t id, bool direct) = 0;

 protected:
  ~ParkerTarget() = default;
};

class Parker {
 public:
  // Called on the parker thread, at most once per request, never after Cancel returned
  // kCancelled for it. Must not block and must not call back into the Parker.
  using Callback = void (*)(void* target, uint64_t request_id, Status status);

  static constexpr int32_t kCancelled = -1;

  static Parker& Instance();

  // Acquire `s` for `me`. `keepalive` pins the mapping until the request ends.
  uint64_t ParkLock(std::shared_ptr<void> keepalive, MutexState* s, OwnerTable* table, OwnerId me,
                    Callback cb, void* target);
  // Report kOk once *word != expected (or a spurious wake; callers re-check). `sleepers`, if
  // not null, was incremented by the caller (a waiter count for info(); the caller also armed
  // `word` so that publishers wake it, ring-wake.h); the parker decrements it when the request
  // completes or is cancelled.
  uint64_t ParkWatch(std::shared_ptr<void> keepalive, std::atomic<uint32_t>* word,
                     uint32_t expected, std::atomic<uint32_t>* sleepers, Callback cb, void* target);

  // Withdraws a request. Returns kCancelled if it was withdrawn before completing; otherwise
  // the Status it completed with (its callback has run or is queued). A lock request that
  // completed leaves the lock held by its OwnerId: the caller now owns that acquisition.
  // `intr` (optional) ends the wait for a grant's phase 2 (see AcceptHandoff): kClosed.
  int32_t Cancel(uint64_t request_id, const WaitInterrupt* intr = nullptr);
  // Drops the completion record of a request whose callback was delivered (JS thread).
  void Forget(uint64_t request_id);
  // Cancels every request of `target` (a JS context shutting down). Locks granted but not
  // delivered are released.
  void CancelAll(void* target, const WaitInterrupt* intr = nullptr);

  size_t pending() const;

  // Target's thread: from now on, watch requests of `target` go through `hooks` (direct), and
  // withdrawals are reported to it. Detach (after CancelAll) before `hooks` goes away.
  void Attach(void* target, ParkerTarget* hooks);
  void Detach(void* target);
  // Target's thread: the direct wait of watch `id` ended. Returns true with *status when the
  // request completed now (the caller delivers it: no callback runs for it, and no completion
  // record is kept, so a later Cancel(id) returns kCancelled). False: already withdrawn, or the
  // word had not changed (a spurious wake: re-armed, or moved to the parker thread).
  bool CompleteDirect(uint64_t id, Status* status);

#ifdef SHMSYNC_TEST_HOOKS
  // Test-only: while paused, the parker thread polls no request (so a test can decide exactly
  // which requests are still pending when it cancels them). Returns once that holds.
  void TestPause(bool paused);
#endif

 private:
  Parker() = default;
  struct Request {
    uint64_t id;
    bool is_lock;
    std::shared_ptr<void> keepalive;
    MutexState* state;
    OwnerTable* table;
    OwnerId me;
    std::atomic<uint32_t>* word;
    uint32_t expected;
    std::atomic<uint32_t>* sleepers;
    Callback cb;
    void* target;
    int64_t since_ns;
    bool direct;  // armed on the target's own ring (ParkerTarget::ArmWatch): not ours to poll
    bool handoff;
    DeferTracker defer;  // a stale hand-off registration keeping the word reserved
    uint32_t deferred_to;
  };
  struct Completed {
    Status status;
    bool is_lock;
    std::shared_ptr<void> keepalive;
    MutexState* state;
    OwnerTable* table;
    OwnerId me;
    void* target;
  };

  uint64_t Add(Request r);
  ParkerTarget* HooksOf(void* target) const;  // mu_ held
  // mu_ held: removes requests_[i], undoing its registrations. Returns Cancel's result.
  int32_t Withdraw(size_t i, const WaitInterrupt* intr);
  void EnsureThread();  // mu_ held
  void Run();
  void Wake();
  // Tries to complete `r` (mu_ held). Returns true when it completed.
  bool Poll(Request& r, int64_t now, Status* status);

  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::unordered_map<uint64_t, Completed> completed_;  // completed, callback not yet Forgotten
  std::unordered_map<void*, ParkerTarget*> targets_;   // attached targets (Attach/Detach)
  uint64_t next_id_ = 1;
  std::atomic<uint32_t> control_{0};
  bool started_ = false;
  bool paused_ = false;  // test hook only
};

}  // namespace shmsync
