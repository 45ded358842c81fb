-- looks_plan: an in-run await plans its next look on the campaign's look
-- board (lib/store/store_looks.h): the earliest look another await plans
-- within [ARGV[3], ARGV[4]] (wall ms) is returned, and this await's plan
-- recorded as that look's time, or as its own (ARGV[2]) when there is
-- none. Plans more than a minute gone by are dropped.
-- KEYS[1] plans (ZSET id -> planned ms). ARGV[1] id, [2] own plan,
-- [3] from, [4] to, [5] ttl_ms, [6] now_ms. Returns the other's time or 0.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[6]) - 60000))
local got = 0
local r = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], ARGV[4], 'WITHSCORES', 'LIMIT', 0, 2)
for i = 1, #r, 2 do
  if r[i] ~= ARGV[1] then got = tonumber(r[i + 1]); break end
end
redis.call('ZADD', KEYS[1], got > 0 and got or ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return got
