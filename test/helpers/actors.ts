/**
 * Helpers for the actor tests (80-86): ActorRefs of the fixture module, a sink to collect what
 * actors report, and a log collector. Synchronisation is by messages and shared memory only.
 */
import * as path from 'node:path';
import { ActorRef, ActorSink, Control, type ActorLogRecord, type ActorMode } from '../../dist';

export const actorsModule = path.join(__dirname, '..', 'fixtures', 'actors', 'actors.js');

/** An ActorRef of an export of test/fixtures/actors/actors.js. */
export function ref(
  exportName: string,
  args: unknown[] = [],
  extra: { name?: string; mode?: ActorMode; kwargs?: Record<string, unknown> } = {},
): ActorRef {
  return new ActorRef({ module: actorsModule, export: exportName, args, ...extra });
}

/** An ActorRef run as a worker thread (where the process itself is not what a test proves). */
export function tref(
  exportName: string,
  args: unknown[] = [],
  extra: { name?: string; kwargs?: Record<string, unknown> } = {},
): ActorRef {
  return ref(exportName, args, { ...extra, mode: 'thread' });
}

/** `n` refs of one export. */
export function refs(n: number, exportName: string, args: unknown[] = [], mode?: ActorMode): ActorRef[] {
  return Array.from({ length: n }, () => ref(exportName, args, mode === undefined ? {} : { mode }));
}

/** Reads every value a sink holds until its stream ended or `count` values arrived. */
export async function drainSink<T>(sink: ActorSink, count = Infinity): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    if (sink.queue.ended && sink.queue.size === 0) break;
    const v = await sink.get();
    if (v === Control.eol) break;
    out.push(v as T);
  }
  return out;
}

/** A function logger that keeps the records and resolves waiters on a matching message. */
export class LogCollector {
  readonly records: ActorLogRecord[] = [];
  #waiters: Array<{ re: RegExp; resolve: (r: ActorLogRecord) => void }> = [];
  readonly logger = (record: ActorLogRecord): void => {
    this.records.push(record);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.re.test(record.message)) return true;
      w.resolve(record);
      return false;
    });
  };
  /** Resolves with the first record (past or future) whose message matches. */
  next(re: RegExp): Promise<ActorLogRecord> {
    const hit = this.records.find((r) => re.test(r.message));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => this.#waiters.push({ re, resolve }));
  }
}

/** Rejection value of a promise that must reject. */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}
