/**
 * Lifetimes (issue 16 part 1): anonymous objects belong to the processes that use them.
 * Every check counts only segments whose generated names carry the tag of the process (or
 * worker) under test, so concurrent runs of other suites cannot disturb it.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  Lockable,
  Mutex,
  NotFoundError,
  SharedMemory,
  SharedValue,
  ShmQueue,
  gcSegments,
  reviveHandle,
  setHandoffLease,
  type HandleRef,
} from '../dist';
import { Child, fixturesDir, type Message } from './helpers/fork';
import { segmentExists, testName } from './helpers/shm';

const kAgent = 'lifetimes-agent.js';
const mine = (tag: string): string[] => fs.readdirSync('/dev/shm').filter((n) => n.includes(tag));

interface Done extends Message {
  tag: string;
  created?: number;
  left?: number;
  peak?: number;
  end?: number;
}

/** A fixture child started with node flags (Child forks with none). */
class ChildWithArgs extends Child {
  constructor(mode: string, args: string[], execArgv: string[]) {
    super(kAgent, [mode, ...args], { env: { ...process.env, NODE_OPTIONS: execArgv.join(' ') } });
  }
}

async function untilGone(names: string[], ms = 5000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let left = names.filter((n) => fs.existsSync(`/dev/shm/${n}`));
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10)); // waiting for a condition, bounded
    left = left.filter((n) => fs.existsSync(`/dev/shm/${n}`));
  }
  return left;
}

t.test('an anonymous Lockable costs no segment until its lock is used or handed off', async (t) => {
  // This process's anonymous mutexes are named mutex-<pid in base 36>-...
  const ours = (): string[] =>
    fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`shmsync-mutex-${process.pid.toString(36)}-`));
  const before = ours();
  const l = new Lockable();
  t.equal(l.lock.lifetime, 'attached');
  t.same(ours(), before, 'nothing in /dev/shm after construction');
  l.acquireSync();
  t.ok(segmentExists(l.lock.name), 'created by the first acquire');
  l.release();
  l.close();
  t.notOk(segmentExists(l.lock.name), 'close() of the last handle removes it');
  const m = new Mutex();
  m.close();
  t.notOk(segmentExists(m.name), 'closed before use: never created');
  t.throws(() => m.acquireSync(), { code: 'SHMSYNC_CLOSED' });
});

t.test('lifetime option: named default persistent, attached on request, anonymous attached', async (t) => {
  const a = testName('life-a');
  const p = testName('life-p');
  const named = new Mutex(p, { lifetime: 'persistent' });
  t.equal(named.lifetime, 'persistent');
  named.close();
  t.ok(segmentExists(p), 'a persistent mutex outlives its handles');
  Mutex.unlink(p);
  const shm1 = new SharedMemory(a, { size: 16, lifetime: 'attached' });
  const shm2 = new SharedMemory(a, { size: 16 });
  t.equal(shm2.lifetime, 'attached', 'an opener sees the lifetime the creator recorded');
  shm1.close();
  t.ok(segmentExists(a), 'another handle keeps it');
  shm2.close();
  t.notOk(segmentExists(a), 'the last close unlinks an attached named segment');
  t.throws(() => new SharedMemory(a, { size: 16, lifetime: 'forever' as never }), {
    code: 'SHMSYNC_INVALID_ARG_VALUE',
  });
  t.throws(() => new Lockable({ lock: 'x', lifetime: 'attached' }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  const q = new ShmQueue<string>(undefined, { capacity: 4096 });
  const v = new SharedValue({ type: 'int32', lock: true });
  t.equal(q.lifetime, 'attached');
  t.equal(v.lock!.lifetime, 'attached', 'the lock created with an anonymous value shares its lifetime');
  const names = [q.name, v.name, v.lock!.name];
  q.close();
  v.close();
  t.same(names.filter(segmentExists), [], 'close of anonymous queue and value removes them');
});

t.test('an open never resurrects a dying segment', async (t) => {
  const shm = new SharedMemory(undefined, { size: 8 });
  const ref = shm.toJSON();
  shm.close();
  t.ok(segmentExists(ref.name), 'a reference was handed off: the lease keeps it');
  const opened = reviveHandle<SharedMemory>(ref);
  opened.close();
  t.notOk(segmentExists(ref.name), 'the receiver consumed the hand-off; its close removed it');
  t.throws(() => reviveHandle(ref), NotFoundError, 'gone for good: opening it again is not found');
});

t.test('450 anonymous objects leave nothing after garbage collection', async (t) => {
  const child = new ChildWithArgs('gc', [], ['--expose-gc']);
  const done = await child.message<Done>('done');
  await child.exited;
  t.equal(done.created, 450, '200 Lockables + 200 @locked instances + 50 SharedValues made 450 segments');
  t.equal(done.left, 0, 'none left once collected (FinalizationRegistry / native finalizers)');
  t.same(mine(done.tag), [], 'and none after exit');
});

t.test('450 anonymous objects still referenced leave nothing after a normal exit', async (t) => {
  const child = new Child(kAgent, ['exit']);
  const done = await child.message<Done>('done');
  t.equal(done.created, 450);
  t.equal(mine(done.tag).length, 450, 'alive while the process runs');
  child.send({ type: 'exit' });
  t.same((await child.exited).code, 0);
  t.same(mine(done.tag), [], 'process exit released every attachment');
});

t.test('a terminated worker thread releases its attached segments', async (t) => {
  const w = new Worker(path.join(fixturesDir, kAgent), { workerData: { mode: 'exit' }, execArgv: [] });
  const done = await new Promise<Done>((resolve) => w.once('message', resolve));
  t.equal(mine(done.tag).length, 450);
  await w.terminate();
  t.same(mine(done.tag), [], 'worker teardown released every attachment');
});

t.test('a SIGKILLed last user leaves nothing after the next shmsync process starts', async (t) => {
  const victim = new Child(kAgent, ['crash']);
  const done = await victim.message<Done>('done');
  t.equal(done.created, 5, 'lock, queue, value + its lock, shm');
  victim.kill('SIGKILL');
  await victim.exited;
  const left = mine(done.tag);
  t.equal(left.length, 5, 'the crash left them (nobody ran the exit hook)');
  const next = new Child(kAgent, ['sweep']);
  await next.message('done');
  await next.exited;
  t.same(mine(done.tag), [], "the next process's first-use sweep removed them");
});

t.test('gcSegments removes crash leftovers and never touches live or persistent segments', async (t) => {
  const live = new SharedMemory(undefined, { size: 8 });
  const persistent = testName('gc-persistent');
  const p = new SharedMemory(persistent, { size: 8 });
  p.close();
  const victim = new Child(kAgent, ['crash']);
  const done = await victim.message<Done>('done');
  victim.kill('SIGKILL');
  await victim.exited;
  const r = gcSegments();
  t.same(mine(done.tag), [], 'the dead process segments are gone');
  t.ok(r.removed.length >= 5, `reported ${r.removed.length} removals`);
  t.ok(segmentExists(live.name), 'a segment this process maps stays');
  t.ok(segmentExists(persistent), 'a persistent segment stays');
  live.close();
  SharedMemory.unlink(persistent);
});

t.test('gcSegments without a trustworthy /proc judges nobody dead (unreadable, or without this process)', async (t) => {
  const { mappedInodes } = await import('../dist/addon/lifetime');
  const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-proc-'));
  fs.mkdirSync(path.join(fake, '1'));
  fs.writeFileSync(path.join(fake, '1', 'maps'), ''); // a /proc that does not show this process
  t.equal(mappedInodes('/dev/shm', path.join(fake, 'missing')), null, 'an unreadable /proc: no judgement');
  t.equal(
    mappedInodes('/dev/shm', fake),
    null,
    'a /proc without this process (hidepid, another PID namespace): no judgement',
  );
  t.not(mappedInodes(), null, 'the real /proc shows this process');
  // A live process holding anonymous segments (never killed here): with the empty-looking
  // /proc, every one of them would look unmapped - the sweep must leave them.
  const holder = new Child(kAgent, ['crash']);
  const done = await holder.message<Done>('done');
  const before = mine(done.tag);
  t.ok(before.length >= 4, `the holder has ${before.length} live segments`);
  const r = gcSegments('/dev/shm', fake);
  t.same(
    r.removed.filter((n) => n.includes(done.tag)),
    [],
    'none of them removed',
  );
  t.same(mine(done.tag), before, 'all still in /dev/shm');
  holder.kill('SIGKILL');
  await holder.exited;
  gcSegments(); // the real /proc: the dead holder's segments go
  t.same(mine(done.tag), [], 'and a real sweep reclaims them once the holder is dead');
  fs.rmSync(fake, { recursive: true });
});

t.test("a sweep in another PID namespace never judges this namespace's live segments unmapped", async (t) => {
  // Sibling namespaces sharing /dev/shm (containers of one pod) cannot see each other in /proc:
  // a sweep there found every live segment of ours unmapped and reaped it.
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']);
  if (probe.error !== undefined || probe.status !== 0) {
    t.plan(0, 'unshare --pid --mount-proc is not available here');
    return;
  }
  const live = new SharedMemory(undefined, { size: 8 }); // attached, mapped by this process only
  t.teardown(() => live.close());
  const sweep = spawnSync(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      process.execPath,
      '-e',
      `const l = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'addon', 'lifetime.js'))});
     process.stdout.write(JSON.stringify(l.gcSegments().removed));`,
    ],
    { encoding: 'utf8' },
  );
  t.equal(sweep.status, 0, sweep.stderr);
  t.notOk((JSON.parse(sweep.stdout) as string[]).includes(`shmsync-${live.name}`), 'the foreign sweep left it');
  t.ok(segmentExists(live.name), 'still in /dev/shm while this process uses it');
});

t.test('a reference in flight through a ShmQueue survives its sender until opened', async (t) => {
  const qname = testName('lt-queue');
  const q = new ShmQueue<{ lockable: Lockable; value: SharedValue<'int32'> }>(qname, { capacity: 4096 });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(qname);
  });
  let names: string[];
  {
    const lockable = new Lockable();
    const value = new SharedValue({ type: 'int32', value: 41 });
    value.value = 42;
    await q.put({ lockable, value });
    names = [`shmsync-${lockable.lock.name}`, `shmsync-${value.name}`];
    lockable.close();
    value.close(); // the sender is gone before the receiver exists
  }
  t.same(names.filter((n) => fs.existsSync(`/dev/shm/${n}`)).length, 2, 'the lease keeps both segments');
  const receiver = new Child(kAgent, ['receive', qname]);
  const got = await receiver.message<Message & { value: number; names: string[] }>('received');
  t.equal(got.value, 42, 'the receiver opened the value and the lock');
  t.equal((await receiver.exited).code, 0);
  t.same(await untilGone(names), [], 'the receiver was the last user: its close removed both');
});

t.test('a reference sent as JSON (child.send) and never opened is reaped when its lease ends', async (t) => {
  const prev = setHandoffLease(200);
  t.teardown(() => setHandoffLease(prev));
  const shm = new SharedMemory(undefined, { size: 8 });
  const text = JSON.stringify({ shm });
  const ref = (JSON.parse(text) as { shm: HandleRef }).shm;
  shm.close();
  t.ok(segmentExists(ref.name), 'kept for the hand-off');
  t.same(await untilGone([`shmsync-${ref.name}`]), [], "removed after the lease by the closer's timer");
});

t.test('creating and dropping 100 000 @locked instances keeps /dev/shm bounded', async (t) => {
  const child = new Child(kAgent, ['loop', '100000']);
  const done = await child.message<Done>('done');
  await child.exited;
  t.ok(done.peak! < 10_000, `at most ${done.peak} of the loop's segments existed at once (sampled every 5000)`);
  t.same(mine(done.tag), [], 'none after exit');
});

t.test('scripts judge "in use" by inode: a creator maps its segment under its temporary name', async (t) => {
  const { mappedSegments } = require('../scripts/mapped-segments.js');
  const shm = new SharedMemory(undefined, { size: 8 });
  const victim = new Child(kAgent, ['crash']);
  const done = await victim.message<Done>('done');
  victim.kill('SIGKILL');
  await victim.exited;
  const used = mappedSegments() as Set<string>;
  t.equal(used.has(`shmsync-${shm.name}`), true, 'this process created and maps it');
  t.same(
    mine(done.tag).filter((n) => used.has(n)),
    [],
    "a killed process's segments are unused",
  );
  shm.close();
  gcSegments();
  t.same(mine(done.tag), []);
});
