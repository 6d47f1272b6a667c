// `shmsync ls` / `inspect` / `watch` against live objects held by fixture processes.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Mutex, SharedArray, SharedValue, ShmQueue } from '../dist';
import { lsSchema } from '../dist/cli/schema';
import { Child, forkReady } from './helpers/fork';
import { cliBase, lsJson, runCli } from './helpers/cli';

const shm = (name: string): string => `/dev/shm/shmsync-${name}`;

async function ask(child: Child, type: string, name: string): Promise<any> {
  child.send({ type, name });
  const m = await child.message<any>(type);
  if (m.error) throw new Error(`fixture ${type} failed: ${m.error}`);
  return m;
}

function cleanup(t: Test, ...names: string[]): void {
  t.teardown(() => {
    for (const n of names) fs.rmSync(shm(n), { force: true });
  });
}

/**
 * Opens `name` in this process too. Other suites running concurrently remove, at their end, the
 * segments they see appear that no process maps *by path* (scripts/run-tap.js before the
 * identity fix): a fixture maps what it created under its temporary name only.
 */
function pin(t: Test, name: string, kind: 'mutex' | 'queue'): void {
  const h = kind === 'mutex' ? new Mutex(name, { create: 'open' }) : new ShmQueue(name, { create: 'open' });
  t.teardown(() => h.close());
}

const validate = new Ajv2020({ allErrors: true }).compile(lsSchema);

t.test('a held lock: holder pid, depth, users; reading changes no byte', async (t) => {
  const base = cliBase();
  const name = `${base}-held`;
  cleanup(t, name);
  const child = await forkReady('cli-objects.js');
  t.teardown(() => child.kill());
  const { pid } = await ask(child, 'hold', name);
  pin(t, name, 'mutex');
  const before = fs.readFileSync(shm(name));
  const out = await lsJson(name);
  t.ok(validate(out), JSON.stringify(validate.errors));
  t.equal(out.objects.length, 1);
  const o = out.objects[0];
  t.match(o, { name, kind: 'mutex', status: 'ok', layoutVersion: 1, size: 192 });
  t.ok(
    o.users.some((u: any) => u.pid === pid && u.how === 'map'),
    'the holder maps it',
  );
  t.match(o.lock, {
    locked: true,
    depth: 2,
    waiters: 0,
    ownerDeaths: 0,
    consistency: 'consistent',
    policy: 'recover',
    fence: '1',
  });
  t.match(o.lock.holder, { pid, alive: true, threadId: 0, since: null });
  const text = await runCli(['ls', name]);
  t.equal(text.code, 0);
  t.match(text.stdout, new RegExp(`held by pid ${pid}`));
  const insp = await runCli(['inspect', name]);
  t.equal(insp.code, 0, insp.stderr);
  t.match(insp.stdout, /layout version 1/);
  t.match(insp.stdout, new RegExp(`holder: pid ${pid} tid \\d+ thread 0, alive`));
  t.match(insp.stdout, /state words/);
  t.same(fs.readFileSync(shm(name)), before, 'ls and inspect changed no byte of the segment');
});

t.test('since when: none for an uncontended hold, a bound once a waiter slept, exact after a wait', async (t) => {
  const name = `${cliBase()}-since`;
  cleanup(t, name);
  const child = await forkReady('cli-objects.js');
  t.teardown(() => child.kill());
  const { pid } = await ask(child, 'hold', name);
  pin(t, name, 'mutex');
  const holderOf = async (): Promise<any> => (await lsJson(name)).objects[0].lock.holder;
  t.match(await holderOf(), { pid, since: null, sinceExact: null }, 'the fast path stamps nothing');

  // A waiter that goes to sleep stamps "held at least since" (its acquire then times out).
  const m = new Mutex(name, { create: 'open' });
  t.teardown(() => m.close());
  const beforeWait = Math.floor(Date.now() / 1000) * 1000;
  t.equal(m.acquireSync({ timeout: 300 }), false, 'the child still holds it');
  let h = await holderOf();
  t.ok(validate((await lsJson(name)) as object), JSON.stringify(validate.errors));
  t.equal(h.sinceExact, false, 'a bound, not the acquisition time');
  const bound = Date.parse(h.since);
  t.ok(bound >= beforeWait && bound <= Date.now(), `${h.since} is when this process waited`);
  t.match((await runCli(['ls', name])).stdout, new RegExp(`held by pid ${pid} for ≥\\d+s`));
  t.match((await runCli(['inspect', name])).stdout, /since at least \d{4}-\d\d-\d\dT/);

  // Exact: the child releases; this process holds (fast path), the child waits in acquireSync,
  // and takes it through the native path once this process releases.
  child.send({ type: 'release', name });
  await child.message('release');
  t.equal(m.acquireSync({ timeout: 10_000 }), true);
  const acquired = child.message<any>('acquire');
  child.send({ type: 'acquire', name });
  while (m.info().waiters === 0) await new Promise((r) => setImmediate(r)); // the child sleeps
  const beforeRelease = Math.floor(Date.now() / 1000) * 1000;
  m.release();
  t.notOk((await acquired).error, 'the child acquired it');
  h = await holderOf();
  t.match(h, { pid, sinceExact: true });
  const exact = Date.parse(h.since);
  t.ok(exact >= beforeRelease && exact <= Date.now(), `${h.since} is when the child acquired it`);
  t.match((await runCli(['inspect', name])).stdout, /since \d{4}-\d\d-\d\dT\S+ \(acquired then, for \d+s\)/);
});

t.test('hostile held_since words: never a crash, never a stamp in the future', async (t) => {
  // Any process that maps the lock can write any 64-bit value there. This process holds the
  // lock (fast path: no stamp of its own) and forges stamps tagged with the current fence, so
  // they describe this very hold.
  const name = `${cliBase()}-forged`;
  cleanup(t, name);
  const m = new Mutex(name);
  t.teardown(() => m.close());
  t.ok(m.acquireSync());
  t.teardown(() => m.release());
  const fd = fs.openSync(shm(name), 'r+');
  t.teardown(() => fs.closeSync(fd));
  const word = (offset: number, bytes: number): Buffer => {
    const b = Buffer.alloc(bytes);
    fs.readSync(fd, b, 0, bytes, 64 + offset);
    return b;
  };
  const fenceLo = BigInt(word(64, 4).readUInt32LE(0));
  const forge = (v: bigint): void => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    fs.writeSync(fd, b, 0, 8, 64 + 32);
  };
  const nowSeconds = BigInt(Math.floor(Date.now() / 1000) - 1704067200);
  const cases: Array<[string, bigint]> = [
    ['the largest exact stamp (2092)', (fenceLo << 32n) | 0xffffffffn],
    ['the largest bound', (fenceLo << 32n) | 0x7fffffffn],
    ['an exact stamp one day ahead', (fenceLo << 32n) | 0x80000000n | (nowSeconds + 86400n)],
  ];
  for (const [what, v] of cases) {
    forge(v);
    const out = await lsJson(name);
    t.ok(validate(out), `${what}: ${JSON.stringify(validate.errors)}`);
    t.match(out.objects[0].lock.holder, { pid: process.pid, since: null, sinceExact: null }, `${what}: not shown`);
    const ls = await runCli(['ls', name]);
    t.equal(ls.code, 0, ls.stderr);
    t.notMatch(ls.stdout, /held by pid \d+ for/, `${what}: ls claims no duration`);
    const inspect = await runCli(['inspect', name]);
    t.equal(inspect.code, 0, inspect.stderr);
    t.match(inspect.stdout, /since: unknown \(its stamp \S+ lies in the future/, `${what}: inspect says why`);
    const watch = await runCli(['watch', name, '--json', '--count', '1']);
    t.equal(watch.code, 0, watch.stderr);
    t.match(JSON.parse(watch.stdout).objects[0].lock.holder, { since: null }, `${what}: watch --json`);
  }
  // Every bit set, the fence too (the tag then matches): still a valid document.
  const fence = word(64, 4);
  t.teardown(() => fs.writeSync(fd, fence, 0, 4, 64 + 64));
  fs.writeSync(fd, Buffer.alloc(4, 0xff), 0, 4, 64 + 64);
  forge(0xffffffffffffffffn);
  const out = await lsJson(name);
  t.ok(validate(out), JSON.stringify(validate.errors));
  t.match(out.objects[0].lock, { fence: '4294967295', holder: { since: null } });
  // A stamp in the past is shown as written (a hint: nothing can tell a forged one from a real one).
  fs.writeSync(fd, fence, 0, 4, 64 + 64);
  forge((fenceLo << 32n) | 0x80000000n | (nowSeconds - 60n));
  const past = (await lsJson(name)).objects[0].lock.holder;
  t.equal(past.sinceExact, true);
  t.equal(Date.parse(past.since), Number(nowSeconds - 60n + 1704067200n) * 1000);
});

t.test('a lock whose holder was SIGKILLed: dead holder, nobody maps it', async (t) => {
  const name = `${cliBase()}-dead`;
  cleanup(t, name);
  const child = await forkReady('cli-objects.js');
  const { pid } = await ask(child, 'hold', name);
  const m = new Mutex(name, { create: 'open' });
  t.teardown(() => m.close());
  child.kill('SIGKILL');
  await child.exited;
  const o = (await lsJson(name)).objects[0];
  t.match(o.lock, { locked: true, holder: { pid, alive: false } });
  t.same(
    o.users.map((u: any) => u.pid),
    [process.pid],
    'the killed holder maps nothing; this process does',
  );
  const text = await runCli(['ls', name]);
  t.match(text.stdout, new RegExp(`held by DEAD pid ${pid}`));
  // The next user recovers it: the CLI's view follows.
  t.equal(m.acquireSync({ timeout: 10_000 }), true);
  const after = (await lsJson(name)).objects[0];
  t.match(after.lock, { ownerDeaths: 1, holder: { pid: process.pid, alive: true } });
  t.ok(after.users.some((u: any) => u.pid === process.pid));
  m.release();
});

t.test('a full queue and an ended queue', async (t) => {
  const base = cliBase();
  cleanup(t, `${base}-full`, `${base}-ended`);
  const child = await forkReady('cli-objects.js');
  t.teardown(() => child.kill());
  const { messages } = await ask(child, 'fill', `${base}-full`);
  await ask(child, 'ended', `${base}-ended`);
  pin(t, `${base}-full`, 'queue');
  pin(t, `${base}-ended`, 'queue');
  const out = await lsJson(`${base}-*`);
  t.ok(validate(out), JSON.stringify(validate.errors));
  const full = out.objects.find((o: any) => o.name === `${base}-full`);
  const ended = out.objects.find((o: any) => o.name === `${base}-ended`);
  t.ok(messages > 0);
  t.match(full.queue, {
    capacity: 1024,
    depth: messages,
    ended: false,
    messagesIn: String(messages),
    messagesOut: '0',
  });
  t.ok(full.queue.bytesFree < 112, `no room for another 100-byte message (${full.queue.bytesFree} free)`);
  t.equal(full.queue.bytesUsed + full.queue.bytesFree, 1024);
  t.match(ended.queue, { depth: 1, ended: true });
  const text = await runCli(['ls', `${base}-*`]);
  t.match(text.stdout, new RegExp(`${messages} msgs, ${full.queue.bytesUsed}B/1K used`));
  t.match(text.stdout, /1 msg, 16B\/1K used,\s+ended/);
});

t.test('a segment only its creator maps is judged in use (identity, not path)', async (t) => {
  const name = `${cliBase()}-mine`;
  cleanup(t, name);
  const child = await forkReady('cli-objects.js');
  t.teardown(() => child.kill());
  const { pid } = await ask(child, 'create', name);
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  t.notOk(maps.includes(shm(name)), 'the creator maps it under its temporary name only');
  t.match(
    maps,
    /\/dev\/shm\/(shmsync\.tmp-.*|#\d+) \(deleted\)/,
    'an unnamed (O_TMPFILE) or temporary file, shown as deleted',
  );
  pin(t, name, 'mutex'); // see pin(); the creator must still be named, by identity
  const o = (await lsJson(name)).objects[0];
  t.ok(
    o.users.some((u: any) => u.pid === pid),
    'ls names the creator as a user',
  );
});

t.test('corrupted and truncated segments are reported, never crash', async (t) => {
  const base = cliBase();
  const files: Record<string, Buffer> = {};
  const header = (kind: number, total: number): Buffer => {
    const b = Buffer.alloc(total);
    b.writeUInt32LE(0x534d4853, 0);
    b.writeUInt16LE(1, 4);
    b.writeUInt16LE(kind, 6);
    b.writeBigUInt64LE(BigInt(total), 16);
    b.writeBigUInt64LE(64n, 24);
    b.writeBigUInt64LE(BigInt(total - 64), 32);
    return b;
  };
  files.empty = Buffer.alloc(0);
  files.short = Buffer.from('SHMS');
  files.magic = Buffer.alloc(192, 0xab);
  files.version = (() => {
    const b = header(2, 192);
    b.writeUInt16LE(9, 4);
    return b;
  })();
  files.kind = header(77, 192);
  files.size = (() => {
    const b = header(2, 192);
    b.writeBigUInt64LE(1n << 40n, 16);
    return b;
  })();
  files.mutexshort = header(2, 128);
  files.policy = (() => {
    const b = header(2, 192);
    b.writeUInt32LE(7, 64 + 12);
    return b;
  })();
  files.ring = (() => {
    const b = header(3, 64 + 512 + 1024);
    b.writeBigUInt64LE(1000n, 64 + 128);
    return b;
  })();
  files.positions = (() => {
    const b = header(3, 64 + 512 + 1024);
    b.writeBigUInt64LE(1024n, 64 + 128);
    b.writeUInt32LE(100, 64 + 136);
    b.writeBigUInt64LE(5000n, 64); // tail far past head
    return b;
  })();
  files.owners = header(4, 64 + 64 + 4096 * 64);
  files.array = (() => {
    const b = header(1, 64 + 256 + 8);
    b.writeUInt32LE(0x31414853, 64);
    b.writeUInt32LE(10, 68);
    b.writeUInt32LE(1e6, 76);
    return b;
  })();
  // In a directory of their own (SHMSYNC_SHM_DIR): suites running concurrently remove unmapped
  // files that appear in /dev/shm, and nothing can map these.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-cli-corrupt-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [k, b] of Object.entries(files))
    fs.writeFileSync(path.join(dir, `shmsync-${base}-${k}`), b, { mode: 0o600 });
  const env = { SHMSYNC_SHM_DIR: dir };
  const r = await runCli(['ls', '--json', `${base}-*`], env);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.ok(validate(out), JSON.stringify(validate.errors));
  t.equal(out.objects.length, Object.keys(files).length);
  for (const o of out.objects) {
    t.equal(o.status, 'corrupt', `${o.name}: ${o.problem}`);
    t.type(o.problem, 'string');
  }
  const text = await runCli(['ls', `${base}-*`], env);
  t.equal(text.code, 0, text.stderr);
  t.equal(text.stdout.match(/CORRUPT/g)?.length, Object.keys(files).length);
  for (const k of Object.keys(files)) {
    const i = await runCli(['inspect', `${base}-${k}`], env);
    t.equal(i.code, 0, `inspect ${k}: ${i.stderr}`);
    t.match(i.stdout, /CORRUPT/);
  }
});

t.test('--json of a whole machine scan validates against the schema', async (t) => {
  const r = await runCli(['ls', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.ok(validate(out), JSON.stringify(validate.errors));
});

t.test('watch: refreshing frames with --count, JSON lines', async (t) => {
  const name = `${cliBase()}-watch`;
  cleanup(t, name);
  const child = await forkReady('cli-objects.js');
  t.teardown(() => child.kill());
  const { pid } = await ask(child, 'hold', name);
  pin(t, name, 'mutex');
  const r = await runCli(['watch', name, '--json', '--interval', '50', '--count', '2']);
  t.equal(r.code, 0, r.stderr);
  const frames = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(frames.length, 2);
  for (const f of frames) t.match(f.objects, [{ name, lock: { holder: { pid, alive: true } } }]);
  const text = await runCli(['watch', name, '--interval', '50', '--count', '1']);
  t.equal(text.code, 0);
  t.match(text.stdout, new RegExp(`${name}\\s+held by pid ${pid}`));
});

t.test('colour: on with FORCE_COLOR, off with NO_COLOR or --no-color', async (t) => {
  const name = `${cliBase()}-color`;
  cleanup(t, name);
  new Mutex(name, { create: 'create' }).close();
  const on = await runCli(['ls', name], { FORCE_COLOR: '1' });
  t.match(on.stdout, /\x1b\[1m/);
  const off = await runCli(['ls', name], { FORCE_COLOR: '1', NO_COLOR: '1' });
  t.notMatch(off.stdout, /\x1b\[/);
  const flag = await runCli(['ls', '--no-color', name], { FORCE_COLOR: '1' });
  t.notMatch(flag.stdout, /\x1b\[/);
});

t.test('values, arrays and the owner table are decoded', async (t) => {
  const base = cliBase();
  const v = new SharedValue(`${base}-v`, { type: 'float64', create: 'create' });
  const a = new SharedArray(`${base}-a`, { type: 'uint16', length: 10, lock: true, create: 'create' });
  t.teardown(() => {
    v.close();
    v.unlink();
    a.close();
    a.unlink();
  });
  const out = await lsJson(`${base}-*`);
  t.ok(validate(out), JSON.stringify(validate.errors));
  const by = (n: string): any => out.objects.find((o: any) => o.name === n);
  t.match(by(`${base}-v`), {
    kind: 'value',
    status: 'ok',
    value: { holds: 'value', type: 'float64', length: 1, lock: null },
  });
  t.match(by(`${base}-a`), {
    kind: 'array',
    status: 'ok',
    value: { holds: 'array', type: 'uint16', length: 10, lock: String },
  });
  t.ok(by(`${base}-v`).users.some((u: any) => u.pid === process.pid));
  // This process uses the suite's owner table (scripts/run-tap.js sets SHMSYNC_OWNER_TABLE).
  const table = process.env.SHMSYNC_OWNER_TABLE;
  if (table !== undefined) {
    const owners = (await lsJson(table)).objects[0];
    t.match(owners, { kind: 'owners', status: 'ok' });
    t.ok(
      owners.owners.live.some((s: any) => s.pid === process.pid),
      'this process is a live context',
    );
  }
});
