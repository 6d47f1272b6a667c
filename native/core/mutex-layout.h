// Shared state of a Mutex segment (payload of Kind::kMutex).
//
//   line 0 (contended)                          line 1 (written by the holder only)
//   +------+------------+-------------+--------+ +-------+---------+--------------+-------+
//   | word | handoff_to | consistency | policy | | fence | (lo,hi) | owner_deaths | depth |
//   +------+------------+-------------+--------+ +-------+---------+--------------+-------+
//
// word: 0 when free, else the holder's OwnerId | kWaitersBit when a waiter may be asleep.
// The TypeScript facade reads the same fields through an Int32Array at the indexes below
// (src/core/mutex-layout.ts); keep both in sync.
//
// Hostile memory: no field here ever becomes a pointer, index or size. Owner ids read from
// `word`/`handoff_to` are masked to a table slot (OwnerTable::SlotOf); `owner_table_id` is
// compared once at open; any other value only changes which Status an operation returns.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmsync {

constexpr uint32_t kLockWaitersBit = 0x80000000u;
constexpr uint32_t kLockOwnerMask = 0x7fffffffu;

enum class Consistency : uint32_t { kConsistent = 0, kInconsistent = 1, kNotRecoverable = 2 };
enum class OwnerDeathPolicy : uint32_t { kRecover = 0, kStrict = 1 };

struct alignas(64) MutexState {
  std::atomic<uint32_t> word;
  std::atomic<uint32_t> handoff_to;   // OwnerId of a starving waiter that gets the lock next
  std::atomic<uint32_t> consistency;  // Consistency
  std::atomic<uint32_t> policy;       // OwnerDeathPolicy, fixed at creation
  std::atomic<uint32_t> waiters;      // sleeping/parked waiters (wake decisions and info())
  uint32_t pad0a;
  // OwnerTable::id() of the table whose owner ids this word holds, fixed at creation. Users of
  // the lock with another table would misjudge each other's liveness: opening is refused.
  std::atomic<uint64_t> owner_table_id;
  uint32_t pad0[8];
  // Holder bookkeeping: only the current holder writes (ordered by the lock itself), so
  // relaxed accesses suffice; readers (info()) accept a torn view.
  std::atomic<uint32_t> fence_lo;  // fence: +1 per fresh acquisition, 64-bit as (lo, hi)
  std::atomic<uint32_t> fence_hi;
  std::atomic<uint32_t> owner_deaths;
  std::atomic<uint32_t> depth;  // reentrancy depth of the holder (written by its JS)
  uint32_t pad1[12];
};

static_assert(sizeof(MutexState) == 128, "two cache lines");
static_assert(offsetof(MutexState, word) == 0, "JS index 0");
static_assert(offsetof(MutexState, handoff_to) == 4, "JS index 1");
static_assert(offsetof(MutexState, consistency) == 8, "JS index 2");
static_assert(offsetof(MutexState, policy) == 12, "JS index 3");
static_assert(offsetof(MutexState, waiters) == 16, "JS index 4");
static_assert(offsetof(MutexState, owner_table_id) == 24, "8-byte aligned");
static_assert(offsetof(MutexState, fence_lo) == 64, "JS index 16");
static_assert(offsetof(MutexState, fence_hi) == 68, "JS index 17");
static_assert(offsetof(MutexState, owner_deaths) == 72, "JS index 18");
static_assert(offsetof(MutexState, depth) == 76, "JS index 19");

}  // namespace shmsync
