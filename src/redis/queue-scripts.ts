/**
 * Lua scripts of the Redis queue (src/redis/queue.ts). Each runs atomically in Redis; together
 * they define the delivery model (docs/redis-queue.md):
 * - a message is XADDed by PUT (which enforces `ended` and `maxLength` atomically),
 * - read into the reader's pending entries list (PEL) by TAKE or a blocking XREADGROUP,
 * - handed to the application only after ACK found it still owned by that reader in the PEL,
 *   and then XACKed and XDELed in the same script (so XLEN counts unacknowledged messages).
 * Entries whose reader stopped renewing them for `reclaimAfter` ms are moved to another reader by
 * XAUTOCLAIM (inside TAKE).
 * Stream keys share one hash tag, so every script touches a single cluster slot.
 */
import { createHash } from 'node:crypto';
import type { Arg, BufferConnection } from './client';

export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, falling back to EVAL (which caches the script) when Redis does not know it yet. */
  async run(
    conn: BufferConnection,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    const tail: Arg[] = [String(keys.length), ...keys, ...args.map((a) => (typeof a === 'number' ? String(a) : a))];
    try {
      return await conn.sendBuffer(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      return conn.sendBuffer(['EVAL', this.source, ...tail]);
    }
  }
}

/** Shared Lua: ensure the consumer group exists (created at '0': every existing entry is new to it). */
const kEnsureGroup = `
local function ensure_group(stream, group)
  local ok = redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  if type(ok) == 'table' and ok.err and not string.find(ok.err, 'BUSYGROUP') then
    return redis.error_reply(ok.err)
  end
end
`;

/**
 * PUT: KEYS stream, meta, memo; ARGV producer, token, payload... Returns how many were appended
 * (all, or the free room under meta.maxLength), or -1 when the stream has ended. The count is
 * remembered under the producer with the token: a resend of the same call by the client (the
 * connection dropped after Redis ran it, before the reply) answers it again and appends nothing.
 */
export const PUT = new Script(`
local prev = redis.call('HGET', KEYS[3], 'p:' .. ARGV[1])
local token = ARGV[2]
if prev and string.sub(prev, 1, #token + 1) == token .. '|' then return tonumber(string.sub(prev, #token + 2)) end
if redis.call('HEXISTS', KEYS[2], 'ended') == 1 then return -1 end
local n = #ARGV - 2
local max = tonumber(redis.call('HGET', KEYS[2], 'maxLength') or '0')
if max and max > 0 then
  local room = max - redis.call('XLEN', KEYS[1])
  if room < n then n = room end
  if n < 0 then n = 0 end
end
for i = 1, n do redis.call('XADD', KEYS[1], '*', 'm', ARGV[i + 2]) end
redis.call('HSET', KEYS[3], 'p:' .. ARGV[1], token .. '|' .. n)
return n
`);

/**
 * TAKE: KEYS stream, meta; ARGV group, consumer, count, minIdle, cursor, due (1/0), maxLen.
 * Reclaims entries idle for minIdle ms (readers that died or released them) first when `due`, or
 * when there is nothing new; reads new ones; all into this reader's PEL (not acknowledged).
 * Returns { {id, payload, reclaimed, fault, length}..., nextCursor, ended, xlen }. Entries are
 * untrusted (any client may XADD): fault 1 = not one field "m" (payload ''), fault 2 = payload
 * longer than maxLen bytes (left in Redis, not sent: payload ''); the client consumes them with
 * a coded error.
 */
export const TAKE = new Script(`${kEnsureGroup}
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local count = tonumber(ARGV[3])
local min_idle = tonumber(ARGV[4])
local cursor = ARGV[5]
local due = ARGV[6] == '1'
local max_len = tonumber(ARGV[7])
local out = {}
local function entry(e, reclaimed)
  local f = e[2]
  if type(f) ~= 'table' or #f ~= 2 or f[1] ~= 'm' then return { e[1], '', reclaimed, 1, 0 } end
  local n = #f[2]
  if n > max_len then return { e[1], '', reclaimed, 2, n } end
  return { e[1], f[2], reclaimed, 0, n }
end
local function read_new(n)
  local r = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', stream, '>')
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'NOGROUP') then
      ensure_group(stream, group)
      r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', stream, '>')
    else
      return redis.error_reply(r.err)
    end
  end
  if r then
    for _, e in ipairs(r[1][2]) do
      if e then out[#out + 1] = entry(e, 0) end
    end
  end
end
local function reclaim()
  local r = redis.pcall('XAUTOCLAIM', stream, group, consumer, min_idle, cursor, 'COUNT', count - #out)
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'NOGROUP') then ensure_group(stream, group) else return redis.error_reply(r.err) end
    cursor = '0-0'
  else
    cursor = r[1]
    for _, e in ipairs(r[2]) do
      if e then out[#out + 1] = entry(e, 1) end
    end
  end
end
if due then reclaim() end
if #out < count then read_new(count - #out) end
-- Nothing new: look for idle entries of other readers too (released ones are idle at once).
if #out == 0 and not due then reclaim() end
local ended = redis.call('HEXISTS', KEYS[2], 'ended')
return { out, cursor, ended, redis.call('XLEN', stream) }
`);

/**
 * ACK: KEYS stream, acks; ARGV group, consumer, token, id... For each id still pending for THIS
 * consumer: XACK + XDEL, result '1', else '0' (reclaimed by another reader meanwhile). The result
 * is remembered under 'a:' .. consumer with the token (never 'p:' .. another producer's memo), so a resend of the same call (the connection
 * dropped after Redis ran it) answers the same instead of '0' for messages it acknowledged.
 */
export const ACK = new Script(`
local stream, group, consumer, token = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local prev = redis.call('HGET', KEYS[2], 'a:' .. consumer)
if prev and string.sub(prev, 1, #token + 1) == token .. '|' then
  return string.sub(prev, #token + 2)
end
local res = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local p = redis.pcall('XPENDING', stream, group, id, id, 1, consumer)
  if type(p) == 'table' and not p.err and #p == 1 then
    redis.call('XACK', stream, group, id)
    redis.call('XDEL', stream, id)
    res[#res + 1] = '1'
  else
    res[#res + 1] = '0'
  end
end
local s = table.concat(res)
redis.call('HSET', KEYS[2], 'a:' .. consumer, token .. '|' .. s)
return s
`);

/**
 * RENEW: KEYS stream; ARGV group, consumer, id... Resets the idle time of entries still pending
 * for this consumer (its lease on messages the application holds); '0' for lost ones.
 */
export const RENEW = new Script(`
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local res = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.pcall('XPENDING', stream, group, id, id, 1, consumer)
  if type(p) == 'table' and not p.err and #p == 1 then
    redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
    res[#res + 1] = '1'
  else
    res[#res + 1] = '0'
  end
end
return table.concat(res)
`);

/**
 * RELEASE: KEYS stream, acks; ARGV group, consumer, idle, forget (1/0), id... Hands entries still
 * pending for this consumer back at once (their idle time set to `idle`, so the next TAKE of any
 * reader reclaims them). With forget = 1 (close()), also drops this consumer from the group when
 * it has nothing pending, and its ACK memo.
 */
export const RELEASE = new Script(`
local stream, group, consumer, idle = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local n = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local p = redis.pcall('XPENDING', stream, group, id, id, 1, consumer)
  if type(p) == 'table' and not p.err and #p == 1 then
    redis.call('XCLAIM', stream, group, consumer, 0, id, 'IDLE', idle, 'JUSTID')
    n = n + 1
  end
end
if ARGV[4] == '1' then
  redis.call('HDEL', KEYS[2], 'a:' .. consumer, 'p:' .. consumer)
  local s = redis.pcall('XPENDING', stream, group, '-', '+', 1, consumer)
  if type(s) == 'table' and not s.err and #s == 0 then
    redis.pcall('XGROUP', 'DELCONSUMER', stream, group, consumer)
  end
end
return n
`);

/**
 * ARM: KEYS waiters; ARGV clientId, expiresAt, now. Registers a blocking read (so end() can wake
 * it with CLIENT UNBLOCK) and prunes expired registrations.
 */
export const ARM = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 600000)
return 1
`);

/** END: KEYS meta, waiters; ARGV now. Marks the stream ended; returns the client ids to wake. */
export const END = new Script(`
redis.call('HSET', KEYS[1], 'ended', '1')
return redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')
`);

/** CONFIG: KEYS meta; ARGV maxLength (0 none). Sets it if unset; returns the stored value. */
export const CONFIG = new Script(`
if ARGV[1] ~= '0' then redis.call('HSETNX', KEYS[1], 'maxLength', ARGV[1]) end
return redis.call('HGET', KEYS[1], 'maxLength') or '0'
`);
