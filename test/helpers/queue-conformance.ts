/**
 * One queue behaviour suite, two backends (issue 15): the ShmQueue contract - codecs, order,
 * batches, waiting, timeouts, AbortSignal, end vs close, backpressure, exactly-once among
 * concurrent consumers - written against the Promise API both backends share, and run by
 * test/94-queue-conformance.ts with a factory for the shm ring and one for Redis Streams.
 * Synchronisation is by awaiting the queue's own promises, never by sleeping.
 */
import type { Test } from 'tap';
import { isDeepStrictEqual } from 'node:util';

type MaybePromise<T> = T | Promise<T>;
interface WaitOptions {
  timeout?: number;
  signal?: AbortSignal;
}

/** The part of the queue API both backends share (the sync members of ShmQueue excluded). */
export interface ConformingQueue<T = unknown> {
  put(value: T, options?: WaitOptions): Promise<void>;
  putMany(values: Iterable<T>, options?: WaitOptions): Promise<void>;
  tryPut(value: T): MaybePromise<boolean>;
  get(options?: WaitOptions): Promise<T>;
  getMany(max: number, options?: WaitOptions): Promise<T[]>;
  tryGet(): MaybePromise<T | undefined>;
  end(): MaybePromise<void>;
  close(): MaybePromise<void>;
  readonly closed: boolean;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

export interface QueueCodecOption {
  codec?: 'raw' | 'string' | 'json' | 'structured' | { encode(v: never): Uint8Array; decode(b: Buffer): unknown };
}

export interface QueueFixture<T = unknown> {
  q: ConformingQueue<T>;
  /** Another handle on the same queue (closed at teardown). */
  open(options?: QueueCodecOption): Promise<ConformingQueue<T>>;
  /** Messages in the queue (put, not yet taken/acknowledged). */
  size(): Promise<number>;
}

export interface QueueBackend {
  readonly name: string;
  /**
   * A fresh queue for test `t`, removed at teardown. `bounded`: full after a handful of messages of
   * 100 bytes (shm: a 1 KiB ring; Redis: maxLength), for the backpressure cases.
   */
  create<T = unknown>(
    t: Test,
    tag: string,
    options?: QueueCodecOption & { bounded?: boolean },
  ): Promise<QueueFixture<T>>;
}

const codeOf = (code: string) => ({ code });

export function queueConformance(t: Test, backend: QueueBackend): void {
  t.test(`[${backend.name}] codecs: json, string, raw, structured (default), custom`, async (t) => {
    const json = await backend.create(t, 'json', { codec: 'json' });
    const values = [null, 0, -1.5, 'text', true, [], {}, { a: [1, { b: 'c' }], s: 'é' }];
    await json.q.putMany(values);
    t.strictSame(await json.q.getMany(100), values, 'json round-trips in order');

    const str = await backend.create<string>(t, 'string', { codec: 'string' });
    const texts = ['', 'hello', '日本語', 'emoji 🎉', 'x'.repeat(10_000), '\u0000nul\u0000'];
    await str.q.putMany(texts);
    t.strictSame(await str.q.getMany(100), texts, 'string round-trips');

    const raw = await backend.create<Uint8Array>(t, 'raw', { codec: 'raw' });
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    await raw.q.putMany([Buffer.alloc(0), all, new Uint8Array([1, 2, 3])]);
    const got = (await raw.q.getMany(3)) as Buffer[];
    t.ok(
      got.every((b) => Buffer.isBuffer(b)),
      'raw gives Buffers',
    );
    t.same(
      got.map((b) => b.toString('hex')),
      ['', all.toString('hex'), '010203'],
      'byte for byte',
    );

    const structured = await backend.create(t, 'structured');
    const rich: unknown[] = [
      new Map<unknown, unknown>([
        ['a', 1],
        [2, { deep: new Set([1, 2]) }],
      ]),
      123n,
      new Date(1_700_000_000_000),
      new Float64Array([1.5, -0, NaN]),
      undefined,
      { nested: [1, [2, [3]]], big: 1n },
    ];
    await structured.q.putMany(rich);
    const back = await structured.q.getMany(rich.length);
    t.equal(back.length, rich.length);
    for (let i = 0; i < rich.length; i++)
      t.ok(isDeepStrictEqual(back[i], rich[i]), `structured value ${i} round-trips`);

    let decoded = 0;
    const codec = {
      encode: (p: { x: number }) => Buffer.from(JSON.stringify([p.x])),
      decode: (b: Buffer) => {
        decoded += 1;
        return { x: (JSON.parse(b.toString()) as number[])[0] };
      },
    };
    const custom = await backend.create(t, 'custom', { codec });
    const reader = await custom.open({ codec });
    await custom.q.put({ x: 7 } as never);
    t.same(await reader.get(), { x: 7 }, 'custom codec on both ends');
    t.equal(decoded, 1);
  });

  t.test(`[${backend.name}] a value the codec refuses writes nothing`, async (t) => {
    const json = await backend.create(t, 'refuse', { codec: 'json' });
    await t.rejects(json.q.putMany([1, undefined, 3]), codeOf('SHMSYNC_CODEC'), 'json: undefined is refused');
    const raw = await backend.create(t, 'refuse-raw', { codec: 'raw' });
    await t.rejects(raw.q.put('text' as never), codeOf('SHMSYNC_INVALID_ARG_TYPE'), 'raw: a string is refused');
    t.equal(await json.size(), 0, 'nothing of the refused batch was written');
    t.equal(await raw.size(), 0);
  });

  t.test(`[${backend.name}] order: one producer's messages arrive in order through get, getMany, tryGet`, async (t) => {
    const { q, open } = await backend.create<number>(t, 'order', { codec: 'json' });
    const n = 500;
    await q.putMany(Array.from({ length: n }, (_, i) => i));
    const reader = await open();
    const seen: number[] = [];
    seen.push(await reader.get());
    const first = await reader.tryGet();
    if (first !== undefined) seen.push(first);
    while (seen.length < n) seen.push(...(await reader.getMany(64)));
    t.same(
      seen,
      Array.from({ length: n }, (_, i) => i),
      'every message once, in order',
    );
    t.equal(await reader.tryGet(), undefined, 'empty: tryGet gives undefined');
  });

  t.test(`[${backend.name}] getMany returns what is ready, at least one, at most max`, async (t) => {
    const { q } = await backend.create<number>(t, 'many', { codec: 'json' });
    await q.putMany([1, 2, 3]);
    t.same(await q.getMany(2), [1, 2], 'at most max');
    t.same(await q.getMany(10), [3], 'what is ready (does not wait for more)');
    await t.rejects(q.getMany(0), codeOf('SHMSYNC_OUT_OF_RANGE'), 'max < 1 is refused');
  });

  t.test(`[${backend.name}] a waiting get receives a message put later by another handle`, async (t) => {
    const { q, open } = await backend.create(t, 'wait', { codec: 'json' });
    const producer = await open();
    const pending = q.get();
    await producer.put({ late: true });
    t.same(await pending, { late: true });
    const many = q.getMany(10);
    await producer.putMany([1, 2]);
    const got = await many;
    t.ok(got.length >= 1 && got[0] === 1, 'getMany woke with the first message');
  });

  t.test(`[${backend.name}] timeouts: get on an empty queue rejects with SHMSYNC_TIMEOUT`, async (t) => {
    const { q } = await backend.create(t, 'timeout', { codec: 'json' });
    await t.rejects(q.get({ timeout: 0 }), codeOf('SHMSYNC_TIMEOUT'), 'timeout 0: at once');
    const start = Date.now();
    await t.rejects(q.get({ timeout: 60 }), codeOf('SHMSYNC_TIMEOUT'));
    t.ok(Date.now() - start >= 55, 'waited about the timeout');
    await t.rejects(q.get({ timeout: -1 }), codeOf('SHMSYNC_OUT_OF_RANGE'), 'a negative timeout is refused');
    await q.put('after');
    t.equal(await q.get({ timeout: 1000 }), 'after', 'the handle works after timeouts');
  });

  t.test(
    `[${backend.name}] AbortSignal: aborted before takes nothing; abort while waiting loses nothing`,
    async (t) => {
      const { q, open } = await backend.create(t, 'abort', { codec: 'json' });
      await q.put('kept');
      const ac = new AbortController();
      ac.abort(new Error('why'));
      await t.rejects(
        q.get({ signal: ac.signal }),
        { name: 'AbortError', code: 'ABORT_ERR' },
        'pre-aborted get rejects',
      );
      await t.rejects(q.put('x', { signal: ac.signal }), { name: 'AbortError' }, 'pre-aborted put rejects');
      t.equal(await q.get(), 'kept', 'the message was not taken by the aborted get');
      const waiting = new AbortController();
      const pending = t.rejects(
        q.get({ signal: waiting.signal }),
        { name: 'AbortError', code: 'ABORT_ERR' },
        'abort while waiting rejects',
      );
      waiting.abort();
      await pending;
      const producer = await open();
      await producer.putMany(['one', 'two']);
      t.same(await collect(q, 2), ['one', 'two'], 'messages put after the abort all arrive, in order');
    },
  );

  t.test(
    `[${backend.name}] end(): puts fail, gets drain then fail, waiters on other handles wake, for await ends`,
    async (t) => {
      const { q, open } = await backend.create<number>(t, 'end', { codec: 'json' });
      const other = await open();
      const waiter = t.rejects(other.get(), codeOf('SHMSYNC_QUEUE_CLOSED'), 'a waiting get on another handle is woken');
      await q.end();
      await waiter;
      const { q: q2, open: open2 } = await backend.create<number>(t, 'end2', { codec: 'json' });
      await q2.putMany([1, 2, 3]);
      await q2.end();
      await t.rejects(q2.put(4), codeOf('SHMSYNC_QUEUE_CLOSED'), 'put after end');
      t.equal(await q2.get(), 1, 'gets drain what is left');
      const reader = await open2();
      const rest: number[] = [];
      for await (const v of reader) rest.push(v);
      t.same(rest, [2, 3], 'for await yields the rest and ends');
      await t.rejects(q2.get(), codeOf('SHMSYNC_QUEUE_CLOSED'), 'drained: get fails');
      await t.rejects(
        Promise.resolve().then(() => q2.tryGet()),
        codeOf('SHMSYNC_QUEUE_CLOSED'),
        'tryGet too',
      );
    },
  );

  t.test(
    `[${backend.name}] close(): this handle's waits reject with SHMSYNC_CLOSED; other handles are unaffected`,
    async (t) => {
      const { q, open } = await backend.create(t, 'close', { codec: 'json' });
      const h = await open();
      const waiting = t.rejects(h.get(), codeOf('SHMSYNC_CLOSED'), 'the pending get rejects');
      await h.close();
      await waiting;
      t.equal(h.closed, true);
      await t.rejects(
        Promise.resolve().then(() => h.put(1)),
        codeOf('SHMSYNC_CLOSED'),
        'put after close',
      );
      await h.close();
      t.pass('close is idempotent');
      await q.put('still');
      t.equal(await q.get(), 'still', 'the other handle works; the stream did not end');
    },
  );

  t.test(
    `[${backend.name}] backpressure: a full queue makes put wait and tryPut false until a get frees room`,
    async (t) => {
      const { q, open } = await backend.create<Buffer>(t, 'full', { codec: 'raw', bounded: true });
      let n = 0;
      while (await q.tryPut(Buffer.alloc(100, n))) n += 1;
      t.ok(n >= 2, `full after ${n} messages`);
      let done = false;
      const pending = q.put(Buffer.alloc(100, 0xaa)).then(() => (done = true));
      await t.rejects(
        q.put(Buffer.alloc(100), { timeout: 30 }),
        codeOf('SHMSYNC_TIMEOUT'),
        'a put with a timeout times out while full',
      );
      t.equal(done, false, 'the waiting put still waits');
      const consumer = await open();
      t.same(
        (await consumer.get()).toString('hex'),
        Buffer.alloc(100, 0).toString('hex'),
        'the oldest message comes out',
      );
      await pending;
      const rest = await collect(consumer, n);
      t.same(rest[n - 1].toString('hex'), Buffer.alloc(100, 0xaa).toString('hex'), 'the waiting message went in last');
    },
  );

  t.test(`[${backend.name}] exactly once: 2 producers, 3 consumer handles, every message once`, async (t) => {
    const { q, open } = await backend.create<number>(t, 'once', { codec: 'json' });
    const n = 3000;
    const producers = [q, await open()];
    const consumers = [await open(), await open(), await open()];
    const got: number[][] = consumers.map(() => []);
    let received = 0;
    const consume = async (c: ConformingQueue<number>, into: number[]): Promise<void> => {
      while (received < n) {
        let batch: number[];
        try {
          batch = await c.getMany(50, { timeout: 200 });
        } catch (err) {
          if ((err as { code?: string }).code === 'SHMSYNC_TIMEOUT') continue;
          throw err;
        }
        into.push(...batch);
        received += batch.length;
      }
    };
    const running = consumers.map((c, i) => consume(c, got[i]));
    // Producer k puts the values v with v % 2 === k, ascending, in batches of 100.
    await Promise.all(
      producers.map(async (p, k) => {
        const mine = Array.from({ length: n / 2 }, (_, j) => 2 * j + k);
        for (let i = 0; i < mine.length; i += 100) await p.putMany(mine.slice(i, i + 100));
      }),
    );
    await Promise.all(running);
    const all = got.flat().sort((a, b) => a - b);
    t.equal(all.length, n, 'as many received as put');
    t.ok(
      all.every((v, i) => v === i),
      'each message exactly once',
    );
    for (const g of got) {
      for (const k of [0, 1]) {
        const seq = g.filter((v) => v % 2 === k);
        t.ok(
          seq.every((v, i) => i === 0 || v > seq[i - 1]),
          "each consumer sees each producer's messages in order",
        );
      }
    }
  });
}

async function collect<T>(q: ConformingQueue<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < n) out.push(...(await q.getMany(n - out.length)));
  return out;
}
