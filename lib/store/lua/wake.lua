-- wake: bring a waiting instance's next run forward to now — the fleet
-- poller saw the resource it waits on settle (coordinator/poller.c), so the
-- step need not sleep until its planned re-run. Only a record still running
-- and waiting on that very resource, and only ever earlier.
-- KEYS[1] record, [2] timers (outbox). ARGV[1] now_ms, [2] wait member
-- ("db:<id>" / "snap:<id>"). Returns 1 woken, 0 not (nothing to do).
local r = redis.call('HMGET', KEYS[1], 'state', 'timer', 'wait_on')
if r[1] ~= 'running' or not r[2] or r[3] ~= ARGV[2] then return 0 end
local due = redis.call('ZSCORE', KEYS[2], r[2])
if not due or tonumber(due) <= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[2], 'XX', ARGV[1], r[2])
return 1
