/** The async seed's utilities (`async.util`), ported: see docs/channels.md. */
export { AsyncQueue, type WaitOptions } from './async-queue';
export { ReadOnlyError } from './read-only';
export { SyncQueue } from './sync-queue';
export { HSCondition } from './hs-condition';
export { DummyLock, type LockLike } from './dummy-lock';
export { cpuCount } from './cpu-count';
export { Fifo } from './fifo';
export { parseWait, type ParsedWait } from './wait-options';
