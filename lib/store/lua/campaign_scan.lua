-- campaign_scan: the coordinator's per-cycle view of a batch of one
-- campaign's instances in one round trip (coordinator/campaigns.c) instead
-- of one HMGET (and one EXISTS) per instance. Read-only; every key shares
-- the {C} hash tag.
-- KEYS[2i-1] record of instance i, KEYS[2i] its lease
-- ARGV[1] (optional) past_ms: look at the lease only of records whose
--      deadline_ms is set and <= past_ms (only those can be re-driven as
--      stuck; redrive.lua checks the lease again itself); '0' or absent:
--      every in-flight record's (after a Redis restart, all are re-driven)
-- Returns one entry per instance: {state, step, epoch, deadline_ms, f.q_inst,
-- f.q_snap, attempt, lease, f.q_clu} where lease is 1 when the lease key exists and
-- the instance is in flight (not pending and not terminal) and was looked at, else 0; absent
-- fields are nil, exactly as HMGET answers.
local terminal = {done = true, failed = true, skipped = true, aborted = true}
local past = tonumber(ARGV[1]) or 0
local out = {}
for i = 1, #KEYS, 2 do
  local r = redis.call('HMGET', KEYS[i], 'state', 'step', 'epoch', 'deadline_ms', 'f.q_inst', 'f.q_snap', 'attempt', 'f.q_clu')
  local clu = r[8]
  local st = r[1] or ''
  local lease = 0
  if st ~= 'pending' and not terminal[st] and (past == 0 or (tonumber(r[4]) or 0) > 0 and tonumber(r[4]) <= past) then
    lease = redis.call('EXISTS', KEYS[i + 1])
  end
  r[8] = lease
  r[9] = clu
  out[#out + 1] = r
end
return out
