// Adversarial review of the thread layer (issue 11): hostile thrown values must fail their call,
// never the worker (a WorkerThread crashed on an error whose getters throw, or a thrown Proxy,
// and every later call failed); careless use (detached arguments, stop twice, enqueue after
// stop, a call blocking for ever) settles every promise; a child process using WorkerThread
// exits by itself after stopAndJoin(). Hangs are bounded by `settles()` so a regression fails.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ClosedError, TerminatableThread, ThreadExitedError, WorkerThread } from '../dist';
import { settles } from './helpers/settles';

delete process.env.NODE_OPTIONS;

t.test('hostile thrown values fail their call, not the worker', async (t) => {
  const w = new WorkerThread().start();
  t.teardown(() => w.kill());
  const getter = await settles(
    w.enqueue(() => {
      const e = new Error('hidden');
      Object.defineProperty(e, 'message', {
        get() {
          throw new Error('getter');
        },
      });
      throw e;
    }),
  );
  t.equal(getter[0], 'rejected', 'an error whose message getter throws: the call rejects');
  t.notOk(getter[1] instanceof ThreadExitedError, 'as its own failure, not as a dead worker');
  const proxy = await settles(
    w.enqueue(() => {
      const trap = (): never => {
        throw new Error('trap');
      };
      throw new Proxy(new Error('p'), { get: trap, getPrototypeOf: trap, ownKeys: trap });
    }),
  );
  t.equal(proxy[0], 'rejected', 'a thrown Proxy whose traps throw: the call rejects');
  t.notOk(proxy[1] instanceof ThreadExitedError, 'the worker survived it');
  const undef = await settles(
    w.enqueue(() => {
      throw undefined;
    }),
  );
  t.same(undef, ['rejected', undefined], 'a thrown undefined rejects with undefined');
  const uncloneable = await settles(w.enqueue(() => () => 1));
  t.match(String(uncloneable[1]), /could not be cloned/, 'an uncloneable result rejects its call');
  t.same(await settles(w.enqueue((x: number) => x + 1, 1)), ['ok', 2], 'the worker still serves calls');
  const tt = new TerminatableThread(() => {
    const e = new Error('hidden');
    Object.defineProperty(e, 'name', {
      get() {
        throw new Error('getter');
      },
    });
    throw e;
  }).start();
  const joined = await settles(tt.join());
  t.equal(joined[0], 'rejected');
  t.notOk(joined[1] instanceof ThreadExitedError, 'TerminatableThread: the run error, not a crash');
  await w.stopAndJoin();
});

t.test('careless use: detached arguments, stop twice, enqueue after stop, a call blocking for ever', async (t) => {
  const w = new WorkerThread().start();
  const ab = new ArrayBuffer(8);
  structuredClone(ab, { transfer: [ab] }); // detached before enqueue
  const detached = await settles(w.enqueue((a: ArrayBuffer) => a.byteLength, ab));
  t.equal(detached[0], 'rejected', 'a detached ArrayBuffer argument rejects the call');
  t.same(await settles(w.enqueue((x: number) => x * 2, 4)), ['ok', 8], 'the worker goes on');
  t.throws(() => w.enqueue({ source: 'function (' }), { code: 'SHMSYNC_INVALID_ARG_VALUE' }, 'a bad target throws');
  class K {}
  t.throws(() => w.enqueue(K), { code: 'SHMSYNC_INVALID_ARG_TYPE' }, 'a class is refused');
  // A function whose own toString() lies (the source pcall ships must come from the engine).
  const liar = Object.assign((x: number) => x + 10, { toString: () => 'function (' });
  t.same(await settles(Promise.resolve().then(() => w.enqueue(liar, 1))), ['ok', 11], 'a lying toString() is ignored');
  t.same(
    await settles(w.enqueue(new Function('x', `/*${'a'.repeat(4e6)}*/ return x * 2;`) as () => void, 3)),
    ['ok', 6],
    'a 4 MB body works',
  );
  const [a, b] = [w.stopAndJoin(), w.stopAndJoin()];
  t.same(await settles(Promise.all([a, b])), ['ok', [undefined, undefined]], 'stopAndJoin twice at once');
  t.same(await settles(w.stopAndJoin()), ['ok', undefined], 'and once more after');
  const late = await settles(w.enqueue((x: number) => x, 1));
  t.ok(late[1] instanceof ClosedError, 'enqueue after stopAndJoin: ClosedError');

  const gate = new Int32Array(new SharedArrayBuffer(4));
  const w2 = new WorkerThread().start();
  const blocked = w2.enqueue((g: Int32Array) => {
    Atomics.store(g, 0, 1);
    Atomics.notify(g, 0);
    for (;;);
  }, gate);
  blocked.catch(() => undefined);
  while (Atomics.load(gate, 0) === 0) await new Promise((r) => setImmediate(r)); // handshake: it is in the loop
  const stopped = await settles(w2.stopAndJoin({ timeout: 50 }));
  t.ok(stopped[1] instanceof ThreadExitedError, 'stopAndJoin({ timeout }) kills a worker blocked for ever');
  t.equal((stopped[1] as ThreadExitedError).reason, 'killed');
  const call = await settles(blocked);
  t.ok(call[1] instanceof ThreadExitedError && (call[1] as ThreadExitedError).started, 'its call: ended while running');
});

t.test('a child process using WorkerThread exits by itself after stopAndJoin()', async (t) => {
  const dist = path.join(__dirname, '..', 'dist');
  const script = `
    const { WorkerThread, TerminatableThread } = require(${JSON.stringify(dist)});
    (async () => {
      const w = new WorkerThread().start();
      const w2 = new WorkerThread(undefined, { daemon: false }).start();
      const tt = new TerminatableThread((a, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)), 1, { daemon: false }).start();
      console.log(await w.enqueue((x) => x + 1, 1), await w2.enqueue((x) => x + 2, 1));
      await Promise.all([w.stopAndJoin(), w2.stopAndJoin(), tt.stopAndJoin()]);
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await settles(new Promise<number | null>((resolve) => child.once('exit', resolve)), 10000);
  if (code[0] === 'HANG') child.kill('SIGKILL');
  t.same(code, ['ok', 0], 'exits with 0, no handle left');
  t.equal(out.trim(), '2 3');
});
