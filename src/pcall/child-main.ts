/**
 * Entry point of every pcall child: runs in a child process forked by child-runner.ts, or in a
 * worker thread started with this same file. Waits for work messages, runs each call (sync or
 * async target), and sends exactly one result `(index, ok, payload)` per call through the result
 * transport (the seed's `ChildLabor.run`). A one-shot child exits after its result; a pool child
 * waits for the next work. Calls run one at a time.
 *
 * A child process exits as soon as its IPC channel closes: the parent died (even by SIGKILL) or
 * disconnected, so nobody can receive a result and the child must not be orphaned. Worker threads
 * end with their process and need nothing.
 */
import * as v8 from 'node:v8';
import { isMainThread, parentPort } from 'node:worker_threads';
import { serializeError } from './error-codec';
import { PcallTargetError } from './errors';
import { decodeHandles, encodeHandles } from './handle-codec';
import { deserializeWork, isControl, type WorkMessage } from './protocol';
import {
  explainTargetError,
  importModule,
  isCallableMethod,
  loadTarget,
  targetLabel,
  type LoadedTarget,
  type TargetSpec,
} from './target';
import { openResultSender, type ParentLink } from './transport';

/** The control link to the parent: IPC in a process, parentPort in a worker. */
function parentLink(): ParentLink & { listen(fn: (message: unknown) => void): void } {
  if (!isMainThread && parentPort) {
    const port = parentPort;
    return {
      post: async (message) => {
        port.postMessage(message);
      },
      listen: (fn) => {
        port.on('message', fn);
      },
    };
  }
  const send = process.send?.bind(process);
  if (send === undefined) {
    process.stderr.write('shmsync: pcall child-main.js must be started by pcall (no IPC channel)\n');
    process.exit(2);
  }
  // The parent is gone or let go of us: exit rather than linger as an orphan.
  process.on('disconnect', () => process.exit(0));
  return {
    // The callback runs once the message is written to the channel: safe to exit after it.
    post: (message) =>
      new Promise((resolve) => {
        send(message, undefined, {}, () => resolve());
      }),
    listen: (fn) => {
      process.on('message', fn);
    },
  };
}

const link = parentLink();
// Loaded targets of this child, kept across the calls of a pool child.
const cache = new Map<string, LoadedTarget>();
let running: Promise<void> = Promise.resolve();

/**
 * Releases this child's handles on the call's arguments through `Symbol.dispose`, which every
 * handle class implements as "release this handle" (as `close()`; a queue's stream is ended only
 * by `end()`).
 */
function closeAll(handles: unknown[]): void {
  for (const handle of handles) {
    try {
      (handle as { [Symbol.dispose]?: () => void })[Symbol.dispose]?.();
    } catch {
      // Already released by the target: fine.
    }
  }
}

/** Modules already loaded for Lockable registrations (a pool child keeps them). */
const loadedModules = new Set<string>();

/** Loads the modules that register the Lockable classes a call uses (before decoding handles). */
async function loadRegistrations(modules: readonly string[] | undefined): Promise<void> {
  for (const module of modules ?? []) {
    if (loadedModules.has(module)) continue;
    try {
      await importModule(module);
    } catch (err) {
      throw new PcallTargetError(
        `pcall could not load ${module}, which registers a Lockable class this call uses: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    }
    loadedModules.add(module);
  }
}

/** A method target: the rebuilt object (with its registered class) and its method. */
function methodTarget(spec: Extract<TargetSpec, { kind: 'method' }>, opened: unknown[]): LoadedTarget {
  const object = decodeHandles(spec.object, opened) as Record<string, unknown>;
  if (spec.className !== undefined) {
    // Loaded by decodeHandles (the object is a handle): only the registry is needed here.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: children without method targets never load it
    const { registeredNameOf } = require('../lockable/lockable') as typeof import('../lockable/lockable');
    const got = registeredNameOf(object as never);
    if (got !== spec.className) {
      throw new PcallTargetError(
        `pcall ${targetLabel(spec)}: the object arrived as a ${got ?? 'plain Lockable'}, not a ${spec.className}: ` +
          `class ${spec.className} is not registered in the child (call ${spec.className}.register() at the top ` +
          'level of the module that defines it, or give register({ module }))',
      );
    }
  }
  const fn = object[spec.method];
  if (!isCallableMethod(spec.method, fn)) {
    throw new PcallTargetError(`pcall ${targetLabel(spec)}: the rebuilt object has no method '${spec.method}'`);
  }
  return { fn: fn as LoadedTarget['fn'], thisArg: object };
}

/** Runs one call and sends its result. Never rejects. */
async function runWork(message: WorkMessage): Promise<void> {
  const opened: unknown[] = [];
  let spec: TargetSpec | undefined;
  let target: LoadedTarget | undefined;
  let ok = false;
  let payload: Uint8Array;
  try {
    const work = deserializeWork(message.payload);
    spec = work.target;
    // Load the registering modules and the target first: they register the Lockable subclasses
    // that the handle references (arguments, a method target's object) are rebuilt as.
    await loadRegistrations(work.modules);
    target = spec.kind === 'method' ? methodTarget(spec, opened) : await loadTarget(spec, cache);
    const args = decodeHandles(work.args, opened) as unknown[];
    // The parent's work clock (`timeout`) starts when this report is written to the channel;
    // until then its start-up clock runs. Waiting for the write keeps a target that blocks the
    // event loop from holding the report back.
    await link.post({ $pcall: 'started', index: message.index, token: message.token });
    const value = await target.fn.apply(target.thisArg, args);
    payload = v8.serialize(encodeHandles(value));
    ok = true;
  } catch (err) {
    const explained = target && spec ? explainTargetError(err, target, spec) : err;
    payload = v8.serialize(serializeError(explained));
  }
  // Arguments live for the duration of the call: handles reopened for it are closed after it.
  await openResultSender(message.channel).send({ index: message.index, ok, payload });
  closeAll(opened);
  if (message.last) process.exit(0);
}

link.listen((message) => {
  if (isControl<WorkMessage>(message, 'work')) {
    running = running.then(() => runWork(message));
  } else if (isControl(message, 'stop')) {
    void running.then(() => process.exit(0));
  }
});
