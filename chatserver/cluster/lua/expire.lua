-- At most ARGV[4] due offers per call, in (deadline, conversation id) order like the Board's
-- heap. Reply: {'ok', 'more'|'done', expired triples, away ids, revoked triples per away id}.
local limit = tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', P .. 'offers', '-inf', NOW_S, 'LIMIT', 0, limit)
local expired, away, revoked = {}, {}, {}
for _, cid in ipairs(due) do
  local c = redis.call('HMGET', ckey(cid), 'state', 'agent', 'expires')
  if c[1] == 'offered' and tonumber(c[3]) <= NOW then  -- else revoked earlier in this loop
    local id = c[2]
    withdraw_offer(cid, id, true)
    expired[#expired + 1] = cid
    expired[#expired + 1] = id
    expired[#expired + 1] = c[3]
    local k = akey(id)
    local missed = redis.call('HINCRBY', k, 'missed', 1)
    if missed >= R.max_missed and redis.call('HGET', k, 'status') == 'online' then
      away[#away + 1] = id
      revoked[#revoked + 1] = set_status(id, 'away')
    end
  end
end
return {'ok', #due == limit and 'more' or 'done', expired, away, revoked}
