import t from 'tap';
import * as fs from 'node:fs';
import { SharedMemory, reviveHandle, handleReviver } from '../dist';
import { Child, type Message } from './helpers/fork';
import { segmentExists, segmentMode, testName } from './helpers/shm';

type Shm = InstanceType<typeof SharedMemory>;
const Ctor = SharedMemory as unknown as new (name?: unknown, options?: unknown) => Shm;

/** Registers an unlink of `name` at teardown (harmless if already gone). */
function cleanup(t: { teardown(fn: () => void): void }, ...names: string[]): void {
  t.teardown(() => {
    for (const n of names) SharedMemory.unlink(n);
  });
}

t.test('bad names each get their own code and create nothing', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['empty name', '', 'SHMSYNC_INVALID_NAME'],
    ['201-byte name', 'n'.repeat(201), 'SHMSYNC_INVALID_NAME'],
    ['201 bytes of 3-byte characters', '€'.repeat(67), 'SHMSYNC_INVALID_NAME'],
    ['name with "/"', 'a/b', 'SHMSYNC_INVALID_NAME'],
    ['name with NUL', 'a\0b', 'SHMSYNC_INVALID_NAME'],
    ['number name', 42, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['null name', null, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['object name', { name: 'x' }, 'SHMSYNC_INVALID_ARG_TYPE'],
  ];
  for (const [what, name, code] of cases) {
    t.throws(() => new Ctor(name, { size: 16 }), { code, name: 'TypeError' }, what);
  }
  t.throws(() => SharedMemory.unlink('a/b'), { code: 'SHMSYNC_INVALID_NAME' }, 'static unlink validates too');
  // Judge only the files these names could have produced (other programs' segments may start
  // with the same letters): the name itself, or its part before a '/' or NUL.
  const candidates = new Set(['', 'a', 'a/b', 'a\0b', 'n'.repeat(201), '€'.repeat(67)].map((n) => `shmsync-${n}`));
  t.same(
    fs.readdirSync('/dev/shm').filter((f) => candidates.has(f)),
    [],
    'nothing created',
  );
  // The limit is in bytes: exactly 200 bytes (100 two-byte characters) is accepted.
  const longest = 'é'.repeat(100);
  cleanup(t, longest);
  const shm = new SharedMemory(longest, { size: 8, create: 'create' });
  t.ok(segmentExists(longest));
  shm.close();
});

t.test('bad sizes and options each get their own code and create nothing', async (t) => {
  const name = testName('badopt');
  cleanup(t, name);
  const cases: Array<[string, unknown, string]> = [
    ['size 0', { size: 0 }, 'SHMSYNC_OUT_OF_RANGE'],
    ['negative size', { size: -1 }, 'SHMSYNC_OUT_OF_RANGE'],
    ['non-integer size', { size: 1.5 }, 'SHMSYNC_OUT_OF_RANGE'],
    ['NaN size', { size: NaN }, 'SHMSYNC_OUT_OF_RANGE'],
    ['size above 2**32', { size: 2 ** 32 + 1 }, 'SHMSYNC_OUT_OF_RANGE'],
    ['Infinity size', { size: Infinity }, 'SHMSYNC_OUT_OF_RANGE'],
    ['string size', { size: '64' }, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['bigint size', { size: 64n }, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['unknown create mode', { size: 8, create: 'yes' }, 'SHMSYNC_INVALID_ARG_VALUE'],
    ['boolean create', { size: 8, create: true }, 'SHMSYNC_INVALID_ARG_VALUE'],
    ['string mode', { size: 8, mode: '0640' }, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['mode above 0o777', { size: 8, mode: 0o1000 }, 'SHMSYNC_OUT_OF_RANGE'],
    ['negative mode', { size: 8, mode: -1 }, 'SHMSYNC_OUT_OF_RANGE'],
    ['unknown option', { size: 8, colour: 'red' }, 'SHMSYNC_INVALID_ARG_VALUE'],
    ['create without size', { create: 'create' }, 'SHMSYNC_OUT_OF_RANGE'],
    ['options a number', 5, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['options null', null, 'SHMSYNC_INVALID_ARG_TYPE'],
    ['options an array', [], 'SHMSYNC_INVALID_ARG_TYPE'],
  ];
  for (const [what, options, code] of cases) {
    t.throws(() => new Ctor(name, options), { code }, what);
  }
  t.notOk(segmentExists(name), 'no segment was created by any bad call');
  // The message template, verbatim.
  t.throws(() => new Ctor(name, { size: 1.5 }), {
    message: 'options.size must be an integer from 1 to 4294967296. Received type number (1.5)',
  });
  t.throws(() => new Ctor(name, { size: 8, mode: '0640' }), {
    message: 'options.mode must be an integer. Received type string ("0640")',
  });
  t.throws(() => new Ctor(42), { message: 'name must be a string. Received type number (42)' });
  t.throws(
    () => new Ctor(name, { length: 64 }),
    {
      code: 'SHMSYNC_INVALID_ARG_VALUE',
      message: "options.length must be spelled 'size'. Received type number (64)",
    },
    'a misspelled option gets a targeted message',
  );
  t.throws(() => new Ctor(name, { size: 8, colour: 'red' }), {
    message:
      'options.colour must be one of the known options (size, create, mode, lifetime, allowForeignOwner). Received type string ("red")',
  });
  // The upper bound itself is accepted: a sparse 4 GiB segment (only the touched page is used).
  const big = new SharedMemory(name, { size: 2 ** 32, create: 'create' });
  big.buffer[2 ** 32 - 1] = 9;
  t.same([big.size, big.buffer.length, big.read(2 ** 32 - 1)[0]], [2 ** 32, 2 ** 32, 9], 'size 2**32 works');
  big.close();
});

t.test('create / open conflicts: not found, exists, size mismatch', async (t) => {
  const name = testName('conflict');
  cleanup(t, name);
  t.throws(() => new SharedMemory(name), { code: 'SHMSYNC_NOT_FOUND', name: 'NotFoundError' }, 'open by default');
  t.throws(() => new SharedMemory(name, { size: 8, create: 'open' }), { code: 'SHMSYNC_NOT_FOUND' });
  t.notOk(segmentExists(name));
  const a = new SharedMemory(name, { size: 64, create: 'create' });
  t.teardown(() => a.close());
  t.equal(a.created, true);
  t.throws(() => new SharedMemory(name, { size: 64, create: 'create' }), {
    code: 'SHMSYNC_EXISTS',
    name: 'ExistsError',
  });
  t.throws(() => new SharedMemory(name, { size: 128 }), { code: 'SHMSYNC_SIZE_MISMATCH' }, 'openOrCreate, other size');
  t.throws(() => new SharedMemory(name, { size: 32, create: 'open' }), { code: 'SHMSYNC_SIZE_MISMATCH' });
  const b = new SharedMemory(name);
  t.equal(b.created, false, 'open without size attaches');
  t.equal(b.size, 64, 'and learns the size');
  b.buffer[3] = 42;
  t.equal(a.buffer[3], 42, 'both handles map the same memory');
  b.close();
});

/** Writes a segment file by hand with the header of native/core/layout.h. */
function writeSegment(name: string, h: { magic?: number; version?: number; kind?: number; payload?: number }): void {
  const payload = h.payload ?? 64;
  const buf = Buffer.alloc(64 + payload);
  buf.writeUInt32LE(h.magic ?? 0x534d4853, 0);
  buf.writeUInt16LE(h.version ?? 1, 4);
  buf.writeUInt16LE(h.kind ?? 1, 6);
  buf.writeBigUInt64LE(BigInt(64 + payload), 16);
  buf.writeBigUInt64LE(64n, 24);
  buf.writeBigUInt64LE(BigInt(payload), 32);
  buf.write('payload!', 64);
  fs.writeFileSync(`/dev/shm/shmsync-${name}`, buf, { mode: 0o600, flag: 'wx' });
}

t.test('segments of another kind, version or with a bad header are refused', async (t) => {
  const good = testName('hdr-good');
  const kind = testName('hdr-kind');
  const version = testName('hdr-version');
  const magic = testName('hdr-magic');
  cleanup(t, good, kind, version, magic);
  writeSegment(good, {});
  const shm = new SharedMemory(good, { create: 'open' });
  t.equal(shm.read(0, 8).toString(), 'payload!', 'a hand-written valid header opens (the layout is right)');
  shm.close();
  writeSegment(kind, { kind: 2 });
  t.throws(() => new SharedMemory(kind), { code: 'SHMSYNC_KIND_MISMATCH', name: 'KindMismatchError' });
  t.throws(() => new SharedMemory(kind, { size: 64 }), { code: 'SHMSYNC_KIND_MISMATCH' }, 'openOrCreate too');
  writeSegment(version, { version: 2 });
  t.throws(() => new SharedMemory(version), { code: 'SHMSYNC_VERSION_MISMATCH', name: 'VersionMismatchError' });
  writeSegment(magic, { magic: 0xdeadbeef });
  t.throws(() => new SharedMemory(magic), { code: 'SHMSYNC_CORRUPT', name: 'CorruptError' });
  t.ok(segmentExists(kind) && segmentExists(version) && segmentExists(magic), 'refused segments are left alone');
});

t.test('a segment truncated or grown by someone else is corrupt, not a SIGBUS', async (t) => {
  const name = testName('trunc');
  cleanup(t, name);
  const path = `/dev/shm/shmsync-${name}`;
  const first = new SharedMemory(name, { size: 4096, create: 'create' });
  first.close();
  for (const [what, length] of [
    ['half the payload', 64 + 2048],
    ['inside the header', 20],
    ['empty', 0],
    ['grown', 8192],
  ] as const) {
    fs.truncateSync(path, length);
    t.throws(() => new SharedMemory(name), { code: 'SHMSYNC_CORRUPT' }, `${what}: open`);
    t.throws(() => new SharedMemory(name, { size: 4096 }), { code: 'SHMSYNC_CORRUPT' }, `${what}: openOrCreate`);
  }
  t.ok(segmentExists(name), 'openOrCreate does not replace a corrupt segment');
});

t.test('permissions: 0o600 by default, the requested mode otherwise (umask ignored)', async (t) => {
  const byDefault = testName('mode-default');
  const asked = testName('mode-640');
  const wide = testName('mode-666');
  cleanup(t, byDefault, asked, wide);
  new SharedMemory(byDefault, { size: 8 }).close();
  new SharedMemory(asked, { size: 8, mode: 0o640 }).close();
  const previous = process.umask(0o022);
  t.teardown(() => process.umask(previous));
  new SharedMemory(wide, { size: 8, mode: 0o666 }).close();
  t.equal(segmentMode(byDefault).toString(8), '600');
  t.equal(segmentMode(asked).toString(8), '640');
  t.equal(segmentMode(wide).toString(8), '666', 'umask 022 does not strip group/other write');
});

t.test('close, use after close, detached views, dispose', async (t) => {
  const name = testName('close');
  cleanup(t, name);
  const shm = new SharedMemory(name, { size: 64 });
  const view = shm.buffer;
  const sub = new Uint32Array(view.buffer, 8, 4);
  view[0] = 1;
  t.equal(shm.buffer, view, 'buffer returns the same view each time');
  t.equal(shm.closed, false);
  shm.close();
  t.doesNotThrow(() => shm.close(), 'close twice is harmless');
  t.equal(shm.closed, true);
  t.equal(view.length, 0, 'views from .buffer have length 0 after close');
  t.equal(sub.length, 0, 'derived views too');
  t.equal(view[0], undefined, 'and read nothing');
  t.throws(() => shm.buffer, { code: 'SHMSYNC_CLOSED', name: 'ClosedError' });
  t.throws(() => shm.read(), { code: 'SHMSYNC_CLOSED' });
  t.throws(() => shm.write(Buffer.from('x')), { code: 'SHMSYNC_CLOSED' });
  t.equal(shm.size, 64, 'size is still known');
  const again = new SharedMemory(name);
  t.equal(again.buffer[0], 1, 'closing unmaps, it does not remove');
  again[Symbol.dispose]();
  t.equal(again.closed, true, 'Symbol.dispose closes');
  t.throws(() => again.read(), { code: 'SHMSYNC_CLOSED' });
});

t.test('read/write copy in and out, with range checks', async (t) => {
  const name = testName('rw');
  cleanup(t, name);
  const shm = new SharedMemory(name, { size: 32 });
  t.teardown(() => shm.close());
  const source = Buffer.from('hello');
  shm.write(source, 10);
  source[0] = 0x4a; // 'J': mutating the source afterwards changes nothing
  t.equal(Buffer.from(shm.buffer.subarray(10, 15)).toString(), 'hello', 'write copies in');
  const out = shm.read(10, 5);
  t.ok(Buffer.isBuffer(out));
  t.equal(out.toString(), 'hello');
  out[0] = 0x4a;
  t.equal(shm.buffer[10], 0x68, 'read copies out');
  t.equal(shm.read().length, 32, 'read() reads everything');
  t.equal(shm.read(30).length, 2, 'read(offset) reads to the end');
  t.equal(shm.read(32).length, 0, 'an empty read at the end is fine');
  const backing = new Uint8Array([9, 8, 7, 6, 5]);
  shm.write(backing.subarray(2, 4), 0); // a view with a byte offset
  t.same([...shm.read(0, 2)], [7, 6], 'views with a byteOffset write their own bytes');
  const range: Array<[string, () => unknown]> = [
    ['read at -1', () => shm.read(-1)],
    ['read past the end', () => shm.read(0, 33)],
    ['read offset past the end', () => shm.read(33)],
    ['read at 1.5', () => shm.read(1.5, 1)],
    ['write too long', () => shm.write(Buffer.alloc(33))],
    ['write past the end', () => shm.write(Buffer.alloc(2), 31)],
    ['write at -1', () => shm.write(Buffer.alloc(1), -1)],
  ];
  for (const [what, fn] of range) t.throws(fn, { code: 'SHMSYNC_OUT_OF_RANGE', name: 'RangeError' }, what);
  t.throws(() => shm.read('1' as unknown as number), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => shm.write('text' as unknown as Uint8Array), { code: 'SHMSYNC_INVALID_ARG_TYPE', name: 'TypeError' });
  t.same([...shm.read(0, 2)], [7, 6], 'failed calls wrote nothing');
});

t.test('unlink, unnamed segments, and handle references', async (t) => {
  const shm = new SharedMemory(undefined, { size: 16 });
  cleanup(t, shm.name);
  t.teardown(() => shm.close());
  t.match(shm.name, /^shm-/, 'an unnamed segment gets a unique name');
  t.equal(shm.created, true);
  t.throws(() => new SharedMemory(undefined), { code: 'SHMSYNC_OUT_OF_RANGE' }, 'unnamed needs a size');
  const ref = JSON.parse(JSON.stringify(shm));
  t.same(ref, { $shmsync: 'SharedMemory', name: shm.name, size: 16 });
  const revived = reviveHandle<Shm>(ref);
  t.teardown(() => revived.close());
  t.equal(revived.created, false);
  revived.buffer[5] = 55;
  t.equal(shm.buffer[5], 55, 'the revived handle maps the same segment');
  const nested = JSON.parse(JSON.stringify({ inner: { shm } }), handleReviver) as { inner: { shm: Shm } };
  t.ok(nested.inner.shm instanceof SharedMemory, 'handleReviver reopens nested references');
  t.equal(nested.inner.shm.buffer[5], 55);
  nested.inner.shm.close();
  t.throws(() => reviveHandle({ $shmsync: 'Nope', name: 'x' }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.equal(shm.unlink(), true, 'unlink removes the name');
  t.notOk(segmentExists(shm.name));
  t.equal(shm.unlink(), false, 'a second unlink reports it was gone');
  t.equal(SharedMemory.unlink(shm.name), false);
  shm.buffer[0] = 7;
  t.equal(shm.read(0, 1)[0], 7, 'the mapping stays usable after unlink');
  t.throws(() => reviveHandle(ref), { code: 'SHMSYNC_NOT_FOUND' }, 'an unlinked reference cannot be reopened');
});

t.test('8 processes racing to create the same 50 names: one creator each, all attach', async (t) => {
  const racers = 8;
  const size = 4096;
  const names = Array.from({ length: 50 }, (_, i) => testName(`race${i}`));
  cleanup(t, ...names);
  const children = Array.from({ length: racers }, () => new Child('shm-race.js'));
  t.teardown(() => children.forEach((c) => c.kill()));
  await Promise.all(children.map((c) => c.message('ready')));
  // Every racer is loaded; release them together.
  const outcomes = children.map((c) => {
    const failed = c.message('error').then((e: Message) => {
      throw new Error(`racer failed: ${e.code} ${e.message}`);
    });
    return Promise.race([c.message<Message & { results: RaceResult[] }>('done'), failed]);
  });
  for (const c of children) c.send({ type: 'go', names, size });
  const reports = await Promise.all(outcomes);
  const exits = await Promise.all(children.map((c) => c.exited));
  t.same(exits, Array(racers).fill({ code: 0, signal: null }), 'every racer exits cleanly');
  const wrong: unknown[] = [];
  for (const [i, name] of names.entries()) {
    const rows = reports.map((r) => r.results[i]);
    const creators = rows.filter((r) => r.name === name && r.created).length;
    const initialised = rows.every((r) => r.size === size && r.zero);
    const shm = new SharedMemory(name, { create: 'open' });
    const attached = new Int32Array(shm.buffer.buffer, 0, 1)[0]; // bumped once by each racer
    shm.close();
    if (creators !== 1 || !initialised || attached !== racers) wrong.push({ name, creators, initialised, attached });
  }
  t.same(wrong, [], `for each name: exactly one creator, ${racers} attached to the same zeroed segment`);
  const pids = new Set(children.map((c) => String(c.proc.pid)));
  const tmp = fs.readdirSync('/dev/shm').filter((f) => f.startsWith('shmsync.tmp-') && pids.has(f.split('-')[1]));
  t.same(tmp, [], 'losers leave no temporary segment behind');
});

interface RaceResult {
  name: string;
  created: boolean;
  size: number;
  zero: boolean;
}
