-- redrive: re-emit an in-flight instance's current step as a new attempt
-- (reconciler: no progress past the step deadline; or after Redis lost
-- writes). Only if the record is still at the epoch the caller saw and no
-- worker holds the lease.
-- KEYS[1] record, [2] lease, [3] seq, [4] timers, [5] events
-- ARGV[1] now_ms, [2] floor, [3] expected epoch, [4] reason, [5] deadline_ms,
--      [6] node, [7] mark stuck ('1'/'0')
-- Returns {'ok', epoch, member} | {'skip', why}
-- alloc() comes from lua/_prelude.lua
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'attempt', 'epoch', 'timer', 'id')
if r[1] ~= 'running' then return {'skip', 'instance is ' .. tostring(r[1])} end
if r[4] ~= ARGV[3] then return {'skip', 'moved on'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'skip', 'lease held'} end
local now = ARGV[1]
local attempt = tostring((tonumber(r[3]) or 0) + 1)
local epoch = alloc(KEYS[3], ARGV[2])
local member = r[6] .. '|' .. r[2] .. '|' .. attempt .. '|' .. epoch
if r[5] then redis.call('ZREM', KEYS[4], r[5]) end
redis.call('ZADD', KEYS[4], now, member)
redis.call('HSET', KEYS[1], 'attempt', attempt, 'epoch', epoch, 'timer', member,
           'updated_ms', now, 'deadline_ms', ARGV[5])
if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'stuck_ms', now) end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[6],
           'event', 'redrive', 'step', r[2], 'attempt', attempt, 'epoch', epoch,
           'from', 'running', 'to', 'running', 'next', r[2], 'reason', ARGV[4], 'node', ARGV[6],
           'duration_ms', '0')
return {'ok', epoch, member}
