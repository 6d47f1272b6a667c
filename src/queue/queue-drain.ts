/**
 * drainSync/drain batches (queue.ts): hands out Uint8Array views of each record's payload with no
 * per-message Buffer, and makes every view unusable when the batch ends. JS thread only.
 *
 * Memory of a batch: the native get copies the records into the handle's inbox (reused); the
 * batch then gets an ArrayBuffer of its own (one copy of exactly the batch's bytes), the views
 * are made over it, and it is detached (napi_detach_arraybuffer) when the call returns or
 * throws: every view then has length 0 and reads `undefined`. Nothing a view aliases is ever
 * reused, so a view kept by mistake can never show a later message.
 *
 * Transfers: where Node can mark the batch buffer untransferable and still let us detach it
 * (Node 20, 22), a transfer list naming a view copies it (Node 20) or throws DataCloneError. Where
 * marking would also forbid our own detach (Node 24), a view can be transferred: that moves the
 * whole batch buffer, and the records not yet visited are taken again from the inbox (which no
 * nested get overwrites while a batch is open: queue.ts gives nested gets their own buffer).
 *
 * Record headers are read from the inbox before any view is handed out (written there by the
 * native get from validated values, never from the ring), into private arrays: what a visitor
 * writes through a view never steers an offset.
 */
import { markAsUntransferable } from 'node:worker_threads';
import type { RingNative } from './ring-poll';
import { kRecordHeader, recordBytes } from './queue-frames';

export type DrainVisitor = (view: Uint8Array, index: number) => void;

/** Whether markAsUntransferable leaves a buffer detachable by us (false on Node 24+). */
const kMarkKeepsDetachable = ((): boolean => {
  const probe = new ArrayBuffer(8);
  markAsUntransferable(probe);
  const transfer = (probe as unknown as { transfer?: () => ArrayBuffer }).transfer;
  if (typeof transfer !== 'function') return true; // Node 20: marking is a private symbol only
  try {
    transfer.call(probe);
    return true;
  } catch {
    return false;
  }
})();

export class DrainBatch {
  readonly #native: RingNative;
  readonly #inbox: Buffer;
  #offs = new Int32Array(256);
  #lens = new Int32Array(256);
  #types = new Int32Array(256);
  /** True while a batch's visitors run (nested gets must not reuse the inbox then). */
  active = false;

  constructor(native: RingNative, inbox: Buffer) {
    this.#native = native;
    this.#inbox = inbox;
  }

  /**
   * Takes up to `max` records from the ring into the inbox and visits them. `fail` throws for a
   * negative status; `hold(buf, count)` keeps framed records for the handle's next gets.
   */
  take(max: number, visit: DrainVisitor, fail: (status: number) => never, hold: Holder): number {
    // A drain nested in a visitor must not overwrite the inbox the open batch recovers from.
    const buf = this.active ? Buffer.allocUnsafeSlow(this.#inbox.length) : this.#inbox;
    const count = buf === this.#inbox ? this.#native.get(max) : this.#native.getInto(buf, max);
    if (count < 0) fail(-count);
    if (count === 0) return 0;
    return this.#run(buf, 0, count, visit, hold);
  }

  /** Visits records the handle held back (framed in `buf`), up to `max`; the rest stay held. */
  visitHeld(buf: Buffer, count: number, max: number, visit: DrainVisitor, hold: Holder): number {
    const n = Math.min(count, max);
    let end = 0;
    for (let i = 0; i < n; i++) end += recordBytes(buf.readUInt32LE(end));
    if (n < count) hold(Buffer.from(buf.subarray(end)), count - n);
    return this.#run(buf, 0, n, visit, hold);
  }

  #run(src: Buffer, start: number, count: number, visit: DrainVisitor, hold: Holder): number {
    if (this.#offs.length < count) {
      const size = Math.max(count, this.#offs.length * 2);
      this.#offs = new Int32Array(size);
      this.#lens = new Int32Array(size);
      this.#types = new Int32Array(size);
    }
    const offs = this.#offs;
    const lens = this.#lens;
    const types = this.#types;
    let off = start;
    for (let i = 0; i < count; i++) {
      const len = src.readUInt32LE(off);
      types[i] = src.readUInt32LE(off + 4);
      offs[i] = off - start + kRecordHeader;
      lens[i] = len;
      off += recordBytes(len);
    }
    const end = off;
    const copyOut = (): ArrayBuffer => {
      const ab = src.buffer.slice(src.byteOffset + start, src.byteOffset + end) as ArrayBuffer;
      if (kMarkKeepsDetachable) markAsUntransferable(ab);
      return ab;
    };
    let ab = copyOut();
    const wasActive = this.active;
    this.active = true;
    let i = 0;
    try {
      for (; i < count; i++) {
        // Transferred away by a visitor (Node 24): the rest is copied again from `src`.
        if (ab.byteLength === 0) ab = copyOut();
        visit(new Uint8Array(ab, offs[i], lens[i]), i);
      }
    } catch (err) {
      // The record visit threw on counts as delivered; the ones after it stay with the handle.
      if (i + 1 < count) hold(frame(src, start, offs, lens, types, i + 1, count), count - i - 1);
      throw err;
    } finally {
      this.active = wasActive;
      if (ab.byteLength !== 0) this.#native.detach(ab);
    }
    return count;
  }
}

/** Puts framed records in front of the handle's held records (returned first by its next gets). */
export type Holder = (framed: Buffer, count: number) => void;

/** A private framed copy of records [from, to) (headers from the private arrays). */
function frame(
  src: Buffer,
  start: number,
  offs: Int32Array,
  lens: Int32Array,
  types: Int32Array,
  from: number,
  to: number,
): Buffer {
  let bytes = 0;
  for (let j = from; j < to; j++) bytes += recordBytes(lens[j]);
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let j = from; j < to; j++) {
    out.writeUInt32LE(lens[j], at);
    out.writeUInt32LE(types[j], at + 4);
    src.copy(out, at + kRecordHeader, start + offs[j], start + offs[j] + lens[j]);
    at += recordBytes(lens[j]);
  }
  return out;
}
