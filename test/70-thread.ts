// The thread layer (async seed `async.thread`, SEMANTICS.md §2.7): WorkerThread's queue of
// (fn, arg) calls in a real worker thread, stop ordering, failing calls, the shared-memory
// termination flag of TerminatableThread, terminateThreads / withTerminateThreads, and threads
// ended in every way (stopped, terminated, killed mid-call, crashed) leaving no pending promise
// and no worker behind. Synchronised through SharedArrayBuffer gates (Atomics), never sleeps.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ClosedError,
  RemoteException,
  StopProcessing,
  TerminatableThread,
  terminateThreads,
  ThreadExitedError,
  withTerminateThreads,
  WorkerQueue,
  WorkerThread,
} from '../dist';

delete process.env.NODE_OPTIONS;
const fixtures = path.join(__dirname, 'fixtures');
const targets = path.join(fixtures, 'thread-targets.js');

/** A gate: slot 0 counts arrivals (worker side increments + notifies), slot 1 opens (parent sets). */
// Atomics.waitAsync (Node >= 16) is not in the project's TypeScript lib.
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { value: unknown } })
  .waitAsync;

function gate(): { sab: SharedArrayBuffer; arrived: (n: number) => Promise<void>; open: () => void } {
  const sab = new SharedArrayBuffer(8);
  const i32 = new Int32Array(sab);
  return {
    sab,
    async arrived(n: number) {
      // Atomics.waitAsync does not keep the event loop alive, and daemon threads do not either:
      // a referenced handle does while we wait (a keep-alive, not a timer we synchronise on).
      const keepAlive = setInterval(() => {}, 1 << 30);
      try {
        for (;;) {
          const seen = Atomics.load(i32, 0);
          if (seen >= n) return;
          await waitAsync(i32, 0, seen).value;
        }
      } finally {
        clearInterval(keepAlive);
      }
    },
    open() {
      Atomics.store(i32, 1, 1);
      Atomics.notify(i32, 1);
    },
  };
}

// Worker side of gate(): announce arrival, then block until the gate opens.
function waitAtGate(sab: SharedArrayBuffer): string {
  const i32 = new Int32Array(sab);
  Atomics.add(i32, 0, 1);
  Atomics.notify(i32, 0);
  while (Atomics.load(i32, 1) === 0) Atomics.wait(i32, 1, 0);
  return 'passed';
}

function taskCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

t.test('WorkerThread: calls run in order, results come back, sync and async targets', async (t) => {
  const w = new WorkerThread().start();
  t.teardown(() => w.kill());
  t.ok(w.threadId! > 0, 'a real worker thread');
  const order: number[] = [];
  const calls = [];
  for (let i = 0; i < 200; i++) {
    const fn = i % 2 ? (x: number) => x * 2 : async (x: number) => x * 2;
    calls.push(w.enqueue(fn, i).then((v) => (order.push(i), v)));
  }
  const results = await Promise.all(calls);
  t.same(
    results,
    Array.from({ length: 200 }, (_, i) => i * 2),
  );
  t.same(
    order,
    Array.from({ length: 200 }, (_, i) => i),
    'settled in queue order',
  );
  const mod = await w.enqueue({ module: targets, export: 'double' }, 21);
  const again = await w.enqueue({ module: targets, export: 'double' }, 1);
  t.same(mod, { value: 42, loads: 1 });
  t.same(again, { value: 2, loads: 1 }, 'a module target is loaded once per worker');
  await w.stopAndJoin();
  t.notOk(w.isAlive());
});

t.test('WorkerThread.stop ends the worker after the items before it; later items reject', async (t) => {
  const w = new WorkerThread();
  // Queued before start: they wait, then run in order (the seed's inq.put before start()).
  const before = [1, 2, 3].map((i) => w.enqueue((x: number) => x + 100, i));
  const stop = w.put([WorkerThread.stop, null]);
  const after = w.enqueue((x: number) => x, 4);
  w.start();
  t.same(await Promise.all(before), [101, 102, 103], 'every item before the stop ran');
  t.equal(await stop, undefined, 'the stop item itself resolves');
  const err = await after.catch((e: unknown) => e);
  t.ok(err instanceof ClosedError || err instanceof ThreadExitedError, 'an item after the stop never runs');
  t.equal((err as ThreadExitedError).code === 'SHMSYNC_CLOSED' || (err as ThreadExitedError).started === false, true);
  const end = await w.ended();
  t.equal(end.reason, 'stopped');
  t.equal(end.exitCode, 0);
  await t.rejects(
    w.enqueue((x: number) => x, 1),
    { code: 'SHMSYNC_CLOSED' },
    'nothing is accepted after the end',
  );
  t.throws(() => w.start(), /already started/);
});

t.test('a failing call rejects with the rebuilt error and the worker goes on', async (t) => {
  const w = new WorkerThread().start();
  t.teardown(() => w.kill());
  const err = (await w
    .enqueue((x: number) => {
      const e = new RangeError(`bad ${x}`);
      (e as unknown as { code: string }).code = 'E_BAD';
      throw e;
    }, 7)
    .catch((e: unknown) => e)) as RangeError & { code: string; cause: RemoteException };
  t.ok(err instanceof RangeError, 'same class');
  t.equal(err.message, 'bad 7');
  t.equal(err.code, 'E_BAD', 'own properties travel');
  t.ok(err.cause instanceof RemoteException, 'cause: RemoteException');
  t.match(err.cause.remoteStack, /RangeError: bad 7/, 'with the worker stack');
  const custom = (await w.enqueue({ module: targets, export: 'fail' }, 'no').catch((e: unknown) => e)) as Error;
  t.equal(custom.constructor.name, 'ThreadFixtureError', 'a module target error class is found in its module');
  t.equal((custom as unknown as { code: string }).code, 'E_THREAD_FIXTURE');
  t.equal(await w.enqueue((x: number) => x + 1, 1), 2, 'the worker still serves calls');
  const closure = 5;
  const ref = (await w.enqueue(() => closure, 0).catch((e: unknown) => e)) as Error;
  t.match(ref.message, /closures are not supported/, 'a closure variable is explained');
  const noClone = await w.enqueue(() => () => 1, 0).catch((e: unknown) => e);
  t.match(String(noClone), /could not be cloned|DataCloneError/, 'an uncloneable result rejects its call');
  const badArg = await w
    .enqueue(
      (x: unknown) => x,
      () => 1,
    )
    .catch((e: unknown) => e);
  t.match(String(badArg), /could not be cloned|DataCloneError/, 'an uncloneable argument rejects its call');
  t.equal(await w.enqueue((x: number) => x * 3, 3), 9, 'and still serves calls');
  // The tuple form marks its promise handled: a failure nobody awaits is no unhandled rejection.
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown): void => void unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  void w.put([
    () => {
      throw new Error('nobody awaits me');
    },
    0,
  ]);
  t.equal(await w.enqueue((x: number) => x, 'after'), 'after');
  await new Promise((r) => setImmediate(r));
  t.same(unhandled, [], 'no unhandled rejection from put()');
});

t.test('StopProcessing thrown by a call ends the worker after that call', async (t) => {
  const w = new WorkerThread().start();
  const first = w.enqueue((x: number) => x, 1);
  const stopper = w.enqueue(() => {
    const e = new Error('enough');
    e.name = 'StopProcessing';
    throw e;
  }, 0);
  const later = w.enqueue((x: number) => x, 3);
  t.equal(await first, 1);
  t.equal(await stopper, undefined);
  await t.rejects(later, { code: 'SHMSYNC_THREAD_EXITED', reason: 'stopped', started: false });
  t.equal((await w.ended()).reason, 'stopped');
  t.equal(new StopProcessing('x').name, 'StopProcessing', 'the class carries the name the worker looks for');
});

t.test('validation: bad targets throw synchronously; method targets are pcall-only', async (t) => {
  const w = new WorkerThread();
  t.throws(() => w.enqueue(42, 1), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => w.enqueue(Math.max, 1), { code: 'SHMSYNC_INVALID_ARG_TYPE' }, 'native function');
  t.throws(() => w.enqueue({ object: {}, method: 'x' }, 1), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => w.put([1, 2, 3] as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => new WorkerThread({} as WorkerQueue), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => new WorkerThread(undefined, { prefetch: 0 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new WorkerThread(undefined, { bogus: 1 } as never), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => new TerminatableThread(undefined as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  const queued = w.enqueue((x: number) => x, 1);
  t.equal(await w.stopAndJoin(), undefined, 'stopAndJoin of a thread never started resolves');
  await t.rejects(
    queued,
    { code: 'SHMSYNC_THREAD_EXITED', reason: 'stopped', started: false },
    'its queued calls settle',
  );
  await t.rejects(
    w.enqueue((x: number) => x, 2),
    { code: 'SHMSYNC_CLOSED' },
  );
});

t.test('a shared WorkerQueue feeds two workers; each stop item ends one of them', async (t) => {
  const q = new WorkerQueue();
  const a = new WorkerThread(q).start();
  const b = new WorkerThread(q).start();
  t.teardown(() => Promise.all([a.kill(), b.kill()]));
  const n = 400;
  const calls = Array.from({ length: n }, (_, i) =>
    q.enqueue((x: number) => ({ x, tid: require('node:worker_threads').threadId }), i),
  );
  const results = (await Promise.all(calls)) as Array<{ x: number; tid: number }>;
  t.same(
    results.map((r) => r.x),
    Array.from({ length: n }, (_, i) => i),
    'every item ran exactly once',
  );
  const tids = new Set(results.map((r) => r.tid));
  t.ok(
    [...tids].every((id) => id === a.threadId || id === b.threadId),
    'only the two workers ran them',
  );
  void q.put([WorkerThread.stop]);
  void q.put([WorkerThread.stop]);
  const [ea, eb] = await Promise.all([a.ended(), b.ended()]);
  t.same([ea.reason, eb.reason], ['stopped', 'stopped'], 'two stop items end both workers');
  t.equal(q.size, 0);
});

t.test('terminated mid-queue: the running call finishes, the queued ones reject (never hang)', async (t) => {
  const g = gate();
  const w = new WorkerThread().start();
  const running = w.enqueue(waitAtGate, g.sab);
  const queued = [1, 2, 3].map((i) => w.enqueue((x: number) => x, i));
  await g.arrived(1);
  t.ok(w.pending >= 1, 'calls are in flight');
  w.scheduleTermination();
  t.ok(w.shouldTerminate());
  g.open();
  t.equal(await running, 'passed', 'the call that was running completes');
  for (const p of queued) await t.rejects(p, { code: 'SHMSYNC_THREAD_EXITED', reason: 'terminated', started: false });
  t.equal((await w.ended()).reason, 'terminated');
});

t.test('killed mid-call: the caller rejects with ThreadExitedError(started), the rest too', async (t) => {
  const g = gate();
  const w = new WorkerThread().start();
  const stuck = w.enqueue(waitAtGate, g.sab); // never opened: only a kill ends it
  const queued = w.enqueue((x: number) => x, 1);
  await g.arrived(1);
  const killed = w.kill();
  const err = (await stuck.catch((e: unknown) => e)) as ThreadExitedError;
  t.ok(err instanceof ThreadExitedError);
  t.equal(err.code, 'SHMSYNC_THREAD_EXITED');
  t.equal(err.reason, 'killed');
  t.equal(err.started, true, 'it was running');
  t.equal(err.threadId, w.threadId);
  await t.rejects(queued, { code: 'SHMSYNC_THREAD_EXITED', reason: 'killed', started: false });
  await killed;
  await t.rejects(w.join(), { code: 'SHMSYNC_THREAD_EXITED', reason: 'killed' }, 'join says it was killed');
});

t.test('a crash in the worker rejects the pending calls with the crash as cause', async (t) => {
  const g = gate();
  const w = new WorkerThread().start();
  // An uncaught exception outside any call (a timer), while the next call is blocked.
  const armed = w.enqueue(() => {
    setImmediate(() => {
      throw new Error('boom from a timer');
    });
    return 'armed';
  }, 0);
  const blocked = w.enqueue(async (sab: SharedArrayBuffer) => {
    const i32 = new Int32Array(sab);
    Atomics.add(i32, 0, 1);
    Atomics.notify(i32, 0);
    await new Promise(() => {}); // parked on the event loop: the timer fires and crashes the worker
  }, g.sab);
  t.equal(await armed, 'armed');
  const err = (await blocked.catch((e: unknown) => e)) as ThreadExitedError;
  t.equal(err.reason, 'crashed');
  t.equal(err.started, true);
  t.match(String((err.cause as Error)?.message), /boom from a timer/);
  t.equal((await w.ended()).reason, 'crashed');
});

t.test('TerminatableThread: the flag in shared memory ends a busy loop; terminated() hook', async (t) => {
  const g = gate();
  let hookCalls = 0;
  class Counter extends TerminatableThread<number> {
    override terminated(): void {
      hookCalls += 1;
    }
  }
  const th = new Counter((sab: SharedArrayBuffer, ctx: { shouldTerminate(): boolean }) => {
    const i32 = new Int32Array(sab);
    let n = 0;
    // A synchronous loop: no event-loop turn ever. It announces itself after 1000 rounds.
    while (!ctx.shouldTerminate()) {
      if (++n === 1000) {
        Atomics.add(i32, 0, 1);
        Atomics.notify(i32, 0);
      }
    }
    return n;
  }, g.sab);
  t.equal(th.start(), th, 'start() returns this');
  t.notOk(th.shouldTerminate());
  await g.arrived(1);
  t.ok(th.isAlive());
  const n = await th.stopAndJoin();
  t.ok(n >= 1000, `the loop ran (${n} iterations) and ended on the flag`);
  t.equal(hookCalls, 1, 'terminated() ran once');
  t.notOk(th.isAlive());
  t.equal(await th.stopAndJoin(), n, 'joining again gives the same result');
});

t.test('TerminatableThread: waitForTermination and ctx.signal wake on scheduleTermination', async (t) => {
  const g = gate();
  const blocking = new TerminatableThread((sab: SharedArrayBuffer, ctx: { waitForTermination(): boolean }) => {
    const i32 = new Int32Array(sab);
    Atomics.add(i32, 0, 1);
    Atomics.notify(i32, 0);
    return ctx.waitForTermination() ? 'woken' : 'timed out';
  }, g.sab).start();
  const evented = new TerminatableThread(async (sab: SharedArrayBuffer, ctx: { signal: AbortSignal }) => {
    const i32 = new Int32Array(sab);
    Atomics.add(i32, 0, 1);
    Atomics.notify(i32, 0);
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    return 'aborted';
  }, g.sab).start();
  await g.arrived(2);
  const [a, b] = await Promise.all([blocking.stopAndJoin(), evented.stopAndJoin()]);
  t.equal(a, 'woken');
  t.equal(b, 'aborted');
  const timed = await new TerminatableThread((_: unknown, ctx: { waitForTermination(ms: number): boolean }) =>
    ctx.waitForTermination(1),
  )
    .start()
    .join();
  t.equal(timed, false, 'waitForTermination(ms) returns false when nobody asked');
});

t.test('TerminatableThread: errors, results, and a thread that ignores its flag', async (t) => {
  const ok = await new TerminatableThread((x: { a: number }) => ({ b: x.a + 1 }), { a: 1 }).start().join();
  t.same(ok, { b: 2 }, 'join() resolves with the run function result');
  await t.rejects(
    new TerminatableThread(() => {
      throw new TypeError('run failed');
    }, 0)
      .start()
      .join(),
    { name: 'TypeError', message: 'run failed' },
  );
  const g = gate();
  const stubborn = new TerminatableThread(waitAtGate, g.sab).start(); // never looks at its flag
  await g.arrived(1);
  await t.rejects(stubborn.stopAndJoin({ timeout: 50 }), { code: 'SHMSYNC_THREAD_EXITED', reason: 'killed' });
  t.notOk(stubborn.isAlive(), 'killed after the timeout: never hangs');
});

t.test('terminateThreads(whitelist) and withTerminateThreads', async (t) => {
  const g = gate();
  const waiter = (sab: SharedArrayBuffer, ctx: { waitForTermination(): boolean }): string => {
    const i32 = new Int32Array(sab);
    Atomics.add(i32, 0, 1);
    Atomics.notify(i32, 0);
    ctx.waitForTermination();
    return 'ended';
  };
  const a = new TerminatableThread(waiter, g.sab).start();
  const b = new TerminatableThread(waiter, g.sab).start();
  const w = new WorkerThread().start();
  await g.arrived(2);
  await terminateThreads([a]);
  t.notOk(a.isAlive(), 'the whitelisted thread ended');
  t.ok(b.isAlive() && w.isAlive(), 'the others did not');
  await terminateThreads();
  t.notOk(b.isAlive(), 'empty whitelist: every live thread');
  t.notOk(w.isAlive(), 'WorkerThreads too');
  t.equal(await b.join(), 'ended');

  const g2 = gate();
  const outside = new TerminatableThread(waiter, g2.sab).start();
  t.teardown(() => outside.kill());
  let inside: TerminatableThread | undefined;
  const wrapped = withTerminateThreads(async (x: number) => {
    inside = new TerminatableThread(waiter, g2.sab).start();
    await g2.arrived(2);
    return x * 2;
  });
  t.equal(await wrapped(21), 42, 'the wrapper returns what fn returns');
  t.notOk(inside!.isAlive(), 'a thread started inside fn is terminated when fn ends');
  t.ok(outside.isAlive(), 'a thread started before is left alone');
  const throwing = withTerminateThreads(() => {
    inside = new TerminatableThread(waiter, g2.sab).start();
    throw new Error('fn failed');
  });
  await t.rejects(throwing(), /fn failed/);
  t.notOk(inside!.isAlive(), 'also when fn throws');
  await outside.stopAndJoin();
});

t.test('no worker is left behind, however the threads ended', async (t) => {
  // Warm up (the first worker loads modules, libuv may start its pool), then take the baseline.
  await new WorkerThread().start().stopAndJoin();
  const baseline = taskCount();
  const g = gate();
  const stopped = new WorkerThread().start();
  const terminated = new WorkerThread().start();
  const killed = new WorkerThread().start();
  const crashed = new WorkerThread().start();
  const arrive = (sab: SharedArrayBuffer): number => {
    const i32 = new Int32Array(sab);
    Atomics.add(i32, 0, 1);
    return Atomics.notify(i32, 0);
  };
  const finished = new TerminatableThread(arrive, g.sab).start();
  for (const w of [stopped, terminated, crashed]) void w.enqueue(arrive, g.sab);
  const stuck = killed.enqueue(waitAtGate, g.sab);
  await g.arrived(5);
  t.ok(taskCount() >= baseline + 4, 'at least four more OS threads while they run');
  void crashed.enqueue(
    () =>
      void setImmediate(() => {
        throw new Error('crash');
      }),
    0,
  );
  await Promise.all([
    stopped.stopAndJoin(),
    terminated.scheduleTermination(),
    killed.kill(),
    stuck.catch(() => {}),
    crashed.ended(),
    finished.join(),
    terminated.join(),
  ]);
  t.equal(taskCount(), baseline, 'back to the baseline thread count');
});
