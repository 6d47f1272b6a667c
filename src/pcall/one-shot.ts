/**
 * The default executor: one fresh child (process or worker thread) per call, started all at once
 * by `Pcall.start()` like the seed's forked `ChildLabor`s. The work, the "started" report and the
 * result travel over the child's IPC channel (parentPort for a thread), which the parent reads
 * while the children run, so a result of any size never blocks its child. A call settles when its
 * child has exited and every message it sent has been read. Runs in the parent.
 *
 * No shared memory here on purpose: a cold child that needs no ring never loads the native addon
 * (about 17 ms of CPU per child, measured for issue 10).
 */
import { isMessageFor, type CallSlot, type Executor } from './call-slot';
import { ChildLog } from './child-logs';
import { spawnRunner } from './child-runner';
import type { RunOptions } from './options';

/** One child per call. `logs` receives each child's captured output when `log` is 'capture'. */
export class OneShotExecutor implements Executor {
  readonly #options: RunOptions;
  readonly #slots: CallSlot[] = [];
  /** Captured output by call index (empty unless capturing). */
  readonly logs: Array<ChildLog | undefined> = [];

  constructor(options: RunOptions) {
    this.#options = options;
  }

  start(slots: readonly CallSlot[]): void {
    const capture = this.#options.log === 'capture';
    for (const slot of slots) {
      const runner = spawnRunner(this.#options, capture);
      this.#slots.push(slot);
      if (capture)
        this.logs[slot.index] = new ChildLog(runner, slot.index, this.#options.logDir, this.#options.mode === 'thread');
      slot.dispatch(runner);
      const unlisten = runner.subscribe((message) => {
        if (isMessageFor(message, 'started', slot)) slot.started();
        else if (isMessageFor(message, 'result', slot)) {
          const m = message as { ok?: unknown; payload?: unknown };
          if (m.payload instanceof Uint8Array) slot.result(m.ok === true, m.payload);
        }
      });
      runner.send(slot.workMessage());
      void runner.exited.then(async (exit) => {
        // Every message the child sent before it ended counts: read them all first.
        await runner.drained();
        unlisten();
        slot.fail(exit);
      });
    }
  }

  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    for (const slot of this.#slots) if (!slot.isSettled) slot.runner?.signal(signal);
  }

  cancelPending(): void {
    // Nothing is ever queued: every child starts in start().
  }
}
