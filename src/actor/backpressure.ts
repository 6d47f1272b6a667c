/**
 * The message bound of one relay link (`maxsize`): at most `max` messages in flight - sent (staged
 * or queued) and not yet handled by a receiver. Runs in the actors (senders and receivers of the
 * link), on their JS threads; several processes and threads share the slots.
 *
 * Shared state: three int32 slots of the relay's counter array (SharedArray), from `base`:
 *   [base + 1] inflight - senders add 1 before a message is staged, receivers subtract 1 once
 *                         recv() for it returned;
 *   [base + 2] waiters  - senders between "no room" and the end of their wait;
 *   [base + 3] pending  - 1 while a wake token is on its way (at most one at a time).
 * Plus a wake queue: a token (the number 1) wakes one waiting sender.
 *
 * Cost per message when nobody waits: one atomic add (sender) and one atomic sub + one load
 * (receiver): no queue operation, no syscall. The wake path only runs while a sender is parked.
 *
 * Invariants (Atomics are sequentially consistent):
 * - A sender stages a message only after its add returned a value < max: inflight counts every
 *   staged or queued message of every sender, so at most `max` are in flight. The counter itself
 *   may exceed `max` for an instant (a failed add is undone at once); no message does.
 * - No lost wake-up (Dekker): a sender increments `waiters` BEFORE it tries the add on
 *   `inflight`; a receiver decrements `inflight` BEFORE it reads `waiters`. Either the sender's
 *   add sees the room, or the receiver sees the waiter and sends a token (unless one is already
 *   pending: its sender clears `pending` before retrying, so it sees that room too).
 * - A woken sender that finds more room while others wait passes a token on.
 *
 * Hostile shared memory: the slots are plain numbers read once and compared; no value steers an
 * index or a size. A process that can write the segment can stall the link (a huge `inflight`,
 * `pending` stuck at 1) but not crash an actor; the relay's failure path (SIGTERM/SIGKILL) still
 * ends a stalled pipeline when any actor fails.
 */
import { ShmQueue } from '../queue/queue';
import type { SharedArray } from '../shared/shared-array';
import type { BoundSpec } from './protocol';

const kInflight = 1;
const kWaiters = 2;
const kPending = 3;

export class LinkBound {
  readonly #a: Int32Array;
  readonly #in: number;
  readonly #wait: number;
  readonly #pend: number;
  readonly #max: number;
  readonly #wake: ShmQueue<number>;

  constructor(spec: BoundSpec, counter: SharedArray<'int32'>, base: number) {
    this.#a = counter.array as Int32Array;
    this.#in = base + kInflight;
    this.#wait = base + kWaiters;
    this.#pend = base + kPending;
    this.#max = spec.max;
    this.#wake = new ShmQueue<number>(spec.wake, { create: 'open', codec: 'json' });
  }

  /** Sender: takes room for one message without waiting; false when the link is full. */
  tryAcquire(): boolean {
    if (Atomics.add(this.#a, this.#in, 1) < this.#max) return true;
    Atomics.sub(this.#a, this.#in, 1);
    return false;
  }

  /**
   * Sender: waits until room for one message is taken. The caller has delivered its staged
   * messages first (they hold room: the receivers must be able to see them).
   */
  async acquire(): Promise<void> {
    const a = this.#a;
    for (;;) {
      Atomics.add(a, this.#wait, 1);
      const got = Atomics.add(a, this.#in, 1) < this.#max;
      if (got) {
        Atomics.sub(a, this.#wait, 1);
        this.#passOn();
        return;
      }
      Atomics.sub(a, this.#in, 1);
      try {
        await this.#wake.get();
      } finally {
        Atomics.sub(a, this.#wait, 1);
      }
      Atomics.store(a, this.#pend, 0); // the token is taken: the next room wakes again
    }
  }

  /** Receiver: one message was handled; wakes a waiting sender when one waits. */
  release(): void {
    const a = this.#a;
    Atomics.sub(a, this.#in, 1);
    if (Atomics.load(a, this.#wait) > 0) this.#token();
  }

  /** Woken with room left over while others wait: wake the next one. */
  #passOn(): void {
    const a = this.#a;
    if (Atomics.load(a, this.#wait) > 0 && Atomics.load(a, this.#in) < this.#max) this.#token();
  }

  #token(): void {
    if (Atomics.compareExchange(this.#a, this.#pend, 0, 1) !== 0) return; // one already on its way
    if (!this.#wake.tryPut(1)) Atomics.store(this.#a, this.#pend, 0); // full (foreign tokens): retry later
  }

  close(): void {
    this.#wake.close();
  }
}
