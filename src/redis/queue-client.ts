/**
 * Small helpers of the Redis queue. The client itself is adapted in client.ts (adaptQueueClient:
 * ioredis or node-redis, Buffer replies, a blocking duplicate), shared with the lock backend.
 */

/** Bulk reply (Buffer or string) as a string. */
export function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
}
