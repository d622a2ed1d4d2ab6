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
