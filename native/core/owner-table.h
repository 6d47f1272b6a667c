// Liveness without PIDs: the owner table.
//
// Every JS context (main thread or worker of a process) that uses a lock or queue claims one
// slot of a machine-wide table segment and holds that slot's robust, process-shared pthread
// mutex (its "deadman") for its whole life, locked by its own JS thread. When that thread or its
// process dies (SIGKILL, worker.terminate()), the kernel's robust-futex list marks the deadman
// OWNER_DIED and wakes a waiter on it. An owner id names (slot, generation); the generation is
// bumped on every claim and release, so a stale id can never look alive again (PIDs are reused
// within about a second here; generations are not).
//
//   OwnerTablePayload                                  64-byte slots
//   +--------------------+-----------+-----------+-----------+-----
//   | capacity, hint ... | slot 0    | slot 1    | slot 2    | ...
//   +--------------------+-----------+-----------+-----------+-----
//   slot: [ pthread_mutex_t deadman (40) | generation | pid | tid | js thread id | pad ]
//
// Owner id (31 bits): generation (19 bits) << 12 | slot index (12 bits); never 0.
#pragma once

#include <pthread.h>

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

struct alignas(64) OwnerSlot {
  pthread_mutex_t deadman;
  std::atomic<uint32_t> generation;  // current generation of the live owner (0: never claimed)
  std::atomic<uint32_t> pid;         // informational only (info()), never a liveness proof
  std::atomic<uint32_t> tid;
  std::atomic<uint32_t> js_thread_id;  // Node's worker threadId of the owner (0: main thread)
};
static_assert(sizeof(OwnerSlot) == 64, "one slot per cache line");

struct OwnerTablePayload {
  uint32_t capacity;
  std::atomic<uint32_t> next_hint;  // where the next claim starts scanning
  // Random identity of this table (never 0). Owner ids mean something only in their table:
  // every lock records the id of the table its users must share (see mutex-layout.h).
  std::atomic<uint64_t> table_id;
  uint8_t pad[48];
  OwnerSlot slots[kOwnerSlots];
};
static_assert(offsetof(OwnerTablePayload, slots) == 64, "slots are cache-line aligned");

enum class Liveness { kAlive, kDead };

class OwnerTable {
 public:
  // The process-wide table (opened or created on first use). Name: "shmsync-owners-<uid>"
  // unless the environment variable SHMSYNC_OWNER_TABLE names another logical name (the test
  // suite uses its own table and removes it at the end).
  static Result Shared(std::shared_ptr<OwnerTable>* out);
  static Result Open(const std::string& segment_name, std::shared_ptr<OwnerTable>* out);

  // Claims a free or dead slot for the calling thread, which becomes the deadman holder.
  // Must be called on the thread whose life the id represents.
  Result Claim(OwnerId* id, uint32_t js_thread_id = 0);
  // Clean release by the claiming thread: the id becomes dead at once, waiters are woken.
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
  // Read once at open (the shared copy is untrusted and may be rewritten later).
  uint64_t id() const { return id_; }

  static uint32_t SlotOf(OwnerId id) { return id & (kOwnerSlots - 1); }
  static uint32_t GenerationOf(OwnerId id) { return (id >> kOwnerSlotBits) & kOwnerGenerationMask; }

 private:
  OwnerTable(std::shared_ptr<ShmRegion> region, uint64_t id)
      : region_(std::move(region)),
        table_(reinterpret_cast<OwnerTablePayload*>(region_->payload())), id_(id) {}
  std::atomic<uint32_t>* DeadmanWord(uint32_t slot) const;

  std::shared_ptr<ShmRegion> region_;
  OwnerTablePayload* table_;
  uint64_t id_;
};

}  // namespace shmsync
