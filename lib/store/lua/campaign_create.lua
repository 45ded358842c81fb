-- campaign_create: create a campaign and its instance records atomically.
-- KEYS[1] campaign hash, KEYS[2] instances zset, KEYS[3] counts hash,
-- KEYS[4] events stream, KEYS[5..] one instance record per id (same order).
-- ARGV[1] now_ms, ARGV[2] nfields, then nfields field/value pairs for the
-- campaign hash, then the instance ids (as many as KEYS[5..]).
-- Returns {'ok', n} or {'exists'}.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local now = ARGV[1]
local nf = tonumber(ARGV[2])
local i = 3
for _ = 1, nf do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'created_ms', now, 'updated_ms', now)
local n = 0
for k = 5, #KEYS do
  local id = ARGV[i]
  i = i + 1
  n = n + 1
  redis.call('ZADD', KEYS[2], n, id)
  redis.call('DEL', KEYS[k])
  redis.call('HSET', KEYS[k], 'id', id, 'state', 'pending', 'step', '', 'attempt', '0',
             'epoch', '0', 'fence', '0', 'created_ms', now, 'updated_ms', now, 'seq', n)
end
for _, s in ipairs({'pending', 'running', 'waiting_approval', 'done', 'failed', 'skipped', 'aborted'}) do
  redis.call('HSET', KEYS[3], s, 0)
end
redis.call('HSET', KEYS[3], 'pending', n)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'ts', now, 'instance', '', 'event', 'submitted',
           'to', 'pending', 'n', n)
return {'ok', n}
