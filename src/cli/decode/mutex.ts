/**
 * Decoder of MutexState (native/core/mutex-layout.h): 128 bytes, the payload of a mutex segment
 * and twice embedded in a queue. Values are a racy snapshot (read without the lock); they are
 * validated only for being in range, never used as offsets.
 */
export const kMutexStateSize = 128;
export const kLockWaitersBit = 0x80000000;
export const kLockOwnerMask = 0x7fffffff;

/** native/core/mutex-layout.h held_since: 2024-01-01T00:00:00Z in Unix seconds. */
const kHeldSinceEpoch = 1704067200;
const kHeldSinceExactBit = 0x80000000;
/**
 * How far past the reader's clock a stamp may lie and still be shown. Writers stamp whole
 * seconds, rounded down, from the same system clock the reader uses, so an honest stamp is never
 * later than "now"; the slack only absorbs a small step of the clock. A later stamp was forged or
 * written before the clock was set back: it is not shown (heldSinceNote says why).
 */
export const kHeldSinceSlackMs = 2000;

/**
 * When the current hold began, if a native path recorded it: `exact` when the stamp is the
 * acquisition itself, else the time the first waiter found the lock held (held at least since).
 */
export interface HeldSince {
  at: Date;
  exact: boolean;
}

export type Consistency = 'consistent' | 'inconsistent' | 'notRecoverable';
const kConsistency: Consistency[] = ['consistent', 'inconsistent', 'notRecoverable'];

export interface MutexWords {
  word: number;
  ownerId: number;
  waitersBit: boolean;
  handoffTo: number;
  consistency: Consistency | null;
  consistencyCode: number;
  policy: 'recover' | 'strict' | null;
  policyCode: number;
  waiters: number;
  ownerTableId: bigint;
  fence: bigint;
  ownerDeaths: number;
  depth: number;
  /**
   * null: free, a hold no native path stamped (an uncontended fast-path hold), or a stamp that
   * is not credible (see heldSinceNote).
   */
  heldSince: HeldSince | null;
  /** Why a stamp of this hold was not shown (it lies in the future), else null. */
  heldSinceNote: string | null;
}

export interface MutexDecode {
  state: MutexWords | null;
  problem: string | null;
}

/**
 * `buf` holds the 128 bytes of one MutexState starting at `at`; `now` (ms since the epoch) is
 * the reader's clock, which a held_since stamp may not exceed.
 */
export function decodeMutexState(buf: Buffer, at = 0, now = Date.now()): MutexDecode {
  if (buf.length < at + kMutexStateSize) return { state: null, problem: 'truncated mutex state' };
  const word = buf.readUInt32LE(at);
  const consistencyCode = buf.readUInt32LE(at + 8);
  const policyCode = buf.readUInt32LE(at + 12);
  const fenceLo = buf.readUInt32LE(at + 64);
  const since =
    (word & kLockOwnerMask) === 0 ? null : heldSince(buf.readUInt32LE(at + 32), buf.readUInt32LE(at + 36), fenceLo);
  const future = since !== null && since.at.getTime() > now + kHeldSinceSlackMs ? since : null;
  const state: MutexWords = {
    word,
    ownerId: word & kLockOwnerMask,
    waitersBit: (word & kLockWaitersBit) !== 0,
    handoffTo: buf.readUInt32LE(at + 4),
    consistency: kConsistency[consistencyCode] ?? null,
    consistencyCode,
    policy: policyCode === 0 ? 'recover' : policyCode === 1 ? 'strict' : null,
    policyCode,
    waiters: buf.readUInt32LE(at + 16),
    ownerTableId: buf.readBigUInt64LE(at + 24),
    fence: (BigInt(buf.readUInt32LE(at + 68)) << 32n) | BigInt(fenceLo),
    ownerDeaths: buf.readUInt32LE(at + 72),
    depth: buf.readUInt32LE(at + 76),
    heldSince: future === null ? since : null,
    heldSinceNote:
      future === null
        ? null
        : `its stamp ${future.at.toISOString()} lies in the future (forged, or the clock was set back)`,
  };
  let problem: string | null = null;
  if (state.consistency === null) problem = `consistency word ${consistencyCode} out of range`;
  else if (state.policy === null) problem = `policy word ${policyCode} out of range`;
  return { state, problem };
}

/** Decodes the held_since word (low half `lo`, high half `tag`): only a stamp of this hold counts. */
function heldSince(lo: number, tag: number, fenceLo: number): HeldSince | null {
  const seconds = lo & ~kHeldSinceExactBit;
  if (tag !== fenceLo || seconds === 0) return null;
  return { at: new Date((kHeldSinceEpoch + seconds) * 1000), exact: (lo & kHeldSinceExactBit) !== 0 };
}
