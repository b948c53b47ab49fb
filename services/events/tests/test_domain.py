"""Events' pure rules (no I/O): codes, fair filling, capacity cuts, event changes, access
needs, reach through the small-number rule, themes, the emails' wording, the outbox
events' fields and the privacy rules."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.errors import Conflict, ValidationFailed
from engage_common.redaction import redact
from engage_contracts import events as contract
from engage_contracts.base import load
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from events import domain, schemas

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ACTOR = {"staff_id": 7, "name": "A Officer", "role": "engagement-officer"}
CONSENT = {"given": True, "version": current_consent("events")["version"]}


def event(**fields: Any) -> dict[str, Any]:
    return {
        "id": "0b7c3d1e-0000-4000-8000-000000000001",
        "version": 2,
        "kind": "drop-in",
        "title": {"en": "Ageing Well drop-in"},
        "description": {"en": ""},
        "place": "leeds",
        "venue": {
            "name": "Leeds Central Library",
            "address": "Calverley Street",
            "postcode": "LS1 3AB",
            "features": ["step-free-access"],
            "directions": "",
        },
        "online_link": None,
        "starts_at": NOW + 10 * DAY,
        "ends_at": NOW + 10 * DAY + timedelta(hours=2),
        "capacity": 10,
        "registration_opens_at": None,
        "registration_closes_at": None,
        "consultation_ids": [uuid.UUID("1b7c3d1e-0000-4000-8000-000000000001")],
        "priorities": ["ageing-well"],
        "themes": ["transport"],
        "partners": [],
        "status": "published",
        "cancelled_reason": None,
        **fields,
    }


def waiting(*places: int) -> list[dict[str, Any]]:
    return [{"id": f"w{i}", "places": p} for i, p in enumerate(places)]


# -- codes ------------------------------------------------------------------------------------


def test_the_manage_code_comes_from_the_key_and_a_salt_and_only_its_hash_is_kept() -> None:
    salt = domain.new_salt()
    code = domain.manage_code("my-key", salt)
    assert contract.MANAGE_CODE.match(code) and len(code) == 43
    assert domain.manage_code("my-key", salt) == code  # sent again: the same code
    assert domain.manage_code("my-key", domain.new_salt()) != code
    assert domain.manage_code("other-key", salt) != code
    assert domain.code_hash(code) == hashlib.sha256(code.encode()).hexdigest()
    assert domain.key_hash("my-key") != domain.key_hash("my-key ") and "my-key" not in (
        domain.key_hash("my-key")
    )
    assert domain.readable_manage_code(code) == code
    for bad in (None, 7, "short", "has spaces " * 4, "../../etc/passwd/../../etc/passwd"):
        assert domain.readable_manage_code(bad) is None


def test_idempotency_keys_and_receipt_codes() -> None:
    assert domain.check_idempotency_key("abc-123_XYZ") == "abc-123_XYZ"
    for bad in (None, "", "with space", "x" * 201, 12):
        with pytest.raises(ValidationFailed) as failed:
            domain.check_idempotency_key(bad)
        assert list(failed.value.errors) == ["idempotency_key"]
    code = domain.new_receipt_code()
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", code)
    assert domain.new_receipt_code() != code


# -- registering ------------------------------------------------------------------------------


def test_a_registration_is_checked_and_cleaned() -> None:
    loaded = load(
        contract.RegistrationInputSchema(),
        {
            "name": " Sam ",
            "contact": {"email": "sam@example.com", "phone": " 0113 496 0000 "},
            "equality": {"age_band": "25-34", "sex": ""},
            "access_needs": [{"need": "spoken-language", "detail": " Polish "}],
            "consent": CONSENT,
        },
    )
    clean = domain.check_registration(loaded)
    assert clean["name"] == "Sam" and clean["email"] == "sam@example.com"
    assert clean["phone"] == "0113 496 0000" and clean["equality"] == {"age_band": "25-34"}
    assert clean["access_needs"] == [{"need": "spoken-language", "detail": "Polish"}]
    assert clean["consent"] == {
        "given": True,
        "version": CONSENT["version"],
        "wording": current_consent("events")["wording"],
    }
    anonymous = domain.check_registration(
        load(contract.RegistrationInputSchema(), {"consent": CONSENT})
    )
    assert (anonymous["name"], anonymous["email"], anonymous["equality"]) == (None, None, None)
    with pytest.raises(ValidationFailed) as failed:
        domain.check_registration(
            {"equality": {"age_band": "old"}, "consent": {"given": False, "version": "nope"}}
        )
    assert set(failed.value.errors) == {"equality.age_band", "consent.given", "consent.version"}


def test_registration_opens_and_closes() -> None:
    domain.check_open(event(), NOW)
    with pytest.raises(Conflict, match="cancelled"):
        domain.check_open(event(status="cancelled"), NOW)
    with pytest.raises(Conflict, match="Registration opens on"):
        domain.check_open(event(registration_opens_at=NOW + DAY), NOW)
    with pytest.raises(Conflict, match="closed"):
        domain.check_open(event(registration_closes_at=NOW - DAY), NOW)
    with pytest.raises(Conflict, match="closed"):
        domain.check_open(event(), NOW + 11 * DAY)


def test_a_place_while_places_fit_else_the_waiting_list() -> None:
    assert domain.status_for(10, 9, 1) == "confirmed"
    assert domain.status_for(10, 9, 2) == "waiting"
    assert domain.status_for(10, 10, 1) == "waiting"
    assert domain.status_for(None, 10_000, 4) == "confirmed"


def test_promotions_go_in_order_to_each_whose_places_fit() -> None:
    assert domain.promotions(10, 10, waiting(1, 1)) == []
    assert domain.promotions(10, 9, waiting(1, 1)) == ["w0"]
    assert domain.promotions(10, 9, waiting(2, 1, 1)) == ["w1"]  # a pair waits for two
    assert domain.promotions(10, 7, waiting(2, 2, 1)) == ["w0", "w2"]
    assert domain.promotions(None, 50, waiting(4, 4)) == ["w0", "w1"]


def test_a_capacity_cut_moves_only_those_staff_name() -> None:
    confirmed = [{"id": "a", "places": 1}, {"id": "b", "places": 2}, {"id": "c", "places": 1}]
    assert domain.capacity_cut(4, confirmed, []) == []
    assert domain.capacity_cut(None, confirmed, []) == []
    with pytest.raises(Conflict, match="to_waiting_list"):
        domain.capacity_cut(2, confirmed, [])
    with pytest.raises(Conflict):
        domain.capacity_cut(2, confirmed, ["c"])
    assert domain.capacity_cut(2, confirmed, ["c", "a", "c"]) == ["c", "a"]
    assert domain.capacity_cut(2, confirmed, ["b"]) == ["b"]
    with pytest.raises(ValidationFailed) as failed:
        domain.capacity_cut(2, confirmed, ["a", "zz"])
    assert list(failed.value.errors) == ["to_waiting_list.1"]
    with pytest.raises(ValidationFailed) as failed:
        domain.capacity_cut(5, confirmed, ["a"])
    assert list(failed.value.errors) == ["to_waiting_list"]


def test_late_access_needs_are_flagged_by_their_booking_ahead_date() -> None:
    starts = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    needs = [{"need": "bsl-interpreter"}, {"need": "hearing-loop"}, {"need": "spoken-language"}]
    early = domain.new_adjustments("r1", event(starts_at=starts), needs, starts - 20 * DAY)
    assert [a["late"] for a in early] == [False, False, False]
    # 10 days before: BSL (14 days' notice) is late, another language (7) is not
    mid = domain.new_adjustments("r1", event(starts_at=starts), needs, starts - 10 * DAY)
    assert [a["late"] for a in mid] == [True, False, False]
    assert mid[0]["event_id"] == event()["id"] and mid[0]["registration_id"] == "r1"
    book_ahead = domain.book_ahead(starts, ics().event_book_ahead_days)
    assert set(book_ahead) == {"bsl-interpreter", "spoken-language"}
    assert book_ahead["bsl-interpreter"] == datetime(2026, 11, 17, 0, 0, tzinfo=UTC)


def test_changed_access_needs_keep_what_was_arranged() -> None:
    current = [
        {"id": "1", "need": "hearing-loop", "detail": ""},
        {"id": "2", "need": "other", "detail": "a chair"},
    ]
    wanted = [{"need": "other", "detail": "a chair"}, {"need": "large-print", "detail": ""}]
    added, removed = domain.changed_needs(current, wanted)
    assert added == [{"need": "large-print", "detail": ""}] and removed == ["1"]


def test_reminded_when_registering_inside_the_reminder_time() -> None:
    starts = NOW + timedelta(hours=5)
    assert domain.reminded_on_registering("confirmed", "a@b.c", starts, NOW, 24) == NOW
    assert domain.reminded_on_registering("confirmed", "a@b.c", starts, NOW, 4) is None
    assert domain.reminded_on_registering("waiting", "a@b.c", starts, NOW, 24) is None
    assert domain.reminded_on_registering("confirmed", None, starts, NOW, 24) is None


# -- events -----------------------------------------------------------------------------------


def test_changing_an_event() -> None:
    current = event()
    assert domain.changed_event(current, {"capacity": 10}, ACTOR, NOW) is None
    changed = domain.changed_event(current, {"capacity": 12}, ACTOR, NOW)
    assert changed["capacity"] == 12 and changed["version"] == 3
    assert changed["updated_by"] == {"staff_id": 7, "name": "A Officer"}
    with pytest.raises(ValidationFailed) as failed:
        domain.changed_event(current, {"ends_at": current["starts_at"] - DAY}, ACTOR, NOW)
    assert list(failed.value.errors) == ["ends_local"]
    with pytest.raises(ValidationFailed) as failed:
        domain.changed_event(current, {"kind": "online-session"}, ACTOR, NOW)
    assert list(failed.value.errors) == ["online_link"]
    with pytest.raises(Conflict):
        domain.changed_event(event(status="cancelled"), {"capacity": 3}, ACTOR, NOW)

    later = {**current, "starts_at": current["starts_at"] + DAY}
    assert domain.what_registrants_hear(current, later) == ["time"]
    moved = {**later, "venue": None, "online_link": "https://meet.example.org/x"}
    assert domain.what_registrants_hear(current, moved) == ["time", "venue", "link"]
    assert domain.what_registrants_hear(current, {**current, "capacity": 3}) == []


def test_publishing_and_cancelling() -> None:
    draft = event(status="draft")
    published = domain.publish(draft, ACTOR, NOW)
    assert published["status"] == "published" and published["published_at"] == NOW
    assert domain.publish(published, ACTOR, NOW) is None
    with pytest.raises(Conflict):
        domain.publish(event(status="cancelled"), ACTOR, NOW)
    with pytest.raises(Conflict, match="over"):
        domain.publish(draft, ACTOR, NOW + 20 * DAY)
    cancelled = domain.cancel(published, "Flooded", ACTOR, NOW)
    assert (cancelled["status"], cancelled["cancelled_reason"]) == ("cancelled", "Flooded")
    assert domain.cancel(cancelled, "again", ACTOR, NOW) is None
    assert domain.check_reason("  Flooded ") == "Flooded"
    for bad in (None, "", "   ", "x" * 501):
        with pytest.raises(ValidationFailed):
            domain.check_reason(bad)


def test_themes_are_ones_in_use() -> None:
    domain.check_themes(["transport"], ["transport", "carers"])
    domain.check_themes(["retired"], ["transport"], keep=["retired"])
    with pytest.raises(ValidationFailed) as failed:
        domain.check_themes(["transport", "nope"], ["transport"])
    assert failed.value.errors == {"themes.1": [domain.THEME_NOT_IN_USE]}


def test_themes_kept_from_feedback() -> None:
    seeded = {t["slug"]: t for t in domain.seeded_themes(ics())}
    assert "transport" in seeded and seeded["transport"]["active"] is True
    assert any(t["priority"] == "ageing-well" for t in seeded.values())
    theme = domain.theme_from_event(
        {
            "event_id": "e1",
            "occurred_at": NOW.isoformat(),
            "slug": "estates",
            "label": " Estates ",
            "active": False,
            "priority": None,
        }
    )
    assert theme == {
        "slug": "estates",
        "label": "Estates",
        "active": False,
        "priority": None,
        "event_at": NOW,
    }
    for bad in ([], {"slug": "Not A Slug"}, {"label": "x"}):
        with pytest.raises(ValueError):
            domain.theme_from_event(bad)


# -- access needs and attendance --------------------------------------------------------------


def test_an_adjustment_not_possible_needs_a_reason() -> None:
    row = {"id": "a", "state": "requested", "reason": None, "met": None}
    with pytest.raises(ValidationFailed) as failed:
        domain.change_adjustment(row, {"state": "not-possible", "reason": None})
    assert failed.value.errors == {"reason": ["say why it is not possible"]}
    refused = domain.change_adjustment(row, {"state": "not-possible", "reason": " No one free "})
    assert refused["reason"] == "No one free"
    # the schema fills reason in with None (and the gateway sends it so): it keeps the reason
    met = domain.change_adjustment(refused, {"reason": None, "met": False})
    assert met["reason"] == "No one free" and met["met"] is False
    assert domain.change_adjustment(met, {"reason": None, "met": False}) is None
    reworded = domain.change_adjustment(met, {"reason": "None free within 50 miles"})
    assert reworded["reason"] == "None free within 50 miles"
    arranged = domain.change_adjustment(met, {"state": "arranged", "reason": None})
    assert arranged["state"] == "arranged" and arranged["reason"] is None


def test_attendance_names_confirmed_registrations_only() -> None:
    rows = {
        "a": {"status": "confirmed", "walk_in": False},
        "b": {"status": "waiting", "walk_in": False},
        "w": {"status": "confirmed", "walk_in": True},
    }
    domain.check_attendance({"attended": ["a"], "absent": [], "walk_ins": []}, rows)
    with pytest.raises(ValidationFailed) as failed:
        domain.check_attendance(
            {
                "attended": ["a", "b", "w", "zz"],
                "absent": ["a"],
                "walk_ins": [{"places": 1, "equality": {"age_band": "old"}}],
            },
            rows,
        )
    assert set(failed.value.errors) == {
        "attended.1",
        "attended.2",
        "attended.3",
        "absent",
        "walk_ins.0.equality.age_band",
    }
    walk_in = domain.walk_in("e1", 3, {"age_band": "25-34"})
    assert walk_in["walk_in"] and walk_in["attended"] and walk_in["status"] == "confirmed"
    assert walk_in["name"] is None and walk_in["manage_code_hash"] is None


# -- reach ------------------------------------------------------------------------------------


TOTALS = {
    "registrations": 40,
    "places_registered": 50,
    "attended": 30,
    "walk_ins": 3,
    "no_shows": 20,
    "waiting": 0,
}


def test_reach_shows_what_picks_nobody_out() -> None:
    needs = [
        {"need": "bsl-interpreter", "requested": 2, "arranged": 2, "met": 1},
        {"need": "hearing-loop", "requested": 9, "arranged": 9, "met": 9},
        {"need": "step-free-access", "requested": 6, "arranged": 6, "met": 6},
    ]
    equality = [{"age_band": "25-34"}] * 6 + [{"age_band": "65-74", "sex": "female"}] * 2
    by_place = {"leeds": 30, "wakefield": 3}
    got = domain.reach(2, TOTALS, needs, equality, by_place, 5)
    assert got["walk_ins"] is None and got["waiting"] == 0 and got["registrations"] == 40
    assert (got["attended"], got["no_shows"], got["no_show_rate"]) == (30, 20, 0.4)
    assert got["access_needs"] == [
        {"need": "bsl-interpreter", "requested": None, "arranged": None, "met": None},
        {"need": "hearing-loop", "requested": 9, "arranged": 9, "met": 9},
        {"need": "step-free-access", "requested": None, "arranged": None, "met": None},
    ]
    assert got["attendees_by"] == {
        "age_band": [{"value": "25-34", "count": None}, {"value": "65-74", "count": None}],
        "sex": [{"value": "female", "count": None}],
    }
    assert got["by_place"] == [
        {"value": "leeds", "count": None},
        {"value": "wakefield", "count": None},
    ]
    assert set(got) == set(contract.ReachSchema._declared_fields)

    few = domain.reach(1, {**TOTALS, "no_shows": 2}, [], [], {}, 5)
    assert (few["attended"], few["no_shows"], few["no_show_rate"]) == (None, None, None)
    hidden = domain.reach(1, TOTALS, needs, equality, by_place, 5, shown=False)
    assert hidden["registrations"] is None and hidden["by_place"] == []
    assert not domain.place_shown({"leeds": 30, "wakefield": 3, "kirklees": 40}, "wakefield", 5)
    assert domain.place_shown({"leeds": 30, "wakefield": 3}, "calderdale", 5)


# -- points -----------------------------------------------------------------------------------


def test_a_point_is_redacted_and_its_quote_public_only_when_allowed_and_approved() -> None:
    sent = {
        "text": "Call me on 07700 900123 about the bus",
        "themes": ["transport", "transport"],
        "tone": "negative",
        "place": None,
        "quote": "My number is 07700 900123",
        "may_quote": False,
    }
    point = domain.new_point(
        event(), sent, [redact(sent["text"]), redact(sent["quote"])], ACTOR, NOW
    )
    assert point["text"] == "Call me on [phone number removed] about the bus"
    assert point["text_original"] == sent["text"]
    assert point["quote"] == "My number is [phone number removed]"
    assert point["themes"] == ["transport"] and point["place"] == "leeds"
    assert [r["in"] for r in point["redactions"]] == ["text", "quote"]
    with pytest.raises(Conflict):
        domain.approve_quote(point, ACTOR, NOW)
    allowed = {**point, "may_quote": True}
    assert domain.public_quote(allowed) is None
    approved = domain.approve_quote(allowed, ACTOR, NOW)
    assert domain.public_quote(approved) == "My number is [phone number removed]"
    shown = schemas.point(approved)
    assert set(shown) == set(contract.PointSchema._declared_fields)
    assert shown["quote_approved"] is True and shown["recorded_by"] == "A Officer"
    assert schemas.point({**point, "quote_approved": None}, public=True)["quote"] is None
    with pytest.raises(Conflict):
        domain.can_hear(event(status="draft"))


# -- what is published and emailed -----------------------------------------------------------


def test_outbox_events_have_exactly_the_contract_fields() -> None:
    ev = event()
    registration = {"id": "r1", "status": "waiting", "places": 2, "name": "Sam"}
    point = {
        "id": "p1",
        "event_id": ev["id"],
        "themes": ["transport"],
        "tone": None,
        "place": "leeds",
    }
    counts = {"places_registered": 5, "attended": 4, "walk_ins": 1, "no_shows": 1}
    payloads = {
        "engagement_event_published": domain.event_published(ev),
        "engagement_event_changed": domain.event_changed(ev),
        "engagement_event_cancelled": domain.event_cancelled(ev),
        "registration_made": domain.registration_event(registration, ev),
        "registration_changed": domain.registration_event(registration, ev),
        "registration_cancelled": domain.registration_cancelled("r1", ev),
        "attendance_recorded": domain.attendance_recorded(ev, counts),
        "point_heard": domain.point_heard(point, ev),
        "point_withdrawn": domain.point_withdrawn(point),
        "attendee_recorded": domain.attendee_recorded(
            "r1", ev, True, {"age_band": "16-24", "postcode_district": "LS6", "imd_decile": 2}
        ),
        "registration_erased": domain.registration_erased("r1", ev["id"]),
        "quote_published": domain.quote_published({**point, "quote": "Buses!"}, ev),
    }
    assert set(payloads) == set(contract.EVENT_FIELDS)
    for event_type, payload in payloads.items():
        assert set(payload) == set(contract.EVENT_FIELDS[event_type]), event_type
    assert "Sam" not in str(payloads)
    assert payloads["point_heard"]["heard_at"] == "2026-11-12T12:00:00+00:00"
    assert payloads["engagement_event_published"]["consultation_ids"] == [
        "1b7c3d1e-0000-4000-8000-000000000001"
    ]


def test_emails_say_when_in_uk_time_and_only_the_confirmation_has_the_private_link() -> None:
    summer = event(
        starts_at=datetime(2026, 6, 6, 9, 0, tzinfo=UTC),
        ends_at=datetime(2026, 6, 6, 11, 0, tzinfo=UTC),
    )
    assert domain.when_text(summer["starts_at"], summer["ends_at"]) == (
        "Saturday 6 June 2026, 10:00 to 12:00 (UK time)"
    )
    winter = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert domain.when_text(winter, winter + timedelta(hours=2)) == (
        "Saturday 5 December 2026, 23:00 to Sunday 6 December 2026, 01:00 (UK time)"
    )
    registration = {
        "status": "confirmed",
        "places": 2,
        "receipt_code": "K7QM-2XRT-HP4D",
        "access_needs": [{"need": "bsl-interpreter"}],
    }
    subject, body = domain.confirmation_email(
        summer, registration, None, "c0de", ["bsl-interpreter"], "https://x.test/", "WY ICB"
    )
    assert subject == "Your place: Ageing Well drop-in"
    assert "https://x.test/events/registrations/c0de" in body and "K7QM-2XRT-HP4D" in body
    assert "British Sign Language" in body and "booking ahead" in body
    assert "Step-free access" in body and "Leeds Central Library" in body
    _, waiting = domain.confirmation_email(
        summer, {**registration, "status": "waiting", "access_needs": []}, 3, "c", [], "u", "I"
    )
    assert "number 3 on the waiting list" in waiting
    online = event(online_link="https://meet.example.org/x", venue=None, kind="online-session")
    for mail in (domain.reminder_email(online), domain.promoted_email(online)):
        assert "https://meet.example.org/x" in mail[1]
    for mail in (domain.moved_to_waiting_email(online), domain.cancelled_email(online)):
        assert "https://meet.example.org/x" not in mail[1]
    assert "https://meet.example.org/x" not in domain.changed_email(online, ["link"], False)[1]
    assert domain.changed_email(online, ["time", "link"], True)[0] == (
        "Change to Ageing Well drop-in: the time and the joining link"
    )
    assert domain.stop_url("https://x.test/", "K7QM-2XRT-HP4F") == (
        "https://x.test/events/registrations/stop-emails/K7QM-2XRT-HP4F"
    )
    assert domain.mail_key_prefixes(["r1"]) == [f"{k}:r1" for k in domain.MAIL_KINDS]


# -- privacy ----------------------------------------------------------------------------------


def test_personal_data_matches_and_purge_date() -> None:
    row = {
        "receipt_code": "K7QM-2XRT-HP4E",
        "name": "Sam Smith",
        "email": "sam@example.com",
        "phone": None,
        "details": ["my guide dog Sam"],
    }
    assert domain.personal_data_matches(row, "K7QM-2XRT-HP4E", "sam") == [
        {"field": "receipt_code", "text": "K7QM-2XRT-HP4E"},
        {"field": "name", "text": "Sam Smith"},
        {"field": "email", "text": "sam@example.com"},
        {"field": "access_needs.detail", "text": "my guide dog Sam"},
    ]
    assert domain.personal_data_matches(row, None, "nobody") == []
    assert domain.purge_before(NOW, 90) == NOW - 90 * DAY


def test_the_event_shape_has_both_utc_and_uk_local_times() -> None:
    row = {
        **event(
            starts_at=datetime(2026, 3, 29, 9, 0, tzinfo=UTC),
            ends_at=datetime(2026, 3, 29, 11, 0, tzinfo=UTC),
        ),
        "confirmed_places": 4,
        "waiting_places": 0,
    }
    shown = schemas.event(row, datetime(2026, 3, 1, tzinfo=UTC))
    assert set(shown) == set(contract.EventSchema._declared_fields)
    assert (shown["starts_at"], shown["starts_local"]) == (
        "2026-03-29T09:00:00+00:00",
        "2026-03-29T10:00",
    )
    assert shown["places_left"] == 6 and shown["registration_open"] is True
    assert shown["online"] is False and "online_link" not in shown
    assert shown["book_ahead"]["bsl-interpreter"] == "2026-03-15T00:00:00+00:00"


@pytest.mark.parametrize(
    ("local", "error"),
    [
        ("2026-03-29T01:30", "does not exist in UK time: the clocks go forward then"),
        ("2026-13-01T10:00", "must be a UK local date and time like 2026-03-29T10:30"),
    ],
)
def test_a_time_that_is_not_a_uk_time_is_refused_naming_the_field(local: str, error: str) -> None:
    with pytest.raises(ValidationFailed) as failed:
        load(
            contract.EventInputSchema(),
            {"kind": "drop-in", "title": "x", "starts_local": local, "ends_local": local},
        )
    assert failed.value.errors["starts_local"] == [error]
