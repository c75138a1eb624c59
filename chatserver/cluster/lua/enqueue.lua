-- Queue a chat (ARGV[4..9]: cid, needs JSON, priority, enqueued_at, head 1/0, JSON {agent id:
-- until} of agents kept from it, e.g. its earlier silent agents after a restart).
local cid, needs, priority, start, head = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local k = ckey(cid)
if redis.call('EXISTS', k) == 1 then return {'already_routed', cid} end
local seq = redis.call('INCR', P .. 'seq')
redis.call('HSET', k, 'needs', needs, 'priority', priority, 'enq', start, 'head', head,
           'seq', seq, 'score', num(tonumber(start) - boost(tonumber(priority))))
for id, until_ in pairs(cjson.decode(ARGV[9] or '{}')) do
  if tonumber(until_) > NOW then redis.call('HSET', k, 'x:' .. id, num(tonumber(until_))) end
end
queue_push(cid)
return {'ok'}
