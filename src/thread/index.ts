/**
 * The thread layer (async seed `async.thread`): WorkerThread, WorkerQueue, TerminatableThread,
 * terminateThreads / withTerminateThreads. See docs/threads.md.
 */
export { WorkerThread, type WorkerThreadOptions } from './worker-thread';
export { WorkerQueue } from './worker-queue';
export { TerminatableThread, type ThreadOptions, type StopAndJoinOptions, type ThreadEnd } from './terminatable-thread';
export { terminateThreads, withTerminateThreads, type TerminateThreadsOptions } from './terminate';
export { ThreadExitedError, StopProcessing, type ThreadEndReason, type ThreadExitedErrorOptions } from './errors';
export { type ThreadContext } from './context';
export { type ThreadTarget } from './targets';
