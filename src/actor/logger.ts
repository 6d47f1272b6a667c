/**
 * Where actor log records end up in the main process: a logger named by the relay's `log` (default:
 * the actor's module), each message prefixed `[group] (name)`. Pluggable: console (default), any
 * pino/winston-shaped object (`debug/info/warn/error` methods, `child()` used when present) or a
 * function receiving the record. Runs in the main process.
 */
import { format } from 'node:util';

/** One log record from an actor. */
export interface ActorLogRecord {
  /** Logger name (the relay's `log`, else the actor's module). */
  readonly logger: string;
  /** Numeric level (10 debug, 20 info, 30 warn, 40 error, 50 critical). */
  readonly level: number;
  readonly levelName: 'debug' | 'info' | 'warn' | 'error';
  /** The formatted message, prefixed `[group] (name) `. */
  readonly message: string;
  readonly actor: string;
  readonly group: string;
}

type LogMethod = (...args: unknown[]) => unknown;
/** A pino/winston-shaped logger: one method per level, and optionally child(bindings). */
export interface LoggerLike {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  child?: (bindings: Record<string, unknown>) => LoggerLike;
}
export type ActorLogger = LoggerLike | ((record: ActorLogRecord) => void);

export function levelName(level: number): ActorLogRecord['levelName'] {
  return level >= 40 ? 'error' : level >= 30 ? 'warn' : level >= 20 ? 'info' : 'debug';
}

export function isLogger(value: unknown): value is ActorLogger {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((m) => typeof v[m] === 'function');
}

/** Turns records into calls of the configured logger (one child logger per name, cached). */
export class LogRouter {
  readonly #logger: ActorLogger | undefined;
  readonly #threshold: number;
  readonly #children = new Map<string, LoggerLike>();

  /** `logger` undefined: console, records below `threshold` dropped. */
  constructor(logger: ActorLogger | undefined, threshold: number) {
    this.#logger = logger;
    this.#threshold = threshold;
  }

  emit(logger: string, level: number, group: string, actor: string, msg: string, args: readonly unknown[]): void {
    const custom = this.#logger;
    if (custom === undefined && level < this.#threshold) return;
    let text: string;
    try {
      text = `[${group}] (${actor}) ${format(msg, ...args)}`;
    } catch {
      text = `[${group}] (${actor}) ${msg}`;
    }
    const name = levelName(level);
    if (custom === undefined) {
      const line = `${name.toUpperCase()}:${logger}:${text}`;
      if (level >= 30) console.error(line);
      else console.log(line);
      return;
    }
    if (typeof custom === 'function') {
      custom({ logger, level, levelName: name, message: text, actor, group });
      return;
    }
    let child = this.#children.get(logger);
    if (child === undefined) {
      child = typeof custom.child === 'function' ? custom.child({ name: logger }) : custom;
      this.#children.set(logger, child);
    }
    child[name](text);
  }
}
