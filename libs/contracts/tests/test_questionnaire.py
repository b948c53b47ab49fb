"""Pure rules: questionnaire definitions and residents' answers."""

from __future__ import annotations

from typing import Any

import pytest

from engage_contracts import questionnaire as qn
from engage_contracts.questionnaire import validate_answers, validate_questionnaire


def opts(*values: str) -> list[dict[str, str]]:
    return [{"value": v, "label": v.title()} for v in values]


QUESTIONNAIRE: dict[str, Any] = qn.normalise_questionnaire(
    {
        "questions": [
            {
                "id": "uses",
                "type": "single_choice",
                "text": "Do you use the service?",
                "required": True,
                "options": opts("yes", "no"),
            },
            {
                "id": "why",
                "type": "free_text",
                "text": "Why not?",
                "show_if": {"question": "uses", "equals": ["no"]},
                "required": True,
            },
            {
                "id": "travel",
                "type": "multiple_choice",
                "text": "How far would you travel?",
                "options": opts("walk", "bus", "car", "train"),
                "max_choices": 2,
            },
            {"id": "agree", "type": "likert", "text": "The plan is right"},
            {"id": "score", "type": "rating", "text": "Rate us"},
            {"id": "rank", "type": "ranking", "text": "Rank these", "options": opts("a", "b", "c")},
            {"id": "short", "type": "free_text", "text": "In a word", "max_length": 5},
            {
                "id": "bus-only",
                "type": "rating",
                "text": "Rate the bus",
                "show_if": {"question": "travel", "equals": ["bus"]},
                "required": True,
            },
        ]
    }
)


def check(answers: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    return validate_answers(QUESTIONNAIRE, answers)


# -- questionnaire definitions -------------------------------------------------------


def q(**kwargs: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "type": "single_choice",
        "text": "Pick",
        "options": opts("a", "b"),
        **kwargs,
    }


def test_a_valid_questionnaire_has_no_errors() -> None:
    assert validate_questionnaire(QUESTIONNAIRE) == {}
    assert validate_questionnaire({"questions": []}) == {}


def test_defaults_are_filled_in() -> None:
    normal = qn.normalise_questionnaire(
        {"questions": [{"id": "t", "type": "free_text", "text": "Tell us"}, q(id="c")]}
    )
    assert normal["questions"][0] == {
        "id": "t",
        "type": "free_text",
        "text": "Tell us",
        "required": False,
        "max_length": 2000,
    }
    assert normal["questions"][1]["required"] is False
    assert "max_length" not in normal["questions"][1]


@pytest.mark.parametrize(
    "questionnaire, path",
    [
        (None, "questions"),
        ({"questions": "nope"}, "questions"),
        ({"questions": ["nope"]}, "questions.0"),
        ({"questions": [q(id="Bad Id")]}, "questions.0.id"),
        ({"questions": [q(id="-x")]}, "questions.0.id"),
        ({"questions": [q(id="x" * 41)]}, "questions.0.id"),
        ({"questions": [q(), q()]}, "questions.1.id"),
        ({"questions": [q(type="essay")]}, "questions.0.type"),
        ({"questions": [q(text="  ")]}, "questions.0.text"),
        ({"questions": [q(text="x" * 501)]}, "questions.0.text"),
        ({"questions": [q(required="yes")]}, "questions.0.required"),
        ({"questions": [q(options=None)]}, "questions.0.options"),
        ({"questions": [q(options=opts("only"))]}, "questions.0.options"),
        ({"questions": [q(options=opts(*[f"v{i}" for i in range(51)]))]}, "questions.0.options"),
        ({"questions": [q(options=opts("a", "a"))]}, "questions.0.options.1.value"),
        (
            {"questions": [q(options=[{"value": "a", "label": ""}, {"value": "b", "label": "B"}])]},
            "questions.0.options.0.label",
        ),
        (
            {"questions": [q(options=[{"value": "", "label": "A"}, {"value": "b", "label": "B"}])]},
            "questions.0.options.0.value",
        ),
        ({"questions": [q(type="ranking", options=opts("a"))]}, "questions.0.options"),
        ({"questions": [q(type="likert")]}, "questions.0.options"),
        ({"questions": [q(max_choices=1)]}, "questions.0.max_choices"),
        ({"questions": [q(type="multiple_choice", max_choices=3)]}, "questions.0.max_choices"),
        ({"questions": [q(type="multiple_choice", max_choices=0)]}, "questions.0.max_choices"),
        ({"questions": [q(type="multiple_choice", max_choices=True)]}, "questions.0.max_choices"),
        (
            {"questions": [{"id": "t", "type": "free_text", "text": "T", "max_length": 0}]},
            "questions.0.max_length",
        ),
        (
            {"questions": [{"id": "t", "type": "free_text", "text": "T", "max_length": 10001}]},
            "questions.0.max_length",
        ),
        ({"questions": [q(max_length=10)]}, "questions.0.max_length"),
        # show_if must point at an EARLIER choice/likert question and its real values
        (
            {"questions": [q(show_if={"question": "q2", "equals": ["a"]}), q(id="q2")]},
            "questions.0.show_if.question",
        ),
        (
            {"questions": [q(show_if={"question": "q1", "equals": ["a"]})]},
            "questions.0.show_if.question",
        ),
        (
            {"questions": [q(), q(id="q2", show_if={"question": "q1", "equals": ["zzz"]})]},
            "questions.1.show_if.equals",
        ),
        (
            {"questions": [q(), q(id="q2", show_if={"question": "q1", "equals": []})]},
            "questions.1.show_if.equals",
        ),
        (
            {
                "questions": [
                    {"id": "r", "type": "rating", "text": "R"},
                    q(id="q2", show_if={"question": "r", "equals": ["5"]}),
                ]
            },
            "questions.1.show_if.question",
        ),
        (
            {
                "questions": [
                    {"id": "t", "type": "free_text", "text": "T"},
                    q(id="q2", show_if={"question": "t", "equals": ["x"]}),
                ]
            },
            "questions.1.show_if.question",
        ),
        (
            {
                "questions": [
                    q(type="ranking"),
                    q(id="q2", show_if={"question": "q1", "equals": ["a"]}),
                ]
            },
            "questions.1.show_if.question",
        ),
        ({"questions": [q(), q(id="q2", show_if="q1")]}, "questions.1.show_if"),
    ],
)
def test_bad_questionnaires_are_rejected_at_the_right_path(questionnaire: Any, path: str) -> None:
    errors = validate_questionnaire(questionnaire)
    assert path in errors, errors
    assert all(isinstance(m, str) and m for m in errors[path])


def test_show_if_may_reference_likert_values() -> None:
    assert (
        validate_questionnaire(
            {
                "questions": [
                    {"id": "l", "type": "likert", "text": "L"},
                    q(id="q2", show_if={"question": "l", "equals": ["agree", "strongly-agree"]}),
                ]
            }
        )
        == {}
    )


# -- answers ---------------------------------------------------------------------------


def test_a_full_valid_response_is_cleaned() -> None:
    clean, errors = check(
        {
            "uses": "yes",
            "travel": ["walk", "bus"],
            "agree": "agree",
            "score": 0,
            "rank": ["c", "a", "b"],
            "short": "  hi  ",
            "bus-only": 10,
        }
    )
    assert errors == {}
    assert clean == {
        "uses": "yes",
        "travel": ["walk", "bus"],
        "agree": "agree",
        "score": 0,
        "rank": ["c", "a", "b"],
        "short": "hi",
        "bus-only": 10,
    }


def test_error_names_the_question_by_number_and_text() -> None:
    _, errors = check({"uses": "yes", "travel": ["walk", "bus", "car"]})
    assert errors == {
        "answers.travel": ['Question 3 "How far would you travel?": choose no more than 2 options']
    }


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("maybe", "choose one of the options"),
        (["yes"], "choose one of the options"),
        (1, "choose one of the options"),
    ],
)
def test_single_choice_needs_one_existing_value(answer: Any, reason: str) -> None:
    _, errors = check({"uses": answer})
    assert errors["answers.uses"] == [f'Question 1 "Do you use the service?": {reason}']


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("walk", "choose from the options"),
        (["walk", 3], "choose from the options"),
        (["plane"], "choose only from the options given"),
        (["walk", "walk"], "choose each option only once"),
        (["walk", "bus", "car"], "choose no more than 2 options"),
    ],
)
def test_multiple_choice_rules(answer: Any, reason: str) -> None:
    _, errors = check({"uses": "yes", "travel": answer})
    assert errors["answers.travel"] == [f'Question 3 "How far would you travel?": {reason}']


@pytest.mark.parametrize("answer", ["yes", "Agree", 4, ["agree"]])
def test_likert_accepts_only_the_five_point_scale(answer: Any) -> None:
    _, errors = check({"uses": "yes", "agree": answer})
    assert errors["answers.agree"] == ['Question 4 "The plan is right": choose one of the options']


@pytest.mark.parametrize("value", [v["value"] for v in qn.LIKERT_OPTIONS])
def test_every_likert_point_is_accepted(value: str) -> None:
    clean, errors = check({"uses": "yes", "agree": value})
    assert errors == {} and clean["agree"] == value


@pytest.mark.parametrize("answer", [-1, 11, 5.0, 5.5, True, False, "5", [5]])
def test_rating_is_an_integer_from_0_to_10(answer: Any) -> None:
    _, errors = check({"uses": "yes", "score": answer})
    assert errors["answers.score"] == ['Question 5 "Rate us": give a whole number from 0 to 10']


@pytest.mark.parametrize("answer", [0, 10, 7])
def test_rating_bounds_are_inclusive(answer: int) -> None:
    clean, errors = check({"uses": "yes", "score": answer})
    assert errors == {} and clean["score"] == answer


@pytest.mark.parametrize(
    "answer",
    [["a", "b"], ["a", "b", "b"], ["a", "b", "c", "d"], ["a", "a", "b", "c"], "a", ["a", "b", 3]],
)
def test_ranking_needs_every_option_exactly_once(answer: Any) -> None:
    _, errors = check({"uses": "yes", "rank": answer})
    assert errors["answers.rank"] == [
        'Question 6 "Rank these": put every option in order, using each option exactly once'
    ]


def test_free_text_length_is_checked_after_stripping() -> None:
    clean, errors = check({"uses": "yes", "short": "   five!   "[:9] + " "})
    assert errors == {} and clean["short"] == "five!"
    _, errors = check({"uses": "yes", "short": "sixsix"})
    assert errors["answers.short"] == [
        'Question 7 "In a word": keep your answer to 5 characters or fewer (it has 6)'
    ]
    _, errors = check({"uses": "yes", "short": 12345})
    assert errors["answers.short"] == ['Question 7 "In a word": must be text']


def test_default_free_text_limit_is_2000() -> None:
    _, errors = check({"uses": "no", "why": "x" * 2000})
    assert errors == {}
    _, errors = check({"uses": "no", "why": "x" * 2001})
    assert "2000 characters or fewer" in errors["answers.why"][0]


@pytest.mark.parametrize(
    "text",
    [
        "Great service 👍🏽 and the 👨‍👩‍👧 family room",  # emoji with modifiers and ZWJ
        "مرحبا، الخدمة ممتازة",  # right-to-left Arabic
        "\u200fשלום\u200f עולם",  # Hebrew with RTL marks
        "Cafe\u0301 and nai\u0308ve",  # combining marks (not NFC-normalised)
        "Zoë, Łódź, Ærøskøbing, 北京, ਪੰਜਾਬੀ",
    ],
)
def test_unicode_is_preserved_exactly(text: str) -> None:
    clean, errors = check({"uses": "no", "why": f"  {text}\n"})
    assert errors == {}
    assert clean["why"] == text
    assert clean["why"].encode("utf-8") == text.encode("utf-8")


def test_free_text_length_counts_characters_not_bytes() -> None:
    clean, errors = check({"uses": "yes", "short": "👍👍👍👍👍"})
    assert errors == {} and clean["short"] == "👍👍👍👍👍"


@pytest.mark.parametrize("empty", [None, "", "   ", []])
def test_required_question_must_be_answered(empty: Any) -> None:
    _, errors = check({"uses": empty})
    assert errors == {
        "answers.uses": ['Question 1 "Do you use the service?": answer this question']
    }


@pytest.mark.parametrize("empty", ["", [], None])
def test_empty_optional_answers_are_dropped(empty: Any) -> None:
    clean, errors = check({"uses": "yes", "travel": empty, "short": empty})
    assert errors == {} and clean == {"uses": "yes"}


def test_missing_answers_object_only_fails_required_questions() -> None:
    _, errors = check(None)
    assert list(errors) == ["answers.uses"]
    _, errors = check({})
    assert list(errors) == ["answers.uses"]


def test_answers_must_be_an_object() -> None:
    assert check(["yes"]) == (
        {},
        {"answers": ["must be an object of answers keyed by question id"]},
    )


def test_unknown_question_ids_are_errors() -> None:
    _, errors = check({"uses": "yes", "nope": "x"})
    assert errors == {"answers.nope": ["is not a question in this consultation"]}


def test_hidden_question_answer_is_dropped_and_required_does_not_apply() -> None:
    clean, errors = check({"uses": "yes", "why": "because", "bus-only": 99})
    assert errors == {}
    assert clean == {"uses": "yes"}


def test_shown_conditional_question_is_required_and_validated() -> None:
    _, errors = check({"uses": "no"})
    assert errors == {"answers.why": ['Question 2 "Why not?": answer this question']}
    clean, errors = check({"uses": "no", "why": "too far"})
    assert errors == {} and clean == {"uses": "no", "why": "too far"}


def test_show_if_on_multiple_choice_matches_any_chosen_value() -> None:
    _, errors = check({"uses": "yes", "travel": ["walk", "bus"]})
    assert errors == {"answers.bus-only": ['Question 8 "Rate the bus": answer this question']}
    clean, errors = check({"uses": "yes", "travel": ["walk", "bus"], "bus-only": 3})
    assert errors == {} and clean["bus-only"] == 3
    clean, errors = check({"uses": "yes", "travel": ["walk"], "bus-only": 3})
    assert errors == {} and "bus-only" not in clean


def test_an_invalid_controlling_answer_hides_its_dependants() -> None:
    _, errors = check({"uses": "maybe", "why": "x"})
    assert list(errors) == ["answers.uses"]


def test_several_errors_are_reported_together() -> None:
    _, errors = check({"uses": "no", "score": 11, "rank": ["a"], "zzz": 1})
    assert set(errors) == {"answers.why", "answers.score", "answers.rank", "answers.zzz"}
