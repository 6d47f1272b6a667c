import t from 'tap';
import * as fs from 'node:fs';
import { RwLock, reviveHandle } from '../dist';
import { segmentNameFor } from '../dist/addon/names';

// An RwLock reference revived in the thread that has the lock open shares that thread's
// attachment (no native open runs), so its hand-off was never consumed: after every handle
// closed, the attached segment stayed for the whole lease (~30 s). attach() now consumes the
// pending hand-off as an open would (native attach::ConsumeHandoff). Failed before: the
// segment was still in /dev/shm after both closes.

const exists = (name: string): boolean => fs.existsSync(`/dev/shm/${segmentNameFor(name)}`);

t.test('a reference revived in the same thread consumes its hand-off: close removes the segment at once', async (t) => {
  const lock = new RwLock(undefined, { lifetime: 'attached' });
  const ref = lock.toJSON();
  const revived = reviveHandle<RwLock>(ref);
  t.not(revived, lock);
  t.equal(revived.name, lock.name);
  lock.close();
  t.ok(exists(lock.name), 'the revived handle keeps it');
  revived.close();
  t.notOk(exists(lock.name), 'gone with the last close (was kept ~30 s by the unconsumed lease)');
});

t.test('an unconsumed hand-off still protects the segment (the lease is not dropped)', async (t) => {
  const lock = new RwLock(undefined, { lifetime: 'attached' });
  lock.toJSON(); // handed off, never revived
  lock.close();
  t.ok(exists(lock.name), 'kept for the receiver');
  t.ok(RwLock.unlink(lock.name) || !exists(lock.name), 'cleaned up by the test');
});
