-- retry: put a failed instance back to work (fleetcrypt retry) at the step
-- it failed in: attempt + 1, a new epoch, error and abort request cleared,
-- counts adjusted, its outbox entry due now. A campaign already marked
-- done goes back to running (the caller re-took the instance's
-- active-instances claim first: that key carries no campaign hash tag).
-- With ARGV[5] = 'abort' (fleetcrypt abort of a failed instance whose
-- strategy has an undo step) the instance goes back to running the same way
-- but with abort_requested=1, so the runner jumps to the strategy's `abort`
-- step instead of repeating the failed one; an aborted campaign is allowed.
-- An instance whose failure its strategy already undid (fact undo_done=1,
-- step.h "failure undo": e.g. pg-logical dropped its slot and target) has
-- nothing to resume: retry refuses; abort clears undo_from so the undo step
-- ends it `aborted`. One whose undo did not finish is retried at the undo.
-- KEYS[1] record, [2] counts, [3] events, [4] timers, [5] seq, [6] campaign
-- ARGV[1] now_ms, [2] epoch floor, [3] deadline_ms, [4] node, [5] mode ('' | 'abort')
-- Returns {'ok', step, attempt, epoch} | {'bad', why} | {'gone'}
-- alloc() comes from lua/_prelude.lua
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'attempt', 'id', 'error', 'timer', 'f.undo_done')
if not r[1] then return {'gone'} end
local undo = ARGV[5] == 'abort'
if r[1] ~= 'failed' then return {'bad', 'instance is ' .. r[1] .. ', only a failed instance can be retried'} end
if r[7] == '1' and not undo then
  return {'bad', 'its failure was already undone (' .. (r[5] or '') .. '): nothing to resume; submit the instance again'}
end
if not r[2] or r[2] == '' then return {'bad', 'the record names no step to retry'} end
local cst = redis.call('HGET', KEYS[6], 'state')
if cst == 'aborted' and not undo then return {'bad', 'campaign is aborted'} end
local now = ARGV[1]
local attempt = tostring((tonumber(r[3]) or 0) + 1)
local epoch = alloc(KEYS[5], ARGV[2])
local member = r[4] .. '|' .. r[2] .. '|' .. attempt .. '|' .. epoch
if r[6] then redis.call('ZREM', KEYS[4], r[6]) end
redis.call('ZADD', KEYS[4], now, member)
redis.call('HSET', KEYS[1], 'state', 'running', 'attempt', attempt, 'epoch', epoch, 'timer', member,
           'error', '', 'updated_ms', now, 'step_started_ms', now, 'deadline_ms', ARGV[3])
redis.call('HDEL', KEYS[1], 'finished_ms', 'stuck_ms', 'abort_requested', 'owner', 'paused')
if undo then
  redis.call('HSET', KEYS[1], 'abort_requested', '1')
  redis.call('HDEL', KEYS[1], 'f.undo_from', 'f.undo_done')
end
redis.call('HINCRBY', KEYS[2], 'failed', -1)
redis.call('HINCRBY', KEYS[2], 'running', 1)
redis.call('HINCRBY', KEYS[2], 'step:' .. r[2], 1)
if cst == 'done' or cst == 'aborted' then
  redis.call('HSET', KEYS[6], 'state', 'running', 'updated_ms', now)
  redis.call('HDEL', KEYS[6], 'finished_ms')
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', '',
             'event', 'campaign', 'from', cst, 'to', 'running')
end
local reason = (undo and 'abort requested by operator after failure: ' or 'retried by operator after: ')
redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[4],
           'event', undo and 'abort-requested' or 'retry', 'step', r[2], 'attempt', attempt, 'epoch', epoch,
           'from', 'failed', 'to', 'running', 'next', undo and 'abort' or r[2], 'reason', reason .. (r[5] or ''),
           'node', ARGV[4], 'duration_ms', '0')
return {'ok', r[2], attempt, epoch}
