-- bucket: shared AWS API token bucket per (account, region, service) with
-- AIMD: a throttling response halves the rate (and drains the bucket); the
-- rate then grows back additively, slowly, up to the configured maximum.
-- KEYS[1] bucket hash
-- ARGV[1] op ('take' | 'urgent' | 'throttle' | 'peek'), [2] now_ms, [3] max_rate (req/s),
--      [4] burst, [5] recover (req/s gained per second), [6] min_rate,
--      [7] ('urgent' only) the debt allowed, in tokens
-- 'urgent' (a call made while writers are blocked) is granted while the
-- bucket holds more than -debt tokens: it goes ahead of the waiting takes,
-- which repay the debt (the average rate holds); past the bound it waits
-- for one token's refill, not for the debt.
-- Returns {granted 0/1, wait_ms, rate_milli, tokens_milli}
-- Also keeps per-minute counters for `fleetcrypt top` and metrics: field
-- c:<minute> granted calls, t:<minute> throttling answers (fields older than
-- ten minutes are dropped as new ones appear).
local now = tonumber(ARGV[2])
local max_rate, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local recover, min_rate = tonumber(ARGV[5]), tonumber(ARGV[6])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
local rate = tonumber(b[3]) or max_rate
local elapsed = math.max(0, now - ts) / 1000.0
rate = math.min(max_rate, rate + recover * elapsed)
tokens = math.min(burst, tokens + elapsed * rate)
if now < ts then now = ts end
local granted, wait = 0, 0
local minute = math.floor(now / 60000)
if ARGV[1] == 'throttle' then
  rate = math.max(min_rate, rate / 2)
  if tokens > 0 then tokens = 0 end
  redis.call('HINCRBY', KEYS[1], 't:' .. minute, 1)
  redis.call('HDEL', KEYS[1], 't:' .. (minute - 10))
elseif ARGV[1] == 'take' or ARGV[1] == 'urgent' then
  local least = 1
  if ARGV[1] == 'urgent' then least = 1 - math.max(0, tonumber(ARGV[7]) or 0) end
  if tokens >= least then
    tokens = tokens - 1
    granted = 1
    redis.call('HINCRBY', KEYS[1], 'c:' .. minute, 1)
    redis.call('HDEL', KEYS[1], 'c:' .. (minute - 10))
  else
    -- an urgent take waits for its own bound only: the debt is the others' to repay
    wait = math.ceil((least - tokens) / rate * 1000)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now), 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], 3600000)
return {granted, wait, math.floor(rate * 1000), math.floor(tokens * 1000)}
