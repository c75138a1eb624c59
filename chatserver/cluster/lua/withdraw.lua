-- The visitor left before a person took it (ARGV[4]: cid); replies a revoked offer.
local cid = ARGV[4]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'expires', 'seq', 'head')
if c[1] == 'queued' then
  local zkey = c[5] == '1' and P .. 'queue:head' or P .. 'queue:main'
  redis.call('ZREM', zkey, member(c[4], cid))
  redis.call('ZREM', P .. 'queue:since', cid)
  redis.call('INCR', P .. 'qout')
  redis.call('DEL', k)
  return {'ok'}
elseif c[1] == 'offered' then
  redis.call('ZREM', P .. 'offers', cid)
  redis.call('SREM', akey(c[2]) .. ':pending', cid)
  reindex(c[2])
  redis.call('DEL', k)
  return {'ok', cid, c[2], c[3]}
end
return {'unknown_conversation', cid}
