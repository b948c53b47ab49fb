"""Questionnaire <-> HTML form, with no I/O.

``build_fields`` turns a consultation's questions (and the equality-monitoring
questions) into view models the templates render without any logic of their own;
``parse_form`` turns the posted form back into the submission of the contract
(``answers``, ``equality``, ``consent``). Validation stays with the surveys
service: parsing only reports what the form itself can express but the contract
cannot (two options given the same rank), and otherwise passes odd values
through unchanged so the service's reasons reach the resident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from babel.lists import format_list
from flask_babel import format_number, ngettext
from flask_babel import gettext as _

from engage_contracts.ics import ics
from engage_contracts.questionnaire import DEFAULT_MAX_LENGTH, RATING_MAX, RATING_MIN
from engage_contracts.reference import current_consent, equality_questions
from engage_contracts.shared import DEFAULT_LANGUAGE, localised
from gateway.web.equality import (
    any_of,
    likert_options,
    reader_locale,
    translated_equality_questions,
)

# Form field names. Question ids match ^[a-z0-9][a-z0-9_-]{0,39}$, so they are
# safe inside names and ids as they are.
HONEYPOT_FIELD = "website"
IDEMPOTENCY_FIELD = "idempotency_key"
CSRF_FIELD = "csrf_token"
CONSENT_FIELD = "consent"
CONSENT_VERSION_FIELD = "consent_version"
HEAR_BACK_FIELD = "hear_back_email"
EASY_READ_FIELD = "easy_read"  # "yes" from the easy-read page: its errors are shown there


def answer_name(qid: str) -> str:
    return f"answers-{qid}"


def rank_name(qid: str, index: int) -> str:
    return f"answers-{qid}-rank-{index}"


def equality_name(qid: str) -> str:
    return f"equality-{qid}"


class FormData:
    """What the templates and parser need from a request form (werkzeug MultiDict or dict)."""

    def __init__(self, form: Any | None = None) -> None:
        self._form = form

    def get(self, name: str) -> str:
        if self._form is None:
            return ""
        value = self._form.get(name, "")
        return value if isinstance(value, str) else ""

    def getlist(self, name: str) -> list[str]:
        if self._form is None:
            return []
        if hasattr(self._form, "getlist"):
            return [v for v in self._form.getlist(name) if isinstance(v, str)]
        value = self._form.get(name)
        if value is None:
            return []
        return list(value) if isinstance(value, list | tuple) else [value]


@dataclass
class Choice:
    id: str
    value: str
    label: str
    checked: bool = False
    source: Any = None  # staff's label by language (``|lang_attrs``); None: interface text


@dataclass
class ChoiceGroup:
    """Options shown under a sub-heading (ethnicity's groups)."""

    label: str
    choices: list[Choice]


@dataclass
class RankRow:
    """One option of a ranking question and its rank ``<select>``."""

    id: str
    name: str
    label: str
    selected: str  # the rank chosen, "" for none
    source: Any = None  # staff's label by language


@dataclass
class Field:
    """Everything a template needs to render one question."""

    id: str  # the id of the first input: error summary links point here
    name: str
    kind: str  # radios | checkboxes | rating | textarea | ranking | text
    number: int | None
    text: str
    required: bool = False
    hints: list[str] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    groups: list[ChoiceGroup] = field(default_factory=list)
    ranks: list[RankRow] = field(default_factory=list)
    rank_numbers: list[int] = field(default_factory=list)
    value: str = ""
    max_length: int | None = None
    error: str | None = None
    autocomplete: str | None = None
    wide: bool = False  # a text input for a sentence, not a code
    input_type: str = "text"
    picture: Mapping[str, Any] | None = None  # easy read: {url, alt, width, height}
    # Staff-given text by language, for ``|lang_attrs`` (marked English where it has no
    # translation); None for interface text, which gettext translates.
    text_source: Any = None
    hint_sources: dict[int, Any] = field(default_factory=dict)  # by index in ``hints``

    @property
    def hint_id(self) -> str:
        return f"{self.id}-hint"

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def described_by(self) -> str:
        ids = ([self.hint_id] if self.hints else []) + ([self.error_id] if self.error else [])
        return " ".join(ids)

    @property
    def is_group(self) -> bool:
        """Several inputs, so a ``<fieldset>``/``<legend>``; otherwise a ``<label>``."""
        return self.kind not in ("textarea", "text")


def field_id(qid: str) -> str:
    return f"q-{qid}"


def equality_field_id(qid: str) -> str:
    return f"equality-{qid}"


def _choices(
    base: str,
    options: Iterable[tuple[str, str]],
    checked: set[str],
    sources: Mapping[str, Any] | None = None,
) -> list[Choice]:
    """The first choice's id is the field id, so a link to the field lands on an input."""
    return [
        Choice(
            id=base if i == 0 else f"{base}-{i}",
            value=v,
            label=label,
            checked=v in checked,
            source=(sources or {}).get(v),
        )
        for i, (v, label) in enumerate(options)
    ]


def _label_sources(question: Mapping[str, Any]) -> dict[str, Any]:
    """Staff's option labels by value, easy-read ones where given (likert's scale is
    interface text: only its easy-read labels are staff's)."""
    easy = {str(v): label for v, label in (question.get("easy_labels") or {}).items()}
    if question.get("type") == "likert":
        return easy
    return {str(o["value"]): o["label"] for o in question.get("options") or []} | easy


def in_order(items: Iterable[str]) -> str:
    """A ranking as the reader reads it: "1. Short waits, 2. Close to home and 3. ..."."""
    numbered = [
        _("%(rank)s. %(option)s", rank=format_number(n), option=item)
        for n, item in enumerate(items, start=1)
    ]
    return format_list(numbered, locale=reader_locale()) if numbered else ""


def _option_pairs(
    question: Mapping[str, Any], language: str = DEFAULT_LANGUAGE
) -> list[tuple[str, str]]:
    """(value, label) of a question's options, likert's fixed scale (translated) included;
    easy-read labels (``easy_labels``, on the easy-read page) in place of those they name."""
    sources = _label_sources(question)
    options = likert_options() if question.get("type") == "likert" else question.get("options")
    return [
        (str(o["value"]), localised(sources.get(str(o["value"]), o["label"]), language))
        for o in options or []
    ]


def _condition_hint(
    question: Mapping[str, Any],
    by_id: Mapping[str, tuple[int, Mapping]],
    language: str = DEFAULT_LANGUAGE,
) -> str:
    condition = question["show_if"]
    number, source = by_id.get(condition.get("question"), (None, {}))
    labels = dict(_option_pairs(source, language))
    wanted = any_of(f"'{labels.get(str(v), str(v))}'" for v in condition.get("equals") or [])
    if wanted and number:
        return _(
            "Answer this only if you answered %(answers)s to question %(number)s.",
            answers=wanted,
            number=number,
        )
    if wanted:
        return _(
            "Answer this only if you answered %(answers)s to an earlier question.", answers=wanted
        )
    return _("Answer this only if your answer to an earlier question asks for it.")


def build_fields(
    questions: list[Mapping[str, Any]],
    form: Any | None = None,
    errors: Mapping[str, str] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> list[Field]:
    """View models for a questionnaire, its text in ``language`` where given (else English);
    ``form`` keeps a resident's answers on re-render."""
    data = FormData(form)
    errors = errors or {}
    by_id = {q["id"]: (n, q) for n, q in enumerate(questions, start=1)}
    fields: list[Field] = []
    for number, question in enumerate(questions, start=1):
        qid = question["id"]
        kind_of = question["type"]
        fid, name = field_id(qid), answer_name(qid)
        hints: list[str] = []
        if question.get("show_if"):
            hints.append(_condition_hint(question, by_id, language))
        hint_sources: dict[int, Any] = {}
        if question.get("hint"):
            hint_sources[len(hints)] = question["hint"]
            hints.append(localised(question["hint"], language))
        sources = _label_sources(question)
        f = Field(
            id=fid,
            name=name,
            kind="radios",
            number=number,
            text=localised(question["text"], language),
            required=bool(question.get("required")),
            hints=hints,
            error=errors.get(fid),
            picture=question.get("picture"),
            text_source=question["text"],
            hint_sources=hint_sources,
        )
        if kind_of in ("single_choice", "likert"):
            f.choices = _choices(fid, _option_pairs(question, language), {data.get(name)}, sources)
        elif kind_of == "multiple_choice":
            f.kind = "checkboxes"
            if question.get("max_choices"):
                f.hints.append(
                    _("Choose up to %(count)s.", count=format_number(question["max_choices"]))
                )
            else:
                f.hints.append(_("Choose all that apply."))
            f.choices = _choices(
                fid, _option_pairs(question, language), set(data.getlist(name)), sources
            )
        elif kind_of == "rating":
            f.kind = "rating"
            f.hints.append(
                _(
                    "Choose a number from %(lowest)s (lowest) to %(highest)s (highest).",
                    lowest=format_number(RATING_MIN),
                    highest=format_number(RATING_MAX),
                )
            )
            pairs = [(str(n), str(n)) for n in range(RATING_MIN, RATING_MAX + 1)]
            f.choices = _choices(fid, pairs, {data.get(name)})
        elif kind_of == "free_text":
            f.kind = "textarea"
            f.max_length = int(question.get("max_length") or DEFAULT_MAX_LENGTH)
            f.hints.append(
                _("You can enter up to %(count)s characters.", count=format_number(f.max_length))
            )
            f.value = data.get(name)
        elif kind_of == "ranking":
            f.kind = "ranking"
            options = _option_pairs(question, language)
            f.hints.append(
                _(
                    "Give each option a different number from 1 to %(count)s. "
                    "1 is the one that matters most to you.",
                    count=len(options),
                )
            )
            f.rank_numbers = list(range(1, len(options) + 1))
            f.ranks = [
                RankRow(
                    id=fid if i == 0 else f"{fid}-rank-{i}",
                    name=rank_name(qid, i),
                    label=label,
                    selected=data.get(rank_name(qid, i)),
                    source=sources.get(value),
                )
                for i, (value, label) in enumerate(options)
            ]
        else:  # an unknown type from a newer service: still let people see it
            f.kind = "textarea"
            f.max_length = DEFAULT_MAX_LENGTH
            f.value = data.get(name)
        fields.append(f)
    return fields


def build_equality_fields(
    form: Any | None = None, errors: Mapping[str, str] | None = None
) -> list[Field]:
    """The optional 'About you' section, the same for every consultation, in the reader's
    language."""
    data = FormData(form)
    errors = errors or {}
    fields: list[Field] = []
    for question in translated_equality_questions():
        qid = question["id"]
        fid, name = equality_field_id(qid), equality_name(qid)
        f = Field(
            id=fid,
            name=name,
            kind="radios",
            number=None,
            text=localised(question["text"]),
            hints=[localised(question["hint"])] if question.get("hint") else [],
            error=errors.get(fid),
        )
        chosen = set(data.getlist(name)) if question.get("multiple") else {data.get(name)}
        if question.get("multiple"):
            f.kind = "checkboxes"
            f.choices = _choices(fid, _option_pairs(question), chosen)
        elif question.get("free_text"):
            f.kind = "text"
            f.value = data.get(name)
            f.hints.append(_("Or leave this blank if you prefer not to say."))
            f.autocomplete = "off"
        elif question.get("groups"):
            groups: list[ChoiceGroup] = []
            index = 0
            for group in question["groups"]:
                choices = []
                for option in group["options"]:
                    cid = fid if index == 0 else f"{fid}-{index}"
                    choices.append(
                        Choice(
                            id=cid,
                            value=option["value"],
                            label=localised(option["label"]),
                            checked=option["value"] in chosen,
                        )
                    )
                    index += 1
                groups.append(ChoiceGroup(label=group["label"], choices=choices))
            grouped = {c.value for g in groups for c in g.choices}
            rest = [(v, label) for v, label in _option_pairs(question) if v not in grouped]
            f.groups = groups
            f.choices = [
                Choice(id=f"{fid}-{index + i}", value=v, label=label, checked=v in chosen)
                for i, (v, label) in enumerate(rest)
            ]
        else:
            f.choices = _choices(fid, _option_pairs(question), chosen)
        fields.append(f)
    return fields


def consent_shown(consent: Mapping[str, Any], language: str) -> dict[str, str]:
    """The consent a form shows a reader of ``language``: ``{version, wording, language}``,
    the wording in their language when the ICS configuration gives it (the same version:
    each language of a version says the same), else the English one."""
    version = str(consent.get("version") or "")
    try:
        wording, shown = ics().consent_wording(version, language)
    except KeyError:  # a version this configuration no longer has: as the service sent it
        wording, shown = str(consent.get("wording") or ""), DEFAULT_LANGUAGE
    return {"version": version, "wording": wording, "language": shown}


@dataclass
class Parsed:
    """A posted form as a submission, plus problems only the form can have."""

    answers: dict[str, Any]
    equality: dict[str, Any]
    consent: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)

    hear_back_email: str | None = None

    def submission(self) -> dict[str, Any]:
        sent = {"answers": self.answers, "equality": self.equality or None, "consent": self.consent}
        if self.hear_back_email:
            sent["hear_back_email"] = self.hear_back_email
        return sent


# The form's own reasons for a ranking (English, like the rules' reasons: the resident
# reads them as sentences from ``error_messages``).
NOT_A_NUMBER = "is not a number"
UNRANKED = "give every option a number"
RANKED_TWICE = "give each option a different number"
OUT_OF_RANGE = "use the numbers 1 to"


def _parse_ranking(question: Mapping[str, Any], data: FormData) -> tuple[Any, list[str]]:
    """Options ordered by the rank typed for each; (None, []) when nothing was ranked."""
    qid = question["id"]
    options = _option_pairs(question)
    ranked: list[tuple[int, int, str]] = []
    unranked = 0
    raw_seen = False
    for index, (value, _label) in enumerate(options):
        raw = data.get(rank_name(qid, index)).strip()
        if not raw:
            unranked += 1
            continue
        raw_seen = True
        try:
            rank = int(raw)
        except ValueError:
            return None, [f"'{raw}' {NOT_A_NUMBER}"]
        ranked.append((rank, index, value))
    if not raw_seen:
        return None, []
    ranks = [rank for rank, _index, _value in ranked]
    if unranked:
        return None, [UNRANKED]
    if len(set(ranks)) != len(ranks):
        return None, [RANKED_TWICE]
    if any(r < 1 or r > len(options) for r in ranks):
        return None, [f"{OUT_OF_RANGE} {len(options)}"]
    return [value for _rank, _index, value in sorted(ranked)], []


def parse_form(questions: list[Mapping[str, Any]], form: Any) -> Parsed:
    """The contract's answers from a posted form; unanswered questions are left out."""
    data = FormData(form)
    answers: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for question in questions:
        qid, kind = question["id"], question["type"]
        name = answer_name(qid)
        if kind == "multiple_choice":
            values = [v for v in data.getlist(name) if v]
            if values:
                answers[qid] = values
        elif kind == "ranking":
            ranking, problems = _parse_ranking(question, data)
            if problems:
                errors[f"answers.{qid}"] = problems
            elif ranking is not None:
                answers[qid] = ranking
        elif kind == "rating":
            raw = data.get(name).strip()
            if raw:
                try:
                    answers[qid] = int(raw)
                except ValueError:
                    answers[qid] = raw  # validation says why
        elif kind == "free_text":
            text = data.get(name).replace("\r\n", "\n").strip()
            if text:
                answers[qid] = text
        else:
            value = data.get(name)
            if value:
                answers[qid] = value
    equality: dict[str, Any] = {}
    for question in equality_questions():
        name = equality_name(question["id"])
        if question.get("multiple"):
            chosen = [v for v in data.getlist(name) if v.strip()]
            if chosen:
                equality[question["id"]] = chosen
            continue
        value = data.get(name).strip()
        if value:
            equality[question["id"]] = value
    # The version of the wording the page showed, so what was agreed to is what was seen.
    consent = {
        "given": data.get(CONSENT_FIELD) == "yes",
        "version": data.get(CONSENT_VERSION_FIELD).strip() or current_consent()["version"],
    }
    if not consent["given"]:
        errors["consent"] = ["is required"]
    hear_back = data.get(HEAR_BACK_FIELD).strip() or None
    return Parsed(
        answers=answers,
        equality=equality,
        consent=consent,
        errors=errors,
        hear_back_email=hear_back,
    )


def error_targets(questions: list[Mapping[str, Any]]) -> dict[str, str]:
    """Error path (``answers.q3``, ``equality.age_band``, ``consent``) -> input id."""
    targets = {f"answers.{q['id']}": field_id(q["id"]) for q in questions}
    targets.update(
        {f"equality.{q['id']}": equality_field_id(q["id"]) for q in equality_questions()}
    )
    targets["consent"] = "consent"
    targets["hear_back_email"] = HEAR_BACK_FIELD
    return targets


_REQUIRED_WORDS = ("required", "missing", "answer this question")
# surveys names the question in its reasons ('Question 3 "Text": ...'); we say it our way.
_NAMED = re.compile(r'^Question \d+ ".*?": ', re.DOTALL)
_TOO_LONG = re.compile(r"(\d+) characters or fewer")
_AT_MOST = re.compile(r"no more than (\d+)")


def _answer_message(reason: str, number: int, question: Mapping[str, Any]) -> str:
    """What to do about question ``number``, in the reader's language, from a reason the
    form or the rules gave (the rules' reasons are English and name the question their
    way; the resident reads a whole sentence chosen by what went wrong)."""
    kind = question.get("type")
    said = str(reason).lower()
    if any(word in said for word in _REQUIRED_WORDS):
        if kind == "free_text":
            return _("Enter an answer to question %(number)s", number=number)
        if kind == "ranking":
            return _("Number every option in question %(number)s", number=number)
        if kind == "multiple_choice":
            return _("Choose at least one answer to question %(number)s", number=number)
        return _("Choose an answer to question %(number)s", number=number)
    if kind == "ranking":
        count = len(question.get("options") or [])
        if NOT_A_NUMBER in said:
            return _(
                "Use only numbers to put the options in question %(number)s in order", number=number
            )
        if RANKED_TWICE in said:
            return _("Give each option in question %(number)s a different number", number=number)
        if OUT_OF_RANGE in said:
            return _(
                "Use the numbers 1 to %(count)s for the options in question %(number)s",
                count=count,
                number=number,
            )
        return _("Number every option in question %(number)s", number=number)
    if kind == "rating":
        return _(
            "Choose a number from %(lowest)s to %(highest)s for question %(number)s",
            lowest=format_number(RATING_MIN),
            highest=format_number(RATING_MAX),
            number=number,
        )
    if kind == "free_text" and (too_long := _TOO_LONG.search(said)):
        return _(
            "Keep your answer to question %(number)s to %(count)s characters or fewer",
            number=number,
            count=format_number(int(too_long.group(1))),
        )
    if kind == "multiple_choice" and (at_most := _AT_MOST.search(said)):
        return ngettext(
            "Choose no more than %(num)d answer to question %(number)s",
            "Choose no more than %(num)d answers to question %(number)s",
            int(at_most.group(1)),
            number=number,
        )
    if kind == "multiple_choice":
        return _("Choose only from the answers given for question %(number)s", number=number)
    if kind in ("single_choice", "likert"):
        return _("Choose one of the answers given for question %(number)s", number=number)
    return _("Check your answer to question %(number)s", number=number)


def error_messages(
    questions: list[Mapping[str, Any]], errors: Mapping[str, Any]
) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """(summary entries ``(message, input id or None)``, inline message by input id), each
    a whole sentence in the reader's language."""
    targets = error_targets(questions)
    numbers = {q["id"]: (n, q) for n, q in enumerate(questions, start=1)}
    equality_text = {q["id"]: q["text"] for q in translated_equality_questions()}
    summary: list[tuple[str, str | None]] = []
    inline: dict[str, str] = {}
    order = {path: i for i, path in enumerate(targets)}

    def key(path: str) -> tuple[int, str]:
        return order.get(".".join(path.split(".")[:2]), len(order)), path

    for path in sorted(errors, key=key):
        reasons = errors[path]
        reasons = reasons if isinstance(reasons, list | tuple) else [reasons]
        if not reasons:
            continue
        parts = path.split(".")
        base = ".".join(parts[:2])
        target = targets.get(base)
        if parts[0] == "answers" and len(parts) > 1 and parts[1] in numbers:
            number, question = numbers[parts[1]]
            message = _answer_message(str(reasons[0]), number, question)
        elif parts[0] == "equality" and len(parts) > 1 and parts[1] == "postcode_district":
            message = _(
                "Enter the first half of a UK postcode, like %(examples)s, or leave it blank",
                examples=any_of(ics().postcode_examples),
            )
        elif parts[0] == "equality" and len(parts) > 1 and parts[1] in equality_text:
            message = _(
                "Choose one of the answers given for “%(question)s”, or leave it blank",
                question=equality_text[parts[1]],
            )
        elif parts[0] == "consent":
            target = "consent"
            message = _("Tick the box to agree to how we use your answers")
        elif parts[0] == "hear_back_email":
            target = HEAR_BACK_FIELD
            message = _("Enter an email address like name@example.com, or leave it blank")
        else:
            target = None
            # A rule the form has no sentence for (a place, a question no longer asked):
            # its English reason, which names the field.
            message = _(
                "There is a problem with your response: %(reason)s",
                reason=_NAMED.sub("", str(reasons[0]).strip()).rstrip("."),
            )
        if target and target in inline:
            continue
        summary.append((message, target))
        if target:
            inline[target] = message
    return summary, inline
