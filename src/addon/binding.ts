/**
 * The one module that loads the native addon (prebuild or local build, via node-gyp-build).
 * Loaded once per JS context; every other module imports `binding` from here.
 */
import * as path from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { createNativeError } from '../errors';
import { dispatch } from './parker-client';

/** The shape of the native addon (native/addon/addon.cc). Arguments are pre-validated. */
export interface NativeRegion {
  readonly size: number;
  readonly created: boolean;
  buffer(): ArrayBuffer | undefined;
  read(offset: number, target: Uint8Array): void;
  write(offset: number, source: Uint8Array): void;
  /** -1: this close unlinked an attached segment; > 0: ms it lingers for a hand-off; else 0. */
  close(): number;
  /** Attached lifetime (src/addon/lifetime.ts): holds an attachment; lease() stamps a hand-off. */
  readonly attached: boolean;
  lease(ms: number): boolean;
}

/** Native Mutex (native/addon/mutex-wrap.h); methods return Status numbers. */
export interface NativeMutex {
  readonly policy: number;
  readonly created: boolean;
  state(): ArrayBuffer | undefined;
  lock(timeoutMs: number): number;
  tryLock(): number;
  unlock(): number;
  /** Takes over a grant of the word to this context that no token knows of (NotOwner if none). */
  adopt(): number;
  markConsistent(): number;
  park(): number;
  cancel(requestId: number): number;
  info(): {
    locked: boolean;
    holderPid?: number;
    holderTid?: number;
    holderThreadId?: number;
    holderAlive?: boolean;
    holderIsMe?: boolean;
    depth: number;
    waiters: number;
    acquisitions: bigint;
    ownerDeaths: number;
    consistency: number;
  };
  close(): number;
  readonly attached: boolean;
  lease(ms: number): boolean;
  /** Consumes a pending hand-off as an open would (a reference revived where the mutex is open). */
  consumeHandoff(): boolean;
}

/** Native ShmQueue (native/addon/queue-wrap.h). Negative results are -Status. */
export interface NativeQueue {
  readonly capacity: number;
  readonly maxMessage: number;
  setBuffers(outbox: Uint8Array, inbox: Uint8Array): void;
  put(count: number, bytes: number, offset: number): number;
  get(maxCount: number): number;
  waitData(timeoutMs: number): number;
  waitSpace(bytes: number, timeoutMs: number): number;
  watchData(): number;
  watchSpace(bytes: number): number;
  cancel(requestId: number): number;
  close(): void;
  closeHandle(): number;
  readonly attached: boolean;
  lease(ms: number): boolean;
  info(): {
    size: number;
    bytesUsed: number;
    closed: boolean;
    totalPut: number;
    totalGot: number;
    consumersWaiting: number;
    producersWaiting: number;
  };
}

export interface NativeBinding {
  Queue: new (
    segmentName: string,
    openMode: number,
    perm: number,
    capacity: number,
    maxMessage: number,
    lifetime?: number,
  ) => NativeQueue;
  Mutex: new (segmentName: string, openMode: number, perm: number, policy: number, lifetime?: number) => NativeMutex;
  /** Reaper of an attached segment (native/core/attach.h Reap): 1 unlinked, 0 left, -1 not ours. */
  reapSegment(segmentName: string, ino: number, unmapped: boolean, wordBefore?: bigint): number;
  /**
   * The one handshake of a JS context, made below when this module loads: records Node's
   * threadId (kept with the context's OwnerId), the library error factory, and the dispatcher
   * of parker completions. Everything else may assume it ran.
   */
  init(options: {
    threadId: number;
    createError: typeof createNativeError;
    dispatch: (requestId: number, status: number) => void;
    /** This context's SHMSYNC_WAKE ('parker': queue watches use the parker thread). */
    wake?: string;
  }): void;
  ownerId(threadId?: number): number;
  /** Outstanding parked requests of this context; whether queue watches use its own io_uring. */
  waitStats(): { outstanding: number; directWatches: boolean };
  shutdownWaits(): void;
  Region: {
    new (
      segmentName: string,
      kind: number,
      payloadSize: number,
      openMode: number,
      perm: number,
      lifetime?: number,
      allowForeignOwner?: boolean,
    ): NativeRegion;
    unlink(segmentName: string): boolean;
  };
  noop(): void;
}

/** Package root: dist/addon/binding.js and src/addon/binding.ts both sit two levels below it. */
export const packageRoot = path.join(__dirname, '..', '..');

function load(): NativeBinding {
  const attempts: string[] = [];
  try {
    // Synchronous load at import time, through node-gyp-build's CommonJS entry.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(packageRoot) as NativeBinding;
  } catch (err) {
    attempts.push(`node-gyp-build(${packageRoot}): ${(err as Error).message}`);
  }
  throw new Error(
    [
      'shmsync: could not load the native addon.',
      ...attempts.map((a) => `  - ${a}`),
      'Possible solutions:',
      '  - install from npm on linux-x64 (glibc) to use the bundled prebuild;',
      '  - or build from source: a C++17 compiler, python3 and make, then `npm rebuild shmsync`;',
      `  - supported: Linux x64 with glibc; this is ${process.platform}-${process.arch}.`,
    ].join('\n'),
  );
}

export const binding: NativeBinding = load();
binding.init({ threadId, createError: createNativeError, dispatch, wake: process.env.SHMSYNC_WAKE });
// Process exit (main thread): end every blocking wait of every thread first, or Node would wait
// forever to join a worker blocked in acquireSync/getSync/putSync (see docs/troubleshooting.md).
if (isMainThread) process.on('exit', () => binding.shutdownWaits());
