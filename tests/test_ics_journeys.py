"""Engage serves any ICS from its configuration (issue 9): the resident journey through
every real process under Lancashire and South Cumbria (test_end_to_end.py runs it under
West Yorkshire and Harrogate, the default)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from engage_common.testing import eventually
from tests.conftest import PROCESSES, Suite, start_suite

LSC = "lancashire-and-south-cumbria"


@pytest.fixture(scope="module")
def lsc(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> Iterator[Suite]:
    s = start_suite(
        make_vhost, make_database, overrides={p: {"ENGAGE_ICS_CONFIG": LSC} for p in PROCESSES}
    )
    try:
        yield s
    finally:
        s.stop_all()


def test_a_resident_journey_in_lancashire_and_south_cumbria(lsc: Suite) -> None:
    officer = lsc.token("officer@lsc.example", "engagement-officer")
    reference = lsc.api("GET", "/reference").json()
    assert reference["ics"]["short_name"] == "Lancashire and South Cumbria"
    assert [p["value"] for p in reference["places"]] == [
        "lancashire",
        "blackburn-with-darwen",
        "blackpool",
        "south-cumbria",
    ]
    now = datetime.now(UTC)
    draft = {
        "title": "Community diagnostic centre in Barrow",
        "summary": "Where should tests and scans happen?",
        "places": ["south-cumbria", "lancashire"],
        "priorities": ["living-well"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=14)).isoformat(),
        "questionnaire": {
            "questions": [
                {
                    "id": "travel",
                    "type": "single_choice",
                    "required": True,
                    "text": "How would you get there?",
                    "options": [{"value": "bus", "label": "Bus"}, {"value": "car", "label": "Car"}],
                },
            ]
        },
    }
    # Another ICS's place is not one of ours.
    wrong = lsc.api("POST", "/staff/consultations", officer, json={**draft, "places": ["leeds"]})
    assert wrong.status_code == 422, wrong.text
    assert "lancashire" in wrong.json()["error"]["fields"]["places.0"][0]
    created = lsc.api("POST", "/staff/consultations", officer, json=draft)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert lsc.api("POST", f"/staff/consultations/{cid}/open", officer).status_code == 200

    # The home page speaks for this ICS, with its places and its phone number.
    home = requests.get(f"{lsc.base_url}/?place=south-cumbria", timeout=15)
    assert home.status_code == 200
    assert "Community diagnostic centre in Barrow" in home.text
    assert "South Cumbria, Lancashire" in home.text
    assert "Lancashire and South Cumbria" in home.text and "01632 960000" in home.text
    assert "Yorkshire" not in home.text

    # A resident answers on the web form with a Barrow postcode district.
    web = requests.Session()
    page = web.get(f"{lsc.base_url}/consultations/{cid}", timeout=15)
    assert "For example, PR1 or LA14" in page.text
    hidden = dict(
        re.findall(
            r'name="(csrf_token|idempotency_key|consent_version)" value="([^"]+)"', page.text
        )
    )
    posted = web.post(
        f"{lsc.base_url}/consultations/{cid}",
        data={
            **hidden,
            "answers-travel": "bus",
            "equality-postcode_district": "la14",
            "equality-conditions": ["autism", "mental-health"],
            "consent": "yes",
        },
        allow_redirects=False,
        timeout=15,
    )
    assert posted.status_code == 303, posted.text[:2000]
    code = posted.headers["Location"].rsplit("/", 1)[1]
    stored = eventually(
        lambda: (got := lsc.api("GET", f"/receipts/{code}")).status_code == 200 and got,
        30,
        "the response to be stored",
    )
    assert stored.json()["status"] == "stored"
    mine = lsc.api("GET", f"/receipts/{code}/response").json()
    assert mine["place"] == "south-cumbria"  # from LA14, by the configuration
    assert mine["equality"] == {
        "postcode_district": "LA14",
        "conditions": ["autism", "mental-health"],
    }
    assert mine["equality_version"] == "2026-11"
    # A district the ICS has still to place gives no place, and is no error.
    api = lsc.api(
        "POST",
        f"/consultations/{cid}/responses",
        json={
            "answers": {"travel": "car"},
            "equality": {"postcode_district": "BB1"},
            "consent": {"given": True, "version": hidden["consent_version"]},
        },
    )
    assert api.status_code == 202, api.text
    later = api.json()["receipt_code"]
    eventually(lambda: lsc.api("GET", f"/receipts/{later}").status_code == 200, 30, "stored")
    assert lsc.api("GET", f"/receipts/{later}/response").json()["place"] is None
