// The wake protocol of one side of a ShmQueue ring: consumers sleep on data_seq (woken by
// puts), producers on space_seq (woken by gets that free space). Node-free; ring.cc uses it.
//
// Goal: a publisher makes a FUTEX_WAKE only for sleepers that armed since the last wake, so the
// first publish after a consumer parks pays one syscall and the publishes that follow, before the
// woken consumer runs again, pay none. (Before, publishers woke whenever the *_sleeping counter
// was non-zero, and it stays non-zero until the woken sleeper runs: a wake per message.)
//
// The futex word (32 bits, shared, untrusted like every shared field):
//   bit 31  kSeqArmed     a sleeper armed on the current value: the next publisher must change
//                         the word and wake.
//   bit 30  kSeqWakeOwed  a publisher changed the word away from an armed value (a claim) and
//                         may not have made its FUTEX_WAKE yet (it could be killed in between).
//   0..29   counter       bumped by every claim (and by CloseRing), so a value some sleeper
//                         armed on never comes back while it could still be waiting (no ABA).
//
// Sleeper (runs on the thread about to sleep: a blocking wait's JS thread, or the JS thread
// preparing a parked watch, whose futex wait then runs on its io_uring or the parker thread):
//   1. s = ArmSleeper(word): fetch_or(kSeqArmed), seq_cst; s is the armed value.
//   2. re-check the condition (seq_cst loads of the positions and `closed`).
//   3. futex-wait while word == s. After a wake-up, back to 1: re-arm before re-checking (a
//      parked watch ends when the word changed; the JS get that re-parks arms again).
// Publisher (runs on the thread that just published, after its seq_cst store of tail / head):
//   WakeArmed(word): load (seq_cst); no bit set -> done, no syscall (the common case). Armed ->
//   claim: CAS it to (counter + 1) | kSeqWakeOwed; then FUTEX_WAKE(INT_MAX); then CAS the
//   claimed value to itself without kSeqWakeOwed (paid). A word found with kSeqWakeOwed alone
//   (a claimant still inside its wake, or killed there) is woken again: an extra syscall, never
//   a lost one.
//
// Invariants (what the proof in docs/concepts/queue.md#waiting rests on):
//   (I1) every value a sleeper futex-waits on has kSeqArmed set (ArmSleeper returns it so);
//   (I2) an armed word keeps its value until a claim or CloseRing changes it (fetch_or of
//        kSeqArmed does not change an armed word; the kSeqWakeOwed clear only succeeds on an
//        unarmed one), and every claim / CloseRing is followed by FUTEX_WAKE(INT_MAX) from the
//        same thread; a claimant killed before that leaves kSeqWakeOwed, which the next
//        publisher pays;
//   (I3) publishers never write an armed value (a claim clears kSeqArmed), except the bounded
//        fallback below, which only ever adds 1 (a new value, still followed by a wake).
// A hostile process can rewrite the word at will: at worst publishers make a syscall per
// publish (the claim loop is bounded) or sleepers wait for the next wake or their deadline -
// never a loop without end, never a crash.
//
// Every side (data and space) has its own word; the wake is always to every sleeper (INT_MAX):
// the kernel cannot pick a live one, and a stale waiter (a parker thread still sleeping for a
// watch just withdrawn) must not absorb the only wake.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "futex.h"

namespace shmsync {

constexpr uint32_t kSeqArmed = 0x80000000u;
constexpr uint32_t kSeqWakeOwed = 0x40000000u;
constexpr uint32_t kSeqCounterMask = 0x3fffffffu;
// Claim attempts before a publisher stops claiming and just bumps and wakes: only a word that
// changes under every attempt (sleepers arming between our load and CAS, or a rogue writer) can
// exhaust them.
constexpr int kMaxClaimRounds = 8;

#ifdef SHMSYNC_TEST_HOOKS
// Test-only: FUTEX_WAKE calls made by WakeArmed in this process (ring.cc).
extern std::atomic<uint64_t> g_test_ring_wakes;
#endif

// Sleeper, step 1 (see above). Returns the value to futex-wait on (kSeqArmed set).
inline uint32_t ArmSleeper(std::atomic<uint32_t>* word) {
  // seq_cst: ordered before the sleeper's re-check of the positions (the Dekker pair with the
  // publisher's position store and its load in WakeArmed).
  return word->fetch_or(kSeqArmed, std::memory_order_seq_cst) | kSeqArmed;
}

// The value a claim stores for an armed word `w`: next counter, owed mark, not armed.
inline uint32_t ClaimedValue(uint32_t w) { return ((w + 1) & kSeqCounterMask) | kSeqWakeOwed; }

inline void RingFutexWake(std::atomic<uint32_t>* word) {
#ifdef SHMSYNC_TEST_HOOKS
  g_test_ring_wakes.fetch_add(1, std::memory_order_relaxed);  // a counter, orders nothing
#endif
  FutexWake(word, INT_MAX);
}

// Publisher side (see above), after the seq_cst store that published the position. No syscall
// unless a sleeper armed since the last wake (or a wake may still be owed).
inline void WakeArmed(std::atomic<uint32_t>* word) {
  // seq_cst: the load of the Dekker pair (after our position store, see ArmSleeper).
  uint32_t w = word->load(std::memory_order_seq_cst);
  if ((w & (kSeqArmed | kSeqWakeOwed)) == 0) return;
  for (int round = 0; (w & kSeqArmed) != 0; ++round) {
    if (round == kMaxClaimRounds) {
      // The word changed under every attempt: make sure it changes once more (sleepers armed on
      // any value seen so far get EAGAIN or the wake below) and wake. Extra syscalls at worst.
      word->fetch_add(1, std::memory_order_seq_cst);
      RingFutexWake(word);
      return;
    }
    const uint32_t claimed = ClaimedValue(w);
    // seq_cst on success: the claim is part of the total order the proof uses; on failure w is
    // reloaded (seq_cst) and we look again.
    if (word->compare_exchange_weak(w, claimed, std::memory_order_seq_cst,
                                    std::memory_order_seq_cst)) {
      w = claimed;
      break;
    }
  }
  // Not armed now. Owed: our claim, or another publisher's that may not have woken yet (or was
  // killed before it did): wake. Neither bit: another publisher claimed and already paid.
  if ((w & kSeqWakeOwed) == 0) return;
  RingFutexWake(word);
  // Paid. Clear the mark only if nothing moved: a sleeper that armed meanwhile keeps the word
  // armed (the next publisher claims it, and clears). A failed clear costs a later publisher one
  // syscall, nothing else. seq_cst like every access to the word, so the proof needs only the
  // single total order.
  word->compare_exchange_strong(w, w & ~kSeqWakeOwed, std::memory_order_seq_cst,
                                std::memory_order_seq_cst);
}

}  // namespace shmsync
