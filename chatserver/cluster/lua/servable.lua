-- Read-only. ARGV[4]: the fully relaxed requirements as JSON {skill: level}; ARGV[5]: JSON
-- list of agent ids not to count.
local req = cjson.decode(ARGV[4])
local except = {}
for _, id in ipairs(cjson.decode(ARGV[5])) do except[tostring(id)] = true end
local pool, size = P .. 'online', nil
for skill in pairs(req) do
  local n = redis.call('SCARD', P .. 'online:' .. skill)
  if size == nil or n < size then pool, size = P .. 'online:' .. skill, n end
end
for _, id in ipairs(redis.call('SMEMBERS', pool)) do
  local skills = cjson.decode(redis.call('HGET', akey(id), 'skills'))
  local ok = not except[id]
  for skill, level in pairs(req) do
    if (skills[skill] or 0) < level then ok = false break end
  end
  if ok then return {'ok', 1} end
end
return {'ok', 0}
