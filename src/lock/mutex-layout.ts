/**
 * Int32 indexes into the shared MutexState (native/core/mutex-layout.h, static_asserted there).
 * The facade reads and CASes these through an Int32Array over the mapping.
 *
 * Hostile memory: every index is a constant below kStateInt32s, the length of the Int32Array the
 * native side hands out (exactly sizeof(MutexState), fixed at open). No value read from these
 * words is ever used as a size, index or offset in JS: the reentrancy depth is kept privately
 * (kDepth is only written, for info()), and a rogue value in any word can only make a fast path
 * decline and defer to native code, which validates it.
 */
export const kWord = 0; // 0 free, else holder OwnerId | kWaitersBit
export const kHandoff = 1; // OwnerId of a starving waiter that gets the lock next, or 0
export const kConsistency = 2; // 0 consistent, 1 inconsistent (strict), 2 not recoverable
export const kPolicy = 3; // 0 recover, 1 strict
export const kWaiters = 4; // sleeping/parked waiters of every context
export const kFenceLo = 16;
export const kFenceHi = 17;
export const kOwnerDeaths = 18;
export const kDepth = 19;
export const kStateInt32s = 32;
export const kWaitersBit = 0x80000000 | 0; // as a signed int32
