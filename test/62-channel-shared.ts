import t, { type Test } from 'tap';
import {
  mkchannel,
  ChannelReader,
  ChannelWriter,
  ShmQueue,
  encodeHandles,
  decodeHandles,
  handleReviver,
  isHandleRef,
  reviveHandle,
  gcSegments,
  ReadOnly,
  AbortError,
  type HandleRef,
} from '../dist';
import { channelAgent, exactlyOnce, type ReaderReport } from './helpers/channel';
import { ProcessParty, WorkerParty, outcome, type Party } from './helpers/party';
import { segmentExists, testName } from './helpers/shm';

// Shared channels: the same endpoints and read rules across worker threads and processes, the
// endpoints travelling by reference (encodeHandles / toJSON), an exactly-once oracle over
// [writerId, seq] items, and a writer SIGKILLed mid-stream.

const kItems = Number(process.env.SHMSYNC_CHANNEL_ITEMS ?? 4_000);

async function start(kind: 'process' | 'worker'): Promise<Party> {
  const p = kind === 'process' ? new ProcessParty(channelAgent) : new WorkerParty(channelAgent);
  await p.message('ready');
  return p;
}

t.test('toJSON: a reference naming the queue; handleReviver / decodeHandles revive endpoints', async (t) => {
  const [w, r] = mkchannel<string>({ shared: true });
  t.teardown(() => {
    w.close();
    r.close();
  });
  const ref = w.toJSON() as HandleRef;
  t.equal(ref.$shmsync, 'ChannelWriter');
  t.equal(ref.name, (w.channel.queue as ShmQueue).name);
  t.ok(isHandleRef(ref.queue), 'the queue travels as a nested reference');
  t.match(ref.writers, { $shmsync: 'RwLock', name: `${ref.name}.writers` }, 'the writer lock as a handle reference');
  const w3 = reviveHandle<ChannelWriter<string>>(ref); // opens what toJSON handed off
  t.ok(w3 instanceof ChannelWriter);
  w3.release();
  // JSON text round trip (nested handles revived bottom-up by handleReviver).
  const w2 = JSON.parse(JSON.stringify({ w }), handleReviver).w as ChannelWriter<string>;
  t.ok(w2 instanceof ChannelWriter && w2 !== w);
  const r2 = decodeHandles(encodeHandles(r)) as ChannelReader<string>;
  t.ok(r2 instanceof ChannelReader && r2 !== r);
  await w2.write('via revived writer');
  t.same(await r2.read(1), ['via revived writer']);
  t.same(r.readSync(0, { block: false }), [], 'readSync exists on shared channels');
  w2.release();
  r2.close();
  await w.write('still open after the revived writer was released');
  t.same(await r.read(1), ['still open after the revived writer was released']);
  // In-process channels do not travel.
  const [lw] = mkchannel();
  t.throws(() => lw.toJSON(), { name: 'TypeError', message: /in-process/ });
  t.notOk(isHandleRef(encodeHandles({ x: 1 }).value), 'plain data is not a handle');
});

t.test('shared channel in one thread: the read rules hold as in process', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true });
  t.teardown(() => r.close());
  await w.write(1);
  await w.write(2);
  t.same(await r.read(0, { timeout: 50 }), [1, 2], 'count 0 with a timeout: per-item wait, then what it got');
  t.same(await r.read(1, { timeout: 30 }), []);
  t.same(await r.read(1, { block: false }), []);
  const blocked = r.read(5);
  await w.write(3);
  w.close();
  t.same(await blocked, [3], 'close wakes a blocked read with what it had');
  t.ok(w.closed());
  await t.rejects(new ChannelWriter(r.channel).write(4), ReadOnly, 'writes after close: ReadOnly');
  t.same(await r.read(), []);
  t.same(r.readSync(1), [], 'a closed channel never blocks readSync either');
  // Abort a waiting shared read and a waiting shared write.
  const [w2, r2] = mkchannel<number>({ shared: true, maxsize: 1 });
  t.teardown(() => {
    w2.close();
    r2.close();
  });
  const ac = new AbortController();
  const pending = r2.read(1, { signal: ac.signal });
  ac.abort();
  await t.rejects(pending, AbortError);
  await w2.write(1);
  const ac2 = new AbortController();
  const full = w2.write(2, { signal: ac2.signal });
  ac2.abort();
  await t.rejects(full, AbortError);
  await t.rejects(w2.write(2, { timeout: 20 }), { code: 'SHMSYNC_TIMEOUT' });
  t.equal(w2.tryWrite(2), false);
  t.same(await r2.read(0, { block: false }), [1], 'aborted and timed-out writes wrote nothing');
  t.equal(w2.tryWrite(2), true, 'the credit came back with the read');
  // Reader close rejects its pending read with ClosedError.
  const dangling = r2.read(5, { timeout: 10_000 });
  r2.close();
  await t.rejects(dangling, { code: 'SHMSYNC_CLOSED' });
});

async function oracleRun(
  t: Test,
  kinds: { writers: ('process' | 'worker')[]; readers: ('process' | 'worker')[] },
  options: { maxsize?: number; sync?: boolean; batch?: number } = {},
): Promise<void> {
  const [w, r] = mkchannel<[number, number]>({ shared: true, maxsize: options.maxsize ?? 0 });
  const writers = await Promise.all(kinds.writers.map(start));
  const readers = await Promise.all(kinds.readers.map(start));
  const per = Math.floor(kItems / writers.length);
  const counts: Record<string, number> = {};
  readers.forEach((p) =>
    p.send({ type: 'go', role: 'reader', endpoint: encodeHandles(r), batch: options.batch ?? 256, sync: options.sync }),
  );
  writers.forEach((p, id) => {
    counts[id] = per;
    p.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id, count: per });
  });
  // Our own endpoints are no longer needed here: release the reader, keep the writer to close.
  r.close();
  await Promise.all(writers.map((p) => outcome(p)));
  w.close(); // every writer is done: end the stream; readers drain and see []
  const reports = await Promise.all(readers.map((p) => outcome<ReaderReport>(p)));
  t.same(exactlyOnce(reports, counts), [], `${kItems} items exactly once, FIFO per writer`);
  t.ok(
    reports.every((x) => x.writerDied === false),
    'no writer died',
  );
  await Promise.all([...writers, ...readers].map((p) => p.ended()));
}

t.test('2 processes: one writer process, one reader process, exactly once', (t) =>
  oracleRun(t, { writers: ['process'], readers: ['process'] }),
);

t.test('2 worker threads: one writer thread, one reader thread (readSync), exactly once', (t) =>
  oracleRun(t, { writers: ['worker'], readers: ['worker'] }, { sync: true }),
);

t.test('2 writers and 2 readers across processes and threads, bounded: exactly once', (t) =>
  oracleRun(t, { writers: ['process', 'worker'], readers: ['worker', 'process'] }, { maxsize: 64, batch: 7 }),
);

t.test('a writer process SIGKILLed mid-stream: the reader gets every item sent, then [] (never hangs)', async (t) => {
  const [w, r] = mkchannel<[number, number]>({ shared: true });
  t.teardown(() => {
    r.close();
    gcSegments(); // the killed child's attachments to the channel's segments: swept (all users dead)
  });
  const child = await start('process');
  child.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id: 0, count: 500, forever: true });
  // Only the child writes: release our writer without closing (the stream stays open).
  w.release();
  await child.message('progress'); // >= 500 writes done, and the child is still writing
  child.kill();
  await child.ended();
  const got: number[] = [];
  for (;;) {
    const items = await r.read(1000); // would wait for ever if nobody noticed the death
    if (items.length === 0) break;
    for (const [, seq] of items) got.push(seq);
  }
  t.ok(got.length >= 500, `${got.length} items arrived (>= 500 were written before the kill)`);
  t.ok(
    got.every((seq, i) => seq === i),
    'exactly the prefix 0..n-1 the writer completed, in order, no duplicate',
  );
  t.ok(r.channel.writerDied, 'the reader saw the writer die (channel.writerDied)');
  t.ok(r.channel.closed(), 'the stream ended');
});

t.test('a named shared channel is reachable by name; segments go away with the last handle', async (t) => {
  const name = testName('chan');
  const [w, r] = mkchannel<string>({ shared: { name, lifetime: 'attached' } });
  const [w2, r2] = mkchannel<string>({ shared: { name, create: 'open' } });
  await w2.write('by name');
  t.same(await r.read(1), ['by name']);
  t.ok(segmentExists(name));
  for (const e of [w, r, w2, r2]) {
    if (e instanceof ChannelWriter) e.release();
    else e.close();
  }
  t.notOk(segmentExists(name), 'the attached queue is gone with the last handle');
  t.notOk(segmentExists(`${name}.writers`), 'so is its writer lock');
});

t.test('shared: a ShmQueue (or any queue with its API) passed in; not closed by the channel', async (t) => {
  const q = new ShmQueue<number>(undefined, { capacity: 4096 });
  t.teardown(() => q.close());
  const [w, r] = mkchannel<number>({ shared: q });
  await w.write(5);
  t.same(await r.read(1), [5]);
  w.release();
  r.close();
  t.notOk(q.closed, "the caller's queue handle stays open");
  // Duck-typed queue: the same rules over put/get/getMany/end with the shmsync error codes.
  const items: number[] = [];
  let ended = false;
  const waiters: Array<() => void> = [];
  const wake = (): void => waiters.splice(0).forEach((f) => f());
  const codeError = (code: string): Error => Object.assign(new Error(code), { code });
  const duck = {
    async put(v: number): Promise<void> {
      if (ended) throw codeError('SHMSYNC_QUEUE_CLOSED');
      items.push(v);
      wake();
    },
    async get(o?: { timeout?: number }): Promise<number> {
      for (;;) {
        if (items.length > 0) return items.shift()!;
        if (ended) throw codeError('SHMSYNC_QUEUE_CLOSED');
        if (o?.timeout === 0) throw codeError('SHMSYNC_TIMEOUT');
        const timedOut = await new Promise<boolean>((resolve) => {
          waiters.push(() => resolve(false));
          if (o?.timeout !== undefined) setTimeout(() => resolve(true), o.timeout);
        });
        if (timedOut && items.length === 0) throw codeError('SHMSYNC_TIMEOUT');
      }
    },
    end(): void {
      ended = true;
      wake();
    },
    get ended(): boolean {
      return ended;
    },
  };
  const [dw, dr] = mkchannel<number>({ shared: duck });
  await dw.write(1);
  await dw.write(2);
  t.same(await dr.read(0, { timeout: 30 }), [1, 2]);
  const blocked = dr.read(3);
  await dw.write(3);
  dw.close();
  t.same(await blocked, [3]);
  t.same(await dr.read(), []);
  await t.rejects(dw.write(4), ReadOnly);
  t.throws(() => mkchannel({ shared: duck, maxsize: 3 }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => mkchannel({ shared: 42 as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
});
