-- After a restart (ARGV[4..7]: cid, agent id, needs JSON, priority): back to its agent.
local cid, id, needs, priority = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local k = ckey(cid)
if redis.call('EXISTS', k) == 1 then return {'already_routed', cid} end
if redis.call('EXISTS', akey(id)) == 0 then return {'unknown_agent', id} end
redis.call('SADD', akey(id) .. ':active', cid)
redis.call('HSET', k, 'state', 'assigned', 'agent', id, 'since', NOW_S, 'needs', needs,
           'priority', priority, 'enq', '0', 'head', '0', 'seq', '0', 'score', '0')
reindex(id)
return {'ok'}
