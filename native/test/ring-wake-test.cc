// The ring's wake protocol (native/core/ring-wake.h): how many FUTEX_WAKE calls publishers make
// (counted by the SHMSYNC_TEST_HOOKS counter around the ring's futex wake), for every kind of
// sleeper - a blocking wait in a thread, a parked watch on the parker thread, a direct watch on
// an io_uring, a sleeper that timed out, one that was SIGKILLed, a claimant killed between its
// claim and its wake, a rogue process rewriting the word - and a lost-wake-up stress whose
// waits have no deadline (a lost wake-up hangs it; a watchdog turns the hang into a failure).
// Run by ctest plain, under ASan/UBSan and under TSan.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "futex-ring.h"
#include "owner-table.h"
#include "parker.h"
#include "ring-wake.h"
#include "ring.h"
#include "shm-region.h"
#include "test-ring.h"

using namespace shmsync;

namespace {

// Fails the run (abort, with the test's name) if Disarm() is not called within `seconds`: the
// bound on every wait below that has no deadline of its own. Waits on a condition variable, so
// it never delays a test that finishes.
class Watchdog {
 public:
  Watchdog(const char* what, int seconds) : what_(what) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "watchdog: %s did not finish in %d s (lost wake-up?)\n", what_,
                     seconds);
        std::abort();
      }
    });
  }
  ~Watchdog() { Disarm(); }
  void Disarm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const char* what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// A test ring with an owner id claimed for this process (released by Drop).
struct Ring : shmsync_test::TestRing {
  OwnerId me = 0;
};

Ring MakeRing(const char* tag, uint64_t capacity, uint32_t max_message = 256) {
  Ring q;
  shmsync_test::CreateTestRing(&q, "wake", tag, capacity, max_message);
  CHECK(q.table->Claim(&q.me).ok());
  return q;
}

void Drop(Ring& q) {
  q.table->Release(q.me);
  shmsync_test::UnlinkTestRing(&q);
}

// One framed record of `len` payload bytes carrying (a, b) in its first 8 payload bytes.
std::vector<uint8_t> Record(uint32_t type, uint32_t a, uint32_t b, uint32_t len = 8) {
  std::vector<uint8_t> buf(RecordBytes(len), 0);
  std::memcpy(buf.data(), &len, 4);
  std::memcpy(buf.data() + 4, &type, 4);
  std::memcpy(buf.data() + 8, &a, 4);
  std::memcpy(buf.data() + 12, &b, 4);
  return buf;
}

// Puts every record of `buf` (count records), waiting for space without a deadline.
void PutAll(Ring& q, OwnerId me, const std::vector<uint8_t>& buf, uint32_t count) {
  CHECK_EQ(shmsync_test::PutAllRecords(q, me, buf, count), Status::kOk);
}

void PutOne(Ring& q, uint32_t a = 0) { PutAll(q, q.me, Record(1, a, 0), 1); }

uint32_t TakeAll(Ring& q, OwnerId me, uint32_t max = 1u << 20) {
  std::vector<uint8_t> out(1 << 16);
  uint32_t total = 0;
  for (;;) {
    uint32_t count = 0;
    uint64_t bytes = 0;
    const Status st =
        GetRecords(q.r, q.table.get(), me, out.data(), out.size(), max - total, &count, &bytes);
    CHECK(st == Status::kOk || st == Status::kClosed);
    total += count;
    if (count == 0 || total == max) return total;
  }
}

uint64_t Wakes() { return g_test_ring_wakes.load(std::memory_order_relaxed); }

long Tid() { return syscall(SYS_gettid); }

// Whether task `tid` of process `pid` is inside a futex system call on `word` (reads
// /proc/<pid>/task/<tid>/syscall: the syscall number, then its arguments in hex).
bool InFutexWait(pid_t pid, long tid, const std::atomic<uint32_t>* word) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall");
  long nr = -1;
  std::string arg0;
  if (!(f >> nr >> arg0)) return false;
  return nr == SYS_futex && std::stoull(arg0, nullptr, 16) == reinterpret_cast<uintptr_t>(word);
}

// Spins (yielding) until `done()`; bounded by the caller's watchdog.
template <typename Pred>
void Until(Pred done) {
  while (!done()) std::this_thread::yield();
}

// The Promise-wait model without Node: a watch prepared on the JS thread (sleeper counted, word
// armed) that has not ended yet, while a producer puts N messages. Before the fix every one of
// them made a FUTEX_WAKE (the count stayed raised until the watch ended): now exactly the first.
void PendingWatchCostsOneWake() {
  Ring q = MakeRing("watch", 1 << 16);
  uint32_t seq = 0;
  CHECK(PrepareDataWatch(q.r, &seq));
  CHECK((seq & kSeqArmed) != 0);
  const uint64_t before = Wakes();
  for (uint32_t i = 0; i < 1000; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 1u);
  // The watch's wait on (data_seq, seq) would return at once: the word moved off the armed value.
  CHECK(q.r->data_seq.load() != seq);
  CHECK_EQ(FutexWait(&q.r->data_seq, seq, -1), 0);
  CHECK_EQ(q.r->consumers_sleeping.load(), 1u);  // still counted until the watch ends ...
  q.r->consumers_sleeping.fetch_sub(1);          // ... (the parker's decrement)
  CHECK_EQ(TakeAll(q, q.me), 1000u);
  // Parking again arms again: the next put wakes once more, the ones after it do not.
  CHECK(PrepareDataWatch(q.r, &seq));
  for (uint32_t i = 0; i < 100; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 2u);
  q.r->consumers_sleeping.fetch_sub(1);
  // Nobody parked, nobody armed: no syscall at all.
  for (uint32_t i = 0; i < 100; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 2u);
  Drop(q);
}

// Three threads asleep in WaitData (no deadline): one put wakes all of them with one syscall,
// and the puts after it make none.
void SleepingThreadsOneWake() {
  Ring q = MakeRing("threads", 1 << 16);
  Watchdog dog("SleepingThreadsOneWake", 60);
  constexpr int kThreads = 3;
  std::atomic<long> tids[kThreads];
  std::atomic<int> returned{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    tids[i].store(0);
    threads.emplace_back([&, i] {
      tids[i].store(Tid());
      CHECK_EQ(WaitData(q.r, -1), Status::kOk);
      returned.fetch_add(1);
    });
  }
  for (int i = 0; i < kThreads; ++i) {
    Until([&] {
      return tids[i].load() != 0 && InFutexWait(getpid(), tids[i].load(), &q.r->data_seq);
    });
  }
  const uint64_t before = Wakes();
  PutOne(q);
  for (auto& t : threads) t.join();
  CHECK_EQ(returned.load(), kThreads);
  for (uint32_t i = 0; i < 200; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 1u);
  CHECK_EQ(q.r->consumers_sleeping.load(), 0u);
  dog.Disarm();
  Drop(q);
}

// The space side: a producer asleep in WaitSpace on a full ring; the consumer takes one record
// at a time: one wake in all.
void SpaceSideOneWake() {
  Ring q = MakeRing("space", 1024);
  Watchdog dog("SpaceSideOneWake", 60);
  uint32_t filled = 0;
  for (;;) {
    const std::vector<uint8_t> rec = Record(1, filled, 0, 56);
    uint32_t written = 0;
    CHECK_EQ(PutRecords(q.r, q.table.get(), q.me, {rec.data(), rec.size(), 1}, &written),
             Status::kOk);
    if (written == 0) break;
    ++filled;
  }
  CHECK(filled >= 8);
  std::atomic<long> tid{0};
  std::thread producer([&] {
    tid.store(Tid());
    CHECK_EQ(WaitSpace(q.r, RecordBytes(56), -1), Status::kOk);
  });
  Until([&] { return tid.load() != 0 && InFutexWait(getpid(), tid.load(), &q.r->space_seq); });
  const uint64_t before = Wakes();
  for (uint32_t i = 0; i < filled; ++i) CHECK_EQ(TakeAll(q, q.me, 1), 1u);
  producer.join();
  CHECK_EQ(Wakes() - before, 1u);
  CHECK_EQ(q.r->producers_sleeping.load(), 0u);
  dog.Disarm();
  Drop(q);
}

// What sleepers that are gone leave behind costs at most one syscall, not one per put: a wait
// that timed out, a sleeper count forged (or left by a dead process) with nothing armed, and a
// futex word forged armed before every put (each put then wakes once and returns).
void LeftoversCostAtMostOneWake() {
  Ring q = MakeRing("leftover", 1 << 16);
  CHECK_EQ(WaitData(q.r, MonotonicNanos() + kNanosPerMilli), Status::kTimeout);
  CHECK((q.r->data_seq.load() & kSeqArmed) != 0);  // the timed-out wait armed the word
  uint64_t before = Wakes();
  for (uint32_t i = 0; i < 100; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 1u);

  q.r->consumers_sleeping.store(1000);  // forged count, word unarmed
  before = Wakes();
  for (uint32_t i = 0; i < 100; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 0u);
  q.r->consumers_sleeping.store(0);

  before = Wakes();
  for (uint32_t i = 0; i < 100; ++i) {
    q.r->data_seq.store(0xffffffffu);  // forged: armed, owed, counter at its maximum
    PutOne(q, i);
    CHECK_EQ(q.r->data_seq.load() & (kSeqArmed | kSeqWakeOwed), 0u);  // claimed and paid
  }
  CHECK_EQ(Wakes() - before, 100u);
  CHECK_EQ(TakeAll(q, q.me), 300u);
  Drop(q);
}

// A consumer process asleep in WaitData is SIGKILLed: its count stays (info() over-counts), the
// word stays armed; the producer's next put pays one wake, the following ones none. (Before the
// fix: a wake per put for ever.)
void KilledSleeperCostsOneWake() {
  Ring q = MakeRing("killed", 1 << 16);
  const pid_t pid = fork();
  if (pid == 0) {
    WaitData(q.r, -1);
    _exit(0);
  }
  CHECK(pid > 0);
  Watchdog dog("KilledSleeperCostsOneWake", 60);  // after the fork: the child has one thread
  Until([&] { return InFutexWait(pid, pid, &q.r->data_seq); });
  CHECK_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK_EQ(q.r->consumers_sleeping.load(), 1u);
  const uint64_t before = Wakes();
  for (uint32_t i = 0; i < 500; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 1u);
  dog.Disarm();
  Drop(q);
}

// A producer killed between its claim (word moved off the armed value) and its FUTEX_WAKE: the
// sleeper is still in the kernel on the old value. The claim left kSeqWakeOwed, so the next put
// wakes it (without the mark that put would see an unarmed word and skip: a hang).
void OwedWakeIsPaidByTheNextPut() {
  Ring q = MakeRing("owed", 1 << 16);
  Watchdog dog("OwedWakeIsPaidByTheNextPut", 60);
  std::atomic<long> tid{0};
  std::thread consumer([&] {
    tid.store(Tid());
    CHECK_EQ(WaitData(q.r, -1), Status::kOk);
  });
  Until([&] { return tid.load() != 0 && InFutexWait(getpid(), tid.load(), &q.r->data_seq); });
  // The dead producer's claim, without its wake.
  uint32_t w = q.r->data_seq.load();
  CHECK((w & kSeqArmed) != 0);
  CHECK(q.r->data_seq.compare_exchange_strong(w, ClaimedValue(w)));
  CHECK(InFutexWait(getpid(), tid.load(), &q.r->data_seq));  // nobody woke it
  PutOne(q);
  consumer.join();
  CHECK_EQ(q.r->data_seq.load() & (kSeqArmed | kSeqWakeOwed), 0u);
  dog.Disarm();
  Drop(q);
}

// A rogue thread rewrites the futex word as fast as it can while a producer puts: every put
// returns (the claim loop is bounded), each makes at most one wake.
void RogueWordChurnNeverStallsPuts() {
  Ring q = MakeRing("rogue", 1 << 16);
  Watchdog dog("RogueWordChurnNeverStallsPuts", 120);
  std::atomic<bool> stop{false};
  std::thread rogue([&] {
    std::mt19937 rng(7);
    while (!stop.load(std::memory_order_relaxed)) q.r->data_seq.store(rng() | kSeqArmed);
  });
  constexpr uint32_t kPuts = 20000;
  const uint64_t before = Wakes();
  for (uint32_t i = 0; i < kPuts; ++i) {
    PutOne(q, i);
    if (i % 512 == 511) TakeAll(q, q.me);
  }
  stop.store(true);
  rogue.join();
  CHECK(Wakes() - before <= kPuts);
  TakeAll(q, q.me);
  dog.Disarm();
  Drop(q);
}

// A direct watch (the JS context's io_uring, futex-ring.h) on the armed word: N puts, one wake,
// and the ring's completion arrives.
void IoUringWatchOneWake() {
  std::unique_ptr<FutexRing> ring = FutexRing::Open();
  if (ring == nullptr) {
    std::fprintf(stderr, "  (io_uring futex waits unavailable here: skipped)\n");
    return;
  }
  Ring q = MakeRing("uring", 1 << 16);
  uint32_t seq = 0;
  CHECK(PrepareDataWatch(q.r, &seq));
  CHECK(ring->Wait(&q.r->data_seq, seq, 42));
  pollfd p{ring->fd(), POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 0), 0);  // asleep
  const uint64_t before = Wakes();
  for (uint32_t i = 0; i < 1000; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 1u);
  CHECK_EQ(poll(&p, 1, 60000), 1);
  int seen = 0;
  ring->Drain([&](uint64_t tag, int32_t res) {
    CHECK_EQ(tag, 42u);
    CHECK(res == 0 || res == -EAGAIN);
    ++seen;
  });
  CHECK_EQ(seen, 1);
  q.r->consumers_sleeping.fetch_sub(1);  // the watch ended (CompleteDirect's decrement)
  Drop(q);
}

// A watch on the parker thread (futex_waitv): N puts, one wake, one completion; the parker
// drops the sleeper count.
std::atomic<int> g_parker_completions{0};
void CountCompletion(void*, uint64_t, Status st) {
  CHECK_EQ(st, Status::kOk);
  g_parker_completions.fetch_add(1);
}

void ParkerWatchOneWake() {
  Ring q = MakeRing("parker", 1 << 16);
  Watchdog dog("ParkerWatchOneWake", 60);
  uint32_t seq = 0;
  CHECK(PrepareDataWatch(q.r, &seq));
  int target = 0;
  const uint64_t id = Parker::Instance().ParkWatch(
      q.region, &q.r->data_seq, seq, &q.r->consumers_sleeping, CountCompletion, &target);
  const uint64_t before = Wakes();
  for (uint32_t i = 0; i < 1000; ++i) PutOne(q, i);
  CHECK_EQ(Wakes() - before, 1u);
  Until([] { return g_parker_completions.load() == 1; });
  CHECK_EQ(q.r->consumers_sleeping.load(), 0u);
  Parker::Instance().Forget(id);
  dog.Disarm();
  Drop(q);
}

// Lost-wake-up stress. Producers put rounds of records into a small ring (so they also sleep
// for space) and wait, without a deadline, for one ack per record on their own ack ring;
// consumers take records one at a time and ack them. Phase "strict": every wait has no
// deadline, so a single lost wake-up on any word (data or space, request or ack ring) hangs the
// run and the watchdog fails it. Phase "mixed": consumers also time out, withdraw parked watches
// and re-arm at random (leftover armed words, owed wakes, stale waiters); the run must still
// deliver every record exactly once and end.
void LostWakeupStress(bool mixed, uint32_t rounds) {
  constexpr uint32_t kProducers = 2, kConsumers = 3, kMaxPerRound = 24;
  Ring req = MakeRing(mixed ? "stress-req-m" : "stress-req", 1024);
  std::vector<Ring> acks;
  for (uint32_t p = 0; p < kProducers; ++p) {
    acks.push_back(MakeRing(
        (std::string(mixed ? "stress-ack-m" : "stress-ack") + std::to_string(p)).c_str(), 1024));
  }
  Watchdog dog(mixed ? "LostWakeupStress(mixed)" : "LostWakeupStress(strict)", 240);
  std::atomic<uint64_t> acked{0};
  const uint64_t wakes_before = Wakes();
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      OwnerId me = 0;
      CHECK(req.table->Claim(&me).ok());
      std::mt19937 rng(100 + c);
      std::vector<uint8_t> out(4096);
      for (;;) {
        uint32_t count = 0;
        uint64_t bytes = 0;
        CHECK_EQ(GetRecords(req.r, req.table.get(), me, out.data(), out.size(), 1, &count, &bytes),
                 Status::kOk);
        if (count == 1) {
          uint32_t type, producer, n;
          std::memcpy(&type, out.data() + 4, 4);
          std::memcpy(&producer, out.data() + 8, 4);
          std::memcpy(&n, out.data() + 12, 4);
          if (type == 2) break;  // stop
          CHECK(producer < kProducers);
          PutAll(acks[producer], me, Record(1, producer, n), 1);
          acked.fetch_add(1);
          continue;
        }
        const uint32_t mode = mixed ? rng() % 4 : 0;
        if (mode == 0) {
          CHECK_EQ(WaitData(req.r, -1), Status::kOk);
        } else if (mode == 1) {
          const Status st = WaitData(req.r, MonotonicNanos() + (rng() % 200) * 1000);
          CHECK(st == Status::kOk || st == Status::kTimeout);
        } else {
          // A parked watch: prepared, maybe waited on briefly, then ended or withdrawn.
          uint32_t seq = 0;
          if (PrepareDataWatch(req.r, &seq)) {
            if (mode == 2) FutexWait(&req.r->data_seq, seq, (rng() % 200) * 1000);
            req.r->consumers_sleeping.fetch_sub(1);
          }
        }
      }
      req.table->Release(me);
    });
  }
  for (uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      OwnerId me = 0;
      CHECK(req.table->Claim(&me).ok());
      std::mt19937 rng(p);
      std::vector<uint8_t> out(4096);
      for (uint32_t round = 0; round < rounds; ++round) {
        const uint32_t n = 1 + rng() % kMaxPerRound;
        std::vector<uint8_t> buf;
        for (uint32_t i = 0; i < n; ++i) {
          const std::vector<uint8_t> rec = Record(1, p, round * kMaxPerRound + i, 40);
          buf.insert(buf.end(), rec.begin(), rec.end());
        }
        PutAll(req, me, buf, n);  // ~18 records fit: larger rounds wait for space
        for (uint32_t got = 0; got < n;) {
          uint32_t count = 0;
          uint64_t bytes = 0;
          CHECK_EQ(GetRecords(acks[p].r, acks[p].table.get(), me, out.data(), out.size(), 64,
                              &count, &bytes),
                   Status::kOk);
          got += count;
          if (count == 0) CHECK_EQ(WaitData(acks[p].r, -1), Status::kOk);
        }
      }
      req.table->Release(me);
    });
  }
  for (uint32_t p = 0; p < kProducers; ++p) threads[kConsumers + p].join();
  std::vector<uint8_t> stops;
  for (uint32_t c = 0; c < kConsumers; ++c) {
    const std::vector<uint8_t> rec = Record(2, 0, 0);
    stops.insert(stops.end(), rec.begin(), rec.end());
  }
  PutAll(req, req.me, stops, kConsumers);
  for (uint32_t c = 0; c < kConsumers; ++c) threads[c].join();
  CHECK_EQ(req.r->count_in.load(), req.r->count_out.load());
  CHECK_EQ(acked.load(), req.r->count_in.load() - kConsumers);
  std::fprintf(stderr, "  %llu records acked, %llu ring wakes\n",
               static_cast<unsigned long long>(acked.load()),
               static_cast<unsigned long long>(Wakes() - wakes_before));
  dog.Disarm();
  for (Ring& a : acks) Drop(a);
  Drop(req);
}

void LostWakeupStressStrict() { LostWakeupStress(false, 4000); }
void LostWakeupStressMixed() { LostWakeupStress(true, 4000); }

}  // namespace

int main() {
  const std::string table = "ctest-owners-wake-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", table.c_str(), 1);
  RUN(PendingWatchCostsOneWake);
  RUN(SleepingThreadsOneWake);
  RUN(SpaceSideOneWake);
  RUN(LeftoversCostAtMostOneWake);
  RUN(KilledSleeperCostsOneWake);  // forks: before any test starts the parker thread
  RUN(OwedWakeIsPaidByTheNextPut);
  RUN(RogueWordChurnNeverStallsPuts);
  RUN(IoUringWatchOneWake);
  RUN(ParkerWatchOneWake);
  RUN(LostWakeupStressStrict);
  RUN(LostWakeupStressMixed);
  ShmRegion::Unlink("shmsync-" + table);
  return 0;
}
