"""The paper copy of a consultation (issue 14, item 4): a tagged PDF in the resident's
language with every question, the consent wording and its version, the return address
from the ICS configuration and the reference staff enter it under; made once per version
and language. Read back with pdftotext (poppler-utils, installed by ``./engage test``)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from nameko.standalone.rpc import ClusterRpcProxy

from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from gateway.application import paper_copy

QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "use",
        "type": "single_choice",
        "text": {"en": "Have you used a walk-in centre?", "ur": "کیا آپ واک ان سینٹر گئے ہیں؟"},
        "required": True,
        "options": [
            {"value": "yes", "label": {"en": "Yes, I have", "ur": "جی ہاں"}},
            {"value": "no", "label": {"en": "No, never", "ur": "نہیں"}},
        ],
    },
    {
        "id": "why",
        "type": "multiple_choice",
        "text": "Why did you go?",
        "show_if": {"question": "use", "equals": ["yes"]},
        "options": [
            {"value": "gp", "label": "Could not see a GP"},
            {"value": "near", "label": "It was near"},
        ],
    },
    {"id": "agree", "type": "likert", "text": "Walk-in centres should open at weekends."},
    {"id": "score", "type": "rating", "text": "How likely are you to recommend it?"},
    {"id": "tell", "type": "free_text", "text": "Tell us more"},
    {
        "id": "order",
        "type": "ranking",
        "text": "Put these in order of importance",
        "options": [
            {"value": "wait", "label": "Short waits"},
            {"value": "hours", "label": "Long hours"},
        ],
    },
]


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {"demo": True}  # Urdu is offered (not yet reviewed) in a demo


@pytest.fixture(scope="module")
def consultation(amqp: str, make_database: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    from nameko.containers import ServiceContainer

    from surveys.service import SurveysService

    container = ServiceContainer(
        SurveysService, {"AMQP_URI": amqp, "DATABASE_URL": make_database("surveys")}
    )
    container.start()
    now = datetime.now(UTC)
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=10) as rpc:
            made = rpc.surveys.create_consultation(
                {
                    "title": {"en": "Walk-in centres in Leeds", "ur": "لیڈز میں واک ان سینٹر"},
                    "summary": "Tell us how you use them.",
                    "description": "We want to hear from you.",
                    "places": ["leeds"],
                    "priorities": ["living-well"],
                    "opens_at": (now - timedelta(days=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "questionnaire": {"questions": QUESTIONS},
                }
            )
            yield rpc.surveys.open_consultation(made["id"])
    finally:
        container.stop()
        paper_copy.forget()


def _read(pdf: bytes, tmp_path: Path) -> tuple[str, str]:
    """(the PDF's text with its spacing evened out, pdfinfo's report)."""
    path = tmp_path / "paper.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    # Right-to-left text comes with bidi marks around its left-to-right runs: not words.
    plain = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)
    return " ".join(plain.split()), info


def test_the_paper_copy_has_every_question_and_the_return_address(
    app: Flask, consultation: dict[str, Any], tmp_path: Path
) -> None:
    client = app.test_client()
    page = client.get(f"/consultations/{consultation['id']}").get_data(as_text=True)
    link = f"/consultations/{consultation['id']}/paper.pdf?lang=en"
    assert f'href="{link}"' in page and "Print or download a paper copy (PDF)" in page

    got = client.get(link)
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    text, info = _read(got.data, tmp_path)
    assert re.search(r"Tagged:\s+yes", info) and "Walk-in centres in Leeds" in info
    for words in (
        "Walk-in centres in Leeds",
        "Have you used a walk-in centre?",
        "Yes, I have",
        "Why did you go?",
        "Answer this only if you answered “Yes, I have” to question 1.",
        "Neither agree nor disagree",
        "How likely are you to recommend it?",
        "Tell us more",
        "Put these in order of importance",
        "What is your ethnic group?",  # the Census 2021 questions, optional
        ics().contact["post"],
        consultation["id"],
    ):
        assert words in text, words
    consent = current_consent()
    assert " ".join(consent["wording"].split()) in text
    assert f"Wording version: {consent['version']}" in text

    # Kept: the same copy again, and not sent at all when the browser has it.
    again = client.get(link)
    assert again.data == got.data
    assert client.get(link, headers={"If-None-Match": got.headers["ETag"]}).status_code == 304


def test_the_paper_copy_in_urdu_reads_right_to_left(
    app: Flask, consultation: dict[str, Any], tmp_path: Path
) -> None:
    got = app.test_client().get(f"/consultations/{consultation['id']}/paper.pdf?lang=ur")
    assert got.status_code == 200
    text, _ = _read(got.data, tmp_path)
    text = text.replace("(", "").replace(")", "")
    for words in (
        "لیڈز میں واک ان سینٹر",  # the consultation's own Urdu (exact: Naskh)
        "کیا آپ واک ان سینٹر گئے ہیں؟",
        "سوال 1",  # "Question 1": the interface in Urdu
        "یہ فارم کیسے بھریں",  # "How to fill in this form"
        "آپ کا نسلی گروہ کیا ہے؟",  # the Census 2021 ethnic group question
        "پوری طرح متفق",  # "Strongly agree"
        "میں اس بات سے اتفاق",  # the consent, in the ICS's Urdu wording
        # The address stays as the ICS wrote it (pdftotext mirrors the brackets of a
        # left-to-right line on a right-to-left page: the words are what count here).
        ics().contact["post"].replace("(", "").replace(")", ""),
        consultation["id"],
    ):
        assert words in text, words


def test_an_unknown_consultation_is_a_404_page(app: Flask) -> None:
    got = app.test_client().get("/consultations/00000000-0000-4000-8000-000000000000/paper.pdf")
    assert got.status_code == 404 and got.mimetype == "text/html"
    assert "Page not found" in got.get_data(as_text=True)
