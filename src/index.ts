/**
 * shmsync public API: re-exports only, each name listed (no `export *`), and each documented in
 * docs/api.md - test/01-public-surface.ts compares the two.
 */
export {
  ShmsyncError,
  type ShmsyncErrorOptions,
  NotFoundError,
  ExistsError,
  KindMismatchError,
  VersionMismatchError,
  SizeMismatchError,
  CorruptError,
  PermissionError,
  SystemError,
  TimeoutError,
  NotOwnerError,
  OwnerDeadError,
  NotRecoverableError,
  DeadlockError,
  SyncReentryError,
  ClosedError,
  TooLargeError,
  BusyError,
  OwnerTableMismatchError,
  NoSpaceError,
  PolicyMismatchError,
  NoExternalBufferError,
  ReadOnly,
  CodecError,
  AbortError,
  ArgumentTypeError,
  ArgumentValueError,
  OutOfRangeError,
  InvalidNameError,
  errorClassFor,
} from './errors';
export { SharedMemory, type SharedMemoryOptions, type CreateMode } from './shared-memory/shared-memory';
export { gcSegments, setHandoffLease, type GcResult, type Lifetime } from './addon/lifetime';
export { reviveHandle, handleReviver, isHandleRef, type HandleRef } from './wire/handle-ref';
export {
  encodeHandles,
  decodeHandles,
  type HandleEnvelope,
  type HandleEntry,
  type HandleStep,
} from './wire/handle-codec';
export {
  Mutex,
  MutexGuard,
  type MutexOptions,
  type MutexInfo,
  type AcquireOptions,
  type AcquireSyncOptions,
  type OwnerDeathPolicy,
  type ReentryMode,
} from './lock/mutex';
export {
  RwLock,
  RwLockGuard,
  type RwLockOptions,
  type RwAcquireOptions,
  type RwAcquireSyncOptions,
  type RwLockInfo,
  type RwMode,
} from './rwlock/rw-lock';
export {
  LockManager,
  locks,
  type Lock,
  type LockMode,
  type LockOptions,
  type LockInfo,
  type LockManagerSnapshot,
  type LockManagerOptions,
  type LockGrantedCallback,
} from './web-locks/lock-manager';
export { Pcall, pcall, kKillGraceMs, type PcallOptions, type PcallTargets } from './pcall/pcall';
export { ProcessPool, type ProcessPoolOptions } from './pcall/process-pool';
export {
  ChildProcessException,
  RemoteException,
  PcallTimeoutError,
  PcallStartTimeoutError,
  PcallTargetError,
  type ChildRef,
  type ChildProcessExceptionOptions,
} from './pcall/errors';
export { registerErrorClass } from './pcall/error-codec';
export { type ModuleTarget, type MethodTarget, type Target as PcallTarget } from './pcall/target';
export { type PcallMode, type PcallLog } from './pcall/options';
export {
  ShmQueue,
  type ShmQueueOptions,
  type QueueInfo,
  type PutOptions,
  type GetOptions,
  type SyncOptions,
  type DrainOptions,
  type DrainWaitOptions,
  type DrainVisitor,
} from './queue/queue';
export type { Codec, CodecName } from './wire/codec';
export { SharedValue, type SharedValueType, type SharedValueOf, type SharedValueOptions } from './shared/shared-value';
export {
  SharedArray,
  type SharedArrayType,
  type SharedArrayTypes,
  type SharedArrayOptions,
  type SegmentOptions,
} from './shared/shared-array';
export { Lockable, type LockableOptions, type LockableRegistration } from './lockable/lockable';
export { locked, lockable, type LockableDecorator } from './lockable/decorators';
export { lockOf, attachLock, type LockSource } from './lockable/instance-lock';
export { type LockingMethodDecorator, type LockingClassDecorator } from './lockable/decorator-types';
export { diagnosticsChannels } from './diagnostics';
// ---- Redis backend for locks (issue 15): src/redis/, src/lock/lock-backend.ts, docs/redis.md ----
export { LockLostError, UnsupportedError, BackendError } from './errors';
export { createRedisBackend, RedisBackend, type RedisBackendOptions } from './redis';
export type { LockBackend, RemoteMode, RemoteEntry, RemoteLockInfo } from './lock/lock-backend';
// ---- Redis queue (issue 15): src/redis/queue*.ts, docs/redis-queue.md ----
export { ReclaimedError } from './errors';
export {
  RedisQueue,
  type RedisQueueOptions,
  type RedisMessage,
  type RedisQueueInfo,
  type RedisPutOptions,
  type RedisGetOptions,
  type RedisDrainOptions,
} from './redis/queue';
// ---- channels and the async seed's utilities (issue 11, channel part; docs/channels.md) ----
export {
  ReadOnlyError,
  AsyncQueue,
  SyncQueue,
  HSCondition,
  DummyLock,
  cpuCount,
  type WaitOptions,
  type LockLike,
} from './async-util';
export {
  Channel,
  SerialChannel,
  Writer,
  ChannelWriter,
  CallbackChannelWriter,
  Reader,
  ChannelReader,
  CallbackChannelReader,
  IteratorReader,
  mkchannel,
  type ChannelOptions,
  type MkchannelOptions,
  type PreWriteCallback,
  type PreReadCallback,
  type PostReadCallback,
  type Maxsize,
  type SharedOption,
  type SharedQueueLike,
  type QueueWaitOptions,
  type ToReadableOptions,
  type ToWritableOptions,
} from './channel';

// ---- pool (issue 11: Graph, Task, Pool / ThreadPool; docs/pools.md) ----
export { Graph, Node } from './pool/graph';
export {
  Task,
  IteratorTask,
  IteratorThreadTask,
  ChannelTask,
  ChannelThreadTask,
  type TaskFn,
  type TaskOptions,
} from './pool/task';
export { Pool, ThreadPool, type PoolOptions } from './pool/pool';
export { PoolReader } from './pool/pool-reader';
export { GraphCycleError, TaskRegisteredError } from './errors';

// ---- thread (issue 11, async seed `async.thread`; docs/threads.md) ----
export {
  WorkerThread,
  WorkerQueue,
  TerminatableThread,
  terminateThreads,
  withTerminateThreads,
  ThreadExitedError,
  StopProcessing,
  type WorkerThreadOptions,
  type ThreadOptions,
  type StopAndJoinOptions,
  type ThreadEnd,
  type TerminateThreadsOptions,
  type ThreadEndReason,
  type ThreadExitedErrorOptions,
  type ThreadContext,
  type ThreadTarget,
} from './thread';

// Actors and relays (issue 12, ktz.multiprocessing seed): src/actor/, docs/actors.md.
export { Actor, type LogLevel as ActorLogLevel } from './actor/actor';
export { ActorRef, type ActorSpec, type ActorMode, type ActorExit } from './actor/actor-ref';
export { Relay, Handler, type RelayOptions, type RelayMaxsize, type ConnectOptions } from './actor/relay';
export { Control, type ControlValue } from './actor/control';
export { Sink as ActorSink } from './actor/sink';
export { RelayError, ActorExitError, type ActorFailureInfo } from './actor/errors';
export { type ActorLogRecord, type ActorLogger, type LoggerLike } from './actor/logger';
