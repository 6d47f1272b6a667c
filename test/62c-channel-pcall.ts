import t from 'tap';
import * as path from 'node:path';
import { mkchannel, pcall, ProcessPool } from '../dist';

// Channel endpoints as pcall arguments (issue 11: "a handle travels by reference like every
// shmsync handle"): the child revives the reference (wire/handle-ref.ts loads the channel's
// handle module from its fixed table), uses the endpoint, and releases it after the call -
// without closing the channel for the others.

const targets = path.join(__dirname, 'fixtures', 'channel-pcall-targets.js');

t.test('a writer passed to a pcall child writes; the parent reads; the channel stays open', async (t) => {
  const [w, r] = mkchannel<number>({ shared: true, maxsize: 64 });
  t.teardown(() => {
    w.close();
    r.close();
  });
  const call = pcall({ module: targets, export: 'writeRange' }, { iargs: [[w, 0, 500]] });
  const got: number[] = [];
  while (got.length < 500) got.push(...(await r.read(Math.min(50, 500 - got.length))));
  t.same(await call, [{ wrote: 500, kind: 'ChannelWriter' }]);
  t.same(
    got,
    Array.from({ length: 500 }, (_, i) => i),
    'every item once, in order, through a bound of 64',
  );
  t.equal(w.closed(), false, 'the child released its writer after the call; it did not close the channel');
  await w.write(7);
  t.same(await r.read(1), [7]);
});

t.test('a reader passed to a ProcessPool worker thread reads what the parent writes', async (t) => {
  const pool = new ProcessPool({ size: 1, mode: 'thread' });
  t.teardown(() => pool.close());
  const [w, r] = mkchannel<number>({ shared: true });
  t.teardown(() => r.close());
  const call = pcall({ module: targets, export: 'readAll' }, { iargs: [[r]], pool });
  await w.writeMany(Array.from({ length: 1000 }, (_, i) => i));
  w.close();
  t.same(await call, [{ sum: 499500, count: 1000, kind: 'ChannelReader' }]);
});
