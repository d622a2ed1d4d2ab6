"""Advocate links in a real browser (headless Chromium, Debian's chromium,
chromium-driver and python3-selenium), against the real collector,
aggregator, dashboard, CLI and redis-server: five colleagues get short
links in bulk; two of them are opened, land on a page tagged with /ag.js
with the attribution out of the address bar, and a signup there credits
that colleague; `actiongap top` and the dashboard's leaderboard show each
with one click and one action. Last-click (the default) and first-click
(attribution = first) within a visit; an unsigned ?via= counted apart.
Screenshots go to $AG_BROWSER_SHOTS."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import *  # noqa: F401,F403

from selenium.webdriver.common.by import By

from chromium import browser, serve

SHOTS = os.environ.get("AG_BROWSER_SHOTS") or tempfile.mkdtemp(prefix="ag-shots-")
os.makedirs(SHOTS, exist_ok=True)

rs = RedisServer()
r = rs.client()
col = Collector(rs)                                         # attribution = last (default)
first = Collector(rs, extra=["--attribution", "first"])     # another site, first-click
agg = Aggregator(rs, name="agg-blinks")
dash = Dashboard(rs)


def page(title, tag, campaign):
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>"
            "<style>body{font:18px sans-serif;margin:2em;max-width:40em}input,button{font:inherit;"
            "padding:.4em}</style></head><body>"
            f"<h1>{title}</h1><p>Add your name to the appeal.</p>"
            "<form onsubmit=\"ag('signup',{s:this.email.value});document.getElementById('done')"
            ".hidden=false;return false\"><label>E-mail <input name=email id=email></label> "
            "<button id=join>Sign up</button></form><p id=done hidden>Thank you!</p>"
            f"<script src=\"{tag}/ag.js\" data-campaign=\"{campaign}\"></script></body></html>").encode()


PAGES = {
    "/join": page("Join the spring appeal", f"http://127.0.0.1:{col.port}", "spring"),
    "/join-first": page("Join (first-click site)", f"http://127.0.0.1:{first.port}", "autumn"),
}


SITE = serve(PAGES, free_port())


def cli(*args, base=None):
    p = subprocess.run([CLI, "--redis", rs.url(), "--base-url", base or f"http://127.0.0.1:{col.port}",
                        "--dashboard-listen", f"127.0.0.1:{dash.port}", *args],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"actiongap {' '.join(args)}: {p.returncode} {p.stderr}")
    return p.stdout


def shot(d, name):
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))


def sign_up(d, email, name):
    """Fills the landing page's form and sends it; waits for the thank-you."""
    wait_for(lambda: d.execute_script("return typeof ag === 'function'"), timeout=10, what="ag.js")
    d.find_element(By.ID, "email").send_keys(email)
    d.find_element(By.ID, "join").click()
    wait_for(lambda: d.find_element(By.ID, "done").is_displayed(), timeout=5, what="the thank-you")
    shot(d, name)


# ---- five colleagues, their short links
tmp = tempfile.mkdtemp(prefix="ag-blinks-")
adv = os.path.join(tmp, "colleagues.csv")
with open(adv, "w") as f:
    f.write("id,name,email\nann,Ann Lee,ann@example.org\nbob,Bob Ray,bob@example.org\n"
            "cyd,Cyd Moss,\ndee,Dee Park,dee@example.org\neve,Eve Hart,eve@example.org\n")
links = {a["id"]: a for a in json.loads(cli("links", "spring", "--to", SITE + "/join", "--advocates", adv,
                                            "--json"))}
check(len(links) == 5, f"five links: {sorted(links)}")
wait_for(lambda: col.metric("ag_short_links") == 5, what="the collector to hold the links")

d = browser()
try:
    # ---- two colleagues' links, each opened by a new person who signs up
    for who, email in (("ann", "p1@example.org"), ("bob", "p2@example.org")):
        d.get(links[who]["url"])
        wait_for(lambda: d.current_url.startswith(SITE + "/join"), timeout=10, what="the landing page")
        check("ag_attr" not in d.current_url, f"the token left the address bar: {d.current_url}")
        sign_up(d, email, f"links-landed-{who}")
        # a new tab is a new visit: sessionStorage starts empty
        d.switch_to.new_window("tab")
    wait_applied(r)
    top = json.loads(cli("top", "spring", "--json"))
    rows = {a["ref"]: a for a in top["advocates"]}
    check(rows.get("ann", {}).get("clicks") == 1 and rows["ann"]["actions"] == 1 and
          rows.get("bob", {}).get("clicks") == 1 and rows["bob"]["actions"] == 1,
          f"top: ann and bob, one click and one action each: {rows}")
    check(set(rows) == {"ann", "bob"}, f"the others have nothing yet: {sorted(rows)}")
    subj = {f.get("subject"): f.get("ref") for _, f in r.xrange_all("ag:hits:{0}") if f.get("event") == "signup"}
    check(subj == {"p1@example.org": "ann", "p2@example.org": "bob"}, f"signups credited: {subj}")

    # ---- the dashboard's leaderboard screen
    board_url = cli("share", "spring", "--leaderboard").strip()
    d.get(board_url)
    wait_for(lambda: len(d.find_elements(By.CSS_SELECTOR, "li[data-ref]")) == 2, timeout=20,
             what="two advocates on the leaderboard")
    cells = {e.get_attribute("data-ref"): (
        e.find_element(By.CSS_SELECTOR, "[data-col=actions]").get_attribute("data-value"),
        e.find_element(By.CSS_SELECTOR, "[data-col=clicks]").get_attribute("data-value"))
        for e in d.find_elements(By.CSS_SELECTOR, "li[data-ref]")}
    check(cells == {"ann": ("1", "1"), "bob": ("1", "1")}, f"leaderboard: actions and clicks: {cells}")
    check("1 link click" in d.find_element(By.CSS_SELECTOR, "li[data-ref=ann]").text, "the click is written out")
    shot(d, "links-leaderboard")

    # ---- last click within a visit (default): ann's link, then cyd's, then a signup: cyd
    d.switch_to.new_window("tab")
    d.get(links["ann"]["url"])
    wait_for(lambda: d.current_url.startswith(SITE), timeout=10, what="landing (ann)")
    d.get(links["cyd"]["url"])
    wait_for(lambda: d.current_url.startswith(SITE) and "ag_attr" not in d.current_url, timeout=10,
             what="landing (cyd)")
    sign_up(d, "p3@example.org", "links-last-click")
    # ---- first click (attribution = first, the other site): dee's link, then eve's: dee
    auto = {a["id"]: a for a in json.loads(cli("links", "autumn", "--to", SITE + "/join-first", "--advocates",
                                               adv, "--json", base=f"http://127.0.0.1:{first.port}"))}
    wait_for(lambda: first.metric("ag_short_links") == 10, what="the second collector to hold the links")
    d.switch_to.new_window("tab")
    d.get(auto["dee"]["url"])
    wait_for(lambda: d.current_url.startswith(SITE), timeout=10, what="landing (dee)")
    d.get(auto["eve"]["url"])
    wait_for(lambda: d.current_url.startswith(SITE) and "ag_attr" not in d.current_url, timeout=10,
             what="landing (eve)")
    sign_up(d, "p4@example.org", "links-first-click")
    # ---- a landing URL shared by hand with ?via=: counted apart, not on the leaderboard
    d.switch_to.new_window("tab")
    d.get(SITE + "/join?via=eve")
    check("via=" not in d.current_url, f"?via= left the address bar: {d.current_url}")
    sign_up(d, "p5@example.org", "links-unsigned-via")
    wait_applied(r)
    subj = {f.get("subject"): (f.get("campaign"), f.get("ref", ""), f.get("uref", ""))
            for _, f in r.xrange_all("ag:hits:{0}") if f.get("event") == "signup"}
    check(subj.get("p3@example.org") == ("spring", "cyd", ""), f"last click: cyd: {subj.get('p3@example.org')}")
    check(subj.get("p4@example.org") == ("autumn", "dee", ""), f"first click: dee: {subj.get('p4@example.org')}")
    check(subj.get("p5@example.org") == ("spring", "", "eve"), f"unsigned via: {subj.get('p5@example.org')}")
    check(zrange(r, "ag:c:{spring}:ref:unverified") == {"eve": 1.0} and
          "eve" not in zrange(r, "ag:c:{spring}:ref"), "eve's unsigned credit is apart from the leaderboard")
finally:
    d.quit()

# ---- on a phone: the campaign's advocates table and the leaderboard screen, no sideways scroll
d = browser(width=390, height=844)
try:
    d.get(dash.url("/c/spring"))
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "tr[data-ref=ann] [data-col=clicks]"), timeout=20,
             what="the advocates table on a phone")
    d.execute_script("document.querySelector('tr[data-ref=ann]').scrollIntoView({block: 'center'})")
    clicks = d.find_element(By.CSS_SELECTOR, "tr[data-ref=ann] [data-col=clicks]")
    check(clicks.get_attribute("data-value") == "2" and clicks.is_displayed(),
          f"phone: ann's link clicks shown: {clicks.get_attribute('data-value')}")
    sideways = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(sideways <= 0, f"phone, campaign: no sideways scroll ({sideways} px)")
    shot(d, "links-phone-advocates")
    d.get(board_url)
    wait_for(lambda: len(d.find_elements(By.CSS_SELECTOR, "li[data-ref]")) >= 3, timeout=20,
             what="the leaderboard on a phone")
    sideways = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(sideways <= 0, f"phone, leaderboard: no sideways scroll ({sideways} px)")
    shot(d, "links-phone-leaderboard")
finally:
    d.quit()
done("test_links (browser)")
