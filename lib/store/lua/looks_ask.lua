-- looks_ask: a worker is about to ask a look at the instances awaited on
-- the campaign's look board (lib/store/store_looks.h): marks the look as
-- begun (_asking, never moved back: the other workers' awaits registered
-- before it wait for its answer rather than ask) and returns the
-- instances awaited now, which the look includes.
-- KEYS[1] looks (HASH), [2] lookers (ZSET id -> until ms).
-- ARGV[1] now_ms, [2] the most ids to return, [3] ttl_ms of the hash.
local old = tonumber(redis.call('HGET', KEYS[1], '_asking') or '0') or 0
if tonumber(ARGV[1]) > old then redis.call('HSET', KEYS[1], '_asking', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
