import t from 'tap';
import { queueWaiter, type LockWaiter } from '../dist/lock/lock-waiter';

// The waiter queue both lock engines (shared memory and remote) share. An engine whose start of
// the acquisition throws (a native park can) must not leave the waiter queued: a later grant
// would go to a promise that already rejected, and the lock would never be released.

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

t.test('queued() throwing: the promise rejects, the waiter leaves the queue, no timer or listener stays', async (t) => {
  const queue: LockWaiter<string>[] = [];
  const ac = new AbortController();
  const before = timers();
  let dropped = 0;
  const boom = new Error('park failed');
  const waiting = queueWaiter<string>(
    queue,
    7,
    60_000,
    ac.signal,
    () => (dropped += 1),
    () => {
      throw boom;
    },
  );
  await t.rejects(waiting, boom, 'the error of queued() rejects the wait');
  t.equal(queue.length, 0, 'the waiter is not left in the queue');
  t.equal(timers(), before, 'its timeout timer is cleared');
  ac.abort();
  t.equal(dropped, 0, 'its abort listener is removed (abort drops nothing)');
});

t.test('a waiter queued normally is settled once and cleaned up', async (t) => {
  const queue: LockWaiter<string>[] = [];
  const ac = new AbortController();
  const before = timers();
  const waiting = queueWaiter<string>(
    queue,
    1,
    60_000,
    ac.signal,
    () => t.fail('not dropped'),
    () => {},
  );
  t.equal(queue.length, 1);
  t.equal(timers(), before + 1, 'a timer while it waits');
  queue.shift()!.settle('granted');
  t.equal(await waiting, 'granted');
  t.equal(timers(), before, 'the timer is cleared on settle');
  ac.abort();
});
