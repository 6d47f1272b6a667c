// FutexRing: a minimal io_uring that only sleeps on futex words (IORING_OP_FUTEX_WAIT, Linux
// >= 6.7), so a JS thread can wait for a shared-memory word from its own event loop: libuv polls
// fd(); a FUTEX_WAKE from any process posts a completion and the loop wakes once. No helper
// thread is woken on the way, and arming a wait is one io_uring_enter from the JS thread (the
// parker thread's set need not be rebuilt).
//
// Process-local (the ring fd and its memory belong to this process); the words are the same
// shared words the futex syscalls use (no FUTEX2_PRIVATE), so publishers need no change.
//
// Threading: one owner thread (the JS thread of one context) calls every method. Not
// thread-safe; no atomics are shared with other threads except the kernel's ring indexes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace shmsync {

class FutexRing {
 public:
  // Opens a ring and proves that futex waits work on it (submits a wait that must fail with
  // EAGAIN). Returns null when io_uring or its futex ops are unavailable (old kernel, seccomp,
  // kernel.io_uring_disabled): callers fall back to the parker thread.
  static std::unique_ptr<FutexRing> Open();
  ~FutexRing();
  FutexRing(const FutexRing&) = delete;
  FutexRing& operator=(const FutexRing&) = delete;

  int fd() const { return fd_; }

  // Sleeps (asynchronously) while *word == expected; a completion with `tag` follows once the
  // word is woken or differed at submission. `tag` must not be 0. False: not submitted.
  bool Wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t tag);
  // Withdraws the wait with `tag` (its completion then reports -ECANCELED, or it had completed).
  // A cancel that finds nothing (the wait had completed) posts a completion tagged 0, skipped.
  bool Cancel(uint64_t tag);

  // Calls visit(tag, res) for every completion (res: 0 woken, -EAGAIN differed, -ECANCELED,
  // other -errno); completions of internal operations are skipped. Returns how many it visited.
  template <typename Visit>
  int Drain(Visit&& visit) {
    int n = 0;
    uint64_t tag;
    int32_t res;
    for (;;) {
      while (Next(&tag, &res)) {
        if (tag == 0) continue;  // Cancel's own completion
        visit(tag, res);
        ++n;
      }
      // Completions the CQ had no room for wait in the kernel until we ask for them.
      if (!Overflowed()) return n;
      FlushOverflow();
    }
  }

 private:
  FutexRing() = default;
  bool Setup();
  // Fills one SQE and submits it. False when the ring is full or io_uring_enter failed.
  bool Submit(uint8_t opcode, uint8_t flags, uint64_t addr, uint64_t addr2, uint64_t addr3,
              int32_t fd, uint64_t tag);
  bool Next(uint64_t* tag, int32_t* res);
  bool Overflowed() const;
  void FlushOverflow();

  int fd_ = -1;
  void* sq_map_ = nullptr;
  size_t sq_map_size_ = 0;
  void* cq_map_ = nullptr;
  size_t cq_map_size_ = 0;
  void* sqes_ = nullptr;
  size_t sqes_size_ = 0;
  // Pointers into the mapped rings (kernel ABI): indexes are shared with the kernel.
  std::atomic<uint32_t>* sq_head_ = nullptr;
  std::atomic<uint32_t>* sq_tail_ = nullptr;
  uint32_t sq_mask_ = 0;
  uint32_t sq_entries_ = 0;
  uint32_t* sq_array_ = nullptr;
  std::atomic<uint32_t>* sq_flags_ = nullptr;
  std::atomic<uint32_t>* cq_head_ = nullptr;
  std::atomic<uint32_t>* cq_tail_ = nullptr;
  uint32_t cq_mask_ = 0;
  void* cqes_ = nullptr;
};

}  // namespace shmsync
