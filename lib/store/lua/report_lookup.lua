-- report_lookup: which of a batch of instance ids campaign C holds, with the
-- campaign hash and those instances' records, in one round trip
-- (`fleetcrypt report --select`: one call per campaign and batch instead of
-- one per instance). Read-only; every key shares the {C} hash tag.
-- KEYS[1] campaign hash, [2] instances zset, [3..] the record key of ARGV[i]
-- ARGV[i] instance id (KEYS[2 + i] is its record)
-- Returns {campaign HGETALL, i1, record HGETALL, i2, record HGETALL, ...}
-- for the ids that are members (i = position in ARGV, 1-based); {} when the
-- campaign does not exist.
local camp = redis.call('HGETALL', KEYS[1])
if #camp == 0 then return {} end
local out = {camp}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    out[#out + 1] = i
    out[#out + 1] = redis.call('HGETALL', KEYS[2 + i])
  end
end
return out
