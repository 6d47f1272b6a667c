// Tests of the ShmQueue ring: framing and wrap-around with every size from 0 to max_message,
// many producers x many consumers across threads and forked processes with a per-producer
// order + checksum oracle, a producer and a consumer SIGKILLed inside their critical sections,
// close semantics, and corrupted shared memory (kCorrupt, never a bad access).
// Run by ctest plain, under ASan/UBSan and under TSan.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "owner-table.h"
#include "ring.h"
#include "robust-lock.h"
#include "shm-region.h"
#include "test-ring.h"

using namespace shmsync;

namespace {

using Ring = shmsync_test::TestRing;

Ring MakeRing(const char* tag, uint64_t capacity, uint32_t max_message) {
  Ring q;
  shmsync_test::CreateTestRing(&q, "ring", tag, capacity, max_message);
  return q;
}

void Drop(Ring& q) { shmsync_test::UnlinkTestRing(&q); }

// Frames one message (producer id, sequence, filler) into `buf`.
void Frame(std::vector<uint8_t>* buf, uint32_t len, uint32_t type, uint32_t producer,
           uint32_t seq) {
  const size_t at = buf->size();
  buf->resize(at + RecordBytes(len), 0);
  uint8_t* p = buf->data() + at;
  std::memcpy(p, &len, 4);
  std::memcpy(p + 4, &type, 4);
  for (uint32_t i = 0; i < len; ++i) p[8 + i] = static_cast<uint8_t>(producer * 31 + seq + i);
  if (len >= 8) {
    std::memcpy(p + 8, &producer, 4);
    std::memcpy(p + 12, &seq, 4);
  }
}

bool Put(Ring& q, OwnerId me, const std::vector<uint8_t>& buf, uint32_t count) {
  return shmsync_test::PutAllRecords(q, me, buf, count) == Status::kOk;
}

void WrapAroundEverySize() {
  Ring q = MakeRing("wrap", 4096, static_cast<uint32_t>(MaxMessageLimit(4096)));
  OwnerId me = 0;
  CHECK(q.table->Claim(&me).ok());
  std::vector<uint8_t> out(8192);
  for (uint32_t len = 0; len <= q.r->max_message; len += (len < 64 ? 1 : 37)) {
    std::vector<uint8_t> buf;
    Frame(&buf, len, 7, 1, len);
    uint32_t written = 0;
    CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 1}, &written),
             Status::kOk);
    CHECK_EQ(written, 1u);
    uint32_t count = 0;
    uint64_t bytes = 0;
    CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 16, &count, &bytes),
             Status::kOk);
    CHECK_EQ(count, 1u);
    CHECK_EQ(bytes, buf.size());
    CHECK(std::memcmp(out.data(), buf.data(), buf.size()) == 0);
  }
  // Too large for the queue: rejected before anything is written.
  std::vector<uint8_t> big;
  Frame(&big, q.r->max_message + 1, 0, 1, 0);
  uint32_t written = 0;
  const uint64_t tail = q.r->tail.load();
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {big.data(), big.size(), 1}, &written),
           Status::kTooLarge);
  CHECK_EQ(written, 0u);
  CHECK_EQ(q.r->tail.load(), tail);
  q.table->Release(me);
  Drop(q);
}

// Consumer side of the oracle: within one consumer, each producer's sequence numbers strictly
// increase (per-producer order); across consumers, per-producer counts and sums are exact
// (every message delivered exactly once).
struct Oracle {
  std::vector<std::atomic<uint64_t>>* seq_sum;
  std::vector<std::atomic<uint32_t>>* seq_count;
  std::atomic<uint64_t>* received;
};

void Consume(Ring& q, OwnerId me, Oracle o, uint64_t total) {
  std::vector<uint8_t> out(1 << 16);
  std::vector<int64_t> last(o.seq_sum->size(), -1);
  while (o.received->load() < total) {
    uint32_t count = 0;
    uint64_t bytes = 0;
    Status st = GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 64, &count, &bytes);
    CHECK(st == Status::kOk || st == Status::kClosed);
    if (count == 0) {
      if (st == Status::kClosed) return;
      Status w = WaitData(q.r, MonotonicNanos() + 20 * kNanosPerMilli);
      CHECK(w == Status::kOk || w == Status::kTimeout || w == Status::kClosed);
      continue;
    }
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t len, producer, seq;
      std::memcpy(&len, out.data() + off, 4);
      std::memcpy(&producer, out.data() + off + 8, 4);
      std::memcpy(&seq, out.data() + off + 12, 4);
      CHECK(producer < last.size());
      CHECK(static_cast<int64_t>(seq) > last[producer]);
      last[producer] = seq;
      (*o.seq_sum)[producer].fetch_add(seq);
      (*o.seq_count)[producer].fetch_add(1);
      off += RecordBytes(len);
    }
    o.received->fetch_add(count);
  }
}

void ManyProducersManyConsumersThreads() {
  Ring q = MakeRing("mpmc", 1 << 14, 512);
  constexpr uint32_t kProducers = 4, kConsumers = 4, kPerProducer = 20000;
  std::vector<std::atomic<uint64_t>> seq_sum(kProducers);
  std::vector<std::atomic<uint32_t>> seq_count(kProducers);
  for (uint32_t p = 0; p < kProducers; ++p) {
    seq_sum[p].store(0);
    seq_count[p].store(0);
  }
  std::atomic<uint64_t> received{0};
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      OwnerId me = 0;
      CHECK(q.table->Claim(&me).ok());
      Consume(q, me, {&seq_sum, &seq_count, &received}, uint64_t{kProducers} * kPerProducer);
      q.table->Release(me);
    });
  }
  for (uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      OwnerId me = 0;
      CHECK(q.table->Claim(&me).ok());
      std::mt19937 rng(p);
      for (uint32_t seq = 0; seq < kPerProducer;) {
        std::vector<uint8_t> buf;
        uint32_t n = 1 + rng() % 8;
        uint32_t k = 0;
        for (; k < n && seq + k < kPerProducer; ++k) Frame(&buf, 16 + rng() % 200, 1, p, seq + k);
        CHECK(Put(q, me, buf, k));
        seq += k;
      }
      q.table->Release(me);
    });
  }
  for (auto& t : threads) t.join();
  CHECK_EQ(received.load(), uint64_t{kProducers} * kPerProducer);
  for (uint32_t p = 0; p < kProducers; ++p) {
    CHECK_EQ(seq_count[p].load(), kPerProducer);
    CHECK_EQ(seq_sum[p].load(), uint64_t{kPerProducer} * (kPerProducer - 1) / 2);
  }
  CHECK_EQ(q.r->count_in.load(), q.r->count_out.load());
  Drop(q);
}

void ProcessesAndProducerKill() {
  Ring q = MakeRing("kill", 1 << 12, 256);
  OwnerId me = 0;
  CHECK(q.table->Claim(&me).ok());
  // A producer dies holding the producer lock mid-write: nothing it wrote is published.
  int fds[2];
  CHECK_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    OwnerId child = 0;
    if (!q.table->Claim(&child).ok()) _exit(2);
    if (Lock(&q.r->producer_lock, q.table.get(), child, -1) != Status::kOk) _exit(3);
    uint8_t* data = reinterpret_cast<uint8_t*>(q.r) + kRingDataOffset;
    std::memset(data, 0xab, 64);  // a half-written record, never published
    char c = 'x';
    if (write(fds[1], &c, 1) != 1) _exit(4);
    pause();
    _exit(0);
  }
  char c;
  CHECK_EQ(read(fds[0], &c, 1), 1);
  kill(pid, SIGKILL);
  int status = 0;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  std::vector<uint8_t> buf;
  Frame(&buf, 32, 3, 9, 1);
  uint32_t written = 0;
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 1}, &written), Status::kOk);
  CHECK_EQ(written, 1u);
  std::vector<uint8_t> out(1024);
  uint32_t count = 0;
  uint64_t bytes = 0;
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 8, &count, &bytes),
           Status::kOk);
  CHECK_EQ(count, 1u);
  CHECK(std::memcmp(out.data(), buf.data(), buf.size()) == 0);
  CHECK_EQ(q.r->producer_lock.owner_deaths.load(), 1u);
  close(fds[0]);
  close(fds[1]);

  // 2 producer processes -> 2 consumer processes, checksum through a shared counter.
  auto* shared = static_cast<std::atomic<uint64_t>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  new (&shared[0]) std::atomic<uint64_t>(0);  // messages received
  new (&shared[1]) std::atomic<uint64_t>(0);  // sum of sequence numbers received
  constexpr uint32_t kPer = 5000;
  std::vector<pid_t> pids;
  for (int role = 0; role < 4; ++role) {
    pid_t p = fork();
    if (p == 0) {
      OwnerId id = 0;
      if (!q.table->Claim(&id).ok()) _exit(2);
      if (role < 2) {
        for (uint32_t s = 0; s < kPer; ++s) {
          std::vector<uint8_t> b;
          Frame(&b, 24, 1, role, s);
          if (!Put(q, id, b, 1)) _exit(3);
        }
      } else {
        std::vector<uint8_t> o(4096);
        while (shared[0].load() < 2 * kPer) {
          uint32_t n = 0;
          uint64_t by = 0;
          if (GetRecords(q.r, q.table.get(), id, o.data(), o.size(), 32, &n, &by) != Status::kOk)
            _exit(4);
          uint64_t off = 0;
          for (uint32_t i = 0; i < n; ++i) {
            uint32_t seq;
            std::memcpy(&seq, o.data() + off + 12, 4);
            shared[1].fetch_add(seq);
            off += RecordBytes(24);
          }
          shared[0].fetch_add(n);
          if (n == 0) WaitData(q.r, MonotonicNanos() + 10 * kNanosPerMilli);
        }
      }
      _exit(0);
    }
    pids.push_back(p);
  }
  for (pid_t p : pids) {
    CHECK_EQ(waitpid(p, &status, 0), p);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK_EQ(shared[0].load(), uint64_t{2} * kPer);
  CHECK_EQ(shared[1].load(), uint64_t{2} * (uint64_t{kPer} * (kPer - 1) / 2));
  munmap(shared, 4096);
  q.table->Release(me);
  Drop(q);
}

void CloseDrainsThenEnds() {
  Ring q = MakeRing("close", 4096, 1000);
  OwnerId me = 0;
  CHECK(q.table->Claim(&me).ok());
  std::vector<uint8_t> buf;
  Frame(&buf, 10, 0, 0, 0);
  Frame(&buf, 20, 0, 0, 1);
  uint32_t written = 0;
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 2}, &written), Status::kOk);
  std::thread waiter([&] { CHECK_EQ(WaitSpace(q.r, 4096, -1), Status::kClosed); });
  CloseRing(&*q.r);
  waiter.join();
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 1}, &written),
           Status::kClosed);
  std::vector<uint8_t> out(256);
  uint32_t count = 0;
  uint64_t bytes = 0;
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 1, &count, &bytes),
           Status::kOk);
  CHECK_EQ(count, 1u);
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 5, &count, &bytes),
           Status::kOk);
  CHECK_EQ(count, 1u);
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 5, &count, &bytes),
           Status::kClosed);
  CHECK_EQ(WaitData(q.r, -1), Status::kClosed);
  q.table->Release(me);
  Drop(q);
}

void CorruptRingIsReported() {
  Ring q = MakeRing("corrupt", 4096, 1000);
  OwnerId me = 0;
  CHECK(q.table->Claim(&me).ok());
  std::vector<uint8_t> buf;
  Frame(&buf, 40, 0, 0, 0);
  uint32_t written = 0;
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 1}, &written), Status::kOk);
  uint8_t* data = reinterpret_cast<uint8_t*>(q.r) + kRingDataOffset;
  const uint32_t huge = 1u << 30;
  std::memcpy(data, &huge, 4);  // a rogue length
  std::vector<uint8_t> out(256);
  uint32_t count = 0;
  uint64_t bytes = 0;
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 5, &count, &bytes),
           Status::kCorrupt);
  q.r->tail.store(q.r->head.load() + (uint64_t{1} << 20));  // tail beyond capacity
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 5, &count, &bytes),
           Status::kCorrupt);
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 1}, &written),
           Status::kCorrupt);
  q.r->capacity.store(1000);  // not a power of two
  CHECK_EQ(ValidateRing(q.r, q.region->payload_size()), Status::kCorrupt);
  q.table->Release(me);
  Drop(q);
}

// C++ model of the JS consumer of queue.ts (#receive with ring-poll.ts), so that the JS side of
// the wait protocol runs under TSan with the real ring: take (GetRecords); when empty and hot,
// poll the positions' low halves (what Atomics.load on the Int32Array view reads) for a bounded
// number of rounds; then the parked wait: PrepareDataWatch (sleeper count + seq + re-check), a
// futex wait on data_seq (the parker thread's), and the count dropped when the watch ends.
// Exactly once and per-producer order are checked by the same oracle as the native consumers.
void ConsumeLikeJs(Ring& q, OwnerId me, Oracle o, uint64_t total, std::atomic<bool>* done) {
  std::vector<uint8_t> out(1 << 16);
  std::vector<int64_t> last(o.seq_sum->size(), -1);
  bool hot = false;
  while (!done->load(std::memory_order_acquire)) {
    uint32_t count = 0;
    uint64_t bytes = 0;
    Status st = GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 64, &count, &bytes);
    CHECK(st == Status::kOk || st == Status::kClosed);
    if (st == Status::kClosed && count == 0) return;
    if (count == 0) {
      bool seen = false;
      if (hot) {
        for (int i = 0; i < 200 && !seen; ++i) {
          const auto tail_lo = static_cast<uint32_t>(q.r->tail.load(std::memory_order_seq_cst));
          const auto head_lo = static_cast<uint32_t>(q.r->head.load(std::memory_order_seq_cst));
          seen = tail_lo != head_lo || q.r->closed.load(std::memory_order_seq_cst) != 0;
          if (!seen) std::this_thread::yield();  // the JS spin yields the event loop each round
        }
        hot = seen;
      }
      if (seen) continue;
      uint32_t seq = 0;
      if (PrepareDataWatch(q.r, &seq)) {
        // The parker's wait, bounded here so a finished run ends (a lost wake-up would show as
        // a stall to the 20 ms bound on every message: the test's time would explode, and the
        // exact counts below are what matters).
        FutexWait(&q.r->data_seq, seq, 20 * kNanosPerMilli);
        q.r->consumers_sleeping.fetch_sub(1, std::memory_order_seq_cst);
      }
      continue;
    }
    hot = true;
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t len, producer, seq;
      std::memcpy(&len, out.data() + off, 4);
      std::memcpy(&producer, out.data() + off + 8, 4);
      std::memcpy(&seq, out.data() + off + 12, 4);
      CHECK(producer < last.size());
      CHECK(static_cast<int64_t>(seq) > last[producer]);
      last[producer] = seq;
      (*o.seq_sum)[producer].fetch_add(seq);
      (*o.seq_count)[producer].fetch_add(1);
      off += RecordBytes(len);
    }
    if (o.received->fetch_add(count) + count >= total) done->store(true, std::memory_order_release);
  }
}

void JsConsumerModelExactlyOnce() {
  Ring q = MakeRing("jsmodel", 8192, 512);
  constexpr uint32_t kProducers = 3, kConsumers = 3, kPer = 20000;
  std::vector<std::atomic<uint64_t>> sums(kProducers);
  std::vector<std::atomic<uint32_t>> counts(kProducers);
  std::atomic<uint64_t> received{0};
  std::atomic<bool> done{false};
  Oracle o{&sums, &counts, &received};
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      OwnerId me = 0;
      CHECK(q.table->Claim(&me).ok());
      ConsumeLikeJs(q, me, o, uint64_t{kProducers} * kPer, &done);
      q.table->Release(me);
    });
  }
  for (uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      OwnerId me = 0;
      CHECK(q.table->Claim(&me).ok());
      SpinBudget budget;
      for (uint32_t seq = 0; seq < kPer;) {
        std::vector<uint8_t> buf;
        const uint32_t n = 1 + (seq % 7);  // batches of 1..7, like single puts and putMany
        uint32_t k = 0;
        for (; k < n && seq + k < kPer; ++k) Frame(&buf, 16 + (seq + k) % 40, 0, p, seq + k);
        uint32_t written = 0;
        Status st = PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), k}, &written);
        CHECK_EQ(st, Status::kOk);
        seq += written;
        if (written < k)
          CHECK_EQ(WaitSpace(q.r, ReadRingConfig(q.r), 64, -1, &budget), Status::kOk);
      }
      q.table->Release(me);
    });
  }
  for (auto& t : threads) t.join();
  for (uint32_t p = 0; p < kProducers; ++p) {
    CHECK_EQ(counts[p].load(), kPer);
    CHECK_EQ(sums[p].load(), uint64_t{kPer} * (kPer - 1) / 2);
  }
  CHECK_EQ(q.r->consumers_sleeping.load(), 0u);
  CHECK_EQ(q.r->count_in.load(), q.r->count_out.load());
  Drop(q);
}

// The adaptive spin of the blocking waits: a wait the spin satisfies doubles the budget (up to
// the maximum), one that has to sleep (here: times out) halves it (down to the minimum); and a
// wait never returns before its condition or deadline.
void SpinBudgetAdapts() {
  Ring q = MakeRing("budget", 4096, 256);
  OwnerId me = 0;
  CHECK(q.table->Claim(&me).ok());
  SpinBudget b;
  const int64_t initial = b.ns;
  CHECK_EQ(WaitData(q.r, MonotonicNanos() + kNanosPerMilli, &b), Status::kTimeout);
  CHECK_EQ(b.ns, initial / 2);
  for (int i = 0; i < 20; ++i) WaitData(q.r, MonotonicNanos() + 100000, &b);
  CHECK_EQ(b.ns, SpinBudget::kSpinMinNs);
  CHECK_EQ(q.r->consumers_sleeping.load(), 0u);
  std::vector<uint8_t> buf;
  Frame(&buf, 16, 0, 0, 0);
  uint32_t written = 0;
  CHECK_EQ(PutRecords(q.r, q.table.get(), me, {buf.data(), buf.size(), 1}, &written), Status::kOk);
  for (int i = 0; i < 20; ++i) CHECK_EQ(WaitData(q.r, -1, &b), Status::kOk);
  CHECK_EQ(b.ns, SpinBudget::kSpinMaxNs);
  // A producer thread publishes while the consumer waits with a budget: woken either way.
  std::vector<uint8_t> out(256);
  uint32_t count = 0;
  uint64_t bytes = 0;
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 8, &count, &bytes),
           Status::kOk);
  std::atomic<bool> go{false};
  std::thread producer([&] {
    OwnerId p = 0;
    CHECK(q.table->Claim(&p).ok());
    while (!go.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past any spin: the sleep path
    uint32_t w = 0;
    CHECK_EQ(PutRecords(q.r, q.table.get(), p, {buf.data(), buf.size(), 1}, &w), Status::kOk);
    q.table->Release(p);
  });
  go.store(true);
  CHECK_EQ(WaitData(q.r, -1, &b), Status::kOk);
  producer.join();
  CHECK_EQ(q.r->consumers_sleeping.load(), 0u);
  // PrepareDataWatch: ready -> false with the count restored; empty -> true with it raised.
  uint32_t seq = 0;
  CHECK(!PrepareDataWatch(q.r, &seq));
  CHECK_EQ(q.r->consumers_sleeping.load(), 0u);
  CHECK_EQ(GetRecords(q.r, q.table.get(), me, out.data(), out.size(), 8, &count, &bytes),
           Status::kOk);
  CHECK(PrepareDataWatch(q.r, &seq));
  CHECK_EQ(q.r->consumers_sleeping.load(), 1u);
  q.r->consumers_sleeping.fetch_sub(1);
  q.table->Release(me);
  Drop(q);
}

}  // namespace

int main() {
  const std::string table = "ctest-owners-ring-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", table.c_str(), 1);
  RUN(WrapAroundEverySize);
  RUN(ManyProducersManyConsumersThreads);
  RUN(ProcessesAndProducerKill);
  RUN(CloseDrainsThenEnds);
  RUN(CorruptRingIsReported);
  RUN(JsConsumerModelExactlyOnce);
  RUN(SpinBudgetAdapts);
  ShmRegion::Unlink("shmsync-" + table);
  return 0;
}
