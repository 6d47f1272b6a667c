import t from 'tap';
import { Mutex, SharedMemory } from '../dist';
import { Child } from './helpers/fork';
import { testName } from './helpers/shm';
import { rounds as scaledRounds } from './helpers/scale';

const kRounds = scaledRounds(100, 30);
const kForkAhead = 2; // children booting while the current round runs (a boot costs ~150 ms of CPU here)
// Children need none of tap's preloads (NODE_OPTIONS); without them they boot a little faster.
const childEnv = { ...process.env, NODE_OPTIONS: '' };

/** Waits (polling shared memory, 1 ms period) until `cond()` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

t.test(`${kRounds} holders SIGKILLed mid critical section: every round recovered, invariant repaired`, async (t) => {
  const mutex = new Mutex(testName('killloop-lock'), { create: 'create' });
  const shm = new SharedMemory(testName('killloop-mem'), { size: 16, create: 'create' });
  const children: Child[] = [];
  t.teardown(() => {
    for (const c of children) c.kill();
    mutex.close();
    Mutex.unlink(mutex.name);
    shm.close();
    shm.unlink();
  });
  // words: 0 = n (first write), 1 = n (second write), 2 = progress, 3 = pid of the holder
  const words = new Int32Array(shm.buffer.buffer, shm.buffer.byteOffset, 4);
  const start = (): Promise<Child> => {
    const child = new Child('mutex-victim.js', [mutex.name, shm.name], { env: childEnv });
    children.push(child);
    const ready = child.message('ready').then(() => child);
    ready.catch(() => {}); // a spare killed at teardown must not be an unhandled rejection
    return ready;
  };
  const ahead = Array.from({ length: kForkAhead }, start);
  const flavours = [
    'acquireSync right after the kill',
    'Promise acquire waiting',
    'tryAcquire after exit',
    'timed acquireSync',
  ];
  const problems: string[] = [];
  const latencies: number[] = [];
  let torn = 0;
  let last = 0;
  const began = Date.now();
  for (let round = 0; round < kRounds && problems.length === 0; round++) {
    const child = await ahead.shift()!;
    ahead.push(start());
    const pid = child.proc.pid!;
    child.send({ type: 'go' });
    await until(() => Atomics.load(words, 3) === pid, `round ${round}: the child holds the lock`);
    const progress = Atomics.load(words, 2);
    const target = progress + 1 + Math.floor(Math.random() * 20); // at least one full iteration
    await until(() => Atomics.load(words, 2) >= target, `round ${round}: the child makes progress`);
    const flavour = flavours[round % flavours.length];
    const waiting = flavour.startsWith('Promise') ? mutex.acquire({ timeout: 10_000 }) : null;
    const killedAt = process.hrtime.bigint();
    child.kill('SIGKILL');
    let ok: boolean;
    let guard = null;
    if (flavour.startsWith('acquireSync')) ok = mutex.acquireSync({ timeout: 10_000 });
    else if (waiting !== null) {
      guard = await waiting;
      ok = true;
    } else if (flavour.startsWith('tryAcquire')) {
      await child.exited;
      ok = mutex.tryAcquire();
    } else ok = mutex.acquireSync({ timeout: 10_000 });
    if (!flavour.startsWith('tryAcquire')) latencies.push(Number(process.hrtime.bigint() - killedAt) / 1e6);
    const exit = await child.exited;
    children.splice(children.indexOf(child), 1);
    const ownerDied = guard !== null ? guard.ownerDied : mutex.ownerDied;
    if (!ok) {
      problems.push(`round ${round} (${flavour}): not acquired: deadlock`);
      break;
    }
    if (!ownerDied) problems.push(`round ${round} (${flavour}): ownerDied not reported`);
    if (exit.code !== null || exit.signal !== 'SIGKILL') problems.push(`round ${round}: exit ${JSON.stringify(exit)}`);
    // Validate and repair the invariant: the kill may land between the two writes.
    const [first, second] = [words[0], words[1]];
    if (first === second + 1) torn += 1;
    else if (first !== second) problems.push(`round ${round}: invariant broken beyond one write: ${first} / ${second}`);
    if (first <= last) problems.push(`round ${round}: the holder wrote nothing (${first} <= ${last})`);
    words[1] = first;
    last = first;
    Atomics.store(words, 3, 0);
    if (mutex.info().ownerDeaths !== round + 1)
      problems.push(`round ${round}: ownerDeaths ${mutex.info().ownerDeaths}`);
    if (guard !== null) guard.release();
    else mutex.release();
  }
  const spares = await Promise.all(ahead);
  for (const c of spares) c.kill('SIGKILL');
  for (const c of spares) t.same(await c.exited, { code: null, signal: 'SIGKILL' }, 'spare child killed');
  const seconds = (Date.now() - began) / 1000;
  t.same(problems, [], 'every round: acquired with ownerDied, holder died of SIGKILL, invariant within one write');
  t.equal(mutex.info().ownerDeaths, kRounds, `${kRounds} owner deaths recovered`);
  t.match(mutex.info(), { locked: false, waiters: 0 });
  t.ok(torn > 0, `some kills landed between the two writes and were repaired (${torn}/${kRounds})`);
  latencies.sort((a, b) => a - b);
  const pick = (q: number): string =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  t.comment(
    `${kRounds} rounds in ${seconds.toFixed(1)} s; torn ${torn}; kill -> acquired p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms`,
  );
});
