// The uncontended fast paths skip the diagnostics hooks only while nobody listens, and learn of
// every change of subscriptions at once (src/lock/lock-tracing.ts caches whether anyone listens):
// each lock channel, subscribed alone, through dc.subscribe or the channel object, hears the
// uncontended acquisitions and releases; after unsubscribing nothing is published; a subscription
// made before the library was loaded counts too; two copies of the library in one thread both hear
// every subscription; a release measures only a hold whose grant was traced.
import t from 'tap';
import * as dc from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { diagnosticsChannels, Mutex } from '../dist';
import { testName } from './helpers/shm';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

function mutex(t: TapTest): Mutex {
  const m = new Mutex(testName('fast-trace'));
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  return m;
}

async function cycle(m: Mutex): Promise<void> {
  m.acquireSync();
  m.release();
  (await m.acquire()).release();
}

const lockChannels = {
  acquire: diagnosticsChannels.lockAcquire,
  granted: diagnosticsChannels.lockGranted,
  released: diagnosticsChannels.lockReleased,
} as const;

for (const [kind, name] of Object.entries(lockChannels)) {
  for (const how of ['dc.subscribe', 'channel.subscribe'] as const) {
    t.test(`'${kind}' alone (${how}) hears uncontended cycles, and only while subscribed`, async (t) => {
      const m = mutex(t);
      await cycle(m); // warm: the fast paths are what runs
      const seen: unknown[] = [];
      const fn = (msg: unknown): void => {
        seen.push(msg);
      };
      if (how === 'dc.subscribe') dc.subscribe(name, fn);
      else dc.channel(name).subscribe(fn);
      await cycle(m);
      t.equal(seen.length, 2, 'one message per acquisition (sync and Promise)');
      t.match(seen[0], { name: m.name });
      if (how === 'dc.subscribe') dc.unsubscribe(name, fn);
      else dc.channel(name).unsubscribe(fn);
      await cycle(m);
      t.equal(seen.length, 2, 'nothing after unsubscribing');
    });
  }
}

t.test('a subscription made before the library is loaded counts', async (t) => {
  const m = mutex(t);
  const code = `
    const dc = require('node:diagnostics_channel');
    const { parentPort, workerData } = require('node:worker_threads');
    const seen = [];
    dc.subscribe('shmsync:lock:released', (msg) => seen.push(msg.name));
    const { Mutex } = require(workerData.dist);
    const m = new Mutex(workerData.name, { create: 'open' });
    m.acquireSync();
    m.release();
    m.close();
    parentPort.postMessage(seen);
  `;
  const w = new Worker(code, { eval: true, workerData: { dist: path.join(__dirname, '..', 'dist'), name: m.name } });
  // Listen for the exit now: on Node 24 it can come before the last message is handled.
  const exited = new Promise((resolve) => w.once('exit', resolve));
  const seen = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  t.same(seen, [m.name]);
  await exited;
});

t.test('two copies of the library in one thread both hear every subscription', async (t) => {
  // Two installed versions, a bundle next to node_modules or a test runner's fresh module
  // registry load the library twice; both copies share the context's channel objects. Each copy
  // must learn of subscriptions made after both were loaded (the one loaded first included).
  const m = mutex(t);
  const code = `
    const dc = require('node:diagnostics_channel');
    const { parentPort, workerData } = require('node:worker_threads');
    const first = require(workerData.dist);
    for (const k of Object.keys(require.cache)) if (k.startsWith(workerData.dist)) delete require.cache[k];
    const second = require(workerData.dist);
    const out = { distinct: first.Mutex !== second.Mutex };
    const a = new first.Mutex(workerData.name, { create: 'open' });
    const b = new second.Mutex(workerData.name, { create: 'open' });
    const cycle = () => {
      a.acquireSync(); a.release();
      b.acquireSync(); b.release();
    };
    cycle(); // warm: fast paths
    for (const ch of ['shmsync:lock:acquire', 'shmsync:lock:granted', 'shmsync:lock:released']) {
      const seen = [];
      const fn = (msg) => seen.push(msg.name);
      dc.subscribe(ch, fn);
      cycle();
      dc.unsubscribe(ch, fn);
      cycle();
      out[ch] = seen.length;
    }
    a.close();
    b.close();
    parentPort.postMessage(out);
  `;
  const dist = path.join(__dirname, '..', 'dist');
  const w = new Worker(code, { eval: true, workerData: { dist, name: m.name } });
  const exited = new Promise((resolve) => w.once('exit', resolve));
  const out = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await exited;
  t.same(
    out,
    { distinct: true, 'shmsync:lock:acquire': 2, 'shmsync:lock:granted': 2, 'shmsync:lock:released': 2 },
    'each channel: one message per copy while subscribed, none after',
  );
});

t.test("'released' after a hold granted while nobody listened: holdMs null, not an earlier hold's", async (t) => {
  // A 'granted'-only subscriber stamps the hold's start; the release, which nobody hears, keeps the
  // stamp. The next hold is granted on the fast path with nobody listening: its release must not
  // measure from the earlier hold's start.
  const m = mutex(t);
  const granted = (): void => {};
  dc.subscribe(diagnosticsChannels.lockGranted, granted);
  m.acquireSync();
  m.release();
  dc.unsubscribe(diagnosticsChannels.lockGranted, granted);
  const stampedAt = performance.now();
  while (performance.now() - stampedAt < 50); // the earlier stamp is now at least 50 ms old
  m.acquireSync(); // fast path, untraced
  const held: Array<number | null> = [];
  const released = (msg: unknown): void => {
    held.push((msg as { holdMs: number | null }).holdMs);
  };
  dc.subscribe(diagnosticsChannels.lockReleased, released);
  t.teardown(() => dc.unsubscribe(diagnosticsChannels.lockReleased, released));
  m.release();
  t.same(held, [null], 'the hold was granted before anyone listened');
  // A hold granted while 'released' is listened to is measured.
  m.acquireSync();
  m.release();
  t.equal(held.length, 2);
  t.type(held[1], 'number');
  t.ok((held[1] as number) < 50, `${held[1]} ms: this hold's own duration`);
});
