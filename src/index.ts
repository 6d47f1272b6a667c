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
export { Pcall, pcall, kKillGraceMs, type PcallOptions, type PcallTargets } from './pcall/pcall';
export { ProcessPool, type ProcessPoolOptions } from './pcall/process-pool';
export { ChildProcessException, RemoteException, PcallTimeoutError, type ChildRef, type ChildProcessExceptionOptions } from './pcall/errors';
export { registerErrorClass } from './pcall/error-codec';
export { type ModuleTarget, type Target as PcallTarget } from './pcall/target';
export { type PcallMode, type PcallLog } from './pcall/options';
