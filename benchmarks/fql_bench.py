"""FQL throughput: our compiled subscriptions vs Segment's validate() on pre-parsed ASTs under node, in one run.

Both sides evaluate every subscription against every event, repeatedly, for the same wall time; the best of
`--rounds` rounds counts for each (the machine is shared). Ours is measured twice: one `Subscription.matches` call
per (subscription, event), and one `SubscriptionSet.matches` call per event answering for all subscriptions (how a
destination evaluates its subscriptions). Every side's hits per pass must agree, so all did the same work. Usage:
`python benchmarks/fql_bench.py [--seconds S] [--rounds N] [--json]` (or `make bench`).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from itertools import repeat
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.oracle import NodeOracle  # noqa: E402

from actions_1flow import fql  # noqa: E402

TYPICAL_TRIGGERS = [
    'type = "track"',
    'type = "identify"',
    'event = "Order Completed"',
    'type = "track" and event = "Order Completed"',
    'type = "track" and properties.total > 100',
    'event = "Order Completed" or event = "Order Refunded"',
    "userId != null",
    'type = "page" and contains(context.page.path, "/checkout")',
    '(type = "track" or type = "page") and userId != null',
    'match(event, "Order*") and !contains(properties.plan, "free")',
]


def workloads() -> dict[str, tuple[list[str], list[Any]]]:
    cases = json.loads((ROOT / "tests" / "fixtures" / "fql-public.json").read_text(encoding="utf-8"))["cases"]
    accepted = [case for case in cases if case["category"] == "accept"]
    events = [e["event"] for case in accepted[::11] for e in case["events"]]  # 200 varied events
    events.append(json.loads((ROOT / "examples" / "order-completed.json").read_text(encoding="utf-8")))
    return {
        "conformance triggers": ([case["fql"] for case in accepted], events),
        "typical triggers": (TYPICAL_TRIGGERS, events),
    }


def ours(matchers: list[Any], events: list[Any], seconds: float) -> dict[str, float]:
    n = hits = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for matches in matchers:
            hits += sum(map(matches, events))
        n += len(matchers) * len(events)
    elapsed = time.perf_counter() - start
    return {"ops": n, "seconds": elapsed, "per_second": n / elapsed, "hits": hits}


def ours_as_a_set(matches_all: Any, subscriptions: int, events: list[Any], seconds: float) -> dict[str, float]:
    n = hits = 0
    start = time.perf_counter()
    end = start + seconds
    count_true = repeat(True)
    while time.perf_counter() < end:
        hits += sum(map(tuple.count, map(matches_all, events), count_true))
        n += subscriptions * len(events)
    elapsed = time.perf_counter() - start
    return {"ops": n, "seconds": elapsed, "per_second": n / elapsed, "hits": hits}


def hits_per_pass(result: dict[str, float], pass_size: int) -> float:
    return result["hits"] / (result["ops"] / pass_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    results = []
    with NodeOracle() as oracle:
        for label, (texts, events) in workloads().items():
            subscriptions = [fql.parse(text) for text in texts]
            asts = [s.ast for s in subscriptions]
            matchers = [s.matches for s in subscriptions]
            matches_all = fql.SubscriptionSet(subscriptions).matches
            pass_size = len(asts) * len(events)
            runs: dict[str, list[dict[str, float]]] = {"single": [], "set": [], "reference": []}
            for _ in range(args.rounds):
                runs["single"].append(ours(matchers, events, args.seconds))
                runs["set"].append(ours_as_a_set(matches_all, len(asts), events, args.seconds))
                runs["reference"].append(oracle.call("fql.bench", asts=asts, events=events, seconds=args.seconds))
            best = {side: max(r, key=lambda r: r["per_second"]) for side, r in runs.items()}
            if len({hits_per_pass(r, pass_size) for r in best.values()}) != 1:
                raise SystemExit(f"{label}: hit counts differ, the sides did different work")
            results.append({
                "workload": label,
                "subscriptions": len(asts),
                "events": len(events),
                "hit_rate": round(hits_per_pass(best["reference"], pass_size) / pass_size, 3),
                "reference_per_second": round(best["reference"]["per_second"]),
                "single_per_second": round(best["single"]["per_second"]),
                "set_per_second": round(best["set"]["per_second"]),
                "single_ratio": round(best["single"]["per_second"] / best["reference"]["per_second"], 2),
                "set_ratio": round(best["set"]["per_second"] / best["reference"]["per_second"], 2),
            })  # fmt: skip

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"FQL matches/s — Python {platform.python_version()} vs node {oracle_node_version()}, "
          f"best of {args.rounds} × {args.seconds:g}s each")  # fmt: skip
    for r in results:
        print(f"\n  {r['workload']}: {r['subscriptions']} subscriptions × {r['events']} events, "
              f"hit rate {r['hit_rate']:.0%}")  # fmt: skip
        print(f"    reference validate()        {r['reference_per_second'] / 1e6:7.2f} M matches/s")
        print(f"    ours, Subscription.matches  {r['single_per_second'] / 1e6:7.2f} M matches/s   "
              f"ratio {r['single_ratio']:.2f}×")  # fmt: skip
        print(f"    ours, SubscriptionSet       {r['set_per_second'] / 1e6:7.2f} M matches/s   "
              f"ratio {r['set_ratio']:.2f}×")  # fmt: skip


def oracle_node_version() -> str:
    import subprocess

    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
