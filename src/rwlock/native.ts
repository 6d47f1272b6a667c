/**
 * The native RwLock class (native/addon/rwlock-wrap.h), typed here so the shared binding.ts
 * needs no change. Statuses are native/core/status.h numbers; slots index the lock's entry table.
 */
import { binding } from '../addon/binding';

/** Request flags (native/core/rw-lock.h). */
export const kTryOnly = 1;
export const kSteal = 2;
/** No slot (kRwEntries): a request that left no entry. */
export const kNoSlot = 128;

export interface RwEntrySnapshot {
  slot: number;
  held: boolean;
  exclusive: boolean;
  ticket: number;
  order: number;
  mine: boolean;
  pid: number;
  threadId: number;
}

export interface NativeRwLock {
  readonly created: boolean;
  readonly attached: boolean;
  /** status | slot << 8 */
  request(mode: 0 | 1, flags: number): number;
  poll(slot: number): number;
  wait(slot: number, timeoutMs: number): number;
  withdraw(slot: number): number;
  release(slot: number): number;
  /**
   * [status, seqWatchId, ...deadmanWatchIds] (0: none): status 10 (WouldBlock) when parked. The
   * deadman watches are a holder's and the request's just ahead (native/core/rw-lock.h).
   */
  watch(slot: number): number[];
  watchEntry(slot: number): number;
  cancel(id: number): number;
  snapshot(): RwEntrySnapshot[] | number;
  label(): Buffer;
  info(): { ownerDeaths: number; acquisitions: bigint };
  close(): number;
  lease(ms: number): boolean;
  /** A hand-off received through this already-open attachment: pending-1 (attach.h ConsumeHandoff). */
  consumeHandoff(): boolean;
}

type RwLockCtor = new (
  segmentName: string,
  openMode: number,
  perm: number,
  lifetime: number,
  label?: Buffer,
) => NativeRwLock;

export function nativeRwLock(
  segment: string,
  openMode: number,
  perm: number,
  lifetime: number,
  label?: Buffer,
): NativeRwLock {
  const ctor = (binding as unknown as { RwLock: RwLockCtor }).RwLock;
  return new ctor(segment, openMode, perm, lifetime, label);
}
