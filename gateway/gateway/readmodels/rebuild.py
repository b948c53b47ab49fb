"""Rebuild the read models from scratch by replaying every event the services have
published (each answers ``replay_events`` from its outbox), into a schema of their own,
through the same ``HANDLERS`` the projections service applies; then compare with the
read model kept from live events, and with ``swap`` put the rebuilt rows in its place.

    ./engage manage rebuild-read-models          # rebuild and compare: differences, exit 1
    ./engage manage rebuild-read-models --swap   # ... then replace the live rows

Swap with the projections process stopped (an event applied live during the swap could
be counted twice); start it again after.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engage_common.db import Pool
from gateway.readmodels.projections import BATCHED, HANDLERS

SOURCES = ("surveys", "feedback", "events", "outcomes")
TABLES = (
    "consultation_summaries",
    "responses_by_place",
    "feedback_facts",
    "feedback_themes",
    "answer_contributions",
    "point_contributions",
    "published_quotes",
    "outcome_records",
    "outcome_record_history",
    "reach_contributions",
    "reach_removed",
    # Counts of the tables above (migration 013): kept by triggers on the live tables,
    # counted once from the rebuilt rows (``fill_read_model_counts``), compared and
    # swapped like them.
    "reach_day_counts",
    "reach_month_counts",
    "reach_consultation_counts",
    "contribution_day_counts",
    "contribution_month_counts",
)
# Columns that say when a row was last written, not what it holds.
VOLATILE = {"updated_at"}
PAGE = 5000  # events a replay call and a transaction (the services' REPLAY_MAX)


@dataclass
class Report:
    events: dict[str, int] = field(default_factory=dict)
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # table: (live, rebuilt)
    differences: dict[str, list[str]] = field(default_factory=dict)
    swapped: bool = False

    @property
    def same(self) -> bool:
        return not self.differences


def replayed(call: Callable[..., Any], source: str) -> Iterator[list[dict[str, Any]]]:
    """Every event ``source`` published, oldest first, a page at a time."""
    after = None
    while True:
        page = call(source, "replay_events", after, PAGE)
        yield page["events"]
        if page["next"] is None:
            return
        after = page["next"]


def apply_page(conn: Any, source: str, events: list[dict[str, Any]]) -> int:
    """Apply a page of ``source``'s events in order; a run of events of a type in
    ``BATCHED`` in one call. How many were applied."""
    count = 0
    run: list[dict[str, Any]] = []
    run_type = None
    for event in events:
        key = (source, event.get("event_type"))
        if run and key != (source, run_type):
            BATCHED[source, run_type](conn, run)
            run = []
        if key in BATCHED:
            run.append(event)
            run_type = key[1]
        elif key in HANDLERS:
            HANDLERS[key][1](conn, event)
        else:
            continue
        count += 1
    if run:
        BATCHED[source, run_type](conn, run)
    return count


def _columns(conn: Any, table: str, volatile: bool = False) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [r["column_name"] for r in rows if volatile or r["column_name"] not in VOLATILE]


def _count(conn: Any, schema: str, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM {schema}.{table}").fetchone()["n"]


def _only_in(conn: Any, one: str, other: str, table: str, columns: list[str]) -> list[str]:
    """Up to five rows of ``one.table`` that ``other.table`` does not have (as many times),
    compared in the database: a read model of a million rows is never loaded here."""
    listed = ", ".join(columns)
    rows = conn.execute(
        f"SELECT {listed} FROM {one}.{table} EXCEPT ALL SELECT {listed} FROM {other}.{table}"
        f" ORDER BY 1 LIMIT 5"
    ).fetchall()
    return [json.dumps(r, sort_keys=True, default=str) for r in rows]


def rebuild(db: Pool, call: Callable[..., Any], swap: bool = False) -> Report:
    """Replay every source into a fresh schema, compare with the live tables, and with
    ``swap`` replace the live rows. ``call(service, method, *args)`` is an RPC."""
    schema = f"rebuild_{secrets.token_hex(4)}"
    report = Report()
    with db.connection() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        for table in TABLES:
            conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    try:
        for source in SOURCES:
            count = 0
            for page in replayed(call, source):
                with db.connection() as conn:
                    conn.execute(f"SET LOCAL search_path TO {schema}, public")
                    count += apply_page(conn, source, page)
            report.events[source] = count
        with db.connection() as conn:
            conn.execute("SELECT fill_read_model_counts(%s)", (schema,))
        with db.connection() as conn:
            for table in TABLES:
                columns = _columns(conn, table)
                report.rows[table] = (_count(conn, "public", table), _count(conn, schema, table))
                only_live = _only_in(conn, "public", schema, table, columns)
                only_rebuilt = _only_in(conn, schema, "public", table, columns)
                if only_live or only_rebuilt:
                    report.differences[table] = [f"live only: {r}" for r in only_live] + [
                        f"rebuilt only: {r}" for r in only_rebuilt
                    ]
            if swap:
                # The counts are replaced with the rows: the triggers would count them twice.
                conn.execute("SET LOCAL engage.counts_paused = 'on'")
                for table in TABLES:
                    listed = ", ".join(_columns(conn, table, volatile=True))
                    conn.execute(f"DELETE FROM public.{table}")
                    conn.execute(
                        f"INSERT INTO public.{table} ({listed})"
                        f" SELECT {listed} FROM {schema}.{table}"
                    )
                report.swapped = True
    finally:
        with db.connection() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return report
