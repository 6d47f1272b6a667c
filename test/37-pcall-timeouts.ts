// Issue 9 item 16: a pcall `timeout` measures the work (the clock starts when the child is about
// to call its target); start-up is bounded separately by `startTimeout`. Start-up is made slow on
// purpose, not by machine load: a `--require` preload blocks until the parent releases a mutex.
import t from 'tap';
import * as path from 'node:path';
import { Mutex, Pcall, PcallStartTimeoutError, PcallTimeoutError, ProcessPool, ShmQueue, pcall } from '../dist';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

// tap's process tracker in NODE_OPTIONS would slow every child (see 31-pcall-run.ts).
delete process.env.NODE_OPTIONS;
const preload = path.join(__dirname, 'fixtures', 'pcall-start-gate.js');

/** A held gate mutex and the queue on which gated children report that they reached it. */
function gate(t: TapTest): {
  mutex: Mutex;
  reports: ShmQueue<{ pid: number }>;
  env: NodeJS.ProcessEnv;
  execArgv: string[];
} {
  const mutex = new Mutex();
  const reports = new ShmQueue<{ pid: number }>(undefined, { codec: 'json', capacity: 4096 });
  t.teardown(() => {
    if (mutex.info().depth > 0) mutex.release();
    mutex.close();
    mutex.unlink();
    reports.close();
    reports.unlink();
  });
  t.equal(mutex.acquireSync(), true, 'the parent holds the gate');
  return {
    mutex,
    reports,
    env: { ...process.env, PCALL_GATE: mutex.name, PCALL_GATE_REPORT: reports.name },
    execArgv: ['--require', preload],
  };
}

const timer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('start-up longer than the timeout does not count: a fast target under a short timeout succeeds', async (t) => {
  const g = gate(t);
  const timeout = 200;
  const p = new Pcall((x: number) => x * 2, { iargs: [[21]], timeout, env: g.env, execArgv: g.execArgv }).start();
  await g.reports.get({ timeout: 30_000 });
  // The child is blocked in its start-up. Keep it there for twice the timeout: a clock started
  // at start() (before the fix) has expired by now and killed the child; this timer was armed
  // after start(), so it fires after such a deadline whatever the machine's speed.
  await timer(2 * timeout);
  t.equal(p.livings.length, 1, 'the child was not stopped while starting');
  g.mutex.release();
  t.same(await p.join(), [42], 'the call ran and returned');
});

t.test('on a pool: start-up of the pool child does not count either', async (t) => {
  const g = gate(t);
  const pool = new ProcessPool({ size: 1, env: g.env, execArgv: g.execArgv });
  t.teardown(() => pool.destroy());
  const timeout = 200;
  const joined = pcall((x: number) => x + 1, { iargs: [[1]], timeout, pool });
  await g.reports.get({ timeout: 30_000 });
  await timer(2 * timeout);
  g.mutex.release();
  t.same(await joined, [2]);
});

t.test(
  'startTimeout bounds start-up: a child that never starts its target fails with SHMSYNC_START_TIMEOUT',
  async (t) => {
    const g = gate(t);
    const p = new Pcall((x: number) => x, {
      iargs: [[1], [2]],
      startTimeout: 300,
      env: g.env,
      execArgv: g.execArgv,
    }).start();
    const err = (await p.join().catch((e: unknown) => e)) as PcallStartTimeoutError;
    t.ok(err instanceof PcallStartTimeoutError, 'PcallStartTimeoutError');
    t.equal(err.code, 'SHMSYNC_START_TIMEOUT');
    t.equal(err.startTimeout, 300);
    t.ok(err.index === 0 || err.index === 1, 'names the call whose start-up ran out');
    t.same(
      err.running.map((r) => r.index),
      [0, 1],
      'both calls were stopped',
    );
    t.same(
      err.errors.map((e) => e?.signal),
      ['SIGTERM', 'SIGTERM'],
      'their children got SIGTERM',
    );
    t.match(err.message, /did not start its target within startTimeout 300 ms/);
    t.notOk(err instanceof PcallTimeoutError, 'not a work timeout');
    t.same(p.livings, []);
  },
);

t.test('the timeout still bounds the work: a target that started and hangs is stopped', async (t) => {
  const started = new ShmQueue<number>(undefined, { codec: 'json', capacity: 4096 });
  t.teardown(() => {
    started.close();
    started.unlink();
  });
  const p = new Pcall(
    async (q: ShmQueue<number>, i: number) => {
      await q.put(i);
      if (i === 1) await new Promise(() => {}); // only the timeout ends it
      return i;
      // 3 s: call 0 (trivial) must have finished by the time call 1's work clock runs out, even when
      // a loaded machine starts child 0 well after child 1 (timeouts are per call, from 'started').
    },
    { cargs: [started], iargs: [[0], [1]], timeout: 3000 },
  ).start();
  const err = (await p.join().catch((e: unknown) => e)) as PcallTimeoutError;
  t.ok(err instanceof PcallTimeoutError, 'PcallTimeoutError');
  t.equal(err.code, 'SHMSYNC_TIMEOUT');
  t.same(
    err.running.map((r) => r.index),
    [1],
    'the hanging call was running',
  );
  t.equal(err.results[0], 0, 'the finished call keeps its result');
  t.same([started.tryGet(), started.tryGet()].sort(), [0, 1], 'both targets had started');
});

t.test('startTimeout is validated like timeout and is a reserved option', async (t) => {
  await t.rejects(
    pcall((x: number) => x, { iargs: [[1]], startTimeout: -1 }),
    { code: 'SHMSYNC_OUT_OF_RANGE' },
  );
  await t.rejects(
    pcall((x: number) => x, { iargs: [[1]], startTimeout: 'soon' as unknown as number }),
    { code: 'SHMSYNC_INVALID_ARG_TYPE' },
  );
  t.same(await pcall((x: number) => x, { iargs: [[1]], startTimeout: Infinity }), [1], 'Infinity: no bound');
});

t.test(
  "a pool child's stale 'started' report (previous call, same index) does not start the next call's clock (attack-js)",
  async (t) => {
    const g = gate(t);
    const env = { ...process.env, STALE_GATE: g.mutex.name, STALE_REPORT: g.reports.name };
    const pool = new ProcessPool({ size: 1, env });
    t.teardown(() => pool.destroy());
    t.same(await pcall((x: number) => x, { iargs: [[1]], pool }), [1], 'a first call 0 ran on the child');
    const startTimeout = 1500;
    const joined = pcall(
      { module: path.join(__dirname, 'fixtures', 'pcall-stale-started.js') },
      { iargs: [[2]], pool, startTimeout },
    ).then(
      () => 'resolved',
      (err: unknown) => err,
    );
    await g.reports.get({ timeout: 30_000 }); // the report was sent before this; the child is blocked loading
    // Before the fix the stale report cancelled the start-up clock: the call waited for the gate
    // forever. Bound that outcome (it is the failure) instead of hanging the test.
    const outcome = await Promise.race([joined, timer(20 * startTimeout).then(() => 'hung')]);
    g.mutex.release();
    t.ok(outcome instanceof PcallStartTimeoutError, 'the start-up clock still ran out: SHMSYNC_START_TIMEOUT');
  },
);

t.test(
  'timeout edge values: NaN and -0.5 are refused, values above 2^31-1 ms do not fire early (attack-js)',
  async (t) => {
    for (const key of ['timeout', 'startTimeout'] as const) {
      await t.rejects(
        pcall((x: number) => x, { iargs: [[1]], [key]: NaN }),
        { code: 'SHMSYNC_OUT_OF_RANGE' },
        `${key}: NaN`,
      );
      await t.rejects(
        pcall((x: number) => x, { iargs: [[1]], [key]: -0.5 }),
        { code: 'SHMSYNC_OUT_OF_RANGE' },
        `${key}: negative`,
      );
    }
    // setTimeout clamps delays above 2^31-1 ms to 1 ms: a clock armed with one would stop the call.
    const huge = 2 ** 40;
    t.same(
      await pcall(
        (x: number) => {
          const end = Date.now() + 50;
          while (Date.now() < end); // outlives a clamped 1 ms clock
          return x;
        },
        { iargs: [[1], [2]], timeout: huge, startTimeout: huge },
      ),
      [1, 2],
      'huge timeout and startTimeout',
    );
  },
);
