import t from 'tap';
import {
  mkchannel,
  Channel,
  SerialChannel,
  ChannelWriter,
  ChannelReader,
  CallbackChannelWriter,
  CallbackChannelReader,
  IteratorReader,
  ReadOnly,
  ReadOnlyError,
  ClosedError,
  AbortError,
} from '../dist';

// The upstream channel tests (async/test/test_channel.py) and the read rules of SEMANTICS §2.3,
// in process. Timings are asserted loosely: lower bounds only (timers never fire early), never
// tight upper bounds. Items arriving "every 150 ms" are paced by the test's own timers.

const elapsed = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const now = (): bigint => process.hrtime.bigint();
/** Timers may fire up to ~1 ms early relative to hrtime on some kernels. */
const slack = 2;

t.test('mkchannel returns [writer, reader] of the requested types (Decision 11)', async (t) => {
  const [w, r] = mkchannel();
  t.ok(w instanceof ChannelWriter && r instanceof ChannelReader);
  t.ok(w.channel instanceof Channel && w.channel === r.channel);
  const [cw, cr] = mkchannel({ ctype: SerialChannel, wtype: CallbackChannelWriter, rtype: CallbackChannelReader });
  t.ok(cw instanceof CallbackChannelWriter && cr instanceof CallbackChannelReader);
  t.ok(cw.channel instanceof SerialChannel);
  t.throws(() => mkchannel({ ctype: Object as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => mkchannel({ wtype: ChannelReader as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => mkchannel({ maxsize: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => mkchannel({ bogus: 1 } as never), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => mkchannel({ ctype: SerialChannel, maxsize: { bytes: 4096 } }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
});

t.test('upstream test_base: sizes, reads, timeouts per item, close wakes a blocked reader', async (t) => {
  const [w, r] = mkchannel<number | string>();
  t.equal(w.size(), 0);
  await w.write(1);
  await w.write(2);
  t.equal(w.size(), 2);
  // Two items and an open channel: read() waits for a third per item, times out, returns both.
  let start = now();
  t.same(await r.read(0, { timeout: 200 }), [1, 2]);
  t.ok(elapsed(start) >= 200 - slack, `read() with 2 items waited for the per-item timeout (${elapsed(start)} ms)`);
  t.equal(w.size(), 0);
  // Empty open channel, read(1, timeout 200) -> [] after >= 200 ms.
  start = now();
  t.same(await r.read(1, { block: true, timeout: 200 }), []);
  t.ok(elapsed(start) >= 200 - slack);
  // Non-blocking read of an empty channel returns at once.
  t.same(await r.read(1, { block: false }), []);
  // Items arriving every 150 ms: read(3, timeout 200) gets all three (per item, not total).
  let i = 0;
  const pace = setInterval(() => void w.write(i++), 150);
  start = now();
  t.same(await r.read(3, { timeout: 200 }), [0, 1, 2]);
  clearInterval(pace);
  t.ok(elapsed(start) >= 3 * 150 - slack, `three paced items took >= 450 ms (${elapsed(start)})`);
  // A reader blocked in read(5) with 2 items present is woken by close() and returns them.
  await w.write('a');
  await w.write('b');
  const blocked = r.read(5);
  let settled = false;
  void blocked.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(settled, 'read(5) waits while the channel is open');
  t.notOk(w.closed());
  w.close();
  w.close(); // idempotent
  t.ok(w.closed());
  t.same(await blocked, ['a', 'b']);
  // Writes to a closed channel: ReadOnly (also exported as ReadOnlyError).
  await t.rejects(w.write(3), ReadOnly);
  await t.rejects(w.write(3), ReadOnlyError);
  t.throws(() => w.tryWrite(3), { code: 'SHMSYNC_QUEUE_CLOSED', name: 'ReadOnly' });
  // Closed and drained: reads never block and never throw.
  t.same(await r.read(), []);
  t.same(await r.read(1), []);
  t.same(await r.read(1, { timeout: 10_000 }), [], 'a closed channel never waits');
});

t.test('closed channel with 5 items: read(2) -> [0,1], read() -> [2,3,4], read(1) -> []', async (t) => {
  for (const ctype of [Channel, SerialChannel]) {
    const [w, r] = mkchannel<number>({ ctype });
    for (let i = 0; i < 5; i++) await w.write(i);
    w.close();
    t.same(await r.read(2), [0, 1], ctype.name);
    t.same(await r.read(), [2, 3, 4], ctype.name);
    t.same(await r.read(1), [], ctype.name);
    t.same(await r.read(0, { block: false }), [], ctype.name);
  }
});

t.test('count 0 without timeout on an open channel waits until it is closed', async (t) => {
  const [w, r] = mkchannel<number>();
  const all = r.read();
  for (let i = 0; i < 100; i++) await w.write(i);
  let settled = false;
  void all.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(settled, 'still reading: the channel is open');
  w.close();
  t.same(
    await all,
    Array.from({ length: 100 }, (_, i) => i),
  );
});

t.test('block: false takes what is there (count < 1: all) without waiting', async (t) => {
  const [w, r] = mkchannel<number>();
  for (let i = 0; i < 10; i++) await w.write(i);
  t.same(await r.read(3, { block: false }), [0, 1, 2]);
  t.same(await r.read(0, { block: false }), [3, 4, 5, 6, 7, 8, 9]);
  t.same(await r.read(0, { block: false }), []);
});

t.test('SerialChannel: reads never wait, and close() works (Decision 12)', async (t) => {
  const [w, r] = mkchannel<number>({ ctype: SerialChannel });
  t.same(await r.read(1), [], 'an empty open SerialChannel returns at once');
  t.same(await r.read(), []);
  await w.write(1);
  await w.write(2);
  t.same(await r.read(5), [1, 2]);
  t.notOk(w.closed());
  w.close();
  t.ok(w.closed(), 'closed() turns true (upstream: stayed false)');
  await t.rejects(w.write(3), ReadOnly, 'writes after close fail (upstream: succeeded)');
  t.same(await r.read(), []);
});

t.test('iteration: each step read(1), stops on [] (closed and drained)', async (t) => {
  const [w, r] = mkchannel<number>();
  const got: number[] = [];
  const loop = (async () => {
    for await (const v of r) got.push(v);
  })();
  for (let i = 0; i < 50; i++) await w.write(i);
  w.close();
  await loop;
  t.same(
    got,
    Array.from({ length: 50 }, (_, i) => i),
  );
  // SerialChannel: iteration stops when empty (a non-waiting source).
  const [sw, sr] = mkchannel<number>({ ctype: SerialChannel });
  await sw.write(7);
  const seen: number[] = [];
  for await (const v of sr) seen.push(v);
  t.same(seen, [7]);
});

t.test('callbacks: order, values, previous callback returned, no argument installs a no-op', async (t) => {
  const [w, r] = mkchannel<number, CallbackChannelWriter<number>, CallbackChannelReader<number>>({
    wtype: CallbackChannelWriter,
    rtype: CallbackChannelReader,
  });
  const log: string[] = [];
  const pre = (item: number): number => {
    log.push(`wpre ${item}`);
    return item * 10;
  };
  t.equal(w.setPreCb(pre), undefined, 'first install returns undefined');
  await w.write(1);
  await w.write(2);
  t.equal(w.setPreCb(), pre, 'returns the previous callback');
  await w.write(3); // the no-op default writes the item as is
  const rpre = (count: number): void => {
    log.push(`rpre ${count}`);
  };
  const post = (items: number[]): number[] => {
    log.push(`post ${items.join(',')}`);
    return items.map((x) => x + 1);
  };
  t.equal(r.setPreCb(rpre), undefined);
  t.equal(r.setPostCb(post), undefined);
  t.same(await r.read(2), [11, 21]);
  t.same(log, ['wpre 1', 'wpre 2', 'rpre 2', 'post 10,20']);
  t.equal(r.setPreCb(), rpre);
  t.equal(r.setPostCb(), post);
  t.same(await r.read(1), [3], 'no-op callbacks hand the items back unchanged');
  t.equal(log.length, 4, 'the no-op callbacks logged nothing');
  // A throwing pre-read callback rejects the read before anything is taken.
  await w.write(4);
  r.setPreCb(() => {
    throw new Error('pre failed');
  });
  await t.rejects(r.read(1), { message: 'pre failed' });
  r.setPreCb();
  t.same(await r.read(1), [4], 'the item is still there');
  // An async pre-read callback is awaited before reading (a producer may fill the channel).
  r.setPreCb(async (count) => {
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < count; i++) await w.write(100 + i);
  });
  t.same(await r.read(2), [100, 101], 'items the async pre-read callback wrote are read');
  t.throws(() => w.setPreCb(42 as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => r.setPostCb('x' as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
});

t.test('IteratorReader: rejects a non-iterator, reads in chunks, then [] for ever', async (t) => {
  t.throws(() => new IteratorReader([1, 2, 3] as never), {
    code: 'SHMSYNC_INVALID_ARG_TYPE',
    message: /Symbol.iterator/,
  });
  t.throws(() => new IteratorReader(42 as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  const list = Array.from({ length: 10 }, (_, i) => i);
  const r = new IteratorReader(list[Symbol.iterator]());
  t.same(await r.read(3), [0, 1, 2]);
  t.same(await r.read(3, { block: true, timeout: 5 }), [3, 4, 5], 'block and timeout are ignored');
  t.same(await r.read(0), [6, 7, 8, 9]);
  t.ok(r.empty);
  t.same(await r.read(0), []);
  t.same(await r.read(1), []);
  const r2 = new IteratorReader(list.values());
  t.same(await r2.read(20), list, 'count > remaining marks it empty');
  t.same(await r2.read(1), []);
  // Iteration over an IteratorReader.
  const seen: number[] = [];
  for await (const v of new IteratorReader([5, 6].values())) seen.push(v);
  t.same(seen, [5, 6]);
  // Async iterators are accepted; concurrent reads do not interleave.
  async function* gen(): AsyncGenerator<number> {
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      yield i;
    }
  }
  const ar = new IteratorReader(gen());
  const [a, b] = await Promise.all([ar.read(3), ar.read(3)]);
  t.same(
    [a, b],
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
  );
  t.same(await ar.read(), []);
  // A throwing iterator: the error reaches the reader.
  const bad = new IteratorReader({
    next(): IteratorResult<number> {
      throw new Error('source broke');
    },
  });
  await t.rejects(bad.read(1), { message: 'source broke' });
});

t.test('validation: bad count, timeout, signal and options are coded errors', async (t) => {
  const [w, r] = mkchannel();
  await t.rejects(r.read(-1), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(r.read(1.5), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(r.read('3' as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  await t.rejects(r.read(1, { timeout: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(r.read(1, { timeout: NaN }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(r.read(1, { timeout: '5' as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  await t.rejects(r.read(1, { block: 1 as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  await t.rejects(r.read(1, { signal: {} as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  await t.rejects(r.read(1, { blocking: true } as never), { code: 'SHMSYNC_INVALID_ARG_VALUE', message: /block/ });
  await t.rejects(w.write(1, { timeout: -5 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(w.write(1, 'x' as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => r.readSync(1), { name: 'TypeError', message: /shared/ }, 'readSync exists only on shared channels');
  // A huge timeout is honoured (not clamped to 1 ms by setTimeout).
  const ac = new AbortController();
  const long = r.read(1, { timeout: 2 ** 40, signal: ac.signal });
  let settled = false;
  void long.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.notOk(settled, 'a 2^40 ms timeout did not fire at once');
  ac.abort();
  await t.rejects(long, AbortError);
  t.throws(() => new ChannelWriter({} as never), TypeError);
});

t.test('abort: every wait rejects with a coded AbortError; items taken come back on it', async (t) => {
  const [w, r] = mkchannel<number>({ maxsize: 1 });
  const ac = new AbortController();
  ac.abort('early');
  await t.rejects(r.read(1, { signal: ac.signal }), { code: 'ABORT_ERR', name: 'AbortError' });
  const ac2 = new AbortController();
  await w.write(1);
  const partial = r.read(3, { signal: ac2.signal });
  await new Promise((resolve) => setImmediate(resolve));
  ac2.abort();
  const err = await partial.catch((e: unknown) => e);
  t.ok(err instanceof AbortError);
  t.same((err as { items: number[] }).items, [1], 'the item already taken is on the error');
  // A write waiting for space aborts too (bounded channel full).
  await w.write(2);
  const ac3 = new AbortController();
  const blocked = w.write(3, { signal: ac3.signal });
  ac3.abort();
  await t.rejects(blocked, AbortError);
  await t.rejects(w.write(3, { timeout: 30 }), { code: 'SHMSYNC_TIMEOUT' });
  await t.rejects(w.write(3, { block: false }), { code: 'SHMSYNC_TIMEOUT' });
  t.equal(w.tryWrite(3), false);
  t.same(await r.read(0, { block: false }), [2], 'aborted and timed-out writes wrote nothing');
});

t.test('bounded maxsize: write waits while full, FIFO; close wakes waiting writers with ReadOnly', async (t) => {
  const [w, r] = mkchannel<number>({ maxsize: 2 });
  await w.write(0);
  await w.write(1);
  const order: number[] = [];
  const waiting = [2, 3, 4].map((i) => w.write(i).then(() => order.push(i)));
  t.equal(w.size(), 2, 'never more than maxsize inside');
  t.same(await r.read(1), [0]);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(order, [2], 'one slot freed, the oldest writer got it');
  // Each taken item admits the next waiting writer: a non-waiting read sees 1, 2 (the slot freed
  // by 1 admitted 3 only after the take; the read took what was there).
  t.same(await r.read(0, { block: false }), [1, 2]);
  t.same(await r.read(0, { block: false }), [3, 4]);
  t.same(order, [2, 3, 4]);
  await Promise.all(waiting);
  await w.write(4);
  const last = w.write(9);
  const more = w.write(10);
  const third = w.write(11);
  t.equal(w.size(), 2);
  w.close();
  await last;
  await t.rejects(more, ReadOnly, 'writers still waiting when the channel closes get ReadOnly');
  await t.rejects(third, ReadOnly);
  t.same(await r.read(), [4, 9], 'what was in stays readable');
});

t.test('reader close (Decision 13): pending reads reject with ClosedError, later reads too', async (t) => {
  const [w, r] = mkchannel<number>();
  const pending = r.read(1);
  r.close();
  r.close();
  await t.rejects(pending, ClosedError);
  await t.rejects(r.read(1), ClosedError);
  await w.write(1);
  const r2 = new ChannelReader(w.channel);
  t.same(await r2.read(1), [1], 'the channel is still open for its other readers');
  {
    using r3 = new ChannelReader(w.channel);
    void r3;
  }
  t.pass('Symbol.dispose releases a reader');
  // A released writer cannot write (ClosedError) but the channel stays open for other writers.
  const w2 = new ChannelWriter(w.channel);
  w2.release();
  await t.rejects(w2.write(1), ClosedError);
  t.throws(() => w2.tryWrite(1), ClosedError);
  t.notOk(w.channel.closed(), 'release() does not close the channel');
  await w.write(2);
  t.same(await r2.read(1), [2]);
});
