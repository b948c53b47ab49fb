"""The resident pages in a real Chromium ("you said, we did" too): answer, correct, get a
receipt; axe-core finds no serious or critical accessibility problems; nothing scrolls
sideways on a phone.

Needs /usr/bin/chromium (apt package ``chromium``), the ``playwright`` Python package
and ``npm install`` at the repository root (for axe-core). Skipped only when
ENGAGE_SKIP_BROWSER=1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("ENGAGE_SKIP_BROWSER") == "1", reason="ENGAGE_SKIP_BROWSER=1"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("ENGAGE_CHROMIUM", "/usr/bin/chromium")

QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "use",
        "type": "single_choice",
        "text": "Have you used a walk-in centre?",
        "required": True,
        "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
    },
    {
        "id": "why",
        "type": "multiple_choice",
        "text": "Why did you go?",
        "max_choices": 2,
        "show_if": {"question": "use", "equals": ["yes"]},
        "options": [
            {"value": "gp", "label": "Could not see a GP"},
            {"value": "near", "label": "It was near"},
            {"value": "open", "label": "It was open late"},
        ],
    },
    {"id": "agree", "type": "likert", "text": "Walk-in centres should open at weekends."},
    {
        "id": "score",
        "type": "rating",
        "text": "How likely are you to recommend it?",
        "required": True,
    },
    {"id": "tell", "type": "free_text", "text": "Tell us more", "max_length": 300},
    {
        "id": "order",
        "type": "ranking",
        "text": "Put these in order of importance",
        "options": [
            {"value": "wait", "label": "Short waits"},
            {"value": "near", "label": "Close to home"},
            {"value": "hours", "label": "Long opening hours"},
        ],
    },
]


@pytest.fixture(scope="module")
def server(
    make_vhost: Callable[[], str], make_database: Callable[[str], str]
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(base URL of the app over real HTTP, an open consultation, AMQP URI)."""
    from nameko.containers import ServiceContainer
    from nameko.standalone.rpc import ClusterRpcProxy
    from werkzeug.serving import make_server

    from feedback.service import FeedbackService
    from gateway.app import create_app
    from gateway.config import Settings
    from surveys.service import SurveysService

    uri = make_vhost()
    container = ServiceContainer(
        SurveysService, {"AMQP_URI": uri, "DATABASE_URL": make_database("surveys")}
    )
    container.start()
    feedback = ServiceContainer(
        FeedbackService, {"AMQP_URI": uri, "DATABASE_URL": make_database("feedback")}
    )
    feedback.start()
    gateway_db = make_database("gateway")
    app = create_app(Settings(amqp_uri=uri, database_url=gateway_db, rpc_timeout=5))
    fill_read_model(gateway_db)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        with ClusterRpcProxy({"AMQP_URI": uri}, timeout=10) as rpc:
            now = datetime.now(UTC)
            created = rpc.surveys.create_consultation(
                {
                    "title": "Walk-in centres in Leeds",
                    "summary": "Tell us how you use them.",
                    "description": "We want to hear from you.",
                    "places": ["leeds"],
                    "priorities": ["living-well"],
                    "opens_at": (now - timedelta(days=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "questionnaire": {"questions": QUESTIONS},
                }
            )
            consultation = rpc.surveys.open_consultation(created["id"])
        yield f"http://127.0.0.1:{http.server_port}", consultation, uri
    finally:
        http.shutdown()
        container.stop()
        feedback.stop()
        app.extensions["engage"].db.close()


def fill_read_model(url: str) -> None:
    """A published outcome and a consultation waiting for a decision, for the "you said,
    we did" page (events shaped like surveys', applied by the projections' own code)."""
    import uuid

    from engage_common.db import Pool
    from gateway.readmodels.projections import apply_consultation, apply_response

    closed = datetime.now(UTC) - timedelta(days=7)
    outcome = {
        "summary": "We will pilot evening appointments.",
        "decisions": [
            {
                "you_said": "Evenings suit working people.",
                "we_did": "A pilot in two practices.",
                "status": "in-progress",
            },
            {
                "you_said": "Open at weekends.",
                "we_did": "Not this year.",
                "status": "not-taken-forward",
                "reason": "There are not enough GPs yet.",
            },
        ],
    }
    pool = Pool(url, size=1)
    try:
        with pool.connection() as conn:
            for title, outcome_or_none in (
                ("Evening GP appointments", outcome),
                ("Dementia cafes", None),
            ):
                cid = str(uuid.uuid4())
                apply_consultation(
                    conn,
                    {
                        "event_id": str(uuid.uuid4()),
                        "occurred_at": closed.isoformat(),
                        "consultation_id": cid,
                        "title": title,
                        "places": ["leeds"],
                        "priorities": ["living-well"],
                        "status": "closed",
                        "opens_at": (closed - timedelta(days=28)).isoformat(),
                        "closes_at": closed.isoformat(),
                        "outcome": outcome_or_none,
                    },
                )
                apply_response(
                    conn, {"event_id": str(uuid.uuid4()), "consultation_id": cid, "place": "leeds"}
                )
    finally:
        pool.close()


def assert_accessible(page: Any, where: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{where}: " + "; ".join(bad)


def focus_lands_on(page: Any, element_id: str) -> None:
    """The browser moves focus there (``autofocus`` runs once the page has rendered, so
    wait for it, with a deadline, rather than read it at once)."""
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.id === id",
        arg=element_id,
        timeout=10_000,
    )


def assert_no_sideways_scroll(page: Any, where: str) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{where} scrolls sideways: {widths}"


def run_in_browser(base: str, title: str) -> str:
    """The resident's journey in Chromium; returns the receipt code.

    Runs in a child process without eventlet: Playwright's sync API cannot shut down
    cleanly inside eventlet's patched asyncio, and the app must keep serving
    (in the test process) while the browser waits on it.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            # axe-core goes in as a script tag, which the app's CSP (rightly) blocks;
            # bypass_csp lets the test inject it without loosening the policy.
            page = chromium.new_page(viewport={"width": 320, "height": 640}, bypass_csp=True)
            code = _journey(page, base, title)
            return f"{code} {_feedback_journey(page)}"
        finally:
            chromium.close()


def _journey(page: Any, base: str, title: str) -> str:
    page.goto(f"{base}/")
    assert page.get_by_role("link", name=title).count() == 1
    assert_no_sideways_scroll(page, "home")
    assert_accessible(page, "home")

    page.get_by_role("link", name="You said, we did").click()
    assert page.locator("h1").inner_text() == "You said, we did"
    assert page.get_by_text("Not taken forward").is_visible()
    assert page.get_by_role("heading", name="Waiting for a decision").is_visible()
    assert_no_sideways_scroll(page, "you said, we did")
    assert_accessible(page, "you said, we did")
    page.get_by_role("link", name="Consultations open now").click()

    page.get_by_role("link", name=title).click()
    assert page.locator("h1").inner_text() == title
    assert_no_sideways_scroll(page, "consultation")
    assert_accessible(page, "consultation")

    # First try: question 4 (required) left out, too many reasons, no consent.
    page.locator("#q-use").check()
    for reason in ("Could not see a GP", "It was near", "It was open late"):
        page.get_by_label(reason).check()
    page.get_by_label("Tell us more").fill("Open later please")
    page.get_by_role("button", name="Send my answers").click()

    summary = page.locator("#error-summary")
    assert summary.get_by_role("heading", name="There is a problem").is_visible()
    focus_lands_on(page, "error-summary")
    assert page.get_by_label("Tell us more").input_value() == "Open later please"
    assert_no_sideways_scroll(page, "form with errors")
    assert_accessible(page, "form with errors")

    summary.get_by_role("link", name="Choose an answer to question 4").click()
    focus_lands_on(page, "q-score")
    assert "#q-score" in page.url

    # Correct it and send again.
    page.locator("#q-score-8").check()
    page.get_by_label("It was open late").uncheck()
    page.get_by_label("Close to home").select_option("1")
    page.get_by_label("Short waits").select_option("2")
    page.get_by_label("Long opening hours").select_option("3")
    page.locator("#equality-age_band-3").check()
    page.get_by_label("What is the first half of your postcode?").fill("ls6")
    page.locator("#consent").check()
    page.get_by_role("button", name="Send my answers").click()

    assert page.locator("h1").inner_text() == "Thank you for your response"
    code = page.locator("#receipt-code").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", code)
    assert re.search(r"/receipts/" + code + "$", page.url)
    assert page.get_by_role("heading", name="What happens next").is_visible()
    assert_no_sideways_scroll(page, "receipt")
    assert_accessible(page, "receipt")

    # Once stored: see what was sent, start deleting it, then keep it after all.
    for _ in range(50):
        if page.locator("#see-what-you-sent").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    page.locator("#see-what-you-sent").click()
    assert page.locator("h1").inner_text() == "What you sent"
    assert "Open later please" in page.locator("#answers").inner_text()
    assert_no_sideways_scroll(page, "what you sent")
    assert_accessible(page, "what you sent")
    page.get_by_role("button", name="Delete my response").click()
    assert page.locator("h1").inner_text() == "Are you sure you want to delete your response?"
    assert_accessible(page, "delete confirmation")
    page.get_by_role("link", name="No, keep my response").click()
    assert page.locator("h1").inner_text() == "What you sent"
    return code


def _feedback_journey(page: Any) -> str:
    """Give feedback with the keyboard-only form: errors first, then a receipt."""
    page.get_by_role("link", name="Give feedback").click()
    assert page.locator("h1").inner_text() == "Give feedback"
    assert page.get_by_text("call 999 now").is_visible()
    assert_no_sideways_scroll(page, "feedback form")
    assert_accessible(page, "feedback form")

    page.get_by_label("Your feedback").fill("The receptionist was kind.")
    page.get_by_role("button", name="Send my feedback").click()
    summary = page.locator("#error-summary")
    focus_lands_on(page, "error-summary")
    assert page.get_by_label("Your feedback").input_value() == "The receptionist was kind."
    assert_no_sideways_scroll(page, "feedback form with errors")
    assert_accessible(page, "feedback form with errors")
    summary.get_by_role("link", name="Choose what kind of feedback this is").click()
    focus_lands_on(page, "kind")

    page.keyboard.press("Space")  # the focused first option: "A compliment"
    page.get_by_label("What is it about?").fill("Hillside surgery")
    page.get_by_label("Leeds").check()
    page.locator("#consent").check()
    page.get_by_role("button", name="Send my feedback").click()
    assert page.locator("h1").inner_text() == "Thank you for your feedback"
    code = page.locator("#receipt-code").inner_text()
    assert page.get_by_text("Samaritans").is_visible()
    assert_no_sideways_scroll(page, "feedback receipt")
    assert_accessible(page, "feedback receipt")
    for _ in range(50):
        if page.locator("#see-what-you-sent").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    page.locator("#see-what-you-sent").click()
    assert "The receptionist was kind." in page.locator("#feedback").inner_text()
    assert_no_sideways_scroll(page, "feedback sent")
    assert_accessible(page, "feedback sent")
    return code


def test_answer_correct_and_get_a_receipt(server: tuple[str, dict[str, Any], str]) -> None:
    from nameko.standalone.rpc import ClusterRpcProxy

    from engage_common.errors import NotFound
    from engage_common.testing import eventually

    assert AXE.exists(), "run `npm install` at the repository root for axe-core"
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    base, consultation, uri = server
    child = subprocess.run(
        [sys.executable, __file__, base, consultation["title"]["en"]],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert child.returncode == 0, child.stdout + child.stderr
    code, feedback_code = child.stdout.strip().splitlines()[-1].split()
    # What the browser was told is what the service stored.
    with ClusterRpcProxy({"AMQP_URI": uri}, timeout=10) as rpc:

        def receipt() -> dict[str, Any] | None:
            try:
                return rpc.surveys.get_submission(code)
            except NotFound:
                return None

        stored = eventually(receipt, what=f"{code} to be stored")
        kept = eventually(lambda: rpc.feedback.get_my_feedback(feedback_code), what="the feedback")
    assert stored["status"] == "stored", stored
    assert stored["consultation_id"] == consultation["id"]
    assert kept["kind"] == "compliment" and kept["place"] == "leeds"


if __name__ == "__main__":
    print(run_in_browser(sys.argv[1], sys.argv[2]))
