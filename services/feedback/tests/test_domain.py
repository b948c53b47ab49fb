"""Feedback's pure rules (no I/O): intake verdicts, suggestions, the workflow, response
targets, search pages, seeded themes, the emails' wording and the privacy rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.errors import Conflict, ValidationFailed
from engage_common.redaction import Finding, Redaction
from engage_common.safeguarding import Concern
from engage_contracts import feedback as contract
from engage_contracts.ics import ics
from engage_contracts.reference import consent_wordings, current_consent
from feedback import domain

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CONSENT = {"given": True, "version": current_consent()["version"]}
TARGETS = {"feedback_triage_days": 5, "feedback_reply_days": 20}
ACTOR = {"staff_id": 7, "name": "A Officer", "role": "engagement-officer"}
THEMES = [
    {"slug": "gp-access", "label": "GP access", "keywords": ["gp", "appointment"]},
    {"slug": "waiting-times", "label": "Waiting times", "keywords": ["wait", "weeks"]},
    {"slug": "transport", "label": "Transport", "keywords": ["bus", "car park"]},
    {"slug": "digital", "label": "Digital", "keywords": ["app", "phone"]},
    {"slug": "old", "label": "Old", "keywords": ["appointment"], "active": False},
]


def message(**kwargs: Any) -> dict[str, Any]:
    sid = str(uuid.uuid4())
    return {
        "submission_id": sid,
        "receipt_code": "FB-" + sid[:8].upper(),
        "submitted_at": NOW.isoformat(),
        "channel": "online",
        "kind": "concern",
        "about": "Oak Lane surgery",
        "text": "I waited three weeks for an appointment",
        "consent": CONSENT,
        **kwargs,
    }


def item(**kwargs: Any) -> dict[str, Any]:
    return {
        "id": "0b7c3d1e-0000-4000-8000-000000000001",
        "version": 3,
        "receipt_code": "FB-1",
        "kind": "concern",
        "text": "The bus to the hospital never comes. [name removed] was kind.",
        "status": "received",
        "themes": [],
        "tone": None,
        "place": "leeds",
        "channel": "online",
        "consultation_id": None,
        "received_at": NOW - 2 * DAY,
        "urgent": False,
        "safeguarding_categories": [],
        "may_quote": True,
        "quote": None,
        "quote_approved": None,
        "reply_by": "email",
        "public_reply": None,
        "replied_at": None,
        "reply_mail_version": None,
        "closed_at": None,
        **kwargs,
    }


# -- intake -----------------------------------------------------------------------------------


def test_a_well_formed_message_is_stored_with_the_servers_consent_wording() -> None:
    read, errors = domain.read_message(message(postcode_district="ls6 "))
    assert errors == {}
    verdict, feedback = domain.judge_message(read, errors)
    assert verdict == "stored"
    assert feedback["consent"] == {
        "given": True,
        "version": CONSENT["version"],
        "wording": consent_wordings()[CONSENT["version"]],
    }
    assert feedback["postcode_district"] == "LS6" and feedback["place"] == "leeds"


def test_a_message_shaped_wrong_is_rejected_with_its_reasons() -> None:
    body = {**message(kind="rant", colour="red"), "consent": {"given": False, "version": "x"}}
    read, errors = domain.read_message(body)
    verdict, rejection = domain.judge_message(read, errors)
    assert verdict == "rejected"
    assert rejection["receipt_code"] == body["receipt_code"] and rejection["kind"] is None
    assert "colour: is not a field we know about" in rejection["reasons"]
    assert any(r.startswith("kind: ") for r in rejection["reasons"])


def test_rules_beyond_the_fields_reject_too() -> None:
    read, errors = domain.read_message(message(consent={"given": False, "version": "nope"}))
    assert errors == {}
    verdict, rejection = domain.judge_message(read, errors)
    assert verdict == "rejected"
    assert {r.split(":")[0] for r in rejection["reasons"]} == {"consent.given", "consent.version"}


@pytest.mark.parametrize(
    "body",
    [
        {"hello": "world"},
        "not even an object",
        {**message(), "submission_id": "not-a-uuid"},
        {**message(), "receipt_code": ""},
    ],
)
def test_a_message_with_nothing_to_record_it_under_is_unidentifiable(body: Any) -> None:
    with pytest.raises(ValueError, match="unidentifiable submission"):
        domain.read_message(body)


def test_only_imports_are_deduplicated_by_source_id_then_content() -> None:
    staff = {"staff_id": 1, "name": "S"}
    online = {"channel": "online", "source_id": "r1", "content_hash": "h"}
    assert domain.dedupe_key(online) is None
    row = {"channel": "partner", "entered_by": staff, "source_id": "r1", "content_hash": "h"}
    assert domain.dedupe_key(row) == ("source_id", "r1")
    assert domain.dedupe_key({**row, "source_id": None}) == ("content_hash", "h")
    assert domain.dedupe_key({**row, "source_id": None, "content_hash": None}) is None
    record = domain.duplicate({**row, "submission_id": "s", "receipt_code": "c"}, "orig")
    assert record["duplicate_of"] == "orig"
    assert record["reasons"] == ["the same row (source_id) was already imported"]


def test_a_new_item_is_redacted_checked_and_given_suggestions() -> None:
    text = "Call me on 07700 900123, I waited weeks. Not helpful."
    read, errors = domain.read_message(message(text=text, about="My appointment"))
    _, feedback = domain.judge_message(read, errors)
    phone = Finding("phone", 11, 24, "[phone number removed]")
    checks = domain.Checks(
        about=Redaction("My appointment", []),
        text=Redaction(
            "Call me on [phone number removed], I waited weeks. Not helpful.", [phone], "v9"
        ),
        concern=Concern(
            urgent=True, categories=["self-harm"], matches=["07700 900123", "I waited"]
        ),
        english=False,
    )
    new = domain.new_item(feedback, "id-1", checks, THEMES, NOW)
    assert new["text"] == "Call me on [phone number removed], I waited weeks. Not helpful."
    assert new["text_original"] == text and new["about_original"] == "My appointment"
    assert new["redactions"] == [{"in": "text", "kind": "phone", "start": 11, "end": 24}]
    assert new["redactor_version"] == "v9" and new["language_check"] == domain.NOT_ENGLISH
    assert new["urgent"] is True and new["safeguarding_categories"] == ["self-harm"]
    assert new["safeguarding_matches"] == ["I waited"]  # never what the redactor removed
    # from the redacted words of both fields, never the placeholder's "phone", never a
    # retired theme (engage_contracts.suggestions has the matching rules themselves)
    assert new["suggested_themes"] == [
        {"theme": "waiting-times", "label": "Waiting times", "because": ["waited", "weeks"]},
        {"theme": "gp-access", "label": "GP access", "because": ["appointment"]},
    ]
    assert new["suggested_tone"] == "negative"
    assert new["status"] == "received" and new["themes"] == [] and new["version"] == 1
    assert domain.redaction_kinds([*new["redactions"], *new["redactions"]]) == ["phone"]


# -- workflow ---------------------------------------------------------------------------------


def test_triage_confirms_themes_moves_status_and_records_who() -> None:
    change = {"version": 3, "status": "triaged", "themes": ["transport"], "note": "bus route"}
    done = domain.apply_triage(item(), change, ACTOR, ["transport", "gp-access"], NOW)
    assert done.item is not None
    assert done.item["status"] == "triaged" and done.item["themes"] == ["transport"]
    assert done.item["version"] == 4
    assert done.history == [
        {
            "at": NOW,
            "staff_id": 7,
            "by": "A Officer",
            "action": "triaged",
            "detail": {
                "status": {"from": "received", "to": "triaged"},
                "themes": ["transport"],
                "note": "bus route",
            },
        }
    ]
    assert [e for e, _ in done.events] == ["feedback_status_changed", "feedback_themed"]
    themed = dict(done.events)["feedback_themed"]
    assert set(themed) == set(contract.EVENT_FIELDS["feedback_themed"])
    assert themed["themes"] == ["transport"] and themed["received_at"].endswith("+00:00")


def test_triage_refuses_stale_versions_bad_moves_and_unknown_themes() -> None:
    with pytest.raises(Conflict, match="changed by someone else"):
        domain.apply_triage(item(), {"version": 2, "status": "triaged"}, ACTOR, [], NOW)
    with pytest.raises(Conflict, match="cannot become received"):
        domain.apply_triage(
            item(status="triaged"), {"version": 3, "status": "received"}, ACTOR, [], NOW
        )
    with pytest.raises(ValidationFailed) as bad:
        domain.apply_triage(item(), {"version": 3, "themes": ["nope"]}, ACTOR, ["x"], NOW)
    assert bad.value.errors == {"themes.0": ["is not a theme in use: see list_themes"]}
    # a retired theme the item already has may stay
    kept = domain.apply_triage(
        item(themes=["old"]), {"version": 3, "themes": ["old", "x"]}, ACTOR, ["x"], NOW
    )
    assert kept.item is not None and kept.item["themes"] == ["old", "x"]
    assert domain.apply_triage(item(), {"version": 3}, ACTOR, [], NOW).item is None


def test_closing_starts_the_retention_clock_and_reopening_stops_it() -> None:
    closed = domain.apply_triage(item(), {"version": 3, "status": "closed"}, ACTOR, [], NOW)
    assert closed.item is not None and closed.item["closed_at"] == NOW
    reopened = domain.apply_triage(closed.item, {"version": 4, "status": "triaged"}, ACTOR, [], NOW)
    assert reopened.item is not None and reopened.item["closed_at"] is None


def test_bulk_adds_themes_and_moves_status_per_item() -> None:
    change = {"status": "triaged", "add_themes": ["transport", "gp-access"], "note": None}
    done = domain.apply_bulk(item(themes=["gp-access"]), change, ACTOR, NOW)
    assert done.item is not None and done.item["themes"] == ["gp-access", "transport"]
    assert done.history[0]["detail"] == {
        "status": {"from": "received", "to": "triaged"},
        "added_themes": ["transport"],
    }
    with pytest.raises(Conflict):
        domain.apply_bulk(item(status="closed"), {"status": "responded"}, ACTOR, NOW)
    assert domain.apply_bulk(item(status="triaged"), {"status": "triaged"}, ACTOR, NOW).item is None


def test_a_reply_is_public_and_emailed_only_when_asked_for_and_possible() -> None:
    done = domain.apply_reply(
        item(), {"version": 3, "text": "We have told the bus company"}, ACTOR, True, NOW
    )
    assert done.item is not None
    assert done.item["status"] == "responded" and done.item["public_reply"].startswith("We have")
    assert done.item["replied_at"] == NOW and done.item["reply_mail_version"] == 4
    no_address = domain.apply_reply(item(), {"version": 3, "text": "x"}, ACTOR, False, NOW)
    assert no_address.item is not None and no_address.item["reply_mail_version"] is None
    with pytest.raises(Conflict):
        domain.apply_reply(item(status="closed"), {"version": 3, "text": "x"}, ACTOR, True, NOW)


def test_quotes_only_when_allowed_and_only_redacted_text() -> None:
    whole = domain.approve_quote(item(), {"version": 3, "text": None}, ACTOR, NOW)
    assert whole.item is not None and whole.item["quote"] == item()["text"]
    part = domain.approve_quote(
        item(), {"version": 3, "text": "The bus to the hospital"}, ACTOR, NOW
    )
    assert part.item is not None and part.item["quote"] == "The bus to the hospital"
    assert part.item["quote_approved"]["by"] == {"staff_id": 7, "name": "A Officer"}
    with pytest.raises(ValidationFailed):
        domain.approve_quote(item(), {"version": 3, "text": "Dr Smith was kind"}, ACTOR, NOW)
    with pytest.raises(Conflict, match="did not agree"):
        domain.approve_quote(item(may_quote=False), {"version": 3, "text": None}, ACTOR, NOW)


def test_waited_days_and_overdue_against_the_targets() -> None:
    assert domain.waited_days(item(received_at=NOW - 6 * DAY), NOW) == 6
    assert domain.overdue(item(received_at=NOW - 6 * DAY), NOW, TARGETS)
    assert not domain.overdue(item(received_at=NOW - 4 * DAY), NOW, TARGETS)
    assert not domain.overdue(item(status="triaged", received_at=NOW - 6 * DAY), NOW, TARGETS)
    assert domain.overdue(item(status="triaged", received_at=NOW - 21 * DAY), NOW, TARGETS)
    assert not domain.overdue(item(status="closed", received_at=NOW - 99 * DAY), NOW, TARGETS)


def test_events_carry_exactly_their_fields() -> None:
    urgent = item(urgent=True, safeguarding_categories=["abuse"])
    for event_type, payload in (
        ("feedback_received", domain.received(urgent)),
        ("feedback_themed", domain.themed(urgent)),
        ("feedback_status_changed", domain.status_changed(urgent)),
        ("feedback_deleted", domain.deleted(urgent["id"])),
        ("safeguarding_flagged", domain.flagged(urgent)),
        ("theme_saved", domain.theme_saved({**THEMES[0], "active": True, "priority": None})),
    ):
        assert set(payload) == set(contract.EVENT_FIELDS[event_type]), event_type


# -- themes -----------------------------------------------------------------------------------


def test_themes_seeded_from_the_configuration() -> None:
    config = ics()
    seeded = {t["slug"]: t for t in domain.seeded_themes(config)}
    for priority in config.priorities:
        assert seeded[contract.theme_slug(priority.name)]["source"] == "priority"
        for ambition in priority.ambitions:
            theme = seeded[contract.theme_slug(ambition)]
            assert theme["source"] == "ambition" and theme["priority"] == priority.code
    for slug, label, keywords in contract.COMMON_THEMES:
        assert seeded[slug]["source"] == "common" and seeded[slug]["label"] == label
        assert seeded[slug]["keywords"] == keywords
    assert all(contract.THEME_SLUG.match(slug) for slug in seeded)


def test_theme_changes_keep_the_slug() -> None:
    theme = domain.new_theme(
        {"label": " Pharmacy  access ", "keywords": ["Pharmacy", "pharmacy "]}, "staff"
    )
    assert theme["slug"] == "pharmacy-access" and theme["label"] == "Pharmacy  access"
    assert theme["keywords"] == ["pharmacy"]
    renamed = domain.change_theme(theme, {"label": "Chemists", "active": False})
    assert renamed["slug"] == "pharmacy-access" and renamed["label"] == "Chemists"
    assert renamed["active"] is False
    with pytest.raises(ValidationFailed):
        domain.new_theme({"label": "!!!"}, "staff")


# -- pages, mail, privacy ---------------------------------------------------------------------


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    row = {
        "received_at": NOW,
        "id": "0b7c3d1e-0000-4000-8000-000000000001",
        "needs_attention": True,
    }
    assert domain.read_cursor(domain.cursor(row)) == (NOW, row["id"])
    assert domain.read_queue_cursor(domain.queue_cursor(row)) == (True, NOW, row["id"])
    assert domain.read_cursor(None) is None
    for bad in ("nope", domain.queue_cursor(row), "W10", "WyJ4IiwgInkiXQ"):
        with pytest.raises(ValidationFailed) as exc:
            domain.read_cursor(bad)
        assert exc.value.errors == {"after": [domain.BAD_CURSOR]}


def test_emails_never_carry_what_the_resident_wrote() -> None:
    urgent = item(urgent=True, safeguarding_categories=["suicide"])
    subject, body, stop = domain.safeguarding_email(urgent, "https://engage.example/", "WY")
    assert "suicide" in subject and "https://engage.example/api/v1/staff/feedback/" in body
    assert urgent["text"] not in body and "bus" not in body
    assert stop == "https://engage.example/api/v1/staff/feedback/safeguarding"
    subject, body, stop = domain.reply_email(
        item(public_reply="Thanks, fixed"), "https://engage.example", "WY ICS"
    )
    assert stop == "https://engage.example/feedback/receipts/FB-1/stop-emails"
    assert "Thanks, fixed" in body and "FB-1" in subject
    assert "https://engage.example/feedback/receipts/FB-1" in body


def test_personal_data_matches() -> None:
    row = {
        "receipt_code": "FB-1",
        "text_original": "Jane Doe here",
        "about_original": "Dr Doe",
        "email": "jane@example.com",
        "postcode_district": "LS6",
    }
    assert domain.personal_data_matches(row, "FB-1", "JANE") == [
        {"field": "receipt_code", "text": "FB-1"},
        {"field": "text", "text": "Jane Doe here"},
        {"field": "email", "text": "jane@example.com"},
    ]
    assert [m["field"] for m in domain.personal_data_matches(row, None, "doe")] == [
        "text",
        "about",
    ]
    assert domain.personal_data_matches(row, None, "ls6") == [
        {"field": "postcode_district", "text": "LS6"}
    ]
    assert domain.personal_data_matches({**row, "text_original": None}, None, "here") == []
    assert domain.purge_before(NOW, 730) == NOW - 730 * DAY
