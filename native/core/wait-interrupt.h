// Interruptible blocking waits (issue 9 item 9). A blocking wait (Lock, the queue's sync waits)
// sleeps in futex_waitv; V8's TerminateExecution cannot reach a thread inside a syscall, so a
// wait must end on its own when its JS context is going away:
//  - the process-wide shutdown word: set once, by the main thread when the process exits
//    (process 'exit', before Node joins its workers); every wait keeps it in its futex_waitv
//    set, so setting it and waking it ends all sleeps at once;
//  - a poll the waiting thread runs between sleeps (at most kInterruptPollNanos apart): the
//    addon asks N-API whether this thread's environment may still run JS (false once
//    worker.terminate() or the parent's exit stopped it).
// Node-free: the addon supplies the poll. Any thread.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "futex.h"

namespace shmsync {

// Longest sleep between two polls of WaitInterrupt::poll.
constexpr int64_t kInterruptPollNanos = 20 * kNanosPerMilli;

// 0 while the process runs; 1 once it is exiting. Process-private memory; futex_waitv without
// FUTEX2_PRIVATE works on it like on the shared words.
inline std::atomic<uint32_t> g_shutdown_word{0};

// Main thread, at process exit: ends every blocking wait of every thread of this process.
inline void ShutdownAllWaits() {
  // release: nothing to publish; the waker's store is what the sleepers' futex compare sees.
  g_shutdown_word.store(1, std::memory_order_release);
  FutexWake(&g_shutdown_word, INT_MAX);
}

struct WaitInterrupt {
  // Called on the waiting thread between sleeps; true: stop waiting (the wait returns kClosed).
  bool (*poll)(void* arg) = nullptr;
  void* arg = nullptr;
};

// True when the wait must end now. Waiting thread.
inline bool Interrupted(const WaitInterrupt* intr) {
  if (g_shutdown_word.load(std::memory_order_acquire) != 0) return true;
  return intr != nullptr && intr->poll != nullptr && intr->poll(intr->arg);
}

}  // namespace shmsync
