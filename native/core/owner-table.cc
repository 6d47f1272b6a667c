// Owner table: Claim/Release run on the claiming JS thread; Check/Arm/Wake on any thread.
#include "owner-table.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>

#include "deadman-list.h"
#include "futex.h"

namespace shmsync {

namespace {

uint64_t RandomTableId() {
  std::random_device rd;
  uint64_t id = (static_cast<uint64_t>(rd()) << 32) | rd();
  return id == 0 ? 1 : id;
}

// Runs before the table is published (shm-region.cc create protocol): no other process sees it.
void InitTable(uint8_t* payload, uint64_t, const void*) {
  auto* t = reinterpret_cast<OwnerTablePayload*>(payload);
  t->capacity.store(kOwnerSlots, std::memory_order_relaxed);
  t->next_hint.store(0, std::memory_order_relaxed);
  t->table_id.store(RandomTableId(), std::memory_order_relaxed);
  t->format.store(kOwnerTableFormat, std::memory_order_relaxed);
  // Slots: all zero (ftruncate) = free words, generation 0.
}

std::mutex g_shared_mu;
std::weak_ptr<OwnerTable> g_shared;

uint32_t NextGeneration(uint32_t gen) {
  gen = (gen + 1) & kOwnerGenerationMask;
  return gen == 0 ? 1 : gen;
}

}  // namespace

Result OwnerTable::Open(const std::string& segment_name, std::shared_ptr<OwnerTable>* out) {
  std::shared_ptr<ShmRegion> region;
  bool created = false;
  // kMinePrivate: a table another user can write could forge liveness (break mutual exclusion);
  // one another user planted is refused (the message names its owner).
  Result r = ShmRegion::Acquire(segment_name, Kind::kOwners, sizeof(OwnerTablePayload),
                                OpenMode::kOpenOrCreate, 0600, InitTable, nullptr, &region,
                                &created, 0, OwnerCheck::kMinePrivate);
  if (!r.ok()) return r;
  auto* t = reinterpret_cast<OwnerTablePayload*>(region->payload());
  // Each header field read once into a private copy, validated, and never read again.
  const uint32_t capacity = t->capacity.load(std::memory_order_relaxed);
  const uint32_t format = t->format.load(std::memory_order_relaxed);
  const uint64_t id = t->table_id.load(std::memory_order_relaxed);
  if (format != kOwnerTableFormat) return Result::Of(Status::kVersionMismatch);
  if (capacity != kOwnerSlots || id == 0) return Result::Of(Status::kCorrupt);
  out->reset(new OwnerTable(std::move(region), t, id));
  return Result::Ok();
}

std::string OwnerTable::SharedName() {
  const char* env = std::getenv("SHMSYNC_OWNER_TABLE");
  std::string name = "shmsync-";
  if (env != nullptr && *env != '\0' && std::strchr(env, '/') == nullptr) {
    name += env;
  } else {
    // One table per user; the file must be this uid's and mode 0600 (see Open).
    name += "owners-" + std::to_string(static_cast<unsigned>(geteuid()));
  }
  return name;
}

Result OwnerTable::Shared(std::shared_ptr<OwnerTable>* out) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  if (auto existing = g_shared.lock()) {
    *out = existing;
    return Result::Ok();
  }
  Result r = Open(SharedName(), out);
  if (r.ok()) g_shared = *out;
  return r;
}

bool OwnerTable::TryClaimSlot(uint32_t i, uint32_t tid, uint32_t js_thread_id, OwnerId* id) {
  OwnerSlot& slot = table_->slots[i];
  std::atomic<uint32_t>* word = DeadmanWord(i);
  uint32_t v = word->load(std::memory_order_relaxed);
  // Only a word without a TID is free (0) or dead (the kernel leaves OWNER_DIED [| WAITERS] and
  // clears the TID). "TID | OWNER_DIED" is another thread's claim in progress and must not be
  // taken over; any other TID is a live owner (or a rogue value: that slot is lost, no more).
  if ((v & kFutexTidMask) != 0) return false;
  // Link first: from the compare-and-swap on, the word holds our TID and our death must reach
  // it. "TID | OWNER_DIED" while claiming: Check() calls the old id dead until the new
  // generation is out (the kernel, if we die now, keeps it dead).
  DeadmanList::Link(i);
  if (!word->compare_exchange_strong(v, tid | kFutexOwnerDiedBit, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    DeadmanList::Unlink(DeadmanWord(0), i);
    return false;
  }
  // Sleepers armed on the previous owner (FUTEX_WAITERS) re-evaluate: that owner is gone.
  if ((v & kFutexWaitersBit) != 0) FutexWake(word, INT32_MAX);
  const uint32_t gen = NextGeneration(slot.generation.load(std::memory_order_relaxed));
  slot.pid.store(static_cast<uint32_t>(getpid()), std::memory_order_relaxed);
  slot.tid.store(tid, std::memory_order_relaxed);
  slot.js_thread_id.store(js_thread_id, std::memory_order_relaxed);
  // release: pid/tid are visible to whoever sees the new generation.
  slot.generation.store(gen, std::memory_order_release);
  // release: whoever sees the word alive also sees the new generation (Check re-reads it).
  word->fetch_and(~kFutexOwnerDiedBit, std::memory_order_release);
  *id = (gen << kOwnerSlotBits) | i;
  return true;
}

Result OwnerTable::Claim(OwnerId* id, uint32_t js_thread_id) {
  // The keepalive pins the mapping while our robust list points into it (deadman-list.h).
  Result r = DeadmanList::Bind(DeadmanWord(0), sizeof(OwnerSlot), kOwnerSlots, region_);
  if (!r.ok()) return r;
  const uint32_t tid = ThisThreadTid() & kFutexTidMask;
  const uint32_t start = table_->next_hint.fetch_add(1, std::memory_order_relaxed);
  for (uint32_t n = 0; n < kOwnerSlots; ++n) {
    if (TryClaimSlot((start + n) & (kOwnerSlots - 1), tid, js_thread_id, id)) return Result::Ok();
  }
  DeadmanList::UnbindIfEmpty();
  return Result::Of(Status::kBusy);  // 4096 live contexts on this machine
}

void OwnerTable::Release(OwnerId id) {
  const uint32_t i = SlotOf(id);
  OwnerSlot& slot = table_->slots[i];
  if (slot.generation.load(std::memory_order_relaxed) != GenerationOf(id)) return;
  // release: the id is dead for every reader before the deadman is free for a new claimer.
  slot.generation.store(NextGeneration(GenerationOf(id)), std::memory_order_release);
  DeadmanWord(i)->store(0, std::memory_order_release);
  // The word no longer holds our TID: the kernel would skip it now, so the entry can go.
  DeadmanList::Unlink(DeadmanWord(0), i);
  DeadmanList::UnbindIfEmpty();
  WakeDeathWaiters(id);
}
Liveness OwnerTable::Check(OwnerId id) const {
  const uint32_t i = SlotOf(id);
  const OwnerSlot& slot = table_->slots[i];
  // acquire: pairs with the release stores of Claim/Release.
  if (slot.generation.load(std::memory_order_acquire) != GenerationOf(id)) return Liveness::kDead;
  const uint32_t word = DeadmanWord(i)->load(std::memory_order_acquire);
  if ((word & kFutexTidMask) == 0 || (word & kFutexOwnerDiedBit) != 0) return Liveness::kDead;
  // Re-check: a claim may have completed between the two loads.
  if (slot.generation.load(std::memory_order_acquire) != GenerationOf(id)) return Liveness::kDead;
  return Liveness::kAlive;
}

std::atomic<uint32_t>* OwnerTable::ArmDeathWake(OwnerId id, uint32_t* expected) {
  const uint32_t i = SlotOf(id);
  std::atomic<uint32_t>* word = DeadmanWord(i);
  uint32_t v = word->load(std::memory_order_acquire);
  for (;;) {
    if (Check(id) == Liveness::kDead) return nullptr;
    if ((v & kFutexWaitersBit) != 0) break;
    // relaxed suffices: the bit only asks the kernel (at the owner's death) for a wake; no data
    // is published. Release wakes every sleeper regardless.
    if (word->compare_exchange_weak(v, v | kFutexWaitersBit, std::memory_order_relaxed)) {
      v |= kFutexWaitersBit;
      break;
    }
  }
  *expected = v;
  return word;
}

void OwnerTable::WakeDeathWaiters(OwnerId id) { FutexWake(DeadmanWord(SlotOf(id)), INT32_MAX); }

uint32_t OwnerTable::PidOf(OwnerId id) const {
  return table_->slots[SlotOf(id)].pid.load(std::memory_order_relaxed);
}

uint32_t OwnerTable::JsThreadIdOf(OwnerId id) const {
  return table_->slots[SlotOf(id)].js_thread_id.load(std::memory_order_relaxed);
}

uint32_t OwnerTable::TidOf(OwnerId id) const {
  return table_->slots[SlotOf(id)].tid.load(std::memory_order_relaxed);
}

}  // namespace shmsync
