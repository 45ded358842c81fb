-- abort: operator abort of one instance (fleetcrypt abort). A pending
-- instance (never admitted) ends `aborted` here; a running or
-- waiting_approval one gets abort_requested=1 and its outbox entry pulled
-- forward to now, so a worker soon runs it and the runner jumps to the
-- strategy's `abort` step (or fails it when the strategy has none).
-- The caller releases a pending instance's active-instances claim
-- (active_release.lua: that key carries no campaign hash tag).
-- KEYS[1] record, [2] counts, [3] events, [4] timers
-- ARGV[1] now_ms, [2] node
-- Returns {'aborted'} | {'requested'} | {'terminal', state} | {'gone'}
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'timer', 'id', 'attempt')
if not r[1] then return {'gone'} end
local now = ARGV[1]
if r[1] == 'pending' then
  redis.call('HSET', KEYS[1], 'state', 'aborted', 'updated_ms', now, 'finished_ms', now,
             'error', 'aborted by operator before admission', 'abort_requested', '1')
  redis.call('HDEL', KEYS[1], 'paused')
  redis.call('HINCRBY', KEYS[2], 'pending', -1)
  redis.call('HINCRBY', KEYS[2], 'aborted', 1)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[4],
             'event', 'abort', 'step', '', 'attempt', tostring(r[5] or '0'), 'epoch', '',
             'from', 'pending', 'to', 'aborted', 'next', '', 'reason', 'aborted by operator before admission',
             'node', ARGV[2], 'duration_ms', '0')
  return {'aborted'}
end
if r[1] == 'running' or r[1] == 'waiting_approval' then
  redis.call('HSET', KEYS[1], 'abort_requested', '1', 'updated_ms', now)
  redis.call('HDEL', KEYS[1], 'paused')
  if r[3] then redis.call('ZADD', KEYS[4], now, r[3]) end
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[4],
             'event', 'abort-requested', 'step', r[2], 'attempt', tostring(r[5]), 'epoch', '',
             'from', r[1], 'to', r[1], 'next', 'abort', 'reason', 'abort requested by operator',
             'node', ARGV[2], 'duration_ms', '0')
  return {'requested'}
end
return {'terminal', r[1]}
