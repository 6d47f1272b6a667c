// The wake path without Node (docs/concepts/wake-path.md): FutexRing (io_uring futex waits),
// direct watches through Parker + ParkerTarget, the parker-thread fallback through a
// CompletionInbox, and exactly-once / withdrawal accounting under concurrent publishers.
// Run under TSan by scripts/test-native.js (variant "thread").
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "check.h"
#include "completion-inbox.h"
#include "futex-ring.h"
#include "futex.h"
#include "parker.h"

using namespace shmsync;

namespace {

void FutexRingBasics(FutexRing& ring) {
  std::atomic<uint32_t> word{7};
  std::vector<std::pair<uint64_t, int32_t>> seen;
  auto drain = [&] { ring.Drain([&](uint64_t tag, int32_t res) { seen.push_back({tag, res}); }); };
  auto wait_readable = [&](int ms) {
    pollfd p{ring.fd(), POLLIN, 0};
    return poll(&p, 1, ms) == 1;
  };
  // A stale expected value completes at once with EAGAIN (no lost wake-up).
  CHECK(ring.Wait(&word, 6, 11));
  CHECK(wait_readable(5000));
  drain();
  CHECK_EQ(seen.size(), 1u);
  CHECK_EQ(seen[0].first, 11u);
  CHECK_EQ(seen[0].second, -EAGAIN);
  seen.clear();
  // A matching value sleeps until another thread changes the word and wakes it.
  CHECK(ring.Wait(&word, 7, 12));
  CHECK(!wait_readable(20));
  std::thread waker([&] {
    word.store(8, std::memory_order_release);
    FutexWake(&word, 1);
  });
  waker.join();
  CHECK(wait_readable(5000));
  drain();
  CHECK_EQ(seen.size(), 1u);
  CHECK_EQ(seen[0].first, 12u);
  CHECK_EQ(seen[0].second, 0);
  seen.clear();
  // Cancel ends a sleeping wait with ECANCELED (the cancel op's own completion is skipped).
  CHECK(ring.Wait(&word, 8, 13));
  CHECK(ring.Cancel(13));
  CHECK(wait_readable(5000));
  drain();
  CHECK_EQ(seen.size(), 1u);
  CHECK_EQ(seen[0].first, 13u);
  CHECK_EQ(seen[0].second, -ECANCELED);
}

// A JS context stand-in: one thread owns the ring, arms direct watches, drains completions from
// the ring (direct) and from its inbox (parker-thread fallback), and cancels some requests.
struct FakeContext : ParkerTarget {
  std::unique_ptr<FutexRing> ring;
  CompletionInbox inbox;
  std::atomic<uint32_t> doorbell{0};  // uv_async stand-in: bumped when Push saw an empty inbox
  int refuse_every = 0;               // ArmWatch refuses every n-th call (fallback path)
  int arms = 0;
  std::set<uint64_t> withdrawn;
  std::map<uint64_t, int> delivered;

  bool ArmWatch(uint64_t id, std::atomic<uint32_t>* word, uint32_t expected) override {
    ++arms;
    if (ring == nullptr || (refuse_every > 0 && arms % refuse_every == 0)) return false;
    return ring->Wait(word, expected, id);
  }
  void Withdrawn(uint64_t id, bool direct) override {
    CHECK(withdrawn.insert(id).second);  // at most once
    if (direct && ring != nullptr) ring->Cancel(id);
  }
  static void Deliver(void* target, uint64_t id, Status st) {
    auto* self = static_cast<FakeContext*>(target);
    if (self->inbox.Push(id, st)) {
      self->doorbell.fetch_add(1, std::memory_order_release);
      FutexWake(&self->doorbell, 1);
    }
  }
  // Owner thread: everything that arrived, through either path. Returns how many completed.
  int Pump(int timeout_ms) {
    const uint32_t bell = doorbell.load(std::memory_order_acquire);
    int n = 0;
    std::vector<Completion> items;
    inbox.TakeAll(&items);
    for (const Completion& c : items) {
      ++delivered[c.id];
      Parker::Instance().Forget(c.id);
      ++n;
    }
    if (ring != nullptr) {
      ring->Drain([&](uint64_t id, int32_t) {
        Status st;
        if (Parker::Instance().CompleteDirect(id, &st)) {
          CHECK_EQ(static_cast<int>(st), 0);
          ++delivered[id];
          ++n;
        }
      });
    }
    if (n > 0) return n;
    // Sleep until either the ring or the doorbell moves (bounded: the test has a deadline).
    if (ring != nullptr) {
      pollfd p{ring->fd(), POLLIN, 0};
      if (doorbell.load(std::memory_order_acquire) == bell) poll(&p, 1, 1);
    } else {
      FutexWait(&doorbell, bell, static_cast<int64_t>(timeout_ms) * kNanosPerMilli);
    }
    return 0;
  }
};

// Publishers bump words and wake them; the context keeps kSlots watches armed, re-arming each
// when it completes, and cancels some at random. Each request must end exactly once: delivered
// once, or withdrawn once (Cancel → kCancelled and Withdrawn), never both; the sleeper counters
// and the parker's request list end empty.
void Storm(bool with_ring, int refuse_every) {
  constexpr int kSlots = 8;
  constexpr int kRounds = 3000;
  FakeContext ctx;
  if (with_ring) {
    ctx.ring = FutexRing::Open();
    CHECK(ctx.ring != nullptr);
  }
  ctx.refuse_every = refuse_every;
  Parker& parker = Parker::Instance();
  parker.Attach(&ctx, &ctx);
  std::atomic<uint32_t> words[kSlots];
  std::atomic<uint32_t> sleepers[kSlots];
  for (int i = 0; i < kSlots; ++i) {
    words[i].store(0);
    sleepers[i].store(0);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> publishers;
  for (int p = 0; p < 2; ++p) {
    publishers.emplace_back([&, p] {
      std::mt19937 rng(p + 1);
      while (!stop.load(std::memory_order_acquire)) {
        const int i = static_cast<int>(rng() % kSlots);
        words[i].fetch_add(1, std::memory_order_seq_cst);
        if (sleepers[i].load(std::memory_order_seq_cst) != 0) FutexWake(&words[i], 1);
        for (int k = 0; k < 50; ++k) CpuRelax();
      }
    });
  }
  std::mt19937 rng(42);
  uint64_t slot_id[kSlots] = {};
  std::set<uint64_t> all;
  std::set<uint64_t> cancelled_pending;
  std::set<uint64_t> cancelled_late;  // Cancel found it completed: its completion still comes
  auto arm = [&](int i) {
    sleepers[i].fetch_add(1, std::memory_order_seq_cst);
    const uint32_t seen = words[i].load(std::memory_order_seq_cst);
    slot_id[i] =
        parker.ParkWatch(nullptr, &words[i], seen, &sleepers[i], FakeContext::Deliver, &ctx);
    all.insert(slot_id[i]);
  };
  for (int i = 0; i < kSlots; ++i) arm(i);
  int completed = 0;
  const int64_t deadline = MonotonicNanos() + 120 * kNanosPerSecond;
  while (completed < kRounds) {
    CHECK(MonotonicNanos() < deadline);
    ctx.Pump(5);
    // Re-arm every slot whose request ended; cancel one now and then.
    completed = 0;
    for (const auto& d : ctx.delivered) completed += d.second;
    for (int i = 0; i < kSlots; ++i) {
      const uint64_t id = slot_id[i];
      if (ctx.delivered.count(id) != 0 || ctx.withdrawn.count(id) != 0) {
        arm(i);
      } else if (cancelled_late.count(id) == 0 && rng() % 64 == 0) {
        const int32_t r = parker.Cancel(id);
        if (r == Parker::kCancelled) {
          // Withdrawn while pending (the hook ran), or completed directly before (delivered).
          CHECK(ctx.withdrawn.count(id) == 1 || ctx.delivered.count(id) == 1);
          if (ctx.withdrawn.count(id) == 1) cancelled_pending.insert(id);
        } else {
          CHECK_EQ(r, 0);  // completed on the parker thread, its completion queued: still comes
          cancelled_late.insert(id);
        }
      }
    }
  }
  stop.store(true, std::memory_order_release);
  for (std::thread& t : publishers) t.join();
  // Wind down: cancel what is still armed, then collect every queued completion.
  for (int i = 0; i < kSlots; ++i) {
    const uint64_t id = slot_id[i];
    if (ctx.delivered.count(id) == 0 && ctx.withdrawn.count(id) == 0 &&
        cancelled_late.count(id) == 0)
      parker.Cancel(id);
  }
  for (int k = 0; k < 50; ++k) ctx.Pump(1);
  for (const auto& d : ctx.delivered) CHECK_EQ(d.second, 1);              // at most once
  for (uint64_t id : ctx.withdrawn) CHECK(ctx.delivered.count(id) == 0);  // never both
  // Every request ended: delivered, or withdrawn while pending, or cancelled after it
  // completed on the parker thread (its completion was still delivered above).
  for (uint64_t id : all) CHECK(ctx.delivered.count(id) == 1 || ctx.withdrawn.count(id) == 1);
  for (int i = 0; i < kSlots; ++i) CHECK_EQ(sleepers[i].load(), 0u);
  CHECK_EQ(parker.pending(), 0u);
  parker.Detach(&ctx);
  std::fprintf(stderr, "  ring=%d refuse_every=%d: %zu requests, %zu delivered, %zu withdrawn\n",
               with_ring ? 1 : 0, refuse_every, all.size(), ctx.delivered.size(),
               ctx.withdrawn.size());
}

// Many producers push while the owner takes; each item arrives once and the doorbell protocol
// (ring only on empty → non-empty) never strands an item.
void InboxStorm() {
  CompletionInbox inbox;
  std::atomic<uint32_t> doorbell{0};
  constexpr int kProducers = 3;
  constexpr int kPer = 20000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPer; ++i) {
        if (inbox.Push(static_cast<uint64_t>(p) * kPer + i, Status::kOk)) {
          doorbell.fetch_add(1, std::memory_order_release);
          FutexWake(&doorbell, 1);
        }
      }
    });
  }
  std::vector<uint8_t> seen(kProducers * kPer, 0);
  std::vector<uint64_t> last(kProducers, 0);
  int got = 0;
  std::vector<Completion> items;
  const int64_t deadline = MonotonicNanos() + 60 * kNanosPerSecond;
  while (got < kProducers * kPer) {
    CHECK(MonotonicNanos() < deadline);
    const uint32_t bell = doorbell.load(std::memory_order_acquire);
    inbox.TakeAll(&items);
    for (const Completion& c : items) {
      CHECK(c.id < seen.size());
      CHECK_EQ(seen[c.id], 0);
      seen[c.id] = 1;
      const int p = static_cast<int>(c.id / kPer);
      CHECK(c.id + 1 > last[p]);  // each producer's items in order
      last[p] = c.id + 1;
      ++got;
    }
    // Sleep only on a doorbell value read before TakeAll: a push after it rings anew. No
    // timeout: a lost doorbell hangs here and the ctest timeout fails the test.
    if (items.empty()) FutexWait(&doorbell, bell, -1);
  }
  for (std::thread& t : producers) t.join();
}

}  // namespace

int main() {
  RUN(InboxStorm);
  Storm(false, 0);  // no ring: every watch through the parker thread and the inbox
  std::unique_ptr<FutexRing> ring = FutexRing::Open();
  if (ring == nullptr) {
    std::fprintf(stderr, "io_uring futex waits unavailable here: direct-watch tests skipped\n");
    return 0;
  }
  FutexRingBasics(*ring);
  Storm(true, 0);  // all direct
  Storm(true, 3);  // mixed: every third arm falls back to the parker thread
  return 0;
}
