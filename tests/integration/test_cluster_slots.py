"""The guard of the cluster effort: no script and no multi-key command of
the collector, the aggregator or the CLI touches two hash slots. A
single-node Redis Cluster (cluster-enabled, one master owning all 16384
slots) refuses CROSSSLOT exactly like a big one while needing no routing,
so no routing is needed: the collector talks to it through a plain
redis:// URL, the aggregator and actiongap through redis+cluster://. The scripted
campaign of test_agg_campaign (4 partitions, 2 s SLA so that overdue and
resolved alerts are raised and moved, a repair, a forget) goes through a
plain node; its stream entries are replayed, field for field, on the
cluster node; every key of SPEC 3 must then be identical on both, key by
key, and the cluster node must have refused nothing."""
import json, subprocess, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from scripted import HUMAN, spring_campaign

C = "spring"
PARTS = 4
AGG = ["--partitions", str(PARTS), "--followup-sla-s", "2"]

plain = RedisServer()
# the bus on a port of its own: the default, port + 10000, may pass 65535
clus = RedisServer(extra=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                          "--cluster-port", str(free_port())])
a, b = plain.client(), clus.client()
b("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
wait_for(lambda: b"cluster_state:ok" in b("CLUSTER", "INFO"), what="cluster_state:ok")
check(b("CLUSTER", "KEYSLOT", "ag:alerts") == b("CLUSTER", "KEYSLOT", "ag:alerts:moved{ag:alerts}"),
      "ag:alerts and its moved hash share a slot")
try:                            # the node does refuse two slots in one call
    b("EVAL", "return redis.call('SET', KEYS[2], '1')", 2, "ag:c:{x}", "ag:c:{y}")
    check(False, "a cluster node refuses a script over two slots")
except RespError as e:
    check("CROSSSLOT" in str(e), f"CROSSSLOT refused: {e}")
b("CONFIG", "RESETSTAT")

col = Collector(plain, extra=["--partitions", str(PARTS)])
agg_a = Aggregator(plain, extra=AGG, name="agg-plain")
CURL = f"redis+cluster://127.0.0.1:{clus.port}"     # the aggregator and actiongap through the cluster layer
agg_b = Aggregator(clus, extra=AGG + ["--redis", CURL], name="agg-cluster", start=False)
# the collector with a plain URL: its commands are single-key, and one node owns every slot
col_b = Collector(clus, extra=["--partitions", str(PARTS)])
conn = Conn(col.port)


def pixel(q, ua=HUMAN, port=None):
    c = conn if port is None else Conn(port)
    st, _, body = c.request("GET", "/p.gif?" + q, headers={"User-Agent": ua})
    assert st == 200 and len(body) == 43


def api(obj):
    st, _, body = http_post(col.port, "/api/hits", json.dumps(obj).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    assert st == 202, body


def streams(r):
    return {p: r.xrange_all(f"ag:hits:{{{p}}}") for p in range(PARTS)}


def replay(since):
    """XADDs on the cluster node every plain entry not replayed yet, with
    the same fields, in stream order per partition. Returns the count."""
    n = 0
    for p, ents in streams(a).items():
        for eid, f in ents:
            if (p, eid) in since:
                continue
            since.add((p, eid))
            args = []
            for k, v in f.items():
                args += [k, v.encode("utf-8", "surrogateescape")]
            b("XADD", f"ag:hits:{{{p}}}", "*", *args)
            n += 1
    return n


def overdue(r):
    return sorted((f["campaign"], f["subject"]) for _, f in r.xrange_all("ag:alerts")
                  if f["kind"] == "followup_overdue")


# ---- phase 1: the campaign of test_agg_campaign, on the plain node
sent1 = spring_campaign(C, pixel, conn, api)
for i, (page, host) in enumerate([("/donate", "news.example"), ("/donate", "news.example"),
                                  ("/donate", "social.example"), ("/about", "")]):
    pixel(f"c=pages&e=view&s=p{i}&p={page}" + (f"&rh={host}" if host else ""))
pixel("c=solo&e=open&s=only")
for i in range(4):              # more campaigns, so that every partition has some
    pixel(f"c=other{i}&e=signup&s=o{i}")
    pixel(f"c=other{i}&e=open&s=o{i}&ref=ann")
sent1 += 4 + 1 + 8
wait_for(lambda: sum(len(e) for e in streams(a).values()) == sent1, what=f"{sent1} hits in the streams")
wait_applied(a, partitions=PARTS)
used = sum(1 for e in streams(a).values() if e)
check(used >= 3, f"the campaigns spread over {used} of {PARTS} partitions")
# 6 + 4 pending signups wait past the 2 s SLA: overdue alerts, moved to ag:alerts
wait_for(lambda: len(overdue(a)) == 10, timeout=15, what="10 overdue alerts on the plain node")

done_ids = set()
n1 = replay(done_ids)
check(n1 == sent1, f"replayed {n1} of {sent1}")
agg_b.start()       # after the replay: each signup meets its follow-up in one round, as it did
wait_applied(b, partitions=PARTS)
wait_for(lambda: len(overdue(b)) == 10, timeout=15, what="10 overdue alerts on the cluster node")

# ---- phase 2: late follow-ups resolve alerts; a dead letter repaired; a subject forgotten
api({"c": C, "e": "followup", "s": "s2"})
api({"c": "other0", "e": "followup", "s": "o0"})
wait_for(lambda: sum(len(e) for e in streams(a).values()) == sent1 + 2, what="the late follow-ups")
wait_applied(a, partitions=PARTS)
check(replay(done_ids) == 2, "the late follow-ups replayed")
wait_applied(b, partitions=PARTS)
for r in (a, b):
    wait_for(lambda: sum(1 for _, f in r.xrange_all("ag:alerts") if f["kind"] == "followup_resolved") == 2,
             timeout=15, what="2 resolved alerts")
ts = int(time.time() * 1000)
dead = ["hid", "dead.0-1", "ts", str(ts), "campaign", C, "event", "open", "subject", "s77",
        "agent", "human", "via", "pixel", "dead_id", "1-1", "dead_partition", "0", "dead_reason", "test"]
cli = lambda rs, *args: subprocess.run([CLI, "--redis", CURL if rs is clus else rs.url(), "--partitions",
                                        str(PARTS), *args], capture_output=True, text=True, timeout=30)
for rs, r in ((plain, a), (clus, b)):
    r("XADD", f"ag:c:{{{C}}}:dead", "*", *dead)
    out = cli(rs, "repair", C, "--json")
    check(out.returncode == 0 and json.loads(out.stdout)["requeued"] == 1, f"repair: {out.stdout} {out.stderr}")
    wait_applied(r, partitions=PARTS)
    out = cli(rs, "forget", "s5")
    check(out.returncode == 0, f"forget exits 0: {out.stdout} {out.stderr}")
check(b("XLEN", f"ag:c:{{{C}}}:dead") == 0, "the dead letter left the cluster's dead-letter stream")

# ---- the collector on the cluster node counts too
cport = col_b.port
for i in range(5):
    pixel(f"c=probe&e=open&s=p{i}", port=cport)
wait_for(lambda: hgetall(b, "ag:c:{probe}").get("open") == "5", what="the cluster collector's 5 opens")

# ---- every key, plain against cluster
SKIP = ("ag:hits:", "ag:lease:", "ag:applied:", "ag:aggregators", "ag:repaired:", "ag:alerts", "ag:rejects")


def comparable(k):
    return not k.startswith(SKIP) and not k.endswith((":wm", ":outbox")) and "{probe}" not in k


def value(r, k):
    t = r("TYPE", k)
    if k == "ag:campaigns":     # the probe campaign only counted on the cluster
        return {c: v for c, v in zrange(r, k).items() if c != "probe"}
    if t == "hash":
        v = hgetall(r, k)
    elif t == "zset":
        v = zrange(r, k)
    elif t == "string":         # the HyperLogLogs
        v = r("PFCOUNT", k)
    elif t == "stream":
        v = [f for _, f in r.xrange_all(k)]
    else:
        v = t
    return t, v, r("PEXPIRETIME", k)


keys_a = {k.decode() for k in a("KEYS", "*") if comparable(k.decode())}
keys_b = {k.decode() for k in b("KEYS", "*") if comparable(k.decode())}
check(keys_a == keys_b, f"the same keys: plain only {keys_a - keys_b}, cluster only {keys_b - keys_a}")
diff = [k for k in sorted(keys_a) if value(a, k) != value(b, k)]
for k in diff:
    print(f"differs: {k}\n  plain   {value(a, k)}\n  cluster {value(b, k)}")
check(not diff, f"the same value in every key ({len(diff)} differ)")
check(len(keys_a) >= 40, f"{len(keys_a)} keys compared")


def alerts(r):
    drop = ("ts", "waited_s")
    return sorted(tuple(sorted((k, v) for k, v in f.items() if k not in drop))
                  for _, f in r.xrange_all("ag:alerts"))


check(alerts(a) == alerts(b), f"the same alerts: {alerts(a)} {alerts(b)}")
check(len(alerts(b)) == 11, f"10 overdue and 2 resolved alerts, each once, less s5's: {len(alerts(b))}")
for r in (a, b):
    check(all(r("XLEN", k) == 0 for k in r("KEYS", "ag:c:*:outbox")), "every outbox emptied")
check(agg_b.metric("ag_alerts_moved_total") == 12 and agg_b.metric("ag_alerts_resolved_total") == 2,
      f"moved {agg_b.metric('ag_alerts_moved_total')}, resolved {agg_b.metric('ag_alerts_resolved_total')}")
out = cli(clus, "stats", C, "--json")
st_b = json.loads(out.stdout)
st_a = json.loads(cli(plain, "stats", C, "--json").stdout)
for k in ("counters", "reach", "actors", "signups", "pending", "scroll"):
    check(st_a.get(k) == st_b.get(k), f"stats {k}: {st_a.get(k)} against {st_b.get(k)}")
out = cli(clus, "alerts")
check(out.returncode == 0 and out.stdout.count("followup_") >= 11,
      f"actiongap alerts on the cluster: {out.stdout} {out.stderr}")

# ---- and nothing was refused but the collector's start-up probe (XADD
# MAXLEN -1 on ag:rejects and each partition: refused by XADD itself once
# the ACL let it through, so nothing is written)
stats = b("INFO", "errorstats").decode()
failed = [l for l in b("INFO", "commandstats").decode().splitlines() if "failed_calls=0" not in l and ":" in l]
check("CROSSSLOT" not in stats and f"errorstat_ERR:count={PARTS + 1}" in stats,
      f"no error on the cluster node but the probe's:\n{stats}")
check(len(failed) == 1 and failed[0].startswith("cmdstat_xadd:") and f"failed_calls={PARTS + 1}" in failed[0],
      f"no failed call but the probe's: {failed}")
for d in (agg_b, col_b):
    bad = [l for l in d.logs().splitlines() if "level=error" in l or "CROSSSLOT" in l]
    check(not bad, f"no error logged against the cluster node: {bad[:3]}")
conn.close()
check(agg_b.stop() == 0 and agg_a.stop() == 0, "the aggregators exit 0")
print(f"cluster: sent {sent1 + 2 + 1}, keys compared {len(keys_a)}, alerts {len(alerts(b))}, "
      f"CROSSSLOT 0", flush=True)
done("test_cluster_slots")
