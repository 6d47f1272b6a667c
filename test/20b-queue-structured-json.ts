/**
 * The 'structured' codec's JSON form (src/wire/json-exact.ts, src/wire/codec.ts): values that
 * JSON carries exactly travel as `0x02` + JSON text, everything else as v8 as before. What a
 * reader gets must be indistinguishable from a v8 round trip, for every value: compared here over
 * a corpus of tricky values and a generated one, through a real queue (put/get, getMany) and the
 * record decoder, with types, prototypes and key order checked, and the user code each path runs
 * (getters, toJSON) counted.
 */
import t from 'tap';
import { isDeepStrictEqual, types } from 'node:util';
import * as v8 from 'node:v8';
import { ShmQueue } from '../dist';
import { decodeRecord } from '../dist/wire/codec';
import { jsonExact, kJsonExactChars, kJsonExactValues } from '../dist/wire/json-exact';
import { testName } from './helpers/shm';

function queueFor(tag: string, options: Record<string, unknown> = {}): ShmQueue {
  const q = new ShmQueue(testName(`sj-${tag}`), { create: 'create', capacity: 1 << 22, ...options });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  return q;
}

type Outcome = { ok: true; value: unknown } | { ok: false };

function viaV8(v: unknown): Outcome {
  try {
    return { ok: true, value: v8.deserialize(v8.serialize(v)) };
  } catch {
    return { ok: false };
  }
}

/**
 * Differences isDeepStrictEqual does not see: prototypes (it compares them, but not for every
 * exotic), own key order, array vs array-like, and shared/cyclic structure (same path pairs).
 */
function shapeDiff(a: unknown, b: unknown, path = '$', seen = new Map<object, unknown>()): string | null {
  if (typeof a !== typeof b) return `${path}: typeof ${typeof a} vs ${typeof b}`;
  if (typeof a !== 'object' || a === null || b === null)
    return Object.is(a, b) ? null : `${path}: ${String(a)} vs ${String(b)}`;
  const bo = b as object;
  if (seen.has(a)) return seen.get(a) === bo ? null : `${path}: shared/cyclic reference differs`;
  seen.set(a, bo);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(bo)) return `${path}: prototype differs`;
  if (Array.isArray(a) !== Array.isArray(bo)) return `${path}: array vs not`;
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(bo);
  if (!isDeepStrictEqual(ka, kb)) return `${path}: own keys ${String(ka)} vs ${String(kb)}`;
  for (const k of ka) {
    const da = Object.getOwnPropertyDescriptor(a, k)!;
    const db = Object.getOwnPropertyDescriptor(bo, k)!;
    if ('value' in da !== 'value' in db) return `${path}.${String(k)}: accessor vs data`;
    if ('value' in da) {
      const d = shapeDiff(da.value, db.value, `${path}.${String(k)}`, seen);
      if (d !== null) return d;
    }
  }
  return null;
}

function same(got: unknown, want: unknown): string | null {
  if (!isDeepStrictEqual(got, want)) return 'isDeepStrictEqual fails';
  return shapeDiff(got, want);
}

/** The tricky corpus: [label, factory] (a factory, since some values count calls). */
function corpus(): Array<[string, () => unknown]> {
  const shared = { s: 1 };
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const extra = Object.assign([1, 2], { extra: 'x' });
  const nonEnumExtra = [1, 2];
  Object.defineProperty(nonEnumExtra, 'hidden', { value: 5, enumerable: false });
  const withGetter = { a: 1 };
  Object.defineProperty(withGetter, 'g', { get: () => 2, enumerable: true });
  const nonEnumToJSON = { a: 1 };
  Object.defineProperty(nonEnumToJSON, 'toJSON', { value: () => 'replaced', enumerable: false });
  const protoKey = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown;
  const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
  const inherited = Object.create({ inheritedKey: 1 }) as object;
  const symbolKey = { a: 1, [Symbol('k')]: 2 };
  const nonEnum = { a: 1 };
  Object.defineProperty(nonEnum, 'b', { value: 2, enumerable: false });
  const frozen = Object.freeze({ a: Object.freeze([1]) });
  const deep: unknown[] = [];
  let cur = deep;
  for (let i = 0; i < 400; i++) {
    const next: unknown[] = [];
    cur.push(next);
    cur = next;
  }
  const deepSmall: Record<string, unknown> = {};
  let o = deepSmall;
  for (let i = 0; i < 50; i++) o = (o.n = {}) as Record<string, unknown>;
  const resetDate = Object.setPrototypeOf(new Date(0), Object.prototype) as object;
  const boxed = Object.setPrototypeOf(new Number(3), Object.prototype) as object;
  const u8reset = Object.setPrototypeOf(new Uint8Array([1, 2]), Object.prototype) as object;
  const errReset = Object.setPrototypeOf(new Error('e'), Object.prototype) as object;
  const tagged = { a: 1, [Symbol.toStringTag]: 'X' };
  const keyOrder = { b: 1, 2: 'two', a: 2, 1: 'one', '01': 'zero-one' };
  return [
    ['small object', () => ({ id: 1, name: 'n', ok: true, score: 0.5, tags: ['a', 'b'] })],
    ['empty object', () => ({})],
    ['empty array', () => []],
    ['null', () => null],
    ['true', () => true],
    ['string', () => 'hello'],
    ['empty string', () => ''],
    ['0', () => 0],
    ['-0', () => -0],
    ['-0 nested', () => ({ z: -0 })],
    ['NaN', () => NaN],
    ['NaN nested', () => [NaN]],
    ['Infinity', () => ({ i: Infinity })],
    ['-Infinity', () => [-Infinity]],
    ['max/min numbers', () => [Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, -(2 ** 31), 1e21, 1e-7, 0.1 + 0.2]],
    ['integers as keys, key order', () => keyOrder],
    ['sparse array', () => sparse],
    ['array with extra prop', () => extra],
    ['array with non-enumerable prop', () => nonEnumExtra],
    ['array of undefined', () => [undefined]],
    ['object with undefined value', () => ({ a: undefined, b: 1 })],
    ['undefined', () => undefined],
    ['object with getter', () => withGetter],
    ['__proto__ own key', () => protoKey],
    ['toJSON own key', () => ({ toJSON: 1, a: 2 })],
    ['toJSON non-enumerable method', () => nonEnumToJSON],
    ['Date', () => new Date(0)],
    ['object holding Date', () => ({ d: new Date(5) })],
    ['Map', () => new Map([[1, { a: 1 }]])],
    ['Set', () => new Set(['x'])],
    ['RegExp', () => /x/gi],
    ['Uint8Array', () => new Uint8Array([1, 2, 3])],
    ['Float64Array in object', () => ({ f: new Float64Array([1.5]) })],
    ['Buffer', () => Buffer.from('abc')],
    ['ArrayBuffer', () => new ArrayBuffer(4)],
    ['shared reference', () => ({ a: shared, b: shared })],
    ['shared reference in array', () => [shared, [shared]]],
    ['cycle', () => cyclic],
    ['very deep nesting', () => deep],
    ['deep small nesting', () => deepSmall],
    ['long string', () => 'x'.repeat(kJsonExactChars + 1)],
    ['long string in budget', () => ({ s: 'y'.repeat(kJsonExactChars - 10) })],
    ['many values', () => Array.from({ length: kJsonExactValues + 5 }, (_, i) => i)],
    ['lone surrogates', () => ({ hi: '\ud800', lo: 'a\udc00b', pair: '\ud83d\ude00', mixed: ['\udfff\ud800'] })],
    ['lone surrogate key', () => ({ '\ud800': 1 })],
    ['control chars and quotes', () => '\u0000\u0001\n\t"\\\u2028\u2029\u007f'],
    ['non-ASCII', () => ({ clé: 'vålue', cjk: '漢字', emoji: '😀' })],
    ['BigInt', () => 10n],
    ['BigInt nested', () => ({ b: [1n] })],
    ['symbol', () => Symbol('s')],
    ['symbol value in object', () => ({ s: Symbol('s') })],
    ['symbol key', () => symbolKey],
    ['non-enumerable own', () => nonEnum],
    ['null-prototype object', () => nullProto],
    ['inherited enumerable key', () => inherited],
    [
      'class instance',
      () =>
        new (class P {
          x = 1;
        })(),
    ],
    ['function', () => () => 1],
    ['function in object', () => ({ f() {} })],
    ['boxed primitive', () => new String('s')],
    ['frozen', () => frozen],
    ['Proxy', () => new Proxy({ a: 1 }, {})],
    ['Proxy array', () => new Proxy([1], {})],
    [
      'arguments object',
      () =>
        (function (..._a: unknown[]) {
          // eslint-disable-next-line prefer-rest-params
          return arguments;
        })(1, 2),
    ],
    ['process.env', () => process.env],
    ['Date with Object.prototype', () => resetDate],
    ['boxed Number with Object.prototype', () => boxed],
    ['Uint8Array with Object.prototype', () => u8reset],
    ['Error with Object.prototype', () => errReset],
    ['Symbol.toStringTag own key', () => tagged],
    ['Error', () => new TypeError('boom')],
    ['nested mix', () => ({ a: [{ b: [null, 'x', 1.25, false] }], c: { d: { e: [] } } })],
  ];
}

/** Deterministic generated values (xorshift), mostly JSON-able, with tricky leaves mixed in. */
function generated(count: number): unknown[] {
  let s = 0x9e3779b9;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const leaves: Array<() => unknown> = [
    () => Math.floor(rnd() * 1000) - 500,
    () => rnd() * 1e6,
    () => 'k' + Math.floor(rnd() * 100),
    () => rnd() < 0.5,
    () => null,
    () => String.fromCharCode(Math.floor(rnd() * 0xffff)),
    () => (rnd() < 0.05 ? -0 : 1),
    () => (rnd() < 0.05 ? undefined : 2),
    () => (rnd() < 0.05 ? NaN : 3),
    () => (rnd() < 0.03 ? new Date(1) : 4),
    () => (rnd() < 0.03 ? 5n : 5),
  ];
  const make = (depth: number): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.4) return leaves[Math.floor(rnd() * leaves.length)]();
    if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 6) }, () => make(depth + 1));
    const o: Record<string, unknown> = {};
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++)
      o[rnd() < 0.1 ? String(Math.floor(rnd() * 10)) : `f${Math.floor(rnd() * 20)}`] = make(depth + 1);
    return o;
  };
  return Array.from({ length: count }, () => make(0));
}

t.test('every value reads back exactly as a v8 round trip gives it (queue put/get and getMany)', async (t) => {
  const q = queueFor('corpus');
  const values: Array<[string, unknown]> = [
    ...corpus().map(([label, make]): [string, unknown] => [label, make()]),
    ...generated(600).map((v, i): [string, unknown] => [`generated #${i}`, v]),
  ];
  let jsonForm = 0;
  const failures: string[] = [];
  const accepted: Array<[string, Outcome & { ok: true }]> = [];
  for (const [label, v] of values) {
    const want = viaV8(v);
    let put = true;
    try {
      q.putSync(v);
    } catch (err) {
      put = false;
      if ((err as { code?: string }).code !== 'SHMSYNC_CODEC') failures.push(`${label}: put threw ${String(err)}`);
    }
    if (put !== want.ok) {
      failures.push(`${label}: put ${put ? 'accepted' : 'refused'} but v8 ${want.ok ? 'clones' : 'refuses'} it`);
      if (put) q.getSync();
      continue;
    }
    if (!put) continue;
    accepted.push([label, want as Outcome & { ok: true }]);
    if (jsonExact(v)) jsonForm += 1;
    const got = q.getSync();
    const diff = same(got, (want as { value: unknown }).value);
    if (diff !== null) failures.push(`${label}: ${diff}`);
  }
  t.same(failures, [], 'no value differs from its v8 round trip');
  t.ok(jsonForm > 300, `the JSON form is taken for the plain ones (${jsonForm} of ${accepted.length})`);
  // The same values again, in batches through getMany (its decode loop).
  const batch = accepted.map(([label]) => values.find(([l]) => l === label)![1]);
  for (let i = 0; i < batch.length; i += 64) {
    q.putManySync(batch.slice(i, i + 64));
    const got = await q.getMany(64);
    for (let j = 0; j < got.length; j++) {
      const diff = same(got[j], accepted[i + j][1].value);
      if (diff !== null) failures.push(`getMany ${accepted[i + j][0]}: ${diff}`);
    }
  }
  t.same(failures, [], 'getMany: no value differs from its v8 round trip');
});

t.test('the record form: 0x02 + JSON for plain data, v8 (0xFF) otherwise; drainSync sees the bytes', async (t) => {
  const q = queueFor('form');
  const plain = { id: 7, name: 'x', ok: true, at: null, list: [1, 2] };
  q.putManySync([plain, new Map(), { u: undefined }, -0, 'str']);
  const firsts: number[] = [];
  const texts: string[] = [];
  t.equal(
    q.drainSync((view) => {
      firsts.push(view[0]);
      texts.push(Buffer.from(view.subarray(1)).toString('utf8'));
    }),
    5,
  );
  t.same(firsts, [0x02, 0xff, 0xff, 0xff, 0x02], 'first bytes: JSON form for the plain values only');
  t.equal(texts[0], JSON.stringify(plain), 'the JSON form is the JSON text after the tag byte');
  t.equal(texts[4], '"str"');
});

t.test('deciding the form runs no user code: getters, accessor elements, toJSON are not called', async (t) => {
  const q = queueFor('calls');
  let calls = 0;
  const o: Record<string, unknown> = { a: 1 };
  Object.defineProperty(o, 'g', { enumerable: true, get: () => ((calls += 1), 5) });
  const arr = [0];
  Object.defineProperty(arr, 0, { enumerable: true, get: () => ((calls += 1), 6) });
  const hidden = { b: 1 };
  Object.defineProperty(hidden, 'toJSON', { value: () => ((calls += 1), 'replaced'), enumerable: false });
  const trapped = new Proxy({}, { has: () => ((calls += 1), false), get: () => ((calls += 1), undefined) });
  const overProxy = Object.create(trapped) as object;
  for (const v of [o, { arr }, [hidden], { deep: { o } }, overProxy, { p: overProxy }, trapped, [trapped]]) {
    t.equal(jsonExact(v), false, 'not JSON-exact');
  }
  t.equal(calls, 0, 'no getter, toJSON or Proxy trap ran while deciding');
  const value = { o, arr, hidden };
  const want = v8.deserialize(v8.serialize(value));
  q.putSync(value);
  t.equal(same(q.getSync(), want), null, "the getters' values, read as data; toJSON ignored");
});

t.test('maxMessageSize: a value whose JSON text is larger than its v8 form is not refused', async (t) => {
  const q = queueFor('limit', { capacity: 8192, maxMessageSize: 512 });
  const control = '\u0001'.repeat(300); // JSON: 6 bytes each; v8: 1 byte each
  const latin = 'é'.repeat(400); // UTF-8: 2 bytes each; v8 one-byte string: 1 byte each
  const values = [control, { s: control }, latin, [latin]];
  for (const v of values) {
    t.ok(v8.serialize(v).length <= 512 && jsonExact(v), 'v8 form fits, JSON-exact value');
    q.putSync(v);
    t.same(q.getSync(), v, 'accepted and read back');
  }
  q.putSync({ s: 'a'.repeat(400) });
  t.same(q.getSync(), { s: 'a'.repeat(400) }, 'near the limit in JSON form');
  t.throws(() => q.putSync('a'.repeat(600)), { code: 'SHMSYNC_TOO_LARGE' }, 'too large in both forms: refused');
  t.equal(q.tryGet(), undefined, 'nothing partial was written');
});

t.test('a corrupt JSON-form record is a CodecError, like a corrupt v8 one', async (t) => {
  for (const bytes of [
    Buffer.from([0x02]),
    Buffer.concat([Buffer.from([0x02]), Buffer.from('{"a":')]),
    Buffer.concat([Buffer.from([0x02]), Buffer.from('['.repeat(200000))]),
  ]) {
    t.throws(() => decodeRecord(3, bytes, 0, bytes.length, null), { code: 'SHMSYNC_CODEC' });
  }
  const ok = Buffer.concat([Buffer.from([0x02]), Buffer.from('{"__proto__":{"polluted":1}}')]);
  const v = decodeRecord(3, ok, 0, ok.length, null) as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(v), Object.prototype, '__proto__ in the text is an own key, never a prototype');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.ok(types.isProxy(v) === false);
});

t.test('a huge value falls back to v8 after a bounded walk', async (t) => {
  const bigArray = Array.from({ length: 1_000_000 }, (_, i) => i);
  const wideObject: Record<string, unknown> = {};
  for (let i = 0; i < 1000; i++) wideObject[`k${i}`] = [i, { i }];
  const nested = Array.from({ length: 200 }, () => ({ a: [1, 2, 3], b: 'x' }));
  t.equal(jsonExact(nested), false, '200 small objects: refused (over the value budget)');
  for (const [label, big] of [
    ['a million-element array', bigArray],
    ['a 1000-key object', wideObject],
  ] as const) {
    // Bounded: a walk of at most kJsonExactValues values (a whole walk would take seconds here).
    const t0 = process.hrtime.bigint();
    let accepted = false;
    for (let i = 0; i < 20; i++) accepted ||= jsonExact(big);
    const perCheckMs = Number(process.hrtime.bigint() - t0) / 1e6 / 20;
    t.equal(accepted, false, `${label}: refused`);
    t.ok(perCheckMs < 20, `${label}: after a bounded walk (${perCheckMs.toFixed(3)} ms per check)`);
  }
});
