/**
 * Message codecs for ShmQueue. Each record carries the codec it was written with (its type
 * byte), so consumers decode what producers wrote even when their handles chose differently;
 * custom codecs must agree on both sides.
 *
 * Handles (SharedMemory, Mutex, ShmQueue, shared values, Lockable locks) travel as references
 * (`toJSON()` -> `{ $shmsync, name }`) in an out-of-band side table (handle-codec.ts), and are
 * reopened by the receiver. A record without handles is plain JSON / plain v8 serialisation and
 * is decoded without looking for references; a record with handles is marked by its first byte:
 * - json: `\x1e` + the JSON of `{ handles, value }` (JSON text never starts with `\x1e`);
 * - structured: `0x01` + v8 serialisation of `{ handles, value }` (v8's starts with `0xFF`).
 *
 * A structured record has a third form: `0x02` + the JSON text of a value that JSON carries
 * exactly as structured clone would (json-exact.ts: plain data, no handles since a handle is never
 * a plain object). Several times cheaper to encode and decode than v8 for small messages, and the
 * reader gets a value indistinguishable from a v8 round trip. So the first byte of a structured
 * record says: 0x01 v8 with handles, 0x02 JSON, 0xFF plain v8. Writers and readers of one library
 * version agree on this; mixing library versions on one queue is not supported.
 */
import * as v8 from 'node:v8';
import { CodecError } from '../errors';
import { typeError, validateOneOf } from '../validate';
import { jsonExact } from './json-exact';
import {
  decodeHandles,
  encodeHandles,
  parseWithHandles,
  stringifyWithHandles,
  type HandleEnvelope,
} from './handle-codec';

/** First byte of a structured record that carries handles (v8 serialisation starts with 0xFF). */
const kStructuredEnvelope = 0x01;
/** First byte of a structured record in JSON form (JSON text follows, UTF-8). */
export const kStructuredJson = 0x02;

/**
 * Encodes a 'json' record's text (handles out of band). A value JSON cannot carry (a throwing
 * toJSON, a BigInt, a cycle; or undefined, a function, a symbol) is a CodecError.
 */
export function encodeJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = stringifyWithHandles(value);
  } catch (err) {
    throw encodeError('as JSON', err);
  }
  if (text === undefined) throw new CodecError('value cannot be encoded as JSON (undefined, a function or a symbol)');
  return text;
}

/**
 * The JSON text of a 'structured' record's JSON form (to be written after kStructuredJson), or
 * undefined when the value needs v8 (json-exact.ts). No user code runs for an accepted value.
 */
export function structuredJsonText(value: unknown): string | undefined {
  return jsonExact(value) ? JSON.stringify(value) : undefined;
}

/**
 * Encodes a 'structured' record's payload in v8 form (handles out of band); the Outbox tries
 * structuredJsonText first. A value structured clone refuses (DataCloneError) is a CodecError.
 */
export function encodeStructured(value: unknown): Buffer {
  try {
    return serializeStructured(value);
  } catch (err) {
    throw encodeError('by structured clone', err);
  }
}

function serializeStructured(value: unknown): Buffer {
  const envelope = encodeHandles(value);
  if (envelope.handles.length === 0) return v8.serialize(value);
  const body = v8.serialize(envelope);
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = kStructuredEnvelope;
  body.copy(out, 1);
  return out;
}

function decodeStructured(bytes: Buffer): unknown {
  if (bytes.length > 0 && bytes[0] === kStructuredJson) return JSON.parse(bytes.toString('utf8', 1));
  // deserializeOwned: typed arrays in the message own their bytes (never views of the inbox).
  if (bytes.length > 0 && bytes[0] === kStructuredEnvelope)
    return decodeHandles(deserializeOwned(bytes.subarray(1)) as HandleEnvelope);
  return deserializeOwned(bytes);
}

export const enum RecordType {
  Raw = 0,
  String = 1,
  Json = 2,
  Structured = 3,
  Custom = 4,
}

export type CodecName = 'raw' | 'string' | 'json' | 'structured';

/** A user codec: both ends of a queue must use the same one. */
export interface Codec<T = unknown> {
  encode(value: T): Uint8Array;
  decode(bytes: Buffer): T;
}

/** A 'custom' record's payload: the codec's bytes; a throw or anything but bytes is a CodecError. */
export function encodeCustom(codec: Codec, value: unknown): Uint8Array {
  let bytes: unknown;
  try {
    bytes = codec.encode(value);
  } catch (err) {
    throw new CodecError(`custom codec failed to encode: ${(err as Error).message}`, { cause: err });
  }
  if (!(bytes instanceof Uint8Array)) throw new CodecError('custom codec encode() must return a Uint8Array');
  return bytes;
}

const kCodecNames: readonly CodecName[] = ['raw', 'string', 'json', 'structured'];

/** A queue's `codec` option: a CodecName, or an object with encode and decode functions. */
export function validateCodec(name: string, value: unknown): asserts value is CodecName | Codec {
  if (typeof value === 'string') validateOneOf(name, value, kCodecNames);
  else if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Codec).encode !== 'function' ||
    typeof (value as Codec).decode !== 'function'
  ) {
    throw typeError(name, "'raw', 'string', 'json', 'structured' or { encode, decode }", value);
  }
}

/**
 * Structured-clone decoding whose typed arrays and Buffers own their memory. Node's default
 * deserializer returns them as views of the input buffer when aligned; the input here is the
 * queue handle's inbox, which the next get() overwrites (and a view of it that the user transfers
 * would detach the inbox). Every host object is copied into its own ArrayBuffer instead, so a
 * decoded message never aliases anything and each of its typed arrays can be transferred alone.
 */
const baseReadHostObject = (v8.DefaultDeserializer.prototype as unknown as { _readHostObject(): unknown })
  ._readHostObject;
class OwningDeserializer extends v8.DefaultDeserializer {
  /** Node's hook for host objects (typed arrays, Buffers, DataViews); not in @types/node. */
  _readHostObject(): unknown {
    const view = baseReadHostObject.call(this) as ArrayBufferView;
    const own = new Uint8Array(view.byteLength);
    own.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    if (view instanceof DataView) return new DataView(own.buffer);
    if (Buffer.isBuffer(view)) return Buffer.from(own.buffer, 0, own.byteLength);
    const Ctor = view.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;
    const perElement = (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    return new Ctor(own.buffer, 0, view.byteLength / perElement);
  }
}

function deserializeOwned(bytes: Buffer): unknown {
  const d = new OwningDeserializer(bytes);
  d.readHeader();
  return d.readValue();
}

/**
 * A copy of buf[start, end) that shares memory with nothing else we hold. Small copies come from
 * Node's Buffer pool like any `Buffer.allocUnsafe` (cheap; the pool is never handed to anyone
 * else and Node marks it untransferable, so a transfer list naming it copies or throws instead
 * of detaching it). TypedArray#set from a plain Uint8Array view: measured ~1.5-2x faster than
 * Buffer#copy for small messages (Node 20).
 */
/** Largest decoded copy taken from the Buffer pool. */
const kPooledCopyMax = 4096;

function ownedCopy(buf: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  // Large copies get an ArrayBuffer of their own, so they transfer; small ones come from the
  // Buffer pool (untransferable: a transfer list naming it copies or throws). A fixed bound:
  // Buffer.poolSize grew from 8 KiB to 64 KiB in Node 24.
  const out = n > kPooledCopyMax ? Buffer.from(new ArrayBuffer(n)) : Buffer.allocUnsafe(n);
  out.set(new Uint8Array(buf.buffer, buf.byteOffset + start, n));
  return out;
}

/**
 * Decodes one record payload according to the type it was written with. Any failure (a payload
 * corrupted in shared memory, a custom decode that throws) is a CodecError with the cause.
 *
 * `buf` is reused staging memory: whatever is returned owns its bytes (copies), for every codec,
 * so later gets never change a message already returned and transferring any part of it
 * (`postMessage(x, [x.buffer])`) detaches nothing of ours.
 */
export function decodeRecord(type: number, buf: Buffer, start: number, end: number, custom: Codec | null): unknown {
  switch (type) {
    case RecordType.Raw:
      return ownedCopy(buf, start, end);
    case RecordType.String:
      return buf.toString('utf8', start, end);
    case RecordType.Json: {
      const text = buf.toString('utf8', start, end);
      return decoding('JSON', () => parseWithHandles(text));
    }
    case RecordType.Structured:
      return decoding('structured clone', () => decodeStructured(buf.subarray(start, end)));
    case RecordType.Custom:
      if (custom === null)
        throw new CodecError(
          'a message was written with a custom codec; open the queue with the same codec to read it',
        );
      // The codec may return (views of) the bytes it is given: give it a copy it may keep.
      return decoding('custom codec', () => custom.decode(ownedCopy(buf, start, end)));
    default:
      throw new CodecError(`unknown record type ${type}`);
  }
}

function encodeError(how: string, err: unknown): CodecError {
  return new CodecError(`value cannot be encoded ${how}: ${(err as Error).message}`, { cause: err });
}

function decoding<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw new CodecError(`a message could not be decoded (${what}): ${(err as Error).message}`, { cause: err });
  }
}
