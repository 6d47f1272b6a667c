/**
 * Native status numbers and the one status -> error table.
 *
 * `Status` mirrors native/core/status.h (same names without the `k`, same values). `kStatusTable`
 * is the only place that says which stable code (and so which error class, src/errors.ts
 * `errorClassFor`) and which default message a status becomes; native/addon/errors.cc keeps the
 * same rows for the errors thrown from C++ (`ThrowResult`). test/01-status-table.ts parses
 * status.h and errors.cc and fails when any of the three disagree (names, values, codes,
 * messages, row order). Runs on any JS thread; pure data.
 */
import { errorClassFor, ShmsyncError, type ShmsyncErrorOptions } from '../errors';

/** Native status numbers (native/core/status.h `Status`); keep the two in the same order. */
export const enum Status {
  Ok = 0,
  NotFound = 1,
  Exists = 2,
  KindMismatch = 3,
  VersionMismatch = 4,
  SizeMismatch = 5,
  Corrupt = 6,
  Permission = 7,
  System = 8,
  Timeout = 9,
  WouldBlock = 10,
  NotOwner = 11,
  OwnerDead = 12,
  NotRecoverable = 13,
  Deadlock = 14,
  Closed = 15,
  TooLarge = 16,
  Busy = 17,
  OwnerTableMismatch = 18,
  NoSpace = 19,
}

/** One row: a status, its name in status.h (without `k`), its stable code and default message. */
export interface StatusRow {
  readonly status: Status;
  readonly name: string;
  readonly code: string;
  /** Appended to the subject: `mutex "x": timed out`. Same text as native/addon/errors.cc. */
  readonly message: string;
}

function row(status: Status, name: string, code: string, message: string): StatusRow {
  return Object.freeze({ status, name, code, message });
}

/** Indexed by Status. The native table (errors.cc kStatusTable) has the same rows in the same order. */
export const kStatusTable: readonly StatusRow[] = Object.freeze([
  row(Status.Ok, 'Ok', 'SHMSYNC_OK', 'ok'),
  row(Status.NotFound, 'NotFound', 'SHMSYNC_NOT_FOUND', 'does not exist'),
  row(Status.Exists, 'Exists', 'SHMSYNC_EXISTS', 'already exists'),
  row(Status.KindMismatch, 'KindMismatch', 'SHMSYNC_KIND_MISMATCH', 'holds another kind of shmsync object'),
  row(
    Status.VersionMismatch,
    'VersionMismatch',
    'SHMSYNC_VERSION_MISMATCH',
    'was created by an incompatible shmsync layout version',
  ),
  row(Status.SizeMismatch, 'SizeMismatch', 'SHMSYNC_SIZE_MISMATCH', 'has a different size than requested'),
  row(Status.Corrupt, 'Corrupt', 'SHMSYNC_CORRUPT', 'is corrupt or truncated'),
  row(Status.Permission, 'Permission', 'SHMSYNC_PERMISSION', 'permission denied'),
  row(Status.System, 'System', 'SHMSYNC_SYSTEM', 'system call failed'),
  row(Status.Timeout, 'Timeout', 'SHMSYNC_TIMEOUT', 'timed out'),
  row(Status.WouldBlock, 'WouldBlock', 'SHMSYNC_WOULD_BLOCK', 'would block'),
  row(Status.NotOwner, 'NotOwner', 'SHMSYNC_NOT_OWNER', 'is not held by the caller'),
  row(Status.OwnerDead, 'OwnerDead', 'SHMSYNC_OWNER_DEAD', 'previous holder died while holding it'),
  row(
    Status.NotRecoverable,
    'NotRecoverable',
    'SHMSYNC_NOT_RECOVERABLE',
    "is not recoverable: a dead holder's state was never marked consistent",
  ),
  row(Status.Deadlock, 'Deadlock', 'SHMSYNC_DEADLOCK', 'would deadlock'),
  row(Status.Closed, 'Closed', 'SHMSYNC_CLOSED', 'is closed'),
  row(Status.TooLarge, 'TooLarge', 'SHMSYNC_TOO_LARGE', 'message is too large'),
  row(Status.Busy, 'Busy', 'SHMSYNC_BUSY', 'is busy'),
  row(
    Status.OwnerTableMismatch,
    'OwnerTableMismatch',
    'SHMSYNC_OWNER_TABLE_MISMATCH',
    'was created by a process with another owner table (another user, or another SHMSYNC_OWNER_TABLE); ' +
      'every user of a lock must share one',
  ),
  row(
    Status.NoSpace,
    'NoSpace',
    'SHMSYNC_NO_SPACE',
    'cannot be created: no space left in /dev/shm (tmpfs size limit or memory)',
  ),
]);

/** The row of `status`; an unknown number reads as System (as native StatusCode does). */
export function statusRow(status: number): StatusRow {
  return kStatusTable[status] ?? kStatusTable[Status.System];
}

/** The stable code of a status (`SHMSYNC_TIMEOUT`...). */
export function statusCode(status: number): string {
  return statusRow(status).code;
}

/**
 * The error for a failed status: an instance of the class registered for its code
 * (src/errors.ts), message `${subject}: ${detail ?? the table's message}`. A status whose code has
 * no class (WouldBlock, Ok) becomes a plain ShmsyncError with that code: callers map those to
 * return values, so seeing one is a bug worth reporting with its code.
 */
export function statusError(
  status: number,
  subject: string,
  detail?: string,
  options?: ShmsyncErrorOptions,
): ShmsyncError {
  const r = statusRow(status);
  const message = `${subject}: ${detail ?? r.message}`;
  const cls = errorClassFor(r.code);
  return cls === undefined ? new ShmsyncError(message, r.code, options) : new cls(message, options);
}
