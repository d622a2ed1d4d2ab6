"""A whole shard of a Redis Cluster (3 masters + 3 replicas, 16 partitions
6/5/5, cluster-require-full-coverage no, cluster-replica-no-failover yes
so that the roles stay) SIGSTOPped -- master and replica -- for 30 s under
load, the real collector (2 threads) and aggregator running through it:

- the collector answers every hit 200 and refuses none; what it cannot
  store goes to its spool and is replayed exactly once after (sent N,
  stored N, counted N, every counter key equal to expected_counters);
- the aggregator isolates the paused node: a backlog stored before the
  pause (written while the aggregator was SIGSTOPped) is counted during
  the pause, exactly, for every campaign whose keys and partition stream
  are both on the healthy shards;
- the collector keeps writing to the healthy masters (it spools only the
  paused shard's hits), so hits arriving during the outage are counted on
  the healthy shards during it too: all but the last 2 s of them (300
  hits at 150/s) by the time they are read.

The figures (counted on healthy shards during the pause, spooled,
replayed, reconciled) are printed."""
import os, signal, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from cluster import Cluster, keyslot
from cluster_e2e import (PARTS, CampaignLoad, balance, entries, partition_of, stored_check, totals,
                         wait_drained, elapsed)

# 30 s as the issue asks; AG_TEST_SHORT=1 (deploy/test.sh's sanitizer pass,
# which looks for memory errors, not for how long an outage may last): 12 s
PAUSE = 12 if os.environ.get("AG_TEST_SHORT") == "1" else 30
t0 = time.monotonic()


def placed(cl, c):
    return cl.slot_owner(keyslot(f"ag:c:{{{c}}}")), cl.slot_owner(keyslot(f"ag:hits:{{{partition_of(c)}}}"))


def counted(r, camps):
    return totals(r, camps, "open") + totals(r, camps, "signup")


with Cluster(full_coverage=False) as cl:
    cl.config_set("cluster-replica-no-failover", "yes")
    by_master = balance(cl)
    victim = sorted(by_master, key=lambda m: len(by_master[m]))[0]    # a master with 5 partitions
    r = cl.router()
    A = [f"sa{i}" for i in range(24)]          # the backlog before the pause
    B = [f"sb{i}" for i in range(24)]          # the hits during it
    healthy_A = [c for c in A if victim not in placed(cl, c)]
    healthy_B = [c for c in B if victim not in placed(cl, c)]
    print(f"cluster up in {cl.startup_s:.1f} s; partitions {by_master}; pausing :{victim} and its replica "
          f"{cl.replicas_of(victim)}; healthy (keys and stream off it): {len(healthy_A)} of {len(A)} backlog "
          f"campaigns, {len(healthy_B)} of {len(B)} live ones", flush=True)

    col = Collector(cl, threads=2)
    agg = Aggregator(cl, name="agg-outage")
    wait_for(lambda: agg.metric("ag_agg_partition_owned") == PARTS, timeout=20, what="all partitions owned")

    # ---- the backlog: stored while the aggregator is stopped
    os.kill(agg.proc.pid, signal.SIGSTOP)
    la = CampaignLoad(col.port, A, 400, "a")
    time.sleep(3.0)
    la.stop()
    wait_drained(col)
    sent_a = la.sent
    stored_a = {f["nonce"]: f["campaign"] for _, f in entries(r) if f.get("nonce", "").startswith("a")}
    check(len(stored_a) == sent_a, f"backlog: sent {sent_a}, stored {len(stored_a)}")
    want_a = sum(1 for c in stored_a.values() if c in healthy_A)
    check(counted(r, A) == 0, "nothing of the backlog counted before the pause")

    # ---- the pause: a whole shard away for 30 s, hits flowing at 150/s
    lb = CampaignLoad(col.port, B, 150, "b")
    time.sleep(1.0)
    spooled0 = col.metric("ag_hits_spooled_total")
    p = cl.pause_shard(victim, PAUSE)
    tp = time.monotonic()
    sent_b_before = lb.sent
    os.kill(agg.proc.pid, signal.SIGCONT)
    series = []
    while time.monotonic() - tp < PAUSE - 2:
        time.sleep(1.0)
        series.append((round(time.monotonic() - tp, 1), counted(r, healthy_A), counted(r, healthy_B)))
    sent_b_now = lb.sent
    a_during = counted(r, healthy_A)
    b_during = counted(r, healthy_B)
    health = col.health()
    b_sent_during = sent_b_now - sent_b_before
    p.wait()
    tr = time.monotonic()
    cl.wait_ok()
    time.sleep(2.0)
    lb.stop()
    sent_b = lb.sent
    check(not la.errors and not lb.errors and lb.answered == sent_b,
          f"every hit answered 200, none refused ({lb.answered} of {sent_b}; {lb.errors[:3]})")
    check(a_during == want_a,
          f"the backlog on healthy shards counted during the pause: {a_during} of {want_a}")
    # the healthy shards keep taking and counting new hits during the outage
    b_healthy_sent = sum(1 for i in range(sent_b_before, sent_b_before + b_sent_during)
                         if B[i % len(B)] in healthy_B)
    b_healthy_all = sum(1 for i in range(sent_b_now) if B[i % len(B)] in healthy_B)
    check(b_healthy_all - 300 <= b_during <= b_healthy_all,
          f"hits for the healthy shards counted during the outage: {b_during} of the {b_healthy_all} "
          f"sent to them by then ({b_healthy_sent} of those during the pause; at most the last 2 s not yet)")
    check(health["spooled"] > 0, f"the collector spools during the pause ({health})")

    # ---- after: replayed exactly once, everything counted
    wait_drained(col)
    drain_s = time.monotonic() - tr
    wait_applied(r, partitions=PARTS, timeout=90)
    sent_nonces = {f"a{i}" for i in range(sent_a)} | {f"b{i}" for i in range(sent_b)}
    ents, st = stored_check(r, sent_nonces, "", "outage")
    total_sent = sent_a + sent_b
    check(st["found"] == total_sent and st["lost"] == 0, f"sent {total_sent}, stored {st['found']}")
    nkeys = check_against_model(r, expected_counters(ents))
    total_counted = counted(r, A + B)
    check(total_counted == total_sent, f"sent {total_sent}, counted {total_counted}")
    spooled = col.metric("ag_hits_spooled_total") - spooled0
    replayed = col.metric("ag_hits_replayed_total")
    reconciled = col.metric("ag_hits_reconciled_total")
    check(col.metric("ag_hits_dropped_total") == 0, "no hit dropped")
    print(f"outage of :{victim} for {PAUSE} s: backlog {sent_a} hits, {want_a} on healthy shards, counted during "
          f"the pause {a_during}; live {b_sent_during} sent during the pause, "
          f"{b_healthy_sent} of them to healthy shards, {b_during} of those counted during it; spooled {int(spooled)}, replayed "
          f"{int(replayed)}, reconciled {int(reconciled)}, drained {drain_s:.1f} s after the resume; sent "
          f"{total_sent}, stored {st['found']}, counted {total_counted}, duplicates {st['dups']}; "
          f"{nkeys} keys against the model; {elapsed(t0)}", flush=True)
    print("during the pause (s, backlog counted on healthy shards, live counted on healthy shards): "
          + " ".join(f"{t}:{a}/{b}" for t, a, b in series[::3]), flush=True)
    for who, d in (("aggregator", agg), ("collector", col)):
        lines = [l for l in d.logs().splitlines() if "level=info" not in l and "level=debug" not in l]
        print(f"{who} log ({len(lines)} warnings and errors):\n  " + "\n  ".join(lines[:8]), flush=True)
    check(col.stop() == 0 and agg.stop() == 0, "the collector and the aggregator exit 0")
done("test_cluster_shard_outage")
