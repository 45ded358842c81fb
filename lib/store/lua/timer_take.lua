-- timer_take: decide what to do with one due outbox entry
-- ("<instance>|<step>|<attempt>|<epoch>"): emit it if the record still
-- expects exactly that message, push it back if the campaign (or the
-- instance: record field paused=1) is paused,
-- drop it if stale. The caller ZREMs an emitted entry after the broker acked.
-- KEYS[1] record, [2] timers, [3] campaign
-- ARGV[1] member, [2] instance, [3] step, [4] attempt, [5] epoch, [6] now_ms,
--      [7] postpone_ms
-- Returns {'emit', strategy} | {'paused'} | {'stale'}
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'attempt', 'epoch', 'paused')
if (r[1] ~= 'running' and r[1] ~= 'waiting_approval') or r[2] ~= ARGV[3] or r[3] ~= ARGV[4]
   or r[4] ~= ARGV[5] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'stale'}
end
local c = redis.call('HMGET', KEYS[3], 'state', 'strategy')
if c[1] == 'paused' or r[5] == '1' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[6]) + tonumber(ARGV[7]), ARGV[1])
  return {'paused'}
end
if c[1] ~= 'running' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'stale'}
end
return {'emit', c[2]}
