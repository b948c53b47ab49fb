"""Issue 12, "you said, we did" across every channel, end to end on real processes: a
scripted mix of survey answers, feedback and event points, themed by staff; an outcome
answering some of it; then every figure the public API gives is checked against counts
made directly in the services' own databases, a theme nothing answers shows as a gap,
the rebuilt read model equals the incremental one, an opted-in resident gets exactly one
digest when the outcome moves, and no filtered view shows a count below the threshold."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from engage_common.db import connect
from engage_common.testing import Mailbox, eventually, holds_for
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from tests.conftest import ROOT, Suite

THEME, GAP = "transport", "gp-access"


@pytest.fixture(scope="module")
def staff(suite: Suite) -> dict[str, str]:
    return {
        "officer": suite.token("ysd-officer@example.nhs.uk", "engagement-officer"),
        "triage": suite.token("ysd-triage@example.nhs.uk", "triage-officer"),
    }


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:1000]
    return response.json()


def count(suite: Suite, owner: str, sql: str, *params: Any) -> int:
    with connect(suite.databases[owner]) as conn:
        return conn.execute(sql, params).fetchone()["n"]


def direct(suite: Suite, theme: str, consultation_id: str | None = None) -> dict[str, int]:
    """Contributions raising ``theme`` (about ``consultation_id``), by channel, counted in
    each service's own database."""
    about = [theme, consultation_id] if consultation_id else [theme]
    return {
        "survey": count(
            suite,
            "surveys",
            "SELECT count(*) AS n FROM answer_themes WHERE %s = ANY(themes)"
            + (" AND consultation_id = %s" if consultation_id else ""),
            *about,
        ),
        "feedback": count(
            suite,
            "feedback",
            "SELECT count(*) AS n FROM feedback_items WHERE %s = ANY(themes)"
            + (" AND consultation_id = %s" if consultation_id else ""),
            *about,
        ),
        "event": count(
            suite,
            "events",
            "SELECT count(*) AS n FROM points p JOIN engagement_events e ON e.id = p.event_id"
            " WHERE %s = ANY(p.themes)"
            + (" AND %s = ANY(e.consultation_ids)" if consultation_id else ""),
            *about,
        ),
    }


def test_you_said_we_did_across_channels_adds_up_and_tells_who_asked(
    suite: Suite, staff: dict[str, str], mailbox: Mailbox
) -> None:
    officer, triage = staff["officer"], staff["triage"]
    now = datetime.now(UTC)
    draft = ok(
        suite.api(
            "POST",
            "/staff/consultations",
            officer,
            json={
                "title": "Getting to hospital",
                "summary": "How do you get to your appointments?",
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
    )
    cid = draft["id"]
    ok(suite.api("POST", f"/staff/consultations/{cid}/open", officer))
    consent = {"given": True, "version": current_consent()["version"]}
    words = [f"The bus to the hospital takes {n} changes." for n in range(6)]
    words.append("I could not get a GP appointment for weeks.")
    for n, text in enumerate(words):
        ok(
            suite.api(
                "POST",
                f"/consultations/{cid}/responses",
                json={
                    "answers": {"tell": text},
                    "place": "leeds",
                    "consent": consent,
                    **({"hear_back_email": "follower@example.org"} if n == 0 else {}),
                },
            ),
            202,
        )

    answers_url = f"/staff/consultations/{cid}/questions/tell/answers"

    def answers() -> list[dict[str, Any]]:
        return ok(suite.api("GET", answers_url, officer, params={"limit": 50}))["answers"]

    stored = eventually(lambda: len(answers()) == len(words) and answers(), 60, "answers")
    for answer in stored:
        themes = [GAP] if "GP" in answer["text"] else [THEME]
        ok(
            suite.api(
                "PUT",
                f"/staff/responses/{answer['response_id']}/answers/tell/themes",
                triage,
                json={"themes": themes, "tone": "negative"},
            )
        )

    feedback_consent = {"given": True, "version": current_consent("feedback")["version"]}
    codes = [
        ok(
            suite.api(
                "POST",
                "/feedback",
                json={
                    "kind": "concern",
                    "about": "Hospital transport",
                    "text": f"No bus after six, night {n}.",
                    "place": "leeds",
                    "consultation_id": cid,
                    "consent": feedback_consent,
                },
            ),
            202,
        )["receipt_code"]
        for n in range(5)
    ]

    def feedback_ids() -> list[str]:
        items = ok(suite.api("GET", "/staff/feedback", triage, params={"consultation_id": cid}))
        return [i["id"] for i in items["items"] if i["receipt_code"] in codes]

    ids = eventually(lambda: len(feedback_ids()) == len(codes) and feedback_ids(), 60, "feedback")
    ok(
        suite.api(
            "POST",
            "/staff/feedback/bulk",
            triage,
            json={"feedback_ids": ids, "add_themes": [THEME]},
        )
    )

    day = (now + timedelta(days=3)).strftime("%Y-%m-%d")
    event = ok(
        suite.api(
            "POST",
            "/staff/events",
            officer,
            json={
                "kind": "community-meeting",
                "title": {"en": "Getting to hospital: a meeting"},
                "starts_local": f"{day}T18:00",
                "ends_local": f"{day}T19:30",
                "venue": {"name": "Community hall"},
                "place": "leeds",
                "consultation_ids": [cid],
            },
        ),
        201,
    )
    ok(suite.api("POST", f"/staff/events/{event['id']}/publish", officer))
    for n in range(5):
        ok(
            suite.api(
                "POST",
                f"/staff/events/{event['id']}/points",
                officer,
                json={"text": f"Point {n}: a shuttle bus from the estate", "themes": [THEME]},
            ),
            201,
        )

    outcome = ok(
        suite.api(
            "POST",
            "/staff/outcomes",
            officer,
            json={
                "kind": "commitment",
                "title": {"en": "A shuttle bus to the hospital in the evenings"},
                "partner": ics().partners[0].code,
                "places": ["leeds"],
                "themes": [THEME],
                "evidence": [
                    {"kind": "consultation", "consultation_id": cid},
                    {"kind": "theme", "theme": THEME},
                ],
            },
        ),
        201,
    )
    # From here the resident who asked to hear back is told, at most once a UK day.
    before = len(mailbox.to("follower@example.org"))
    ok(suite.api("POST", f"/staff/outcomes/{outcome['id']}/publish", officer))

    # Every figure equals the services' own counts (the read model catches up from events;
    # other tests in this suite may have raised the theme too).
    mine = direct(suite, THEME, cid)
    assert mine == {"survey": 6, "feedback": 5, "event": 5}
    everywhere = direct(suite, THEME)
    expected = sum(everywhere.values())

    def summary(**query: Any) -> dict[str, Any]:
        return ok(suite.api("GET", "/you-said-we-did/summary", params=query))

    eventually(
        lambda: (
            summary(theme=THEME)["contributions"] == expected
            and any(o["id"] == outcome["id"] for o in summary(theme=THEME)["outcomes"])
        ),
        60,
        f"{expected} contributions on {THEME} and the outcome",
    )
    channels = {c["channel"]: c["count"] for c in summary(theme=THEME)["by_channel"]}
    assert channels == everywhere  # each at least 5 here, so each is shown

    considered = ok(suite.api("GET", f"/consultations/{cid}/consideration"))
    by_theme = {t["theme"]: t for t in considered["themes"]}
    assert by_theme[THEME]["contributions"] == sum(mine.values()) == 16
    assert by_theme[THEME]["gap"] is False
    assert [o["id"] for o in by_theme[THEME]["outcomes"]] == [outcome["id"]]
    assert by_theme[GAP]["gap"] is True and by_theme[GAP]["contributions"] is None  # 1 < 5
    html = page_text(suite, f"/consultations/{cid}/consideration")
    assert "Not decided yet" in html and "A shuttle bus to the hospital" in html

    # No filtered public view shows a count below the threshold.
    threshold = ics().small_number_threshold
    for query in ({"theme": GAP}, {"place": "leeds"}, {"theme": THEME, "place": "leeds"}, {}):
        seen = summary(**query)
        counts = [seen["contributions"]] + [
            row["count"] for key in ("by_channel", "by_month", "by_theme") for row in seen[key]
        ]
        assert all(c is None or c == 0 or c >= threshold for c in counts), (query, seen)

    # Published, then moved: the resident who asked to hear back gets one digest, not two
    # (whether the move arrives in it depends on when the digest timer ran).
    ok(
        suite.api(
            "POST",
            f"/staff/outcomes/{outcome['id']}/progress",
            officer,
            json={"status": "in-progress", "progress": 40, "note": {"en": "Route agreed"}},
        )
    )
    eventually(lambda: len(mailbox.to("follower@example.org")) > before, 60, "a digest")
    holds_for(lambda: len(mailbox.to("follower@example.org")) == before + 1, 3, "just one")
    history = eventually(
        lambda: (
            len(ok(suite.api("GET", f"/outcomes/{outcome['id']}"))["history"]) >= 2
            and ok(suite.api("GET", f"/outcomes/{outcome['id']}"))
        ),
        60,
        "the change in the public history",
    )
    assert [h["status"] for h in history["history"]][-1] == "in-progress"

    # The digest's stop link: opening it only asks; confirming (here one-click, as a mail
    # program does) stops every follow of that address and deletes the address.
    digest = mailbox.to("follower@example.org")[-1]
    link = re.search(r"/outcomes/stop/[\w-]+", str(digest["List-Unsubscribe"])).group(0)
    assert "Stop emails" in page_text(suite, link)
    assert following(suite, "follower@example.org") > 0
    stopped = requests.post(
        f"{suite.base_url}{link}", data={"List-Unsubscribe": "One-Click"}, timeout=20
    )
    assert stopped.status_code == 200 and "We will not email you again" in stopped.text
    assert following(suite, "follower@example.org") == 0
    assert requests.get(f"{suite.base_url}/outcomes/stop/short", timeout=20).status_code == 404

    # Rebuilt from the services' published events, the read model is the same.
    rebuilt = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "rebuild-read-models"],
        env=suite.env("gateway"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "differs" not in rebuilt.stdout and "answer_contributions" in rebuilt.stdout


def following(suite: Suite, email: str) -> int:
    """Follows of ``email`` still active (their address kept), counted in the outcomes
    service's database."""
    with connect(suite.env("outcomes")["DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM followers f JOIN follower_contacts c "
            "ON c.follower_id = f.id WHERE lower(c.email) = lower(%s) AND f.stopped_at IS NULL",
            (email,),
        ).fetchone()
    return int(row["n"])


def page_text(suite: Suite, path: str) -> str:
    page = requests.get(f"{suite.base_url}{path}", timeout=20)
    assert page.status_code == 200, page.text[:500]
    return page.text
