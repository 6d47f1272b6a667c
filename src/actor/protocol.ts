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
  /** The link's bound in messages (maxsize), when it has one. */
  readonly bound: BoundSpec | undefined;
  /**
   * The relay's counter array (SharedArray int32, kLinkSlots per link) and this link's first
   * slot: [base + kPoisonSlot] poison pills counted by the receiving group (Decision 15), the
   * other slots the bound's (backpressure.ts).
   */
  readonly counter: string;
  readonly base: number;
  /** Senders of the link: poison pills the receiving group waits for. */
  readonly senders: number;
}

/** Slots per link in the relay's counter array. */
export const kLinkSlots = 4;
/** Slot (from the link's base) of the receiving group's poison pill count. */
export const kPoisonSlot = 0;

/** A link bounded in messages (backpressure.ts). */
export interface BoundSpec {
  /** Most messages in flight (sent, not yet handled by a receiver). */
  readonly max: number;
  /** Wake queue name: a token is put there when a waiting sender may have room again. */
  readonly wake: string;
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
