"""Pure rules: consultation lifecycle, outcomes, submissions, results shaping, schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import surveys as contract
from surveys import domain

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def consultation(**kwargs: Any) -> dict[str, Any]:
    base = {
        "id": "0b7c3d1e-0000-4000-8000-000000000001",
        "title": "Urgent care",
        "summary": "S",
        "description": "",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "opens_at": NOW - DAY,
        "closes_at": NOW + 10 * DAY,
        "status": "draft",
        "questionnaire": {
            "questions": [
                {
                    "id": "q1",
                    "type": "single_choice",
                    "text": "Pick",
                    "required": True,
                    "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                }
            ]
        },
        "outcome": None,
        "created_at": NOW - 2 * DAY,
        "updated_at": NOW - 2 * DAY,
        "opened_at": None,
        "closed_at": None,
    }
    return {**base, **kwargs}


# -- lifecycle -----------------------------------------------------------------------------


def test_open_a_draft() -> None:
    opened = domain.open_consultation(consultation(), NOW)
    assert opened["status"] == "open"
    assert opened["opened_at"] == NOW and opened["updated_at"] == NOW
    assert contract.accepting_responses(opened, NOW)


def test_opening_without_an_open_date_opens_now() -> None:
    opened = domain.open_consultation(consultation(opens_at=None), NOW)
    assert opened["opens_at"] == NOW


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"questionnaire": {"questions": []}}, "at least one question"),
        ({"closes_at": None}, "closing date"),
        ({"closes_at": NOW - timedelta(seconds=1)}, "future"),
        ({"opens_at": NOW + 5 * DAY, "closes_at": NOW + 4 * DAY}, "after the opening date"),
    ],
)
def test_open_needs_questions_and_a_future_close_date(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(Conflict) as exc:
        domain.open_consultation(consultation(**changes), NOW)
    assert words in exc.value.message


@pytest.mark.parametrize("status", ["open", "closed"])
def test_only_drafts_open(status: str) -> None:
    with pytest.raises(Conflict):
        domain.open_consultation(consultation(status=status), NOW)


def test_close_an_open_consultation() -> None:
    closed = domain.close_consultation(consultation(status="open"), NOW)
    assert closed["status"] == "closed" and closed["closed_at"] == NOW
    assert not contract.accepting_responses(closed, NOW)


@pytest.mark.parametrize("status", ["draft", "closed"])
def test_only_open_consultations_close(status: str) -> None:
    with pytest.raises(Conflict):
        domain.close_consultation(consultation(status=status), NOW)


def test_drafts_change_freely() -> None:
    changes = {
        "title": "New",
        "places": ["calderdale"],
        "priorities": [],
        "opens_at": NOW + DAY,
        "closes_at": NOW + 3 * DAY,
        "questionnaire": {"questions": []},
    }
    updated = domain.apply_update(consultation(), changes, NOW)
    assert {k: updated[k] for k in changes} == changes
    assert updated["updated_at"] == NOW


def test_open_consultations_change_only_text_and_close_date() -> None:
    c = consultation(status="open")
    updated = domain.apply_update(
        c, {"title": "T2", "summary": "S2", "description": "D2", "closes_at": NOW + 20 * DAY}, NOW
    )
    assert updated["title"] == "T2" and updated["closes_at"] == NOW + 20 * DAY
    for field in ("questionnaire", "places", "priorities", "opens_at"):
        with pytest.raises(Conflict) as exc:
            domain.apply_update(c, {field: c[field]}, NOW)
        assert field in exc.value.message


def test_open_consultation_close_date_must_stay_in_the_future() -> None:
    with pytest.raises(ValidationFailed) as exc:
        domain.apply_update(consultation(status="open"), {"closes_at": NOW - DAY}, NOW)
    assert "closes_at" in exc.value.errors


def test_close_date_must_follow_open_date() -> None:
    with pytest.raises(ValidationFailed) as exc:
        domain.apply_update(consultation(), {"closes_at": NOW - 2 * DAY}, NOW)
    assert exc.value.errors == {"closes_at": ["must be after the opening date"]}


def test_closed_consultations_cannot_change() -> None:
    with pytest.raises(Conflict):
        domain.apply_update(consultation(status="closed"), {"title": "x"}, NOW)


def test_due_to_close_waits_for_the_grace_period() -> None:
    c = consultation(status="open", closes_at=NOW)
    assert not domain.due_to_close(c, NOW)
    assert domain.due_to_close(c, NOW + domain.CLOSE_GRACE)
    assert not domain.due_to_close(consultation(status="draft", closes_at=NOW - DAY), NOW)


# -- outcome --------------------------------------------------------------------------------

OUTCOME = {
    "summary": "We listened",
    "decisions": [
        {"you_said": "Evening hours", "we_did": "Open till 8pm", "status": "done"},
        {
            "you_said": "Free parking",
            "we_did": "Not possible",
            "status": "not-taken-forward",
            "reason": "The land is not ours",
        },
    ],
}


def test_outcome_published_only_when_closed() -> None:
    published = domain.publish_outcome(consultation(status="closed"), OUTCOME, NOW)
    assert published["outcome"]["summary"] == "We listened"
    assert published["outcome"]["published_at"] == NOW.isoformat()
    assert published["outcome"]["decisions"][1]["reason"] == "The land is not ours"
    for status in ("draft", "open"):
        with pytest.raises(Conflict):
            domain.publish_outcome(consultation(status=status), OUTCOME, NOW)


@pytest.mark.parametrize(
    "decision, path",
    [
        ({"you_said": "x", "we_did": "y", "status": "not-taken-forward"}, "decisions.0.reason"),
        (
            {"you_said": "x", "we_did": "y", "status": "not-taken-forward", "reason": "  "},
            "decisions.0.reason",
        ),
        ({"you_said": "x", "we_did": "y", "status": "maybe"}, "decisions.0.status"),
    ],
)
def test_outcome_rules(decision: dict[str, Any], path: str) -> None:
    assert path in domain.check_outcome({"summary": "s", "decisions": [decision]})
    with pytest.raises(ValidationFailed) as exc:
        domain.publish_outcome(
            consultation(status="closed"), {"summary": "s", "decisions": [decision]}, NOW
        )
    assert f"outcome.{path}" in exc.value.errors


@pytest.mark.parametrize("status", domain.DECISION_STATUSES[:3])
def test_other_decision_statuses_need_no_reason(status: str) -> None:
    assert (
        domain.check_outcome(
            {"summary": "s", "decisions": [{"you_said": "x", "we_did": "y", "status": status}]}
        )
        == {}
    )


def test_event_payload_is_public_facts_only() -> None:
    payload = domain.event_payload(consultation(status="open"))
    assert payload == {
        "consultation_id": "0b7c3d1e-0000-4000-8000-000000000001",
        "title": "Urgent care",
        "summary": "S",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "status": "open",
        "opens_at": (NOW - DAY).isoformat(),
        "closes_at": (NOW + 10 * DAY).isoformat(),
        "closed_at": None,
    }
    closed = domain.close_consultation(consultation(status="open"), NOW)
    assert domain.event_payload(closed)["closed_at"] == NOW.isoformat()


# -- results shaping ----------------------------------------------------------------------------


def test_shape_results_percentages_means_and_ranking() -> None:
    c = consultation(
        questionnaire={
            "questions": [
                {
                    "id": "c",
                    "type": "single_choice",
                    "text": "C",
                    "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                },
                {"id": "l", "type": "likert", "text": "L"},
                {"id": "r", "type": "rating", "text": "R"},
                {
                    "id": "k",
                    "type": "ranking",
                    "text": "K",
                    "options": [{"value": "x", "label": "X"}, {"value": "y", "label": "Y"}],
                },
                {"id": "t", "type": "free_text", "text": "T"},
            ]
        }
    )
    results = domain.shape_results(
        c,
        3,
        {"place": "leeds"},
        {
            "answered": {"c": 3, "l": 2, "r": 2, "k": 2, "t": 1},
            "counts": {"c": {"a": 2, "b": 1}, "l": {"agree": 2}, "r": {"3": 1, "10": 1}},
            "means": {"l": 4, "r": 6.5},
            "ranking": {"k": {"x": (1.5, 1), "y": (1.25, 1)}},
            "free_text": {"t": [{"response_id": 1, "text": "hi"}]},
        },
    )
    assert results["total_responses"] == 3 and results["filters"] == {"place": "leeds"}
    c_q, l_q, r_q, k_q, t_q = results["questions"]
    assert c_q["options"] == [
        {"value": "a", "label": "A", "count": 2, "percent": 66.7},
        {"value": "b", "label": "B", "count": 1, "percent": 33.3},
    ]
    assert l_q["mean"] == 4.0 and l_q["options"][1] == {
        "value": "agree",
        "label": "Agree",
        "count": 2,
        "percent": 100.0,
    }
    assert len(l_q["options"]) == 5
    assert r_q["mean"] == 6.5 and [d["count"] for d in r_q["distribution"]] == [
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
    ]
    assert [r["value"] for r in k_q["ranking"]] == ["y", "x"]
    assert t_q["free_text"] == [{"response_id": 1, "text": "hi"}]


def test_shape_results_with_no_responses() -> None:
    results = domain.shape_results(
        consultation(),
        0,
        {},
        {"answered": {}, "counts": {}, "means": {}, "ranking": {}, "free_text": {}},
    )
    assert results["questions"][0]["options"][0]["percent"] == 0.0


def test_export_columns_avoid_clashes() -> None:
    c = consultation(
        questionnaire={
            "questions": [
                {"id": "place", "type": "rating", "text": "R"},
                {"id": "q2", "type": "rating", "text": "R"},
            ]
        }
    )
    columns = domain.export_columns(c)
    assert columns[:6] == [
        "receipt_code",
        "submitted_at",
        "place",
        "channel",
        "question:place",
        "q2",
    ]
    assert columns[-1] == "postcode_district"
