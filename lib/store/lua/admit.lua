-- admit: move one pending instance to running at the strategy's first step
-- and put its first step message in the outbox, unless the campaign already
-- has max_parallel instances in flight (checked here, atomically, so two
-- coordinators overlapping for a moment cannot over-admit one campaign).
-- KEYS[1] record, [2] counts, [3] timers, [4] events, [5] seq, [6] campaign
-- ARGV[1] now_ms, [2] floor, [3] first step, [4] deadline_ms, [5] max_parallel,
--      [6] node, [7] nfacts, then pairs
-- Returns {'ok', epoch, member} | {'full'} | {'skip', why}
-- alloc() comes from lua/_prelude.lua
if redis.call('HGET', KEYS[6], 'state') ~= 'running' then return {'skip', 'campaign not running'} end
if redis.call('HGET', KEYS[6], 'abort_requested') == '1' then return {'skip', 'campaign abort requested'} end
local r = redis.call('HMGET', KEYS[1], 'state', 'id')
if r[1] ~= 'pending' then return {'skip', 'instance is ' .. tostring(r[1])} end
local c = redis.call('HMGET', KEYS[2], 'running', 'waiting_approval')
if (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0) >= tonumber(ARGV[5]) then return {'full'} end
local now = ARGV[1]
local epoch = alloc(KEYS[5], ARGV[2])
local member = r[2] .. '|' .. ARGV[3] .. '|1|' .. epoch
local i = 8
for _ = 1, tonumber(ARGV[7]) do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'state', 'running', 'step', ARGV[3], 'attempt', '1', 'epoch', epoch,
           'timer', member, 'admitted_ms', now, 'started_ms', now, 'step_started_ms', now,
           'updated_ms', now, 'deadline_ms', ARGV[4], 'error', '')
redis.call('ZADD', KEYS[3], now, member)
redis.call('HINCRBY', KEYS[2], 'pending', -1)
redis.call('HINCRBY', KEYS[2], 'running', 1)
redis.call('HINCRBY', KEYS[2], 'step:' .. ARGV[3], 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[2],
           'event', 'admitted', 'step', ARGV[3], 'attempt', '1', 'epoch', epoch,
           'from', 'pending', 'to', 'running', 'next', ARGV[3], 'reason', '', 'node', ARGV[6],
           'duration_ms', '0')
return {'ok', epoch, member}
