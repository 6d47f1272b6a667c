/**
 * Issue 9 item 3: a decoded queue message owns its bytes, for every codec. Before the fix, the
 * structured codec returned typed arrays as views of the handle's private inbox (the next get()
 * overwrote them; transferring one detached the inbox and native code then wrote into freed
 * memory), and native code cached the inbox/outbox data pointers across calls.
 */
import t, { type Test } from 'tap';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ShmQueue, type ShmQueueOptions } from '../dist';
import { binding } from '../dist/addon/binding';
import { testName } from './helpers/shm';

function queueFor<T = unknown>(t: Test, tag: string, options: ShmQueueOptions<T> = {}): ShmQueue<T> {
  const q = new ShmQueue<T>(testName(`own-${tag}`), { create: 'create', capacity: 64 * 1024, ...options });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  return q;
}

/** Transfers `ab` through a MessageChannel and back; resolves with what arrived. */
async function roundTrip(ab: ArrayBuffer): Promise<ArrayBuffer> {
  const { port1, port2 } = new MessageChannel();
  try {
    const got = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
    port1.postMessage(ab, [ab]); // throws DataCloneError for an untransferable buffer (Node >= 21)
    return await got;
  } finally {
    // Always: an open port with a listener keeps the event loop (and the test file) alive.
    port1.close();
    port2.close();
  }
}

interface Msg {
  f64: Float64Array;
  u8: Uint8Array;
  buf: Buffer;
  i32: Int32Array;
  text: string;
}
const message = (seed: number): Msg => ({
  f64: new Float64Array([seed, seed + 0.5, seed * 2]),
  u8: new Uint8Array(64).fill(seed & 0xff),
  buf: Buffer.alloc(40, (seed + 1) & 0xff),
  i32: new Int32Array([seed, -seed, seed * 3]),
  text: `message ${seed}`,
});

function same(t: Test, got: Msg, seed: number, what: string): void {
  t.same(Array.from(got.f64), Array.from(message(seed).f64), `${what}: Float64Array intact`);
  t.ok(got.u8.every((b) => b === (seed & 0xff)) && got.u8.length === 64, `${what}: Uint8Array intact`);
  t.ok(Buffer.isBuffer(got.buf) && got.buf.every((b) => b === ((seed + 1) & 0xff)), `${what}: Buffer intact`);
  t.same(Array.from(got.i32), [seed, -seed, seed * 3], `${what}: Int32Array intact`);
}

t.test('structured: typed arrays of a decoded message stay intact after further gets', async (t) => {
  const q = queueFor<Msg>(t, 'keep');
  const kept: Msg[] = [];
  for (let round = 0; round < 50; round++) {
    q.putSync(message(round));
    kept.push(q.getSync() as Msg); // every message lands at the same inbox offset
  }
  // Also through getMany (several records in one inbox fill).
  q.putManySync([message(100), message(101), message(102)]);
  const many = (await q.getMany(3)) as Msg[];
  q.putManySync([message(200), message(201), message(202)]);
  await q.getMany(3);
  for (let i = 0; i < kept.length; i++) same(t, kept[i], i, `message ${i}`);
  for (let i = 0; i < 3; i++) same(t, many[i], 100 + i, `getMany message ${i}`);
  // Each typed array has memory of its own: nothing else shares its ArrayBuffer.
  const m = kept[0];
  t.equal(m.f64.buffer.byteLength, m.f64.byteLength, 'Float64Array owns exactly its bytes');
  t.not(m.f64.buffer, m.u8.buffer, 'two arrays of one message do not share memory');
});

t.test('structured: transferring a decoded typed array, then continuing to get and put', async (t) => {
  const q = queueFor<Msg>(t, 'transfer');
  for (let round = 0; round < 30; round++) {
    q.putSync(message(round));
    const m = q.getSync() as Msg;
    const back = await roundTrip(m.f64.buffer as ArrayBuffer);
    t.equal(m.f64.byteLength, 0, 'the array was really transferred (detached here)');
    t.same(Array.from(new Float64Array(back)), Array.from(message(round).f64), 'its content arrived');
    await roundTrip(m.buf.buffer as ArrayBuffer);
    t.equal(m.buf.length, 0, 'the Buffer was transferred (not copied from a shared pool)');
  }
  // The handle still works after every transfer: bigger messages than before, many of them.
  for (let round = 0; round < 20; round++) {
    q.putManySync([message(round), message(round + 1)]);
    same(t, q.getSync() as Msg, round, `after transfers, get ${round}`);
    same(t, q.getSync() as Msg, round + 1, `after transfers, get ${round}b`);
  }
  t.end();
});

t.test('structured: a decoded array transferred to a worker that writes it changes nothing here', async (t) => {
  const q = queueFor<Msg>(t, 'worker');
  q.putSync(message(7));
  const m = q.getSync() as Msg;
  const w = new Worker(
    `
    const { parentPort } = require('node:worker_threads');
    parentPort.once('message', (ab) => { new Uint8Array(ab).fill(0xee); parentPort.postMessage('done'); });
  `,
    { eval: true },
  );
  const done = new Promise((resolve) => w.once('message', resolve));
  w.postMessage(m.u8.buffer, [m.u8.buffer as ArrayBuffer]);
  await done;
  await w.terminate();
  q.putSync(message(8));
  same(t, q.getSync() as Msg, 8, 'the next message decodes intact');
  t.same(Array.from(m.f64), Array.from(message(7).f64), 'the rest of the first message is untouched');
});

t.test('raw and custom codecs: results are copies; transferring one breaks nothing', async (t) => {
  const raw = queueFor<Uint8Array>(t, 'raw', { codec: 'raw' });
  raw.putSync(Buffer.from('first message'));
  const first = raw.getSync() as Buffer;
  raw.putSync(Buffer.from('XXXXXXXXXXXXXXXXXXXXXXX'));
  raw.getSync();
  t.equal(first.toString(), 'first message', 'raw: unchanged by the next get');
  // Small results are Buffer-pool slices (like Buffer.allocUnsafe): a transfer list naming the
  // pool copies it (or throws, on newer Node) and never detaches the queue's staging memory.
  try {
    await roundTrip(first.buffer as ArrayBuffer);
  } catch (err) {
    t.equal((err as Error).name, 'DataCloneError');
  }
  const big = Buffer.alloc(20_000, 9); // not pooled: really transferred
  raw.putSync(big);
  const got = raw.getSync() as Buffer;
  await roundTrip(got.buffer as ArrayBuffer);
  t.equal(got.length, 0, 'raw: a large result owns a transferable ArrayBuffer');
  for (let i = 0; i < 10; i++) {
    raw.putSync(Buffer.alloc(3000, i));
    t.ok(
      (raw.getSync() as Buffer).every((b) => b === i),
      `raw: queue still works after transfers (${i})`,
    );
  }

  // A custom codec whose decode keeps the bytes it is handed (zero-copy decoders do this).
  const identity = { encode: (v: Uint8Array) => v, decode: (b: Buffer) => b };
  const custom = queueFor<Uint8Array>(t, 'custom', { codec: identity });
  custom.putSync(Buffer.from('custom one'));
  const one = custom.getSync() as Buffer;
  custom.putSync(Buffer.from('custom TWO!!'));
  custom.getSync();
  t.equal(one.toString(), 'custom one', 'custom: the bytes given to decode() are its own');
  custom.putSync(Buffer.alloc(20_000, 4));
  const kept = custom.getSync() as Buffer;
  await roundTrip(kept.buffer as ArrayBuffer);
  custom.putSync(Buffer.from('again'));
  t.equal((custom.getSync() as Buffer).toString(), 'again', 'custom: queue still works after a transfer');
});

t.test('native: a detached inbox or outbox is refused, never written (no cached data pointer)', async (t) => {
  const name = `shmsync-${testName('own-native')}`;
  const q = new binding.Queue(name, 1, 0o600, 4096, 1000);
  t.teardown(() => {
    q.closeHandle();
    binding.Region.unlink(name);
  });
  const outbox = new Uint8Array(new ArrayBuffer(256));
  const inbox = new Uint8Array(new ArrayBuffer(4096));
  q.setBuffers(outbox, inbox);
  // One framed record: [len=5][type=0 raw] "hello" padded to 16.
  new DataView(outbox.buffer).setUint32(0, 5, true);
  outbox.set(Buffer.from('hello'), 8);
  t.equal(q.put(1, 16, 0), 1, 'put from the attached outbox');
  structuredClone(inbox.buffer, { transfer: [inbox.buffer] }); // detaches (and frees) the inbox
  t.throws(() => q.get(1), /detached|no inbox/, 'get with a detached inbox throws instead of writing');
  const fresh = new Uint8Array(4096);
  q.setBuffers(outbox, fresh);
  t.equal(q.get(1), 1, 'a re-attached inbox receives the record');
  t.equal(Buffer.from(fresh.subarray(8, 13)).toString(), 'hello');
  structuredClone(outbox.buffer, { transfer: [outbox.buffer] });
  t.throws(() => q.put(1, 16, 0), /outbox/, 'put with a detached outbox throws instead of reading freed memory');
});
