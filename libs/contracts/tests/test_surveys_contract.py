"""The surveys contract's rules and schemas, as the gateway and surveys both apply them:
is a consultation taking responses, is a response acceptable, what staff may send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.errors import ValidationFailed
from engage_contracts import privacy
from engage_contracts import surveys as contract
from engage_contracts.base import load
from engage_contracts.reference import current_consent

# From the ICS configuration the tests run under (the default one).
CONSENT_VERSION = current_consent()["version"]

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
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


@pytest.mark.parametrize(
    "status, opens, closes, expected",
    [
        ("open", NOW - DAY, NOW + DAY, True),
        ("open", NOW, NOW + DAY, True),  # opens_at is inclusive
        ("open", NOW - DAY, NOW, False),  # closes_at is exclusive
        ("open", NOW + DAY, NOW + 2 * DAY, False),  # not yet open
        ("open", NOW - 2 * DAY, NOW - DAY, False),  # past its close date
        ("draft", NOW - DAY, NOW + DAY, False),
        ("closed", NOW - DAY, NOW + DAY, False),
        ("open", None, NOW + DAY, False),
    ],
)
def test_accepting_responses(
    status: str, opens: datetime | None, closes: datetime, expected: bool
) -> None:
    c = consultation(status=status, opens_at=opens, closes_at=closes)
    assert contract.accepting_responses(c, NOW) is expected


def test_check_submission_cleans_answers_equality_and_place() -> None:
    clean, errors = contract.check_submission(
        consultation(),
        {
            "answers": {"q1": "a"},
            "equality": {"age_band": "25-34", "postcode_district": "ls6"},
            "place": None,
            "consent": {"given": True, "version": CONSENT_VERSION},
        },
    )
    assert errors == {}
    assert clean == {
        "answers": {"q1": "a"},
        "equality": {"age_band": "25-34", "postcode_district": "LS6"},
        "place": "leeds",
        "consent": {"given": True, "version": CONSENT_VERSION},
    }


def test_check_submission_keeps_a_given_place_and_reports_all_errors() -> None:
    clean, _ = contract.check_submission(
        consultation(),
        {"answers": {"q1": "a"}, "equality": {"postcode_district": "LS6"}, "place": "wakefield"},
    )
    assert clean["place"] == "wakefield"
    _, errors = contract.check_submission(
        consultation(),
        {"answers": {}, "equality": {"age_band": "old", "shoe_size": "9"}, "place": "paris"},
    )
    assert set(errors) == {
        "answers.q1",
        "equality.age_band",
        "equality.shoe_size",
        "place",
        "consent",
    }


def test_derived_place() -> None:
    assert contract.derived_place({"postcode_district": "BD23"}) == "bradford-craven"
    assert contract.derived_place({"postcode_district": "LS29"}) == "bradford-craven"
    assert contract.derived_place({"postcode_district": "M1"}) == "outside-area"
    assert contract.derived_place({"postcode_district": "prefer-not-to-say"}) is None
    assert contract.derived_place(None) is None


def test_a_queued_submission_is_judged_by_when_it_was_sent() -> None:
    c = consultation(status="open")
    assert contract.accepting_submission(c, NOW)
    assert not contract.accepting_submission(c, c["closes_at"])
    assert not contract.accepting_submission(consultation(status="closed"), NOW)


def test_create_schema_names_fields_in_plain_english() -> None:
    with pytest.raises(ValidationFailed) as exc:
        load(
            contract.ConsultationCreateSchema(),
            {
                "title": "",
                "places": ["york"],
                "opens_at": "tomorrow",
                "colour": "red",
                "questionnaire": {
                    "questions": [
                        {
                            "id": "a",
                            "type": "single_choice",
                            "text": "A",
                            "options": [{"value": "x", "label": "X"}],
                        }
                    ]
                },
            },
        )
    errors = exc.value.errors
    assert errors["summary"] == ["is required"]
    assert errors["colour"] == ["is not a field we know about"]
    assert "places.0" in errors and "opens_at" in errors and "title" in errors
    assert errors["questionnaire.questions.0.options"] == [
        "give between 2 and 50 options (there are 1)"
    ]


def test_create_schema_requires_time_zones_and_order() -> None:
    with pytest.raises(ValidationFailed) as exc:
        load(
            contract.ConsultationCreateSchema(),
            {"title": "T", "summary": "S", "opens_at": "2026-03-01T09:00:00"},
        )
    assert exc.value.errors == {"opens_at": ["must include a time zone, like +00:00"]}
    with pytest.raises(ValidationFailed) as exc:
        load(
            contract.ConsultationCreateSchema(),
            {
                "title": "T",
                "summary": "S",
                "opens_at": "2026-03-02T09:00:00Z",
                "closes_at": "2026-03-01T09:00:00Z",
            },
        )
    assert exc.value.errors == {"closes_at": ["must be after the opening date"]}


def test_outcome_schema_requires_reason_for_not_taken_forward() -> None:
    with pytest.raises(ValidationFailed) as exc:
        load(
            contract.OutcomeSchema(),
            {
                "summary": "s",
                "decisions": [{"you_said": "a", "we_did": "b", "status": "not-taken-forward"}],
            },
            prefix="outcome",
        )
    assert exc.value.errors == {
        "outcome.decisions.0.reason": ["explain why this was not taken forward"]
    }
    assert load(contract.OutcomeSchema(), OUTCOME)["decisions"][0]["status"] == "done"


def test_response_input_and_results_filter_schemas() -> None:
    yes = {"given": True, "version": CONSENT_VERSION}
    data = load(contract.ResponseInputSchema(), {"answers": {"q1": "a"}, "consent": yes})
    assert data == {
        "answers": {"q1": "a"},
        "equality": None,
        "place": None,
        "consent": yes,
        "hear_back_email": None,
    }
    with pytest.raises(ValidationFailed) as exc:
        load(
            contract.ResponseInputSchema(),
            {"answers": [], "place": "mars", "consent": {"given": "maybe"}},
        )
    assert set(exc.value.errors) == {"answers", "place", "consent.given", "consent.version"}
    assert exc.value.errors["consent.given"] == ["must be true or false"]


def test_consent_must_be_given_to_a_wording_we_use() -> None:
    """Issue 7: the API stored responses with no consent, or consent refused."""
    with pytest.raises(ValidationFailed) as exc:
        load(contract.ResponseInputSchema(), {"answers": {}})
    assert set(exc.value.errors) == {"consent"}
    with pytest.raises(ValidationFailed) as exc:  # the wording is the server's, never sent
        load(
            contract.ResponseInputSchema(),
            {
                "answers": {},
                "consent": {"given": True, "version": CONSENT_VERSION, "wording": "mine"},
            },
        )
    assert set(exc.value.errors) == {"consent.wording"}
    empty = {"questionnaire": {"questions": []}}
    for consent, fields in (
        (None, {"consent"}),
        ({"given": False, "version": CONSENT_VERSION}, {"consent.given"}),
        ({"given": True, "version": "1999-01"}, {"consent.version"}),
        ({"given": "yes", "version": None}, {"consent.given", "consent.version"}),
    ):
        clean, errors = contract.check_submission(empty, {"answers": {}, "consent": consent})
        assert set(errors) == fields and clean["consent"] is None, consent
    clean, errors = contract.check_submission(
        empty, {"answers": {}, "consent": {"given": True, "version": CONSENT_VERSION}}
    )
    assert errors == {} and clean["consent"] == {"given": True, "version": CONSENT_VERSION}
    assert load(contract.ResultsFiltersSchema(), {"sex": "female"}) == {"sex": "female"}
    with pytest.raises(ValidationFailed) as exc:
        load(contract.ResultsFiltersSchema(), {"sex": "x", "shoe": "9"}, prefix="filters")
    assert set(exc.value.errors) == {"filters.sex", "filters.shoe"}


def test_a_queued_submission_says_how_it_came_and_who_entered_it() -> None:
    """Issue 8: every resident's contribution carries its channel; staff-entered ones
    name the staff member, a resident's own never do."""
    base = {
        "submission_id": "6f1c1a52-6a44-4d7c-9a43-0d7c8f3f7b10",
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": "c",
        "submitted_at": NOW.isoformat(),
        "answers": {},
        "consent": {"given": True, "version": CONSENT_VERSION},
    }
    schema = contract.SubmissionSchema()
    assert load(schema, {**base, "channel": "web-form"})["entered_by"] is None
    clerk = {"staff_id": 7, "name": "A Officer"}
    assert load(schema, {**base, "channel": "paper", "entered_by": clerk})["entered_by"] == clerk
    for body, field in (
        ({**base}, "channel"),
        ({**base, "channel": "pigeon"}, "channel"),
        ({**base, "channel": "phone"}, "entered_by"),
        ({**base, "channel": "online", "entered_by": clerk}, "entered_by"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            load(schema, body)
        assert field in exc.value.errors, (body, exc.value.errors)


# -- RPC arguments ---------------------------------------------------------------------------


def errors_of(schema: Any, data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as exc:
        load(schema, data)
    return exc.value.errors


def test_receipt_codes_are_keyed_as_stored() -> None:
    """A resident types a code in any case with spaces around it; whatever is not a code
    is simply not found, so anything storable loads."""
    schema = privacy.ReceiptCodeSchema()
    assert load(schema, {"receipt_code": "  abcd-efgh "}) == {"receipt_code": "ABCD-EFGH"}
    assert load(schema, {"receipt_code": 12}) == {"receipt_code": "12"}
    assert load(schema, {"receipt_code": ""}) == {"receipt_code": ""}
    assert errors_of(schema, {"receipt_code": "AB\x00"}) == {
        "receipt_code": ["cannot contain the NUL character (U+0000)"]
    }
    assert privacy.receipt_code_key(" x-1 ") == "X-1"


def test_export_page_arguments() -> None:
    schema = contract.ExportPageSchema()
    assert load(schema, {}) == {"after": 0, "limit": 1000}
    assert load(schema, {"after": None, "limit": 5000}) == {"after": 0, "limit": 5000}
    assert load(schema, {"after": 41, "limit": 1}) == {"after": 41, "limit": 1}
    after = ["must be a whole number of at least 0"]
    limit = ["must be a whole number from 1 to 5000"]
    assert errors_of(schema, {"after": -1, "limit": 0}) == {"after": after, "limit": limit}
    for bad_after, bad_limit in ((True, None), (1.0, 5001), ("3", "10"), ([], False)):
        assert errors_of(schema, {"after": bad_after, "limit": bad_limit}) == {
            "after": after,
            "limit": limit,
        }


def test_personal_data_search_arguments() -> None:
    schema = privacy.PersonalDataSearchSchema()
    assert load(schema, {"receipt_code": " ab-cd ", "text": None}) == {
        "receipt_code": "AB-CD",
        "text": None,
    }
    assert load(schema, {"receipt_code": "   ", "text": "  Jane Doe "}) == {
        "receipt_code": None,
        "text": "Jane Doe",
    }
    assert load(schema, {"text": "x" * 200}) == {"receipt_code": None, "text": "x" * 200}
    length = ["must be 3 to 200 characters"]
    assert errors_of(schema, {"text": " ab "}) == {"text": length}
    assert errors_of(schema, {"receipt_code": "A", "text": "   "}) == {"text": length}
    assert errors_of(schema, {"text": "x" * 201}) == {"text": length}
    assert errors_of(schema, {"text": 5}) == {"text": ["must be text"]}
    assert errors_of(schema, {"text": "ja\x00ne"}) == {
        "text": ["cannot contain the NUL character (U+0000)"]
    }
    assert errors_of(schema, {"receipt_code": "\ud800"}) == {
        "receipt_code": ["contains a character that is not valid Unicode (a lone surrogate)"]
    }
    nothing = {"_schema": ["give a receipt code, a text to search for, or both"]}
    assert errors_of(schema, {"receipt_code": None, "text": None}) == nothing
    assert errors_of(schema, {"receipt_code": "", "text": None}) == nothing


def test_erase_responses_arguments() -> None:
    schema = contract.EraseResponsesSchema()
    assert load(schema, {"response_ids": [7, 3, 7]}) == {"response_ids": [3, 7]}
    assert load(schema, {"response_ids": []}) == {"response_ids": []}
    assert load(schema, {"response_ids": list(range(1000))})["response_ids"][-1] == 999
    wrong = {"response_ids": ["must be a list of up to 1000 response ids"]}
    for ids in (None, 3, "1,2", [1, "2"], [True], [1.5], list(range(1001)), [1] * 1001):
        assert errors_of(schema, {"response_ids": ids}) == wrong, ids
    assert errors_of(schema, {}) == wrong


def test_purge_expired_arguments() -> None:
    schema = privacy.PurgeExpiredSchema()
    for empty in (None, ""):
        assert load(schema, {"now": empty}) == {"now": None}
    assert load(schema, {}) == {"now": None}
    assert load(schema, {"now": "2027-03-01T09:00:00+01:00"})["now"] == datetime(
        2027, 3, 1, 8, tzinfo=UTC
    )
    for bad in ("soon", 5, ["2027-03-01T09:00:00Z"]):
        assert errors_of(schema, {"now": bad}) == {"now": ["must be a date and time"]}, bad
    for naive in ("2027-03-01", "2027-03-01T09:00:00"):
        assert errors_of(schema, {"now": naive}) == {"now": ["must include a time zone"]}
