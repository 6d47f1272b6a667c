// Actors and relays (issue 12): log records reach the main process as records of a logger named by
// the relay's `log` (default: the actor's module), prefixed `[group] (name)`, through console, a
// pino/winston-shaped logger or a function; keyword-style arguments (constructor kwargs, a trailing
// options object on send/recv).
import t from 'tap';
import { ActorSink, Relay, type ActorLogRecord } from '../dist';
import { LogCollector, drainSink, ref, tref } from './helpers/actors';

delete process.env.NODE_OPTIONS;

t.test('a function logger gets every record: name, level, prefix, format arguments', async (t) => {
  const logs = new LogCollector();
  const chatty = ref('Chatty');
  const sink = new ActorSink();
  t.teardown(() => sink.close());
  await new Relay({ logger: logs.logger }).connect(chatty, tref('Collector', [sink])).start();
  const mine = logs.records.filter((r) => r.actor === chatty.name && !/starting up|loop|shut down/.test(r.message));
  const prefix = `[group-0] (${chatty.name}) `;
  t.same(
    mine.map((r) => [r.logger, r.levelName, r.level, r.message]),
    [
      ['actors', 'info', 20, `${prefix}plain text 42`],
      ['actors', 'warn', 30, `${prefix}a warning`],
      ['actors', 'error', 40, `${prefix}numeric error`],
      ['actors', 'debug', 10, `${prefix}quiet`],
      ['actors', 'info', 20, `${prefix}object arg { level: 'not an option', x: 1 }`],
    ],
  );
  // Lifecycle records (debug) of both actors, in the seed's order.
  t.same(
    logs.records
      .filter((r) => r.actor === chatty.name && r.level === 10 && r.message !== `${prefix}quiet`)
      .map((r) => r.message.slice(prefix.length)),
    ['starting up', 'running loop', 'leaving loop', 'shut down complete'],
  );
  t.ok(logs.records.some((r) => r.group === 'group-1' && /received 1\/1 poison pills/.test(r.message)));
});

t.test('`log` names the logger; a pino/winston-shaped logger is used through child({ name })', async (t) => {
  const calls: Array<[string, string, unknown[]]> = [];
  const make = (name: string): Record<string, unknown> => ({
    debug: (...a: unknown[]) => calls.push([name, 'debug', a]),
    info: (...a: unknown[]) => calls.push([name, 'info', a]),
    warn: (...a: unknown[]) => calls.push([name, 'warn', a]),
    error: (...a: unknown[]) => calls.push([name, 'error', a]),
    child: (bindings: { name: string }) => make(`${name}/${bindings.name}`),
  });
  const chatty = tref('Chatty', [], { name: 'talker' });
  const sink = new ActorSink();
  t.teardown(() => sink.close());
  await new Relay({ log: 'pipeline', logger: make('root') as never })
    .connect({ named: { source: chatty, sink: tref('Collector', [sink]) } })
    .start();
  const mine = calls.filter(([, , [msg]]) => String(msg).startsWith('[source] (talker)'));
  t.same(mine.slice(0, 3), [
    ['root/pipeline', 'debug', ['[source] (talker) starting up']],
    ['root/pipeline', 'debug', ['[source] (talker) running loop']],
    ['root/pipeline', 'info', ['[source] (talker) plain text 42']],
  ]);
  t.ok(mine.some(([, level, [msg]]) => level === 'warn' && msg === '[source] (talker) a warning'));
});

t.test('console by default: LEVEL:logger:[group] (name) message, debug hidden', async (t) => {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => lines.push(`out ${line}`);
  console.error = (line: string) => lines.push(`err ${line}`);
  const chatty = tref('Chatty', [], { name: 'console-talker' });
  const sink = new ActorSink();
  try {
    await new Relay().connect(chatty, tref('Collector', [sink])).start();
  } finally {
    console.log = log;
    console.error = error;
    sink.close();
  }
  const mine = lines.filter((l) => l.includes('(console-talker)'));
  t.same(mine.slice(0, 3), [
    'out INFO:actors:[group-0] (console-talker) plain text 42',
    'err WARN:actors:[group-0] (console-talker) a warning',
    'err ERROR:actors:[group-0] (console-talker) numeric error',
  ]);
  t.notOk(
    mine.some((l) => l.includes('quiet') || l.includes('starting up')),
    'debug records are not printed at the default level',
  );
});

t.test('logger validation', async (t) => {
  t.throws(() => new Relay({ logger: { info() {} } as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => new Relay({ logLevel: 'loud' as never }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => new Relay({ log: 3 as never }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
});

for (const mode of ['process', 'thread'] as const) {
  t.test(`keyword-style arguments (${mode}): kwargs as a trailing object, on construction and on send`, async (t) => {
    const sink = new ActorSink();
    t.teardown(() => sink.close());
    const producer = ref('KwProducer', ['a', 'b'], { kwargs: { retries: 3, nested: { deep: [1, 2] } }, mode });
    await new Relay().connect(producer, ref('Collector', [sink], { mode })).start();
    const [report] = await drainSink<{ got: unknown[][] }>(sink, 1);
    t.same(report.got[0], [
      1,
      { key: 'one', from: { a: 'a', b: 'b', kwargs: { retries: 3, nested: { deep: [1, 2] } } } },
    ]);
    t.same(report.got.slice(3), [[1], []], 'no trailing object: none is invented');
  });
}

t.test('records arrive in the order an actor logged them', async (t) => {
  const records: ActorLogRecord[] = [];
  const sink = new ActorSink();
  t.teardown(() => sink.close());
  await new Relay({ logger: (r) => records.push(r) }).connect(tref('Producer', [5]), ref('Collector', [sink])).start();
  const consumer = records.filter((r) => r.group === 'group-1').map((r) => r.message.replace(/^\S+ \S+ /, ''));
  t.same(consumer, ['starting up', 'running loop', 'received 1/1 poison pills', 'leaving loop', 'shut down complete']);
});
