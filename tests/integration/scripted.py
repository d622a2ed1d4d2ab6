"""scripted.py: the scripted campaign of test_agg_campaign, shared with the
tests that must count it the same way elsewhere (test_cluster_slots)."""
import time

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def spring_campaign(c, pixel, conn, api):
    """Sends campaign c's hits: pixel(query, ua=HUMAN) sends a pixel, conn is
    a harness Conn to the collector (for /r), api(obj) posts to /api/hits.
    Returns the number of hits the collector accepts."""
    for i in range(40):                                   # 40 distinct openers
        ref = "&ref=ann" if i < 20 else ("&ref=bob" if i < 30 else "")
        pixel(f"c={c}&e=open&s=s{i}{ref}")
    for i in range(10):                                   # 10 repeat opens
        pixel(f"c={c}&e=open&s=s{i}")
    for i in range(15):                                   # machine opens
        pixel(f"c={c}&e=open&s=m{i}", ua=GMAIL)
    for i in range(12):                                   # human clicks through /r
        ref = "&ref=ann" if i < 6 else ""
        st, _, _ = conn.request("GET", f"/r?c={c}&s=s{i}{ref}&to=https%3A%2F%2Fallowed.example%2F",
                                headers={"User-Agent": HUMAN})
        assert st == 302
    for i in range(3):                                    # bot clicks
        conn.request("GET", f"/r?c={c}&to=https%3A%2F%2Fallowed.example%2F",
                     headers={"User-Agent": "curl/8.4.0"})
    for i in range(5):                                    # anonymous views (same ip+ua)
        pixel(f"c={c}&e=view")
    for d in (10, 30, 60, 80, 100):
        pixel(f"c={c}&e=scroll&d={d}&s=s0")
    for i in range(8):                                    # signups
        ref = "&ref=ann" if i < 4 else ("&ref=bob" if i < 6 else "")
        pixel(f"c={c}&e=signup&s=s{i}{ref}")
    pixel(f"c={c}&e=signup&s=s0")                         # a second signup keeps the first time
    for v in (1000, 2500, 500):
        pixel(f"c={c}&e=donate&v={v}&s=d{v}&ref=bob")
    pixel(f"c={c}&e=petition&s=s30&ref=ann")
    pixel(f"c={c}&e=petition&s=s31&ref=ann")
    pixel(f"c={c}&e=open&s=s0&n=dup-1")                  # a retry: same nonce twice
    pixel(f"c={c}&e=open&s=s0&n=dup-1")
    time.sleep(0.3)
    api({"c": c, "e": "followup", "s": "s0"})
    api({"c": c, "e": "followup", "s": "s1"})
    api({"c": c, "e": "followup", "s": "nobody"})
    return 40 + 10 + 15 + 12 + 3 + 5 + 5 + 8 + 1 + 3 + 2 + 2 + 3
