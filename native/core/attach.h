// Attached lifetime: a segment that belongs to the processes using it.
//
// A segment created with kFlagAttached in SegmentHeader::flags carries one 64-bit attach word in
// the header's reserved bytes (offset 40, see layout.h). Every process-side handle that maps the
// segment holds one attachment; the attacher that takes the count to zero unlinks the name.
//
//   bits 63..48  count    handles attached, 1..0xFFFE; 0 = dying (or waiting on a lease);
//                         0xFFFF = reaped: the name is being/has been unlinked, never reopened
//   bits 47..40  pending  references handed off (toJSON / handle codec) and not yet opened
//   bits 39..0   deadline lease end, milliseconds of CLOCK_BOOTTIME (machine-wide, monotonic,
//                         and /dev/shm does not survive a reboot either)
//
// Transitions (every one a CAS on the whole word, so count, pending and deadline are judged
// together - no open can slip between the last close's check and its unlink):
//   create        word = count 1 (written before link() publishes the segment)
//   open          count 1.. : count+1, pending-1 if 0 < pending < 255 (255 is sticky: saturated,
//                 it no longer counts, so only the deadline ends a lingering segment's wait)
//                 count 0 with pending > 0 and deadline > now: same (the hand-off's receiver)
//                 anything else: refused as not found (no resurrection)
//   hand-off      (only while attached, count >= 1) pending+1 (saturating at 255),
//                 deadline = max(deadline, now + lease)
//   close         count-1; if the result is 0 and (pending == 0 or deadline <= now) the word
//                 becomes `reaped` in the same CAS and this closer unlinks the name
//   reap          a word at count 0 whose lease expired, or one whose attachers all died
//                 (judged by the caller from /proc/*/maps), becomes `reaped`; the winner unlinks
//
// The word lives in shared memory: it is untrusted. A corrupt word can only make a segment
// live too long or be unlinked early (its mappings stay valid); it never steers a pointer.
// Runs on any thread; no locks, no syscalls except the unlink and the reaper's file access.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "layout.h"
#include "shm-region.h"
#include "status.h"

namespace shmsync {
namespace attach {

constexpr uint32_t kFlagAttached = 1u;  // SegmentHeader::flags bit 0
constexpr size_t kWordOffset = 40;      // inside SegmentHeader::reserved
// The creator's PID namespace (inode of /proc/self/ns/pid; 0 unknown), written before publication
// and never changed: the sweep judges "no live process maps it" only for segments of its own PID
// namespace, since processes of another namespace sharing /dev/shm are invisible in its /proc.
// An opener from another namespace replaces it by kNsShared (never an inode): from then on no
// sweep judges the segment by /proc, only by its word (released, or lease expired).
constexpr size_t kPidNamespaceOffset = 48;
constexpr uint64_t kNsShared = ~uint64_t{0};
constexpr uint64_t kCountShift = 48;
constexpr uint64_t kPendingShift = 40;
constexpr uint64_t kDeadlineMask = (uint64_t{1} << 40) - 1;
constexpr uint64_t kCountReaped = 0xFFFF;
constexpr uint64_t kCountMax = 0xFFFE;
constexpr uint64_t kPendingMax = 0xFF;
// Longest hand-off lease (setHandoffLease / SHMSYNC_HANDOFF_LEASE_MS accept at most one day);
// Lease clamps to it. A word whose deadline lies further ahead was not written by Lease (a rogue
// or corrupt value that would keep a dying segment from ever being reaped): it counts as expired.
constexpr uint64_t kMaxLeaseMs = 86'400'000;

static_assert(kPidNamespaceOffset >= kWordOffset + 8 &&
                  kPidNamespaceOffset + 8 <= sizeof(SegmentHeader),
              "the namespace id sits after the attach word, inside the header");
static_assert(kWordOffset >= offsetof(SegmentHeader, reserved) &&
                  kWordOffset + 8 <= sizeof(SegmentHeader) && kWordOffset % 8 == 0,
              "attach word sits in the header's reserved bytes, 8-byte aligned");

inline uint64_t CountOf(uint64_t w) { return w >> kCountShift; }
inline uint64_t PendingOf(uint64_t w) { return (w >> kPendingShift) & kPendingMax; }
inline uint64_t DeadlineOf(uint64_t w) { return w & kDeadlineMask; }
inline uint64_t Pack(uint64_t count, uint64_t pending, uint64_t deadline) {
  return (count << kCountShift) | (pending << kPendingShift) | (deadline & kDeadlineMask);
}

// Milliseconds of CLOCK_BOOTTIME, masked to the deadline width.
uint64_t NowMs();

// True when a segment has the attached lifetime: the header's flag (writable by anyone who may
// write the segment) AND the file's S_ISVTX mode bit (settable only by its owner, see
// ShmRegion::Create) - a forged flag never makes the attached logic unlink a persistent segment.
bool IsAttached(const SegmentHeader* h, const struct stat& st);  // private copies (pread, fstat)
// An open region: the flags validated at open, never re-read from the mapping.
bool IsAttached(const ShmRegion* region);

// Creator, before publishing: marks the header attached with count 1.
void InitCreated(SegmentHeader* h);

// Opens and/or creates like ShmRegion::Acquire, with `lifetime_flags` (kFlagAttached or 0)
// written into a segment this call creates. An attached segment is attached (count+1) before
// returning; a dying one is kNotFound for kOpen, and for kOpenOrCreate is reaped if its lease
// expired and then created afresh (bounded retries, kBusy beyond).
Result AcquireWithLifetime(const std::string& segment_name, Kind kind, uint64_t payload_size,
                           OpenMode mode, uint32_t perm, PayloadInit init, const void* init_arg,
                           uint32_t lifetime_flags, std::shared_ptr<ShmRegion>* out, bool* created,
                           OwnerCheck owner = OwnerCheck::kMine);

// One attachment: Detach() is idempotent; returns true when this call unlinked the name.
bool Detach(ShmRegion* region);

// Records a hand-off: pending+1 and the lease extended to now + lease_ms. No-op (false) for a
// persistent segment or a word no longer attached.
bool Lease(ShmRegion* region, uint64_t lease_ms);

// The receiving side of a hand-off opened through an attachment this context already holds
// (a reference revived in the thread that maps the segment shares the mapping, so no open
// runs): pending-1 if 0 < pending < 255, count unchanged - what an open's CAS does to pending.
// No-op (false) for a persistent segment, a word not attached (count 0 or reaped) or nothing
// pending. Any thread.
bool ConsumeHandoff(ShmRegion* region);

// Milliseconds until the lease of a segment left at count 0 expires (0: not lingering).
int64_t LingerMs(ShmRegion* region);

// Reaper (sweep / `shmsync gc`): inspects `/dev/shm/<segment_name>` if it is still inode
// `ino` and owned by this user; reaps it when its word is terminal, its lease expired at count
// 0, or - with `unmapped` (no live process maps that inode) - its attachers are all gone. The
// `unmapped` judgement holds only while the word is still `word_before`, read before the scan of
// /proc began: an opener that attached since may map it after the scan looked at its process.
// Returns 1 if it unlinked, 0 if it left the segment, -1 if it could not inspect it.
int Reap(const std::string& segment_name, uint64_t ino, bool unmapped, uint64_t word_before);

// Unlinks `/dev/shm/<segment_name>` only while it holds a reaped word (never a live segment
// created afresh under the same name). True when it unlinked.
bool UnlinkReaped(const std::string& segment_name);

}  // namespace attach
}  // namespace shmsync
