"""A master SIGKILLed under load on a Redis Cluster of 3 masters + 3
replicas (16 partitions, 6/5/5), its replica promoted, the real collector
(2 threads) and aggregator running through it:

1. replicas_ack = 1 on both (WAIT 1 before the collector forgets a hit and
   before the aggregator acknowledges what it applied): sent N, stored N
   (each nonce and each hid once across all the streams), counted N (every
   counter key equal to harness.expected_counters, and `actiongap stats` of
   each campaign summing to N), and every signup left pending past the 2 s
   SLA -- raised around the failover -- alerted exactly once in ag:alerts.
   The victim is the master holding ag:alerts (and 5 or 6 partitions).
   The killed node is restarted at once (it comes back as a replica of its
   successor, which otherwise would have no replica to WAIT for).
2. Then the same
   with replicas_ack = 0 and another master killed: the acknowledged hits
   lost with the node are measured and printed, never asserted zero; what
   is asserted is that nothing is stored or counted twice (stored <= sent,
   counted <= stored).

The collector's WAIT (replicas_ack in collector/sink*.c) is what makes
phase 1 exact for the hits; the aggregator's WAIT before XACK for the
counters."""
import collections, json, os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from cluster import Cluster, keyslot
from cluster_e2e import (PARTS, alerts, balance, cli, entries, pixel_loads, stored_check, totals,
                         wait_drained, wait_loads, elapsed)

RATE, N, S, CAMPS = 300, 1800, 60, 24      # 6 s of opens, 60 signups over the same 6 s
SLA = 2
t0 = time.monotonic()
figures = {}


def phase(cl, ack, tag, victim):
    """One run: load, `victim` SIGKILLed 2 s in, everything drained and
    applied. Returns the figures."""
    r = cl.router()
    col = Collector(cl, threads=2, extra=("--replicas-ack", str(ack)))
    agg = Aggregator(cl, extra=["--replicas-ack", str(ack), "--followup-sla-s", str(SLA)], name=f"agg-{tag}")
    camps = [f"{tag}c{i}" for i in range(CAMPS)]
    on_victim = sum(1 for c in camps if cl.slot_owner(keyslot(f"ag:c:{{{c}}}")) == victim)
    loads = pixel_loads(col.port, N, tag, RATE, f"{tag}c", CAMPS, signups=S)
    wait_for(lambda: loads[0].sent >= 2 * RATE, timeout=30, what="2 s of load")
    tk = time.monotonic()
    new = cl.kill_master(victim)
    failover_s = time.monotonic() - tk
    # back as a replica of its successor, so that the promoted master has a
    # replica to WAIT for again (with replicas_ack = 1 and none, nothing
    # would be acknowledged on it: the hits stay spooled, the entries pending)
    role = cl.restart_node(victim)
    check(role == "replica", f"ack={ack}: the killed master came back as a replica ({role})")
    sent, errors = wait_loads(loads)
    check(sent == N + S and not errors, f"ack={ack}: every hit answered 200 through the failover "
          f"({sent} sent, errors {errors[:3]})")
    sent_nonces = {f"{tag}{i}" for i in range(N)} | {f"{tag}g{i}" for i in range(S)}
    wait_drained(col)
    wait_applied(r, partitions=PARTS, timeout=90)
    ents, st = stored_check(r, sent_nonces, tag, f"ack={ack}")
    mine = [(e, f) for e, f in ents if f["campaign"] in camps]
    model = expected_counters(mine)
    opens, signups = totals(r, camps, "open"), totals(r, camps, "signup")
    counted = opens + signups
    dropped = col.metric("ag_hits_dropped_total")
    check(dropped == 0, f"ack={ack}: the collector dropped nothing ({dropped})")
    out = {"ack": ack, "victim": victim, "promoted": new, "failover_s": failover_s, "sent": sent,
           "stored": st["found"], "dups": st["dups"], "lost": st["lost"], "counted": counted,
           "campaigns_on_victim": on_victim, "model": model, "camps": camps, "r": r,
           "spooled": int(col.metric("ag_hits_spooled_total")),
           "reconciled": int(col.metric("ag_hits_reconciled_total")),
           "rollbacks": int(col.metric("ag_redis_rollbacks_total"))}
    check(counted <= st["found"] <= sent, f"ack={ack}: counted {counted} <= stored {st['found']} <= sent {sent}")
    out["stats"] = 0
    for c in camps:
        o = cli(cl, "stats", c, "--json")
        if o.returncode == 0:
            cs = json.loads(o.stdout)["counters"]
            out["stats"] += int(cs.get("open", 0)) + int(cs.get("signup", 0))
    # alerts: every signup pending past the SLA alerted once
    pending = {(c, s.decode()) for c in camps for s in r("ZRANGE", f"ag:c:{{{c}}}:pending", 0, -1)}
    out["pending"] = pending

    def alerted():
        return [(c, s) for k, c, s in alerts(r, "followup_overdue") if c in camps]
    try:
        wait_for(lambda: set(alerted()) >= pending, timeout=SLA + 20, interval=0.2,
                 what=f"ack={ack}: every pending signup alerted")
    except AssertionError as e:
        print(e, flush=True)
    time.sleep(1.0)          # a second move of one would land by now
    al = alerted()
    out["alerts"] = len(al)
    out["alert_dups"] = len(al) - len(set(al))
    out["alerts_missing"] = len(pending - set(al))
    out["alerts_extra"] = len(set(al) - pending)
    out["outboxes"] = sum(r("XLEN", f"ag:c:{{{c}}}:outbox") for c in camps)
    check(col.stop() == 0 and agg.stop() == 0, f"ack={ack}: the collector and the aggregator exit 0")
    return out


with Cluster() as cl:
    balance(cl)
    parts = {m: sorted(p for p in range(PARTS) if cl.slot_owner(keyslot(f"ag:hits:{{{p}}}")) == m)
             for m in cl.masters()}
    print(f"cluster up in {cl.startup_s:.1f} s; partitions by master {parts}", flush=True)

    # ---- phase 1: replicas_ack = 1, the master of ag:alerts killed
    victim = cl.slot_owner(keyslot("ag:alerts"))
    f1 = phase(cl, 1, "a", victim)
    print(f"ack=1: killed :{victim} ({len(parts[victim])} partitions, {f1['campaigns_on_victim']} of {CAMPS} "
          f"campaigns, ag:alerts), :{f1['promoted']} promoted in {f1['failover_s']:.1f} s; sent {f1['sent']}, "
          f"stored {f1['stored']}, counted {f1['counted']} (stats {f1['stats']}), duplicates {f1['dups']}, "
          f"lost {f1['lost']}; spooled {f1['spooled']}, reconciled {f1['reconciled']}, rollbacks "
          f"{f1['rollbacks']}; alerts {f1['alerts']} for {len(f1['pending'])} pending signups "
          f"(twice {f1['alert_dups']}, missing {f1['alerts_missing']}); {elapsed(t0)}", flush=True)
    check(f1["stored"] == f1["sent"] and f1["lost"] == 0, f"ack=1: sent {f1['sent']}, stored {f1['stored']}")
    check(f1["counted"] == f1["sent"] and f1["stats"] == f1["sent"],
          f"ack=1: sent {f1['sent']}, counted {f1['counted']}, actiongap stats {f1['stats']}")
    nkeys = check_against_model(f1["r"], f1["model"])
    check(len(f1["pending"]) == S, f"ack=1: all {S} signups pending ({len(f1['pending'])})")
    check(f1["alerts"] == S and f1["alert_dups"] == 0 and f1["alerts_missing"] == 0 and f1["alerts_extra"] == 0,
          f"ack=1: each of the {S} pending signups alerted exactly once ({f1['alerts']} alerts, "
          f"{f1['alert_dups']} twice, {f1['alerts_missing']} missing, {f1['alerts_extra']} extra)")
    check(f1["outboxes"] == 0, f"ack=1: every outbox emptied ({f1['outboxes']} left)")

    # ---- phase 2: the node back as a replica, replicas_ack = 0, another master killed
    victim2 = max((m for m in cl.masters() if m != f1["promoted"]), key=lambda m: len(cl.slots_of(m)))
    f2 = phase(cl, 0, "b", victim2)
    print(f"ack=0: killed :{victim2}, :{f2['promoted']} promoted in {f2['failover_s']:.1f} s; "
          f"sent {f2['sent']}, stored {f2['stored']}, counted {f2['counted']} (stats {f2['stats']}), "
          f"duplicates {f2['dups']}; ACKNOWLEDGED HITS LOST: {f2['lost']} of {f2['sent']} "
          f"(stored then lost with the master), counts lost {f2['stored'] - f2['counted']}; rollbacks "
          f"{f2['rollbacks']}; alerts {f2['alerts']} for {len(f2['pending'])} pending "
          f"(twice {f2['alert_dups']}, missing {f2['alerts_missing']}); {elapsed(t0)}", flush=True)
    check(f2["dups"] == 0 and f2["stored"] <= f2["sent"] and f2["counted"] <= f2["stored"],
          f"ack=0: nothing twice: sent {f2['sent']} >= stored {f2['stored']} >= counted {f2['counted']}")
    check(f2["stats"] == f2["counted"], f"ack=0: actiongap stats {f2['stats']} = the keys' {f2['counted']}")
    figures = {"ack1": {k: f1[k] for k in ("sent", "stored", "counted", "alerts", "failover_s")},
               "ack0": {k: f2[k] for k in ("sent", "stored", "counted", "lost", "alerts", "alert_dups")}}
print(f"figures: {figures}; model keys checked {nkeys}; {elapsed(t0)}", flush=True)
done("test_cluster_failover")
