"""The Lua scripts that keep the room in Redis: each runs atomically there.

Theory of operation. Redis holds, under the ``selchat:`` prefix:

* ``stream``: the room, a Stream. A room line is an entry with its sequence
  number ``s`` (from the counter ``seq``, taken in the same script, so stream
  order and numbering agree), the publishing node ``n``, its time ``t`` (ms)
  and its bytes ``d``; join, leave and rename lines also carry ``p``, the
  presence change (see `selchat.room`). Other entries carry no ``s``: a
  direct line for a member on another node (``m``: the name key), a lost name
  (``x``: "node<TAB>key", that node must rename its member) and a session
  taken over by a resume on another node (``v``), a member put out of a room
  (``r``; "": off the server) by another node's moderator (``o``: its name,
  ``d``: what it is told, ``w``: its leave's reason), which its node removes.
* ``epoch``: set once; a Redis that lost its data starts a new numbering.
* ``names``: name key -> "node<TAB>claimed (µs)<TAB>name": who holds each name,
  across nodes. ``tokens``: hash of a resume token -> "node<TAB>key".
* ``nodes``: sorted set, node -> its last heartbeat (Redis time, ms). A
  node's names are its lease: a node missing its heartbeats for the lease
  time is reaped by the next heartbeat of another node, which announces its
  members' leaves.
* ``batch:NODE``: the number of the node's last published batch, so a batch
  sent again after a broken connection is not published twice.
* ``lines``: node -> the number (field ``i``) of its last room line or mark
  (an ``h`` entry: "my lines go up to this number") in the stream. A node
  starting up reads it with the stream's end, so it knows which numbers came
  before its time and which it missed.
* ``joined``: "node<TAB>name" -> "current<TAB>room<TAB>room...": the rooms of
  each member whose rooms are not just the default one (the default room
  listed when it is in it), written by its node with the line that says the
  change (op ``S``), so a node starting up reads every room's members with
  the stream's end, in one script: one consistent view (after the rooms, its
  status: `selchat.member_status`). ``topics``: room key
  -> "name<TAB>topic<TAB>setter<TAB>ms" (op ``T``; who set it and when,
  `selchat.topics`; a selchat before that wrote "name<TAB>topic").
  ``rules``: "table<TAB>key" -> the JSON of
  an account, a room's rules or a server ban (op ``A``, announced by an
  ``a`` entry; "": deleted, kept as such so a node that was away deletes its
  copy too): `selchat.accounts.shared`. A room line's presence field says the same
  change to the nodes already up; an entry with ``p`` and no ``s`` says a
  change no line announces (a room past ``--announce-limit``).

The stream is trimmed by each publish to the retention time (``XTRIM MINID
~``), and by every eighth of a node's publishes to a byte cap: when ``MEMORY
USAGE`` (sampled: about 7 µs, as much as a one-line batch) says the stream is
over it, ``XTRIM MAXLEN ~`` keeps the share of its entries that fits. ``~``
lets Redis drop whole nodes of entries only, so both are cheap and
approximate (to a node of 100 entries, and a few batches).

Name conflicts (two nodes that could not see each other both gave a name
out) are settled by `CLAIM`: the earlier claim keeps the name; the later one
is told to rename its member. Every script reads Redis' own clock, so
leases do not depend on the nodes' clocks agreeing.
"""

#: Shared by the scripts: the time, liveness, and one name claim.
_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function alive(nodes, node, now, ttl)
  local score = redis.call('ZSCORE', nodes, node)
  return score and tonumber(score) >= now - ttl
end
local function owner_of(value)
  return string.match(value, '^([^\\t]*)\\t([^\\t]*)\\t(.*)$')
end
-- `node` claims name `key`: false when a live node claimed it first; and
-- whether it wrote anything (a heartbeat's claims are mostly unchanged).
local function claim(names, nodes, stream, node, key, name, since, now, ttl)
  local held = redis.call('HGET', names, key)
  local value = node .. '\\t' .. since .. '\\t' .. name
  if held == value then return true, false end
  if held then
    local owner, their_since = owner_of(held)
    if owner ~= node and alive(nodes, owner, now, ttl) then
      local a, b = tonumber(their_since), tonumber(since)
      if a < b or (a == b and owner < node) then return false, false end
      redis.call('XADD', stream, '*', 'n', node, 'x', owner .. '\\t' .. key)
    end
  end
  redis.call('HSET', names, key, value)
  return true, true
end
-- forget what `node` holds under `key` in `hash` (compare and delete)
local function release(hash, node, key)
  local held = redis.call('HGET', hash, key)
  if held and string.sub(held, 1, #node + 1) == node .. '\\t' then
    redis.call('HDEL', hash, key)
  end
end
"""

#: KEYS: stream seq names tokens nodes lines joined topics batch:NODE rules
#: ARGV: node batch_no time_ms retention_ms lease_ms max_bytes first_line, then operations:
#:   L data presence        a room line (numbered; the node numbers its own from first_line)
#:   K data presence room   the same, of a room but the default one (field r: its name)
#:   G data presence room tags  the same (room "": the default one) with an IRC
#:                          client's own tags (field g)
#:   H number               the node's lines go up to number (the next L follows it)
#:   M key data             a direct line for the member named key
#:   C key name since th    claim a name (th: token hash or "")
#:   R key th               release a name (and a token, if th)
#:   P presence room        a change of presence no line announces (room "": default)
#:   S name rooms           the rooms of this node's member name ("": the default only)
#:   T key value only_new   a room's topic ("name<TAB>topic<TAB>setter<TAB>ms"; "": none);
#:                          only_new "1": unless one is set (a node announcing itself again)
#:   A field value only_new an account, room rules or ban ("table<TAB>key" -> JSON,
#:                          "": deleted), announced; only_new "1": unless Redis has it
#:   O name room told why   the member name is put out of room ("": off the server)
#: Returns {first seq (0: none, or a batch published before), lost keys...}.
PUBLISH = _COMMON + """
local node, batch = ARGV[1], tonumber(ARGV[2])
if batch <= tonumber(redis.call('GET', KEYS[9]) or '0') then return {0} end
redis.call('SET', KEYS[9], batch, 'EX', 86400)
local now, time, lease = now_ms(), ARGV[3], tonumber(ARGV[5])
local first, lost, line, i = 0, {}, tonumber(ARGV[7]), 8
local said = nil
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'L' or op == 'K' or op == 'G' then
    local seq = redis.call('INCR', KEYS[2])
    if first == 0 then first = seq end
    local fields = {'n', node, 'i', line, 's', seq, 't', time, 'd', ARGV[i + 1]}
    if ARGV[i + 2] ~= '' then
      fields[#fields + 1] = 'p'
      fields[#fields + 1] = ARGV[i + 2]
    end
    if op ~= 'L' and ARGV[i + 3] ~= '' then
      fields[#fields + 1] = 'r'
      fields[#fields + 1] = ARGV[i + 3]
    end
    if op == 'G' then
      fields[#fields + 1] = 'g'
      fields[#fields + 1] = ARGV[i + 4]
    end
    redis.call('XADD', KEYS[1], '*', unpack(fields))
    said = line
    line = line + 1
    i = i + (op == 'G' and 5 or op == 'K' and 4 or 3)
  elseif op == 'H' then
    redis.call('XADD', KEYS[1], '*', 'n', node, 'h', ARGV[i + 1])
    said = tonumber(ARGV[i + 1])
    line = said + 1
    i = i + 2
  elseif op == 'M' then
    redis.call('XADD', KEYS[1], '*', 'n', node, 't', time, 'm', ARGV[i + 1], 'd', ARGV[i + 2])
    i = i + 3
  elseif op == 'C' then
    if claim(KEYS[3], KEYS[5], KEYS[1], node, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now, lease)
    then
      if ARGV[i + 4] ~= '' then
        redis.call('HSET', KEYS[4], ARGV[i + 4], node .. '\\t' .. ARGV[i + 1])
      end
    else
      lost[#lost + 1] = ARGV[i + 1]
    end
    i = i + 5
  elseif op == 'R' then
    release(KEYS[3], node, ARGV[i + 1])
    if ARGV[i + 2] ~= '' then release(KEYS[4], node, ARGV[i + 2]) end
    i = i + 3
  elseif op == 'P' then
    if ARGV[i + 2] == '' then
      redis.call('XADD', KEYS[1], '*', 'n', node, 'p', ARGV[i + 1])
    else
      redis.call('XADD', KEYS[1], '*', 'n', node, 'p', ARGV[i + 1], 'r', ARGV[i + 2])
    end
    i = i + 3
  elseif op == 'S' then
    if ARGV[i + 2] == '' then
      redis.call('HDEL', KEYS[7], node .. '\\t' .. ARGV[i + 1])
    else
      redis.call('HSET', KEYS[7], node .. '\\t' .. ARGV[i + 1], ARGV[i + 2])
    end
    i = i + 3
  elseif op == 'T' then
    if ARGV[i + 2] == '' then
      redis.call('HDEL', KEYS[8], ARGV[i + 1])
    elseif ARGV[i + 3] == '1' then
      redis.call('HSETNX', KEYS[8], ARGV[i + 1], ARGV[i + 2])
    else
      redis.call('HSET', KEYS[8], ARGV[i + 1], ARGV[i + 2])
    end
    i = i + 4
  elseif op == 'A' then
    if ARGV[i + 3] ~= '1' or redis.call('HEXISTS', KEYS[10], ARGV[i + 1]) == 0 then
      redis.call('HSET', KEYS[10], ARGV[i + 1], ARGV[i + 2])
      redis.call('XADD', KEYS[1], '*', 'n', node, 'a', ARGV[i + 1], 'd', ARGV[i + 2])
    end
    i = i + 4
  elseif op == 'O' then
    redis.call('XADD', KEYS[1], '*', 'n', node, 'o', ARGV[i + 1], 'r', ARGV[i + 2],
               'd', ARGV[i + 3], 'w', ARGV[i + 4])
    i = i + 5
  else
    return redis.error_reply('unknown operation ' .. tostring(op))
  end
end
if said then redis.call('HSET', KEYS[6], node, said) end
redis.call('XTRIM', KEYS[1], 'MINID', '~', now - tonumber(ARGV[4]))
local cap = tonumber(ARGV[6])
if cap > 0 and batch % 8 == 0 then  -- MEMORY USAGE costs as much as a small batch
  local used = redis.call('MEMORY', 'USAGE', KEYS[1], 'SAMPLES', 5)
  if used and used > cap then
    local length = redis.call('XLEN', KEYS[1])
    redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', math.floor(length * cap / used))
  end
end
local reply = {first}
for _, key in ipairs(lost) do reply[#reply + 1] = key end
return reply
"""

#: KEYS: stream epoch names nodes lines joined topics rules
#: ARGV: node new_epoch history_count
#: Returns {epoch, last entry id, the last history_count entries (newest
#: first), the names hash as a flat list, 1 if the node was still known (0:
#: new, or reaped while away), the lines hash as a flat list, the live nodes,
#: the joined, topics and rules hashes as flat lists}: one consistent view to start from.
SYNC = _COMMON + """
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local known = redis.call('ZSCORE', KEYS[4], ARGV[1]) and 1 or 0
redis.call('ZADD', KEYS[4], now_ms(), ARGV[1])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
local entries = {}
if tonumber(ARGV[3]) > 0 then
  entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[3])
end
return {redis.call('GET', KEYS[2]), last_id, entries, redis.call('HGETALL', KEYS[3]), known,
        redis.call('HGETALL', KEYS[5]), redis.call('ZRANGE', KEYS[4], 0, -1),
        redis.call('HGETALL', KEYS[6]), redis.call('HGETALL', KEYS[7]),
        redis.call('HGETALL', KEYS[8])}
"""

#: KEYS: stream names tokens nodes lines joined
#: ARGV: node lease_ms may_reap, then per member of this node: key name since th
#: (may_reap "1" once this node has been up a whole lease: after an outage the
#: others' heartbeats are old too, and each gets a lease's time to renew them)
#: Returns {1 if the node was still known (0: it had been reaped), names of
#: the reaped nodes' members, keys this node lost}.
HEARTBEAT = _COMMON + """
local node, lease, now = ARGV[1], tonumber(ARGV[2]), now_ms()
local known = redis.call('ZSCORE', KEYS[4], node) and 1 or 0
redis.call('ZADD', KEYS[4], now, node)
local reaped, dead_nodes = {}, {}
if ARGV[3] == '1' then
  dead_nodes = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - lease)
end
for _, dead in ipairs(dead_nodes) do
  redis.call('ZREM', KEYS[4], dead)
  redis.call('HDEL', KEYS[5], dead)
  local names = redis.call('HGETALL', KEYS[2])
  for i = 1, #names, 2 do
    local owner, _, name = owner_of(names[i + 1])
    if owner == dead then
      redis.call('HDEL', KEYS[2], names[i])
      reaped[#reaped + 1] = name
    end
  end
  local tokens = redis.call('HGETALL', KEYS[3])
  for i = 1, #tokens, 2 do release(KEYS[3], dead, tokens[i]) end
  local joined = redis.call('HKEYS', KEYS[6])
  for _, field in ipairs(joined) do
    if string.sub(field, 1, #dead + 1) == dead .. '\\t' then redis.call('HDEL', KEYS[6], field) end
  end
end
local lost = {}
for i = 4, #ARGV, 4 do
  local ours, wrote = claim(KEYS[2], KEYS[4], KEYS[1], node, ARGV[i], ARGV[i + 1], ARGV[i + 2],
                            now, lease)
  if ours then
    if wrote and ARGV[i + 3] ~= '' then
      redis.call('HSET', KEYS[3], ARGV[i + 3], node .. '\\t' .. ARGV[i])
    end
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return {known, reaped, lost}
"""

#: KEYS: stream names tokens joined
#: ARGV: node token_hash
#: Returns nil for an unknown token, else {former node, key, name, rooms}; the
#: session, its name and its rooms (``joined``) are this node's from now on,
#: and the former node is told (a ``v`` entry, its rooms in ``j``) to let its
#: side go without a word.
TAKEOVER = _COMMON + """
local node, th = ARGV[1], ARGV[2]
local held = redis.call('HGET', KEYS[3], th)
if not held then return nil end
local owner, key = string.match(held, '^([^\\t]*)\\t(.*)$')
local named = redis.call('HGET', KEYS[2], key)
if not named then return nil end
local holder, since, name = owner_of(named)
if holder ~= owner then return nil end  -- the session lost its name meanwhile
local rooms = redis.call('HGET', KEYS[4], owner .. '\\t' .. name) or ''
if owner ~= node then
  redis.call('HSET', KEYS[2], key, node .. '\\t' .. since .. '\\t' .. name)
  redis.call('HSET', KEYS[3], th, node .. '\\t' .. key)
  if rooms ~= '' then
    redis.call('HDEL', KEYS[4], owner .. '\\t' .. name)
    redis.call('HSET', KEYS[4], node .. '\\t' .. name, rooms)
  end
  redis.call('XADD', KEYS[1], '*', 'n', node, 'v',
             th .. '\\t' .. owner .. '\\t' .. key .. '\\t' .. since .. '\\t' .. name, 'j', rooms)
end
return {owner, key, name, rooms}
"""
