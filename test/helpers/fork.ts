/**
 * Fork a fixture (plain JS in test/fixtures/, loading ../../dist) and talk to it with named
 * handshake messages: the child sends `{ type: 'ready' }`, the parent waits for it by type.
 * Never sleep to synchronise: wait for a message, an exit, or shared memory.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const fixturesDir = path.join(__dirname, '..', 'fixtures');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Message {
  type: string;
  [key: string]: unknown;
}

export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  #inbox: Message[] = [];
  #waiters: Array<{ type: string; resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  #exit: Exit | null = null;

  constructor(fixture: string, args: string[] = [], options: { silent?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    this.proc = fork(path.join(fixturesDir, fixture), args, {
      execArgv: [],
      serialization: 'advanced',
      silent: options.silent ?? false,
      env: options.env ?? process.env,
    });
    this.proc.on('message', (m: Message) => {
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(m);
      else this.#inbox.push(m);
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        for (const w of this.#waiters.splice(0)) {
          w.reject(new Error(`${fixture} exited (code ${code}, signal ${signal}) before sending '${w.type}'`));
        }
        resolve(this.#exit);
      });
    });
  }

  /** Resolves with the next message of `type` (queued ones first); rejects if the child exits. */
  message<T extends Message = Message>(type: string): Promise<T> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0] as T);
    if (this.#exit) return Promise.reject(new Error(`child already exited before sending '${type}'`));
    return new Promise((resolve, reject) =>
      this.#waiters.push({ type, resolve: resolve as (m: Message) => void, reject }),
    );
  }

  send(message: Message): void {
    this.proc.send(message);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.#exit === null) this.proc.kill(signal);
  }
}

/** Forks a fixture and waits for its `ready` message. */
export async function forkReady(fixture: string, args: string[] = []): Promise<Child> {
  const child = new Child(fixture, args);
  await child.message('ready');
  return child;
}
