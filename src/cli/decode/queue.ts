/**
 * Decoder of a queue segment's RingState (native/core/ring-layout.h): 512 bytes before the data
 * ring. Positions are monotonic u64 byte counts; the snapshot is racy (read without the locks),
 * so `bytesUsed` is bounded and an impossible combination is reported as a problem.
 */
import { decodeMutexState, type MutexWords } from './mutex';

export const kRingStateSize = 512;
export const kMinRingCapacity = 1024;
export const kMaxRingCapacity = 2 ** 31;

export interface RingWords {
  capacity: number;
  maxMessage: number;
  tail: bigint;
  head: bigint;
  messagesIn: bigint;
  messagesOut: bigint;
  depth: number;
  bytesUsed: number;
  bytesFree: number;
  /** The ring's `closed` word is set: queue.end() ran (the stream has ended). */
  ended: boolean;
  closedWord: number;
  consumersWaiting: number;
  producersWaiting: number;
  /** Counter of the data futex word (low 30 bits; native/core/ring-wake.h). */
  dataSeq: number;
  /** Counter of the space futex word (low 30 bits). */
  spaceSeq: number;
  /** Flags of the futex words: bit 31 armed (a sleeper may wait), bit 30 a wake is owed. */
  dataWake: WakeFlags;
  spaceWake: WakeFlags;
  producerLock: MutexWords | null;
  consumerLock: MutexWords | null;
}

export interface WakeFlags {
  armed: boolean;
  wakeOwed: boolean;
}

/** Splits a ring futex word into its counter and its armed / wake-owed bits. */
const kSeqMask = 0x3fffffff;
function wakeFlags(word: number): WakeFlags {
  return { armed: (word & 0x80000000) !== 0, wakeOwed: (word & 0x40000000) !== 0 };
}

export interface QueueDecode {
  ring: RingWords | null;
  problem: string | null;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** `state` holds at least the first 512 payload bytes; `payloadSize` comes from the header. */
export function decodeRing(state: Buffer, payloadSize: number): QueueDecode {
  if (state.length < kRingStateSize) return { ring: null, problem: 'truncated ring state' };
  const capacityBig = state.readBigUInt64LE(128);
  const capacity = capacityBig > BigInt(kMaxRingCapacity) ? Number.NaN : Number(capacityBig);
  const tail = state.readBigUInt64LE(0);
  const head = state.readBigUInt64LE(64);
  const messagesIn = state.readBigUInt64LE(8);
  const messagesOut = state.readBigUInt64LE(72);
  const usedBig = tail - head;
  const depthBig = messagesIn - messagesOut;
  const clamp = (v: bigint, max: number): number => (v < 0n ? 0 : v > BigInt(max) ? max : Number(v));
  const cap = Number.isFinite(capacity) ? capacity : 0;
  const closedWord = state.readUInt32LE(140);
  const dataWord = state.readUInt32LE(16);
  const spaceWord = state.readUInt32LE(80);
  const producer = decodeMutexState(state, 256);
  const consumer = decodeMutexState(state, 384);
  const ring: RingWords = {
    capacity,
    maxMessage: state.readUInt32LE(136),
    tail,
    head,
    messagesIn,
    messagesOut,
    depth: clamp(depthBig, Number.MAX_SAFE_INTEGER),
    bytesUsed: clamp(usedBig, cap),
    bytesFree: cap - clamp(usedBig, cap),
    ended: closedWord !== 0,
    closedWord,
    dataSeq: dataWord & kSeqMask,
    dataWake: wakeFlags(dataWord),
    consumersWaiting: state.readUInt32LE(20),
    spaceSeq: spaceWord & kSeqMask,
    spaceWake: wakeFlags(spaceWord),
    producersWaiting: state.readUInt32LE(84),
    producerLock: producer.state,
    consumerLock: consumer.state,
  };
  let problem: string | null;
  if (!isPow2(capacity) || capacity < kMinRingCapacity)
    problem = `ring capacity ${capacityBig} is not a power of two in [1024, 2^31]`;
  else if (payloadSize !== kRingStateSize + capacity)
    problem = `payload of ${payloadSize} bytes does not hold a ${capacity}-byte ring`;
  else if (ring.maxMessage === 0 || ring.maxMessage > capacity / 2 - 8)
    problem = `max message ${ring.maxMessage} out of range`;
  else if (usedBig < 0n || usedBig > BigInt(capacity)) problem = `positions out of range: tail ${tail}, head ${head}`;
  else if (depthBig < 0n) problem = `message counts out of range: in ${messagesIn}, out ${messagesOut}`;
  else if (closedWord > 1) problem = `closed word ${closedWord}`;
  else problem = producer.problem ?? consumer.problem;
  return { ring, problem };
}
