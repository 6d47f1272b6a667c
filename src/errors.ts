/**
 * Every error shmsync throws, in one place.
 *
 * Two kinds (see docs/errors.md):
 * - operational failures: subclasses of {@link ShmsyncError}, each with a stable `code`
 *   (`SHMSYNC_*`) that never changes within a major version;
 * - programmer mistakes: `TypeError` / `RangeError` subclasses with a `SHMSYNC_INVALID_*` /
 *   `SHMSYNC_OUT_OF_RANGE` code, thrown by src/validate.ts before any native call.
 *
 * `instanceof` works across duplicate installs of the package and for errors rebuilt after
 * crossing a process boundary: classes test a `Symbol.for` brand, or else the `code`.
 */

const kBrand = Symbol.for('shmsync.error');

export interface ShmsyncErrorOptions {
  cause?: unknown;
  errno?: number;
  syscall?: string;
}

function hasCode(value: unknown): value is { code: unknown } {
  return typeof value === 'object' && value !== null && 'code' in value;
}

// Codes of the programmer-mistake classes below: branded too, but never a ShmsyncError.
const kArgumentCodes: ReadonlySet<string> = new Set([
  'SHMSYNC_INVALID_ARG_TYPE',
  'SHMSYNC_INVALID_ARG_VALUE',
  'SHMSYNC_OUT_OF_RANGE',
  'SHMSYNC_INVALID_NAME',
]);

/** Base class of every operational shmsync error. */
export class ShmsyncError extends Error {
  /** Stable machine-readable code, e.g. `SHMSYNC_TIMEOUT`. */
  readonly code: string;
  /** errno of the failing syscall, when one failed. */
  declare errno?: number;
  /** Name of the failing syscall, when one failed. */
  declare syscall?: string;
  /** The code every instance of this class carries (undefined on the base class). */
  static readonly code: string | undefined = undefined;

  constructor(message: string, code: string, options: ShmsyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.errno !== undefined && options.errno !== 0) this.errno = options.errno;
    if (options.syscall) this.syscall = options.syscall;
    Object.defineProperty(this, kBrand, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!hasCode(value) || typeof value.code !== 'string') return false;
    const own = (this as { code?: string }).code;
    if (own !== undefined) return value.code === own;
    if (kArgumentCodes.has(value.code)) return false;
    return (value as Record<symbol, unknown>)[kBrand] === true || value.code.startsWith('SHMSYNC_');
  }
}

type ErrorClass = {
  new (message?: string, options?: ShmsyncErrorOptions): ShmsyncError;
  readonly code: string;
};

function defineError(name: string, code: string, defaultMessage: string): ErrorClass {
  // A named class per code; the computed-name object keeps `class.name` and stack names right.
  const cls = {
    [name]: class extends ShmsyncError {
      static override readonly code = code;
      constructor(message: string = defaultMessage, options: ShmsyncErrorOptions = {}) {
        super(message, code, options);
      }
    },
  }[name];
  return cls as unknown as ErrorClass;
}

/** The named segment or object does not exist. */
export const NotFoundError = defineError('NotFoundError', 'SHMSYNC_NOT_FOUND', 'not found');
export type NotFoundError = ShmsyncError;
/** `create: 'create'` and a segment of that name exists. */
export const ExistsError = defineError('ExistsError', 'SHMSYNC_EXISTS', 'already exists');
export type ExistsError = ShmsyncError;
/** The segment holds another kind of shmsync object. */
export const KindMismatchError = defineError('KindMismatchError', 'SHMSYNC_KIND_MISMATCH', 'kind mismatch');
export type KindMismatchError = ShmsyncError;
/** The segment was written by an incompatible layout version. */
export const VersionMismatchError = defineError(
  'VersionMismatchError',
  'SHMSYNC_VERSION_MISMATCH',
  'layout version mismatch',
);
export type VersionMismatchError = ShmsyncError;
/** The segment exists with another size than requested. */
export const SizeMismatchError = defineError('SizeMismatchError', 'SHMSYNC_SIZE_MISMATCH', 'size mismatch');
export type SizeMismatchError = ShmsyncError;
/** Shared memory failed validation (truncated, bad magic, out-of-bounds index). */
export const CorruptError = defineError('CorruptError', 'SHMSYNC_CORRUPT', 'shared memory is corrupt');
export type CorruptError = ShmsyncError;
/** The operating system refused access. */
export const PermissionError = defineError('PermissionError', 'SHMSYNC_PERMISSION', 'permission denied');
export type PermissionError = ShmsyncError;
/** Any other system call failure; see `errno` and `syscall`. */
export const SystemError = defineError('SystemError', 'SHMSYNC_SYSTEM', 'system call failed');
export type SystemError = ShmsyncError;
/** A wait with a `timeout` elapsed. */
export const TimeoutError = defineError('TimeoutError', 'SHMSYNC_TIMEOUT', 'timed out');
export type TimeoutError = ShmsyncError;
/** Release by a caller that does not hold the lock, or of an unlocked lock. */
export const NotOwnerError = defineError('NotOwnerError', 'SHMSYNC_NOT_OWNER', 'lock is not held by the caller');
export type NotOwnerError = ShmsyncError;
/** Strict policy: the lock was acquired but its previous holder died holding it. */
export const OwnerDeadError = defineError('OwnerDeadError', 'SHMSYNC_OWNER_DEAD', 'previous holder died');
export type OwnerDeadError = ShmsyncError;
/** Strict policy: a dead holder's state was never marked consistent; the lock is unusable. */
export const NotRecoverableError = defineError(
  'NotRecoverableError',
  'SHMSYNC_NOT_RECOVERABLE',
  'lock is not recoverable',
);
export type NotRecoverableError = ShmsyncError;
/** A blocking wait that could only deadlock was refused. */
export const DeadlockError = defineError('DeadlockError', 'SHMSYNC_DEADLOCK', 'would deadlock');
export type DeadlockError = ShmsyncError;
/**
 * A blocking-API acquisition (`acquireSync`, `tryAcquire`, `withLockSync`, a non-`async` locked
 * method) would re-enter a hold its thread took with the blocking API in an earlier tick: that
 * hold is kept across an `await` (or a callback), and re-entering would let another task of the
 * thread in. Use `acquire()`/`withLock` (or an `async` locked method) to hold across `await`.
 */
export const SyncReentryError = defineError(
  'SyncReentryError',
  'SHMSYNC_SYNC_REENTRY',
  'blocking-API hold re-entered from another tick',
);
export type SyncReentryError = ShmsyncError;
/** The handle was closed. */
export const ClosedError = defineError('ClosedError', 'SHMSYNC_CLOSED', 'handle is closed');
export type ClosedError = ShmsyncError;
/** A message exceeds what the queue accepts. */
export const TooLargeError = defineError('TooLargeError', 'SHMSYNC_TOO_LARGE', 'message too large');
export type TooLargeError = ShmsyncError;
/** The operation conflicts with concurrent activity (e.g. a create/unlink storm). */
export const BusyError = defineError('BusyError', 'SHMSYNC_BUSY', 'busy');
export type BusyError = ShmsyncError;
/**
 * A lock or queue was created under another owner table (another user, or another
 * SHMSYNC_OWNER_TABLE): its users could not judge each other's liveness, so it is refused.
 */
export const OwnerTableMismatchError = defineError(
  'OwnerTableMismatchError',
  'SHMSYNC_OWNER_TABLE_MISMATCH',
  'owner table mismatch',
);
export type OwnerTableMismatchError = ShmsyncError;
/** `/dev/shm` cannot hold a new segment (ENOSPC while reserving its pages): nothing was created. */
export const NoSpaceError = defineError('NoSpaceError', 'SHMSYNC_NO_SPACE', 'no space left in /dev/shm');
export type NoSpaceError = ShmsyncError;
/** A mutex was opened asking for another onOwnerDeath policy than the one it was created with. */
export const PolicyMismatchError = defineError(
  'PolicyMismatchError',
  'SHMSYNC_POLICY_MISMATCH',
  'owner-death policy mismatch',
);
export type PolicyMismatchError = ShmsyncError;
/** The runtime forbids external ArrayBuffers; use `read()`/`write()` copies instead. */
export const NoExternalBufferError = defineError(
  'NoExternalBufferError',
  'SHMSYNC_NO_EXTERNAL_BUFFER',
  'external buffers are not allowed in this runtime',
);
export type NoExternalBufferError = ShmsyncError;

/**
 * The queue's stream has ended (`queue.end()`, seed `set_writable(False)` / `ReadOnly`): writers
 * get it at once; readers get it once they have drained every message left. The code keeps its
 * name.
 */
export const ReadOnly = defineError('ReadOnly', 'SHMSYNC_QUEUE_CLOSED', 'the queue has ended');
export type ReadOnly = ShmsyncError;
/** A value could not be encoded or decoded by the queue's codec. */
export const CodecError = defineError('CodecError', 'SHMSYNC_CODEC', 'codec failure');
export type CodecError = ShmsyncError;

// ---- Remote lock backends (issue 15: src/lock/lock-backend.ts, src/redis/) ----------------------
/**
 * A hold on a remote backend (Redis) ended without a release: its lease ran out (partition,
 * pause, renewal failures) or another request stole it. The guard's `signal` aborts with it.
 */
export const LockLostError = defineError('LockLostError', 'SHMSYNC_LOCK_LOST', 'the lock was lost');
export type LockLostError = ShmsyncError;
/** The operation does not exist on this backend (e.g. the blocking API on Redis). */
export const UnsupportedError = defineError('UnsupportedError', 'SHMSYNC_UNSUPPORTED', 'not supported');
export type UnsupportedError = ShmsyncError;
/** The remote backend failed (connection lost for too long, script error); see `cause`. */
export const BackendError = defineError('BackendError', 'SHMSYNC_BACKEND', 'the lock backend failed');
export type BackendError = ShmsyncError;

/** Rejection reason of a wait cancelled by an AbortSignal (`name: 'AbortError'`). */
export class AbortError extends ShmsyncError {
  static override readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options: ShmsyncErrorOptions = {}) {
    super(message, 'ABORT_ERR', options);
  }
  override get name(): string {
    return 'AbortError';
  }
}

// ---- programmer mistakes -------------------------------------------------------------------

function brandArgumentError(err: Error, code: string): void {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(err, kBrand, { value: true });
}

function argumentHasInstance(base: abstract new (...args: never[]) => unknown, code: string, value: unknown): boolean {
  if (value instanceof base && hasCode(value) && value.code === code) return true;
  return hasCode(value) && value.code === code;
}

/** An argument has the wrong type. */
export class ArgumentTypeError extends TypeError {
  declare readonly code: 'SHMSYNC_INVALID_ARG_TYPE';
  constructor(message: string) {
    super(message);
    brandArgumentError(this, 'SHMSYNC_INVALID_ARG_TYPE');
  }
  override get name(): string {
    return 'TypeError';
  }
  static override [Symbol.hasInstance](v: unknown): boolean {
    return argumentHasInstance(TypeError, 'SHMSYNC_INVALID_ARG_TYPE', v);
  }
}

/** An argument has the right type but an unacceptable value (e.g. a bad name). */
export class ArgumentValueError extends TypeError {
  declare readonly code: 'SHMSYNC_INVALID_ARG_VALUE';
  constructor(message: string) {
    super(message);
    brandArgumentError(this, 'SHMSYNC_INVALID_ARG_VALUE');
  }
  override get name(): string {
    return 'TypeError';
  }
  static override [Symbol.hasInstance](v: unknown): boolean {
    return argumentHasInstance(TypeError, 'SHMSYNC_INVALID_ARG_VALUE', v);
  }
}

/** A number is outside its accepted range. */
export class OutOfRangeError extends RangeError {
  declare readonly code: 'SHMSYNC_OUT_OF_RANGE';
  constructor(message: string) {
    super(message);
    brandArgumentError(this, 'SHMSYNC_OUT_OF_RANGE');
  }
  override get name(): string {
    return 'RangeError';
  }
  static override [Symbol.hasInstance](v: unknown): boolean {
    return argumentHasInstance(RangeError, 'SHMSYNC_OUT_OF_RANGE', v);
  }
}

/** A segment name is empty, too long, or contains `/` or NUL. */
export class InvalidNameError extends TypeError {
  declare readonly code: 'SHMSYNC_INVALID_NAME';
  constructor(message: string) {
    super(message);
    brandArgumentError(this, 'SHMSYNC_INVALID_NAME');
  }
  override get name(): string {
    return 'TypeError';
  }
  static override [Symbol.hasInstance](v: unknown): boolean {
    return argumentHasInstance(TypeError, 'SHMSYNC_INVALID_NAME', v);
  }
}

const byCode = new Map<string, ErrorClass>(
  [
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
    NoExternalBufferError,
    ReadOnly,
    CodecError,
    OwnerTableMismatchError,
    PolicyMismatchError,
    NoSpaceError,
    LockLostError,
    UnsupportedError,
    BackendError,
  ].map((cls) => [cls.code, cls]),
);

/** Error class for a code (used by the native error mapper and when rebuilding errors). */
export function errorClassFor(code: string): ErrorClass | undefined {
  return byCode.get(code);
}

/**
 * Factory handed to the addon at load (native/addon/errors.cc): turns a status code into an
 * instance of the matching class. Runs on the JS thread that made the failing native call.
 */
export function createNativeError(code: string, message: string, errno: number, syscall: string): Error {
  const cls = byCode.get(code);
  if (cls === undefined) return new ShmsyncError(message, code, { errno, syscall });
  return new cls(message, { errno, syscall });
}

// ---- pool (issue 11: Graph, Task, Pool) ------------------------------------------------------

/**
 * `Graph.addEdge(u, v)` refused: `u === v`, or one node is already an ancestor of the other (a
 * cycle, or a transitive shortcut edge, which the seed rejects too). The seed raised ValueError.
 */
export const GraphCycleError = defineError('GraphCycleError', 'SHMSYNC_GRAPH_CYCLE', 'edge would create a cycle');
export type GraphCycleError = ShmsyncError;
/** `pool.addTask(task)` with a task already registered to another pool (seed: ValueError). */
export const TaskRegisteredError = defineError(
  'TaskRegisteredError',
  'SHMSYNC_TASK_REGISTERED',
  'task is already registered to another pool',
);
export type TaskRegisteredError = ShmsyncError;
for (const cls of [GraphCycleError, TaskRegisteredError]) byCode.set(cls.code, cls);
// ---- Redis queue (issue 15, src/redis/queue.ts) ----
/**
 * A message received with `receive()` was reclaimed by another consumer before `ack()` (this
 * consumer did not renew its claim for `reclaimAfter` ms: paused, partitioned, or its handle was
 * closed). The other consumer may process it too; this ack changed nothing.
 */
export const ReclaimedError = defineError(
  'ReclaimedError',
  'SHMSYNC_RECLAIMED',
  'message was reclaimed by another consumer',
);
export type ReclaimedError = ShmsyncError;
byCode.set(ReclaimedError.code as string, ReclaimedError);
