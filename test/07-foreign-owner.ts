import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Mutex, OwnerTableMismatchError, PermissionError, SharedMemory } from '../dist';
import { testName } from './helpers/shm';

// /dev/shm is writable by every local user: anyone can create a file under a name we will use.
// A segment this effective uid does not own is refused (SHMSYNC_PERMISSION, naming the owner)
// unless SharedMemory's allowForeignOwner opts in; an owner table must also be mode 0600; a lock
// whose owner_table_id is 0 belongs to no table. Run with a real second user: as root, setpriv
// switches children to `nobody` (65534, the planting user) and to an unused uid (the victim).

const dist = path.join(__dirname, '..', 'dist');
const NOBODY = 65534;
const VICTIM = 4242; // a uid with no account: only its numbers matter
const shm = (segment: string): string => path.join('/dev/shm', segment);

const rootWithSetpriv = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
/** Whether `nobody` can run this Node binary and load this checkout (a 0700 parent folder stops it). */
const nobodyReaches = (): boolean =>
  spawnSync('setpriv', [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    'env',
    '-i',
    process.execPath,
    '-e',
    `require(${JSON.stringify(dist)})`,
  ]).status === 0;
const skip = !rootWithSetpriv
  ? 'needs root and setpriv to act as a second user'
  : !nobodyReaches()
    ? `user nobody cannot run ${process.execPath} or read ${dist} (a folder on the way is private)`
    : false;

/** Runs `code` in a child node as `uid` (null: as this user); returns its stdout. */
function run(uid: number | null, code: string, env: Record<string, string | undefined> = {}, input?: Buffer): string {
  const args = ['-e', `const lib = require(${JSON.stringify(dist)});\n${code}`];
  if (uid === null) {
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    return execFileSync(process.execPath, args, { env: childEnv, encoding: 'utf8', input }).trim();
  }
  // Another user's child starts from an empty environment (`env -i`): tap's hooks, which it
  // adds to every child's NODE_OPTIONS, would write into this checkout, which that user may not.
  const vars = Object.entries({ PATH: process.env.PATH, ...env })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const argv = [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'env', '-i', ...vars, process.execPath, ...args];
  return execFileSync('setpriv', argv, { encoding: 'utf8', input }).trim();
}

/** Child code: runs `open` and prints 'opened' or '<code>|<message>'. */
const report = (open: string): string =>
  `try { ${open}; console.log('opened'); } catch (e) { console.log(e.code + '|' + e.message); }`;

/** As `uid`, writes `bytes` (sent on stdin) to /dev/shm/<segment> with exactly `mode`. */
function plant(uid: number, segment: string, bytes: Buffer, mode: number): void {
  run(
    uid,
    `const fs = require('node:fs'); const p = ${JSON.stringify(shm(segment))};
    fs.writeFileSync(p, fs.readFileSync(0), { mode: ${mode} });
    fs.chmodSync(p, ${mode});`,
    {},
    bytes,
  );
  const st = fs.statSync(shm(segment));
  if (st.uid !== uid || (st.mode & 0o777) !== mode || st.size !== bytes.length)
    throw new Error(`planting ${segment} failed`);
}

/** A well-formed owner table of the current format (only its owner and mode are wrong). */
function ownerTableBytes(): Buffer {
  const payload = 64 + 4096 * 64;
  const b = Buffer.alloc(64 + payload);
  b.writeUInt32LE(0x534d4853, 0); // magic
  b.writeUInt16LE(1, 4); // layout version
  b.writeUInt16LE(4, 6); // kind: owner table
  b.writeBigUInt64LE(BigInt(b.length), 16);
  b.writeBigUInt64LE(64n, 24);
  b.writeBigUInt64LE(BigInt(payload), 32);
  b.writeUInt32LE(4096, 64); // capacity
  b.writeBigUInt64LE(0x5eed5eedn, 72); // table id
  b.writeUInt32LE(2, 80); // format: TID futex words
  return b;
}

t.test('an owner table another user planted under our default name is refused, naming its owner', { skip }, (t) => {
  const segment = `shmsync-owners-${VICTIM}`;
  t.teardown(() => fs.rmSync(shm(segment), { force: true }));
  for (const mode of [0o666, 0o600]) {
    fs.rmSync(shm(segment), { force: true });
    plant(NOBODY, segment, ownerTableBytes(), mode);
    // The victim uses the default table name (no SHMSYNC_OWNER_TABLE).
    const out = run(VICTIM, report(`new lib.Mutex('x-${process.pid}')`), { SHMSYNC_OWNER_TABLE: undefined });
    const [code, message] = out.split('|');
    t.equal(code, 'SHMSYNC_PERMISSION', `mode 0${mode.toString(8)}: refused with its code`);
    t.match(message, `owner table "${segment}"`, 'the message names the table');
    t.match(message, `owned by uid ${NOBODY}`, 'and who owns it');
    t.match(message, `runs as uid ${VICTIM}`);
    t.equal(fs.readdirSync('/dev/shm').filter((n) => n.includes(`x-${process.pid}`)).length, 0, 'no lock was created');
  }
  t.end();
});

t.test('this process refuses a planted owner table even though root could open it', { skip }, (t) => {
  const logical = testName('planted-table');
  t.teardown(() => fs.rmSync(shm(`shmsync-${logical}`), { force: true }));
  plant(NOBODY, `shmsync-${logical}`, ownerTableBytes(), 0o666);
  const out = run(null, report(`new lib.Mutex('x-${process.pid}')`), { SHMSYNC_OWNER_TABLE: logical });
  t.match(out, `SHMSYNC_PERMISSION|owner table "shmsync-${logical}"`);
  t.match(out, `owned by uid ${NOBODY} (mode 0666), this process runs as uid 0`);
  t.end();
});

t.test('our own owner table with group or other permission bits is refused', (t) => {
  const logical = testName('loose-table');
  const segment = `shmsync-${logical}`;
  t.teardown(() => fs.rmSync(shm(segment), { force: true }));
  const open = report(
    `const m = new lib.Mutex(${JSON.stringify(logical + '-m')}); m.close(); lib.Mutex.unlink(m.name)`,
  );
  t.equal(run(null, open, { SHMSYNC_OWNER_TABLE: logical }), 'opened', 'created with mode 0600');
  t.equal(fs.statSync(shm(segment)).mode & 0o777, 0o600);
  for (const mode of [0o640, 0o604, 0o666]) {
    fs.chmodSync(shm(segment), mode);
    const out = run(null, open, { SHMSYNC_OWNER_TABLE: logical });
    t.match(out, /^SHMSYNC_PERMISSION\|/, `mode 0${mode.toString(8)} refused`);
    t.match(out, `(mode 0${mode.toString(8)})`);
    t.match(out, 'must not be readable or writable by group or others');
  }
  fs.chmodSync(shm(segment), 0o600);
  t.equal(run(null, open, { SHMSYNC_OWNER_TABLE: logical }), 'opened', 'usable again at 0600');
  t.end();
});

/** The bytes of a fresh mutex segment of ours, with owner_table_id (payload offset 24) zeroed. */
function lockBytesWithTableIdZero(t: Test): Buffer {
  const name = testName('template');
  const m = new Mutex(name);
  m.close();
  const bytes = fs.readFileSync(shm(`shmsync-${name}`));
  Mutex.unlink(name);
  t.not(bytes.readBigUInt64LE(64 + 24), 0n, 'a lock records its owner table id');
  bytes.writeBigUInt64LE(0n, 64 + 24);
  return bytes;
}

t.test('a lock name another user planted is refused, naming its owner', { skip }, (t) => {
  const name = testName('planted-lock');
  t.teardown(() => fs.rmSync(shm(`shmsync-${name}`), { force: true }));
  plant(NOBODY, `shmsync-${name}`, lockBytesWithTableIdZero(t), 0o666);
  for (const create of ['open', 'openOrCreate'] as const) {
    const err = t.throws(() => new Mutex(name, { create })) as Error & { code?: string };
    t.ok(err instanceof PermissionError, `create: '${create}' -> PermissionError`);
    t.equal(err.code, 'SHMSYNC_PERMISSION');
    t.match(err.message, `owned by uid ${NOBODY} (mode 0666)`);
  }
  t.end();
});

t.test('a lock of ours whose owner_table_id is 0 belongs to no table and is refused', (t) => {
  const name = testName('table-id-zero');
  t.teardown(() => fs.rmSync(shm(`shmsync-${name}`), { force: true }));
  fs.writeFileSync(shm(`shmsync-${name}`), lockBytesWithTableIdZero(t), { mode: 0o600 });
  t.throws(() => new Mutex(name, { create: 'open' }), OwnerTableMismatchError);
  t.throws(() => new Mutex(name), OwnerTableMismatchError);
  t.end();
});

t.test("SharedMemory: another user's segment only with allowForeignOwner", { skip }, (t) => {
  const name = testName('foreign-shm');
  t.teardown(() => fs.rmSync(shm(`shmsync-${name}`), { force: true }));
  run(
    NOBODY,
    `const s = new lib.SharedMemory(${JSON.stringify(name)}, { size: 64, mode: 0o666 });
    s.write(Buffer.from('from nobody')); s.close();`,
  );
  t.equal(fs.statSync(shm(`shmsync-${name}`)).uid, NOBODY);
  for (const options of [{}, { size: 64 }, { allowForeignOwner: false }]) {
    const err = t.throws(() => new SharedMemory(name, options)) as Error;
    t.ok(err instanceof PermissionError, `refused with ${JSON.stringify(options)}`);
    t.match(err.message, `owned by uid ${NOBODY} (mode 0666), this process runs as uid 0`);
  }
  const s = new SharedMemory(name, { allowForeignOwner: true });
  t.equal(s.read(0, 11).toString(), 'from nobody', 'opted in: opened');
  s.write(Buffer.from('from root'), 16);
  s.close();
  // A non-root user gets the same refusal (and the same opt-in).
  const out = run(VICTIM, report(`new lib.SharedMemory(${JSON.stringify(name)})`));
  t.match(out, `SHMSYNC_PERMISSION|`);
  t.match(out, `owned by uid ${NOBODY}`);
  t.equal(
    run(
      VICTIM,
      `const s = new lib.SharedMemory(${JSON.stringify(name)}, { allowForeignOwner: true });
    console.log(s.read(16, 9).toString()); s.close();`,
    ),
    'from root',
  );
  t.throws(() => new SharedMemory(name, { allowForeignOwner: 'yes' as unknown as boolean }), {
    code: 'SHMSYNC_INVALID_ARG_TYPE',
  });
  t.end();
});
