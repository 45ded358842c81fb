-- approve: operator approval of one instance's cutover (fleetcrypt approve).
-- Sets fact f.approved=1 (when ARGV[3] is '1'; a campaign-wide approval sets
-- the campaign's `approved` field instead, in the caller) and pulls a
-- waiting_approval instance's outbox entry forward to now so the waiting
-- step re-runs at once and sees the approval.
-- KEYS[1] record, [2] timers, [3] events
-- ARGV[1] now_ms, [2] node, [3] set the fact ('1'/'0')
-- Returns {'ok', state} | {'gone'}
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'timer', 'id', 'attempt')
if not r[1] then return {'gone'} end
local now = ARGV[1]
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'f.approved', '1')
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[4],
             'event', 'approved', 'step', r[2], 'attempt', tostring(r[5]), 'epoch', '',
             'from', r[1], 'to', r[1], 'next', r[2], 'reason', 'cutover approved by operator',
             'node', ARGV[2], 'duration_ms', '0')
end
if r[1] == 'waiting_approval' and r[3] then redis.call('ZADD', KEYS[2], now, r[3]) end
return {'ok', r[1]}
