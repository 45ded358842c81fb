-- timer_take_many: timer_take.lua for a batch of one campaign's due outbox
-- entries in one round trip (the coordinator's outbox). For each entry
-- "<instance>|<step>|<attempt>|<epoch>": emit it if the record still expects
-- exactly that message, push it back if the campaign (or the instance:
-- record field paused=1) is paused, drop it if stale. The caller ZREMs the
-- emitted entries after the broker acked them.
-- KEYS[1] timers, [2] campaign, [3..] one record per entry
-- ARGV[1] now_ms, [2] postpone_ms, then per entry: member, instance, step,
--      attempt, epoch
-- Returns {strategy, status...}: one 'emit' | 'paused' | 'stale' per entry
local c = redis.call('HMGET', KEYS[2], 'state', 'strategy')
local out = {c[2] or ''}
local n = #KEYS - 2
for i = 1, n do
  local a = 2 + (i - 1) * 5
  local member, step, attempt, epoch = ARGV[a + 1], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local r = redis.call('HMGET', KEYS[2 + i], 'state', 'step', 'attempt', 'epoch', 'paused')
  if (r[1] ~= 'running' and r[1] ~= 'waiting_approval') or r[2] ~= step or r[3] ~= attempt
     or r[4] ~= epoch then
    redis.call('ZREM', KEYS[1], member)
    out[#out + 1] = 'stale'
  elseif c[1] == 'paused' or r[5] == '1' then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), member)
    out[#out + 1] = 'paused'
  elseif c[1] ~= 'running' then
    redis.call('ZREM', KEYS[1], member)
    out[#out + 1] = 'stale'
  else
    out[#out + 1] = 'emit'
  end
end
return out
