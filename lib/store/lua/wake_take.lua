-- wake_take: wake.lua for a waiter whose next message the caller produces
-- itself at once (the oldest waiter of a concurrency slot just released,
-- worker/runner.c) instead of leaving it to the coordinator's next outbox
-- tick. The outbox entry moves to ARGV[3] (the caller's now + the grace:
-- the coordinator emits it only if the caller's produce is never
-- acknowledged, as for a successor) and is returned with the campaign's
-- strategy. Only a record still running, not paused, waiting on that very
-- member, in a running campaign, whose entry is not yet due (a due entry
-- may be in the coordinator's hands already: left to it).
-- KEYS[1] record, [2] timers (outbox), [3] campaign. ARGV[1] now_ms,
-- [2] wait member ("slot:<class>"), [3] the entry's new due_ms.
-- Returns {member, strategy} taken, {} not (nothing changed).
local r = redis.call('HMGET', KEYS[1], 'state', 'timer', 'wait_on', 'paused')
if r[1] ~= 'running' or not r[2] or r[3] ~= ARGV[2] or r[4] == '1' then return {} end
local c = redis.call('HMGET', KEYS[3], 'state', 'strategy')
if c[1] ~= 'running' or not c[2] then return {} end
local due = redis.call('ZSCORE', KEYS[2], r[2])
if not due or tonumber(due) <= tonumber(ARGV[1]) then return {} end
redis.call('ZADD', KEYS[2], 'XX', ARGV[3], r[2])
return {r[2], c[2]}
