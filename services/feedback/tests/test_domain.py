"""Pure rules and schemas for feedback items."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from feedback.domain import MAX_THEMES, normalise_themes, theme_slug
from feedback.schemas import FeedbackItemSchema


def test_theme_slug_is_what_the_themes_table_accepts() -> None:
    assert theme_slug("  Waiting times ") == "waiting-times"
    assert theme_slug("GP / Pharmacy access!") == "gp-pharmacy-access"


def test_normalise_themes_dedupes_in_order_and_reports_unusable() -> None:
    assert normalise_themes(["Parking", "parking ", "Access"]) == (["parking", "access"], [])
    slugs, errors = normalise_themes(["ok", "!!!"])
    assert slugs == ["ok"] and errors == ["'!!!' is not a usable theme"]
    _, errors = normalise_themes([f"t{i}" for i in range(MAX_THEMES + 1)])
    assert errors == [f"at most {MAX_THEMES} themes"]


VALID = {
    "submission_id": str(uuid.uuid4()),
    "receipt_code": "FB-7K3Q",
    "channel": "web",
    "text": "More evening appointments please",
    "themes": ["Access", "access"],
    "place": "kirklees",
    "submitted_at": "2025-03-01T09:30:00+00:00",
}


def test_schema_loads_a_valid_item_with_slugged_themes() -> None:
    item = FeedbackItemSchema().load(VALID)
    assert item["themes"] == ["access"]
    assert item["priority"] is None and item["place"] == "kirklees"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("place", "york"),
        ("priority", "thriving"),
        ("text", "   "),
        ("submitted_at", "2025-03-01T09:30:00"),
        ("themes", ["???"]),
    ],
)
def test_schema_rejects(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        FeedbackItemSchema().load({**VALID, field: value})
    assert list(caught.value.messages) == [field]
