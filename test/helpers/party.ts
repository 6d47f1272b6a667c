/**
 * A party: a fixture (test/fixtures/*.js) running in a forked child or in a worker thread, behind
 * one message surface, so a test can run the same scenario across processes and across threads.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Child, fixturesDir, type Message } from './fork';

/** A forked child or a worker thread running a fixture, with the same message surface. */
export interface Party {
  message<T extends Message = Message>(type: string): Promise<T>;
  send(m: Message): void;
  /** Resolves with a description of how it ended, e.g. { code: 0, signal: null }. */
  ended(): Promise<unknown>;
  kill(): void;
}

/** The fixture in a forked child (SIGKILL on kill). */
export class ProcessParty implements Party {
  readonly child: Child;
  constructor(fixture: string, args: string[] = []) {
    this.child = new Child(fixture, args);
  }
  message<T extends Message>(type: string): Promise<T> {
    return this.child.message<T>(type);
  }
  send(m: Message): void {
    this.child.send(m);
  }
  ended(): Promise<unknown> {
    return this.child.exited;
  }
  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** The fixture in a worker thread of this process (terminate on kill); `args` become its argv. */
export class WorkerParty implements Party {
  readonly worker: Worker;
  readonly #inbox: Message[] = [];
  readonly #waiting: Array<{ type: string; resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  readonly #exited: Promise<number>;

  constructor(fixture: string, args: string[] = []) {
    this.worker = new Worker(path.join(fixturesDir, fixture), { argv: args, execArgv: [] });
    this.worker.on('message', (m: Message) => {
      const i = this.#waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiting.splice(i, 1)[0].resolve(m);
      else this.#inbox.push(m);
    });
    this.worker.on('error', (err) => {
      for (const w of this.#waiting.splice(0)) w.reject(err);
    });
    this.#exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        for (const w of this.#waiting.splice(0)) w.reject(new Error(`${fixture} worker exited (${code})`));
        resolve(code);
      }),
    );
  }
  message<T extends Message>(type: string): Promise<T> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0] as T);
    return new Promise((resolve, reject) =>
      this.#waiting.push({ type, resolve: resolve as (m: Message) => void, reject }),
    );
  }
  send(m: Message): void {
    this.worker.postMessage(m);
  }
  ended(): Promise<unknown> {
    return this.#exited.then((code) => ({ code }));
  }
  kill(): void {
    void this.worker.terminate();
  }
}

/** The fixture's 'done' message, or its 'error' message as a rejection. */
export function outcome<T extends Message>(p: Party): Promise<T> {
  return Promise.race([
    p.message<T>('done'),
    p.message<{ type: string; message: string }>('error').then((e) => {
      throw new Error(`fixture failed: ${e.message}`);
    }),
  ]);
}
