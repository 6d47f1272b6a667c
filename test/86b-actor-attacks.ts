// Actors and relays (issue 12), attacked: hostile frames forged into a link's ShmQueue by another
// process, a logger that throws, a module that does not exist, unserializable messages, the main
// process SIGKILLed while its actors start. Each case ends in a coded error (or a documented,
// bounded outcome): no crash of the main process, no wedged relay, no orphan.
import t from 'tap';
import * as fs from 'node:fs';
import { ActorRef, Handler, Relay, ShmQueue } from '../dist';
import { LogCollector, ref, rejection, tref } from './helpers/actors';
import { Child } from './helpers/fork';
import { removeSegmentsOf, survivors } from './helpers/procs';

delete process.env.NODE_OPTIONS;

/** Queues this process created since `before` (their names, as ShmQueue opens them). */
function newQueues(before: Set<string>): string[] {
  const prefix = `shmsync-queue-${process.pid.toString(36)}-`;
  return fs
    .readdirSync('/dev/shm')
    .filter((n) => n.startsWith(prefix) && !before.has(n))
    .map((n) => n.slice('shmsync-'.length));
}

const hostile: Array<[string, unknown, RegExp]> = [
  ['not an array', 'x', /malformed relay message/],
  ['an empty array', [], /malformed relay message/],
  ['a wrong tag', [7, 'payload'], /unknown tag 7/],
  ['a huge argument list', [0, ...new Array<number>(100_001).fill(0)], /100001 arguments \(at most 65536\)/],
];

for (const [what, frame, message] of hostile) {
  t.test(`a frame forged into a link (${what}) fails the receiver with SHMSYNC_CORRUPT; the relay stops`, async (t) => {
    const before = new Set(fs.readdirSync('/dev/shm'));
    const logs = new LogCollector();
    const producer = tref('Endless');
    // The first case's receiver is a real process (the forger is another process); the others
    // are threads (same code path, CI time).
    const receiver = what === hostile[0][0] ? ref('Sleeper') : tref('Sleeper');
    const started = new Relay({ logger: logs.logger }).connect(producer, receiver).start();
    await logs.next(new RegExp(`\\(${receiver.name}\\) ready`));
    const [name] = newQueues(before); // the relay's only queue: the link (unbounded, no wake queue)
    const link = new ShmQueue(name, { create: 'open' });
    t.teardown(() => link.close());
    await link.put(frame);
    const err = await rejection(started);
    t.equal(err.code, 'SHMSYNC_CORRUPT');
    t.match(err.message, message);
    t.match(err.actor, { name: receiver.name, group: 'group-1' });
    t.notOk(producer.alive || receiver.alive, 'every actor ended');
  });
}

t.test('a forged poison pill ends the stream early: bounded, the relay rejects, nothing hangs', async (t) => {
  // Documented: a process that can write the link can end it. The sender's next put then fails.
  const before = new Set(fs.readdirSync('/dev/shm'));
  const logs = new LogCollector();
  const producer = tref('Endless');
  const receiver = tref('Sleeper');
  const started = new Relay({ logger: logs.logger }).connect(producer, receiver).start();
  await logs.next(new RegExp(`\\(${receiver.name}\\) ready`));
  await logs.next(new RegExp(`\\(${producer.name}\\) ready`));
  const [name] = newQueues(before);
  const link = new ShmQueue(name, { create: 'open' });
  t.teardown(() => link.close());
  await link.put([1]);
  const err = await rejection(started);
  t.match(err.code, /^SHMSYNC_/, `a coded error: ${String(err.code)} ${err.message}`);
  t.notOk(producer.alive || receiver.alive);
});

t.test('a logger that throws rejects start() with its error, never crashes this process', async (t) => {
  const boom = new Error('logger broke');
  let calls = 0;
  const logger = (r: { group: string }): void => {
    if (r.group === 'relay') return; // the relay's own records: this case is about the actors'
    calls++;
    throw boom; // inside the IPC / worker 'message' listener that delivers actor records
  };
  const producer = ref('Endless');
  const receiver = tref('Sleeper');
  const err = await rejection(new Relay({ logger }).connect(producer, receiver).start());
  t.equal(err, boom);
  t.ok(calls >= 1, 'the logger was called with actor records');
  t.notOk(producer.alive || receiver.alive, 'the relay stopped its actors');
});

t.test('a handler whose run() throws rejects start() with its error; the actors are stopped', async (t) => {
  const boom = new Error('run broke');
  class Broken extends Handler {
    run(): never {
      throw boom;
    }
  }
  const producer = ref('Endless'); // never ends by itself: only the relay can stop it
  const err = await rejection(new Relay().connect(producer, tref('Sleeper')).start(new Broken()));
  t.equal(err, boom);
  t.notOk(producer.alive, 'the endless producer was stopped');
});

t.test('a module that does not exist fails start() with the loader error', async (t) => {
  for (const mode of ['thread'] as const) {
    const missing = new ActorRef({ module: '/nonexistent/shmsync-actor.js', export: 'X', mode });
    const err = await rejection(new Relay().connect(missing, tref('Sleeper')).start());
    t.equal(err.code, 'MODULE_NOT_FOUND', mode);
    t.match(err.actor, { name: missing.name, group: 'group-0' });
  }
});

for (const [kind, codec] of [
  ['function', 'structured'],
  ['symbol', 'structured'],
  ['sab', 'structured'],
  ['bigint', 'json'],
  ['circular', 'json'],
] as const) {
  t.test(`an unserializable message (${kind}, ${codec}) fails its sender, never silently`, async (t) => {
    const sender = tref('BadSender', [kind]);
    const err = await rejection(new Relay({ codec }).connect(sender, tref('Sleeper')).start());
    t.match(err.actor, { name: sender.name }, `${err.name}: ${err.message}`);
  });
}

t.test('the main process SIGKILLed while its actors start leaves no actor', async (t) => {
  // The parent forks its actors and reports their pids at once, before any of them has loaded.
  const parent = new Child('actors/relay-parent.js', ['0', 'early']);
  const { pids } = await parent.message<{ type: string; pids: number[] }>('ready');
  parent.kill('SIGKILL');
  await parent.exited;
  // Not our children: no exit event reaches this process (survivors() polls, boundedly).
  t.same(await survivors(pids, []), [], 'no orphan left');
  removeSegmentsOf(parent.proc.pid!, ['queue', 'array']);
});
