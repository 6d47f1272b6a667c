// Liveness without PIDs: the owner table.
//
// Every JS context (main thread or worker of a process) that uses a lock or queue claims one
// slot of a per-user table segment. The slot's deadman is a plain 32-bit futex word holding the
// claiming thread's kernel TID; that thread links the word into its own private robust-futex
// list (deadman-list.h), so when the thread or its process dies (SIGKILL, worker.terminate()
// without cleanup, any exit) the kernel sets FUTEX_OWNER_DIED in the word and wakes a waiter.
// An owner id names (slot, generation); the generation is bumped on every claim and release,
// so a stale id can never look alive again (PIDs are reused within about a second here;
// generations are not).
//
//   OwnerTablePayload                                  64-byte slots
//   +--------------------+-----------+-----------+-----------+-----
//   | capacity, format,  | slot 0    | slot 1    | slot 2    | ...
//   | hint, table id     |           |           |           |
//   +--------------------+-----------+-----------+-----------+-----
//   slot: [ deadman word | reserved (36) | generation | pid | tid | js thread id | pad ]
//   deadman word: 0 free | TID (FUTEX_TID_MASK) [| FUTEX_WAITERS] alive |
//                 FUTEX_OWNER_DIED [| FUTEX_WAITERS] dead (the kernel clears the TID) |
//                 TID | FUTEX_OWNER_DIED a claim in progress (dead to Check, not free to Claim)
//
// The table holds no pointer: nothing in it can steer this process's memory accesses. Its
// segment must belong to this effective uid and have mode 0600 (checked with fstat on the open
// descriptor); any other table is refused with kPermission. Every word is still untrusted: a
// rogue value can make a slot's owner look alive or dead (wrong liveness for that slot), not
// more. The deadman slots are 64 bytes apart so deadman-list.h can mirror them privately.
//
// Owner id (31 bits): generation (19 bits) << 12 | slot index (12 bits); never 0.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "shm-region.h"
#include "status.h"

namespace shmsync {

using OwnerId = uint32_t;

constexpr uint32_t kOwnerSlots = 4096;
constexpr uint32_t kOwnerSlotBits = 12;
constexpr uint32_t kOwnerGenerationMask = (1u << 19) - 1;
constexpr OwnerId kOwnerIdMask = 0x7fffffffu;
// Table layouts: 0 was glibc robust pthread_mutex_t deadmen (links in shared memory; refused),
// 2 is TID futex words with private robust lists.
constexpr uint32_t kOwnerTableFormat = 2;

struct alignas(64) OwnerSlot {
  std::atomic<uint32_t> deadman;  // robust futex word (see the header comment)
  // Always zero. Keeps the fields below at the offsets of the previous layout (whose deadman was
  // a 40-byte pthread_mutex_t), which external decoders (the CLI) read.
  uint32_t reserved[9];
  std::atomic<uint32_t> generation;  // current generation of the live owner (0: never claimed)
  std::atomic<uint32_t> pid;         // informational only (info()), never a liveness proof
  std::atomic<uint32_t> tid;
  std::atomic<uint32_t> js_thread_id;  // Node's worker threadId of the owner (0: main thread)
  uint32_t pad[2];
};
static_assert(sizeof(OwnerSlot) == 64, "one slot per cache line");
static_assert(offsetof(OwnerSlot, deadman) == 0, "deadman words are sizeof(OwnerSlot) apart");
static_assert(offsetof(OwnerSlot, generation) == 40 && offsetof(OwnerSlot, pid) == 44 &&
                  offsetof(OwnerSlot, tid) == 48 && offsetof(OwnerSlot, js_thread_id) == 52,
              "layout is part of the ABI (docs/concepts/memory-layout.md)");

struct OwnerTablePayload {
  std::atomic<uint32_t> capacity;
  std::atomic<uint32_t> next_hint;  // where the next claim starts scanning
  // Random identity of this table (never 0). Owner ids mean something only in their table:
  // every lock records the id of the table its users must share (see mutex-layout.h).
  std::atomic<uint64_t> table_id;
  std::atomic<uint32_t> format;  // kOwnerTableFormat
  uint8_t pad[44];
  OwnerSlot slots[kOwnerSlots];
};
static_assert(offsetof(OwnerTablePayload, format) == 16, "layout is part of the ABI");
static_assert(offsetof(OwnerTablePayload, slots) == 64, "slots are cache-line aligned");

enum class Liveness { kAlive, kDead };

class OwnerTable {
 public:
  // The process-wide table (opened or created on first use). Name: SharedName().
  static Result Shared(std::shared_ptr<OwnerTable>* out);
  // "shmsync-owners-<euid>" unless the environment variable SHMSYNC_OWNER_TABLE names another
  // logical name (the test suite uses its own table and removes it at the end).
  static std::string SharedName();
  // Opens or creates a table. Refuses (kPermission, with the file's owner and mode in the
  // Result) a segment that another uid owns or that has group/other permission bits, and
  // (kVersionMismatch) a table of another format.
  static Result Open(const std::string& segment_name, std::shared_ptr<OwnerTable>* out);

  // Claims a free or dead slot for the calling thread, which becomes the deadman holder.
  // Must be called on the thread whose life the id represents. kBusy: no free slot, or this
  // thread already holds deadmen in another table mapping; kSystem: the kernel refused the
  // robust list (errno in the Result).
  Result Claim(OwnerId* id, uint32_t js_thread_id = 0);
  // Clean release: the id becomes dead at once, waiters are woken. On the claiming thread it
  // also unlinks the deadman from the thread's robust list (and gives the thread back its
  // previous list when it was the last); from another thread the slot is freed but the
  // claimer's private entry stays linked until that thread exits (harmless: the kernel only
  // acts on words that hold the dying thread's TID).
  void Release(OwnerId id);

  // Reads only; no syscall, no side effect. Any thread, any process.
  Liveness Check(OwnerId id) const;
  // The deadman futex word of `id`'s slot, with FUTEX_WAITERS set so the kernel wakes a waiter
  // when the owner dies. Returns null when `id` is already dead. `*expected` receives the value
  // to pass to futex_waitv.
  std::atomic<uint32_t>* ArmDeathWake(OwnerId id, uint32_t* expected);
  // Wakes everyone sleeping on `id`'s deadman word (after a death was handled).
  void WakeDeathWaiters(OwnerId id);

  uint32_t PidOf(OwnerId id) const;
  uint32_t TidOf(OwnerId id) const;
  uint32_t JsThreadIdOf(OwnerId id) const;
  // The table id read once and validated (non-zero) at open; never re-read from the segment.
  uint64_t id() const { return id_; }

  static uint32_t SlotOf(OwnerId id) { return id & (kOwnerSlots - 1); }
  static uint32_t GenerationOf(OwnerId id) { return (id >> kOwnerSlotBits) & kOwnerGenerationMask; }

 private:
  OwnerTable(std::shared_ptr<ShmRegion> region, OwnerTablePayload* table, uint64_t id)
      : region_(std::move(region)), table_(table), id_(id) {}
  std::atomic<uint32_t>* DeadmanWord(uint32_t slot) const { return &table_->slots[slot].deadman; }
  bool TryClaimSlot(uint32_t i, uint32_t tid, uint32_t js_thread_id, OwnerId* id);

  std::shared_ptr<ShmRegion> region_;
  OwnerTablePayload* table_;
  uint64_t id_;
};

}  // namespace shmsync
