// `shmsync inspect` of a queue's sequence words (native/core/ring-wake.h): the counters of
// data_seq / space_seq and their armed / wake-owed bits, the positions and message counts -
// human and --json output, from the real CLI binary, against a fixture process that parks a
// consumer (get() on an empty ring) and a producer (put() on a full one). The test waits for a
// parked side by reading the segment's words (shared state), never by sleeping.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import { ShmQueue } from '../dist';
import { lsSchema } from '../dist/cli/schema';
import { Child, forkReady } from './helpers/fork';
import { cliBase, runCli } from './helpers/cli';

const shm = (name: string): string => `/dev/shm/shmsync-${name}`;
const kArmed = 0x80000000;
const kWakeOwed = 0x40000000;
/** Payload offsets of the words (native/core/ring-layout.h), plus the 64-byte header. */
const kDataSeq = 64 + 16;
const kConsumers = 64 + 20;
const kSpaceSeq = 64 + 80;
const kProducers = 64 + 84;

const validate = new Ajv2020({ allErrors: true }).compile(lsSchema);

async function ask(child: Child, type: string, extra: Record<string, unknown> = {}): Promise<any> {
  child.send({ type, ...extra });
  const m = await child.message<any>(type);
  if (m.error) throw new Error(`fixture ${type} failed: ${m.error}`);
  return m;
}

function word(name: string, at: number): number {
  const fd = fs.openSync(shm(name), 'r');
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, at);
    return b.readUInt32LE(0);
  } finally {
    fs.closeSync(fd);
  }
}

/** A hostile (or killed-claimant) write of one futex word, as another process could do it. */
function forge(name: string, at: number, value: number): void {
  const fd = fs.openSync(shm(name), 'r+');
  try {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0, 0);
    fs.writeSync(fd, b, 0, 4, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** Waits (event-loop turns, bounded) until `cond` holds over the segment's words. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The words of a hex dump (inspect's `stateHex` lines) at file `offset` (4-aligned), little-endian. */
function dumpWord(lines: string[], offset: number): number {
  const line = lines.map((l) => l.trim()).find((l) => l.startsWith(`${(offset & ~15).toString(16).padStart(4, '0')}:`));
  if (line === undefined) throw new Error(`no dump line for ${offset}`);
  const bytes = line.split(' ').slice(1);
  const i = offset & 15;
  return Buffer.from(bytes.slice(i, i + 4).join(''), 'hex').readUInt32LE(0);
}

/** `ls --json` of the test's queues (one CLI run), validated, as name -> queue JSON. */
async function lsQueues(t: Test, base: string): Promise<Record<string, any>> {
  const r = await runCli(['ls', '--json', `${base}-*`]);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.ok(validate(out), JSON.stringify(validate.errors));
  return Object.fromEntries(out.objects.map((o: any) => [o.name.slice(base.length + 1), o.queue]));
}

/** `inspect NAME` (human) of several queues at once. */
async function inspectText(t: Test, base: string, tags: string[]): Promise<Record<string, string>> {
  const runs = await Promise.all(tags.map((tag) => runCli(['inspect', `${base}-${tag}`])));
  runs.forEach((r, i) => t.equal(r.code, 0, `inspect ${tags[i]}: ${r.stderr}`));
  return Object.fromEntries(runs.map((r, i) => [tags[i], r.stdout]));
}

t.test('sequence words, flags and counters: parked sides, a wake owed, then each one paid', async (t) => {
  const base = cliBase();
  const tags = ['counts', 'consumer', 'producer', 'owed', 'maxed'];
  t.teardown(() => {
    for (const tag of tags) fs.rmSync(shm(`${base}-${tag}`), { force: true });
  });
  const child = await forkReady('cli-queue-agent.js');
  t.teardown(() => child.kill());
  const q: Record<string, ShmQueue<Buffer>> = {};
  for (const tag of tags) {
    await ask(child, 'create', { name: `${base}-${tag}` });
    q[tag] = new ShmQueue<Buffer>(`${base}-${tag}`, { create: 'open', codec: 'raw' }); // also pins it (test/40-cli-ls.ts)
  }
  t.teardown(() => {
    for (const h of Object.values(q)) h.close();
  });
  const n = (tag: string): string => `${base}-${tag}`;

  // counts: 5 puts, 2 gets, nobody ever slept.
  await ask(child, 'putGet', { name: n('counts'), n: 5, m: 2 });
  // consumer: a get() parked on the empty ring.
  const got = child.message<any>('got');
  await ask(child, 'park', { name: n('consumer') });
  // producer: a put() parked on the full ring.
  const { count } = await ask(child, 'fill', { name: n('producer') });
  const put = child.message<any>('put');
  await ask(child, 'parkPut', { name: n('producer') });
  // owed: what a claimant killed between its claim and its FUTEX_WAKE leaves (forged here).
  await ask(child, 'putGet', { name: n('owed'), n: 1, m: 0 });
  forge(n('owed'), kDataSeq, kWakeOwed | 7);
  // maxed: both bits and the largest counter.
  forge(n('maxed'), kDataSeq, 0xffffffff);
  await until(
    'the parked sides to arm',
    () =>
      (word(n('consumer'), kDataSeq) & kArmed) !== 0 &&
      word(n('consumer'), kConsumers) === 1 &&
      (word(n('producer'), kSpaceSeq) & kArmed) !== 0 &&
      word(n('producer'), kProducers) === 1,
  );

  const [before, text] = await Promise.all([lsQueues(t, base), inspectText(t, base, tags)]);
  const idle = { armed: false, wakeOwed: false };
  // 24-byte payloads: 8-byte record header + 24 = 32 bytes a record.
  t.match(before.counts, { tail: '160', head: '64', messagesIn: '5', messagesOut: '2', depth: 3, bytesUsed: 96 });
  t.match(before.counts, { dataSeq: 0, spaceSeq: 0, consumersWaiting: 0, producersWaiting: 0 });
  t.same([before.counts.dataWake, before.counts.spaceWake], [idle, idle], 'no sleeper ever: no flag, no claim');
  t.match(text.counts, /capacity 1024, max message \d+, tail 160, head 64, in 5, out 2\n/);
  t.match(text.counts, /consumers sleeping 0, data seq 0, space seq 0\n/);

  t.match(before.consumer, { dataSeq: 0, consumersWaiting: 1, dataWake: { armed: true, wakeOwed: false } });
  t.same(before.consumer.spaceWake, idle);
  t.match(text.consumer, /consumers sleeping 1, data seq 0 \(armed\), space seq 0\n/);
  t.match(text.consumer, /1 consumer waiting/);

  t.match(before.producer, { spaceSeq: 0, producersWaiting: 1, spaceWake: { armed: true, wakeOwed: false } });
  t.match(before.producer, { dataSeq: 0, dataWake: idle, messagesIn: String(count) });
  t.match(text.producer, /producers sleeping 1, consumers sleeping 0, data seq 0, space seq 0 \(armed\)\n/);
  t.match(text.producer, /1 producer waiting \(full\)/);

  t.match(before.owed, { dataSeq: 7, dataWake: { armed: false, wakeOwed: true } });
  t.match(text.owed, /data seq 7 \(wake owed\), space seq 0\n/);
  t.match(before.maxed, { dataSeq: 0x3fffffff, dataWake: { armed: true, wakeOwed: true } });
  t.match(text.maxed, /data seq 1073741823 \(armed, wake owed\), space seq 0\n/);

  // Each one paid: the put that wakes the consumer claims (counter + 1), the get that frees room
  // claims the space word; an owed wake is paid and its mark cleared (no claim: counter kept); a
  // claim of the largest counter wraps to 0 (30 bits).
  t.equal(q.consumer.tryPut(Buffer.alloc(24)), true);
  t.ok(q.producer.getSync({ blocking: false }) !== undefined);
  t.equal(q.owed.tryPut(Buffer.alloc(24)), true);
  t.equal(q.maxed.tryPut(Buffer.alloc(24)), true);
  t.match(await got, { name: n('consumer'), length: 24 }, 'the parked get was woken');
  t.notOk((await put).error, 'the parked put went in');
  await until(
    'the parked sides to leave',
    () => word(n('consumer'), kConsumers) === 0 && word(n('producer'), kProducers) === 0,
  );
  const after = await lsQueues(t, base);
  t.match(after.consumer, { dataSeq: 1, consumersWaiting: 0, dataWake: idle });
  t.match(after.producer, {
    spaceSeq: 1,
    producersWaiting: 0,
    spaceWake: idle,
    messagesIn: String(count + 1),
    messagesOut: '1',
  });
  t.match(after.owed, { dataSeq: 7, dataWake: idle });
  t.match(after.maxed, { dataSeq: 0, dataWake: idle });
  t.match(after.counts, { dataSeq: 0, spaceSeq: 0, dataWake: idle, spaceWake: idle }, 'untouched');
});

t.test('inspect: the dump and the decoded words come from one read, while a rogue rewrites them', async (t) => {
  const name = `${cliBase()}-flip`;
  const q = new ShmQueue(name, { create: 'create' });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(name);
  });
  // An attached-lifetime queue: its header carries the attach word (inspect --json printed its
  // u64 namespace inode as a BigInt: JSON.stringify threw).
  const att = new ShmQueue(undefined, { lifetime: 'attached' });
  t.teardown(() => att.close());
  const rogue = await forkReady('corrupt-flipper.js', ['41']);
  t.teardown(() => rogue.kill());
  rogue.send({ type: 'flip', file: shm(name), ranges: [[kDataSeq, 4]] });
  await rogue.message('flipping');
  const runs = await Promise.all([
    runCli(['inspect', '--json', name]),
    runCli(['inspect', '--json', name]),
    runCli(['inspect', '--json', att.name]),
    runCli(['inspect', att.name]),
  ]);
  rogue.send({ type: 'pause' });
  await rogue.message('paused');
  for (const [i, r] of runs.slice(0, 2).entries()) {
    t.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    const dumped = dumpWord(o.stateHex, kDataSeq);
    t.equal(o.queue.dataSeq, dumped & 0x3fffffff, `run ${i}: counter decoded = counter dumped`);
    t.same(
      o.queue.dataWake,
      { armed: (dumped & kArmed) !== 0, wakeOwed: (dumped & kWakeOwed) !== 0 },
      `run ${i}: flags too`,
    );
  }
  t.equal(runs[2].code, 0, runs[2].stderr);
  t.match(
    JSON.parse(runs[2].stdout || 'null')?.header?.attach,
    { count: 1, pending: 0, pidNamespace: /^[0-9]+$/ },
    'the attach word as plain JSON',
  );
  t.equal(runs[3].code, 0, runs[3].stderr);
  t.match(runs[3].stdout, /attached {4}1 handle, 0 hand-offs pending/);
});
