// Issue 16 part 2: a blocking-API hold kept across an `await` must not let another task of the
// same thread re-enter it (SHMSYNC_SYNC_REENTRY), while true recursion, a lifetime hold, lock
// scopes and the opt-out keep working. Every interleaving below is forced by promises the test
// resolves itself (handshakes), never by timers.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { DeadlockError, Lockable, Mutex, SyncReentryError, locked, lockOf } from '../dist';
import { testName } from './helpers/shm';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

function mutex(t: TapTest, options?: ConstructorParameters<typeof Mutex>[1]): Mutex {
  const m = new Mutex(testName('syncrun'), options);
  t.teardown(() => {
    m.close();
    m.unlink();
  });
  return m;
}

/** A promise and its resolver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** The next macrotask: a new synchronous run. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const reentry = { name: 'SyncReentryError', code: 'SHMSYNC_SYNC_REENTRY' };

/**
 * Task A of every scenario: takes `m` with acquireSync, reports it holds, awaits `until`, then
 * releases. Returns the task's promise and the gate it reports on.
 */
function holdAcrossAwait(
  m: { acquireSync(): boolean; release(): void },
  until: Promise<void>,
): { done: Promise<void>; holding: Promise<void> } {
  const holding = gate();
  const done = (async () => {
    m.acquireSync();
    try {
      holding.open();
      await until;
    } finally {
      m.release();
    }
  })();
  return { done, holding: holding.promise };
}

t.test(
  'two interleaved tasks using acquireSync across await: the second throws SHMSYNC_SYNC_REENTRY on its first call',
  async (t) => {
    const m = mutex(t);
    const until = gate();
    const a = holdAcrossAwait(m, until.promise);
    await a.holding;
    // Task B, resumed in a later microtask than A's acquisition: it is another task.
    const b = holdAcrossAwait(m, Promise.resolve());
    const err = await b.done.then(
      () => null,
      (e: unknown) => e,
    );
    t.match(err, reentry, 'acquireSync throws instead of re-entering');
    t.ok(err instanceof SyncReentryError, 'an instance of SyncReentryError');
    t.match((err as Error).message, /acquire\(\) \/ withLock\(\)/, 'the message names what to use instead');
    t.match((err as Error).message, /across an await/, 'and what happened');
    t.throws(() => m.tryAcquire(), reentry, 'tryAcquire too');
    t.throws(() => m.acquireSync({ blocking: false }), reentry, 'acquireSync({ blocking: false }) too');
    t.throws(() => m.withLockSync(() => t.fail('must not run')), reentry, 'withLockSync too, before running fn');
    t.throws(() => m.runLocked(() => t.fail('must not run')), reentry, 'runLocked too');
    t.equal(m.info().depth, 1, 'the refused calls left the hold as it was');
    until.open();
    await a.done;
    t.equal(m.info().locked, false, "A's release (in a later tick than its acquire) freed the lock");
    t.ok(m.acquireSync(), 'a later task takes it afresh');
    m.release();
  },
);

t.test(
  'a sync locked method called while another task holds the lock with acquireSync across await throws',
  async (t) => {
    class Counter extends Lockable {
      n = 0;
      bump(): number {
        return ++this.n;
      }
    }
    Counter.prototype.bump = Lockable.locked(Counter.prototype.bump);
    class Plain {
      n = 0;
      bump(): number {
        return ++this.n;
      }
    }
    Plain.prototype.bump = locked(Plain.prototype.bump);
    const c = new Counter({ name: testName('syncrun-lockable') });
    t.teardown(() => {
      c.lock.close();
      c.lock.unlink();
    });
    const p = new Plain();
    const until = gate();
    const a = holdAcrossAwait(c, until.promise);
    await a.holding;
    t.throws(() => c.bump(), reentry, '@Lockable.locked sync method from task B');
    t.throws(() => c.acquireSync(), reentry, 'Lockable.acquireSync from task B');
    t.equal(c.n, 0, 'the method body never ran');
    until.open();
    await a.done;
    t.equal(c.bump(), 1, 'once A released, B calls it normally');

    const pl = lockOf(p);
    t.teardown(() => {
      pl.close();
      pl.unlink();
    });
    const until2 = gate();
    const a2 = holdAcrossAwait(pl, until2.promise);
    await a2.holding;
    t.throws(() => p.bump(), reentry, '@locked sync method from task B');
    until2.open();
    await a2.done;
    t.equal(p.bump(), 1);
  },
);

t.test(
  'a non-async locked method returning a promise, called from two interleaved tasks: the second throws DEADLOCK (unchanged)',
  async (t) => {
    class Slow extends Lockable {
      run(until: Promise<void>): Promise<void> {
        return until;
      }
    }
    Slow.prototype.run = Lockable.locked(Slow.prototype.run);
    const s = new Slow({ name: testName('syncrun-slow') });
    t.teardown(() => {
      s.lock.close();
      s.lock.unlink();
    });
    const until = gate();
    const first = s.run(until.promise);
    await nextTurn();
    t.throws(() => s.run(Promise.resolve()), { code: 'SHMSYNC_DEADLOCK' });
    until.open();
    await first;
    t.equal(s.lock.info().locked, false);
  },
);

t.test('true recursion inside one synchronous call stack works, in the first tick and after awaits', async (t) => {
  const m = mutex(t);
  class Rec extends Lockable {
    depth(n: number): number {
      return n === 0 ? this.lock.info().depth : this.depth(n - 1);
    }
  }
  Rec.prototype.depth = Lockable.locked(Rec.prototype.depth);
  const r = new Rec({ lock: m });
  const recurse = (): void => {
    t.ok(m.acquireSync());
    t.ok(m.acquireSync({ timeout: 10 }));
    t.ok(m.tryAcquire());
    t.equal(
      m.withLockSync(() => m.info().depth),
      4,
      'withLockSync nests',
    );
    t.equal(r.depth(3), 7, 'a recursive sync locked method nests inside the hold');
    m.release();
    m.release();
    m.release();
    t.equal(m.info().depth, 0);
  };
  recurse();
  await nextTurn();
  recurse();
  await Promise.resolve();
  recurse(); // taken inside a microtask: the run is this microtask drain
  t.equal(r.depth(2), 3, 'a recursive locked call on its own');
  // Many runs in a loop of acquire/release: each starts a hold afresh.
  for (let i = 0; i < 3; i++) {
    await nextTurn();
    m.acquireSync();
    m.acquireSync();
    m.release();
    m.release();
  }
  t.equal(m.info().locked, false);
});

t.test(
  'a lock held for the process lifetime keeps excluding other threads; releasing it in a later tick is fine',
  async (t) => {
    const m = mutex(t);
    m.acquireSync(); // "at startup"
    for (let i = 0; i < 3; i++) await nextTurn(); // the process serves events meanwhile
    const w = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
     const { Mutex } = require(workerData.dist);
     const m = new Mutex(workerData.name, { create: 'open' });
     parentPort.postMessage({ tried: m.tryAcquire() });
     parentPort.once('message', () => {
       const got = m.acquireSync({ timeout: 30000 });
       m.release();
       m.close();
       parentPort.postMessage({ got });
     });`,
      { eval: true, workerData: { dist: require.resolve('../dist'), name: m.name } },
    );
    // Listen for the exit now: the worker exits right after its last message, and its 'exit'
    // event can come before a listener added after that message would be.
    const exited = new Promise<number>((resolve) => w.once('exit', resolve));
    const replies: Array<{ tried?: boolean; got?: boolean }> = [];
    const next = (): Promise<{ tried?: boolean; got?: boolean }> =>
      new Promise((resolve) => w.once('message', resolve));
    replies.push(await next());
    t.same(replies[0], { tried: false }, 'another thread cannot take it while the lifetime hold lasts');
    await nextTurn();
    m.release(); // "at exit": a different synchronous run than the acquire
    const got = next();
    w.postMessage('go');
    t.same(await got, { got: true }, 'after the release the other thread gets it');
    t.equal(await exited, 0);
  },
);

t.test(
  'the holding task itself re-entering after its own await is refused too (use withLock); reentry: "thread" opts out',
  async (t) => {
    const m = mutex(t);
    m.acquireSync();
    await nextTurn();
    t.throws(() => m.acquireSync(), reentry, 'the engine cannot tell the holder from another task');
    m.release();

    const name = testName('syncrun-thread');
    const loose = new Mutex(name, { reentry: 'thread' });
    const strict = new Mutex(name, { create: 'open' });
    t.teardown(() => {
      loose.close();
      strict.close();
      Mutex.unlink(name);
    });
    const until = gate();
    const a = holdAcrossAwait(loose, until.promise);
    await a.holding;
    t.ok(loose.acquireSync(), "reentry: 'thread' re-enters from a later tick (the old behaviour)");
    t.throws(() => strict.acquireSync(), reentry, 'the option is per handle: the one re-entering decides');
    loose.release();
    until.open();
    await a.done;
    t.equal(loose.info().locked, false);

    const until2 = gate();
    const a2 = holdAcrossAwait(strict, until2.promise);
    await a2.holding;
    t.ok(loose.tryAcquire(), "a reentry: 'thread' handle re-enters a hold taken through a default handle");
    loose.release();
    t.throws(() => strict.tryAcquire(), reentry, 'the default handle still refuses');
    until2.open();
    await a2.done;

    t.throws(() => new Mutex(testName('syncrun-bad'), { reentry: 'task' as never }), {
      code: 'SHMSYNC_INVALID_ARG_VALUE',
    });
  },
);

t.test(
  'lock scopes are exact: sync re-entry from the same withLock / async locked method after an await still works',
  async (t) => {
    const m = mutex(t);
    const value = await m.withLock(async () => {
      await nextTurn();
      t.ok(m.acquireSync(), 'acquireSync inside the withLock scope, a tick later');
      const d = m.withLockSync(() => m.info().depth);
      m.release();
      return d;
    });
    t.equal(value, 3);

    class Dev extends Lockable {
      calls = 0;
      poke(): number {
        return ++this.calls;
      }
      async configure(): Promise<number> {
        await nextTurn();
        this.poke();
        await Promise.resolve();
        return this.poke();
      }
    }
    Dev.prototype.poke = Lockable.locked(Dev.prototype.poke);
    Dev.prototype.configure = Lockable.locked(Dev.prototype.configure);
    const d = new Dev({ lock: m });
    t.equal(await d.configure(), 2, 'a sync locked method called from inside an async locked method after awaits');

    // A sync locked method returning a promise, called inside a thread hold: its continuation
    // (a later tick) re-enters through the method's scope; another task still cannot.
    class Mixed extends Lockable {
      later(until: Promise<void>): Promise<number> {
        return until.then(() => {
          m.acquireSync();
          const depth = m.info().depth;
          m.release();
          return depth;
        });
      }
    }
    Mixed.prototype.later = Lockable.locked(Mixed.prototype.later);
    const x = new Mixed({ lock: m });
    const until = gate();
    m.acquireSync();
    const pending = x.later(until.promise);
    m.release(); // the method's hold remains, in its scope
    await nextTurn();
    t.throws(() => m.acquireSync(), reentry, "outside the method's scope: the thread's hold crossed a tick");
    until.open();
    t.equal(await pending, 2, "inside the method's scope, a later tick re-enters");
    t.equal(m.info().locked, false);
  },
);

t.test('an async holder makes a blocking acquire throw DEADLOCK, not SYNC_REENTRY (unchanged)', async (t) => {
  const m = mutex(t);
  const until = gate();
  const entered = gate();
  const held = m.withLock(async () => {
    entered.open();
    await until.promise;
  });
  await entered.promise;
  const err = (() => {
    try {
      m.acquireSync();
      return null;
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof DeadlockError, 'DeadlockError');
  t.notOk(err instanceof SyncReentryError);
  until.open();
  await held;
});

t.test(
  'a task started with process.nextTick by the holder (stream/EventEmitter style deferral) is another task: it throws',
  async (t) => {
    // Node runs the nextTick queue before the microtask queue: a run ended only by a microtask
    // let such a task re-enter a hold that its starter keeps across an await.
    const m = mutex(t);
    const until = gate();
    const started = gate();
    let a!: { done: Promise<void>; holding: Promise<void> };
    let b!: Promise<unknown>;
    setImmediate(() => {
      a = holdAcrossAwait(m, until.promise); // takes the hold in this macrotask, then awaits
      process.nextTick(() => {
        b = holdAcrossAwait(m, Promise.resolve()).done.then(
          () => null,
          (e: unknown) => e,
        );
        started.open();
      });
    });
    await started.promise;
    const err = await b;
    t.match(err, reentry, 'the deferred task cannot re-enter the hold kept across an await');
    until.open();
    await a.done;
    t.notOk(m.isHeld, 'released');
  },
);

t.test('a hold taken in a process.nextTick callback and re-entered within that callback is recursion', async (t) => {
  const m = mutex(t);
  const result = await new Promise<string>((resolve) => {
    setImmediate(() => {
      process.nextTick(() => {
        try {
          m.acquireSync();
          const inner = () => {
            m.acquireSync();
            m.release();
          };
          inner(); // synchronous recursion in the same callback
          queueMicrotask(() => {}); // queued work does not end the callback's run early
          inner();
          m.release();
          resolve('ok');
        } catch (e) {
          resolve((e as { code?: string }).code ?? String(e));
        }
      });
    });
  });
  t.equal(result, 'ok');
});
