""" "You said, we did" from the read model: the public page, the JSON, and the staff board
reports (CSV and print-friendly HTML), against a real gateway database.

The read model is filled by the projections' own ``apply_*`` functions with events
shaped like the ones surveys publishes. No service runs in this module: every page
here must answer from the read model alone, never by RPC.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient

from engage_common.db import Pool
from engage_contracts import ics
from gateway.readmodels.projections import (
    apply_consultation,
    apply_deleted_response,
    apply_response,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GP, CAFES, PARKS, OPEN = (str(uuid.uuid4()) for _ in range(4))
FORMULA = '=HYPERLINK("http://evil.example","click")'
PAGE = "/you-said-we-did"
CSV = "/api/v1/staff/reports/you-said-we-did.csv"
REPORT = "/api/v1/staff/reports/you-said-we-did.html"


def consultation_event(
    cid: str,
    title: str,
    places: list[str],
    priorities: list[str],
    status: str,
    closes: datetime,
    outcome: dict | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A ``consultation_*`` / ``outcome_published`` event as surveys publishes it."""
    event = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": (at or closes).isoformat(),
        "consultation_id": cid,
        "title": title,
        "places": places,
        "priorities": priorities,
        "status": status,
        "opens_at": (closes - timedelta(days=28)).isoformat(),
        "closes_at": closes.isoformat(),
    }
    if outcome is not None:
        event["outcome"] = outcome
    return event


def response_event(cid: str, place: str | None) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": NOW.isoformat(),
        "consultation_id": cid,
        "place": place,
    }


@pytest.fixture(scope="module", autouse=True)
def read_model(db: Pool) -> None:
    gp_closes, cafes_closes, parks_closes = (
        NOW - timedelta(days=40),
        NOW - timedelta(days=3),
        NOW - timedelta(days=60),
    )
    gp_outcome = {
        "summary": "We will pilot evening appointments.",
        "published_at": NOW.isoformat(),
        "decisions": [
            {
                "you_said": "Evenings suit working people.",
                "we_did": "Evening appointments in two Leeds practices.",
                "status": "planned",
                "reason": None,
            },
            {
                "you_said": "Booking by phone takes too long <script>x</script>",
                "we_did": "Online booking for every practice.",
                "status": "done",
            },
            {
                "you_said": FORMULA,
                "we_did": "Weekend opening everywhere.",
                "status": "not-taken-forward",
                "reason": "There are not enough GPs to staff weekends yet.",
            },
        ],
    }
    parks_outcome = {
        "summary": "Play areas",
        "published_at": NOW.isoformat(),
        "decisions": [
            {
                "you_said": "More play areas.",
                "we_did": "Two new play areas in Dewsbury.",
                "status": "in-progress",
            }
        ],
    }
    with db.connection() as conn:
        apply_consultation(
            conn,
            consultation_event(
                GP,
                "Evening GP appointments",
                ["leeds", "wakefield"],
                ["living-well", "working-well"],
                "open",
                gp_closes,
                at=gp_closes - timedelta(days=28),
            ),
        )
        # 12 from Leeds (one later deleted), 6 from Wakefield, 3 who did not say
        for place in ["leeds"] * 12 + ["wakefield"] * 6 + [None] * 3:
            apply_response(conn, response_event(GP, place))
        apply_deleted_response(conn, response_event(GP, "leeds"))
        apply_consultation(
            conn,
            consultation_event(
                GP,
                "Evening GP appointments",
                ["leeds", "wakefield"],
                ["living-well", "working-well"],
                "closed",
                gp_closes,
                gp_outcome,
                at=NOW,
            ),
        )
        apply_consultation(
            conn,
            consultation_event(
                CAFES,
                "Dementia cafes in Calderdale",
                ["calderdale"],
                ["ageing-well"],
                "closed",
                cafes_closes,
            ),
        )
        apply_response(conn, response_event(CAFES, "calderdale"))
        apply_consultation(
            conn,
            consultation_event(
                PARKS,
                "Play areas in Kirklees",
                ["kirklees"],
                ["starting-well"],
                "closed",
                parks_closes,
                parks_outcome,
            ),
        )
        apply_response(conn, response_event(PARKS, "kirklees"))
        apply_consultation(
            conn,
            consultation_event(
                OPEN,
                "Still open in Harrogate",
                ["harrogate"],
                ["living-well"],
                "open",
                NOW + timedelta(days=10),
                at=NOW,
            ),
        )


class Page(HTMLParser):
    """The text of a page, its h1s, and the text of each element with an id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.h1: list[str] = []
        self.text: list[str] = []
        self.by_id: dict[str, list[str]] = {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "link", "br", "input"):
            return
        self._open.append((tag, dict(attrs).get("id")))
        if tag == "h1":
            self.h1.append("")

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if any(t == "h1" for t, _ in self._open):
            self.h1[-1] += data
        for _, ident in self._open:
            if ident:
                self.by_id.setdefault(ident, []).append(data)

    def of(self, ident: str) -> str:
        return " ".join(" ".join(self.by_id.get(ident, [])).split())

    @property
    def all(self) -> str:
        return " ".join(" ".join(self.text).split())


def get_page(client: FlaskClient, query: str = "") -> tuple[str, Page]:
    response = client.get(PAGE + query)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    return html, Page(html)


def test_page_shows_each_outcome_its_decisions_in_words_and_responses_per_place(
    client: FlaskClient,
) -> None:
    started = time.monotonic()
    html, page = get_page(client)
    # No service is running: an RPC would have waited RPC_TIMEOUT (5s) and answered 503.
    assert time.monotonic() - started < 2
    assert page.h1 == ["You said, we did"]
    assert "<script" not in html  # no JavaScript, and residents' text is escaped
    assert "&lt;script&gt;x&lt;/script&gt;" in html

    gp = page.of(f"consultation-{GP}")
    assert "Evening GP appointments" in gp
    assert "Places Leeds, Wakefield" in gp
    assert "Priorities Living Well, Working Well" in gp
    assert "Closed 21 January 2026" in gp
    assert "20 people responded" in gp
    # the small-number rule: 3 is hidden, and 6 with it (20 - 11 would give 3 away)
    assert "Leeds: 11" in gp and "Wakefield: fewer than 5" in gp
    assert "Not given: fewer than 5" in gp
    assert "We will pilot evening appointments." in gp
    assert (
        "You said: Evenings suit working people. We did: Evening appointments in two "
        "Leeds practices. Status: Planned"
    ) in gp
    assert "We did: Online booking for every practice. Status: Done" in gp
    assert (
        f"You said: {FORMULA} We did: Weekend opening everywhere. Status: Not taken "
        "forward Why: There are not enough GPs to staff weekends yet."
    ) in gp
    parks = page.of(f"consultation-{PARKS}")
    assert "Status: In progress" in parks and "1 person responded" in parks
    # one person, all from one place: no breakdown can hide that, so none is shown
    assert "Kirklees" not in parks.split("Responses", 1)[1].split("What we decided")[0]
    # Latest closing first.
    assert html.index(f"consultation-{GP}") < html.index(f"consultation-{PARKS}")
    assert "Still open in Harrogate" not in page.all
    # Reachable from every page's header.
    assert re.search(r'<a class="header__link" href="/you-said-we-did" aria-current="page">', html)


def test_closed_without_an_outcome_is_waiting_for_a_decision(client: FlaskClient) -> None:
    _, page = get_page(client)
    waiting = page.of(f"waiting-{CAFES}")
    assert "Dementia cafes in Calderdale" in waiting
    assert "Closed on 27 February 2026." in waiting and "1 person responded" in waiting
    assert page.all.index("Waiting for a decision") < page.all.index("Dementia cafes")
    assert not page.of(f"consultation-{CAFES}")


def test_filter_by_place_and_priority(client: FlaskClient) -> None:
    html, page = get_page(client, "?place=kirklees")
    assert page.of(f"consultation-{PARKS}") and not page.of(f"consultation-{GP}")
    assert '<option value="kirklees" selected>' in html
    assert "1 consultation with a decision matching your choice." in page.all
    assert "No closed consultations that match your choice are waiting" in page.all

    _, page = get_page(client, "?priority=ageing-well")
    assert page.of(f"waiting-{CAFES}")
    assert "There are no published decisions that match your choice yet." in page.all

    _, page = get_page(client, "?place=leeds&priority=working-well")
    assert page.of(f"consultation-{GP}") and not page.of(f"consultation-{PARKS}")
    assert not page.of(f"waiting-{CAFES}")

    _, page = get_page(client, "?place=atlantis&priority=")  # unknown: everything
    assert page.of(f"consultation-{GP}") and page.of(f"consultation-{PARKS}")


def test_json_endpoint_reads_the_same_read_model(client: FlaskClient) -> None:
    response = client.get("/api/v1/you-said-we-did")
    assert response.status_code == 200
    by_id = {c["id"]: c for c in response.get_json()["consultations"]}
    assert set(by_id) == {GP, CAFES, PARKS}
    gp = by_id[GP]
    assert gp["response_count"] == 20 and gp["status"] == "closed"
    assert {p["place"]: (p["label"], p["count"]) for p in gp["responses_by_place"]} == {
        "leeds": ("Leeds", 11),
        "wakefield": ("Wakefield", None),
        None: ("Not given", None),
    }
    assert [d["status"] for d in gp["outcome"]["decisions"]] == [
        "planned",
        "done",
        "not-taken-forward",
    ]
    assert by_id[CAFES]["outcome"] is None


def audit_actions(db: Pool) -> list[tuple[str, str, str]]:
    with db.connection() as conn:
        return [
            (r["action"], r["target"], r["role"])
            for r in conn.execute(
                "SELECT a.action, a.target, u.role FROM audit_log a"
                " JOIN staff_users u ON u.id = a.staff_user_id ORDER BY a.id"
            ).fetchall()
        ]


def test_board_viewer_downloads_the_csv_one_row_per_decision(
    client: FlaskClient, as_role: dict[str, dict[str, str]], db: Pool
) -> None:
    response = client.get(CSV, headers=as_role["board-viewer"])
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == ('attachment; filename="you-said-we-did.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "consultation",
        "places",
        "priorities",
        "closed",
        "responses",
        "you said",
        "we did",
        "status",
        "reason",
    ]
    assert len(rows) == 1 + 4  # three decisions for GP, one for the play areas
    assert rows[1] == [
        "Evening GP appointments",
        "Leeds; Wakefield",
        "Living Well; Working Well",
        "2026-01-21",
        "20",
        "Evenings suit working people.",
        "Evening appointments in two Leeds practices.",
        "Planned",
        "",
    ]
    assert rows[3][5] == "'" + FORMULA  # a spreadsheet shows it, never runs it
    assert rows[3][7:] == ["Not taken forward", "There are not enough GPs to staff weekends yet."]
    assert rows[4][0] == "Play areas in Kirklees" and rows[4][7] == "In progress"
    assert (
        "report.you_said_we_did.csv",
        "place=all priority=all",
        "board-viewer",
    ) in audit_actions(db)

    leeds = client.get(CSV + "?place=kirklees", headers=as_role["analyst"])
    assert [r[0] for r in csv.reader(io.StringIO(leeds.get_data(as_text=True)))][1:] == [
        "Play areas in Kirklees"
    ]
    assert (
        "report.you_said_we_did.csv",
        "place=kirklees priority=all",
        "analyst",
    ) in audit_actions(db)


def test_board_paper_has_the_summary_numbers(
    client: FlaskClient, as_role: dict[str, dict[str, str]], db: Pool
) -> None:
    response = client.get(REPORT, headers=as_role["board-viewer"])
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    assert page.h1 == ["You said, we did: board report"]
    assert {
        k: page.of(f"summary-{k}")
        for k in (
            "decided",
            "waiting",
            "responses",
            "decisions",
            "planned",
            "in-progress",
            "done",
            "not-taken-forward",
        )
    } == {
        "decided": "2",
        "waiting": "1",
        "responses": "21",
        "decisions": "4",
        "planned": "1",
        "in-progress": "1",
        "done": "1",
        "not-taken-forward": "1",
    }
    assert "Weekend opening everywhere." in page.all
    assert "Not taken forward: There are not enough GPs" in page.all
    assert "Dementia cafes in Calderdale 27 February 2026 1" in page.of("waiting")
    assert (
        "report.you_said_we_did.html",
        "place=all priority=all",
        "board-viewer",
    ) in audit_actions(db)

    calderdale = Page(
        client.get(REPORT + "?place=calderdale", headers=as_role["engagement-officer"]).get_data(
            as_text=True
        )
    )
    assert calderdale.of("summary-decided") == "0" and calderdale.of("summary-waiting") == "1"
    assert "for Calderdale" in calderdale.all


@pytest.mark.parametrize("path", [CSV, REPORT])
def test_reports_need_a_token_and_a_known_filter(
    client: FlaskClient, as_role: dict[str, dict[str, str]], path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.get(path + "?place=atlantis", headers=as_role["admin"])
    assert bad.status_code == 422
    assert "place" in bad.get_json()["error"]["fields"]


def test_a_consultation_closed_early_shows_the_day_it_actually_closed(
    db: Pool, client: Any
) -> None:
    cid = str(uuid.uuid4())
    planned, closed = datetime(2031, 3, 30, 12, tzinfo=UTC), datetime(2031, 3, 2, 12, tzinfo=UTC)
    closed_event = consultation_event(
        cid, "Closed early in Leeds", ["leeds"], ["dying-well"], "closed", planned, at=closed
    )
    closed_event["closed_at"] = closed.isoformat()
    with db.connection() as conn:
        apply_consultation(conn, closed_event)
    page = client.get(PAGE).get_data(as_text=True)
    section = page[page.index("Closed early in Leeds") :]
    assert "2 March 2031" in section[:2000]
    assert "30 March 2031" not in section[:2000]
    api = client.get("/api/v1/you-said-we-did").get_json()
    entry = next(c for c in api["consultations"] if c["id"] == cid)
    assert entry["closes_at"].startswith("2031-03-02")


def test_home_page_lists_open_consultations_from_the_read_model_while_surveys_is_away(
    db: Pool, client: FlaskClient
) -> None:
    """Issue 7: the home page answered 503 while surveys was down, although the form and
    this page kept working. Surveys is not running in this module."""
    now = datetime.now(UTC)
    taking, later, gone = (str(uuid.uuid4()) for _ in range(3))
    with db.connection() as conn:
        for cid, title, places, opens, closes in (
            (
                taking,
                "Pharmacy hours in Halifax",
                ["calderdale"],
                now - timedelta(days=1),
                now + timedelta(days=9),
            ),
            (
                later,
                "Opens next week",
                ["calderdale"],
                now + timedelta(days=7),
                now + timedelta(days=30),
            ),
            (
                gone,
                "Already past its date",
                ["calderdale"],
                now - timedelta(days=30),
                now - timedelta(minutes=1),
            ),
        ):
            event = consultation_event(cid, title, places, ["living-well"], "open", closes, at=now)
            apply_consultation(
                conn, {**event, "opens_at": opens.isoformat(), "summary": f"Summary of {title}"}
            )
    home = client.get("/")
    assert home.status_code == 200, home.get_data(as_text=True)[:300]
    html = home.get_data(as_text=True)
    assert "Pharmacy hours in Halifax" in html and "Summary of Pharmacy hours in Halifax" in html
    assert f"/consultations/{taking}" in html
    assert "Opens next week" not in html and "Already past its date" not in html
    assert "Pharmacy hours" not in client.get("/?place=leeds").get_data(as_text=True)
    assert "Pharmacy hours" in client.get("/?place=calderdale&priority=living-well").get_data(
        as_text=True
    )


def test_a_place_no_longer_configured_is_shown_as_stored(client: FlaskClient) -> None:
    """Issue 9: changing the configuration never breaks stored data."""
    with ics.serving(ics.load("lancashire-and-south-cumbria")):
        html, page = get_page(client)
        gp = page.of(f"consultation-{GP}")
        assert "Places leeds, wakefield" in gp  # stored codes, not an error
        assert "Lancashire and South Cumbria" in html
        assert client.get("/api/v1/you-said-we-did").status_code == 200
        report = client.get("/?place=leeds")
        assert report.status_code == 200  # an unknown filter means all places
