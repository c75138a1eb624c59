-- Queue a chat (ARGV[4..8]: cid, needs JSON, priority, enqueued_at, head 1/0).
local cid, needs, priority, start, head = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local k = ckey(cid)
if redis.call('EXISTS', k) == 1 then return {'already_routed', cid} end
local seq = redis.call('INCR', P .. 'seq')
redis.call('HSET', k, 'needs', needs, 'priority', priority, 'enq', start, 'head', head,
           'seq', seq, 'score', num(tonumber(start) - boost(tonumber(priority))))
queue_push(cid)
return {'ok'}
