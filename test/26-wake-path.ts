// The wake path (issue 10, docs/concepts/wake-path.md): completions reach JS in one hop (queue
// watches on the context's own io_uring; parker-thread completions through one uv_async), the
// native side keeps the event loop referenced exactly while a wait is outstanding (JS calls
// nothing per completion), and one init() handshake. Every test runs in both wake modes: the
// default (direct watches where io_uring futex waits work) and SHMSYNC_WAKE=parker (the
// fallback every kernel has). The C++ side (exactly-once under concurrent publishers, TSan) is
// native/test/wake-path-test.cc.
import t, { type Test } from 'tap';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Mutex, ShmQueue } from '../dist';
import { binding } from '../dist/addon/binding';
import { Child, fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';
import { rounds as scaledRounds } from './helpers/scale';

const agent = path.join(fixturesDir, 'wake-agent.js');
const modes = ['direct', 'parker'] as const;
type Mode = (typeof modes)[number];

/** Runs `fn` with SHMSYNC_WAKE set for contexts created meanwhile (workers, children). */
async function inMode<T>(mode: Mode, fn: () => Promise<T>): Promise<T> {
  const before = process.env.SHMSYNC_WAKE;
  if (mode === 'parker') process.env.SHMSYNC_WAKE = 'parker';
  else delete process.env.SHMSYNC_WAKE;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.SHMSYNC_WAKE;
    else process.env.SHMSYNC_WAKE = before;
  }
}

function queueFor(t: Test, tag: string, capacity = 1 << 16): ShmQueue<unknown> {
  const q = new ShmQueue(testName(tag), { create: 'create', capacity });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  return q;
}

// A worker that fails or exits before its message rejects the wait (a failure, not a hang).
const messageOf = <T = Record<string, unknown>>(w: Worker, type: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const done = (): void => {
      w.off('message', on);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const on = (m: { type: string }): void => {
      if (m.type === type) {
        done();
        resolve(m as T);
      }
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const onExit = (code: number): void => {
      done();
      reject(new Error(`worker exited (code ${code}) before '${type}'`));
    };
    w.on('message', on);
    w.on('error', onError);
    w.on('exit', onExit);
  });

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Atomics.waitAsync (Node >= 16) is not in the project's TypeScript lib.
const waitAsync = (
  Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { value: unknown } }
).waitAsync;

/** Whether `beat[0]` (a worker's event-loop heartbeat, wake-agent.js) reaches `n` within `ms`. */
async function beatReaches(beat: Int32Array, n: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const seen = Atomics.load(beat, 0);
    if (seen >= n) return true;
    const left = end - Date.now();
    if (left <= 0) return false;
    await waitAsync(beat, 0, seen, left).value;
  }
}

// One round of the terminate test takes well under a second, a few seconds on a machine loaded
// 10x over its cores; past this it is stuck, and the test fails saying where (not with tap's
// silent timeout of the whole file).
const kRoundDeadlineMs = 20_000;

interface Slot {
  state: 'starting' | 'ready' | 'terminating' | 'exited';
  beat: Int32Array;
  threadId?: number;
  beatAtTerminate?: number;
}

/** `p`'s value, or undefined once kRoundDeadlineMs passed. */
async function withDeadline<T>(p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, kRoundDeadlineMs, undefined);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Who waits on what: the workers, the queue, the lock and this thread's outstanding waits. */
function stuckReport(where: string, slots: Slot[], q: ShmQueue<unknown>, m: Mutex): string {
  const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? String(v) : v);
  const workers = slots.map((s) => {
    const beat = Atomics.load(s.beat, 0);
    const since =
      s.beatAtTerminate === undefined
        ? ''
        : `, ${beat - s.beatAtTerminate} since terminate() (0: its loop no longer turns; growing: it turns but does not stop)`;
    return `thread ${s.threadId ?? '?'} ${s.state}, event-loop beats ${beat}${since}`;
  });
  return [
    `stuck for ${kRoundDeadlineMs} ms in ${where}`,
    ...workers.map((w) => `  worker: ${w}`),
    `  queue: ${JSON.stringify(q.info(), big)}`,
    `  mutex: ${JSON.stringify(m.info(), big)}`,
    `  main thread waits: ${JSON.stringify(binding.waitStats())}`,
  ].join('\n');
}

// Whether this kernel lets a context sleep on its own io_uring: a watch in this (default-mode)
// context opens the ring; waitStats says whether it took.
let directAvailable = false;
t.before(async () => {
  const q = new ShmQueue(testName('probe'), { create: 'create', capacity: 4096 });
  // The get must park to open the ring: a get whose deadline passes while it still spins in JS
  // (a loaded machine can spend a whole 1 ms timeout in one event-loop turn) never parks and
  // would report "unavailable" on a kernel that has it. A few 50 ms waits park for sure.
  for (let i = 0; i < 3 && !directAvailable; i += 1) {
    await q.get({ timeout: 50 }).catch(() => undefined);
    directAvailable = binding.waitStats().directWatches;
  }
  q.close();
  ShmQueue.unlink(q.name);
});

t.test('one init() handshake; no setters, no per-completion call back into native', async (t) => {
  const b = binding as unknown as Record<string, unknown>;
  t.type(b.init, 'function');
  for (const gone of ['setErrorFactory', 'setGrantHandler', 'unparked']) t.equal(b[gone], undefined, `${gone} is gone`);
  t.throws(() => (b.init as (o: unknown) => void)({ threadId: 0 }), TypeError, 'init checks its options');
  t.comment(
    `io_uring futex waits ${directAvailable ? 'available' : 'unavailable'}: direct mode ${directAvailable ? 'tested' : 'falls back to the parker'}`,
  );
});

for (const mode of modes) {
  t.test(`[${mode}] completion storm: 4 workers await get() with racing timeouts; every message once`, async (t) => {
    const q = queueFor(t, `storm-${mode}`);
    const total = 4000;
    const sab = new SharedArrayBuffer(4 * total);
    const counts = new Int32Array(sab);
    const workers = await inMode(mode, async () => {
      const ws: Worker[] = [];
      for (let i = 0; i < 4; i++) {
        ws.push(
          new Worker(agent, {
            workerData: { mode: 'consume', queue: q.name, counts: sab, timeouts: true },
            execArgv: [],
          }),
        );
      }
      await Promise.all(ws.map((w) => messageOf(w, 'ready')));
      return ws;
    });
    t.teardown(() => Promise.all(workers.map((w) => w.terminate())));
    const done = workers.map((w) =>
      messageOf<{ got: number; stats: { outstanding: number; directWatches: boolean } }>(w, 'done'),
    );
    // Bursts with turns between, so consumers park and wake many times.
    for (let i = 0; i < total; i++) {
      await q.put(i);
      if (i % 7 === 0) await turn();
    }
    for (let i = 0; i < workers.length; i++) await q.put('stop');
    const results = await Promise.all(done);
    let twice = 0;
    let never = 0;
    for (let i = 0; i < total; i++) {
      if (counts[i] > 1) twice += 1;
      if (counts[i] === 0) never += 1;
    }
    t.equal(twice, 0, 'no message delivered twice');
    t.equal(never, 0, 'no message lost');
    t.equal(
      results.reduce((s, r) => s + r.got, 0),
      total,
      'the workers together got every message',
    );
    for (const r of results) {
      t.equal(r.stats.outstanding, 0, 'each worker ends with no outstanding wait (native count balanced)');
      t.equal(
        r.stats.directWatches,
        mode === 'direct' && directAvailable,
        `watches ${mode === 'direct' && directAvailable ? 'on the context ring' : 'through the parker thread'}`,
      );
    }
    t.equal(q.info().consumersWaiting, 0, 'no sleeper left counted');
  });

  const terminateRounds = scaledRounds(30, 6);
  t.test(
    `[${mode}] worker.terminate() at any instant of get()/acquire() traffic (${terminateRounds} rounds)`,
    async (t) => {
      const q = queueFor(t, `term-${mode}`);
      const m = new Mutex(testName(`term-${mode}`), { create: 'create' });
      t.teardown(() => {
        m.close();
        Mutex.unlink(m.name);
      });
      const total = 1 << 14;
      const sab = new SharedArrayBuffer(4 * total);
      const counts = new Int32Array(sab);
      let next = 0;
      let terminated = 0;
      for (let round = 0; round < terminateRounds; round++) {
        // Each worker's event-loop heartbeat (wake-agent.js): in a report of a stuck round it
        // tells a worker whose loop still turns from one that spins or sleeps.
        const slots: Slot[] = [0, 1].map(() => ({ state: 'starting', beat: new Int32Array(new SharedArrayBuffer(4)) }));
        const spawned: Worker[] = [];
        // A stuck round fails with who waits on what (on stderr too: a process that then cannot
        // exit, held by a worker that does not stop, never prints its tap results; tap's own
        // timeout ends it). Its workers are let go: stopped if they still can be, never joined.
        const stuck = (step: string): void => {
          const report = stuckReport(`round ${round}: ${step}`, slots, q, m);
          process.stderr.write(`${report}\n`);
          t.fail(report);
          for (const w of spawned) {
            w.on('error', () => {});
            w.unref();
            void w.terminate();
          }
        };
        const workers = await withDeadline(
          inMode(mode, async () => {
            for (const slot of slots) {
              const w = new Worker(agent, {
                workerData: { mode: 'churn', queue: q.name, mutex: m.name, counts: sab, beat: slot.beat.buffer },
                execArgv: [],
              });
              slot.threadId = w.threadId;
              spawned.push(w);
            }
            await Promise.all(spawned.map((w, i) => messageOf(w, 'ready').then(() => (slots[i].state = 'ready'))));
            return spawned;
          }),
        );
        if (workers === undefined) return stuck('starting the workers');
        // Traffic: messages for the parked gets, the lock taken and given back under them.
        for (let i = 0; i < 16 && next < total; i++) q.putSync(next++);
        // Bounded: a lock never given back fails the round with the state instead of blocking
        // this thread (and with it every report) for ever.
        if (!m.acquireSync({ timeout: kRoundDeadlineMs })) return stuck('acquireSync() on the main thread');
        m.release();
        const ended = await withDeadline(
          Promise.all(
            workers.map(async (w, i) => {
              for (let k = Math.floor(Math.random() * 5); k > 0; k--) {
                if (next < total) q.putSync(next++);
                await turn();
              }
              slots[i].state = 'terminating';
              slots[i].beatAtTerminate = Atomics.load(slots[i].beat, 0);
              await w.terminate();
              slots[i].state = 'exited';
              terminated += 1;
            }),
          ),
        );
        if (ended === undefined) return stuck('worker.terminate()');
      }
      t.equal(terminated, 2 * terminateRounds, 'every worker was terminated and the process survived');
      let twice = 0;
      let counted = 0;
      for (let i = 0; i < next; i++) {
        if (counts[i] > 1) twice += 1;
        counted += counts[i];
      }
      t.equal(twice, 0, 'no message delivered twice');
      const qi = q.info();
      t.ok(
        qi.totalGot >= counted && qi.totalGot - counted <= terminated,
        'taken = counted + at most one in flight per terminated worker',
      );
      t.equal(qi.consumersWaiting, 0, 'no parked get of a terminated worker is still counted');
      const mi = m.info();
      t.equal(mi.waiters, 0, 'no parked acquire of a terminated worker is still counted');
      t.ok(m.acquireSync({ timeout: 5_000 }), 'the lock can be taken (no grant leaked to a dead context)');
      m.release();
    },
  );

  t.test(`[${mode}] the loop is held exactly while a wait is outstanding`, async (t) => {
    const q = queueFor(t, `ref-${mode}`, 4096);
    const env = { ...process.env };
    if (mode === 'parker') env.SHMSYNC_WAKE = 'parker';
    else delete env.SHMSYNC_WAKE;
    // A pending get keeps the process alive (IPC is unref'd) until its value arrives; then it
    // exits by itself.
    const pending = new Child('wake-agent.js', ['pending', q.name], { env });
    t.teardown(() => pending.kill());
    const parked = await pending.message<{ type: string; stats: { outstanding: number } }>('parked');
    t.equal(parked.stats.outstanding, 1, 'one outstanding wait while parked');
    q.putSync('hello');
    const got = await pending.message<{ type: string; value: unknown; stats: { outstanding: number } }>('got');
    t.equal(got.value, 'hello', 'the parked get received the value (the loop was held while it waited)');
    t.equal(got.stats.outstanding, 0, 'no outstanding wait once delivered');
    t.same(await pending.exited, { code: 0, signal: null }, 'then the process exited by itself');
    // A get that times out releases the loop too (the cancel is counted natively).
    const timing = new Child('wake-agent.js', ['timeout', q.name], { env });
    t.teardown(() => timing.kill());
    const timed = await timing.message<{ type: string; value: unknown; stats: { outstanding: number } }>('timed-out');
    t.equal(timed.value, 'SHMSYNC_TIMEOUT', 'the get timed out');
    t.equal(timed.stats.outstanding, 0, 'the cancelled wait is no longer counted');
    t.same(await timing.exited, { code: 0, signal: null }, 'and the process exited by itself');
  });
}

// The churn agent must turn its event loop even alone on the lock (no other context contends,
// so every acquire() resolves at once). Before wake-agent.js turned once per iteration, its
// lock loops handed the lock to each other through resolved promises for ever: the loop never
// turned, and worker.terminate() hung whenever Node dropped the termination (see the
// invariant in wake-agent.js). Fails at once without the turns: the heartbeat stays at 0.
t.test('a churning worker alone on the lock still turns its event loop', async (t) => {
  const q = queueFor(t, 'turns', 4096);
  const m = new Mutex(testName('turns'), { create: 'create' });
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(agent, {
    workerData: { mode: 'churn', queue: q.name, mutex: m.name, counts: new SharedArrayBuffer(4), beat: beat.buffer },
    execArgv: [],
  });
  await messageOf(w, 'ready');
  const turned = await beatReaches(beat, 5, 5_000);
  t.ok(turned, `its event loop turned while it churned (heartbeat ${Atomics.load(beat, 0)})`);
  if (!turned) {
    // It cannot be stopped reliably in that state: do not let it hold this process.
    w.unref();
    return;
  }
  const acquisitions = m.info().acquisitions;
  t.ok(acquisitions > 0n, 'and it took the lock meanwhile');
  await w.terminate();
});

t.test('cancelled and completed waits in this context leave the native count at zero', async (t) => {
  const q = queueFor(t, 'count', 4096);
  const base = binding.waitStats().outstanding;
  const ac = new AbortController();
  const aborted = q.get({ signal: ac.signal }).catch((e: Error) => e.name);
  const timed = q.get({ timeout: 5 }).catch((e: Error) => e.name);
  const served = q.get();
  t.equal(binding.waitStats().outstanding, base + 3, 'three waits outstanding');
  ac.abort();
  t.equal(await aborted, 'AbortError');
  t.equal(await timed, 'TimeoutError');
  q.putSync('x');
  t.equal(await served, 'x');
  t.equal(binding.waitStats().outstanding, base, 'back to where it started');
});
