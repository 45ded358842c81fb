-- campaign_set_state: change a campaign's state only from an expected one.
-- KEYS[1] campaign, [2] events. ARGV[1] from ('*' = any), [2] to, [3] now_ms
-- Returns 1 changed, 0 not.
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return 0 end
if ARGV[1] ~= '*' and cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_ms', ARGV[3])
if ARGV[2] == 'done' or ARGV[2] == 'aborted' then redis.call('HSET', KEYS[1], 'finished_ms', ARGV[3]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'ts', ARGV[3], 'instance', '',
           'event', 'campaign', 'from', cur, 'to', ARGV[2])
return 1
