"""Feedback through the gateway with the feedback service NOT running: the form and the
API check what residents send and queue it on RabbitMQ (read back here from the real
queue), the import reads a partner's CSV, and the read model counts feedback from events
in a real gateway database. The whole journey with the service is in
``tests/test_feedback_journey.py``."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from kombu import Connection
from werkzeug.datastructures import MultiDict

from engage_common.db import Pool
from engage_common.messaging import DurablePublisher, submissions_queue
from engage_contracts.reference import current_consent
from gateway.application import feedback
from gateway.readmodels.feedback import feedback_counts
from gateway.readmodels.projections import (
    apply_feedback_deleted,
    apply_feedback_received,
    apply_feedback_themed,
    apply_theme,
)
from gateway.web import feedback_form, forms

CONSENT = current_consent("feedback")
GOOD = {
    "kind": "concern",
    "about": "Hillside GP surgery",
    "text": "I waited three weeks for an appointment.",
    "consent": {"given": True, "version": CONSENT["version"]},
}
SIGNPOSTS = ("999", "NHS 111", "116 123", "safeguarding", "Patient Advice and Liaison", "complaint")


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_per_minute": 0, "rate_limit_reads_per_minute": 0, "rpc_timeout": 0.5}


def drain(amqp: str) -> list[dict[str, Any]]:
    """Every message waiting on ``feedback.submissions``, taken off the real queue."""
    got = []
    with Connection(amqp) as conn:
        queue = submissions_queue("feedback")(conn.default_channel)
        queue.declare()
        while (message := queue.get(no_ack=True)) is not None:
            got.append(message.payload)
    return got


@pytest.fixture
def queued(amqp: str) -> Iterator[None]:
    drain(amqp)
    yield
    drain(amqp)


# -- pure ---------------------------------------------------------------------------------------


def test_the_same_source_row_queues_under_the_same_id_and_residents_never_collide() -> None:
    def msg(imported: bool, source: str | None = None, key: str | None = None) -> dict:
        entered = {"staff_id": 1, "name": "A"} if imported else None
        channel = "partner" if imported else "online"
        return feedback.message("s" * 32, dict(GOOD), channel, key, entered, source, imported)

    assert msg(True, "row-1")["submission_id"] == msg(True, "row-1")["submission_id"]
    assert msg(True, "row-1")["submission_id"] != msg(True, "row-2")["submission_id"]
    # Without a source id, an imported row is the same when its normalised content is.
    again = dict(GOOD, text="  i WAITED three weeks, for an appointment!! ")
    first = msg(True)
    second = feedback.message(
        "s" * 32, again, "partner", None, {"staff_id": 1, "name": "A"}, None, True
    )
    assert first["submission_id"] == second["submission_id"] and first["content_hash"]
    # Two residents may write the same words: never deduplicated by content.
    assert msg(False)["submission_id"] != msg(False)["submission_id"]
    assert msg(False)["content_hash"] is None
    assert msg(False, key="k1")["receipt_code"] == msg(False, key="k1")["receipt_code"]


def test_a_csv_with_an_unknown_or_missing_column_is_refused_at_line_1() -> None:
    rows = list(feedback.read_rows(io.StringIO("kind,about\nconcern,x\n")))
    assert rows == [(1, "the header row must name the columns text")]
    rows = list(feedback.read_rows(io.StringIO("kind,about,text,nhs_number\n")))
    assert rows[0][0] == 1 and "unknown columns nhs_number" in rows[0][1]


def test_the_form_parses_to_the_contract_and_says_what_to_fix() -> None:
    posted = MultiDict(
        {
            "kind": "idea",
            "about": " Bus to the hospital ",
            "text": "Run a bus\r\nfrom the estate",
            "may_quote": "yes",
            "reply_by": "none",
            "equality-age_band": "prefer-not-to-say",
            "equality-postcode_district": "LS6",
            forms.CONSENT_FIELD: "yes",
            forms.CONSENT_VERSION_FIELD: CONSENT["version"],
        }
    )
    sent = feedback_form.parse(posted)
    assert sent["about"] == "Bus to the hospital" and sent["text"] == "Run a bus\nfrom the estate"
    assert sent["may_quote"] is True
    assert sent["equality"] == {"age_band": "prefer-not-to-say"}  # the form asks where itself
    assert sent["consent"] == {"given": True, "version": CONSENT["version"]}
    summary, inline = feedback_form.error_messages(
        {"text": ["is required"], "kind": ["is required"], "consent.given": ["must be true"]}
    )
    assert [target for _, target in summary] == ["kind", "text", "consent"]
    assert inline["text"] == "Enter your feedback"


# -- the pages and the API ----------------------------------------------------------------------


def csrf(client: FlaskClient, path: str = "/feedback") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_form_page_signposts_and_asks_for_feedback_consent(client: FlaskClient) -> None:
    page = client.get("/feedback?consultation_id=" + str(uuid.uuid4()))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for words in SIGNPOSTS:
        assert words in html, words
    assert CONSENT["wording"] in html and f'value="{CONSENT["version"]}"' in html
    assert 'name="consultation_id"' in html
    assert 'type="email"' in html and 'autocomplete="email"' in html


def test_a_form_missing_answers_comes_back_with_an_error_summary_and_queues_nothing(
    client: FlaskClient, amqp: str, queued: None
) -> None:
    token = csrf(client)
    page = client.post(
        "/feedback",
        data={"csrf_token": token, "reply_by": "email", "text": "Thank you to the ward staff"},
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'id="error-summary"' in html
    for message in (
        "Choose what kind of feedback this is",
        "Enter what your feedback is about",
        "Enter your email address, or choose not to have a reply by email",
        "Tick the box to agree to how we use your feedback",
    ):
        assert message in html, message
    assert "Thank you to the ward staff" in html  # kept, not lost
    assert drain(amqp) == []


def test_the_form_queues_feedback_and_shows_its_receipt_with_signposting(
    client: FlaskClient, amqp: str, queued: None
) -> None:
    token = csrf(client)
    form = {
        "csrf_token": token,
        "idempotency_key": str(uuid.uuid4()),
        "kind": "compliment",
        "about": "Ward 7",
        "text": "The nurses on ward 7 were kind at 10:30 at night.",
        "place": "leeds",
        "reply_by": "none",
        forms.CONSENT_FIELD: "yes",
        forms.CONSENT_VERSION_FIELD: CONSENT["version"],
    }
    sent = client.post("/feedback", data=form)
    assert sent.status_code == 303
    code = sent.headers["Location"].rsplit("/", 1)[1]
    again = client.post("/feedback", data=form)  # a double click: the same receipt
    assert again.headers["Location"] == sent.headers["Location"]
    receipt = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert code in receipt and "Thank you for your feedback" in receipt
    for words in SIGNPOSTS:
        assert words in receipt, words
    messages = drain(amqp)
    assert len({m["submission_id"] for m in messages}) == 1 and len(messages) == 2
    message = messages[0]
    assert message["channel"] == "web-form" and message["entered_by"] is None
    assert message["receipt_code"] == code and message["place"] == "leeds"
    assert message["consent"] == {"given": True, "version": CONSENT["version"]}


def test_the_honeypot_gets_a_receipt_and_nothing_is_queued(
    client: FlaskClient, amqp: str, queued: None
) -> None:
    page = client.post(
        "/feedback",
        data={"csrf_token": csrf(client), forms.HONEYPOT_FIELD: "http://spam", **GOOD},
    )
    assert page.status_code == 200 and 'id="receipt-code"' in page.get_data(as_text=True)
    assert drain(amqp) == []


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient) -> None:
    page = client.post("/feedback", data={"kind": "idea"})
    assert page.status_code == 400 and "reload the page" in page.get_data(as_text=True)


def test_the_api_names_each_bad_field_and_the_wording_must_be_the_feedback_one(
    client: FlaskClient, amqp: str, queued: None
) -> None:
    bad = client.post(
        "/api/v1/feedback",
        json={
            "kind": "rant",
            "about": "",
            "text": "x" * 5001,
            "reply_by": "email",
            "consent": {"given": True, "version": current_consent()["version"]},
            "equality": {"age_band": "ancient"},
            "postcode_district": "12345",
        },
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"kind", "about", "text", "email"}
    wording = client.post(
        "/api/v1/feedback",
        json={
            **GOOD,
            "consent": {"given": True, "version": current_consent()["version"]},
            "equality": {"age_band": "ancient"},
            "postcode_district": "12345",
        },
    )
    assert wording.status_code == 422
    assert set(wording.get_json()["error"]["fields"]) == {
        "consent.version",
        "equality.age_band",
        "postcode_district",
    }
    assert drain(amqp) == []
    good = client.post("/api/v1/feedback", json={**GOOD, "postcode_district": "ls6"})
    assert good.status_code == 202 and good.headers["Location"].endswith(
        good.get_json()["receipt_code"]
    )
    (message,) = drain(amqp)
    assert message["channel"] == "online" and message["postcode_district"] == "LS6"
    assert message["place"] == "leeds"  # worked out from the district


def test_staff_entry_is_marked_with_its_channel_and_who_entered_it(
    client: FlaskClient, amqp: str, queued: None, as_role: dict[str, dict[str, str]]
) -> None:
    sent = client.post(
        "/api/v1/staff/feedback",
        headers=as_role["triage-officer"],
        json={**GOOD, "channel": "healthwatch", "source_id": "HW-2026-0042"},
    )
    assert sent.status_code == 202
    online = client.post(
        "/api/v1/staff/feedback",
        headers=as_role["triage-officer"],
        json={**GOOD, "channel": "web-form"},
    )
    assert online.status_code == 422 and "channel" in online.get_json()["error"]["fields"]
    (message,) = drain(amqp)
    assert message["channel"] == "healthwatch" and message["source_id"] == "HW-2026-0042"
    assert message["entered_by"]["name"] == "Triage-Officer"


def test_while_rabbitmq_is_unreachable_feedback_gets_a_503_not_a_receipt(
    app: Any, client: FlaskClient
) -> None:
    ctx = app.extensions["engage"]
    real = ctx.publisher
    ctx.publisher = DurablePublisher("amqp://guest:guest@127.0.0.1:1/")
    try:
        response = client.post("/api/v1/feedback", json=GOOD)
    finally:
        ctx.publisher = real
    assert response.status_code == 503 and "receipt_code" not in response.get_data(as_text=True)


# -- the read model -----------------------------------------------------------------------------


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": datetime.now(UTC).isoformat(),
        **fields,
    }


def received(fid: str, place: str | None, channel: str, at: datetime) -> dict[str, Any]:
    return event(
        "feedback_received",
        feedback_id=fid,
        kind="concern",
        place=place,
        channel=channel,
        consultation_id=None,
        received_at=at.isoformat(),
        urgent=False,
    )


def test_counts_by_theme_place_and_channel_through_the_small_number_rule(db: Pool) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    ids = [str(uuid.uuid4()) for _ in range(16)]
    with db.connection() as conn:
        conn.execute("DELETE FROM feedback_facts")
        apply_theme(conn, event("theme_saved", slug="gp-access", label="GP access", active=True))
        for i, fid in enumerate(ids):
            place = "leeds" if i < 10 else ("wakefield" if i < 13 else "kirklees")
            channel = "web-form" if i < 9 else "phone"
            if i == 0:  # themed before its received event arrives: both still count
                apply_feedback_themed(
                    conn,
                    event(
                        "feedback_themed",
                        feedback_id=fid,
                        themes=["gp-access"],
                        tone="negative",
                        place=place,
                        channel=channel,
                        consultation_id=None,
                        received_at=at.isoformat(),
                    ),
                )
            apply_feedback_received(conn, received(fid, place, channel, at))
            if 0 < i < 6:
                apply_feedback_themed(
                    conn,
                    event(
                        "feedback_themed",
                        feedback_id=fid,
                        themes=["gp-access", "waiting-times"],
                        tone="negative",
                        place=place,
                        channel=channel,
                        consultation_id=None,
                        received_at=at.isoformat(),
                    ),
                )
        deleted = ids[15]
        apply_feedback_deleted(conn, event("feedback_deleted", feedback_id=deleted))
        apply_feedback_received(conn, received(deleted, "kirklees", "phone", at))  # late
        counts = feedback_counts(conn, at - timedelta(days=1), at + timedelta(days=1))
    assert counts["total"] == 15 and counts["themed"] == 6
    themes = {t["value"]: (t["label"], t["count"]) for t in counts["by_theme"]}
    assert themes == {"gp-access": ("GP access", 6), "waiting-times": ("waiting-times", 5)}
    # Wakefield 3 and Kirklees 2 are hidden; together 5, so Leeds may be shown.
    places = {p["value"]: p["count"] for p in counts["by_place"]}
    assert places == {"leeds": 10, "wakefield": None, "kirklees": None}
    channels = {c["value"]: c["count"] for c in counts["by_channel"]}
    assert channels == {"web-form": 9, "phone": 6}
    with db.connection() as conn:
        assert feedback_counts(conn, at + timedelta(days=1))["total"] == 0
        one_place = feedback_counts(conn, place="kirklees")
    assert one_place["total"] is None  # two people: too few to show even the total
