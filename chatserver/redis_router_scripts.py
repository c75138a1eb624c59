"""Lua sources of the RedisRouter: every write to the shared routing state is one of these.

Each script runs atomically inside Redis (EVALSHA), so two server processes can never interleave
halfway through a move: a conversation is offered at most once, an agent is never filled past
capacity, and an offer's deadline lives in Redis where any process's ``expire`` finds it.

Calling convention (all scripts): ``ARGV[1]`` the key prefix, ``ARGV[2]`` the routing rules as
JSON (see ``RedisRouter._rules_json``), ``ARGV[3]`` ``now`` (a Python float repr), then the
script's own arguments. Replies are arrays whose first element is ``"ok"`` or an error code the
Python side turns into the ``routing`` exception the in-memory Board raises.

Numbers: every float written to Redis goes through ``num`` (``%.17g``, which round-trips a
double exactly); Redis would otherwise print Lua numbers with 14 digits, and return them as
integers. Keys are documented once, at the top of ``redis_router.py``.
"""

from __future__ import annotations

# Shared helpers, prepended to every script. Everything is `local`: Redis forbids globals.
COMMON = r"""
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
"""

UPSERT_AGENT = r"""
local id, capacity, skills, status = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local k = akey(id)
if redis.call('EXISTS', k) == 0 then
  local ord = redis.call('INCR', P .. 'ord')
  redis.call('HSET', k, 'status', 'offline', 'connected', '1', 'capacity', capacity,
             'skills', skills, 'free_since', NOW_S, 'missed', 0, 'ord', ord,
             'free_ix', '0', 'online_ix', '0')
  redis.call('ZADD', P .. 'agents', ord, id)
else
  reindex(id, true)  -- out of every index under the old skills
  redis.call('HSET', k, 'capacity', capacity, 'skills', skills)
end
reindex(id)
if status == '' then return {'ok', {}} end
return {'ok', set_status(id, status)}
"""

SET_STATUS = r"""
local id = ARGV[4]
if redis.call('EXISTS', akey(id)) == 0 then return {'unknown_agent', id} end
return {'ok', set_status(id, ARGV[5])}
"""

AGENT_DISCONNECTED = r"""
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
"""

AGENT_RECONNECTED = r"""
local id = ARGV[4]
local k = akey(id)
if redis.call('EXISTS', k) == 0 then return {'unknown_agent', id} end
redis.call('HSET', k, 'connected', '1')
redis.call('HDEL', k, 'grace_until')
redis.call('ZREM', P .. 'grace', id)
reindex(id)
return {'ok'}
"""

# Bounded by the number of agents whose grace ran out, times their capacity.
GRACE_EXPIRED = r"""
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
"""

ENQUEUE = r"""
local cid, needs, priority, start, head = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local k = ckey(cid)
if redis.call('EXISTS', k) == 1 then return {'already_routed', cid} end
local seq = redis.call('INCR', P .. 'seq')
redis.call('HSET', k, 'needs', needs, 'priority', priority, 'enq', start, 'head', head,
           'seq', seq, 'score', num(tonumber(start) - boost(tonumber(priority))))
queue_push(cid)
return {'ok'}
"""

RESTORE_ASSIGNED = r"""
local cid, id, needs, priority = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local k = ckey(cid)
if redis.call('EXISTS', k) == 1 then return {'already_routed', cid} end
if redis.call('EXISTS', akey(id)) == 0 then return {'unknown_agent', id} end
redis.call('SADD', akey(id) .. ':active', cid)
redis.call('HSET', k, 'state', 'assigned', 'agent', id, 'since', NOW_S, 'needs', needs,
           'priority', priority, 'enq', '0', 'head', '0', 'seq', '0', 'score', '0')
reindex(id)
return {'ok'}
"""

# One slice of routing.choose: at most ARGV[5] waiting chats from queue position ARGV[4].
# Cost per chat: one HGETALL plus O(log agents) heap work; each signature's heap is built once
# per call from the smallest per-skill free set.
#
# The idle claim (Board's "only a change can create a match"): a scan that covered the whole
# queue under one `version`, with no chat taken out by anyone else meanwhile (`qout`), and left
# agents free, proves no waiting chat matches until `wake` (the next relaxation step or
# exclusion end among them). It is stored in `idle`; while the version and the time window
# hold, dispatch answers at once. ARGV[6..8]: version, qout (taken by others) and wake carried
# from the first slice ('' on it), ARGV[9]: offers this dispatch made in earlier slices.
# Reply: {'ok', 'more'|'done', next_offset, offer triples, version, qout, wake}.
DISPATCH = r"""
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local start_version, start_qout, wake_s, made = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
local free_left = redis.call('SCARD', P .. 'free')
if free_left == 0 then return {'ok', 'done', offset, {}, '', '', ''} end
local version = redis.call('GET', P .. 'version') or '0'
local qout = redis.call('GET', P .. 'qout') or '0'
if start_version == '' then
  local idle = redis.call('HMGET', P .. 'idle', 'version', 'from', 'wake')
  if idle[1] == version and tonumber(idle[2]) <= NOW
      and (idle[3] == '' or NOW < tonumber(idle[3])) then
    return {'ok', 'done', offset, {}, '', '', ''}
  end
  start_version, start_qout = version, qout
end
local wake = nil
if wake_s ~= '' then wake = tonumber(wake_s) end

local agents = {}
local function agent(id)
  local a = agents[id]
  if a == nil then
    local h = redis.call('HMGET', akey(id), 'capacity', 'skills', 'free_since')
    a = {id = tonumber(id), sid = id, cap = tonumber(h[1]), skills = cjson.decode(h[2]),
         free_since = tonumber(h[3]), load = agent_load(id)}
    agents[id] = a
  end
  return a
end

-- Binary min-heap of {load/capacity, -proficiency, free_since, id, load, agent}.
local function before(x, y)
  if x[1] ~= y[1] then return x[1] < y[1] end
  if x[2] ~= y[2] then return x[2] < y[2] end
  if x[3] ~= y[3] then return x[3] < y[3] end
  return x[4] < y[4]
end
local function push(h, e)
  local i = #h + 1
  h[i] = e
  while i > 1 do
    local p = math.floor(i / 2)
    if not before(h[i], h[p]) then break end
    h[i], h[p] = h[p], h[i]
    i = p
  end
end
local function pop(h)
  local top, n = h[1], #h
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and before(h[l], h[m]) then m = l end
    if r <= n and before(h[r], h[m]) then m = r end
    if m == i then break end
    h[i], h[m] = h[m], h[i]
    i = m
  end
  return top
end
local function entry(a, prof) return {a.load / a.cap, -prof, a.free_since, a.id, a.load, a} end

local function can_serve(skills, req)
  for skill, level in pairs(req) do
    if (skills[skill] or 0) < level then return false end
  end
  return true
end
local function proficiency(skills, req)
  local sum = 0
  for skill in pairs(req) do sum = sum + (skills[skill] or 0) end
  return sum
end

local function requirements(needs, step)
  local req = {}
  local drop = step[3] == 1
  if not drop then
    for skill, level in pairs(needs.skills) do
      local capped = level
      if step[2] >= 0 then capped = math.min(level, step[2]) end
      req[skill] = math.max(req[skill] or 1, capped, 1)
    end
  end
  local lang = needs.language
  if type(lang) == 'string' and not (drop and R.relax_language) then
    req[lang] = math.max(req[lang] or 1, 1)
  end
  return req
end

local heaps = {}
local function heap_for(req)
  local names = {}
  for skill, level in pairs(req) do names[#names + 1] = skill .. '=' .. level end
  table.sort(names)
  local sig = table.concat(names, '|')
  local h = heaps[sig]
  if h then return h end
  h = {}
  local pool, size = P .. 'free', nil
  for skill in pairs(req) do  -- every eligible agent has every required skill
    local n = redis.call('SCARD', P .. 'free:' .. skill)
    if size == nil or n < size then pool, size = P .. 'free:' .. skill, n end
  end
  for _, id in ipairs(redis.call('SMEMBERS', pool)) do
    local a = agent(id)
    if a.load < a.cap and can_serve(a.skills, req) then
      push(h, entry(a, proficiency(a.skills, req)))
    end
  end
  heaps[sig] = h
  return h
end

local function excluded(c, sid)  -- declined or missed: not offered again before then
  local until_ = c['x:' .. sid]
  return until_ ~= nil and tonumber(until_) > NOW
end

local function best_of(h, c)
  local aside, best = {}, nil
  while #h > 0 do
    local e = h[1]
    local a = e[6]
    if a.load >= a.cap then
      pop(h)                        -- filled earlier in this call: gone for good
    elseif e[5] ~= a.load then
      pop(h)
      push(h, entry(a, -e[2]))      -- load rose since it was filed: re-rank
    elseif excluded(c, a.sid) then
      aside[#aside + 1] = pop(h)    -- excluded for this chat only
    else
      best = a
      break
    end
  end
  for _, e in ipairs(aside) do push(h, e) end
  return best
end

local function step_index(enq)
  local index = 1
  for i, step in ipairs(R.steps) do
    if enq + step[1] <= NOW then index = i end
  end
  return index
end

-- Whether some online agent, load aside, could serve req (routing.Servable), once per call.
local served = {}
local function online_can(req)
  local names = {}
  for skill, level in pairs(req) do names[#names + 1] = skill .. '=' .. level end
  table.sort(names)
  local sig = table.concat(names, '|')
  if served[sig] ~= nil then return served[sig] end
  local hit = false
  local pool, size = P .. 'online', nil
  for skill in pairs(req) do
    local n = redis.call('SCARD', P .. 'online:' .. skill)
    if size == nil or n < size then pool, size = P .. 'online:' .. skill, n end
  end
  for _, id in ipairs(redis.call('SMEMBERS', pool)) do
    if can_serve(agent(id).skills, req) then
      hit = true
      break
    end
  end
  served[sig] = hit
  return hit
end

-- routing.step_in_force: the clock's step, or the first later one someone online could serve.
local function in_force(c, needs)
  local clock = step_index(tonumber(c.enq))
  for i = clock, #R.steps do
    local ok
    if i == 1 and c.target then
      ok = redis.call('SISMEMBER', P .. 'online', c.target) == 1
    else
      ok = online_can(requirements(needs, R.steps[i]))
    end
    if ok then return i end
  end
  return clock
end

-- An unmatched chat can only start matching by itself at its next step or exclusion end.
local function note_wake(c, step)
  local nxt = R.steps[step + 1]
  local t = nxt and tonumber(c.enq) + nxt[1] or nil
  for f, v in pairs(c) do
    if string.sub(f, 1, 2) == 'x:' then
      local u = tonumber(v)
      if u > NOW and (t == nil or u < t) then t = u end
    end
  end
  if t and (wake == nil or t < wake) then wake = t end
end

local members = {}
local head_n = redis.call('ZCARD', P .. 'queue:head')
if offset < head_n then
  members = redis.call('ZRANGE', P .. 'queue:head', offset, offset + limit - 1)
  for i, m in ipairs(members) do members[i] = {m, 'queue:head'} end
end
if #members < limit then
  local start = math.max(0, offset - head_n)
  local more = redis.call('ZRANGE', P .. 'queue:main', start, start + limit - #members - 1)
  for _, m in ipairs(more) do members[#members + 1] = {m, 'queue:main'} end
end

local offers, examined = {}, 0
local expires = num(NOW + R.timeout)
for _, m in ipairs(members) do
  if free_left == 0 then break end
  examined = examined + 1
  local cid = string.sub(m[1], 18)
  local c = hgetall(ckey(cid))
  local needs = cjson.decode(c.needs)
  local step = in_force(c, needs)
  local best = nil
  if c.target and step == 1 then  -- pinned to a transfer target during the first step
    local a = redis.call('SISMEMBER', P .. 'free', c.target) == 1 and agent(c.target) or nil
    if a and a.load < a.cap and not excluded(c, c.target) then best = a end
  else
    best = best_of(heap_for(requirements(needs, R.steps[step])), c)
  end
  if best then
    local k = ckey(cid)
    redis.call('ZREM', P .. m[2], m[1])
    redis.call('ZREM', P .. 'queue:since', cid)
    if R.auto_accept then
      redis.call('SADD', akey(best.sid) .. ':active', cid)
      redis.call('HSET', k, 'state', 'assigned', 'agent', best.sid, 'since', NOW_S)
    else
      redis.call('SADD', akey(best.sid) .. ':pending', cid)
      redis.call('HSET', k, 'state', 'offered', 'agent', best.sid, 'expires', expires)
      redis.call('ZADD', P .. 'offers', expires, cid)
    end
    best.load = best.load + 1
    if best.load >= best.cap then free_left = free_left - 1 end
    reindex(best.sid)
    redis.call('INCR', P .. 'qout')
    offers[#offers + 1] = cid
    offers[#offers + 1] = best.sid
    offers[#offers + 1] = expires
  else
    note_wake(c, step)
  end
end
local n = #offers / 3
local wake_out = wake and num(wake) or ''
if free_left == 0 then return {'ok', 'done', offset + examined - n, offers, '', '', ''} end
if #members == limit then
  return {'ok', 'more', offset + examined - n, offers, start_version, start_qout, wake_out}
end
-- The whole queue was seen: claim it, unless it changed under us (a foreign removal could
-- have shifted an unseen chat behind the offset).
if version == start_version and tonumber(qout) == tonumber(start_qout) + made then
  redis.call('HSET', P .. 'idle', 'version', version, 'from', NOW_S, 'wake', wake_out)
end
return {'ok', 'done', offset + examined - n, offers, '', '', ''}
"""

ACCEPT = r"""
local cid, id = ARGV[4], ARGV[5]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'expires')
if c[1] ~= 'offered' or c[2] ~= id then return {'not_offered', cid} end
if NOW >= tonumber(c[3]) then return {'offer_expired', cid} end
redis.call('ZREM', P .. 'offers', cid)
redis.call('SMOVE', akey(id) .. ':pending', akey(id) .. ':active', cid)
redis.call('HSET', akey(id), 'missed', 0)
redis.call('HSET', k, 'state', 'assigned', 'since', NOW_S)
redis.call('HDEL', k, 'expires')
return {'ok'}
"""

DECLINE = r"""
local cid, id = ARGV[4], ARGV[5]
local c = redis.call('HMGET', ckey(cid), 'state', 'agent')
if c[1] ~= 'offered' or c[2] ~= id then return {'not_offered', cid} end
withdraw_offer(cid, id, true)
return {'ok'}
"""

# At most ARGV[4] due offers per call, in (deadline, conversation id) order like the Board's
# heap. Reply: {'ok', 'more'|'done', expired triples, away ids, revoked triples per away id}.
EXPIRE = r"""
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
"""

RELEASE = r"""
local cid = ARGV[4]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'since')
if c[1] ~= 'assigned' then return {'not_assigned', cid} end
take_held(cid, c[2])
redis.call('DEL', k)
local seconds = NOW - tonumber(c[3])
if seconds >= 0 then
  redis.call('RPUSH', P .. 'handle', num(seconds))
  redis.call('LTRIM', P .. 'handle', -R.eta_window, -1)
end
return {'ok'}
"""

TRANSFER = r"""
local cid, to_agent, to_skill = ARGV[4], ARGV[5], ARGV[6]
local k = ckey(cid)
local c = redis.call('HMGET', k, 'state', 'agent', 'needs')
if c[1] ~= 'assigned' then return {'not_assigned', cid} end
local holder = c[2]
if to_agent ~= '' then
  if redis.call('EXISTS', akey(to_agent)) == 0 then return {'unknown_agent', to_agent} end
  if to_agent == holder then return {'same_agent', cid} end
end
take_held(cid, holder)
if to_skill ~= '' then
  local needs = cjson.decode(c[3])
  local skills = {}
  skills[to_skill] = 1
  local new = {skills = skills}
  if type(needs.language) == 'string' then new.language = needs.language end
  redis.call('HSET', k, 'needs', cjson.encode(new))
end
clear_exclusions(k)
redis.call('HSET', k, 'x:' .. holder, num(NOW + R.reoffer))
if to_agent ~= '' then
  redis.call('HSET', k, 'target', to_agent)
else
  redis.call('HDEL', k, 'target')
end
fresh_push(cid, '1')
return {'ok'}
"""

WITHDRAW = r"""
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
"""

# Read-only. ARGV[4]: the fully relaxed requirements as JSON {skill: level}; ARGV[5]: an agent
# id not to count ('' for none).
SERVABLE = r"""
local req = cjson.decode(ARGV[4])
local except = ARGV[5] or ''
local pool, size = P .. 'online', nil
for skill in pairs(req) do
  local n = redis.call('SCARD', P .. 'online:' .. skill)
  if size == nil or n < size then pool, size = P .. 'online:' .. skill, n end
end
for _, id in ipairs(redis.call('SMEMBERS', pool)) do
  local skills = cjson.decode(redis.call('HGET', akey(id), 'skills'))
  local ok = id ~= except
  for skill, level in pairs(req) do
    if (skills[skill] or 0) < level then ok = false break end
  end
  if ok then return {'ok', 1} end
end
return {'ok', 0}
"""

SCRIPTS: dict[str, str] = {
    "upsert_agent": UPSERT_AGENT,
    "set_status": SET_STATUS,
    "agent_disconnected": AGENT_DISCONNECTED,
    "agent_reconnected": AGENT_RECONNECTED,
    "grace_expired": GRACE_EXPIRED,
    "enqueue": ENQUEUE,
    "restore_assigned": RESTORE_ASSIGNED,
    "dispatch": DISPATCH,
    "accept": ACCEPT,
    "decline": DECLINE,
    "expire": EXPIRE,
    "release": RELEASE,
    "transfer": TRANSFER,
    "withdraw": WITHDRAW,
    "servable": SERVABLE,
}
