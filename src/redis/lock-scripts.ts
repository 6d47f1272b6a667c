/**
 * The lock protocol on Redis: every state change is one Lua script (atomic on the server), so a
 * grant, its fence and its lease are written together or not at all. Pure data.
 *
 * Keys of lock N, with B = <prefix>lock:<N> (the suffixes hold no ':', so two names never share
 * a key):
 *   B:x  exclusive holder: owner string, PX lease          (absent: no exclusive holder)
 *   B:s  shared holders: ZSET owner -> lease end (server ms); the key expires with its last member
 *   B:f  fencing counter: +1 on every grant (exclusive and shared), never reset or expired
 *   B:h  the last exclusive grant's fence: "<fence>" while held, "r<fence>" once released; no
 *        expiry. A grant that finds it held without B:x knows the last holder's lease ran out
 *        without a release: ownerDied (and B:d += 1). Also a second record of the last fence
 *        (kAcquire)
 *   B:d  owner deaths counter
 *   B:w  waiters: ZSET "<x|s>|owner" -> registration end (query(), info().waiters)
 *   B:wx a queued writer waits: its owner, PX lease (refreshed by its attempts, removed when it
 *        is granted or withdraws). New shared grants wait while it exists (writers are not
 *        starved by a stream of readers)
 * No index of names is kept: query() SCANs for <prefix>lock:*:{x,s,w} (every one of them expires
 * with its last holder or waiter), so an uncontended cycle pays for no bookkeeping.
 * Channel B:rel: a message on every release and steal (waiters' wake-up hint).
 * Times are the server's (TIME): leases never compare clocks of two hosts.
 */

/**
 * Lua helpers shared by the scripts. Keys written by someone else are checked before they are
 * used, and only where the uncontended path does not pay for it (a key it reads as absent needs
 * no check): a key of the wrong type, a counter that is no integer, a holder without a lease.
 * What cannot be repaired safely is answered with an error reply starting "SHMSYNC_CORRUPT",
 * which the backend turns into CorruptError - never a half-written grant (every check runs
 * before the first write).
 */
const kHelpers = `
local function corrupt(key, why)
  return redis.error_reply('SHMSYNC_CORRUPT ' .. key .. ': ' .. why .. ' (written by something other than this backend)')
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function typeOf(key)
  return redis.call('TYPE', key)['ok']
end
local kMaxFence = 9007199254740991
local function count(v)
  if type(v) ~= 'string' or #v > 16 or not string.match(v, '^%d+$') then return nil end
  local n = tonumber(v)
  if n > kMaxFence then return nil end
  return n
end
`;

/**
 * KEYS: x s f h d w wx. ARGV: owner mode(x|s) leaseMs steal(0|1) queue(0|1) waiterTtlMs channel
 * fenceFloor. Returns {1, fence(string), ownerDied(0|1)} or {0, retryInMs}.
 *
 * B:h is the fence of the last exclusive grant: "<fence>" while it is held, "r<fence>" once it
 * was released. With B:f (the counter) and fenceFloor (the highest fence the caller saw) it is
 * one of three records of the last fence: a counter reset, decremented or deleted by someone
 * else is moved past all of them, so a fence never goes backwards unless all three are gone.
 * Uncontended exclusive grant: EXISTS, SET NX PX, MGET, MSET - no TIME, no pub/sub. The SET NX
 * is the only write before the fence records are checked; a check that fails deletes the key it
 * wrote (unclaim) before it answers SHMSYNC_CORRUPT, so no half-written grant is left.
 */
export const kAcquire = `${kHelpers}
local owner, mode, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local steal, queued = ARGV[4] == '1', ARGV[5] == '1'
local member = mode .. '|' .. owner
local now = nil
local claimed = false
local function unclaim(key, why)
  if claimed then redis.call('DEL', KEYS[1]) end
  return corrupt(key, why)
end
local sExists = redis.call('EXISTS', KEYS[2]) == 1
if sExists then
  if typeOf(KEYS[2]) ~= 'zset' then return corrupt(KEYS[2], 'not a sorted set') end
  now = clock()
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  sExists = redis.call('EXISTS', KEYS[2]) == 1
end
if steal then
  if redis.call('DEL', KEYS[1], KEYS[2]) > 0 then redis.call('PUBLISH', ARGV[7], 'stolen') end
else
  if mode == 'x' and not sExists then
    -- Nobody shares it: take it if nobody holds it (any existing key, of any type, refuses).
    claimed = redis.call('SET', KEYS[1], owner, 'NX', 'PX', lease) ~= false
  end
  if not claimed then
    local busy = -1
    local pttl = redis.call('PTTL', KEYS[1])
    if pttl ~= -2 then
      if pttl == -1 then
        -- A holder without a lease was never written by this backend: it gets one, and ends.
        if typeOf(KEYS[1]) ~= 'string' then return corrupt(KEYS[1], 'not a string') end
        redis.call('PEXPIRE', KEYS[1], lease)
        pttl = lease
      end
      busy = pttl
    elseif mode == 'x' then
      if sExists then
        local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
        if first[2] ~= nil then busy = math.max(0, tonumber(first[2]) - now) end
      end
    else
      local w = redis.call('PTTL', KEYS[7])
      if w > 0 then busy = w end
    end
    if busy >= 0 then
      if queued then
        if redis.call('EXISTS', KEYS[6]) == 1 and typeOf(KEYS[6]) ~= 'zset' then return corrupt(KEYS[6], 'not a sorted set') end
        now = now or clock()
        if mode == 'x' then redis.call('SET', KEYS[7], owner, 'PX', lease) end
        redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
        redis.call('ZADD', KEYS[6], now + tonumber(ARGV[6]), member)
        redis.call('PEXPIRE', KEYS[6], tonumber(ARGV[6]))
      end
      return {0, busy}
    end
  end
end
local rec = redis.call('MGET', KEYS[3], KEYS[4])
local f, h = rec[1], rec[2]
if f == false and redis.call('EXISTS', KEYS[3]) == 1 then return unclaim(KEYS[3], 'not a string') end
if h == false and redis.call('EXISTS', KEYS[4]) == 1 then return unclaim(KEYS[4], 'not a string') end
local last = count(ARGV[8]) or 0
if f ~= false then
  local n = count(f)
  if n == nil then return unclaim(KEYS[3], 'not a fence counter') end
  last = math.max(last, n)
end
local held = false
if h ~= false then
  held = string.sub(h, 1, 1) ~= 'r'
  local n = count(held and h or string.sub(h, 2))
  if n == nil then return unclaim(KEYS[4], 'not a fence record') end
  last = math.max(last, n)
end
if last >= kMaxFence then return unclaim(KEYS[3], 'the fence counter is exhausted') end
local fence = string.format('%.0f', last + 1)
local died = 0
if mode == 'x' then
  if held and not steal then
    died = 1
    if type(redis.pcall('INCR', KEYS[5])) ~= 'number' then redis.call('SET', KEYS[5], '1') end
  end
  redis.call('MSET', KEYS[3], fence, KEYS[4], fence)
  if not claimed then redis.call('SET', KEYS[1], owner, 'PX', lease) end
else
  now = now or clock()
  redis.call('SET', KEYS[3], fence)
  redis.call('ZADD', KEYS[2], now + lease, owner)
  redis.call('PEXPIRE', KEYS[2], lease)
end
if queued then
  redis.call('ZREM', KEYS[6], member)
  if redis.pcall('GET', KEYS[7]) == owner then redis.call('DEL', KEYS[7]) end
end
return {1, fence, died}
`;

/**
 * KEYS: x s. ARGV: owner mode leaseMs. Returns 1 (renewed) or 0 (not the holder any more, or its
 * key was replaced by one of another type: the hold is lost at once).
 */
export const kRenew = `${kHelpers}
if ARGV[2] == 'x' then
  if redis.pcall('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
  end
  return 0
end
local now = clock()
local score = redis.pcall('ZSCORE', KEYS[2], ARGV[1])
if type(score) ~= 'string' then return 0 end
if tonumber(score) > now then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
`;

/**
 * KEYS: x s h w. ARGV: owner mode channel fence. Returns 1 (released) or 0 (it held nothing: its
 * lease ran out, it was stolen, or its key was replaced). Leaves "r<fence>" in h (the record of
 * the last fence). Publishes a notice only when a waiter is registered (a waiter registers
 * before it sleeps, and tries again after subscribing: no notice is missed).
 * Uncontended exclusive: GET, DEL, SET, EXISTS.
 */
export const kRelease = `
if ARGV[2] == 'x' then
  if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[3], 'r' .. ARGV[4])
elseif redis.pcall('ZREM', KEYS[2], ARGV[1]) ~= 1 then
  return 0
end
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('PUBLISH', ARGV[3], 'released') end
return 1
`;

/** KEYS: w wx. ARGV: member owner. Withdraws a waiter registration. */
export const kWithdraw = `
redis.pcall('ZREM', KEYS[1], ARGV[1])
if redis.pcall('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
`;

/**
 * KEYS: x s f d w. Returns {xOwner|'', xPttl, {sOwner, sEnd...}, fence, deaths, {member, end...}, now}.
 */
export const kInfo = `${kHelpers}
local now = clock()
for _, k in ipairs({KEYS[2], KEYS[5]}) do
  if redis.call('EXISTS', k) == 1 and typeOf(k) ~= 'zset' then return corrupt(k, 'not a sorted set') end
end
for _, k in ipairs({KEYS[1], KEYS[3], KEYS[4]}) do
  if redis.call('EXISTS', k) == 1 and typeOf(k) ~= 'string' then return corrupt(k, 'not a string') end
end
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
