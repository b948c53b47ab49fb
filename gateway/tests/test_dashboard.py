"""The decision makers' dashboard, the board paper and the evidence pack, against a real
gateway database holding a read model written here (no service runs: every one of them
must answer from the read model alone). Figures are checked in the JSON, on the page (SVG
charts each with its table, no script), in the XLSX (openpyxl), the CSV and one PDF
(poppler's pdftotext); no count of people below the threshold is shown anywhere."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from flask.testing import FlaskClient

from engage_common.db import Pool
from engage_contracts.ics import ics
from engage_contracts.timeliness import uk_day
from gateway.readmodels.projections import apply_consultation, apply_outcome, apply_response

NOW = datetime.now(UTC)
TODAY = uk_day(NOW)
LATE, QUICK, OPEN = (str(uuid.uuid4()) for _ in range(3))
PAST_DUE, DONE, PLANNED, LATER = (str(uuid.uuid4()) for _ in range(4))
PARTNERS = [p.code for p in ics().partners]
BOARD = "/api/v1/staff/reports/board-paper"


def consultation(cid: str, title: str, status: str, closes: datetime, **extra: Any) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": closes.isoformat(),
        "consultation_id": cid,
        "title": {"en": title},
        "places": ["leeds"],
        "priorities": ["living-well"],
        "status": status,
        "opens_at": (closes - timedelta(days=28)).isoformat(),
        "closes_at": closes.isoformat(),
        **extra,
    }


def published(oid: str, at: datetime, **fields: Any) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": at.isoformat(),
        "outcome_id": oid,
        "places": ["leeds"],
        "priorities": ["living-well"],
        **fields,
    }


@pytest.fixture(scope="module", autouse=True)
def read_model(db: Pool) -> None:
    late_closed, quick_closed = NOW - timedelta(days=100), NOW - timedelta(days=10)
    with db.connection() as conn:
        apply_consultation(conn, consultation(LATE, "Late to decide", "closed", late_closed))
        apply_consultation(conn, consultation(QUICK, "Quick to decide", "closed", quick_closed))
        apply_consultation(conn, consultation(OPEN, "Still open", "open", NOW + timedelta(days=9)))
        for cid, n in ((LATE, 7), (QUICK, 3)):
            for _ in range(n):
                apply_response(
                    conn,
                    {"event_id": str(uuid.uuid4()), "consultation_id": cid, "place": "leeds"},
                )
        apply_outcome(
            conn,
            published(
                PAST_DUE,
                quick_closed + timedelta(days=3),
                kind="commitment",
                title={"en": "An evening shuttle bus"},
                status="in-progress",
                progress=40,
                partner=PARTNERS[0],
                due_date=(TODAY - timedelta(days=5)).isoformat(),
                themes=["transport"],
                evidence=[{"kind": "consultation", "consultation_id": QUICK}],
            ),
        )
        apply_outcome(
            conn,
            published(
                DONE,
                NOW - timedelta(days=40),
                kind="decision",
                title={"en": "Longer pharmacy hours"},
                status="done",
                progress=100,
                partner=PARTNERS[1],
                due_date=(TODAY - timedelta(days=30)).isoformat(),
            ),
        )
        apply_outcome(
            conn,
            published(
                PLANNED,
                NOW - timedelta(days=2),
                kind="action",
                title={"en": "A map of step-free routes"},
                status="planned",
            ),
        )
        apply_outcome(
            conn,
            published(
                LATER,
                NOW - timedelta(days=1),
                kind="commitment",
                title={"en": '=HYPERLINK("http://x")'},
                status="planned",
                partner=PARTNERS[0],
                due_date=(TODAY + timedelta(days=30)).isoformat(),
            ),
        )
        conn.execute(
            "INSERT INTO feedback_themes (slug, label) VALUES ('transport', 'Transport'),"
            " ('gp-access', 'GP access') ON CONFLICT DO NOTHING"
        )
        # transport: 6 answers and 5 feedback items about QUICK; gp-access: 2 points.
        for n in range(6):
            conn.execute(
                "INSERT INTO answer_contributions (response_id, question_id, consultation_id,"
                " place, themes, occurred_at) VALUES (%s, 'tell', %s, 'leeds', %s, %s)",
                (1000 + n, QUICK, ["transport"], NOW - timedelta(days=15)),
            )
        for _ in range(5):
            conn.execute(
                "INSERT INTO feedback_facts (feedback_id, kind, place, channel, consultation_id,"
                " received_at, themes) VALUES (%s, 'concern', 'leeds', 'web', %s, %s, %s)",
                (str(uuid.uuid4()), QUICK, NOW - timedelta(days=14), ["transport"]),
            )
        for _ in range(2):
            conn.execute(
                "INSERT INTO point_contributions (point_id, event_id, place, consultation_ids,"
                " themes, occurred_at) VALUES (%s, %s, 'leeds', %s, %s, %s)",
                (str(uuid.uuid4()), str(uuid.uuid4()), [QUICK], ["gp-access"], NOW),
            )


def get(client: FlaskClient, headers: dict[str, str], path: str, **query: Any) -> Any:
    response = client.get(path, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_the_dashboard_figures(client: FlaskClient, as_role: dict[str, dict[str, str]]) -> None:
    d = get(client, as_role["board-viewer"], "/api/v1/staff/dashboard").get_json()
    assert d["contributions"]["total"] == 13
    # 2 points hidden, and feedback's 5 with them, or the total would give the 2 away
    assert d["contributions"]["by_channel"] == {"event": None, "feedback": None, "survey": 6}
    themes = {t["theme"]: t for t in d["themes_over_time"]["themes"]}
    assert themes["transport"]["total"] == 11
    assert themes["gp-access"]["total"] is None  # 2 < 5
    assert all(v is None for v in themes["gp-access"]["by_month"])
    o = d["outcomes"]
    assert o["total"] == 4 and o["past_due"] == 1 and o["with_due_date"] == 3
    assert {s["status"]: s["count"] for s in o["by_status"]} == {
        "planned": 2,
        "in-progress": 1,
        "done": 1,
        "not-taken-forward": 0,
    }
    partners = {
        p["partner"]: {s["status"]: s["count"] for s in p["by_status"]} for p in o["by_partner"]
    }
    assert partners[PARTNERS[0]]["in-progress"] == 1 and partners[PARTNERS[0]]["planned"] == 1
    assert partners[None]["planned"] == 1
    assert [c["id"] for c in d["overdue_commitments"]] == [PAST_DUE]
    assert d["overdue_commitments"][0]["days_past_due"] == 5
    clock = d["time_to_outcome"]
    assert clock["by_state"] == {"on-time": 1, "late": 0, "waiting": 0, "overdue": 1}
    lines = {c["id"]: c for c in clock["consultations"]}
    assert set(lines) == {LATE, QUICK}  # the open one has no clock running
    assert (
        lines[QUICK]["time_to_outcome"]["days"]
        == (uk_day(NOW - timedelta(days=7)) - uk_day(NOW - timedelta(days=10))).days
    )
    assert lines[LATE]["time_to_outcome"]["state"] == "overdue"
    assert (
        lines[LATE]["time_to_outcome"]["days"] == (TODAY - uk_day(NOW - timedelta(days=100))).days
    )
    assert lines[QUICK]["responses"] is None and lines[LATE]["responses"] == 7

    only_done = get(
        client,
        as_role["analyst"],
        "/api/v1/staff/dashboard",
        since=(TODAY - timedelta(days=3)).isoformat(),
    ).get_json()
    # live in the period: still open ones, or changed in it; the done one changed before
    assert only_done["outcomes"]["total"] == 3
    assert only_done["time_to_outcome"]["consultations"] == []
    bad = client.get(
        "/api/v1/staff/dashboard",
        headers=as_role["analyst"],
        query_string={"since": "2026-05-02", "until": "2026-05-01"},
    )
    assert bad.status_code == 422 and "until" in bad.get_json()["error"]["fields"]


def test_the_dashboard_page_draws_svg_charts_with_tables_and_no_script(
    client: FlaskClient, as_role: dict[str, dict[str, str]]
) -> None:
    html = get(client, as_role["admin"], "/api/v1/staff/dashboard.html").get_data(as_text=True)
    assert "<script" not in html
    images = re.findall(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', html)
    assert len(images) >= 4 and all("table that follows" in alt for alt in images)
    for chart in (
        "themes-over-time",
        "outcomes-by-status",
        "outcomes-by-partner",
        "time-to-outcome",
    ):
        assert f'id="{chart}-data"' in html
    table = html[html.index('id="themes-over-time-data"') :]
    table = table[: table.index("</table>")]
    assert "GP access" in table
    assert "fewer than 5" in table
    assert 'id="headline-past-due">1<' in html and 'id="headline-contributions">13<' in html


def test_the_board_paper_as_xlsx_csv_and_json(
    client: FlaskClient, as_role: dict[str, dict[str, str]], db: Pool
) -> None:
    headers = as_role["analyst"]
    xlsx = get(client, headers, f"{BOARD}.xlsx")
    assert xlsx.headers["Content-Disposition"].endswith('board-paper.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(xlsx.get_data()), read_only=True)
    sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    summary = dict(sheets["Summary"][1:])
    assert summary["Contributions (all channels)"] == 13
    assert summary["Contributions: Events"] == "fewer than 5"
    assert summary["Outcomes published"] == 4
    assert summary["Outcomes: Planned"] == 2
    assert summary["Commitments past their due date"] == 1
    assert summary["Time to outcome: Still waiting, past 12 weeks"] == 1
    you_said = sheets["You said, we did"]
    transport = [r for r in you_said if r[0] == "Transport"]
    assert [(r[1], r[2], r[5]) for r in transport] == [
        (11, "An evening shuttle bus", "In progress")
    ]
    gp = [r for r in you_said if r[0] != "Transport" and r[0] != "theme"]
    assert gp and all(r[1] == "fewer than 5" and r[2] == "No outcome yet" for r in gp)
    assert len(sheets["Outcomes"]) == 1 + 4
    assert '=HYPERLINK("http://x")' in [r[0] for r in sheets["Outcomes"]]  # text, never a formula

    body = get(client, headers, f"{BOARD}.json").get_data(as_text=True)
    data = json.loads(body)
    tables = {t["name"]: t for t in data["tables"]}
    assert dict(tables["Summary"]["rows"])["Contributions: Events"] is None
    assert dict(tables["Summary"]["rows"])["Outcomes published"] == 4

    text = get(client, headers, f"{BOARD}.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Summary"] and rows[1] == ["measure", "value"]
    assert ["Commitments past their due date", "1"] in rows
    assert [r[:1] for r in rows if r and "HYPERLINK" in r[0]][0] == ['\'=HYPERLINK("http://x")']

    with db.connection() as conn:
        actions = [
            r["action"] for r in conn.execute("SELECT action FROM audit_log ORDER BY id").fetchall()
        ]
    assert {"report.board_paper.xlsx", "report.board_paper.json", "report.board_paper.csv"} <= set(
        actions
    )


def test_the_evidence_pack(client: FlaskClient, as_role: dict[str, dict[str, str]]) -> None:
    pack = get(
        client, as_role["engagement-officer"], f"/api/v1/staff/reports/evidence-packs/{QUICK}.json"
    ).get_json()
    assert pack["consultation"]["responses"] is None  # 3 < 5
    assert pack["consultation"]["time_to_outcome"]["state"] == "on-time"
    themes = {t["theme"]: t for t in pack["themes"]}
    assert themes["transport"]["contributions"] == 11
    assert [o["id"] for o in themes["transport"]["outcomes"]] == [PAST_DUE]
    assert themes["gp-access"]["contributions"] is None and themes["gp-access"]["gap"]
    assert [o["id"] for o in pack["outcomes"]] == [PAST_DUE]
    assert [h["status"] for h in pack["outcomes"][0]["history"]] == ["in-progress"]
    text = get(
        client, as_role["analyst"], f"/api/v1/staff/reports/evidence-packs/{QUICK}.csv"
    ).get_data(as_text=True)
    assert "Not decided yet" in text and "fewer than 5" in text and ",3," not in text
    missing = client.get(
        f"/api/v1/staff/reports/evidence-packs/{uuid.uuid4()}.json", headers=as_role["analyst"]
    )
    assert missing.status_code == 404


def test_the_board_paper_pdf_is_tagged_and_says_the_same(
    client: FlaskClient, as_role: dict[str, dict[str, str]], tmp_path: Any
) -> None:
    pdf = get(client, as_role["board-viewer"], f"{BOARD}.pdf", place="leeds")
    path = tmp_path / "paper.pdf"
    path.write_bytes(pdf.get_data())
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    for heading in (
        "Board paper: you said, we did",
        "Executive summary",
        "You said, we did",
        "Outcomes by status",
        "Reach and equality",
        "Consultation summaries",
    ):
        assert heading in text
    assert "13 contributions through every channel" in text
    assert "1 commitments past their due date" in text
    assert "An evening shuttle bus" in text and "fewer than 5" in text
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert re.search(r"Tagged:\s+yes", info) and "Board paper" in info
    assert date.today().year  # the paper is dated
