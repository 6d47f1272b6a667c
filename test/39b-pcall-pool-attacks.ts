// Adversarial review of the warm pool (issue 10): what a dying child, a dying parent, a child that
// never ends its result, or a handle closed under a wait must never do to the other side - crash,
// hang, keep a process alive, or leave an orphan. Real processes and real SIGKILL; each wait is a
// handshake or a process exit, bounded only to turn a hang into a failure.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildProcessException, ClosedError, Mutex, Pcall, pcall, ProcessPool, SharedMemory, ShmQueue } from '../dist';

delete process.env.NODE_OPTIONS;
const parentScript = path.join(__dirname, 'fixtures', 'pcall-pool-attack-parent.js');
const targets = path.join(__dirname, 'fixtures', 'pcall-ring-targets.js');

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/** `promise`, or a rejection naming `what` after `ms` (a hang becomes a failure, not a stuck run). */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Whether `pid` is gone (no process, or a zombie nobody reaped yet). */
function exited(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

t.test("ShmQueue.close() withdraws the handle's parked get() and put(): they reject with ClosedError", async (t) => {
  const q = new ShmQueue<Buffer>(undefined, { codec: 'raw', capacity: 4096 });
  t.teardown(() => ShmQueue.unlink(q.name));
  const other = new ShmQueue<Buffer>(q.name, { create: 'open', codec: 'raw' });
  t.teardown(() => other.close());
  const get = q.get();
  const otherGet = other.get();
  q.close();
  const err = await bounded(
    get.then(
      () => undefined,
      (e: unknown) => e,
    ),
    10_000,
    'get() on a closed handle',
  );
  t.ok(err instanceof ClosedError, 'get() rejects with ClosedError');
  t.equal((err as { code?: string }).code, 'SHMSYNC_CLOSED');
  // Another handle's wait is untouched: it still receives.
  const sender = new ShmQueue<Buffer>(q.name, { create: 'open', codec: 'raw' });
  t.teardown(() => sender.close());
  sender.putSync(Buffer.from('x'));
  t.same(await bounded(otherGet, 10_000, 'get() of another handle'), Buffer.from('x'), 'the other handle still gets');

  const full = new ShmQueue<Buffer>(undefined, { codec: 'raw', capacity: 4096 });
  t.teardown(() => ShmQueue.unlink(full.name));
  while (full.tryPut(Buffer.alloc(1000)));
  const put = full.put(Buffer.alloc(1000));
  full.close();
  const perr = await bounded(
    put.then(
      () => undefined,
      (e: unknown) => e,
    ),
    10_000,
    'put() on a closed handle',
  );
  t.ok(perr instanceof ClosedError, 'a put() waiting for room rejects with ClosedError');
  t.equal((perr as { written?: number }).written, 0, 'and says nothing of the batch was written');
});

t.test(
  'a pool child SIGKILLed while its work streams in: the call fails, the parent still exits by itself',
  async (t) => {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, [parentScript, 'kill-mid-work'], { timeout: 60_000 }, (err, out) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: out }),
      );
      child.stdin?.end();
    });
    const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
    t.match(report.failure?.message ?? '', /^pcall call 0 \(pid \d+\) ended without a result: killed by SIGKILL$/);
    t.equal(report.failure?.signal, 'SIGKILL');
    t.same(report.after, [2], 'the replacement serves calls');
    t.equal(code, 0, 'the parent exited on its own once the pool was closed (not killed by the 60 s bound)');
  },
);

/** Starts the attack parent with `args`, reads its first line (JSON), SIGKILLs it; returns the line. */
async function killParentAfterReport(args: string[], env = process.env): Promise<{ child: number }> {
  const parent = spawn(process.execPath, [parentScript, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    parent.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0]);
    });
    parent.once('exit', () => reject(new Error('the parent exited before reporting')));
  });
  const parentGone = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGKILL');
  await parentGone;
  return JSON.parse(line) as { child: number };
}

/** Waits (bounded: a hang is the failure) for `pid` to exit; SIGKILLs it if it did not. */
async function expectExit(t: TapTest, pid: number, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!exited(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const gone = exited(pid);
  if (!gone) {
    console.error(
      'DEBUG',
      require('node:child_process')
        .execSync(
          `ps -o pid,ppid,stat,wchan:30,cmd -p ${pid}; cat /proc/${pid}/task/*/stat | cut -d' ' -f1-3; cat /proc/${pid}/task/*/wchan; echo; for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -q hold && echo HOLDER $p && cat $p/cmdline | tr '\\0' ' '; done; echo; cat /proc/${pid}/environ | tr '\\0' '\\n' | grep -v -i -E 'path|home|term' | head -30`,
        )
        .toString(),
    );
    process.kill(pid, 'SIGKILL');
  }
  t.ok(gone, what);
}

t.test('a parent SIGKILLed while its pool child streams a large result: the child exits, no orphan', async (t) => {
  const { child } = await killParentAfterReport(['orphan-result']);
  // The child is computing its result or waiting for room on its result ring, which nobody will
  // ever drain: either way it must see that its parent is gone and exit.
  await expectExit(t, child, `pool child ${child} exited after its parent died mid-result`);
});

t.test('a parent SIGKILLed while its pool child starts: the child exits once started, no orphan', async (t) => {
  // The gate of test/37: the child's preload reports, then blocks until this process releases.
  const gate = new Mutex();
  const reports = new ShmQueue<{ pid: number }>(undefined, { codec: 'json', capacity: 4096 });
  t.teardown(() => {
    if (gate.info().depth > 0) gate.release();
    gate.close();
    gate.unlink();
    reports.close();
    reports.unlink();
  });
  t.equal(gate.acquireSync(), true, 'the test holds the gate');
  const env = { ...process.env, PCALL_GATE: gate.name, PCALL_GATE_REPORT: reports.name };
  const { child } = await killParentAfterReport(['orphan-start'], env);
  const { pid } = await reports.get({ timeout: 60_000 }); // the child is held in its start-up
  t.equal(pid, child);
  // Keep its rings and board: a dead creator's segments may be swept when nobody uses them, and a child
  // that finds no ring exits anyway. What is tested is the dead channel, not the missing ring.
  const argv = fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
  const at = argv.indexOf('--shmsync-pcall-pool');
  const rings = [argv[at + 1], argv[at + 2]].map((name) => new ShmQueue(name, { create: 'open', codec: 'raw' }));
  const board = new SharedMemory(argv[at + 3], { create: 'open' });
  t.teardown(() => {
    for (const ring of rings) {
      ring.close();
      ring.unlink();
    }
    board.close();
    board.unlink();
  });
  gate.release(); // its parent is dead: the channel is closed before child-main.js runs
  await expectExit(t, child, `pool child ${child} exited: its channel was closed before it started`);
});

async function rejection(promise: Promise<unknown>): Promise<ChildProcessException> {
  try {
    await promise;
  } catch (err) {
    return err as ChildProcessException;
  }
  throw new Error('expected a rejection');
}

t.test('a result larger than maxResultBytes: the call fails, the child is replaced, nothing is buffered', async (t) => {
  t.throws(() => new ProcessPool({ size: 1, maxResultBytes: 0 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new ProcessPool({ size: 1, maxResultBytes: '1' as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  const pool = new ProcessPool({ size: 1, maxResultBytes: 1 << 20 });
  t.teardown(() => pool.close());
  const [before] = pool.pids;
  t.same(
    await pcall((n: number) => new Uint8Array(n).length, { iargs: [[1 << 19]], pool }),
    [1 << 19],
    'a small result',
  );
  const err = await rejection(pcall((n: number) => new Uint8Array(n), { iargs: [[2 << 20]], pool }));
  t.ok(err instanceof ChildProcessException);
  t.match(
    err.message,
    /^pcall call 0 \(pid \d+\) sent a result larger than the pool's maxResultBytes \(1048576 bytes\); the pool killed the child$/,
  );
  t.not(pool.pids[0], before, 'the child was replaced');
  t.same(await pcall((x: number) => x + 1, { iargs: [[1]], pool }), [2], 'the pool still works');
});

for (const [kind, why] of [
  ['fragments', /sent a result larger than the pool's maxResultBytes \(4194304 bytes\); the pool killed the child$/],
  ['empty', /broke the pool's ring protocol \(a result fragment of 0 bytes, not \d+\); the pool killed the child$/],
  ['started', /broke the pool's ring protocol \(a second "started" record for one call\); the pool killed the child$/],
] as const) {
  t.test(`a child that floods its result ring with ${kind} records of its own call is stopped`, async (t) => {
    const pool = new ProcessPool({ size: 1, maxResultBytes: 4 << 20 });
    t.teardown(() => pool.close());
    // The event loop keeps turning while the parent reads the flood (a ticker proves it).
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 1);
    t.teardown(() => clearInterval(ticker));
    const err = await bounded(
      rejection(pcall({ module: targets, export: 'flood' }, { iargs: [[kind]], pool })),
      30_000,
      'the flooded call',
    );
    t.ok(err instanceof ChildProcessException);
    t.match(err.message, why);
    t.ok(ticks > 0, 'timers ran meanwhile');
    t.same(await pcall((x: number) => x + 1, { iargs: [[1]], pool }), [2], 'the replacement works');
  });
}

t.test(
  'payloads: JSON carries only what structured clone would give; a Proxy is refused as v8 refuses it',
  async (t) => {
    // A Proxy of a plain object passes every JSON check, but v8 cannot clone it: the constructor
    // must throw, as for any uncloneable argument, not ship a plain copy.
    const proxy = new Proxy({ a: 1 }, {});
    t.throws(() => new Pcall((x: unknown) => x, { iargs: [[proxy]] }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
    const pool = new ProcessPool({ size: 1 });
    t.teardown(() => pool.close());
    // Values where JSON would not round-trip come back as structured clone gives them.
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const values: unknown[] = [
      undefined,
      -0,
      NaN,
      Infinity,
      10n,
      new Date(5),
      new Map([[1, { a: -0 }]]),
      sparse,
      new (class {
        a = 2;
        toJSON(): number {
          return 1;
        }
      })(),
      JSON.parse('{"__proto__": {"x": 1}, "a": 1}'),
      'a\ud800b',
      { ['a\udc00']: [undefined] },
      Object.assign([1, 2], { extra: 1 }),
    ];
    const [back] = await pcall((v: unknown) => v, { iargs: [[values]], pool });
    const v8 = await import('node:v8');
    t.strictSame(back, v8.deserialize(v8.serialize(values)), 'the same as v8 structured clone');
    const arr = back as unknown[];
    t.ok(Object.is(arr[1], -0), '-0 stays -0');
    t.ok(!(1 in (arr[7] as unknown[])), 'a hole stays a hole');
    t.ok(Object.prototype.hasOwnProperty.call(arr[9], '__proto__'), 'an own __proto__ key stays an own key');
    t.equal((arr[12] as { extra?: number }).extra, 1, 'an array keeps its extra property');
    // The payload codec reads a getter once, as v8.serialize does (JSON.stringify after the
    // fidelity check would read it a second time, and may get another value). Checked on the
    // codec itself: pcall's handle scan (handle-codec.ts) reads argument values once more.
    const { decodePayload, encodePayload } = await import('../dist/pcall/payload-codec.js');
    let reads = 0;
    const lazy = {
      get g(): string | undefined {
        reads += 1;
        return reads === 1 ? 'first' : undefined;
      },
    };
    t.strictSame(decodePayload(encodePayload(lazy)), { g: 'first' }, 'the first read travels');
    t.equal(reads, 1, 'the getter ran once');
  },
);
