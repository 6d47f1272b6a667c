import t, { type Test } from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { Mutex, SharedMemory, SharedValue, ShmQueue, type ShmQueueOptions } from '../dist';
import { Child } from './helpers/fork';
import { segmentExists, testName } from './helpers/shm';

/** A fresh queue removed at teardown (every handle opened on it is the caller's to close). */
function queueFor<T = unknown>(t: Test, tag: string, options: ShmQueueOptions<T> = {}): ShmQueue<T> {
  const q = new ShmQueue<T>(testName(`q-${tag}`), { create: 'create', ...options });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  return q;
}

/** Another handle on the same queue, closed at teardown. */
function reopen<T = unknown>(t: Test, q: ShmQueue, options: ShmQueueOptions<T> = {}): ShmQueue<T> {
  const other = new ShmQueue<T>(q.name, { create: 'open', ...options });
  t.teardown(() => other.close());
  return other;
}

/** Bytes a message of `payload` bytes occupies in the ring. */
const recordBytes = (payload: number): number => (8 + payload + 7) & ~7;

t.test('raw codec: Buffers and Uint8Arrays in, Buffers out, byte for byte, 0-byte messages included', async (t) => {
  const q = queueFor<Uint8Array>(t, 'raw', { codec: 'raw', capacity: 64 * 1024 });
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const inputs: Uint8Array[] = [
    Buffer.alloc(0),
    all,
    new Uint8Array([1, 2, 3]),
    all.subarray(250, 253),
    new Uint8Array(0),
    Buffer.alloc(5000, 0xee),
  ];
  for (const v of inputs) q.putSync(v);
  for (const v of inputs) {
    const got = q.tryGet();
    t.ok(Buffer.isBuffer(got), 'a Buffer comes out');
    t.ok(
      Buffer.compare(got as Buffer, Buffer.from(v.buffer, v.byteOffset, v.byteLength)) === 0,
      `${v.byteLength} bytes, equal`,
    );
  }
  t.equal(q.tryGet(), undefined);
  // The returned Buffer is the caller's own: later messages never overwrite it.
  q.putSync(Buffer.from('first'));
  const first = q.tryGet() as Buffer;
  q.putSync(Buffer.from('XXXXXXXXXX'));
  q.tryGet();
  t.equal(first.toString(), 'first', 'a returned Buffer is not reused by the next get');
});

t.test('string codec: empty, ASCII and non-ASCII text round-trip', async (t) => {
  const q = queueFor<string>(t, 'string', { codec: 'string' });
  const texts = [
    '',
    'hello',
    'héllo wörld',
    '日本語のテキスト',
    'emoji 🎉🚀 and a lone surrogate-free 𝄞',
    'x'.repeat(10_000),
    '\u0000nul inside\u0000',
  ];
  await q.putMany(texts);
  t.same(await q.getMany(100), texts);
});

t.test('json codec: plain data round-trips', async (t) => {
  const q = queueFor(t, 'json', { codec: 'json' });
  const values = [null, 0, -1.5, 'text', true, [], {}, { a: [1, { b: 'c' }], n: null, s: 'é' }, [1, 'two', [3]]];
  for (const v of values) await q.put(v);
  for (const v of values) t.strictSame(await q.get(), v);
  q.putSync({ when: new Date(0), skip: undefined } as never);
  t.strictSame(q.tryGet(), { when: '1970-01-01T00:00:00.000Z' }, 'JSON semantics: toJSON applied, undefined dropped');
});

t.test('structured codec (the default): Map, Set, BigInt, Date, RegExp, typed arrays and more', async (t) => {
  const q = queueFor(t, 'structured');
  t.equal(q.codec, 'structured', 'structured is the default');
  const values: unknown[] = [
    new Map<unknown, unknown>([
      ['a', 1],
      [2, { deep: new Set([1, 2]) }],
    ]),
    new Set(['x', 'y']),
    123n,
    -(2n ** 80n),
    new Date(1_700_000_000_000),
    /ab+c/gi,
    new Uint8Array([1, 2, 3]),
    new Float64Array([1.5, -0, NaN, Infinity]),
    new BigInt64Array([-1n, 2n ** 62n]),
    new Int16Array([-32768, 32767]),
    undefined,
    null,
    NaN,
    'str',
    { nested: { arr: [1, [2, [3]]], map: new Map([[1, new Date(5)]]) }, big: 1n },
    [undefined, null, 3],
  ];
  await q.putMany(values);
  const got = await q.getMany(values.length);
  t.equal(got.length, values.length);
  for (let i = 0; i < values.length; i++) {
    t.ok(isDeepStrictEqual(got[i], values[i]), `value ${i} (${Object.prototype.toString.call(values[i])}) round-trips`);
  }
  t.ok(
    got[0] instanceof Map && got[1] instanceof Set && got[4] instanceof Date && got[8] instanceof BigInt64Array,
    'types are kept',
  );
});

t.test('custom codec: its encode and decode are used on both ends', async (t) => {
  let encoded = 0;
  let decoded = 0;
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const codec = {
    encode(p: Point): Uint8Array {
      encoded += 1;
      const b = Buffer.alloc(16);
      b.writeDoubleLE(p.x, 0);
      b.writeDoubleLE(p.y, 8);
      return b;
    },
    decode(b: Buffer): Point {
      decoded += 1;
      return new Point(b.readDoubleLE(0), b.readDoubleLE(8));
    },
  };
  const q = queueFor<Point>(t, 'custom', { codec });
  t.equal(q.codec, codec);
  const reader = reopen<Point>(t, q, { codec });
  await q.putMany([new Point(1, 2), new Point(-3.5, 1e300)]);
  t.equal(q.bytesUsed, 2 * recordBytes(16), 'the encoded bytes are what is stored');
  const [a, b] = await reader.getMany(2);
  t.ok(a instanceof Point && b instanceof Point, 'decoded into the class');
  t.same([a, b], [new Point(1, 2), new Point(-3.5, 1e300)]);
  t.same([encoded, decoded], [2, 2]);
});

t.test('handles inside messages travel as references and reopen in this process', async (t) => {
  for (const codec of ['structured', 'json'] as const) {
    const q = queueFor(t, `handles-local-${codec}`, { codec });
    const mutex = new Mutex(testName('q-h-mutex'), { create: 'create' });
    const shm = new SharedMemory(testName('q-h-shm'), { size: 64, create: 'create' });
    const other = queueFor(t, `handles-local-other-${codec}`, { codec: 'string' });
    const value = new SharedValue(testName('q-h-value'), { type: 'int32', value: 7, create: 'create' });
    t.teardown(() => {
      mutex.close();
      Mutex.unlink(mutex.name);
      shm.close();
      shm.unlink();
      value.close();
      value.unlink();
    });
    q.putSync({ mutex, shm, queues: [other], value, plain: 1 });
    const got = q.tryGet() as {
      mutex: Mutex;
      shm: SharedMemory;
      queues: ShmQueue[];
      value: SharedValue<'int32'>;
      plain: number;
    };
    t.ok(got.mutex instanceof Mutex && got.mutex !== mutex, `${codec}: a new Mutex handle`);
    t.ok(
      got.shm instanceof SharedMemory && got.queues[0] instanceof ShmQueue && got.value instanceof SharedValue,
      `${codec}: every handle reopened`,
    );
    t.equal(got.plain, 1);
    t.equal(got.mutex.name, mutex.name);
    got.mutex.acquireSync();
    t.equal(mutex.info().locked, true, `${codec}: locking the reopened Mutex locks the original`);
    got.mutex.release();
    shm.buffer[3] = 99;
    t.equal(got.shm.buffer[3], 99, `${codec}: the reopened SharedMemory maps the same bytes`);
    got.queues[0].putSync('through the reopened queue');
    t.equal(other.tryGet(), 'through the reopened queue', `${codec}: the reopened ShmQueue reaches the original`);
    t.equal(got.queues[0].codec, 'string', 'the reference carries the codec');
    value.value = 41;
    t.equal(got.value.value, 41, `${codec}: the reopened SharedValue reads the same word`);
    got.mutex.close();
    got.shm.close();
    got.queues[0].close();
    got.value.close();
  }
});

t.test('handles inside messages reopen and work in another process', async (t) => {
  for (const codec of ['structured', 'json'] as const) {
    const q = queueFor(t, `handles-xproc-${codec}`, { codec });
    const reply = queueFor(t, `handles-xproc-reply-${codec}`, { codec: 'json' });
    const mutex = new Mutex(testName('q-hx-mutex'), { create: 'create' });
    const shm = new SharedMemory(testName('q-hx-shm'), { size: 16, create: 'create' });
    t.teardown(() => {
      mutex.close();
      Mutex.unlink(mutex.name);
      shm.close();
      shm.unlink();
    });
    const child = new Child('queue-handles.js', [q.name, codec]);
    t.teardown(() => child.kill());
    await child.message('ready');
    mutex.acquireSync();
    shm.buffer[0] = 0x33;
    q.putSync({ mutex, shm, reply, note: `via ${codec}` });
    child.send({ type: 'go' });
    const { report } = await child.message<{ type: string; report: Record<string, unknown> }>('done');
    const expected = {
      kinds: ['Mutex', 'SharedMemory', 'ShmQueue'],
      mutexFree: false,
      shmByte: 0x33,
      note: `via ${codec}`,
    };
    t.same(report, expected, `${codec}: the child reopened all three and saw our lock and our byte`);
    t.same(
      reply.tryGet(),
      { from: 'child', report: expected },
      `${codec}: the child's reply came through the queue it received`,
    );
    t.equal(shm.buffer[1], 0x5a, `${codec}: the child's write is visible here`);
    mutex.release();
    t.same(await child.exited, { code: 0, signal: null });
  }
});

t.test('a record decodes by the codec it was written with, whatever the reader uses', async (t) => {
  const q = queueFor(t, 'mixed', { codec: 'raw' });
  const asString = reopen<string>(t, q, { codec: 'string' });
  const asJson = reopen(t, q, { codec: 'json' });
  const asStructured = reopen(t, q, { codec: 'structured' });
  q.putSync(Buffer.from([1, 2, 3]));
  asString.putSync('text');
  asJson.putSync({ j: [1] });
  asStructured.putSync(new Map([[1, 2n]]));
  t.same(asJson.tryGet(), Buffer.from([1, 2, 3]), 'raw record read through a json handle: a Buffer');
  t.equal(q.tryGet(), 'text', 'string record read through a raw handle: a string');
  t.same(asStructured.tryGet(), { j: [1] }, 'json record read through a structured handle: parsed JSON');
  t.ok(
    isDeepStrictEqual(asString.tryGet(), new Map([[1, 2n]])),
    'structured record read through a string handle: the Map',
  );
});

t.test('a custom-codec record read without that codec fails with SHMSYNC_CODEC, and only it is lost', async (t) => {
  const codec = {
    encode: (s: string) => Buffer.from(s.toUpperCase()),
    decode: (b: Buffer) => b.toString().toLowerCase(),
  };
  const q = queueFor<string>(t, 'custom-mismatch', { codec: 'string' });
  const custom = reopen<string>(t, q, { codec });
  q.putSync('before');
  custom.putSync('custom');
  await q.putMany(['after-1', 'after-2']);
  t.same(await q.getMany(10), ['before'], 'the batch stops before the record it cannot decode');
  t.throws(() => q.tryGet(), { code: 'SHMSYNC_CODEC', name: 'CodecError' }, 'that record then throws');
  t.same(await q.getMany(10), ['after-1', 'after-2'], 'the records behind it are still delivered, in order');
  t.equal(q.size, 0);
  custom.putSync('again');
  t.equal(custom.tryGet(), 'again', 'a handle with the codec decodes it');
});

t.test('FIFO: messages come out in the order they went in, across every put and get flavour', async (t) => {
  const q = queueFor<number>(t, 'fifo', { capacity: 1 << 16 });
  let next = 0;
  const expected: number[] = [];
  const take = (): number => {
    expected.push(next);
    return next++;
  };
  for (let round = 0; round < 20; round++) {
    await q.put(take());
    q.putSync(take());
    t.equal(q.tryPut(take()), true);
    await q.putMany([take(), take(), take()]);
    t.equal(q.putManySync([take(), take()]), 2);
  }
  const got: number[] = [];
  got.push(await q.get(), q.getSync()!, q.tryGet()!);
  got.push(...(await q.getMany(7)));
  for await (const v of q) {
    got.push(v);
    if (got.length === expected.length) break;
  }
  t.same(got, expected, `${expected.length} messages in order`);
  t.equal(q.size, 0);
});

t.test(
  'tryPut returns false when full and true again once a message is taken; tryGet undefined when empty',
  async (t) => {
    const q = queueFor<Buffer>(t, 'full', { codec: 'raw', capacity: 1024 });
    t.equal(q.tryGet(), undefined, 'empty: undefined');
    const msg = (i: number): Buffer => Buffer.alloc(100, i);
    let n = 0;
    while (q.tryPut(msg(n))) n += 1;
    t.equal(n, Math.floor(1024 / recordBytes(100)), `${n} records of 100 bytes fill 1 KiB`);
    t.equal(
      q.tryPut(Buffer.alloc(0)),
      n * recordBytes(100) + 8 <= 1024,
      'an empty record fits only if 8 bytes are left',
    );
    const size = q.size;
    t.equal(q.tryPut(msg(99)), false, 'still full');
    t.equal(q.size, size, 'a failed tryPut writes nothing');
    t.same(q.tryGet(), msg(0));
    t.equal(q.tryPut(msg(n)), true, 'room again after one get (the record wraps with a padding record)');
    const rest: Buffer[] = [];
    for (let v = q.tryGet(); v !== undefined; v = q.tryGet()) rest.push(v);
    t.same(
      rest.filter((b) => b.length === 100),
      Array.from({ length: n }, (_, i) => msg(i + 1)),
      'in order across the wrap',
    );
    t.equal(q.tryGet(), undefined);
    t.equal(q.bytesUsed, 0);
  },
);

t.test('getSync and putSync: blocking: false, timeouts, and putManySync partial counts', async (t) => {
  const q = queueFor<Buffer>(t, 'sync', { codec: 'raw', capacity: 1024 });
  t.equal(q.getSync({ blocking: false }), undefined, 'empty, non-blocking: undefined at once');
  t.equal(q.getSync({ timeout: 0 }), undefined, 'timeout 0: undefined at once');
  let start = performance.now();
  t.equal(q.getSync({ timeout: 30 }), undefined, 'empty, 30 ms timeout: undefined');
  t.ok(performance.now() - start >= 25, `waited the timeout (${(performance.now() - start).toFixed(1)} ms)`);
  const big = Buffer.alloc(400);
  t.equal(q.putManySync([big, big, big], { blocking: false }), 2, 'putManySync: two of three fit');
  t.equal(q.putSync(big, { blocking: false }), false, 'full, non-blocking: false at once');
  start = performance.now();
  t.equal(q.putSync(big, { timeout: 30 }), false, 'full, 30 ms timeout: false');
  t.ok(performance.now() - start >= 25, `waited the timeout (${(performance.now() - start).toFixed(1)} ms)`);
  t.equal(q.putManySync([big], { timeout: 0 }), 0);
  t.equal(q.size, 2, 'nothing beyond the two that fit');
  t.same(q.getSync({ blocking: false }), big);
  t.equal(q.putSync(Buffer.from('ok'), { timeout: 1000 }), true, 'space again');
  t.same(q.getSync(), big, 'blocking getSync returns at once when a message is ready');
  t.same(q.getSync({ timeout: 1000 }), Buffer.from('ok'));
  t.throws(() => q.getSync({ blocking: 'no' } as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => q.putSync(big, { timeout: -5 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => q.getSync({ block: false } as never), {
    code: 'SHMSYNC_INVALID_ARG_VALUE',
    message: /options\.block must be spelled 'blocking'/,
  });
  await t.rejects(q.get({ wait: 1 } as never), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  await t.rejects(q.getMany(0), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

t.test('size, bytesUsed and info() count records, the padding record at the wrap included', async (t) => {
  const q = queueFor<Buffer>(t, 'info', { codec: 'raw', capacity: 1024, maxMessageSize: 300 });
  t.match(q.info(), {
    name: q.name,
    capacity: 1024,
    maxMessageSize: 300,
    size: 0,
    bytesUsed: 0,
    ended: false,
    totalPut: 0,
    totalGot: 0,
    consumersWaiting: 0,
    producersWaiting: 0,
  });
  t.same([q.capacity, q.maxMessageSize, q.ended, q.closed], [1024, 300, false, false]);
  await q.putMany([Buffer.alloc(300), Buffer.alloc(300), Buffer.alloc(0), Buffer.alloc(1)]);
  t.equal(q.size, 4);
  t.equal(q.bytesUsed, 2 * recordBytes(300) + recordBytes(0) + recordBytes(1), 'header + payload, padded to 8');
  await q.getMany(4);
  const tail = 2 * recordBytes(300) + recordBytes(0) + recordBytes(1); // 640
  q.putSync(Buffer.alloc(300)); // 312 bytes: 384 left before the end, no wrap
  q.tryGet();
  q.putSync(Buffer.alloc(100)); // 72 bytes left before the end: a 72-byte padding record first
  t.equal(q.bytesUsed, 1024 - (tail + recordBytes(300)) + recordBytes(100), 'the padding record counts as used');
  t.match(q.info(), { size: 1, totalPut: 6, totalGot: 5 });
  q.tryGet();
  t.match(q.info(), { size: 0, bytesUsed: 0, totalPut: 6, totalGot: 6 });
});

t.test('a message larger than maxMessageSize or the capacity is rejected before anything is written', async (t) => {
  const q = queueFor<Buffer>(t, 'toolarge', { codec: 'raw', capacity: 4096, maxMessageSize: 1000 });
  q.putSync(Buffer.from('keep'));
  const before = { size: q.size, bytesUsed: q.bytesUsed };
  const tooLarge = { code: 'SHMSYNC_TOO_LARGE', name: 'TooLargeError' };
  for (const big of [Buffer.alloc(1001), Buffer.alloc(4096), Buffer.alloc(100_000)]) {
    t.throws(() => q.tryPut(big), tooLarge, `tryPut of ${big.length} bytes`);
    t.throws(() => q.putSync(big), tooLarge, `putSync of ${big.length} bytes`);
    t.throws(() => q.putManySync([Buffer.alloc(1), big]), tooLarge, 'putManySync with one too large');
    await t.rejects(q.put(big), tooLarge, `put of ${big.length} bytes`);
    await t.rejects(
      q.putMany([Buffer.alloc(1), Buffer.alloc(2), big]),
      tooLarge,
      'putMany with one too large: none written',
    );
    t.same({ size: q.size, bytesUsed: q.bytesUsed }, before, 'size and bytesUsed unchanged');
  }
  t.equal(q.tryPut(Buffer.alloc(1000)), true, 'exactly maxMessageSize fits');
  const json = reopen(t, q, { codec: 'json' });
  t.throws(() => json.putSync('x'.repeat(2000)), tooLarge, 'the encoded size counts (json)');
  t.same(q.tryGet(), Buffer.from('keep'), 'the queue is intact');
  t.equal(q.tryGet()?.length, 1000);
  t.equal(q.tryGet(), undefined);
  const defaults = queueFor(t, 'toolarge-default', { codec: 'raw', capacity: 2048 });
  t.equal(defaults.maxMessageSize, 2048 / 2 - 8, 'the default and largest maxMessageSize is capacity / 2 - 8');
});

t.test('a value the codec cannot encode is rejected with its code, and the queue stays intact', async (t) => {
  // A custom codec that fails on two particular values.
  const custom = {
    encode(v: unknown): Uint8Array {
      if (v === 'throw') throw new Error('nope');
      return (v === 'no bytes' ? 'text' : Buffer.from(String(v))) as Uint8Array;
    },
    decode: (b: Buffer): unknown => b.toString(),
  };
  const cases: Array<{ codec: ShmQueueOptions['codec']; value: unknown; code: string; what: string }> = [
    { codec: 'json', value: 1n, code: 'SHMSYNC_CODEC', what: 'a BigInt in json' },
    { codec: 'json', value: { deep: [2n] }, code: 'SHMSYNC_CODEC', what: 'a nested BigInt in json' },
    { codec: 'json', value: undefined, code: 'SHMSYNC_CODEC', what: 'undefined in json' },
    { codec: 'json', value: () => 1, code: 'SHMSYNC_CODEC', what: 'a function in json' },
    { codec: 'structured', value: () => 1, code: 'SHMSYNC_CODEC', what: 'a function in structured' },
    { codec: 'structured', value: { f: Symbol('s') }, code: 'SHMSYNC_CODEC', what: 'a symbol in structured' },
    { codec: 'raw', value: 'not bytes', code: 'SHMSYNC_INVALID_ARG_TYPE', what: 'a string in raw' },
    { codec: 'raw', value: [1, 2], code: 'SHMSYNC_INVALID_ARG_TYPE', what: 'an array in raw' },
    { codec: 'string', value: 42, code: 'SHMSYNC_INVALID_ARG_TYPE', what: 'a number in string' },
    { codec: custom, value: 'throw', code: 'SHMSYNC_CODEC', what: 'a throwing custom encode' },
    { codec: custom, value: 'no bytes', code: 'SHMSYNC_CODEC', what: 'a custom encode returning no bytes' },
  ];
  const good: Record<string, unknown> = {
    json: { ok: 1 },
    structured: { ok: 1 },
    raw: Buffer.from('ok'),
    string: 'ok',
  };
  for (const c of cases) {
    const q = queueFor(t, 'encode', { codec: c.codec });
    const okValue = typeof c.codec === 'string' ? good[c.codec] : 'ok';
    q.putSync(okValue);
    const before = { size: q.size, bytesUsed: q.bytesUsed };
    t.throws(() => q.tryPut(c.value), { code: c.code }, `${c.what}: tryPut`);
    t.throws(() => q.putSync(c.value), { code: c.code }, `${c.what}: putSync`);
    await t.rejects(q.put(c.value), { code: c.code }, `${c.what}: put`);
    await t.rejects(q.putMany([okValue, c.value, okValue]), { code: c.code }, `${c.what}: putMany, nothing written`);
    t.same({ size: q.size, bytesUsed: q.bytesUsed }, before, `${c.what}: queue unchanged`);
    t.same(q.tryGet(), okValue, `${c.what}: the earlier message is intact`);
    q.putSync(okValue);
    t.same(q.tryGet(), okValue, `${c.what}: the queue still works`);
  }
  const q = queueFor(t, 'encode-cause', { codec: 'json' });
  const err = (() => {
    try {
      q.putSync(1n);
    } catch (e) {
      return e as Error & { cause?: unknown };
    }
  })();
  t.ok(err?.cause instanceof TypeError, 'the codec error keeps the cause');
});

t.test('bad options are rejected with their codes, creating nothing', async (t) => {
  const name = testName('q-badopts');
  const cases: Array<[ShmQueueOptions | unknown, string, RegExp?]> = [
    [{ capacity: 3000 }, 'SHMSYNC_OUT_OF_RANGE', /^options\.capacity must be a power of two\. Received/],
    [
      { capacity: 512 },
      'SHMSYNC_OUT_OF_RANGE',
      /^options\.capacity must be an integer from 1024 to 2147483648\. Received/,
    ],
    [{ capacity: 2 ** 32 }, 'SHMSYNC_OUT_OF_RANGE'],
    [{ capacity: 1.5 }, 'SHMSYNC_OUT_OF_RANGE'],
    [{ capacity: '4096' }, 'SHMSYNC_INVALID_ARG_TYPE'],
    [
      { capacity: 4096, maxMessageSize: 2048 },
      'SHMSYNC_OUT_OF_RANGE',
      /^options\.maxMessageSize must be an integer from 1 to 2040\. Received/,
    ],
    [{ maxMessageSize: 0 }, 'SHMSYNC_OUT_OF_RANGE'],
    [{ capacity: 1024, maxMessageSize: 1024 }, 'SHMSYNC_OUT_OF_RANGE'],
    [{ colour: 'red' }, 'SHMSYNC_INVALID_ARG_VALUE', /^options\.colour must be one of the known options/],
    [{ size: 4096 }, 'SHMSYNC_INVALID_ARG_VALUE', /^options\.size must be spelled 'capacity'/],
    [{ maxMessage: 10 }, 'SHMSYNC_INVALID_ARG_VALUE', /must be spelled 'maxMessageSize'/],
    [
      { codec: 'xml' },
      'SHMSYNC_INVALID_ARG_VALUE',
      /^options\.codec must be one of 'raw', 'string', 'json', 'structured'/,
    ],
    [
      { codec: { encode: () => Buffer.alloc(0) } },
      'SHMSYNC_INVALID_ARG_TYPE',
      /^options\.codec must be 'raw', 'string', 'json', 'structured' or \{ encode, decode \}/,
    ],
    [{ codec: 5 }, 'SHMSYNC_INVALID_ARG_TYPE'],
    [{ create: 'maybe' }, 'SHMSYNC_INVALID_ARG_VALUE'],
    ['options', 'SHMSYNC_INVALID_ARG_TYPE'],
  ];
  for (const [options, code, message] of cases) {
    t.throws(
      () => new ShmQueue(name, options as ShmQueueOptions),
      message ? { code, message } : { code },
      `${JSON.stringify(options)} -> ${code}`,
    );
  }
  t.throws(() => new ShmQueue('', {}), { code: 'SHMSYNC_INVALID_NAME' });
  t.throws(() => new ShmQueue('a/b', {}), { code: 'SHMSYNC_INVALID_NAME' });
  t.equal(segmentExists(name), false, 'no segment was created by any of them');
  t.throws(
    () => new ShmQueue(name, { create: 'open' }),
    { code: 'SHMSYNC_NOT_FOUND' },
    "create: 'open' on a missing queue",
  );
  t.equal(segmentExists(name), false);
});

t.test('opening an existing queue: sizes adopted; a different explicit size is SHMSYNC_SIZE_MISMATCH', async (t) => {
  const q = queueFor(t, 'sizes', { capacity: 8192, maxMessageSize: 100 });
  const same = reopen(t, q);
  t.same([same.capacity, same.maxMessageSize], [8192, 100], 'no sizes given: the existing ones are adopted');
  const implicit = new ShmQueue(q.name);
  t.teardown(() => implicit.close());
  t.same([implicit.capacity, implicit.maxMessageSize], [8192, 100], "default 'openOrCreate' opens it");
  const explicitSame = new ShmQueue(q.name, { capacity: 8192, maxMessageSize: 100 });
  explicitSame.close();
  t.throws(
    () => new ShmQueue(q.name, { capacity: 16384 }),
    { code: 'SHMSYNC_SIZE_MISMATCH', name: 'SizeMismatchError' },
    'another capacity',
  );
  t.throws(
    () => new ShmQueue(q.name, { capacity: 4096, create: 'open' }),
    { code: 'SHMSYNC_SIZE_MISMATCH' },
    "another capacity with create: 'open'",
  );
  t.throws(
    () => new ShmQueue(q.name, { capacity: 8192, maxMessageSize: 200 }),
    { code: 'SHMSYNC_SIZE_MISMATCH' },
    'another maxMessageSize',
  );
  t.throws(
    () => new ShmQueue(q.name, { create: 'create' }),
    { code: 'SHMSYNC_EXISTS' },
    "create: 'create' on an existing queue",
  );
  t.throws(() => new ShmQueue(q.name.replace('q-sizes', 'q-nope'), { create: 'open' }), { code: 'SHMSYNC_NOT_FOUND' });
  const m = new Mutex(testName('q-kind'), { create: 'create' });
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  t.throws(
    () => new ShmQueue(m.name, { create: 'open' }),
    { code: 'SHMSYNC_KIND_MISMATCH' },
    'a mutex segment is not a queue',
  );
  q.putSync('still fine');
  t.equal(same.tryGet(), 'still fine', 'the failed opens left the queue working');
});

t.test('an unnamed queue gets a unique name and works through another handle', async (t) => {
  const q = new ShmQueue<string>(undefined, { codec: 'string', capacity: 4096 });
  t.teardown(() => {
    q.close();
    q.unlink();
  });
  t.match(q.name, /^queue-/);
  const ref = JSON.parse(JSON.stringify(q));
  t.same(ref, { $shmsync: 'ShmQueue', name: q.name, codec: 'string' }, 'toJSON is a handle reference');
  const other = new ShmQueue<string>(ref.name, { create: 'open', codec: 'string' });
  t.teardown(() => other.close());
  other.putSync('hi');
  t.equal(q.tryGet(), 'hi');
});

t.test(
  'close: releases this handle only; using it after close is SHMSYNC_CLOSED; closing twice is harmless',
  async (t) => {
    const q = queueFor<number>(t, 'close-handle');
    const other = reopen<number>(t, q);
    q.putSync(1);
    t.equal(q.closed, false, 'an open handle is not closed');
    q.close();
    q.close();
    t.equal(q.closed, true, 'closed reports this handle');
    t.equal(other.closed, false, 'another handle on the same queue stays open');
    t.equal(other.ended, false, 'closing a handle does not end the stream');
    const closed = { code: 'SHMSYNC_CLOSED', name: 'ClosedError' };
    t.throws(() => q.size, closed, 'size');
    t.throws(() => q.ended, closed, 'ended');
    t.throws(() => q.info(), closed, 'info()');
    t.throws(() => q.tryPut(2), closed, 'tryPut');
    t.throws(() => q.putSync(2), closed, 'putSync');
    t.throws(() => q.tryGet(), closed, 'tryGet');
    t.throws(() => q.getSync(), closed, 'getSync');
    t.throws(() => q.end(), closed, 'end');
    await t.rejects(q.put(2), closed, 'put');
    await t.rejects(q.get(), closed, 'get');
    await t.rejects(q.getMany(3), closed, 'getMany');
    t.equal(other.tryGet(), 1, 'the queue and its message are still there for another handle');
    other.putSync(4);
    t.equal(other.tryGet(), 4, 'and the other handle can still put and get');
    {
      using scoped = reopen<number>(t, other);
      scoped.putSync(3);
    }
    t.equal(other.tryGet(), 3, 'Symbol.dispose closed the scoped handle, not the queue');
    t.equal(other.ended, false, 'Symbol.dispose does not end the stream either');
    t.equal(segmentExists(q.name), true);
    t.equal('detach' in q, false, 'detach() is gone (close() releases the handle)');
    t.equal((q as unknown as { detach?: unknown }).detach, undefined);
  },
);

t.test('end: puts fail with ReadOnly at once, gets drain what is left and then fail, iteration ends', async (t) => {
  const q = queueFor<number>(t, 'end');
  const other = reopen<number>(t, q);
  await q.putMany([1, 2, 3]);
  t.equal(q.ended, false, 'not ended before end()');
  other.end();
  t.equal(q.ended, true, 'ended is seen by every handle');
  t.equal(q.info().ended, true, 'info() reports ended');
  t.equal('closed' in q.info(), false, "info() has no 'closed' field (the native name stays inside)");
  t.equal(q.closed, false, 'end() leaves every handle open');
  t.equal(other.closed, false, 'the handle that ended the stream stays open too');
  const readOnly = { code: 'SHMSYNC_QUEUE_CLOSED', name: 'ReadOnly', message: /has ended/ };
  t.throws(() => q.tryPut(4), readOnly);
  t.throws(() => q.putSync(4), readOnly);
  await t.rejects(q.put(4), { ...readOnly, written: 0 });
  await t.rejects(q.putMany([4, 5]), { ...readOnly, written: 0 });
  t.equal(q.tryGet(), 1, 'drains');
  t.equal(await q.get(), 2);
  const rest: number[] = [];
  for await (const v of q) rest.push(v);
  t.same(rest, [3], 'the iterator yields what is left, then ends');
  t.throws(() => q.tryGet(), readOnly, 'then tryGet throws');
  t.throws(() => q.getSync(), readOnly);
  await t.rejects(q.get(), readOnly);
  await t.rejects(q.getMany(5), readOnly);
  q.end();
  t.equal(q.ended, true, 'end is idempotent');
  const late = reopen<number>(t, q);
  t.equal(late.ended, true, 'a handle opened after end() sees the stream ended (recorded in the segment)');
  t.throws(() => late.tryPut(1), readOnly);
  q.close();
  t.equal(q.closed, true, 'close() after end() releases the handle');
});

t.test('unlink removes the name; the static form too', async (t) => {
  const q = new ShmQueue(testName('q-unlink'), { create: 'create', capacity: 1024 });
  t.teardown(() => q.close());
  t.equal(segmentExists(q.name), true);
  t.equal(q.unlink(), true);
  t.equal(segmentExists(q.name), false);
  t.equal(q.unlink(), false, 'a second unlink finds nothing');
  q.putSync('mapped still works');
  t.equal(q.tryGet(), 'mapped still works', 'an unlinked queue still works through open handles');
  const r = new ShmQueue(testName('q-unlink2'), { create: 'create', capacity: 1024 });
  r.close();
  t.equal(ShmQueue.unlink(r.name), true);
  t.equal(ShmQueue.unlink(r.name), false);
  t.throws(() => ShmQueue.unlink('bad/name'), { code: 'SHMSYNC_INVALID_NAME' });
});

t.test(
  'scripts/mapped-segments sees a live queue and mutex as in use (run-tap and clean-shm must not remove them)',
  async (t) => {
    // Segments are created as shmsync.tmp-* and published by name, so /proc/<pid>/maps shows the
    // temporary name "(deleted)": matched by name only, every live segment looked unused, and a
    // concurrent run-tap removed other runs' live locks and queues (attack-js).

    const { mappedSegments } = require('../scripts/mapped-segments.js') as {
      mappedSegments(dir?: string): Set<string>;
    };
    const q = new ShmQueue(undefined, { codec: 'raw', capacity: 4096 });
    const m = new Mutex();
    m.acquireSync();
    m.release();
    t.teardown(() => {
      q.close();
      q.unlink();
      m.close();
      m.unlink();
    });
    const inUse = mappedSegments();
    t.ok(inUse.has(`shmsync-${q.name}`), 'the queue is in use');
    t.ok(inUse.has(`shmsync-${m.name}`), 'the mutex is in use');
  },
);

t.test('a get() whose wake-ups keep losing the message to another consumer still times out', async (t) => {
  // Another handle puts and takes a message in one macrotask, over and over: every wake of the
  // waiting get() finds the ring empty again. Its deadline must be honoured anyway (each new
  // park used to start a fresh timer that the next wake cleared, so it never timed out).
  const q = queueFor(t, 'starved', { codec: 'string' });
  const thief = new ShmQueue<string>(q.name, { create: 'open', codec: 'string' });
  t.teardown(() => thief.close());
  let settled = false;
  let rounds = 0;
  const steal = (): void => {
    if (settled || rounds++ >= 200_000) return;
    thief.putSync('x');
    thief.tryGet();
    setImmediate(steal);
  };
  const outcome = q.get({ timeout: 100 }).then(
    () => 'resolved',
    (e: { name?: string }) => e.name,
  );
  setImmediate(steal);
  const result = await outcome;
  settled = true;
  t.equal(result, 'TimeoutError');
  t.ok(rounds < 200_000, `it timed out while the thief was still stealing (${rounds} rounds)`);
});
