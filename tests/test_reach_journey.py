"""Issue 13, reach against population, end to end on real processes: the ICS loads its
(illustrative) population and deprivation files with the CLI; residents and staff send a
scripted mix online, on paper, by phone, as feedback and at an event, some with a full
postcode; while the consultation is open the staff reach view follows, every figure in
it equals a count made directly in the services' own databases, no count below the
threshold is shown, and no full postcode is stored anywhere (dead letters included)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engage_common.db import connect
from engage_common.testing import eventually
from engage_contracts import population
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from tests.conftest import ROOT, Suite

ICS = "west-yorkshire-and-harrogate"
# Full postcodes in the shipped illustrative lookup (deciles 1, 9 and 4), and one not in it.
DEPRIVED, AFFLUENT, MIDDLE, UNKNOWN = "LS9 8AB", "LS17 6AB", "LS6 1AN", "LS2 9JT"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:1000]
    return response.json()


def sent(suite: Suite, path: str, status: int, **kwargs: Any) -> Any:
    """A resident's POST, waiting out the per-client rate limit (other tests of the session
    write from the same address) instead of failing on it."""
    answers: list[Any] = []

    def answered() -> bool:
        answers.append(suite.api("POST", path, **kwargs))
        return answers[-1].status_code != 429

    eventually(answered, 65, f"POST {path} past the rate limit", interval=1)
    return ok(answers[-1], status)


def manage(suite: Suite, *argv: str) -> str:
    ran = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *argv],
        env=suite.env("gateway"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def rows(suite: Suite, owner: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with connect(suite.databases[owner]) as conn:
        return conn.execute(sql, params).fetchall()


def direct(suite: Suite, cid: str) -> list[tuple[str, dict[str, Any]]]:
    """Every contribution to the consultation as ``(channel, equality answers)``, read
    directly from each service's own database."""
    responses = rows(
        suite,
        "surveys",
        "SELECT r.channel, e.answers FROM responses r"
        " LEFT JOIN equality_monitoring e ON e.response_id = r.id WHERE r.consultation_id = %s",
        cid,
    )
    feedback = rows(
        suite,
        "feedback",
        "SELECT i.channel, e.answers FROM feedback_items i"
        " LEFT JOIN feedback_equality e ON e.feedback_id = i.id WHERE i.consultation_id = %s",
        cid,
    )
    attendees = rows(
        suite,
        "events",
        "SELECT 'event' AS channel, q.answers FROM registrations r"
        " JOIN engagement_events e ON e.id = r.event_id"
        " LEFT JOIN registration_equality q ON q.registration_id = r.id"
        " WHERE %s = ANY(e.consultation_ids) AND r.attended AND r.erased_at IS NULL",
        cid,
    )
    return [(r["channel"], r["answers"] or {}) for r in responses + feedback + attendees]


def full_postcodes_stored(suite: Suite, postcodes: list[str]) -> list[str]:
    """Where any of ``postcodes`` (with or without its space) is found in any row of any
    table of any database of the suite: every text, JSON and array column at once."""
    patterns = [f"%{p}%" for p in postcodes] + [f"%{p.replace(' ', '')}%" for p in postcodes]
    found = []
    for owner, url in suite.databases.items():
        with connect(url) as conn:
            tables = conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE'"
                " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            for t in tables:
                name = f'"{t["table_schema"]}"."{t["table_name"]}"'
                hit = conn.execute(
                    f"SELECT count(*) AS n FROM {name} x WHERE x::text ILIKE ANY(%s)",
                    (patterns,),
                ).fetchone()["n"]
                if hit:
                    found.append(f"{owner}: {name}")
    return found


@pytest.fixture(scope="module")
def officer(suite: Suite) -> str:
    if ics().code != ICS:
        pytest.skip("the scripted postcodes are the West Yorkshire demo's")
    return suite.token("reach-officer@example.nhs.uk", "engagement-officer")


def test_reach_across_channels_adds_up_live_hides_small_numbers_keeps_no_postcode(
    suite: Suite, officer: str
) -> None:
    for kind in ("population", "deprivation"):
        out = manage(suite, f"load-{kind}", str(population.SHIPPED / f"{ICS}-{kind}.csv"))
        assert "loaded" in out
    now = datetime.now(UTC)
    cid = ok(
        suite.api(
            "POST",
            "/staff/consultations",
            officer,
            json={
                "title": "Evening appointments",
                "summary": "Would evening GP appointments help you?",
                "places": ["leeds"],
                "opens_at": (now - timedelta(days=1)).isoformat(),
                "closes_at": (now + timedelta(days=20)).isoformat(),
                "questionnaire": {
                    "questions": [
                        {"id": "help", "type": "likert", "text": "Evenings would help me"}
                    ]
                },
            },
        ),
        201,
    )["id"]
    ok(suite.api("POST", f"/staff/consultations/{cid}/open", officer))
    consent = {"given": True, "version": current_consent()["version"]}
    reach_url = f"/staff/consultations/{cid}/reach"

    def respond(equality: dict[str, Any], channel: str | None = None) -> None:
        body = {"answers": {"help": "agree"}, "equality": equality, "consent": consent}
        if channel is None:
            sent(suite, f"/consultations/{cid}/responses", 202, json=body)
        else:
            path = f"/staff/consultations/{cid}/responses"
            ok(suite.api("POST", path, officer, json={**body, "channel": channel}), 202)

    def contributions() -> int | None:
        return ok(suite.api("GET", reach_url, officer))["contributions"]

    # online: young people from a deprived area, older people from an affluent one
    for _ in range(6):
        respond({"age_band": "16-24", "sex": "female", "postcode_district": DEPRIVED})
    for _ in range(8):
        respond({"age_band": "45-54", "sex": "male", "postcode_district": AFFLUENT})
    respond({"age_band": "45-54", "sex": "male", "postcode_district": UNKNOWN})
    eventually(lambda: contributions() == 15, 20, "the online responses in the reach view")

    # paper and phone, entered by staff; one phone caller gives only a district
    for _ in range(5):
        respond({"age_band": "65-74", "sex": "female", "postcode_district": MIDDLE}, "paper")
    for _ in range(4):
        respond({"age_band": "75-84", "sex": "female", "postcode_district": MIDDLE}, "phone")
    respond({"age_band": "75-84", "sex": "female", "postcode_district": "LS6"}, "phone")
    # feedback about the consultation
    for n in range(5):
        sent(
            suite,
            "/feedback",
            202,
            json={
                "kind": "idea",
                "about": "GP opening hours",
                "text": f"Evening appointments would help me work ({n}).",
                "consultation_id": cid,
                "equality": {"age_band": "25-34", "postcode_district": DEPRIVED},
                "consent": {"given": True, "version": current_consent("feedback")["version"]},
            },
        )
    # an event linked to it: five registered and came, one walked in
    day = (now + timedelta(days=2)).strftime("%Y-%m-%d")
    event = ok(
        suite.api(
            "POST",
            "/staff/events",
            officer,
            json={
                "kind": "drop-in",
                "title": {"en": "Evening appointments: a drop-in"},
                "starts_local": f"{day}T17:00",
                "ends_local": f"{day}T19:00",
                "venue": {"name": "Harehills library"},
                "place": "leeds",
                "consultation_ids": [cid],
            },
        ),
        201,
    )
    eid = event["id"]
    ok(suite.api("POST", f"/staff/events/{eid}/publish", officer))
    registered = []
    for _ in range(5):
        made = sent(
            suite,
            f"/events/{eid}/registrations",
            201,
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "equality": {"age_band": "16-24", "postcode_district": DEPRIVED},
                "consent": {"given": True, "version": current_consent("events")["version"]},
            },
        )
        registered.append(made["id"])
    walk_in = {"equality": {"age_band": "35-44", "postcode_district": AFFLUENT}}
    ok(
        suite.api(
            "POST",
            f"/staff/events/{eid}/attendance",
            officer,
            json={"attended": registered, "walk_ins": [walk_in]},
        )
    )
    expected = 15 + 10 + 5 + 6
    # live: the consultation is still open and the view follows
    eventually(lambda: contributions() == expected, 30, "every channel in the reach view")

    reach = ok(suite.api("GET", reach_url, officer))
    mix = direct(suite, cid)
    assert len(mix) == expected == reach["contributions"]
    threshold = ics().small_number_threshold

    # channels, counted in the services' databases
    channels = Counter(channel for channel, _ in mix)
    assert channels == {"online": 20, "paper": 5, "phone": 5, "event": 6}
    assert reach["by_channel"] == dict(channels)

    # every group shown equals the direct count; a hidden one is never shown below the
    # threshold; the same dimensions as the contract's
    groups = [population.coarse_groups(answers) for _, answers in mix]
    assert [d["dimension"] for d in reach["dimensions"]] == [d.code for d in population.DIMENSIONS]
    for dimension in reach["dimensions"]:
        counted = Counter(population.group_of(dimension["dimension"], g) for g in groups)
        for g in dimension["groups"]:
            if g["count"] is not None:
                assert g["count"] == counted[g["group"]], (dimension["dimension"], g)
                assert g["count"] == 0 or g["count"] >= threshold
            if 0 < counted[g["group"]] < threshold:
                assert g["count"] is None, (dimension["dimension"], g)
        if dimension["answered"] is not None:
            assert dimension["answered"] == len(groups) - counted[population.NOT_GIVEN]
    deprivation = next(d for d in reach["dimensions"] if d["dimension"] == "imd_decile")
    deciles = {g["group"]: g["count"] for g in deprivation["groups"]}
    assert deciles["1-2"] == 6 + 5 + 5  # online, feedback, registered attendees
    # two gave no decile (a district alone, a postcode not in the lookup): too few to
    # show, so the smallest group shown beside them (9 in deciles 3-4) is hidden too
    assert deciles["9-10"] == 8 + 1 and deciles["3-4"] is None and deprivation["answered"] is None
    assert all(g["share"] is None for g in deprivation["groups"])
    age = next(d for d in reach["dimensions"] if d["dimension"] == "age_band")
    assert {g["group"]: g["count"] for g in age["groups"]}["16-24"] == 11
    assert reach["representativeness"] is not None
    assert reach["furthest_below"] and all(b["sentence"] for b in reach["furthest_below"])
    assert "ILLUSTRATIVE" in reach["population_source"].upper()

    # the district is kept; the decile only from a full postcode found in the lookup
    answers = [
        r["answers"]
        for r in rows(
            suite,
            "surveys",
            "SELECT e.answers FROM equality_monitoring e WHERE e.consultation_id = %s",
            cid,
        )
    ]
    assert {"postcode_district": "LS2", "age_band": "45-54", "sex": "male"} in answers
    assert {"postcode_district": "LS6", "age_band": "75-84", "sex": "female"} in answers
    assert sum(1 for a in answers if a.get("imd_decile") == 1) == 6

    # no full postcode anywhere: services' databases (outboxes too), the gateway's
    # (read models, dead letters)
    assert full_postcodes_stored(suite, [DEPRIVED, AFFLUENT, MIDDLE, UNKNOWN]) == []

    # the place view counts the same contributions from Leeds residents
    place = ok(suite.api("GET", "/staff/reach?place=leeds", officer))
    # (feedback gave no place of its own; the responses' place comes from their district)
    assert place["contributions"] >= 20 + 6
