"""Issue 15: results filtered by one equality answer come from counts kept by triggers
(migration 009), and those counts equal counting the matching responses (the scan),
after responses are stored, their answers change, their equality answers change, and
they are erased."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engage_common.db import connect
from engage_contracts.reference import EQUALITY_VERSION
from surveys import domain, store

QUESTIONNAIRE = {
    "questions": [
        {
            "id": "use",
            "type": "single_choice",
            "text": "Which?",
            "options": [{"value": "gp", "label": "GP"}, {"value": "ae", "label": "A&E"}],
        },
        {
            "id": "needs",
            "type": "multiple_choice",
            "text": "What?",
            "options": [{"value": v, "label": v} for v in ("bus", "ramp", "bsl")],
        },
        {
            "id": "order",
            "type": "ranking",
            "text": "Rank",
            "options": [{"value": v, "label": v} for v in ("x", "y", "z")],
        },
        {"id": "score", "type": "rating", "text": "Score"},
        {"id": "agree", "type": "likert", "text": "Agree?"},
        {"id": "why", "type": "free_text", "text": "Why?"},
    ]
}
AGES = ("16-24", "25-34", "65-74")
CONDITIONS = (["autism"], ["autism", "physical"], ["none"])


def response(cid: str, i: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "use": ("gp", "ae")[i % 2],
        "needs": [["bus"], ["ramp", "bsl"], []][i % 3],
        "order": [["x", "y", "z"], ["z", "x", "y"]][i % 2],
        "score": i % 11,
        "agree": ("agree", "disagree", "neutral")[i % 3],
    }
    if i % 2:
        answers["why"] = f"Reason {i}"
    equality = (
        {"age_band": AGES[i % 3], "sex": ("female", "male")[i % 2], "conditions": CONDITIONS[i % 3]}
        if i % 4
        else None
    )
    return {
        "submission_id": str(uuid.uuid4()),
        "receipt_code": f"EQ-{uuid.uuid4().hex[:10]}",
        "consultation_id": cid,
        "answers": answers,
        "place": ("leeds", "wakefield", None)[i % 3],
        "consent": {"given": True, "version": "2026-11"},
        "submitted_at": datetime.now(UTC),
        "channel": "online",
        "redacted_answers": {"why": answers["why"]} if "why" in answers else {},
        "redactions": {"why": []} if "why" in answers else {},
        "redactor_version": "test",
        "equality": equality,
        "derived_place": None,
    }


FILTERS = [
    ("age_band", "25-34", None),
    ("age_band", "16-24", "leeds"),
    ("sex", "female", None),
    ("conditions", "autism", None),
    ("conditions", "physical", "wakefield"),
]


def rounded(value: Any) -> Any:
    """Means to 6 places (a mean from sums and one from ``avg`` differ in the last digits)."""
    if isinstance(value, Decimal):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(rounded(v) for v in value)
    return value


def same_as_a_scan(conn: Any, consultation: dict[str, Any]) -> None:
    cid = str(consultation["id"])
    for field, group, place in FILTERS:
        filters = {field: group, **({"place": place} if place else {})}
        counted = domain.counted_aggregates(
            consultation, store.equality_result_counts(conn, cid, field, group, place)
        )
        scanned = store.aggregate_results(conn, consultation, filters)
        assert rounded(counted) == rounded(scanned), filters
        for by in filters:
            others = {k: v for k, v in filters.items() if k != by}
            assert store.counted_breakdown(conn, cid, by, others) == {
                k: v for k, v in store.breakdown(conn, cid, by, others).items() if v
            }, (by, others)


def test_equality_counts_follow_every_change(
    make_database: Callable[[str], str], open_consultation: Any
) -> None:
    url = make_database("surveys")
    with connect(url) as conn:
        cid = open_consultation(conn, QUESTIONNAIRE, "Equality counts")
        ids = store.insert_responses(conn, [response(cid, i) for i in range(40)])
        consultation = store.get_consultation(conn, cid)
        assert consultation is not None
        same_as_a_scan(conn, consultation)
        # answers change (the purge drops free text), equality answers change, erasure
        conn.execute(
            "UPDATE responses SET answers = answers - 'why' WHERE id = ANY(%s)", (ids[:9],)
        )
        conn.execute(
            "UPDATE equality_monitoring SET answers = answers - 'sex', question_set = %s"
            " WHERE response_id = ANY(%s)",
            (EQUALITY_VERSION, ids[5:15]),
        )
        store.delete_responses(conn, ids[10:20])
        conn.execute("DELETE FROM equality_monitoring WHERE response_id = ANY(%s)", (ids[20:24],))
        same_as_a_scan(conn, consultation)
        left = conn.execute(
            "SELECT sum(n) AS n FROM equality_result_counts WHERE consultation_id = %s"
            " AND field = 'age_band' AND question_id = ''",
            (cid,),
        ).fetchone()
        stored = conn.execute(
            "SELECT count(*) AS n FROM equality_monitoring WHERE consultation_id = %s"
            " AND answers ? 'age_band'",
            (cid,),
        ).fetchone()
        assert left["n"] == stored["n"] > 0


def test_counting_triggers_run_without_jit(make_database: Callable[[str], str]) -> None:
    """Migration 010: the counting statements are costed far above ``jit_above_cost``
    (set-returning JSON functions guessed at 100 rows each), so with JIT PostgreSQL
    compiled them for every batch stored; the trigger functions turn it off."""
    with connect(make_database("surveys")) as conn:
        rows = conn.execute(
            "SELECT proname, proconfig FROM pg_proc WHERE proname = ANY(%s)",
            (
                [
                    "count_results",
                    "count_equality_results",
                    "recount_equality_results",
                    "uncount_equality_results",
                ],
            ),
        ).fetchall()
    assert len(rows) == 4
    for row in rows:
        assert "jit=off" in (row["proconfig"] or []), row
