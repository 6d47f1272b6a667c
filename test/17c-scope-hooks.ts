// Lock scopes and the rest of the process (issue 10): on Node 20/22, AsyncLocalStorage installs
// promise hooks that make every `await` of the process slower. A lock scope may keep them only
// while scopes are open: once none has been open for the idle period they are removed, and lock
// scopes opened later work exactly as before (re-entry across awaits, exclusion of other tasks).
//
// "Promises are tracked" is read through async_hooks: with promise hooks installed every promise
// is an async resource with its own id, so executionAsyncId() differs across an await; without
// them it does not. Node 24's AsyncLocalStorage installs no hooks at all: there the tracked
// checks hold trivially, and the semantic checks still run.
import t from 'tap';
import { Lockable, Mutex } from '../dist/index';
import { kIdleDisableMs, scopeHooksInstalled } from '../dist/lock/lock-scope';
import { Child } from './helpers/fork';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const hookBased =
  process.versions.node.split('.').map(Number)[0] < 24 &&
  !process.execArgv.includes('--experimental-async-context-frame');

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits (turn by turn, bounded) until the scope storage was disabled by its idle check. */
async function untilIdle(t: TapTest): Promise<void> {
  const deadline = Date.now() + 10_000 + kIdleDisableMs;
  while (scopeHooksInstalled() && Date.now() < deadline) await nextTurn();
  t.notOk(scopeHooksInstalled(), 'no scope hooks once no scope is open');
}

function mutex(t: TapTest): Mutex {
  const m = new Mutex(`t17c-${process.pid}-${Math.random().toString(36).slice(2)}`);
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  return m;
}

t.test('after the last lock scope, awaits elsewhere are not tracked any more', async (t) => {
  // In a process of its own, without the runner's loaders and hooks.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = new Child('scope-hooks.js', [`t17c-${process.pid}-child`], { env });
  const r = await child.message('result');
  await child.exited;
  t.equal(r.before, false, 'nothing tracked before any scope');
  t.equal(r.during, hookBased, 'while a scope is open: tracked on Node 20/22 (the documented cost)');
  t.equal(r.idleAfterWithLock, true, 'no scope hooks once no scope is open');
  t.equal(r.afterWithLock, false, 'no promise hook left after withLock');
  t.equal(r.step, 1);
  t.equal(r.idleAfterLocked, true);
  t.equal(r.afterLocked, false, 'no promise hook left after an async locked method');
});

t.test('scopes opened after the storage was disabled keep their semantics', async (t) => {
  const m = mutex(t);
  await m.withLock(async () => {});
  await untilIdle(t);

  // Re-entry across awaits inside the scope (async and blocking API).
  const depth = await m.withLock(async () => {
    await nextTurn();
    const g = await m.acquire();
    t.ok(g.reentrant, 'acquire() after an await re-enters the scope');
    t.ok(m.acquireSync(), 'acquireSync() after an await re-enters the scope');
    const d = m.info().depth;
    m.release();
    g.release();
    return d;
  });
  t.equal(depth, 3);

  // Exclusion: another task started while the scope is suspended waits for it.
  const order: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const first = m.withLock(async () => {
    order.push('first in');
    await gate;
    await nextTurn();
    order.push('first out');
  });
  await nextTurn();
  const second = m.withLock(async () => {
    order.push('second in');
  });
  await nextTurn();
  t.same(order, ['first in'], 'the other task waits while the scope holds the lock');
  open();
  await Promise.all([first, second]);
  t.same(order, ['first in', 'first out', 'second in']);

  // Nested locked methods after awaits (the Lockable pattern).
  class Dev extends Lockable {
    n = 0;
    async outer(): Promise<number> {
      await nextTurn();
      await this.inner();
      await Promise.resolve();
      return this.inner();
    }
    async inner(): Promise<number> {
      await nextTurn();
      return ++this.n;
    }
  }
  Dev.prototype.outer = Lockable.locked(Dev.prototype.outer);
  Dev.prototype.inner = Lockable.locked(Dev.prototype.inner);
  await untilIdle(t);
  t.equal(await new Dev({ lock: m }).outer(), 2, 'a locked async method calls another after awaits');
  t.equal(m.info().locked, false);
});
