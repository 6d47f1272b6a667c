// Tests of the two-phase hand-off grant, stale registrations, parker cancellation of granted
// requests and interruptible waits (issue 9 items 7, 8, 9, 12). Interleavings are forced with
// the SHMSYNC_TEST_HOOKS hooks (a pause between the grant's two phases, a paused parker), not
// by timing. Run by ctest plain, under ASan+UBSan and under TSan.
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "check.h"
#include "owner-table.h"
#include "parker.h"
#include "robust-lock.h"
#include "shm-region.h"
#include "wait-interrupt.h"

using namespace shmsync;

namespace {

struct Fixture {
  std::shared_ptr<ShmRegion> region;
  std::shared_ptr<OwnerTable> table;
  MutexState* state;
  std::string name;
};

void Init(uint8_t* p, uint64_t, const void* arg) {
  InitMutexState(reinterpret_cast<MutexState*>(p), *static_cast<const OwnerDeathPolicy*>(arg));
}

Fixture MakeMutex(const char* tag, OwnerDeathPolicy policy = OwnerDeathPolicy::kRecover) {
  Fixture f;
  f.name = "shmsync-ctest-grant-" + std::string(tag) + "-" + std::to_string(getpid());
  bool created = false;
  CHECK(ShmRegion::Acquire(f.name, Kind::kMutex, sizeof(MutexState), OpenMode::kCreate, 0600, Init,
                           &policy, &f.region, &created)
            .ok());
  CHECK(OwnerTable::Shared(&f.table).ok());
  f.state = reinterpret_cast<MutexState*>(f.region->payload());
  return f;
}

void Drop(Fixture& f) {
  f.region.reset();
  CHECK(ShmRegion::Unlink(f.name).ok());
}

// A live OwnerId held by a parked helper thread (its deadman lives as long as the thread).
struct LiveId {
  std::atomic<OwnerId> id{0};
  std::atomic<bool> stop{false};
  std::thread thread;
  explicit LiveId(OwnerTable* table) {
    thread = std::thread([this, table] {
      OwnerId me = 0;
      CHECK(table->Claim(&me).ok());
      id.store(me);
      while (!stop.load()) std::this_thread::yield();
      table->Release(me);
    });
    while (id.load() == 0) std::this_thread::yield();
  }
  ~LiveId() {
    stop.store(true);
    thread.join();
  }
};

OwnerId Claim(OwnerTable* table) {
  OwnerId id = 0;
  CHECK(table->Claim(&id).ok());
  return id;
}

// The pause between the grant's phases: the unlocking thread announces phase 1 and waits.
std::atomic<int> g_phase1{0};
std::atomic<bool> g_resume{false};
void PauseBetweenPhases(MutexState*) {
  g_phase1.fetch_add(1);
  while (!g_resume.load()) std::this_thread::yield();
}

// Item 7. The waiter withdraws after the unlocker committed the grant (phase 1) but before it
// stored the word (phase 2): it must learn that it holds the lock. Before the two-phase grant
// it was told "not granted" and then became the holder anyway (a lost hand-off).
void WithdrawAfterCommitHolds() {
  Fixture f = MakeMutex("late-withdraw");
  LiveId a(f.table.get()), b(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), a.id), Status::kOk);
  f.state->waiters.fetch_add(1);  // b waits (counted, registered)
  CHECK(ClaimHandoff(f.state, b.id));
  g_phase1.store(0);
  g_resume.store(false);
  g_test_between_grant_phases = PauseBetweenPhases;
  std::thread unlocker([&] { CHECK_EQ(Unlock(f.state, f.table.get(), a.id), Status::kOk); });
  while (g_phase1.load() == 0) std::this_thread::yield();
  // The unlocker is paused between the phases: the word still names it.
  CHECK_EQ(f.state->word.load() & kLockOwnerMask, a.id.load());
  bool granted = false;
  WithdrawHandoff(f.state, b.id, &granted);  // b's timeout lands here
  CHECK(granted);
  g_resume.store(true);
  unlocker.join();
  g_test_between_grant_phases = nullptr;
  f.state->waiters.fetch_sub(1);
  CHECK_EQ(AcceptHandoff(f.state, f.table.get(), b.id), Status::kOk);
  CHECK_EQ(f.state->word.load() & kLockOwnerMask, b.id.load());
  CHECK_EQ(f.state->handoff_to.load(), 0u);
  CHECK_EQ(Unlock(f.state, f.table.get(), b.id), Status::kOk);
  CHECK_EQ(f.state->word.load(), 0u);
  Drop(f);
}

// Item 7, other order: the waiter withdraws first; no Unlock may hand it the lock afterwards.
void WithdrawBeforeCommitDoesNotHold() {
  Fixture f = MakeMutex("early-withdraw");
  LiveId a(f.table.get()), b(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), a.id), Status::kOk);
  CHECK(ClaimHandoff(f.state, b.id));
  bool granted = true;
  WithdrawHandoff(f.state, b.id, &granted);
  CHECK(!granted);
  g_phase1.store(0);
  g_test_between_grant_phases = PauseBetweenPhases;
  g_resume.store(true);
  CHECK_EQ(Unlock(f.state, f.table.get(), a.id), Status::kOk);
  g_test_between_grant_phases = nullptr;
  CHECK_EQ(g_phase1.load(), 0);  // no grant was committed
  CHECK_EQ(f.state->word.load(), 0u);
  Drop(f);
}

// Item 7: a withdrawal while phase 2 is pending, and the unlocker dies there: the grantee takes
// the word without an owner death (the release was under way), and nobody else can steal it.
void UnlockerDiesBetweenPhases() {
  Fixture f = MakeMutex("unlocker-dies", OwnerDeathPolicy::kStrict);
  LiveId b(f.table.get()), c(f.table.get());
  OwnerId a = 0;
  std::thread t([&] { a = Claim(f.table.get()); });  // thread exits: a's deadman drops
  t.join();
  CHECK_EQ(f.table->Check(a), Liveness::kDead);
  f.state->word.store(a);  // a held the lock and committed the grant to b, then died
  f.state->handoff_to.store(b.id | kHandoffGrantedBit);
  CHECK_EQ(TryLock(f.state, f.table.get(), c.id), Status::kWouldBlock);  // reserved for b
  bool granted = false;
  WithdrawHandoff(f.state, b.id, &granted);
  CHECK(granted);
  CHECK_EQ(AcceptHandoff(f.state, f.table.get(), b.id), Status::kOk);
  CHECK_EQ(f.state->consistency.load(), static_cast<uint32_t>(Consistency::kConsistent));
  CHECK_EQ(Unlock(f.state, f.table.get(), b.id), Status::kOk);
  CHECK_EQ(TryLock(f.state, f.table.get(), c.id), Status::kOk);
  CHECK_EQ(Unlock(f.state, f.table.get(), c.id), Status::kOk);
  Drop(f);
}

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

// Item 8. handoff_to names a live context that is not waiting (stale or forged), the word is
// free: a waiter must sleep (not spin) and expire the registration. Before: it spun at 100 %
// CPU until its deadline and timed out.
void StaleRegistrationExpires() {
  Fixture f = MakeMutex("stale");
  LiveId rogue(f.table.get());
  for (uint32_t bits : {0u, kHandoffGrantedBit}) {
    OwnerId me = Claim(f.table.get());
    f.state->handoff_to.store(rogue.id | bits);
    const int64_t cpu0 = ThreadCpuNanos();
    const int64_t t0 = MonotonicNanos();
    CHECK_EQ(Lock(f.state, f.table.get(), me, t0 + 2 * kNanosPerSecond), Status::kOk);
    const int64_t wall = MonotonicNanos() - t0;
    const int64_t cpu = ThreadCpuNanos() - cpu0;
    std::fprintf(stderr,
                 "  stale registration (bits %x): acquired after %.1f ms wall, %.2f ms cpu\n", bits,
                 wall / 1e6, cpu / 1e6);
    CHECK(wall >= kHandoffExpiryNanos);  // it did defer to the registration first
    CHECK(cpu * 4 < wall);               // asleep most of the time (spinning: cpu == wall)
    CHECK_EQ(f.state->handoff_to.load(), 0u);
    CHECK_EQ(Unlock(f.state, f.table.get(), me), Status::kOk);
    f.table->Release(me);
  }
  Drop(f);
}

struct Grant {
  std::atomic<int> count{0};
  std::atomic<int> status{-100};
};
void OnGrant(void* target, uint64_t, Status st) {
  auto* g = static_cast<Grant*>(target);
  g->status.store(static_cast<int>(st));
  g->count.fetch_add(1);
}

// Item 8, parker side: a parked request behind a stale registration completes.
void ParkerExpiresStaleRegistration() {
  Fixture f = MakeMutex("stale-park");
  LiveId rogue(f.table.get()), me(f.table.get());
  f.state->handoff_to.store(rogue.id);
  Grant g;
  Parker::Instance().ParkLock(f.region, f.state, f.table.get(), me.id, OnGrant, &g);
  while (g.count.load() == 0) std::this_thread::yield();  // bounded by the expiry (ctest timeout)
  CHECK_EQ(g.status.load(), static_cast<int>(Status::kOk));
  CHECK_EQ(Unlock(f.state, f.table.get(), me.id), Status::kOk);
  Drop(f);
}

// Item 12. A context shuts down (CancelAll) while its parked request is pending but the lock was
// already handed to it: CancelAll must release that lock. Before, it stayed held by the dying
// context and the next holder saw an owner death (strict policy: the lock became inconsistent).
void CancelAllReleasesGrantOfPendingRequest() {
  Fixture f = MakeMutex("cancelall", OwnerDeathPolicy::kStrict);
  Parker& parker = Parker::Instance();
  LiveId a(f.table.get());
  OwnerId ctx = Claim(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), a.id), Status::kOk);
  Grant g;
  parker.ParkLock(f.region, f.state, f.table.get(), ctx, OnGrant, &g);
  // Handshake: the parker registers the request for hand-off once it starved kStarvationNanos.
  while ((f.state->handoff_to.load() & kLockOwnerMask) != ctx) std::this_thread::yield();
  parker.TestPause(true);  // from here the request stays pending
  CHECK_EQ(Unlock(f.state, f.table.get(), a.id), Status::kOk);  // hands the lock to ctx
  CHECK_EQ(f.state->word.load() & kLockOwnerMask, ctx);
  parker.CancelAll(&g);  // the context's teardown
  f.table->Release(ctx);
  parker.TestPause(false);
  CHECK_EQ(g.count.load(), 0);
  CHECK_EQ(f.state->word.load(), 0u);
  CHECK_EQ(f.state->waiters.load(), 0u);
  CHECK_EQ(parker.pending(), 0u);
  CHECK_EQ(TryLock(f.state, f.table.get(), a.id), Status::kOk);  // not kOwnerDead
  CHECK_EQ(f.state->owner_deaths.load(), 0u);
  CHECK_EQ(f.state->consistency.load(), static_cast<uint32_t>(Consistency::kConsistent));
  CHECK_EQ(Unlock(f.state, f.table.get(), a.id), Status::kOk);
  Drop(f);
}

// Item 9. A blocking Lock ends with kClosed when its interrupt poll says so (the addon's poll:
// "this thread's JS environment is stopping"), and every blocking Lock ends when the process-wide
// shutdown word is set.
std::atomic<bool> g_stop_poll{false};
bool StopPoll(void*) { return g_stop_poll.load(); }

void InterruptEndsLock() {
  Fixture f = MakeMutex("interrupt");
  LiveId holder(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), holder.id), Status::kOk);
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    OwnerId me = Claim(f.table.get());
    WaitInterrupt intr{StopPoll, nullptr};
    result.store(static_cast<int>(Lock(f.state, f.table.get(), me, -1, &intr)));
    f.table->Release(me);
  });
  while (f.state->waiters.load() == 0) std::this_thread::yield();  // it is waiting
  g_stop_poll.store(true);
  waiter.join();
  CHECK_EQ(result.load(), static_cast<int>(Status::kClosed));
  CHECK_EQ(f.state->waiters.load(), 0u);

  std::thread waiter2([&] {
    OwnerId me = Claim(f.table.get());
    result.store(static_cast<int>(Lock(f.state, f.table.get(), me, -1)));
    f.table->Release(me);
  });
  while (f.state->waiters.load() == 0) std::this_thread::yield();
  ShutdownAllWaits();
  waiter2.join();
  CHECK_EQ(result.load(), static_cast<int>(Status::kClosed));
  g_shutdown_word.store(0);  // test-only: later tests in this binary wait normally again
  CHECK_EQ(Unlock(f.state, f.table.get(), holder.id), Status::kOk);
  Drop(f);
}

// A waiter thread that registers for the hand-off of a lock `holder` holds, and a forged grant
// (the granted bit written onto its registration by "another process") that lands before its
// deadline. The forgery is a CAS on exactly the registration seen, so a waiter that timed out and
// withdrew first (this thread descheduled past its budget on a loaded machine) is never forged:
// that attempt is joined and retried with twice the budget. On return the waiter's deadline has
// passed and it is inside the phase-2 wait for a grant that never completes (`result` still -1).
std::thread StartForgedWaiter(Fixture& f, std::atomic<int>& result, bool with_poll) {
  for (int64_t budget_ms = 150;; budget_ms *= 2) {
    CHECK(budget_ms <= 150 * 64);  // a forgery that never lands in time is a failure, not a hang
    std::atomic<OwnerId> id{0};
    std::atomic<int64_t> deadline{0};
    result.store(-1);
    std::thread waiter([&f, &result, &id, &deadline, budget_ms, with_poll] {
      OwnerId me = Claim(f.table.get());
      WaitInterrupt intr{StopPoll, nullptr};
      deadline.store(MonotonicNanos() + budget_ms * kNanosPerMilli);
      id.store(me);
      // Registers for the hand-off after its first sleep, times out at `deadline`.
      result.store(static_cast<int>(
          Lock(f.state, f.table.get(), me, deadline.load(), with_poll ? &intr : nullptr)));
      f.table->Release(me);
    });
    uint32_t seen = 0;
    while (result.load() == -1 &&
           (id.load() == 0 || (seen = f.state->handoff_to.load()) != id.load()))
      std::this_thread::yield();
    if (result.load() == -1 &&
        f.state->handoff_to.compare_exchange_strong(seen, seen | kHandoffGrantedBit)) {
      // Let the waiter reach its deadline and enter the phase-2 wait.
      const int64_t until = deadline.load() + 150 * kNanosPerMilli;
      while (MonotonicNanos() < until) std::this_thread::yield();
      return waiter;
    }
    waiter.join();  // it timed out before the forgery landed: not the case under test
    CHECK_EQ(result.load(), static_cast<int>(Status::kTimeout));
  }
}

// Hostile memory: a writer flips the granted bit onto a waiter's registration while a live
// context holds the word, so phase 2 never comes. The waiter's timeout then finds the lock
// "committed" to it and waits for phase 2: before the fix that wait ignored both the interrupt
// poll and the process-wide shutdown word, so worker.terminate() / process exit hung for as long
// as the holder held. Now it ends with kClosed and drops the registration.
void ForgedGrantWaitIsInterruptible() {
  Fixture f = MakeMutex("forged");
  LiveId holder(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), holder.id), Status::kOk);
  g_stop_poll.store(false);
  std::atomic<int> result{-1};
  std::thread waiter = StartForgedWaiter(f, result, /*with_poll=*/true);
  CHECK_EQ(result.load(), -1);  // still waiting for a phase 2 that never comes
  g_stop_poll.store(true);      // its environment stops
  waiter.join();
  g_stop_poll.store(false);
  CHECK_EQ(result.load(), static_cast<int>(Status::kClosed));
  CHECK_EQ(f.state->handoff_to.load(), 0u);  // the forged registration is gone
  CHECK_EQ(f.state->word.load() & kLockOwnerMask, holder.id.load());  // never taken from the holder

  // Same forgery, no poll: the process-wide shutdown word ends it.
  std::thread waiter2 = StartForgedWaiter(f, result, /*with_poll=*/false);
  CHECK_EQ(result.load(), -1);
  ShutdownAllWaits();
  waiter2.join();
  g_shutdown_word.store(0);  // test-only: later tests wait normally again
  CHECK_EQ(result.load(), static_cast<int>(Status::kClosed));
  CHECK_EQ(Unlock(f.state, f.table.get(), holder.id), Status::kOk);
  Drop(f);
}

// The parker side of the forged grant: a context's teardown (CancelAll, on its JS thread, with
// the parker's lock held) withdraws a parked request whose registration a rogue marked granted
// while a live context holds the word. Before, CancelAll waited for that holder's release (the
// worker's teardown and every parked wait of the process stalled); with the context's interrupt
// poll it ends, the lock is not taken and the registration is dropped.
void CancelAllEndsForgedGrantWait() {
  Fixture f = MakeMutex("forged-park");
  Parker& parker = Parker::Instance();
  LiveId holder(f.table.get());
  OwnerId ctx = Claim(f.table.get());
  CHECK_EQ(TryLock(f.state, f.table.get(), holder.id), Status::kOk);
  Grant g;
  parker.ParkLock(f.region, f.state, f.table.get(), ctx, OnGrant, &g);
  while ((f.state->handoff_to.load() & kLockOwnerMask) != ctx) std::this_thread::yield();
  parker.TestPause(true);
  f.state->handoff_to.store(ctx | kHandoffGrantedBit);  // the forgery
  g_stop_poll.store(true);                              // the context is being torn down
  WaitInterrupt intr{StopPoll, nullptr};
  parker.CancelAll(&g, &intr);
  g_stop_poll.store(false);
  f.table->Release(ctx);
  parker.TestPause(false);
  CHECK_EQ(g.count.load(), 0);
  CHECK_EQ(parker.pending(), 0u);
  CHECK_EQ(f.state->handoff_to.load(), 0u);
  CHECK_EQ(f.state->word.load() & kLockOwnerMask, holder.id.load());
  CHECK_EQ(Unlock(f.state, f.table.get(), holder.id), Status::kOk);
  Drop(f);
}

}  // namespace

int main(int argc, char** argv) {
  // argv[1], if given, runs only the test of that name.
  const std::string only = argc > 1 ? argv[1] : "";
#undef RUN
#define RUN(test)                                \
  do {                                           \
    if (!only.empty() && only != #test) break;   \
    std::fprintf(stderr, "[ RUN ] %s\n", #test); \
    test();                                      \
    std::fprintf(stderr, "[  OK ] %s\n", #test); \
  } while (0)
  const std::string table = "ctest-owners-grant-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", table.c_str(), 1);
  RUN(WithdrawAfterCommitHolds);
  RUN(WithdrawBeforeCommitDoesNotHold);
  RUN(UnlockerDiesBetweenPhases);
  RUN(StaleRegistrationExpires);
  RUN(ParkerExpiresStaleRegistration);
  RUN(CancelAllReleasesGrantOfPendingRequest);
  RUN(InterruptEndsLock);
  RUN(ForgedGrantWaitIsInterruptible);
  RUN(CancelAllEndsForgedGrantWait);
  ShmRegion::Unlink("shmsync-" + table);
  return 0;
}
