import t, { type Test } from 'tap';
import * as path from 'node:path';
import { ShmQueue } from '../dist';
import { Child, fixturesDir, type Message } from './helpers/fork';
import { ProcessParty, WorkerParty, outcome, type Party } from './helpers/party';
import { testName } from './helpers/shm';

// The figure: 250 000 messages through 4 producers and 4 consumers. SHMSYNC_QUEUE_MESSAGES
// scales it (e.g. down on a very slow machine); the default is the full figure.
const kTotal = Number(process.env.SHMSYNC_QUEUE_MESSAGES ?? 250_000);
const kProducers = 4;
const kConsumers = 4;
const kPerProducer = Math.floor(kTotal / kProducers);

interface ConsumerReport extends Message {
  gets: number;
  counts: number[];
  seqSums: number[];
  orderViolations: number;
  bad: number;
  seen: Uint8Array;
}

/**
 * Runs kProducers producers and kConsumers consumers of the sequence oracle (fixtures/queue-lib.js)
 * through one queue, closes it once every producer is done, and checks exactly-once delivery.
 */
async function pipeline(
  t: Test,
  kind: 'process' | 'worker',
  capacity: number,
  consumerModes = ['getMany', 'getSync', 'iterate', 'mixed'],
): Promise<void> {
  const q = new ShmQueue(testName(`q-${kind}s`), { create: 'create', codec: 'raw', capacity });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  const make = (fixture: string, args: string[]): Party => {
    const p = kind === 'process' ? new ProcessParty(fixture, args) : new WorkerParty(fixture, args);
    t.teardown(() => p.kill());
    return p;
  };
  const producerModes = ['async', 'sync', 'async', 'single'];
  const producers = producerModes.map((mode, id) =>
    make('queue-producer.js', [q.name, String(id), String(kPerProducer), '256', mode]),
  );
  const consumers = consumerModes.map((mode) =>
    make('queue-consumer.js', [q.name, String(kProducers), String(kPerProducer), mode]),
  );
  await Promise.all([...producers, ...consumers].map((p) => p.message('ready')));
  const consumed = consumers.map((c) => outcome<ConsumerReport>(c));
  const produced = producers.map((p) => outcome(p));
  const start = process.hrtime.bigint();
  for (const c of consumers) c.send({ type: 'go' });
  for (const p of producers) p.send({ type: 'go' });
  await Promise.all(produced);
  q.end(); // consumers drain what is left, then end
  const reports = await Promise.all(consumed);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const total = kPerProducer * kProducers;

  t.same(
    reports.map((r) => r.bad),
    consumers.map(() => 0),
    'every message intact (length, producer, sequence, check word)',
  );
  t.same(
    reports.map((r) => r.orderViolations),
    consumers.map(() => 0),
    "within each consumer, each producer's messages arrive in increasing order",
  );
  const counts = Array.from({ length: kProducers }, (_, p) => reports.reduce((s, r) => s + r.counts[p], 0));
  const seqSums = Array.from({ length: kProducers }, (_, p) => reports.reduce((s, r) => s + r.seqSums[p], 0));
  t.same(
    counts,
    producers.map(() => kPerProducer),
    'per producer, the counts over consumers add up to what it put',
  );
  t.same(
    seqSums,
    producers.map(() => (kPerProducer * (kPerProducer - 1)) / 2),
    'per producer, the sequence sums add up to 0 + 1 + ... + (n - 1)',
  );
  const seen = new Uint8Array(total);
  for (const r of reports) for (let i = 0; i < total; i++) seen[i] += r.seen[i];
  let notOnce = 0;
  for (let i = 0; i < total; i++) if (seen[i] !== 1) notOnce += 1;
  t.equal(notOnce, 0, `each of the ${total} messages was received exactly once`);
  t.ok(
    reports.every((r) => r.counts.reduce((a, b) => a + b, 0) > 0),
    `every consumer got messages (${reports.map((r) => r.counts.reduce((a, b) => a + b, 0)).join(' / ')})`,
  );
  t.match(q.info(), { size: 0, bytesUsed: 0, totalPut: total, totalGot: total, ended: true });
  for (const p of [...producers, ...consumers]) {
    t.same(await p.ended(), kind === 'process' ? { code: 0, signal: null } : { code: 0 }, `${kind} exits cleanly`);
  }
  t.comment(
    `${kind === 'process' ? 'processes' : 'worker threads'}: ${total} messages, ${kProducers} x ${kConsumers}, in ${seconds.toFixed(2)} s = ${Math.round(total / seconds).toLocaleString('en')} msgs/s`,
  );
}

t.test(
  `${kProducers} producer processes x ${kConsumers} consumer processes, ${kTotal} messages: exactly once, per-producer order`,
  async (t) => {
    await pipeline(t, 'process', 1 << 16);
  },
);

t.test(`the same across worker threads`, async (t) => {
  await pipeline(t, 'worker', 1 << 16);
});

t.test(
  'the fast paths across processes: drain() / drainSync() views and spinning await get() consumers, exactly once, in order',
  async (t) => {
    // The drain consumers take batches through zero-copy views (copied by the visitor), the
    // iterate/mixed ones await get(), which polls the ring from JS before parking.
    await pipeline(t, 'process', 1 << 16, ['drain', 'drainSync', 'iterate', 'mixed']);
  },
);

t.test(
  'wrap-around: every size from 0 bytes to maxMessageSize through a small ring, byte for byte, in order',
  async (t) => {
    // fixtures/queue-lib.js is plain JS shared with the producer: the same sizes and contents here.

    const lib = require(path.join(fixturesDir, 'queue-lib.js')) as {
      wrapSizes(max: number, rounds: number, seed: number): number[];
      wrapMessage(i: number, size: number): Buffer;
    };
    const capacity = 4096;
    const q = new ShmQueue<Buffer>(testName('q-wrap'), { create: 'create', codec: 'raw', capacity });
    t.teardown(() => {
      q.close();
      ShmQueue.unlink(q.name);
    });
    const max = q.maxMessageSize;
    t.equal(max, capacity / 2 - 8);
    const rounds = 2;
    const seed = 20240605;
    const sizes = lib.wrapSizes(max, rounds, seed);
    const child = new Child('queue-wrap-producer.js', [q.name, String(max), String(rounds), String(seed)]);
    t.teardown(() => child.kill());
    await child.message('ready');
    const done = outcome<{ type: string; messages: number; bytes: number }>({
      message: (type) => child.message(type),
      send: () => {},
      ended: () => child.exited,
      kill: () => child.kill(),
    });
    child.send({ type: 'go' });
    let i = 0;
    let wrong = 0;
    let firstWrong = '';
    const verify = (m: Buffer | undefined): void => {
      const want = lib.wrapMessage(i, sizes[i]);
      if (m === undefined || !want.equals(m)) {
        wrong += 1;
        firstWrong ||= `message ${i}: expected ${sizes[i]} bytes, got ${m?.length} bytes`;
      }
      i += 1;
    };
    // The consumer alternates get flavours: getMany batches, single gets, blocking getSync.
    for (let round = 0; i < sizes.length; round++) {
      if (round % 3 === 0) for (const m of await q.getMany(1 + (round % 7))) verify(m);
      else if (round % 3 === 1) verify(await q.get());
      else verify(q.getSync({ timeout: 10_000 }));
    }
    const report = await done;
    t.equal(
      wrong,
      0,
      `all ${sizes.length} messages (0..${max} bytes, each size ${rounds} times) equal byte for byte and in order ${firstWrong}`,
    );
    t.equal(report.messages, sizes.length);
    const ringBytes = sizes.reduce((s, n) => s + ((8 + n + 7) & ~7), 0);
    t.ok(
      ringBytes / capacity > 500,
      `the ${capacity}-byte ring wrapped about ${Math.floor(ringBytes / capacity)} times`,
    );
    t.equal(q.info().totalPut, sizes.length);
    t.equal(q.tryGet(), undefined, 'nothing more');
    t.same(await child.exited, { code: 0, signal: null });
  },
);
