import t from 'tap';
import {
  mkchannel,
  encodeHandles,
  AsyncQueue,
  HSCondition,
  AbortError,
  TimeoutError,
  SerialChannel,
  reviveHandle,
  type ChannelReader,
  type ChannelWriter,
  type RwLock,
} from '../dist';
import { channelAgent } from './helpers/channel';
import { WorkerParty } from './helpers/party';

// Every wait of the channel layer honours a timeout (lower bound only) and an AbortSignal (at
// once, and already aborted), and neither loses an item; a writer thread terminated mid-stream
// ends the stream for its reader.

interface WaitCase {
  name: string;
  /** Starts the wait with the given options; resolves to what it returns (for timeouts). */
  start(opts: { timeout?: number; signal?: AbortSignal }): Promise<unknown>;
  /** What a timed-out wait gives: 'resolves' with this value, or rejects with TimeoutError. */
  onTimeout: { resolves: unknown } | 'rejects';
  cleanup?(): void;
}

function cases(): WaitCase[] {
  const list: WaitCase[] = [];
  for (const shared of [false, true]) {
    const tag = shared ? 'shared' : 'local';
    {
      const [w, r] = mkchannel<number>(shared ? { shared: true } : {});
      list.push({
        name: `${tag} read(1) on an empty channel`,
        start: (o) => r.read(1, o),
        onTimeout: { resolves: [] },
        cleanup: () => {
          w.close();
          r.close();
        },
      });
    }
    {
      const [w, r] = mkchannel<number>(shared ? { shared: true } : {});
      void w.write(1);
      list.push({
        name: `${tag} read(0) with one item (count 0 waits for more)`,
        start: async (o) => {
          const got = await r.read(0, o);
          if (got.length === 1) await w.write(1); // put it back for the next round
          return got.length;
        },
        onTimeout: { resolves: 1 },
        cleanup: () => {
          w.close();
          r.close();
        },
      });
    }
    {
      const [w, r] = mkchannel<number>(shared ? { shared: true, maxsize: 1 } : { maxsize: 1 });
      void w.write(0);
      list.push({
        name: `${tag} write on a full bounded channel`,
        start: (o) => w.write(1, o),
        onTimeout: 'rejects',
        cleanup: () => {
          w.close();
          r.close();
        },
      });
    }
  }
  {
    const q = new AsyncQueue<number>();
    list.push({ name: 'AsyncQueue.get on an empty queue', start: (o) => q.get(o), onTimeout: 'rejects' });
  }
  {
    const q = new AsyncQueue<number>(1);
    void q.put(0);
    list.push({ name: 'AsyncQueue.put on a full queue', start: (o) => q.put(1, o), onTimeout: 'rejects' });
  }
  {
    const c = new HSCondition();
    list.push({
      name: 'HSCondition.wait',
      start: (o) => c.wait(o.timeout, { signal: o.signal }),
      onTimeout: { resolves: false },
    });
  }
  return list;
}

t.test('every wait: timeout (lower bound), abort while waiting, already aborted', async (t) => {
  for (const c of cases()) {
    // Timeout.
    const start = Date.now();
    const outcome = await c.start({ timeout: 40 }).then(
      (v) => ({ v }),
      (e: unknown) => ({ e }),
    );
    const took = Date.now() - start;
    if (c.onTimeout === 'rejects') t.ok('e' in outcome && outcome.e instanceof TimeoutError, `${c.name}: TimeoutError`);
    else t.same('v' in outcome ? outcome.v : outcome, c.onTimeout.resolves, `${c.name}: timed out with its value`);
    t.ok(took >= 39, `${c.name}: waited >= 40 ms (${took})`);
    // Abort while waiting.
    const ac = new AbortController();
    const p = c.start({ signal: ac.signal });
    await new Promise((resolve) => setImmediate(resolve));
    ac.abort(new Error('why'));
    const err = await p.catch((e: unknown) => e);
    t.ok(err instanceof AbortError, `${c.name}: AbortError`);
    t.equal((err as { code?: string }).code, 'ABORT_ERR');
    t.match((err as Error).cause, { message: 'why' }, `${c.name}: the abort reason is the cause`);
    // Already aborted: rejects at once, without waiting.
    const pre = new AbortController();
    pre.abort();
    await t.rejects(c.start({ signal: pre.signal, timeout: 60_000 }), AbortError, `${c.name}: already aborted`);
    c.cleanup?.();
  }
});

t.test('aborted and timed-out waits lose nothing: the next read gets every item', async (t) => {
  for (const shared of [false, true]) {
    const [w, r] = mkchannel<number>(shared ? { shared: true } : {});
    const ac = new AbortController();
    const pending = r.read(3, { signal: ac.signal });
    await w.write(1);
    await new Promise((resolve) => setImmediate(resolve));
    ac.abort();
    const err = (await pending.catch((e: unknown) => e)) as { items?: number[] };
    const taken = err.items ?? [];
    await w.write(2);
    w.close();
    t.same([...taken, ...(await r.read())], [1, 2], `${shared ? 'shared' : 'local'}: abort's items + the rest`);
    r.close();
  }
});

t.test('readSync (shared): timeout per item, block: false, closed channel never blocks', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true });
  let start = Date.now();
  t.same(r.readSync(1, { timeout: 40 }), []);
  t.ok(Date.now() - start >= 39);
  await w.write(1);
  start = Date.now();
  t.same(r.readSync(0, { timeout: 40 }), [1], 'count 0: items until a per-item wait times out');
  t.ok(Date.now() - start >= 39);
  t.same(r.readSync(5, { block: false }), []);
  await w.write(2);
  await w.write(3);
  w.close();
  t.same(r.readSync(5), [2, 3], 'closed: what is left, at once');
  t.same(r.readSync(), []);
  t.throws(() => r.readSync(1, { timeout: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  r.close();
  t.throws(() => r.readSync(1), { code: 'SHMSYNC_CLOSED' });
  const [, sr] = mkchannel({ ctype: SerialChannel });
  t.throws(() => sr.readSync(1), TypeError, 'not on in-process channels (Decision 14)');
});

t.test('a writer worker thread terminated mid-stream: the reader gets the prefix, then []', async (t) => {
  const [w, r] = mkchannel<[number, number]>({ shared: true });
  t.teardown(() => r.close());
  const worker = new WorkerParty(channelAgent);
  await worker.message('ready');
  worker.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id: 0, count: 200, forever: true });
  (w as ChannelWriter<[number, number]>).release();
  await worker.message('progress');
  worker.kill(); // worker.terminate(): the thread's holds die with it
  await worker.ended();
  const got: number[] = [];
  const reader = r as ChannelReader<[number, number]>;
  for (;;) {
    const items = await reader.read(500);
    if (items.length === 0) break;
    for (const [, seq] of items) got.push(seq);
  }
  t.ok(got.length >= 200, `${got.length} items`);
  t.ok(
    got.every((s, i) => s === i),
    'the prefix, in order, exactly once',
  );
  t.ok(reader.channel.writerDied);
});

t.test('a writer registers while a reader waits and another writer lives (the watch does not starve it)', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true });
  t.teardown(() => {
    w.close();
    r.close();
  });
  const pending = r.read(1); // waits; its writer watch queues an exclusive request behind w's share
  const lock = (r.channel as unknown as { _shared: { watch: { lock: RwLock } } })._shared.watch.lock;
  while (lock.info().waiting.length === 0) await new Promise((resolve) => setImmediate(resolve));
  const late = reviveHandle<ChannelWriter<number>>(w.toJSON() as never);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    late.registered.then(() => 'registered'),
    new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting after 5 s'), 5000))),
  ]);
  clearTimeout(timer);
  t.equal(outcome, 'registered', 'the late writer got its share while the read still waits');
  await late.write(1);
  t.same(await pending, [1]);
  late.release();
});
