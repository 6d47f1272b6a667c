import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { ShmQueue, type ShmQueueOptions } from '../dist';
import { testName } from './helpers/shm';

// drainSync/drain (zero-copy batch views) and the JS ring poll of await get() (spin before park).

function queue<T>(t: Test, tag: string, options: ShmQueueOptions<T> = {}): ShmQueue<T> {
  const q = new ShmQueue<T>(testName(`q-${tag}`), { create: 'create', codec: 'raw', ...options });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  return q;
}

const msg = (i: number, n = 16): Buffer => Buffer.alloc(n, i & 0xff);
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('drainSync visits every ready message in order with views of its raw payload', async (t) => {
  const q = queue<Buffer>(t, 'drain-basic');
  t.equal(
    q.drainSync(() => t.fail('nothing to visit')),
    0,
    'empty: 0, no visit',
  );
  q.putManySync([msg(1, 3), msg(2, 0), msg(3, 100)]);
  const seen: Array<[number, number[]]> = [];
  t.equal(
    q.drainSync((view, i) => {
      t.ok(view instanceof Uint8Array, 'a Uint8Array view');
      seen.push([i, Array.from(view)]);
    }),
    3,
  );
  t.same(seen, [
    [0, [1, 1, 1]],
    [1, []],
    [2, Array(100).fill(3)],
  ]);
  t.equal(q.size, 0, 'taken from the ring');
  // Other codecs: the record's bytes as written (json: the JSON text).
  const j = new ShmQueue<unknown>(q.name, { create: 'open', codec: 'json' });
  t.teardown(() => j.close());
  j.putSync({ a: 1 });
  let text = '';
  q.drainSync((view) => (text = Buffer.from(view).toString()));
  t.equal(text, '{"a":1}', 'json record: its JSON text');
});

t.test('options.max bounds a batch; bad arguments are refused before anything is taken', async (t) => {
  const q = queue<Buffer>(t, 'drain-max');
  q.putManySync(Array.from({ length: 10 }, (_, i) => msg(i)));
  const ids: number[] = [];
  t.equal(
    q.drainSync((v) => ids.push(v[0]), { max: 4 }),
    4,
  );
  t.same(ids, [0, 1, 2, 3]);
  t.throws(() => q.drainSync('nope' as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => q.drainSync(() => {}, { max: 0 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => q.drainSync(() => {}, { maxi: 3 } as never));
  await t.rejects(
    q.drain(() => {}, { max: -1 }),
    { code: 'SHMSYNC_OUT_OF_RANGE' },
  );
  t.equal(q.size, 6, 'refused calls took nothing');
  t.equal(
    q.drainSync((v) => ids.push(v[0])),
    6,
  );
  t.same(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

t.test('views are detached when the batch ends: a kept view never shows a later message', async (t) => {
  const q = queue<Buffer>(t, 'drain-detach');
  q.putManySync([msg(7), msg(8)]);
  const kept: Uint8Array[] = [];
  q.drainSync((v) => {
    t.equal(v.byteLength, 16, 'usable during the call');
    kept.push(v);
  });
  for (const v of kept) {
    t.equal(v.byteLength, 0, 'detached after the call');
    t.equal(v[0], undefined, 'reads nothing');
    t.equal(v.buffer.byteLength, 0, 'its buffer is detached too');
  }
  q.putSync(msg(9));
  q.drainSync(() => {});
  t.equal(kept[0][0], undefined, 'still nothing after the next batch (no reuse of its memory)');
  // Also when the visitor throws.
  q.putSync(msg(10));
  let thrownView: Uint8Array | undefined;
  t.throws(
    () =>
      q.drainSync((v) => {
        thrownView = v;
        throw new Error('visitor failed');
      }),
    /visitor failed/,
  );
  t.equal(thrownView!.byteLength, 0, 'detached when the visitor threw');
});

t.test('a visitor that throws: that message counts as delivered, the rest of the batch comes next', async (t) => {
  const q = queue<Buffer>(t, 'drain-throw');
  q.putManySync(Array.from({ length: 6 }, (_, i) => msg(i)));
  const ids: number[] = [];
  t.throws(() =>
    q.drainSync((v, i) => {
      ids.push(v[0]);
      if (i === 2) throw new Error('boom');
    }),
  );
  t.same(ids, [0, 1, 2]);
  t.equal(q.size, 0, 'the whole batch left the ring');
  q.putSync(msg(6));
  t.same(q.tryGet(), msg(3), 'a get returns the held message first');
  t.equal(
    q.drainSync((v) => ids.push(v[0]), { max: 1 }),
    1,
  );
  t.equal(
    q.drainSync((v) => ids.push(v[0])),
    1,
    'held records are a batch of their own',
  );
  t.equal(
    q.drainSync((v) => ids.push(v[0])),
    1,
  );
  t.same(ids, [0, 1, 2, 4, 5, 6], 'each message exactly once, in order');
});

t.test('a get inside a visitor takes the next message and leaves the open batch intact', async (t) => {
  const q = queue<Buffer>(t, 'drain-nested');
  q.putManySync(Array.from({ length: 8 }, (_, i) => msg(i, 64)));
  const batch: number[][] = [];
  const nested: number[] = [];
  q.drainSync(
    (v, i) => {
      if (i === 0) {
        nested.push(q.tryGet()![0]);
        q.drainSync((w) => nested.push(w[0]), { max: 2 });
      }
      batch.push(Array.from(new Set(v)));
    },
    { max: 4 },
  );
  t.same(batch, [[0], [1], [2], [3]], 'the batch views were not overwritten by the nested gets');
  t.same(nested, [4, 5, 6]);
  t.same(q.tryGet(), msg(7, 64));
});

t.test('transferring a view away during the visit: every message still visited once, intact', async (t) => {
  const q = queue<Buffer>(t, 'drain-transfer');
  q.putManySync(Array.from({ length: 5 }, (_, i) => msg(i, 32)));
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => {
    port1.close();
    port2.close();
  });
  const received = new Promise<Uint8Array>((resolve) => port2.once('message', resolve));
  const seen: number[][] = [];
  let outcome = '';
  q.drainSync((v, i) => {
    if (i === 1) {
      try {
        port1.postMessage(v, [v.buffer as ArrayBuffer]);
        outcome = v.byteLength === 0 ? 'transferred' : 'copied';
      } catch (err) {
        outcome = (err as Error).name; // DataCloneError: the batch buffer is untransferable
        seen.push(Array.from(new Set(v)));
        return;
      }
      if (outcome === 'copied') seen.push(Array.from(new Set(v)));
      else seen.push([1]); // its bytes went with the transfer (checked on the port below)
      return;
    }
    seen.push(Array.from(new Set(v)));
  });
  t.comment(`transfer outcome on ${process.version}: ${outcome}`);
  t.ok(['transferred', 'copied', 'DataCloneError'].includes(outcome), outcome);
  t.same(seen, [[0], [1], [2], [3], [4]], 'the views after the transfer still show their own messages');
  if (outcome !== 'DataCloneError') t.same(Array.from(new Set(await received)), [1], 'the receiver got message 1');
  q.putSync(msg(9));
  t.same(q.tryGet(), msg(9), 'the handle works on');
});

t.test('drain() waits for a message, with timeout and signal', async (t) => {
  const q = queue<Buffer>(t, 'drain-wait');
  const other = new ShmQueue<Buffer>(q.name, { create: 'open', codec: 'raw' });
  t.teardown(() => other.close());
  const ids: number[] = [];
  const pending = q.drain((v) => ids.push(v[0]));
  await immediate();
  other.putManySync([msg(1), msg(2)]);
  t.equal(await pending, 2);
  t.same(ids, [1, 2]);
  await t.rejects(
    q.drain(() => {}, { timeout: 20 }),
    { code: 'SHMSYNC_TIMEOUT' },
  );
  const ac = new AbortController();
  const aborted = q.drain(() => {}, { signal: ac.signal });
  ac.abort(new Error('stop'));
  await t.rejects(aborted, { name: 'AbortError' });
  other.putSync(msg(3));
  await t.rejects(
    q.drain(() => {}, { signal: AbortSignal.abort() }),
    { name: 'AbortError' },
    'already aborted: rejects before taking',
  );
  t.equal(q.size, 1, 'nothing taken by the aborted calls');
  other.end();
  t.equal(await q.drain(() => {}), 1);
  await t.rejects(
    q.drain(() => {}),
    { code: 'SHMSYNC_QUEUE_CLOSED' },
    'ended and drained',
  );
});

t.test('await get() while traffic is hot: abort, timeout and end() during the JS spin', async (t) => {
  const q = queue<Buffer>(t, 'spin');
  // Make the handle hot: one message taken.
  q.putSync(msg(1));
  t.same(await q.get(), msg(1));
  const ac = new AbortController();
  const p = q.get({ signal: ac.signal });
  queueMicrotask(() => ac.abort());
  await t.rejects(p, { name: 'AbortError' }, 'aborted while spinning');
  q.putSync(msg(2));
  t.same(await q.get(), msg(2));
  await t.rejects(q.get({ timeout: 0 }), { code: 'SHMSYNC_TIMEOUT' }, 'timeout 0 while hot');
  q.putSync(msg(3));
  t.same(await q.get(), msg(3));
  const ending = q.get();
  q.end();
  await t.rejects(ending, { code: 'SHMSYNC_QUEUE_CLOSED' }, 'end() during the spin');
  const info = q.info();
  t.equal(info.consumersWaiting, 0, 'a spinning get never counted as a sleeper, and the parked ones left');
});

t.test('the JS poll reads hostile positions without trusting them: SHMSYNC_CORRUPT, no hang', async (t) => {
  const q = queue<Buffer>(t, 'spin-corrupt', { capacity: 1024 });
  q.putSync(msg(1));
  t.same(await q.get(), msg(1)); // hot
  const fd = fs.openSync(`/dev/shm/shmsync-${q.name}`, 'r+');
  t.teardown(() => fs.closeSync(fd));
  const kTail = 64;
  const b = Buffer.alloc(8);
  // tail beyond the ring (its low half differs from head's): the poll would say "data"; the take
  // refuses.
  b.writeBigUInt64LE((1n << 40n) | 8n, 0);
  fs.writeSync(fd, b, 0, 8, kTail);
  await t.rejects(q.get(), { code: 'SHMSYNC_CORRUPT' });
  // Only the high half differs: a JS poll would see equal low halves ("no data") - it only gates
  // retries; every take validates the full positions natively first, so no wait starts at all.
  b.writeBigUInt64LE((1n << 40n) | 24n, 0);
  fs.writeSync(fd, b, 0, 8, kTail);
  await t.rejects(q.get(), { code: 'SHMSYNC_CORRUPT' });
  t.throws(() => q.drainSync(() => {}), { code: 'SHMSYNC_CORRUPT' });
  await t.rejects(new Promise((resolve, reject) => q.drain(resolve).then(resolve, reject)), {
    code: 'SHMSYNC_CORRUPT',
  });
});
