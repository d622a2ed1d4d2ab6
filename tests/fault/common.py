"""common.py: shared set-up of the fault scripts (they run on their own, not
in ./deploy/test.sh): the integration harness and the built binaries."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
BUILD = os.environ.get("AG_BUILD", os.path.join(ROOT, "build"))
os.environ.setdefault("AG_COLLECTOR", os.path.join(BUILD, "collector", "actiongap-collector"))
os.environ.setdefault("AG_AGGREGATOR", os.path.join(BUILD, "aggregator", "actiongap-aggregator"))
os.environ.setdefault("AG_CLI", os.path.join(BUILD, "aggregator", "actiongap"))

import harness  # noqa: E402

harness.COLLECTOR = os.environ["AG_COLLECTOR"]
harness.AGGREGATOR = os.environ["AG_AGGREGATOR"]
harness.CLI = os.environ["AG_CLI"]


def verdict(name, sent, found, dups, extra=""):
    """Prints the one-line result every fault script ends with."""
    print(f"{name}: sent {sent}, found {found}, duplicates {dups}{extra}", flush=True)


def outage(load, rs, seconds, before_up=None):
    """Stops Redis for `seconds` while `load` runs, calls before_up() (if
    given) just before starting it again, and waits for the load to end.
    Returns (p99 of the pixel latencies during the outage, how many)."""
    import time
    rs.stop()
    i_down = len(load.latencies)
    time.sleep(seconds)
    i_up = len(load.latencies)
    if before_up:
        before_up()
    rs.start()
    load.wait()
    during = sorted(load.latencies[i_down:i_up])
    return (during[int(0.99 * (len(during) - 1))] if during else 0.0), len(during)
