-- pause: per-instance pause/resume (fleetcrypt pause|resume CAMPAIGN INSTANCE,
-- and the instance half of a campaign resume). Pause sets record field
-- paused=1: step_begin.lua then drops the instance's messages and
-- timer_take.lua postpones its outbox entry, exactly as for a paused
-- campaign; a step already running finishes. Resume clears it and makes
-- sure the instance's current outbox entry (record field `timer`) is in the
-- outbox, due now if it was not there (a message dropped while paused was
-- already removed from the outbox when its produce was acknowledged).
-- KEYS[1] record, [2] timers, [3] events, [4] lease
-- ARGV[1] op ('pause' | 'resume'), [2] now_ms, [3] node, [4] log ('1' = event)
-- Returns {'ok', state} | {'terminal', state} | {'gone'}
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'timer', 'id', 'attempt', 'paused')
if not r[1] then return {'gone'} end
local now = ARGV[2]
local inflight = r[1] == 'running' or r[1] == 'waiting_approval'
if ARGV[1] == 'pause' then
  if r[1] ~= 'pending' and not inflight then return {'terminal', r[1]} end
  redis.call('HSET', KEYS[1], 'paused', '1')
else
  redis.call('HDEL', KEYS[1], 'paused')
  if inflight and r[3] and redis.call('EXISTS', KEYS[4]) == 0 then
    local due = redis.call('ZSCORE', KEYS[2], r[3])
    if not due or tonumber(due) > tonumber(now) + 5000 then redis.call('ZADD', KEYS[2], now, r[3]) end
  end
end
if ARGV[4] == '1' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[4],
             'event', ARGV[1], 'step', r[2], 'attempt', tostring(r[5] or '0'), 'epoch', '',
             'from', r[1], 'to', r[1], 'next', r[2], 'reason', ARGV[1] .. 'd by operator',
             'node', ARGV[3], 'duration_ms', '0')
end
return {'ok', r[1]}
