/**
 * The default executor: one fresh child (process or worker thread) per call, started all at once
 * by `Pcall.start()` like the seed's forked `ChildLabor`s. A call settles when its child has
 * exited and the result channel has received everything the child sent. Runs in the parent.
 */
import { isStartedMessage, type CallSlot, type Executor } from './call-slot';
import { ChildLog } from './child-logs';
import { spawnRunner } from './child-runner';
import type { RunOptions } from './options';
import type { ResultChannel } from './transport';

/** One child per call. `logs` receives each child's captured output when `log` is 'capture'. */
export class OneShotExecutor implements Executor {
  readonly #options: RunOptions;
  readonly #slots: CallSlot[] = [];
  /** Captured output by call index (empty unless capturing). */
  readonly logs: Array<ChildLog | undefined> = [];

  constructor(options: RunOptions) {
    this.#options = options;
  }

  start(slots: readonly CallSlot[], channel: ResultChannel): void {
    const capture = this.#options.log === 'capture';
    for (const slot of slots) {
      const runner = spawnRunner(this.#options, capture);
      slot.runner = runner;
      this.#slots.push(slot);
      if (capture)
        this.logs[slot.index] = new ChildLog(runner, slot.index, this.#options.logDir, this.#options.mode === 'thread');
      const detach = channel.attach(runner);
      const unlisten = runner.subscribe((message) => {
        if (isStartedMessage(message, slot)) slot.started();
      });
      runner.send(slot.workMessage(channel, true));
      slot.dispatched();
      void runner.exited.then(async (exit) => {
        unlisten();
        await channel.flush(runner);
        detach();
        slot.exit = exit;
        slot.settle();
      });
    }
  }

  resultArrived(): void {
    // The child exits by itself after its result; the slot settles on that exit.
  }

  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    for (const slot of this.#slots) if (!slot.isSettled) slot.runner?.signal(signal);
  }

  cancelPending(): void {
    // Nothing is ever queued: every child starts in start().
  }
}
