// Owner table: claim/release run on the owning JS thread; Check/Arm/Wake on any thread.
#include "owner-table.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>

#include "futex.h"

namespace shmsync {

namespace {

uint64_t RandomTableId() {
  std::random_device rd;
  uint64_t id = (static_cast<uint64_t>(rd()) << 32) | rd();
  return id == 0 ? 1 : id;
}

void InitTable(uint8_t* payload, uint64_t, const void*) {
  auto* t = reinterpret_cast<OwnerTablePayload*>(payload);
  t->capacity = kOwnerSlots;
  t->next_hint.store(0, std::memory_order_relaxed);
  t->table_id.store(RandomTableId(), std::memory_order_relaxed);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  for (uint32_t i = 0; i < kOwnerSlots; ++i) {
    pthread_mutex_init(&t->slots[i].deadman, &attr);
    t->slots[i].generation.store(0, std::memory_order_relaxed);
  }
  pthread_mutexattr_destroy(&attr);
}

std::mutex g_shared_mu;
std::weak_ptr<OwnerTable> g_shared;

}  // namespace

Result OwnerTable::Open(const std::string& segment_name, std::shared_ptr<OwnerTable>* out) {
  std::shared_ptr<ShmRegion> region;
  bool created = false;
  Result r = ShmRegion::Acquire(segment_name, Kind::kOwners, sizeof(OwnerTablePayload),
                                OpenMode::kOpenOrCreate, 0600, InitTable, nullptr, &region,
                                &created);
  if (!r.ok()) return r;
  auto* t = reinterpret_cast<OwnerTablePayload*>(region->payload());
  if (t->capacity != kOwnerSlots) return Result::Of(Status::kCorrupt);
  uint64_t id = 0;  // a table written before ids existed gets one now, once
  const uint64_t fresh = RandomTableId();
  // On failure `id` receives the stored id; either way it is read exactly once and kept.
  if (t->table_id.compare_exchange_strong(id, fresh, std::memory_order_relaxed)) id = fresh;
  out->reset(new OwnerTable(std::move(region), id));
  return Result::Ok();
}

Result OwnerTable::Shared(std::shared_ptr<OwnerTable>* out) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  if (auto existing = g_shared.lock()) {
    *out = existing;
    return Result::Ok();
  }
  const char* env = std::getenv("SHMSYNC_OWNER_TABLE");
  std::string name = "shmsync-";
  if (env != nullptr && *env != '\0' && std::strchr(env, '/') == nullptr) {
    name += env;
  } else {
    // One table per user: mode 0600 keeps other users from forging liveness.
    name += "owners-" + std::to_string(static_cast<unsigned>(getuid()));
  }
  Result r = Open(name, out);
  if (r.ok()) g_shared = *out;
  return r;
}

std::atomic<uint32_t>* OwnerTable::DeadmanWord(uint32_t slot) const {
  // glibc keeps the robust futex word as the first int of pthread_mutex_t (kernel robust ABI).
  return reinterpret_cast<std::atomic<uint32_t>*>(&table_->slots[slot].deadman);
}

Result OwnerTable::Claim(OwnerId* id, uint32_t js_thread_id) {
  const uint32_t start = table_->next_hint.fetch_add(1, std::memory_order_relaxed);
  for (uint32_t n = 0; n < kOwnerSlots; ++n) {
    const uint32_t i = (start + n) & (kOwnerSlots - 1);
    OwnerSlot& slot = table_->slots[i];
    int rc = pthread_mutex_trylock(&slot.deadman);
    if (rc == EBUSY) continue;  // a live owner holds it
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(&slot.deadman);
    } else if (rc != 0) {
      continue;  // ENOTRECOVERABLE or corrupt: skip this slot
    }
    // We now hold the deadman. A new generation invalidates every id of the slot's past.
    uint32_t gen = (slot.generation.load(std::memory_order_relaxed) + 1) & kOwnerGenerationMask;
    if (gen == 0) gen = 1;
    slot.pid.store(static_cast<uint32_t>(getpid()), std::memory_order_relaxed);
    slot.tid.store(static_cast<uint32_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
    slot.js_thread_id.store(js_thread_id, std::memory_order_relaxed);
    // release: pid/tid are visible to whoever sees the new generation.
    slot.generation.store(gen, std::memory_order_release);
    *id = (gen << kOwnerSlotBits) | i;
    return Result::Ok();
  }
  return Result::Of(Status::kBusy);  // 4096 live contexts on this machine
}

void OwnerTable::Release(OwnerId id) {
  const uint32_t i = SlotOf(id);
  OwnerSlot& slot = table_->slots[i];
  if (slot.generation.load(std::memory_order_relaxed) != GenerationOf(id)) return;
  uint32_t gen = (GenerationOf(id) + 1) & kOwnerGenerationMask;
  if (gen == 0) gen = 1;
  // release: the id is dead for every reader before the deadman is free for a new claimer.
  slot.generation.store(gen, std::memory_order_release);
  pthread_mutex_unlock(&slot.deadman);
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
    // relaxed suffices: the bit only asks the kernel/glibc for a wake; no data is published.
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
