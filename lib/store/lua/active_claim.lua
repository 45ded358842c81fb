-- active_claim: bind "<region>/<instance>" to a campaign in the global
-- active-instances hash, all or nothing: an instance may be in at most one
-- active campaign. KEYS[1] active hash. ARGV[1] campaign, ARGV[2..] members.
-- Returns {'ok'} or {'conflict', member, other_campaign}.
for i = 2, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur and cur ~= ARGV[1] then return {'conflict', ARGV[i], cur} end
end
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
return {'ok'}
