-- leader: acquire or renew the coordinator leader lease.
-- KEYS[1] leader key. ARGV[1] token, ARGV[2] ttl_ms.
-- Returns 1 renewed, 2 newly acquired, 0 someone else leads.
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
