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
        "questions": [{"id": "use", "text": "Should the centre open on Saturday and Sunday?"}],
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
    assert 'name="easy_read" value="yes"' in page
    client.set_cookie("lang", "ur")
    assert "ہم جاننا چاہتے ہیں" in client.get(f"/consultations/{cid}/easy-read").get_data(True)
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
