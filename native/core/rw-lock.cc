// RwLock algorithm (see rw-lock.h). Runs on JS threads (blocking and Promise APIs alike: the
// parker only watches words for this lock, it never acquires on a context's behalf).
#include "rw-lock.h"

#include <climits>
#include <cstring>

#include "robust-lock.h"

namespace shmsync {

namespace {

// Most holders' deadman words a blocked waiter sleeps on besides seq and the shutdown word.
constexpr int kMaxDeadmenWatched = 4;

// Takes the guard. The guard uses the recover policy: a process killed inside a critical
// section leaves the table half-updated, which the Sweep every operation starts with repairs.
Status GuardLock(RwLockState* s, OwnerTable* table, OwnerId me, const WaitInterrupt* intr) {
  const Status st = Lock(&s->guard, table, me, -1, intr);
  switch (st) {
    case Status::kOk:
    case Status::kOwnerDead:
    case Status::kBusy:  // the word already names us (a forged value): we do hold it
      return Status::kOk;
    case Status::kClosed:
      return Status::kClosed;
    default:
      return Status::kCorrupt;  // the guard is never strict: only a rewritten segment gets here
  }
}

// Ends a guarded operation: publishes a change on seq, frees the guard, wakes sleepers.
void Leave(RwLockState* s, OwnerTable* table, OwnerId me, bool changed) {
  // relaxed: seq is read under the guard by waiters (ordered by it); the parker's unguarded read
  // only decides when to let its context poll again under the guard.
  if (changed) s->seq.fetch_add(1, std::memory_order_relaxed);
  Unlock(&s->guard, table, me);
  // seq_cst: a sleeper counts itself (seq_cst) before the guarded poll that read seq; the guard's
  // release/acquire chain puts that increment before this load.
  if (changed && s->sleepers.load(std::memory_order_seq_cst) > 0) FutexWake(&s->seq, INT_MAX);
}

void FreeEntry(RwEntry* e) {
  e->state.store(kRwFree, std::memory_order_relaxed);
  e->owner.store(0, std::memory_order_relaxed);
}

// Guard held. Frees entries of dead owners (a dead holder's share is reclaimed and reported to
// the next grant) and entries no valid state describes. Returns whether anything changed.
bool Sweep(RwLockState* s, OwnerTable* table) {
  bool changed = false;
  for (uint32_t i = 0; i < kRwEntries; ++i) {
    RwEntry* e = &s->entries[i];
    const uint32_t st = e->state.load(std::memory_order_relaxed);  // private copies
    const OwnerId owner = e->owner.load(std::memory_order_relaxed) & kLockOwnerMask;
    const uint32_t phase = st & kRwPhaseMask;
    if (phase == kRwFree) {
      if (st != kRwFree || owner != 0) FreeEntry(e);  // tidy a rewritten free entry
      continue;
    }
    const bool bad = (st & ~kRwStateMask) != 0 || owner == 0;
    if (!bad && table->Check(owner) == Liveness::kAlive) continue;
    if (!bad && phase == kRwHeld) {
      s->owner_deaths.store(s->owner_deaths.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
      s->death_pending.store(1, std::memory_order_relaxed);
    }
    FreeEntry(e);
    changed = true;
  }
  return changed;
}

// Guard held: entry `i` becomes held in mode `exclusive`.
void GrantEntry(RwLockState* s, uint32_t i, bool exclusive) {
  const bool died = s->death_pending.exchange(0, std::memory_order_relaxed) != 0;
  const uint32_t lo = s->fence_lo.load(std::memory_order_relaxed) + 1;
  if (lo == 0)
    s->fence_hi.store(s->fence_hi.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s->fence_lo.store(lo, std::memory_order_relaxed);
  RwEntry* e = &s->entries[i];
  e->order.store(lo, std::memory_order_relaxed);
  e->state.store(kRwHeld | (exclusive ? kRwExclusiveBit : 0) | (died ? kRwDiedBit : 0),
                 std::memory_order_relaxed);
}

// Guard held, after Sweep (every non-free entry is valid). Applies the grant rule (rw-lock.h)
// to the waiting entries in ticket order. Returns how many it granted; `*mine_granted` tells
// whether `mine` (kRwEntries: none) was among them.
uint32_t Grant(RwLockState* s, uint32_t mine, bool* mine_granted) {
  struct Waiting {
    uint32_t slot;
    uint32_t age;
    bool exclusive;
  };
  Waiting w[kRwEntries];
  uint32_t n = 0;
  uint32_t held = 0;
  bool exclusive_held = false;
  const uint32_t next = s->next_ticket.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < kRwEntries; ++i) {
    const uint32_t st = s->entries[i].state.load(std::memory_order_relaxed);
    const uint32_t phase = st & kRwPhaseMask;
    if (phase == kRwHeld) {
      ++held;
      exclusive_held = exclusive_held || (st & kRwExclusiveBit) != 0;
    } else if (phase == kRwWaiting) {
      // Older requests have larger ages (tickets wrap; at most kRwEntries are ever in use).
      const uint32_t age = next - s->entries[i].ticket.load(std::memory_order_relaxed);
      Waiting x{i, age, (st & kRwExclusiveBit) != 0};
      uint32_t k = n++;
      while (k > 0 && w[k - 1].age < x.age) {  // insertion sort, oldest first
        w[k] = w[k - 1];
        --k;
      }
      w[k] = x;
    }
  }
  uint32_t granted = 0;
  if (mine_granted != nullptr) *mine_granted = false;
  for (uint32_t k = 0; k < n; ++k) {
    if (w[k].exclusive) {
      if (held == 0) {
        GrantEntry(s, w[k].slot, true);
        ++granted;
        if (w[k].slot == mine && mine_granted != nullptr) *mine_granted = true;
      }
      break;  // nothing queued behind an exclusive request passes it
    }
    if (exclusive_held) break;
    GrantEntry(s, w[k].slot, false);
    ++held;
    ++granted;
    if (w[k].slot == mine && mine_granted != nullptr) *mine_granted = true;
  }
  return granted;
}

// The status a held entry of ours reports; clears the died bit (reported once).
Status HeldStatus(RwEntry* e, uint32_t st) {
  if ((st & kRwDiedBit) == 0) return Status::kOk;
  e->state.store(st & ~kRwDiedBit, std::memory_order_relaxed);
  return Status::kOwnerDead;
}

}  // namespace

void InitRwLockState(RwLockState* s, uint64_t owner_table_id, const uint8_t* label, uint32_t len) {
  InitMutexState(&s->guard, OwnerDeathPolicy::kRecover, owner_table_id);
  s->seq.store(0, std::memory_order_relaxed);
  s->sleepers.store(0, std::memory_order_relaxed);
  s->next_ticket.store(1, std::memory_order_relaxed);
  s->owner_deaths.store(0, std::memory_order_relaxed);
  s->death_pending.store(0, std::memory_order_relaxed);
  s->fence_lo.store(0, std::memory_order_relaxed);
  s->fence_hi.store(0, std::memory_order_relaxed);
  for (RwEntry& e : s->entries) {
    FreeEntry(&e);
    e.ticket.store(0, std::memory_order_relaxed);
    e.order.store(0, std::memory_order_relaxed);
  }
  if (len > kRwLabelBytes) len = kRwLabelBytes;
  if (len > 0) std::memcpy(s->label, label, len);
  s->label_len.store(len, std::memory_order_relaxed);
}

Status CheckRwOwnerTable(const RwLockState* s, const OwnerTable* table) {
  return CheckOwnerTable(&s->guard, table);
}

Status RwRequest(RwLockState* s, OwnerTable* table, OwnerId me, RwMode mode, uint32_t flags,
                 uint32_t* slot, const WaitInterrupt* intr) {
  *slot = kRwEntries;
  const bool steal = (flags & kRwSteal) != 0;
  const bool exclusive = mode == RwMode::kExclusive || steal;
  Status g = GuardLock(s, table, me, intr);
  if (g != Status::kOk) return g;
  bool changed = Sweep(s, table);
  uint32_t mine = kRwEntries;
  for (uint32_t i = 0; i < kRwEntries; ++i) {
    if ((s->entries[i].state.load(std::memory_order_relaxed) & kRwPhaseMask) == kRwFree) {
      mine = i;
      break;
    }
  }
  if (mine == kRwEntries) {
    Leave(s, table, me, changed);
    return Status::kBusy;
  }
  uint32_t stolen[kRwEntries];
  uint32_t nstolen = 0;
  RwEntry* e = &s->entries[mine];
  e->owner.store(me, std::memory_order_relaxed);
  e->ticket.store(s->next_ticket.fetch_add(1, std::memory_order_relaxed),
                  std::memory_order_relaxed);
  Status st;
  if (steal) {
    // Every holder's entry is taken from it (its owner learns it from the state word) and the
    // request is granted now, ahead of the queue (Web Locks `steal`).
    // Each stolen holder's watch sleeps on its own state word (not on seq): it is woken there
    // once the guard is released (below). A watch sleeping in the kernel (a parker futex_waitv
    // or a context's io_uring futex wait) re-checks its word only when woken.
    for (uint32_t i = 0; i < kRwEntries; ++i) {
      RwEntry& h = s->entries[i];
      const uint32_t hs = h.state.load(std::memory_order_relaxed);
      if ((hs & kRwPhaseMask) != kRwHeld) continue;
      h.state.store(kRwStolen | (hs & kRwExclusiveBit), std::memory_order_relaxed);
      stolen[nstolen++] = i;
    }
    GrantEntry(s, mine, true);
    changed = true;  // stolen holders (and their watchers) must hear of it
    st = HeldStatus(e, e->state.load(std::memory_order_relaxed));
    *slot = mine;
  } else {
    e->state.store(kRwWaiting | (exclusive ? kRwExclusiveBit : 0), std::memory_order_relaxed);
    bool granted = false;
    const uint32_t n = Grant(s, mine, &granted);
    if (n > (granted ? 1u : 0u)) changed = true;  // others were let in too: wake them
    if (granted) {
      st = HeldStatus(e, e->state.load(std::memory_order_relaxed));
      *slot = mine;
    } else if ((flags & kRwTryOnly) != 0) {
      FreeEntry(e);  // last in the queue: removing it changes nobody's turn
      st = Status::kWouldBlock;
    } else {
      st = Status::kWouldBlock;
      *slot = mine;
    }
  }
  Leave(s, table, me, changed);
  // The stolen holders watch their entry's state word (a Promise hold's steal watch): wake it.
  // The word may be reused meanwhile; a spurious wake only makes its watcher poll again.
  for (uint32_t k = 0; k < nstolen; ++k) FutexWake(&s->entries[stolen[k]].state, INT_MAX);
  return st;
}

Status RwPoll(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot, uint32_t* seq,
              const WaitInterrupt* intr) {
  if (slot >= kRwEntries) return Status::kNotOwner;
  Status g = GuardLock(s, table, me, intr);
  if (g != Status::kOk) return g;
  bool changed = Sweep(s, table);
  if (Grant(s, kRwEntries, nullptr) > 0) changed = true;
  RwEntry* e = &s->entries[slot];
  const uint32_t st = e->state.load(std::memory_order_relaxed);
  Status out = Status::kNotOwner;
  if ((e->owner.load(std::memory_order_relaxed) & kLockOwnerMask) == me) {
    const uint32_t phase = st & kRwPhaseMask;
    if (phase == kRwHeld) out = HeldStatus(e, st);
    if (phase == kRwWaiting) out = Status::kWouldBlock;
  }
  if (changed) s->seq.fetch_add(1, std::memory_order_relaxed);
  if (seq != nullptr) *seq = s->seq.load(std::memory_order_relaxed);
  Leave(s, table, me, false);
  // Our own changes (grants to others) still need their wake-up.
  if (changed && s->sleepers.load(std::memory_order_seq_cst) > 0) FutexWake(&s->seq, INT_MAX);
  return out;
}

Status RwWithdraw(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot,
                  const WaitInterrupt* intr) {
  if (slot >= kRwEntries) return Status::kNotOwner;
  Status g = GuardLock(s, table, me, intr);
  if (g != Status::kOk) return g;
  bool changed = Sweep(s, table);
  if (Grant(s, kRwEntries, nullptr) > 0) changed = true;
  RwEntry* e = &s->entries[slot];
  const uint32_t st = e->state.load(std::memory_order_relaxed);
  Status out = Status::kNotOwner;
  if ((e->owner.load(std::memory_order_relaxed) & kLockOwnerMask) == me) {
    const uint32_t phase = st & kRwPhaseMask;
    if (phase == kRwHeld) {
      out = HeldStatus(e, st);  // granted before we gave up: the caller holds it
    } else if (phase == kRwWaiting || phase == kRwStolen) {
      FreeEntry(e);
      if (Grant(s, kRwEntries, nullptr) > 0) changed = true;  // requests behind us may pass now
      out = phase == kRwWaiting ? Status::kWouldBlock : Status::kNotOwner;
    }
  }
  Leave(s, table, me, changed);
  return out;
}

Status RwRelease(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot) {
  if (slot >= kRwEntries) return Status::kNotOwner;
  Status g = GuardLock(s, table, me, nullptr);
  if (g != Status::kOk) return g;
  bool changed = Sweep(s, table);
  RwEntry* e = &s->entries[slot];
  const uint32_t phase = e->state.load(std::memory_order_relaxed) & kRwPhaseMask;
  Status out = Status::kNotOwner;
  if ((e->owner.load(std::memory_order_relaxed) & kLockOwnerMask) == me &&
      (phase == kRwHeld || phase == kRwStolen)) {
    FreeEntry(e);
    changed = true;
    if (phase == kRwHeld) out = Status::kOk;
  }
  if (Grant(s, kRwEntries, nullptr) > 0) changed = true;
  Leave(s, table, me, changed);
  return out;
}

int RwBlockingDeadmen(RwLockState* s, OwnerTable* table, uint32_t slot,
                      std::atomic<uint32_t>** words, uint32_t* expected) {
  if (slot >= kRwEntries) return 0;
  // Private copies of every field read; a rewritten table only changes which words we watch.
  const uint32_t next = s->next_ticket.load(std::memory_order_relaxed);
  const uint32_t my_age = next - s->entries[slot].ticket.load(std::memory_order_relaxed);
  uint32_t holder = kRwEntries;
  uint32_t ahead = kRwEntries;
  uint32_t ahead_age = 0;
  for (uint32_t i = 0; i < kRwEntries; ++i) {
    if (i == slot) continue;
    const uint32_t st = s->entries[i].state.load(std::memory_order_relaxed);
    const uint32_t phase = st & kRwPhaseMask;
    if (phase == kRwHeld && holder == kRwEntries) holder = i;
    if (phase != kRwWaiting) continue;
    // Older requests have larger ages; the one just ahead is the youngest of the older ones.
    const uint32_t age = next - s->entries[i].ticket.load(std::memory_order_relaxed);
    if (age > my_age && (ahead == kRwEntries || age < ahead_age)) {
      ahead = i;
      ahead_age = age;
    }
  }
  int n = 0;
  for (uint32_t i : {ahead, holder}) {
    if (i == kRwEntries) continue;
    const OwnerId owner = s->entries[i].owner.load(std::memory_order_relaxed) & kLockOwnerMask;
    if (owner == 0) continue;  // freed meanwhile (or rewritten): the change bumped seq
    std::atomic<uint32_t>* w = table->ArmDeathWake(owner, &expected[n]);
    if (w == nullptr) return -1;  // died after our poll's sweep: nothing would wake us for it
    words[n++] = w;
  }
  return n;
}

Status RwWait(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot, int64_t deadline_ns,
              const WaitInterrupt* intr) {
  const int64_t slice =
      intr != nullptr && intr->poll != nullptr ? kInterruptPollNanos : kLivenessSliceNanos;
  // seq_cst: counted before the guarded poll that reads seq (see Leave).
  s->sleepers.fetch_add(1, std::memory_order_seq_cst);
  Status st;
  for (;;) {
    uint32_t seq = 0;
    st = RwPoll(s, table, me, slot, &seq, intr);
    if (st != Status::kWouldBlock) break;
    const int64_t now = MonotonicNanos();
    const bool interrupted = Interrupted(intr);
    if (interrupted || (deadline_ns >= 0 && now >= deadline_ns)) {
      st = RwWithdraw(s, table, me, slot, nullptr);
      if (st == Status::kWouldBlock) st = interrupted ? Status::kClosed : Status::kTimeout;
      break;
    }
    FutexWaitv w[2 + kMaxDeadmenWatched];
    int n = 0;
    SetWaitv(&w[n++], &s->seq, seq);
    // The blockers' deadman words: the death of a holder, or of the request just ahead of us,
    // wakes us (the kernel marks the word); more holders' words besides, up to the bound.
    std::atomic<uint32_t>* dms[kRwBlockersWatched];
    uint32_t expected[kRwBlockersWatched];
    const int k = RwBlockingDeadmen(s, table, slot, dms, expected);
    if (k < 0) continue;  // a blocker died after our poll: poll again (its sweep frees it)
    for (int j = 0; j < k; ++j) SetWaitv(&w[n++], dms[j], expected[j]);
    for (uint32_t i = 0; i < kRwEntries && n < 1 + kMaxDeadmenWatched; ++i) {
      if (i == slot) continue;
      const uint32_t es = s->entries[i].state.load(std::memory_order_relaxed);
      if ((es & kRwPhaseMask) != kRwHeld) continue;
      const OwnerId owner = s->entries[i].owner.load(std::memory_order_relaxed) & kLockOwnerMask;
      uint32_t exp = 0;
      std::atomic<uint32_t>* dm = owner != 0 ? table->ArmDeathWake(owner, &exp) : nullptr;
      if (dm != nullptr) SetWaitv(&w[n++], dm, exp);
    }
    SetWaitv(&w[n++], &g_shutdown_word, 0);
    int64_t until = now + slice;
    if (deadline_ns >= 0 && deadline_ns < until) until = deadline_ns;
    FutexWaitvUntil(w, n, until);
  }
  s->sleepers.fetch_sub(1, std::memory_order_seq_cst);
  return st;
}

Status RwSnapshot(RwLockState* s, OwnerTable* table, OwnerId me, RwEntryView* out, uint32_t* count,
                  const WaitInterrupt* intr) {
  *count = 0;
  Status g = GuardLock(s, table, me, intr);
  if (g != Status::kOk) return g;
  bool changed = Sweep(s, table);
  if (Grant(s, kRwEntries, nullptr) > 0) changed = true;
  for (uint32_t i = 0; i < kRwEntries; ++i) {
    const uint32_t st = s->entries[i].state.load(std::memory_order_relaxed);
    const uint32_t phase = st & kRwPhaseMask;
    if (phase != kRwHeld && phase != kRwWaiting) continue;
    out[(*count)++] = RwEntryView{i, s->entries[i].owner.load(std::memory_order_relaxed), st,
                                  s->entries[i].ticket.load(std::memory_order_relaxed),
                                  s->entries[i].order.load(std::memory_order_relaxed)};
  }
  Leave(s, table, me, changed);
  return Status::kOk;
}

}  // namespace shmsync
