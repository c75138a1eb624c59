-- A silent agent's chat to someone else (Board.reroute_silent). ARGV[4]: cid, ARGV[5]: since
-- (its relaxation clock, kept), ARGV[6]: JSON {agent id: until} of earlier silent agents.
-- Reply: {'ok', the holder's id if they were set away else '', their revoked offer triples}.
local cid, since = ARGV[4], tonumber(ARGV[5])
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'priority')
if c[1] ~= 'assigned' then return {'not_assigned', cid} end
local holder = c[2]
take_held(cid, holder)
clear_exclusions(k)
for id, until_ in pairs(cjson.decode(ARGV[6])) do
  if tonumber(until_) > NOW then redis.call('HSET', k, 'x:' .. id, num(tonumber(until_))) end
end
redis.call('HSET', k, 'x:' .. holder, num(NOW + R.reoffer))
redis.call('HDEL', k, 'target')
local enq = math.min(since, NOW)
local seq = redis.call('INCR', P .. 'seq')
redis.call('HSET', k, 'seq', seq, 'enq', num(enq), 'head', '1',
           'score', num(enq - boost(tonumber(c[3]))))
queue_push(cid)
local a = akey(holder)
local missed = redis.call('HINCRBY', a, 'missed', 1)
if missed >= R.max_missed and redis.call('HGET', a, 'status') == 'online' then
  return {'ok', holder, set_status(holder, 'away')}
end
return {'ok', '', {}}
