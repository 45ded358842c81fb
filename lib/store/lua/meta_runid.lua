-- meta_runid: note the Redis run_id a process connected to. When it differs
-- from the one recorded (Redis restarted, and with appendfsync everysec it may
-- have lost up to a second of writes, fencing and epoch counters included),
-- raise the epoch floor past anything that could have been handed out before
-- and count the restart so the coordinator re-drives in-flight instances.
-- KEYS[1] meta hash. ARGV[1] run_id, ARGV[2] margin_us.
-- Returns {floor, restarts, changed 0/1, run_id_seen_ms} where run_id_seen_ms is
-- the Redis time at which the current server was first seen ('0' if never).
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local m = redis.call('HMGET', KEYS[1], 'run_id', 'epoch_floor', 'restarts', 'run_id_seen_ms')
local seen = m[4] or '0'
local changed = 0
local floor = tonumber(m[2]) or 0
local restarts = tonumber(m[3]) or 0
if m[1] ~= ARGV[1] then
  changed = 1
  floor = math.max(floor, now_us + tonumber(ARGV[2]))
  if m[1] then restarts = restarts + 1 end
  redis.call('HSET', KEYS[1], 'run_id', ARGV[1], 'epoch_floor', string.format('%.0f', floor),
             'restarts', restarts, 'run_id_seen_ms', string.format('%.0f', now_us / 1000))
  seen = string.format('%.0f', now_us / 1000)
end
return {string.format('%.0f', floor), restarts, changed, seen}
