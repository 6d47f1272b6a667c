/**
 * Message payloads of the Redis queue: one stream field whose value is [type byte][payload], the
 * type being the codec the producer used (src/wire/codec.ts RecordType), so consumers decode what
 * producers wrote even when their handles chose a different named codec (as in ShmQueue).
 * Runs on the calling JS thread. A payload read from Redis is untrusted: its type byte is checked
 * and any decode failure is a CodecError for that message only.
 */
import { CodecError, TooLargeError } from '../errors';
import { typeError } from '../validate';
import {
  RecordType,
  decodeRecord,
  encodeCustom,
  encodeJson,
  encodeStructured,
  type Codec,
  type CodecName,
} from '../wire/codec';

/** Encodes one value for XADD. Throws (CodecError, TooLargeError, argument errors) before anything is sent. */
export function encodeMessage(codec: CodecName | Codec, value: unknown, maxMessageSize: number): Buffer {
  let type: RecordType;
  let body: Uint8Array | string;
  if (codec === 'string') {
    if (typeof value !== 'string') throw typeError('value', "a string (codec 'string')", value);
    type = RecordType.String;
    body = value;
  } else if (codec === 'json') {
    type = RecordType.Json;
    body = encodeJson(value);
  } else if (codec === 'raw') {
    if (!(value instanceof Uint8Array)) throw typeError('value', "a Buffer or Uint8Array (codec 'raw')", value);
    type = RecordType.Raw;
    body = value;
  } else if (codec === 'structured') {
    type = RecordType.Structured;
    body = encodeStructured(value);
  } else {
    type = RecordType.Custom;
    body = encodeCustom(codec, value);
  }
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > maxMessageSize)
    throw new TooLargeError(`message of ${size} bytes exceeds maxMessageSize ${maxMessageSize}`);
  const out = Buffer.allocUnsafe(size + 1);
  out[0] = type;
  if (typeof body === 'string') out.write(body, 1, 'utf8');
  else out.set(body, 1);
  return out;
}

/** Decodes one stream field value (a Buffer from Redis). */
export function decodeMessage(payload: unknown, custom: Codec | null): unknown {
  if (!Buffer.isBuffer(payload) || payload.length < 1)
    throw new CodecError('a message has no payload (not written by shmsync?)');
  return decodeRecord(payload[0], payload, 1, payload.length, custom);
}
