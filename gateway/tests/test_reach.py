"""Reach against population in the gateway: the ICS's files load whole or not at all (by
the CLI too), a full postcode becomes a district and a decile, the read model kept from
the services' events gives each figure through the small-number rule, and the staff API
answers with it (422 naming the field for bad input)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from engage_common.db import Pool
from engage_contracts import population
from gateway.application import reach
from gateway.cli import cli
from gateway.config import Settings
from gateway.readmodels import reach as readmodel
from gateway.readmodels.projections import HANDLERS, apply_consultation

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CID = str(uuid.uuid4())
ICS = "west-yorkshire-and-harrogate"
POPULATION = population.SHIPPED / f"{ICS}-population.csv"
DEPRIVATION = population.SHIPPED / f"{ICS}-deprivation.csv"


def event(**fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "occurred_at": NOW.isoformat(), **fields}


def apply(db: Pool, source: str, event_type: str, payload: dict[str, Any]) -> None:
    with db.connection() as conn:
        HANDLERS[source, event_type][1](conn, payload)


def response(rid: int, groups: dict[str, Any], channel: str = "online") -> dict[str, Any]:
    return event(
        consultation_id=CID,
        response_id=rid,
        receipt_code=f"R{rid}",
        place="leeds",
        channel=channel,
        submitted_at=NOW.isoformat(),
        equality=groups,
    )


@pytest.fixture(scope="module", autouse=True)
def files(settings: Settings) -> None:
    runner = CliRunner()
    obj = {"settings": settings}
    loaded = runner.invoke(cli, ["load-population", str(POPULATION)], obj=obj)
    assert loaded.exit_code == 0, loaded.output
    assert "ILLUSTRATIVE" in loaded.output
    loaded = runner.invoke(cli, ["load-deprivation", str(DEPRIVATION)], obj=obj)
    assert loaded.exit_code == 0, loaded.output
    assert "IMD 2025 (LSOA 2021)" in loaded.output


def test_a_file_with_a_bad_line_loads_nothing_and_says_which(
    settings: Settings, db: Pool, tmp_path: Any
) -> None:
    bad = tmp_path / "bad.csv"
    good = DEPRIVATION.read_text()
    bad.write_text(good + "LS6 9ZZ,E01011229,12,IMD 2025\nLS6,E01011229,2,IMD 2025\n")
    ran = CliRunner().invoke(cli, ["load-deprivation", str(bad)], obj={"settings": settings})
    assert ran.exit_code == 1
    lines = len(good.splitlines())
    assert f"line {lines + 1}: imd_decile '12' is not a whole number from 1 to 10" in ran.output
    assert f"line {lines + 2}: postcode 'LS6' is not a full UK postcode" in ran.output
    assert "nothing was loaded" in ran.output
    # the lookup loaded before is still whole
    assert reach.decile_for(db, "ls9 8ab") == 1
    bad.write_text("source,place,dimension,group,population\nx,atlantis,sex,female,1\n")
    ran = CliRunner().invoke(cli, ["load-population", str(bad)], obj={"settings": settings})
    assert ran.exit_code == 1 and "line 2: place 'atlantis'" in ran.output
    with db.connection() as conn:
        places = conn.execute("SELECT DISTINCT place FROM population_profiles").fetchall()
    assert len(places) == 6


def test_a_full_postcode_becomes_its_district_and_decile_and_nothing_else(db: Pool) -> None:
    located = reach.locate_equality(db, {"postcode_district": "ls9 8ab", "age_band": "16-24"})
    assert located == {"postcode_district": "LS9", "age_band": "16-24", "imd_decile": 1}
    # a district alone gives no decile; a decile a client sent is never believed
    assert reach.locate_equality(db, {"postcode_district": "LS9", "imd_decile": 10}) == {
        "postcode_district": "LS9"
    }
    # a postcode not in the lookup keeps its district, decile unknown
    assert reach.locate_equality(db, {"postcode_district": "LS1 1UR"}) == {
        "postcode_district": "LS1"
    }
    # feedback: where it happened gives a district only; the resident's home the decile
    assert reach.locate_feedback(
        db, {"postcode_district": "HX1 1AB", "equality": {"postcode_district": "BD3 9AB"}}
    ) == {
        "postcode_district": "HX1",
        "equality": {"postcode_district": "BD3", "imd_decile": 1},
    }
    assert reach.locate_equality(db, "not answers") == "not answers"


def test_reach_of_a_consultation_across_channels_small_numbers_hidden(
    db: Pool, client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    opened = event(
        consultation_id=CID,
        title="Evening GP appointments",
        places=["leeds"],
        priorities=[],
        status="open",
        opens_at=(NOW - timedelta(days=1)).isoformat(),
        closes_at=(NOW + timedelta(days=27)).isoformat(),
    )
    with db.connection() as conn:
        apply_consultation(conn, opened)
    young = {"age_band": "16-24", "sex": "female", "imd_decile": 1}
    older = {"age_band": "65-74", "sex": "male", "imd_decile": 9}
    for rid in range(1, 7):
        apply(db, "surveys", "response_submitted", response(rid, young, "paper"))
    for rid in range(7, 27):
        apply(db, "surveys", "response_submitted", response(rid, older))
    apply(db, "surveys", "response_submitted", response(27, {}, "phone"))  # said nothing
    url = f"/api/v1/staff/consultations/{CID}/reach"
    got = client.get(url, headers=as_role["board-viewer"])
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    assert body["contributions"] == 27
    # one phone response: hidden, and so is the next smallest channel (6 on paper)
    assert body["by_channel"] == {"online": 20, "paper": None, "phone": None}
    age = next(d for d in body["dimensions"] if d["dimension"] == "age_band")
    counts = {g["group"]: g["count"] for g in age["groups"]}
    # the one who did not say is hidden, and with it the next smallest group
    assert counts["16-24"] is None and counts["65-74"] == 20 and counts["25-34"] == 0
    # with "did not say" hidden, no share may be shown (it would give it away)
    assert all(g["share"] is None for g in age["groups"])
    assert "ILLUSTRATIVE" in body["population_source"].upper()
    assert "IMD 2025" in body["population_source"]

    # more say nothing: "did not say" is shown, shares and ratios follow
    for rid in range(28, 33):
        apply(db, "surveys", "response_submitted", response(rid, {}, "phone"))
    body = client.get(url, headers=as_role["analyst"]).get_json()
    assert body["contributions"] == 32 and body["by_channel"]["phone"] == 6
    age = next(d for d in body["dimensions"] if d["dimension"] == "age_band")
    assert age["answered"] == 26
    young_group = next(g for g in age["groups"] if g["group"] == "16-24")
    assert young_group["share"] == round(6 / 26, 4)
    assert young_group["ratio"] == pytest.approx(
        young_group["share"] / young_group["population_share"], abs=0.01
    )
    assert age["representativeness"] == 0  # some age groups not heard at all
    deprivation = next(d for d in body["dimensions"] if d["dimension"] == "imd_decile")
    assert {g["group"]: g["count"] for g in deprivation["groups"]}["1-2"] == 6
    assert body["furthest_below"] and all(b["sentence"] for b in body["furthest_below"])
    assert body["furthest_below"][0]["ratio"] == 0

    # a deleted response goes (and a replayed submission cannot bring it back)
    apply(db, "surveys", "response_deleted", event(response_id=1, consultation_id=CID, place=None))
    apply(db, "surveys", "response_submitted", response(1, young, "paper"))
    body = client.get(url, headers=as_role["admin"]).get_json()
    assert body["contributions"] == 31


def test_every_count_below_the_threshold_is_hidden(db: Pool) -> None:
    cid = str(uuid.uuid4())
    with db.connection() as conn:
        for rid, groups in enumerate([{"sex": "female"}] * 3 + [{"sex": "male"}] * 4, start=1000):
            HANDLERS["surveys", "response_submitted"][1](
                conn, {**response(rid, groups), "consultation_id": cid}
            )
        figures = readmodel.consultation_reach(conn, cid)
    sex = next(d for d in figures["dimensions"] if d["dimension"] == "sex")
    assert figures["contributions"] == 7
    shown = [g["count"] for g in sex["groups"]]
    assert all(c is None or c == 0 or c >= 5 for c in shown)
    assert shown == [None, None]  # 3 and 4: both hidden, neither derivable
    with db.connection() as conn:
        few = readmodel.place_reach(conn, "calderdale")
    assert few["contributions"] == 0


def test_event_attendees_and_feedback_count_and_go_when_erased(
    db: Pool, client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    attendees = [str(uuid.uuid4()) for _ in range(8)]
    for rid in attendees:
        apply(
            db,
            "events",
            "attendee_recorded",
            event(
                registration_id=rid,
                engagement_event_id=str(uuid.uuid4()),
                place="wakefield",
                consultation_ids=[],
                attended=True,
                heard_at=NOW.isoformat(),
                equality={"imd_decile": 3},
            ),
        )
    fid = str(uuid.uuid4())
    apply(
        db,
        "feedback",
        "feedback_received",
        event(
            feedback_id=fid,
            kind="idea",
            place="wakefield",
            channel="letter",
            consultation_id=None,
            received_at=NOW.isoformat(),
            urgent=False,
            equality={},
        ),
    )
    query = "/api/v1/staff/reach?place=wakefield&since=2026-11-01T00:00:00Z"
    body = client.get(query, headers=as_role["engagement-officer"]).get_json()
    assert body["contributions"] == 9 and body["places"] == ["wakefield"]
    assert body["by_channel"] == {"event": None, "letter": None}  # 1 letter: both hidden
    apply(db, "events", "registration_erased", event(registration_id=attendees[0]))
    apply(db, "feedback", "feedback_deleted", event(feedback_id=fid))
    absent = event(registration_id=attendees[1], attended=False, equality={})
    apply(db, "events", "attendee_recorded", absent)
    body = client.get(query, headers=as_role["engagement-officer"]).get_json()
    assert body["contributions"] == 6 and body["by_channel"] == {"event": 6}
    later = client.get(
        "/api/v1/staff/reach?place=wakefield&since=2026-12-01T00:00:00Z",
        headers=as_role["engagement-officer"],
    ).get_json()
    assert later["contributions"] == 0


def test_bad_input_is_a_422_naming_the_field(
    client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    for query, field in (("place=atlantis", "place"), ("since=yesterday", "since")):
        got = client.get(f"/api/v1/staff/reach?{query}", headers=as_role["analyst"])
        assert got.status_code == 422, got.get_json()
        assert field in got.get_json()["error"]["fields"]
    unknown = client.get(
        f"/api/v1/staff/consultations/{uuid.uuid4()}/reach", headers=as_role["analyst"]
    )
    assert unknown.status_code == 404
    assert client.get("/api/v1/staff/reach", headers=as_role["triage-officer"]).status_code == 403
