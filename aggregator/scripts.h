/* scripts.h: the Lua scripts the aggregator runs in Redis. Each touches the
 * keys of one campaign (hash tag {C}) plus the alerts stream. */
#ifndef AGG_SCRIPTS_H
#define AGG_SCRIPTS_H

/* Emits an alert: XADD to KEYS[alerts] and PUBLISH its JSON on the channel
 * of the same name. Shared by both scripts. */
#define AGG_LUA_EMIT                                                              \
    "local function emit(stream, maxlen, f)\n"                                    \
    "  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*'}\n"               \
    "  local obj = {}\n"                                                          \
    "  for j = 1, #f, 2 do\n"                                                     \
    "    args[#args + 1] = f[j]; args[#args + 1] = tostring(f[j + 1])\n"          \
    "    obj[f[j]] = f[j + 1]\n"                                                  \
    "  end\n"                                                                     \
    "  redis.call(unpack(args))\n"                                                \
    "  redis.call('PUBLISH', stream, cjson.encode(obj))\n"                        \
    "end\n"                                                                       \
    "local function sla_of(cfg, default)\n"                                       \
    "  return tonumber(redis.call('HGET', cfg, 'followup_sla_s') or '') or tonumber(default)\n" \
    "end\n"                                                                       \
    "local function base(kind, campaign, cfg, subj, st, waited, sla, now)\n"      \
    "  local f = {'kind', kind, 'campaign', campaign, 'subject', subj,\n"         \
    "    'signup_ts', string.format('%d', st), 'waited_s', string.format('%d', waited),\n" \
    "    'sla_s', string.format('%d', sla), 'ts', string.format('%d', now)}\n"    \
    "  local name = redis.call('HGET', cfg, 'name')\n"                            \
    "  if name then f[#f + 1] = 'name'; f[#f + 1] = name end\n"                  \
    "  return f\n"                                                                \
    "end\n"

/* Applies one campaign's batch.
 * KEYS: 1 totals, 2 wm, 3 nonce, 4 scroll, 5 ref, 6 ref:reach, 7 pending,
 *       8 fl, 9 alerted, 10 alerts, 11 cfg, 12.. hour/day buckets and HLLs.
 * ARGV: 1 partition, 2 expected watermark ("" if none), 3 new watermark,
 *       4 campaign, 5 now (ms), 6 default SLA (s), 7 alerts MAXLEN, then ops:
 *   H k field n      HINCRBY KEYS[k] field n
 *   X k at           PEXPIREAT KEYS[k] at
 *   P k n e1..en     PFADD KEYS[k] e1..en
 *   Z k member n     ZINCRBY KEYS[k] n member
 *   NZ n t1 n1 ..    ZADD nonce t1 n1 ... (n pairs)
 *   T cutoff         ZREMRANGEBYSCORE nonce -inf (cutoff
 *   lo|hi field v    keep the lower|higher of totals[field] and v
 *   S subject ts     a signup: ZADD pending NX ts subject
 *   F subject ts     a follow-up: latency, pending, resolved alert
 * Returns 1, or -1 if the watermark moved (nothing changed). */
#define AGG_LUA_APPLY                                                             \
    AGG_LUA_EMIT                                                                  \
    "local cur = redis.call('HGET', KEYS[2], ARGV[1]) or ''\n"                    \
    "if cur ~= ARGV[2] then return -1 end\n"                                      \
    "local bounds = {60, 300, 900, 3600, 14400, 86400}\n"                         \
    "local i, n = 8, #ARGV\n"                                                     \
    "while i <= n do\n"                                                           \
    "  local op = ARGV[i]\n"                                                      \
    "  if op == 'H' then\n"                                                       \
    "    redis.call('HINCRBY', KEYS[tonumber(ARGV[i+1])], ARGV[i+2], ARGV[i+3]); i = i + 4\n" \
    "  elseif op == 'X' then\n"                                                   \
    "    redis.call('PEXPIREAT', KEYS[tonumber(ARGV[i+1])], ARGV[i+2]); i = i + 3\n" \
    "  elseif op == 'P' then\n"                                                   \
    "    local c = tonumber(ARGV[i+2])\n"                                         \
    "    redis.call('PFADD', KEYS[tonumber(ARGV[i+1])], unpack(ARGV, i + 3, i + 2 + c)); i = i + 3 + c\n" \
    "  elseif op == 'Z' then\n"                                                   \
    "    redis.call('ZINCRBY', KEYS[tonumber(ARGV[i+1])], ARGV[i+3], ARGV[i+2]); i = i + 4\n" \
    "  elseif op == 'NZ' then\n"                                                  \
    "    local c = tonumber(ARGV[i+1])\n"                                         \
    "    redis.call('ZADD', KEYS[3], unpack(ARGV, i + 2, i + 1 + 2 * c)); i = i + 2 + 2 * c\n" \
    "  elseif op == 'T' then\n"                                                   \
    "    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[i+1]); i = i + 2\n" \
    "  elseif op == 'lo' or op == 'hi' then\n"                                    \
    "    local v = tonumber(redis.call('HGET', KEYS[1], ARGV[i+1]) or '')\n"      \
    "    local w = tonumber(ARGV[i+2])\n"                                         \
    "    if not v or (op == 'lo' and w < v) or (op == 'hi' and w > v) then\n"     \
    "      redis.call('HSET', KEYS[1], ARGV[i+1], ARGV[i+2])\n"                   \
    "    end\n"                                                                   \
    "    i = i + 3\n"                                                             \
    "  elseif op == 'S' then\n"                                                   \
    "    redis.call('ZADD', KEYS[7], 'NX', ARGV[i+2], ARGV[i+1]); i = i + 3\n"    \
    "  elseif op == 'F' then\n"                                                   \
    "    local subj, ts = ARGV[i+1], tonumber(ARGV[i+2])\n"                       \
    "    local st = tonumber(redis.call('ZSCORE', KEYS[7], subj) or '')\n"        \
    "    if st then\n"                                                            \
    "      local lat = ts - st\n"                                                 \
    "      if lat < 0 then lat = 0 end\n"                                         \
    "      redis.call('ZREM', KEYS[7], subj)\n"                                   \
    "      redis.call('HINCRBY', KEYS[8], 'count', 1)\n"                          \
    "      redis.call('HINCRBY', KEYS[8], 'sum_ms', string.format('%d', lat))\n"  \
    "      local mx = tonumber(redis.call('HGET', KEYS[8], 'max_ms') or '-1') or -1\n" \
    "      if lat > mx then redis.call('HSET', KEYS[8], 'max_ms', string.format('%d', lat)) end\n" \
    "      for _, b in ipairs(bounds) do\n"                                       \
    "        if lat <= b * 1000 then redis.call('HINCRBY', KEYS[8], 'le_' .. b .. 's', 1) end\n" \
    "      end\n"                                                                 \
    "      redis.call('HINCRBY', KEYS[8], 'le_inf', 1)\n"                         \
    "      if redis.call('HDEL', KEYS[9], subj) == 1 then\n"                      \
    "        local f = base('followup_resolved', ARGV[4], KEYS[11], subj, st,\n"  \
    "          math.floor(lat / 1000), sla_of(KEYS[11], ARGV[6]), tonumber(ARGV[5]))\n" \
    "        f[#f + 1] = 'followup_ts'; f[#f + 1] = string.format('%d', ts)\n"    \
    "        emit(KEYS[10], ARGV[7], f)\n"                                        \
    "      end\n"                                                                 \
    "    else\n"                                                                  \
    "      redis.call('HINCRBY', KEYS[8], 'unmatched', 1)\n"                      \
    "    end\n"                                                                   \
    "    i = i + 3\n"                                                             \
    "  else\n"                                                                    \
    "    return redis.error_reply('apply: unknown op ' .. tostring(op))\n"        \
    "  end\n"                                                                     \
    "end\n"                                                                       \
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"                             \
    "return 1\n"

/* Raises one followup_overdue alert.
 * KEYS: 1 pending, 2 alerted, 3 alerts, 4 cfg.
 * ARGV: 1 subject, 2 signup ts, 3 now (ms), 4 default SLA (s), 5 campaign,
 *       6 alerts MAXLEN. Returns 1 if raised, else 0. */
#define AGG_LUA_ALERT                                                             \
    AGG_LUA_EMIT                                                                  \
    "local st = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')\n"         \
    "if not st or st ~= tonumber(ARGV[2]) then return 0 end\n"                    \
    "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end\n"         \
    "local sla = sla_of(KEYS[4], ARGV[4])\n"                                      \
    "local now = tonumber(ARGV[3])\n"                                             \
    "if now - st < sla * 1000 then return 0 end\n"                                \
    "redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', st))\n"             \
    "emit(KEYS[3], ARGV[6], base('followup_overdue', ARGV[5], KEYS[4], ARGV[1], st,\n" \
    "  math.floor((now - st) / 1000), sla, now))\n"                               \
    "return 1\n"

#endif
