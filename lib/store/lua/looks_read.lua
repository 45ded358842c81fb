-- looks_read: an in-run await looking at the campaign's look board
-- (lib/store/store_looks.h): the latest answer a worker's look published
-- for its instance, when the latest look was begun (_asking) and when the
-- latest one failed (_failed), in one round trip.
-- KEYS[1] looks (HASH id -> entry). ARGV[1] id.
-- Returns {entry, asking, failed} ("" for each one absent).
local r = redis.call('HMGET', KEYS[1], ARGV[1], '_asking', '_failed')
return {r[1] or '', r[2] or '', r[3] or ''}
