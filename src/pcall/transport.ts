/**
 * The result transport of pcall: a shared-memory queue (ShmQueue, raw codec) that carries one
 * result per call from a child to the parent, drained by the parent while it waits (pyATS hung on
 * results > 64 KiB because it joined before reading the pipe; SEMANTICS.md §5.1, Decision 6).
 *
 * ```
 * parent                                          child (process or worker thread)
 * createResultChannel(n) ─ childEnd {name, channel} ─▶ openResultSender(childEnd)
 *   pump: getMany() ─▶ reassemble ─▶ receive()  ◀── putMany(fragments of one result)
 *   .flush()  (after a child exited: every committed record has been routed)
 *   .close()
 * ```
 *
 * Each record is one fragment: [u32 channel][u32 index][u8 flags: ok=1, last=2][3 reserved]
 * then payload bytes; a result larger than the queue's message limit spans several records, in
 * order (per-producer order holds). A child killed mid-result leaves no `last` fragment: the
 * call then counts as died without a result. A one-shot pcall owns its queue; a ProcessPool owns
 * one queue for all its calls (no segment to create per call), demultiplexed by `channel`.
 */
import { AbortError, ReadOnly } from '../errors';
import { ShmQueue } from '../queue/queue';

/** One result: which call, whether it returned (`ok`) or threw, and the v8-serialised payload. */
export interface ResultMessage {
  readonly index: number;
  readonly ok: boolean;
  /** `v8.serialize` of the value (handles encoded) or of a SerializedError. */
  readonly payload: Uint8Array;
}

/** Plain-data description of a channel's sending end, handed to each child with its work. */
export type ChildEnd = { readonly kind: 'shm'; readonly name: string; readonly channel: number };

/** Parent side of the control link to one child (implemented by child-runner.ts). */
export interface MessageLink {
  subscribe(listener: (message: unknown) => void): () => void;
  drained(): Promise<void>;
}

/** Child side of the control link to the parent (implemented by child-main.ts). */
export interface ParentLink {
  post(message: unknown): Promise<void>;
}

/** Parent side of a result channel. */
export interface ResultChannel {
  readonly childEnd: ChildEnd;
  /** Kept for executors written against a per-child link: the queue needs no attachment. */
  attach(link: MessageLink): () => void;
  /** Resolves when every result record committed so far has been routed (call after a child exited). */
  flush(link?: MessageLink): Promise<void>;
  /** Results in arrival order. One consumer; the iteration ends after close(). */
  receive(): AsyncIterable<ResultMessage>;
  /** Ends receive() after the messages already received. */
  close(): void;
}

/** Child side of a result channel. */
export interface ResultSender {
  /** Sends the one result of a call; resolves once it is committed (safe for the child to exit). */
  send(message: ResultMessage): Promise<void>;
}

const kFragmentHeader = 12;
const kFlagOk = 1;
const kFlagLast = 2;
/** Abort reason that stops a pump: a plain object (abort() without one builds a DOMException). */
const kStopPump = Object.freeze({ reason: 'result pump stopped' });
/** Ring size of a result queue: fragments up to half of it; larger results stream through. */
export const kResultQueueCapacity = 4 << 20;

interface ChannelState {
  readonly n: number;
  readonly ready: ResultMessage[];
  readonly partial: Map<number, Buffer[]>;
  received: number;
  closed: boolean;
  wake: (() => void) | null;
}

/**
 * A result queue and its pump: routes fragments to the channels registered on it. Parent only.
 */
export class ResultQueue {
  readonly queue: ShmQueue<Buffer>;
  readonly #channels = new Map<number, ChannelState>();
  #next = 0;
  // The pump runs only while a channel is open: a parked wait keeps the event loop alive, and
  // an idle pool must not keep its parent running.
  #pump: Promise<void> | null = null;
  #stopPump: AbortController | null = null;
  #closed = false;

  constructor() {
    this.queue = new ShmQueue<Buffer>(undefined, { codec: 'raw', capacity: kResultQueueCapacity });
  }

  /** A channel for the `n` results of one pcall. */
  channel(n: number): ResultChannel {
    const id = ++this.#next;
    const state: ChannelState = { n, ready: [], partial: new Map(), received: 0, closed: false, wake: null };
    this.#channels.set(id, state);
    if (this.#pump === null) {
      const stop = new AbortController();
      this.#stopPump = stop;
      this.#pump = this.#run(stop.signal);
    }
    const childEnd: ChildEnd = { kind: 'shm', name: this.queue.name, channel: id };
    return {
      childEnd,
      attach: () => () => {},
      flush: async () => this.#drainNow(),
      receive: () => receive(state),
      close: () => {
        state.closed = true;
        this.#channels.delete(id);
        state.wake?.();
        if (this.#channels.size === 0) this.#stopPump?.abort(kStopPump);
      },
    };
  }

  /** Stops the pump and removes the segment (records not yet read are abandoned). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPump?.abort(kStopPump);
    const pump = this.#pump ?? Promise.resolve();
    void pump.then(() => {
      this.queue.close();
      ShmQueue.unlink(this.queue.name);
    });
  }

  async #run(signal: AbortSignal): Promise<void> {
    try {
      for (;;) this.#route(await this.queue.getMany(256, { signal }));
    } catch (err) {
      if (!(err instanceof AbortError) && !(err instanceof ReadOnly)) throw err;
    } finally {
      this.#pump = null;
      this.#stopPump = null;
    }
  }

  #drainNow(): void {
    for (;;) {
      const record = this.queue.tryGet();
      if (record === undefined) return;
      this.#route([record]);
    }
  }

  #route(records: Buffer[]): void {
    for (const r of records) {
      if (r.length < kFragmentHeader) continue;
      const state = this.#channels.get(r.readUInt32LE(0));
      if (state === undefined || state.closed) continue; // a late result of a finished pcall
      const index = r.readUInt32LE(4);
      const flags = r[8];
      const fragment = r.subarray(kFragmentHeader);
      if ((flags & kFlagLast) === 0) {
        const parts = state.partial.get(index) ?? [];
        parts.push(fragment);
        state.partial.set(index, parts);
        continue;
      }
      const parts = state.partial.get(index);
      state.partial.delete(index);
      const payload = parts === undefined ? fragment : Buffer.concat([...parts, fragment]);
      if (state.received >= state.n) continue;
      state.received += 1;
      state.ready.push({ index, ok: (flags & kFlagOk) !== 0, payload });
      state.wake?.();
    }
  }
}

async function* receive(state: ChannelState): AsyncIterable<ResultMessage> {
  for (;;) {
    while (state.ready.length > 0) yield state.ready.shift() as ResultMessage;
    if (state.closed) return;
    await new Promise<void>((resolve) => {
      state.wake = resolve;
    });
    state.wake = null;
  }
}

/** Parent: a one-shot channel with its own result queue (removed when the channel closes). */
export function createResultChannel(n: number): ResultChannel {
  const owner = new ResultQueue();
  const channel = owner.channel(n);
  return {
    ...channel,
    close: () => {
      channel.close();
      owner.close();
    },
  };
}

/** Result queues opened by this child, by name (a pool child reuses one for every call). */
const senders = new Map<string, ShmQueue<Buffer>>();

/** Child: the sender for a channel's child end. */
export function openResultSender(end: ChildEnd): ResultSender {
  let queue = senders.get(end.name);
  if (queue === undefined) {
    queue = new ShmQueue<Buffer>(end.name, { create: 'open', codec: 'raw' });
    senders.set(end.name, queue);
  }
  const q = queue;
  return {
    async send(m) {
      const chunk = q.maxMessageSize - kFragmentHeader;
      const payload = m.payload;
      const fragments: Buffer[] = [];
      for (let at = 0; ; at += chunk) {
        const end_ = Math.min(payload.byteLength, at + chunk);
        const last = end_ === payload.byteLength;
        const record = Buffer.allocUnsafe(kFragmentHeader + (end_ - at));
        record.writeUInt32LE(end.channel, 0);
        record.writeUInt32LE(m.index, 4);
        record.writeUInt32LE((m.ok ? kFlagOk : 0) | (last ? kFlagLast : 0), 8);
        record.set(payload.subarray(at, end_), kFragmentHeader);
        fragments.push(record);
        if (last) break;
      }
      await q.putMany(fragments);
    },
  };
}
