/**
 * DummyLock (seed `async.util.DummyLock`): a lock that does nothing, for code written against
 * a lock interface that runs on one JS thread (the seed used it in its serial mode).
 */
export interface LockLike {
  acquire(): unknown;
  release(): void;
}

export class DummyLock implements LockLike {
  /** Always succeeds at once. */
  acquire(): true {
    return true;
  }
  release(): void {}
  [Symbol.dispose](): void {}
}
