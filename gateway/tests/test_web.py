"""Resident web pages: form building/parsing (pure), then the pages through Flask's
test client against a real surveys service, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from nameko.standalone.rpc import ClusterRpcProxy
from werkzeug.datastructures import MultiDict

from engage_common.testing import eventually, holds_for
from engage_contracts.ics import ics, serving
from engage_contracts.reference import consent_wordings, current_consent, equality_questions
from gateway.web import forms

# From the ICS configuration the tests run under (the default one).
CONSENT_VERSION = current_consent()["version"]
CONSENT_WORDINGS = consent_wordings()
EQUALITY_QUESTIONS = equality_questions()

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
    {
        "id": "agree",
        "type": "likert",
        "text": "Walk-in centres should open at weekends.",
        "hint": "Think about the last year.",
    },
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


# --- pure: building fields -------------------------------------------------------------


def test_every_question_type_becomes_a_field_with_its_inputs() -> None:
    fields = forms.build_fields(QUESTIONS)
    kinds = {f.id: f.kind for f in fields}
    assert kinds == {
        "q-use": "radios",
        "q-why": "checkboxes",
        "q-agree": "radios",
        "q-score": "rating",
        "q-tell": "textarea",
        "q-order": "ranking",
    }
    use, why, agree, score, tell, order = fields
    assert use.required and not why.required
    assert [c.id for c in use.choices] == ["q-use", "q-use-1"]  # first input carries field id
    assert "Choose up to 2." in why.hints
    assert why.hints[0] == "Answer this only if you answered 'Yes' to question 1."
    assert [c.value for c in agree.choices][0] == "strongly-agree" and len(agree.choices) == 5
    assert agree.described_by == "q-agree-hint"
    assert [c.value for c in score.choices] == [str(n) for n in range(11)]
    assert tell.max_length == 300 and "You can enter up to 300 characters." in tell.hints
    assert [r.id for r in order.ranks] == ["q-order", "q-order-rank-1", "q-order-rank-2"]
    assert order.rank_numbers == [1, 2, 3]


def test_fields_keep_posted_answers_and_show_errors() -> None:
    posted = MultiDict(
        [
            ("answers-use", "no"),
            ("answers-why", "gp"),
            ("answers-why", "open"),
            ("answers-tell", "Too far"),
            ("answers-order-rank-1", "1"),
        ]
    )
    fields = forms.build_fields(QUESTIONS, posted, {"q-score": "Choose an answer"})
    by_id = {f.id: f for f in fields}
    assert [c.checked for c in by_id["q-use"].choices] == [False, True]
    assert [c.value for c in by_id["q-why"].choices if c.checked] == ["gp", "open"]
    assert by_id["q-tell"].value == "Too far"
    assert [r.selected for r in by_id["q-order"].ranks] == ["", "1", ""]
    assert by_id["q-score"].error == "Choose an answer"
    assert by_id["q-score"].described_by == "q-score-hint q-score-error"


def test_equality_section_has_every_question_grouped_ethnicity_and_free_postcode() -> None:
    fields = forms.build_equality_fields()
    assert [f.id for f in fields] == [f"equality-{q['id']}" for q in EQUALITY_QUESTIONS]
    for f in fields[:-1]:
        values = [c.value for c in f.choices] + [c.value for g in f.groups for c in g.choices]
        assert "prefer-not-to-say" in values
        ids = [c.id for c in f.choices] + [c.id for g in f.groups for c in g.choices]
        assert f.id in ids and len(set(ids)) == len(ids)
    ethnicity = next(f for f in fields if f.id == "equality-ethnicity")
    # the Census 2021 groups and their 19 categories (issue 9)
    assert [g.label for g in ethnicity.groups][0] == "Asian, Asian British or Asian Welsh"
    assert sum(len(g.choices) for g in ethnicity.groups) == 19
    assert [c.value for c in ethnicity.choices] == ["prefer-not-to-say"]
    conditions = next(f for f in fields if f.id == "equality-conditions")
    assert conditions.kind == "checkboxes"
    assert {"learning-disability", "autism", "mental-health"} <= {
        c.value for c in conditions.choices
    }
    asked = {f.id.removeprefix("equality-") for f in fields}
    assert {"marriage_civil_partnership", "pregnancy_maternity", "unpaid_carer"} <= asked
    assert fields[-1].kind == "text" and fields[-1].id == "equality-postcode_district"


# --- pure: parsing ------------------------------------------------------------------------


def test_parse_turns_each_type_into_the_contract_shape() -> None:
    posted = MultiDict(
        [
            ("answers-use", "yes"),
            ("answers-why", "gp"),
            ("answers-why", "near"),
            ("answers-agree", "agree"),
            ("answers-score", "7"),
            ("answers-tell", " Late \r\nopening "),
            ("answers-order-rank-0", "3"),
            ("answers-order-rank-1", "1"),
            ("answers-order-rank-2", "2"),
            ("equality-age_band", "25-34"),
            ("equality-postcode_district", "ls6"),
            ("equality-sex", ""),
            ("consent", "yes"),
        ]
    )
    parsed = forms.parse_form(QUESTIONS, posted)
    assert parsed.errors == {}
    assert parsed.answers == {
        "use": "yes",
        "why": ["gp", "near"],
        "agree": "agree",
        "score": 7,
        "tell": "Late \nopening",
        "order": ["near", "hours", "wait"],
    }
    assert parsed.equality == {"age_band": "25-34", "postcode_district": "ls6"}
    assert parsed.consent == {"given": True, "version": CONSENT_VERSION}
    assert parsed.submission()["equality"] == parsed.equality


def test_parse_leaves_out_blanks_and_passes_odd_values_through_for_validation() -> None:
    parsed = forms.parse_form(
        QUESTIONS, MultiDict([("answers-score", "ten"), ("answers-tell", "   ")])
    )
    assert parsed.answers == {"score": "ten"}
    assert parsed.equality == {}
    assert parsed.submission()["equality"] is None
    assert parsed.consent["given"] is False and parsed.errors == {"consent": ["is required"]}


@pytest.mark.parametrize(
    ("ranks", "problem"),
    [
        (["1", "", "2"], "give every option a number"),
        (["1", "1", "2"], "give each option a different number"),
        (["1", "x", "2"], "'x' is not a number"),
        (["1", "2", "9"], "use the numbers 1 to 3"),
    ],
)
def test_parse_reports_rankings_the_contract_cannot_express(ranks: list[str], problem: str) -> None:
    posted = MultiDict(
        [(f"answers-order-rank-{i}", r) for i, r in enumerate(ranks)] + [("consent", "yes")]
    )
    parsed = forms.parse_form(QUESTIONS, posted)
    assert "order" not in parsed.answers
    assert parsed.errors == {"answers.order": [problem]}


def test_error_messages_link_each_path_to_its_input() -> None:
    summary, inline = forms.error_messages(
        QUESTIONS,
        {
            "equality.postcode_district": ["must be the first half of a UK postcode"],
            "answers.score": [
                'Question 4 "How likely are you to recommend it?": answer this question'
            ],
            "answers.use": [
                'Question 1 "Have you used a walk-in centre?": choose one of the options'
            ],
            "consent": ["is required"],
            "place": ["choose one of the places"],
        },
    )
    assert summary == [
        ("Choose one of the answers given for question 1", "q-use"),
        ("Choose an answer to question 4", "q-score"),
        (
            "Enter the first half of a UK postcode, like LS6 or BD23, or leave it blank",
            "equality-postcode_district",
        ),
        ("Tick the box to agree to how we use your answers", "consent"),
        ("There is a problem with your response: choose one of the places", None),
    ]
    assert set(inline) == {"q-use", "q-score", "equality-postcode_district", "consent"}


def test_lists_in_sentences_are_the_locales_lists() -> None:
    """Alternatives and rankings are CLDR lists, not sentences built from " or "."""
    assert forms.any_of(["LS6", "BD23", "HG1"]) == "LS6, BD23 or HG1"
    assert forms.in_order(["Short waits", "Close to home"]) == "1. Short waits and 2. Close to home"


# --- pages against the real surveys service ------------------------------------------------


class _Page(HTMLParser):
    """Just enough HTML parsing to check ids, labels, fieldsets and links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.inputs: dict[str, dict[str, str]] = {}
        self.hrefs: list[str] = []
        self.counts: dict[str, int] = {}
        self.hidden: dict[str, str] = {}
        self.fieldsets: list[str] = []  # aria-describedby of the fieldsets we are in
        self.feed(html)

    def handle_endtag(self, tag: str) -> None:
        if tag == "fieldset":
            self.fieldsets.pop()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if "id" in a:
            assert a["id"] not in self.ids, f"duplicate id {a['id']}"
            self.ids.add(a["id"])
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag == "fieldset":
            self.fieldsets.append(a.get("aria-describedby", ""))
        if tag in ("input", "select", "textarea") and "id" in a:
            # what a screen reader announces with the input: its own description, or
            # its group's
            described = a.get("aria-describedby") or (self.fieldsets or [""])[-1]
            self.inputs[a["id"]] = {"tag": tag, **a, "described": described}
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])


def _in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.fixture(scope="module")
def surveys_uri(
    make_vhost: Callable[[], str], make_database: Callable[[str], str]
) -> Iterator[str]:
    """A real surveys service on its own vhost and database for this module."""
    from nameko.containers import ServiceContainer

    from surveys.service import SurveysService

    uri = make_vhost()
    container = ServiceContainer(
        SurveysService, {"AMQP_URI": uri, "DATABASE_URL": make_database("surveys")}
    )
    container.start()
    try:
        yield uri
    finally:
        container.stop()


@pytest.fixture(scope="module")
def app(surveys_uri: str, make_database: Callable[[str], str]) -> Flask:
    from gateway.app import create_app
    from gateway.config import Settings

    flask_app = create_app(
        Settings(amqp_uri=surveys_uri, database_url=make_database("gateway"), rpc_timeout=5)
    )
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture(scope="module")
def rpc(surveys_uri: str) -> Iterator[Any]:
    with ClusterRpcProxy({"AMQP_URI": surveys_uri}, timeout=10) as proxy:
        yield proxy


def make_consultation(rpc: Any, open_it: bool = True, **changes: Any) -> dict[str, Any]:
    data = {
        "title": "Walk-in centres in Leeds",
        "summary": "Tell us how you use them.",
        "description": "We want to hear from you.\n\nIt takes five minutes.",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "opens_at": _in_days(-1),
        "closes_at": _in_days(30),
        "questionnaire": {"questions": QUESTIONS},
        **changes,
    }
    consultation = rpc.surveys.create_consultation(data)
    if open_it:
        consultation = rpc.surveys.open_consultation(consultation["id"])
    return consultation


@pytest.fixture(scope="module")
def consultation(rpc: Any) -> dict[str, Any]:
    return make_consultation(rpc)


def _form_page(client: FlaskClient, cid: str) -> tuple[str, _Page]:
    response = client.get(f"/consultations/{cid}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, _Page(html)


GOOD = [
    ("answers-use", "yes"),
    ("answers-why", "gp"),
    ("answers-score", "8"),
    ("answers-agree", "agree"),
    ("answers-tell", "Open later please"),
    ("answers-order-rank-0", "2"),
    ("answers-order-rank-1", "1"),
    ("answers-order-rank-2", "3"),
    ("equality-age_band", "35-44"),
    ("equality-postcode_district", "LS6"),
    ("consent", "yes"),
]


def _post(
    client: FlaskClient, cid: str, page: _Page, fields: list[tuple[str, str]], **overrides: str
) -> Any:
    data = MultiDict(fields)
    data["csrf_token"] = page.hidden["csrf_token"]
    data["idempotency_key"] = page.hidden["idempotency_key"]
    for key, value in overrides.items():
        data[key] = value
    return client.post(f"/consultations/{cid}", data=data)


def test_form_renders_every_question_accessibly(app: Flask, consultation: dict) -> None:
    client = app.test_client()
    html, page = _form_page(client, consultation["id"])
    assert '<html lang="en" dir="ltr">' in html and 'name="viewport"' in html
    assert page.counts["h1"] == 1 and page.counts["main"] == 1
    assert "#main-content" in page.hrefs
    # every input a resident sees has a label
    visible = {i: a for i, a in page.inputs.items() if a.get("type") != "hidden"}
    assert visible and all(i in page.label_for for i in visible)
    # one fieldset per grouped question, the textarea alone has a label
    assert page.counts["fieldset"] == 5 + (len(EQUALITY_QUESTIONS) - 1) + 1  # +consent
    assert page.inputs["q-tell"]["tag"] == "textarea"
    assert page.inputs["q-tell"]["aria-describedby"] == "q-tell-hint"
    assert page.inputs["q-agree-2"]["described"] == "q-agree-hint"
    assert "aria-describedby" not in page.inputs["q-agree-2"]
    assert page.inputs["q-tell"]["maxlength"] == "300"
    assert page.inputs["q-order"]["tag"] == "select"
    assert "Answer this only if you answered &#39;Yes&#39; to question 1." in html
    assert "Choose up to 2." in html and "(optional)" in html
    assert "Prefer not to say" in html and "Every question in this section is optional" in html
    assert CONSENT_WORDINGS[CONSENT_VERSION] in html
    assert page.hidden[forms.CONSENT_VERSION_FIELD] == CONSENT_VERSION
    honeypot = page.inputs["website"]
    assert honeypot["tabindex"] == "-1" and honeypot["autocomplete"] == "off"
    uuid.UUID(page.hidden["idempotency_key"])
    assert len(page.hidden["csrf_token"]) >= 32
    # a new idempotency key for each rendering
    assert (
        _form_page(client, consultation["id"])[1].hidden["idempotency_key"]
        != page.hidden["idempotency_key"]
    )


def test_bad_answers_give_422_with_summary_links_to_real_inputs(
    app: Flask, consultation: dict
) -> None:
    client = app.test_client()
    _, page = _form_page(client, consultation["id"])
    response = _post(
        client,
        consultation["id"],
        page,
        [
            ("answers-why", "gp"),
            ("answers-why", "near"),
            ("answers-why", "open"),
            ("answers-use", "yes"),
            ("answers-tell", "kept answer"),
            ("answers-order-rank-0", "1"),
            ("answers-order-rank-1", "1"),
            ("equality-postcode_district", "not a postcode"),
        ],
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    again = _Page(html)
    assert 'role="alert"' in html and "There is a problem" in html
    links = [h[1:] for h in again.hrefs if h.startswith("#") and h != "#main-content"]
    assert set(links) == {"q-why", "q-score", "q-order", "equality-postcode_district", "consent"}
    for target in links:
        assert target in again.inputs, target
        error_id = f"{target}-error"
        assert error_id in again.ids
        assert error_id in again.inputs[target]["described"].split()
    assert "Choose an answer to question 4" in html
    assert "Choose no more than 2 answers to question 2" in html
    # the resident's answers are kept, and the same idempotency key carries on
    assert "kept answer</textarea>" in html
    assert re.search(r'id="q-why-2" name="answers-why" value="open" checked', html)
    assert again.hidden["idempotency_key"] == page.hidden["idempotency_key"]


def _receipt_status(client: FlaskClient, url: str, want: str, timeout: float = 30) -> str:
    def page() -> str | None:
        html = client.get(url).get_data(as_text=True)
        return html if want in html else None

    return eventually(page, timeout, f"{want!r} on {url}")


def test_good_answers_redirect_to_a_receipt_and_store_once(
    app: Flask, consultation: dict, rpc: Any
) -> None:
    client = app.test_client()
    _, page = _form_page(client, consultation["id"])
    response = _post(client, consultation["id"], page, GOOD)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    code = location.rsplit("/", 1)[1]
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", code)
    # the same key again (a double click) gets the same receipt
    again = _post(client, consultation["id"], page, GOOD)
    assert again.status_code == 303 and again.headers["Location"] == location
    html = _receipt_status(client, location, "Stored")
    assert code in html and "What happens next" in html and "Stored" in html
    assert consultation["title"]["en"] in html
    stored = rpc.surveys.get_submission(code)
    assert stored["status"] == "stored" and stored["consultation_id"] == consultation["id"]
    holds_for(
        lambda: rpc.surveys.get_results(consultation["id"], {})["total_responses"] == 1,
        0.5,
        "the double click stored once",
    )
    export = rpc.surveys.export_responses(consultation["id"], 0, 10)
    channel = export["columns"].index("channel")
    assert [row[channel] for row in json.loads(export["rows"])] == ["web-form"]


def test_unknown_receipt_is_received_and_bad_code_is_404(app: Flask) -> None:
    client = app.test_client()
    html = client.get("/receipts/AAAA-BBBB-CCCC").get_data(as_text=True)
    assert "Received" in html and "AAAA-BBBB-CCCC" in html
    assert client.get("/receipts/nonsense").status_code == 404


def test_missing_or_wrong_csrf_token_is_400(app: Flask, consultation: dict) -> None:
    client = app.test_client()
    _, page = _form_page(client, consultation["id"])
    data = MultiDict(GOOD)
    data["idempotency_key"] = page.hidden["idempotency_key"]
    response = client.post(f"/consultations/{consultation['id']}", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<h1>Sorry, there is a problem with your request</h1>" in html
    data["csrf_token"] = "x" * 43
    assert client.post(f"/consultations/{consultation['id']}", data=data).status_code == 400
    # a token from another browser (session) is no good either
    other = app.test_client()
    other.get(f"/consultations/{consultation['id']}")
    data["csrf_token"] = page.hidden["csrf_token"]
    assert other.post(f"/consultations/{consultation['id']}", data=data).status_code == 400


def test_honeypot_shows_a_receipt_but_stores_nothing(app: Flask, rpc: Any) -> None:
    quiet = make_consultation(rpc, title="Honeypot check")
    client = app.test_client()
    _, page = _form_page(client, quiet["id"])
    response = _post(client, quiet["id"], page, GOOD, website="http://spam.example")
    assert response.status_code == 200
    assert "Thank you for your response" in response.get_data(as_text=True)
    holds_for(
        lambda: rpc.surveys.get_results(quiet["id"], {})["total_responses"] == 0,
        1.0,
        "nothing stored from the honeypot",
    )


def test_closed_draft_and_unknown_consultations(app: Flask, rpc: Any) -> None:
    client = app.test_client()
    closed = make_consultation(rpc, title="Closed one")
    closed = rpc.surveys.close_consultation(closed["id"])
    html = client.get(f"/consultations/{closed['id']}").get_data(as_text=True)
    assert "This consultation closed on" in html and "<form" not in html.split("</header>")[1]
    draft = make_consultation(rpc, open_it=False, title="Draft one")
    assert client.get(f"/consultations/{draft['id']}").status_code == 404
    missing = client.get("/consultations/does-not-exist")
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.get_data(as_text=True)


def test_home_lists_open_consultations_and_filters(
    app: Flask, rpc: Any, consultation: dict
) -> None:
    other = make_consultation(
        rpc, title="Calderdale maternity", places=["calderdale"], priorities=["starting-well"]
    )
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    assert consultation["title"]["en"] in html and other["title"]["en"] in html
    assert "Closed one" not in html and "Draft one" not in html
    html = client.get("/?place=calderdale").get_data(as_text=True)
    assert other["title"]["en"] in html and consultation["title"]["en"] not in html
    html = client.get("/?priority=living-well&place=").get_data(as_text=True)
    assert consultation["title"]["en"] in html and other["title"]["en"] not in html
    assert '<option value="living-well" selected>' in html


def test_closing_while_answering_shows_it_closed_and_keeps_nothing(app: Flask, rpc: Any) -> None:
    late = make_consultation(rpc, title="Closes mid-answer")
    client = app.test_client()
    html, page = _form_page(client, late["id"])
    assert "<script" not in html  # the whole journey works without JavaScript
    rpc.surveys.close_consultation(late["id"])
    response = _post(client, late["id"], page, GOOD)
    assert response.status_code == 409
    assert "This consultation closed on" in response.get_data(as_text=True)
    assert rpc.surveys.get_results(late["id"], {})["total_responses"] == 0


def test_a_multiple_choice_equality_question_is_parsed_as_a_list() -> None:
    posted = MultiDict(
        [
            ("equality-conditions", "autism"),
            ("equality-conditions", "mental-health"),
            ("equality-age_band", "16-24"),
            ("consent", "yes"),
        ]
    )
    parsed = forms.parse_form([], posted)
    assert parsed.equality == {"conditions": ["autism", "mental-health"], "age_band": "16-24"}
    rendered = forms.build_equality_fields(posted)
    conditions = next(f for f in rendered if f.id == "equality-conditions")
    assert {c.value for c in conditions.choices if c.checked} == {"autism", "mental-health"}


@pytest.mark.parametrize(
    ("code", "consent_start"),
    [("pl", "Zgadzam się, aby to, co przekazałem"), ("ur", "میں اس بات سے اتفاق")],
    ids=["pl", "ur"],
)
def test_the_feedback_form_asks_consent_in_the_readers_language(
    app: Flask, code: str, consent_start: str
) -> None:
    """The feedback form's consent is in the reader's language where the ICS gives it (the
    same version as the English: each language of a version says the same); English, marked
    as English, where it does not."""
    reviewed = tuple(dataclasses.replace(lang, reviewed=True) for lang in ics().languages)
    version = current_consent("feedback")["version"]
    with serving(dataclasses.replace(ics(), languages=reviewed)):
        client = app.test_client()
        client.set_cookie("lang", code)
        html = client.get("/feedback").get_data(as_text=True)
        assert f'<label class="choice__label" for="consent">{consent_start}' in html
        assert f'value="{version}"' in html
        only_english = {**ics().consent_translations, version: {}}
        with serving(dataclasses.replace(ics(), consent_translations=only_english)):
            html = client.get("/feedback").get_data(as_text=True)
        english = consent_wordings()[version][:40]
        assert f'<label class="choice__label" for="consent" lang="en" dir="ltr">{english}' in html


@pytest.mark.parametrize(
    ("code", "question", "error", "consent_start"),
    [
        ("pl", "Ile masz lat?", "Wybierz odpowiedź na pytanie 4", "Zgadzam się"),
        ("ur", "آپ کی عمر کیا ہے؟", "سوال 4 کا ایک جواب منتخب کریں", "میں اس بات سے اتفاق"),
    ],
    ids=["pl", "ur"],
)
def test_the_form_its_errors_and_about_you_in_polish_and_urdu(
    app: Flask, consultation: dict, code: str, question: str, error: str, consent_start: str
) -> None:
    """A resident reading in Polish or Urdu gets the 'About you' questions, the form's
    error messages and the consent wording (the ICS gives it by language) in that language;
    the staff's English-only title is marked as English."""
    reviewed = tuple(dataclasses.replace(lang, reviewed=True) for lang in ics().languages)
    with serving(dataclasses.replace(ics(), languages=reviewed)):
        client = app.test_client()
        client.set_cookie("lang", code)
        html, page = _form_page(client, consultation["id"])
        assert f'<html lang="{code}"' in html and question in html
        assert '<h1 lang="en" dir="ltr">Walk-in centres in Leeds</h1>' in html
        assert f'<label class="choice__label" for="consent">{consent_start}' in html
        missing_score = [(k, v) for k, v in GOOD if k != "answers-score"]
        again = _post(client, consultation["id"], page, missing_score)
        assert again.status_code == 422
        assert f'<a href="#q-score">{error}</a>' in again.get_data(as_text=True)
