// A writer's death is reported once, to the next grant of the writer lock. When a new writer
// registers between the death and any reader's watch, its registration takes that report; when it
// then leaves normally, the stream must still end (no live writer remains and one died): before,
// the readers waited for a writer that could never come. The watch now also compares the lock's
// death count with the one it saw at open. Real processes, real SIGKILL, handshakes only.
import t from 'tap';
import { mkchannel, encodeHandles, gcSegments, ChannelWriter, RwLock, ShmQueue, type ChannelReader } from '../dist';
import { channelAgent } from './helpers/channel';
import { ProcessParty } from './helpers/party';

type Item = [number, number];

/** Reads until [] or a rejection; 'hung' past `ms` (a bound only a failing run reaches). */
async function drain(r: ChannelReader<Item>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const loop = (async () => {
    for (;;) if ((await r.read(1000)).length === 0) return 'ended';
  })().catch((err: { code?: string }) => `rejected ${err.code}`);
  const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  return Promise.race([loop, bound]).finally(() => clearTimeout(timer));
}

t.test('a death whose report a new writer took still ends the stream once that writer leaves', async (t) => {
  const [w, r] = mkchannel<Item>({ shared: true });
  t.teardown(() => {
    r.close();
    gcSegments(); // the killed child's attachments
  });
  const lockName = `${(w.channel.queue as ShmQueue).name}.writers`;
  const writer = new ProcessParty(channelAgent);
  t.teardown(() => writer.kill());
  await writer.message('ready');
  writer.send({ type: 'go', role: 'writer', endpoint: encodeHandles(w), id: 0, count: 50, forever: true });
  w.release();
  await writer.message('progress'); // registered, writing
  writer.kill();
  await writer.ended();

  // No read waits yet, so no watch: the next grant of the lock is this writer's registration.
  const lock = new RwLock(lockName);
  t.teardown(() => lock.close());
  const late = new ChannelWriter(r.channel);
  await late.registered;
  t.ok(lock.info().ownerDeaths >= 1, 'the registration reclaimed the dead writer share (its report went there)');
  await late.write([1, 0]);
  late.release(); // leaves normally: no live writer remains

  t.equal(await drain(r, 5000), 'ended', 'the readers see the stream end instead of waiting for ever');
  t.equal(r.channel.writerDied, true, 'and know a writer died');
});

t.test('writers that all leave normally do not end the stream', async (t) => {
  const [w, r] = mkchannel<Item>({ shared: true });
  t.teardown(() => r.close());
  const lock = new RwLock(`${(w.channel.queue as ShmQueue).name}.writers`);
  t.teardown(() => lock.close());
  await w.registered;
  await w.write([0, 0]);
  w.release();
  t.same(await r.read(1), [[0, 0]]);
  // The watch runs (a read waits past its arm delay, the exclusive grant comes: no writer holds)
  // and must not end the stream: a new writer may still come. It does, and its item arrives.
  const granted = lock.info().acquisitions;
  const reading = r.read(1, { timeout: 10_000 });
  for (const until = Date.now() + 5000; lock.info().acquisitions === granted && Date.now() < until;) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  t.ok(lock.info().acquisitions > granted, 'the watch was granted the lock (no writer held it)');
  const late = new ChannelWriter(r.channel);
  await late.registered;
  await late.write([1, 1]);
  t.same(await reading, [[1, 1]], 'the read got the new writer item, not an end');
  t.equal(r.channel.writerDied, false);
  late.release();
});
