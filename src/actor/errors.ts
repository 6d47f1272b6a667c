/**
 * Error classes of the actor layer (ktz seed). Both are ShmsyncErrors with stable codes, so
 * `instanceof` works across duplicate installs. Constructed in the main process.
 */
import { ShmsyncError, type ShmsyncErrorOptions } from '../errors';

/**
 * A relay was used wrongly: fewer than two groups, an empty group, an actor placed twice, a relay
 * started twice, a first-group actor without its own loop(). Code `SHMSYNC_RELAY`.
 */
export class RelayError extends ShmsyncError {
  static override readonly code = 'SHMSYNC_RELAY';
  constructor(message: string, options?: ShmsyncErrorOptions) {
    super(message, RelayError.code, options);
  }
}

/** Where an actor failure happened. */
export interface ActorFailureInfo {
  readonly name: string;
  readonly group: string;
  /** Process id, or the worker's threadId in thread mode. */
  readonly pid: number | undefined;
  /** The hook that threw ('constructor', 'startup', 'loop', 'recv', 'shutdown'), if one did. */
  readonly hook?: string;
}

/** Options of {@link ActorExitError}. */
export interface ActorExitErrorOptions extends ShmsyncErrorOptions {
  actor: ActorFailureInfo;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * An actor ended without finishing its lifecycle: it exited (process.exit, a crash outside a
 * hook) or was killed by a signal. Code `SHMSYNC_ACTOR_EXIT`.
 */
export class ActorExitError extends ShmsyncError {
  static override readonly code = 'SHMSYNC_ACTOR_EXIT';
  readonly actor: ActorFailureInfo;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  constructor(message: string, options: ActorExitErrorOptions) {
    super(message, ActorExitError.code, options);
    this.actor = options.actor;
    this.exitCode = options.exitCode;
    this.signal = options.signal;
  }
}
