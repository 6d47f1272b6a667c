import t, { type Test } from 'tap';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { Mutex, SharedMemory } from '../dist';
import { Child, fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';

/** A mutex and a segment whose word 0 is the counter, both removed at teardown. */
function setup(t: Test, tag: string): { mutex: Mutex; shm: SharedMemory; view: DataView } {
  const mutex = new Mutex(testName(`${tag}-lock`), { create: 'create' });
  const shm = new SharedMemory(testName(`${tag}-mem`), { size: 64, create: 'create' });
  t.teardown(() => {
    mutex.close();
    Mutex.unlink(mutex.name);
    shm.close();
    shm.unlink();
  });
  const view = new DataView(shm.buffer.buffer, shm.buffer.byteOffset, 64);
  return { mutex, shm, view };
}

/** The counter fixture as a worker thread, with the same message surface as a Child. */
class WorkerChild {
  readonly worker: Worker;
  readonly exited: Promise<number>;
  readonly #inbox = new Map<string, Array<Record<string, unknown>>>();
  readonly #waiting = new Map<string, (m: Record<string, unknown>) => void>();

  constructor(args: string[]) {
    this.worker = new Worker(path.join(fixturesDir, 'mutex-counter.js'), { argv: args, execArgv: [] });
    this.worker.on('message', (m: { type: string }) => {
      const waiter = this.#waiting.get(m.type);
      if (waiter !== undefined) {
        this.#waiting.delete(m.type);
        waiter(m);
      } else {
        this.#inbox.set(m.type, [...(this.#inbox.get(m.type) ?? []), m]);
      }
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  message(type: string): Promise<Record<string, unknown>> {
    const queued = this.#inbox.get(type)?.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiting.set(type, resolve));
  }

  send(m: object): void {
    this.worker.postMessage(m);
  }
}

/** Starts `parties` counter fixtures, releases them together, waits until all are done. */
async function runCounters(
  t: Test,
  kind: 'process' | 'worker',
  parties: number,
  iterations: number,
  mode: string,
): Promise<number> {
  const { mutex, shm, view } = setup(t, `${kind}-${mode}`);
  const args = [mutex.name, shm.name, String(parties), String(iterations), mode];
  const children = Array.from({ length: parties }, () => {
    if (kind === 'worker') return new WorkerChild(args);
    const child = new Child('mutex-counter.js', args);
    t.teardown(() => child.kill());
    return child;
  });
  await Promise.all(children.map((c) => c.message('ready')));
  const start = process.hrtime.bigint();
  for (const c of children) c.send({ type: 'go' });
  const done = await Promise.all(children.map((c) => c.message('done')));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  t.same(
    done.map((d) => d.acquisitions),
    children.map(() => iterations),
    'every party finished its increments',
  );
  for (const c of children) {
    if (c instanceof WorkerChild) t.equal(await c.exited, 0, 'worker exits with code 0');
    else t.same(await c.exited, { code: 0, signal: null }, 'child exits with code 0, no signal');
  }
  t.equal(view.getInt32(0, true), parties * iterations, `exact total: no lost update (${ms.toFixed(0)} ms)`);
  t.equal(mutex.info().acquisitions, BigInt(parties * iterations), 'one fresh acquisition per increment');
  t.equal(mutex.info().locked, false, 'nobody holds it at the end');
  return ms;
}

t.test('4 processes x 20000 non-atomic increments under the lock give the exact total', async (t) => {
  const ms = await runCounters(t, 'process', 4, 20_000, 'sync');
  t.comment(`4 processes x 20000 acquireSync increments: ${ms.toFixed(0)} ms`);
});

t.test('4 worker threads x 20000 non-atomic increments under the lock give the exact total', async (t) => {
  const ms = await runCounters(t, 'worker', 4, 20_000, 'sync');
  t.comment(`4 workers x 20000 acquireSync increments: ${ms.toFixed(0)} ms`);
});

t.test('sync and Promise acquirers mixed across 2 processes give the exact total', async (t) => {
  const ms = await runCounters(t, 'process', 2, 10_000, 'mixed');
  t.comment(`2 processes x 10000 mixed increments: ${ms.toFixed(0)} ms`);
});

t.test('async tasks that await inside the critical section never overlap (withLock and guards)', async (t) => {
  const { mutex, view } = setup(t, 'tasks');
  let inside = 0;
  let overlaps = 0;
  const criticalSection = async (round: number): Promise<void> => {
    if (++inside !== 1) overlaps += 1;
    const v = view.getInt32(0, true);
    await null;
    if (round % 7 === 0) await new Promise((resolve) => setImmediate(resolve)); // a real turn of the loop
    view.setInt32(0, v + 1, true);
    inside -= 1;
  };
  const viaWithLock = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await mutex.withLock(() => criticalSection(i));
  };
  const viaGuard = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const guard = await mutex.acquire();
      try {
        await criticalSection(i);
      } finally {
        guard.release();
      }
    }
  };
  const n = 2_000;
  await Promise.all([viaWithLock(n), viaWithLock(n), viaGuard(n), viaGuard(n), viaWithLock(n), viaGuard(n)]);
  t.equal(overlaps, 0, 'no task entered while another was inside');
  t.equal(view.getInt32(0, true), 6 * n, 'exact total');
  t.equal(mutex.info().acquisitions, BigInt(6 * n), 'each task iteration was a fresh acquisition');
  t.equal(mutex.info().locked, false);
});

t.test('async tasks in this process and a process incrementing synchronously exclude each other', async (t) => {
  const { mutex, shm, view } = setup(t, 'cross');
  const iterations = 5_000;
  const child = new Child('mutex-counter.js', [mutex.name, shm.name, '2', String(iterations), 'sync']);
  t.teardown(() => child.kill());
  await child.message('ready');
  child.send({ type: 'go' });
  const words = new Int32Array(shm.buffer.buffer, shm.buffer.byteOffset, 2);
  Atomics.add(words, 1, 1); // this process is the second party of the child's barrier
  const task = async (): Promise<void> => {
    for (let i = 0; i < iterations / 2; i++) {
      await mutex.withLock(async () => {
        const v = view.getInt32(0, true);
        await null;
        view.setInt32(0, v + 1, true);
      });
    }
  };
  await Promise.all([task(), task(), child.message('done')]);
  t.same(await child.exited, { code: 0, signal: null }, 'child exits with code 0, no signal');
  t.equal(view.getInt32(0, true), 2 * iterations, 'exact total');
  t.equal(mutex.info().locked, false);
});
