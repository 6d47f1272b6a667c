/**
 * Parent side of one pcall child: a Node process (`child_process.fork` of child-main.js with
 * `serialization: 'advanced'`) or a worker thread running the same file. Both look the same to
 * pcall.ts and process-pool.ts: a pid (thread id for workers), an exit promise, signals, the
 * control link and, when captured, the child's stdout/stderr. Runs in the parent.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { SpawnOptions } from './options';
import { pcallSpawnTracing, tracePcallSpawn } from '../diagnostics';

/** Entry point of every child (compiled to dist/pcall/child-main.js). */
export const kChildMain = path.join(__dirname, 'child-main.js');

/** How a child ended. */
export interface ExitInfo {
  /** Exit code (null when killed by a signal or when it never started). */
  readonly code: number | null;
  /** Killing signal; for a worker, the signal its terminate() stood for. */
  readonly signal: NodeJS.Signals | null;
  /** Why it could not start, or a worker's uncaught error. */
  readonly error?: unknown;
}

/** One running child. */
export interface Runner {
  /** Process id, or the worker's threadId; undefined if the process failed to spawn. */
  readonly pid: number | undefined;
  /** Resolves (never rejects) when the child has ended. */
  readonly exited: Promise<ExitInfo>;
  readonly alive: boolean;
  /** Captured output (null unless spawned with capture). */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Listens to the child's messages (IPC / parentPort); returns the unsubscribe function. */
  subscribe(listener: (message: unknown) => void): () => void;
  /** Resolves once every message the (exited) child sent has been emitted. */
  drained(): Promise<void>;
  /** Sends a control message; a dead child just drops it (its exit reports the failure). */
  send(message: unknown): void;
  /** SIGTERM / SIGKILL for a process; `worker.terminate()` for a thread. */
  signal(signal: 'SIGTERM' | 'SIGKILL'): void;
  /** Whether this child keeps the parent's event loop alive. */
  ref(): void;
  unref(): void;
}

/** A worker thread run as a child: its end, and how to stop it (see watchWorker). */
export interface WorkerLife {
  /** Resolves (never rejects) once the worker has exited. */
  readonly exited: Promise<ExitInfo>;
  /** False once the worker has exited. */
  readonly alive: boolean;
  /** `worker.terminate()`, reported as ended by `signal` (the first one asked for). */
  stop(signal: NodeJS.Signals): void;
}

/**
 * Watches `worker` from now on: its exit code, its last uncaught error, and the signal a stop()
 * stood for (a terminated worker's code is reported as null, as for a killed process). Used by
 * pcall's thread children and by thread actors. Runs in the parent, on the thread that owns
 * `worker`.
 */
export function watchWorker(worker: Worker): WorkerLife {
  let alive = true;
  let lastError: unknown;
  let terminatedWith: NodeJS.Signals | null = null;
  worker.on('error', (error) => {
    lastError = error;
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    worker.once('exit', (code) => {
      alive = false;
      resolve({
        code: terminatedWith ? null : code,
        signal: terminatedWith,
        ...(lastError === undefined ? {} : { error: lastError }),
      });
    });
  });
  return {
    exited,
    get alive() {
      return alive;
    },
    stop(signal) {
      if (!alive) return;
      terminatedWith ??= signal;
      void worker.terminate();
    },
  };
}

function spawnProcess(options: SpawnOptions, capture: boolean, argv: readonly string[]): Runner {
  const child: ChildProcess = fork(kChildMain, [...argv], {
    serialization: 'advanced',
    execArgv: [...options.execArgv],
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: capture ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let alive = true;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      // 'error' without a pid: spawn failed and no 'exit' will follow. Otherwise a failed
      // send/kill, which the exit (or the missing result) already reports.
      if (child.pid === undefined && alive) {
        alive = false;
        resolve({ code: null, signal: null, error });
      }
    });
  });
  return {
    pid: child.pid,
    exited,
    get alive() {
      return alive;
    },
    stdout: child.stdout,
    stderr: child.stderr,
    send(message) {
      if (alive && child.connected)
        child.send(message as never, () => {
          /* errors: see 'error' above */
        });
    },
    signal(signal) {
      if (alive) child.kill(signal);
    },
    subscribe(listener) {
      child.on('message', listener);
      return () => child.off('message', listener);
    },
    // The IPC channel closes after its last message has been emitted.
    drained: () =>
      child.connected ? new Promise((resolve) => child.once('disconnect', () => resolve())) : Promise.resolve(),
    ref() {
      child.ref();
      child.channel?.ref();
    },
    unref() {
      child.unref();
      child.channel?.unref();
    },
  };
}

function spawnThread(options: SpawnOptions, capture: boolean, argv: readonly string[]): Runner {
  let startError: unknown;
  let worker: Worker | undefined;
  try {
    worker = new Worker(kChildMain, {
      argv: [...argv],
      execArgv: [...options.execArgv],
      env: options.env ?? process.env,
      stdout: capture,
      stderr: capture,
    });
  } catch (error) {
    startError = error; // e.g. ERR_WORKER_INVALID_EXEC_ARGV
  }
  const life = worker === undefined ? undefined : watchWorker(worker);
  return {
    pid: worker?.threadId,
    exited: life?.exited ?? Promise.resolve<ExitInfo>({ code: null, signal: null, error: startError }),
    get alive() {
      return life?.alive ?? false;
    },
    stdout: capture && worker ? worker.stdout : null,
    stderr: capture && worker ? worker.stderr : null,
    send(message) {
      if (life?.alive) worker?.postMessage(message);
    },
    signal(signal) {
      life?.stop(signal);
    },
    subscribe(listener) {
      worker?.on('message', listener);
      return () => worker?.off('message', listener);
    },
    // Messages a worker posted before it stopped are emitted before 'exit'; one turn for safety.
    drained: () => new Promise((resolve) => setImmediate(resolve)),
    ref() {
      worker?.ref();
    },
    unref() {
      worker?.unref();
    },
  };
}

/**
 * Starts one child (process or thread per `options.mode`); `capture` pipes its output; `argv`
 * reaches child-main.ts as `process.argv.slice(2)` (a pool child's ring names).
 */
export function spawnRunner(options: SpawnOptions, capture: boolean, argv: readonly string[] = []): Runner {
  const runner = options.mode === 'thread' ? spawnThread(options, capture, argv) : spawnProcess(options, capture, argv);
  if (pcallSpawnTracing()) tracePcallSpawn(runner.pid, options.mode);
  return runner;
}
