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
constexpr uint64_t kHeldSinceEpoch = 1704067200;  // 2024-01-01T00:00:00Z, in Unix seconds
constexpr uint64_t kHeldSinceExactBit = 0x80000000u;
constexpr uint64_t kHeldSinceSecondsMask = 0x7fffffffu;

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
  // When the current hold began, for operators (shmsync ls/inspect/watch), packed in one word so
  // a reader never sees a torn stamp: bits 63..32 the fence_lo of the hold it describes (a stamp
  // whose tag differs from fence_lo describes an earlier hold and is ignored), bit 31 set when
  // the time is the acquisition itself, clear when it is only "held at least since" (stamped by
  // the first waiter that found the hold), bits 30..0 seconds since kHeldSinceEpoch. 0: none.
  // Written only on native paths that already cost microseconds (an acquisition after waiting,
  // a parker grant, a waiter going to sleep); the JS fast path writes nothing here, so an
  // uncontended hold that nobody waits for has no stamp. Readers treat it as a hint.
  std::atomic<uint64_t> held_since;
  uint32_t pad0[6];
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
static_assert(offsetof(MutexState, held_since) == 32, "8-byte aligned, line 0");
static_assert(offsetof(MutexState, fence_lo) == 64, "JS index 16");
static_assert(offsetof(MutexState, fence_hi) == 68, "JS index 17");
static_assert(offsetof(MutexState, owner_deaths) == 72, "JS index 18");
static_assert(offsetof(MutexState, depth) == 76, "JS index 19");

}  // namespace shmsync
