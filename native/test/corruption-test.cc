// Issue 9 item 4: shared memory is hostile. After a segment is open, every header and state field
// is overwritten (random values, adversarial values, and racing flips from another process
// that writes through its own mapping) while this process runs every operation of the kind:
// each must return a Status (kCorrupt where the state is inconsistent), never crash, hang or
// touch memory outside its mapping. Runs under ASan/UBSan in the native suite (the output
// buffers are heap memory, so an overrun is reported); an alarm turns a hang into a failure.
//
// Kinds covered: raw segments (SegmentHeader), Mutex (MutexState), ShmQueue (RingState, its
// two lock states, record data) and the owner table's header and slot bookkeeping. The
// deadman pthread mutexes inside owner-table slots are not corrupted here: glibc keeps
// robust-list pointers in them (issue 9 item 5, see docs/troubleshooting.md).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "layout.h"
#include "owner-table.h"
#include "ring.h"
#include "robust-lock.h"
#include "shm-region.h"
#include "test-ring.h"

using namespace shmsync;

namespace {

uint64_t g_seed = 0;
constexpr int64_t kRaceNanos = 400 * kNanosPerMilli;  // each racing phase

// xorshift64*: deterministic per seed (printed, so a failure can be replayed).
uint64_t Next() {
  g_seed ^= g_seed >> 12;
  g_seed ^= g_seed << 25;
  g_seed ^= g_seed >> 27;
  return g_seed * 2685821657736338717ull;
}

// Values that break naive bounds arithmetic, mixed with plain random ones.
uint64_t Adversarial() {
  static const uint64_t kValues[] = {0,
                                     1,
                                     7,
                                     8,
                                     63,
                                     64,
                                     1023,
                                     1024,
                                     4096,
                                     4088,
                                     0x7fffffffu,
                                     0x80000000u,
                                     0xffffffffu,
                                     uint64_t{1} << 32,
                                     uint64_t{1} << 40,
                                     uint64_t{1} << 63,
                                     ~uint64_t{0},
                                     ~uint64_t{0} - 7};
  const uint64_t r = Next();
  if (r % 3 == 0) return Next();
  return kValues[r % (sizeof kValues / sizeof kValues[0])];
}

void Scribble(void* p, size_t bytes) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < bytes;) {
    const uint64_t v = Adversarial();
    const size_t n = bytes - i < 8 ? bytes - i : 8;
    std::memcpy(b + i, &v, n);
    i += n;
  }
}

// A second, independent mapping of a segment: what a rogue process writes through.
struct RogueMap {
  uint8_t* base = nullptr;
  size_t size = 0;
  explicit RogueMap(const std::string& segment_name) {
    int fd = shm_open(("/" + segment_name).c_str(), O_RDWR, 0);
    CHECK(fd >= 0);
    struct stat st;
    CHECK_EQ(fstat(fd, &st), 0);
    size = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    close(fd);
    base = static_cast<uint8_t*>(p);
  }
  ~RogueMap() { munmap(base, size); }
  uint8_t* payload() const { return base + kHeaderSize; }
};

// Forks a process that rewrites [offset, offset+bytes) of the segment with adversarial 8-byte
// values in a tight loop until killed. Returns once it is flipping (pipe handshake).
pid_t StartFlipper(const std::string& segment_name, size_t offset, size_t bytes, uint64_t seed) {
  int ready[2];
  CHECK_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid != 0) {
    close(ready[1]);
    char c = 0;
    CHECK_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
  }
  {
    close(ready[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a failing test
    if (getppid() == 1) _exit(0);
    RogueMap m(segment_name);
    g_seed = seed | 1;
    const char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(1);
    close(ready[1]);
    for (;;) {
      const size_t at = offset + (Next() % bytes) / 8 * 8;
      const uint64_t v = Adversarial();
      std::memcpy(m.base + at, &v, at + 8 <= offset + bytes ? 8 : offset + bytes - at);
    }
  }
  return pid;
}

void StopFlipper(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

// Operations that reported kCorrupt (proves the corruption was seen). Atomic: DeadmanWordsRewritten
// runs operations on several threads.
std::atomic<uint64_t> g_refused{0};

bool Known(Status st) {
  if (st == Status::kCorrupt) g_refused.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int32_t>(st) >= 0 && st < Status::kCount;
}

std::string Name(const char* tag) {
  return "shmsync-ctest-corrupt-" + std::string(tag) + "-" + std::to_string(getpid());
}

// ---- raw segments -------------------------------------------------------------------------

void RegionHeaderRewrittenAfterOpen() {
  const std::string name = Name("region");
  std::shared_ptr<ShmRegion> r;
  bool created = false;
  CHECK(ShmRegion::Acquire(name, Kind::kRaw, 8192, OpenMode::kCreate, 0600, nullptr, nullptr, &r,
                           &created)
            .ok());
  uint8_t* const payload = r->payload();
  RogueMap rogue(name);
  CHECK_EQ(rogue.payload()[0], 0);
  for (int round = 0; round < 2000; ++round) {
    Scribble(rogue.base, kHeaderSize);
    if (round % 2 == 0) {
      // The attack of the issue: a payload_offset that points into another mapping.
      const uint64_t off = Adversarial();
      std::memcpy(rogue.base + offsetof(SegmentHeader, payload_offset), &off, 8);
    }
    // Pointer and bound are what open computed, whatever the header says now.
    CHECK(r->payload() == payload);
    CHECK_EQ(r->payload_size(), 8192u);
    r->payload()[Next() % 8192] = static_cast<uint8_t>(round);
    // A fresh open validates the header it finds: a coded status, never a bad mapping.
    std::shared_ptr<ShmRegion> again;
    Result res = ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr,
                                    &again, &created);
    CHECK(Known(res.status));
    if (res.ok()) {
      CHECK_EQ(again->payload_size(), 8192u);
      again->payload()[8191] = 1;
    }
  }
  // Racing: another process flips the header while this one opens and uses the segment.
  const uint64_t refused_before = g_refused.load(std::memory_order_relaxed);
  const pid_t flipper = StartFlipper(name, 0, kHeaderSize, Next());
  for (const int64_t end = MonotonicNanos() + kRaceNanos; MonotonicNanos() < end;) {
    std::shared_ptr<ShmRegion> again;
    Result res = ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr,
                                    &again, &created);
    CHECK(Known(res.status));
    if (res.ok()) {
      CHECK_EQ(again->payload_size(), 8192u);
      std::memset(again->payload(), 0x5a, 8192);
    }
    CHECK(r->payload() == payload);
  }
  StopFlipper(flipper);
  CHECK(g_refused.load(std::memory_order_relaxed) >
        refused_before);  // the racing header was seen, and refused
  r.reset();
  CHECK(ShmRegion::Unlink(name).ok());
}

// ---- Mutex ----------------------------------------------------------------------------------

void InitMutex(uint8_t* p, uint64_t, const void*) {
  InitMutexState(reinterpret_cast<MutexState*>(p), OwnerDeathPolicy::kRecover);
}

void RunMutexOps(MutexState* s, OwnerTable* table, OwnerId me) {
  CHECK(Known(TryLock(s, table, me)));
  CHECK(Known(Unlock(s, table, me)));
  CHECK(Known(Lock(s, table, me, MonotonicNanos() + kNanosPerMilli / 4)));
  CHECK(Known(MarkConsistent(s, me)));
  CHECK(Known(Unlock(s, table, me)));
  bool granted = false;
  ClaimHandoff(s, me);
  WithdrawHandoff(s, me, &granted);
  if (granted) CHECK(Known(AcceptHandoff(s, table, me)));
  CHECK(Known(Unlock(s, table, me)));
  CHECK(Known(CheckOwnerTable(s, table)));
  (void)Fence(s);
}

void MutexStateRewritten() {
  const std::string name = Name("mutex");
  std::shared_ptr<ShmRegion> r;
  std::shared_ptr<OwnerTable> table;
  bool created = false;
  CHECK(ShmRegion::Acquire(name, Kind::kMutex, sizeof(MutexState), OpenMode::kCreate, 0600,
                           InitMutex, nullptr, &r, &created)
            .ok());
  CHECK(OwnerTable::Shared(&table).ok());
  OwnerId me = 0;
  CHECK(table->Claim(&me).ok());
  auto* s = reinterpret_cast<MutexState*>(r->payload());
  for (int round = 0; round < 3000; ++round) {
    // One field at a time (so the others stay plausible), or the whole state.
    if (round % 4 == 0) {
      Scribble(s, sizeof(MutexState));
    } else {
      const size_t word = Next() % (sizeof(MutexState) / 4);
      const uint64_t v = Adversarial();
      std::memcpy(reinterpret_cast<uint8_t*>(s) + word * 4, &v, 4);
    }
    RunMutexOps(s, table.get(), me);
  }
  const pid_t flipper = StartFlipper(name, kHeaderSize, sizeof(MutexState), Next());
  for (const int64_t end = MonotonicNanos() + kRaceNanos; MonotonicNanos() < end;) {
    RunMutexOps(s, table.get(), me);
  }
  StopFlipper(flipper);
  table->Release(me);
  r.reset();
  CHECK(ShmRegion::Unlink(name).ok());
}

// ---- ShmQueue ring ------------------------------------------------------------------------

void RunRingOps(RingState* ring, const RingConfig& config, OwnerTable* table, OwnerId me,
                uint64_t payload_size) {
  // A batch of 1..3 well-framed records from heap memory.
  std::vector<uint8_t> batch;
  const uint32_t count = 1 + Next() % 3;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t len = static_cast<uint32_t>(Next() % (config.max_message + 1));
    const size_t at = batch.size();
    batch.resize(at + RecordBytes(len), 0xcd);
    std::memcpy(batch.data() + at, &len, 4);
    const uint32_t type = static_cast<uint32_t>(Next() % 4);
    std::memcpy(batch.data() + at + 4, &type, 4);
  }
  uint32_t written = 0;
  Status st = PutRecords(ring, config, table, me, {batch.data(), batch.size(), count}, &written);
  CHECK(Known(st));
  CHECK(written <= count);
  // Output buffers of several sizes, some smaller than one message (exact heap size: ASan).
  const size_t out_size = (Next() % 2 == 0) ? 64 : RecordBytes(config.max_message) * 2;
  std::vector<uint8_t> out(out_size);
  uint32_t got = 0;
  uint64_t bytes = 0;
  st = GetRecords(ring, config, table, me, out.data(), out.size(), 1 + Next() % 8, &got, &bytes);
  CHECK(Known(st));
  CHECK(bytes <= out.size());
  // Every record handed out is well framed and within max_message, whatever the ring held.
  for (uint64_t off = 0; off < bytes;) {
    uint32_t len = 0;
    std::memcpy(&len, out.data() + off, 4);
    CHECK(len <= config.max_message);
    off += RecordBytes(len);
    CHECK(off <= bytes);
  }
  const int64_t soon = MonotonicNanos() + kNanosPerMilli / 5;
  CHECK(Known(WaitData(ring, soon)));
  CHECK(Known(WaitSpace(ring, config, RecordBytes(Next() % (config.max_message + 1)), soon)));
  RingConfig fresh;
  CHECK(Known(OpenRing(ring, payload_size, &fresh)));
}

void RingRewritten() {
  const std::string name = Name("ring");
  const shmsync_test::TestRingInit args{4096, 1000};
  std::shared_ptr<ShmRegion> r;
  std::shared_ptr<OwnerTable> table;
  bool created = false;
  CHECK(ShmRegion::Acquire(name, Kind::kQueue, kRingDataOffset + args.capacity, OpenMode::kCreate,
                           0600, shmsync_test::InitTestRing, &args, &r, &created)
            .ok());
  CHECK(OwnerTable::Shared(&table).ok());
  OwnerId me = 0;
  CHECK(table->Claim(&me).ok());
  auto* ring = reinterpret_cast<RingState*>(r->payload());
  RingConfig config;
  CHECK_EQ(OpenRing(ring, r->payload_size(), &config), Status::kOk);
  // Scribble one region at a time: positions/counters, configuration, a lock, record data.
  struct Area {
    size_t offset;
    size_t bytes;
  };
  const Area areas[] = {{0, 64},
                        {64, 64},
                        {128, 64},
                        {256, 128},
                        {384, 128},
                        {512, 64},
                        {512, static_cast<size_t>(args.capacity)}};
  for (int round = 0; round < 4000; ++round) {
    // Mostly valid traffic in between, so corrupt record data meets real positions.
    if (round % 3 != 0) {
      const Area& a = areas[Next() % (sizeof areas / sizeof areas[0])];
      if (Next() % 2 == 0) {
        Scribble(reinterpret_cast<uint8_t*>(ring) + a.offset, a.bytes);
      } else {
        const size_t at = a.offset + (Next() % a.bytes) / 4 * 4;
        const uint64_t v = Adversarial();
        std::memcpy(reinterpret_cast<uint8_t*>(ring) + at, &v, 4);
      }
    }
    if (round % 500 == 499) InitRing(ring, args.capacity, args.max_message);  // recover, go again
    RunRingOps(ring, config, table.get(), me, r->payload_size());
  }
  // The attack of item 2: capacity rewritten to 2^40 after open. Puts refuse (kCorrupt) rather
  // than use it, and a racing open sees either a valid configuration or kCorrupt.
  InitRing(ring, args.capacity, args.max_message);
  ring->capacity.store(uint64_t{1} << 40, std::memory_order_relaxed);
  std::vector<uint8_t> one(RecordBytes(8), 0);
  uint32_t written = 0;
  CHECK_EQ(PutRecords(ring, config, table.get(), me, {one.data(), one.size(), 1}, &written),
           Status::kCorrupt);
  InitRing(ring, args.capacity, args.max_message);
  const pid_t flipper = StartFlipper(name, kHeaderSize + 128, 16, Next());
  for (const int64_t end = MonotonicNanos() + kRaceNanos; MonotonicNanos() < end;) {
    RingConfig seen;
    if (OpenRing(ring, r->payload_size(), &seen) == Status::kOk) {
      CHECK_EQ(seen.capacity, args.capacity);
      CHECK(seen.max_message >= 1 && seen.max_message <= MaxMessageLimit(seen.capacity));
    }
  }
  StopFlipper(flipper);
  // Racing flips over the whole state and data while operations run.
  InitRing(ring, args.capacity, args.max_message);
  const uint64_t refused_before = g_refused.load(std::memory_order_relaxed);
  const pid_t everything = StartFlipper(name, kHeaderSize, kRingDataOffset + args.capacity, Next());
  for (const int64_t end = MonotonicNanos() + kRaceNanos; MonotonicNanos() < end;) {
    RunRingOps(ring, config, table.get(), me, r->payload_size());
  }
  StopFlipper(everything);
  CHECK(g_refused.load(std::memory_order_relaxed) > refused_before);
  table->Release(me);
  r.reset();
  CHECK(ShmRegion::Unlink(name).ok());
}

// ---- owner table ----------------------------------------------------------------------------

void OwnerTableBookkeepingRewritten() {
  const std::string logical = "ctest-owners-corrupt-" + std::to_string(getpid());
  const std::string name = "shmsync-" + logical;
  std::shared_ptr<OwnerTable> table;
  CHECK(OwnerTable::Open(name, &table).ok());
  OwnerId me = 0;
  CHECK(table->Claim(&me).ok());
  RogueMap rogue(name);
  auto* t = reinterpret_cast<OwnerTablePayload*>(rogue.payload());
  for (int round = 0; round < 5000; ++round) {
    // The table header, and the bookkeeping words of random slots (not the deadman mutexes).
    if (round % 5 == 0) Scribble(t, 64);
    OwnerSlot& slot = t->slots[Next() % kOwnerSlots];
    const uint64_t v = Adversarial();
    std::memcpy(reinterpret_cast<uint8_t*>(&slot) + sizeof(pthread_mutex_t) + (Next() % 4) * 4, &v,
                4);
    const OwnerId any = static_cast<OwnerId>(Adversarial());
    (void)table->Check(any);
    (void)table->PidOf(any);
    (void)table->TidOf(any);
    (void)table->JsThreadIdOf(any);
    uint32_t expected = 0;
    (void)table->ArmDeathWake(any & kOwnerIdMask, &expected);
    // Reopening validates the table header: kCorrupt once capacity is wrong, never a crash.
    std::shared_ptr<OwnerTable> again;
    CHECK(Known(OwnerTable::Open(name, &again).status));
  }
  table->Release(me);
  table.reset();
  CHECK(ShmRegion::Unlink(name).ok());
}

// The deadman words themselves (issue 9 item 5): a rogue process rewrites words of the slot array
// (deadman words included) while threads claim, lock, arm death wakes, release, and exit without
// releasing (the kernel's exit-time walk of their private robust lists then acts on words the
// rogue may have rewritten). The kernel only ever writes words that hold the dying thread's TID,
// through entries in private memory: no crash, no hang, every status known.
void DeadmanWordsRewritten() {
  const std::string table_name = Name("deadmen");
  const std::string mutex_name = Name("deadmen-mutex");
  std::shared_ptr<OwnerTable> table;
  CHECK(OwnerTable::Open(table_name, &table).ok());
  std::shared_ptr<ShmRegion> r;
  bool created = false;
  CHECK(ShmRegion::Acquire(mutex_name, Kind::kMutex, sizeof(MutexState), OpenMode::kCreate, 0600,
                           InitMutex, nullptr, &r, &created)
            .ok());
  auto* s = reinterpret_cast<MutexState*>(r->payload());
  // Slot array only: the table header is OwnerTableBookkeepingRewritten's.
  const pid_t flipper = StartFlipper(table_name, kHeaderSize + offsetof(OwnerTablePayload, slots),
                                     sizeof(OwnerSlot) * kOwnerSlots, Next());
  uint64_t claims = 0;
  for (const int64_t end = MonotonicNanos() + kRaceNanos; MonotonicNanos() < end;) {
    std::vector<std::thread> threads;
    std::atomic<uint64_t> ok{0};
    for (int k = 0; k < 4; ++k) {
      // The test's generator is not thread-safe: draw the thread's adversarial id here.
      const OwnerId other = static_cast<OwnerId>(Adversarial()) & kOwnerIdMask;
      threads.emplace_back([&, k, other] {
        OwnerId me = 0;
        const Result claimed = table->Claim(&me);
        CHECK(Known(claimed.status));
        if (!claimed.ok()) return;
        ok.fetch_add(1);
        RunMutexOps(s, table.get(), me);
        uint32_t expected = 0;
        if (std::atomic<uint32_t>* w = table->ArmDeathWake(other, &expected)) {
          FutexWaitv v[1];
          SetWaitv(&v[0], w, expected);
          FutexWaitvUntil(v, 1, MonotonicNanos() + kNanosPerMilli / 4);
        }
        (void)table->Check(me);
        if (k % 2 == 0) table->Release(me);  // odd threads exit holding their deadman
      });
    }
    for (std::thread& t : threads) t.join();
    claims += ok.load();
  }
  StopFlipper(flipper);
  CHECK(claims > 0);
  r.reset();
  table.reset();
  CHECK(ShmRegion::Unlink(mutex_name).ok());
  CHECK(ShmRegion::Unlink(table_name).ok());
}

}  // namespace

int main() {
  // A hang is a failure: every wait above is bounded, so the whole run takes seconds.
  alarm(120);
  g_seed = (static_cast<uint64_t>(time(nullptr)) ^ (static_cast<uint64_t>(getpid()) << 32)) | 1;
  if (const char* s = std::getenv("SHMSYNC_CORRUPT_SEED"))
    g_seed = std::strtoull(s, nullptr, 0) | 1;
  std::fprintf(stderr, "seed 0x%" PRIx64 " (SHMSYNC_CORRUPT_SEED replays it)\n", g_seed);
  const std::string table = "ctest-owners-corruption-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", table.c_str(), 1);
  RUN(RegionHeaderRewrittenAfterOpen);
  RUN(MutexStateRewritten);
  RUN(RingRewritten);
  RUN(OwnerTableBookkeepingRewritten);
  RUN(DeadmanWordsRewritten);
  ShmRegion::Unlink("shmsync-" + table);
  return 0;
}
