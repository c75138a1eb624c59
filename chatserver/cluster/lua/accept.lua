-- The agent takes the offered chat (ARGV[4..5]: cid, agent id).
local cid, id = ARGV[4], ARGV[5]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'expires')
if c[1] ~= 'offered' or c[2] ~= id then return {'not_offered', cid} end
if NOW >= tonumber(c[3]) then return {'offer_expired', cid} end
redis.call('ZREM', P .. 'offers', cid)
redis.call('SMOVE', akey(id) .. ':pending', akey(id) .. ':active', cid)
redis.call('HSET', akey(id), 'missed', 0)
redis.call('HSET', k, 'state', 'assigned', 'since', NOW_S)
redis.call('HDEL', k, 'expires')
return {'ok'}
