"""Slots moving under a steady load on a Redis Cluster of 3 masters + 3
replicas (16 partitions, 6/5/5), the real collector (2 threads) and
aggregator running through it, exact at the end:

1. by hand (cluster.py's migration()): a busy partition's stream already
   on the target, its slot held half-moved until the collector's XADD and
   the aggregator's reads have both been answered ASK; then half the keys
   of a busy campaign moved and held 1.5 s (its apply script, several keys
   of one slot, answered TRYAGAIN: the aggregator holds that campaign and
   counts the others meanwhile), then both moves finished (MOVED);
2. `redis-cli --cluster reshard` of the lowest slots of the master holding
   6 partitions, so that two partition streams and four busy campaigns go
   with them.

Sent N, stored N (each nonce and each hid once), counted N (every counter
key equal to harness.expected_counters); the redirects each daemon met
are read from /metrics (ag_redis_cluster_redirects_total,
ag_agg_cluster_redirects_total) and printed; ASK and MOVED must show on
each."""
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from cluster import Cluster, keyslot
from cluster_e2e import (PARTS, CampaignLoad, balance, entries, redirects, stored_check, totals,
                         wait_drained, elapsed)

RATE = 300
t0 = time.monotonic()


def camp_slot(c):
    return keyslot(f"ag:c:{{{c}}}")


def part_slot(p):
    return keyslot(f"ag:hits:{{{p}}}")


with Cluster() as cl:
    by_master = balance(cl)
    src = max(by_master, key=lambda m: len(by_master[m]))     # the master with 6 partitions
    o1, o2 = [m for m in cl.masters() if m != src]
    # redis-cli reshard takes the source's lowest slots: as many as reach
    # past its second-lowest partition slot (plus a margin)
    src_slots = cl.slots_of(src)
    pslots = sorted(part_slot(p) for p in by_master[src])
    K = src_slots.index(pslots[1]) + 1 + 20
    moving = set(src_slots[:K])
    moving_parts = [p for p in range(PARTS) if part_slot(p) in moving]
    # four busy campaigns in those slots, one on o1 half-moved by hand, 19 others
    busy, n = [], 0
    while len(busy) < 4:
        if camp_slot(f"rs{n}") in moving:
            busy.append(f"rs{n}")
        n += 1
    half = next(f"hm{i}" for i in range(100000) if cl.slot_owner(camp_slot(f"hm{i}")) == o1)
    P = by_master[o1][0]                         # a partition of o1, moved by hand to o2
    names = busy + [half] + [f"rg{i}" for i in range(19)]
    print(f"cluster up in {cl.startup_s:.1f} s; partitions {by_master}; reshard {K} slots of :{src} "
          f"-> :{o1} (partitions {moving_parts}, campaigns {busy}); by hand: partition {P} "
          f"(slot {part_slot(P)}) and campaign {half} (slot {camp_slot(half)}) :{o1} -> :{o2}", flush=True)

    r = cl.router()
    col = Collector(cl, threads=2)
    agg = Aggregator(cl, name="agg-reshard")
    load = CampaignLoad(col.port, names, RATE, "x")
    time.sleep(2.0)

    # ---- 1. by hand: the partition's stream and half a campaign's keys on o2, slots still o1's
    # the partition first, held until each daemon has met ASK on it (both
    # touch it several times a second): the campaign's TRYAGAIN below holds
    # the aggregator's round in its back-off, reads of P included
    mp = cl.migration(part_slot(P), o2).begin()
    keys_p = mp.migrate()
    th = time.monotonic()
    try:
        wait_for(lambda: redirects(col, "ag_redis_cluster_redirects_total").get("ask", 0) > 0 and
                 redirects(agg, "ag_agg_cluster_redirects_total").get("ask", 0) > 0,
                 timeout=10.0, what="ASK met by both daemons", interval=0.05)
        ask_s = time.monotonic() - th
    except AssertionError as e:
        ask_s = None
        print(e, flush=True)
    check(ask_s is not None, f"with partition {P}'s stream on the target, both daemons met ASK "
          f"({'%.2f s' % ask_s if ask_s is not None else 'not in 10 s'})")
    mc = cl.migration(camp_slot(half), o2).begin()
    nkeys_c = mc.remaining()
    keys_c = mc.migrate(count=max(1, nkeys_c // 2))
    # the half-moved campaign is held (its script answered TRYAGAIN), the
    # others keep counting meanwhile
    others = [c for c in names if c != half]
    before, sent0 = totals(r, others, "open") + totals(r, others, "signup"), load.sent
    time.sleep(1.5)
    during = totals(r, others, "open") + totals(r, others, "signup") - before
    to_others = (load.sent - sent0) * len(others) // len(names)     # the load walks the names in turn
    # (waiting in TRYAGAIN's back-off instead, the aggregator counted 73 of 431)
    check(during >= 0.4 * to_others, f"while {half}'s keys were half-moved 1.5 s, the other {len(others)} "
          f"campaigns were counted on: {during} hits, of {to_others} sent to them meanwhile")
    check("slot is moving between cluster nodes; campaign held" in agg.logs(),
          "the aggregator held the half-moved campaign (its log says so)")
    keys_p += mp.finish()
    keys_c += mc.finish()
    hand = {"collector": redirects(col, "ag_redis_cluster_redirects_total"),
            "aggregator": redirects(agg, "ag_agg_cluster_redirects_total")}
    print(f"by hand: partition {P}: {keys_p} key moved; campaign {half}: {keys_c} of {nkeys_c} keys, "
          f"half of them held 1.5 s, the other campaigns counted {during} of the {to_others} hits sent to them meanwhile; ASK met by both daemons {ask_s if ask_s is None else round(ask_s, 2)} s "
          f"after the partition's stream moved; redirects so far {hand}", flush=True)
    time.sleep(1.0)

    # ---- 2. redis-cli --cluster reshard under the same load
    tr = time.monotonic()
    moved = cl.reshard(src, o1, K)
    reshard_s = time.monotonic() - tr
    check(set(moved) == moving, f"redis-cli moved the {K} slots expected ({len(moved)})")
    check(all(cl.slot_owner(part_slot(p)) == o1 for p in moving_parts) and
          all(cl.slot_owner(camp_slot(c)) == o1 for c in busy),
          "the partitions' and the busy campaigns' slots are o1's now")
    time.sleep(2.0)
    load.stop()
    check(not load.errors and load.answered == load.sent,
          f"every hit answered 200 through the moves ({load.answered} of {load.sent}; {load.errors[:3]})")
    sent = load.sent

    wait_drained(col)
    wait_applied(r, partitions=PARTS, timeout=90)
    ents, st = stored_check(r, set(load.nonces), "x", "reshard")
    check(st["found"] == sent and st["lost"] == 0, f"sent {sent}, stored {st['found']} (lost {st['lost']})")
    model = expected_counters(ents)
    nkeys = check_against_model(r, model)
    counted = totals(r, names, "open") + totals(r, names, "signup")
    check(counted == sent, f"sent {sent}, counted {counted}")
    red = {"collector": redirects(col, "ag_redis_cluster_redirects_total"),
           "aggregator": redirects(agg, "ag_agg_cluster_redirects_total")}
    for who, d in red.items():
        check(d.get("ask", 0) > 0, f"the {who} met ASK ({d})")
        check(d.get("moved", 0) > 0, f"the {who} met MOVED ({d})")
    tryagain = red["aggregator"].get("tryagain", 0) + red["collector"].get("tryagain", 0)
    print(f"reshard: {K} slots in {reshard_s:.1f} s; sent {sent}, stored {st['found']}, counted {counted}, "
          f"duplicates {st['dups']}; {nkeys} keys against the model; redirects: collector {red['collector']}, "
          f"aggregator {red['aggregator']} (TRYAGAIN {tryagain}); spooled "
          f"{int(col.metric('ag_hits_spooled_total'))}, reconciled {int(col.metric('ag_hits_reconciled_total'))}; "
          f"{elapsed(t0)}", flush=True)
    check(col.metric("ag_hits_dropped_total") == 0, "no hit dropped")
    check(col.stop() == 0 and agg.stop() == 0, "the collector and the aggregator exit 0")
done("test_cluster_reshard")
