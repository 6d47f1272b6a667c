// The uncontended fast paths skip the diagnostics hooks only while nobody listens, and learn of
// every change of subscriptions at once (src/lock/lock-tracing.ts caches whether anyone listens):
// each lock channel, subscribed alone, through dc.subscribe or the channel object, hears the
// uncontended acquisitions and releases; after unsubscribing nothing is published; a subscription
// made before the library was loaded counts too.
import t from 'tap';
import * as dc from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
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
  const seen = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  t.same(seen, [m.name]);
  await new Promise((resolve) => w.once('exit', resolve));
});
