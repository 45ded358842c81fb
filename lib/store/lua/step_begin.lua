-- step_begin: accept a step message and take the instance lease.
-- The message runs only if (step, attempt, epoch) equal the record's and the
-- instance is running and neither the campaign nor the instance (record
-- field paused=1, fleetcrypt pause CAMPAIGN INSTANCE) is paused. Takes the
-- lease (SET NX PX, or re-entrant for the same token) and a fencing token
-- from the campaign sequence, floored by Redis time and the epoch floor.
-- KEYS[1] record, KEYS[2] lease, KEYS[3] campaign, KEYS[4] seq
-- ARGV[1] token, [2] ttl_ms, [3] step, [4] attempt, [5] epoch, [6] floor,
--      [7] now_ms, [8] node, [9] quiet_until_ms: Redis time before which no new
--      lease is granted (a Redis restart may have lost a running holder's
--      lease key with its last second; '0' = none; see store_step_begin)
-- Returns {'ok', fence, rec_flat, campaign_flat} | {'gone'} |
--         {'stale', why} | {'paused'} | {'busy', pttl_ms}
-- alloc() comes from lua/_prelude.lua
-- (one HMGET instead of EXISTS + HMGET: a missing record has no state; the
-- campaign's HGETALL, which the reply carries anyway, gives its state; Redis
-- TIME for the quiet period only when there is one)
local r = redis.call('HMGET', KEYS[1], 'state', 'step', 'attempt', 'epoch', 'paused')
if not r[1] then return {'gone'} end
if r[1] ~= 'running' and r[1] ~= 'waiting_approval' then return {'stale', 'instance is ' .. tostring(r[1])} end
if r[2] ~= ARGV[3] or r[3] ~= ARGV[4] or r[4] ~= ARGV[5] then
  return {'stale', 'record is at ' .. tostring(r[2]) .. '/' .. tostring(r[3]) .. '/' .. tostring(r[4])}
end
local camp = redis.call('HGETALL', KEYS[3])
local cst
for j = 1, #camp, 2 do
  if camp[j] == 'state' then cst = camp[j + 1] break end
end
if cst == 'paused' or r[5] == '1' then return {'paused'} end
if cst ~= 'running' then return {'stale', 'campaign is ' .. tostring(cst)} end
local cur = redis.call('GET', KEYS[2])
if cur and cur ~= ARGV[1] then return {'busy', tostring(redis.call('PTTL', KEYS[2]))} end
local quiet = tonumber(ARGV[9]) or 0
if not cur and quiet > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now < quiet then return {'busy', string.format('%.0f', quiet - now), 'redis restarted'} end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local fence = alloc(KEYS[4], ARGV[6])
redis.call('HSET', KEYS[1], 'fence', fence, 'owner', ARGV[8], 'run_ms', ARGV[7])
return {'ok', fence, redis.call('HGETALL', KEYS[1]), camp}
