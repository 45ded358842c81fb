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
-- An instance that leaves the in-flight states also puts the member '!admit'
-- in the outbox (the coordinator admits at once instead of at its next cycle).
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
local live = new_state == 'running' or new_state == 'waiting_approval'
-- the record's changes in one HSET and one HDEL (HDEL after HSET, as the
-- separate writes were ordered: a fact never revives a field cleared here)
local set, del = {}, {'stuck_ms', 'owner'}
local i = 18
for _ = 1, tonumber(ARGV[17]) do
  set[#set + 1] = ARGV[i]
  set[#set + 1] = ARGV[i + 1]
  i = i + 2
end
-- a failure handed to the step's undo (step.h "failure undo"): the undo
-- step learns the original reason and step from these facts
if ARGV[5] == 'fail' and live then
  set[#set + 1] = 'f.undo_reason'
  set[#set + 1] = ARGV[10]
  set[#set + 1] = 'f.undo_from'
  set[#set + 1] = old_step
  del[#del + 1] = 'f.undo_done'
end
if r[5] then redis.call('ZREM', KEYS[6], r[5]) end
local epoch, member = '', ''
if live then
  epoch = alloc(KEYS[3], ARGV[12])
  if ARGV[9] ~= '' then
    member = r[6] .. '|' .. new_step .. '|' .. new_attempt .. '|' .. epoch
    redis.call('ZADD', KEYS[6], ARGV[9], member)
  end
  for _, v in ipairs({'epoch', epoch, 'deadline_ms', ARGV[13]}) do set[#set + 1] = v end
else
  for _, v in ipairs({'finished_ms', now}) do set[#set + 1] = v end
  del[#del + 1] = 'deadline_ms'
  -- the instance left the campaign's in-flight set: wake the coordinator's
  -- admission (store_outbox.h STORE_OUTBOX_WAKE; score 0: always due, first)
  redis.call('ZADD', KEYS[6], 0, '!admit')
end
if member ~= '' then
  set[#set + 1] = 'timer'
  set[#set + 1] = member
else
  del[#del + 1] = 'timer'
end
if new_step ~= old_step then
  set[#set + 1] = 'step_started_ms'
  set[#set + 1] = now
end
for _, v in ipairs({'state', new_state, 'step', new_step, 'attempt', new_attempt, 'updated_ms', now,
                    'error', ARGV[10]}) do
  set[#set + 1] = v
end
redis.call('HSET', rec, unpack(set))
redis.call('HDEL', rec, unpack(del))
if new_state ~= old_state then
  redis.call('HINCRBY', KEYS[4], old_state, -1)
  redis.call('HINCRBY', KEYS[4], new_state, 1)
end
-- per-step counts: a re-run of the same step (a wait) changes none
if not (old_state == 'running' and new_state == 'running' and old_step == new_step) then
  if old_state == 'running' then redis.call('HINCRBY', KEYS[4], 'step:' .. old_step, -1) end
  if new_state == 'running' then redis.call('HINCRBY', KEYS[4], 'step:' .. new_step, 1) end
end
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
