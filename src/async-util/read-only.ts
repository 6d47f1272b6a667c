/**
 * `ReadOnlyError`: the seed's `async.util.ReadOnly` under a conventional JS name. It is the very
 * same class as `ReadOnly` (src/errors.ts, code SHMSYNC_QUEUE_CLOSED): writing to a closed
 * channel or a non-writable AsyncQueue/SyncQueue throws what an ended ShmQueue throws, so one
 * `instanceof` or one code check covers in-process and shared channels alike. Kept out of
 * errors.ts, whose exports are one class per code.
 */
export { ReadOnly as ReadOnlyError } from '../errors';
