/**
 * Decoder of the owner table (native/core/owner-table.h): 64 bytes of table header, then 4096
 * slots of 64 bytes: [pthread_mutex_t deadman (40) | generation | pid | tid | js thread id].
 * The deadman's first int is the robust futex word (glibc, kernel robust ABI): the holder's TID,
 * FUTEX_OWNER_DIED when it died. An owner id is generation (19 bits) << 12 | slot (12 bits).
 */
export const kOwnerSlots = 4096;
export const kOwnerSlotBits = 12;
export const kOwnerGenerationMask = (1 << 19) - 1;
export const kOwnerTablePayloadSize = 64 + kOwnerSlots * 64;
const kFutexTidMask = 0x3fffffff;
const kFutexOwnerDied = 0x40000000;

export interface OwnerSlot {
  slot: number;
  ownerId: number;
  generation: number;
  pid: number;
  tid: number;
  threadId: number;
  /** The deadman is held by a live thread (not released, not marked OWNER_DIED). */
  alive: boolean;
  /** The claimer died without releasing (kernel marked the deadman OWNER_DIED). */
  died: boolean;
}

export interface OwnerTable {
  capacity: number;
  tableId: bigint;
  /** Claimed slots whose deadman is held (a live JS context). */
  live: OwnerSlot[];
  /** Slots whose claimer died without releasing them (reusable by the next claim). */
  dead: number;
  /** Reads one slot (any generation); null when out of range. */
  slot(index: number): OwnerSlot | null;
}

export interface OwnersDecode {
  table: OwnerTable | null;
  problem: string | null;
}

/** `payload` is the whole payload of a kind-4 segment (already length-checked by the header). */
export function decodeOwnerTable(payload: Buffer): OwnersDecode {
  if (payload.length < kOwnerTablePayloadSize)
    return {
      table: null,
      problem: `owner table payload of ${payload.length} bytes, expected ${kOwnerTablePayloadSize}`,
    };
  const capacity = payload.readUInt32LE(0);
  if (capacity !== kOwnerSlots)
    return { table: null, problem: `owner table capacity ${capacity}, expected ${kOwnerSlots}` };
  const slot = (i: number): OwnerSlot | null => {
    if (!Number.isInteger(i) || i < 0 || i >= kOwnerSlots) return null;
    const at = 64 + i * 64;
    const futex = payload.readUInt32LE(at);
    const generation = payload.readUInt32LE(at + 40) & kOwnerGenerationMask;
    const died = (futex & kFutexOwnerDied) !== 0;
    return {
      slot: i,
      ownerId: ((generation << kOwnerSlotBits) | i) >>> 0,
      generation,
      pid: payload.readUInt32LE(at + 44),
      tid: payload.readUInt32LE(at + 48),
      threadId: payload.readUInt32LE(at + 52),
      alive: generation !== 0 && (futex & kFutexTidMask) !== 0 && !died,
      died: generation !== 0 && died,
    };
  };
  const live: OwnerSlot[] = [];
  let dead = 0;
  for (let i = 0; i < kOwnerSlots; i++) {
    const s = slot(i)!;
    if (s.alive) live.push(s);
    else if (s.died) dead += 1;
  }
  return { table: { capacity, tableId: payload.readBigUInt64LE(8), live, dead, slot }, problem: null };
}

/** The live-or-dead holder behind an owner id, judged the way OwnerTable::Check does. */
export function resolveOwner(
  table: OwnerTable,
  ownerId: number,
): { pid: number; tid: number; threadId: number; alive: boolean } | null {
  const s = table.slot(ownerId & (kOwnerSlots - 1));
  if (s === null) return null;
  const generation = (ownerId >>> kOwnerSlotBits) & kOwnerGenerationMask;
  const current = s.generation === generation;
  return { pid: s.pid, tid: s.tid, threadId: s.threadId, alive: current && s.alive };
}
