// Lock algorithm (see robust-lock.h). Runs on JS threads (blocking API) and on the parker
// thread (Promise API, on behalf of a context).
#include "robust-lock.h"

#include <algorithm>
#include <ctime>

namespace shmsync {

#ifdef SHMSYNC_TEST_HOOKS
void (*g_test_between_grant_phases)(MutexState* s) = nullptr;
#endif

namespace {

constexpr int kSpinRounds = 40;  // ~1-2 µs: bounded, the only other core may be the holder

// Wall-clock seconds for held_since, from the coarse clock (a vDSO read, no syscall).
uint64_t HeldSinceSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  const uint64_t secs = static_cast<uint64_t>(ts.tv_sec);
  if (secs <= kHeldSinceEpoch) return 1;  // a clock set before 2024: still "a stamp"
  return std::min<uint64_t>(secs - kHeldSinceEpoch, kHeldSinceSecondsMask);
}

uint64_t PackHeldSince(uint32_t fence_lo, bool exact, uint64_t seconds) {
  return (uint64_t{fence_lo} << 32) | (exact ? kHeldSinceExactBit : 0) | seconds;
}

// Bookkeeping every fresh acquisition on a native path does (caller holds the lock: plain
// relaxed accesses). The JS fast path does the fence and depth itself and skips the stamp.
void OnAcquired(MutexState* s) {
  const uint32_t lo = s->fence_lo.load(std::memory_order_relaxed) + 1;
  if (lo == 0)
    s->fence_hi.store(s->fence_hi.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s->fence_lo.store(lo, std::memory_order_relaxed);
  s->depth.store(1, std::memory_order_relaxed);
  s->held_since.store(PackHeldSince(lo, true, HeldSinceSeconds()), std::memory_order_relaxed);
}

// A waiter about to sleep on a hold that has no stamp yet records "held at least since now".
// Racy by design: the CAS only replaces the stamp it read, so it never overwrites a stamp the
// next holder wrote meanwhile; a stamp tagged with a fence that has moved on is ignored.
void NoteWaitedOn(MutexState* s) {
  uint64_t seen = s->held_since.load(std::memory_order_relaxed);
  const uint32_t lo = s->fence_lo.load(std::memory_order_relaxed);
  if (static_cast<uint32_t>(seen >> 32) == lo && (seen & kHeldSinceSecondsMask) != 0) return;
  s->held_since.compare_exchange_strong(seen, PackHeldSince(lo, false, HeldSinceSeconds()),
                                        std::memory_order_relaxed);
}

// Drops a registration (plain or granted) naming `me`. Only `me` registers `me`, and only an
// Unlock acting for a waiter named `me` sets the granted bit on it, so this never drops
// another waiter's registration.
void ClearOwnRegistration(MutexState* s, OwnerId me) {
  uint32_t mine = me;
  if (s->handoff_to.compare_exchange_strong(mine, 0, std::memory_order_relaxed)) return;
  if (mine == (me | kHandoffGrantedBit)) {
    s->handoff_to.compare_exchange_strong(mine, 0, std::memory_order_relaxed);
  }
}

// Called with the lock just taken by `me`: applies the consistency rules.
Status Acquired(MutexState* s, OwnerTable* table, OwnerId me, bool from_dead) {
  // Whatever path got us the lock (a dead holder's word, a plain CAS), a hand-off registered for
  // `me` is consumed. Left in place, every other acquirer would defer to us, alive but no longer
  // waiting, until we happened to lock again. Only `me` ever writes `me` there, so this CAS
  // cannot drop another waiter's registration.
  ClearOwnRegistration(s, me);
  const auto consistency = static_cast<Consistency>(s->consistency.load(std::memory_order_relaxed));
  if (consistency == Consistency::kNotRecoverable) {
    Unlock(s, table, me);
    return Status::kNotRecoverable;
  }
  OnAcquired(s);
  if (!from_dead) return Status::kOk;
  s->owner_deaths.store(s->owner_deaths.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  if (static_cast<OwnerDeathPolicy>(s->policy.load(std::memory_order_relaxed)) ==
      OwnerDeathPolicy::kStrict) {
    s->consistency.store(static_cast<uint32_t>(Consistency::kInconsistent),
                         std::memory_order_relaxed);
  }
  return Status::kOwnerDead;
}

// Takes the word from a dead holder. `seen` is the value observed with a dead owner.
bool StealFromDead(MutexState* s, OwnerTable* table, uint32_t seen, OwnerId me) {
  const uint32_t desired = me | (seen & kLockWaitersBit);
  // acquire: the dead holder's writes happened-before its death was published by the kernel;
  // we synchronise with whoever last released the word before it.
  if (!s->word.compare_exchange_strong(seen, desired, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
    return false;
  }
  // Other waiters may sleep on the dead holder's deadman word; let them re-evaluate.
  table->WakeDeathWaiters(seen & kLockOwnerMask);
  // A hand-off registered by the dead holder's context is void.
  uint32_t h = s->handoff_to.load(std::memory_order_relaxed);
  if ((h & kLockOwnerMask) == (seen & kLockOwnerMask)) {
    s->handoff_to.compare_exchange_strong(h, 0, std::memory_order_relaxed);
  }
  return true;
}

}  // namespace

Status CheckOwnerTable(const MutexState* s, const OwnerTable* table) {
  const uint64_t recorded = s->owner_table_id.load(std::memory_order_relaxed);
  // 0 is no table's id (OwnerTable::Open refuses it): a lock recording 0 was not created by
  // this library under any table, so it is refused like any other table's lock.
  return recorded != 0 && recorded == table->id() ? Status::kOk : Status::kOwnerTableMismatch;
}

void InitMutexState(MutexState* s, OwnerDeathPolicy policy, uint64_t owner_table_id) {
  s->owner_table_id.store(owner_table_id, std::memory_order_relaxed);
  s->word.store(0, std::memory_order_relaxed);
  s->handoff_to.store(0, std::memory_order_relaxed);
  s->consistency.store(static_cast<uint32_t>(Consistency::kConsistent), std::memory_order_relaxed);
  s->policy.store(static_cast<uint32_t>(policy), std::memory_order_relaxed);
  s->waiters.store(0, std::memory_order_relaxed);
  s->held_since.store(0, std::memory_order_relaxed);
  s->fence_lo.store(0, std::memory_order_relaxed);
  s->fence_hi.store(0, std::memory_order_relaxed);
  s->owner_deaths.store(0, std::memory_order_relaxed);
  s->depth.store(0, std::memory_order_relaxed);
}

Status TryLock(MutexState* s, OwnerTable* table, OwnerId me, uint32_t* deferred_to) {
  if (deferred_to != nullptr) *deferred_to = 0;
  uint32_t v = s->word.load(std::memory_order_relaxed);
  for (;;) {
    const OwnerId owner = v & kLockOwnerMask;
    if (owner == me) return Status::kBusy;
    // Read once: a private copy, validated below, never re-read in this round.
    const uint32_t h = s->handoff_to.load(std::memory_order_relaxed);
    const OwnerId target = h & kLockOwnerMask;
    if (h != 0 && target != me) {
      // A registered hand-off target other than us gets a free word first, unless it is dead.
      // A grant committed to another waiter (phase 1 done) also reserves the word of an
      // unlocker that died before phase 2. (While that unlocker lives, phase 2 is on its way:
      // wait on the word as for any holder, below.)
      const bool reserved = owner == 0 || ((h & kHandoffGrantedBit) != 0 && owner != target &&
                                           table->Check(owner) == Liveness::kDead);
      if (reserved && table->Check(target) == Liveness::kAlive) {
        if (deferred_to != nullptr) *deferred_to = h;
        return Status::kWouldBlock;
      }
    }
    if (owner == 0) {
      // acquire: pairs with the release in Unlock; keeps any waiters bit.
      if (s->word.compare_exchange_weak(v, me | (v & kLockWaitersBit), std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
        return Acquired(s, table, me, false);
      }
      continue;
    }
    if (table->Check(owner) == Liveness::kDead) {
      if (StealFromDead(s, table, v, me)) return Acquired(s, table, me, true);
      v = s->word.load(std::memory_order_relaxed);
      continue;
    }
    return Status::kWouldBlock;
  }
}

int PrepareWait(MutexState* s, OwnerTable* table, OwnerId me, FutexWaitv* out) {
  uint32_t v = s->word.load(std::memory_order_relaxed);
  const OwnerId owner = v & kLockOwnerMask;
  if (owner == 0 || owner == me) return 0;
  if ((v & kLockWaitersBit) == 0) {
    // relaxed: the bit only tells Unlock to wake; the futex value check orders the sleep.
    if (!s->word.compare_exchange_strong(v, v | kLockWaitersBit, std::memory_order_relaxed))
      return 0;
    v |= kLockWaitersBit;
  }
  SetWaitv(&out[0], &s->word, v);
  NoteWaitedOn(s);
  uint32_t dead_expected = 0;
  std::atomic<uint32_t>* deadman = table->ArmDeathWake(owner, &dead_expected);
  if (deadman == nullptr) return 0;  // holder already dead: the caller will recover
  SetWaitv(&out[1], deadman, dead_expected);
  return 2;
}

bool ClaimHandoff(MutexState* s, OwnerId me) {
  uint32_t expected = 0;
  const uint32_t h = s->handoff_to.load(std::memory_order_relaxed);
  return (h & kLockOwnerMask) == me ||
         s->handoff_to.compare_exchange_strong(expected, me, std::memory_order_relaxed);
}

void WithdrawHandoff(MutexState* s, OwnerId me, bool* granted) {
  uint32_t expected = me;
  // relaxed suffices for the decision: this CAS and Unlock's phase-1 CAS (me -> me|granted)
  // act on the same word, so exactly one of them succeeds.
  if (s->handoff_to.compare_exchange_strong(expected, 0, std::memory_order_relaxed)) {
    *granted = false;  // withdrawn before any Unlock committed: none ever will
    return;
  }
  if (expected == (me | kHandoffGrantedBit)) {
    *granted = true;  // committed to us (phase 1); AcceptHandoff waits for phase 2 if needed
    return;
  }
  // Not registered (never were, or a waiter expired our registration as stale). The word names
  // us only if a grant completed before that: acquire pairs with the release in Unlock.
  *granted = (s->word.load(std::memory_order_acquire) & kLockOwnerMask) == me;
}

bool ExpireStaleHandoff(MutexState* s, DeferTracker* d, uint32_t deferred_to, int64_t now) {
  if (deferred_to != d->to) {
    d->to = deferred_to;
    d->since = now;
    return false;
  }
  if (now - d->since < kHandoffExpiryNanos) return false;
  // The same registration kept a free word (or a dead unlocker's word) reserved for a live
  // context that never took it: void it. The CAS only removes exactly what we observed.
  uint32_t seen = deferred_to;
  s->handoff_to.compare_exchange_strong(seen, 0, std::memory_order_relaxed);
  d->to = 0;
  return true;
}

Status Lock(MutexState* s, OwnerTable* table, OwnerId me, int64_t deadline_ns,
            const WaitInterrupt* intr) {
  Status st = TryLock(s, table, me);
  if (st != Status::kWouldBlock) return st;
  for (int i = 0; i < kSpinRounds; ++i) {
    CpuRelax();
    if ((s->word.load(std::memory_order_relaxed) & kLockOwnerMask) == 0) {
      st = TryLock(s, table, me);
      if (st != Status::kWouldBlock) return st;
    }
  }
  const int64_t start = MonotonicNanos();
  bool handoff = false;
  DeferTracker defer;
  const int64_t slice =
      intr != nullptr && intr->poll != nullptr ? kInterruptPollNanos : kLivenessSliceNanos;
  s->waiters.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    // The word may already have been handed to us.
    if ((s->word.load(std::memory_order_acquire) & kLockOwnerMask) == me) {
      st = AcceptHandoff(s, table, me, intr);
      break;
    }
    uint32_t deferred_to = 0;
    st = TryLock(s, table, me, &deferred_to);
    if (st != Status::kWouldBlock) break;
    const int64_t now = MonotonicNanos();
    const bool interrupted = Interrupted(intr);
    if (interrupted || (deadline_ns >= 0 && now >= deadline_ns)) {
      bool granted = false;
      if (handoff) WithdrawHandoff(s, me, &granted);
      st = granted       ? AcceptHandoff(s, table, me, intr)
           : interrupted ? Status::kClosed
                         : Status::kTimeout;
      break;
    }
    // Our registration may have been expired by another waiter (we were descheduled): re-claim.
    if (handoff && (s->handoff_to.load(std::memory_order_relaxed) & kLockOwnerMask) != me)
      handoff = false;
    if (!handoff && now - start >= kStarvationNanos) handoff = ClaimHandoff(s, me);
    FutexWaitv w[3];
    int n = 0;
    int64_t until = now + slice;
    if (deferred_to != 0) {
      // Reserved for another live context: sleep on the registration (never spin), and void it
      // if that context does not take the word in time (stale or forged).
      if (ExpireStaleHandoff(s, &defer, deferred_to, now)) continue;
      SetWaitv(&w[0], &s->handoff_to, deferred_to);
      n = 1;
      until = now + kDeferSliceNanos;
    } else {
      defer.to = 0;
      n = PrepareWait(s, table, me, w);
      if (n == 0) continue;
    }
    SetWaitv(&w[n++], &g_shutdown_word, 0);
    if (deadline_ns >= 0 && deadline_ns < until) until = deadline_ns;
    FutexWaitvUntil(w, n, until);
  }
  s->waiters.fetch_sub(1, std::memory_order_relaxed);
  if (st == Status::kOk || st == Status::kOwnerDead) KeepWaitersBit(s);
  return st;
}

void KeepWaitersBit(MutexState* s) {
  // The bit was cleared by the Unlock that let us in; other sleepers still need a wake.
  // relaxed: only the holder's later Unlock reads it, ordered by the lock itself.
  if (s->waiters.load(std::memory_order_relaxed) > 0) {
    s->word.fetch_or(kLockWaitersBit, std::memory_order_relaxed);
  }
}

Status Unlock(MutexState* s, OwnerTable* table, OwnerId me) {
  const uint32_t v = s->word.load(std::memory_order_relaxed);
  if ((v & kLockOwnerMask) != me) return Status::kNotOwner;
  s->depth.store(0, std::memory_order_relaxed);
  if (static_cast<Consistency>(s->consistency.load(std::memory_order_relaxed)) ==
      Consistency::kInconsistent) {
    // Strict policy: released without MarkConsistent -> unusable for everyone (POSIX).
    s->consistency.store(static_cast<uint32_t>(Consistency::kNotRecoverable),
                         std::memory_order_relaxed);
  }
  uint32_t h = s->handoff_to.load(std::memory_order_relaxed);
  if (h != 0 && (h & kHandoffGrantedBit) == 0 && h != me) {
    if (table->Check(h) == Liveness::kAlive) {
      // Phase 1: commit the grant. Fails if the waiter withdrew (CAS h -> 0) first; then it
      // provably does not get the lock and we release normally below.
      if (s->handoff_to.compare_exchange_strong(h, h | kHandoffGrantedBit,
                                                std::memory_order_relaxed)) {
#ifdef SHMSYNC_TEST_HOOKS
        if (g_test_between_grant_phases != nullptr) g_test_between_grant_phases(s);
#endif
        // Phase 2. release: the next holder sees our critical section. Wake all: futex
        // cannot target one waiter.
        s->word.store(h | kLockWaitersBit, std::memory_order_release);
        FutexWake(&s->word, INT32_MAX);
        return Status::kOk;
      }
    } else {
      // A dead context's registration is void.
      s->handoff_to.compare_exchange_strong(h, 0, std::memory_order_relaxed);
    }
  }
  // release: publishes the critical section to the next acquirer.
  const uint32_t old = s->word.exchange(0, std::memory_order_release);
  if ((old & kLockWaitersBit) != 0) FutexWake(&s->word, 1);
  return Status::kOk;
}

Status AcceptHandoff(MutexState* s, OwnerTable* table, OwnerId me, const WaitInterrupt* intr) {
  // Wait for phase 2: the unlocker stores the word right after committing, so this normally
  // finds the word ours at once. Sleeps (1 ms slices) rather than spins while the unlocker is
  // between the two stores. A grant forged in shared memory (handoff_to rewritten to me|granted
  // while a live context holds the word) makes this wait last as long as that hold: it still
  // ends when this thread's environment stops or the process exits (kClosed). A phase 2 that
  // lands after that names a context that is going away: its death is recovered as usual.
  for (;;) {
    // acquire: pairs with the release store of phase 2.
    uint32_t v = s->word.load(std::memory_order_acquire);
    const OwnerId owner = v & kLockOwnerMask;
    if (owner == me) break;
    if (owner == 0 || table->Check(owner) == Liveness::kDead) {
      // The unlocker died between the phases (its release was under way: not an owner death
      // of ours), or the word was freed: take it.
      if (s->word.compare_exchange_strong(v, me | (v & kLockWaitersBit), std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
        if (owner != 0) table->WakeDeathWaiters(owner);
        break;
      }
      continue;
    }
    if (Interrupted(intr)) {
      ClearOwnRegistration(s, me);
      return Status::kClosed;
    }
    FutexWait(&s->word, v, kNanosPerMilli);
  }
  ClearOwnRegistration(s, me);
  return Acquired(s, table, me, false);
}

Status MarkConsistent(MutexState* s, OwnerId me) {
  if ((s->word.load(std::memory_order_relaxed) & kLockOwnerMask) != me) return Status::kNotOwner;
  uint32_t expected = static_cast<uint32_t>(Consistency::kInconsistent);
  s->consistency.compare_exchange_strong(expected, static_cast<uint32_t>(Consistency::kConsistent),
                                         std::memory_order_relaxed);
  return Status::kOk;
}

uint64_t Fence(const MutexState* s) {
  return (static_cast<uint64_t>(s->fence_hi.load(std::memory_order_relaxed)) << 32) |
         s->fence_lo.load(std::memory_order_relaxed);
}

}  // namespace shmsync
