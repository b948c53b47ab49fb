"""Easy read through the gateway, against the real surveys service: staff upload pictures
and set the easy-read version (API), residents see it and answer the same form (pages),
and pictures come from surveys once per process, then from the cache and the browser's."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from PIL import Image

from engage_common.db import Pool
from engage_contracts import surveys as contract

QUESTIONS = [
    {"id": "use", "type": "likert", "text": "Walk-in centres should open at weekends."},
    {
        "id": "when",
        "type": "single_choice",
        "text": "When do you use the centre?",
        "options": [
            {"value": "weekday", "label": "On weekdays, Monday to Friday"},
            {"value": "weekend", "label": "At weekends"},
        ],
    },
    {"id": "tell", "type": "free_text", "text": "Tell us more about the centre", "required": True},
]


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {"demo": True}  # offers Urdu, still to be reviewed


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (0, 94, 184)).save(out, "PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_staff_set_easy_read_and_residents_answer_it(
    app: Flask, db: Pool, surveys: Any, as_role: dict[str, dict[str, str]]
) -> None:
    client, officer = app.test_client(), as_role["engagement-officer"]
    now = datetime.now(UTC)
    cid = client.post(
        "/api/v1/staff/consultations",
        headers=officer,
        json={
            "title": "Walk-in centres",
            "summary": "Tell us how you use them.",
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=5)).isoformat(),
            "questionnaire": {"questions": QUESTIONS},
        },
    ).get_json()["id"]
    images = f"/api/v1/staff/consultations/{cid}/easy-read/images"

    # Pictures: type by content, alt text required, the size limit named.
    picture = png()
    up = client.post(images, headers=officer, json={"data": b64(picture), "alt": "A blue sign"})
    assert up.status_code == 201, up.get_json()
    sha = hashlib.sha256(picture).hexdigest()
    url = f"/consultations/{cid}/easy-read/images/{sha}"
    assert up.get_json() == {
        "sha256": sha,
        "content_type": "image/png",
        "bytes": len(picture),
        "width": 48,
        "height": 32,
        "alt": {"en": "A blue sign"},
        "url": url,
    }
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    bad = client.post(images, headers=officer, json={"data": b64(gif.getvalue())})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {
        "data": [contract.NOT_AN_IMAGE],
        "alt": ["is required"],
    }
    large = b64(picture + b"\0" * contract.IMAGE_MAX_BYTES)
    too_big = client.post(images, headers=officer, json={"data": large, "alt": "x"})
    assert too_big.status_code == 422
    assert "at most 500 KB" in too_big.get_json()["error"]["fields"]["data"][0]
    huge = client.post(images, headers=officer, json={"data": large * 2, "alt": "x"})
    assert huge.status_code == 413 and "500 KB" in huge.get_json()["error"]["message"]

    # The easy-read version: pictures uploaded first, questions of this consultation.
    put = f"/api/v1/staff/consultations/{cid}/easy-read"
    unknown = client.put(put, headers=officer, json={"points": [{"text": "x", "image": "f" * 64}]})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"] == {"points.0.image": [contract.UNKNOWN_IMAGE]}
    version = {
        "points": [
            {
                "text": {"en": "We want to know what you think.", "ur": "ہم جاننا چاہتے ہیں"},
                "image": sha,
            },
            {"text": "It takes 5 minutes."},
        ],
        "questions": [
            {
                "id": "use",
                "text": "Should the centre open on Saturday and Sunday?",
                "options": [
                    {"value": "strongly-agree", "label": {"en": "Yes, a lot", "ur": "ہاں، بہت"}},
                    {"value": "strongly-disagree", "label": "No, not at all"},
                ],
            },
            {
                "id": "when",
                "text": "When do you go?",
                "options": [{"value": "weekday", "label": "Monday to Friday"}],
            },
        ],
    }
    not_an_answer = {
        **version,
        "questions": [{"id": "when", "text": "x", "options": [{"value": "night", "label": "x"}]}],
    }
    refused = client.put(put, headers=officer, json=not_an_answer)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {
        "questions.0.options.0.value": ["is not one of the question's options: weekday, weekend"]
    }
    done = client.put(put, headers=officer, json=version)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["easy_read"]["points"][0]["alt"] == {"en": "A blue sign"}
    assert (
        client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer).status_code == 200
    )
    # The snapshot residents answer from while surveys is down carries it, like the rest.
    with db.connection() as conn:
        snapshot = conn.execute(
            "SELECT body FROM consultation_snapshots WHERE consultation_id = %s", (cid,)
        ).fetchone()
    assert snapshot["body"]["easy_read"] == done.get_json()["easy_read"]

    # Residents: offered from the page, then the points and the same form in easy read.
    standard = client.get(f"/consultations/{cid}").get_data(as_text=True)
    assert f'href="/consultations/{cid}/easy-read"' in standard
    page = client.get(f"/consultations/{cid}/easy-read").get_data(as_text=True)
    assert f'<img class="easy-read__picture" src="{url}" alt="A blue sign" width="48"' in page
    assert "It takes 5 minutes." in page
    assert "Should the centre open on Saturday and Sunday?" in page  # easy-read wording
    assert "Walk-in centres should open at weekends." not in page
    assert "Tell us more about the centre" in page  # no easy-read wording: the standard one
    # Answers in easy-read words where given (the values stored are the same), the rest
    # in their standard ones; the standard page keeps the standard words.
    labels = re.findall(r'value="([\w-]+)"[^>]*>\s*<label[^>]*>([^<]+)</label>', page)
    assert ("strongly-agree", "Yes, a lot") in labels
    assert ("strongly-disagree", "No, not at all") in labels
    assert ("agree", "Agree") in labels
    assert ("weekday", "Monday to Friday") in labels
    assert ("weekend", "At weekends") in labels
    assert "Yes, a lot" not in standard and "On weekdays, Monday to Friday" in standard
    assert 'name="easy_read" value="yes"' in page
    client.set_cookie("lang", "ur")
    in_urdu = client.get(f"/consultations/{cid}/easy-read").get_data(True)
    assert "ہم جاننا چاہتے ہیں" in in_urdu and "ہاں، بہت" in in_urdu
    assert re.search(r'<label[^>]*lang="en"[^>]*>\s*No, not at all', in_urdu)  # no Urdu given
    client.delete_cookie("lang")

    # Sent with an error, it comes back in easy read.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    again = client.post(
        f"/consultations/{cid}", data={"csrf_token": token.group(1), "easy_read": "yes"}
    )
    assert again.status_code == 422
    assert "It takes 5 minutes." in again.get_data(as_text=True)

    # The picture: long-lived, revalidated without surveys, then from the cache.
    got = client.get(url)
    assert got.status_code == 200 and got.data == picture
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(url, headers={"If-None-Match": got.headers["ETag"]}).status_code == 304
    assert client.get(f"/consultations/{cid}/easy-read/images/{'0' * 64}").status_code == 404
    assert client.get(f"/consultations/{cid}/easy-read/images/not-a-sha").status_code == 404
    surveys.stop()
    assert client.get(url).data == picture
