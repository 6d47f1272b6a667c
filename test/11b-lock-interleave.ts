// The lock-word protocol across every kind of holder at once (docs/concepts/lock-protocol.md):
// JS fast-path holders (the CAS from JS on the mapped word), native holders (blocking
// acquireSync that sleeps in native Lock), Promise waits granted by the parker thread, in this
// thread, in worker threads and in child processes.
//
// Proof of mutual exclusion and exactly-once grants: every critical section reads a plain
// counter and writes it + 1 (a non-atomic read-modify-write with a widened race window) and
// flags itself "inside" with its party id. The values read by all parties together must be
// exactly 0..total-1, each once: an overlap shows as a duplicate or a flag violation, a grant
// delivered twice as a duplicate, a lost grant as a party that never finishes (the test times
// out) or a lock still held at the end.
//
// Rounds force each path: this thread takes the free word on the JS fast path, then every other
// party starts one acquisition while it holds (so 'sync' parties sleep in native Lock and 'async'
// parties park), and it releases only once all of them are counted as waiters: the release
// finds the waiters bit and goes native, and the lock passes through native sleepers and parker
// grants one by one. Then everyone (this thread included) runs a free mix of acquireSync,
// acquire() and withLock, where uncontended moments take the fast paths.
import t, { type Test } from 'tap';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { Mutex, SharedMemory } from '../dist';
import { Child, fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';

type Msg = Record<string, unknown> & { type: string };

/** A worker-thread party with the Child message surface. */
class WorkerParty {
  readonly worker: Worker;
  readonly exited: Promise<number>;
  readonly #inbox: Msg[] = [];
  readonly #waiting: Array<{ type: string; resolve: (m: Msg) => void }> = [];

  constructor(args: string[]) {
    this.worker = new Worker(path.join(fixturesDir, 'lock-interleave.js'), { argv: args, execArgv: [] });
    this.worker.on('message', (m: Msg) => {
      const i = this.#waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiting.splice(i, 1)[0].resolve(m);
      else this.#inbox.push(m);
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  message(type: string): Promise<Msg> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0]);
    return new Promise((resolve) => this.#waiting.push({ type, resolve }));
  }

  send(m: Msg): void {
    this.worker.postMessage(m);
  }
}

type Party = WorkerParty | Child;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function untilWaiters(t: Test, m: Mutex, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (m.info().waiters < n) {
    if (Date.now() > deadline) {
      t.fail(`only ${m.info().waiters} of ${n} parties are waiting after 20 s`);
      return;
    }
    await nextTurn();
  }
}

t.test(
  'JS fast-path, native blocking and parker-granted holders in threads and processes exclude each other',
  async (t) => {
    const mutex = new Mutex(testName('interleave-lock'), { create: 'create' });
    const shm = new SharedMemory(testName('interleave-mem'), { size: 64, create: 'create' });
    t.teardown(() => {
      mutex.close();
      Mutex.unlink(mutex.name);
      shm.close();
      shm.unlink();
    });
    const view = new DataView(shm.buffer.buffer, shm.buffer.byteOffset, 64);
    const words = new Int32Array(shm.buffer.buffer, shm.buffer.byteOffset, 4);
    const args = [mutex.name, shm.name];
    const parties: Party[] = [
      new Child('lock-interleave.js', args),
      new Child('lock-interleave.js', args),
      new WorkerParty(args),
      new WorkerParty(args),
    ];
    for (const p of parties) if (p instanceof Child) t.teardown(() => p.kill());
    await Promise.all(parties.map((p) => p.message('ready')));

    const seen: number[] = [];
    const mine = -1;
    const enter = (): number => {
      if (Atomics.exchange(words, 1, mine) !== 0) Atomics.add(words, 2, 1);
      return view.getInt32(0, true);
    };
    const leave = (v: number): void => {
      view.setInt32(0, v + 1, true);
      if (Atomics.exchange(words, 1, 0) !== mine) Atomics.add(words, 2, 1);
      seen.push(v);
    };

    // Rounds: this thread holds (fast path), the others queue on every slow path, then it releases.
    const rounds = 40;
    for (let r = 0; r < rounds; r++) {
      t.equal(mutex.info().waiters, 0, `round ${r}: nobody waits before this thread takes the free word`);
      mutex.acquireSync();
      const v = enter();
      parties.forEach((p, i) => p.send({ type: 'round', kind: (i + r) % 2 === 0 ? 'sync' : 'async' }));
      await untilWaiters(t, mutex, parties.length); // two sleep in native Lock, two are parked
      leave(v);
      mutex.release(); // the waiters bit is set: the release goes native and wakes / grants
      for (const m of await Promise.all(parties.map((p) => p.message('round-done')))) seen.push(m.value as number);
    }

    // Free running: everyone, this thread included, mixes the APIs.
    const iterations = 600;
    for (const p of parties) p.send({ type: 'run', iterations });
    for (let i = 0; i < iterations; i++) {
      if (i % 2 === 0) {
        mutex.acquireSync();
        leave(enter());
        mutex.release();
      } else {
        const g = await mutex.acquire();
        const v = enter();
        await null;
        leave(v);
        g.release();
      }
    }
    for (const m of await Promise.all(parties.map((p) => p.message('run-done')))) seen.push(...(m.values as number[]));

    const total = rounds * (parties.length + 1) + iterations * (parties.length + 1);
    t.equal(Atomics.load(words, 2), 0, 'no critical section ever found another one inside');
    t.equal(view.getInt32(0, true), total, 'exact total');
    t.equal(seen.length, total, 'every acquisition completed once');
    const sorted = [...seen].sort((a, b) => a - b);
    t.ok(
      sorted.every((v, i) => v === i),
      'the values read under the lock are exactly 0..total-1: no overlap, no grant delivered twice',
    );
    const info = mutex.info();
    t.equal(info.locked, false, 'nobody holds it at the end');
    t.equal(info.waiters, 0, 'nobody waits at the end (no grant lost)');
    t.equal(info.acquisitions, BigInt(total), 'one fresh acquisition per critical section, wherever it was taken');

    for (const p of parties) p.send({ type: 'stop' });
    for (const p of parties) {
      if (p instanceof WorkerParty) t.equal(await p.exited, 0, 'worker exits with code 0');
      else t.same(await p.exited, { code: 0, signal: null }, 'child exits with code 0');
    }
  },
);
