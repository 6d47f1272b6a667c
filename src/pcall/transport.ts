/**
 * The result transport of pcall: carries exactly one result message per call from a child to the
 * parent, and is drained by the parent while it waits (pyATS hung on results > 64 KiB because it
 * joined before reading the pipe; SEMANTICS.md §5.1, Decision 6).
 *
 * The interface is deliberately narrow so the shared-memory queue (a src/core queue) can replace
 * the implementation here without touching pcall.ts, process-pool.ts or child-main.ts:
 *
 * ```
 * parent                                           child
 * createResultChannel(n) ─ childEnd (plain data) ─▶ openResultSender(childEnd, parentLink)
 *   .attach(link)   (IPC: listen on that child)       .send({ index, ok, payload }) ─┐
 *   .receive()  ◀────────────── one message per call ────────────────────────────────┘
 *   .flush(link)    (after the child exited: all it sent has been received)
 *   .close()
 * ```
 *
 * This file implements it over the child_process IPC channel (`serialization: 'advanced'`) or a
 * worker's parentPort. A shm-queue implementation would return `{ kind: 'shm-queue', name }` as
 * `childEnd`, make `attach` a no-op, read the queue in `receive()`, and make `flush()` a
 * non-blocking drain of the queue (a committed record survives its writer's death).
 */

/** One result: which call, whether it returned (`ok`) or threw, and the v8-serialised payload. */
export interface ResultMessage {
  readonly index: number;
  readonly ok: boolean;
  /** `v8.serialize` of the value (handles encoded) or of a SerializedError. */
  readonly payload: Uint8Array;
}

/** Plain-data description of a channel's sending end, handed to each child with its work. */
export type ChildEnd = { readonly kind: 'ipc'; readonly id: string };

/** Parent side of the control link to one child (implemented by child-runner.ts). */
export interface MessageLink {
  /** Calls `listener` for each message the child sends; returns the unsubscribe function. */
  subscribe(listener: (message: unknown) => void): () => void;
  /** After the child exited: resolves once every message it sent has been delivered. */
  drained(): Promise<void>;
}

/** Child side of the control link to the parent (implemented by child-main.ts). */
export interface ParentLink {
  /** Sends one message; resolves once it has left this process (safe to exit after). */
  post(message: unknown): Promise<void>;
}

/** Parent side of a result channel. */
export interface ResultChannel {
  readonly childEnd: ChildEnd;
  /** Starts listening to one child's results; returns the function that stops it. */
  attach(link: MessageLink): () => void;
  /** Resolves when everything `link`'s child sent has been received (call after it exited). */
  flush(link: MessageLink): Promise<void>;
  /** Results in arrival order. One consumer; the iteration ends after close(). */
  receive(): AsyncIterable<ResultMessage>;
  /** Ends receive() after the messages already received; detaches every link. */
  close(): void;
}

/** Child side of a result channel. */
export interface ResultSender {
  /** Sends the one result of a call; resolves once it is safe for the child to exit. */
  send(message: ResultMessage): Promise<void>;
}

/** The envelope a result travels in on the IPC link. */
interface ResultEnvelope {
  readonly $pcall: 'result';
  readonly channel: string;
  readonly index: number;
  readonly ok: boolean;
  readonly payload: Uint8Array;
}

function isEnvelope(value: unknown, channel: string): value is ResultEnvelope {
  const e = value as ResultEnvelope | null;
  return typeof e === 'object' && e !== null && e.$pcall === 'result' && e.channel === channel;
}

let channelCount = 0;

/** Parent: a channel for the `n` results of one call (IPC implementation). */
export function createResultChannel(n: number): ResultChannel {
  channelCount += 1;
  const id = `${process.pid}.${channelCount}`;
  const queue: ResultMessage[] = [];
  const detachers = new Set<() => void>();
  let wake: (() => void) | null = null;
  let closed = false;
  let received = 0;

  const push = (message: ResultMessage): void => {
    queue.push(message);
    received += 1;
    wake?.();
  };

  return {
    childEnd: { kind: 'ipc', id },
    attach(link) {
      const unsubscribe = link.subscribe((m) => {
        if (!isEnvelope(m, id) || closed || received >= n) return;
        // Buffer view over whatever typed array the link delivered (IPC: Buffer, port: Uint8Array).
        const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
        push({ index: m.index, ok: m.ok, payload });
      });
      detachers.add(unsubscribe);
      return () => {
        unsubscribe();
        detachers.delete(unsubscribe);
      };
    },
    flush: (link) => link.drained(),
    async *receive() {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as ResultMessage;
        if (closed) return;
        await new Promise<void>((resolve) => { wake = resolve; });
        wake = null;
      }
    },
    close() {
      closed = true;
      for (const detach of detachers) detach();
      detachers.clear();
      wake?.();
    },
  };
}

/** Child: the sender for a channel's child end. */
export function openResultSender(end: ChildEnd, link: ParentLink): ResultSender {
  return {
    send: (m) => link.post({ $pcall: 'result', channel: end.id, index: m.index, ok: m.ok, payload: m.payload } satisfies ResultEnvelope),
  };
}
