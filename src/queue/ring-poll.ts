/**
 * JS side of the ring's wait protocol (docs/concepts/queue.md, "Waiting"): reads the ring's
 * positions from JS with Atomics on a view of the mapped RingState (native/core/ring-layout.h)
 * and spins briefly across event-loop turns before a Promise wait parks. JS thread only.
 *
 * Hostile memory: the view is read, never written, and no value read from it is used as a size,
 * index or offset. A poll only decides whether a native get is worth calling; the native get
 * validates the positions (SHMSYNC_CORRUPT). So a rogue value can make the spin end early (the
 * get then reports the corruption) or never see data (the spin is bounded by time, then the
 * wait parks as without a spin), never loop forever or throw.
 */
import type { NativeQueue } from '../addon/binding';

/** Int32 indexes into RingState (ring-layout.h, static_asserted offsets: tail 0, head 64, closed 140). */
const kTailLo = 0; // low half of the u64 tail (little-endian)
const kHeadLo = 16; // low half of the u64 head
const kClosed = 35;
/** The view covers the producer, consumer and configuration lines. */
const kStateInt32s = 48;

/** The native methods of the ring fast paths (native/addon/queue-wrap.h). */
export interface RingNative extends NativeQueue {
  getInto(target: Uint8Array, maxCount: number): number;
  detach(buffer: ArrayBuffer): void;
  state(): ArrayBuffer | undefined;
}

/** Spin budget bounds, in ms (performance.now units): 2-50 us, starting at 20 us. */
const kSpinMinMs = 0.002;
const kSpinMaxMs = 0.05;
const kSpinInitialMs = 0.02;

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RingPoll {
  readonly #i32: Int32Array | null;
  /** Current spin budget (adaptive: doubled by a spin that saw data, halved by one that did not). */
  #budgetMs = kSpinInitialMs;
  /**
   * Whether traffic is hot: a message was taken since the last wait that parked. A consumer that
   * waits for the first message after an idle period parks at once; one in a stream spins first.
   */
  hot = false;

  constructor(native: RingNative) {
    const ab = typeof native.state === 'function' ? native.state() : undefined;
    // Without external buffers (a V8 sandbox) there is no view: waits park at once, as before.
    this.#i32 = ab === undefined || ab.byteLength < kStateInt32s * 4 ? null : new Int32Array(ab, 0, kStateInt32s);
  }

  /**
   * True when a consumer may find something to do: tail != head (records not consumed) or the
   * queue ended. Positions differ by at most the capacity (< 2^32), so the low halves decide.
   */
  dataMaybe(): boolean {
    const i32 = this.#i32;
    if (i32 === null) return true;
    return Atomics.load(i32, kTailLo) !== Atomics.load(i32, kHeadLo) || Atomics.load(i32, kClosed) !== 0;
  }

  /**
   * Spins across event-loop turns (setImmediate: I/O, timers and other callbacks keep running)
   * until data may be there, `stop()` says so, or the budget is spent. Resolves true when the
   * caller should try to take again, false when it should park. Only while hot.
   */
  async spinForData(deadline: number, stop: () => boolean): Promise<boolean> {
    if (this.#i32 === null || !this.hot) return false;
    const end = performance.now() + this.#budgetMs;
    for (;;) {
      await immediate();
      // stop() first: a close() during the turn detached the view dataMaybe() reads.
      if (stop()) return true;
      if (this.dataMaybe()) {
        this.#budgetMs = Math.min(kSpinMaxMs, this.#budgetMs * 2);
        return true;
      }
      if (performance.now() >= end || (deadline >= 0 && Date.now() >= deadline)) break;
    }
    this.#budgetMs = Math.max(kSpinMinMs, this.#budgetMs / 2);
    this.hot = false;
    return false;
  }
}
