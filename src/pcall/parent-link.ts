/**
 * The control link of a child to the parent that started it: parentPort in a worker thread, the
 * IPC channel in a child process. Shared by pcall children (child-main.ts) and actors
 * (actor/actor-main.ts). Runs in the child, on its main JS thread, once at start-up.
 *
 * A child process exits (code 0) as soon as its IPC channel closes: the parent died (even by
 * SIGKILL) or let go of it, so nobody can receive its reports and it must not linger as an
 * orphan. A parent that died while this child was starting may have closed the channel before the
 * 'disconnect' listener existed (then 'disconnect' never comes): that is checked once at start
 * too. A process without an IPC channel was not started by its library: it says so and exits 2.
 */
import { isMainThread, parentPort } from 'node:worker_threads';

export interface ParentLink {
  /** True in a worker thread (its start-up data is `workerData`, not a message). */
  readonly inWorker: boolean;
  /**
   * Sends `message`; resolves once it is written to the channel (safe to exit after). A message
   * that cannot be cloned throws synchronously in a worker.
   */
  post(message: unknown): Promise<void>;
  /** Calls `fn` with every message from the parent. */
  listen(fn: (message: unknown) => void): void;
  /** Calls `fn` with the next message only (a process's channel is then no longer held for it). */
  listenOnce(fn: (message: unknown) => void): void;
}

const kWritten: Promise<void> = Promise.resolve();

/**
 * Opens the link. `startedBy` completes the message of a process without an IPC channel:
 * `shmsync: <startedBy> (no IPC channel)`.
 */
export function parentLink(startedBy: string): ParentLink {
  if (!isMainThread && parentPort) {
    const port = parentPort;
    return {
      inWorker: true,
      post: (message) => {
        port.postMessage(message);
        return kWritten;
      },
      listen: (fn) => {
        port.on('message', fn);
      },
      listenOnce: (fn) => {
        port.once('message', fn);
      },
    };
  }
  const send = process.send?.bind(process);
  if (send === undefined) {
    process.stderr.write(`shmsync: ${startedBy} (no IPC channel)\n`);
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  if (!process.connected) process.exit(0);
  return {
    inWorker: false,
    // The callback runs once the message is written to the channel.
    post: (message) =>
      new Promise((resolve) => {
        send(message, undefined, {}, () => resolve());
      }),
    listen: (fn) => {
      process.on('message', fn);
    },
    listenOnce: (fn) => {
      process.once('message', fn);
    },
  };
}
