import t from 'tap';
import { Mutex, SharedArray, SharedValue, reviveHandle, type HandleRef } from '../dist';
import { Child } from './helpers/fork';
import { segmentExists, testName } from './helpers/shm';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const created: string[] = [];

/** Closes and unlinks a handle at teardown (the last test checks that nothing is left). */
function track<T extends { close(): void; unlink(): boolean; name: string }>(t: TapTest, handle: T): T {
  created.push(handle.name);
  t.teardown(() => {
    handle.close();
    handle.unlink();
  });
  return handle;
}

t.test('every SharedValue type: load, store, add (returns the new value), exchange, compareExchange', async (t) => {
  const i32 = track(t, new SharedValue({ type: 'int32' }));
  t.equal(i32.value, 0, 'starts at 0');
  t.equal(i32.add(5), 5);
  t.equal(i32.add(-7), -2, 'add returns the value after the addition');
  t.equal(i32.exchange(2 ** 31 - 1), -2, 'exchange returns the previous value');
  t.equal(i32.add(1), -(2 ** 31), 'int32 wraps around like Atomics');
  t.equal(i32.compareExchange(0, 9), -(2 ** 31), 'a failed compareExchange returns what it found');
  t.equal(i32.value, -(2 ** 31), 'and changes nothing');
  t.equal(i32.compareExchange(-(2 ** 31), 9), -(2 ** 31), 'a successful one returns the expected value');
  t.equal(i32.value, 9);

  const u32 = track(t, new SharedValue({ type: 'uint32', value: 1 }));
  t.equal(u32.add(-2), 2 ** 32 - 1, 'uint32 wraps below zero');
  t.equal(u32.add(2), 1);
  u32.value = 2 ** 32 - 1;
  t.equal(u32.value, 2 ** 32 - 1);

  const i64 = track(t, new SharedValue({ type: 'int64', value: 2n ** 63n - 1n }));
  t.equal(i64.add(1n), -(2n ** 63n), 'int64 (bigint) wraps');
  t.equal(i64.exchange(10n), -(2n ** 63n));
  t.equal(i64.compareExchange(10n, 11n), 10n);
  t.equal(i64.value, 11n);

  const f64 = track(t, new SharedValue({ type: 'float64', value: 0.5 }));
  t.equal(f64.add(0.25), 0.75);
  t.equal(f64.exchange(-0), 0.75);
  t.ok(Object.is(f64.compareExchange(0, 1), -0), 'float64 compares bit patterns: -0 is not 0');
  t.ok(Object.is(f64.value, -0));
  f64.value = NaN;
  t.ok(Number.isNaN(f64.compareExchange(NaN, 2)), 'NaN matches the same NaN pattern');
  t.equal(f64.value, 2);

  const flag = track(t, new SharedValue({ type: 'bool' }));
  t.equal(flag.value, false);
  t.equal(flag.compareExchange(false, true), false, 'the first compareExchange(false, true) wins');
  t.equal(flag.compareExchange(false, true), true, 'the second finds true');
  t.equal(flag.exchange(false), true);
  t.throws(() => (flag as SharedValue).add(1 as never), {
    message: /^add\(\) on SharedValue ".*" must be called on a numeric type, not 'bool'/,
  });
});

t.test('arguments are validated with the shared message template', async (t) => {
  t.throws(() => new SharedValue({ type: 'int32', value: 2 ** 31 }), {
    message: 'options.value must be an integer from -2147483648 to 2147483647. Received type number (2147483648)',
  });
  t.throws(() => new SharedValue({ type: 'int16' as never }), {
    message:
      "options.type must be one of 'int32', 'uint32', 'int64', 'float64', 'bool'. Received type string (\"int16\")",
  });
  t.throws(() => new SharedValue(testName('untyped')), { code: 'SHMSYNC_NOT_FOUND' }, 'without a type it only opens');
  t.throws(() => new SharedValue(undefined, {}), {
    message: 'options.type must be given to create a SharedValue. Received undefined',
  });
  t.throws(() => new SharedValue({ type: 'int32', lock: 'yes' as never }), {
    message: 'options.lock must be a boolean or a Mutex. Received type string ("yes")',
  });
  const v = track(t, new SharedValue({ type: 'int64' }));
  t.throws(() => v.add(1 as never), { message: 'n must be a bigint. Received type number (1)' });
  const i = track(t, new SharedValue({ type: 'int32' }));
  t.throws(
    () => {
      i.value = 1.5;
    },
    { message: 'value must be an integer from -2147483648 to 2147483647. Received type number (1.5)' },
  );
  t.throws(() => i.exchange(1n as never), { message: 'v must be an integer. Received type bigint (1n)' });
  t.throws(() => new SharedArray({ type: 'int32' }), {
    message: 'options.length must be given (or options.values) to create a SharedArray. Received undefined',
  });
  t.throws(() => new SharedArray({ type: 'int64', values: [1] }), {
    message: 'options.values[0] must be a bigint. Received type number (1)',
  });
  t.throws(() => new SharedArray({ type: 'uint8', length: 0 }), {
    message: /^options\.length must be an integer from 1 to /,
  });
});

t.test('opening by name checks the kind, type and length', async (t) => {
  const name = testName('value');
  const v = track(t, new SharedValue(name, { type: 'uint32', value: 7 }));
  const same = new SharedValue(name);
  t.equal(same.type, 'uint32', 'the type is read from the segment');
  t.equal(same.value, 7);
  same.close();
  const again = new SharedValue(name, { type: 'uint32', value: 99 });
  t.equal(again.value, 7, 'value is only the initial value of a created segment');
  again.close();
  t.throws(() => new SharedValue(name, { type: 'int32' }), { code: 'SHMSYNC_KIND_MISMATCH' });
  t.throws(() => new SharedArray(name), { code: 'SHMSYNC_KIND_MISMATCH' }, 'a SharedValue is not a SharedArray');
  const arrName = testName('array');
  const a = track(t, new SharedArray(arrName, { type: 'float32', length: 3 }));
  t.throws(() => new SharedArray(arrName, { type: 'float32', length: 4 }), { code: 'SHMSYNC_SIZE_MISMATCH' });
  t.throws(() => new SharedArray(arrName, { create: 'open', type: 'int32' }), { code: 'SHMSYNC_KIND_MISMATCH' });
  t.throws(() => new SharedValue(arrName), { code: 'SHMSYNC_KIND_MISMATCH' });
  t.equal(a.length, 3);
  t.equal(v.value, 7);
});

t.test('a lock created with the value travels with it and is unlinked with it', async (t) => {
  const name = testName('locked');
  const v = new SharedValue(name, { type: 'int32', lock: true });
  t.equal(v.lock?.name, `${name}.lock`);
  const opened = new SharedValue(name);
  t.equal(opened.lock?.name, `${name}.lock`, 'an opener gets the stored lock');
  const revived = reviveHandle<SharedValue>(JSON.parse(JSON.stringify(v)));
  t.equal(revived.lock?.name, `${name}.lock`, 'so does a revived reference');
  const without = new SharedValue(name, { lock: false });
  t.equal(without.lock, null, 'lock: false skips it');
  for (const h of [opened, revived, without]) h.close();
  v.close();
  t.equal(v.lock?.closed, true, 'close() closes the lock handle it opened');
  t.ok(segmentExists(`${name}.lock`));
  t.equal(SharedValue.unlink(name), true);
  t.equal(segmentExists(name) || segmentExists(`${name}.lock`), false, 'unlink removed both segments');
  t.equal(SharedValue.unlink(name), false, 'a second unlink reports nothing to remove');

  const m = new Mutex(testName('given'));
  t.teardown(() => {
    m.close();
    m.unlink();
  });
  const arr = track(t, new SharedArray({ type: 'int32', length: 2, lock: m }));
  t.equal(arr.lock, m, 'a given Mutex is used as is');
  const other = new SharedArray(arr.name);
  t.equal(other.lock?.name, m.name, 'and recorded for openers');
  other.close();
  t.equal(m.closed, false, 'a given Mutex is never closed by the array');
  t.throws(() => new SharedValue(track(t, new SharedValue({ type: 'bool' })).name, { lock: true }), {
    message: /^options\.lock must be omitted: SharedValue ".*" was created without a lock/,
  });
});

t.test('SharedArray: typed views over shared memory, references and lifecycle', async (t) => {
  const a = track(t, new SharedArray({ type: 'int64', values: [1n, 2n], length: 4 }));
  t.ok(a.array instanceof BigInt64Array);
  t.same([...a.array], [1n, 2n, 0n, 0n], 'values initialise, the rest is zero');
  const ref = JSON.parse(JSON.stringify(a)) as HandleRef;
  t.same(ref, { $shmsync: 'SharedArray', name: a.name, type: 'int64', length: 4 });
  const b = reviveHandle<SharedArray<'int64'>>(ref);
  b.array[3] = 9n;
  t.equal(a.array[3], 9n, 'writes through one handle are seen through the other (zero copy)');
  t.equal(Atomics.add(a.array, 0, 5n), 1n, 'Atomics work on the view');
  b.close();
  const kinds: Record<string, unknown> = {
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    uint32: Uint32Array,
    uint64: BigUint64Array,
    float32: Float32Array,
    float64: Float64Array,
  };
  for (const [type, ctor] of Object.entries(kinds)) {
    using x = new SharedArray({ type: type as 'int8', length: 3 });
    t.ok(
      x.array instanceof (ctor as typeof Int8Array) && x.array.length === 3,
      `${type} -> ${(ctor as { name: string }).name}`,
    );
    x.unlink();
  }
  const c = new SharedArray({ type: 'uint8', length: 1, lifetime: 'persistent' });
  c.close();
  c.close();
  t.throws(() => c.array, { code: 'SHMSYNC_CLOSED' });
  t.equal(c.unlink(), true, 'unlink works after close');
  const v = new SharedValue({ type: 'int32' });
  v[Symbol.dispose]();
  t.throws(() => v.value, { code: 'SHMSYNC_CLOSED' });
  t.throws(() => v.add(1), { code: 'SHMSYNC_CLOSED' });
  t.equal(v.unlink(), false, 'an anonymous value is attached: its last close already removed it');
});

t.test(
  '4 processes: atomic adds are exact, one compareExchange wins, the array lock protects two fields',
  async (t) => {
    const n = 20000;
    const refs = {
      i32: track(t, new SharedValue({ type: 'int32' })),
      u32: track(t, new SharedValue({ type: 'uint32' })),
      i64: track(t, new SharedValue({ type: 'int64' })),
      f64: track(t, new SharedValue({ type: 'float64' })),
      cas: track(t, new SharedValue({ type: 'int32' })),
      go: track(t, new SharedValue({ type: 'bool' })),
      winner: track(t, new SharedValue({ type: 'bool' })),
      arr: track(t, new SharedArray({ type: 'int32', length: 7, lock: true })),
    };
    const children = [0, 1, 2, 3].map((index) => new Child('lockable-values.js', [JSON.stringify({ index, n, refs })]));
    t.teardown(() => {
      for (const c of children) c.kill();
    });
    await Promise.all(children.map((c) => c.message('ready')));
    refs.go.value = true; // the start barrier
    const done = await Promise.all(children.map((c) => c.message<{ type: string; won: boolean }>('done')));
    t.same(
      await Promise.all(children.map((c) => c.exited)),
      children.map(() => ({ code: 0, signal: null })),
    );
    t.equal(done.filter((d) => d.won).length, 1, 'exactly one compareExchange(false, true) won');
    t.equal(refs.i32.value, 4 * n, 'int32');
    t.equal(refs.u32.value, 4 * n * 3, 'uint32');
    t.equal(refs.i64.value, BigInt(4 * n * 2), 'int64');
    t.equal(refs.f64.value, 4 * n, 'float64 (integer adds are exact)');
    t.equal(refs.cas.value, 4 * n, 'a compareExchange loop loses no increment');
    t.same(
      [...refs.arr.array],
      [n, n, n, n, 4 * n, -4 * n, 4 * n],
      'SharedArray: per-child slots, a shared slot and a locked transfer',
    );
  },
);

t.test('every segment these tests created is gone', async (t) => {
  const left = created.flatMap((name) => [name, `${name}.lock`]).filter(segmentExists);
  t.same(left, []);
});
