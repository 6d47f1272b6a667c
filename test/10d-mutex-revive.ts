import t from 'tap';
import * as fs from 'node:fs';
import { Mutex, reviveHandle } from '../dist';
import { segmentNameFor } from '../dist/addon/names';

// A Mutex reference revived in the thread that has the mutex open shares that thread's engine
// (no native open runs), so the hand-off its toJSON() leased was never consumed: after every
// handle closed, the attached segment stayed for the whole lease (~30 s). attach() now consumes
// the pending hand-off as an open would, as RwLock does (test/56). Failed before: the segment was
// still in /dev/shm after both closes.

const exists = (name: string): boolean => fs.existsSync(`/dev/shm/${segmentNameFor(name)}`);

t.test('a reference revived in the same thread consumes its hand-off: close removes the segment at once', async (t) => {
  const m = new Mutex(undefined, { lifetime: 'attached' });
  t.teardown(() => {
    if (exists(m.name)) Mutex.unlink(m.name);
  });
  const revived = reviveHandle<Mutex>(m.toJSON());
  t.not(revived, m);
  t.equal(revived.name, m.name);
  t.equal(revived.acquireSync(), true, 'the revived handle locks the same mutex');
  t.equal(m.info().locked, true, 'seen through the first handle');
  revived.release();
  m.close();
  t.ok(exists(m.name), 'the revived handle keeps it');
  revived.close();
  t.notOk(exists(m.name), 'gone with the last close (was kept ~30 s by the unconsumed lease)');
});

t.test('an unconsumed hand-off still protects the segment (the lease is not dropped)', async (t) => {
  const m = new Mutex(undefined, { lifetime: 'attached' });
  m.toJSON(); // handed off, never revived
  m.close();
  t.ok(exists(m.name), 'kept for the receiver');
  t.ok(Mutex.unlink(m.name) || !exists(m.name), 'cleaned up by the test');
});
