/** shmsync public API (re-exports only). */
export * from './errors';
export { SharedMemory, type SharedMemoryOptions, type CreateMode } from './core/shared-memory';
export { reviveHandle, handleReviver, isHandleRef, type HandleRef } from './core/handle-ref';
export {
  Mutex,
  MutexGuard,
  type MutexOptions,
  type MutexInfo,
  type AcquireOptions,
  type AcquireSyncOptions,
  type OwnerDeathPolicy,
} from './core/mutex';
