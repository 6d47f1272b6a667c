// Shared channel endpoints after they travelled, and items "transferred away": sending an
// endpoint (encodeHandles to a worker, a pcall argument) copies a reference - the sender's
// endpoint keeps working and stays the sender's to close; a closed or released endpoint refuses
// to travel (it came back to life elsewhere before: a revived copy of a released writer wrote);
// postMessage of an endpoint object itself fails (DataCloneError) and leaves it working; an
// ArrayBuffer detached (transferred) before its write went in fails that write with
// SHMSYNC_CODEC, gives its credit back and corrupts nothing.
import t from 'tap';
import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { mkchannel, encodeHandles, decodeHandles, pcall, type ChannelReader, type ChannelWriter } from '../dist';
import { channelAgent } from './helpers/channel';
import { WorkerParty, outcome } from './helpers/party';

const targets = path.join(__dirname, 'fixtures', 'channel-pcall-targets.js');

t.test('an endpoint sent to a worker thread: the original keeps working, each is closed by its holder', async (t) => {
  const [w, r] = mkchannel<[number, number]>({ shared: true, maxsize: 32 });
  t.teardown(() => r.close());
  const worker = new WorkerParty(channelAgent);
  t.teardown(() => worker.kill());
  await worker.message('ready');
  worker.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id: 1, count: 300 });
  const mine = (async () => {
    for (let i = 0; i < 300; i++) await w.write([0, i]); // the sender's writer, after sending it
  })();
  const seqs: Record<number, number[]> = { 0: [], 1: [] };
  while (seqs[0].length + seqs[1].length < 600) {
    for (const [id, seq] of await r.read(64, { timeout: 5000 })) seqs[id].push(seq);
  }
  await mine;
  const done = await outcome<{ type: string; written: number }>(worker);
  t.equal(done.written, 300);
  const range = Array.from({ length: 300 }, (_, i) => i);
  t.same(seqs, { 0: range, 1: range }, 'both writers: every item once, in order');
  t.equal(w.closed(), false, "the worker released its copy; the sender's writer is still open");
  await w.write([0, 300]);
  t.same(await r.read(1), [[0, 300]]);
  w.close();
  t.same(await r.read(), [], 'the sender closed the channel: drained, then []');
});

t.test('a closed or released endpoint refuses to travel; postMessage of the object itself fails', async (t) => {
  const [w, r] = mkchannel<string>({ shared: true });
  t.teardown(() => {
    w.close();
    r.close();
  });
  const copy = decodeHandles(encodeHandles(w)) as ChannelWriter<string>; // revived while w was open
  const rcopy = decodeHandles(encodeHandles(r)) as ChannelReader<string>;
  // The endpoint objects themselves are not transferable or cloneable: the send fails, the
  // endpoints keep working.
  const mc = new MessageChannel();
  t.teardown(() => mc.port1.close());
  t.throws(() => mc.port1.postMessage(w), { name: 'DataCloneError' });
  // In a transfer list: refused (ERR_INVALID_TRANSFER_OBJECT) on Node 24; Node 22 may send an
  // inert plain-object copy instead. Either way the endpoint stays the sender's and works.
  try {
    mc.port1.postMessage(r, [r as never]);
  } catch (err) {
    t.match(err, { name: /Error$/ }, 'the transfer was refused');
  }
  await w.write('after the failed sends');
  t.same(await r.read(1), ['after the failed sends']);

  copy.release();
  t.throws(() => encodeHandles(copy), { code: 'SHMSYNC_CLOSED' }, 'a released writer cannot travel');
  rcopy.close();
  t.throws(() => encodeHandles(rcopy), { code: 'SHMSYNC_CLOSED' }, 'a closed reader cannot travel');
  // The same when another endpoint of this thread still holds the channel (mkchannel's pair
  // shares one): a released writer's reference revived into a working writer before.
  const [w3, r3] = mkchannel<string>({ shared: true });
  t.teardown(() => r3.close());
  w3.release();
  t.throws(() => w3.toJSON(), { code: 'SHMSYNC_CLOSED' }, 'released, its reader still open');
  t.throws(() => JSON.stringify({ w3 }), { code: 'SHMSYNC_CLOSED' });
  await t.rejects(
    pcall({ module: targets, export: 'writeRange' }, { iargs: [[w3, 0, 1]] }),
    { code: 'SHMSYNC_CLOSED' },
    'nor as a pcall argument (nothing runs)',
  );
  t.same(await r3.read(0, { block: false }), [], 'nothing was written through the released writer');
  const [w4, r4] = mkchannel<string>({ shared: true });
  t.teardown(() => w4.close());
  r4.close();
  t.throws(() => encodeHandles(r4), { code: 'SHMSYNC_CLOSED' }, 'closed, its writer still open');
  const [w2, r2] = mkchannel<string>({ shared: true });
  t.teardown(() => r2.close());
  w2.close();
  t.throws(() => encodeHandles(w2), { code: 'SHMSYNC_CLOSED' }, 'a writer that closed the channel neither');
  const r2copy = decodeHandles(encodeHandles(r2)) as ChannelReader<string>; // (consumes the hand-off)
  t.same(await r2copy.read(), [], 'its reader still travels (and drains elsewhere)');
  r2copy.close();
});

t.test(
  'an ArrayBuffer transferred away before its write went in: SHMSYNC_CODEC, credit back, nothing corrupt',
  async (t) => {
    const [w, r] = mkchannel<unknown>({ shared: true, maxsize: 1 });
    t.teardown(() => {
      w.close();
      r.close();
    });
    const mc = new MessageChannel();
    t.teardown(() => mc.port1.close());
    const transfer = (b: Uint8Array): void => mc.port1.postMessage(b, [b.buffer as ArrayBuffer]);

    // Detached before the write.
    const gone = new Uint8Array([1, 2, 3]);
    transfer(gone);
    await t.rejects(w.write(gone), { code: 'SHMSYNC_CODEC' });
    t.equal(w.tryWrite('a'), true, 'its credit came back (maxsize 1: this write would fail otherwise)');

    // Detached while the write waits for room (the item is encoded when it goes in).
    const later = new Uint8Array([4, 5, 6]);
    const pending = w.write(later);
    transfer(later);
    t.same(await r.read(1), ['a'], 'room: the waiting write proceeds now');
    await t.rejects(pending, { code: 'SHMSYNC_CODEC' });
    t.equal(w.tryWrite('b'), true, 'credit back again');
    t.same(await r.read(1), ['b'], 'nothing of the detached item went in');

    // Written, then transferred: the channel holds a copy.
    const kept = new Uint8Array([7, 8, 9]);
    await w.write(kept);
    transfer(kept);
    t.equal(kept.byteLength, 0, 'detached in the writer');
    t.same(Array.from((await r.read(1))[0] as Uint8Array), [7, 8, 9], 'the reader has the bytes as written');

    // A batch with a detached buffer in it (unbounded channel: one ring write): refused whole
    // (written 0), the channel in order after.
    const [bw, br] = mkchannel<unknown>({ shared: true });
    t.teardown(() => {
      bw.close();
      br.close();
    });
    const bad = new Uint8Array([1]);
    transfer(bad);
    const err = await bw.writeMany(['x', bad]).catch((e: unknown) => e as { code?: string; written?: number });
    t.match(err, { code: 'SHMSYNC_CODEC', written: 0 });
    t.same(await br.read(0, { block: false }), [], 'nothing of the refused batch');
    await bw.write('after');
    t.same(await br.read(1), ['after']);

    // An object changed after write() was called but before it went in: sent as it is then.
    await w.write('fill');
    const obj = { v: 1 };
    const waiting = w.write(obj);
    obj.v = 2;
    t.same(await r.read(1), ['fill']);
    await waiting;
    t.same(await r.read(1), [{ v: 2 }], 'a waiting write encodes the item when it goes in');
  },
);
