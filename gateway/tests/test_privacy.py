"""UK GDPR through the gateway, against the real surveys service (nameko
``container_factory``), a real gateway database and RabbitMQ: consent stored with its
wording, a resident seeing and deleting what they sent, staff erasure requests,
retention purges that keep the aggregates, and the audit log of staff reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.db import Pool
from engage_common.testing import eventually
from engage_contracts import ics
from engage_contracts.reference import consent_wordings, current_consent
from gateway.store import audit as store

# From the ICS configuration the tests run under (the default one).
CONSENT_VERSION = current_consent()["version"]
CONSENT_WORDINGS = consent_wordings()

QUESTIONS = [
    {
        "id": "choice",
        "type": "single_choice",
        "text": "Where do you go first?",
        "required": True,
        "options": [{"value": "gp", "label": "My GP"}, {"value": "ae", "label": "A&E"}],
    },
    {"id": "score", "type": "rating", "text": "How good is it?"},
    {"id": "agree", "type": "likert", "text": "It is easy to get to"},
    {"id": "tell", "type": "free_text", "text": "Tell us more"},
]
CONSENT = {"given": True, "version": CONSENT_VERSION}
WORDING = CONSENT_WORDINGS[CONSENT_VERSION]
# Emoji (with a ZWJ sequence and a skin tone), Arabic and Hebrew (right to left),
# decomposed combining marks, CJK, a 4-byte mathematical letter, a bidi override.
UNICODE = (
    "Caf\u0065\u0301 \U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd "
    "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d"
    "\u0924\u0947 \u6f22\u5b57 \U0001d4ae \u202eevil\u202c Z\u0351\u0361a\u0352\u0315"
)


@pytest.fixture(scope="module")
def sdb(surveys_db: str) -> Iterator[Pool]:
    pool = Pool(surveys_db, size=2)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_per_minute": 1000}


@pytest.fixture(scope="module")
def headers(as_role: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return as_role


def open_consultation(client: FlaskClient, officer: dict[str, str]) -> str:
    body = {
        "title": "Walk-in centres",
        "summary": "Tell us",
        "places": ["leeds"],
        "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        "questionnaire": {"questions": QUESTIONS},
    }
    created = client.post("/api/v1/staff/consultations", json=body, headers=officer)
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    assert (
        client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer).status_code == 200
    )
    return cid


def submit(client: FlaskClient, cid: str, **body: Any) -> str:
    sent = client.post(
        f"/api/v1/consultations/{cid}/responses",
        json={"consent": CONSENT, **body},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert sent.status_code == 202, sent.get_json()
    code = sent.get_json()["receipt_code"]
    eventually(
        lambda: client.get(f"/api/v1/receipts/{code}").status_code == 200,
        what=f"receipt {code} to be stored",
    )
    return code


def audit_rows(db: Pool) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return store.audit_entries(conn, 1000)


def test_resident_sees_exactly_what_they_sent_and_deletes_it(
    surveys: Any, client: FlaskClient, headers: dict[str, dict[str, str]], sdb: Pool
) -> None:
    officer = headers["engagement-officer"]
    cid = open_consultation(client, officer)
    other = submit(client, cid, answers={"choice": "ae"})
    code = submit(
        client,
        cid,
        answers={"choice": "gp", "score": 7, "tell": UNICODE},
        equality={"age_band": "35-44", "postcode_district": "LS6"},
        consent=CONSENT,
    )

    mine = client.get(f"/api/v1/receipts/{code.lower()}/response")
    assert mine.status_code == 200, mine.get_json()
    assert mine.headers["Cache-Control"] == "no-store"
    body = mine.get_json()
    assert body["answers"] == {"choice": "gp", "score": 7, "tell": UNICODE}
    assert body["answers"]["tell"].encode() == UNICODE.encode()  # not even normalised
    assert body["consent"] == {"given": True, "version": CONSENT_VERSION, "wording": WORDING}
    assert body["equality"] == {"age_band": "35-44", "postcode_district": "LS6"}
    assert body["place"] == "leeds" and body["consultation_id"] == cid
    assert body["receipt_code"] == code and body["submitted_at"] and body["purged_at"] is None
    # the same on the web page, escaped but intact
    page = client.get(f"/receipts/{code}/response")
    assert page.status_code == 200 and WORDING in page.get_data(as_text=True)
    assert "My GP" in page.get_data(as_text=True)

    with sdb.connection() as conn:
        rid = conn.execute("SELECT id FROM responses WHERE receipt_code = %s", (code,)).fetchone()[
            "id"
        ]
    deleted = client.delete(f"/api/v1/receipts/{code}/response")
    assert deleted.status_code == 200 and deleted.get_json() == {
        "receipt_code": code,
        "deleted": True,
    }
    assert client.get(f"/api/v1/receipts/{code}/response").status_code == 404
    assert client.delete(f"/api/v1/receipts/{code}/response").status_code == 404
    assert client.get(f"/api/v1/receipts/{other}/response").status_code == 200
    with sdb.connection() as conn:
        assert (
            conn.execute(
                "SELECT count(*) AS n FROM equality_monitoring WHERE response_id = %s", (rid,)
            ).fetchone()["n"]
            == 0
        )
        events = conn.execute(
            "SELECT payload FROM outbox WHERE event_type = 'response_deleted'"
        ).fetchall()
    payload = events[-1]["payload"]
    assert {k: payload[k] for k in ("consultation_id", "place")} == {
        "consultation_id": cid,
        "place": "leeds",
    }
    assert not set(payload) - {
        "response_id",  # a number, so read models can follow: nothing about the person
        "consultation_id",
        "place",
        "event_id",
        "event_type",
        "occurred_at",
        "correlation_id",  # the staff or resident request's id, for logs: opaque
    }
    results = client.get(f"/api/v1/staff/consultations/{cid}/results", headers=officer)
    assert results.get_json()["total_responses"] == 1
    assert client.get("/api/v1/receipts/AAAA-AAAA-AAAA/response").status_code == 404
    assert client.get("/api/v1/receipts/not-a-code/response").status_code == 404


def test_web_delete_asks_first_needs_csrf_then_deletes(
    surveys: Any, client: FlaskClient, headers: dict[str, dict[str, str]]
) -> None:
    cid = open_consultation(client, headers["engagement-officer"])
    code = submit(client, cid, answers={"choice": "gp"}, consent=CONSENT)
    receipt = client.get(f"/receipts/{code}").get_data(as_text=True)
    assert f"/receipts/{code}/response" in receipt  # "see what you sent"
    page = client.get(f"/receipts/{code}/response").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post(f"/receipts/{code}/delete", data={"confirm": "yes"}).status_code == 400
    assert (
        client.post(
            f"/receipts/{code}/delete", data={"confirm": "yes", "csrf_token": "x" * 43}
        ).status_code
        == 400
    )
    asked = client.post(f"/receipts/{code}/delete", data={"csrf_token": csrf})
    assert asked.status_code == 200 and "Are you sure" in asked.get_data(as_text=True)
    assert client.get(f"/api/v1/receipts/{code}/response").status_code == 200
    done = client.post(f"/receipts/{code}/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert done.status_code == 200
    assert "Your response has been deleted" in done.get_data(as_text=True)
    assert client.get(f"/api/v1/receipts/{code}/response").status_code == 404
    assert client.get(f"/receipts/{code}/response").status_code == 404


def test_erasure_request_finds_then_erases_and_is_audited(
    surveys: Any,
    feedback: Any,
    events_service: Any,
    client: FlaskClient,
    headers: dict[str, dict[str, str]],
    db: Pool,
) -> None:
    officer = headers["engagement-officer"]
    cid = open_consultation(client, officer)
    named = submit(
        client, cid, answers={"choice": "gp", "tell": "I am Jane O'Neill, jane.100%@example.org"}
    )
    told = client.post(
        "/api/v1/feedback",
        json={
            "kind": "concern",
            "about": "My GP",
            "text": "Nobody rang me back.",
            "reply_by": "email",
            "email": "jane.100%@example.org",
            "consent": {"given": True, "version": current_consent("feedback")["version"]},
        },
    )
    assert told.status_code == 202
    feedback_code = told.get_json()["receipt_code"]
    officer_event = client.post(
        "/api/v1/staff/events",
        headers=officer,
        json={
            "kind": "drop-in",
            "title": {"en": "Drop-in"},
            "starts_local": "2027-05-05T10:00",
            "ends_local": "2027-05-05T12:00",
            "venue": {"name": "Library"},
        },
    ).get_json()
    client.post(f"/api/v1/staff/events/{officer_event['id']}/publish", headers=officer)
    registration = client.post(
        f"/api/v1/events/{officer_event['id']}/registrations",
        json={
            "name": "Jane O'Neill",
            "contact": {"email": "jane.100%@example.org"},
            "consent": {"given": True, "version": current_consent("events")["version"]},
        },
    ).get_json()
    eventually(
        lambda: client.get(f"/api/v1/feedback/receipts/{feedback_code}").status_code == 200,
        30,
        "the feedback to be stored",
    )
    by_code = submit(client, cid, answers={"choice": "ae", "tell": "No names here"})
    keep = submit(client, cid, answers={"choice": "ae", "tell": "Also Jane_Other? no: jxne"})
    url = "/api/v1/staff/erasure-requests"

    for role in ("analyst", "board-viewer"):
        assert client.post(url, json={"text": "jane"}, headers=headers[role]).status_code == 403
    assert client.post(url, json={}, headers=officer).status_code == 422
    assert client.post(url, json={"text": "ja"}, headers=officer).status_code == 422

    # LIKE wildcards are literal: "100%" matches only the text with "100%"
    found = client.post(
        url, json={"text": "JANE.100%@EXAMPLE", "receipt_code": by_code}, headers=officer
    )
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert {r["receipt_code"] for r in body["found"]} == {named, by_code}
    assert [f["receipt_code"] for f in body["found_feedback"]] == [feedback_code]
    assert [r["receipt_code"] for r in body["found_registrations"]] == [
        registration["receipt_code"]
    ]
    assert body["erased"] == 0 and body["erased_feedback"] == 0
    assert set(body["services_checked"]) == {"surveys", "feedback", "events"}
    hit = next(r for r in body["found"] if r["receipt_code"] == named)
    assert hit["matches"] == [
        {"field": "answers.tell", "text": "I am Jane O'Neill, jane.100%@example.org"}
    ]
    assert client.get(f"/api/v1/receipts/{named}/response").status_code == 200

    erased = client.post(
        url,
        json={"text": "jane.100%@example", "receipt_code": by_code, "confirm": True},
        headers=officer,
    )
    assert erased.status_code == 200 and erased.get_json()["erased"] == 2
    assert erased.get_json()["erased_feedback"] == 1
    assert erased.get_json()["erased_registrations"] == 1
    gone = client.get(f"/api/v1/events/registrations/{registration['manage_code']}")
    assert gone.status_code == 404  # the private link no longer finds anything
    assert client.get(f"/api/v1/feedback/receipts/{feedback_code}").status_code == 404
    for code in (named, by_code):
        assert client.get(f"/api/v1/receipts/{code}/response").status_code == 404
    assert client.get(f"/api/v1/receipts/{keep}/response").status_code == 200

    rows = audit_rows(db)
    searches = [r for r in rows if r["action"] == "personal_data.search"]
    assert len(searches) == 2 and searches[0]["email"] == "engagement-officer@example.nhs.uk"
    assert all("jane" not in r["target"].lower() for r in rows)  # never the searched text
    assert any(r["action"] == "personal_data.erase" for r in rows)


def test_exports_and_free_text_reads_are_audited_and_admins_read_the_log(
    surveys: Any, client: FlaskClient, headers: dict[str, dict[str, str]], db: Pool
) -> None:
    officer, analyst = headers["engagement-officer"], headers["analyst"]
    cid = open_consultation(client, officer)
    submit(client, cid, answers={"choice": "gp", "tell": "Personal story"})
    export = client.get(f"/api/v1/staff/consultations/{cid}/responses.csv", headers=analyst)
    assert export.status_code == 200 and "Personal story" in export.get_data(as_text=True)
    results = client.get(f"/api/v1/staff/consultations/{cid}/results", headers=analyst)
    assert results.status_code == 200
    words = f"/api/v1/staff/consultations/{cid}/questions/tell/answers"
    assert client.get(words, headers=analyst).status_code == 200  # never in the results

    log = client.get("/api/v1/staff/audit-log?limit=50", headers=headers["admin"])
    assert log.status_code == 200
    entries = [(e["email"], e["action"], e["target"]) for e in log.get_json()["entries"]]
    assert ("analyst@example.nhs.uk", "consultation.export", cid) in entries
    assert ("analyst@example.nhs.uk", "consultation.free_text_answers", f"{cid} tell") in entries
    for role in ("engagement-officer", "analyst", "board-viewer"):
        assert client.get("/api/v1/staff/audit-log", headers=headers[role]).status_code == 403
    assert (
        client.get("/api/v1/staff/audit-log?limit=0", headers=headers["admin"]).status_code == 422
    )


def test_retention_purge_keeps_the_aggregates_and_drops_personal_details(
    surveys: Any, client: FlaskClient, headers: dict[str, dict[str, str]], amqp: str, sdb: Pool
) -> None:
    officer = headers["engagement-officer"]
    cid = open_consultation(client, officer)
    codes = [
        submit(
            client,
            cid,
            answers={
                "choice": choice,
                "score": score,
                "agree": agree,
                "tell": f"My name is Resident {score}",
            },
            equality={"postcode_district": "LS6", "age_band": "25-34"},
            consent=CONSENT,
        )
        for choice, score, agree in (
            ("gp", 3, "agree"),
            ("ae", 8, "disagree"),
            ("gp", 10, "strongly-agree"),
        )
    ]
    assert (
        client.post(f"/api/v1/staff/consultations/{cid}/close", headers=officer).status_code == 200
    )
    url = f"/api/v1/staff/consultations/{cid}/results"
    # The aggregates' arithmetic on three responses, with the small-number rule off.
    with ics.serving(replace(ics.ics(), small_number_threshold=1)):
        before = client.get(url, headers=officer).get_json()

        with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=10) as rpc:
            # a day before the ICS's retention period for responses ends, nothing happens
            days = ics.ics().retention_days["consultation_responses"]
            soon = (datetime.now(UTC) + timedelta(days=days - 1)).isoformat()
            assert rpc.surveys.purge_expired(soon) == {"purged": 0}
            later = (datetime.now(UTC) + timedelta(days=days + 1)).isoformat()
            assert rpc.surveys.purge_expired(later) == {"purged": 3}
            assert rpc.surveys.purge_expired(later) == {"purged": 0}  # once only

        after = client.get(url, headers=officer).get_json()
        assert after["total_responses"] == before["total_responses"] == 3
        by_id = {q["id"]: q for q in after["questions"]}
        for q in before["questions"]:
            if q["type"] == "free_text":  # the words are paged apart, never in the results
                assert q["free_text_truncated"] and not by_id[q["id"]]["free_text_truncated"]
            else:
                assert by_id[q["id"]] == q  # counts, means, distributions unchanged
        assert by_id["score"]["mean"] == pytest.approx(7.0)
    mine = client.get(f"/api/v1/receipts/{codes[0]}/response").get_json()
    assert mine["answers"] == {"choice": "gp", "score": 3, "agree": "agree"}
    assert mine["consent"] is None and mine["purged_at"]
    assert mine["equality"] == {"age_band": "25-34"} and mine["place"] == "leeds"
    with sdb.connection() as conn:
        row = conn.execute(
            "SELECT e.answers->>'postcode_district' AS postcode_district, e.derived_place"
            " FROM responses r"
            " JOIN equality_monitoring e ON e.response_id = r.id"
            " WHERE r.receipt_code = %s",
            (codes[0],),
        ).fetchone()
    assert row == {"postcode_district": None, "derived_place": "leeds"}
    csv_text = client.get(
        f"/api/v1/staff/consultations/{cid}/responses.csv", headers=officer
    ).get_data(as_text=True)
    assert "Resident" not in csv_text and "LS6" not in csv_text


def test_unicode_of_every_kind_round_trips_through_consultations_too(
    surveys: Any, client: FlaskClient, headers: dict[str, dict[str, str]]
) -> None:
    officer = headers["engagement-officer"]
    created = client.post(
        "/api/v1/staff/consultations",
        headers=officer,
        json={"title": UNICODE[:200], "summary": UNICODE},
    )
    assert created.status_code == 201
    got = client.get(
        f"/api/v1/staff/consultations/{created.get_json()['id']}", headers=officer
    ).get_json()
    assert got["title"] == {"en": UNICODE[:200]} and got["summary"] == {"en": UNICODE}


def test_staff_read_free_text_redacted_and_confirm_its_themes(
    surveys: Any, client: FlaskClient, headers: dict[str, dict[str, str]], db: Pool
) -> None:
    officer, triage = headers["engagement-officer"], headers["triage-officer"]
    cid = open_consultation(client, officer)
    submit(
        client,
        cid,
        answers={"choice": "gp", "tell": "Waited weeks for a GP. Call me on 07700 900461."},
    )
    url = f"/api/v1/staff/consultations/{cid}/questions/tell/answers"

    def answers() -> list[dict[str, Any]]:
        got = client.get(url, headers=headers["analyst"])
        assert got.status_code == 200, got.get_json()
        return got.get_json()["answers"]

    (answer,) = eventually(answers, 30, "the free-text answer")
    assert answer["text"] == "Waited weeks for a GP. Call me on [phone number removed]."
    suggested = {s["theme"]: s["because"] for s in answer["suggested_themes"]}
    assert "gp" in suggested["gp-access"] and answer["themes"] == []
    assert ("consultation.free_text_answers", f"{cid} tell") in {
        (r["action"], r["target"]) for r in audit_rows(db)
    }

    themes = f"/api/v1/staff/responses/{answer['response_id']}/answers/tell/themes"
    refused = client.put(themes, json={"themes": ["no-such-theme"], "tone": None}, headers=triage)
    assert refused.status_code == 422 and "themes.0" in refused.get_json()["error"]["fields"]
    confirmed = client.put(
        themes, json={"themes": ["gp-access", "waiting-times"], "tone": "negative"}, headers=triage
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["themes"] == ["gp-access", "waiting-times"]
    assert answers()[0]["tone"] == "negative"
    assert client.put(themes, json={"themes": []}, headers=triage).status_code == 422
    unknown = client.get(
        f"/api/v1/staff/consultations/{cid}/questions/choice/answers", headers=officer
    )
    assert unknown.status_code == 422  # not a free-text question
