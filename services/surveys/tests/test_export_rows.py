"""Issue 15: a page of the CSV export is shaped by PostgreSQL into one JSON text
(``store.export_rows``), passed on undecoded (``domain.export_shaped``). It must say
what the page shaped in Python says (``store.export_page`` -> ``domain.export_page``),
page by page, whatever the page's size and where it starts, and tell a page with a
free-text answer not yet redacted (shaped in Python, redacted as it is read) from one
whose only such answer is in the look-ahead row."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from engage_common.db import connect
from engage_contracts import surveys as contract
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
        {"id": "score", "type": "rating", "text": "Score"},
        {"id": "why", "type": "free_text", "text": "Why?"},
        {"id": "age_band", "type": "free_text", "text": "A question named like a column"},
    ]
}
TEXTS = ['Reason, "quoted"', "👨‍👩‍👧 \u200fשלום e\u0301", "line\nbreak \\ back", "=1+2"]


def response(cid: str, i: int, at: datetime) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "use": ("gp", "ae")[i % 2],
        "needs": [["bus"], ["ramp", "bsl"], []][i % 3],
        "score": [7, 2.5, 0][i % 3],
    }
    if i % 3:
        answers["why"] = TEXTS[i % len(TEXTS)]
    equality = {"age_band": "25-34", "conditions": ["autism", "physical"]} if i % 4 else None
    return {
        "submission_id": str(uuid.uuid4()),
        "receipt_code": f"EX-{i:04d}",
        "consultation_id": cid,
        "answers": answers,
        "place": ("leeds", None)[i % 2],
        "consent": {"given": True, "version": "2026-11"},
        # whole seconds and fractions of one: isoformat leaves ".000000" out
        "submitted_at": at + timedelta(seconds=i, microseconds=(0, 1, 250000)[i % 3]),
        "channel": "online",
        "redacted_answers": {"why": f"[redacted] {i}"} if "why" in answers else {},
        "redactions": {"why": []} if "why" in answers else {},
        "redactor_version": "test",
        "equality": equality,
        "derived_place": None,
    }


def in_python(conn: Any, consultation: dict[str, Any], after: int, limit: int) -> dict[str, Any]:
    """The page as the service shapes it when a row is not yet redacted (here every row
    is, stored or left out)."""
    cid, questionnaire = str(consultation["id"]), consultation["questionnaire"]
    rows = store.export_page(conn, cid, after, limit + 1)
    shown = [{**r, "answers": domain.shown_answers(r, questionnaire, {})} for r in rows]
    return domain.export_page(consultation, shown, limit)


def shaped(conn: Any, consultation: dict[str, Any], after: int, limit: int) -> dict[str, Any]:
    questionnaire = consultation["questionnaire"]
    found = store.export_rows(conn, str(consultation["id"]), questionnaire, after, limit)
    assert found["pending"] is False
    return domain.export_shaped(consultation, found)


def test_pages_shaped_by_the_database_are_the_pages_shaped_in_python(
    make_database: Callable[[str], str], open_consultation: Any
) -> None:
    url = make_database("surveys")
    now = datetime.now(UTC).replace(microsecond=0)
    with connect(url) as conn:
        cid = open_consultation(conn, QUESTIONNAIRE, "Export")
        ids = store.insert_responses(conn, [response(cid, i, now) for i in range(7)])
        consultation = store.get_consultation(conn, cid)
        assert consultation is not None
        for limit in range(1, 9):
            for after in [0, *ids]:
                fast, slow = (
                    shaped(conn, consultation, after, limit),
                    in_python(conn, consultation, after, limit),
                )
                assert json.loads(fast["rows"]) == json.loads(slow["rows"]), (after, limit)
                assert fast == {**slow, "rows": fast["rows"]}, (after, limit)
                for page in (fast, slow):
                    assert contract.ExportRowsSchema().validate(page) == {}
        whole = json.loads(shaped(conn, consultation, 0, 7)["rows"])
        first = dict(zip(domain.export_columns(consultation), whole[1], strict=True))
        assert first["needs"] == "ramp; bsl" and first["score"] == 2.5
        assert first["why"] == "[redacted] 1" and first["question:age_band"] is None
        assert first["age_band"] == "25-34" and first["conditions"] == "autism; physical"
        assert first["submitted_at"] == (now + timedelta(seconds=1, microseconds=1)).isoformat()
        assert shaped(conn, consultation, ids[-1], 5) == {
            "columns": domain.export_columns(consultation),
            "rows": "[]",
            "next_after": None,
        }

        # A free-text answer not redacted yet: the page holding it is pending, not the page
        # whose look-ahead row it is.
        conn.execute("UPDATE responses SET redacted_answers = '{}' WHERE id = %s", (ids[2],))
        pending = store.export_rows(conn, cid, QUESTIONNAIRE, 0, 3)
        assert pending["pending"] is True and pending["last"] == ids[2]
        before = store.export_rows(conn, cid, QUESTIONNAIRE, 0, 2)
        assert before["pending"] is False and before["more"] is True
        assert before["last"] == ids[1]
        after = store.export_rows(conn, cid, QUESTIONNAIRE, ids[2], 4)
        assert after["pending"] is False and after["more"] is False
        assert after["last"] == ids[6]
