// The lock algorithm over MutexState: a 32-bit futex word holding the holder's OwnerId, with
// owner-death recovery through the OwnerTable and a bounded-barging hand-off for fairness.
//
// Any thread may call these for any OwnerId it acts for (its own JS context, or — the parker
// thread — a context it waits on behalf of). Uncontended TryLock/Unlock make no syscall.
#pragma once

#include <climits>
#include <cstdint>

#include "futex.h"
#include "mutex-layout.h"
#include "owner-table.h"
#include "status.h"

namespace shmsync {

// How long a blocked waiter lets others barge before it claims the next hand-off.
constexpr int64_t kStarvationNanos = 1 * kNanosPerMilli;
// Upper bound of one futex sleep: the safety net that re-checks the holder's liveness even if
// a death wake-up was missed (e.g. the death happened before the waiter armed it).
constexpr int64_t kLivenessSliceNanos = 50 * kNanosPerMilli;

void InitMutexState(MutexState* s, OwnerDeathPolicy policy, uint64_t owner_table_id = 0);

// kOk when a lock created under `table` may be used with it; kOwnerTableMismatch otherwise.
Status CheckOwnerTable(const MutexState* s, const OwnerTable* table);

// One attempt. kOk: acquired. kOwnerDead: acquired from a dead holder (recover policy: the
// lock is fine; strict policy: it is now inconsistent until MarkConsistent). kWouldBlock: held
// by a live owner. kBusy: `me` already holds it (reentrancy is decided by the caller).
// kNotRecoverable: strict policy, a dead holder's state was never repaired.
Status TryLock(MutexState* s, OwnerTable* table, OwnerId me);

// Blocks until acquired or until the absolute CLOCK_MONOTONIC deadline (< 0: none): spins
// briefly, then sleeps on the lock word and the holder's deadman word in bounded slices.
// Returns as TryLock, or kTimeout.
Status Lock(MutexState* s, OwnerTable* table, OwnerId me, int64_t deadline_ns);

// Releases a lock held by `me` (kNotOwner otherwise). Hands off to a starving waiter if one is
// registered, else frees the word and wakes one sleeper only when the waiters bit was set.
Status Unlock(MutexState* s, OwnerTable* table, OwnerId me);

// Strict policy: the holder repaired the protected state.
Status MarkConsistent(MutexState* s, OwnerId me);

// The waiting step shared by Lock and the parker: prepares up to two futex_waitv entries (the
// lock word with the waiters bit set, and the holder's deadman word) for a waiter that has
// already counted itself in s->waiters. Returns the number of entries (0: state changed, try
// again at once).
int PrepareWait(MutexState* s, OwnerTable* table, OwnerId me, FutexWaitv* out);

// Registers `me` as the next hand-off target if nobody else is (called after waiting longer
// than kStarvationNanos). Returns whether `me` is now registered.
bool ClaimHandoff(MutexState* s, OwnerId me);
// Withdraws a hand-off registration of a waiter that gives up. *granted = true when the lock
// was already handed to `me`: the caller then holds it and must call AcceptHandoff.
void WithdrawHandoff(MutexState* s, OwnerId me, bool* granted);

// Precondition: the word names `me` because an Unlock handed the lock over. Clears the
// registration and does the acquisition bookkeeping; returns kOk or kNotRecoverable.
Status AcceptHandoff(MutexState* s, OwnerTable* table, OwnerId me);

// After a waiter (already uncounted from s->waiters) acquired: re-arms the waiters bit if
// other waiters remain, so the next Unlock wakes one of them.
void KeepWaitersBit(MutexState* s);

uint64_t Fence(const MutexState* s);

}  // namespace shmsync
