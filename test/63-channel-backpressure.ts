import t from 'tap';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ReadableStream } from 'node:stream/web';
import { mkchannel, encodeHandles, IteratorReader, SerialChannel, type ChannelWriter } from '../dist';
import { channelAgent } from './helpers/channel';
import { ProcessParty, outcome } from './helpers/party';

// Backpressure: a bounded channel paces its writer to its reader (in process, and across
// processes in items and in bytes), and the stream adapters keep it (they pull only what the
// consumer wants). No sleeps: a "slow reader" yields to the event loop between reads.

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('in process: maxsize 8, slow reader - the writer is paced, never more than 8 inside', async (t) => {
  const [w, r] = mkchannel<number>({ maxsize: 8 });
  const total = 300;
  let maxSeen = 0;
  let readAtWriterDone = -1;
  let read = 0;
  const writer = (async () => {
    for (let i = 0; i < total; i++) {
      await w.write(i);
      maxSeen = Math.max(maxSeen, w.size());
    }
    readAtWriterDone = read;
    w.close();
  })();
  const got: number[] = [];
  for (;;) {
    const items = await r.read(1);
    if (items.length === 0) break;
    got.push(items[0]);
    read++;
    await tick(); // slow reader
  }
  await writer;
  t.same(
    got,
    Array.from({ length: total }, (_, i) => i),
  );
  t.ok(maxSeen <= 8, `at most maxsize items inside (saw ${maxSeen})`);
  // The last write completes when the read taking item total-9 admits it, before that reader's
  // continuation counts the item: hence the - 1.
  t.ok(readAtWriterDone >= total - 8 - 1, `the writer finished only after the reader read ${readAtWriterDone}`);
});

t.test('across processes: maxsize 16 items - a writer process is paced by a slow reader', async (t) => {
  const [w, r] = mkchannel<[number, number]>({ shared: true, maxsize: 16 });
  t.teardown(() => r.close());
  const child = new ProcessParty(channelAgent);
  await child.message('ready');
  const total = 300;
  let done = false;
  let readAtDone = -1;
  let read = 0;
  let maxSeen = 0;
  const finished = outcome(child).then(() => {
    done = true;
    readAtDone = read;
  });
  child.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id: 0, count: total, close: true });
  w.release();
  for (;;) {
    const items = await r.read(1);
    if (items.length === 0) break;
    if (items[0][1] !== read) t.fail(`item ${items[0][1]} at position ${read}`);
    read++;
    maxSeen = Math.max(maxSeen, r.channel.size());
    await tick();
  }
  await finished;
  await child.ended();
  t.equal(read, total, 'every item, in order');
  t.ok(done);
  t.ok(maxSeen <= 16, `never more than 16 items in the ring (saw ${maxSeen})`);
  t.ok(readAtDone >= total - 16, `the writer finished after the reader had read ${readAtDone} of ${total}`);
});

t.test('shared, maxsize { bytes }: the ring capacity bounds what is in flight', async (t) => {
  const [w, r] = mkchannel<string>({ shared: true, maxsize: { bytes: 4096 } });
  t.teardown(() => r.close());
  const big = 'x'.repeat(1000);
  let maxSeen = 0;
  let wrote = 0;
  const writer = (async () => {
    for (let i = 0; i < 40; i++) {
      await w.write(big + i);
      wrote++;
      maxSeen = Math.max(maxSeen, w.size());
    }
    w.close();
  })();
  let read = 0;
  let maxAhead = 0;
  for (;;) {
    const items = await r.read(1);
    if (items.length === 0) break;
    read++;
    maxAhead = Math.max(maxAhead, wrote - read);
    await tick();
  }
  await writer;
  t.equal(read, 40);
  t.ok(maxSeen <= 4, `a 4 KiB ring holds at most 4 records of ~1 KiB (saw ${maxSeen})`);
  t.ok(maxAhead <= 5, `the writer stayed within a few items of the reader (${maxAhead})`);
  t.throws(() => mkchannel({ maxsize: { bytes: 4096 } }), { code: 'SHMSYNC_INVALID_ARG_VALUE' }, 'bytes need shared');
  t.throws(() => mkchannel({ shared: true, maxsize: { bytes: 10 } }), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

t.test('toReadable: object-mode Readable, pulls only what the consumer wants', async (t) => {
  const [w, r] = mkchannel<number>();
  for (let i = 0; i < 100; i++) await w.write(i);
  const readable = r.toReadable({ highWaterMark: 4 });
  const first: number[] = [];
  for await (const v of readable) {
    first.push(v as number);
    if (first.length === 3) break; // the iterator destroys the stream
  }
  t.same(first, [0, 1, 2]);
  t.ok(w.size() >= 100 - 3 - 8, `the stream took only what it was asked for (${100 - w.size()} of 100 items)`);
  // A full pipeline: to the end of the channel.
  const [w2, r2] = mkchannel<number>({ maxsize: 4 });
  const sink: number[] = [];
  const consume = pipeline(
    r2.toReadable(),
    new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(chunk: number, _e, cb): void {
        sink.push(chunk);
        setImmediate(cb); // slow consumer
      },
    }),
  );
  for (let i = 0; i < 50; i++) await w2.write(i);
  w2.close();
  await consume;
  t.same(
    sink,
    Array.from({ length: 50 }, (_, i) => i),
    'the stream ends when the channel is closed and drained',
  );
  // null cannot travel in a Node object-mode stream: a coded error instead of a silent end.
  const [w3, r3] = mkchannel<number | null>();
  await w3.write(null);
  const broken = r3.toReadable();
  await t.rejects(
    (async () => {
      for await (const v of broken) void v;
    })(),
    { code: 'SHMSYNC_INVALID_ARG_VALUE' },
  );
  // Destroying the stream withdraws its pending wait; the reader stays usable.
  const [w4, r4] = mkchannel<number>();
  const idle = r4.toReadable();
  idle.resume();
  await tick();
  idle.destroy();
  await tick();
  await w4.write(7);
  t.same(await r4.read(1, { block: false }), [7], 'the destroyed stream did not take the item');
  t.throws(() => r4.toReadable({ highWaterMark: 0 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

t.test('toReadableStream: web stream, for await, cancel withdraws the wait', async (t) => {
  const [w, r] = mkchannel<string>();
  const stream = r.toReadableStream({ highWaterMark: 2 });
  const out: string[] = [];
  const consume = (async () => {
    for await (const v of stream as unknown as AsyncIterable<string>) out.push(v);
  })();
  for (const s of ['a', 'b', 'c']) await w.write(s);
  w.close();
  await consume;
  t.same(out, ['a', 'b', 'c']);
  const [w2, r2] = mkchannel<string>();
  const s2 = r2.toReadableStream();
  const reader = s2.getReader();
  const pending = reader.read();
  await reader.cancel();
  t.same(await pending, { done: true, value: undefined });
  await w2.write('kept');
  t.same(await r2.read(1, { block: false }), ['kept']);
  // An IteratorReader as a stream source.
  const chunks: number[] = [];
  for await (const v of new IteratorReader([1, 2, 3].values()).toReadableStream() as unknown as AsyncIterable<number>) {
    chunks.push(v);
  }
  t.same(chunks, [1, 2, 3]);
});

t.test('writer.toWritable / toWritableStream: pipe into a channel; finishing closes it', async (t) => {
  const [w, r] = mkchannel<number>({ maxsize: 4 });
  const items = Array.from({ length: 60 }, (_, i) => i);
  let maxSeen = 0;
  const feeding = pipeline(Readable.from(items), w.toWritable({ highWaterMark: 2 }));
  const got: number[] = [];
  for (;;) {
    const batch = await r.read(1);
    if (batch.length === 0) break;
    got.push(batch[0]);
    maxSeen = Math.max(maxSeen, w.size());
    await tick();
  }
  await feeding;
  t.same(got, items, 'every chunk, in order; the channel closed when the pipeline finished');
  t.ok(w.closed());
  t.ok(maxSeen <= 4, 'the bounded channel paced the pipeline');
  // { end: false } keeps the channel open.
  const [w2, r2] = mkchannel<string>();
  await pipeline(Readable.from(['x', 'y']), w2.toWritable({ end: false }));
  t.notOk(w2.closed());
  t.same(await r2.read(2), ['x', 'y']);
  // Writing into a closed channel fails the pipeline with ReadOnly.
  w2.close();
  await t.rejects(pipeline(Readable.from(['z']), w2.toWritable()), { code: 'SHMSYNC_QUEUE_CLOSED' });
  // Web streams.
  const [w3, r3] = mkchannel<number, ChannelWriter<number>>({ ctype: SerialChannel });
  await ReadableStream.from([1, 2, 3]).pipeTo(w3.toWritableStream());
  t.ok(w3.closed());
  t.same(await r3.read(), [1, 2, 3]);
});
