// Attacks on a shared channel's writer lock `<queue>.writers` (the RwLock each writer holds a
// share of, which the reader probes to notice a writer's death), by a hostile process that
// pre-creates, fills, holds, rewrites or unlinks it. The reader must never crash and never hang
// without a word: a coded error, or the behaviour docs/channels.md#hostile-writer-locks states.
// Real processes, real SIGKILL; handshakes and shared state, no sleeps.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import { mkchannel, encodeHandles, gcSegments, ChannelWriter, Mutex, ShmQueue, type ChannelReader } from '../dist';
import { channelAgent } from './helpers/channel';
import { ProcessParty } from './helpers/party';
import { Child, forkReady } from './helpers/fork';
import { testName } from './helpers/shm';

type Item = [number, number];
const shm = (name: string): string => `/dev/shm/shmsync-${name}`;

async function ask(child: Child, type: string, extra: Record<string, unknown> = {}): Promise<any> {
  child.send({ type, ...extra });
  const m = await child.message<any>(type);
  if (m.error) throw new Error(`hostile ${type} failed: ${m.error}`);
  return m;
}

/** `p`, or `fallback` after `ms` (a bound that only a failing test reaches; never a sync). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * A channel whose only writer is a child process writing for ever (registered: it awaited
 * `registered`); the test's own writer released. Returns the reader, the writer lock's name and
 * the writer child.
 */
async function channelWithWriterChild(
  t: Test,
): Promise<{ r: ChannelReader<Item>; lock: string; writer: ProcessParty }> {
  const [w, r] = mkchannel<Item>({ shared: true });
  t.teardown(() => {
    r.close();
    gcSegments(); // the killed children's attachments: swept (all users dead)
  });
  const lock = `${(w.channel.queue as ShmQueue).name}.writers`;
  const writer = new ProcessParty(channelAgent);
  t.teardown(() => writer.kill());
  await writer.message('ready');
  writer.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id: 0, count: 50, forever: true });
  w.release();
  await writer.message('progress'); // registered, 50 writes done, still writing
  return { r, lock, writer };
}

/** Reads until [] (or a rejection); 'hung' if that takes longer than `ms`. */
async function drain(r: ChannelReader<Item>, ms: number): Promise<{ end: string; got: number[] }> {
  const got: number[] = [];
  const loop = (async () => {
    for (;;) {
      const items = await r.read(1000);
      if (items.length === 0) return 'ended';
      for (const [, seq] of items) got.push(seq);
    }
  })().catch((err: { code?: string }) => `rejected ${err.code}`);
  return { end: await within(loop, ms, 'hung'), got };
}

async function hostile(t: Test): Promise<Child> {
  const h = await forkReady('channel-hostile.js');
  t.teardown(() => h.kill());
  return h;
}

t.test(
  'a table filled by a hostile process: registered rejects SHMSYNC_BUSY, the watch warns and keeps asking',
  async (t) => {
    const [w, r] = mkchannel<Item>({ shared: true });
    t.teardown(() => {
      r.close();
      gcSegments(); // the killed child's attachments: swept
    });
    const lock = `${(w.channel.queue as ShmQueue).name}.writers`;
    // The hostile process is also the channel's only writer: live, registered, idle.
    const h = await hostile(t);
    await ask(h, 'writer', { endpoint: encodeHandles(w) });
    w.release();
    const { held, code } = await ask(h, 'fill', { lock });
    t.equal(code, 'SHMSYNC_BUSY', `the hostile filled the table (${held} shares)`);
    // A writer registering now is refused: it still writes, but its registration says so, and
    // so does a process warning (a writer that never awaits `registered` would not know).
    const refusals: Array<Error & { code?: string }> = [];
    const onRefusal = (w: Error & { code?: string }): void => {
      if (w.code === 'SHMSYNC_WRITER_WATCH' && /registration/.test(w.message)) refusals.push(w);
    };
    process.on('warning', onRefusal);
    t.teardown(() => process.off('warning', onRefusal));
    const late = new ChannelWriter(r.channel);
    await t.rejects(
      within<unknown>(late.registered, 5000, 'still pending'),
      { code: 'SHMSYNC_BUSY' },
      'registered rejects',
    );
    late.release();
    const late2 = new ChannelWriter(r.channel);
    await t.rejects(within<unknown>(late2.registered, 5000, 'still pending'), { code: 'SHMSYNC_BUSY' });
    late2.release();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    t.equal(refusals.length, 1, 'one warning for the refused registrations of this lock');
    t.match(refusals[0]?.message, /SHMSYNC_BUSY/);
    // A waiting read's watch meets the full table: a warning (once per lock), and it keeps asking.
    const warned = new Promise<Error>((resolve) => {
      const on = (w: Error & { code?: string }): void => {
        if (w.code !== 'SHMSYNC_WRITER_WATCH') return;
        process.off('warning', on);
        resolve(w);
      };
      process.on('warning', on);
    });
    const reading = drain(r, 10_000);
    const warning = await within(warned, 5000, null);
    t.match(warning, { code: 'SHMSYNC_WRITER_WATCH', message: /SHMSYNC_BUSY/ }, 'the watch said it cannot see deaths');
    // The process dies (writer and hostile shares alike): the same read's watch, asking again,
    // reclaims them and sees the death. (It stopped for good at the first refusal: the read
    // waited for ever.)
    h.kill();
    await h.exited;
    const { end } = await reading;
    t.equal(end, 'ended', 'the read ended instead of waiting for ever');
    t.ok(r.channel.writerDied);
  },
);

t.test('a hostile share SIGKILLed: a forged writer death ends the stream (as end() would)', async (t) => {
  const { r, lock, writer } = await channelWithWriterChild(t);
  const h = await hostile(t);
  await ask(h, 'holdShared', { lock });
  const reading = drain(r, 10_000);
  h.kill();
  await h.exited;
  // The real writer is alive: its share keeps the watch out, so nothing ends yet (a weak check:
  // a bug could end it later)...
  t.notOk(r.channel.writerDied, 'not ended while a live writer holds its share');
  // ...until it goes too (had it released normally, the forged death alone would end the stream).
  writer.kill();
  await writer.ended();
  const { end } = await reading;
  t.equal(end, 'ended');
  t.ok(r.channel.writerDied, 'seen as a writer death');
});

t.test(
  'a hostile holding the lock exclusively: writes flow, reads with a timeout return, its death ends the stream',
  async (t) => {
    const [w, r] = mkchannel<Item>({ shared: true });
    t.teardown(() => {
      w.close();
      r.close();
    });
    await w.registered;
    const lock = `${(w.channel.queue as ShmQueue).name}.writers`;
    const h = await hostile(t);
    const granted = ask(h, 'holdExclusive', { lock });
    w.release(); // the hostile's exclusive request is granted once our share goes
    await granted;
    const late = new ChannelWriter(r.channel);
    t.equal(
      await within(
        late.registered.then(() => 'registered'),
        300,
        'queued',
      ),
      'queued',
      'registrations queue behind it',
    );
    await late.write([1, 0]);
    t.same(await r.read(1), [[1, 0]], 'writes do not need the lock');
    t.same(await r.read(1, { timeout: 100 }), [], 'a read with a timeout returns');
    late.release(); // no live writer left (a live one would keep the stream open, rightly)
    const reading = drain(r, 10_000);
    h.kill();
    await h.exited;
    const { end } = await reading;
    t.equal(end, 'ended', 'the exclusive holder died: reclaimed, reported as a death');
    t.ok(r.channel.writerDied);
  },
);

t.test(
  'the writer lock rewritten or unlinked by a hostile while in use: no crash; a death seen or (zeroed) hidden',
  async (t) => {
    const h = await hostile(t);
    const attacks = ['zeroed', '0xff', 'unlinked'] as const;
    // The attacks run side by side, each on a channel of its own with a writer process of its own.
    const setups = await Promise.all(attacks.map(() => channelWithWriterChild(t)));
    await Promise.all(
      attacks.map(async (attack, i) => {
        const { r, lock, writer } = setups[i];
        const file = shm(lock);
        if (attack === 'zeroed') await ask(h, 'overwrite', { file, offset: 64, hex: '00'.repeat(3264) });
        if (attack === '0xff') await ask(h, 'overwrite', { file, offset: 64, hex: 'ff'.repeat(3264) });
        if (attack === 'unlinked') await ask(h, 'unlink', { lock });
        writer.kill();
        await writer.ended();
        if (attack !== 'zeroed') {
          const { end, got } = await drain(r, 10_000);
          t.equal(end, 'ended', `${attack}: the read ended`);
          t.ok(
            got.every((s, k) => s === k),
            `${attack}: the prefix, in order`,
          );
          t.ok(r.channel.writerDied, `${attack}: seen as a writer death`);
          return;
        }
        // Zeroed: every entry freed, the writer's share with them - its death looks like a normal
        // release (documented). The read waits like for a writer yet to come: a timeout bounds it,
        // a close ends it.
        const got: Item[] = [];
        for (;;) {
          const items = await r.read(1000, { timeout: 300 });
          got.push(...items);
          if (items.length < 1000) break;
        }
        t.ok(got.length >= 50, 'zeroed: what was written arrives');
        t.same(await r.read(1, { timeout: 50 }), [], 'zeroed: then a read with a timeout returns []');
        t.notOk(r.channel.writerDied, 'zeroed: the death is hidden');
        new ChannelWriter(r.channel).close();
        t.same(await r.read(), [], 'zeroed: a close still ends the stream');
      }),
    );
  },
);

t.test('a writer lock pre-created by a hostile: coded errors, nothing left behind by the failed open', async (t) => {
  const cases: Array<[string, (lock: string) => () => void, string]> = [
    [
      'garbage of the wrong size',
      (lock) => {
        fs.writeFileSync(shm(lock), Buffer.alloc(100, 7), { mode: 0o600 });
        return () => fs.rmSync(shm(lock), { force: true });
      },
      'SHMSYNC_CORRUPT',
    ],
    [
      'an empty file',
      (lock) => {
        fs.writeFileSync(shm(lock), Buffer.alloc(0), { mode: 0o600 });
        return () => fs.rmSync(shm(lock), { force: true });
      },
      'SHMSYNC_CORRUPT',
    ],
    [
      'a mutex',
      (lock) => {
        const m = new Mutex(lock, { create: 'create' });
        return () => {
          m.close();
          Mutex.unlink(lock);
        };
      },
      'SHMSYNC_KIND_MISMATCH',
    ],
  ];
  for (const [what, make, code] of cases) {
    const name = testName('chan-pre');
    const undo = make(`${name}.writers`);
    t.teardown(undo);
    t.throws(() => mkchannel({ shared: name }), { code }, `${what}: ${code}`);
    t.notOk(fs.existsSync(shm(name)), `${what}: the queue this call created is not left behind`);
    t.throws(() => mkchannel({ shared: { name, lifetime: 'attached' } }), { code });
    t.notOk(fs.existsSync(shm(name)));
  }
});
