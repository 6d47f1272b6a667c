/**
 * A warm pool of pcall children (processes or worker threads) kept alive between calls, so
 * repeated pcalls skip the ~76 ms spawn. `pcall(targets, { pool })` queues its calls on the
 * pool's children, one call per child at a time; targets are still shipped with every call (a
 * child caches what it loaded). A child that dies is replaced. Runs in the parent.
 *
 * Transport (transport.ts): each child has a work ring and a result ring in shared memory. A call
 * is one work record put on the child's work ring and one result record taken from its result
 * ring (plus a "started" record that starts the call's work clock). After dispatching, the parent
 * polls the result rings for a short, adaptive budget (a trivial call comes back in well under
 * it, with no event-loop wake-up at all); a call still running after that is awaited with
 * `get()` on its result ring, which parks without blocking the event loop. IPC is used only for
 * the lifecycle: a process child exits when its channel closes (its parent died).
 *
 * Idle children do not keep the parent alive (they are unref'd and nothing waits on their
 * rings), and a child process exits when its parent does, even by SIGKILL (child-main.ts exits on
 * IPC 'disconnect'); threads end with the process.
 *
 * Exactly once: a call's work goes to one child's ring, is taken by that child only, and its
 * result is consumed once by this process. A child that dies mid-call fails that call (never
 * re-run); a child that breaks the ring protocol is killed, its call fails with a clear error.
 */
import { performance } from 'node:perf_hooks';
import { ShmQueue } from '../queue/queue';
import { SharedMemory } from '../shared-memory/shared-memory';
import { ReadOnly } from '../errors';
import { type CallSlot, type Executor } from './call-slot';
import { spawnRunner, type ExitInfo, type Runner } from './child-runner';
import { poolOptionsOf, type PcallMode, type PoolOptions } from './options';
import { kPoolBrand } from './protocol';
import {
  frame,
  joinFragments,
  kBoardSlotBytes,
  kHeader,
  kLast,
  kReportStarted,
  kOk,
  kPoolChildFlag,
  kResult,
  kResultRingCapacity,
  kStarted,
  kWork,
  kWorkRingCapacity,
  payloadOf,
  readHeader,
} from './transport';

/** Options of {@link ProcessPool}. */
export interface ProcessPoolOptions {
  /** Number of children (default `os.availableParallelism()`). */
  size?: number;
  /** `'process'` (default) or `'thread'`. */
  mode?: PcallMode;
  /** Environment of the children (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the children (default `[]`). */
  execArgv?: readonly string[];
  /** Working directory of child processes. */
  cwd?: string;
  /**
   * Largest result, in encoded bytes, a call may send back (default: the largest Buffer). A
   * child that sends more is killed (and replaced) and its call fails: a child can never make
   * the parent buffer an endless result.
   */
  maxResultBytes?: number;
}

/** One child of the pool and its two rings. */
interface PoolChild {
  /** Its position: its slot on the board (a replacement takes the position of the child it replaces). */
  readonly position: number;
  readonly runner: Runner;
  readonly work: ShmQueue<Buffer>;
  readonly results: ShmQueue<Buffer>;
  /** The call this child runs now. */
  job: CallSlot | undefined;
  /** Result fragments of `job` received so far, and their total bytes (bounded by maxResultBytes). */
  readonly parts: Buffer[];
  partBytes: number;
  /** Whether the call in flight reported "started" on the result ring. */
  startedSeen: boolean;
  /** performance.now() when `job` was sent (round-trip estimate for the adaptive poll). */
  sentAt: number;
  /** The async reader of the result ring, while one runs, and what stops its wait. */
  pump: Promise<void> | undefined;
  stopPump: AbortController | undefined;
  /** Set once the child exited (or is being killed for a protocol violation). */
  gone: boolean;
  /** Why the child was killed by the pool (a broken ring), if it was. */
  violation: Error | undefined;
  completed: number;
  /** Resolves once the pool has handled the child's exit (call failed, rings removed). */
  done: Promise<void>;
}

// Children that die idle before their first call, in a row, before the pool stops replacing them
// (a bad execArgv or env would otherwise respawn forever).
const kMaxStartFailures = 3;
/**
 * Longest synchronous wait for results after a dispatch (ms). It blocks this event loop, so it is
 * short, and adaptive (kMaxSpinBackoff). It sleeps on the result ring (futex) rather than
 * spinning: on a 2-core machine the child may need this very CPU, and measured under load a
 * spinning parent delayed its child by the whole spin (issue 10).
 */
const kMaxSpinMs = 0.25;
/** After a poll that missed (a long call), how many dispatches skip polling (doubling up to this). */
const kMaxSpinBackoff = 64;
/**
 * Records taken from one result ring in one go (a result fragment carries up to half a ring, so
 * a batch is a few MiB): the reader then lets the event loop run, even if the child keeps
 * writing.
 */
const kDrainBatch = 8;

/** One event-loop turn (setImmediate). */
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A pool of warm children for pcall.
 *
 * ```ts
 * await using pool = new ProcessPool({ size: 4 });
 * await pcall(work, { iargs, pool });   // reuses the same 4 children
 * await pcall(work, { iargs, pool });
 * ```
 */
export class ProcessPool {
  /** Number of children the pool keeps. */
  readonly size: number;
  /** Whether children are processes or worker threads. */
  readonly mode: PcallMode;
  readonly #options: PoolOptions;
  readonly #children = new Set<PoolChild>();
  readonly #queue: CallSlot[] = [];
  readonly #pending = new Set<CallSlot>();
  #closed = false;
  #stopping = false;
  #startFailures = 0;
  #broken: ExitInfo | undefined;
  #closing: Promise<void> | undefined;
  /** Adaptive polling: dispatches left to skip, and the current skip length after a miss. */
  #spinSkip = 0;
  #spinBackoff = 0;
  /** True while #poll() runs: children dispatched meanwhile are polled, then awaited, by it. */
  #polling = false;
  /** Where children note "started" without waking us (transport.ts); undefined if unavailable. */
  #board: { readonly shm: SharedMemory; readonly words: Int32Array; readonly times: Float64Array } | undefined;

  constructor(options?: ProcessPoolOptions) {
    this.#options = poolOptionsOf(options);
    this.size = this.#options.size;
    this.mode = this.#options.mode;
    Object.defineProperty(this, kPoolBrand, { value: true });
    this.#board = openBoard(this.size);
    try {
      for (let i = 0; i < this.size; i += 1) this.#spawn(i);
    } catch (err) {
      void this.destroy(); // the children already started, their rings and the board
      throw err;
    }
  }

  /** True once close() or destroy() was called: new pcalls on it throw ClosedError. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Pids (thread ids in thread mode) of the current children. */
  get pids(): number[] {
    return [...this.#children].map((c) => c.runner.pid).filter((pid): pid is number => pid !== undefined);
  }

  #spawn(position: number): void {
    const work = new ShmQueue<Buffer>(undefined, { codec: 'raw', capacity: kWorkRingCapacity });
    let results: ShmQueue<Buffer>;
    try {
      results = new ShmQueue<Buffer>(undefined, { codec: 'raw', capacity: kResultRingCapacity });
    } catch (err) {
      removeRing(work);
      throw err;
    }
    const board = this.#board === undefined ? '-' : this.#board.shm.name;
    const argv = [kPoolChildFlag, work.name, results.name, board, String(position)];
    const child: PoolChild = {
      position,
      runner: spawnRunner(this.#options, false, argv),
      work,
      results,
      job: undefined,
      parts: [],
      partBytes: 0,
      startedSeen: false,
      sentAt: 0,
      pump: undefined,
      stopPump: undefined,
      gone: false,
      violation: undefined,
      completed: 0,
      done: Promise.resolve(),
    };
    child.runner.unref();
    this.#children.add(child);
    child.done = child.runner.exited.then((exit) => this.#exited(child, exit));
  }

  async #exited(child: PoolChild, exit: ExitInfo): Promise<void> {
    child.gone = true;
    this.#children.delete(child);
    // Anything the child committed before dying counts: read it all before judging the call.
    this.#drain(child, Infinity);
    // A parked reader is withdrawn (even from a ring so corrupt that nothing would wake it).
    child.stopPump?.abort();
    await child.pump;
    const job = child.job;
    child.job = undefined;
    removeRing(child.work);
    removeRing(child.results);
    if (job) {
      this.#pending.delete(job);
      job.fail(exit, child.violation);
    } else if (child.completed === 0 && !this.#stopping) {
      this.#startFailures += 1;
    }
    if (this.#stopping) return;
    if (this.#startFailures >= kMaxStartFailures || exit.error !== undefined) {
      this.#broken = exit;
      if (this.#children.size === 0) for (const queued of this.#queue.splice(0)) this.#fail(queued, exit);
      return;
    }
    try {
      this.#spawn(child.position);
    } catch (error) {
      // No replacement (/dev/shm full, no more processes): run on the children left, and fail
      // what is queued once none is left - never an unhandled rejection in the parent.
      this.#broken = { code: null, signal: null, error };
      if (this.#children.size === 0) for (const queued of this.#queue.splice(0)) this.#fail(queued, this.#broken);
    }
    this.#dispatch();
  }

  #fail(slot: CallSlot, exit: ExitInfo | undefined): void {
    this.#pending.delete(slot);
    slot.fail(exit);
  }

  /** Hands queued calls to idle children. Returns how many it dispatched. */
  #dispatch(): number {
    let sent = 0;
    if (this.#queue.length === 0) return 0;
    for (const child of this.#children) {
      if (child.job !== undefined || child.gone || !child.runner.alive) continue;
      const slot = this.#queue.shift();
      if (slot === undefined) break;
      child.job = slot;
      child.startedSeen = false;
      // Lazy clocks: a call that completes within #poll() never creates a timer; #await() arms them.
      slot.dispatch(child.runner, true);
      child.sentAt = performance.now();
      this.#send(child, slot);
      if (!this.#polling) this.#await(child);
      sent += 1;
      if (this.#queue.length === 0) break;
    }
    return sent;
  }

  /** Puts a call's work on its child's ring (one record when it fits, as nearly always). */
  #send(child: PoolChild, slot: CallSlot): void {
    try {
      const flags = slot.timed || this.#board === undefined ? kReportStarted : 0;
      if (flags === 0) slot.startProbe = () => this.#startedAt(child, slot);
      const records = frame(kWork, slot.token, slot.index, flags, slot.payload, child.work.maxMessageSize);
      // The ring is empty (one call per child, taken before its result came back): a record that
      // fits goes in at once; larger work streams through while the child reads.
      if (records.length === 1 && child.work.tryPut(records[0])) return;
      this.#await(child);
      child.work.putMany(records).catch((err: unknown) => this.#violated(child, err));
    } catch (err) {
      this.#violated(child, err);
    }
  }

  /**
   * When the child noted on the board that it started `slot` (performance.now() time), or
   * undefined. The board is written by the child: read once, validated, never trusted further.
   */
  #startedAt(child: PoolChild, slot: CallSlot): number | undefined {
    const board = this.#board;
    if (board === undefined || child.job !== slot || child.gone) return undefined;
    const at = child.position * (kBoardSlotBytes / 4);
    if (Atomics.load(board.words, at) >>> 0 !== slot.token) return undefined;
    const epochMs = board.times[child.position * (kBoardSlotBytes / 8) + 1];
    const when = epochMs - performance.timeOrigin;
    return Number.isFinite(when) ? Math.min(when, performance.now()) : performance.now();
  }

  /**
   * Processes the records the child's result ring holds now, without waiting: at most `max` of
   * them (a live child could keep the ring from ever running empty), every one for a child that
   * is gone. Stops at a violation: nothing more from that child counts.
   */
  #drain(child: PoolChild, max = kDrainBatch): void {
    for (let n = 0; n < max && child.violation === undefined; n += 1) {
      let record: Buffer | undefined;
      try {
        record = child.results.tryGet();
      } catch (err) {
        if (!(err instanceof ReadOnly)) this.#violated(child, err);
        return;
      }
      if (record === undefined) return;
      this.#record(child, record);
    }
  }

  /** One record from a child's result ring: validated against the call in flight, never trusted. */
  #record(child: PoolChild, record: Buffer): void {
    if (child.violation !== undefined) return;
    const slot = child.job;
    const header = readHeader(record);
    if (slot === undefined || header === undefined || header.token !== slot.token || header.index !== slot.index) {
      this.#violated(child, new Error('a record that belongs to no call in flight'));
      return;
    }
    if (header.kind === kStarted && child.parts.length === 0) {
      // One per call: a stream of them would keep this reader busy forever.
      if (child.startedSeen) this.#violated(child, new Error('a second "started" record for one call'));
      child.startedSeen = true;
      slot.started();
      return;
    }
    if (header.kind !== kResult) {
      this.#violated(child, new Error(`a record of unknown kind ${header.kind}`));
      return;
    }
    const payload = payloadOf(record);
    // frame() fills every fragment but the last: fragments are never empty, and their count is
    // bounded by maxResultBytes.
    const chunk = child.results.maxMessageSize - kHeader;
    if ((header.flags & kLast) === 0 && payload.byteLength !== chunk) {
      this.#violated(child, new Error(`a result fragment of ${payload.byteLength} bytes, not ${chunk}`));
      return;
    }
    child.partBytes += payload.byteLength;
    if (child.partBytes > this.#options.maxResultBytes) {
      // An endless (or just too large) result: never buffered, never joined (a join beyond the
      // largest Buffer would throw here, in the reader, and crash this process).
      child.parts.length = 0;
      this.#violated(
        child,
        undefined,
        `sent a result larger than the pool's maxResultBytes (${this.#options.maxResultBytes} bytes)`,
      );
      return;
    }
    child.parts.push(payload);
    if ((header.flags & kLast) === 0) return;
    child.partBytes = 0;
    slot.result((header.flags & kOk) !== 0, joinFragments(child.parts.splice(0)));
    // A short call (even one that was awaited) means polling pays again.
    if (performance.now() - child.sentAt < kMaxSpinMs) this.#spinSkip = this.#spinBackoff = 0;
    // The call is over: the child is free for the next one.
    child.job = undefined;
    child.completed += 1;
    this.#startFailures = 0;
    this.#pending.delete(slot);
    slot.settle();
    this.#dispatch();
  }

  /**
   * The child broke the ring protocol (or its rings are corrupt): it cannot be trusted with its
   * call any more. Kill it; its exit fails the call with `error` and replaces it.
   */
  #violated(child: PoolChild, err: unknown, what?: string): void {
    if (child.violation !== undefined) return;
    const why = (err as Error)?.message ?? String(err);
    const killed = child.gone ? '' : '; the pool killed the child';
    const message = what === undefined ? `broke the pool's ring protocol (${why})${killed}` : `${what}${killed}`;
    child.violation = what === undefined ? Object.assign(new Error(message), { cause: err }) : new Error(message);
    if (child.gone) return; // found while reading what it left behind
    child.runner.ref(); // its exit must be seen, to replace it
    child.runner.signal('SIGKILL');
  }

  /** Awaits the child's result ring (without blocking the event loop) until its call is over. */
  #await(child: PoolChild): void {
    child.job?.armClocks();
    if (child.pump !== undefined || child.gone || child.violation !== undefined) return;
    child.runner.ref(); // a call in flight keeps the parent alive
    const stop = new AbortController();
    child.stopPump = stop;
    child.pump = (async () => {
      try {
        while (child.job !== undefined && !child.gone && child.violation === undefined) {
          let record: Buffer;
          try {
            record = await child.results.get({ signal: stop.signal });
          } catch (err) {
            if (!(err instanceof ReadOnly) && !child.gone) this.#violated(child, err);
            return;
          }
          this.#record(child, record);
          this.#drain(child);
          // A result still streaming in: get() resolves at once while records are there
          // (microtasks only), so give the event loop a turn between batches.
          if (child.parts.length > 0) await yieldTurn();
        }
      } finally {
        child.pump = undefined;
        child.stopPump = undefined;
        if (!child.gone && child.violation === undefined) child.runner.unref();
        // The call just completed may have dispatched another one to this child.
        if (child.job !== undefined && !child.gone) this.#await(child);
      }
    })();
  }

  /**
   * After a dispatch: polls the busy children's result rings for up to kMaxSpinMs, so a short
   * call completes without an event-loop wake-up; every call still running then is awaited. The
   * poll blocks this event loop, so it is bounded and adaptive: after a miss (a long call), the
   * next dispatches skip it (doubling up to kMaxSpinBackoff); any call that completes within the
   * bound, polled or awaited, turns it back on.
   */
  #poll(): void {
    this.#polling = true;
    if (this.#spinSkip > 0) {
      this.#spinSkip -= 1;
    } else {
      const until = performance.now() + kMaxSpinMs;
      let busy = true;
      while (busy) {
        busy = false;
        let first: PoolChild | undefined;
        for (const child of this.#children) {
          if (child.job === undefined || child.pump !== undefined || child.gone) continue;
          this.#drain(child);
          if (child.job !== undefined) {
            busy = true;
            first ??= child;
          }
        }
        const left = until - performance.now();
        if (first === undefined || left <= 0) break;
        // Sleep on the ring (futex) rather than spin: the child may need this very CPU.
        try {
          const record = first.results.getSync({ timeout: left });
          if (record !== undefined) this.#record(first, record);
        } catch (err) {
          if (!(err instanceof ReadOnly)) this.#violated(first, err);
        }
      }
      if (busy) {
        this.#spinBackoff = Math.min(kMaxSpinBackoff, Math.max(1, this.#spinBackoff * 2));
        this.#spinSkip = this.#spinBackoff;
      }
    }
    this.#polling = false;
    for (const child of this.#children) if (child.job !== undefined) this.#await(child);
  }

  /** @internal The executor a Pcall with `{ pool: this }` runs on. */
  createExecutor(): Executor {
    const slots: CallSlot[] = [];
    return {
      start: (calls) => {
        for (const slot of calls) {
          slots.push(slot);
          this.#pending.add(slot);
          if (this.#broken && this.#children.size === 0) this.#fail(slot, this.#broken);
          else this.#queue.push(slot);
        }
        this.#polling = true; // #poll() awaits whatever it does not finish
        const sent = this.#dispatch();
        this.#polling = false;
        if (sent > 0) this.#poll();
      },
      signal: (signal) => {
        for (const slot of slots) if (!slot.isSettled && slot.runner) slot.runner.signal(signal);
      },
      cancelPending: () => {
        for (const slot of slots) {
          const at = this.#queue.indexOf(slot);
          if (at >= 0) {
            this.#queue.splice(at, 1);
            this.#fail(slot, undefined);
          }
        }
      },
    };
  }

  /**
   * Stops accepting calls, waits for the queued and running ones, then ends every child and
   * resolves once all have exited. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await Promise.all([...this.#pending].map((slot) => slot.settled));
      // An ended work ring tells its child to exit once it has taken everything.
      await this.#stop((child) => endRing(child.work));
    })();
    return this.#closing;
  }

  /**
   * @internal Test hook (pool tests): signals every current child as an outside killer would -
   * SIGKILL / SIGTERM for a process, `worker.terminate()` for a thread. The pool then behaves as
   * after any crash: the running call fails, a replacement child starts.
   */
  _signalChildren(signal: 'SIGTERM' | 'SIGKILL'): void {
    for (const child of this.#children) child.runner.signal(signal);
  }

  /** Kills every child now (SIGKILL); queued and running calls fail. Resolves once all exited. */
  destroy(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#queue.splice(0)) this.#fail(slot, undefined);
    return this.#stop((child) => child.runner.signal('SIGKILL'));
  }

  async #stop(end: (child: PoolChild) => void): Promise<void> {
    this.#stopping = true;
    const children = [...this.#children];
    for (const child of children) {
      child.runner.ref(); // keep the parent alive until the children are gone
      end(child);
    }
    // Each child's exit handler fails its call (if any) and removes its rings.
    await Promise.all(children.map((c) => c.done));
    if (this.#board !== undefined) {
      this.#board.shm.close();
      SharedMemory.unlink(this.#board.shm.name);
      this.#board = undefined;
    }
  }

  /** close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The pool's board (transport.ts), or undefined where external buffers are not allowed. */
function openBoard(size: number): { shm: SharedMemory; words: Int32Array; times: Float64Array } | undefined {
  const shm = new SharedMemory(undefined, { size: size * kBoardSlotBytes });
  try {
    const bytes = shm.buffer;
    return {
      shm,
      words: new Int32Array(bytes.buffer, bytes.byteOffset, (size * kBoardSlotBytes) / 4),
      times: new Float64Array(bytes.buffer, bytes.byteOffset, (size * kBoardSlotBytes) / 8),
    };
  } catch {
    shm.close();
    SharedMemory.unlink(shm.name);
    return undefined; // every call then reports "started" on its result ring
  }
}

function endRing(ring: ShmQueue<Buffer>): void {
  try {
    ring.end();
  } catch {
    // Closed or corrupt: the child's own failure ends it.
  }
}

/** Closes this process's handle and removes the segment (the child's handle, if any, stays valid). */
function removeRing(ring: ShmQueue<Buffer>): void {
  try {
    ring.close();
  } catch {
    // Already closed.
  }
  ShmQueue.unlink(ring.name);
}
