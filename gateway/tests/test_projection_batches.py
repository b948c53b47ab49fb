"""Issue 15: events applied many at a time (``BATCHED``: the projections' batches and the
rebuild) leave the read model exactly as applying them one by one (``HANDLERS``) does:
counts, places, reach rows, tombstones, an event seen twice."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.db import Pool
from gateway.readmodels.projections import HANDLERS
from gateway.readmodels.rebuild import _columns, _only_in, apply_page

TABLES = ("consultation_summaries", "responses_by_place", "feedback_facts", "reach_contributions")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": NOW.isoformat(),
        **fields,
    }


def responses(cid: str) -> list[dict[str, Any]]:
    groups = [{}, {"age_band": "25-34", "sex": "female", "imd_decile": 2}, {"ethnicity": "asian"}]
    made = [
        event(
            "response_submitted",
            consultation_id=cid,
            response_id=rid,
            receipt_code=f"R{rid}",
            place=(None, "leeds", "wakefield")[rid % 3],
            channel=("online", "paper")[rid % 2],
            submitted_at=(NOW - timedelta(minutes=rid)).isoformat(),
            equality=groups[rid % 3],
        )
        for rid in range(1, 13)
    ]
    again = {**made[4], "place": "calderdale"}  # delivered twice: counted twice, last wins
    gone = event("response_deleted", consultation_id=cid, response_id=3, place="wakefield")
    return [*made[:6], again, gone, *made[6:], {**made[2], "event_id": str(uuid.uuid4())}]


def feedback(cid: str) -> list[dict[str, Any]]:
    ids = [str(uuid.uuid4()) for _ in range(4)]
    return [
        event(
            "feedback_received",
            feedback_id=ids[i % 4],
            kind="complaint",
            place=(None, "leeds", "bradford-craven")[i % 3],
            channel="phone",
            consultation_id=cid if i % 2 else None,
            received_at=(NOW - timedelta(hours=i)).isoformat(),
            urgent=i == 5,
            equality={"sex": "male"} if i % 2 else {},
        )
        for i in range(7)
    ]


@pytest.fixture
def schemas(db: Pool) -> Iterator[tuple[str, str]]:
    names = (f"one_{secrets.token_hex(3)}", f"many_{secrets.token_hex(3)}")
    with db.connection() as conn:
        for schema in names:
            conn.execute(f"CREATE SCHEMA {schema}")
            for table in (*TABLES, "reach_removed"):
                conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    yield names
    with db.connection() as conn:
        for schema in names:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_batch_of_events_changes_the_read_model_as_one_at_a_time_does(
    db: Pool, schemas: tuple[str, str]
) -> None:
    one, many = schemas
    cid = str(uuid.uuid4())
    by_source = {"surveys": responses(cid), "feedback": feedback(cid)}
    for source, events in by_source.items():
        for e in events:
            with db.connection() as conn:
                conn.execute(f"SET LOCAL search_path TO {one}, public")
                HANDLERS[source, e["event_type"]][1](conn, e)
        with db.connection() as conn:
            conn.execute(f"SET LOCAL search_path TO {many}, public")
            assert apply_page(conn, source, events) == len(events)
    with db.connection() as conn:
        for table in (*TABLES, "reach_removed"):
            columns = _columns(conn, table)
            assert _only_in(conn, one, many, table, columns) == [], table
            assert _only_in(conn, many, one, table, columns) == [], table
        counted = conn.execute(
            f"SELECT response_count FROM {many}.consultation_summaries WHERE id = %s", (cid,)
        ).fetchone()
        reach = conn.execute(f"SELECT count(*) AS n FROM {many}.reach_contributions").fetchone()
    # 12, one twice, one deleted; replayed after its deletion, it is not counted again
    assert counted["response_count"] == 12
    assert reach["n"] == 11 + 4  # response 3 deleted for good; four feedback items
