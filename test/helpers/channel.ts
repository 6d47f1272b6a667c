/**
 * Channel test helpers: a forked child or a worker thread running test/fixtures/channel-agent.js
 * with one message surface, and the exactly-once oracle over what readers report.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Child, fixturesDir, type Message } from './fork';

export interface Party {
  message<T extends Message = Message>(type: string): Promise<T>;
  send(m: Message): void;
  ended(): Promise<unknown>;
  kill(): void;
}

export class ProcessParty implements Party {
  readonly child: Child;
  constructor(fixture = 'channel-agent.js') {
    this.child = new Child(fixture);
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

export class WorkerParty implements Party {
  readonly worker: Worker;
  readonly #inbox: Message[] = [];
  readonly #waiting: Array<{ type: string; resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  readonly #exited: Promise<number>;

  constructor(fixture = 'channel-agent.js') {
    this.worker = new Worker(path.join(fixturesDir, fixture), { execArgv: [] });
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

export interface ReaderReport extends Message {
  seqs: Record<string, number[]>;
  reads: number;
  writerDied: boolean;
}

/**
 * Exactly-once oracle: over every reader's report, each writer id's sequences 0..count-1 appear
 * exactly once, and within one reader each writer's sequences are increasing (FIFO per writer).
 * Returns a list of problems (empty when the oracle holds).
 */
export function exactlyOnce(reports: ReaderReport[], counts: Record<string, number>): string[] {
  const problems: string[] = [];
  const seen: Record<string, Uint8Array> = {};
  for (const id of Object.keys(counts)) seen[id] = new Uint8Array(counts[id]);
  reports.forEach((r, ri) => {
    for (const [id, list] of Object.entries(r.seqs)) {
      const marks = seen[id];
      if (marks === undefined) {
        problems.push(`reader ${ri}: unknown writer id ${id}`);
        continue;
      }
      let last = -1;
      for (const seq of list) {
        if (!(seq >= 0 && seq < marks.length)) problems.push(`reader ${ri}: writer ${id} seq ${seq} out of range`);
        else if (marks[seq]++ !== 0) problems.push(`writer ${id} seq ${seq} delivered twice`);
        if (seq <= last) problems.push(`reader ${ri}: writer ${id} seq ${seq} after ${last} (order)`);
        last = seq;
        if (problems.length > 20) return;
      }
    }
  });
  for (const [id, marks] of Object.entries(seen)) {
    const missing = marks.indexOf(0);
    if (missing >= 0) problems.push(`writer ${id} seq ${missing} never delivered`);
  }
  return problems;
}
