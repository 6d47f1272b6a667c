/**
 * Record framing between JS and the ring (native/core/ring-layout.h): each record is
 * [u32 length][u32 type] payload, padded to 8 bytes. The Outbox stages encoded records in one
 * reused buffer so a batch crosses N-API once; the Inbox receives framed records the same way.
 * JS thread only.
 */
import { TooLargeError } from '../errors';
import { typeError } from '../validate';
import {
  RecordType,
  encodeCustom,
  encodeJson,
  encodeStructured,
  kStructuredJson,
  structuredJsonText,
  type Codec,
  type CodecName,
} from '../wire/codec';

export const kRecordHeader = 8;
export const recordBytes = (payload: number): number => (kRecordHeader + payload + 7) & ~7;

/** Encodes values into framed records. On any error the outbox is left as it was. */
export class Outbox {
  buf: Buffer = Buffer.allocUnsafe(4096);
  /** Header writes through a DataView over `buf` (cheaper than Buffer#writeUInt32LE per record). */
  #dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  bytes = 0;
  count = 0;
  /** Record size of each staged record, for partial-put bookkeeping. */
  readonly sizes: number[] = [];

  constructor(
    private readonly codec: CodecName | Codec,
    private readonly maxMessage: number,
    /** Called after the buffer was replaced by a larger one (the native side re-attaches). */
    private readonly onGrow: (buf: Buffer) => void,
  ) {}

  reset(): void {
    this.bytes = 0;
    this.count = 0;
    this.sizes.length = 0;
  }

  /** Replaces the content with already framed records (a waiting put's remainder). */
  load(records: Buffer, sizes: readonly number[]): void {
    this.reset();
    if (records.length > this.buf.length) this.#replace(Buffer.allocUnsafe(records.length));
    records.copy(this.buf, 0);
    this.bytes = records.length;
    this.count = sizes.length;
    this.sizes.push(...sizes);
  }

  append(value: unknown): void {
    const codec = this.codec;
    if (codec === 'string') {
      if (typeof value !== 'string') throw typeError('value', "a string (codec 'string')", value);
      this.#writeString(value, RecordType.String);
    } else if (codec === 'json') {
      this.#writeString(encodeJson(value), RecordType.Json);
    } else if (codec === 'raw') {
      if (!(value instanceof Uint8Array)) throw typeError('value', "a Buffer or Uint8Array (codec 'raw')", value);
      this.#writeBytes(value, RecordType.Raw);
    } else if (codec === 'structured') {
      // The JSON form when JSON carries the value exactly (codec.ts), unless its text would
      // exceed maxMessageSize: then v8 (often smaller: one byte per Latin-1 character, no
      // escapes), so no value the v8 form fits is refused.
      const text = structuredJsonText(value);
      if (text !== undefined && this.#writeString(text, RecordType.Structured, kStructuredJson)) return;
      this.#writeBytes(encodeStructured(value), RecordType.Structured);
    } else {
      this.#writeBytes(encodeCustom(codec, value), RecordType.Custom);
    }
  }

  #reserve(payload: number): number {
    if (payload > this.maxMessage) {
      throw new TooLargeError(`message of ${payload} bytes exceeds maxMessageSize ${this.maxMessage}`);
    }
    this.#room(recordBytes(payload));
    return this.bytes;
  }

  /** Makes room for `size` more bytes after the staged records. */
  #room(size: number): void {
    const need = this.bytes + size;
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(next, 0, 0, this.bytes);
      this.#replace(next);
    }
  }

  #replace(next: Buffer): void {
    this.buf = next;
    this.#dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.onGrow(next);
  }

  #commit(at: number, payload: number, type: RecordType): void {
    this.#dv.setUint32(at, payload, true);
    this.#dv.setUint32(at + 4, type, true);
    const size = recordBytes(payload);
    this.bytes = at + size;
    this.count += 1;
    this.sizes.push(size);
  }

  /**
   * Encodes `text` as UTF-8 once, straight into the outbox (no Buffer.byteLength pass first): room
   * for the worst case (3 bytes per UTF-16 unit) is made, then the size is checked after writing.
   * Nothing is committed when it is too large. With `tag` (a structured record's JSON form), the
   * payload is that byte then the text, and a payload over maxMessageSize returns false instead
   * of throwing (the caller then writes the v8 form).
   */
  #writeString(text: string, type: RecordType, tag = -1): boolean {
    const at = this.bytes;
    const lead = tag < 0 ? 0 : 1;
    const worst = lead + text.length * 3;
    if (worst > this.maxMessage) {
      // Large text: measure first rather than reserve up to 3x its size.
      const payload = lead + Buffer.byteLength(text);
      if (lead === 1 && payload > this.maxMessage) return false;
      this.#reserve(payload);
      if (lead === 1) this.buf[at + kRecordHeader] = tag;
      this.buf.write(text, at + kRecordHeader + lead, payload - lead, 'utf8');
      this.#commit(at, payload, type);
      return true;
    }
    this.#room(kRecordHeader + worst + 7);
    if (lead === 1) this.buf[at + kRecordHeader] = tag;
    const payload = lead + this.buf.write(text, at + kRecordHeader + lead, 'utf8');
    this.#commit(at, payload, type);
    return true;
  }

  #writeBytes(bytes: Uint8Array, type: RecordType): void {
    const at = this.bytes;
    if (bytes.byteLength > this.maxMessage || at + recordBytes(bytes.byteLength) > this.buf.length)
      this.#reserve(bytes.byteLength);
    this.buf.set(bytes, at + kRecordHeader);
    this.#commit(at, bytes.byteLength, type);
  }
}
