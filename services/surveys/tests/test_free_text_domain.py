"""Pure rules of free text as staff see it and of the themes of free-text answers: what is
stored of a redaction, what is shown (never an original), surveys' copy of feedback's
themes, and what the events say (the contract's ``EVENT_FIELDS``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from engage_common.errors import ValidationFailed
from engage_contracts import surveys as contract
from engage_contracts.base import load
from engage_contracts.feedback import COMMON_THEMES, THEME_SLUG, theme_slug
from engage_contracts.ics import ics
from surveys import domain

QUESTIONNAIRE = {
    "questions": [
        {"id": "pick", "type": "single_choice", "text": {"en": "Pick"}},
        {"id": "why", "type": "free_text", "text": {"en": "Why?"}},
        {"id": "else", "type": "free_text", "text": {"en": "Else?"}},
    ]
}


@dataclass
class Found:
    kind: str


@dataclass
class Redacted:
    text: str
    found: list[Found] = field(default_factory=list)


def test_free_texts_are_the_answers_to_free_text_questions() -> None:
    answers = {"pick": "a", "why": "Because", "else": None, "gone": "x"}
    assert domain.free_texts(answers, QUESTIONNAIRE) == {"why": "Because"}
    assert domain.free_texts(None, QUESTIONNAIRE) == {}


def test_redaction_records_split_one_batch_back_into_responses() -> None:
    texts = [{"why": "Call 07700 900123", "else": "fine"}, {}, {"why": "Dr Who?"}]
    results = [
        Redacted("Call [phone number removed]", [Found("phone")]),
        Redacted("fine"),
        Redacted("Dr [name removed]?", [Found("name")]),
    ]
    assert domain.redaction_records(texts, results, "v9") == [
        {
            "redacted_answers": {"why": "Call [phone number removed]", "else": "fine"},
            "redactions": {"why": ["phone"], "else": []},
            "redactor_version": "v9",
        },
        {"redacted_answers": {}, "redactions": {}, "redactor_version": "v9"},
        {
            "redacted_answers": {"why": "Dr [name removed]?"},
            "redactions": {"why": ["name"]},
            "redactor_version": "v9",
        },
    ]


def test_staff_are_never_shown_an_original() -> None:
    row = {"answers": {"pick": "a", "why": "Jane", "else": "Bob"}, "redacted_answers": None}
    assert domain.unredacted(row, QUESTIONNAIRE) == {"why": "Jane", "else": "Bob"}
    # neither redacted: left out
    assert domain.shown_answers(row, QUESTIONNAIRE, {}) == {"pick": "a"}
    # redacted as read
    shown = domain.shown_answers(row, QUESTIONNAIRE, {"why": "[name removed]"})
    assert shown == {"pick": "a", "why": "[name removed]"}
    stored = {**row, "redacted_answers": {"why": "[name removed]", "else": "[name removed]"}}
    assert domain.unredacted(stored, QUESTIONNAIRE) == {}
    assert domain.shown_answers(stored, QUESTIONNAIRE, {}) == {
        "pick": "a",
        "why": "[name removed]",
        "else": "[name removed]",
    }


def test_seeded_themes_are_feedbacks_priorities_ambitions_and_common_topics() -> None:
    config = ics()
    seeded = domain.seeded_themes(config)
    slugs = [t["slug"] for t in seeded]
    assert len(slugs) == len(set(slugs)) and all(THEME_SLUG.match(s) for s in slugs)
    first = config.priorities[0]
    assert seeded[0] == {
        "slug": theme_slug(first.name),
        "label": first.name,
        "keywords": [],
        "priority": first.code,
        "active": True,
    }
    by_slug = {t["slug"]: t for t in seeded}
    for slug, label, keywords in COMMON_THEMES:
        assert by_slug[slug]["label"] == label and by_slug[slug]["priority"] is None
        assert by_slug[slug]["keywords"] == keywords
    ambitions = [theme_slug(a) for p in config.priorities for a in p.ambitions]
    assert set(ambitions) <= set(by_slug)
    assert (
        by_slug[ambitions[0]]["priority"] == next(p for p in config.priorities if p.ambitions).code
    )


def test_a_theme_saved_event_as_surveys_keeps_it() -> None:
    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    event = {
        "event_id": "e1",
        "event_type": "theme_saved",
        "occurred_at": at.isoformat(),
        "slug": "carers",
        "label": " Unpaid carers ",
        "active": False,
        "priority": None,
    }
    seeded = {"carers": ["carer"]}
    assert domain.theme_from_event(event, seeded) == {
        "slug": "carers",
        "label": "Unpaid carers",
        "active": False,
        "priority": None,
        "keywords": None,  # none in the event: the theme keeps its own
        "seed_keywords": ["carer"],
        "event_at": at,
    }
    with_words = domain.theme_from_event({**event, "keywords": ["Car  Park", "car park"]}, {})
    assert with_words["keywords"] == ["car park"] and with_words["seed_keywords"] == []
    for bad in ({**event, "slug": "Not a slug"}, {**event, "keywords": "bus"}, "theme"):
        with pytest.raises(ValueError):
            domain.theme_from_event(bad, seeded)


def test_suggestions_come_from_the_redacted_text() -> None:
    themes = [{"slug": "gp-access", "label": "GP access", "keywords": ["gp", "receptionist"]}]
    redacted = {"why": "The GP receptionist was rude", "else": "[phone number removed]"}
    assert domain.answer_suggestions(redacted, themes, ["[phone number removed]"]) == {
        "why": {
            "suggested_themes": [
                {"theme": "gp-access", "label": "GP access", "because": ["gp", "receptionist"]}
            ],
            "suggested_tone": "negative",
        },
        "else": {"suggested_themes": [], "suggested_tone": "neutral"},
    }


def test_confirmed_themes_must_be_in_use_or_already_confirmed() -> None:
    domain.check_themes(["a", "b"], ["a", "b", "c"])
    domain.check_themes(["old"], ["a"], keep=["old"])  # retired, but confirmed before
    with pytest.raises(ValidationFailed) as exc:
        domain.check_themes(["a", "gone", "x"], ["a"])
    assert exc.value.errors == {
        "themes.1": [contract.THEME_NOT_IN_USE],
        "themes.2": [contract.THEME_NOT_IN_USE],
    }
    consultation = {"questionnaire": QUESTIONNAIRE}
    domain.check_free_text_question(consultation, "why")
    with pytest.raises(ValidationFailed) as exc:
        domain.check_free_text_question(consultation, "pick")
    assert exc.value.errors == {"question_id": [contract.NOT_FREE_TEXT]}


def test_only_a_change_of_what_was_confirmed_is_news() -> None:
    confirmed = {"themes": ["a"], "tone": "mixed", "confirmed_at": datetime.now(UTC)}
    assert domain.themes_changed(None, [], None)
    assert domain.themes_changed({"themes": [], "tone": None, "confirmed_at": None}, [], None)
    assert not domain.themes_changed(confirmed, ["a"], "mixed")
    assert domain.themes_changed(confirmed, ["a", "b"], "mixed")
    assert domain.themes_changed(confirmed, ["a"], None)


def consultation() -> dict[str, Any]:
    return {
        "id": "0b7c3d1e-0000-4000-8000-000000000001",
        "title": {"en": "T"},
        "summary": {"en": "S"},
        "places": ["leeds"],
        "priorities": [],
        "status": "closed",
        "opens_at": None,
        "closes_at": None,
        "closed_at": None,
        "outcome": {"summary": {"en": "O"}, "decisions": []},
    }


def test_events_say_what_the_contract_lists() -> None:
    answer = {
        "response_id": 4,
        "consultation_id": "c1",
        "question_id": "why",
        "place": "leeds",
        "channel": "phone",
    }
    themed = domain.answer_themed(answer, ["gp-access"], "negative")
    assert themed == {**answer, "themes": ["gp-access"], "tone": "negative"}
    assert tuple(themed) == contract.EVENT_FIELDS["answer_themed"]
    for name in ("consultation_opened", "consultation_updated", "consultation_closed"):
        assert set(domain.event_payload(consultation())) == set(contract.EVENT_FIELDS[name])
    outcome = domain.outcome_payload(consultation())
    assert set(outcome) == set(contract.EVENT_FIELDS["outcome_published"])
    submitted = domain.response_submitted(
        {
            "consultation_id": "c1",
            "receipt_code": "R",
            "place": None,
            "channel": "online",
            "submitted_at": datetime.now(UTC),
        },
        1,
    )
    assert set(submitted) == set(contract.EVENT_FIELDS["response_submitted"])
    deleted = domain.response_deleted({"id": 7, "consultation_id": "c1", "place": None})
    assert set(deleted) == set(contract.EVENT_FIELDS["response_deleted"])


def test_the_contract_loads_the_arguments_of_the_theme_rpcs() -> None:
    actor = {"staff_id": 1, "name": "A", "role": "analyst"}
    arguments = {"response_id": 3, "question_id": "why", "themes": ["b", "a", "b"], "tone": None}
    clean = load(contract.ConfirmAnswerThemesSchema(), {**arguments, "actor": actor})
    assert clean == {**arguments, "themes": ["b", "a"], "actor": actor}
    with pytest.raises(ValidationFailed) as exc:
        load(contract.ConfirmAnswerThemesSchema(), {"response_id": "3", "themes": ["x"] * 11})
    assert set(exc.value.errors) == {"response_id", "question_id", "themes", "tone", "actor"}
    assert load(contract.FreeTextPageSchema(), {"question_id": "why", "after": None}) == {
        "question_id": "why",
        "after": 0,
        "limit": contract.FREE_TEXT_DEFAULT_LIMIT,
    }
    with pytest.raises(ValidationFailed) as exc:
        load(contract.FreeTextPageSchema(), {"question_id": 5, "limit": 0, "after": 1.5})
    assert exc.value.errors == {
        "question_id": ["must be text"],
        "after": [contract.EXPORT_AFTER_MESSAGE],
        "limit": [contract.FREE_TEXT_LIMIT_MESSAGE],
    }
