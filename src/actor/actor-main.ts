/**
 * Entry point of every actor: a child process forked by actor-ref.ts (IPC), or a worker thread
 * started with this same file (workerData). Receives one ActorInit, builds the user's Actor and
 * runs its lifecycle: startup() → loop() → shutdown() → poison pill, reporting logs, the first
 * error and `done` to the relay.
 *
 * A child process exits as soon as its IPC channel closes (the relay's process died, even by
 * SIGKILL): nobody is left to run the relay, and an actor must not be orphaned. The runtime
 * returns to the event loop at least every few milliseconds (runtime.ts) so 'disconnect' is seen
 * even by a busy actor. Worker threads end with their process.
 */
import { workerData } from 'node:worker_threads';
import { serializeError } from '../pcall/error-codec';
import { decodeHandles } from '../pcall/handle-codec';
import { parentLink } from '../pcall/parent-link';
import { importModule } from '../pcall/target';
import { isActorClass, setPendingRuntime, type Actor } from './actor';
import { RelayError } from './errors';
import type { ActorInit, ActorReport } from './protocol';
import { Runtime } from './runtime';
import './sink'; // registers the handler queue's handle type (constructor arguments may carry one)

interface Link {
  post(report: ActorReport): void;
  /** Resolves once everything posted so far is written. */
  flush(): Promise<void>;
  init(): Promise<ActorInit>;
}

/** The actor's side of parent-link.ts: reports in order, flush() before exiting. */
function actorLink(): Link {
  const parent = parentLink('actor-main.js must be started by a Relay');
  let last: Promise<void> = Promise.resolve();
  return {
    post: (r) => {
      last = parent.post(r);
    },
    flush: () => last,
    init: () =>
      parent.inWorker
        ? Promise.resolve(workerData as ActorInit)
        : new Promise((resolve) => {
            parent.listenOnce((m) => resolve(m as ActorInit));
          }),
  };
}

const link = actorLink();

function exit(code: number): void {
  void link.flush().then(() => process.exit(code));
}

async function main(): Promise<void> {
  const init = await link.init();
  if (init?.kind !== 'shmsync-actor-init') throw new Error('shmsync: actor-main.js got no ActorInit');
  const runtime = new Runtime(init, link.post);
  let failed = false;
  const fail = (hook: string, err: unknown): void => {
    if (failed) return;
    failed = true;
    link.post({ t: 'error', hook, error: serializeError(err) });
  };
  process.on('uncaughtException', (err) => {
    fail('uncaught', err);
    exit(1);
  });
  process.on('unhandledRejection', (err) => {
    fail('uncaught', err);
    exit(1);
  });
  let actor: Actor | undefined;
  try {
    const mod = await importModule(init.module);
    const picked =
      init.export !== undefined ? mod?.[init.export] : typeof mod === 'function' ? mod : (mod?.default ?? mod);
    if (!isActorClass(picked)) {
      throw new RelayError(
        `${init.module}#${init.export ?? 'default'} is not a subclass of Actor (it is ${picked === null ? 'null' : typeof picked})`,
      );
    }
    const args = decodeHandles(init.args) as unknown[];
    setPendingRuntime(runtime);
    try {
      actor = new picked(...args);
    } finally {
      setPendingRuntime(undefined);
    }
    runtime.log(10, 'starting up', []);
    runtime.hook = 'startup';
    await actor.startup();
    runtime.log(10, 'running loop', []);
    runtime.hook = 'loop';
    await actor.loop();
    runtime.log(10, 'leaving loop', []);
    runtime.hook = 'shutdown';
    await actor.shutdown();
    // Staged messages go out now, so a failed put (a message too large for the ring) is reported.
    await runtime.flush();
  } catch (err) {
    fail(runtime.hook, err);
  } finally {
    // Decision 16/17: the pill goes after shutdown() - and after a failure too, so the next group
    // is released even if the relay could not stop it.
    try {
      await runtime.poison();
    } catch {
      // The relay is tearing the pipeline down: nothing left to release.
    }
  }
  if (!failed) runtime.log(10, 'shut down complete', []);
  runtime.close();
  if (!failed) link.post({ t: 'done' });
  exit(failed ? 1 : 0);
}

main().catch((err) => {
  link.post({ t: 'error', hook: 'init', error: serializeError(err) });
  exit(1);
});
