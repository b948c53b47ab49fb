"""Questionnaire rules, pure (no I/O): is a questionnaire well formed, and are a
resident's answers valid for it.

The gateway imports this module too, so a resident gets the same answer to
"is this valid?" from the web form, the API and the service that stores it.
Messages are written for residents and staff, not developers: an answer error
names the question by its number and text.
"""

from __future__ import annotations

import re
from typing import Any

from engage_contracts.shared import localised
from engage_contracts.wording import N_

QUESTION_TYPES = ("single_choice", "multiple_choice", "likert", "rating", "free_text", "ranking")
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice", "ranking"})
SHOW_IF_TYPES = frozenset({"single_choice", "multiple_choice", "likert"})
QUESTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

LIKERT_OPTIONS: list[dict[str, Any]] = [
    {"value": "strongly-agree", "label": N_("Strongly agree"), "score": 5},
    {"value": "agree", "label": N_("Agree"), "score": 4},
    {"value": "neither", "label": N_("Neither agree nor disagree"), "score": 3},
    {"value": "disagree", "label": N_("Disagree"), "score": 2},
    {"value": "strongly-disagree", "label": N_("Strongly disagree"), "score": 1},
]
LIKERT_SCORES = {o["value"]: o["score"] for o in LIKERT_OPTIONS}
RATING_MIN, RATING_MAX = 0, 10
MIN_OPTIONS, MAX_OPTIONS = 2, 50
MAX_QUESTIONS = 100
DEFAULT_MAX_LENGTH = 2000
MAX_LENGTH_LIMIT = 10000
MAX_TEXT = 500  # question text, hint and option labels
MAX_OPTION_VALUE = 100

Errors = dict[str, list[str]]


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def option_values(question: dict[str, Any]) -> list[str]:
    """The answer values a question accepts (choice options or the likert scale)."""
    if question.get("type") == "likert":
        return [o["value"] for o in LIKERT_OPTIONS]
    return [o.get("value") for o in question.get("options") or [] if isinstance(o, dict)]


def option_labels(question: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{value, label}]`` for a choice or likert question, in display order."""
    if question.get("type") == "likert":
        return [{"value": o["value"], "label": o["label"]} for o in LIKERT_OPTIONS]
    return [{"value": o["value"], "label": o["label"]} for o in question.get("options") or []]


def validate_questionnaire(questionnaire: Any) -> Errors:
    """Errors in a questionnaire definition, keyed like ``questions.2.options``.

    Checks everything, including what the marshmallow schema checks, so it can be
    used on its own; the schema calls it for the rules that span fields and questions.
    """
    errors: Errors = {}
    if not isinstance(questionnaire, dict):
        return {"questions": ["must be an object with a list of questions"]}
    questions = questionnaire.get("questions")
    if not isinstance(questions, list):
        return {"questions": ["must be a list of questions"]}
    if len(questions) > MAX_QUESTIONS:
        _add(errors, "questions", f"a questionnaire can have at most {MAX_QUESTIONS} questions")
    seen: dict[str, dict[str, Any]] = {}
    for index, question in enumerate(questions):
        path = f"questions.{index}"
        if not isinstance(question, dict):
            _add(errors, path, "must be a question object")
            continue
        _check_question(question, path, seen, errors)
        qid = question.get("id")
        if isinstance(qid, str):
            if qid in seen:
                _add(errors, f"{path}.id", f'"{qid}" is used by more than one question')
            else:
                seen[qid] = question
    return errors


def _check_question(
    question: dict[str, Any], path: str, earlier: dict[str, dict[str, Any]], errors: Errors
) -> None:
    qid, qtype = question.get("id"), question.get("type")
    if not isinstance(qid, str) or not QUESTION_ID.match(qid):
        _add(
            errors,
            f"{path}.id",
            "must be 1 to 40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit",
        )
    if qtype not in QUESTION_TYPES:
        _add(errors, f"{path}.type", "must be one of " + ", ".join(QUESTION_TYPES))
    text = question.get("text")
    if not _has_text(text):
        _add(errors, f"{path}.text", "enter the question text")
    elif _longest(text) > MAX_TEXT:
        _add(errors, f"{path}.text", f"must be {MAX_TEXT} characters or fewer")
    if "required" in question and not isinstance(question["required"], bool):
        _add(errors, f"{path}.required", "must be true or false")

    options = question.get("options")
    if qtype in CHOICE_TYPES:
        _check_options(options, f"{path}.options", errors)
    elif options is not None:
        _add(
            errors,
            f"{path}.options",
            f"only choice and ranking questions have options, not {qtype} questions",
        )

    max_choices = question.get("max_choices")
    if max_choices is not None:
        if qtype != "multiple_choice":
            _add(errors, f"{path}.max_choices", "only multiple choice questions have max_choices")
        elif not _is_int(max_choices) or max_choices < 1:
            _add(errors, f"{path}.max_choices", "must be a whole number of at least 1")
        elif isinstance(options, list) and max_choices > len(options):
            _add(
                errors,
                f"{path}.max_choices",
                f"cannot be more than the number of options ({len(options)})",
            )

    max_length = question.get("max_length")
    if max_length is not None:
        if qtype != "free_text":
            _add(errors, f"{path}.max_length", "only free text questions have max_length")
        elif not _is_int(max_length) or not 1 <= max_length <= MAX_LENGTH_LIMIT:
            _add(
                errors, f"{path}.max_length", f"must be a whole number from 1 to {MAX_LENGTH_LIMIT}"
            )

    show_if = question.get("show_if")
    if show_if is not None:
        _check_show_if(show_if, f"{path}.show_if", earlier, errors)


def _check_options(options: Any, path: str, errors: Errors) -> None:
    if not isinstance(options, list):
        _add(errors, path, f"give between {MIN_OPTIONS} and {MAX_OPTIONS} options")
        return
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        _add(
            errors,
            path,
            f"give between {MIN_OPTIONS} and {MAX_OPTIONS} options (there are {len(options)})",
        )
    values: set[str] = set()
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            _add(errors, f"{path}.{i}", "must be an option with a value and a label")
            continue
        value, label = option.get("value"), option.get("label")
        if not isinstance(value, str) or not value.strip():
            _add(errors, f"{path}.{i}.value", "enter a value for this option")
        elif len(value) > MAX_OPTION_VALUE:
            _add(errors, f"{path}.{i}.value", f"must be {MAX_OPTION_VALUE} characters or fewer")
        elif value in values:
            _add(errors, f"{path}.{i}.value", f'"{value}" is used by more than one option')
        else:
            values.add(value)
        if not _has_text(label):
            _add(errors, f"{path}.{i}.label", "enter a label for this option")
        elif _longest(label) > MAX_TEXT:
            _add(errors, f"{path}.{i}.label", f"must be {MAX_TEXT} characters or fewer")


def _check_show_if(
    show_if: Any, path: str, earlier: dict[str, dict[str, Any]], errors: Errors
) -> None:
    if not isinstance(show_if, dict):
        _add(errors, path, "must say which earlier question and answers it depends on")
        return
    ref, equals = show_if.get("question"), show_if.get("equals")
    target = earlier.get(ref) if isinstance(ref, str) else None
    if target is None:
        _add(errors, f"{path}.question", "must be the id of an earlier question")
        return
    if target.get("type") not in SHOW_IF_TYPES:
        _add(
            errors,
            f"{path}.question",
            "must be a single choice, multiple choice or agree/disagree (likert) question",
        )
        return
    if not isinstance(equals, list) or not equals:
        _add(errors, f"{path}.equals", "list at least one answer that shows this question")
        return
    allowed = option_values(target)
    for value in equals:
        if value not in allowed:
            _add(errors, f"{path}.equals", f'"{value}" is not an answer to question "{ref}"')


def _has_text(value: Any) -> bool:
    """Text given as a string or a language map, with something in English."""
    return isinstance(value, str | dict) and bool(localised(value).strip())


def _longest(value: Any) -> int:
    texts = value.values() if isinstance(value, dict) else [value]
    return max((len(t) for t in texts if isinstance(t, str)), default=0)


def normalise_questionnaire(questionnaire: dict[str, Any]) -> dict[str, Any]:
    """A valid questionnaire with defaults filled in (``required``, ``max_length``)."""
    questions = []
    for question in questionnaire["questions"]:
        q = {k: v for k, v in question.items() if v is not None}
        q["required"] = bool(q.get("required", False))
        if q["type"] == "free_text":
            q.setdefault("max_length", DEFAULT_MAX_LENGTH)
        questions.append(q)
    return {"questions": questions}


def is_shown(question: dict[str, Any], clean: dict[str, Any]) -> bool:
    """Whether a question is asked, given the clean answers to the questions before it."""
    show_if = question.get("show_if")
    if not show_if:
        return True
    answer = clean.get(show_if["question"])
    if answer is None:
        return False
    chosen = answer if isinstance(answer, list) else [answer]
    return any(value in show_if["equals"] for value in chosen)


def _is_empty(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def validate_answers(questionnaire: dict[str, Any], answers: Any) -> tuple[dict[str, Any], Errors]:
    """Check a resident's answers; returns (clean answers, errors by ``answers.<id>``).

    Clean answers keep only questions that were asked and answered; a question whose
    ``show_if`` is not met was not asked, so its answer is dropped and ``required``
    does not apply to it.
    """
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        return {}, {"answers": ["must be an object of answers keyed by question id"]}
    questions = questionnaire.get("questions") or []
    known = {q["id"] for q in questions}
    errors: Errors = {}
    for key in answers:
        if key not in known:
            _add(errors, f"answers.{key}", "is not a question in this consultation")
    clean: dict[str, Any] = {}
    for number, question in enumerate(questions, start=1):
        qid = question["id"]
        if not is_shown(question, clean):
            continue
        value = answers.get(qid)
        name = f'Question {number} "{localised(question["text"])}"'
        if _is_empty(value):
            if question.get("required"):
                _add(errors, f"answers.{qid}", f"{name}: answer this question")
            continue
        result, problem = _check_answer(question, value)
        if problem:
            _add(errors, f"answers.{qid}", f"{name}: {problem}")
        else:
            clean[qid] = result
    return clean, errors


def _check_answer(question: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    qtype = question["type"]
    if qtype in ("single_choice", "likert"):
        if not isinstance(value, str) or value not in option_values(question):
            return None, "choose one of the options"
        return value, None
    if qtype == "multiple_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, "choose from the options"
        allowed = option_values(question)
        if any(v not in allowed for v in value):
            return None, "choose only from the options given"
        if len(set(value)) != len(value):
            return None, "choose each option only once"
        limit = question.get("max_choices")
        if limit is not None and len(value) > limit:
            plural = "option" if limit == 1 else "options"
            return None, f"choose no more than {limit} {plural}"
        return list(value), None
    if qtype == "rating":
        if not _is_int(value) or not RATING_MIN <= value <= RATING_MAX:
            return None, f"give a whole number from {RATING_MIN} to {RATING_MAX}"
        return value, None
    if qtype == "free_text":
        if not isinstance(value, str):
            return None, "must be text"
        text = value.strip()
        limit = question.get("max_length", DEFAULT_MAX_LENGTH)
        if len(text) > limit:
            return None, f"keep your answer to {limit} characters or fewer (it has {len(text)})"
        return text, None
    if qtype == "ranking":
        allowed = option_values(question)
        if (
            not isinstance(value, list)
            or not all(isinstance(v, str) for v in value)
            or sorted(value) != sorted(allowed)
        ):
            return None, "put every option in order, using each option exactly once"
        return list(value), None
    return None, "cannot be answered"  # pragma: no cover - questionnaire already validated
