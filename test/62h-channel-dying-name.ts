// A shared channel over a name that is dying (attached lifetime, attach word reaped, file not
// yet unlinked) opens as ShmQueue openOrCreate does: afresh. Forged word, no sleeps.
import t from 'tap';
import * as fs from 'node:fs';
import { mkchannel, ShmQueue } from '../dist';
import { testName } from './helpers/shm';

// An attached name whose attach word says reaped (its last user closed it, or it was reaped,
// and the unlink has not happened yet): openOrCreate replaces it with a fresh segment.
function dyingQueue(name: string): void {
  const q = new ShmQueue(name, { create: 'create', lifetime: 'attached' });
  const file = `/dev/shm/shmsync-${name}`;
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, 46); // count = 0xFFFF: reaped
  fs.closeSync(fd);
  q.close(); // a reaped word: close leaves the file
}

t.test('ShmQueue openOrCreate over a dying attached name creates afresh', async (t) => {
  const name = testName('reaped-q');
  dyingQueue(name);
  t.ok(fs.existsSync(`/dev/shm/shmsync-${name}`), 'the dying file is still there');
  const q = new ShmQueue(name, { create: 'openOrCreate', lifetime: 'attached' });
  t.teardown(() => q.close());
  t.pass('opened');
});

t.test('a shared channel over a dying attached name opens like openOrCreate', async (t) => {
  const name = testName('reaped-ch');
  dyingQueue(name);
  let pair: ReturnType<typeof mkchannel> | undefined;
  t.doesNotThrow(() => {
    pair = mkchannel({ shared: { name, lifetime: 'attached' } });
  }, 'mkchannel opens');
  t.teardown(() => {
    pair?.[0].close();
    pair?.[1].close();
    try {
      fs.unlinkSync(`/dev/shm/shmsync-${name}`);
    } catch {}
  });
});
