"""Staff feedback search at scale, against the real RabbitMQ and PostgreSQL.

    .venv/bin/python bench/bench_feedback_search.py [--items 200000] [--repeats 40]

Fills a fresh feedback database with ``--items`` realistic items (PostgreSQL COPY), runs
the feedback service in this process, and times ``feedback.search`` over RPC, as the
gateway calls it, for a mix of queries (text, filters, both, deep pages). Prints p50, p95
and max per query and over all of them. Target (issue 10): p95 under 100 ms at 200,000
items. Creates and removes its own vhost and database. See bench/README.md.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from nameko.containers import ServiceContainer  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from engage_common.db import connect, drop_database  # noqa: E402
from engage_common.migrate import migrate  # noqa: E402
from engage_common.vhosts import create_vhost, delete_vhost  # noqa: E402
from engage_contracts.feedback import COMMON_THEMES, KINDS  # noqa: E402
from engage_contracts.reference import places  # noqa: E402
from feedback.service import FeedbackService  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AMQP_BASE = os.environ.get("BENCH_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672")
PG_BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MIGRATIONS = ROOT / "services/feedback/feedback/migrations"

OPENINGS = [
    "I waited {n} weeks for an appointment at the {place} surgery.",
    "The staff on ward {n} were kind and explained everything.",
    "Could not get through on the phone at 8am for {n} days running.",
    "My mum's carer was not told about her discharge from hospital.",
    "Parking at the hospital cost me {n} pounds for a short visit.",
    "The pharmacy ran out of my prescription again.",
    "Please keep face to face appointments for people who are not online.",
    "Mental health support for my teenager took {n} months to start.",
    "The community nurse was brilliant with my dad.",
    "There is no bus to the new clinic from our estate.",
]
CLOSINGS = [
    "Nobody called me back.",
    "Thank you to everyone involved.",
    "It would help to have information in other languages.",
    "Listen to us when we say something is wrong.",
    "The receptionist was very helpful.",
    "We felt ignored.",
    "",
]
CHANNELS = ["online", "web-form", "phone", "email", "letter", "event", "healthwatch", "partner"]
STATUSES = ["received", "triaged", "responded", "closed"]


def fill(url: str, items: int) -> float:
    """COPY ``items`` items into feedback_items; seconds taken."""
    rng = random.Random(2026)
    place_codes = list(places())
    theme_slugs = [slug for slug, _, _ in COMMON_THEMES]
    now = datetime.now(UTC)
    started = time.perf_counter()
    columns = (
        "id, submission_id, receipt_code, kind, about, text, redactor_version, language_check,"
        " urgent, place, channel, status, themes, received_at, reply_by, suggested_themes"
    )
    with connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY feedback_items ({columns}) FROM STDIN") as copy:
            for n in range(items):
                text = rng.choice(OPENINGS).format(n=rng.randint(1, 12), place="local")
                text = f"{text} {rng.choice(CLOSINGS)}".strip()
                copy.write_row(
                    (
                        uuid.uuid4(),
                        uuid.uuid4(),
                        f"BNCH-{n:08d}",
                        rng.choice(KINDS),
                        rng.choice(["GP surgery", "Hospital", "Pharmacy", "Community services"]),
                        text,
                        "bench",
                        "not-checked-automatically" if rng.random() < 0.01 else "checked",
                        rng.random() < 0.002,
                        rng.choice(place_codes) if rng.random() < 0.9 else None,
                        rng.choice(CHANNELS),
                        rng.choice(STATUSES),
                        rng.sample(theme_slugs, rng.randint(0, 2)),
                        now - timedelta(minutes=rng.randint(0, 730 * 24 * 60)),
                        "none",
                        json.dumps([]),
                    )
                )
        conn.execute("ANALYZE feedback_items")
    return time.perf_counter() - started


def queries(place: str) -> dict[str, dict[str, object]]:
    year_ago = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    return {
        "newest, no filter": {},
        "text 'appointments'": {"q": "appointments"},
        "text + place": {"q": "waited weeks", "place": place},
        "theme": {"theme": "waiting-times"},
        "status + overdue": {"status": "received", "overdue": True},
        "text + channel + kind": {"q": "phone", "channel": "phone", "kind": "concern"},
        "rare text": {"q": "languages"},
        "date range + theme": {"received_from": year_ago, "theme": "transport"},
        "urgent": {"urgent": True},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    run = secrets.token_hex(3)
    vhost = f"engage-bench-{run}"
    url = PG_BASE.rsplit("/", 1)[0] + f"/engage_bench_{run}"
    amqp = create_vhost(vhost, AMQP_BASE)
    try:
        migrate(url, MIGRATIONS)
        took = fill(url, args.items)
        print(f"filled {args.items:,} items by COPY in {took:.1f}s")
        config = {"AMQP_URI": amqp, "DATABASE_URL": url}
        container = ServiceContainer(FeedbackService, config)
        container.start()
        try:
            with ClusterRpcProxy(config, timeout=30) as rpc:
                everything: list[float] = []
                place = next(iter(places()))
                for name, query in queries(place).items():
                    timings, found = [], 0
                    for i in range(args.repeats + 3):
                        t0 = time.perf_counter()
                        page = rpc.feedback.search({**query, "limit": 50})
                        samples = [(time.perf_counter() - t0) * 1000]
                        # every fourth search also reads the next 4 pages (keyset), each timed
                        for _ in range(4 if i % 4 == 0 else 0):
                            if not page["next"]:
                                break
                            t0 = time.perf_counter()
                            page = rpc.feedback.search(
                                {**query, "limit": 50, "after": page["next"]}
                            )
                            samples.append((time.perf_counter() - t0) * 1000)
                        found = max(found, len(page["items"]))
                        if i >= 3:  # the first three warm the caches
                            timings += samples
                    everything += timings
                    print(
                        f"search {name:24s} p50 {statistics.median(timings):6.1f} ms"
                        f"  p95 {percentile(timings, 0.95):6.1f} ms  max {max(timings):6.1f} ms"
                        f"  ({found} on the last page)"
                    )
                print(
                    f"search overall ({len(everything)} searches) p50"
                    f" {statistics.median(everything):.1f} ms, p95"
                    f" {percentile(everything, 0.95):.1f} ms (target: p95 < 100 ms)"
                )
        finally:
            container.stop()
    finally:
        drop_database(url)
        delete_vhost(vhost)


if __name__ == "__main__":
    main()
