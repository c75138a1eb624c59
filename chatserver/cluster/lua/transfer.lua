-- Back to the queue head (ARGV[4..6]: cid, to agent or '', to skill or '').
local cid, to_agent, to_skill = ARGV[4], ARGV[5], ARGV[6]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'needs')
if c[1] ~= 'assigned' then return {'not_assigned', cid} end
local holder = c[2]
if to_agent ~= '' then
  if redis.call('EXISTS', akey(to_agent)) == 0 then return {'unknown_agent', to_agent} end
  if to_agent == holder then return {'same_agent', cid} end
end
take_held(cid, holder)
if to_skill ~= '' then
  local needs = cjson.decode(c[3])
  local skills = {}
  skills[to_skill] = 1
  local new = {skills = skills}
  if type(needs.language) == 'string' then new.language = needs.language end
  redis.call('HSET', k, 'needs', cjson.encode(new))
end
clear_exclusions(k)
redis.call('HSET', k, 'x:' .. holder, num(NOW + R.reoffer))
if to_agent ~= '' then
  redis.call('HSET', k, 'target', to_agent)
else
  redis.call('HDEL', k, 'target')
end
fresh_push(cid, '1')
return {'ok'}
