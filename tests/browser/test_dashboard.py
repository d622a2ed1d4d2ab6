"""The dashboard in a real browser: headless Chromium (Debian's chromium,
chromium-driver, python3-selenium) against the real collector, aggregator,
dashboard and redis-server on loopback. For a scripted campaign the figures
in the DOM equal `actiongap stats|top|pending --json`; a share link opens
its campaign and not another; strings an attacker controls (a subject, a
page path, a campaign name written straight into Redis) render as text and
run nothing; a new hit shows up within one refresh period; the console has
no error and no CSP report. Screenshots of every page go to
$AG_BROWSER_SHOTS (default: a temp dir, printed)."""
import json, os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import *  # noqa: F401,F403

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

SHOTS = os.environ.get("AG_BROWSER_SHOTS") or tempfile.mkdtemp(prefix="ag-shots-")
os.makedirs(SHOTS, exist_ok=True)
HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
XSS_SUBJECT = "<img src=x onerror=alert(1)>"
XSS_PAGE = '/"><script>alert(2)</script>'
XSS_CAMPAIGN = "<img src=x onerror=alert(3)>"
SLA = "30"

rs = RedisServer()
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs, extra=["--followup-sla-s", SLA])
dash = Dashboard(rs, extra=["--followup-sla-s", SLA])


def cli(*args):
    p = subprocess.run([CLI, "--redis", rs.url(), "--followup-sla-s", SLA,
                        "--dashboard-listen", f"127.0.0.1:{dash.port}", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 0, f"actiongap {' '.join(args)}: exit {p.returncode} {p.stderr.decode()[:200]}")
    return p.stdout.decode()


def cli_json(*args):
    return json.loads(cli(*args, "--json"))


conn = Conn(col.port)


def pixel(q, ua=HUMAN):
    st, _, body = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": ua})
    check(st == 200, f"pixel {q}: {st}")


# ---- a scripted campaign: 40 readers, 10 clicks, 9 signups, 3 donations, 2 follow-ups
for i in range(40):
    ref = "&ref=ann" if i < 16 else ("&ref=bob" if i < 26 else ("&ref=cyd" if i < 30 else ""))
    pixel(f"c=spring&e=open&s=s{i}{ref}")
for i in range(12):
    pixel(f"c=spring&e=open&s=m{i}", ua=GMAIL)
for i in range(10):
    pixel(f"c=spring&e=view&s=s{i}&p=/join&rh=news.example")
for i in range(10):
    conn.request("GET", f"/r?c=spring&s=s{i}&to=https%3A%2F%2Fallowed.example%2F", headers={"User-Agent": HUMAN})
for d, s in ((25, "s1"), (50, "s1"), (100, "s1"), (25, "s2")):
    pixel(f"c=spring&e=scroll&d={d}&s={s}")
for i in range(8):
    ref = "&ref=ann" if i < 5 else ("&ref=bob" if i < 7 else "")
    pixel(f"c=spring&e=signup&s=s{i}{ref}")
pixel("c=spring&e=view&s=s0")
for v in (2500, 1000, 500):
    pixel(f"c=spring&e=donate&v={v}&s=d{v}&ref=bob")
pixel("c=spring&e=view&s=s3&p=" + XSS_PAGE.replace('"', "%22").replace("<", "%3C").replace(">", "%3E"))
pixel("c=other&e=open&s=o1")
pixel("c=other&e=signup&s=o1")
api = lambda obj: http_post(col.port, "/api/hits", json.dumps(obj).encode(),  # noqa: E731
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
st, _, _ = api({"c": "spring", "e": "signup", "s": XSS_SUBJECT})
check(st == 202, f"a signup whose subject is markup is accepted ({st})")
api({"c": "spring", "e": "followup", "s": "s0"})
api({"c": "spring", "e": "followup", "s": "s1"})
sent = 40 + 12 + 10 + 10 + 4 + 8 + 1 + 3 + 1 + 2 + 1 + 2
wait_for(lambda: r("XLEN", "ag:hits:{0}") == sent, what=f"{sent} hits in the stream")
wait_applied(r)
# a campaign name no hit could carry, written into Redis by someone with access to it
r("ZADD", "ag:campaigns", str(int(time.time() * 1000) - 60000), XSS_CAMPAIGN)
# the oldest signup waits past the SLA: overdue
r("ZADD", "ag:c:{spring}:pending", str(int(time.time() * 1000) - 3600000), "s7")


def browser(width=1280, height=1000):
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
              "--disable-dev-shm-usage", "--disable-background-networking"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def shot(d, name):
    path = os.path.join(SHOTS, f"dashboard-{name}.png")
    d.save_screenshot(path)
    print(f"screenshot: {path}", flush=True)


def no_alert(d, where):
    try:
        d.switch_to.alert
        check(False, f"{where}: an alert ran")
    except NoAlertPresentException:
        pass


def console_clean(d, where):
    bad = [e["message"] for e in d.get_log("browser")
           if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    check(not bad, f"{where}: no console error or CSP report: {bad[:3]}")


# The page rebuilds its sections on every refresh (15 s), so an element found
# before one may be gone when it is read. Every read of figures or rows is one
# script run in the page: a snapshot of one render, never a stale element.
def figure(d, name):
    return d.execute_script(
        "const e = document.querySelector('[data-figure=\"' + arguments[0] + '\"]');"
        "return e ? e.getAttribute('data-value') : null;", name)


def rows(d, key, sel=None):
    """Returns, in page order, one dict per element carrying data-<key>
    (tr only unless sel says): key, cells {data-col: data-value}, text,
    overdue, badge (an overdue badge inside), shown, href (its first link)."""
    return d.execute_script("""
      const k = arguments[0], out = [];
      for (const e of document.querySelectorAll(arguments[1])) {
        const cells = {};
        for (const c of e.querySelectorAll('[data-col]')) cells[c.dataset.col] = c.getAttribute('data-value');
        const a = e.querySelector('a');
        out.push({key: e.getAttribute('data-' + k), cells: cells, text: e.innerText,
                  overdue: e.getAttribute('data-overdue'), badge: !!e.querySelector('.badge-overdue'),
                  shown: e.getClientRects().length > 0, href: a ? a.href : null});
      }
      return out;""", key, sel or f"tr[data-{key}]")


def by_key(d, key, sel=None):
    return {r["key"]: r for r in rows(d, key, sel)}


def click(d, css):
    """Clicks the element css names, found afresh if a refresh replaced it."""
    for _ in range(5):
        try:
            d.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.2)
    check(False, f"{css}: replaced by every refresh, never clicked")


def num(v):
    return None if v in (None, "") else float(v)


d = browser()
try:
    # ---- 401 without a token
    d.get(dash.url("/", token=None))
    check("needs a token" in d.page_source, "no token: the page says what to do")
    shot(d, "401")
    d.get_log("browser")        # the 401 itself is logged; what follows must log nothing

    # ---- the campaigns page
    d.get(dash.url("/"))
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, 'tr[data-campaign="spring"]'), timeout=15,
             what="the campaigns table")
    camps = by_key(d, "campaign")
    check(set(camps) == {"spring", "other", XSS_CAMPAIGN}, f"campaign rows: {sorted(camps)}")
    st = cli_json("stats", "spring")
    spring = camps["spring"]["cells"]
    for col_name in ("reach", "actors", "pending", "overdue"):
        check(num(spring.get(col_name)) == st[col_name],
              f"campaigns: spring {col_name} {spring.get(col_name)} = stats {st[col_name]}")
    check(abs(num(spring["conversion_rate"]) - st["conversion_rate"]) < 1e-9,
          "campaigns: spring's conversion rate as stats says")
    check(XSS_CAMPAIGN in camps[XSS_CAMPAIGN]["text"], "a campaign named with markup shows as text")
    check(camps["spring"]["badge"], "spring carries an overdue badge")
    no_alert(d, "campaigns")
    search = d.find_element(By.CSS_SELECTOR, 'input[type="search"]')
    search.send_keys("oth")
    time.sleep(0.3)
    visible = [r["key"] for r in rows(d, "campaign") if r["shown"]]
    check(visible == ["other"], f"search 'oth' leaves only other: {visible}")
    d.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'));", search)
    wait_for(lambda: len([r for r in rows(d, "campaign") if r["shown"]]) == 3,
             timeout=5, what="every row back once the search is empty")
    shot(d, "campaigns")
    console_clean(d, "campaigns")

    # ---- the campaign page: every headline figure as stats --json says
    d.get(dash.url("/c/spring"))
    wait_for(lambda: figure(d, "reach") not in (None, ""), timeout=15, what="the campaign's figures")
    st = cli_json("stats", "spring")
    want = {"reach": st["reach"], "actors": st["actors"], "conversion_rate": st["conversion_rate"],
            "action_gap": st["action_gap"], "click_rate": st["click_rate"], "opens": st["opens"],
            "machine_opens": st["machine_opens"], "signups": st["signups"],
            "donations": st["donations"]["count"], "value_cents": st["donations"]["value_cents"],
            "pending": st["pending"], "overdue": st["overdue"]}
    for k, v in want.items():
        got = num(figure(d, k))
        check(got is not None and abs(got - v) < 1e-9, f"campaign: {k} in the DOM {got}, stats {v}")
    # 40 readers and 3 donors and the markup subject; 8 signups, 3 donors and the markup subject acted
    check(st["reach"] == 44 and st["actors"] == 12 and st["machine_opens"] == 12 and st["overdue"] >= 1,
          f"the script's own figures: reach 44, actors 12, machine opens 12 ({st['reach']}, {st['actors']}, "
          f"{st['machine_opens']}, overdue {st['overdue']})")
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "tr[data-ref]"), timeout=15, what="the advocates")
    top = cli_json("top", "spring")
    advocates = rows(d, "ref")
    refs = [a["key"] for a in advocates]
    check(refs[:len(top["advocates"])] == [a["ref"] for a in top["advocates"]],
          f"advocates in the order of top: {refs} vs {[a['ref'] for a in top['advocates']]}")
    ann = {a["key"]: a for a in advocates}["ann"]["cells"]
    check(num(ann["actions"]) == 5 and num(ann["reach"]) == 16, f"ann: 5 actions, 16 reach ({ann})")
    pend = cli_json("pending", "spring")
    waiting = rows(d, "subject")
    subs = [w["key"] for w in waiting]
    check(subs == [p["subject"] for p in pend["pending"]], f"pending oldest first as pending says: {subs}")
    over = [w["key"] for w in waiting if w["overdue"] == "1"]
    check(over == [p["subject"] for p in pend["pending"] if p["overdue"]] and "s7" in over,
          f"overdue rows marked: {over}")
    check(XSS_SUBJECT in d.find_element(By.CSS_SELECTOR, "body").text, "a subject with markup shows as text")
    check(XSS_PAGE in d.find_element(By.CSS_SELECTOR, "body").text, "a page path with markup shows as text")
    no_alert(d, "campaign")
    # the audiences: each segment's size as the command counts it, its CSV the command's
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, 'tr[data-segment="gap"]'), timeout=15, what="the audiences")
    segments = by_key(d, "segment")
    for seg in ("gap", "clicked-not-acted", "opened-not-clicked", "acted", "waiting", "reached"):
        people = segments[seg]["cells"].get("people")
        want_n = int(cli("audience", "spring", seg, "--count").strip())
        check(num(people) == want_n, f"audience {seg}: {people} in the DOM, {want_n} counted")
    href = segments["gap"]["href"]
    st_, _, body = http_get(dash.port, href.split(f":{dash.port}", 1)[1])
    check(st_ == 200 and body.decode().splitlines() == cli("audience", "spring", "gap", "--format", "csv").splitlines(),
          "the gap's CSV link downloads what actiongap audience spring gap --format csv prints")
    svgs = d.find_elements(By.CSS_SELECTOR, "main svg")
    check(len(svgs) >= 5, f"one picture per question: {len(svgs)} charts")
    shot(d, "campaign")
    d.set_window_size(1280, 4000)
    shot(d, "campaign-full")
    d.set_window_size(1280, 1000)
    console_clean(d, "campaign")

    # ---- auto-refresh: a new signup shows within one period (15 s) plus the aggregator's round
    before = num(figure(d, "signups"))
    pixel("c=spring&e=signup&s=late-1")
    wait_for(lambda: num(figure(d, "signups")) == before + 1, timeout=25, interval=0.5,
             what="the new signup on the page without a reload")
    check(num(figure(d, "signups")) == before + 1, f"auto-refresh: signups {before} -> {figure(d, 'signups')}")
    upd = d.execute_script("const e = document.getElementById('updated'); return e ? e.innerText : null;")
    check(upd is not None and "ago" in upd, f"the page says when it was updated: {upd!r}")

    # ---- the "followed up" button: with the operator token, the command's hit
    check(not d.find_elements(By.CSS_SELECTOR, 'button[data-action="followup"]'),
          "no followed-up button without the operator token")
    fl_before = cli_json("stats", "spring")["followup"]["count"]
    op = d.find_element(By.ID, "op-token")
    op.send_keys(API_TOKEN + Keys.TAB)      # typed, then the field left: its change event
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, 'tr[data-subject="s3"] button[data-action="followup"]'),
             timeout=5, what="the followed-up buttons")
    shot(d, "campaign-operator")
    click(d, 'tr[data-subject="s3"] button[data-action="followup"]')
    try:
        wait_for(lambda: not d.find_elements(By.CSS_SELECTOR, 'tr[data-subject="s3"]'), timeout=25, interval=0.5,
                 what="s3 to leave the waiting list")
    except AssertionError:
        print("op-note:", d.find_element(By.ID, "op-note").text, d.get_log("browser")[-5:], flush=True)
        raise
    pend = cli_json("pending", "spring")
    check("s3" not in [p["subject"] for p in pend["pending"]], "s3 followed up: no longer pending")
    check(cli_json("stats", "spring")["followup"]["count"] == fl_before + 1,
          "the button recorded one follow-up, counted once")
    console_clean(d, "operator")

    # ---- the leaderboard screen, through a leaderboard share link
    link = cli("share", "spring", "--leaderboard").strip()
    d.get(link)
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "[data-ref]"), timeout=15, what="the leaderboard")
    board = [b["key"] for b in rows(d, "ref", "[data-ref]")]
    check(board[:3] == [a["ref"] for a in top["advocates"]][:3], f"leaderboard order: {board}")
    shot(d, "leaderboard")
    console_clean(d, "leaderboard")
    token = link.rsplit("t=", 1)[1]
    d.get(dash.url("/c/spring", token=token))
    check("does not open this page" in d.page_source, "the leaderboard link does not open the campaign page")

    # ---- a campaign share link opens spring and not other
    link = cli("share", "spring").strip()
    token = link.rsplit("t=", 1)[1]
    d.get(link)
    wait_for(lambda: figure(d, "reach") not in (None, ""), timeout=15, what="the shared campaign page")
    st = cli_json("stats", "spring")
    check(num(figure(d, "reach")) == st["reach"], f"the share link shows spring's reach {st['reach']}")
    d.get(dash.url("/c/other", token=token))
    check("does not open this page" in d.page_source, "spring's link does not open other")
    d.get(dash.url("/", token=token))
    check("does not open this page" in d.page_source, "spring's link does not open the list")
finally:
    d.quit()

# ---- on a phone
d = browser(390, 844)
try:
    d.get(dash.url("/c/spring"))
    wait_for(lambda: figure(d, "reach") not in (None, ""), timeout=15, what="the campaign on a phone")
    sideways = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(sideways <= 0, f"phone: no sideways scroll ({sideways} px)")
    shot(d, "campaign-phone")
    # the link alerts carry (<dashboard_url>/c/<campaign>#pending) opens at the waiting list
    d.get("about:blank")
    d.get(dash.url("/c/spring") + "#pending")
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "tr[data-subject]"), timeout=15,
             what="the waiting list through #pending")
    wait_for(lambda: -5 < d.execute_script(
        "return document.getElementById('sec-waiting').getBoundingClientRect().top") < 0.5 * 844,
        timeout=5, what="#pending scrolled to the waiting list")
    check(d.execute_script("return window.scrollY") > 0, "#pending: the page scrolled down to the list")
    shot(d, "campaign-pending-link")
    console_clean(d, "phone")
finally:
    d.quit()
done("test_dashboard")
