/**
 * The warm pool's transport: two shared-memory rings per pool child (ShmQueue, raw codec), one
 * pool call = one work record put by the parent and one result record taken back (issue 10).
 *
 * ```
 * parent (process-pool.ts)                        pool child (child-main.ts)
 *   work ring   ── [Work token index | payload] ──▶   spin briefly, then park on the ring
 *   board slot  ◀── token, time                      about to call the target (no wake-up)
 *   result ring ◀── [Started token index]            ... or this, when the call has a timeout
 *               ◀── [Result token index ok | payload]
 *   work.end()  ─────────────────────────────────▶   the pool is closing: exit
 * ```
 *
 * Every record starts with a 16-byte header, little endian:
 *
 * ```
 *   +----------+-----------+-----------+-----------+----------------------+
 *   | kind u32 | token u32 | index u32 | flags u32 | payload fragment ... |
 *   +----------+-----------+-----------+-----------+----------------------+
 *   kind: 1 work, 2 started, 3 result        flags: 1 last fragment, 2 ok (result only)
 * ```
 *
 * A payload larger than the ring's message limit spans several records of the same kind and
 * token, in order (one producer per ring, so order holds); only the last has flag 1. A child killed
 * mid-result leaves no last fragment: the call counts as died without a result. The parent never
 * trusts the result ring: a record that is short, of an unknown kind, or that names another token
 * than the call in flight is a protocol violation (process-pool.ts kills and replaces that child).
 *
 * One-shot pcalls do not use this file: their children get the work, report "started" and send
 * the result over their IPC channel / parentPort (protocol.ts), so a cold child never loads the
 * native addon unless a handle travels.
 */

/** Record kinds (first header word). */
export const kWork = 1;
export const kStarted = 2;
export const kResult = 3;
/** Flags (fourth header word). */
export const kLast = 1;
export const kOk = 2;
/** Work flag: report "started" on the result ring (the call runs a work clock), not on the board. */
export const kReportStarted = 4;
/**
 * The pool's board: one shared-memory segment, a 16-byte slot per child position. Before it
 * calls a target, a child whose work lacks kReportStarted writes `[token u32][pad u32][started
 * at f64, ms since the epoch]` (time first, token last) there instead of putting a record: no
 * wake-up of the parent. The parent reads a slot only when a call's start-up clock runs out, to
 * tell "still starting" from "started without reporting" - and validates what it reads.
 */
export const kBoardSlotBytes = 16;
/** Header bytes of every record. */
export const kHeader = 16;
/** Work ring bytes: a call's target and arguments; larger work streams through in fragments. */
export const kWorkRingCapacity = 256 << 10;
/** Result ring bytes: results up to half of it in one record; larger ones stream through. */
export const kResultRingCapacity = 1 << 20;
/** argv marker of a pool child: `--shmsync-pcall-pool <work ring> <result ring> <board> <slot>`. */
export const kPoolChildFlag = '--shmsync-pcall-pool';

/** A record's header, read once into a private copy. */
export interface RecordHeader {
  readonly kind: number;
  readonly token: number;
  readonly index: number;
  readonly flags: number;
}

/** The header of `record`, or undefined when the record is shorter than a header. */
export function readHeader(record: Uint8Array): RecordHeader | undefined {
  if (record.byteLength < kHeader) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, kHeader);
  return {
    kind: view.getUint32(0, true),
    token: view.getUint32(4, true),
    index: view.getUint32(8, true),
    flags: view.getUint32(12, true),
  };
}

/** The payload bytes of a record (a view, no copy). */
export function payloadOf(record: Buffer): Buffer {
  return record.subarray(kHeader);
}

/**
 * The records carrying `payload` (at least one; `maxMessage` is the ring's message limit). The
 * common case - a payload that fits - is one record and one copy.
 */
export function frame(
  kind: number,
  token: number,
  index: number,
  flags: number,
  payload: Uint8Array,
  maxMessage: number,
): Buffer[] {
  const chunk = maxMessage - kHeader;
  const records: Buffer[] = [];
  for (let at = 0; ; at += chunk) {
    const end = Math.min(payload.byteLength, at + chunk);
    const last = end === payload.byteLength;
    const record = Buffer.allocUnsafe(kHeader + (end - at));
    record.writeUInt32LE(kind, 0);
    record.writeUInt32LE(token, 4);
    record.writeUInt32LE(index, 8);
    record.writeUInt32LE(last ? flags | kLast : flags & ~kLast, 12);
    record.set(payload.subarray(at, end), kHeader);
    records.push(record);
    if (last) return records;
  }
}

/** A record with no payload (the "started" report). */
export function bareRecord(kind: number, token: number, index: number): Buffer {
  const record = Buffer.allocUnsafe(kHeader);
  record.writeUInt32LE(kind, 0);
  record.writeUInt32LE(token, 4);
  record.writeUInt32LE(index, 8);
  record.writeUInt32LE(kLast, 12);
  return record;
}

/** Joins the fragments of one payload (no copy for a single fragment). */
export function joinFragments(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
