/**
 * Reading a queue (shm ring or Redis stream) to its end: after end() and the last message, every
 * read rejects with SHMSYNC_QUEUE_CLOSED, which is how a consumer loop knows it is done.
 */

/**
 * Calls `read` and hands each result to `each` (awaited when it returns a promise) until a read
 * rejects with SHMSYNC_QUEUE_CLOSED; any other error rejects.
 */
export async function untilEnded<T>(read: () => Promise<T>, each: (value: T) => void | Promise<void>): Promise<void> {
  for (;;) {
    let value: T;
    try {
      value = await read();
    } catch (err) {
      if ((err as { code?: string }).code === 'SHMSYNC_QUEUE_CLOSED') return;
      throw err;
    }
    const done = each(value);
    if (done !== undefined) await done;
  }
}
