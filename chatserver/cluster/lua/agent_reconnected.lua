-- Socket back within grace (ARGV[4]: id): the agent keeps their chats.
local id = ARGV[4]
local k = akey(id)
if redis.call('EXISTS', k) == 0 then return {'unknown_agent', id} end
redis.call('HSET', k, 'connected', '1')
redis.call('HDEL', k, 'grace_until')
redis.call('ZREM', P .. 'grace', id)
reindex(id)
return {'ok'}
