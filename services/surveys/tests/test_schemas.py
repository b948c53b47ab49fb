"""How surveys' rows take the contract's shapes (pure: no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engage_contracts import surveys as contract
from surveys import schemas

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CID = "0b7c3d1e-0000-4000-8000-000000000001"


def test_a_receipt() -> None:
    row = {
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": CID,
        "status": "rejected",
        "reasons": ["The consultation does not exist"],
        "submitted_at": NOW,
    }
    receipt = schemas.receipt(row)
    assert receipt == {**row, "submitted_at": "2026-03-01T12:00:00+00:00"}
    assert contract.ReceiptSchema().validate(receipt) == {}
    assert schemas.receipt({**row, "reasons": None, "submitted_at": None})["reasons"] == []


def response_row(**kwargs: Any) -> dict[str, Any]:
    return {
        "id": 3,
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": CID,
        "consultation_title": {"en": "Urgent care"},
        "answers": {"why": "Closer"},
        "place": "leeds",
        "consent": {"given": True, "version": "2026-01", "wording": "We use..."},
        "submitted_at": NOW,
        "purged_at": None,
        "equality": None,  # the row's equality document (None: none given)
        "question_set": None,
        **kwargs,
    }


def test_my_response_without_equality_answers() -> None:
    mine = schemas.my_response(response_row())
    assert mine == {
        "receipt_code": "AAAA-BBBB-CCCC",
        "consultation_id": CID,
        "consultation_title": {"en": "Urgent care"},
        "answers": {"why": "Closer"},
        "equality": None,
        "equality_version": None,
        "place": "leeds",
        "consent": {"given": True, "version": "2026-01", "wording": "We use..."},
        "submitted_at": "2026-03-01T12:00:00+00:00",
        "purged_at": None,
    }
    assert contract.MyResponseSchema().validate(mine) == {}


def test_my_response_shows_only_the_equality_answers_given() -> None:
    given = {"age_band": "25-34", "postcode_district": "LS6", "conditions": ["autism"]}
    mine = schemas.my_response(response_row(equality=given, question_set="2026-11", purged_at=NOW))
    assert mine["equality"] == given and mine["equality_version"] == "2026-11"
    assert mine["purged_at"] == "2026-03-01T12:00:00+00:00"
    assert contract.MyResponseSchema().validate(mine) == {}


def test_a_personal_data_response() -> None:
    matches = [{"field": "answers.why", "text": "Ask Jane"}]
    row = {"id": 3, "receipt_code": "R", "consultation_id": CID, "submitted_at": NOW}
    found = schemas.personal_data_response({**row, "answers": {}}, matches)
    assert found == {
        "response_id": 3,
        "receipt_code": "R",
        "consultation_id": CID,
        "submitted_at": "2026-03-01T12:00:00+00:00",
        "matches": matches,
    }
    assert contract.PersonalDataResponseSchema().validate(found) == {}
