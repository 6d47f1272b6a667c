/**
 * Messages between the relay (main process) and one actor (child process or worker thread).
 * The relay sends one {@link ActorInit} (IPC / workerData); the actor sends {@link ActorReport}s
 * back over the same link, in order: logs, at most one error, then `done` as its last word.
 */
import type { SerializedError } from '../pcall/error-codec';
import type { HandleEnvelope } from '../pcall/handle-codec';

/** One link between two consecutive groups, as an actor sees it. */
export interface LinkSpec {
  /** Data queue name (ShmQueue, shared by every sender and receiver of the link). */
  readonly queue: string;
  /** Credit queue name when the link is bounded in messages (maxsize), else undefined. */
  readonly credits: string | undefined;
  /** Most credits a sender takes at once (a share of maxsize, so no sender starves the others). */
  readonly grab: number;
  /** Poison counter: SharedArray name and index (one int32 per receiving group). */
  readonly counter: string;
  readonly index: number;
  /** Senders of the link: poison pills the receiving group waits for. */
  readonly senders: number;
}

export interface ActorInit {
  readonly kind: 'shmsync-actor-init';
  readonly module: string;
  readonly export: string | undefined;
  /** Constructor arguments (handles out of band). */
  readonly args: HandleEnvelope;
  readonly name: string;
  readonly group: string;
  readonly logName: string;
  /** Queue codec of the relay's links. */
  readonly codec: 'structured' | 'json';
  readonly inbox: LinkSpec | undefined;
  readonly outbox: LinkSpec | undefined;
  /** Messages per receive batch. */
  readonly batch: number;
}

/** Numeric levels (Python logging's): the wire form of a log level. */
export const kLevels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LevelName = keyof typeof kLevels;

export type ActorReport =
  | { readonly t: 'log'; readonly level: number; readonly msg: string; readonly args: readonly unknown[] }
  | { readonly t: 'error'; readonly hook: string; readonly error: SerializedError }
  | { readonly t: 'done' };
