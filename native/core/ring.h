// Operations on a ShmQueue ring (ring-layout.h). Node-free; called on JS threads (puts, gets,
// blocking waits) and by tests. All record data read from the ring is validated: a corrupt
// ring yields kCorrupt, never an out-of-bounds access.
#pragma once

#include <cstdint>

#include "owner-table.h"
#include "ring-layout.h"
#include "status.h"

namespace shmsync {

// Smallest max_message accepted and largest: a message of max_message bytes must always fit
// in an empty ring after at most one padding record.
inline uint64_t MaxMessageLimit(uint64_t capacity) { return capacity / 2 - kRecordHeader; }

// owner_table_id: OwnerTable::id() of the creator (0 in tests that use no table check).
void InitRing(RingState* r, uint64_t capacity, uint32_t max_message, uint64_t owner_table_id = 0);

// A batch of records, already framed as in the ring ([u32 len][u32 type] payload, padded to 8),
// in caller memory.
struct RecordBatch {
  const uint8_t* data;
  uint64_t bytes;
  uint32_t count;
};

// The ring's configuration as validated when the segment was opened (ValidateRing), kept in
// process memory. The copy in shared memory is untrusted and may be rewritten later by a rogue
// process: ring accesses are bounded by this copy, and a shared copy that no longer matches it
// is reported as kCorrupt.
struct RingConfig {
  uint64_t capacity;
  uint32_t max_message;
};

// Loads the shared configuration once (relaxed atomic loads: each field is fetched exactly
// once, so a racing writer cannot make the validated value differ from the used one).
RingConfig ReadRingConfig(const RingState* r);
// Validates a private copy against the segment's payload size: kOk or kCorrupt.
Status ValidateRingConfig(const RingConfig& config, uint64_t payload_size);
// Open-time check of a mapped ring: reads the configuration once into *config and validates
// that copy. The caller keeps *config and never reads the shared one again.
Status OpenRing(const RingState* r, uint64_t payload_size, RingConfig* config);
// OpenRing without keeping the copy (tests).
Status ValidateRing(const RingState* r, uint64_t payload_size);

// Appends as many whole records of `batch` as fit, in order, publishing them with one release
// store. *written receives how many. kOk (maybe partial: *written < count, ring full),
// kClosed, kTooLarge (a record exceeds max_message), kCorrupt (bad framing or ring state).
Status PutRecords(RingState* r, const RingConfig& config, OwnerTable* table, OwnerId me,
                  const RecordBatch& batch, uint32_t* written);

// Copies up to max_count records (at most out_capacity bytes, framed) into `out`, consuming
// them. *count receives how many. kOk (maybe 0 when empty), kClosed when closed and drained,
// kCorrupt.
Status GetRecords(RingState* r, const RingConfig& config, OwnerTable* table, OwnerId me,
                  uint8_t* out, uint64_t out_capacity, uint32_t max_count, uint32_t* count,
                  uint64_t* bytes);

// Same, with the configuration read from the ring itself: only for callers that own the memory
// and trust it (the C++ tests and the fuzz target, which fuzzes positions and data).
Status PutRecords(RingState* r, OwnerTable* table, OwnerId me, const RecordBatch& batch,
                  uint32_t* written);
Status GetRecords(RingState* r, OwnerTable* table, OwnerId me, uint8_t* out, uint64_t out_capacity,
                  uint32_t max_count, uint32_t* count, uint64_t* bytes);

// How long a blocking wait spins before it sleeps on the futex, adapted per handle (one per
// side per QueueWrap; private to its JS thread). A wait that the spin satisfied doubles the
// budget (up to kSpinMaxNs): traffic is hot and a futex round trip (8-12 us here) would cost
// more than the spin. A wait that had to sleep halves it (down to kSpinMinNs): the peer is slow
// or idle, and spinning only steals the other core. Bounded either way.
struct SpinBudget {
  static constexpr int64_t kSpinMinNs = 1000;
  static constexpr int64_t kSpinMaxNs = 50000;
  static constexpr int64_t kSpinInitialNs = 10000;
  int64_t ns = kSpinInitialNs;
  void Hit() { ns = ns * 2 > kSpinMaxNs ? kSpinMaxNs : ns * 2; }
  void Miss() { ns = ns / 2 < kSpinMinNs ? kSpinMinNs : ns / 2; }
};

// Blocking waits (JS threads): until data is available / `bytes` of space free / closed, or the
// absolute CLOCK_MONOTONIC deadline (< 0: none). Spin first (for `budget`'s time, adapting it;
// null: a fixed short spin), then sleep on the side's futex word. kOk, kClosed, kTimeout.
// Positions that are inconsistent (corrupt) count as ready: the caller's next put/get then
// reports kCorrupt instead of sleeping forever.
Status WaitData(RingState* r, int64_t deadline_ns, SpinBudget* budget = nullptr);
Status WaitSpace(RingState* r, const RingConfig& config, uint64_t bytes, int64_t deadline_ns,
                 SpinBudget* budget = nullptr);
// Trusted form (tests): configuration read from the ring.
Status WaitSpace(RingState* r, uint64_t bytes, int64_t deadline_ns);
// Whether a put of `bytes` (a framed record) would find room, by `config`; also true when the
// positions are inconsistent (see above). Used by WaitSpace and the parked watch.
bool SpaceReady(const RingState* r, const RingConfig& config, uint64_t bytes);

// Whether a consumer would find something to do: records published and not consumed, or the
// queue closed. Also true when the positions are inconsistent (the get then reports kCorrupt).
bool DataReady(const RingState* r);

// The first half of a parked (Promise) wait, run on the JS thread before it hands the futex
// word to its io_uring or the parker thread: counts itself as a waiter of that side (info()),
// arms the futex word (the wake protocol of ring-wake.h; the armed value goes to *seq), and
// re-checks the condition. Returns true when the caller must park on (word, *seq) - the count
// then stays raised until the watch ends (the parker decrements it). Returns false, with the
// count restored, when the condition already holds (data / space / closed): nothing to wait for
// (the word stays armed: the next publish makes one spare wake).
bool PrepareDataWatch(RingState* r, uint32_t* seq);
bool PrepareSpaceWatch(RingState* r, const RingConfig& config, uint64_t bytes, uint32_t* seq);

// Marks the queue closed and wakes every waiter. Idempotent.
void CloseRing(RingState* r);

// Bytes a message of `payload` bytes occupies in the ring (record header + alignment).
inline uint64_t RecordBytes(uint64_t payload) { return AlignRecord(kRecordHeader + payload); }

}  // namespace shmsync
