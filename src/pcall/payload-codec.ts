/**
 * The bytes of a call's work and result. Values travel with v8 structured-clone semantics
 * (`v8.serialize`); a value that JSON carries exactly - finite numbers (not -0), strings,
 * booleans, null, dense plain arrays and plain objects, no shared or cyclic references, small
 * (wire/json-exact.ts decides, for pcall and the queue's 'structured' codec) - travels as JSON
 * text instead, which is several times cheaper to encode and decode for the small values of a
 * typical call (issue 10: per-call cost of the warm pool). The receiver tells them
 * apart by the first byte: v8's serialization always starts with its version tag 0xFF; JSON
 * payloads start with kJsonTag. Either process runs this.
 */
import * as v8 from 'node:v8';
import { jsonExact } from '../wire/json-exact';

/** First byte of a JSON payload (never the first byte of v8.serialize output, 0xFF). */
const kJsonTag = 0x01;

/** Encodes `value`: JSON when exact, else v8.serialize (throws a DataCloneError for uncloneables). */
export function encodePayload(value: unknown): Buffer {
  if (jsonExact(value)) {
    const text = JSON.stringify(value);
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
    bytes[0] = kJsonTag;
    bytes.write(text, 1);
    return bytes;
  }
  return v8.serialize(value);
}

/** Decodes a payload of encodePayload(); throws on bytes that are neither form. */
export function decodePayload(bytes: Uint8Array): unknown {
  if (bytes.byteLength > 0 && bytes[0] === kJsonTag) {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1);
    return JSON.parse(view.toString('utf8'));
  }
  return v8.deserialize(bytes);
}
