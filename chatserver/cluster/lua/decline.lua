-- The agent passes (ARGV[4..5]: cid, agent id): back in place, agent excluded a while.
local cid, id = ARGV[4], ARGV[5]
local c = redis.call('HMGET', ckey(cid), 'state', 'agent')
if c[1] ~= 'offered' or c[2] ~= id then return {'not_offered', cid} end
withdraw_offer(cid, id, true)
return {'ok'}
