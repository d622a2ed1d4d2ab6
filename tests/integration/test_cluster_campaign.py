"""The scripted campaign of test_agg_campaign through the real collector and
aggregator on a Redis Cluster of 3 masters + 3 replicas (16 partitions
spread 6/5/5 by `actiongap cluster --balance`, a 2 s follow-up SLA so that
overdue and resolved alerts are raised and moved) gives, key by key, the
counters of the same run on one node: the cluster's stream entries are
replayed field for field (their hid and ts too) on a plain redis-server
counted by its own aggregator, and the two are dumped and compared
(HyperLogLogs by their registers, expiries too), leaving out only what is
per-instance by design (the hit streams, leases, watermarks and outboxes,
which hold stream ids) and the alerts' own timestamps. The cluster's keys
also equal the independent model of harness.expected_counters, and
`actiongap stats` says the same on both."""
import json, os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from cluster import Cluster, dump, dump_diff
from cluster_e2e import PARTS, balance, cli, entries, wait_drained, elapsed
from scripted import HUMAN, spring_campaign

C = "spring"
AGG = ["--followup-sla-s", "2"]
t0 = time.monotonic()

with Cluster() as cl:
    by_master = balance(cl)
    print(f"cluster up in {cl.startup_s:.1f} s; partitions by master: {by_master}", flush=True)
    r = cl.router()
    col = Collector(cl, threads=2)
    agg = Aggregator(cl, extra=AGG, name="agg-cluster")
    conn = Conn(col.port)

    def pixel(q, ua=HUMAN):
        st, _, body = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": ua})
        assert st == 200 and len(body) == 43, st

    def api(obj):
        st, _, body = http_post(col.port, "/api/hits", json.dumps(obj).encode(),
                                {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
        assert st == 202, body

    # ---- the run on the cluster: test_agg_campaign's script, its pages and solo
    # campaigns, and 12 more campaigns so that every master counts some
    sent = spring_campaign(C, pixel, conn, api)
    for i, (page, host) in enumerate([("/donate", "news.example"), ("/donate", "news.example"),
                                      ("/donate", "social.example"), ("/about", "")]):
        pixel(f"c=pages&e=view&s=p{i}&p={page}" + (f"&rh={host}" if host else ""))
    pixel("c=solo&e=open&s=only")
    for i in range(12):
        pixel(f"c=other{i}&e=signup&s=o{i}")
        pixel(f"c=other{i}&e=open&s=o{i}&ref=ann")
        pixel(f"c=other{i}&e=scroll&d=80&s=o{i}")
    sent += 4 + 1 + 36
    wait_drained(col)
    wait_for(lambda: len(entries(r)) == sent, what=f"{sent} hits in the streams")
    wait_applied(r, partitions=PARTS)
    camps = {f["campaign"] for _, f in entries(r)}
    masters = {cl.slot_owner(cl.keyslot(f"ag:c:{{{c}}}")) for c in camps}
    used = sum(1 for p in range(PARTS) if r("XLEN", f"ag:hits:{{{p}}}") > 0)
    check(len(masters) == 3, f"the {len(camps)} campaigns' keys are on {len(masters)} of 3 masters")
    print(f"{len(camps)} campaigns over {used} of {PARTS} partitions", flush=True)

    # 6 spring signups and 12 others wait past the 2 s SLA: overdue alerts
    def overdue(rr):
        return sorted((f["campaign"], f["subject"]) for _, f in rr.xrange_all("ag:alerts")
                      if f["kind"] == "followup_overdue")
    wait_for(lambda: len(overdue(r)) == 18, timeout=20, what="18 overdue alerts on the cluster")
    api({"c": C, "e": "followup", "s": "s2"})            # resolves one
    api({"c": "other0", "e": "followup", "s": "o0"})
    sent += 2
    wait_drained(col)
    wait_for(lambda: len(entries(r)) == sent, what="the late follow-ups")
    wait_applied(r, partitions=PARTS)
    wait_for(lambda: sum(1 for _, f in r.xrange_all("ag:alerts") if f["kind"] == "followup_resolved") == 2,
             timeout=15, what="2 resolved alerts on the cluster")

    # ---- the model, computed from the cluster's streams, against the cluster's keys
    ents = entries(r)
    check(len(ents) == sent and len({f["hid"] for _, f in ents}) == sent,
          f"sent {sent}, stored {len(ents)} ({len({f['hid'] for _, f in ents})} hids)")
    model = expected_counters(ents)
    nkeys = check_against_model(r, model)
    tot = hgetall(r, f"ag:c:{{{C}}}")
    hand = {"open": 51, "machine_open": 15, "click": 12, "machine_click": 3, "view": 5, "scroll": 5,
            "signup": 9, "donate": 3, "value": 4000, "petition": 2, "followup": 4, "dup": 1}
    for k, v in hand.items():
        check(int(tot.get(k, -1)) == v, f"spring's {k}: want {v}, got {tot.get(k)}")
    counted = sum(int(v) for c in camps for k, v in hgetall(r, f"ag:c:{{{c}}}").items()
                  if k not in ("first_ts", "last_ts", "value", "anonymous", "unverified"))
    check(counted == sent, f"counted {counted} (every event field, dup included) of {sent}")

    # ---- the same entries on one node, counted by its own aggregator
    one = RedisServer(appendfsync="everysec")
    a = one.client()
    for _, f in ents:           # partition by partition: each campaign's order kept
        args = []
        for k, v in f.items():
            args += [k, v.encode("utf-8", "surrogateescape")]
        a("XADD", "ag:hits:{0}", "*", *args)
    agg1 = Aggregator(one, extra=AGG, name="agg-one")
    wait_applied(a)
    wait_for(lambda: len(overdue(a)) == 16 and
             sum(1 for _, f in a.xrange_all("ag:alerts") if f["kind"] == "followup_resolved") == 0,
             timeout=20, what="16 overdue alerts on one node (s2's and o0's follow-ups met in one round)")

    # ---- key by key
    SKIP = ("ag:hits:", "ag:lease:", "ag:applied:", "ag:aggregators", "ag:alerts", "ag:rejects", "ag:repaired:")

    def comparable(d):
        return {k: v for k, v in d.items() if not k.startswith(SKIP) and not k.endswith((":wm", ":outbox"))}

    d_cl = comparable(dump(cl, "ag:", with_ttl=True))
    d_one = comparable(dump(one, "ag:", with_ttl=True))
    diff = dump_diff(d_cl, d_one)
    for line in diff:
        print("differs:", line)
    check(not diff, f"cluster and one node: the same {len(d_one)} keys, the same values ({len(diff)}+ differ)")
    check(len(d_cl) >= 150, f"{len(d_cl)} keys compared")

    # alerts: on the cluster each signup left pending past 2 s was alerted
    # once, and the two late follow-ups resolved theirs; one node, given the
    # follow-ups in the same round as their signups, never saw s2 or o0
    # overdue. Otherwise the same alerts, field for field but the times.
    def alert_set(rr, drop_subjects=()):
        out = []
        for _, f in rr.xrange_all("ag:alerts"):
            if (f["campaign"], f["subject"]) in drop_subjects:
                continue
            out.append(tuple(sorted((k, v) for k, v in f.items() if k not in ("ts", "waited_s"))))
        return sorted(out)
    late = {(C, "s2"), ("other0", "o0")}
    ak = [(f["kind"], f["campaign"], f["subject"]) for _, f in r.xrange_all("ag:alerts")]
    check(len(ak) == len(set(ak)) == 20, f"20 alerts on the cluster (18 overdue, 2 resolved), each once: {len(ak)}")
    check(alert_set(r, late) == alert_set(a), "the other 16 alerts identical on the cluster and one node")
    check(all(r("XLEN", k) == 0 for m in cl.masters() for k in cl.client(m)("KEYS", "ag:c:*:outbox")),
          "every outbox on the cluster emptied")

    # ---- actiongap on the cluster says what it says on one node
    st_cl = json.loads(cli(cl, "stats", C, "--json").stdout)
    out = subprocess.run([CLI, "--redis", one.url(), "stats", C, "--json"], capture_output=True, text=True,
                         timeout=30)
    st_one = json.loads(out.stdout)
    for k in ("counters", "reach", "actors", "signups", "pending", "scroll", "top_pages", "top_referrers"):
        check(st_cl.get(k) == st_one.get(k), f"stats {k}: cluster {st_cl.get(k)}, one node {st_one.get(k)}")
    check(st_cl.get("reach") == 44 and st_cl.get("signups") == 9, f"stats figures {st_cl.get('reach')}")
    conn.close()
    check(agg.stop() == 0 and agg1.stop() == 0, "the aggregators exit 0")
    check(col.stop() == 0, "the collector exits 0")
    print(f"campaign on a cluster: sent {sent}, stored {len(ents)}, counted {counted}; {nkeys} model keys "
          f"checked; {len(d_cl)} keys identical to one node's; {len(ak)} alerts; {elapsed(t0)}", flush=True)
done("test_cluster_campaign")
