"""deploy/monitoring/ against promtool and the live daemons: the alert rules
pass `promtool check rules` and the unit tests of actiongap.rules.test.yml
(series that fire and that do not fire every alert), the scrape example
passes `promtool check config`; every alert has for:, a severity and a
summary and description, and a test case. The Grafana board is valid JSON
(schemaVersion 36+, a Prometheus datasource variable every panel uses),
and every metric named by a PromQL expression of the board or the rules is
exported by a running collector (with a hook configured) or aggregator,
read from their /metrics. A missing promtool is a failure (./deploy/deps.sh
with AG_DEPS_EXTRA=prometheus, as deploy/test.sh runs it)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

MON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "monitoring")
RULES = os.path.join(MON, "actiongap.rules.yml")
# what the board must show: the metric behind each panel the operator needs
BOARD_NEEDS = ["ag_hits_total", "ag_redis_up", "ag_agg_redis_up", "ag_spool_records", "ag_spool_bytes",
               "ag_hits_dropped_total", "ag_agg_lag", "ag_agg_applied_total", "ag_alerts_raised_total",
               "ag_alerts_sent_total", "ag_alerts_failed_total", "ag_request_duration_seconds_bucket",
               "ag_short_link_requests_total", "ag_hook_requests_total"]
# metrics Prometheus makes itself (the rules may name them)
PROMETHEUS_OWN = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan"}

promtool = shutil.which("promtool")
if not promtool:
    print("FAIL: promtool is not installed (run AG_DEPS_EXTRA=prometheus ./deploy/deps.sh)", flush=True)
    sys.exit(1)


def promtool_run(*args):
    p = subprocess.run([promtool, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                       cwd=MON)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def metric_names(expr):
    """Returns the metric names a PromQL expression selects (functions,
    keywords, label names of by/on/… clauses, Grafana variables left out)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", "", e)
    out = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group() in KEYWORDS:
            continue
        out.add(m.group())
    return out


def rule_blocks(text):
    """Splits the rules file into (alert name, block text) pairs."""
    parts = re.split(r"^\s*- alert: ", text, flags=re.M)[1:]
    return [(p.split("\n", 1)[0].strip(), p) for p in parts]


def rule_exprs(block):
    """Returns the expr of one rule block: inline, or a folded block scalar."""
    m = re.search(r"^(\s*)expr: (.*)$", block, re.M)
    if m.group(2).strip() not in (">-", ">", "|", "|-"):
        return m.group(2)
    ind, lines = len(m.group(1)), []
    for line in block[m.end():].split("\n")[1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= ind:
            break
        lines.append(line.strip())
    return " ".join(lines)


# ---- promtool on the rules, their unit tests and the scrape example
rc, out = promtool_run("check", "rules", RULES)
check(rc == 0, f"promtool check rules: rc={rc}: {out}")
print(out.strip(), flush=True)
rc, out = promtool_run("test", "rules", "actiongap.rules.test.yml")
check(rc == 0 and "SUCCESS" in out, f"promtool test rules: rc={rc}: {out}")
print(out.strip(), flush=True)
tmp = tempfile.mkdtemp(prefix="ag-mon-")
try:
    with open(os.path.join(MON, "prometheus.scrape.yml")) as f:
        scrape = f.read().replace("/etc/prometheus/actiongap.rules.yml", os.path.abspath(RULES))
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(scrape)
    rc, out = promtool_run("check", "config", os.path.join(tmp, "prometheus.yml"))
    check(rc == 0, f"promtool check config prometheus.scrape.yml: rc={rc}: {out}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

# ---- every alert: for:, severity, what to do; and a firing and a quiet test case
with open(RULES) as f:
    rules_text = f.read()
with open(os.path.join(MON, "actiongap.rules.test.yml")) as f:
    tests_text = f.read()
blocks = rule_blocks(rules_text)
check(len(blocks) >= 10, f"only {len(blocks)} alerts in actiongap.rules.yml")
exprs = {}
for name, block in blocks:
    for key in (r"^\s+for: \d+[smh]$", r"^\s+severity: (critical|warning)$", r"^\s+summary: ", r"^\s+description: "):
        check(re.search(key, block, re.M), f"{name}: no line matching {key!r}")
    exprs[f"rule {name}"] = rule_exprs(block)
    cases = re.findall(rf"alertname: {name}\n\s+exp_alerts:( \[\])?", tests_text)
    check("" in cases, f"{name}: no test case where it fires")
    check(" []" in cases, f"{name}: no test case where it does not fire")
for alert in ("ActiongapCollectorRedisDown", "ActiongapAggregatorRedisDown", "ActiongapSpoolGrowing",
              "ActiongapSpoolDegraded", "ActiongapHitsDropped", "ActiongapAggregatorLagHigh",
              "ActiongapCampaignHeld", "ActiongapCampaignQuarantined", "ActiongapAlertDeliveriesFailing",
              "ActiongapHookRequestsRefused"):
    check(alert in dict(blocks), f"{alert} missing from actiongap.rules.yml")

# ---- the Grafana board
with open(os.path.join(MON, "actiongap-grafana.json")) as f:
    board = json.load(f)
check(board.get("schemaVersion", 0) >= 36, f"schemaVersion {board.get('schemaVersion')} below 36")
variables = board.get("templating", {}).get("list", [])
dsvar = [v for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"]
check(len(dsvar) == 1, "no Prometheus datasource variable")
dsref = "${%s}" % dsvar[0]["name"] if dsvar else None
for v in variables:
    if v.get("type") == "query":
        q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
        m = re.match(r"label_values\((\w+),", q)
        check(m is not None, f"variable {v['name']}: query {q!r} is not label_values(metric, label)")
        if m:
            exprs[f"variable {v['name']}"] = m.group(1)
        check(v.get("datasource", {}).get("uid") == dsref, f"variable {v['name']}: not on {dsref}")
panels = [p for p in board.get("panels", []) if p.get("type") != "row"]
check(len(panels) >= 10, f"only {len(panels)} panels")
for p in panels:
    check(p.get("datasource", {}).get("uid") == dsref, f"panel {p.get('title')!r}: datasource is not {dsref}")
    check(p.get("targets"), f"panel {p.get('title')!r}: no query")
    for t in p.get("targets", []):
        exprs[f"panel {p['title']!r} {t.get('refId')}"] = t.get("expr", "")
board_metrics = set()
for where, e in exprs.items():
    if where.startswith(("panel", "variable")):
        board_metrics |= metric_names(e)
for m in BOARD_NEEDS:
    check(m in board_metrics, f"the board shows no {m}")

# ---- what the daemons really export
rs = RedisServer()
conf = os.path.join(rs.dir, "hooks.conf")
with open(conf, "w") as f:     # ag_hook_requests_total exists once a hook is configured
    f.write("hook.an.source = actionnetwork\nhook.an.secret = 0123456789abcdef0123456789abcdef\n"
            "hook.an.campaign = petition\n")
col = Collector(rs, extra=["--config", conf])
agg = Aggregator(rs)
dash = Dashboard(rs)
exported = set()
for who, port in (("collector", col.port), ("aggregator", agg.port), ("dashboard", dash.port)):
    st, _, body = http_get(port, "/metrics")
    names = {l.split("{")[0].split(" ")[0] for l in body.decode().splitlines() if l and not l.startswith("#")}
    if who == "dashboard":
        print(f"dashboard /metrics: {st} (it exports no metrics)", flush=True)
        if st != 200:
            continue
    check(st == 200 and names, f"{who} /metrics: {st}")
    print(f"{who} /metrics: {len(names)} series names", flush=True)
    exported |= names
named = 0
for where, e in sorted(exprs.items()):
    ms = metric_names(e)
    check(ms, f"{where}: no metric found in {e!r}")
    for m in ms:
        named += 1
        ok = m in exported or (where.startswith("rule") and m in PROMETHEUS_OWN)
        check(ok, f"{where}: {m} is not exported by the daemons ({e})")
print(f"{len(exprs)} expressions, {named} metric references, all checked against /metrics", flush=True)

done("test_monitoring")
