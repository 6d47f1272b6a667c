// Parker implementation. Add/Cancel/Forget/CompleteDirect run on JS threads; Run on the parker
// thread. mu_ guards requests_, completed_ and targets_; callbacks run with mu_ held (they only
// enqueue); ParkerTarget hooks run without it, on the target's own thread.
#include "parker.h"

#include <utility>

#include "robust-lock.h"

namespace shmsync {

namespace {
// Requests beyond what one futex_waitv call can hold are polled at this period instead.
constexpr int64_t kOverflowPollNanos = 1 * kNanosPerMilli;
}  // namespace

Parker& Parker::Instance() {
  // Leaked on purpose: the thread may still run during static destruction at exit.
  static Parker* instance = new Parker();
  return *instance;
}

void Parker::EnsureThread() {
  if (started_) return;
  started_ = true;
  std::thread([this] { Run(); }).detach();
}

void Parker::Wake() {
  // release: pairs with the acquire load in Run before it rebuilds its wait list.
  control_.fetch_add(1, std::memory_order_release);
  FutexWake(&control_, 1);
}

ParkerTarget* Parker::HooksOf(void* target) const {
  auto it = targets_.find(target);
  return it == targets_.end() ? nullptr : it->second;
}

uint64_t Parker::Add(Request r) {
  uint64_t id;
  ParkerTarget* hooks = nullptr;
  std::atomic<uint32_t>* word = r.word;
  const uint32_t expected = r.expected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    r.id = id;
    r.since_ns = MonotonicNanos();
    r.handoff = false;
    r.defer = DeferTracker{};
    r.deferred_to = 0;
    if (!r.is_lock) hooks = HooksOf(r.target);
    r.direct = hooks != nullptr;
    if (!r.direct) EnsureThread();
    if (r.is_lock) r.state->waiters.fetch_add(1, std::memory_order_relaxed);
    requests_.push_back(std::move(r));
  }
  // A direct watch is the target's own: only its thread completes or cancels it, and that is
  // this thread, so arming it after publishing the request races with nothing.
  if (hooks != nullptr && hooks->ArmWatch(id, word, expected)) return id;
  if (hooks != nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    EnsureThread();
    for (Request& q : requests_) {
      if (q.id == id) q.direct = false;  // could not arm: the parker thread waits for it
    }
  }
  Wake();
  return id;
}

void Parker::Attach(void* target, ParkerTarget* hooks) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_[target] = hooks;
}

void Parker::Detach(void* target) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_.erase(target);
}

bool Parker::CompleteDirect(uint64_t id, Status* status) {
  ParkerTarget* hooks = nullptr;
  std::atomic<uint32_t>* word = nullptr;
  uint32_t expected = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t i = 0;
    while (i < requests_.size() && requests_[i].id != id) ++i;
    if (i == requests_.size() || !requests_[i].direct) return false;  // withdrawn (or moved)
    Request& r = requests_[i];
    if (r.word->load(std::memory_order_acquire) == r.expected) {
      hooks = HooksOf(r.target);  // spurious: sleep again
      word = r.word;
      expected = r.expected;
      if (hooks == nullptr) r.direct = false;
    } else {
      if (r.sleepers != nullptr) r.sleepers->fetch_sub(1, std::memory_order_seq_cst);
      requests_[i] = std::move(requests_.back());
      requests_.pop_back();
      *status = Status::kOk;
      return true;
    }
  }
  if (hooks != nullptr && hooks->ArmWatch(id, word, expected)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  EnsureThread();
  for (Request& q : requests_) {
    if (q.id == id) q.direct = false;
  }
  control_.fetch_add(1, std::memory_order_release);
  FutexWake(&control_, 1);
  return false;
}

uint64_t Parker::ParkLock(std::shared_ptr<void> keepalive, MutexState* s, OwnerTable* table,
                          OwnerId me, Callback cb, void* target) {
  return Add(Request{0,
                     true,
                     std::move(keepalive),
                     s,
                     table,
                     me,
                     nullptr,
                     0,
                     nullptr,
                     cb,
                     target,
                     0,
                     false,
                     false,
                     {},
                     0});
}

uint64_t Parker::ParkWatch(std::shared_ptr<void> keepalive, std::atomic<uint32_t>* word,
                           uint32_t expected, std::atomic<uint32_t>* sleepers, Callback cb,
                           void* target) {
  return Add(Request{0,
                     false,
                     std::move(keepalive),
                     nullptr,
                     nullptr,
                     0,
                     word,
                     expected,
                     sleepers,
                     cb,
                     target,
                     0,
                     false,
                     false,
                     {},
                     0});
}

bool Parker::Poll(Request& r, int64_t now, Status* status) {
  if (!r.is_lock) {
    if (r.word->load(std::memory_order_acquire) == r.expected) return false;
    *status = Status::kOk;
    return true;
  }
  MutexState* s = r.state;
  // Handed off to this context by an Unlock (only possible while we are registered).
  if ((s->word.load(std::memory_order_acquire) & kLockOwnerMask) == r.me) {
    *status = AcceptHandoff(s, r.table, r.me);
    return true;
  }
  Status st = TryLock(s, r.table, r.me, &r.deferred_to);
  if (st == Status::kWouldBlock && r.deferred_to != 0 &&
      ExpireStaleHandoff(s, &r.defer, r.deferred_to, now)) {
    st = TryLock(s, r.table, r.me, &r.deferred_to);  // a stale registration was voided
  }
  if (r.deferred_to == 0) r.defer.to = 0;
  if (st == Status::kWouldBlock || st == Status::kBusy) {
    // Our registration may have been expired as stale by another waiter: claim again.
    if (r.handoff && (s->handoff_to.load(std::memory_order_relaxed) & kLockOwnerMask) != r.me)
      r.handoff = false;
    if (!r.handoff && now - r.since_ns >= kStarvationNanos) r.handoff = ClaimHandoff(s, r.me);
    return false;
  }
  *status = st;
  return true;
}

void Parker::Run() {
  std::vector<FutexWaitv> waitv;
  waitv.reserve(kMaxWaitv);
  for (;;) {
    // acquire: everything Add/Cancel did before bumping control_ is visible below.
    const uint32_t control = control_.load(std::memory_order_acquire);
    int64_t deadline;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const int64_t now = MonotonicNanos();
      waitv.clear();
      waitv.push_back({});
      SetWaitv(&waitv[0], &control_, control);
      bool overflow = false;
      for (size_t i = 0; i < requests_.size() && !paused_;) {
        Request& r = requests_[i];
        if (r.direct) {  // the target's own ring waits for it
          ++i;
          continue;
        }
        Status st;
        if (Poll(r, now, &st)) {
          if (r.is_lock) {
            r.state->waiters.fetch_sub(1, std::memory_order_relaxed);
            if (st == Status::kOk || st == Status::kOwnerDead) KeepWaitersBit(r.state);
          } else if (r.sleepers != nullptr) {
            r.sleepers->fetch_sub(1, std::memory_order_seq_cst);
          }
          completed_.emplace(
              r.id, Completed{st, r.is_lock, r.keepalive, r.state, r.table, r.me, r.target});
          r.cb(r.target, r.id, st);
          requests_[i] = std::move(requests_.back());
          requests_.pop_back();
          continue;
        }
        FutexWaitv w[2];
        int n = 0;
        if (r.is_lock && r.deferred_to != 0) {
          overflow = true;  // word reserved for a context that may never take it: poll, never spin
        } else if (r.is_lock) {
          n = PrepareWait(r.state, r.table, r.me, w);
          if (n == 0) {
            overflow = true;  // state moved under us: poll again soon
          }
        } else {
          SetWaitv(&w[0], r.word, r.expected);
          n = 1;
        }
        if (n > 0 && static_cast<int>(waitv.size()) + n <= kMaxWaitv) {
          for (int k = 0; k < n; ++k) waitv.push_back(w[k]);
        } else if (n > 0) {
          overflow = true;
        }
        ++i;
      }
      deadline = now + (overflow ? kOverflowPollNanos : kLivenessSliceNanos);
    }
    FutexWaitvUntil(waitv.data(), static_cast<int>(waitv.size()), deadline);
  }
}

int32_t Parker::Cancel(uint64_t request_id, const WaitInterrupt* intr) {
  ParkerTarget* hooks = nullptr;
  bool direct = false;
  int32_t result = kCancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t i = 0;
    while (i < requests_.size() && requests_[i].id != request_id) ++i;
    if (i == requests_.size()) {
      auto it = completed_.find(request_id);
      if (it == completed_.end()) return kCancelled;  // unknown id: nothing to undo
      const int32_t status = static_cast<int32_t>(it->second.status);
      completed_.erase(it);
      return status;  // its completion is queued: the target counts it when it drains it
    }
    hooks = HooksOf(requests_[i].target);
    direct = requests_[i].direct;
    result = Withdraw(i, intr);
  }
  // Outside mu_: the target may make a syscall (withdraw its ring's wait).
  if (hooks != nullptr) hooks->Withdrawn(request_id, direct);
  return result;
}

int32_t Parker::Withdraw(size_t i, const WaitInterrupt* intr) {
  Request& r = requests_[i];
  int32_t result = kCancelled;
  if (r.is_lock) {
    bool granted = false;
    if (r.handoff) WithdrawHandoff(r.state, r.me, &granted);
    r.state->waiters.fetch_sub(1, std::memory_order_relaxed);
    if (granted) {
      KeepWaitersBit(r.state);
      result = static_cast<int32_t>(AcceptHandoff(r.state, r.table, r.me, intr));
    }
  } else if (r.sleepers != nullptr) {
    r.sleepers->fetch_sub(1, std::memory_order_seq_cst);
  }
  requests_[i] = std::move(requests_.back());
  requests_.pop_back();
  return result;
}

void Parker::Forget(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  completed_.erase(request_id);
}

void Parker::CancelAll(void* target, const WaitInterrupt* intr) {
  std::vector<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Request& r : requests_) {
      if (r.target == target) ids.push_back(r.id);
    }
    for (const auto& entry : completed_) {
      if (entry.second.target == target) ids.push_back(entry.first);
    }
  }
  for (uint64_t id : ids) {
    std::shared_ptr<void> keepalive;
    MutexState* state = nullptr;
    OwnerTable* table = nullptr;
    OwnerId me = 0;
    {
      // A completed lock request holds the lock; so does a pending one whose withdrawal finds
      // the lock already committed to it (Cancel then returns the acquisition status): both
      // must be released here, or the next holder would see this context's death.
      std::lock_guard<std::mutex> lock(mu_);
      auto it = completed_.find(id);
      if (it != completed_.end() && it->second.is_lock) {
        keepalive = it->second.keepalive;
        state = it->second.state;
        table = it->second.table;
        me = it->second.me;
      }
      for (const Request& r : requests_) {
        if (r.id == id && r.is_lock) {
          keepalive = r.keepalive;
          state = r.state;
          table = r.table;
          me = r.me;
        }
      }
    }
    const int32_t result = Cancel(id, intr);
    const bool holds = result == static_cast<int32_t>(Status::kOk) ||
                       result == static_cast<int32_t>(Status::kOwnerDead);
    if (holds && state != nullptr) Unlock(state, table, me);
  }
}

#ifdef SHMSYNC_TEST_HOOKS
void Parker::TestPause(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    EnsureThread();
    paused_ = paused;
  }
  // Any poll round in progress held mu_ and finished before we set the flag; later rounds
  // see it. Wake so an unpause takes effect at once.
  Wake();
}
#endif

size_t Parker::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

}  // namespace shmsync
