-- Socket dropped (ARGV[4]: id): offers revoked now, held chats wait R.grace.
local id = ARGV[4]
local k = akey(id)
if redis.call('EXISTS', k) == 0 then return {'unknown_agent', id} end
if redis.call('HGET', k, 'connected') == '1' then  -- a second drop does not extend the grace
  local until_ = num(NOW + R.grace)
  redis.call('HSET', k, 'connected', '0', 'grace_until', until_)
  redis.call('ZADD', P .. 'grace', until_, id)
end
local revoked = revoke_all(id)
reindex(id)
return {'ok', revoked}
