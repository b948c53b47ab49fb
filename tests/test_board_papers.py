"""Issue 13, items 3-6, end to end on real processes: after a scripted mix (answers,
feedback, a closed consultation, a commitment past its due date, a decision done), every
figure in the dashboard, the evidence pack, the board paper's XLSX and its PDF equals a
count made directly in the services' own databases; no count of people below the
threshold is shown. One PDF is rendered (they are slow)."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from engage_common.db import connect
from engage_common.testing import eventually
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from engage_contracts.timeliness import uk_day
from tests.conftest import Suite

THEME = "transport"
BOARD = "/staff/reports/board-paper"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:1000]
    return response.json()


def one(suite: Suite, owner: str, sql: str, *params: Any) -> Any:
    with connect(suite.databases[owner]) as conn:
        return conn.execute(sql, params).fetchone()


def published_outcomes(suite: Suite, place: str | None = None) -> dict[str, int]:
    """Published outcomes by status, counted in the outcomes service's database."""
    where = " AND (places = '{}' OR %s = ANY(places))" if place else ""
    with connect(suite.databases["outcomes"]) as conn:
        rows = conn.execute(
            "SELECT status, count(*) AS n FROM outcomes WHERE published_at IS NOT NULL"
            + where
            + " GROUP BY status",
            (place,) if place else (),
        ).fetchall()
    return {r["status"]: r["n"] for r in rows}


def past_due(suite: Suite, today: date) -> int:
    return one(
        suite,
        "outcomes",
        "SELECT count(*) AS n FROM outcomes WHERE published_at IS NOT NULL AND due_date < %s"
        " AND status NOT IN ('done', 'not-taken-forward')",
        today,
    )["n"]


@pytest.fixture(scope="module")
def staff(suite: Suite) -> dict[str, str]:
    return {
        "officer": suite.token("bp-officer@example.nhs.uk", "engagement-officer"),
        "triage": suite.token("bp-triage@example.nhs.uk", "triage-officer"),
        "board": suite.token("bp-board@example.nhs.uk", "board-viewer"),
    }


def test_papers_add_up_to_the_services_own_counts(
    suite: Suite, staff: dict[str, str], tmp_path: Any
) -> None:
    officer, triage, board = staff["officer"], staff["triage"], staff["board"]
    now = datetime.now(UTC)
    cid = ok(
        suite.api(
            "POST",
            "/staff/consultations",
            officer,
            json={
                "title": "Hospital parking",
                "summary": "Is parking a barrier?",
                "places": ["leeds"],
                "priorities": ["living-well"],
                "opens_at": (now - timedelta(days=1)).isoformat(),
                "closes_at": (now + timedelta(days=20)).isoformat(),
                "questionnaire": {
                    "questions": [{"id": "tell", "type": "free_text", "text": "Tell us"}]
                },
            },
        ),
        201,
    )["id"]
    ok(suite.api("POST", f"/staff/consultations/{cid}/open", officer))
    consent = {"given": True, "version": current_consent()["version"]}
    for n in range(6):
        ok(
            suite.api(
                "POST",
                f"/consultations/{cid}/responses",
                json={
                    "answers": {"tell": f"Parking costs {n} pounds"},
                    "consent": consent,
                    "place": "leeds",
                },
            ),
            202,
        )
    url = f"/staff/consultations/{cid}/questions/tell/answers"

    def answers() -> list[dict[str, Any]]:
        return ok(suite.api("GET", url, officer, params={"limit": 50}))["answers"]

    for answer in eventually(lambda: len(answers()) == 6 and answers(), 60, "answers"):
        ok(
            suite.api(
                "PUT",
                f"/staff/responses/{answer['response_id']}/answers/tell/themes",
                triage,
                json={"themes": [THEME], "tone": "negative"},
            )
        )
    ok(suite.api("POST", f"/staff/consultations/{cid}/close", officer))

    partner = ics().partners[0].code
    late = ok(
        suite.api(
            "POST",
            "/staff/outcomes",
            officer,
            json={
                "kind": "commitment",
                "title": {"en": "Free parking for long appointments"},
                "partner": partner,
                "places": ["leeds"],
                "themes": [THEME],
                "due_date": (uk_day(now) - timedelta(days=3)).isoformat(),
                "evidence": [{"kind": "consultation", "consultation_id": cid}],
            },
        ),
        201,
    )
    done = ok(
        suite.api(
            "POST",
            "/staff/outcomes",
            officer,
            json={
                "kind": "decision",
                "title": {"en": "Parking signs"},
                "places": ["leeds"],
                "status": "done",
                "progress": 100,
            },
        ),
        201,
    )
    for outcome in (late, done):
        ok(suite.api("POST", f"/staff/outcomes/{outcome['id']}/publish", officer))

    today = uk_day(datetime.now(UTC))
    statuses = published_outcomes(suite)
    overdue = past_due(suite, today)

    def dashboard() -> dict[str, Any]:
        return ok(suite.api("GET", "/staff/dashboard", board))

    def caught_up() -> bool:
        d = dashboard()
        lines = {c["id"]: c for c in d["time_to_outcome"]["consultations"]}
        return (
            {s["status"]: s["count"] for s in d["outcomes"]["by_status"] if s["count"]} == statuses
            and cid in lines
            and lines[cid]["outcome_published_on"] is not None
            and lines[cid]["responses"] == 6
        )

    eventually(caught_up, 60, "the dashboard to show every outcome and response")
    d = dashboard()
    assert d["outcomes"]["total"] == sum(statuses.values())
    assert d["outcomes"]["past_due"] == overdue >= 1
    assert late["id"] in [o["id"] for o in d["overdue_commitments"]]

    # Time to outcome: surveys' close to the outcomes service's first publication.
    closed = one(suite, "surveys", "SELECT closed_at FROM consultations WHERE id = %s", cid)
    first = one(
        suite,
        "outcomes",
        "SELECT min(o.published_at) AS at FROM outcomes o JOIN outcome_evidence e"
        " ON e.outcome_id = o.id WHERE e.consultation_id = %s",
        cid,
    )
    line = {c["id"]: c for c in d["time_to_outcome"]["consultations"]}[cid]
    days = (uk_day(first["at"]) - uk_day(closed["closed_at"])).days
    assert line["time_to_outcome"] == {**line["time_to_outcome"], "state": "on-time", "days": days}
    responses = one(
        suite, "surveys", "SELECT count(*) AS n FROM responses WHERE consultation_id = %s", cid
    )["n"]
    assert line["responses"] == responses == 6

    # The evidence pack: the consultation, who responded, themes, decisions, history.
    pack = ok(suite.api("GET", f"/staff/reports/evidence-packs/{cid}.json", board))
    themed = one(
        suite,
        "surveys",
        "SELECT count(*) AS n FROM answer_themes WHERE consultation_id = %s AND %s = ANY(themes)",
        cid,
        THEME,
    )["n"]
    by_theme = {t["theme"]: t for t in pack["themes"]}
    assert by_theme[THEME]["contributions"] == themed == 6
    assert [o["id"] for o in by_theme[THEME]["outcomes"]] == [late["id"]]
    history = one(
        suite,
        "outcomes",
        "SELECT count(*) AS n FROM outcome_history WHERE outcome_id = %s",
        late["id"],
    )["n"]
    assert len(pack["outcomes"][0]["history"]) == history
    assert pack["consultation"]["responses"] == 6
    assert sum(p["count"] or 0 for p in pack["responses_by_place"]) == 6
    assert pack["reach"]["contributions"] == responses

    # The board paper's XLSX: the same figures as the services'.
    xlsx = suite.api("GET", f"{BOARD}.xlsx", board)
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    summary = dict(sheets["Summary"][1:])
    assert summary["Outcomes published"] == sum(statuses.values())
    assert summary["Commitments past their due date"] == overdue
    assert summary["Outcomes: Done"] == statuses.get("done", 0)
    mine = [r for r in sheets["Consultations"] if r[0] == "Hospital parking"]
    assert [(r[4], r[6], r[7]) for r in mine] == [(6, days, "Published on time")]
    assert len(sheets["Outcomes"]) - 1 == sum(statuses.values())

    # No count of people below the threshold anywhere in the dashboard.
    threshold = ics().small_number_threshold
    people = [d["contributions"]["total"], *d["contributions"]["by_channel"].values()]
    people += [c["responses"] for c in d["time_to_outcome"]["consultations"]]
    for t in d["themes_over_time"]["themes"]:
        people += [t["total"], *t["by_month"]]
    for r in d["reach"]:
        people += [g["count"] for dim in r["dimensions"] for g in dim["groups"]]
    assert all(n is None or n == 0 or n >= threshold for n in people), people

    # One PDF, for Leeds: its text says the same.
    pdf = suite.api("GET", f"{BOARD}.pdf", board, params={"place": "leeds"}, timeout=60)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    path = tmp_path / "board.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    in_leeds = published_outcomes(suite, "leeds")
    assert f"{sum(in_leeds.values())} outcomes published" in text
    assert re.search(rf"Outcomes: Done\s+{in_leeds.get('done', 0)}\b", text)
    assert "Hospital parking" in text and "Free parking for long appointments" in text
    assert "Reach and equality" in text and "Consultation summaries" in text
