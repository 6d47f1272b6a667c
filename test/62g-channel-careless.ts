// A shared channel used carelessly and killed rudely: timeouts and counts at the edges, close()
// racing reads and writes, a reader SIGKILLed mid-stream while the writer goes on, many writers
// terminated at once. Real processes and worker threads; handshakes, no sleeps.
import t from 'tap';
import { mkchannel, encodeHandles, gcSegments, type ChannelReader, type ChannelWriter } from '../dist';
import { channelAgent } from './helpers/channel';
import { ProcessParty, WorkerParty, type Party } from './helpers/party';
import { Child } from './helpers/fork';

type Item = [number, number];

/** `p`, or `fallback` after `ms` (a bound only a failing test reaches; never a sync). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

t.test('timeouts and counts at the edges: honoured or a coded error, never a 1 ms clamp', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true, maxsize: 1 });
  t.teardown(() => {
    w.close();
    r.close();
  });
  for (const timeout of [Number.MAX_SAFE_INTEGER, Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32 + 1, 1e300]) {
    // A read that waits with this timeout gets the item written later...
    const reading = r.read(1, { timeout });
    await w.write(1, { timeout });
    t.same(await reading, [1], `read(1, { timeout: ${timeout} })`);
    // ...and a write that waits for room with it is still waiting 30 ms later (a timer clamped
    // to 1 ms, as setTimeout does above 2^31-1, would have failed it), then goes in.
    await w.write(2);
    const writing = w.write(3, { timeout });
    const early = await within(
      writing.then(
        () => 'wrote while full',
        (e: { code?: string }) => `rejected ${e.code}`,
      ),
      30,
      'waiting',
    );
    t.equal(early, 'waiting', `write(x, { timeout: ${timeout} }) on a full channel waits`);
    t.same(r.readSync(1, { timeout }), [2], `readSync(1, { timeout: ${timeout} })`);
    await writing;
    t.same(await r.read(1, { timeout }), [3]);
  }
  for (const timeout of [Number.NaN, -1, -Infinity, '5', null]) {
    const code = typeof timeout === 'number' ? 'SHMSYNC_OUT_OF_RANGE' : 'SHMSYNC_INVALID_ARG_TYPE';
    await t.rejects(r.read(1, { timeout: timeout as number }), { code }, `read timeout ${String(timeout)}`);
    await t.rejects(w.write(1, { timeout: timeout as number }), { code }, `write timeout ${String(timeout)}`);
    t.throws(() => r.readSync(1, { timeout: timeout as number }), { code }, `readSync timeout ${String(timeout)}`);
  }
  for (const count of [-1, 0.5, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 31]) {
    await t.rejects(r.read(count, { block: false }), { code: 'SHMSYNC_OUT_OF_RANGE' }, `read(${count})`);
    t.throws(() => r.readSync(count, { block: false }), { code: 'SHMSYNC_OUT_OF_RANGE' }, `readSync(${count})`);
  }
  for (const count of ['1', null, 1n, {}]) {
    await t.rejects(r.read(count as number), { code: 'SHMSYNC_INVALID_ARG_TYPE' }, `read(${typeof count})`);
  }
  await w.write(7);
  t.same(await r.read(0, { block: false }), [7], 'count 0: every item present');
  t.same(await r.read(-0, { block: false }), [], '-0 is 0');
  t.equal(w.tryWrite(8), true, 'the bad calls took no credit and no item');
  t.same(await r.read(2 ** 31 - 1, { timeout: 10 }), [8], 'the largest count');
});

t.test(
  'close() racing reads and writes: every write resolves or rejects ReadOnly, reads get exactly the resolved ones',
  async (t) => {
    // Dozens of waits on one endpoint are legitimate: no "possible EventTarget memory leak" warning
    // (the endpoint's and the queue handle's close signals carried one listener per wait).
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    t.teardown(() => {
      process.off('warning', onWarning);
    });
    for (let round = 0; round < 5; round++) {
      const [w, r] = mkchannel<number>({ shared: true, maxsize: 4 });
      const written: number[] = [];
      const writes = Array.from({ length: 40 }, (_, i) =>
        w.write(i).then(
          () => written.push(i),
          (e: { code?: string }) => {
            if (e.code !== 'SHMSYNC_QUEUE_CLOSED') throw e;
          },
        ),
      );
      const reads = Array.from({ length: 6 }, () => r.read(3));
      const more = Array.from({ length: 3 }, () => r.read(0));
      // Close after a round-dependent number of event-loop turns: the race lands everywhere.
      for (let k = 0; k < round * 2; k++) await new Promise((resolve) => setImmediate(resolve));
      w.close();
      await Promise.all(writes);
      const got = (await Promise.all([...reads, ...more])).flat();
      got.push(...(await r.read())); // the rest, then [] (closed)
      t.same(
        [...got].sort((a, b) => a - b),
        [...written].sort((a, b) => a - b),
        `round ${round}: ${written.length} writes resolved, exactly those were read`,
      );
      t.same(await r.read(5), [], 'closed and drained: []');
      r.close();
    }
    // Many reads waiting on one reader (beyond the 10 listeners Node warns at), then the close.
    const [w, r] = mkchannel<number>({ shared: true });
    const reads = Array.from({ length: 25 }, () => r.read(1));
    await w.writeMany(Array.from({ length: 25 }, (_, i) => i));
    t.same(
      (await Promise.all(reads)).flat().sort((a, b) => a - b),
      Array.from({ length: 25 }, (_, i) => i),
    );
    w.close();
    r.close();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    t.same(warnings, [], 'no MaxListenersExceededWarning');
  },
);

t.test(
  'a reader SIGKILLed mid-stream while the writer goes on: another reader gets the rest, in order, once',
  async (t) => {
    const total = 3000;
    const [w, r] = mkchannel<Item>({ shared: true, maxsize: 64 });
    t.teardown(() => {
      r.close();
      gcSegments(); // the killed reader's attachments: swept
    });
    const child = new Child('channel-reporting-reader.js');
    t.teardown(() => child.kill());
    await child.message('ready');
    const reported: number[] = [];
    child.proc.on('message', (m: { type: string; items?: Item[] }) => {
      if (m.type === 'batch') for (const [, seq] of m.items!) reported.push(seq);
    });
    child.send({ type: 'go', endpoint: encodeHandles(r), batch: 16, progressAfter: 200 });
    let writtenAll = false;
    const writing = (async () => {
      for (let seq = 0; seq < total; seq++) await w.write([0, seq]);
      writtenAll = true;
      w.close();
    })();
    await child.message('progress');
    child.kill(); // SIGKILL, in the middle of its read loop (and maybe of a read)
    await child.exited;
    const rest: number[] = [];
    for (;;) {
      const items = await r.read(100, { timeout: 5000 });
      if (items.length === 0) break;
      for (const [, seq] of items) rest.push(seq);
    }
    await within(writing, 5000, undefined);
    t.ok(writtenAll, 'the writer finished: the dead reader leaked at most a few credits of 64');
    const seen = [...reported, ...rest];
    t.equal(new Set(seen).size, seen.length, 'no item twice');
    t.ok(
      rest.every((s, i) => i === 0 || s === rest[i - 1] + 1),
      'the new reader: consecutive items',
    );
    t.same(
      reported,
      Array.from({ length: reported.length }, (_, i) => i),
      'the dead reader reported a prefix',
    );
    const lost = rest.length === 0 ? total - reported.length : rest[0] - reported.length;
    t.ok(lost >= 0 && lost <= 64, `${lost} items died with the reader (taken, never reported; at most the bound)`);
    t.equal(rest.length === 0 ? total : rest[rest.length - 1] + 1, total, 'the stream ran to its end');
  },
);

t.test(
  'many writers terminated at once (threads and processes): each one a prefix, then [] with writerDied',
  async (t) => {
    const [w, r] = mkchannel<Item>({ shared: true, maxsize: 256 });
    t.teardown(() => {
      r.close();
      gcSegments();
    });
    const parties: Party[] = [
      new ProcessParty(channelAgent),
      new ProcessParty(channelAgent),
      ...Array.from({ length: 4 }, () => new WorkerParty(channelAgent)),
    ];
    t.teardown(() => parties.forEach((p) => p.kill()));
    await Promise.all(parties.map((p) => p.message('ready')));
    parties.forEach((p, id) =>
      p.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id, count: 20, forever: true }),
    );
    (w as ChannelWriter<Item>).release();
    const got: number[][] = parties.map(() => []);
    const reader = r as ChannelReader<Item>;
    const take = (items: Item[]): void => {
      for (const [id, seq] of items) got[id].push(seq);
    };
    // Read while they write, until each has reported progress (registered, 20 writes done).
    const progress = Promise.all(parties.map((p) => p.message('progress')));
    let ready = false;
    void progress.then(() => (ready = true));
    while (!ready) take(await reader.read(64, { timeout: 50 }));
    parties.forEach((p) => p.kill()); // all at once: SIGKILL and worker.terminate()
    await Promise.all(parties.map((p) => p.ended()));
    const ended = within(
      (async () => {
        for (;;) {
          const items = await reader.read(500);
          if (items.length === 0) return 'ended';
          take(items);
        }
      })(),
      10_000,
      'hung',
    );
    t.equal(await ended, 'ended', 'the stream ended (never waits for the dead)');
    t.ok(reader.channel.writerDied);
    got.forEach((seqs, id) => {
      t.ok(seqs.length >= 20, `writer ${id}: ${seqs.length} items`);
      t.ok(
        seqs.every((s, i) => s === i),
        `writer ${id}: a prefix, in order, once`,
      );
    });
  },
);
