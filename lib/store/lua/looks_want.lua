-- looks_want: an in-run await registers the instance it waits for on the
-- campaign's look board until a time (ARGV[2] > 0; a later time only
-- extends it), or takes it and its planned look off (ARGV[2] 0)
-- (lib/store/store_looks.h). A worker that dies mid-await leaves an entry
-- that other looks include until its time is past.
-- KEYS[1] lookers (ZSET id -> until ms), [2] plans (ZSET id -> ms).
-- ARGV[1] id, [2] until_ms (0: off), [3] ttl_ms of the set. Returns 1.
if tonumber(ARGV[2]) > 0 then
  local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not old or tonumber(old) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
