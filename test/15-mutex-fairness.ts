import t from 'tap';
import { Mutex, SharedMemory } from '../dist';
import { Child } from './helpers/fork';
import { testName } from './helpers/shm';

const kParties = 4;
const kDurationMs = 2_000;
// Bound: the fair share is 25%. Measured on this 2-core VM while other work loaded it (load
// average up to 12): every process got between 15.6% and 30% over 20 runs (2 of the 4 run at a
// time; a waiter blocked for more than 1 ms is handed the lock at the next release, so the
// running pair shares it). 5% is under a third of the worst share seen, so scheduler noise does
// not trip it, while a process that only gets the lock when the others are descheduled would.
const kMinShare = 0.05;

t.test(`${kParties} processes contending for ${kDurationMs / 1000} s each all get a fair share`, async (t) => {
  const mutex = new Mutex(testName('fair-lock'), { create: 'create' });
  const shm = new SharedMemory(testName('fair-mem'), { size: 8, create: 'create' });
  const children = Array.from(
    { length: kParties },
    () => new Child('mutex-contender.js', [mutex.name, shm.name, String(kParties), String(kDurationMs)]),
  );
  t.teardown(() => {
    for (const c of children) c.kill();
    mutex.close();
    Mutex.unlink(mutex.name);
    shm.close();
    shm.unlink();
  });
  await Promise.all(children.map((c) => c.message('ready')));
  for (const c of children) c.send({ type: 'go' });
  const results = await Promise.all(
    children.map((c) => c.message<{ type: string; count: number; maxGapMs: number }>('done')),
  );
  for (const c of children) t.same(await c.exited, { code: 0, signal: null }, 'contender exits with code 0, no signal');
  const counts = results.map((r) => r.count);
  const total = counts.reduce((a, b) => a + b, 0);
  const shares = counts.map((c) => c / total);
  t.comment(
    `acquisitions ${counts.join(' / ')} (total ${total}); shares ${shares.map((s) => `${(100 * s).toFixed(1)}%`).join(' / ')}; ` +
      `longest wait between two acquisitions ${results.map((r) => `${r.maxGapMs.toFixed(1)} ms`).join(' / ')}`,
  );
  t.equal(
    new Int32Array(shm.buffer.buffer, shm.buffer.byteOffset, 1)[0],
    total,
    'the shared counter saw every acquisition',
  );
  t.equal(mutex.info().acquisitions, BigInt(total));
  for (const [i, share] of shares.entries()) {
    t.ok(
      share >= kMinShare,
      `process ${i} got ${(100 * share).toFixed(1)}% >= ${100 * kMinShare}% of the acquisitions`,
    );
  }
});
