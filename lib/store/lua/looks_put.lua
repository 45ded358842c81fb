-- looks_put: publish a look's answers on the look board
-- (lib/store/store_looks.h). Never over a later look's answer: an entry
-- begins with the wall-clock ms its Describe was sent, and one sent
-- earlier than the entry already there is dropped.
-- KEYS[1] looks (HASH id -> entry). ARGV[1] ttl_ms, then id, sent_ms,
-- entry triples. Returns how many entries were written.
local n = 0
for i = 2, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local old_ms = old and tonumber(string.match(old, '^(%d+)')) or -1
  if tonumber(ARGV[i + 1]) >= old_ms then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) end
return n
