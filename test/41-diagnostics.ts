// diagnostics_channel hooks: lock acquire/granted/released/ownerDied, queue full/drained,
// pcall spawn/settled - published with the documented fields, only for what happened.
import t from 'tap';
import * as dc from 'node:diagnostics_channel';
import { diagnosticsChannels, Mutex, pcall, ShmQueue } from '../dist';
import { forkReady } from './helpers/fork';
import { testName } from './helpers/shm';

delete process.env.NODE_OPTIONS; // see 31-pcall-run.ts: tap's tracker slows pcall children

type Msg = { channel: string; [k: string]: unknown };

/** Collects every message of every shmsync channel while `t` runs. */
function record(t: { teardown(fn: () => void): void }): Msg[] {
  const seen: Msg[] = [];
  for (const name of Object.values(diagnosticsChannels)) {
    const fn = (m: unknown): void => {
      seen.push({ channel: name, ...(m as object) });
    };
    dc.subscribe(name, fn);
    t.teardown(() => {
      dc.unsubscribe(name, fn);
    });
  }
  return seen;
}

t.test('channel names', async (t) => {
  t.same(Object.values(diagnosticsChannels).sort(), [
    'shmsync:lock:acquire',
    'shmsync:lock:granted',
    'shmsync:lock:ownerDied',
    'shmsync:lock:released',
    'shmsync:pcall:settled',
    'shmsync:pcall:spawn',
    'shmsync:queue:drained',
    'shmsync:queue:full',
  ]);
});

t.test('lock: acquire, granted with wait time, released with hold time; reentry is silent', async (t) => {
  const m = new Mutex(testName('dc-lock'), { create: 'create' });
  t.teardown(() => {
    m.close();
    m.unlink();
  });
  const seen = record(t);
  m.acquireSync();
  m.acquireSync(); // reentrant
  m.release();
  m.release();
  const g = await m.acquire();
  g.release();
  const lockMsgs = seen.filter((x) => x.name === m.name);
  t.match(lockMsgs, [
    { channel: 'shmsync:lock:acquire', blocking: true },
    { channel: 'shmsync:lock:granted', ownerDied: false },
    { channel: 'shmsync:lock:released' },
    { channel: 'shmsync:lock:acquire', blocking: false },
    { channel: 'shmsync:lock:granted', ownerDied: false },
    { channel: 'shmsync:lock:released' },
  ]);
  t.equal(lockMsgs.length, 6);
  for (const x of lockMsgs) {
    if (x.channel.endsWith('granted')) t.ok((x.waitMs as number) >= 0);
    if (x.channel.endsWith('released')) t.ok((x.holdMs as number) >= 0);
  }
});

t.test('lock: a contended wait is measured; an owner death is published', async (t) => {
  const m = new Mutex(testName('dc-wait'), { create: 'create' });
  t.teardown(() => {
    m.close();
    m.unlink();
  });
  const holder = await forkReady('mutex-agent.js', [m.name]);
  t.teardown(() => holder.kill());
  holder.send({ type: 'acquire' });
  await holder.message('acquire');
  const seen = record(t);
  const pending = m.acquire();
  // The holder dies while we wait: we are granted with ownerDied.
  holder.kill('SIGKILL');
  await holder.exited;
  const g = await pending;
  g.release();
  const granted = seen.find((x) => x.channel === 'shmsync:lock:granted' && x.name === m.name)!;
  t.match(granted, { ownerDied: true });
  t.ok((granted.waitMs as number) > 0, `waited ${granted.waitMs} ms`);
  t.ok(seen.some((x) => x.channel === 'shmsync:lock:ownerDied' && x.name === m.name));
});

t.test('queue: full (giving up and waiting), drained', async (t) => {
  const q = new ShmQueue<string>(testName('dc-q'), { create: 'create', capacity: 1024, codec: 'string' });
  t.teardown(() => {
    q.close();
    q.unlink();
  });
  const seen = record(t);
  while (q.tryPut('x'.repeat(100)));
  const full = seen.filter((x) => x.channel === 'shmsync:queue:full');
  t.match(full, [{ name: q.name, waiting: false, capacity: 1024 }]);
  t.ok((full[0].size as number) > 0);
  const put = q.put('y'.repeat(100));
  t.match(seen.filter((x) => x.channel === 'shmsync:queue:full').at(-1), { waiting: true });
  let n = 0;
  while (q.tryGet() !== undefined) n += 1;
  await put;
  while (q.tryGet() !== undefined) n += 1;
  t.ok(n > 1);
  t.ok(
    seen.some((x) => x.channel === 'shmsync:queue:drained' && x.name === q.name),
    'drained when the last message was taken',
  );
  t.match(
    seen.filter((x) => x.channel === 'shmsync:queue:drained').at(-1),
    { ended: false },
    "drained reports 'ended' (not 'closed')",
  );
  q.putSync('last');
  q.end();
  q.tryGet();
  t.match(
    seen.filter((x) => x.channel === 'shmsync:queue:drained').at(-1),
    { name: q.name, ended: true },
    'after end(): ended is true',
  );
  t.notOk('closed' in (seen.at(-1) as object));
});

t.test('pcall: spawn and settled per call', async (t) => {
  const seen = record(t);
  const r = await pcall([() => 1, () => 2]);
  t.same(r, [1, 2]);
  const spawns = seen.filter((x) => x.channel === 'shmsync:pcall:spawn');
  const settled = seen.filter((x) => x.channel === 'shmsync:pcall:settled');
  t.equal(spawns.length, 2);
  for (const s of spawns) t.match(s, { mode: 'process', pid: Number });
  t.equal(settled.length, 2);
  t.same(settled.map((s) => s.index).sort(), [0, 1]);
  for (const s of settled) t.match(s, { ok: true, exitCode: 0, durationMs: Number });
});
