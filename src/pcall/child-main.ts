/**
 * Entry point of every pcall child: runs in a child process forked by child-runner.ts, or in a
 * worker thread started with this same file. Runs each call (sync or async target) and sends
 * exactly one result `(index, ok, payload)` per call (the seed's `ChildLabor.run`). Calls run one
 * at a time. Two kinds of child:
 *
 * - one-shot (no argv): one work message over IPC / parentPort; the "started" report and the
 *   result go back the same way; then the child exits. It loads no native addon unless a handle
 *   travels (cold start, issue 10).
 * - pool child (`--shmsync-pcall-pool <work ring> <result ring>`): serves calls from its work
 *   ring and answers on its result ring (transport.ts) until the parent ends the work ring. Between
 *   calls it parks on the ring (futex) in slices of kParkMs, returning to the event loop between
 *   slices (IPC 'disconnect', worker termination) and after kYieldMs of back-to-back calls; idle
 *   for kIdleSlices slices, it waits with get() instead (no wake-up at all until work comes).
 *
 * A child process exits as soon as its IPC channel closes (parent-link.ts): the parent died (even by SIGKILL) or
 * disconnected, so nobody can receive a result and the child must not be orphaned. Worker threads
 * end with their process and need nothing.
 */
import { performance } from 'node:perf_hooks';
import { serializeError } from './error-codec';
import { PcallTargetError } from './errors';
import { decodeHandles, encodeHandles } from './handle-codec';
import { parentLink } from './parent-link';
import { kReleaseBorrowed } from '../wire/handle-ref';
import { encodePayload } from './payload-codec';
import { deserializeWork, isControl, type WorkMessage, type WorkPayload } from './protocol';
import {
  explainTargetError,
  importModule,
  isCallableMethod,
  loadTarget,
  loadTargetSync,
  targetLabel,
  type LoadedTarget,
  type TargetSpec,
} from './target';
import type { ShmQueue } from '../queue/queue';
import {
  bareRecord,
  frame,
  joinFragments,
  kBoardSlotBytes,
  kOk,
  kPoolChildFlag,
  kReportStarted,
  kResult,
  kStarted,
  kLast,
  kWork,
  payloadOf,
  readHeader,
} from './transport';

/** Longest park on the work ring before the event loop gets a turn (ms). */
const kParkMs = 20;
/** Empty parks in a row (kParkMs each) before an idle child waits through its event loop. */
const kIdleSlices = 5;
/** Longest run of back-to-back calls before the event loop gets a turn (ms). */
const kYieldMs = 4;
/** Exit code of a pool child whose rings failed (corrupt, or ended under it). */
const kRingFailureExit = 70;

const link = parentLink('pcall child-main.js must be started by pcall');

// Loaded targets of this child, kept across the calls of a pool child.
const cache = new Map<string, LoadedTarget>();

/**
 * Releases this child's handles on the call's arguments through `Symbol.dispose`, which every
 * handle class implements as "release this handle" (as `close()`; a queue's stream is ended only
 * by `end()`).
 */
function closeAll(handles: unknown[]): void {
  for (const handle of handles) {
    try {
      // A handle's own release for borrowers first (a channel writer: release, not close).
      const h = handle as { [kReleaseBorrowed]?: () => void; [Symbol.dispose]?: () => void };
      if (typeof h[kReleaseBorrowed] === 'function') h[kReleaseBorrowed]();
      else h[Symbol.dispose]?.();
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

/** The outcome of one call, ready to send. */
interface Outcome {
  readonly ok: boolean;
  readonly payload: Uint8Array;
}

/** One call being run: its work, the handles reopened for it, what was loaded. */
class Call {
  readonly opened: unknown[] = [];
  spec: TargetSpec | undefined;
  target: LoadedTarget | undefined;
  args: unknown[] = [];

  constructor(readonly work: WorkPayload) {
    this.spec = work.target;
  }

  /** Loads what the call needs without waiting; false when a module must be loaded first. */
  prepareSync(): boolean {
    const spec = this.work.target;
    if (this.work.modules.some((m) => !loadedModules.has(m))) return false;
    if (spec.kind === 'method') this.target = methodTarget(spec, this.opened);
    else {
      this.target = loadTargetSync(spec, cache);
      if (this.target === undefined) return false;
    }
    this.args = decodeHandles(this.work.args, this.opened) as unknown[];
    return true;
  }

  async prepare(): Promise<void> {
    // Load the registering modules and the target first: they register the Lockable subclasses
    // that the handle references (arguments, a method target's object) are rebuilt as.
    await loadRegistrations(this.work.modules);
    const spec = this.work.target;
    this.target = spec.kind === 'method' ? methodTarget(spec, this.opened) : await loadTarget(spec, cache);
    this.args = decodeHandles(this.work.args, this.opened) as unknown[];
  }

  invoke(): unknown {
    const target = this.target!;
    return target.fn.apply(target.thisArg, this.args);
  }

  succeeded(value: unknown): Outcome {
    try {
      return { ok: true, payload: encodePayload(encodeHandles(value)) };
    } catch (err) {
      return this.failed(err);
    }
  }

  failed(err: unknown): Outcome {
    const explained = this.target && this.spec ? explainTargetError(err, this.target, this.spec) : err;
    return { ok: false, payload: encodePayload(serializeError(explained)) };
  }

  /** Arguments live for the duration of the call: handles reopened for it are closed after it. */
  done(): void {
    closeAll(this.opened);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

// ---------------------------------------------------------------------------------------------
// One-shot child: work, "started" and result over IPC.

/** Runs one call and sends its result. Never rejects. */
async function runOneShot(message: WorkMessage): Promise<void> {
  let call: Call | undefined;
  let outcome: Outcome;
  try {
    call = new Call(deserializeWork(message.payload));
    await call.prepare();
    // The parent's work clock (`timeout`) starts when this report is written to the channel;
    // until then its start-up clock runs. Waiting for the write keeps a target that blocks the
    // event loop from holding the report back.
    await link.post({ $pcall: 'started', index: message.index, token: message.token });
    outcome = call.succeeded(await call.invoke());
  } catch (err) {
    outcome = call ? call.failed(err) : { ok: false, payload: encodePayload(serializeError(err)) };
  }
  await link.post({ $pcall: 'result', index: message.index, token: message.token, ...outcome });
  call?.done();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Pool child: calls from the work ring, reports and results on the result ring.

function ringFailure(err: unknown): never {
  const what = (err as Error)?.message ?? String(err);
  process.stderr.write(`shmsync: pcall pool child ${process.pid}: its rings failed: ${what}\n`);
  process.exit(kRingFailureExit);
}

function servePool(workName: string, resultName: string, boardName: string, position: number): void {
  /* eslint-disable @typescript-eslint/no-require-imports -- the addon only where rings are used */
  const { ShmQueue: Queue } = require('../queue/queue') as typeof import('../queue/queue');
  const { SharedMemory } = require('../shared-memory/shared-memory') as typeof import('../shared-memory/shared-memory');
  const { ReadOnly } = require('../errors') as typeof import('../errors');
  /* eslint-enable @typescript-eslint/no-require-imports */
  let work: ShmQueue<Buffer>;
  let results: ShmQueue<Buffer>;
  // This child's slot on the board (transport.ts): token at words[w], time at times[t].
  let board: InstanceType<typeof SharedMemory> | undefined;
  let words: Int32Array | undefined;
  let times: Float64Array | undefined;
  const w = (position * kBoardSlotBytes) / 4;
  const t = (position * kBoardSlotBytes) / 8 + 1;
  try {
    work = new Queue<Buffer>(workName, { create: 'open', codec: 'raw' });
    results = new Queue<Buffer>(resultName, { create: 'open', codec: 'raw' });
    if (boardName !== '-') {
      // Kept for the child's life: a collected handle would unmap the board under the views.
      board = new SharedMemory(boardName, { create: 'open' });
      const bytes = board.buffer;
      if (!Number.isInteger(position) || position < 0 || (position + 1) * kBoardSlotBytes > bytes.byteLength)
        throw new RangeError(`board position ${position} is out of range`);
      words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
      times = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 3);
    }
  } catch (err) {
    ringFailure(err);
  }
  /** About to call the target of `token`: tell the parent (a record only if it asked for one). */
  const started = (token: number, index: number, flags: number): void => {
    if ((flags & kReportStarted) !== 0 || board === undefined || words === undefined || times === undefined) {
      // The parent took everything before it dispatched this call: the ring has room, unless
      // code in this child wrote to it (then nothing on it can be trusted).
      if (!results.tryPut(bareRecord(kStarted, token, index))) ringFailure(new Error('the result ring is full'));
      return;
    }
    times[t] = performance.timeOrigin + performance.now();
    Atomics.store(words, w, token | 0);
  };
  const maxResult = results.maxMessageSize;
  const parts: Buffer[] = [];
  let partsToken = 0;

  /**
   * Puts `records` on the result ring: at once while they fit (a result of one record always
   * does: the parent took everything before dispatching), else waits for room through the event
   * loop. Never a blocking wait: a parent that died mid-result never drains the ring, and a child
   * blocked in putSync would never see the IPC 'disconnect' that makes it exit (an orphan).
   */
  const put = (records: Buffer[]): Promise<void> | undefined => {
    for (let i = 0; i < records.length; i += 1) {
      if (!results.tryPut(records[i])) return results.putMany(records.slice(i));
    }
    return undefined;
  };

  /**
   * The next work record, parking on the ring for up to kParkMs. No spinning first: measured on
   * the 2-core machine under load, a child spinning after each call (20-200 µs) slowed the round
   * trip - it held the CPU its parent needed to prepare the next call - while the parent's own
   * futex wait (process-pool.ts) already keeps a round trip at two futex wake-ups.
   */
  const next = (): Buffer | undefined => work.getSync({ timeout: kParkMs });

  /** Sends the outcome of the call `token`/`index`; ends the call. */
  const finish = (
    token: number,
    index: number,
    call: Call | undefined,
    outcome: Outcome,
  ): Promise<void> | undefined => {
    const pending = put(frame(kResult, token, index, outcome.ok ? kOk : 0, outcome.payload, maxResult));
    if (pending === undefined) {
      call?.done();
      return undefined;
    }
    return pending.then(() => call?.done());
  };

  /** Runs one call; returns a promise only when the call went asynchronous. */
  const run = (token: number, index: number, flags: number, payload: Buffer): Promise<void> | undefined => {
    let call: Call | undefined;
    try {
      call = new Call(deserializeWork(payload));
      if (!call.prepareSync()) {
        const pending = call;
        return pending
          .prepare()
          .then(() => {
            started(token, index, flags);
            return pending.invoke();
          })
          .then(
            (value) => finish(token, index, pending, pending.succeeded(value)),
            (err: unknown) => finish(token, index, pending, pending.failed(err)),
          );
      }
      started(token, index, flags);
      const value = call.invoke();
      if (isThenable(value)) {
        const pending = call;
        return Promise.resolve(value).then(
          (v) => finish(token, index, pending, pending.succeeded(v)),
          (err: unknown) => finish(token, index, pending, pending.failed(err)),
        );
      }
      return finish(token, index, call, call.succeeded(value));
    } catch (err) {
      return finish(
        token,
        index,
        call,
        call ? call.failed(err) : { ok: false, payload: encodePayload(serializeError(err)) },
      );
    }
  };

  /** One work record: a fragment kept, or a call run. A promise when the call went asynchronous. */
  const take = (record: Buffer): Promise<void> | undefined => {
    const header = readHeader(record);
    if (header === undefined || header.kind !== kWork) throw new Error('a record that is not work');
    if (parts.length > 0 && header.token !== partsToken) throw new Error('interleaved work fragments');
    partsToken = header.token;
    parts.push(payloadOf(record));
    if ((header.flags & kLast) === 0) return undefined;
    return run(header.token, header.index, header.flags, joinFragments(parts.splice(0)));
  };

  const failed = (err: unknown): never => {
    // The parent ended the work ring: the pool is closing.
    if (err instanceof ReadOnly) process.exit(0);
    return ringFailure(err);
  };

  // Parked slices in a row without work; after kIdleSlices the child waits without waking up.
  let idle = 0;

  const serve = (): void => {
    const until = performance.now() + kYieldMs;
    try {
      for (;;) {
        const record = next();
        if (record === undefined) {
          idle += 1; // parked kParkMs without work: let the event loop run
          break;
        }
        idle = 0;
        const pending = take(record);
        if (pending !== undefined) {
          pending.then(serve, ringFailure);
          return;
        }
        if (performance.now() > until) break;
      }
    } catch (err) {
      failed(err);
    }
    if (idle < kIdleSlices) {
      setImmediate(serve);
      return;
    }
    // Idle: wait through the event loop (no periodic wake-up, IPC and termination served at
    // once); the first call after the pause pays one event-loop wake-up, then calls are hot again.
    idle = 0;
    work.get().then((record) => {
      try {
        const pending = take(record);
        if (pending !== undefined) pending.then(serve, ringFailure);
        else serve();
      } catch (err) {
        failed(err);
      }
    }, failed);
  };
  serve();
}

const poolFlag = process.argv.indexOf(kPoolChildFlag);
if (poolFlag >= 0) {
  const [work, results, board, position] = process.argv.slice(poolFlag + 1, poolFlag + 5);
  servePool(work, results, board, Number(position));
} else {
  link.listen((message) => {
    if (isControl<WorkMessage>(message, 'work')) void runOneShot(message);
  });
}
