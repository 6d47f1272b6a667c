import t from 'tap';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Lockable, Mutex, NotOwnerError, attachLock, lockable, lockOf, reviveHandle, type HandleRef } from '../dist';
import { fixturesDir, type Message } from './helpers/fork';
import { testName } from './helpers/shm';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const lib = require('./fixtures/lockable-lib.js');

/** A worker thread running a fixture, with the same named-message handshake as Child. */
class Thread {
  readonly worker: Worker;
  readonly exited: Promise<number>;
  #inbox: Message[] = [];
  #waiters: Array<{ type: string; resolve: (m: Message) => void }> = [];

  constructor(fixture: string, workerData: unknown) {
    this.worker = new Worker(path.join(fixturesDir, fixture), { workerData, execArgv: [] });
    this.worker.on('message', (m: Message) => {
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(m);
      else this.#inbox.push(m);
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  message<T extends Message = Message>(type: string): Promise<T> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0] as T);
    return new Promise((resolve) => this.#waiters.push({ type, resolve: resolve as (m: Message) => void }));
  }

  send(message: Message): void {
    this.worker.postMessage(message);
  }
}

function dispose(t: TapTest, ...locks: Mutex[]): void {
  t.teardown(() => {
    for (const m of locks) {
      m.close();
      m.unlink();
    }
  });
}

t.test('seed: reentrant acquire and release in one thread, in reverse order', async (t) => {
  const obj = new Lockable();
  dispose(t, obj.lock);
  t.equal(obj.acquireSync(), true);
  t.equal(obj.acquireSync({ blocking: false }), true, 'the owner re-acquires without blocking');
  t.equal(obj.acquireSync({ timeout: 10 }), true);
  t.equal(obj.tryAcquire(), true);
  t.equal(obj.lock.info().depth, 4);
  const depths: number[] = [];
  for (let i = 0; i < 4; i++) {
    obj.release();
    depths.push(obj.lock.info().depth);
  }
  t.same(depths, [3, 2, 1, 0], 'each release undoes one acquire');
  t.equal(obj.lock.info().locked, false);
  const err = t.throws(() => obj.release(), { code: 'SHMSYNC_NOT_OWNER' }) as unknown;
  t.ok(err instanceof NotOwnerError, 'releasing an unlocked lock throws NotOwnerError (seed: AssertionError)');
});

t.test('seed: another thread cannot take or release the lock while this thread holds it', async (t) => {
  const obj = new Lockable();
  dispose(t, obj.lock);
  const thread = new Thread('lockable-holder.js', { ref: obj.toJSON() });
  await thread.message('ready');
  t.equal(obj.acquireSync(), true);
  thread.send({ type: 'try' });
  t.equal((await thread.message<{ type: string; got: boolean }>('tried')).got, false, 'blocking: false returns false');
  thread.send({ type: 'timed', timeout: 50 });
  const timed = await thread.message<{ type: string; got: boolean; elapsed: number }>('timed');
  t.equal(timed.got, false, 'a timed acquire returns false');
  t.ok(timed.elapsed >= 50, `after at least the timeout (${timed.elapsed.toFixed(1)} ms)`);
  thread.send({ type: 'foreignRelease' });
  t.equal((await thread.message<{ type: string; code: string }>('foreignReleased')).code, 'SHMSYNC_NOT_OWNER');
  t.equal(obj.lock.info().depth, 1, 'the failed foreign release changed nothing');
  obj.release();
  thread.send({ type: 'nested' });
  const nested = await thread.message<{ type: string; depths: number[]; after: boolean }>('nested');
  t.same(nested.depths, [1, 2, 3, 2, 1, 0], 'nested acquires in the thread, released in reverse order');
  t.equal(nested.after, false);
  thread.send({ type: 'exit' });
  t.equal(await thread.exited, 0, 'the thread exits cleanly');
});

t.test('constructor options, references and lifecycle', async (t) => {
  const name = testName('lockable');
  const a = new Lockable({ name });
  dispose(t, a.lock);
  t.equal(a.lock.name, name);
  t.same(a.toJSON(), { $shmsync: 'Lockable', name });
  const shared = new Lockable({ lock: a.lock });
  t.equal(shared.lock, a.lock, '{ lock: mutex } shares the handle');
  for (const ref of [JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(a.lock)), name]) {
    const b = Lockable.from(ref);
    t.equal(b.lock.name, name, `Lockable.from(${JSON.stringify(ref)}) opens the same mutex`);
    b[Symbol.dispose]();
    t.equal(b.lock.closed, true, 'dispose closes a handle the instance opened');
  }
  const revived = reviveHandle<Lockable>(JSON.parse(JSON.stringify({ x: a })).x);
  t.ok(revived instanceof Lockable && revived.lock.name === name, 'reviveHandle reopens a Lockable reference');
  revived[Symbol.dispose]();
  shared[Symbol.dispose]();
  t.equal(a.lock.closed, false, 'dispose never closes a Mutex that was passed in');
  t.throws(() => Lockable.from(testName('missing')), { code: 'SHMSYNC_NOT_FOUND' }, 'a reference never creates');
  t.throws(() => new Lockable({ lock: 5 as never }), {
    message: 'options.lock must be a Mutex, a mutex name or a { $shmsync, name } reference. Received type number (5)',
  });
  t.throws(() => new Lockable({ name: 'x', lock: 'y' }), {
    message: 'options.name must be omitted when options.lock is given. Received type string ("x")',
  });
  t.throws(() => new Lockable({ mutex: a.lock } as never), { message: /^options\.mutex must be spelled 'lock'/ });
  t.throws(() => new Lockable(5 as never), { message: 'options must be an object. Received type number (5)' });
  t.throws(() => Lockable.from({ $shmsync: 'SharedMemory', name }), {
    message: /^options\.lock\.\$shmsync must be 'Mutex' or 'Lockable'/,
  });
  const b = new Lockable();
  dispose(t, b.lock);
  t.not(b.lock.name, a.lock.name, 'one unique mutex per unnamed instance');
});

t.test('a registered subclass is rebuilt by reviveHandle (pcall arguments, queue messages)', async (t) => {
  class Device extends Lockable {
    label = 'unset';
    override toJSON() {
      return { ...super.toJSON(), label: this.label };
    }
    static revive(ref: HandleRef): Device {
      const d = new Device({ lock: ref });
      d.label = ref.label as string;
      return d;
    }
  }
  class Unregistered extends Lockable {}
  Device.register({ name: 'test-device', revive: (ref) => Device.revive(ref) });
  const d = new Device();
  d.label = 'router-1';
  const u = new Unregistered();
  dispose(t, d.lock, u.lock);
  const wire = JSON.parse(JSON.stringify({ d, u }));
  t.same(wire.d, { $shmsync: 'Lockable', name: d.lock.name, class: 'test-device', label: 'router-1' });
  const copy = reviveHandle<Device>(wire.d);
  t.ok(copy instanceof Device, 'rebuilt as the registered subclass, through its from()');
  t.equal(copy.label, 'router-1');
  t.equal(copy.lock.name, d.lock.name, 'with the same lock');
  copy[Symbol.dispose]();
  const plain = reviveHandle<Lockable>(wire.u);
  t.ok(
    plain.constructor === Lockable && plain.lock.name === u.lock.name,
    'an unregistered subclass arrives as a Lockable',
  );
  plain[Symbol.dispose]();
  t.throws(() => Unregistered.register({ name: 'test-device' }), {
    message: 'options.name must be a name no other class registered. Received type string ("test-device")',
  });
});

t.test('decorator misuse is a TypeError with the validation template', async (t) => {
  t.throws(() => Lockable.locked(5 as never), {
    message: '@Lockable.locked must be a function. Received type number (5)',
  });
  t.throws(() => Lockable.locked((() => 1) as never, { kind: 'getter', name: 'x' } as never), {
    message: '@Lockable.locked target must be a method. Received type string ("a getter")',
  });
  t.throws(() => Lockable.locked((() => 1) as never, { kind: 'method', static: true } as never), {
    message: '@Lockable.locked target must be an instance method. Received type string ("a static method")',
  });
  t.throws(() => Lockable.locked({}, 'x', { get: () => 1 }), {
    message: /^@Lockable\.locked target must be a method\. Received type string \("an accessor"\)/,
  });
  t.throws(() => lockable(5 as never), { message: '@lockable target must be a class. Received type number (5)' });
  const fn = Lockable.locked(function probe(this: unknown) {
    return 1;
  });
  t.throws(() => fn.call({}), { message: 'this must be an instance of Lockable. Received an instance of Object' });
  t.throws(() => lockOf(5 as never), { message: 'obj must be an object. Received type number (5)' });
  const obj = {};
  const first = lockOf(obj);
  dispose(t, first);
  t.equal(attachLock(obj, first.name), first, 'attaching the same lock again is a no-op');
  t.throws(() => attachLock(obj, testName('other')), { message: /^obj must be an object without a lock/ });
});

t.test(
  'while an async call holds the lock, a sync locked call in the same thread throws DEADLOCK; an async one waits',
  async (t) => {
    class Gate extends Lockable {
      async hold(entered: () => void, until: Promise<void>): Promise<void> {
        entered();
        await until;
      }
      poke(): number {
        return 1;
      }
      async pokeLater(): Promise<number> {
        return 2;
      }
    }
    for (const m of ['hold', 'poke', 'pokeLater'] as const)
      Gate.prototype[m] = Lockable.locked(Gate.prototype[m]) as never;
    const g = new Gate();
    dispose(t, g.lock);
    let open!: () => void;
    const until = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const held = g.hold(() => entered(), until);
    await inside;
    t.throws(() => g.poke(), { code: 'SHMSYNC_DEADLOCK' }, 'blocking here could never end: it throws instead');
    const waiting = g.pokeLater();
    open();
    await held;
    t.equal(await waiting, 2, 'the async call ran after the holder finished');
    t.equal(g.poke(), 1, 'and sync calls work again');
  },
);

t.test('worker threads: @Lockable.locked serialises 4 threads', async (t) => {
  const station = new lib.Station();
  const iterations = 40;
  const rec = new lib.Recorder(4 * iterations);
  dispose(t, station.lock);
  t.teardown(() => {
    rec.close();
    rec.unlink();
  });
  const threads = ['critical', 'criticalAsync', 'critical', 'criticalAsync'].map(
    (method) =>
      new Thread('lockable-intervals.js', {
        kind: 'Station',
        lock: station.toJSON(),
        recorder: rec.refs(),
        iterations,
        method,
        spin: 2000,
      }),
  );
  await Promise.all(threads.map((th) => th.message('ready')));
  for (const th of threads) th.send({ type: 'go' });
  await Promise.all(threads.map((th) => th.message('done')));
  t.same(await Promise.all(threads.map((th) => th.exited)), [0, 0, 0, 0], 'every thread exits cleanly');
  t.equal(rec.intervals().length, 4 * iterations);
  t.same(rec.overlaps(), [], 'no two calls from different threads overlap');
});
