// Tests of the lock core (robust-lock, owner-table, parker): mutual exclusion across threads
// and forked processes, owner death by SIGKILL and by thread exit, strict policy, timeouts,
// non-owner release, hand-off under contention, parker grants and cancellation.
// Run by ctest plain, under ASan/UBSan and under TSan.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "owner-table.h"
#include "parker.h"
#include "robust-lock.h"
#include "shm-region.h"

using namespace shmsync;

namespace {

std::string g_table_name;

struct Fixture {
  std::shared_ptr<ShmRegion> region;
  std::shared_ptr<OwnerTable> table;
  MutexState* state;
  std::string name;
};

void InitRecover(uint8_t* p, uint64_t, const void* arg) {
  InitMutexState(reinterpret_cast<MutexState*>(p), *static_cast<const OwnerDeathPolicy*>(arg));
}

Fixture MakeMutex(const char* tag, OwnerDeathPolicy policy = OwnerDeathPolicy::kRecover) {
  Fixture f;
  f.name = "shmsync-ctest-lock-" + std::string(tag) + "-" + std::to_string(getpid());
  bool created = false;
  CHECK(ShmRegion::Acquire(f.name, Kind::kMutex, sizeof(MutexState), OpenMode::kCreate, 0600,
                           InitRecover, &policy, &f.region, &created)
            .ok());
  CHECK(OwnerTable::Shared(&f.table).ok());
  f.state = reinterpret_cast<MutexState*>(f.region->payload());
  return f;
}

void Drop(Fixture& f) {
  f.region.reset();
  CHECK(ShmRegion::Unlink(f.name).ok());
}

// Every thread that locks needs its own OwnerId (its deadman is held by that thread).
OwnerId ClaimForThisThread(OwnerTable* table) {
  OwnerId id = 0;
  CHECK(table->Claim(&id).ok());
  CHECK(table->Check(id) == Liveness::kAlive);
  return id;
}

void BasicOwnership() {
  Fixture f = MakeMutex("basic");
  OwnerId me = ClaimForThisThread(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), me), Status::kOk);
  CHECK_EQ(TryLock(f.state, f.table.get(), me), Status::kBusy);
  CHECK_EQ(Fence(f.state), 1u);
  std::thread other([&] {
    OwnerId them = ClaimForThisThread(f.table.get());
    CHECK_EQ(TryLock(f.state, f.table.get(), them), Status::kWouldBlock);
    CHECK_EQ(Unlock(f.state, f.table.get(), them), Status::kNotOwner);
    CHECK_EQ(Lock(f.state, f.table.get(), them, MonotonicNanos() + 20 * kNanosPerMilli),
             Status::kTimeout);
    f.table->Release(them);
  });
  other.join();
  CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
  CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kNotOwner);
  CHECK_EQ(f.state->word.load(), 0u);
  f.table->Release(me);
  CHECK(f.table->Check(me) == Liveness::kDead);
  Drop(f);
}

void OwnerTableIdentity() {
  Fixture f = MakeMutex("table-id");
  // Created without an id (0): no table issued it, so no table accepts it (a planted lock with
  // 0 there used to pass the check).
  CHECK_EQ(CheckOwnerTable(f.state, f.table.get()), Status::kOwnerTableMismatch);
  InitMutexState(f.state, OwnerDeathPolicy::kRecover, f.table->id());
  CHECK(f.table->id() != 0);
  CHECK_EQ(CheckOwnerTable(f.state, f.table.get()), Status::kOk);
  InitMutexState(f.state, OwnerDeathPolicy::kRecover, f.table->id() ^ 1);  // another table's lock
  CHECK_EQ(CheckOwnerTable(f.state, f.table.get()), Status::kOwnerTableMismatch);
  Drop(f);
}

void ThreadsExclude() {
  Fixture f = MakeMutex("threads");
  constexpr int kThreads = 4;
  constexpr int kIters = 20000;
  uint64_t counter = 0;  // deliberately non-atomic: the lock must protect it
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      OwnerId me = ClaimForThisThread(f.table.get());
      for (int i = 0; i < kIters; ++i) {
        CHECK_EQ(Lock(f.state, f.table.get(), me, -1), Status::kOk);
        counter = counter + 1;
        CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
      }
      f.table->Release(me);
    });
  }
  for (auto& t : threads) t.join();
  CHECK_EQ(counter, static_cast<uint64_t>(kThreads) * kIters);
  CHECK_EQ(Fence(f.state), static_cast<uint64_t>(kThreads) * kIters);
  CHECK_EQ(f.state->waiters.load(), 0u);
  Drop(f);
}

void ProcessesExclude() {
  Fixture f = MakeMutex("procs");
  auto* counter = static_cast<uint64_t*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  *counter = 0;
  constexpr int kProcs = 4;
  constexpr int kIters = 20000;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      OwnerId me = 0;
      if (!f.table->Claim(&me).ok()) _exit(2);
      for (int i = 0; i < kIters; ++i) {
        if (Lock(f.state, f.table.get(), me, -1) != Status::kOk) _exit(3);
        *counter = *counter + 1;
        if (Unlock(f.state, f.table.get(), me) != Status::kOk) _exit(4);
      }
      f.table->Release(me);
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK_EQ(*counter, static_cast<uint64_t>(kProcs) * kIters);
  munmap(counter, 4096);
  Drop(f);
}

// A child locks, reports through a pipe, and is SIGKILLed: the parent (blocked in Lock before
// the kill) gets the lock with kOwnerDead.
void OwnerKilledWhileHolding() {
  Fixture f = MakeMutex("kill");
  OwnerId me = ClaimForThisThread(f.table.get());
  for (int round = 0; round < 20; ++round) {
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      OwnerId child = 0;
      if (!f.table->Claim(&child).ok()) _exit(2);
      if (Lock(f.state, f.table.get(), child, -1) != Status::kOk) _exit(3);
      char c = 'x';
      if (write(fds[1], &c, 1) != 1) _exit(4);
      pause();
      _exit(0);
    }
    char c;
    CHECK_EQ(read(fds[0], &c, 1), 1);
    std::thread killer([pid, round] {
      if (round % 2 == 0) usleep(2000);  // odd rounds: killed before we even wait
      kill(pid, SIGKILL);
    });
    const int64_t t0 = MonotonicNanos();
    Status st = Lock(f.state, f.table.get(), me, MonotonicNanos() + 5 * kNanosPerSecond);
    const int64_t waited = MonotonicNanos() - t0;
    killer.join();
    CHECK_EQ(st, Status::kOwnerDead);
    CHECK(waited < 1 * kNanosPerSecond);
    CHECK_EQ(f.state->owner_deaths.load(), static_cast<uint32_t>(round + 1));
    CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status));
    close(fds[0]);
    close(fds[1]);
  }
  f.table->Release(me);
  Drop(f);
}

// A thread that exits while holding (like worker.terminate()) is detected by the kernel.
void ThreadExitsWhileHolding() {
  Fixture f = MakeMutex("thread-exit");
  std::thread holder([&] {
    OwnerId t = ClaimForThisThread(f.table.get());
    CHECK_EQ(Lock(f.state, f.table.get(), t, -1), Status::kOk);
    // exits without Unlock and without Release
  });
  holder.join();
  OwnerId me = ClaimForThisThread(f.table.get());
  CHECK_EQ(Lock(f.state, f.table.get(), me, MonotonicNanos() + kNanosPerSecond),
           Status::kOwnerDead);
  CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
  CHECK_EQ(TryLock(f.state, f.table.get(), me), Status::kOk);  // recover policy: usable again
  CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
  f.table->Release(me);
  Drop(f);
}

void StrictPolicy() {
  for (int repair = 0; repair < 2; ++repair) {
    Fixture f = MakeMutex(repair ? "strict-repair" : "strict", OwnerDeathPolicy::kStrict);
    std::thread holder([&] {
      OwnerId t = ClaimForThisThread(f.table.get());
      CHECK_EQ(Lock(f.state, f.table.get(), t, -1), Status::kOk);
    });
    holder.join();
    OwnerId me = ClaimForThisThread(f.table.get());
    CHECK_EQ(TryLock(f.state, f.table.get(), me), Status::kOwnerDead);
    if (repair) CHECK_EQ(MarkConsistent(f.state, me), Status::kOk);
    CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
    // Checked twice: the outcome is permanent.
    for (int k = 0; k < 2; ++k) {
      Status st = Lock(f.state, f.table.get(), me, MonotonicNanos() + kNanosPerSecond);
      CHECK_EQ(st, repair ? Status::kOk : Status::kNotRecoverable);
      if (st == Status::kOk) CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
    }
    f.table->Release(me);
    Drop(f);
  }
}

struct Grant {
  std::atomic<int> count{0};
  std::atomic<int> status{-100};
};

void OnGrant(void* target, uint64_t, Status st) {
  auto* g = static_cast<Grant*>(target);
  g->status.store(static_cast<int>(st), std::memory_order_relaxed);
  g->count.fetch_add(1, std::memory_order_release);
}

void WaitGrant(Grant& g, int n) {
  while (g.count.load(std::memory_order_acquire) < n) std::this_thread::yield();
}

void ParkerGrantsAndCancels() {
  Fixture f = MakeMutex("parker");
  Parker& parker = Parker::Instance();
  OwnerId holder = ClaimForThisThread(f.table.get());
  OwnerId waiter = 0;
  std::thread claim([&] { waiter = ClaimForThisThread(f.table.get()); });
  claim.join();  // waiter's thread has exited: its id is dead; use a live one instead
  std::atomic<bool> stop{false};
  std::atomic<OwnerId> live_waiter{0};
  std::thread owner_thread([&] {
    live_waiter.store(ClaimForThisThread(f.table.get()));
    while (!stop.load()) std::this_thread::yield();
    f.table->Release(live_waiter.load());
  });
  while (live_waiter.load() == 0) std::this_thread::yield();
  const OwnerId w = live_waiter.load();

  CHECK_EQ(TryLock(f.state, f.table.get(), holder), Status::kOk);
  Grant g;
  uint64_t id = parker.ParkLock(f.region, f.state, f.table.get(), w, OnGrant, &g);
  CHECK_EQ(Unlock(f.state, f.table.get(), holder), Status::kOk);
  WaitGrant(g, 1);
  CHECK_EQ(g.status.load(), static_cast<int>(Status::kOk));
  CHECK_EQ(f.state->word.load() & kLockOwnerMask, w);
  CHECK_EQ(parker.Cancel(id), static_cast<int32_t>(Status::kOk));  // completed: reports grant
  CHECK_EQ(Unlock(f.state, f.table.get(), w), Status::kOk);

  // Cancel before grant.
  CHECK_EQ(TryLock(f.state, f.table.get(), holder), Status::kOk);
  Grant g2;
  uint64_t id2 = parker.ParkLock(f.region, f.state, f.table.get(), w, OnGrant, &g2);
  CHECK_EQ(parker.Cancel(id2), Parker::kCancelled);
  CHECK_EQ(Unlock(f.state, f.table.get(), holder), Status::kOk);
  CHECK_EQ(g2.count.load(), 0);
  CHECK_EQ(f.state->waiters.load(), 0u);

  // Watch: completes when the word changes.
  std::atomic<uint32_t> word{5};
  Grant g3;
  parker.ParkWatch(nullptr, &word, 5, nullptr, OnGrant, &g3);
  word.store(6);
  FutexWake(&word, 1);
  WaitGrant(g3, 1);
  CHECK_EQ(parker.pending(), 0u);
  stop.store(true);
  owner_thread.join();
  f.table->Release(holder);
  (void)waiter;
  Drop(f);
}

uint64_t NowSinceEpoch() { return static_cast<uint64_t>(time(nullptr)) - kHeldSinceEpoch; }

// held_since: a native acquisition stamps its own time (exact); a hold taken without a stamp
// (as the JS fast path does: word CAS + fence only) gets "at least since" from the first waiter
// that sleeps on it; a stamp whose tag is not the current fence describes an earlier hold.
void HeldSince() {
  Fixture f = MakeMutex("since");
  OwnerId me = ClaimForThisThread(f.table.get());
  CHECK_EQ(f.state->held_since.load(), 0u);
  const uint64_t before = NowSinceEpoch();
  CHECK_EQ(TryLock(f.state, f.table.get(), me), Status::kOk);
  uint64_t st = f.state->held_since.load();
  CHECK_EQ(static_cast<uint32_t>(st >> 32), f.state->fence_lo.load());
  CHECK((st & kHeldSinceExactBit) != 0);
  CHECK((st & kHeldSinceSecondsMask) + 1 >= before);
  CHECK((st & kHeldSinceSecondsMask) <= NowSinceEpoch() + 1);
  CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);

  // A fast-path style hold: the word and the fence, no stamp. The old stamp no longer matches.
  uint32_t free_word = 0;
  CHECK(f.state->word.compare_exchange_strong(free_word, me));
  f.state->fence_lo.store(f.state->fence_lo.load() + 1);
  CHECK(static_cast<uint32_t>(f.state->held_since.load() >> 32) != f.state->fence_lo.load());
  std::thread waiter([&] {
    OwnerId them = ClaimForThisThread(f.table.get());
    CHECK_EQ(Lock(f.state, f.table.get(), them, MonotonicNanos() + 30 * kNanosPerMilli),
             Status::kTimeout);
    f.table->Release(them);
  });
  waiter.join();
  st = f.state->held_since.load();
  CHECK_EQ(static_cast<uint32_t>(st >> 32), f.state->fence_lo.load());
  CHECK((st & kHeldSinceExactBit) == 0);
  CHECK((st & kHeldSinceSecondsMask) + 1 >= before);
  // A second waiter keeps the first waiter's stamp (it is the earlier bound).
  const uint64_t first = st;
  std::thread waiter2([&] {
    OwnerId them = ClaimForThisThread(f.table.get());
    CHECK_EQ(Lock(f.state, f.table.get(), them, MonotonicNanos() + 10 * kNanosPerMilli),
             Status::kTimeout);
    f.table->Release(them);
  });
  waiter2.join();
  CHECK_EQ(f.state->held_since.load(), first);
  CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
  f.table->Release(me);
  Drop(f);
}

// Two threads hammer the lock; a third must still get in (hand-off bounds barging).
void NoStarvation() {
  Fixture f = MakeMutex("starve");
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (int t = 0; t < 2; ++t) {
    hogs.emplace_back([&] {
      OwnerId me = ClaimForThisThread(f.table.get());
      while (!stop.load(std::memory_order_relaxed)) {
        CHECK_EQ(Lock(f.state, f.table.get(), me, -1), Status::kOk);
        CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
      }
      f.table->Release(me);
    });
  }
  OwnerId me = ClaimForThisThread(f.table.get());
  for (int i = 0; i < 200; ++i) {
    CHECK_EQ(Lock(f.state, f.table.get(), me, MonotonicNanos() + 2 * kNanosPerSecond), Status::kOk);
    CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
  }
  stop.store(true);
  for (auto& t : hogs) t.join();
  f.table->Release(me);
  Drop(f);
}

}  // namespace

int main() {
  g_table_name = "ctest-owners-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", g_table_name.c_str(), 1);
  RUN(BasicOwnership);
  RUN(OwnerTableIdentity);
  RUN(ThreadsExclude);
  RUN(ProcessesExclude);
  RUN(OwnerKilledWhileHolding);
  RUN(ThreadExitsWhileHolding);
  RUN(StrictPolicy);
  RUN(ParkerGrantsAndCancels);
  RUN(NoStarvation);
  RUN(HeldSince);
  ShmRegion::Unlink("shmsync-" + g_table_name);
  return 0;
}
