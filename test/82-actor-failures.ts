// Actors and relays (issue 12), failure model (Decision 16): an actor that throws in any hook,
// exits, or is killed makes start() reject with that error (its class and remote stack kept) and
// the relay stops every other actor: no hang, nothing left running.
import t, { type Test } from 'tap';
import { ActorExitError, Relay, RemoteException, type ActorRef } from '../dist';
import { LogCollector, actorsModule, ref, rejection, tref } from './helpers/actors';

delete process.env.NODE_OPTIONS;
const { HookError } = require(actorsModule) as { HookError: new (...a: unknown[]) => Error };

function allEnded(t: Test, actors: ActorRef[]): void {
  for (const a of actors) t.notOk(a.alive, `${a.name} is not running`);
}

for (const hook of ['constructor', 'startup', 'loop', 'recv', 'shutdown'] as const) {
  t.test(`a throw in ${hook}() rejects start() with that error and stops the others`, async (t) => {
    // loop(): the failing actor is a first-group actor, its receiver would wait for ever.
    // Otherwise it receives from an endless producer that only the relay can stop.
    const first = hook === 'loop';
    // Threads: the error path (report, rebuild, stop the rest) is the same; exits and kills of
    // real processes are the tests below.
    const failing = tref('Failing', [hook]);
    // shutdown(): runs once the upstream has finished, so a finite producer.
    const other = first ? tref('Sleeper') : hook === 'shutdown' ? tref('Producer', [10]) : tref('Endless');
    const relay = new Relay({ maxsize: 4, killGrace: 5000 });
    if (first) relay.connect(failing, other);
    else relay.connect(other, failing);
    const err = await rejection(relay.start());
    t.ok(err instanceof HookError, 'rebuilt as the class the actor module exports');
    t.equal(err.message, `failed in ${hook}`);
    t.equal(err.code, 'E_HOOK');
    t.equal(err.hook, hook, 'own properties kept');
    t.match(err.actor, { name: failing.name, group: first ? 'group-0' : 'group-1', hook, pid: failing.pid });
    const remote = err.cause as InstanceType<typeof RemoteException>;
    t.ok(remote instanceof RemoteException, 'cause: the remote stack');
    t.match(remote.message, /actors\.js/, 'the remote stack names the actor module');
    t.equal(failing.exitCode, 1);
    allEnded(t, [failing, other]);
    if (!first && hook !== 'shutdown')
      t.equal(other.signalCode, 'SIGTERM', 'the endless producer was stopped by the relay');
  });
}

t.test('an actor that exits early rejects start() with an ActorExitError', async (t) => {
  const quitter = ref('Failing', ['exit']);
  const sleeper = tref('Sleeper');
  const err = await rejection(new Relay().connect(quitter, sleeper).start());
  t.ok(err instanceof ActorExitError);
  t.equal(err.code, 'SHMSYNC_ACTOR_EXIT');
  t.match(err.message, new RegExp(`actor ${quitter.name} \\(group-0\\) exited with code 3 before finishing`));
  t.match(err, { exitCode: 3, signal: null, actor: { name: quitter.name, group: 'group-0' } });
  allEnded(t, [quitter, sleeper]);
});

for (const how of ['kill', 'terminate'] as const) {
  for (const mode of ['process', 'thread'] as const) {
    t.test(`an actor ended by ${how}() (${mode}) rejects start(); the rest is stopped`, async (t) => {
      const logs = new LogCollector();
      const producer = ref('Endless', [], { mode });
      const sleeper = tref('Sleeper'); // the other end: what is killed is the producer, in `mode`
      const started = new Relay({ logger: logs.logger }).connect(producer, sleeper).start();
      // Handshake: both actors logged 'ready' from their hooks (no sleep).
      await logs.next(new RegExp(`\\(${producer.name}\\) ready`));
      await logs.next(new RegExp(`\\(${sleeper.name}\\) ready`));
      t.ok(producer.alive && sleeper.alive);
      producer[how]();
      const err = await rejection(started);
      const signal = how === 'kill' ? 'SIGKILL' : 'SIGTERM';
      t.ok(err instanceof ActorExitError);
      t.match(err.message, new RegExp(`actor ${producer.name} \\(group-0\\) was killed by ${signal}`));
      t.equal(err.signal, signal);
      t.equal(producer.signalCode, signal);
      allEnded(t, [producer, sleeper]);
    });
  }
}

for (const before of [0, 40]) {
  t.test(`a message too large for the link fails its sender, never silently (${before} sent before)`, async (t) => {
    // send() stages messages and puts them in batches: the failure surfaces at the next send or
    // before the pill, and is reported as the actor's error all the same.
    const sender = tref('BigSender', [before]);
    const err = await rejection(new Relay().connect(sender, tref('Sleeper')).start());
    t.equal(err.code, 'SHMSYNC_TOO_LARGE');
    t.match(err.actor, { name: sender.name });
  });
}
