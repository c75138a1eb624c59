-- Shared helpers, prepended to every script. Everything is `local`: Redis forbids globals.
local P = ARGV[1]
local R = cjson.decode(ARGV[2])
local NOW_S = ARGV[3]
local NOW = tonumber(NOW_S)

local function num(x) return string.format('%.17g', x) end
local function akey(id) return P .. 'agent:' .. id end
local function ckey(cid) return P .. 'conv:' .. cid end
local function member(seq, cid) return string.format('%016d', tonumber(seq)) .. ':' .. cid end

-- Python orders strings by code point = UTF-8 byte order; Lua's `<` uses the server locale.
local function bytes_lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function boost(priority)
  local cap = R.boost_max
  return math.max(-cap, math.min(cap, priority * R.boost))
end

local function agent_load(id)
  local k = akey(id)
  return redis.call('SCARD', k .. ':active') + redis.call('SCARD', k .. ':pending')
end

-- Anything that can create a match (a chat entering the queue, an agent becoming free) moves
-- the version, which voids dispatch's "nothing matches until ..." claim (key `idle`).
local function bump() redis.call('INCR', P .. 'version') end

local function set_index(id, skills, kind, on)
  local cmd = on and 'SADD' or 'SREM'
  redis.call(cmd, P .. kind, id)
  for skill in pairs(skills) do redis.call(cmd, P .. kind .. ':' .. skill, id) end
end

-- Keep the `online`/`free` indexes (and their per-skill sets) true for this agent.
local function reindex(id, force_off)
  local k = akey(id)
  local a = redis.call('HMGET', k, 'status', 'connected', 'capacity', 'skills', 'free_ix',
                       'online_ix')
  local skills = cjson.decode(a[4])
  local online = (not force_off) and a[1] == 'online' and a[2] == '1'
  local free = online and agent_load(id) < tonumber(a[3])
  if online ~= (a[6] == '1') then
    set_index(id, skills, 'online', online)
    redis.call('HSET', k, 'online_ix', online and '1' or '0')
    bump()  -- who is online decides which relaxation steps are skipped
  end
  if free ~= (a[5] == '1') then
    set_index(id, skills, 'free', free)
    redis.call('HSET', k, 'free_ix', free and '1' or '0')
    if free then bump() end
  end
end

local function clear_exclusions(k)
  local flat = redis.call('HKEYS', k)
  for _, field in ipairs(flat) do
    if string.sub(field, 1, 2) == 'x:' then redis.call('HDEL', k, field) end
  end
end

-- Back into the queue at the place recorded in the conversation hash (seq, score, band).
local function queue_push(cid)
  local k = ckey(cid)
  local c = redis.call('HMGET', k, 'seq', 'score', 'head', 'enq')
  local zkey = c[3] == '1' and P .. 'queue:head' or P .. 'queue:main'
  redis.call('ZADD', zkey, c[2], member(c[1], cid))
  redis.call('ZADD', P .. 'queue:since', c[4], cid)
  redis.call('HSET', k, 'state', 'queued')
  redis.call('HDEL', k, 'agent', 'expires', 'since')
  bump()
end

-- A fresh queue entry (Board._fresh): new arrival sequence, relaxation clock starts now.
local function fresh_push(cid, head)
  local k = ckey(cid)
  local seq = redis.call('INCR', P .. 'seq')
  local priority = tonumber(redis.call('HGET', k, 'priority'))
  redis.call('HSET', k, 'seq', seq, 'enq', NOW_S, 'head', head,
             'score', num(NOW - boost(priority)))
  queue_push(cid)
end

local function withdraw_offer(cid, agent, exclude)
  local k = ckey(cid)
  redis.call('ZREM', P .. 'offers', cid)
  redis.call('SREM', akey(agent) .. ':pending', cid)
  reindex(agent)
  if exclude then
    redis.call('HSET', k, 'x:' .. agent, num(NOW + R.reoffer))
    if redis.call('HGET', k, 'target') == agent then redis.call('HDEL', k, 'target') end
  end
  queue_push(cid)
end

-- Every pending offer of the agent back to its chat's old place (no exclusion); flat triples.
local function revoke_all(id)
  local pending = redis.call('SMEMBERS', akey(id) .. ':pending')
  table.sort(pending, bytes_lt)
  local out = {}
  for _, cid in ipairs(pending) do
    local expires = redis.call('HGET', ckey(cid), 'expires')
    withdraw_offer(cid, id, false)
    out[#out + 1] = cid
    out[#out + 1] = id
    out[#out + 1] = expires
  end
  return out
end

local function set_status(id, status)
  local k = akey(id)
  local was = redis.call('HGET', k, 'status')
  redis.call('HSET', k, 'status', status)
  local revoked = {}
  if status == 'online' and was ~= 'online' then
    redis.call('HSET', k, 'free_since', NOW_S, 'missed', 0)
  elseif status ~= 'online' then
    revoked = revoke_all(id)
  end
  reindex(id)
  return revoked
end

-- Remove a held chat from its agent (Board._take_held); the caller decides what follows.
local function take_held(cid, agent)
  local k = akey(agent)
  redis.call('SREM', k .. ':active', cid)
  redis.call('HSET', k, 'free_since', NOW_S)
  reindex(agent)
end
