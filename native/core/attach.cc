// Attached lifetime (see attach.h for the word and its transitions). Runs on any thread: JS
// threads opening/closing handles, the addon's exit hooks, the reaper called by the sweep.
#include "attach.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shmsync {
namespace attach {

namespace {

constexpr const char* kShmDir = "/dev/shm/";
constexpr int kMaxRounds = 64;  // open-or-create rounds lost to a dying segment

std::atomic<uint64_t>* WordOf(SegmentHeader* h) {
  return reinterpret_cast<std::atomic<uint64_t>*>(reinterpret_cast<uint8_t*>(h) + kWordOffset);
}

// The live attach word of an open region (inside its header, so inside the mapping).
std::atomic<uint64_t>* WordOf(const ShmRegion* region) {
  return reinterpret_cast<std::atomic<uint64_t>*>(region->base() + kWordOffset);
}

bool Expired(uint64_t w, uint64_t now) {
  const uint64_t d = DeadlineOf(w);
  return PendingOf(w) == 0 || d <= now || d - now > kMaxLeaseMs;  // beyond any lease: forged
}

enum class OpenOutcome { kAttached, kDying, kReapedByMe, kFull };

// Opener (any thread): one attachment, or why not.
OpenOutcome TryAttach(std::atomic<uint64_t>* word) {
  uint64_t w = word->load(std::memory_order_acquire);
  for (;;) {
    const uint64_t c = CountOf(w);
    const uint64_t p = PendingOf(w);
    const uint64_t now = NowMs();
    uint64_t next;
    if (c == kCountReaped) return OpenOutcome::kDying;
    if (c == 0 && Expired(w, now)) {
      // Dying with nobody left to unlink it (its lease ran out): help, as the reaper would.
      if (word->compare_exchange_weak(w, Pack(kCountReaped, 0, 0), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return OpenOutcome::kReapedByMe;
      }
      continue;
    }
    if (c >= kCountMax) return OpenOutcome::kFull;
    // A saturated pending count no longer counts (more hand-offs may be in flight than it
    // recorded): it stays saturated, and only the lease's deadline ends the wait.
    const uint64_t p_next = p == kPendingMax ? p : (p > 0 ? p - 1 : 0);
    next = Pack(c + 1, p_next, DeadlineOf(w));
    if (word->compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return OpenOutcome::kAttached;
    }
  }
}

}  // namespace

uint64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  const uint64_t ms =
      static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
  return ms & kDeadlineMask;
}

bool IsAttached(const SegmentHeader* h, const struct stat& st) {
  return (h->flags & kFlagAttached) != 0 && (st.st_mode & S_ISVTX) != 0;
}

bool IsAttached(const ShmRegion* region) { return (region->header_flags() & kFlagAttached) != 0; }

// Inode of this process's PID namespace (0 when /proc is not there). Read once per process: a
// process cannot change its own PID namespace (unshare/setns move only future children).
static uint64_t OwnPidNamespace() {
  static const uint64_t ns = [] {
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : uint64_t{0};
  }();
  return ns;
}

// An opener of another PID namespace than the creator's: its users may be invisible to the
// creator namespace's sweeps, so mark the segment as never to be judged by /proc (kNsShared).
// Any thread; a relaxed store (a hint for the sweep, which re-validates through the word CAS).
static void MarkUsedAcrossNamespaces(const ShmRegion* region) {
  auto* ns = reinterpret_cast<std::atomic<uint64_t>*>(region->base() + kPidNamespaceOffset);
  const uint64_t mine = OwnPidNamespace();
  const uint64_t recorded = ns->load(std::memory_order_relaxed);
  if (recorded != mine && recorded != kNsShared) ns->store(kNsShared, std::memory_order_relaxed);
}

void InitCreated(SegmentHeader* h) {
  h->flags |= kFlagAttached;
  // Creator only, before publication: a plain store (link() orders it before any opener's read).
  const uint64_t ns = OwnPidNamespace();
  std::memcpy(reinterpret_cast<uint8_t*>(h) + kPidNamespaceOffset, &ns, sizeof ns);
  // Not yet published (creator only): relaxed; link() orders it before any opener's read.
  WordOf(h)->store(Pack(1, 0, 0), std::memory_order_relaxed);
}

Result AcquireWithLifetime(const std::string& segment_name, Kind kind, uint64_t payload_size,
                           OpenMode mode, uint32_t perm, PayloadInit init, const void* init_arg,
                           uint32_t lifetime_flags, std::shared_ptr<ShmRegion>* out, bool* created,
                           OwnerCheck owner) {
  *created = false;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::shared_ptr<ShmRegion> region;
    bool made = false;
    Result r = ShmRegion::Acquire(segment_name, kind, payload_size, mode, perm, init, init_arg,
                                  &region, &made, lifetime_flags & kFlagAttached, owner);
    if (!r.ok()) return r;
    if (made || !IsAttached(region.get())) {
      *out = std::move(region);
      *created = made;
      return r;
    }
    const OpenOutcome o = TryAttach(WordOf(region.get()));
    if (o == OpenOutcome::kAttached) {
      MarkUsedAcrossNamespaces(region.get());
      *out = std::move(region);
      return r;
    }
    region.reset();
    if (o == OpenOutcome::kFull) return Result::Of(Status::kBusy);
    if (o == OpenOutcome::kReapedByMe || mode != OpenMode::kOpen) UnlinkReaped(segment_name);
    if (mode == OpenMode::kOpen) return Result::Of(Status::kNotFound);
    sched_yield();  // another closer is unlinking the dying name: let it finish
  }
  return Result::Of(Status::kBusy);
}

bool Detach(ShmRegion* region) {
  if (region == nullptr || !IsAttached(region)) return false;
  std::atomic<uint64_t>* word = WordOf(region);
  uint64_t w = word->load(std::memory_order_acquire);
  for (;;) {
    const uint64_t c = CountOf(w);
    if (c == 0 || c == kCountReaped) return false;  // corrupt word: leave it to the reaper
    const uint64_t now = NowMs();
    const bool last = c == 1 && Expired(w, now);
    const uint64_t next =
        last ? Pack(kCountReaped, 0, 0) : Pack(c - 1, PendingOf(w), DeadlineOf(w));
    if (word->compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return last && UnlinkReaped(region->segment_name());
    }
  }
}

int64_t LingerMs(ShmRegion* region) {
  if (region == nullptr || !IsAttached(region)) return 0;
  const uint64_t w = WordOf(region)->load(std::memory_order_acquire);
  const uint64_t now = NowMs();
  if (CountOf(w) != 0 || Expired(w, now)) return 0;
  return static_cast<int64_t>(DeadlineOf(w) - now);
}

bool Lease(ShmRegion* region, uint64_t lease_ms) {
  if (region == nullptr || !IsAttached(region)) return false;
  std::atomic<uint64_t>* word = WordOf(region);
  uint64_t w = word->load(std::memory_order_acquire);
  for (;;) {
    const uint64_t c = CountOf(w);
    if (c == 0 || c == kCountReaped) return false;
    const uint64_t p = PendingOf(w) < kPendingMax ? PendingOf(w) + 1 : kPendingMax;
    const uint64_t until =
        (NowMs() + (lease_ms < kMaxLeaseMs ? lease_ms : kMaxLeaseMs)) & kDeadlineMask;
    const uint64_t d = DeadlineOf(w) > until ? DeadlineOf(w) : until;
    if (word->compare_exchange_weak(w, Pack(c, p, d), std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return true;
    }
  }
}

bool ConsumeHandoff(ShmRegion* region) {
  if (region == nullptr || !IsAttached(region)) return false;
  std::atomic<uint64_t>* word = WordOf(region);
  uint64_t w = word->load(std::memory_order_acquire);
  for (;;) {
    const uint64_t c = CountOf(w);
    const uint64_t p = PendingOf(w);
    // Only a live attachment (ours: count >= 1) may consume; a saturated count stays sticky.
    if (c == 0 || c == kCountReaped || p == 0 || p == kPendingMax) return false;
    if (word->compare_exchange_weak(w, Pack(c, p - 1, DeadlineOf(w)), std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return true;
    }
  }
}

bool UnlinkReaped(const std::string& segment_name) {
  const std::string path = std::string(kShmDir) + segment_name;
  // O_NONBLOCK: once our name is unlinked anyone (any user: /dev/shm is world-writable) may put
  // a FIFO there, and a blocking read-only open of a FIFO waits for a writer forever.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  SegmentHeader h;
  struct stat st;
  const bool read_ok =
      fstat(fd, &st) == 0 && pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
  close(fd);
  if (!read_ok || h.magic != kMagic || !IsAttached(&h, st)) return false;
  uint64_t w;
  std::memcpy(&w, reinterpret_cast<const uint8_t*>(&h) + kWordOffset, sizeof w);
  if (CountOf(w) != kCountReaped) return false;
  return shm_unlink(("/" + segment_name).c_str()) == 0;
}

int Reap(const std::string& segment_name, uint64_t ino, bool unmapped, uint64_t word_before) {
  const std::string path = std::string(kShmDir) + segment_name;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);  // never a FIFO wait
  if (fd < 0) return -1;
  struct stat st;
  SegmentHeader h;
  if (fstat(fd, &st) != 0 || (ino != 0 && static_cast<uint64_t>(st.st_ino) != ino) ||
      st.st_uid != geteuid() || static_cast<uint64_t>(st.st_size) < kHeaderSize ||
      pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) || h.magic != kMagic ||
      !IsAttached(&h, st)) {
    close(fd);
    return -1;
  }
  void* base = mmap(nullptr, kHeaderSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return -1;
  std::atomic<uint64_t>* word = WordOf(static_cast<SegmentHeader*>(base));
  uint64_t w = word->load(std::memory_order_acquire);
  bool reaped = false;
  for (;;) {
    const uint64_t c = CountOf(w);
    if (c == kCountReaped) {
      reaped = true;  // a reaper died between its CAS and its unlink, or is unlinking now
      break;
    }
    if (!Expired(w, NowMs())) break;
    // Judged by `unmapped` (a /proc scan that began after `word_before` was read): valid only
    // while the word is still that one - an open since then (mapped after the scan looked)
    // changed it, and a dead attacher cannot change it back.
    if (c != 0 && (!unmapped || w != word_before)) break;
    if (word->compare_exchange_weak(w, Pack(kCountReaped, 0, 0), std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      reaped = true;
      break;
    }
  }
  munmap(base, kHeaderSize);
  if (!reaped) return 0;
  return UnlinkReaped(segment_name) ? 1 : 0;
}

}  // namespace attach
}  // namespace shmsync
