// The reader/writer lock algorithm over RwLockState (rw-lock-layout.h).
//
// Every request takes an entry of the table (a "slot"): queued (kRwWaiting) until the grant
// rule admits it, then held (kRwHeld) until released. The grant rule, applied under the guard
// after every change, is the Web Locks queue: walking the waiting entries in ticket order, an
// exclusive request is granted when nothing is held and nothing earlier waits; a shared request
// when no exclusive request is held and nothing earlier waits that is exclusive. Grants are made
// by whoever changes the state (the releaser grants on behalf of the waiters), so a waiter only
// has to notice that its entry became held.
//
// Death: every operation first sweeps the table. An entry whose owner id is dead is freed; if it
// was held, owner_deaths grows and the next grant (any mode) is flagged kRwDiedBit and reported
// once as kOwnerDead ("recover" policy: the lock is usable).
//
// Any thread may call these for the OwnerId of its own JS context. Uncontended requests and
// releases take the guard with one CAS and free it with another: no syscall.
#pragma once

#include <cstdint>

#include "futex.h"
#include "owner-table.h"
#include "rw-lock-layout.h"
#include "status.h"
#include "wait-interrupt.h"

namespace shmsync {

enum class RwMode : uint32_t { kShared = 0, kExclusive = 1 };

// Request flags.
constexpr uint32_t kRwTryOnly = 1;  // grant now or not at all (no entry is left queued)
constexpr uint32_t kRwSteal = 2;    // exclusive: every holder's entry becomes kRwStolen, grant now

void InitRwLockState(RwLockState* s, uint64_t owner_table_id, const uint8_t* label, uint32_t len);

// kOk when the lock was created under `table`, else kOwnerTableMismatch.
Status CheckRwOwnerTable(const RwLockState* s, const OwnerTable* table);

// Files a request for `me`. kOk / kOwnerDead: granted at once, held in *slot. kWouldBlock: with
// kRwTryOnly, not grantable now (no slot taken); otherwise queued in *slot (RwPoll / RwWait /
// RwWithdraw it). kBusy: every entry is in use. kClosed: `intr` ended the wait for the guard.
Status RwRequest(RwLockState* s, OwnerTable* table, OwnerId me, RwMode mode, uint32_t flags,
                 uint32_t* slot, const WaitInterrupt* intr = nullptr);

// Where request `slot` stands. kOk / kOwnerDead (reported once): held. kWouldBlock: still
// queued; *seq (optional) receives the seq value to sleep on. kNotOwner: the slot is not a
// request of `me` any more (stolen, or never was).
Status RwPoll(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot, uint32_t* seq,
              const WaitInterrupt* intr = nullptr);

// Gives up a queued request. kWouldBlock: withdrawn, it will never be granted. kOk/kOwnerDead:
// it was granted meanwhile: the caller holds it (release it or use it). kNotOwner as RwPoll.
Status RwWithdraw(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot,
                  const WaitInterrupt* intr = nullptr);

// Ends the hold of `slot`. kOk; kNotOwner when it was not held by `me` (a stolen entry is freed
// and also reports kNotOwner).
Status RwRelease(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot);

// Blocks until queued request `slot` is granted or the absolute CLOCK_MONOTONIC deadline (< 0:
// none) passes: sleeps on seq and the deadman words of current holders, in bounded slices.
// Returns as RwPoll, or kTimeout (withdrawn), or kClosed (withdrawn; `intr` or process exit).
Status RwWait(RwLockState* s, OwnerTable* table, OwnerId me, uint32_t slot, int64_t deadline_ns,
              const WaitInterrupt* intr = nullptr);

// The deadman words a waiter of queued request `slot` watches besides seq (a death bumps no
// seq until someone sweeps the table): that of one holder, and that of the waiting request just
// ahead of `slot` (the queue's order: when that request's process dies, nobody else may ever
// poll, and every request behind it would wait forever). Fills at most kRwBlockersWatched words
// and their expected values; returns how many, or -1 when a blocker's owner is dead already
// (poll again: that poll's sweep frees its entry). Unguarded reads: only choose words to watch.
constexpr int kRwBlockersWatched = 2;
int RwBlockingDeadmen(RwLockState* s, OwnerTable* table, uint32_t slot,
                      std::atomic<uint32_t>** words, uint32_t* expected);

// A consistent copy of the table (taken under the guard, after a sweep) for info() / query().
struct RwEntryView {
  uint32_t slot;
  OwnerId owner;
  uint32_t state;
  uint32_t ticket;
  uint32_t order;
};
Status RwSnapshot(RwLockState* s, OwnerTable* table, OwnerId me, RwEntryView* out, uint32_t* count,
                  const WaitInterrupt* intr = nullptr);

}  // namespace shmsync
