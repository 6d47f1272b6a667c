// Thin wrappers over the futex syscalls. Process-shared: never FUTEX_PRIVATE_FLAG, because
// every word we wait on lives in a MAP_SHARED segment. Any thread may call these.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

namespace shmsync {

// glibc robust-mutex word bits (also the kernel's robust-futex ABI).
constexpr uint32_t kFutexWaitersBit = 0x80000000u;    // FUTEX_WAITERS
constexpr uint32_t kFutexOwnerDiedBit = 0x40000000u;  // FUTEX_OWNER_DIED
constexpr uint32_t kFutexTidMask = 0x3fffffffu;       // FUTEX_TID_MASK

constexpr int64_t kNanosPerMilli = 1000000;
constexpr int64_t kNanosPerSecond = 1000000000;

inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

// Fills *ts from nanoseconds; returns ts, or null for "no limit" (ns < 0).
inline timespec* ToTimespec(int64_t ns, timespec* ts) {
  if (ns < 0) return nullptr;
  ts->tv_sec = static_cast<time_t>(ns / kNanosPerSecond);
  ts->tv_nsec = static_cast<long>(ns % kNanosPerSecond);
  return ts;
}

// Sleeps while *word == expected, at most timeout_ns (< 0: no limit). Returns 0 when woken
// (or the value differed), ETIMEDOUT, or EINTR.
inline int FutexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  timespec ts;
  long r = syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected,
                   ToTimespec(timeout_ns, &ts), nullptr, 0);
  if (r == 0) return 0;
  return errno == EAGAIN ? 0 : errno;
}

inline void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// One entry of futex_waitv (kernel ABI, struct futex_waitv).
struct FutexWaitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
static_assert(sizeof(FutexWaitv) == 24, "kernel ABI");
constexpr uint32_t kFutex2Size32 = 0x02;  // FUTEX2_SIZE_U32; no FUTEX2_PRIVATE: shared words
constexpr int kMaxWaitv = 128;            // FUTEX_WAITV_MAX

inline void SetWaitv(FutexWaitv* w, std::atomic<uint32_t>* word, uint32_t expected) {
  w->val = expected;
  w->uaddr = reinterpret_cast<uint64_t>(word);
  w->flags = kFutex2Size32;
  w->reserved = 0;
}

// Sleeps until any word differs from its expected value or is woken, or the absolute
// CLOCK_MONOTONIC deadline passes (< 0: none). Returns the woken index (>= 0), or -errno
// (-ETIMEDOUT, -EAGAIN when a value already differed, -EINTR).
inline int FutexWaitvUntil(FutexWaitv* waiters, int count, int64_t deadline_ns) {
  timespec ts;
  long r =
      syscall(SYS_futex_waitv, waiters, count, 0, ToTimespec(deadline_ns, &ts), CLOCK_MONOTONIC);
  if (r >= 0) return static_cast<int>(r);
  if (errno != ENOSYS) return -errno;
  // Kernels before 5.16 lack futex_waitv: wait on the first word only, in 1 ms slices, so the
  // other words are polled (correct, slower to notice). Linux >= 5.16 is the supported target.
  int64_t slice = kNanosPerMilli;
  if (deadline_ns >= 0) {
    const int64_t left = deadline_ns - MonotonicNanos();
    if (left <= 0) return -ETIMEDOUT;
    if (left < slice) slice = left;
  }
  auto* first = reinterpret_cast<std::atomic<uint32_t>*>(static_cast<uintptr_t>(waiters[0].uaddr));
  const int e = FutexWait(first, static_cast<uint32_t>(waiters[0].val), slice);
  return e == 0 ? 0 : -e;
}

// A short pause for spin loops (bounded by callers: the other core is the only other core).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace shmsync
