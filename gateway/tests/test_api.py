"""The JSON API through Flask's test client, against a real gateway database, RabbitMQ
and (where needed) the real surveys service started with nameko's ``container_factory``."""

from __future__ import annotations

import csv
import io
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from engage_common.db import Pool
from engage_common.testing import eventually, holds_for
from engage_contracts.reference import consent_wordings, current_consent
from gateway.app import create_app
from gateway.application import consultations
from gateway.config import Settings
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
    {"id": "tell", "type": "free_text", "text": "Tell us more"},
]


YES = {"consent": {"given": True, "version": CONSENT_VERSION}}  # the resident agrees


def _in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def draft(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Urgent care in Leeds",
        "summary": "Where should urgent care be?",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "closes_at": _in_days(7),
        "questionnaire": {"questions": QUESTIONS},
        **changes,
    }


@pytest.fixture
def officer(as_role: dict[str, dict[str, str]]) -> dict[str, str]:
    return as_role["engagement-officer"]


def create_open(client: FlaskClient, officer: dict[str, str], **changes: Any) -> dict[str, Any]:
    created = client.post("/api/v1/staff/consultations", json=draft(**changes), headers=officer)
    assert created.status_code == 201, created.get_json()
    opened = client.post(f"/api/v1/staff/consultations/{created.json['id']}/open", headers=officer)
    assert opened.status_code == 200, opened.get_json()
    return opened.get_json()


def wait_stored(client: FlaskClient, code: str, timeout: float = 30) -> dict[str, Any]:
    def receipt() -> dict[str, Any] | None:
        got = client.get(f"/api/v1/receipts/{code}")
        assert got.status_code in (200, 404), got.get_json()
        return got.get_json() if got.status_code == 200 else None

    return eventually(receipt, timeout, f"receipt {code} to be stored")


def error(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "message", "fields"}
    assert body["error"]["status"] == response.status_code
    return body["error"]


def test_staff_lifecycle_and_the_public_view(
    surveys: Any, client: FlaskClient, officer: dict[str, str], db: Pool
) -> None:
    created = client.post("/api/v1/staff/consultations", json=draft(), headers=officer)
    assert created.status_code == 201
    cid = created.json["id"]
    assert created.json["status"] == "draft"
    assert created.headers["Location"].endswith(f"/api/v1/staff/consultations/{cid}")
    # drafts are invisible to residents
    assert client.get(f"/api/v1/consultations/{cid}").status_code == 404

    edited = client.patch(
        f"/api/v1/staff/consultations/{cid}",
        headers=officer,
        json={"title": "Urgent care in Leeds and Wakefield", "places": ["leeds", "wakefield"]},
    )
    assert edited.status_code == 200
    assert edited.json["title"] == {"en": "Urgent care in Leeds and Wakefield"}  # by language
    assert client.get(f"/api/v1/staff/consultations/{cid}", headers=officer).json["places"] == [
        "leeds",
        "wakefield",
    ]

    opened = client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer)
    assert opened.status_code == 200 and opened.json["status"] == "open"
    assert opened.json["accepting_responses"] is True
    # once open, the questions cannot change
    locked = client.patch(
        f"/api/v1/staff/consultations/{cid}", headers=officer, json={"places": ["leeds"]}
    )
    assert locked.status_code == 409 and "places" in error(locked)["message"]
    assert (
        client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer).status_code == 409
    )

    listed = client.get("/api/v1/consultations?place=wakefield&priority=living-well")
    assert listed.status_code == 200
    public = next(c for c in listed.json["consultations"] if c["id"] == cid)
    assert "response_count" not in public
    assert cid not in [
        c["id"] for c in client.get("/api/v1/consultations?place=calderdale").json["consultations"]
    ]
    read = client.get(f"/api/v1/consultations/{cid}")
    assert read.status_code == 200 and "response_count" not in read.json
    assert read.json["questionnaire"]["questions"][0]["id"] == "choice"
    staff_view = client.get(f"/api/v1/staff/consultations/{cid}", headers=officer)
    assert staff_view.json["response_count"] == 0

    outcome = {
        "summary": "We listened.",
        "decisions": [
            {"you_said": "Open at weekends", "we_did": "Opening on Saturdays", "status": "planned"}
        ],
    }
    early = client.put(f"/api/v1/staff/consultations/{cid}/outcome", json=outcome, headers=officer)
    assert early.status_code == 409
    closed = client.post(f"/api/v1/staff/consultations/{cid}/close", headers=officer)
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    published = client.put(
        f"/api/v1/staff/consultations/{cid}/outcome", json=outcome, headers=officer
    )
    assert published.status_code == 200, published.json
    assert published.json["outcome"]["decisions"][0]["we_did"] == {"en": "Opening on Saturdays"}
    # residents see closed consultations and their outcome ("you said, we did")
    public = client.get(f"/api/v1/consultations/{cid}").json
    assert public["outcome"]["summary"] == {"en": "We listened."}
    assert cid in [
        c["id"] for c in client.get("/api/v1/consultations?status=closed").json["consultations"]
    ]
    assert cid not in [c["id"] for c in client.get("/api/v1/consultations").json["consultations"]]

    with db.connection() as conn:
        actions = [
            (e["action"], e["target"]) for e in store.audit_entries(conn) if e["target"] == cid
        ]
    assert sorted(a for a, _ in actions) == [
        "consultation.close",
        "consultation.create",
        "consultation.open",
        "consultation.outcome",
        "consultation.update",
    ]


def test_submit_gives_202_and_a_receipt_stored_once(
    surveys: Any, client: FlaskClient, officer: dict[str, str]
) -> None:
    cid = create_open(client, officer)["id"]
    body = {
        "answers": {"choice": "gp", "tell": "Quicker please"},
        "equality": {"age_band": "25-34"},
        "place": "leeds",
        **YES,
    }
    first = client.post(
        f"/api/v1/consultations/{cid}/responses",
        json=body,
        headers={"Idempotency-Key": "resident-1"},
    )
    assert first.status_code == 202
    assert first.json["status"] == "received" and first.json["consultation_id"] == cid
    code = first.json["receipt_code"]
    assert first.headers["Location"].endswith(f"/api/v1/receipts/{code}")
    again = client.post(
        f"/api/v1/consultations/{cid}/responses",
        json=body,
        headers={"Idempotency-Key": "resident-1"},
    )
    assert again.status_code == 202 and again.json["receipt_code"] == code

    receipt = wait_stored(client, code)
    assert receipt["status"] == "stored" and receipt["consultation_id"] == cid
    assert wait_stored(client, code.lower())["receipt_code"] == code
    holds_for(
        lambda: (
            client.get(f"/api/v1/staff/consultations/{cid}", headers=officer).json["response_count"]
            == 1
        ),
        0.5,
        "the duplicate stored once",
    )

    results = client.get(f"/api/v1/staff/consultations/{cid}/results", headers=officer)
    assert results.status_code == 200 and results.json["total_responses"] == 1
    filtered = client.get(
        f"/api/v1/staff/consultations/{cid}/results?age_band=16-24", headers=officer
    )
    assert filtered.status_code == 200 and filtered.json["total_responses"] == 0
    assert filtered.json["filters"] == {"age_band": "16-24"}
    bad_filter = client.get(
        f"/api/v1/staff/consultations/{cid}/results?age_band=old&x=1", headers=officer
    )
    assert bad_filter.status_code == 422
    assert set(error(bad_filter)["fields"]) == {"age_band", "x"}


def test_bad_submissions_are_refused_with_the_reason(
    surveys: Any, client: FlaskClient, officer: dict[str, str]
) -> None:
    cid = create_open(client, officer)["id"]
    url = f"/api/v1/consultations/{cid}/responses"

    missing = client.post(url, json={**YES, "answers": {"tell": "hi"}})
    assert missing.status_code == 422 and "answers.choice" in error(missing)["fields"]
    wrong_type = client.post(url, json={**YES, "answers": "gp", "place": 3})
    assert wrong_type.status_code == 422
    assert set(error(wrong_type)["fields"]) == {"answers", "place"}
    unknown = client.post(url, json={**YES, "answers": {"choice": "gp"}, "name": "Ann"})
    assert unknown.status_code == 422
    assert error(unknown)["fields"] == {"name": ["is not a field we know about"]}
    not_object = client.post(url, json=["gp"])
    assert not_object.status_code == 422 and "body" in error(not_object)["fields"]
    bad_equality = client.post(
        url, json={**YES, "answers": {"choice": "gp"}, "equality": {"age_band": "ancient"}}
    )
    assert bad_equality.status_code == 422
    assert "equality.age_band" in error(bad_equality)["fields"]

    malformed = client.post(url, data='{"answers": {', content_type="application/json")
    assert malformed.status_code == 400 and error(malformed)["fields"] == {
        "body": ["is not valid JSON"]
    }
    for hostile in ('{"answers": {"choice": NaN}}', "[" * 100_000 + "]" * 100_000):
        refused = client.post(url, data=hostile, content_type="application/json")
        assert refused.status_code == 400, hostile[:30]
        error(refused)
    too_big = client.post(url, json={**YES, "answers": {"tell": "x" * 300_000}})
    assert too_big.status_code == 413
    error(too_big)
    not_json = client.post(url, data="answers=gp", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415
    error(not_json)
    bad_key = client.post(
        url,
        json={**YES, "answers": {"choice": "gp"}},
        headers={"Idempotency-Key": "has spaces in it"},
    )
    assert bad_key.status_code == 422 and "Idempotency-Key" in error(bad_key)["fields"]

    unknown_id = client.post(
        f"/api/v1/consultations/{uuid.uuid4()}/responses", json={**YES, "answers": {"choice": "gp"}}
    )
    assert unknown_id.status_code == 404
    error(unknown_id)
    assert (
        client.post(
            "/api/v1/consultations/not-an-id/responses", json={**YES, "answers": {}}
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/consultations/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/v1/receipts/NOT-A-CODE").status_code == 404
    assert client.get("/api/v1/receipts/AAAA-BBBB-CCCC").status_code == 404

    assert (
        client.post(f"/api/v1/staff/consultations/{cid}/close", headers=officer).status_code == 200
    )
    closed = client.post(url, json={**YES, "answers": {"choice": "gp"}})
    assert closed.status_code == 409
    assert "not accepting" in error(closed)["message"]


def test_staff_bodies_are_validated_field_by_field(
    surveys: Any, client: FlaskClient, officer: dict[str, str]
) -> None:
    url = "/api/v1/staff/consultations"
    missing = client.post(url, json={"summary": 5, "closes_at": "soon"}, headers=officer)
    assert missing.status_code == 422
    fields = error(missing)["fields"]
    assert {"title", "summary", "closes_at"} <= set(fields)
    assert fields["title"] == ["is required"]
    bad_question = client.post(
        url,
        headers=officer,
        json=draft(questionnaire={"questions": [{"id": "Bad Id!", "type": "essay", "text": "?"}]}),
    )
    assert bad_question.status_code == 422
    assert {"questionnaire.questions.0.id", "questionnaire.questions.0.type"} <= set(
        error(bad_question)["fields"]
    )
    assert (
        client.post(url, data="{", content_type="application/json", headers=officer).status_code
        == 400
    )
    assert (
        client.patch(f"{url}/{uuid.uuid4()}", json={"title": "x"}, headers=officer).status_code
        == 404
    )
    bad_outcome = client.put(
        f"{url}/{uuid.uuid4()}/outcome",
        headers=officer,
        json={"summary": "", "decisions": [{"you_said": "x"}]},
    )
    assert bad_outcome.status_code == 422
    assert "decisions.0.we_did" in error(bad_outcome)["fields"]
    bad_filter = client.get(f"{url}?status=pending", headers=officer)
    assert bad_filter.status_code == 422 and "status" in error(bad_filter)["fields"]
    assert client.get("/api/v1/consultations?place=mars").status_code == 422


def test_csv_export_streams_a_header_and_one_row_per_response(
    surveys: Any,
    client: FlaskClient,
    officer: dict[str, str],
    as_role: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = create_open(client, officer)["id"]
    texts = ['=HYPERLINK("http://x")', "plain, with a comma", "line\nbreak", "", "-2"]
    codes = []
    for n, text in enumerate(texts):
        answers = {"choice": "gp" if n % 2 else "ae", **({"tell": text} if text else {})}
        sent = client.post(
            f"/api/v1/consultations/{cid}/responses", json={**YES, "answers": answers}
        )
        assert sent.status_code == 202
        codes.append(sent.json["receipt_code"])
    for code in codes:
        assert wait_stored(client, code)["status"] == "stored"

    monkeypatch.setattr(consultations, "EXPORT_PAGE", 2)  # five responses: three pages
    response = client.get(
        f"/api/v1/staff/consultations/{cid}/responses.csv", headers=as_role["analyst"]
    )
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="consultation-{cid}-responses.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    header, data = rows[0], rows[1:]
    assert "receipt_code" in header and "choice" in header and "tell" in header
    assert len(data) == len(texts)
    assert sorted(r[header.index("receipt_code")] for r in data) == sorted(codes)
    tells = [r[header.index("tell")] for r in data]
    assert {r[header.index("channel")] for r in data} == {"online"}  # the JSON API
    assert '\'=HYPERLINK("http://x")' in tells  # never a live formula in a spreadsheet
    assert {"plain, with a comma", "line\nbreak", "-2"} <= set(tells)

    assert (
        client.get(
            f"/api/v1/staff/consultations/{uuid.uuid4()}/responses.csv", headers=officer
        ).status_code
        == 404
    )


def test_reference_data() -> None:
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:5432/unused"))
    got = app.test_client().get("/api/v1/reference")
    assert got.status_code == 200
    assert {"value": "leeds", "label": "Leeds"} in got.json["places"]
    assert [p["value"] for p in got.json["priorities"]][0] == "starting-well"
    assert "age_band" in [q["id"] for q in got.json["equality_questions"]]


def test_503_with_retry_after_when_surveys_is_not_running(
    make_vhost: Callable[[], str], settings: Settings, as_role: dict[str, dict[str, str]]
) -> None:
    lonely = Settings(amqp_uri=make_vhost(), database_url=settings.database_url, rpc_timeout=0.5)
    client = create_app(lonely).test_client()
    for response in (
        client.get("/api/v1/consultations"),
        client.post(
            f"/api/v1/consultations/{uuid.uuid4()}/responses",
            json={**YES, "answers": {"choice": "gp"}},
        ),
        client.post(
            "/api/v1/staff/consultations", json=draft(), headers=as_role["engagement-officer"]
        ),
    ):
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert "surveys" in error(response)["message"]


def test_dates_postgres_cannot_give_back_are_refused_and_the_list_keeps_working(
    surveys: Any, client: FlaskClient, officer: dict[str, str]
) -> None:
    """Issue 7: closes_at 9999-12-31T23:59:59-14:00 was stored (year 10000 in UTC), then
    every staff list answered 500."""
    url = "/api/v1/staff/consultations"
    for field, value in (
        ("closes_at", "9999-12-31T23:59:59-14:00"),
        ("opens_at", "0001-01-01T00:00:00+14:00"),
        ("closes_at", "2101-01-01T00:00:00+00:00"),
        ("opens_at", "1999-12-31T23:59:59+00:00"),
    ):
        refused = client.post(url, json=draft(**{field: value}), headers=officer)
        assert refused.status_code == 422, (field, value, refused.get_json())
        assert error(refused)["fields"] == {
            field: ["must be between 1 January 2000 and 31 December 2100 (UTC)"]
        }
    backwards = client.post(
        url,
        json=draft(opens_at="2030-01-02T00:00:00+00:00", closes_at="2030-01-01T00:00:00+00:00"),
        headers=officer,
    )
    assert backwards.status_code == 422
    assert error(backwards)["fields"] == {"closes_at": ["must be after the opening date"]}
    cid = create_open(client, officer)["id"]
    patched = client.patch(
        f"{url}/{cid}", json={"closes_at": "9999-12-31T23:59:59-14:00"}, headers=officer
    )
    assert patched.status_code == 422 and "closes_at" in error(patched)["fields"]
    listing = client.get(url, headers=officer)
    assert listing.status_code == 200 and cid in [c["id"] for c in listing.json["consultations"]]


def test_text_postgres_cannot_store_gets_422_and_never_a_receipt(
    surveys: Any, client: FlaskClient, officer: dict[str, str]
) -> None:
    """Issue 7: a lone surrogate got 202 and a receipt, then was dead-lettered for good."""
    cid = create_open(client, officer)["id"]
    for escaped in ("\\ud800", "\\udfff", "ok \\udc00 then"):
        body = (
            '{"answers": {"choice": "gp", "tell": "' + escaped + '"}, "consent": '
            f'{{"given": true, "version": "{CONSENT_VERSION}"}}}}'
        )
        sent = client.post(
            f"/api/v1/consultations/{cid}/responses", data=body, content_type="application/json"
        )
        assert sent.status_code == 422, sent.get_json()
        assert error(sent)["fields"] == {
            "answers.tell": ["contains a character that is not valid Unicode (a lone surrogate)"]
        }
    huge = client.post(
        f"/api/v1/consultations/{cid}/responses",
        content_type="application/json",
        data='{"answers": {"choice": "gp", "score": 1e400}}',
    )
    assert huge.status_code == 400 and "too large" in error(huge)["message"]
    title = client.post(
        "/api/v1/staff/consultations",
        headers=officer,
        data='{"title": "Clinic \\ud83d", "summary": "s"}',
        content_type="application/json",
    )
    assert title.status_code == 422 and "title" in error(title)["fields"]
    staff = client.get(f"/api/v1/staff/consultations/{cid}", headers=officer)
    assert staff.json["response_count"] == 0


def test_consent_is_required_and_stored_with_the_servers_wording(
    surveys: Any, client: FlaskClient, officer: dict[str, str]
) -> None:
    """Issue 7: the API accepted and stored responses without consent or with it refused,
    and stored whatever wording the client sent."""
    cid = create_open(client, officer)["id"]
    shown = client.get(f"/api/v1/consultations/{cid}").json["consent"]
    assert shown == {"version": CONSENT_VERSION, "wording": CONSENT_WORDINGS[CONSENT_VERSION]}
    url = f"/api/v1/consultations/{cid}/responses"
    answers = {"choice": "gp"}
    for consent, fields in (
        (None, {"consent"}),
        ({"given": False, "version": shown["version"]}, {"consent.given"}),
        ({"given": True, "version": "2001-01"}, {"consent.version"}),
        (
            {"given": True, "version": shown["version"], "wording": "I agree to nothing"},
            {"consent.wording"},
        ),
    ):
        body = {"answers": answers, **({"consent": consent} if consent is not None else {})}
        refused = client.post(url, json=body)
        assert refused.status_code == 422, (consent, refused.get_json())
        assert set(error(refused)["fields"]) == fields, consent
    sent = client.post(
        url, json={"answers": answers, "consent": {"given": True, "version": shown["version"]}}
    )
    assert sent.status_code == 202
    code = sent.json["receipt_code"]
    wait_stored(client, code)
    mine = client.get(f"/api/v1/receipts/{code}/response").json
    assert mine["consent"] == {"given": True, **shown}
    assert (
        client.get(f"/api/v1/staff/consultations/{cid}", headers=officer).json["response_count"]
        == 1
    )


def test_rabbitmq_unreachable_is_503_with_retry_after_and_nothing_half_stored(
    surveys: Any, client: FlaskClient, officer: dict[str, str], settings: Settings
) -> None:
    """Issue 7: a gateway that could not reach RabbitMQ answered a submission with a
    generic 500 (kombu's OperationalError) and its home page with 503."""
    cid = create_open(client, officer)["id"]
    assert client.get(f"/consultations/{cid}").status_code == 200  # the snapshot is kept
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cut_off = create_app(
        replace(settings, amqp_uri=f"amqp://guest:guest@127.0.0.1:{closed}/", rpc_timeout=0.5)
    ).test_client()
    sent = cut_off.post(
        f"/api/v1/consultations/{cid}/responses",
        json={**YES, "answers": {"choice": "gp"}},
        headers={"Idempotency-Key": "while-the-broker-is-away"},
    )
    assert sent.status_code == 503, sent.get_json()
    assert int(sent.headers["Retry-After"]) > 0
    assert "nothing was saved" in error(sent)["message"]

    page = cut_off.get(f"/consultations/{cid}")
    assert page.status_code == 200  # from the snapshot
    html = page.get_data(as_text=True)
    hidden = dict(
        re.findall(
            r'name="(csrf_token|idempotency_key|consent_version)" '
            r'value="([^"]+)"',
            html,
        )
    )
    posted = cut_off.post(
        f"/consultations/{cid}", data={**hidden, "answers-choice": "gp", "consent": "yes"}
    )
    assert posted.status_code == 503 and int(posted.headers["Retry-After"]) > 0
    assert "nothing was saved" in posted.get_data(as_text=True)
    assert cut_off.get("/").status_code == 200
    assert (
        client.get(f"/api/v1/staff/consultations/{cid}", headers=officer).json["response_count"]
        == 0
    )


def test_a_fresh_snapshot_checks_submissions_without_asking_surveys(
    surveys: Any, client: FlaskClient, officer: dict[str, str], app: Any
) -> None:
    """Issue 15: each submission asked surveys for the consultation (an RPC behind the
    storing of every response). While the snapshot the staff change left is fresh, the
    gateway checks and queues on its own: with surveys stopped it is never called."""
    cid = create_open(client, officer)["id"]
    surveys.stop()
    url = f"/api/v1/consultations/{cid}/responses"
    sent = client.post(url, json={**YES, "answers": {"choice": "gp"}})
    assert sent.status_code == 202, sent.get_json()
    refused = client.post(url, json={**YES, "answers": {"choice": "not-an-option"}})
    assert refused.status_code == 422
    assert not app.extensions["engage"].services.is_down("surveys")


def test_a_snapshot_is_stale_after_its_ttl_or_a_consultation_event(db: Pool) -> None:
    from gateway.readmodels.projections import apply_consultation
    from gateway.store import snapshots

    cid = str(uuid.uuid4())
    body = {"id": cid, "status": "open", "updated_at": _in_days(0)}
    with db.connection() as conn:
        snapshots.remember(conn, body, checked=True)
    with db.connection() as conn:
        assert snapshots.recall_fresh(conn, cid, 30) == body
        assert snapshots.recall_fresh(conn, cid, 0) is None
        event = {"consultation_id": cid, "title": "t", "status": "closed"}
        apply_consultation(conn, {**event, "occurred_at": _in_days(0)})
    with db.connection() as conn:
        assert snapshots.recall_fresh(conn, cid, 30) is None
