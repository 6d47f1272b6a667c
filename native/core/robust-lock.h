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
#include "wait-interrupt.h"

namespace shmsync {

// How long a blocked waiter lets others barge before it claims the next hand-off.
constexpr int64_t kStarvationNanos = 1 * kNanosPerMilli;
// Upper bound of one futex sleep: the safety net that re-checks the holder's liveness even if
// a death wake-up was missed (e.g. the death happened before the waiter armed it).
constexpr int64_t kLivenessSliceNanos = 50 * kNanosPerMilli;

// handoff_to holds the OwnerId of a registered starving waiter, or that id | kHandoffGrantedBit
// once an Unlock committed the lock to it (phase 1 of the two-phase grant; phase 2 stores the
// id in the word). OwnerIds never use the bit (kLockOwnerMask).
constexpr uint32_t kHandoffGrantedBit = 0x80000000u;
// A waiter that finds the lock reserved for a live context which does not take it (a stale or
// forged registration) sleeps in slices of this length, not spins ...
constexpr int64_t kDeferSliceNanos = 2 * kNanosPerMilli;
// ... and expires the registration once it saw the same one this long. A real registered waiter
// takes a free reserved word within microseconds; expiring it late only costs it its priority.
constexpr int64_t kHandoffExpiryNanos = 20 * kNanosPerMilli;

void InitMutexState(MutexState* s, OwnerDeathPolicy policy, uint64_t owner_table_id = 0);

// kOk when a lock created under `table` may be used with it; kOwnerTableMismatch otherwise.
Status CheckOwnerTable(const MutexState* s, const OwnerTable* table);

// One attempt. kOk: acquired. kOwnerDead: acquired from a dead holder (recover policy: the
// lock is fine; strict policy: it is now inconsistent until MarkConsistent). kWouldBlock: held
// by a live owner. kBusy: `me` already holds it (reentrancy is decided by the caller).
// kNotRecoverable: strict policy, a dead holder's state was never repaired.
// `*deferred_to` (optional) receives the hand-off registration that made it kWouldBlock (the
// word is reserved for another live waiter), else 0.
Status TryLock(MutexState* s, OwnerTable* table, OwnerId me, uint32_t* deferred_to = nullptr);

// Blocks until acquired or until the absolute CLOCK_MONOTONIC deadline (< 0: none): spins
// briefly, then sleeps on the lock word and the holder's deadman word in bounded slices.
// Returns as TryLock, or kTimeout, or kClosed when `intr` (optional) or the process-wide
// shutdown word ended the wait (see wait-interrupt.h).
Status Lock(MutexState* s, OwnerTable* table, OwnerId me, int64_t deadline_ns,
            const WaitInterrupt* intr = nullptr);

// Releases a lock held by `me` (kNotOwner otherwise). Hands off to a starving waiter if one is
// registered, else frees the word and wakes one sleeper only when the waiters bit was set.
// The hand-off is two-phase: (1) CAS handoff_to h -> h|kHandoffGrantedBit commits the grant
// (a waiter's WithdrawHandoff CAS h -> 0 and this CAS exclude each other: exactly one wins);
// (2) the word is stored as h. A withdrawing waiter that lost the race holds the lock.
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
// Withdraws a hand-off registration of a waiter that gives up. *granted = true when an Unlock
// already committed the lock to `me` (phase 1 done): the caller then holds it and must call
// AcceptHandoff. *granted = false proves no Unlock will hand the lock to `me` any more.
void WithdrawHandoff(MutexState* s, OwnerId me, bool* granted);

// Precondition: an Unlock committed the lock to `me` (the word names `me`, or handoff_to is
// `me | kHandoffGrantedBit`). Waits for phase 2 if it is still in flight (the unlocker is
// between two stores; if it died there, takes the word from it), clears the registration and
// does the acquisition bookkeeping; returns kOk or kNotRecoverable, or kClosed (registration
// dropped, lock not taken) when `intr` or the process-wide shutdown word ends the wait (a
// forged grant can keep phase 2 from ever arriving while a live context holds the word).
Status AcceptHandoff(MutexState* s, OwnerTable* table, OwnerId me,
                     const WaitInterrupt* intr = nullptr);

// Waiter-side tracking of a registration that keeps a free word reserved (TryLock's
// *deferred_to). Returns true when it expired that registration (try again at once); false:
// sleep (at most kDeferSliceNanos) and retry.
struct DeferTracker {
  uint32_t to = 0;
  int64_t since = 0;
};
bool ExpireStaleHandoff(MutexState* s, DeferTracker* d, uint32_t deferred_to, int64_t now);

// Test-only (native/test, SHMSYNC_TEST_HOOKS builds): called by Unlock between the two phases
// of a hand-off, so a test can interleave a waiter's withdrawal deterministically.
#ifdef SHMSYNC_TEST_HOOKS
extern void (*g_test_between_grant_phases)(MutexState* s);
#endif

// After a waiter (already uncounted from s->waiters) acquired: re-arms the waiters bit if
// other waiters remain, so the next Unlock wakes one of them.
void KeepWaitersBit(MutexState* s);

uint64_t Fence(const MutexState* s);

}  // namespace shmsync
