-- admit_many: move pending instances of one campaign to running at the
-- strategy's first step, in order, in one round trip (the coordinator's
-- admission, coordinator/admission.c; store_admit is a batch of one). Each
-- record gets a fresh epoch, its first step message in the outbox due now,
-- the counters and an 'admitted' event, until the campaign has max_parallel
-- instances in flight (checked before each one, atomically: two coordinators
-- overlapping for a moment cannot over-admit).
-- KEYS[1] counts, [2] timers, [3] events, [4] seq, [5] campaign,
--      [6..] one record per candidate
-- ARGV[1] now_ms, [2] floor, [3] first step, [4] deadline_ms, [5] max_parallel,
--      [6] node, [7] nfacts, then pairs
-- Returns one entry per record: {'ok', epoch, member} | {'full'} | {'skip', why};
-- after the first 'full' every later record is 'full' too (not looked at).
-- alloc() comes from lua/_prelude.lua
local out = {}
local nrec = #KEYS - 5
local function rest(v)
  while #out < nrec do out[#out + 1] = v end
  return out
end
if redis.call('HGET', KEYS[5], 'state') ~= 'running' then return rest({'skip', 'campaign not running'}) end
if redis.call('HGET', KEYS[5], 'abort_requested') == '1' then return rest({'skip', 'campaign abort requested'}) end
local now = ARGV[1]
local maxp = tonumber(ARGV[5])
local nf = tonumber(ARGV[7])
for i = 1, nrec do
  local rk = KEYS[5 + i]
  local r = redis.call('HMGET', rk, 'state', 'id')
  if r[1] ~= 'pending' then
    out[#out + 1] = {'skip', 'instance is ' .. tostring(r[1])}
  else
    local c = redis.call('HMGET', KEYS[1], 'running', 'waiting_approval')
    if (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0) >= maxp then return rest({'full'}) end
    local epoch = alloc(KEYS[4], ARGV[2])
    local member = r[2] .. '|' .. ARGV[3] .. '|1|' .. epoch
    local a = 8
    for _ = 1, nf do
      redis.call('HSET', rk, ARGV[a], ARGV[a + 1])
      a = a + 2
    end
    redis.call('HSET', rk, 'state', 'running', 'step', ARGV[3], 'attempt', '1', 'epoch', epoch,
               'timer', member, 'admitted_ms', now, 'started_ms', now, 'step_started_ms', now,
               'updated_ms', now, 'deadline_ms', ARGV[4], 'error', '')
    redis.call('ZADD', KEYS[2], now, member)
    redis.call('HINCRBY', KEYS[1], 'pending', -1)
    redis.call('HINCRBY', KEYS[1], 'running', 1)
    redis.call('HINCRBY', KEYS[1], 'step:' .. ARGV[3], 1)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[2],
               'event', 'admitted', 'step', ARGV[3], 'attempt', '1', 'epoch', epoch,
               'from', 'pending', 'to', 'running', 'next', ARGV[3], 'reason', '', 'node', ARGV[6],
               'duration_ms', '0')
    out[#out + 1] = {'ok', epoch, member}
  end
end
return out
