// Actors and relays (issue 12): backpressure. With `maxsize`, send() waits while that many
// messages are in flight on the link, so a fast producer is paced by a slow consumer. Measured
// with counters in shared memory (sent / handled), never with time.
import t, { type Test } from 'tap';
import { ActorSink, Relay, SharedArray } from '../dist';
import { drainSink, tref } from './helpers/actors';

delete process.env.NODE_OPTIONS;

/**
 * Producer and SlowConsumer share `counters` = [sent, largest in-flight seen, handled]. Before
 * handling each message the consumer waits until `target` messages are in flight (sent, not yet
 * handled) or everything was sent: with a bound, the producer can never get further ahead.
 */
async function pacing(t: Test, maxsize: number, target: number, n: number): Promise<number> {
  const counters = new SharedArray<'int32'>({ type: 'int32', length: 3 });
  t.teardown(() => counters.close());
  const producer = tref('PacedProducer', [n, counters]);
  const consumer = tref('SlowConsumer', [n, counters, target]);
  await new Relay({ maxsize }).connect(producer, consumer).start();
  t.equal(counters.array[0], n, 'every message sent');
  t.equal(counters.array[2], n, 'every message handled');
  return counters.array[1];
}

t.test('maxsize: a fast producer is paced by a slow consumer (never more than maxsize in flight)', async (t) => {
  const most = await pacing(t, 8, 8, 200);
  t.equal(most, 8, 'the producer ran ahead exactly up to maxsize, and no further');
});

t.test('without maxsize the same producer runs further ahead (the pacing test can fail)', async (t) => {
  const most = await pacing(t, 0, 50, 200);
  t.ok(most >= 50, `${most} messages in flight at once`);
});

t.test('maxsize 1: strict hand-over, one message in flight at a time', async (t) => {
  const most = await pacing(t, 1, 1, 50);
  t.equal(most, 1);
});

t.test('maxsize { bytes }: the ring is the bound; everything still arrives in order', async (t) => {
  const sink = new ActorSink({ capacity: 1 << 22 });
  t.teardown(() => sink.close());
  // 2000 messages of ~100 bytes through a 1 KiB ring: the producer must wait many times.
  const producer = tref('Producer', [2000, { announce: true }]);
  const collector = tref('Collector', [sink]);
  await new Relay({ maxsize: { bytes: 1000 } }).connect(producer, collector).start();
  const [report] = await drainSink<{ got: unknown[][] }>(sink, 1);
  t.equal(report.got.length, 2002);
  t.same(report.got[1000], ['data', producer.name, 999]);
});

t.test('maxsize validation', async (t) => {
  t.throws(() => new Relay({ maxsize: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new Relay({ maxsize: 1.5 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new Relay({ maxsize: { items: 3 } as never }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.doesNotThrow(() => new Relay({ maxsize: null }));
  t.doesNotThrow(() => new Relay({ maxsize: 0 }));
  t.doesNotThrow(() => new Relay({ maxsize: { messages: 5, bytes: 4096 } }));
});
