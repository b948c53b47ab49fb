"""The whole suite as a user meets it: real nameko processes, a real gunicorn gateway,
real RabbitMQ and PostgreSQL. An engagement officer builds and opens a consultation
through the API; residents answer through the API and the web form; the officer reads
results and the CSV export."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from engage_common.db import connect
from engage_common.testing import eventually
from tests.conftest import Suite

QUESTIONNAIRE = {
    "questions": [
        {
            "id": "use",
            "type": "single_choice",
            "required": True,
            "text": "Which service did you use?",
            "options": [{"value": "gp", "label": "GP"}, {"value": "pharmacy", "label": "Pharmacy"}],
        },
        {
            "id": "better",
            "type": "multiple_choice",
            "max_choices": 2,
            "text": "What would make it better?",
            "options": [
                {"value": "evening", "label": "Evening appointments"},
                {"value": "phone", "label": "Phone appointments"},
                {"value": "parking", "label": "Parking"},
            ],
        },
        {"id": "listened", "type": "likert", "required": True, "text": "They listened to me."},
        {"id": "score", "type": "rating", "text": "Rate it from 0 to 10."},
        {
            "id": "why",
            "type": "free_text",
            "max_length": 200,
            "text": "Why?",
            "show_if": {"question": "use", "equals": ["gp"]},
        },
    ]
}


@pytest.fixture(scope="module")
def staff_token(suite: Suite) -> str:
    return suite.token("officer@e2e.example", "engagement-officer")


def wait_for_count(suite: Suite, token: str, cid: str, expected: int) -> dict[str, Any]:
    def results() -> dict[str, Any] | None:
        got = suite.api("GET", f"/staff/consultations/{cid}/results", token).json()
        return got if got["total_responses"] >= expected else None

    return eventually(results, what=f"{expected} responses in the results")


def consultation_consent_version(suite: Suite, cid: str) -> str:
    """The privacy wording a resident agrees to, as the public API shows it."""
    got = suite.api("GET", f"/consultations/{cid}")
    assert got.status_code == 200, got.text
    return got.json()["consent"]["version"]


def test_a_consultation_end_to_end(suite: Suite, staff_token: str) -> None:
    now = datetime.now(UTC)
    draft = {
        "title": "Evening GP appointments in Wakefield",
        "summary": "Should practices open later?",
        "description": "Tell us.",
        "places": ["wakefield"],
        "priorities": ["living-well"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=7)).isoformat(),
        "questionnaire": QUESTIONNAIRE,
    }
    r = suite.api("POST", "/staff/consultations", staff_token, json=draft)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["status"] == "draft"

    r = suite.api(
        "PATCH",
        f"/staff/consultations/{cid}",
        staff_token,
        json={"title": "Evening and weekend GP appointments in Wakefield"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"]["en"].startswith("Evening and weekend")

    # Residents cannot see a draft.
    assert suite.api("GET", f"/consultations/{cid}").status_code == 404
    r = suite.api("POST", f"/staff/consultations/{cid}/open", staff_token)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"
    listed = suite.api("GET", "/consultations", params={"place": "wakefield"}).json()
    assert cid in [c["id"] for c in listed["consultations"]]

    # A resident answers through the API; a double click stores one response.
    answer = {
        "answers": {
            "use": "gp",
            "better": ["evening", "phone"],
            "listened": "agree",
            "score": 7,
            "why": "Work 9 to 5 ✊🏽 — مرحبا",
        },
        "equality": {"age_band": "35-44", "postcode_district": "WF1"},
        "consent": {"given": True, "version": consultation_consent_version(suite, cid)},
    }
    key = str(uuid.uuid4())
    first = suite.api(
        "POST", f"/consultations/{cid}/responses", json=answer, headers={"Idempotency-Key": key}
    )
    again = suite.api(
        "POST", f"/consultations/{cid}/responses", json=answer, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 202, first.text
    assert first.json()["receipt_code"] == again.json()["receipt_code"]

    # Bad answers are refused, naming the question, and nothing is stored.
    bad = suite.api(
        "POST",
        f"/consultations/{cid}/responses",
        json={
            "answers": {"use": "hospital", "better": ["evening", "phone", "parking"]},
            "consent": answer["consent"],
        },
    )
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert {"answers.use", "answers.better", "answers.listened"} <= set(fields)

    # A resident answers through the web form, with no JavaScript.
    session = requests.Session()
    page = session.get(f"{suite.base_url}/consultations/{cid}", timeout=15)
    assert page.status_code == 200
    form = dict(re.findall(r'name="(csrf_token|idempotency_key)" value="([^"]+)"', page.text))
    assert set(form) == {"csrf_token", "idempotency_key"}
    posted = session.post(
        f"{suite.base_url}/consultations/{cid}",
        timeout=15,
        allow_redirects=False,
        data={
            **form,
            "answers-use": "pharmacy",
            "answers-listened": "strongly-disagree",
            "answers-score": "3",
            "equality-age_band": "65-74",
            "consent": "yes",
        },
    )
    assert posted.status_code == 303, posted.text[:2000]
    receipt_page = session.get(suite.base_url + posted.headers["Location"], timeout=15)
    assert receipt_page.status_code == 200

    results = wait_for_count(suite, staff_token, cid, 2)
    assert results["total_responses"] == 2
    by_id = {q["id"]: q for q in results["questions"]}
    # Two responses: the small-number rule (threshold 5) withholds every count of people
    # and every mean over them; the total is not broken down, so it is shown.
    assert results["small_number_threshold"] == 5
    use = {o["value"]: o["count"] for o in by_id["use"]["options"]}
    assert use == {"gp": None, "pharmacy": None}
    assert by_id["listened"]["mean"] is None and by_id["score"]["mean"] is None
    assert by_id["why"]["free_text"] == [] and by_id["why"]["free_text_truncated"]
    words = suite.api("GET", f"/staff/consultations/{cid}/questions/why/answers", staff_token)
    assert [t["text"] for t in words.json()["answers"]] == ["Work 9 to 5 ✊🏽 — مرحبا"]

    filtered = suite.api(
        "GET", f"/staff/consultations/{cid}/results", staff_token, params={"age_band": "35-44"}
    ).json()
    assert filtered["suppressed"] is True and filtered["total_responses"] is None

    export = suite.api("GET", f"/staff/consultations/{cid}/responses.csv", staff_token, stream=True)
    assert export.status_code == 200
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 3
    assert any("Work 9 to 5 ✊🏽 — مرحبا" in cell for row in rows for cell in row)

    r = suite.api("POST", f"/staff/consultations/{cid}/close", staff_token)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    late = suite.api("POST", f"/consultations/{cid}/responses", json=answer)
    assert late.status_code == 409
    outcome = {
        "summary": "We will pilot evening appointments.",
        "decisions": [
            {
                "you_said": "Evenings suit working people.",
                "we_did": "Pilot in two practices.",
                "status": "planned",
            }
        ],
    }
    r = suite.api("PUT", f"/staff/consultations/{cid}/outcome", staff_token, json=outcome)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"]["decisions"][0]["we_did"] == {"en": "Pilot in two practices."}

    # "You said, we did" comes from the read model the events keep up to date ...
    entry = eventually(lambda: you_said_we_did(suite, cid, lambda e: e["outcome"]))
    assert entry["response_count"] == 2
    assert entry["outcome"]["decisions"][0]["you_said"] == {"en": "Evenings suit working people."}
    # ... and follows a resident deleting their response with their receipt code.
    code = first.json()["receipt_code"]
    assert suite.api("DELETE", f"/receipts/{code}/response").status_code in (200, 204)
    entry = eventually(lambda: you_said_we_did(suite, cid, lambda e: e["response_count"] == 1))
    with connect(suite.databases["gateway"]) as conn:
        counted = conn.execute(
            "SELECT place, count FROM responses_by_place WHERE consultation_id = %s", (cid,)
        ).fetchall()
    assert {r["place"]: r["count"] for r in counted}["wakefield"] == 0
    # one response left: no breakdown by place could hide it, so none is shown
    assert entry["responses_by_place"] == []


def you_said_we_did(suite: Suite, cid: str, ready: Any) -> dict[str, Any] | None:
    entry = suite.dashboard_entry(cid)
    return entry if entry and ready(entry) else None


def test_health_and_openapi(suite: Suite) -> None:
    assert requests.get(f"{suite.base_url}/healthz", timeout=5).status_code == 200
    ready = requests.get(f"{suite.base_url}/readyz", timeout=15).json()
    assert set(ready["checks"]) >= {"database", "broker", "surveys", "feedback", "events"}
    spec = requests.get(f"{suite.base_url}/openapi.json", timeout=5).json()
    assert "/api/v1/consultations/{consultation_id}/responses" in spec["paths"] or any(
        p.endswith("/responses") for p in spec["paths"]
    )
