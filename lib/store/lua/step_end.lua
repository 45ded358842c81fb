-- step_end: record a step's outcome, fenced, and put its successor in the
-- outbox (the campaign's timer set) in the same atomic write.
-- Refused ('fenced') unless the caller still holds the lease (token), its
-- fencing token is the record's, and the record is still at the message's
-- (step, epoch): a worker that lost its lease can never overwrite newer state.
-- KEYS[1] record, [2] lease, [3] seq, [4] counts, [5] events, [6] timers, [7] tput
-- ARGV[1] token, [2] fence, [3] msg epoch, [4] msg step, [5] outcome,
--      [6] new step, [7] new state, [8] new attempt, [9] due_ms ('' = none),
--      [10] error ('' clears), [11] now_ms, [12] epoch floor, [13] deadline_ms,
--      [14] node, [15] duration_ms, [16] strategy, [17] nfacts, then pairs
--      (field names are "f.<fact>" or one of the record's public fields).
-- Returns {'ok', epoch, timer_member} | {'fenced', why}
-- alloc() comes from lua/_prelude.lua
local rec = KEYS[1]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'fenced', 'lease lost'} end
local r = redis.call('HMGET', rec, 'fence', 'epoch', 'state', 'step', 'timer', 'id')
if r[1] ~= ARGV[2] then return {'fenced', 'fencing token moved on'} end
if r[2] ~= ARGV[3] or r[4] ~= ARGV[4] or (r[3] ~= 'running' and r[3] ~= 'waiting_approval') then
  return {'fenced', 'superseded'}
end
local now = ARGV[11]
local old_state, old_step = r[3], r[4]
local new_step, new_state, new_attempt = ARGV[6], ARGV[7], ARGV[8]
local i = 18
for _ = 1, tonumber(ARGV[17]) do
  redis.call('HSET', rec, ARGV[i], ARGV[i + 1])
  i = i + 2
end
-- a failure handed to the step's undo (step.h "failure undo"): the undo
-- step learns the original reason and step from these facts
if ARGV[5] == 'fail' and (new_state == 'running' or new_state == 'waiting_approval') then
  redis.call('HSET', rec, 'f.undo_reason', ARGV[10], 'f.undo_from', old_step)
  redis.call('HDEL', rec, 'f.undo_done')
end
if r[5] then redis.call('ZREM', KEYS[6], r[5]) end
local epoch, member = '', ''
if new_state == 'running' or new_state == 'waiting_approval' then
  epoch = alloc(KEYS[3], ARGV[12])
  if ARGV[9] ~= '' then
    member = r[6] .. '|' .. new_step .. '|' .. new_attempt .. '|' .. epoch
    redis.call('ZADD', KEYS[6], ARGV[9], member)
  end
  redis.call('HSET', rec, 'epoch', epoch, 'deadline_ms', ARGV[13])
end
if member ~= '' then redis.call('HSET', rec, 'timer', member) else redis.call('HDEL', rec, 'timer') end
if new_step ~= old_step then redis.call('HSET', rec, 'step_started_ms', now) end
redis.call('HSET', rec, 'state', new_state, 'step', new_step, 'attempt', new_attempt,
           'updated_ms', now, 'error', ARGV[10])
redis.call('HDEL', rec, 'stuck_ms', 'owner')
if new_state ~= 'running' and new_state ~= 'waiting_approval' then
  redis.call('HSET', rec, 'finished_ms', now)
  redis.call('HDEL', rec, 'deadline_ms')
end
if new_state ~= old_state then
  redis.call('HINCRBY', KEYS[4], old_state, -1)
  redis.call('HINCRBY', KEYS[4], new_state, 1)
end
if old_state == 'running' then redis.call('HINCRBY', KEYS[4], 'step:' .. old_step, -1) end
if new_state == 'running' then redis.call('HINCRBY', KEYS[4], 'step:' .. new_step, 1) end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[6],
           'event', ARGV[5], 'step', old_step, 'attempt', ARGV[8], 'epoch', epoch,
           'from', old_state, 'to', new_state, 'next', new_step, 'reason', ARGV[10],
           'node', ARGV[14], 'duration_ms', ARGV[15])
local minute = math.floor(tonumber(now) / 60000)
if ARGV[5] == 'ok' or ARGV[5] == 'next' or ARGV[5] == 'skip' then
  redis.call('HINCRBY', KEYS[7], 's:' .. minute, 1)
end
if new_state == 'done' then redis.call('HINCRBY', KEYS[7], 'i:' .. minute, 1) end
redis.call('DEL', KEYS[2])
return {'ok', epoch, member}
