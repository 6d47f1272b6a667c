// Issue 10: the warm pool on per-child shared-memory rings. Exactly once under concurrency, a
// kill loop (a child SIGKILLed mid-call fails that call only, is replaced, nothing is lost or run
// twice), children that break or corrupt their rings (a clear error, never a parent crash), the
// board that replaces the "started" record, and no segment left behind. Real processes; every
// synchronisation is a handshake (a report on a queue, a child's exit), never a sleep.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildProcessException, pcall, ProcessPool, SharedMemory, ShmQueue } from '../dist';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

// tap's process tracker in NODE_OPTIONS would slow every child (see 31-pcall-run.ts).
delete process.env.NODE_OPTIONS;
const targets = path.join(__dirname, 'fixtures', 'pcall-ring-targets.js');
const count = { module: targets, export: 'count' };

/** Segments this process created for pools (rings: queue, board: shm), by name. */
function poolSegments(): string[] {
  const pid36 = process.pid.toString(36);
  return fs
    .readdirSync('/dev/shm')
    .filter((n) => n.startsWith(`shmsync-queue-${pid36}-`) || n.startsWith(`shmsync-shm-${pid36}-`));
}

/** Counters for `n` calls in shared memory, and a json report queue; removed at teardown. */
function fixtures(t: TapTest, n: number): { shm: SharedMemory; report: ShmQueue<{ pid: number; id: number }> } {
  const shm = new SharedMemory(undefined, { size: 4 * n });
  const report = new ShmQueue<{ pid: number; id: number }>(undefined, { codec: 'json', capacity: 4096 });
  t.teardown(() => {
    shm.close();
    shm.unlink();
    report.close();
    report.unlink();
  });
  return { shm, report };
}

function counts(shm: SharedMemory, n: number): number[] {
  const b = shm.buffer;
  return [...new Int32Array(b.buffer, b.byteOffset, n)];
}

async function rejection(promise: Promise<unknown>): Promise<ChildProcessException> {
  try {
    await promise;
  } catch (err) {
    return err as ChildProcessException;
  }
  throw new Error('expected a rejection');
}

/** Runs `body` on a fresh pool, closes it, and checks that the pool removed every segment it made. */
async function withPool(
  t: TapTest,
  options: ConstructorParameters<typeof ProcessPool>[0],
  body: (pool: ProcessPool) => Promise<void>,
): Promise<void> {
  const before = new Set(poolSegments());
  const pool = new ProcessPool(options);
  const mine = poolSegments().filter((n) => !before.has(n));
  t.equal(mine.length, 2 * pool.size + 1, 'two rings per child and one board');
  try {
    await body(pool);
  } finally {
    await pool.close();
  }
  t.same(
    poolSegments().filter((n) => !before.has(n)),
    [],
    'close() removed every ring and the board, including those of replaced children',
  );
}

for (const mode of ['process', 'thread'] as const) {
  t.test(`${mode}: concurrent pcalls on a pool run every call exactly once`, async (t) => {
    const n = 150;
    const { shm } = fixtures(t, n);
    await withPool(t, { size: 2, mode }, async (pool) => {
      // Three pcalls at once, 50 calls each, on 2 children: queued, dispatched as children free up.
      const batches = [0, 1, 2].map((b) =>
        pcall<number>(count, { cargs: [shm], iargs: Array.from({ length: 50 }, (_, i) => [b * 50 + i]), pool }),
      );
      const results = await Promise.all(batches);
      t.same(
        results.flat(),
        Array.from({ length: n }, (_, i) => i * 2),
        'every result, in call order',
      );
      t.same(counts(shm, n), new Array(n).fill(1), 'each call ran once: none lost, none run twice');
    });
  });
}

t.test('kill loop: a child SIGKILLed mid-call fails that call only and is replaced; nothing runs twice', async (t) => {
  const rounds = 6;
  const perRound = 5;
  const n = rounds * perRound;
  const { shm, report } = fixtures(t, n);
  await withPool(t, { size: 2 }, async (pool) => {
    const killed: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const victim = round % perRound; // a different position of the batch each round
      const ids = Array.from({ length: perRound }, (_, i) => round * perRound + i);
      const calls = pcall<number>(
        ids.map((id, i) => ({ module: targets, export: i === victim ? 'countThenHang' : 'count' })),
        { cargs: [shm], iargs: ids.map((id) => [id, report]), pool },
      );
      // Handshake: the victim is inside its target (it counted itself) when it reports.
      const { pid, id } = await report.get({ timeout: 60_000 });
      t.equal(id, ids[victim], `round ${round}: the victim reported`);
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
      const err = await rejection(calls);
      t.ok(err instanceof ChildProcessException, `round ${round}: the pcall rejected`);
      t.equal(err.index, victim, 'with the killed call');
      t.equal(err.errors[victim]?.signal, 'SIGKILL', 'which says SIGKILL');
      t.equal(err.errors[victim]?.pid, pid, 'and names the killed child');
      t.same(
        err.errors.map((e, i) => (i === victim ? 'killed' : (e ?? 'ok'))),
        ids.map((_, i) => (i === victim ? 'killed' : 'ok')),
        'every other call succeeded',
      );
      t.same(
        err.results.filter((_, i) => i !== victim),
        ids.filter((_, i) => i !== victim).map((id) => id * 2),
        'with its result',
      );
      t.equal(pool.pids.length, 2, 'the pool has its two children again');
      t.notOk(pool.pids.includes(pid), 'the killed child was replaced');
    }
    t.same(counts(shm, n), new Array(n).fill(1), 'every call of every round ran exactly once (the victims too)');
    // The replacements serve calls.
    t.same(await pcall<number>(count, { cargs: [shm], iargs: [[0], [1]], pool }), [0, 2], 'the pool still works');
    t.equal(new Set(killed).size, rounds, 'a different child was killed each round');
  });
});

for (const mode of ['process', 'thread'] as const) {
  t.test(
    `${mode}: a child that puts a forged record on its result ring is stopped; its call fails clearly`,
    async (t) => {
      await withPool(t, { size: 1, mode }, async (pool) => {
        const [before] = pool.pids;
        const err = await rejection(pcall({ module: targets, export: 'forgeResult' }, { iargs: [[]], pool }));
        t.ok(err instanceof ChildProcessException);
        t.match(
          err.message,
          /^pcall call 0 \(pid \d+\) broke the pool's ring protocol \(a record that belongs to no call in flight\); the pool killed the child$/,
        );
        t.not(pool.pids[0], before, 'the child was replaced');
        t.same(await pcall((x: number) => x + 1, { iargs: [[1]], pool }), [2], 'the pool still works');
      });
    },
  );
}

t.test(
  'a child that corrupts its result ring and dies: its call fails with the corruption, the parent lives',
  async (t) => {
    await withPool(t, { size: 1 }, async (pool) => {
      const err = await rejection(pcall({ module: targets, export: 'corruptResultsAndExit' }, { iargs: [[]], pool }));
      t.ok(err instanceof ChildProcessException);
      // Whether the parent saw the corruption before or after the child's exit is a race (the
      // message then adds that the pool killed it): only the cause is judged.
      t.match(err.message, /broke the pool's ring protocol \(/, 'names the broken ring');
      t.same(await pcall((x: number) => x + 1, { iargs: [[1]], pool }), [2], 'the replacement works');
    });
  },
);

t.test('a call without a timeout reports "started" on the board: a long target outlives startTimeout', async (t) => {
  await withPool(t, { size: 1 }, async (pool) => {
    // The target runs (busy) four times longer than the start-up bound. Without a "started"
    // report the parent would stop it as a start-up that never finished.
    const startTimeout = 100;
    await pcall((x: number) => x, { iargs: [[0]], pool }); // warm: the child's own start-up is over
    const [r] = await pcall(
      (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end);
        return 'done';
      },
      { iargs: [[4 * startTimeout]], pool, startTimeout },
    );
    t.equal(r, 'done');
  });
});

t.test('results and work larger than a ring record stream through in fragments', async (t) => {
  await withPool(t, { size: 1 }, async (pool) => {
    const big = Buffer.alloc(3 << 20, 7); // larger than both rings
    const [n] = await pcall((b: Uint8Array) => b.reduce((s, x) => s + x, 0), { iargs: [[big]], pool });
    t.equal(n, 7 * (3 << 20), 'the whole argument arrived');
    const [out] = await pcall<Uint8Array>((len: number) => new Uint8Array(len).fill(9), { iargs: [[5 << 20]], pool });
    t.equal(out.length, 5 << 20);
    t.equal(out[out.length - 1], 9, 'the whole result came back');
  });
});

t.test(
  'an abort mid-call kills the pool child running it, cancels the queued calls, and runs nothing twice',
  async (t) => {
    const n = 4;
    const { shm, report } = fixtures(t, n);
    await withPool(t, { size: 1 }, async (pool) => {
      const [before] = pool.pids;
      const controller = new AbortController();
      // One child: call 0 runs (and hangs), calls 1-3 wait in the pool's queue.
      const calls = pcall<number>(
        [0, 1, 2, 3].map((i) => ({ module: targets, export: i === 0 ? 'countThenHang' : 'count' })),
        { cargs: [shm], iargs: [0, 1, 2, 3].map((id) => [id, report]), pool, signal: controller.signal },
      );
      const { pid } = await report.get({ timeout: 60_000 }); // handshake: call 0 is inside its target
      t.equal(pid, before);
      controller.abort(new Error('stop'));
      const err = (await rejection(calls)) as unknown as Error & {
        running: Array<{ index: number }>;
        errors: unknown[];
      };
      t.equal(err.name, 'AbortError');
      t.same(
        err.running.map((r) => r.index),
        [0, 1, 2, 3],
        'every call was unfinished',
      );
      t.same(counts(shm, n), [1, 0, 0, 0], 'call 0 ran once; the queued calls never ran');
      t.not(pool.pids[0], before, 'the aborted child was replaced');
      t.same(await pcall<number>(count, { cargs: [shm], iargs: [[1]], pool }), [2], 'the pool still works');
      t.same(counts(shm, n), [1, 1, 0, 0]);
    });
  },
);
