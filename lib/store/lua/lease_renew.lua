-- lease_renew: extend a lease only if we still hold it (token match).
-- KEYS[1] lease. ARGV[1] token, ARGV[2] ttl_ms. Returns 1 held, 0 lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
