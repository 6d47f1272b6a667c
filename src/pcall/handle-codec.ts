/**
 * pcall's use of the handle codec (src/core/handle-codec.ts): a child must know every handle
 * type before it can reopen references, so decoding loads the package entry first (only when a
 * marker is present, so children that receive no handle never load the native addon).
 */
import { decodeHandles as decodeCore, encodeHandles, hasHandleMarkers, kHandleMarker } from '../core/handle-codec';

export { encodeHandles, kHandleMarker };

let handleTypesLoaded = false;

/** Reopens every handle in `value`, pushing each onto `opened` so the caller can close it. */
export function decodeHandles(value: unknown, opened: unknown[] = []): unknown {
  if (!hasHandleMarkers(value)) return value;
  if (!handleTypesLoaded) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require('../index');
    handleTypesLoaded = true;
  }
  return decodeCore(value, opened);
}
