/**
 * pcall's use of the handle codec (src/wire/handle-codec.ts): arguments and results travel as
 * envelopes `{ value, handles }` with the handles out of band, so user data that looks like a
 * reference is never reopened. A child must know every handle type before it can reopen
 * references, so decoding loads the modules that register handle types first (only when the
 * envelope has handles, so children that receive no handle never load the native addon).
 */
import {
  decodeHandles as decodeCore,
  encodeHandles,
  envelopeHasHandles,
  type HandleEnvelope,
} from '../wire/handle-codec';

export { encodeHandles, type HandleEnvelope };

let handleTypesLoaded = false;

/** The value of an envelope with its handles reopened, each pushed onto `opened` (to close). */
export function decodeHandles(envelope: unknown, opened: unknown[] = []): unknown {
  if (!envelopeHasHandles(envelope)) return decodeCore(envelope, opened);
  if (!handleTypesLoaded) {
    // Lazy on purpose (no native addon in a child that never receives a handle). Each module
    // registers its handle type when loaded (registerHandleType).
    /* eslint-disable @typescript-eslint/no-require-imports */
    require('../shared-memory/shared-memory');
    require('../lock/mutex');
    require('../queue/queue');
    require('../shared/shared-value');
    require('../shared/shared-array');
    require('../lockable/lockable');
    /* eslint-enable @typescript-eslint/no-require-imports */
    handleTypesLoaded = true;
  }
  return decodeCore(envelope, opened);
}
