/**
 * ActorRef: the main process's side of one actor - which module/export/arguments build it, how it
 * runs (child process or worker thread), and, once its relay started it, its pid, exit code and
 * signals. Runs in the main process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { watchWorker } from '../pcall/child-runner';
import { encodeHandles } from '../pcall/handle-codec';
import { validateTarget, targetSpecOf } from '../pcall/target';
import { optionsObject, rejectUnknownOptions, typeError, validateOneOf } from '../validate';
import type { ActorInit, ActorReport } from './protocol';

/** Entry point of every actor (compiled to dist/actor/actor-main.js). */
const kActorMain = path.join(__dirname, 'actor-main.js');

export type ActorMode = 'process' | 'thread';

/** How to build one actor. */
export interface ActorSpec {
  /** Module defining the Actor subclass: absolute/relative (to cwd) path, file URL or package name. */
  module: string | URL;
  /** Exported class name (default: the module itself if it is the class, else `default`). */
  export?: string;
  /** Constructor arguments (structured-clone data; shmsync handles are reopened in the actor). */
  args?: readonly unknown[];
  /** Keyword-style constructor arguments: passed as one trailing plain object after `args`. */
  kwargs?: Record<string, unknown>;
  /** Actor name (default `<Export>-<n>`, n counting per export in this process). */
  name?: string;
  /** 'process' (default: a child process) or 'thread' (a worker thread). */
  mode?: ActorMode;
  /** Node options of a child process / worker (default none). */
  execArgv?: readonly string[];
  /** Environment of a child process / worker (default this process's). */
  env?: NodeJS.ProcessEnv;
}

const kSpecKeys = ['module', 'export', 'args', 'kwargs', 'name', 'mode', 'execArgv', 'env'];
const counters = new Map<string, number>();

/** How an actor ended. */
export interface ActorExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: unknown;
}

/** @internal A started actor, as the relay drives it. */
export interface ActorHandle {
  readonly exited: Promise<ActorExit>;
  signal(sig: 'SIGTERM' | 'SIGKILL'): void;
}

export class ActorRef {
  readonly module: string;
  readonly export: string | undefined;
  readonly name: string;
  readonly mode: ActorMode;
  readonly #args: unknown[];
  readonly #execArgv: string[];
  readonly #env: NodeJS.ProcessEnv | undefined;
  #group: string | undefined;
  #sender = false;
  #receiver = false;
  #pid: number | undefined;
  #exit: ActorExit | undefined;
  #handle: ActorHandle | undefined;
  /** @internal the relay this actor is wired into (one relay per actor). */
  owner: object | undefined;

  constructor(spec: ActorSpec) {
    const opts = optionsObject('spec', spec);
    rejectUnknownOptions('spec', opts, kSpecKeys, { exports: 'export', class: 'export', path: 'module' });
    validateTarget('spec', { module: opts.module, ...(opts.export === undefined ? {} : { export: opts.export }) });
    const target = targetSpecOf('spec', { module: opts.module as string, export: opts.export as string | undefined });
    this.module = (target as { module: string }).module;
    this.export = opts.export as string | undefined;
    if (opts.args !== undefined && !Array.isArray(opts.args)) throw typeError('spec.args', 'an array', opts.args);
    if (
      opts.kwargs !== undefined &&
      (typeof opts.kwargs !== 'object' || opts.kwargs === null || Array.isArray(opts.kwargs))
    )
      throw typeError('spec.kwargs', 'a plain object', opts.kwargs);
    this.#args = [...((opts.args as unknown[]) ?? []), ...(opts.kwargs === undefined ? [] : [opts.kwargs])];
    const mode = (opts.mode ?? 'process') as ActorMode;
    validateOneOf('spec.mode', mode, ['process', 'thread']);
    this.mode = mode;
    if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name === ''))
      throw typeError('spec.name', 'a non-empty string', opts.name);
    const base = this.export ?? path.basename(this.module).replace(/\.[cm]?[jt]s$/, '');
    const n = (counters.get(base) ?? 0) + 1;
    counters.set(base, n);
    this.name = (opts.name as string | undefined) ?? `${base}-${n}`;
    if (opts.execArgv !== undefined && !Array.isArray(opts.execArgv))
      throw typeError('spec.execArgv', 'an array of strings', opts.execArgv);
    this.#execArgv = [...((opts.execArgv as string[]) ?? [])];
    this.#env = opts.env as NodeJS.ProcessEnv | undefined;
  }

  /** Its group's name, once connected. */
  get group(): string | undefined {
    return this.#group;
  }
  /** Whether it has a next group (set by connect). */
  get sender(): boolean {
    return this.#sender;
  }
  /** Whether it has a previous group (set by connect). */
  get receiver(): boolean {
    return this.#receiver;
  }
  /** Process id (thread mode: the worker's threadId) once started. */
  get pid(): number | undefined {
    return this.#pid;
  }
  /** Exit code once ended (null while running, when never started, or when killed by a signal). */
  get exitCode(): number | null {
    return this.#exit?.code ?? null;
  }
  /** The killing signal once ended by one (thread mode: the signal terminate()/kill() stood for). */
  get signalCode(): NodeJS.Signals | null {
    return this.#exit?.signal ?? null;
  }
  /** True between start and exit. */
  get alive(): boolean {
    return this.#handle !== undefined && this.#exit === undefined;
  }

  /** SIGKILL (a thread: worker.terminate()). The relay's start() then rejects. */
  kill(): void {
    this.#handle?.signal('SIGKILL');
  }
  /** SIGTERM (a thread: worker.terminate()). The relay's start() then rejects. */
  terminate(): void {
    this.#handle?.signal('SIGTERM');
  }

  /** @internal connect(): where it sits. */
  wire(group: string, sender: boolean, receiver: boolean): void {
    this.#group = group;
    this.#sender = sender;
    this.#receiver = receiver;
  }

  /** @internal start(): spawns the actor with its init; reports arrive through `onReport`. */
  start(
    init: Omit<ActorInit, 'kind' | 'module' | 'export' | 'args' | 'name'>,
    onReport: (r: ActorReport) => void,
  ): ActorHandle {
    if (this.#handle !== undefined) throw new Error(`actor ${this.name} was already started`);
    const full: ActorInit = {
      kind: 'shmsync-actor-init',
      module: this.module,
      export: this.export,
      args: encodeHandles(this.#args),
      name: this.name,
      ...init,
    };
    const handle = this.mode === 'thread' ? this.#startThread(full, onReport) : this.#startProcess(full, onReport);
    this.#handle = handle;
    void handle.exited.then((exit) => {
      this.#exit = exit;
    });
    return handle;
  }

  #startProcess(init: ActorInit, onReport: (r: ActorReport) => void): ActorHandle {
    const child: ChildProcess = fork(kActorMain, [], {
      serialization: 'advanced',
      execArgv: this.#execArgv,
      env: this.#env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#pid = child.pid;
    let alive = child.pid !== undefined;
    child.on('message', (m) => onReport(m as ActorReport));
    const exited = new Promise<ActorExit>((resolve) => {
      child.once('exit', (code, signal) => {
        alive = false;
        // 'exit' can come before the last IPC messages are emitted (the 'done' report): the
        // channel closes after them.
        if (child.connected) child.once('disconnect', () => resolve({ code, signal }));
        else resolve({ code, signal });
      });
      child.on('error', (error) => {
        if (child.pid === undefined) resolve({ code: null, signal: null, error });
      });
    });
    if (alive) child.send(init, () => {});
    return {
      exited,
      signal(sig) {
        if (alive) child.kill(sig);
      },
    };
  }

  #startThread(init: ActorInit, onReport: (r: ActorReport) => void): ActorHandle {
    let worker: Worker;
    try {
      worker = new Worker(kActorMain, {
        workerData: init,
        execArgv: this.#execArgv,
        env: this.#env ?? process.env,
      });
    } catch (error) {
      return { exited: Promise.resolve({ code: null, signal: null, error }), signal() {} };
    }
    this.#pid = worker.threadId;
    worker.on('message', (m) => onReport(m as ActorReport));
    const life = watchWorker(worker);
    return {
      exited: life.exited,
      signal(sig) {
        life.stop(sig);
      },
    };
  }
}
