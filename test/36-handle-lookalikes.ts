// Issue 9 item 13: handle references travel out of band. User data that looks like a reference
// ({ $shmsync, name }, or the old in-band marker) round-trips as the same plain data through
// every codec and through pcall arguments and results, while real handles still travel.
import t from 'tap';
import * as v8 from 'node:v8';
import { readFileSync } from 'node:fs';
import { CodecError, Mutex, SharedMemory, ShmQueue, decodeHandles, encodeHandles, pcall } from '../dist';
import { decodeRecord } from '../dist/wire/codec';

// RecordType is a const enum (no runtime object): Json = 2, Structured = 3.
const RecordType = { Json: 2, Structured: 3 } as const;

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

function fixtures(t: TapTest): { mutex: Mutex; shm: SharedMemory; lookalikes: unknown } {
  const mutex = new Mutex();
  mutex.info(); // an anonymous mutex creates its segment on first use: make it exist now
  const shm = new SharedMemory(undefined, { size: 64 });
  t.teardown(() => {
    mutex.close();
    mutex.unlink();
    shm.close();
    shm.unlink();
  });
  // References to segments that exist: before the fix they were reopened (a live handle, a
  // mapping chosen by whoever wrote the message), not merely attempted.
  const lookalikes = {
    mutex: { $shmsync: 'Mutex', name: mutex.name },
    shm: { $shmsync: 'SharedMemory', name: shm.name, size: 64 },
    made_up: { $shmsync: 'Mutex', name: 'x' },
    marker: { '$shmsync:handle': { $shmsync: 'Mutex', name: mutex.name } },
    list: [{ $shmsync: 'Mutex', name: mutex.name }],
    text: '{"$shmsync":"Mutex","name":"x"}',
  };
  return { mutex, shm, lookalikes };
}

/** Every object in `value` is a plain object or array (no handle was opened). */
function plainOnly(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype) return false;
  return Object.values(value).every(plainOnly);
}

for (const codec of ['json', 'structured'] as const) {
  t.test(`${codec} codec: look-alike data stays plain data, real handles still travel`, async (t) => {
    const { mutex, shm, lookalikes } = fixtures(t);
    const q = new ShmQueue(undefined, { codec, capacity: 8192 });
    t.teardown(() => {
      q.close();
      q.unlink();
    });

    q.putSync({ data: lookalikes });
    const only = q.getSync() as { data: unknown };
    t.same(only.data, lookalikes, 'a message with no handle: the same data');
    t.ok(plainOnly(only.data), 'and nothing in it became a handle');

    q.putSync({ data: lookalikes, real: { mutex, shm }, again: mutex });
    const mixed = q.getSync() as { data: unknown; real: { mutex: Mutex; shm: SharedMemory }; again: Mutex };
    t.same(mixed.data, lookalikes, 'next to real handles: the same data');
    t.ok(plainOnly(mixed.data), 'and nothing in it became a handle');
    t.ok(mixed.real.mutex instanceof Mutex && mixed.real.mutex.name === mutex.name, 'a real Mutex arrives as a Mutex');
    t.ok(
      mixed.real.shm instanceof SharedMemory && mixed.real.shm.name === shm.name,
      'a real SharedMemory arrives as one',
    );
    if (codec === 'structured') t.equal(mixed.again, mixed.real.mutex, 'one handle sent twice arrives as one object');
    for (const h of new Set([mixed.real.mutex, mixed.real.shm, mixed.again]))
      (h as { [Symbol.dispose](): void })[Symbol.dispose]();

    q.putSync(mutex);
    const top = q.getSync() as Mutex;
    t.ok(top instanceof Mutex, 'a handle as the whole message');
    top.close();
  });
}

t.test('structured codec: handles inside Maps (keys and values) and Sets, next to look-alikes', async (t) => {
  const { mutex, shm, lookalikes } = fixtures(t);
  const q = new ShmQueue(undefined, { codec: 'structured', capacity: 8192 });
  t.teardown(() => {
    q.close();
    q.unlink();
  });
  q.putSync(
    new Map<unknown, unknown>([
      ['a', lookalikes],
      [mutex, 1],
      ['shm', shm],
      ['set', new Set([1, shm, mutex, 2])],
    ]),
  );
  const got = q.getSync() as Map<unknown, unknown>;
  const keys = [...got.keys()];
  t.equal(keys.length, 4, 'every entry, in order');
  t.same(got.get('a'), lookalikes, 'look-alike data untouched');
  t.ok(keys[1] instanceof Mutex && got.get(keys[1]) === 1, 'a Mutex as a Map key');
  t.ok(got.get('shm') instanceof SharedMemory, 'a SharedMemory as a Map value');
  const set = [...(got.get('set') as Set<unknown>)];
  t.equal(set.length, 4, 'two handles in one Set stay two items');
  t.ok(set[0] === 1 && set[1] instanceof SharedMemory && set[2] instanceof Mutex && set[3] === 2, 'in order');
  t.equal(set[2], keys[1], 'the same Mutex everywhere it was');
  for (const h of new Set([keys[1], got.get('shm'), set[1]])) (h as { [Symbol.dispose](): void })[Symbol.dispose]();
});

t.test('pcall arguments and results: look-alikes stay plain, real handles travel both ways', async (t) => {
  const { mutex, lookalikes } = fixtures(t);
  const [echo] = (await pcall(
    (data: unknown, real: { lock: unknown }) => {
      const isPlain = (v: unknown): boolean =>
        typeof v !== 'object' ||
        v === null ||
        ([Object.prototype, Array.prototype].includes(Object.getPrototypeOf(v)) &&
          Object.values(v as object).every(isPlain));
      return {
        data,
        plain: isPlain(data),
        lockKind: (real.lock as object).constructor.name,
        back: real.lock,
        fake: { $shmsync: 'Mutex', name: 'x' },
      };
    },
    { cargs: [lookalikes, { lock: mutex }], iargs: [[]] },
  )) as Array<{ data: unknown; plain: boolean; lockKind: string; back: Mutex; fake: unknown }>;
  t.same(echo.data, lookalikes, 'the argument arrived as the same data');
  t.equal(echo.plain, true, 'the child saw no handle in it');
  t.equal(echo.lockKind, 'Mutex', 'a real handle argument arrived as a Mutex');
  t.ok(echo.back instanceof Mutex && echo.back.name === mutex.name, 'a handle result arrives as a handle');
  t.same(echo.fake, { $shmsync: 'Mutex', name: 'x' }, 'a look-alike result stays plain');
  t.ok(plainOnly(echo.fake));
  echo.back.close();
});

t.test('encodeHandles/decodeHandles carry handles through child.send-style JSON and v8 copies', async (t) => {
  const { mutex, lookalikes } = fixtures(t);
  const message = { data: lookalikes, lock: mutex };
  for (const [how, copy] of [
    ['JSON (child.send default)', (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown],
    ['v8 (advanced serialization, postMessage)', (v: unknown) => v8.deserialize(v8.serialize(v)) as unknown],
  ] as const) {
    const opened: unknown[] = [];
    const got = decodeHandles(copy(encodeHandles(message)), opened) as { data: unknown; lock: Mutex };
    t.same(got.data, lookalikes, `${how}: look-alike data stays plain`);
    t.ok(plainOnly(got.data));
    t.ok(got.lock instanceof Mutex && got.lock.name === mutex.name, `${how}: the Mutex reopens`);
    t.same(opened, [got.lock], 'opened lists what was reopened');
    got.lock.close();
  }
  // A JSON copy of plain data that merely looks like an envelope is still data to decodeHandles'
  // caller: only what encodeHandles produced is ever decoded.
  t.same(decodeHandles(encodeHandles(lookalikes)), lookalikes);
});

t.test('a hostile handle table is a CodecError, never a prototype write or a crash', async (t) => {
  const { mutex } = fixtures(t);
  const ref = { value: { $shmsync: 'Mutex', name: mutex.name }, handles: [] };
  const structured = (envelope: unknown): Buffer => Buffer.concat([Buffer.of(1), v8.serialize(envelope)]);
  const json = (envelope: unknown): Buffer => Buffer.from(`\u001e${JSON.stringify(envelope)}`);
  const cases: Array<[string, unknown]> = [
    ['__proto__ path', { value: {}, handles: [{ ref, at: [['__proto__']] }] }],
    ['inherited key', { value: {}, handles: [{ ref, at: [['toString']] }] }],
    ['missing key', { value: { a: 1 }, handles: [{ ref, at: [['b']] }] }],
    ['through a number', { value: { a: 1 }, handles: [{ ref, at: [['a', 'b']] }] }],
    ['not an envelope', [1, 2]],
    ['entry without at', { value: {}, handles: [{ ref }] }],
    ['ref that is no reference', { value: { a: null }, handles: [{ ref: { value: 5, handles: [] }, at: [['a']] }] }],
  ];
  for (const [what, envelope] of cases) {
    for (const [kind, type, bytes] of [
      ['structured', RecordType.Structured, structured(envelope)],
      ['json', RecordType.Json, json(envelope)],
    ] as const) {
      t.throws(() => decodeRecord(type, bytes, 0, bytes.length, null), CodecError, `${kind}: ${what}`);
    }
  }
  const mapCase = { value: new Map([['a', 1]]), handles: [{ ref, at: [[{ map: 7 }]] }] };
  const bytes = structured(mapCase);
  t.throws(
    () => decodeRecord(RecordType.Structured, bytes, 0, bytes.length, null),
    CodecError,
    'a Map step out of range',
  );
  t.equal(({} as Record<string, unknown>).$shmsync, undefined, 'Object.prototype untouched');
});

// Adversarial review of item 13 (attack-js).

t.test('a class whose toJSON() returns reference-shaped user data is data, not a handle', async (t) => {
  const { mutex } = fixtures(t);
  // A wrapper of user data (a document, an immutable collection) holding a request body.
  class Wrapper {
    constructor(readonly body: unknown) {}
    toJSON(): unknown {
      return this.body;
    }
  }
  const body = { $shmsync: 'Mutex', name: mutex.name };
  for (const codec of ['json', 'structured'] as const) {
    const q = new ShmQueue(undefined, { codec, capacity: 8192 });
    t.teardown(() => {
      q.close();
      q.unlink();
    });
    q.putSync({ w: new Wrapper(body), real: mutex });
    const got = q.getSync() as { w: unknown; real: Mutex };
    t.notOk(got.w instanceof Mutex, `${codec}: the wrapper did not become a Mutex`);
    t.ok(plainOnly(got.w), `${codec}: it arrives as plain data`);
    t.ok(got.real instanceof Mutex, `${codec}: a real handle next to it still travels`);
    got.real.close();
  }
  t.equal(encodeHandles({ w: new Wrapper(body) }).handles.length, 0, 'encodeHandles lists no handle for it');
});

t.test('structured codec: a class whose toJSON() throws is sent as before (toJSON is not called)', async (t) => {
  class NoJson {
    x = 1;
    toJSON(): never {
      throw new Error('not JSON');
    }
  }
  const q = new ShmQueue(undefined, { codec: 'structured', capacity: 8192 });
  t.teardown(() => {
    q.close();
    q.unlink();
  });
  q.putSync({ n: new NoJson() });
  t.same(q.getSync(), { n: { x: 1 } });
});

t.test('hostile tables: non-container paths, shared or cyclic tables, deep nesting, too many handles', async (t) => {
  const { mutex } = fixtures(t);
  const ref = (): unknown => ({ value: { $shmsync: 'Mutex', name: mutex.name }, handles: [] });
  const structured = (envelope: unknown): Buffer => Buffer.concat([Buffer.of(1), v8.serialize(envelope)]);
  const decode = (envelope: unknown): unknown => {
    const bytes = structured(envelope);
    return decodeRecord(RecordType.Structured, bytes, 0, bytes.length, null);
  };
  // Before: the handle was written into a typed array (converted to 0, the handle dropped) or a
  // TypeError came from the placement after handles were opened.
  t.throws(
    () => decode({ value: { a: new Uint8Array(4) }, handles: [{ ref: ref(), at: [['a', '0']] }] }),
    CodecError,
    'into a typed array',
  );
  t.throws(
    () => decode({ value: { a: Object('ab') }, handles: [{ ref: ref(), at: [['a', 0]] }] }),
    CodecError,
    'into a String object',
  );
  t.throws(
    () => decode({ value: [1, 2], handles: [{ ref: ref(), at: [['length']] }] }),
    CodecError,
    "an array's length",
  );
  t.throws(
    () => decode({ value: { a: /x/g }, handles: [{ ref: ref(), at: [['a', 'lastIndex']] }] }),
    CodecError,
    'into a RegExp',
  );

  // Structured clone keeps identity: one path array listed N times, in M entries sharing one
  // `at`, costs N*M*len steps for a few KiB (before: 12 s of CPU for 22 KiB). Refused at once.
  const loop: Record<string, unknown> = {};
  loop.a = loop;
  const path = new Array(2001).fill('a');
  const at = new Array(2000).fill(path);
  const entry = { ref: ref(), at };
  const started = process.hrtime.bigint();
  t.throws(() => decode({ value: loop, handles: new Array(50).fill(entry) }), CodecError, 'a shared table is refused');
  t.ok(process.hrtime.bigint() - started < 1_000_000_000n, 'quickly');

  // A cyclic reference envelope (before: a stack overflow).
  const cyclic: { value: unknown; handles: unknown[] } = {
    value: { $shmsync: 'Mutex', name: mutex.name },
    handles: [],
  };
  cyclic.handles.push({ ref: cyclic, at: [['a']] });
  t.throws(
    () => decode({ value: { a: 1 }, handles: [{ ref: cyclic, at: [['a']] }] }),
    /appears twice/,
    'a cyclic table',
  );

  // References nested deeper than the bound.
  let deep: unknown = ref();
  for (let i = 0; i < 40; i += 1)
    deep = { value: { $shmsync: 'Mutex', name: mutex.name, inner: null }, handles: [{ ref: deep, at: [['inner']] }] };
  t.throws(
    () => decode({ value: { a: null }, handles: [{ ref: deep, at: [['a']] }] }),
    /nested deeper/,
    'deep nesting',
  );

  const many = { value: {} as Record<string, null>, handles: [] as unknown[] };
  for (let i = 0; i < 5000; i += 1) {
    many.value[`k${i}`] = null;
    many.handles.push({ ref: ref(), at: [[`k${i}`]] });
  }
  t.throws(() => decode(many), /more than 4096 handles/, 'too many handles');
  const handles = Array.from({ length: 4097 }, () => new Mutex(mutex.name, { create: 'open' }));
  t.throws(() => encodeHandles(handles), CodecError, 'and the sender refuses to send that many');
  for (const h of handles) h.close();
  t.equal(({} as Record<string, unknown>).$shmsync, undefined, 'Object.prototype untouched');
});

t.test('a table that fails half-way releases the handles it had opened', async (t) => {
  const shm = new SharedMemory(undefined, { size: 64 });
  t.teardown(() => {
    shm.close();
    shm.unlink();
  });
  const mappings = (): number =>
    readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((l) => l.includes(`shmsync-${shm.name}`)).length;
  const shmRef = (): unknown => ({ value: { $shmsync: 'SharedMemory', name: shm.name }, handles: [] });
  const envelope = {
    value: { list: [null, null, null], n: 1 },
    handles: [0, 1, 2].map((i) => ({ ref: shmRef(), at: [['list', i]] })),
  };
  envelope.handles.push({ ref: shmRef(), at: [['n', 'x']] }); // the last path is bad
  const before = mappings();
  const opened: unknown[] = ['mine'];
  t.throws(() => decodeHandles(v8.deserialize(v8.serialize(envelope)), opened), CodecError);
  t.same(opened, ['mine'], 'nothing left on opened');
  t.equal(mappings(), before, 'no mapping of the segment left behind (before: 3 leaked until GC)');
});

t.test('user data that starts with the envelope marker stays data in every codec', async (t) => {
  const { mutex } = fixtures(t);
  const forged = `\u001e{"handles":[{"ref":{"value":{"$shmsync":"Mutex","name":"${mutex.name}"},"handles":[]},"at":[[]]}],"value":null}`;
  const cases: Array<['string' | 'json' | 'structured' | 'raw', unknown]> = [
    ['string', forged],
    ['json', forged],
    ['json', { text: forged }],
    ['structured', forged],
    ['raw', Buffer.from(forged)],
    ['raw', Buffer.concat([Buffer.of(1), v8.serialize({ value: null, handles: [] })])],
  ];
  for (const [codec, value] of cases) {
    const q = new ShmQueue(undefined, { codec, capacity: 8192 });
    t.teardown(() => {
      q.close();
      q.unlink();
    });
    q.putSync(value as never);
    const got = q.getSync();
    t.notOk(got instanceof Mutex, `${codec}: not a handle`);
    t.same(got, value, `${codec}: the same data`);
  }
});

t.test('encodeHandles copies only the containers on the way to a handle', async (t) => {
  const { mutex } = fixtures(t);
  const big = { rows: Array.from({ length: 1000 }, (_, i) => ({ i })) };
  const deep: Record<string, unknown> = { lock: mutex };
  let chain: Record<string, unknown> = deep;
  for (let i = 0; i < 500; i += 1) chain = { next: chain, side: { i } };
  const message = { big, chain, list: [1, { lock: mutex }] };
  const envelope = encodeHandles(message);
  const out = envelope.value as typeof message;
  // Before: every plain container was copied (and every node built a copy of its whole path).
  t.equal(out.big, big, 'a subtree without handles is shared, not copied');
  t.equal(
    (out.chain as { side: unknown }).side,
    (chain as { side: unknown }).side,
    'so is a handle-free sibling on the way',
  );
  t.not(out.chain, chain, 'the containers on the way to a handle are copies');
  t.equal(
    message.list[1] instanceof Object && (message.list[1] as { lock: unknown }).lock,
    mutex,
    'the original is untouched',
  );
  t.same(envelope.handles.length, 1, 'one handle');
  t.same(
    envelope.handles[0].at.map((p) => p.length),
    [502, 3],
    'at the end of a 502-step path and in the list',
  );
});
