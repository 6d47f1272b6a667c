import t from 'tap';
import { mkchannel, Channel, SerialChannel, ShmQueue, ReadOnly, TimeoutError } from '../dist';

// writeMany/tryWriteMany (one ring write and one credit take per batch), the bounded
// SerialChannel (maxsize honoured: a write waits for room), and duck-typed shared queues whose
// tryPut/tryGet return Promises (as the Redis queue's do) or that have no size.

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

t.test('shared writeMany: order kept, bound exact (maxsize 100), a prefix on timeout', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true, maxsize: 100 });
  t.teardown(() => r.close());
  t.equal(w.tryWriteMany(range(150)), 100, 'tryWriteMany writes what the bound lets in');
  t.equal(w.size(), 100);
  t.equal(w.tryWriteMany([1]), 0, 'nothing more fits');
  const err = await w.writeMany(range(5, 1000), { timeout: 20 }).then(
    () => null,
    (e: unknown) => e as Error & { written?: number },
  );
  t.ok(err instanceof TimeoutError, 'full: TimeoutError');
  t.equal(err?.written, 0, 'written: none');
  t.same(await r.read(100), range(100));
  // A batch bigger than the bound goes in as the reader frees room, in order.
  const big = range(1000, 5000);
  const writing = w.writeMany(big);
  const got: number[] = [];
  while (got.length < big.length) got.push(...(await r.read(Math.min(64, big.length - got.length))));
  await writing;
  t.same(got, big, 'every item once, in order, through a bound of 100');
  t.ok(w.size() === 0);
  w.close();
  t.same(await r.read(), [], 'closed and drained');
  await t.rejects(w.writeMany([1]), { code: 'SHMSYNC_QUEUE_CLOSED' });
});

t.test('shared writeMany over an unbounded ShmQueue and in process; iterables; bad items', async (t) => {
  const q = new ShmQueue<number>(undefined, { codec: 'json' });
  t.teardown(() => q.close());
  const [w, r] = mkchannel<number>({ shared: q });
  await w.writeMany(new Set([1, 2, 3]));
  t.equal(w.tryWriteMany([4, 5]), 2);
  t.same(await r.read(5), [1, 2, 3, 4, 5]);
  await t.rejects(w.writeMany(5 as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => w.tryWriteMany('abc' as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  await t.rejects(w.writeMany([1], { timeout: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  w.release();
  r.close();

  const [lw, lr] = mkchannel<number>({ maxsize: 3 });
  t.equal(lw.tryWriteMany(range(5)), 3);
  const e = await lw.writeMany([7, 8], { block: false }).catch((x: unknown) => x as { written?: number });
  t.equal((e as { written?: number }).written, 0);
  const p = lw.writeMany([7, 8]);
  t.same(await lr.read(3), [0, 1, 2]);
  await p;
  t.same(await lr.read(2), [7, 8]);
});

t.test('SerialChannel maxsize: write waits for room (was refused), reads still never wait', async (t) => {
  const [w, r] = mkchannel<number>({ ctype: SerialChannel, maxsize: 2 });
  t.ok(w.channel instanceof SerialChannel);
  t.equal(w.tryWrite(1), true);
  await w.write(2);
  t.equal(w.tryWrite(3), false, 'full');
  let third = false;
  const p = w.write(3).then(() => {
    third = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(third, false, 'the third write waits');
  await t.rejects(w.write(9, { timeout: 0 }), TimeoutError);
  t.same(await r.read(1), [1]);
  await p;
  t.equal(third, true, 'a read made room');
  t.same(await r.read(5), [2, 3], 'reads take what is there');
  t.same(await r.read(5), [], 'empty: [] at once (no wait)');
  const pending = w
    .write(4)
    .then(() => w.write(5))
    .then(() => w.write(6));
  w.close();
  await t.rejects(pending, ReadOnly);
  t.throws(() => new SerialChannel({ maxsize: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

/** A queue with the ShmQueue API shape but asynchronous tryPut/tryGet and no size (like Redis). */
class FakeAsyncQueue<T> {
  items: T[] = [];
  waiters: Array<() => void> = [];
  ended = false;
  tryPuts = 0;
  readonly name = 'fake';
  async tryPut(v: T): Promise<boolean> {
    this.tryPuts++;
    await Promise.resolve();
    if (this.ended) throw Object.assign(new Error('ended'), { code: 'SHMSYNC_QUEUE_CLOSED' });
    this.items.push(v);
    this.waiters.splice(0).forEach((f) => f());
    return true;
  }
  async tryGet(): Promise<T | undefined> {
    return this.items.shift();
  }
  async put(v: T): Promise<void> {
    await this.tryPut(v);
  }
  async get(): Promise<T> {
    for (;;) {
      if (this.items.length > 0) return this.items.shift()!;
      if (this.ended) throw Object.assign(new Error('ended'), { code: 'SHMSYNC_QUEUE_CLOSED' });
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  end(): void {
    this.ended = true;
    this.waiters.splice(0).forEach((f) => f());
  }
}

t.test('a duck-typed queue with a Promise-returning tryPut: write awaits it, tryWrite refuses (coded)', async (t) => {
  const q = new FakeAsyncQueue<number>();
  const [w, r] = mkchannel<number>({ shared: q as never });
  await w.write(1);
  await w.write(2);
  t.same(q.items, [1, 2], 'both written exactly once (the async tryPut result was awaited, not taken as true)');
  t.throws(() => w.tryWrite(3), { code: 'SHMSYNC_INVALID_ARG_TYPE' }, 'tryWrite cannot report an async outcome');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(q.items, [1, 2, 3], 'the refused tryWrite still settled (no silent loss or double write)');
  await w.writeMany([4, 5]);
  t.same(await r.read(5), [1, 2, 3, 4, 5]);
  t.throws(() => w.size(), { code: 'SHMSYNC_INVALID_ARG_TYPE' }, 'no size: a coded error, not 0');
  w.close();
  t.same(await r.read(), []);
});

t.test('a tryPut returning neither boolean nor Promise is refused', async (t) => {
  const q = new FakeAsyncQueue<number>();
  (q as unknown as { tryPut: () => unknown }).tryPut = () => 'yes';
  const ch = new Channel<number>({ shared: q as never });
  t.throws(() => ch.tryPut(1), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
});

t.test('attack: close while writeMany waits (credits and ring), hostile options, frozen errors', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true, maxsize: 4 });
  t.teardown(() => r.close());
  const pending = w.writeMany(range(10)).catch((e: unknown) => e as Error & { written?: number });
  await new Promise((resolve) => setImmediate(resolve));
  const w2 = new (w.constructor as new (c: unknown) => typeof w)(w.channel);
  w2.close(); // another endpoint closes the channel while the batch waits for credits
  const e = await pending;
  t.ok(e instanceof ReadOnly, 'the waiting writeMany rejects with ReadOnly');
  t.equal((e as { written?: number }).written, 4, 'written: the prefix that went in');
  t.same(await r.read(), range(4), 'readers drain exactly that prefix');
  for (const bad of [{ timeout: NaN }, { timeout: -5 }, { block: 'no' }, { signal: {} }, { bogus: 1 }, 'x']) {
    const err = await w.writeMany([1], bad as never).then(
      () => null,
      (x: unknown) => x as { code?: string },
    );
    t.match(
      err?.code,
      /^SHMSYNC_(INVALID_ARG_TYPE|INVALID_ARG_VALUE|OUT_OF_RANGE)$/,
      `bad options ${String(JSON.stringify(bad))}`,
    );
  }
  await t.rejects(r.read(2 ** 31), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(r.read(-1), { code: 'SHMSYNC_OUT_OF_RANGE' });
  // A duck queue throwing a frozen error: the error comes through (no TypeError from `written`).
  const frozen = Object.freeze(Object.assign(new Error('frozen'), { code: 'E_FROZEN' }));
  const q = new FakeAsyncQueue<number>();
  q.put = async () => {
    throw frozen;
  };
  (q as unknown as { tryPut: unknown }).tryPut = undefined;
  const [fw] = mkchannel<number>({ shared: q as never });
  const got = await fw.writeMany([1, 2]).then(
    () => null,
    (x: unknown) => x,
  );
  t.equal(got, frozen, 'the frozen error itself');
});
