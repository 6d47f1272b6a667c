// ShmQueue ring operations (see ring.h / ring-layout.h). Producers run PutRecords, consumers
// GetRecords, on their JS threads; each side holds its robust lock only while copying.
//
// Sleep/wake protocol (both directions alike; ring-wake.h): a sleeper arms the *_seq word
// (fetch_or of kSeqArmed), re-checks its condition, then futex-waits on the armed value. A
// publisher stores the position, then loads the word; only if a sleeper armed since the last
// wake does it claim the word (a new, unarmed value) and wake. All accesses are seq_cst, so
// either the publisher sees the armed word or the sleeper sees the new position (no lost
// wake-up); nobody makes a syscall when nobody sleeps, and the publishes that follow a wake make
// none until a sleeper arms again. The *_sleeping counters only count waiters for info() and
// the CLI; no wake decision reads them (a SIGKILLed sleeper's count costs nothing).
#include "ring.h"

#include <climits>
#include <cstring>

#include "futex.h"
#include "ring-wake.h"
#include "robust-lock.h"

namespace shmsync {

namespace {

constexpr int kSpinRounds = 64;

inline uint8_t* DataOf(RingState* r) { return reinterpret_cast<uint8_t*>(r) + kRingDataOffset; }

// Loads a record header from the ring exactly once (relaxed atomic loads: the compiler may not
// re-read shared memory after the checks on the values). Records are 8-byte aligned.
inline void ReadHeader(const uint8_t* p, uint32_t* len, uint32_t* type) {
  *len = __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_RELAXED);
  *type = __atomic_load_n(reinterpret_cast<const uint32_t*>(p + 4), __ATOMIC_RELAXED);
}

// Reads a header from caller memory (the batch being put; private to the calling thread).
inline void ReadBatchHeader(const uint8_t* p, uint32_t* len, uint32_t* type) {
  std::memcpy(len, p, 4);
  std::memcpy(type, p + 4, 4);
}

inline void WriteHeader(uint8_t* p, uint32_t len, uint32_t type) {
  std::memcpy(p, &len, 4);
  std::memcpy(p + 4, &type, 4);
}

bool Acquired(Status st) { return st == Status::kOk || st == Status::kOwnerDead; }

// Whether the shared configuration still matches what was validated at open (a rogue write to it
// is reported, and never used as a bound).
bool ConfigIntact(const RingState* r, const RingConfig& config) {
  return r->capacity.load(std::memory_order_relaxed) == config.capacity &&
         r->max_message.load(std::memory_order_relaxed) == config.max_message;
}

// Waits until ready() or closed or the deadline. `sleeping`/`seq` are the side's counter/word.
// First spins for the budget's time (reading the clock every 16 rounds: vDSO, no syscall), then
// sleeps. The budget adapts to how the last wait ended (SpinBudget).
template <typename Ready>
Status WaitUntil(RingState* r, std::atomic<uint32_t>* sleeping, std::atomic<uint32_t>* seq,
                 int64_t deadline_ns, SpinBudget* budget, Ready ready) {
  if (budget == nullptr) {
    for (int i = 0; i < kSpinRounds; ++i) {
      if (ready()) return Status::kOk;
      if (r->closed.load(std::memory_order_acquire) != 0) return Status::kClosed;
      CpuRelax();
    }
  } else {
    const int64_t start = MonotonicNanos();
    int64_t spin_end = start + budget->ns;
    if (deadline_ns >= 0 && deadline_ns < spin_end) spin_end = deadline_ns;
    for (uint32_t i = 1;; ++i) {
      if (ready()) {
        budget->Hit();
        return Status::kOk;
      }
      if (r->closed.load(std::memory_order_acquire) != 0) return Status::kClosed;
      CpuRelax();
      if ((i & 15) == 0 && MonotonicNanos() >= spin_end) break;
    }
    budget->Miss();
  }
  // relaxed: the count is for info() only (no wake decision reads it).
  sleeping->fetch_add(1, std::memory_order_relaxed);
  Status result = Status::kOk;
  for (bool woken = false;; woken = true) {
    // After a wake-up (or a timeout slice, EINTR) look before arming again: the wake's data is
    // usually there, and a word left armed for nobody costs the next publisher a syscall. (The
    // first round comes straight from the spin, which just looked.)
    if (woken) {
      if (ready()) break;
      if (r->closed.load(std::memory_order_seq_cst) != 0) {
        result = Status::kClosed;
        break;
      }
    }
    int64_t timeout = -1;
    if (deadline_ns >= 0) {
      timeout = deadline_ns - MonotonicNanos();
      if (timeout <= 0) {
        result = Status::kTimeout;
        break;
      }
    }
    // Arm (a wake-up claimed the word: unarmed, publishers would skip us), then re-check
    // (ring-wake.h). A re-check that finds the condition leaves the word armed: one spare wake.
    const uint32_t s = ArmSleeper(seq);
    if (ready()) break;
    if (r->closed.load(std::memory_order_seq_cst) != 0) {
      result = Status::kClosed;
      break;
    }
    FutexWait(seq, s, timeout);
  }
  sleeping->fetch_sub(1, std::memory_order_relaxed);
  return result;
}

}  // namespace

void InitRing(RingState* r, uint64_t capacity, uint32_t max_message, uint64_t owner_table_id) {
  r->tail.store(0, std::memory_order_relaxed);
  r->count_in.store(0, std::memory_order_relaxed);
  r->data_seq.store(0, std::memory_order_relaxed);
  r->consumers_sleeping.store(0, std::memory_order_relaxed);
  r->head.store(0, std::memory_order_relaxed);
  r->count_out.store(0, std::memory_order_relaxed);
  r->space_seq.store(0, std::memory_order_relaxed);
  r->producers_sleeping.store(0, std::memory_order_relaxed);
  r->capacity.store(capacity, std::memory_order_relaxed);
  r->max_message.store(max_message, std::memory_order_relaxed);
  r->closed.store(0, std::memory_order_relaxed);
  InitMutexState(&r->producer_lock, OwnerDeathPolicy::kRecover, owner_table_id);
  InitMutexState(&r->consumer_lock, OwnerDeathPolicy::kRecover, owner_table_id);
}

RingConfig ReadRingConfig(const RingState* r) {
  // relaxed: the configuration is published with the segment (link() after init); what
  // matters here is one load per field, which a plain read would not guarantee.
  return RingConfig{r->capacity.load(std::memory_order_relaxed),
                    r->max_message.load(std::memory_order_relaxed)};
}

Status ValidateRingConfig(const RingConfig& config, uint64_t payload_size) {
  const uint64_t cap = config.capacity;
  if (cap < kMinRingCapacity || cap > kMaxRingCapacity || (cap & (cap - 1)) != 0)
    return Status::kCorrupt;
  if (payload_size != kRingDataOffset + cap) return Status::kCorrupt;
  if (config.max_message == 0 || config.max_message > MaxMessageLimit(cap)) return Status::kCorrupt;
  return Status::kOk;
}

Status OpenRing(const RingState* r, uint64_t payload_size, RingConfig* config) {
  *config = ReadRingConfig(r);
  return ValidateRingConfig(*config, payload_size);
}

Status ValidateRing(const RingState* r, uint64_t payload_size) {
  RingConfig config;
  return OpenRing(r, payload_size, &config);
}

Status PutRecords(RingState* r, const RingConfig& config, OwnerTable* table, OwnerId me,
                  const RecordBatch& batch, uint32_t* written) {
  *written = 0;
  if (r->closed.load(std::memory_order_acquire) != 0) return Status::kClosed;
  Status st = Lock(&r->producer_lock, table, me, -1);
  // kOwnerDead: a producer died inside its copy; it never published, so nothing to repair.
  // Anything else (kBusy: the word names us, though ring calls never nest; kNotRecoverable: the
  // ring locks use the recover policy) means the lock state was rewritten: kCorrupt.
  if (!Acquired(st)) return Status::kCorrupt;
  if (r->closed.load(std::memory_order_acquire) != 0) {
    Unlock(&r->producer_lock, table, me);
    return Status::kClosed;
  }
  // Bounds come from the validated private copy, never from the shared (untrusted) one.
  const uint64_t cap = config.capacity;
  const uint64_t mask = cap - 1;
  uint8_t* data = DataOf(r);
  uint64_t tail = r->tail.load(std::memory_order_relaxed);  // only producers write it
  uint64_t head = r->head.load(std::memory_order_acquire);  // acquire: consumers' copies are done
  Status result = Status::kOk;
  if (!ConfigIntact(r, config) || tail - head > cap || (tail & 7) != 0) result = Status::kCorrupt;
  uint64_t off = 0;
  uint32_t n = 0;
  while (result == Status::kOk && n < batch.count) {
    if (off + kRecordHeader > batch.bytes) {
      result = Status::kCorrupt;
      break;
    }
    uint32_t len, type;
    ReadBatchHeader(batch.data + off, &len, &type);
    if (len > config.max_message) {
      result = Status::kTooLarge;
      break;
    }
    const uint64_t rec = RecordBytes(len);
    if (type > kMaxRecordType || off + rec > batch.bytes) {
      result = Status::kCorrupt;
      break;
    }
    uint64_t pos = tail & mask;
    const uint64_t to_end = cap - pos;
    const uint64_t need = rec + (rec > to_end ? to_end : 0);
    if (tail - head + need > cap) {
      head = r->head.load(std::memory_order_acquire);
      if (tail - head + need > cap) break;  // full: publish what fits
    }
    if (rec > to_end) {
      WriteHeader(data + pos, static_cast<uint32_t>(to_end - kRecordHeader), kRecordPad);
      tail += to_end;
      pos = 0;
    }
    std::memcpy(data + pos, batch.data + off, rec);
    tail += rec;
    off += rec;
    ++n;
  }
  if (n > 0) {
    r->count_in.store(r->count_in.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    // seq_cst: publishes the records (release) and orders before the sleepers check below.
    r->tail.store(tail, std::memory_order_seq_cst);
  }
  Unlock(&r->producer_lock, table, me);
  // Wakes every consumer armed since the last wake (ring-wake.h); no syscall otherwise.
  if (n > 0) WakeArmed(&r->data_seq);
  *written = n;
  return result;
}

Status PutRecords(RingState* r, OwnerTable* table, OwnerId me, const RecordBatch& batch,
                  uint32_t* written) {
  return PutRecords(r, ReadRingConfig(r), table, me, batch, written);
}

Status GetRecords(RingState* r, const RingConfig& config, OwnerTable* table, OwnerId me,
                  uint8_t* out, uint64_t out_capacity, uint32_t max_count, uint32_t* count,
                  uint64_t* bytes) {
  *count = 0;
  *bytes = 0;
  Status st = Lock(&r->consumer_lock, table, me, -1);
  // kOwnerDead: a consumer died inside its copy; head was not advanced, so its records are
  // still here and go to us (no loss; it never handed them to user code, so no duplicate).
  // Any other outcome means the lock state was rewritten (see PutRecords): kCorrupt.
  if (!Acquired(st)) return Status::kCorrupt;
  // Bounds come from the validated private copy, never from the shared (untrusted) one.
  const uint64_t cap = config.capacity;
  const uint64_t mask = cap - 1;
  const uint32_t max_message = config.max_message;
  uint8_t* data = DataOf(r);
  uint64_t head = r->head.load(std::memory_order_relaxed);        // only consumers write it
  const uint64_t tail = r->tail.load(std::memory_order_acquire);  // acquire: records are complete
  Status result = Status::kOk;
  if (!ConfigIntact(r, config) || tail - head > cap || (head & 7) != 0 || (tail & 7) != 0) {
    result = Status::kCorrupt;
  }
  uint64_t out_off = 0;
  uint32_t n = 0;
  while (result == Status::kOk && n < max_count && head != tail) {
    const uint64_t pos = head & mask;
    uint32_t len, type;
    ReadHeader(data + pos, &len, &type);
    if (type == kRecordPad) {
      const uint64_t to_end = cap - pos;
      if (uint64_t{len} + kRecordHeader != to_end || tail - head < to_end) {
        result = Status::kCorrupt;
        break;
      }
      head += to_end;
      continue;
    }
    const uint64_t rec = RecordBytes(len);
    if (type > kMaxRecordType || len > max_message || rec > cap - pos || rec > tail - head) {
      result = Status::kCorrupt;
      break;
    }
    if (out_off + rec > out_capacity) {
      if (n == 0) result = Status::kTooLarge;  // caller's buffer cannot hold one message
      break;
    }
    std::memcpy(out + out_off, data + pos, rec);
    // The header in shared memory may change under us (untrusted): write the validated one.
    WriteHeader(out + out_off, len, type);
    head += rec;
    out_off += rec;
    ++n;
  }
  if (result == Status::kOk && head != r->head.load(std::memory_order_relaxed)) {
    r->count_out.store(r->count_out.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    // seq_cst: frees the space (release) and orders before the sleepers check below.
    r->head.store(head, std::memory_order_seq_cst);
  }
  Unlock(&r->consumer_lock, table, me);
  if (n > 0) WakeArmed(&r->space_seq);  // producers armed since the last wake (ring-wake.h)
  *count = n;
  *bytes = out_off;
  if (result == Status::kOk && n == 0 && head == tail &&
      r->closed.load(std::memory_order_acquire) != 0 &&
      r->tail.load(std::memory_order_acquire) == tail) {
    return Status::kClosed;
  }
  return result;
}

Status GetRecords(RingState* r, OwnerTable* table, OwnerId me, uint8_t* out, uint64_t out_capacity,
                  uint32_t max_count, uint32_t* count, uint64_t* bytes) {
  return GetRecords(r, ReadRingConfig(r), table, me, out, out_capacity, max_count, count, bytes);
}

bool DataReady(const RingState* r) {
  // seq_cst: the sleeper's side of the wake protocol (ordered after the sleeper-count increment).
  return r->tail.load(std::memory_order_seq_cst) != r->head.load(std::memory_order_seq_cst);
}

Status WaitData(RingState* r, int64_t deadline_ns, SpinBudget* budget) {
  return WaitUntil(r, &r->consumers_sleeping, &r->data_seq, deadline_ns, budget,
                   [r] { return DataReady(r); });
}

bool SpaceReady(const RingState* r, const RingConfig& config, uint64_t bytes) {
  const uint64_t cap = config.capacity;
  const uint64_t tail = r->tail.load(std::memory_order_seq_cst);
  const uint64_t head = r->head.load(std::memory_order_seq_cst);
  // Inconsistent positions: "ready", so the caller's put runs and reports kCorrupt.
  if (tail - head > cap || (tail & 7) != 0 || (head & 7) != 0) return true;
  if (bytes > cap) return true;  // can never fit: the put reports kTooLarge
  const uint64_t to_end = cap - (tail & (cap - 1));
  const uint64_t need = bytes + (bytes > to_end ? to_end : 0);
  return cap - (tail - head) >= need;
}

Status WaitSpace(RingState* r, const RingConfig& config, uint64_t bytes, int64_t deadline_ns,
                 SpinBudget* budget) {
  return WaitUntil(r, &r->producers_sleeping, &r->space_seq, deadline_ns, budget,
                   [r, &config, bytes] { return SpaceReady(r, config, bytes); });
}

Status WaitSpace(RingState* r, uint64_t bytes, int64_t deadline_ns) {
  return WaitSpace(r, ReadRingConfig(r), bytes, deadline_ns);
}

bool PrepareDataWatch(RingState* r, uint32_t* seq) {
  // Count ourselves (info() only: relaxed), arm the word, then re-check (the wake protocol of
  // ring-wake.h): a publisher that stored tail before our arming is seen by the re-check; one
  // that stores it after finds the word armed and claims it, so the watch's wait returns.
  // Runs on the JS thread; the wait itself runs on its io_uring or the parker thread.
  r->consumers_sleeping.fetch_add(1, std::memory_order_relaxed);
  *seq = ArmSleeper(&r->data_seq);
  if (DataReady(r) || r->closed.load(std::memory_order_seq_cst) != 0) {
    // Left armed: the next put makes one wake for nobody, then the word is quiet again.
    r->consumers_sleeping.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

bool PrepareSpaceWatch(RingState* r, const RingConfig& config, uint64_t bytes, uint32_t* seq) {
  r->producers_sleeping.fetch_add(1, std::memory_order_relaxed);  // info() only
  *seq = ArmSleeper(&r->space_seq);
  if (SpaceReady(r, config, bytes) || r->closed.load(std::memory_order_seq_cst) != 0) {
    r->producers_sleeping.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void CloseRing(RingState* r) {
  // The bumps change both words (armed or not: any value a sleeper waits on is left behind,
  // ring-wake.h I2), and the wakes follow unconditionally.
  r->closed.store(1, std::memory_order_seq_cst);
  r->data_seq.fetch_add(1, std::memory_order_seq_cst);
  r->space_seq.fetch_add(1, std::memory_order_seq_cst);
  FutexWake(&r->data_seq, INT_MAX);
  FutexWake(&r->space_seq, INT_MAX);
}

#ifdef SHMSYNC_TEST_HOOKS
std::atomic<uint64_t> g_test_ring_wakes{0};
#endif

}  // namespace shmsync
