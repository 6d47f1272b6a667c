// Shared layout of a ShmQueue segment (payload of Kind::kQueue).
//
//   0      64     128      192        256          384          512             512+capacity
//   +------+------+--------+----------+------------+------------+---------------+
//   | prod | cons | config | reserved | producers' | consumers' | data ring     |
//   | line | line | line   |          | MutexState | MutexState | (power of 2)  |
//   +------+------+--------+----------+------------+------------+---------------+
//
// Records in the ring are 8-byte aligned: [u32 length][u32 type] payload, padded to 8. A record
// never straddles the end: a PAD record (type kRecordPad) fills the rest of the ring instead.
// tail/head are monotonic byte positions (never wrap in practice: 2^64 bytes). A record is
// invisible until a producer's release store of tail covers it; space is free once a
// consumer's release store of head passes it. Producers serialise among themselves with the
// robust lock in `producer_lock` (a producer killed mid-write never published anything);
// consumers likewise with `consumer_lock`. Producers never wait for consumers except when
// the ring is full, and vice versa.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "mutex-layout.h"

namespace shmsync {

constexpr uint32_t kRecordHeader = 8;
constexpr uint32_t kRecordPad = 0xffffffffu;  // type of a padding record
constexpr uint32_t kMaxRecordType = 255;      // user record types are 0..255
constexpr uint64_t kRingDataOffset = 512;
constexpr uint64_t kMinRingCapacity = 1024;
constexpr uint64_t kMaxRingCapacity = uint64_t{1} << 31;

inline uint64_t AlignRecord(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

struct alignas(64) RingState {
  // Producer line: written by the producer holding producer_lock.
  std::atomic<uint64_t> tail;                // bytes published
  std::atomic<uint64_t> count_in;            // messages published
  std::atomic<uint32_t> data_seq;            // futex word consumers sleep on: bumped on publish
  std::atomic<uint32_t> consumers_sleeping;  // consumers (threads or parked) waiting for data
  uint32_t pad0[10];
  // Consumer line: written by the consumer holding consumer_lock.
  std::atomic<uint64_t> head;       // bytes consumed
  std::atomic<uint64_t> count_out;  // messages consumed
  std::atomic<uint32_t> space_seq;  // futex word producers sleep on: bumped on consume
  std::atomic<uint32_t> producers_sleeping;
  uint32_t pad1[10];
  // Configuration: written once at creation, then read-only. Untrusted like every shared field:
  // each opener loads it exactly once (ReadRingConfig: atomic loads, so the compiler cannot
  // fetch it again), validates that private copy and bounds every access by it (ring.h).
  std::atomic<uint64_t> capacity;     // data ring bytes, power of two
  std::atomic<uint32_t> max_message;  // payload bytes accepted per message
  std::atomic<uint32_t> closed;       // 1 once close() ran: no more puts; gets drain then end
  uint32_t pad2[12];
  uint8_t reserved[64];  // room for layout growth without moving the locks
  MutexState producer_lock;
  MutexState consumer_lock;
};

static_assert(sizeof(RingState) == kRingDataOffset, "data starts right after the state");
static_assert(offsetof(RingState, head) == 64, "consumer line");
static_assert(offsetof(RingState, capacity) == 128, "config line");
static_assert(offsetof(RingState, max_message) == 136, "config line");
static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<uint32_t>) == 4,
              "atomics have the size of the plain fields they replaced (layout is ABI)");
static_assert(offsetof(RingState, producer_lock) == 256, "producer lock");
static_assert(offsetof(RingState, consumer_lock) == 384, "consumer lock");

}  // namespace shmsync
