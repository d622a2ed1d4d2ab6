"""The page snippet in a real browser: headless Chromium (Debian's chromium,
chromium-driver, python3-selenium) loads pages from another origin that tag
themselves with the real collector's /ag.js, against the real aggregator
and redis-server on loopback. Each scenario states its exact counts and
compares them with the stream and with `actiongap stats --json`.
Screenshots go to $AG_BROWSER_SHOTS (default: a temp dir, printed)."""
import base64, hashlib, json, os, subprocess, sys, tempfile, time
import urllib.parse
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import *  # noqa: F401,F403

from chromium import browser, serve

SHOTS = os.environ.get("AG_BROWSER_SHOTS") or tempfile.mkdtemp(prefix="ag-shots-")
os.makedirs(SHOTS, exist_ok=True)

rs = RedisServer()
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs)
TAG = f"http://127.0.0.1:{col.port}/ag.js"
JS = http_get(col.port, "/ag.js")[2]
SRI = "sha384-" + base64.b64encode(hashlib.sha384(JS).digest()).decode()


def page(title, campaign, body, extra_head="", sri=False):
    attr = f' data-campaign="{campaign}"' if campaign is not None else ""
    integrity = f' integrity="{SRI}" crossorigin="anonymous"' if sri else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{extra_head}"
            f"<style>body{{font:16px sans-serif;margin:2em}} .tall{{height:4000px;"
            f"background:linear-gradient(#fff,#cde)}}</style></head><body><h1>{title}</h1>"
            f"{body}<script src=\"{TAG}\"{attr}{integrity}></script></body></html>").encode()


PAGES = {
    "/long": page("A long appeal", "spring", "<p>Read on.</p><div class=tall></div><p>The end.</p>"),
    "/short": page("A short note", "spring", "<p>Thank you.</p>"),
    "/landing": page("Sign the petition", "spring",
                     "<p>Landing page of a tracked link.</p><div class=tall></div>"),
    "/next": page("Next page", "spring", "<p>Moved on.</p>"),
    "/bad": page("Misconfigured", "Spring Appeal 2025", "<p>The tag has a bad campaign.</p>"),
    "/sri": page("Subresource Integrity", "spring", "<p>Loaded with integrity.</p>", sri=True),
    "/untagged": page("UTM only", None, "<p>No data-campaign; utm_campaign names it.</p>"),
}


SITE = serve(PAGES, free_port())


def hits(n, timeout=10):
    """Waits until the stream holds n entries; returns their field dicts."""
    wait_for(lambda: r("XLEN", "ag:hits:{0}") >= n, timeout=timeout, what=f"{n} hits")
    time.sleep(0.3)
    return [f for _, f in r.xrange_all("ag:hits:{0}")]


def stats(c):
    out = subprocess.run([CLI, "--redis", rs.url(), "stats", c, "--json"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def shot(d, name):
    path = os.path.join(SHOTS, name + ".png")
    d.save_screenshot(path)
    return path


def warnings(d):
    return [e["message"] for e in d.get_log("browser") if "actiongap:" in e["message"]]


d = browser()
n = 0
# 1. a view with its path; a long page scrolled to the end: one reader 1/1/1/1
d.get(SITE + "/long")
n += 1
e = hits(n)
check(e[-1].get("event") == "view" and e[-1].get("page") == "/long" and e[-1].get("campaign") == "spring",
      f"view of /long: {e[-1]}")
d.execute_script("window.scrollTo(0, document.body.scrollHeight / 2)")
time.sleep(0.3)
d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
time.sleep(0.5)
e = hits(n + 1)
scrolls = [f for f in e[n:] if f.get("event") == "scroll"]
check([f.get("depth") for f in scrolls][-1:] == ["100"] and len(scrolls) in (1, 2),
      f"scroll hits of one reader: {[f.get('depth') for f in scrolls]}")
n = len(e)
shot(d, "1-long")
# 2. a short page reaches 100 % at load
d.get(SITE + "/short")
e = hits(n + 2)
new = e[n:]
check([f.get("event") for f in new] == ["view", "scroll"] and new[1].get("depth") == "100",
      f"short page: view then depth 100 at load: {[(f.get('event'), f.get('depth')) for f in new]}")
n = len(e)
# 3. a signup and at once away: the beacon still lands; a donation
d.get(SITE + "/short")
n += 2                                              # its view and its depth 100
hits(n)
d.execute_script("ag('signup', {s: 'vol-1'}); window.location.href = arguments[0];", SITE + "/next")
n += 2                                              # the signup, then /next's view (+ depth)
e = hits(n)
check(any(f.get("event") == "signup" and f.get("subject") == "vol-1" for f in e[n - 2:]),
      "a signup followed at once by navigation away still arrives")
d.execute_script("ag('donate', {v: 2500, s: 'vol-1'})")
time.sleep(0.5)
e = hits(len(r.xrange_all("ag:hits:{0}")))
check(any(f.get("event") == "donate" and f.get("value") == "2500" for f in e), "donation of 2500 cents")
n = len(e)
# 4. a signed tracked link with ref=ann -> landing page -> signup credited to ann
link = subprocess.run([CLI, "--signing-key", SIGNING_KEY, "--base-url", f"http://127.0.0.1:{col.port}",
                       "link", "spring", "--to", SITE + "/landing?utm_source=Newsletter", "--ref", "ann"],
                      capture_output=True, text=True, timeout=30).stdout.strip()
d.get(link)
time.sleep(0.5)
check(d.current_url.startswith(SITE + "/landing") and "ag_attr" not in d.current_url,
      f"the token is taken out of the address bar: {d.current_url}")
d.execute_script("ag('signup', {s: 'vol-2'})")
time.sleep(0.5)
e = hits(n + 3)                                      # the click, the landing view, the signup
sign = [f for f in e if f.get("event") == "signup" and f.get("subject") == "vol-2"]
check(len(sign) == 1 and sign[0].get("ref") == "ann" and sign[0].get("channel") == "newsletter",
      f"the landing signup is credited to ann (channel from utm_source): {sign}")
shot(d, "4-landing")
# the token survives a navigation inside the visit
d.get(SITE + "/next")
d.execute_script("ag('signup', {s: 'vol-3'})")
time.sleep(0.5)
e = hits(len(e) + 2)
later = [f for f in e if f.get("subject") == "vol-3"]
check(later and later[0].get("ref") == "ann", f"later hits of the visit carry the advocate: {later}")
n = len(e)
# 5. a hand-edited token credits nobody
tok = urllib.parse.parse_qs(urllib.parse.urlsplit(
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{redirect_url}", link],
                   capture_output=True, text=True).stdout).query)["ag_attr"][0]
forged = base64.urlsafe_b64encode(b"c=spring&ref=mallory").rstrip(b"=").decode() + tok[tok.index("."):]
d.execute_script("sessionStorage.clear()")
d.get(SITE + "/landing?ag_attr=" + forged)
d.execute_script("ag('signup', {s: 'vol-4'})")
time.sleep(0.5)
e = hits(n + 3)                                      # the curl click, the view, the signup
sg = [f for f in e if f.get("subject") == "vol-4"]
check(len(sg) == 1 and "ref" not in sg[0], f"a forged token credits nobody: {sg}")
n = len(e)
# 6. console warnings: a bad campaign id sends nothing; bad helper arguments
d.get(SITE + "/bad")
time.sleep(0.3)
w = warnings(d)
check(any("bad data-campaign" in m for m in w), f"bad data-campaign warns: {w}")
d.get(SITE + "/short")
d.execute_script("ag('signup'); ag('donate', {v: '25.50'});")
time.sleep(0.3)
w = warnings(d)
check(any("signup needs {s: id}" in m for m in w) and any("whole cents" in m for m in w),
      f"helper warnings: {w}")
shot(d, "6-warnings")
e = hits(n + 2)                                      # /short's view and depth; nothing from /bad
check(not any(f.get("campaign", "").startswith("Spring") for f in e) and len(e) == n + 2,
      f"nothing sent for the bad tag or the bad calls: {len(e)} hits, want {n + 2}")
n = len(e)
# 7. Subresource Integrity: the script loads and counts
d.get(SITE + "/sri")
e = hits(n + 2)
check(any(f.get("page") == "/sri" for f in e[n:]), "the snippet loads under Subresource Integrity")
n = len(e)
# 8. utm_campaign names the campaign where the tag names none
d.get(SITE + "/untagged?utm_campaign=autumn&utm_medium=email")
e = hits(n + 2)
check(e[n].get("campaign") == "autumn" and e[n].get("channel") == "email", f"utm: {e[n]}")
n = len(e)
d.quit()
# 9. Do Not Track: counted, anonymous
d = browser(dnt=True)
d.get(SITE + "/short")
e = hits(n + 2)
check(all("ip" not in f and "ua" not in f and "subject" not in f for f in e[n:]),
      f"DNT hits carry no ip, ua or subject: {e[n:]}")
n = len(e)
shot(d, "9-dnt")
d.quit()
# 10. Global Privacy Control
# GPC: Chromium has no switch for it, so the page's requests carry the
# header through the DevTools protocol; on a phone-sized window, where the
# snippet must add nothing to the page and cause no sideways scroll
d = browser()
d.set_window_size(390, 844)
d.execute_cdp_cmd("Network.enable", {})
d.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Sec-GPC": "1"}})
d.get(SITE + "/short")
e = hits(n + 2)
check(all("ip" not in f and "ua" not in f and "subject" not in f for f in e[n:]),
      f"GPC hits carry no ip, ua or subject: {e[n:]}")
added = d.execute_script("return document.querySelectorAll('img, iframe, div').length")
wide = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
check(added == 0 and wide <= 0, f"phone: the snippet adds no element ({added}) and no sideways scroll ({wide} px)")
shot(d, "10-phone-gpc")
n = len(e)
d.quit()

# the figures: every rate inside [0, 1], the stream and the command agree
wait_applied(r)
st = stats("spring")
stream = r.xrange_all("ag:hits:{0}")
signups = sum(1 for _, f in stream if f.get("campaign") == "spring" and f.get("event") == "signup")
check(st["signups"] == signups, f"signups: stream {signups}, stats {st['signups']}")
check(all(0 <= st[k] <= 1 for k in ("click_rate", "conversion_rate", "action_gap")),
      f"rates inside [0, 1]: {st['click_rate']} {st['conversion_rate']} {st['action_gap']}")
check([a["ref"] for a in st["top_advocates"]] == ["ann"] and st["top_advocates"][0]["actions"] == 2,
      f"ann credited with the two signups of her visit: {st['top_advocates']}")
check(st["anonymous"] == 4 and st["clamped"] == [],
      f"anonymous {st['anonymous']} (the DNT and the GPC view and depth)")
check(st["viewers"] == 1 and st["scroll"] == {"25": 1, "50": 1, "75": 1, "100": 1},
      f"one browser, one viewer, 1/1/1/1: {st['viewers']} {st['scroll']}")
check({p["path"] for p in st["top_pages"]} >= {"/long", "/short", "/landing"}, f"top pages {st['top_pages']}")
print(f"browser: {len(stream)} hits, signups {signups}, ann {st['top_advocates'][0]['actions']}, "
      f"reach {st['reach']}, actors {st['actors']}, conversion {st['conversion_rate']:.3f}, "
      f"screenshots in {SHOTS}")
done("test_snippet")
