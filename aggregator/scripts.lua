-- scripts.lua: the Lua the aggregator runs in Redis, read by ops.c, which
-- substitutes every @NAME@ from the schema (proto/schema.h, proto/keys.h)
-- and its KEYS layout (ops.h) before SCRIPT LOAD. Each script touches the
-- keys of one hash slot (Redis Cluster): the apply and alert scripts one
-- campaign's keys (hash tag {C}), their alerts going to the campaign's
-- outbox; the move script ag:alerts and its moved hash. Sections:
-- "common" is prepended to each script; the others follow.

--@@ common
-- Raises an alert: XADD of its fields f to the campaign's outbox stream
-- (capped at maxlen), from where the move script takes it to ag:alerts.
local function raise(outbox, maxlen, f)
  local args = {'XADD', outbox, 'MAXLEN', '~', maxlen, '*'}
  for j = 1, #f, 2 do
    args[#args + 1] = f[j]; args[#args + 1] = tostring(f[j + 1])
  end
  redis.call(unpack(args))
end
-- Checks that each {key, type} of kts is of its type or absent, before a
-- script's first write (Lua does not roll back). Returns an error
-- "POISON <key> holds a <t>, not a <type>", or nil.
local function bad_type(kts)
  for _, kt in ipairs(kts) do
    local got = redis.call('TYPE', kt[1])['ok']
    if got ~= 'none' and got ~= kt[2] then
      return redis.error_reply('POISON ' .. kt[1] .. ' holds a ' .. got .. ', not a ' .. kt[2])
    end
  end
  return nil
end
-- Compares two stream ids "ms-seq" by value: true if a <= b.
local function le(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as <= bs)
end
-- The campaign's follow-up SLA in seconds: its cfg, else the default.
local function sla_of(cfg, default)
  return tonumber(redis.call('HGET', cfg, '@CFG_SLA@') or '') or tonumber(default)
end
-- The fields every alert carries (SPEC 12, Alerts).
local function base(kind, campaign, cfg, subj, st, waited, sla, now)
  local f = {'kind', kind, 'campaign', campaign, 'subject', subj,
    'signup_ts', string.format('%d', st), 'waited_s', string.format('%d', waited),
    'sla_s', string.format('%d', sla), 'ts', string.format('%d', now)}
  local name = redis.call('HGET', cfg, '@CFG_NAME@')
  if name then f[#f + 1] = 'name'; f[#f + 1] = name end
  return f
end

--@@ apply
-- Applies one campaign's batch (ops.h has the layout).
-- ARGV: 1 partition, 2 expected watermark ("" if none), 3 new watermark,
--       4 campaign, 5 now (ms), 6 default SLA (s), 7 outbox MAXLEN, then ops:
--   H k field n      HINCRBY KEYS[k] field n
--   X k at           PEXPIREAT KEYS[k] at
--   P k n e1..en     PFADD KEYS[k] e1..en
--   Z k member n     ZINCRBY KEYS[k] n member
--   NZ n t1 n1 ..    ZADD nonce t1 n1 ... (n pairs)
--   T cutoff         ZREMRANGEBYSCORE nonce -inf (cutoff
--   lo|hi field v    keep the lower|higher of totals[field] and v
--   S subject ts     a signup: ZADD pending NX ts subject
--   F subject ts     a follow-up: latency, pending, resolved alert
--   A k subject bit ts_s ref at cap
--                    the audience: merge (bit, ts_s, ref) into KEYS[k]'s
--                    record of subject "mask.first.delta[.ref]" (a new one
--                    only while the bucket holds fewer than cap; else
--                    totals audience_full += 1); keep KEYS[k] until at, or,
--                    at negative, the aggregator knows KEYS[k] is kept
--                    until -at or later: set only if KEYS[k] is new.
--                    A key's size is read once a call (HLEN), its records
--                    with one HMGET unless it is empty, and written with
--                    one HSET.
-- Returns 1 + the followup_resolved alerts raised (to the outbox), or -1
-- if the watermark moved (nothing changed).
local K_TOTALS, K_WM, K_NONCE = @K_TOTALS@, @K_WM@, @K_NONCE@
local K_PENDING, K_FL, K_ALERTED, K_OUTBOX, K_CFG = @K_PENDING@, @K_FL@, @K_ALERTED@, @K_OUTBOX@, @K_CFG@
local resolved = 0
local buckets = {@FL_BUCKETS@}  -- {upper bound ms, cumulative field}
local i, n = 8, #ARGV

-- Checks, before the first write, everything that could make a write fail
-- (a key of another type, a counter field that is not an integer), so that
-- a call changes everything or nothing: Lua does not roll back. Returns an
-- error "POISON <key> <why>" with nothing written.
local seen = {}
local function poison(k, why)
  return redis.error_reply('POISON ' .. k .. ' ' .. why)
end
local function want(k, t)
  if seen[k] then return nil end
  seen[k] = true
  local got = redis.call('TYPE', k)['ok']
  if got == 'none' then return nil end
  if t == 'hll' then
    -- PFCOUNT validates the whole encoding, as PFADD will
    if got ~= 'string' or type(redis.pcall('PFCOUNT', k)) ~= 'number' then
      return poison(k, 'is not a HyperLogLog')
    end
  elseif got ~= t then
    return poison(k, 'holds a ' .. got .. ', not a ' .. t)
  end
  return nil
end
-- Checks value v of field f of hash k as HINCRBY parses it: no leading
-- zero, no "-0", no overflow when adding.
local function int_value(k, f, v)
  if v and v ~= '0' and (#v > 18 or not string.match(v, '^%-?[1-9]%d*$')) then
    return poison(k, 'field ' .. f .. ' is not an integer')
  end
  return nil
end
local function int_field(k, f)
  return int_value(k, f, redis.call('HGET', k, f))
end
local hf, hf_keys = {}, {}   -- hash key -> the fields its H ops add to (checked with one HMGET)
-- the audience keys of the call, in order, each a table of its subjects
-- (g[1..]) and nput, len = its HLEN, empty = it was, at = expiry,
-- set = 1 if it must be set; and by subject (a call is one campaign's, so a
-- subject has one key): its record (false: none), and the record to write
local aud, aud_keys, aud_rec, aud_put = {}, {}, {}, {}
local bad = want(KEYS[K_WM], 'hash') or want(KEYS[K_TOTALS], 'hash')
local fl_checked = false
while not bad and i <= n do
  local op = ARGV[i]
  if op == 'H' then
    local k = KEYS[tonumber(ARGV[i+1])]
    bad = want(k, 'hash')
    local f = hf[k]
    if not f then f = {}; hf[k] = f; hf_keys[#hf_keys + 1] = k end
    f[#f + 1] = ARGV[i+2]
    i = i + 4
  elseif op == 'X' then
    i = i + 3
  elseif op == 'P' then
    bad = want(KEYS[tonumber(ARGV[i+1])], 'hll'); i = i + 3 + tonumber(ARGV[i+2])
  elseif op == 'Z' then
    bad = want(KEYS[tonumber(ARGV[i+1])], 'zset'); i = i + 4
  elseif op == 'NZ' then
    bad = want(KEYS[K_NONCE], 'zset'); i = i + 2 + 2 * tonumber(ARGV[i+1])
  elseif op == 'T' then
    bad = want(KEYS[K_NONCE], 'zset'); i = i + 2
  elseif op == 'lo' or op == 'hi' then
    i = i + 3
  elseif op == 'S' then
    bad = want(KEYS[K_PENDING], 'zset'); i = i + 3
  elseif op == 'A' then
    local k, subj = KEYS[tonumber(ARGV[i+1])], ARGV[i+2]
    local g = aud[k]
    if not g then
      g = {nput = 0}
      aud[k] = g; aud_keys[#aud_keys + 1] = k
    end
    if aud_rec[subj] == nil then aud_rec[subj] = false; g[#g + 1] = subj end
    i = i + 8
  elseif op == 'F' then
    bad = want(KEYS[K_PENDING], 'zset') or want(KEYS[K_FL], 'hash') or
      want(KEYS[K_ALERTED], 'hash') or want(KEYS[K_CFG], 'hash') or
      want(KEYS[K_OUTBOX], 'stream')
    if not bad and not fl_checked then
      fl_checked = true
      for _, f in ipairs({'@FL_COUNT@', '@FL_SUM_MS@', '@FL_INF@', '@FL_UNMATCHED@'}) do
        bad = bad or int_field(KEYS[K_FL], f)
      end
      for _, b in ipairs(buckets) do bad = bad or int_field(KEYS[K_FL], b[2]) end
    end
    i = i + 3
  else
    return redis.error_reply('apply: unknown op ' .. tostring(op))
  end
end
-- Reads fields of hash k with HMGET (1,000 a call), calling fn(field,
-- value) for each until one returns non-nil. Returns that, or HMGET's
-- error ({err = ...}), or nil.
local function hmget_each(k, fields, fn)
  for s = 1, #fields, 1000 do
    local e = math.min(s + 999, #fields)
    local v = redis.pcall('HMGET', k, unpack(fields, s, e))
    if v.err then return v end
    for j = s, e do
      local r = fn(fields[j], v[j - s + 1])
      if r then return r end
    end
  end
  return nil
end
-- the counters' fields, one HMGET a hash (its type checked above)
for _, k in ipairs(hf_keys) do
  if bad then break end
  bad = hmget_each(k, hf[k], function(f, v) return int_value(k, f, v) end)
end
-- each audience key's size (HLEN, also its type check), then, unless it is
-- empty (a new bucket, the most common), its records with one HMGET
if not bad and #aud_keys > 0 then bad = int_field(KEYS[K_TOTALS], '@AUD_FULL@') end
for _, k in ipairs(aud_keys) do
  if bad then break end
  local g = aud[k]
  local len = redis.pcall('HLEN', k)
  if type(len) ~= 'number' then
    bad = want(k, 'hash') or poison(k, 'refuses HLEN')
  else
    g.len = len
    g.empty = len == 0
    if len > 0 and hmget_each(k, g, function(subj, v) aud_rec[subj] = v end) then
      seen[k] = nil
      bad = want(k, 'hash') or poison(k, 'refuses HMGET')
    end
  end
end
if bad then return bad end

local cur = redis.call('HGET', KEYS[K_WM], ARGV[1]) or ''
if cur ~= ARGV[2] then return -1 end
i = 8
while i <= n do
  local op = ARGV[i]
  if op == 'H' then
    redis.call('HINCRBY', KEYS[tonumber(ARGV[i+1])], ARGV[i+2], ARGV[i+3]); i = i + 4
  elseif op == 'X' then
    redis.call('PEXPIREAT', KEYS[tonumber(ARGV[i+1])], ARGV[i+2]); i = i + 3
  elseif op == 'P' then
    local c = tonumber(ARGV[i+2])
    redis.call('PFADD', KEYS[tonumber(ARGV[i+1])], unpack(ARGV, i + 3, i + 2 + c)); i = i + 3 + c
  elseif op == 'Z' then
    redis.call('ZINCRBY', KEYS[tonumber(ARGV[i+1])], ARGV[i+3], ARGV[i+2]); i = i + 4
  elseif op == 'NZ' then
    local c = tonumber(ARGV[i+1])
    redis.call('ZADD', KEYS[K_NONCE], unpack(ARGV, i + 2, i + 1 + 2 * c)); i = i + 2 + 2 * c
  elseif op == 'T' then
    redis.call('ZREMRANGEBYSCORE', KEYS[K_NONCE], '-inf', '(' .. ARGV[i+1]); i = i + 2
  elseif op == 'lo' or op == 'hi' then
    local v = tonumber(redis.call('HGET', KEYS[K_TOTALS], ARGV[i+1]) or '')
    local w = tonumber(ARGV[i+2])
    if not v or (op == 'lo' and w < v) or (op == 'hi' and w > v) then
      redis.call('HSET', KEYS[K_TOTALS], ARGV[i+1], ARGV[i+2])
    end
    i = i + 3
  elseif op == 'S' then
    redis.call('ZADD', KEYS[K_PENDING], 'NX', ARGV[i+2], ARGV[i+1]); i = i + 3
  elseif op == 'F' then
    local subj, ts = ARGV[i+1], tonumber(ARGV[i+2])
    local st = tonumber(redis.call('ZSCORE', KEYS[K_PENDING], subj) or '')
    if st then
      local lat = ts - st
      if lat < 0 then lat = 0 end
      redis.call('ZREM', KEYS[K_PENDING], subj)
      redis.call('HINCRBY', KEYS[K_FL], '@FL_COUNT@', 1)
      redis.call('HINCRBY', KEYS[K_FL], '@FL_SUM_MS@', string.format('%d', lat))
      local mx = tonumber(redis.call('HGET', KEYS[K_FL], '@FL_MAX_MS@') or '-1') or -1
      if lat > mx then redis.call('HSET', KEYS[K_FL], '@FL_MAX_MS@', string.format('%d', lat)) end
      for _, b in ipairs(buckets) do
        if lat <= b[1] then redis.call('HINCRBY', KEYS[K_FL], b[2], 1) end
      end
      redis.call('HINCRBY', KEYS[K_FL], '@FL_INF@', 1)
      if redis.call('HDEL', KEYS[K_ALERTED], subj) == 1 then
        local f = base('followup_resolved', ARGV[4], KEYS[K_CFG], subj, st,
          math.floor(lat / 1000), sla_of(KEYS[K_CFG], ARGV[6]), tonumber(ARGV[5]))
        f[#f + 1] = 'followup_ts'; f[#f + 1] = string.format('%d', ts)
        raise(KEYS[K_OUTBOX], ARGV[7], f)
        resolved = resolved + 1
      end
    else
      redis.call('HINCRBY', KEYS[K_FL], '@FL_UNMATCHED@', 1)
    end
    i = i + 3
  elseif op == 'A' then
    local k, subj = KEYS[tonumber(ARGV[i+1])], ARGV[i+2]
    local ab, t, ref = tonumber(ARGV[i+3]), tonumber(ARGV[i+4]), ARGV[i+5]
    local at, cap = tonumber(ARGV[i+6]), tonumber(ARGV[i+7])
    local g = aud[k]
    local cur = aud_rec[subj]
    local m, f, l, r, put = ab, t, t, ref, true
    if cur then
      local cm, cf, cd, cr = string.match(cur, '^(%d+)%.(%d+)%.(%d+)%.?(.*)$')
      if cm then      -- a record that does not parse is written anew
        cf = tonumber(cf)
        m = bit.bor(tonumber(cm), ab)
        f = math.min(cf, t)
        l = math.max(cf + tonumber(cd), t)
        if cr ~= '' then r = cr end
      end
    else
      if g.len >= cap then
        put = false
        redis.call('HINCRBY', KEYS[K_TOTALS], '@AUD_FULL@', 1)
      else
        g.len = g.len + 1
      end
    end
    if put then
      local v = string.format('%d.%d.%d', m, f, l - f)
      if r ~= '' then v = v .. '.' .. r end
      if not aud_put[subj] then g.nput = g.nput + 1 end
      aud_put[subj] = v
      aud_rec[subj] = v
      if at < 0 then at = -at else g.set = 1 end
      if not g.at or at > g.at then g.at = at end
    end
    i = i + 8
  else
    return redis.error_reply('apply: unknown op ' .. tostring(op))
  end
end
-- each audience key written with one HSET; its expiry set if it is new or
-- the aggregator does not know it (op A)
for _, k in ipairs(aud_keys) do
  local g = aud[k]
  if g.nput > 0 then
    if g.nput == 1 and #g == 1 then
      redis.call('HSET', k, g[1], aud_put[g[1]])
    else
      local args, n = {'HSET', k}, 0
      for _, subj in ipairs(g) do
        if aud_put[subj] then
          args[#args + 1] = subj; args[#args + 1] = aud_put[subj]; n = n + 1
          if n == 1000 then redis.call(unpack(args)); args, n = {'HSET', k}, 0 end
        end
      end
      if n > 0 then redis.call(unpack(args)) end
    end
    if g.empty then
      redis.call('PEXPIREAT', k, g.at)
    elseif g.set then
      local ttl = redis.call('PTTL', k)
      if ttl == -1 or g.at > tonumber(ARGV[5]) + ttl then redis.call('PEXPIREAT', k, g.at) end
    end
  end
end
redis.call('HSET', KEYS[K_WM], ARGV[1], ARGV[3])
return 1 + resolved

--@@ alert
-- Raises one followup_overdue alert to the campaign's outbox.
-- KEYS: pending, alerted, outbox, cfg (ops.h: AGG_AK_*).
-- ARGV: 1 subject, 2 signup ts, 3 now (ms), 4 default SLA (s), 5 campaign,
--       6 outbox MAXLEN. Returns 1 if raised, else 0, or an error
--       "POISON ..." (nothing written) if a key it writes is of another type.
local A_PENDING, A_ALERTED, A_OUTBOX, A_CFG = @A_PENDING@, @A_ALERTED@, @A_OUTBOX@, @A_CFG@
local st = tonumber(redis.call('ZSCORE', KEYS[A_PENDING], ARGV[1]) or '')
if not st or st ~= tonumber(ARGV[2]) then return 0 end
if redis.call('HEXISTS', KEYS[A_ALERTED], ARGV[1]) == 1 then return 0 end
local sla = sla_of(KEYS[A_CFG], ARGV[4])
local now = tonumber(ARGV[3])
if now - st < sla * 1000 then return 0 end
-- Lua does not roll back: the outbox is checked before alerted is marked
local bad = bad_type({{KEYS[A_OUTBOX], 'stream'}, {KEYS[A_ALERTED], 'hash'}})
if bad then return bad end
redis.call('HSET', KEYS[A_ALERTED], ARGV[1], string.format('%d', st))
raise(KEYS[A_OUTBOX], ARGV[6], base('followup_overdue', ARGV[5], KEYS[A_CFG], ARGV[1], st,
  math.floor((now - st) / 1000), sla, now))
return 1

--@@ move
-- Moves one campaign's outbox entries to the alerts stream exactly once:
-- XADD to ag:alerts and PUBLISH of its JSON on the channel of the same
-- name for each entry above the campaign's moved id, which then moves past
-- them, in one step; entries at or below it were moved before (a mover
-- that died before deleting them from the outbox) and are skipped. The
-- caller deletes every entry it passed from the outbox afterwards.
-- KEYS: 1 alerts stream, 2 moved hash (one slot: ag:alerts's).
-- ARGV: 1 campaign, 2 alerts MAXLEN, then per entry, in outbox order: id,
--       n, n field/value strings.
-- Returns the number of entries moved, or an error "POISON ..." (nothing
-- written) if either key is of another type.
local bad = bad_type({{KEYS[1], 'stream'}, {KEYS[2], 'hash'}})
if bad then return bad end
local moved = redis.call('HGET', KEYS[2], ARGV[1])
local i, n, count = 3, #ARGV, 0
while i <= n do
  local id, nf = ARGV[i], tonumber(ARGV[i+1])
  if not (moved and le(id, moved)) then
    local args, obj = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*'}, {}
    for j = i + 2, i + 1 + nf, 2 do
      args[#args + 1] = ARGV[j]; args[#args + 1] = ARGV[j + 1]
      obj[ARGV[j]] = ARGV[j + 1]
    end
    redis.call(unpack(args))
    redis.call('PUBLISH', KEYS[1], cjson.encode(obj))
    moved = id
    count = count + 1
  end
  i = i + 2 + nf
end
if count > 0 then redis.call('HSET', KEYS[2], ARGV[1], moved) end
return count

--@@ lease_take
-- Takes or renews the lease of a partition: KEYS[1] the lease key, ARGV[1]
-- this consumer, ARGV[2] the lease length in ms. A free lease, or one held
-- under this consumer's own name (a restarted aggregator), is taken.
-- Returns 1 if held, else 0.
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0

--@@ lease_give
-- Gives a lease back if this consumer (ARGV[1]) holds it. Returns 1 if it
-- was deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0

--@@ dead
-- Dead-letters one campaign's batch that a poisoned key refused: copies
-- every entry above the watermark to the campaign's dead-letter stream and
-- moves the watermark past them, in one step, so that the rest of the
-- partition moves on and `actiongap repair` can re-queue them once.
-- KEYS: 1 watermark hash, 2 dead-letter stream.
-- ARGV: 1 partition, 2 expected watermark, 3 new watermark, 4 reason,
--       then per entry: id, n, n field/value strings.
-- Returns the number of entries dead-lettered, or -1 if the watermark
-- moved, or an error "POISON ..." (nothing written) if either key is bad.
local bad = bad_type({{KEYS[1], 'hash'}, {KEYS[2], 'stream'}})
if bad then return bad end
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return -1 end
local i, n, count = 5, #ARGV, 0
while i <= n do
  local nf = tonumber(ARGV[i+1])
  redis.call('XADD', KEYS[2], '*', 'dead_id', ARGV[i], 'dead_partition', ARGV[1],
    'dead_reason', ARGV[4], unpack(ARGV, i + 2, i + 1 + nf))
  count = count + 1
  i = i + 2 + nf
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return count

--@@ repair
-- Re-queues one dead-letter entry on the hit stream exactly once, in the
-- partition's slot: the entry is added unless its id is at or below the
-- campaign's re-queued id, which then moves to it; the caller deletes it
-- from the dead-letter stream (the campaign's slot) after, so a repair
-- killed in between re-queues nothing twice.
-- KEYS: 1 hit stream, 2 re-queued hash (ag:repaired:{P}).
-- ARGV: 1 campaign, 2 entry id, 3 "1" to drop it without re-queueing (a
--       copy already moved), then the entry's field/value strings.
-- Returns 1 if re-queued, 2 if dropped, 0 if re-queued before (another
-- repair took it), or an error "POISON ..." (nothing written).
local bad = bad_type({{KEYS[1], 'stream'}, {KEYS[2], 'hash'}})
if bad then return bad end
local done = redis.call('HGET', KEYS[2], ARGV[1])
if done and le(ARGV[2], done) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] == '1' then return 2 end
local args = {'XADD', KEYS[1], '*'}
for j = 4, #ARGV, 2 do
  if string.sub(ARGV[j], 1, 5) ~= 'dead_' then
    args[#args + 1] = ARGV[j]; args[#args + 1] = ARGV[j + 1]
  end
end
redis.call(unpack(args))
return 1


--@@ done
-- Ends a round of a partition read with NOACK, if this consumer still
-- holds the partition's lease (a paused ex-owner must neither take pending
-- entries from the new one nor move its cursor): makes the held campaigns'
-- entries pending under this consumer (XCLAIM FORCE), then moves the cursor
-- to the round's last entry, in one step.
-- KEYS: 1 lease, 2 hit stream, 3 cursor (one slot: the partition's).
-- ARGV: 1 consumer, 2 group, 3 the round's last entry id, then the held
--       entries' ids. Returns 1, or 0 if the lease is not this consumer's
--       (nothing done).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for s = 4, #ARGV, 1000 do
  local args = {'XCLAIM', KEYS[2], ARGV[2], ARGV[1], '0'}
  for j = s, math.min(s + 999, #ARGV) do args[#args + 1] = ARGV[j] end
  args[#args + 1] = 'FORCE'; args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
redis.call('SET', KEYS[3], ARGV[3])
return 1
