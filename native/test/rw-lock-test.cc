// Tests of the reader/writer lock core (rw-lock): shared holders overlap and exclusive ones
// never do (threads and forked processes), grants in request order (a waiting writer is not
// starved by a stream of readers), try-only and steal requests, withdrawal, and the death of a
// holder in either mode (SIGKILLed process) recovered by the next grant.
// Run by ctest plain, under ASan/UBSan and under TSan.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "owner-table.h"
#include "robust-lock.h"
#include "rw-lock.h"
#include "shm-region.h"

using namespace shmsync;

namespace {

std::string g_table_name;

struct Fixture {
  std::shared_ptr<ShmRegion> region;
  std::shared_ptr<OwnerTable> table;
  RwLockState* state;
  std::string name;
};

void InitRw(uint8_t* p, uint64_t, const void* arg) {
  const uint64_t table_id = *static_cast<const uint64_t*>(arg);
  InitRwLockState(reinterpret_cast<RwLockState*>(p), table_id,
                  reinterpret_cast<const uint8_t*>("label"), 5);
}

Fixture MakeRw(const char* tag) {
  Fixture f;
  CHECK(OwnerTable::Shared(&f.table).ok());
  f.name = "shmsync-ctest-rw-" + std::string(tag) + "-" + std::to_string(getpid());
  bool created = false;
  const uint64_t id = f.table->id();
  CHECK(ShmRegion::Acquire(f.name, Kind::kRwLock, sizeof(RwLockState), OpenMode::kCreate, 0600,
                           InitRw, &id, &f.region, &created)
            .ok());
  f.state = reinterpret_cast<RwLockState*>(f.region->payload());
  CHECK_EQ(CheckRwOwnerTable(f.state, f.table.get()), Status::kOk);
  return f;
}

void Drop(Fixture& f) {
  f.region.reset();
  CHECK(ShmRegion::Unlink(f.name).ok());
}

OwnerId Claim(OwnerTable* table) {
  OwnerId id = 0;
  CHECK(table->Claim(&id).ok());
  return id;
}

int64_t In(int64_t ms) { return MonotonicNanos() + ms * kNanosPerMilli; }

void SharedOverlapExclusiveExcludes() {
  Fixture f = MakeRw("basic");
  OwnerTable* t = f.table.get();
  OwnerId a = Claim(t);
  uint32_t s1 = 0, s2 = 0, x = 0;
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &s1), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &s2), Status::kOk);  // readers overlap
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kExclusive, kRwTryOnly, &x), Status::kWouldBlock);
  CHECK_EQ(x, kRwEntries);  // a try-only request leaves no entry
  CHECK_EQ(RwRelease(f.state, t, a, s1), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, a, s1), Status::kNotOwner);
  CHECK_EQ(RwRelease(f.state, t, a, s2), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kExclusive, kRwTryOnly, &x), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, kRwTryOnly, &s1), Status::kWouldBlock);
  // Another thread cannot release our entry, and times out waiting.
  std::thread other([&] {
    OwnerId b = Claim(t);
    CHECK_EQ(RwRelease(f.state, t, b, x), Status::kNotOwner);
    uint32_t q = 0;
    CHECK_EQ(RwRequest(f.state, t, b, RwMode::kShared, 0, &q), Status::kWouldBlock);
    CHECK_EQ(RwWait(f.state, t, b, q, In(20)), Status::kTimeout);
    CHECK_EQ(RwPoll(f.state, t, b, q, nullptr), Status::kNotOwner);  // withdrawn
    t->Release(b);
  });
  other.join();
  CHECK_EQ(RwRelease(f.state, t, a, x), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, a, kRwEntries + 7), Status::kNotOwner);  // out of range
  t->Release(a);
  Drop(f);
}

void RequestOrder() {
  // held shared; queued: exclusive, shared. The later shared request must wait behind the
  // exclusive one; releasing grants the exclusive, then the shared.
  Fixture f = MakeRw("order");
  OwnerTable* t = f.table.get();
  OwnerId a = Claim(t);
  uint32_t r1 = 0, w = 0, r2 = 0;
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &r1), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kExclusive, 0, &w), Status::kWouldBlock);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, kRwTryOnly, &r2), Status::kWouldBlock);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &r2), Status::kWouldBlock);
  CHECK_EQ(RwRelease(f.state, t, a, r1), Status::kOk);
  CHECK_EQ(RwPoll(f.state, t, a, w, nullptr), Status::kOk);
  CHECK_EQ(RwPoll(f.state, t, a, r2, nullptr), Status::kWouldBlock);
  RwEntryView v[kRwEntries];
  uint32_t n = 0;
  CHECK_EQ(RwSnapshot(f.state, t, a, v, &n), Status::kOk);
  CHECK_EQ(n, 2u);
  CHECK_EQ(RwRelease(f.state, t, a, w), Status::kOk);
  CHECK_EQ(RwPoll(f.state, t, a, r2, nullptr), Status::kOk);
  // Withdrawing a queued exclusive request lets the shared ones behind it pass.
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kExclusive, 0, &w), Status::kWouldBlock);
  uint32_t r3 = 0;
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &r3), Status::kWouldBlock);
  CHECK_EQ(RwWithdraw(f.state, t, a, w), Status::kWouldBlock);
  CHECK_EQ(RwPoll(f.state, t, a, r3, nullptr), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, a, r2), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, a, r3), Status::kOk);
  t->Release(a);
  Drop(f);
}

void StealTakesEveryHold() {
  Fixture f = MakeRw("steal");
  OwnerTable* t = f.table.get();
  OwnerId a = Claim(t);
  uint32_t r1 = 0, r2 = 0, w = 0, s = 0;
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &r1), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &r2), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kExclusive, 0, &w), Status::kWouldBlock);
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kExclusive, kRwSteal, &s), Status::kOk);
  CHECK_EQ(RwPoll(f.state, t, a, r1, nullptr), Status::kNotOwner);   // stolen
  CHECK_EQ(RwPoll(f.state, t, a, w, nullptr), Status::kWouldBlock);  // still queued
  CHECK_EQ(RwRelease(f.state, t, a, r1), Status::kNotOwner);         // frees the stolen entry
  CHECK_EQ(RwRelease(f.state, t, a, r2), Status::kNotOwner);
  CHECK_EQ(RwRelease(f.state, t, a, s), Status::kOk);
  CHECK_EQ(RwPoll(f.state, t, a, w, nullptr), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, a, w), Status::kOk);
  t->Release(a);
  Drop(f);
}

void TableFull() {
  Fixture f = MakeRw("full");
  OwnerTable* t = f.table.get();
  OwnerId a = Claim(t);
  std::vector<uint32_t> slots(kRwEntries);
  for (uint32_t i = 0; i < kRwEntries; ++i)
    CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &slots[i]), Status::kOk);
  uint32_t extra = 0;
  CHECK_EQ(RwRequest(f.state, t, a, RwMode::kShared, 0, &extra), Status::kBusy);
  for (uint32_t s : slots) CHECK_EQ(RwRelease(f.state, t, a, s), Status::kOk);
  t->Release(a);
  Drop(f);
}

// Interval oracle across threads: `inside` counts holders; an exclusive holder must be alone.
void ThreadsExcludeAndOverlap() {
  Fixture f = MakeRw("threads");
  std::atomic<int> readers{0};
  std::atomic<int> writers{0};
  std::atomic<int> max_readers{0};
  std::atomic<bool> bad{false};
  constexpr int kThreads = 4;
  constexpr int kIters = 2000;
  std::vector<std::thread> ts;
  for (int k = 0; k < kThreads; ++k) {
    ts.emplace_back([&, k] {
      OwnerTable* t = f.table.get();
      OwnerId me = Claim(t);
      for (int i = 0; i < kIters; ++i) {
        const bool excl = (i + k) % 5 == 0;
        uint32_t slot = 0;
        Status st =
            RwRequest(f.state, t, me, excl ? RwMode::kExclusive : RwMode::kShared, 0, &slot);
        if (st == Status::kWouldBlock) st = RwWait(f.state, t, me, slot, -1);
        CHECK_EQ(st, Status::kOk);
        if (excl) {
          if (writers.fetch_add(1) != 0 || readers.load() != 0) bad = true;
          writers.fetch_sub(1);
        } else {
          const int r = readers.fetch_add(1) + 1;
          if (writers.load() != 0) bad = true;
          int m = max_readers.load();
          while (r > m && !max_readers.compare_exchange_weak(m, r)) {
          }
          for (int spin = 0; spin < 50; ++spin) CpuRelax();
          readers.fetch_sub(1);
        }
        CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
      }
      t->Release(me);
    });
  }
  for (auto& th : ts) th.join();
  CHECK(!bad.load());
  std::fprintf(stderr, "  max concurrent readers: %d\n", max_readers.load());
  Drop(f);
}

// A writer queued behind readers is granted although readers keep arriving: two reader threads
// keep their holds overlapping (each holds until the other is inside too, or 2 ms passed), so
// without the request-order queue some reader would always hold and the writer would wait
// until its 10 s deadline.
void WriterNotStarved() {
  Fixture f = MakeRw("starve");
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::atomic<int> inside{0};
  std::vector<std::thread> readers;
  for (int k = 0; k < 2; ++k) {
    readers.emplace_back([&] {
      OwnerTable* t = f.table.get();
      OwnerId me = Claim(t);
      while (!stop.load()) {
        uint32_t slot = 0;
        Status st = RwRequest(f.state, t, me, RwMode::kShared, 0, &slot);
        if (st == Status::kWouldBlock) st = RwWait(f.state, t, me, slot, -1);
        CHECK_EQ(st, Status::kOk);
        const int64_t until = MonotonicNanos() + 2 * kNanosPerMilli;
        inside.fetch_add(1);
        while (inside.load() < 2 && MonotonicNanos() < until) CpuRelax();
        inside.fetch_sub(1);
        CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
        rounds.fetch_add(1);
      }
      t->Release(me);
    });
  }
  while (rounds.load() < 100) std::this_thread::yield();
  OwnerTable* t = f.table.get();
  OwnerId w = Claim(t);
  uint32_t slot = 0;
  const int64_t start = MonotonicNanos();
  Status st = RwRequest(f.state, t, w, RwMode::kExclusive, 0, &slot);
  if (st == Status::kWouldBlock) st = RwWait(f.state, t, w, slot, In(10000));
  CHECK_EQ(st, Status::kOk);  // granted while readers kept requesting
  std::fprintf(stderr, "  writer granted after %.2f ms\n",
               static_cast<double>(MonotonicNanos() - start) / kNanosPerMilli);
  CHECK_EQ(RwRelease(f.state, t, w, slot), Status::kOk);
  stop = true;
  for (auto& th : readers) th.join();
  t->Release(w);
  Drop(f);
}

// A forked child takes the lock in `mode`, reports, and is SIGKILLed; a waiter in the other mode
// is granted with kOwnerDead, and the lock is fully usable afterwards.
void KilledHolderRecovered(RwMode victim_mode, RwMode waiter_mode) {
  Fixture f = MakeRw(victim_mode == RwMode::kShared ? "kill-r" : "kill-w");
  OwnerTable* t = f.table.get();
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    OwnerId child = 0;
    if (!t->Claim(&child).ok()) _exit(2);
    uint32_t slot = 0;
    if (RwRequest(f.state, t, child, victim_mode, 0, &slot) != Status::kOk) _exit(3);
    char c = 'x';
    if (write(fds[1], &c, 1) != 1) _exit(4);
    for (;;) pause();
  }
  char c = 0;
  CHECK(read(fds[0], &c, 1) == 1);
  OwnerId me = Claim(t);
  uint32_t slot = 0;
  const bool conflicts = victim_mode == RwMode::kExclusive || waiter_mode == RwMode::kExclusive;
  Status st = RwRequest(f.state, t, me, waiter_mode, 0, &slot);
  CHECK_EQ(st, conflicts ? Status::kWouldBlock : Status::kOk);
  std::thread killer([pid] { kill(pid, SIGKILL); });
  if (conflicts) {
    st = RwWait(f.state, t, me, slot, In(10000));
    CHECK_EQ(st, Status::kOwnerDead);
  }
  killer.join();
  int ws = 0;
  CHECK(waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
  CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
  if (!conflicts) {
    // The dead reader's share is reclaimed by the next operation: an exclusive request passes.
    CHECK_EQ(RwRequest(f.state, t, me, RwMode::kExclusive, kRwTryOnly, &slot), Status::kOwnerDead);
    CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
  }
  CHECK_EQ(f.state->owner_deaths.load(), 1u);
  CHECK_EQ(RwRequest(f.state, t, me, RwMode::kExclusive, kRwTryOnly, &slot), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
  t->Release(me);
  close(fds[0]);
  close(fds[1]);
  Drop(f);
}

void KilledReaderRecovered() { KilledHolderRecovered(RwMode::kShared, RwMode::kExclusive); }
void KilledWriterRecovered() { KilledHolderRecovered(RwMode::kExclusive, RwMode::kShared); }
void KilledReaderWithReader() { KilledHolderRecovered(RwMode::kShared, RwMode::kShared); }

// Processes: 3 children and this process mix modes on one lock; shared counters in the segment
// (an anonymous shared mapping) form the interval oracle.
void ProcessesExcludeAndOverlap() {
  Fixture f = MakeRw("procs");
  auto* oracle = static_cast<std::atomic<int>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  CHECK(oracle != MAP_FAILED);
  new (&oracle[0]) std::atomic<int>(0);  // readers inside
  new (&oracle[1]) std::atomic<int>(0);  // writers inside
  new (&oracle[2]) std::atomic<int>(0);  // violations
  constexpr int kIters = 500;
  auto work = [&](int k) {
    OwnerTable* t = f.table.get();
    OwnerId me = 0;
    if (!t->Claim(&me).ok()) return false;
    for (int i = 0; i < kIters; ++i) {
      const bool excl = (i + k) % 4 == 0;
      uint32_t slot = 0;
      Status st = RwRequest(f.state, t, me, excl ? RwMode::kExclusive : RwMode::kShared, 0, &slot);
      if (st == Status::kWouldBlock) st = RwWait(f.state, t, me, slot, -1);
      if (st != Status::kOk) return false;
      if (excl) {
        if (oracle[1].fetch_add(1) != 0 || oracle[0].load() != 0) oracle[2].fetch_add(1);
        oracle[1].fetch_sub(1);
      } else {
        oracle[0].fetch_add(1);
        if (oracle[1].load() != 0) oracle[2].fetch_add(1);
        oracle[0].fetch_sub(1);
      }
      if (RwRelease(f.state, t, me, slot) != Status::kOk) return false;
    }
    t->Release(me);
    return true;
  };
  std::vector<pid_t> kids;
  for (int k = 1; k <= 3; ++k) {
    pid_t pid = fork();
    if (pid == 0) _exit(work(k) ? 0 : 1);
    kids.push_back(pid);
  }
  CHECK(work(0));
  for (pid_t pid : kids) {
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  }
  CHECK_EQ(oracle[2].load(), 0);
  munmap(oracle, 4096);
  Drop(f);
}

// A process SIGKILLed inside the guard's critical section, half-way through changing the table
// (its own entry written as held, a stray state in another): the next operation recovers the
// guard (robust Mutex), sweeps the dead owner's entry and the invalid one, and grants.
void KilledInsideGuard() {
  Fixture f = MakeRw("kill-guard");
  OwnerTable* t = f.table.get();
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    OwnerId child = 0;
    if (!t->Claim(&child).ok()) _exit(2);
    if (Lock(&f.state->guard, t, child, -1) != Status::kOk) _exit(3);
    f.state->entries[5].owner.store(child, std::memory_order_relaxed);
    f.state->entries[5].state.store(kRwHeld | kRwExclusiveBit, std::memory_order_relaxed);
    f.state->entries[9].owner.store(0, std::memory_order_relaxed);
    f.state->entries[9].state.store(0x77, std::memory_order_relaxed);  // no valid state
    char c = 'x';
    if (write(fds[1], &c, 1) != 1) _exit(4);
    for (;;) pause();
  }
  char c = 0;
  CHECK(read(fds[0], &c, 1) == 1);
  kill(pid, SIGKILL);
  int ws = 0;
  CHECK(waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws));
  OwnerId me = Claim(t);
  uint32_t slot = 0;
  CHECK_EQ(RwRequest(f.state, t, me, RwMode::kExclusive, kRwTryOnly, &slot), Status::kOwnerDead);
  CHECK_EQ(f.state->entries[9].state.load(), 0u);  // the invalid entry was freed
  CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
  CHECK_EQ(RwRequest(f.state, t, me, RwMode::kShared, kRwTryOnly, &slot), Status::kOk);
  CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
  t->Release(me);
  close(fds[0]);
  close(fds[1]);
  Drop(f);
}

// Hostile memory: every entry, the control line and the label length rewritten with random
// words, again and again, while this thread runs every operation. Nothing may crash or read out
// of bounds (ASan); once the writes stop, one sweep repairs the table and the lock works.
void HostileEntriesNoCrash() {
  Fixture f = MakeRw("hostile");
  OwnerTable* t = f.table.get();
  OwnerId me = Claim(t);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<uint32_t>(x);
  };
  auto* words = reinterpret_cast<std::atomic<uint32_t>*>(&f.state->seq);
  const size_t n = (offsetof(RwLockState, label) - offsetof(RwLockState, seq)) / 4;
  for (int round = 0; round < 2000; ++round) {
    for (int k = 0; k < 8; ++k) words[next() % n].store(next(), std::memory_order_relaxed);
    if (round % 7 == 0) f.state->label_len.store(next(), std::memory_order_relaxed);
    uint32_t slot = 0;
    const Status st = RwRequest(f.state, t, me, next() % 2 ? RwMode::kExclusive : RwMode::kShared,
                                next() % 4, &slot);
    (void)RwPoll(f.state, t, me, next(), nullptr);
    (void)RwWithdraw(f.state, t, me, next() % (kRwEntries + 4));
    if (st == Status::kOk || st == Status::kOwnerDead || st == Status::kWouldBlock)
      (void)RwRelease(f.state, t, me, slot);
    RwEntryView v[kRwEntries];
    uint32_t count = 0;
    CHECK_EQ(RwSnapshot(f.state, t, me, v, &count), Status::kOk);
    CHECK(count <= kRwEntries);
  }
  // Writes stopped: clear what random owner ids may still claim (they may name live slots of
  // this table by chance), then the lock must work normally.
  for (RwEntry& e : f.state->entries) {
    e.state.store(0, std::memory_order_relaxed);
    e.owner.store(0, std::memory_order_relaxed);
  }
  uint32_t slot = 0;
  const Status st = RwRequest(f.state, t, me, RwMode::kExclusive, kRwTryOnly, &slot);
  CHECK(st == Status::kOk || st == Status::kOwnerDead);
  CHECK_EQ(RwRelease(f.state, t, me, slot), Status::kOk);
  t->Release(me);
  Drop(f);
}

}  // namespace

int main() {
  g_table_name = "ctest-owners-rw-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", g_table_name.c_str(), 1);
  RUN(SharedOverlapExclusiveExcludes);
  RUN(RequestOrder);
  RUN(StealTakesEveryHold);
  RUN(TableFull);
  RUN(ThreadsExcludeAndOverlap);
  RUN(WriterNotStarved);
  RUN(KilledReaderRecovered);
  RUN(KilledWriterRecovered);
  RUN(KilledReaderWithReader);
  RUN(ProcessesExcludeAndOverlap);
  RUN(KilledInsideGuard);
  RUN(HostileEntriesNoCrash);
  ShmRegion::Unlink("shmsync-" + g_table_name);
  return 0;
}
