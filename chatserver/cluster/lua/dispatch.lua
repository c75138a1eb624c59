-- One slice of routing.choose: at most ARGV[5] waiting chats from queue position ARGV[4].
-- Cost per chat: one HGETALL plus O(log agents) heap work; each signature's heap is built once
-- per call from the smallest per-skill free set.
--
-- The idle claim (Board's "only a change can create a match"): a scan that covered the whole
-- queue under one `version`, with no chat taken out by anyone else meanwhile (`qout`), and left
-- agents free, proves no waiting chat matches until `wake` (the next relaxation step or
-- exclusion end among them). It is stored in `idle`; while the version and the time window
-- hold, dispatch answers at once. ARGV[6..8]: version, qout (taken by others) and wake carried
-- from the first slice ('' on it), ARGV[9]: offers this dispatch made in earlier slices.
-- Reply: {'ok', 'more'|'done', next_offset, offer triples, version, qout, wake}.
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
