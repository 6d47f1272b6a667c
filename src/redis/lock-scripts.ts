/**
 * The lock protocol on Redis: every state change is one Lua script (atomic on the server), so a
 * grant, its fence and its lease are written together or not at all. Pure data.
 *
 * Keys of lock N, with B = <prefix>lock:<N> (the suffixes hold no ':', so two names never share
 * a key):
 *   B:x  exclusive holder: owner string, PX lease          (absent: no exclusive holder)
 *   B:s  shared holders: ZSET owner -> lease end (server ms); the key expires with its last member
 *   B:f  fencing counter: INCR on every grant (exclusive and shared), never reset or expired
 *   B:h  "held" marker: the fence of the exclusive grant not yet released; no expiry. A grant
 *        that finds it without B:x knows the last holder's lease ran out without a release:
 *        ownerDied (and B:d += 1)
 *   B:d  owner deaths counter
 *   B:w  waiters: ZSET "<x|s>|owner" -> registration end (query(), info().waiters)
 *   B:wx a queued writer waits: its owner, PX lease (refreshed by its attempts, removed when it
 *        is granted or withdraws). New shared grants wait while it exists (writers are not
 *        starved by a stream of readers)
 * <prefix>locks: SET of names with holders or waiters (query()).
 * Channel B:rel: a message on every release and steal (waiters' wake-up hint).
 * Times are the server's (TIME): leases never compare clocks of two hosts.
 */

/** Server time in ms (Lua prologue). */
const kNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS: x s f h d w wx locks. ARGV: owner mode(x|s) leaseMs steal(0|1) queue(0|1) waiterTtlMs
 * name channel. Returns {1, fence(string), ownerDied(0|1)} or {0, retryInMs}.
 */
export const kAcquire = `${kNow}
local owner, mode, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local member = mode .. '|' .. owner
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
if ARGV[4] == '1' then
  if redis.call('DEL', KEYS[1], KEYS[2], KEYS[4]) > 0 then redis.call('PUBLISH', ARGV[8], 'stolen') end
else
  local busy = -1
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl ~= -2 then
    busy = pttl
    if busy < 0 then busy = lease end
  elseif mode == 'x' then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    if first[2] ~= nil then busy = tonumber(first[2]) - now end
  else
    local w = redis.call('PTTL', KEYS[7])
    if w > 0 then busy = w end
  end
  if busy >= 0 then
    if ARGV[5] == '1' then
      if mode == 'x' then redis.call('SET', KEYS[7], owner, 'PX', lease) end
      redis.call('ZADD', KEYS[6], now + tonumber(ARGV[6]), member)
      redis.call('PEXPIRE', KEYS[6], tonumber(ARGV[6]))
      redis.call('SADD', KEYS[8], ARGV[7])
    end
    return {0, busy}
  end
end
local fence = redis.call('INCR', KEYS[3])
local died = 0
if mode == 'x' then
  if redis.call('EXISTS', KEYS[4]) == 1 then
    died = 1
    redis.call('INCR', KEYS[5])
  end
  redis.call('SET', KEYS[1], owner, 'PX', lease)
  redis.call('SET', KEYS[4], fence)
  redis.call('DEL', KEYS[7])
else
  redis.call('ZADD', KEYS[2], now + lease, owner)
  redis.call('PEXPIRE', KEYS[2], lease)
end
redis.call('ZREM', KEYS[6], member)
redis.call('SADD', KEYS[8], ARGV[7])
return {1, tostring(fence), died}
`;

/** KEYS: x s. ARGV: owner mode leaseMs. Returns 1 (renewed) or 0 (not the holder any more). */
export const kRenew = `${kNow}
if ARGV[2] == 'x' then
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
  end
  return 0
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) > now then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
if score then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 0
`;

/**
 * KEYS: x s h w locks. ARGV: owner mode channel name. Returns 1 (released) or 0 (it held
 * nothing: its lease ran out or it was stolen). Forgets the name when nothing is left of it.
 */
export const kRelease = `
local released = 0
if ARGV[2] == 'x' then
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1], KEYS[3])
    released = 1
  end
elseif redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  released = 1
end
if released == 1 then redis.call('PUBLISH', ARGV[3], 'released') end
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[4]) == 0 then redis.call('SREM', KEYS[5], ARGV[4]) end
return released
`;

/** KEYS: x s w locks wx. ARGV: member name owner. Withdraws a waiter registration. */
export const kWithdraw = `
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[5]) == ARGV[3] then redis.call('DEL', KEYS[5]) end
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
return 1
`;

/**
 * KEYS: x s f d w. Returns {xOwner|'', xPttl, {sOwner, sEnd...}, fence, deaths, {member, end...}, now}.
 */
export const kInfo = `${kNow}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
return {
  redis.call('GET', KEYS[1]) or '',
  redis.call('PTTL', KEYS[1]),
  redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'),
  redis.call('GET', KEYS[3]) or '0',
  redis.call('GET', KEYS[4]) or '0',
  redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES'),
  now
}
`;
