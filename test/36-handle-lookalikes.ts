// Issue 9 item 13: handle references travel out of band. User data that looks like a reference
// ({ $shmsync, name }, or the old in-band marker) round-trips as the same plain data through
// every codec and through pcall arguments and results, while real handles still travel.
import t from 'tap';
import * as v8 from 'node:v8';
import {
  CodecError, Mutex, SharedMemory, ShmQueue, decodeHandles, encodeHandles, pcall,
} from '../dist';
import { decodeRecord } from '../dist/core/codec';

// RecordType is a const enum (no runtime object): Json = 2, Structured = 3.
const RecordType = { Json: 2, Structured: 3 } as const;

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

function fixtures(t: TapTest): { mutex: Mutex; shm: SharedMemory; lookalikes: unknown } {
  const mutex = new Mutex();
  const shm = new SharedMemory(undefined, { size: 64 });
  t.teardown(() => { mutex.close(); mutex.unlink(); shm.close(); shm.unlink(); });
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
    t.teardown(() => { q.close(); q.unlink(); });

    q.putSync({ data: lookalikes });
    const only = q.getSync() as { data: unknown };
    t.same(only.data, lookalikes, 'a message with no handle: the same data');
    t.ok(plainOnly(only.data), 'and nothing in it became a handle');

    q.putSync({ data: lookalikes, real: { mutex, shm }, again: mutex });
    const mixed = q.getSync() as { data: unknown; real: { mutex: Mutex; shm: SharedMemory }; again: Mutex };
    t.same(mixed.data, lookalikes, 'next to real handles: the same data');
    t.ok(plainOnly(mixed.data), 'and nothing in it became a handle');
    t.ok(mixed.real.mutex instanceof Mutex && mixed.real.mutex.name === mutex.name, 'a real Mutex arrives as a Mutex');
    t.ok(mixed.real.shm instanceof SharedMemory && mixed.real.shm.name === shm.name, 'a real SharedMemory arrives as one');
    if (codec === 'structured') t.equal(mixed.again, mixed.real.mutex, 'one handle sent twice arrives as one object');
    for (const h of new Set([mixed.real.mutex, mixed.real.shm, mixed.again])) (h as { [Symbol.dispose](): void })[Symbol.dispose]();

    q.putSync(mutex);
    const top = q.getSync() as Mutex;
    t.ok(top instanceof Mutex, 'a handle as the whole message');
    top.close();
  });
}

t.test('structured codec: handles inside Maps (keys and values) and Sets, next to look-alikes', async (t) => {
  const { mutex, shm, lookalikes } = fixtures(t);
  const q = new ShmQueue(undefined, { codec: 'structured', capacity: 8192 });
  t.teardown(() => { q.close(); q.unlink(); });
  q.putSync(new Map<unknown, unknown>([['a', lookalikes], [mutex, 1], ['shm', shm], ['set', new Set([1, shm, mutex, 2])]]));
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
  const [echo] = await pcall(
    (data: unknown, real: { lock: unknown }) => {
      const isPlain = (v: unknown): boolean => typeof v !== 'object' || v === null ||
        ([Object.prototype, Array.prototype].includes(Object.getPrototypeOf(v)) && Object.values(v as object).every(isPlain));
      return {
        data, plain: isPlain(data), lockKind: (real.lock as object).constructor.name,
        back: real.lock, fake: { $shmsync: 'Mutex', name: 'x' },
      };
    },
    { cargs: [lookalikes, { lock: mutex }], iargs: [[]] },
  ) as Array<{ data: unknown; plain: boolean; lockKind: string; back: Mutex; fake: unknown }>;
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
    for (const [kind, type, bytes] of [['structured', RecordType.Structured, structured(envelope)], ['json', RecordType.Json, json(envelope)]] as const) {
      t.throws(() => decodeRecord(type, bytes, 0, bytes.length, null), CodecError, `${kind}: ${what}`);
    }
  }
  const mapCase = { value: new Map([['a', 1]]), handles: [{ ref, at: [[{ map: 7 }]] }] };
  const bytes = structured(mapCase);
  t.throws(() => decodeRecord(RecordType.Structured, bytes, 0, bytes.length, null), CodecError, 'a Map step out of range');
  t.equal(({} as Record<string, unknown>).$shmsync, undefined, 'Object.prototype untouched');
});
