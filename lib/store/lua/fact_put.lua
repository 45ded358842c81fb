-- fact_put: persist facts at once, while the step runs (the step-level
-- "this step acted" intent of awsstep_intent, written before the AWS call
-- it guards), fenced exactly as step_end: refused unless the caller still
-- holds the lease (token), its fencing token is the record's and the record
-- is still at the message's (step, epoch).
-- KEYS[1] record, [2] lease. ARGV[1] token, [2] fence, [3] msg epoch,
--      [4] msg step, then field/value pairs (field names "f.<fact>").
-- Returns 1 written, 0 fenced.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local r = redis.call('HMGET', KEYS[1], 'fence', 'epoch', 'state', 'step')
if r[1] ~= ARGV[2] or r[2] ~= ARGV[3] or r[4] ~= ARGV[4] or r[3] ~= 'running' then return 0 end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
