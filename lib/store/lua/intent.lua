-- intent: an operator's decision about a pg-logical rollback window
-- (fleetcrypt rollback | finalize CAMPAIGN [INSTANCE...]; docs/pg-logical.md,
-- "Rollback window"). Decided here, atomically against the other intent:
-- rollback and finalize exclude each other, rollback after finalize (or
-- after the window closed) is refused with the reason, a repeat is harmless.
-- Sets fact f.rollback_requested / f.finalize_requested = now and pulls a
-- waiting_approval instance's outbox entry forward so the window step sees
-- it at once.
-- KEYS[1] record, [2] timers, [3] events
-- ARGV[1] now_ms, [2] node, [3] kind ('rollback' | 'finalize')
-- Returns {'ok', state} | {'already', 'requested' | 'rolled back'} | {'refused', reason} | {'gone'}
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'timer', 'id', 'attempt', 'f.rb_reverse', 'f.rb_state',
                     'f.rollback_requested', 'f.finalize_requested')
if not r[1] then return {'gone'} end
local now, kind = ARGV[1], ARGV[3]
local rbstate = r[7] or ''
-- (HMGET gives false for a missing field: no `a and b or c` on those)
local mine, other = r[9], r[8]
if kind == 'rollback' then mine, other = r[8], r[9] end
if rbstate == 'rolled-back' then
  return kind == 'rollback' and {'already', 'rolled back'}
                             or {'refused', 'rolled back to the source: nothing to finalize'}
end
if mine and mine ~= '' then return {'already', 'requested'} end
if rbstate == 'finalizing' or rbstate == 'finalized' then
  return {'refused', 'the rollback window is closed (finalized): the old source no longer receives the writes'}
end
if other and other ~= '' then
  return {'refused', kind == 'rollback' and 'finalize was requested: the reverse replication is being removed'
                                         or 'rollback was requested: the instance is being cut back'}
end
if r[1] ~= 'running' and r[1] ~= 'waiting_approval' then
  return {'refused', 'the instance is ' .. r[1] .. ' (no rollback window open)'}
end
if r[6] ~= '1' then
  return {'refused', 'no rollback window open (not switched yet, or the campaign has no --rollback-window)'}
end
redis.call('HSET', KEYS[1], 'f.' .. kind .. '_requested', now)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', r[4],
           'event', kind .. '_requested', 'step', r[2], 'attempt', tostring(r[5]), 'epoch', '',
           'from', r[1], 'to', r[1], 'next', r[2], 'reason', kind .. ' requested by operator',
           'node', ARGV[2], 'duration_ms', '0')
if r[1] == 'waiting_approval' and r[3] then redis.call('ZADD', KEYS[2], now, r[3]) end
return {'ok', r[1]}
