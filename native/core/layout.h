// Layout of the header every shmsync segment starts with.
//
//   offset 0                                                          64
//   +-------+---------+------+-------+------------+-------------+------+
//   | magic | version | kind | flags | total_size | payload_off | ...  |
//   +-------+---------+------+-------+------------+-------------+------+
//   payload (kind-specific struct, 64-byte aligned) starts at payload_off
//
// Invariants: a segment becomes visible under its public name only after the header is fully
// written (see shm-region.cc: create under a private name, then link()). Every field read back
// from a mapping is untrusted: shm-region.cc validates magic, version, kind and sizes against
// the file size before any payload is touched.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmsync {

constexpr uint32_t kMagic = 0x534d4853;  // "SHMS" little-endian
constexpr uint16_t kLayoutVersion = 1;
constexpr size_t kCacheLine = 64;
constexpr size_t kHeaderSize = 64;
constexpr uint64_t kMaxSegmentSize = uint64_t{1} << 32;  // 4 GiB: Node's max typed array length

// Object kinds: one per wrap class. Opening a segment as the wrong kind is kKindMismatch.
enum class Kind : uint16_t {
  kRaw = 1,     // SharedMemory: payload is user bytes
  kMutex = 2,   // Mutex: payload is MutexState (mutex-layout.h)
  kQueue = 3,   // ShmQueue: payload is a ring (ring-layout.h)
  kOwners = 4,  // per-namespace owner table (owner-table.h)
  kRwLock = 5,  // RwLock: payload is RwLockState (rw-lock-layout.h)
};

struct SegmentHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t kind;
  uint32_t flags;
  uint32_t reserved0;
  uint64_t total_size;      // bytes of the whole mapping (header included)
  uint64_t payload_offset;  // multiple of 64
  uint64_t payload_size;    // total_size - payload_offset
  uint8_t reserved[24];
};

static_assert(sizeof(SegmentHeader) == kHeaderSize, "header is one cache line");
static_assert(offsetof(SegmentHeader, total_size) == 16, "layout is part of the ABI");
static_assert(offsetof(SegmentHeader, payload_offset) == 24, "layout is part of the ABI");
static_assert(offsetof(SegmentHeader, payload_size) == 32, "layout is part of the ABI");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "futex words must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring positions must be lock-free");

}  // namespace shmsync
