// Actors and relays (issue 12): connect() validation, 1-1 ordering with the startup/shutdown
// messages of the seed's test, a relay runs once, the first group must loop, the wire framing.
import t from 'tap';
import { ActorSink, Control, Relay, RelayError, ShmQueue } from '../dist';
import { drainSink, ref, rejection, tref } from './helpers/actors';

// tap preloads its process tracker through NODE_OPTIONS; actor children would inherit it.
delete process.env.NODE_OPTIONS;

t.test('connect() needs at least two groups (ktz: single group rejected)', async (t) => {
  const relay = new Relay();
  const a = ref('Producer', [1]);
  for (const call of [() => relay.connect(a), () => relay.connect([a]), () => relay.connect()]) {
    t.throws(call, { name: 'RelayError', code: 'SHMSYNC_RELAY', message: /at least two groups/ });
  }
  t.throws(() => relay.connect({ named: { only: a } }), { code: 'SHMSYNC_RELAY' });
  t.ok(new RelayError('x') instanceof Error);
  await t.rejects(relay.start(), { code: 'SHMSYNC_RELAY', message: /before connect/ });
});

t.test('connect() rejects empty groups, repeated actors, non-actors, actors of another relay', async (t) => {
  const relay = new Relay();
  const a = ref('Producer', [1]);
  const b = ref('Collector', []);
  t.throws(() => relay.connect(a, []), { code: 'SHMSYNC_RELAY', message: /empty group/ });
  t.throws(() => relay.connect(a, [b, a]), { code: 'SHMSYNC_RELAY', message: /appears twice/ });
  t.throws(() => relay.connect(a, [b, {} as never]), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => relay.connect(a, 'b' as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => relay.connect(a, b, { named: { 'group-1': b } }), { code: 'SHMSYNC_RELAY', message: /used twice/ });
  relay.connect(a, b);
  t.throws(() => new Relay().connect(a, ref('Collector', [])), { message: /another relay/ });
});

t.test('group names: positional group-0.., named ones after them in key order', async (t) => {
  const [a, b, c, d] = [ref('Producer', [1]), ref('Proxy'), ref('Proxy'), ref('Collector')];
  const relay = new Relay().connect(a, [b, c], { named: { last: d } });
  t.same(
    relay.groups.map(([name, actors]) => [name, actors.map((x) => x.name)]),
    [
      ['group-0', [a.name]],
      ['group-1', [b.name, c.name]],
      ['last', [d.name]],
    ],
  );
  t.same([a.group, a.sender, a.receiver], ['group-0', true, false]);
  t.same([b.group, b.sender, b.receiver], ['group-1', true, true]);
  t.same([d.group, d.sender, d.receiver], ['last', false, true]);
  const [x, y] = [ref('Producer', [1]), ref('Collector')];
  const named = new Relay().connect({ named: { b: x, a: y } });
  t.same(
    named.groups.map(([n]) => n),
    ['b', 'a'],
    'named groups keep key order: the first key is the first group',
  );
});

t.test('1-1: every message in order, startup and shutdown messages delivered (Decision 17)', async (t) => {
  const sink = new ActorSink();
  t.teardown(() => sink.close());
  const p = ref('Producer', [200, { announce: true }]);
  const c = ref('Collector', [sink]);
  await new Relay().connect(p, c).start();
  const [report] = await drainSink<{ name: string; got: unknown[][] }>(sink, 1);
  t.equal(report.name, c.name);
  t.same(report.got[0], ['startup', p.name]);
  t.same(report.got.at(-1), ['shutdown', p.name]);
  t.same(
    report.got.slice(1, -1),
    Array.from({ length: 200 }, (_, i) => ['data', p.name, i]),
    'the loop messages, in order',
  );
  t.equal(p.exitCode, 0);
  t.equal(c.exitCode, 0);
  t.type(p.pid, 'number');
});

t.test('a relay can be started only once', async (t) => {
  const sink = new ActorSink();
  t.teardown(() => sink.close());
  const relay = new Relay().connect(tref('Producer', [1]), tref('Collector', [sink]));
  const first = relay.start();
  await t.rejects(relay.start(), { code: 'SHMSYNC_RELAY', message: /only once/ });
  t.throws(() => relay.connect(ref('Producer', [1]), ref('Collector', [sink])), { code: 'SHMSYNC_RELAY' });
  await first;
  await t.rejects(relay.start(), { code: 'SHMSYNC_RELAY' });
});

t.test('a first-group actor without its own loop() fails with a clear error', async (t) => {
  const err = await rejection(new Relay().connect(tref('NoLoop'), tref('Collector', [null])).start());
  t.equal(err.code, 'SHMSYNC_RELAY');
  t.ok(err instanceof RelayError, 'instanceof works on the rebuilt error (by code)');
  t.match(err.message, /first group of its relay: it receives nothing, so it must override loop\(\)/);
  t.match(err.actor, { hook: 'loop', group: 'group-0' });
});

t.test('an export that is not an Actor subclass fails with a clear error', async (t) => {
  const relay = new Relay().connect(tref('HookError'), tref('Collector', [null]));
  const err = await rejection(relay.start());
  t.match(err.message, /is not a subclass of Actor/);
});

t.test('wire framing: no user value is taken for a control value', async (t) => {
  // User messages that look like the control frames, sent through a real relay link.
  const sink = new ActorSink();
  t.teardown(() => sink.close());
  const p = tref('KwProducer', [1, 2], { kwargs: { k: 'v' } });
  const c = tref('Collector', [sink]);
  await new Relay().connect(p, c).start();
  const [report] = await drainSink<{ got: unknown[][] }>(sink, 1);
  t.same(report.got, [
    [1, { key: 'one', from: { a: 1, b: 2, kwargs: { k: 'v' } } }],
    [2, { $shmsync: 'ShmQueue', name: 'not-a-handle' }],
    [{ 0: 1 }],
    [1],
    [],
  ]);
  // The handler queue: Control values travel as tags; user values equal to a tag stay data.
  const q = new ActorSink();
  t.teardown(() => q.close());
  for (const v of [1, 2, [1], [2], Control.poison, 'eol', Control.eol]) await q.put(v);
  const got: unknown[] = [];
  for (let i = 0; i < 7; i++) got.push(await q.get());
  t.same(got.slice(0, 4), [1, 2, [1], [2]]);
  t.equal(got[4], Control.poison);
  t.equal(got[5], 'eol');
  t.equal(got[6], Control.eol);
  t.ok(q.queue instanceof ShmQueue);
});
