/**
 * pcall's use of the handle codec (src/core/handle-codec.ts): arguments and results travel as
 * envelopes `{ value, handles }` with the handles out of band, so user data that looks like a
 * reference is never reopened. A child must know every handle type before it can reopen
 * references, so decoding loads the package entry first (only when the envelope has handles, so
 * children that receive no handle never load the native addon).
 */
import { decodeHandles as decodeCore, encodeHandles, envelopeHasHandles, type HandleEnvelope } from '../core/handle-codec';

export { encodeHandles, type HandleEnvelope };

let handleTypesLoaded = false;

/** The value of an envelope with its handles reopened, each pushed onto `opened` (to close). */
export function decodeHandles(envelope: unknown, opened: unknown[] = []): unknown {
  if (!envelopeHasHandles(envelope)) return decodeCore(envelope, opened);
  if (!handleTypesLoaded) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require('../index');
    handleTypesLoaded = true;
  }
  return decodeCore(envelope, opened);
}
