// Shared state of an RwLock segment (payload of Kind::kRwLock): a reader/writer lock whose
// holders AND waiters are entries of one bounded table, so that
//  - the share of any holder (shared or exclusive) that dies can be found and reclaimed: each
//    entry names its owner id, checked through the OwnerTable's liveness;
//  - grants follow request order (tickets), so a waiting exclusive request is never starved by
//    a stream of shared ones (the Web Locks queue);
//  - query() can list every holder and waiter across processes.
//
//   0            128        192                                2240              3264
//   +------------+----------+----------------------------------+-----------------+
//   | guard      | control  | entries[128] (16 bytes each)     | label (1024)    |
//   | MutexState | line     | owner | state | ticket | order   |                 |
//   +------------+----------+----------------------------------+-----------------+
//
// The table is changed only while holding `guard` (a robust Mutex: a process killed inside a
// critical section is recovered, and every operation re-validates the whole table), so plain
// relaxed accesses inside it are ordered by the guard's acquire/release. Uncontended, taking the
// guard is one CAS and releasing it another: no syscall.
//
// Hostile memory: an entry's fields are read once into a private copy and validated; owner ids
// are masked to a table slot; an unknown state frees the entry. No field becomes a pointer,
// index or size, except `label_len`, which is clamped to kRwLabelBytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "mutex-layout.h"

namespace shmsync {

constexpr uint32_t kRwEntries = 128;
constexpr uint32_t kRwLabelBytes = 1024;

// Entry state word: phase (bits 0-1) | kRwExclusiveBit | kRwDiedBit.
constexpr uint32_t kRwPhaseMask = 3;
constexpr uint32_t kRwFree = 0;
constexpr uint32_t kRwWaiting = 1;  // queued, in ticket order
constexpr uint32_t kRwHeld = 2;
constexpr uint32_t kRwStolen = 3;  // was held; a steal request took it (the owner frees it)
constexpr uint32_t kRwExclusiveBit = 4;
constexpr uint32_t kRwDiedBit = 8;  // this grant reclaimed a dead holder's share: report once
constexpr uint32_t kRwStateMask = 15;

struct RwEntry {
  std::atomic<uint32_t> owner;   // OwnerId of the requesting JS context (0: free)
  std::atomic<uint32_t> state;   // see above
  std::atomic<uint32_t> ticket;  // request order (wrapping; compared by age)
  std::atomic<uint32_t> order;   // grant order: fence_lo at the grant
};
static_assert(sizeof(RwEntry) == 16, "four words");

struct alignas(64) RwLockState {
  MutexState guard;  // protects everything below (robust; recover policy)
  // Bumped (under the guard) whenever a change may let a waiter in or ends a hold: the futex
  // word blocked waiters sleep on and Promise waiters watch through the parker.
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> sleepers;     // waiters asleep (or parked) on seq: wake only if > 0
  std::atomic<uint32_t> next_ticket;  // the next request's ticket
  std::atomic<uint32_t> owner_deaths;
  std::atomic<uint32_t>
      death_pending;                // a dead holder's share was reclaimed; next grant reports it
  std::atomic<uint32_t> label_len;  // bytes of label (creator, then read-only)
  std::atomic<uint32_t> fence_lo;   // +1 per grant (64-bit as lo, hi)
  std::atomic<uint32_t> fence_hi;
  uint32_t pad[8];
  RwEntry entries[kRwEntries];
  uint8_t label[kRwLabelBytes];  // an opaque name the creator stored (the LockManager's lock name)
};

static_assert(sizeof(MutexState) == 128, "guard is two lines");
static_assert(offsetof(RwLockState, seq) == 128, "control line");
static_assert(offsetof(RwLockState, entries) == 192, "entries after the control line");
static_assert(offsetof(RwLockState, label) == 192 + 16 * kRwEntries, "label after the entries");
static_assert(sizeof(RwLockState) == 3264, "layout is part of the ABI");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "futex words must be lock-free");

}  // namespace shmsync
