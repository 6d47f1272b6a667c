/**
 * The errors of RwLock operations: native statuses mapped to the library's coded errors (one
 * place, as src/errors.ts asks). JS thread.
 */
import { BusyError, ClosedError, DeadlockError, NotOwnerError, type ShmsyncError, TimeoutError } from '../errors';
import { Status, statusError as codedError } from '../addon/status';

export function statusError(status: number, name: string): ShmsyncError {
  switch (status) {
    case Status.Timeout:
      return new TimeoutError(`rwlock "${name}": timed out`);
    case Status.NotOwner:
      return new NotOwnerError(`rwlock "${name}" is not held by the caller`);
    case Status.Closed:
      return new ClosedError(`rwlock "${name}": the wait ended because this thread or the process is exiting`);
    case Status.Deadlock:
      return new DeadlockError(
        `rwlock "${name}": this thread already holds or awaits it through another async context; blocking would deadlock`,
      );
    case Status.Busy:
      return new BusyError(`rwlock "${name}": too many holders and waiters (128 at most)`);
    default:
      // Corrupt (a rewritten guard), NotRecoverable...: the status table's coded error.
      return codedError(status, `rwlock "${name}"`);
  }
}

/** Holding shared and acquiring exclusive: refused at once (it could only deadlock). */
export function upgradeError(name: string): DeadlockError {
  return new DeadlockError(
    `rwlock "${name}": the caller holds it shared; an exclusive acquire would wait for its own share ` +
      'and deadlock (no upgrades: release the shared hold first)',
  );
}
