"""The demo data that `./engage up` loads: realistic, and never loaded twice."""

from __future__ import annotations

from typing import Any

import requests

from engage_common.db import connect
from engage_common.testing import eventually, holds_for
from gateway import demo
from gateway.config import Settings
from tests.conftest import Suite


def test_demo_data_loads_once_and_its_admin_token_works(suite: Suite) -> None:
    settings = Settings(
        amqp_uri=suite.amqp_uri,
        database_url=suite.databases["gateway"],
        secret_key=suite.secret_key,
    )
    first = demo.load(settings, responses=12)
    second = demo.load(settings, responses=12)
    assert {"ageing_well", "starting_well", "event"} <= set(first)
    assert "event" not in second
    assert "ageing_well" not in second and "starting_well" not in second

    headers = {"Authorization": f"Bearer {second['admin_token']}"}
    listed = requests.get(
        f"{suite.base_url}/api/v1/staff/consultations", headers=headers, timeout=15
    )
    assert listed.status_code == 200, listed.text
    # Each load (each ./engage up) replaces the demo token: the previous one stops working.
    before = requests.get(
        f"{suite.base_url}/api/v1/staff/me",
        timeout=15,
        headers={"Authorization": f"Bearer {first['admin_token']}"},
    )
    assert before.status_code == 401
    titles = [c["title"]["en"] for c in listed.json()["consultations"]]
    for loaded in (demo.AGEING_WELL, demo.STARTING_WELL):
        assert titles.count(loaded["title"]) == 1

    by_title = {c["title"]["en"]: c for c in listed.json()["consultations"]}
    assert by_title[demo.AGEING_WELL["title"]]["status"] == "open"
    closed = by_title[demo.STARTING_WELL["title"]]
    assert closed["status"] == "closed"
    assert closed["response_count"] == 12
    assert len(closed["outcome"]["decisions"]) == 4
    types = {q["type"] for q in by_title[demo.AGEING_WELL["title"]]["questionnaire"]["questions"]}
    assert types == {"single_choice", "multiple_choice", "likert", "rating", "free_text", "ranking"}
    easy = by_title[demo.AGEING_WELL["title"]]["easy_read"]  # with two pictures, once
    assert len([p for p in easy["points"] if p["image"] and p["alt"]["en"]]) == 2
    scale = next(q for q in easy["questions"] if q["id"] == "listened-to")["options"]
    assert scale[0] == {"value": "strongly-agree", "label": {"en": "Yes, always"}}

    # The demo feedback, queued by both loads, is stored once, from several channels.
    def demo_feedback() -> list[dict[str, Any]]:
        with connect(suite.databases["feedback"]) as conn:
            return conn.execute(
                "SELECT channel FROM feedback_items WHERE about = ANY(%s)",
                ([about for _, _, about, _, _ in demo.DEMO_FEEDBACK],),
            ).fetchall()

    eventually(lambda: len(demo_feedback()) >= len(demo.DEMO_FEEDBACK), 60, "demo feedback")
    holds_for(lambda: len(demo_feedback()) == len(demo.DEMO_FEEDBACK), 1, "stored once")
    assert {r["channel"] for r in demo_feedback()} >= {"online", "phone", "event", "healthwatch"}
