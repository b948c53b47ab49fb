"""Issue 14, items 1, 2 and 5: every resident page in a real Chromium at 320 px wide, in
every shipped language (Urdu right to left): axe-core finds no WCAG 2.0, 2.1 or 2.2 A/AA
violation at all, nothing scrolls sideways, the page carries the language's ``lang`` and
``dir``, and a consultation can be answered with the keyboard alone. The English body
text of each page with at least 100 words reads at a Flesch reading ease of 60 or more
(textstat 0.7.8), apart from the exceptions listed in ``reading_ease_exceptions.txt``.

The data (a consultation with every question type, its response, feedback, an event and
a registration, a published outcome) is made through the staff and public APIs of the
session suite. The browser runs in one child process without eventlet (Playwright's sync
API does not run under eventlet's patched asyncio), with one page reused throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engage_common.testing import eventually
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent

if TYPE_CHECKING:
    from tests.conftest import Suite

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("ENGAGE_SKIP_BROWSER") == "1", reason="ENGAGE_SKIP_BROWSER=1"
    ),
]

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("ENGAGE_CHROMIUM", "/usr/bin/chromium")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
EXCEPTIONS = Path(__file__).with_name("reading_ease_exceptions.txt")
MIN_WORDS, MIN_EASE = 100, 60.0
STOP_TOKEN = "A" * 43  # any token of the right length shows the confirm page

QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "use",
        "type": "single_choice",
        "text": {"en": "Have you used a walk-in centre?", "pl": "Czy korzystasz z przychodni?"},
        "required": True,
        "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
    },
    {
        "id": "why",
        "type": "multiple_choice",
        "text": "Why did you go?",
        "options": [
            {"value": "gp", "label": "Could not see a GP"},
            {"value": "near", "label": "It was near"},
        ],
    },
    {"id": "agree", "type": "likert", "text": "Walk-in centres should open at weekends."},
    {"id": "score", "type": "rating", "text": "How likely are you to go again?", "required": True},
    {"id": "tell", "type": "free_text", "text": "Tell us more", "max_length": 300},
    {
        "id": "order",
        "type": "ranking",
        "text": "Put these in order",
        "options": [
            {"value": "wait", "label": "Short waits"},
            {"value": "near", "label": "Close to home"},
        ],
    },
]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:1000]
    return response.json()


@pytest.fixture(scope="module")
def world(suite: Suite) -> dict[str, Any]:
    """Everything the pages show, made through the APIs; ids and codes by name."""
    officer = suite.token("pages-officer@example.nhs.uk", "engagement-officer")
    now = datetime.now(UTC)
    cid = ok(
        suite.api(
            "POST",
            "/staff/consultations",
            officer,
            json={
                "title": {"en": "Walk-in centres", "ur": "واک ان سینٹر", "pl": "Przychodnie"},
                "summary": "Tell us how you use them.",
                "description": "We want to hear from you.",
                "places": ["leeds"],
                "priorities": ["living-well"],
                "opens_at": (now - timedelta(days=1)).isoformat(),
                "closes_at": (now + timedelta(days=30)).isoformat(),
                "questionnaire": {"questions": QUESTIONS},
            },
        ),
        201,
    )["id"]
    ok(suite.api("POST", f"/staff/consultations/{cid}/open", officer))
    _easy_read(suite, officer, cid)
    receipt = ok(
        suite.api(
            "POST",
            f"/consultations/{cid}/responses",
            json={
                "answers": {"use": "yes", "score": 7, "tell": "Open later please"},
                "place": "leeds",
                "consent": {"given": True, "version": current_consent()["version"]},
            },
        ),
        202,
    )["receipt_code"]
    feedback = ok(
        suite.api(
            "POST",
            "/feedback",
            json={
                "kind": "idea",
                "about": "GP opening hours",
                "text": "Evening appointments would help.",
                "consent": {"given": True, "version": current_consent("feedback")["version"]},
            },
        ),
        202,
    )["receipt_code"]
    day = (now + timedelta(days=9)).strftime("%Y-%m-%d")
    eid = ok(
        suite.api(
            "POST",
            "/staff/events",
            officer,
            json={
                "kind": "drop-in",
                "title": {"en": "A drop-in about walk-in centres", "pl": "Spotkanie"},
                "description": "Come and talk to us.",
                "starts_local": f"{day}T17:00",
                "ends_local": f"{day}T19:00",
                "venue": {"name": "Harehills library", "features": ["hearing-loop"]},
                "capacity": 20,
                "place": "leeds",
            },
        ),
        201,
    )["id"]
    ok(suite.api("POST", f"/staff/events/{eid}/publish", officer))
    registration = ok(
        suite.api(
            "POST",
            f"/events/{eid}/registrations",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={"consent": {"given": True, "version": current_consent("events")["version"]}},
        ),
        201,
    )
    oid = ok(
        suite.api(
            "POST",
            "/staff/outcomes",
            officer,
            json={
                "kind": "commitment",
                "title": {"en": "Walk-in centres open until 8pm", "ur": "واک ان سینٹر"},
                "partner": ics().partners[0].code,
                "places": ["leeds"],
                "evidence": [{"kind": "consultation", "consultation_id": cid}],
            },
        ),
        201,
    )["id"]
    ok(suite.api("POST", f"/staff/outcomes/{oid}/publish", officer))

    def shown(path: str) -> bool:
        return suite.api("GET", path).status_code == 200

    eventually(lambda: shown(f"/receipts/{receipt}/response"), 30, "the response stored")
    eventually(lambda: shown(f"/feedback/receipts/{feedback}/feedback"), 30, "the feedback")
    eventually(
        lambda: requests_get(suite, f"/you-said-we-did/outcomes/{oid}") == 200,
        30,
        "the outcome in the read model",
    )
    return {
        "consultation": cid,
        "receipt": receipt,
        "feedback": feedback,
        "event": eid,
        "manage": registration["manage_code"],
        "registration_receipt": registration["receipt_code"],
        "outcome": oid,
    }


def _easy_read(suite: Suite, officer: str, cid: str) -> None:
    """An easy-read version of the consultation, with a picture (issue 14, item 3)."""
    import base64
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 94, 184)).save(png, "PNG")
    sha = ok(
        suite.api(
            "POST",
            f"/staff/consultations/{cid}/easy-read/images",
            officer,
            json={"data": base64.b64encode(png.getvalue()).decode(), "alt": "A blue square"},
        ),
        201,
    )["sha256"]
    easy = {
        "points": [
            {"text": {"en": "We want to hear from you.", "ur": "ہم آپ سے سننا چاہتے ہیں۔"}},
            {"text": "This is about walk-in centres.", "image": sha},
            {"text": "You can tell us what you think."},
            {"text": "It takes about 5 minutes."},
            {"text": "You do not have to give your name."},
        ],
        "questions": [
            {"id": "use", "text": "Have you been to a walk-in centre?"},
            {"id": "why", "text": "Why did you go?"},
            {"id": "agree", "text": "Should they be open at the weekend?"},
            {"id": "score", "text": "Would you go there again?"},
            {"id": "tell", "text": "Is there more you want to tell us?"},
            {"id": "order", "text": "What is most important to you?"},
        ],
    }
    ok(suite.api("PUT", f"/staff/consultations/{cid}/easy-read", officer, json=easy))


def requests_get(suite: Suite, path: str) -> int:
    import requests

    return requests.get(f"{suite.base_url}{path}", timeout=20).status_code


def languages() -> list[str]:
    """Every shipped language, English first: the session suite's gateway runs as a demo
    (ENGAGE_DEMO=1), which offers the ones still to be reviewed."""
    return [lang.code for lang in ics().offered_languages(include_unreviewed=True)]


@pytest.fixture(scope="module")
def browsed(suite: Suite, world: dict[str, Any]) -> dict[str, Any]:
    """One run of the child process: per page and language, axe's violations, the widths,
    ``lang`` and ``dir``; the English main text of every page; the keyboard journey."""
    assert AXE.exists(), "run `npm install` at the repository root for axe-core"
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    spec = {"base": suite.base_url, "world": world, "languages": languages()}
    child = subprocess.run(
        [sys.executable, __file__, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert child.returncode == 0, child.stdout[-5000:] + child.stderr[-5000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


def test_every_resident_page_has_no_wcag_violation_in_every_language(
    browsed: dict[str, Any],
) -> None:
    problems = [
        f"{p['language']} {p['name']} ({p['url']}): " + "; ".join(p["violations"])
        for p in browsed["pages"]
        if p["violations"]
    ]
    assert not problems, "\n".join(problems)
    print("browser seconds:", browsed["seconds"])
    sideways = [p for p in browsed["pages"] if p["widths"][0] > p["widths"][1]]
    assert not sideways, [(p["language"], p["name"], p["widths"]) for p in sideways]
    # Every page says how to take part without a computer and how to ask for another format.
    contact = ics().contact
    for p in browsed["pages"]:
        for said in (contact["phone"], contact["post"], contact["in_person"]):
            assert said in p["footer"], (p["language"], p["name"], said)
        assert contact["other_formats"] in p["footer"], (p["language"], p["name"])
    # Every page was seen in every language, each marked with its language.
    names = {p["name"] for p in browsed["pages"]}
    assert len(browsed["pages"]) == len(names) * len(languages())
    rtl = {lang.code for lang in ics().languages if lang.direction == "rtl"}
    for p in browsed["pages"]:
        assert p["lang"] == p["language"], p
        assert p["dir"] == ("rtl" if p["language"] in rtl else "ltr"), p


def test_a_consultation_is_answered_with_the_keyboard_alone(browsed: dict[str, Any]) -> None:
    assert browsed["keyboard"] == "Thank you for your response"


def _exceptions() -> dict[str, str]:
    """Pages allowed below the reading ease, each with its reason (``name: reason``)."""
    out = {}
    for line in EXCEPTIONS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(":")
            assert reason.strip(), f"{EXCEPTIONS.name}: {line!r} gives no reason"
            out[name.strip()] = reason.strip()
    return out


def test_english_pages_read_easily(browsed: dict[str, Any]) -> None:
    import textstat

    exceptions = _exceptions()
    scored, hard = {}, []
    for name, text in browsed["texts"].items():
        if textstat.lexicon_count(text) < MIN_WORDS:
            continue
        scored[name] = ease = textstat.flesch_reading_ease(text)
        if ease < MIN_EASE and name not in exceptions:
            hard.append(f"{name}: {ease:.1f}")
    assert scored, "no page had enough words to score"
    assert not hard, f"below {MIN_EASE} (make it plainer, or list it with a reason): {hard}"
    assert set(exceptions) <= set(browsed["texts"]), "an exception names no page"


# -- the child process ---------------------------------------------------------------------


def run_in_browser(spec: dict[str, Any]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    base, world = spec["base"], spec["world"]
    out: dict[str, Any] = {"pages": [], "texts": {}}
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            # axe-core goes in before each page's scripts; bypass_csp lets the test add
            # it without loosening the app's policy.
            context = chromium.new_context(viewport={"width": 320, "height": 640}, bypass_csp=True)
            context.add_init_script(path=str(AXE))
            page = context.new_page()
            started = time.monotonic()
            for language in spec["languages"]:
                context.clear_cookies()
                page.goto(f"{base}/language/{language}")
                for name, visit in _visits(base, world):
                    visit(page)
                    out["pages"].append(_check(page, name, language))
                    if language == "en":
                        out["texts"][name] = page.locator("main").inner_text()
            out["seconds"] = {"pages": time.monotonic() - started}
            context.clear_cookies()
            out["keyboard"] = _keyboard_journey(page, base, world["consultation"])
            out["seconds"]["keyboard"] = time.monotonic() - started - out["seconds"]["pages"]
        finally:
            chromium.close()
    return out


def _visits(base: str, w: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, how to reach it) for every resident page; forms' error states by sending
    them empty, confirmation pages by pressing the button that asks."""

    def go(path: str) -> Any:
        return lambda page: page.goto(base + path)

    def send(path: str, form: str = "form.questionnaire") -> Any:
        def visit(page: Any) -> None:
            page.goto(base + path)
            page.locator(f"{form} button[type=submit]").last.click()
            page.wait_for_load_state()

        return visit

    cid, eid = w["consultation"], w["event"]
    return [
        ("home", go("/")),
        ("you said, we did", go("/you-said-we-did")),
        ("you said, we did by theme", go("/you-said-we-did/themes")),
        ("outcome", go(f"/you-said-we-did/outcomes/{w['outcome']}")),
        ("consideration", go(f"/consultations/{cid}/consideration")),
        ("consultation", go(f"/consultations/{cid}")),
        ("consultation with errors", send(f"/consultations/{cid}")),
        ("consultation in easy read", go(f"/consultations/{cid}/easy-read")),
        ("receipt", go(f"/receipts/{w['receipt']}")),
        ("what you sent", go(f"/receipts/{w['receipt']}/response")),
        ("delete your response", send(f"/receipts/{w['receipt']}/response", "main form")),
        ("feedback", go("/feedback")),
        ("feedback with errors", send("/feedback")),
        ("feedback receipt", go(f"/feedback/receipts/{w['feedback']}")),
        ("feedback sent", go(f"/feedback/receipts/{w['feedback']}/feedback")),
        ("delete your feedback", send(f"/feedback/receipts/{w['feedback']}/feedback", "main form")),
        ("stop feedback emails", go(f"/feedback/receipts/{w['feedback']}/stop-emails")),
        ("events", go("/events")),
        ("event", go(f"/events/{eid}")),
        ("event registration with errors", send(f"/events/{eid}")),
        ("registration", go(f"/events/registrations/{w['manage']}")),
        ("cancel registration", send(f"/events/registrations/{w['manage']}", "main form")),
        (
            "stop registration emails",
            go(f"/events/registrations/stop-emails/{w['registration_receipt']}"),
        ),
        ("stop hearing what happened", go(f"/outcomes/stop/{STOP_TOKEN}")),
        ("language", go("/language")),
    ]


def _check(page: Any, name: str, language: str) -> dict[str, Any]:
    result = page.evaluate(
        "async tags => await axe.run(document,"
        " {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return {
        "name": name,
        "language": language,
        "url": page.url,
        "violations": [
            f"{v['id']}: {v['help']} at " + ", ".join(str(n["target"]) for n in v["nodes"])
            for v in result["violations"]
        ],
        "widths": page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        ),
        "lang": page.evaluate("() => document.documentElement.lang"),
        "dir": page.evaluate("() => document.documentElement.dir || 'ltr'"),
        "footer": page.locator("footer").inner_text(),
    }


def _tab_to(page: Any, element_id: str, limit: int = 400) -> None:
    """Press Tab until the element with ``element_id`` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def _keyboard_journey(page: Any, base: str, cid: str) -> str:
    """Answer the consultation's required questions with Tab, Space and Enter only."""
    page.goto(f"{base}/consultations/{cid}")
    _tab_to(page, "q-use")
    page.keyboard.press("Space")
    _tab_to(page, "q-score")
    page.keyboard.press("ArrowRight")  # moves to, and chooses, 1 in the group
    _tab_to(page, "q-tell")
    page.keyboard.type("Typed with the keyboard")
    _tab_to(page, "consent")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    return page.locator("h1").inner_text()


if __name__ == "__main__":
    print(json.dumps(run_in_browser(json.loads(sys.argv[1]))))
