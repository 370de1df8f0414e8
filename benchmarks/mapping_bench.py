"""Mapping throughput: ours against Segment's `@segment/actions-core` transform, same inputs, one run.

(a) the 1Flow presets' mappings over 10,000 realistic ~1 KB events;
(b) the public conformance corpus (284 mapping/event pairs: every directive, invalid and failing mappings too);
(c) `@liquid` mappings (output, filters, conditions with `blank`, a property named `limit`) over 2,000 of the events.

For ours, two numbers: `CompiledMapping.apply` (compiled once) and `transform()` (through its cache, as the
pipeline calls it). The reference is `transform` in node via the oracle's bench ops, timed inside node.
Outputs are compared on a sample first, so both engines are known to do the same work.

    .venv/bin/python benchmarks/mapping_bench.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mapping.compare import outcome, same  # noqa: E402
from tests.oracle import NodeOracle  # noqa: E402

from actions_1flow.mapping import MappingError, compile, transform  # noqa: E402

PRESETS = [
    {
        "event_name": {"@path": "$.event"},
        "userId": {"@path": "$.userId"},
        "anonymousId": {"@path": "$.anonymousId"},
        "properties": {"@path": "$.properties"},
    },
    {"userId": {"@path": "$.userId"}, "traits": {"@path": "$.traits"}},
]
EVENT_COUNT = 10_000
LIQUID = [
    {
        "summary": {
            "@liquid": "{{ event | upcase }}: {{ properties.total | times: 1.19 | round: 2 }} "
            "{{ properties.currency | default: 'EUR' }}"
        }
    },
    {
        "plan": {"@liquid": "{% if traits.plan == blank %}none{% elsif traits.plan == 'pro' %}paid{% endif %}"},
        "page": {"@liquid": "{{ context.page.path | split: '/' | last | default: 'home' }}"},
        "limit": {"@liquid": "{{ properties.limit | default: 20 }}"},
    },
]
LIQUID_EVENT_COUNT = 2_000


def realistic_events(count: int, seed: int = 7) -> list[dict]:
    """Segment track/identify/page events as analytics.js sends them, about 1 KB of JSON each."""
    rng = random.Random(seed)
    names = ["Order Completed", "Product Viewed", "Signed Up", "Survey Answered", "Checkout Started"]
    pages = ["/", "/pricing", "/checkout", "/docs/getting-started", "/account/settings"]
    events = []
    for i in range(count):
        kind = rng.choice(["track", "track", "track", "identify", "page"])
        user = f"user-{rng.randrange(10**6)}" if rng.random() < 0.8 else None
        path = rng.choice(pages)
        event: dict[str, Any] = {
            "type": kind,
            "messageId": f"ajs-next-{rng.getrandbits(64):016x}",
            "anonymousId": f"{rng.getrandbits(128):032x}",
            "userId": user,
            "timestamp": f"2026-11-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000Z",
            "context": {
                "ip": f"203.0.113.{rng.randrange(256)}",
                "locale": rng.choice(["en-US", "de-DE", "fr-FR"]),
                "userAgent": (
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
                ),
                "library": {"name": "analytics.js", "version": "next-1.84.3"},
                "page": {
                    "path": path,
                    "url": f"https://shop.example.com{path}",
                    "title": "Example Shop",
                    "referrer": rng.choice(["", "https://www.google.com/"]),
                    "search": "",
                },
                "timezone": "Europe/Berlin",
                "screen": {"width": 1920, "height": 1080, "density": 1},
                "campaign": {"source": "newsletter", "medium": "email", "name": "winter-sale"},
            },
            "integrations": {},
            "sentAt": "2026-11-29T18:00:00.050Z",
        }
        if kind == "track":
            products = [
                {
                    "product_id": f"p{rng.randrange(999)}",
                    "sku": f"SKU-{rng.randrange(10**5)}",
                    "name": rng.choice(["Mug", "T-Shirt", "Poster"]),
                    "price": round(rng.uniform(1, 90), 2),
                    "quantity": rng.randrange(1, 4),
                }
                for _ in range(rng.randrange(1, 5))
            ]
            event["event"] = rng.choice(names)
            event["properties"] = {
                "order_id": f"o-{i}",
                "total": round(sum(p["price"] for p in products), 2),
                "currency": "EUR",
                "coupon": rng.choice([None, "SAVE10"]),
                "products": products,
            }
        elif kind == "identify":
            event["traits"] = {
                "email": f"user{i}@example.com",
                "name": "Ada Lovelace",
                "plan": rng.choice(["free", "pro"]),
                "createdAt": "2025-01-01T00:00:00.000Z",
                "logins": rng.randrange(100),
                "company": {"name": "Example GmbH", "employees": rng.randrange(5, 500)},
                "address": {"city": "Berlin", "country": "DE"},
            }
        else:
            event["name"] = "Home"
            event["properties"] = {
                "path": path,
                "title": "Example Shop",
                "url": f"https://shop.example.com{path}",
                "referrer": "",
                "search": "",
                "category": "Shop",
            }
        events.append(event)
    return events


def rate(work: Callable[[], int], seconds: float) -> float:
    """Operations per second of repeated `work()` passes (each returns its operation count) for `seconds`."""
    work()  # warm-up pass
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += work()
    return done / (time.perf_counter() - start)


def bench_mappings(oracle: NodeOracle, mappings: list[dict], events: list[dict], seconds: float) -> dict[str, float]:
    compiled = [compile(m).apply for m in mappings]

    def apply_all() -> int:
        for apply in compiled:
            for event in events:
                apply(event)
        return len(compiled) * len(events)

    def transform_all() -> int:
        for mapping in mappings:
            for event in events:
                transform(mapping, event)
        return len(mappings) * len(events)

    reference = oracle.call("mapping.bench", mappings=mappings, events=events, seconds=seconds)["per_second"]
    return {"compiled": rate(apply_all, seconds), "transform": rate(transform_all, seconds), "reference": reference}


def bench_corpus(oracle: NodeOracle, cases: list[dict], seconds: float) -> dict[str, float]:
    prepared: list[tuple[Any, dict]] = []
    for case in cases:
        try:
            prepared.append((compile(case["mapping"]).apply, case["event"]))
        except MappingError as error:
            prepared.append((error, case["event"]))

    def apply_all() -> int:
        for apply, event in prepared:
            try:
                if isinstance(apply, MappingError):
                    raise apply
                apply(event)
            except MappingError:
                pass
        return len(prepared)

    def transform_all() -> int:
        for case in cases:
            try:
                transform(case["mapping"], case["event"])
            except MappingError:
                pass
        return len(cases)

    reference = oracle.call("mapping.benchPairs", cases=cases, seconds=seconds)["per_second"]
    return {"compiled": rate(apply_all, seconds), "transform": rate(transform_all, seconds), "reference": reference}


def check_agreement(oracle: NodeOracle, cases: list[dict]) -> None:
    references = oracle.call("mapping.transformMany", cases=cases)
    for case, reference in zip(cases, references):
        if not same(outcome(case["mapping"], case["event"]), reference):
            raise SystemExit(f"engines disagree on {json.dumps(case)[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per engine and workload")
    args = parser.parse_args()

    events = realistic_events(EVENT_COUNT)
    corpus = json.loads((ROOT / "tests/fixtures/mapping-public.json").read_text(encoding="utf-8"))["cases"]
    size = sum(len(json.dumps(e, separators=(",", ":"))) for e in events) / len(events)
    with NodeOracle() as oracle:
        check_agreement(oracle, [{"mapping": m, "event": e} for m in PRESETS + LIQUID for e in events[:500]] + corpus)
        results = {
            f"(a) 1Flow presets x {EVENT_COUNT:,} events (avg {size:.0f} B)": bench_mappings(
                oracle, PRESETS, events, args.seconds
            ),
            f"(b) public corpus, {len(corpus)} pairs": bench_corpus(oracle, corpus, args.seconds),
            f"(c) @liquid mappings x {LIQUID_EVENT_COUNT:,} events": bench_mappings(
                oracle, LIQUID, events[:LIQUID_EVENT_COUNT], args.seconds
            ),
        }
    print(
        f"{'workload':44} {'ours apply/s':>13} {'ours transform/s':>17} {'actions-core/s':>15} "
        f"{'ratio apply':>12} {'ratio transform':>16}"
    )
    for name, r in results.items():
        print(
            f"{name:44} {r['compiled']:13,.0f} {r['transform']:17,.0f} {r['reference']:15,.0f} "
            f"{r['compiled'] / r['reference']:12.2f} {r['transform'] / r['reference']:16.2f}"
        )


if __name__ == "__main__":
    main()
