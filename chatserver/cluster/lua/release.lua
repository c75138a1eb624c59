-- The chat closed (ARGV[4]: cid): its slot frees, its handle time feeds the ETA list.
local cid = ARGV[4]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'since')
if c[1] ~= 'assigned' then return {'not_assigned', cid} end
take_held(cid, c[2])
redis.call('DEL', k)
local seconds = NOW - tonumber(c[3])
if seconds >= 0 then
  redis.call('RPUSH', P .. 'handle', num(seconds))
  redis.call('LTRIM', P .. 'handle', -R.eta_window, -1)
end
return {'ok'}
