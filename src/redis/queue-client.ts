/**
 * The part of an ioredis client the Redis queue uses (structural, so shmsync has no runtime or
 * type dependency on ioredis): commands with Buffer replies, a duplicate connection for blocking
 * reads, and connection events. node-redis clients are not accepted here (see docs/redis-queue.md).
 */
export interface RedisLike {
  callBuffer(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  call(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  duplicate(override?: Record<string, unknown>): RedisLike;
  disconnect(reconnect?: boolean): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  status?: string;
}

export function isRedisLike(value: unknown): value is RedisLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RedisLike).callBuffer === 'function' &&
    typeof (value as RedisLike).call === 'function' &&
    typeof (value as RedisLike).duplicate === 'function'
  );
}

/** Bulk reply (Buffer or string) as a string. */
export function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
}
