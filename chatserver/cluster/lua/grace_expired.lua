-- Bounded by the number of agents whose grace ran out, times their capacity.
local ids = redis.call('ZRANGEBYSCORE', P .. 'grace', '-inf', NOW_S)
local ord = {}
for _, id in ipairs(ids) do ord[id] = tonumber(redis.call('HGET', akey(id), 'ord')) end
table.sort(ids, function(a, b) return ord[a] < ord[b] end)  -- Board: registration order
local rescued = {}
for _, id in ipairs(ids) do
  local k = akey(id)
  redis.call('ZREM', P .. 'grace', id)
  redis.call('HDEL', k, 'grace_until')
  local active = redis.call('SMEMBERS', k .. ':active')
  table.sort(active, bytes_lt)
  for _, cid in ipairs(active) do
    local c = ckey(cid)
    clear_exclusions(c)
    redis.call('HDEL', c, 'target')
    fresh_push(cid, '1')
    rescued[#rescued + 1] = cid
  end
  redis.call('DEL', k .. ':active')
  reindex(id)
end
return {'ok', rescued}
