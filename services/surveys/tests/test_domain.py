"""Pure rules: consultation lifecycle, outcomes, submissions, results shaping, schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import surveys as contract
from engage_contracts.reference import consent_wordings, current_consent
from surveys import domain

# From the ICS configuration the tests run under (the default one).
CONSENT_VERSION = current_consent()["version"]
CONSENT_WORDINGS = consent_wordings()

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
        },
        threshold=1,  # the arithmetic, with the small-number rule off (tested below)
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
    assert t_q["free_text"] == [] and t_q["free_text_truncated"] is True  # paged apart


def test_results_show_no_count_of_people_below_the_threshold() -> None:
    """Issue 9: counts 1-4 are hidden (and what would give them away), zeros shown."""
    c = consultation(
        questionnaire={
            "questions": [
                {
                    "id": "c",
                    "type": "single_choice",
                    "text": "C",
                    "options": [
                        {"value": "a", "label": "A"},
                        {"value": "b", "label": "B"},
                        {"value": "z", "label": "Z"},
                    ],
                },
                {"id": "r", "type": "rating", "text": "R"},
                {
                    "id": "k",
                    "type": "ranking",
                    "text": "K",
                    "options": [{"value": "x", "label": "X"}, {"value": "y", "label": "Y"}],
                },
            ]
        }
    )
    results = domain.shape_results(
        c,
        30,
        {},
        {
            "answered": {"c": 30, "r": 3, "k": 30},
            "counts": {"c": {"a": 27, "b": 3}, "r": {"3": 1, "10": 2}},
            "means": {"r": 7.7},
            "ranking": {"k": {"x": (1.1, 27), "y": (1.9, 3)}},
            "free_text": {},
        },
    )
    assert results["small_number_threshold"] == 5 and results["suppressed"] is False
    c_q, r_q, k_q = results["questions"]
    # 'b' is hidden; 'a' with it, or 30 - 27 would say how many chose 'b'; 'z' is 0
    assert [(o["count"], o["percent"]) for o in c_q["options"]] == [
        (None, None),
        (None, None),
        (0, 0.0),
    ]
    assert c_q["answered"] == 30
    # three people rated: the count, the spread and the mean are all withheld
    assert r_q["answered"] is None and r_q["mean"] is None
    assert {d["count"] for d in r_q["distribution"]} == {0, None}
    assert [r["first_choice"] for r in k_q["ranking"]] == [None, None]


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
    # then the version asked, and every equality field any version asked (issue 9)
    assert columns[6:8] == ["equality_version", "age_band"]
    assert {"postcode_district", "marriage_civil_partnership", "conditions"} <= set(columns[7:])
    questions = [
        {"id": "equality_version", "type": "rating", "text": "R"},
        {"id": "conditions", "type": "rating", "text": "R"},
    ]
    clashing = domain.export_columns(consultation(questionnaire={"questions": questions}))
    assert clashing[4:6] == ["question:equality_version", "question:conditions"]


def test_a_filter_on_equality_answers_says_which_question_sets_it_covers() -> None:
    """Issue 9: answers are never re-labelled; a filter covers the versions that asked it."""
    assert domain.equality_versions_covered({"place": "leeds"}) is None
    assert domain.equality_versions_covered({"age_band": "16-24"}) == ["2026-01", "2026-11"]
    assert domain.equality_versions_covered({"unpaid_carer": "yes-up-to-19"}) == ["2026-01"]
    assert domain.equality_versions_covered({"unpaid_carer": "yes-35-49"}) == ["2026-11"]
    assert domain.equality_versions_covered(
        {"marriage_civil_partnership": "married", "age_band": "16-24"}
    ) == ["2026-11"]


# -- ids, new drafts, changes ----------------------------------------------------------------


def test_canonical_id() -> None:
    cid = "0b7c3d1e-0000-4000-8000-000000000001"
    assert domain.canonical_id(cid) == cid
    assert domain.canonical_id(cid.upper()) == cid
    assert domain.canonical_id("{" + cid + "}") == cid
    for nothing in ("not-an-id", "", None, 5, "0b7c3d1e"):
        assert domain.canonical_id(nothing) is None


def test_a_new_consultation_is_a_draft_with_a_normalised_questionnaire() -> None:
    data = {
        "title": {"en": "T"},
        "summary": {"en": "S"},
        "questionnaire": {"questions": [{"id": "why", "type": "free_text", "text": "Why?"}]},
    }
    created = domain.new_consultation(data, "id-1", NOW)
    assert created["id"] == "id-1" and created["status"] == "draft"
    assert created["title"] == {"en": "T"} and created["outcome"] is None
    assert created["created_at"] == created["updated_at"] == NOW
    assert created["opened_at"] is None and created["closed_at"] is None
    assert created["response_count"] == 0
    assert created["questionnaire"]["questions"] == [
        {"id": "why", "type": "free_text", "text": "Why?", "required": False, "max_length": 2000}
    ]


def test_a_changed_questionnaire_is_stored_normalised() -> None:
    question = {"id": "r", "type": "rating", "text": "R", "hint": None}
    updated = domain.apply_update(consultation(), {"questionnaire": {"questions": [question]}}, NOW)
    assert updated["questionnaire"] == {
        "questions": [{"id": "r", "type": "rating", "text": "R", "required": False}]
    }


def test_outcome_payload_adds_the_outcome() -> None:
    closed = domain.close_consultation(consultation(status="open"), NOW)
    published = domain.publish_outcome(closed, OUTCOME, NOW)
    payload = domain.outcome_payload(published)
    assert payload == {**domain.event_payload(published), "outcome": published["outcome"]}


# -- results and export pages ------------------------------------------------------------------

FREE_TEXT = {"questions": [{"id": "t", "type": "free_text", "text": "T"}]}
NO_AGGREGATES = {"answered": {}, "counts": {}, "means": {}, "ranking": {}}


@pytest.mark.parametrize("answered, truncated", [(2, True), (0, False)])
def test_free_text_is_never_in_the_results_only_that_there_is_some(
    answered: int, truncated: bool
) -> None:
    """Issue 15: results carried every free-text answer (up to 1,000 a question); staff
    page through them with ``free_text_answers`` instead."""
    aggregates = {**NO_AGGREGATES, "answered": {"t": answered}}
    results = domain.shape_results(consultation(questionnaire=FREE_TEXT), 3, {}, aggregates)
    assert results["questions"][0]["free_text"] == []
    assert results["questions"][0]["free_text_truncated"] is truncated


def test_counted_aggregates_are_what_a_scan_counts() -> None:
    questions = [
        {"id": "c", "type": "single_choice"},
        {"id": "l", "type": "likert"},
        {"id": "r", "type": "rating"},
        {"id": "k", "type": "ranking"},
        {"id": "t", "type": "free_text"},
    ]
    rows = [
        ("", "", 4, 0, 0),
        ("c", "", 3, 0, 0),
        ("c", "a", 2, 0, 0),
        ("c", "b", 1, 0, 0),
        ("l", "", 3, 0, 0),
        ("l", "agree", 2, 0, 0),
        ("l", "strongly-disagree", 1, 0, 0),
        ("r", "", 2, 0, 0),
        ("r", "3", 1, 0, 0),
        ("r", "10", 1, 0, 0),
        ("k", "", 2, 0, 0),
        ("k", "x", 2, 3, 1),
        ("t", "", 1, 0, 0),
    ]
    keys = ("question_id", "value", "n", "rank_sum", "firsts")
    total, aggregates = domain.counted_aggregates(
        consultation(questionnaire={"questions": questions}),
        [dict(zip(keys, row, strict=True)) for row in rows],
    )
    assert total == 4
    assert aggregates["answered"] == {"c": 3, "l": 3, "r": 2, "k": 2, "t": 1}
    assert aggregates["counts"] == {
        "c": {"a": 2, "b": 1},
        "l": {"agree": 2, "strongly-disagree": 1},
        "r": {"3": 1, "10": 1},
    }
    assert aggregates["means"] == {"l": 3, "r": 6.5}  # (4 + 4 + 1) / 3, (3 + 10) / 2
    assert aggregates["ranking"] == {"k": {"x": (1.5, 1)}}


def test_page_of() -> None:
    assert domain.page_of([1, 2, 3], 2) == ([1, 2], True)
    assert domain.page_of([1, 2], 2) == ([1, 2], False)
    assert domain.page_of([], 2) == ([], False)


def export_row(response_id: int) -> dict[str, Any]:
    return {
        "id": response_id,
        "receipt_code": f"R{response_id}",
        "submitted_at": NOW,
        "place": "leeds",
        "channel": "online",
        "answers": {"q1": "a"},
    }


def test_export_page_points_at_the_next_page_only_when_there_is_one() -> None:
    rows = [export_row(i) for i in (4, 7, 9)]
    page = domain.export_page(consultation(), rows, 2)
    assert contract.ExportRowsSchema().validate(page) == {}
    assert [r[0] for r in json.loads(page["rows"])] == ["R4", "R7"] and page["next_after"] == 7
    last = domain.export_page(consultation(), rows, 3)
    assert len(json.loads(last["rows"])) == 3 and last["next_after"] is None
    assert domain.export_page(consultation(), [], 5)["rows"] == "[]"


def test_export_shaped_passes_the_databases_text_on() -> None:
    text = '[["R4", "2026-12-05T06:00:00+00:00"]]'
    shaped = {"rows": text, "last": 4, "more": True, "pending": False}
    page = domain.export_shaped(consultation(), shaped)
    assert page == {"columns": domain.export_columns(consultation()), "rows": text, "next_after": 4}
    assert domain.export_shaped(consultation(), {**shaped, "more": False})["next_after"] is None


# -- what a queued submission becomes ----------------------------------------------------------

SUBMISSION_ID = "6f1c1a52-6a44-4d7c-9a43-0d7c8f3f7b10"
CID = "0b7c3d1e-0000-4000-8000-000000000001"
YES = {"given": True, "version": CONSENT_VERSION}


def queued(**kwargs: Any) -> dict[str, Any]:
    """A message as the gateway queues it (JSON)."""
    return {
        "submission_id": SUBMISSION_ID,
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": CID,
        "answers": {"q1": "a"},
        "equality": {"age_band": "25-34", "postcode_district": "hx1"},
        "place": None,
        "consent": YES,
        "submitted_at": NOW.isoformat(),
        "channel": "paper",
        "entered_by": {"staff_id": 7, "name": "A Officer"},
        **kwargs,
    }


def test_a_well_formed_message_is_read_as_the_contract_loads_it() -> None:
    submission, errors = domain.read_submission(queued(submission_id=SUBMISSION_ID.upper()))
    assert errors == {}
    assert submission["submission_id"] == SUBMISSION_ID  # text, canonical: the claim key
    assert submission["submitted_at"] == NOW and submission["channel"] == "paper"


def test_a_message_shaped_wrong_is_read_as_what_it_can_be_recorded_under() -> None:
    submission, errors = domain.read_submission(
        queued(answers="a", colour="red", submitted_at="2026-03-01T12:00:00+00:00")
    )
    assert errors == {
        "answers": ["must be an object of answers keyed by question id"],
        "colour": ["is not a field we know about"],
    }
    assert submission == {
        "submission_id": SUBMISSION_ID,
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": CID,
        "submitted_at": NOW,
    }
    submission, errors = domain.read_submission(
        queued(submitted_at="yesterday", consultation_id=None)
    )
    assert submission["submitted_at"] is None and submission["consultation_id"] == "None"
    assert set(errors) == {"submitted_at", "consultation_id"}


@pytest.mark.parametrize(
    "body",
    [
        {"hello": "world"},
        "not even an object",
        queued(submission_id="not-a-uuid", answers="a"),
        queued(submission_id=None),
        queued(receipt_code=None),
        queued(receipt_code=""),
        queued(receipt_code="R" * 41),  # present, but the schema refuses it
        queued(receipt_code=5),
    ],
)
def test_a_message_with_nothing_to_record_it_under_is_unidentifiable(body: Any) -> None:
    with pytest.raises(ValueError, match="^unidentifiable submission"):
        domain.read_submission(body)


def judged(
    consultation_or_none: dict[str, Any] | None, body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    return domain.judge_submission(consultation_or_none, *domain.read_submission(body))


def test_a_good_submission_is_stored_with_the_servers_consent_wording() -> None:
    verdict, response = judged(consultation(status="open"), queued())
    assert verdict == "stored"
    assert response["consent"] == {
        "given": True,
        "version": CONSENT_VERSION,
        "wording": CONSENT_WORDINGS[CONSENT_VERSION],
    }
    assert response["answers"] == {"q1": "a"}
    assert response["equality"] == {"age_band": "25-34", "postcode_district": "HX1"}
    assert response["place"] == "calderdale" and response["derived_place"] == "calderdale"
    assert response["consultation_id"] == CID
    assert response["channel"] == "paper"
    assert response["entered_by"] == {"staff_id": 7, "name": "A Officer"}
    assert response["submission_id"] == SUBMISSION_ID
    assert response["receipt_code"] == "AAAA-BBBB-CCCC" and response["submitted_at"] == NOW


def test_a_stored_submission_keeps_the_place_given_and_may_have_no_equality_answers() -> None:
    verdict, response = judged(
        consultation(status="open"),
        queued(place="wakefield", equality={"postcode_district": "LS6"}),
    )
    assert verdict == "stored" and response["place"] == "wakefield"
    assert response["derived_place"] == "leeds"
    verdict, response = judged(consultation(status="open"), queued(equality=None))
    assert verdict == "stored" and response["equality"] is None
    assert response["derived_place"] is None and response["place"] is None


def test_the_consultation_named_is_kept_by_its_canonical_id() -> None:
    verdict, response = judged(consultation(status="open"), queued(consultation_id=CID.upper()))
    assert verdict == "stored" and response["consultation_id"] == CID


def rejection(reasons: list[str], consultation_id: str = CID, **kwargs: Any) -> dict[str, Any]:
    return {
        "submission_id": SUBMISSION_ID,
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": consultation_id,
        "submitted_at": NOW,
        "reasons": reasons,
        **kwargs,
    }


def test_a_submission_shaped_wrong_is_rejected_with_the_schemas_reasons() -> None:
    verdict, rejected = judged(consultation(status="open"), queued(answers="a", colour="red"))
    assert verdict == "rejected"
    assert rejected == rejection(
        [
            "answers: must be an object of answers keyed by question id",
            "colour: is not a field we know about",
        ]
    )


def test_a_submission_to_no_consultation_is_rejected() -> None:
    verdict, rejected = judged(None, queued(consultation_id="nowhere"))
    assert verdict == "rejected"
    assert rejected == rejection(["The consultation does not exist"], consultation_id="nowhere")


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "closed"},  # staff closed it while the message was queued
        {"status": "draft"},
        {"closes_at": NOW},  # sent after the close date
        {"opens_at": NOW + DAY},  # sent before it opened
    ],
)
def test_a_submission_the_consultation_was_not_accepting_is_rejected(
    changes: dict[str, Any],
) -> None:
    verdict, rejected = judged(
        consultation(**{"status": "open", **changes}), queued(consultation_id=CID.upper())
    )
    assert verdict == "rejected"
    assert rejected == rejection(
        ["The consultation was no longer accepting responses when this was stored"]
    )


def test_a_submission_that_no_longer_fits_the_questionnaire_is_rejected_with_reasons() -> None:
    verdict, rejected = judged(
        consultation(status="open"),
        queued(answers={"q1": "zzz", "gone": 1}, equality={"sex": "robot"}),
    )
    assert verdict == "rejected"
    assert set(rejected["reasons"]) == {
        'Question 1 "Pick": choose one of the options',
        "answers.gone: is not a question in this consultation",
        "equality.sex: 'robot' is not one of the options",
    }


def test_rejection_reasons_name_the_question_or_the_field() -> None:
    assert domain.rejection_reasons(
        {
            "answers.q1": ['Question 1 "Pick": answer this question'],
            "answers.q9": ["is not a question in this consultation"],
            "consent.version": ["is not a wording we use", "is required"],
        }
    ) == [
        'Question 1 "Pick": answer this question',
        "answers.q9: is not a question in this consultation",
        "consent.version: is not a wording we use",
        "consent.version: is required",
    ]


def test_response_events_say_nothing_about_the_person() -> None:
    _, response = judged(consultation(status="open"), queued())
    assert domain.response_submitted(response, 42) == {
        "consultation_id": CID,
        "response_id": 42,
        "receipt_code": "AAAA-BBBB-CCCC",
        "place": "calderdale",
        "channel": "paper",
        "submitted_at": NOW.isoformat(),
        "equality": {"age_band": "25-34"},
    }
    with_groups = {**response, "equality": {"age_band": "16-24", "postcode_district": "LS6"}}
    assert domain.response_submitted(with_groups, 42)["equality"] == {"age_band": "16-24"}
    deleted = {"id": 42, "consultation_id": CID, "place": None, "answers": {"why": "me"}}
    assert domain.response_deleted(deleted) == {
        "response_id": 42,
        "consultation_id": CID,
        "place": None,
    }


# -- privacy -------------------------------------------------------------------------------------

QUESTIONNAIRE = {
    "questions": [
        {"id": "pick", "type": "single_choice", "text": "P", "options": []},
        {"id": "why", "type": "free_text", "text": "Why?"},
        {"id": "more", "type": "free_text", "text": "More?"},
    ]
}


def found_row(**kwargs: Any) -> dict[str, Any]:
    return {
        "id": 3,
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": CID,
        "answers": {"pick": "jane", "why": "Ask Jane Doe", "more": "nothing"},
        "submitted_at": NOW,
        "postcode_district": "LS6",
        "questionnaire": QUESTIONNAIRE,
        **kwargs,
    }


def test_an_erasure_search_matches_receipt_codes_free_text_and_districts() -> None:
    assert domain.personal_data_matches(found_row(), "AAAA-BBBB-CCCC", "JANE") == [
        {"field": "receipt_code", "text": "AAAA-BBBB-CCCC"},
        {"field": "answers.why", "text": "Ask Jane Doe"},  # choices are never a match
    ]
    assert domain.personal_data_matches(found_row(), None, "ls6") == [
        {"field": "equality.postcode_district", "text": "LS6"}
    ]
    assert domain.personal_data_matches(found_row(), "ZZZZ-BBBB-CCCC", None) == []
    assert domain.personal_data_matches(found_row(), "AAAA-BBBB-CCCC", None) == [
        {"field": "receipt_code", "text": "AAAA-BBBB-CCCC"}
    ]
    purged = found_row(answers={"pick": "jane"}, postcode_district=None)
    assert domain.personal_data_matches(purged, None, "jane") == []
    assert domain.personal_data_matches(found_row(answers=None), None, "zzz") == []


def test_purge_before_counts_back_the_retention_period() -> None:
    assert domain.purge_before(NOW, 365) == NOW - 365 * DAY
    assert domain.purge_before(NOW, 0) == NOW
