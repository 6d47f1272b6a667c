/**
 * Parent side of a pool worker: one warm pcall child (ProcessPool of size 1, a worker thread or a
 * child process) that runs chunks of task functions. A chunk is one pcall call of chunk-runner.ts
 * with the task function's wire form (pcall's target form: source text or module reference), the
 * `applySingle` flag and the items; items and results travel through pcall's pool transport (shm
 * rings, v8 serialisation), so the per-item cost is the serialisation, not a round trip.
 *
 * A child that dies mid-chunk (SIGKILL, worker.terminate(), process.exit) fails the chunk with
 * pcall's ChildProcessException (exit code / signal); the ProcessPool replaces the child.
 * Runs on the thread that owns the pool.
 */
import * as path from 'node:path';
import { pcall } from '../pcall/pcall';
import { ProcessPool } from '../pcall/process-pool';
import { rebuildError } from '../pcall/error-codec';
import { importModule, targetSpecOf, type TargetSpec } from '../pcall/target';
import type { PcallMode } from '../pcall/options';
import type { ChunkOutcome } from './chunk-runner';
import type { ChunkApply, TaskFn } from './task';

/** The module every chunk call targets (compiled next to this file). */
const kRunner = { module: path.join(__dirname, 'chunk-runner.js'), export: 'runChunk' } as const;

/** Wire forms of task functions, per function (a task keeps its function across chunks). */
const specs = new WeakMap<object, TargetSpec>();

function specOf(fn: TaskFn): TargetSpec {
  const key = fn as object;
  let spec = specs.get(key);
  if (spec === undefined) {
    spec = targetSpecOf('task.fn', fn);
    if (spec.kind === 'method') throw new TypeError('task.fn: a method target { object, method } is not supported');
    specs.set(key, spec);
  }
  return spec;
}

/** Options of the children a pool starts. */
export interface WorkerOptions {
  readonly mode: PcallMode;
  readonly env?: NodeJS.ProcessEnv;
  readonly execArgv?: readonly string[];
}

/** One worker of a pool: a warm child and the chunk calls made on it. */
export class RemoteWorker {
  readonly #pp: ProcessPool;

  constructor(options: WorkerOptions) {
    this.#pp = new ProcessPool({
      size: 1,
      mode: options.mode,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
    });
  }

  /** Pid (thread id in thread mode) of the current child. */
  get pid(): number | undefined {
    return this.#pp.pids[0];
  }

  /** Runs one chunk on this worker's child. */
  readonly apply: ChunkApply = async (task, items) => {
    let spec: TargetSpec;
    try {
      spec = specOf(task.fn as TaskFn);
    } catch (err) {
      return { results: [], failed: true, error: err };
    }
    let outcome: ChunkOutcome;
    try {
      [outcome] = await pcall<ChunkOutcome>(kRunner, { pool: this.#pp, iargs: [[spec, task.applySingle, items]] });
    } catch (err) {
      // The child died mid-chunk, or the runner itself failed (a target that does not load).
      return { results: [], failed: true, error: err };
    }
    if (outcome.error === undefined) return { results: outcome.results };
    let moduleExports: Record<string, unknown> | undefined;
    if (spec.kind === 'module') moduleExports = await importModule(spec.module).catch(() => undefined);
    return {
      results: outcome.results,
      failed: true,
      error: rebuildError(outcome.error, { moduleExports, pid: this.pid }),
    };
  };

  /** Waits for the chunk in flight, then ends the child. */
  close(): Promise<void> {
    return this.#pp.close();
  }

  /** @internal Ends the child abruptly (worker.terminate() / SIGKILL); the next chunk gets a new one. */
  kill(): void {
    this.#pp._signalChildren('SIGKILL');
  }

  /** Kills the child now; a chunk in flight fails. */
  destroy(): Promise<void> {
    return this.#pp.destroy();
  }
}
