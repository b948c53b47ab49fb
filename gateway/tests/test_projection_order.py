"""A response's deletion applied before its submission (two replicas of the read model,
or a redelivery) leaves the read model as the other order does: the response is not
counted, has no reach row and keeps its tombstone, one event at a time or in a batch."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from engage_common.db import Pool
from gateway.readmodels.projections import HANDLERS
from gateway.readmodels.rebuild import _columns, _only_in, apply_page

TABLES = (
    "consultation_summaries",
    "responses_by_place",
    "reach_contributions",
    "reach_removed",
    "answer_contributions",
)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": NOW.isoformat(),
        **fields,
    }


def submitted(cid: str, rid: int) -> dict[str, Any]:
    return event(
        "response_submitted",
        consultation_id=cid,
        response_id=rid,
        receipt_code=f"R{rid}",
        place="leeds",
        channel="online",
        submitted_at=NOW.isoformat(),
        equality={"sex": "female"},
    )


def deleted(cid: str, rid: int) -> dict[str, Any]:
    return event("response_deleted", consultation_id=cid, response_id=rid, place="leeds")


@pytest.fixture
def schemas(db: Pool) -> Iterator[tuple[str, str]]:
    names = (f"first_{secrets.token_hex(3)}", f"second_{secrets.token_hex(3)}")
    with db.connection() as conn:
        for schema in names:
            conn.execute(f"CREATE SCHEMA {schema}")
            for table in TABLES:
                conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    yield names
    with db.connection() as conn:
        for schema in names:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def one_by_one(db: Pool, schema: str, events: list[dict[str, Any]]) -> None:
    for e in events:
        with db.connection() as conn:
            conn.execute(f"SET LOCAL search_path TO {schema}, public")
            HANDLERS["surveys", e["event_type"]][1](conn, e)


def in_pages(db: Pool, schema: str, events: list[dict[str, Any]]) -> None:
    with db.connection() as conn:
        conn.execute(f"SET LOCAL search_path TO {schema}, public")
        apply_page(conn, "surveys", events)


def read_model(db: Pool, schema: str, cid: str) -> dict[str, Any]:
    with db.connection() as conn:
        conn.execute(f"SET LOCAL search_path TO {schema}, public")
        summary = conn.execute(
            "SELECT response_count FROM consultation_summaries WHERE id = %s", (cid,)
        ).fetchone()
        places = conn.execute(
            "SELECT place, count FROM responses_by_place WHERE consultation_id = %s", (cid,)
        ).fetchall()
        reach = conn.execute("SELECT source_id FROM reach_contributions ORDER BY 1").fetchall()
        removed = conn.execute("SELECT source_id FROM reach_removed ORDER BY 1").fetchall()
    return {
        "responses": summary["response_count"] if summary else None,
        "places": {r["place"]: r["count"] for r in places},
        "reach": [r["source_id"] for r in reach],
        "removed": [r["source_id"] for r in removed],
    }


def assert_same(db: Pool, one: str, other: str) -> None:
    with db.connection() as conn:
        for table in TABLES:
            columns = _columns(conn, table)
            assert _only_in(conn, one, other, table, columns) == [], table
            assert _only_in(conn, other, one, table, columns) == [], table


@pytest.mark.parametrize("apply", [one_by_one, in_pages], ids=["one by one", "in pages"])
def test_a_deletion_before_its_submission_counts_as_after_it(
    db: Pool, schemas: tuple[str, str], apply: Any
) -> None:
    first, second = schemas
    cid = str(uuid.uuid4())
    kept = [submitted(cid, rid) for rid in (1, 2, 3)]
    apply(db, first, [*kept, submitted(cid, 7), deleted(cid, 7)])
    apply(db, second, [deleted(cid, 7), *kept, submitted(cid, 7)])
    assert_same(db, first, second)
    expected = {
        "responses": 3,
        "places": {"leeds": 3},
        "reach": ["1", "2", "3"],
        "removed": ["7"],
    }
    assert read_model(db, first, cid) == expected
    assert read_model(db, second, cid) == expected
    # A redelivered deletion, or a submission redelivered with another event id, after
    # both: nothing changes.
    apply(db, first, [deleted(cid, 7), submitted(cid, 7)])
    assert read_model(db, first, cid) == expected


def test_a_submission_and_deletion_in_one_batch_of_a_rebuild_page(
    db: Pool, schemas: tuple[str, str]
) -> None:
    first, second = schemas
    cid = str(uuid.uuid4())
    page = [submitted(cid, 1), deleted(cid, 2), submitted(cid, 2), submitted(cid, 3)]
    in_pages(db, first, page)
    one_by_one(db, second, page)
    assert_same(db, first, second)
    assert read_model(db, first, cid)["responses"] == 2
