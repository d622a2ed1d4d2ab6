"""The webhook receiver down for DOWN seconds (default 60) while signups go
overdue: every overdue signup is delivered exactly once after it recovers."""
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

DOWN = int(sys.argv[1]) if len(sys.argv) > 1 else 60
S = 50
rs = RedisServer()
r = rs.client()
hook = WebhookReceiver()
hook.mode = "down"
col = Collector(rs)
agg = Aggregator(rs, extra=["--followup-sla-s", "2", "--webhook", hook.url()])
PixelLoad(col.port, S, prefix="w", conns=1, campaigns=5, campaign="wh", event="signup").start().wait()
time.sleep(DOWN)
hook.mode = "up"
wait_for(lambda: len(hook.posts) >= S, timeout=120, what=f"{S} deliveries")
time.sleep(3)
keys = [(p["campaign"], p["subject"]) for p in hook.posts]
dups = len(keys) - len(set(keys))
check(len(set(keys)) == S and dups == 0, f"{S} overdue signups delivered once each")
verdict(f"webhook down {DOWN} s", S, len(set(keys)), dups,
        f", failed attempts {int(agg.metric('ag_alerts_failed_total'))}")
done("fault_webhook_down")
