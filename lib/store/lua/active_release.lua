-- active_release: unbind members still bound to this campaign.
-- KEYS[1] active hash. ARGV[1] campaign, ARGV[2..] members. Returns count.
local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
