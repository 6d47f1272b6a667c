/**
 * What every queue backend with the ShmQueue API (ShmQueue, RedisQueue) does the same way at
 * its surface: the async iterator that ends with the stream, and the `written` count on the
 * error of a put that stopped part-way. JS thread only.
 */
import { ReadOnly } from '../errors';

/**
 * Yields `get()`'s messages until it rejects with ReadOnly (the stream has ended and is
 * drained); any other rejection is thrown to the consumer.
 */
export async function* iterateUntilEnded<T>(get: () => Promise<T>): AsyncGenerator<T, void, undefined> {
  for (;;) {
    let v: T;
    try {
      v = await get();
    } catch (err) {
      if (err instanceof ReadOnly) return;
      throw err;
    }
    yield v;
  }
}

/** `err` with an enumerable `written`: how many messages of a putMany went in before it failed. */
export function withWritten<E extends Error>(err: E, written: number): E {
  Object.defineProperty(err, 'written', { value: written, enumerable: true });
  return err;
}
