"""Alerts in every channel: overdue signups recorded through /api/hits reach
a Teams-style, a Discord-style and an ntfy-style receiver (per-campaign
`webhook`/`webhook_format` in ag:c:{C}:cfg) byte for byte, and an inbox (an
SMTP server written here: EHLO, MAIL, RCPT, DATA, QUIT) whose messages carry
correct headers. A receiver that accepts and never answers, for one campaign,
delays neither counting nor the other campaigns' alerts, and its campaign's
e-mail is sent once while its webhook is retried; an inbox that refuses twice
gets its e-mail on the third attempt while that campaign's webhook is sent
once. Standard library only.

Documented minimum of each body (see also tests/unit/test_agg_alert_format.c):
Teams Workflows envelope: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
Discord "Execute Webhook": https://discord.com/developers/docs/resources/webhook#execute-webhook
ntfy publish headers: https://docs.ntfy.sh/publish/"""
import email
import email.header
import email.utils
import json
import os
import socket
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

SLA = 2
DASH = "https://dash.example.org"
FROM = "alerts@example.org"


class Staller:
    """Accepts connections and never reads nor answers; records when each was accepted."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.held = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)
            self.accepted.append(time.time())


def dur(s):
    """Renders seconds as the aggregator does for people (small values only)."""
    s = int(s)
    return f"{s} s" if s < 60 else f"{s // 60} min"


def cjson(obj):
    """The bytes cJSON prints for obj (no spaces, UTF-8 as is)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


hook = WebhookReceiver()


def posts_on(path):
    """Returns the requests the receiver accepted on path."""
    return [p for p in hook.raw if p[0] == path]


stall = Staller()
smtp = SmtpSink()
rs = RedisServer()
r = rs.client()
camps = {
    "teams": ("Teams campaign", f"http://127.0.0.1:{hook.port}/workflows/abc/triggers/manual", "teams"),
    "discord": ("Frühjahr Discord", f"http://127.0.0.1:{hook.port}/api/webhooks/1/tok", "discord"),
    "ntfy": ("ntfy campaign", f"http://127.0.0.1:{hook.port}/ag-alerts", "ntfy"),
    "stall": ("Stalled campaign", f"http://127.0.0.1:{stall.port}/never", "json"),
}
for c, (name, url, fmt) in camps.items():
    r("HSET", "ag:c:{" + c + "}:cfg", "name", name, "webhook", url, "webhook_format", fmt)
r("HSET", "ag:c:{ntfy}:cfg", "alert_email_to", "ntfy-team@example.org, boss@example.org")
# a campaign whose inbox refuses twice: its webhook is sent once while its e-mail is retried
r("HSET", "ag:c:{flaky}:cfg", "webhook", f"http://127.0.0.1:{hook.port}/flaky", "alert_email_to",
  "flaky@example.org")
col = Collector(rs)
agg = Aggregator(rs, name="agg-channels", extra=[
    "--followup-sla-s", str(SLA), "--dashboard-url", DASH + "/",
    "--alert-email-to", "ops@example.org", "--alert-email-from", FROM,
    "--smtp-url", f"smtp://127.0.0.1:{smtp.port}"])


def api_hit(c, e, s):
    st, _, body = http_post(col.port, "/api/hits", json.dumps({"c": c, "e": e, "s": s}).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    check(st == 202, f"/api/hits {c}/{e}/{s}: {st} {body!r}")


def alert_of(c):
    """Returns (stream id, fields) of campaign c's overdue alert, or None."""
    for i, f in r.xrange_all("ag:alerts"):
        if f["campaign"] == c and f["kind"] == "followup_overdue":
            return i, f
    return None


# the stalled campaign's signup first, so its alert is under way when the others come
api_hit("stall", "signup", "st-1")
wait_for(lambda: stall.accepted, timeout=SLA + 10, what="the stalled receiver's connection")
t_stalled = time.time()
for c in ("teams", "discord", "ntfy", "flaky"):
    api_hit(c, "signup", c[0] + "-1")

# counting goes on meanwhile
t0 = time.monotonic()
for i in range(200):
    api_hit("counting", "open", f"o{i}")
wait_for(lambda: hgetall(r, "ag:c:{counting}").get("open") == "200", timeout=10, what="200 opens counted")
took = time.monotonic() - t0
check(took < 4, f"counting not delayed by a receiver that never answers ({took:.1f} s)")

wait_for(lambda: all(posts_on(camps[c][1].split(str(hook.port))[1]) for c in ("teams", "discord", "ntfy")),
         timeout=SLA + 10, what="the three chat alerts")
wait_for(lambda: len(smtp.messages) >= 5, timeout=15, what="five e-mails")
# the stalled webhook is retried (5 s timeout, then 1 s back-off) while nothing is sent twice
wait_for(lambda: len(stall.accepted) >= 2, timeout=20, what="a retry of the stalled webhook")
time.sleep(1.0)

# ---- each chat alert byte for byte, and in time
for c in ("teams", "discord", "ntfy"):
    name, url, fmt = camps[c]
    path = url.split(str(hook.port))[1]
    got = posts_on(path)
    check(len(got) == 1, f"{c}: one POST, got {len(got)}")
    if not got:
        continue
    _, hdrs, body, t_recv = got[0]
    aid, f = alert_of(c)
    lag = t_recv - int(f["ts"]) / 1000
    check(lag < 1.5, f"{c}: delivered {lag:.2f} s after it was raised, while another receiver stalls "
          f"(post timeout 5 s; the stall began {t_recv - t_stalled:.1f} s earlier)")
    link = f"{DASH}/c/{c}#pending"
    text = f"Signup {f['subject']} ({name}) has waited {dur(f['waited_s'])} for follow-up; SLA {dur(SLA)}"
    check(f["name"] == name and f["subject"] == c[0] + "-1", f"{c}: alert fields {f}")
    if fmt == "teams":
        want = cjson({"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                "version": "1.4", "body": [
                    {"type": "TextBlock", "text": f"Follow-up overdue: {name}", "weight": "Bolder",
                     "size": "Medium", "wrap": True},
                    {"type": "TextBlock", "text": text, "wrap": True},
                    {"type": "FactSet", "facts": [
                        {"title": "Campaign", "value": name}, {"title": "Subject", "value": f["subject"]},
                        {"title": "Waited", "value": dur(f["waited_s"])}, {"title": "SLA", "value": dur(SLA)}]}],
                "actions": [{"type": "Action.OpenUrl", "title": "Open the pending follow-ups", "url": link}]}}]})
        ctype = "application/json"
    elif fmt == "discord":
        want = cjson({"content": text + "\n" + link})
        ctype = "application/json"
        check(len(json.loads(body)["content"]) <= 2000, "discord: content within 2000 characters")
    else:
        want = (text + "\n" + link).encode()
        ctype = "text/plain; charset=utf-8"
        check(hdrs.get("Title") == f"Follow-up overdue: {name}" and hdrs.get("Priority") == "high"
              and hdrs.get("Tags") == "warning" and hdrs.get("Click") == link, f"ntfy headers: {hdrs}")
    check(body == want, f"{c}: body byte for byte\n got  {body!r}\n want {want!r}")
    check(hdrs.get("Content-Type") == ctype and hdrs.get("User-Agent") == "actiongap-aggregator",
          f"{c}: headers {hdrs}")

# ---- the stalled campaign: its webhook never delivered, nothing else waited for it
check(posts_on("/never") == [], "nothing reached another receiver for the stalled campaign")

# ---- the campaign whose inbox refused twice: one webhook POST (auto: json), one e-mail
flaky_posts = posts_on("/flaky")
flaky_mail = [m for m in smtp.messages if m[1] == ["flaky@example.org"]]
check(smtp.flaky_left == 0 and len(flaky_mail) == 1 and len(flaky_posts) == 1,
      f"flaky: refused {2 - smtp.flaky_left} times, then 1 e-mail ({len(flaky_mail)}); "
      f"its webhook sent once ({len(flaky_posts)}) while the e-mail was retried")
check(flaky_posts and json.loads(flaky_posts[0][2])["subject"] == "f-1"
      and json.loads(flaky_posts[0][2])["link"] == f"{DASH}/c/flaky#pending", "flaky: the json body")
pend = r("XPENDING", "ag:alerts", "webhook")
check(int(pend[0]) == 1, f"only the stalled alert stays unacknowledged: {pend}")

# ---- the inbox
by_to = {}
for mail_from, rcpts, raw in smtp.messages:
    check(mail_from == FROM, f"MAIL FROM {mail_from}")
    msg = email.message_from_bytes(raw)
    by_to.setdefault(tuple(rcpts), []).append(msg)
    lines = raw.split(b"\r\n")
    check(raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b""), "CRLF lines only")
    check(all(len(l) <= 998 for l in lines), "no line over 998 bytes")
    head = raw.split(b"\r\n\r\n")[0]
    check(all(len(l) <= 78 for l in head.split(b"\r\n")), f"headers folded under 78: {head!r}")
    for h in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
              "Content-Transfer-Encoding"):
        check(len(msg.get_all(h) or []) == 1, f"one {h} header")
    d = email.utils.parsedate_to_datetime(msg["Date"])
    check(d.tzinfo is not None and abs(d.timestamp() - time.time()) < 120, f"Date {msg['Date']}")
    check(msg["From"] == FROM, f"From {msg['From']}")
    check(msg["MIME-Version"] == "1.0" and msg["Content-Type"] == "text/plain; charset=utf-8"
          and msg["Content-Transfer-Encoding"] == "8bit", f"MIME headers {dict(msg)}")
check(sorted(by_to) == [("flaky@example.org",), ("ntfy-team@example.org", "boss@example.org"),
                        ("ops@example.org",)],
      f"recipients: {sorted(by_to)}")
check(len(by_to.get(("ops@example.org",), [])) == 3, "three e-mails to ops (teams, discord, stall)")
check(len(by_to.get(("ntfy-team@example.org", "boss@example.org"), [])) == 1,
      "one e-mail to the ntfy campaign's own list")
for msgs in by_to.values():
    for msg in msgs:
        subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
        body = msg.get_payload(decode=True).decode("utf-8")
        if msg["To"] == "flaky@example.org":
            continue
        c = next((c for c in camps if f"({camps[c][0]})" in body), None)
        check(c is not None, f"the e-mail names its campaign: {body!r}")
        if c is None:
            continue
        aid, f = alert_of(c)
        check(subject == f"[actiongap] Follow-up overdue: {camps[c][0]}", f"Subject {subject!r}")
        check(msg["Message-ID"] == f"<actiongap.alert.{aid}@example.org>", f"Message-ID {msg['Message-ID']}")
        check(msg["To"] == ", ".join(["ntfy-team@example.org", "boss@example.org"] if c == "ntfy"
                                     else ["ops@example.org"]), f"To {msg['To']}")
        check(f"Signup {f['subject']} ({camps[c][0]}) has waited" in body and f"{DASH}/c/{c}#pending" in body,
              f"{c}: body says who, how long and where: {body!r}")
raw_discord = [raw for _, _, raw in smtp.messages if b"Fr\xc3\xbchjahr" in raw]
check(raw_discord and b"Subject: =?UTF-8?B?" in raw_discord[0], "a non-ASCII Subject is RFC 2047 encoded")
check(agg.metric("ag_alerts_sent_total") == 9, f"sent: 4 webhooks + 5 e-mails, got {agg.metric('ag_alerts_sent_total')}")
check(agg.metric("ag_alerts_failed_total") >= len(stall.accepted) - 1 + 2,
      f"the stalled attempts that ended counted as failures ({agg.metric('ag_alerts_failed_total')})")

t_stop = time.monotonic()
check(agg.stop() == 0, "aggregator exits 0")
check(time.monotonic() - t_stop < 3, f"stops promptly despite a stalled transfer ({time.monotonic() - t_stop:.1f} s)")
print(f"alert channels: teams/discord/ntfy/flaky 1 POST each, {len(smtp.messages)} e-mails "
      f"(flaky's after 2 refusals), "
      f"stalled receiver {len(stall.accepted)} connections, counting {took:.2f} s", flush=True)
done("test_agg_alert_channels")
