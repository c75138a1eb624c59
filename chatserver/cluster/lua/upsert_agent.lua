-- Add or update an agent's profile (ARGV[4..7]: id, capacity, skills JSON, status or '').
local id, capacity, skills, status = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local k = akey(id)
if redis.call('EXISTS', k) == 0 then
  local ord = redis.call('INCR', P .. 'ord')
  redis.call('HSET', k, 'status', 'offline', 'connected', '1', 'capacity', capacity,
             'skills', skills, 'free_since', NOW_S, 'missed', 0, 'ord', ord,
             'free_ix', '0', 'online_ix', '0')
  redis.call('ZADD', P .. 'agents', ord, id)
else
  reindex(id, true)  -- out of every index under the old skills
  redis.call('HSET', k, 'capacity', capacity, 'skills', skills)
end
reindex(id)
if status == '' then return {'ok', {}} end
return {'ok', set_status(id, status)}
