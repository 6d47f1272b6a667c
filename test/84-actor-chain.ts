// Actors and relays (issue 12): the seed's demo chain, 3 producers -> 10 workers -> 5 workers ->
// 1 consumer, over 100 000 messages with an exactly-once oracle: every id is counted by the
// consumer, which must see each exactly once. The demo's maxsize 50 roughly doubles the CPU time
// (a bounded link keeps the 15 workers parking and waking per message), too much for the suite's
// budget: this run bounds the links by their rings only; test 81 (1-n-1) and 83 cover maxsize.
// Worker threads: 19 actor processes cost ~19 start-ups for nothing this test proves (81's 1-n-1
// chain and 80's 1-1 run real processes).
import t from 'tap';
import { ActorSink, Relay } from '../dist';
import { drainSink, refs, tref } from './helpers/actors';

delete process.env.NODE_OPTIONS;

t.test('3 -> 10 -> 5 -> 1 over 100 000 messages: each delivered exactly once', async (t) => {
  const total = 100_000;
  const sink = new ActorSink({ capacity: 1 << 20 });
  t.teardown(() => sink.close());
  // Disjoint id ranges per producer: [base, base + n).
  const producers = [0, 1, 2].map((i) => {
    const n = Math.floor(total / 3) + (i < total % 3 ? 1 : 0);
    const base = i * Math.floor(total / 3) + Math.min(i, total % 3);
    return tref('Producer', [n, { base }]);
  });
  const tally = tref('Tally', [sink, total]);
  const relay = new Relay().connect(producers, refs(10, 'Proxy', [], 'thread'), refs(5, 'Proxy', [], 'thread'), tally);
  await relay.start();
  const [report] = await drainSink<{ name: string; counts: Uint8Array }>(sink, 1);
  t.equal(report.name, tally.name);
  let missing = 0;
  let duplicated = 0;
  for (const c of report.counts) {
    if (c === 0) missing++;
    else if (c > 1) duplicated++;
  }
  t.equal(report.counts.length, total);
  t.equal(missing, 0, 'no message lost');
  t.equal(duplicated, 0, 'no message delivered twice');
  t.same(
    relay.groups.map(([name, actors]) => [name, actors.length]),
    [
      ['group-0', 3],
      ['group-1', 10],
      ['group-2', 5],
      ['group-3', 1],
    ],
  );
});
