// The warm ProcessPool: children reused across pcalls, module targets loaded once per child,
// crashed children replaced, timeouts on pool calls, clean close(), and no orphan when the
// parent is SIGKILLed.
import t from 'tap';
import * as path from 'node:path';
import { ChildProcessException, ClosedError, pcall, PcallTimeoutError, ProcessPool } from '../dist';
import { Child } from './helpers/fork';
import { alive, removeSegmentsOf, survivors } from './helpers/procs';

const fixtures = path.join(__dirname, 'fixtures');
const targetsModule = path.join(fixtures, 'pcall-targets.js');
// tap preloads its process tracker through NODE_OPTIONS; children inherit it and start 3x slower.
delete process.env.NODE_OPTIONS;

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

for (const mode of ['process', 'thread'] as const) {
  t.test(`${mode}: pool children are reused across calls`, async (t) => {
    const pool = new ProcessPool({ size: 2, mode });
    t.teardown(() => pool.close());
    t.equal(pool.size, 2);
    t.equal(pool.mode, mode);
    const pids = [...pool.pids].sort();
    t.equal(pids.length, 2, 'two children start at once');
    const whoami = mode === 'thread' ? () => require('node:worker_threads').threadId : () => process.pid;
    const first = await pcall<number>(whoami, { iargs: [[], [], [], [], []], pool });
    const second = await pcall<number>(whoami, { iargs: [[], [], []], pool });
    t.same([...new Set([...first, ...second])].sort(), pids, 'every call ran on one of the two warm children');
    t.same([...pool.pids].sort(), pids, 'the pool still has the same children');
    t.same(
      await pcall((a: number, b: number) => a * b, {
        iargs: [
          [2, 3],
          [4, 5],
          [6, 7],
        ],
        pool,
      }),
      [6, 20, 42],
      'results in call order',
    );
  });
}

t.test('module targets are loaded once per pool child and cached', async (t) => {
  const pool = new ProcessPool({ size: 1 });
  t.teardown(() => pool.close());
  const target = { module: targetsModule, export: 'loadInfo' };
  const runs = [
    ...(await pcall<{ pid: number; loads: number }>(target, { iargs: [[], []], pool })),
    ...(await pcall<{ pid: number; loads: number }>(target, { iargs: [[]], pool })),
  ];
  t.same(
    runs.map((r) => r.loads),
    [1, 1, 1],
    'loaded once',
  );
  t.equal(new Set(runs.map((r) => r.pid)).size, 1, 'by the one child');
});

t.test('a crashed pool child fails its call and is replaced', async (t) => {
  const pool = new ProcessPool({ size: 1 });
  t.teardown(() => pool.close());
  const [before] = pool.pids;
  const err = (await rejection(pcall(() => process.exit(3), { iargs: [[]], pool }))) as ChildProcessException;
  t.ok(err instanceof ChildProcessException);
  t.same([err.pid, err.exitCode], [before, 3]);
  const [after] = await pcall<number>(() => process.pid, { iargs: [[]], pool });
  t.not(after, before, 'a new child ran the next call');
  t.same(pool.pids, [after]);
  t.notOk(alive(before), 'the crashed child is gone');
  const thrown = (await rejection(
    pcall(
      () => {
        throw new TypeError('no crash');
      },
      { iargs: [[]], pool },
    ),
  )) as ChildProcessException;
  t.ok(thrown.cause instanceof TypeError);
  t.same(pool.pids, [after], 'a throwing target does not cost the child');
});

t.test('a timeout on a pool call kills the running children and cancels the queued calls', async (t) => {
  const pool = new ProcessPool({ size: 2, execArgv: ['--require', path.join(fixtures, 'pcall-ignore-sigterm.js')] });
  t.teardown(() => pool.close());
  await pcall(() => 0, { iargs: [[], []], pool }); // warm: both children ignore SIGTERM by now
  const warm = [...pool.pids];
  // Dispatch is synchronous: calls 0 and 1 start on the two children, call 2 stays queued.
  const err = (await rejection(
    pcall(() => new Promise(() => {}), { iargs: [[], [], []], pool, timeout: 300 }),
  )) as PcallTimeoutError;
  t.ok(err instanceof PcallTimeoutError);
  t.same(
    err.running.map((r) => r.index),
    [0, 1, 2],
    'the queued call is listed too',
  );
  t.same(
    err.running.map((r) => r.pid !== undefined),
    [true, true, false],
    'call 2 never got a child',
  );
  t.same(
    err.errors.map((e) => e?.signal ?? null),
    ['SIGKILL', 'SIGKILL', null],
    'SIGTERM ignored, then SIGKILL',
  );
  t.match(err.errors[2]?.message, /^pcall call 2 \(pid none\) was cancelled before it started$/);
  t.same(await pcall(() => 'after', { iargs: [[], []], pool }), ['after', 'after'], 'the pool recovered');
  t.equal(pool.pids.length, 2);
  t.same(
    pool.pids.filter((pid) => warm.includes(pid)),
    [],
    'the killed children were replaced',
  );
});

t.test('close() waits for running calls, ends every child and refuses new calls', async (t) => {
  const pool = new ProcessPool({ size: 2 });
  const pids = [...pool.pids];
  const running = pcall((x: number) => new Promise((resolve) => setImmediate(() => resolve(x))), {
    iargs: [[1], [2], [3]],
    pool,
  });
  const closing = pool.close();
  t.equal(pool.close(), closing, 'close() twice returns the same promise');
  t.same(await running, [1, 2, 3], 'the calls in flight completed');
  await closing;
  t.ok(pool.closed);
  t.same(pool.pids, []);
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `child ${pid} is gone`);
  const closed = await rejection(pcall(() => 1, { iargs: [[]], pool }));
  t.ok(closed instanceof ClosedError, 'a call on a closed pool rejects with ClosedError');
});

t.test('destroy() kills the children at once and fails their calls', async (t) => {
  const pool = new ProcessPool({ size: 1 });
  const [pid] = pool.pids;
  const hung = pcall(() => new Promise(() => {}), { iargs: [[], []], pool });
  await pool.destroy();
  const err = (await rejection(hung)) as ChildProcessException;
  t.same(
    err.errors.map((e) => e?.index),
    [0, 1],
    'both calls failed',
  );
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
});

t.test('await using a pool closes it', async (t) => {
  let pids: number[] = [];
  {
    await using pool = new ProcessPool({ size: 1 });
    pids = pool.pids;
    t.same(await pcall((x: number) => x + 1, { iargs: [[1]], pool }), [2]);
  }
  t.throws(() => process.kill(pids[0], 0), { code: 'ESRCH' });
});

t.test('pool options are validated', async (t) => {
  t.throws(() => new ProcessPool({ size: 0 }), {
    name: 'RangeError',
    message: 'options.size must be an integer from 1 to 1024. Received type number (0)',
  });
  t.throws(() => new ProcessPool({ max: 2 } as never), { message: /^options\.max must be spelled 'size'/ });
  t.throws(() => new ProcessPool({ size: 1, mode: 'fork' as never }), { name: 'TypeError' });
  const pool = new ProcessPool({ size: 1 });
  t.teardown(() => pool.close());
  await t.rejects(
    pcall(() => 1, { iargs: [[]], pool, mode: 'thread' }),
    {
      message:
        'options.mode must be set on the ProcessPool, not on a call that runs on it. Received type string ("thread")',
    },
  );
});

t.test('pool children exit when their parent is SIGKILLed', async (t) => {
  const parent = new Child('pcall-pool-parent.js', [], { env: process.env });
  const { pids, starts } = await parent.message<{ type: string; pids: number[]; starts: string[] }>('ready');
  t.equal(pids.length, 2);
  t.ok(
    pids.every((pid, i) => alive(pid, starts[i])),
    'the pool children run',
  );
  parent.kill('SIGKILL');
  t.same(await parent.exited, { code: null, signal: 'SIGKILL' });
  // The pool children are not our children: no exit event reaches this process (survivors()
  // polls, boundedly). Each child exits on its IPC 'disconnect', which the kernel triggers when
  // the parent dies.
  t.same(await survivors(pids, starts), [], 'no orphan left');
  // A SIGKILLed parent cannot unlink its pool's rings and board.
  removeSegmentsOf(parent.proc.pid!, ['queue', 'shm']);
});
