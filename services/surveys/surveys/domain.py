"""Surveys' decisions, pure (no I/O): consultation lifecycle, outcome rules, results and
export shaping, what a queued submission becomes (stored or rejected, and why), what the
events say, the privacy rules (what an erasure search matches, what a purge keeps), what
staff are shown of free text (the redacted text) and the themes of free-text answers
(surveys' copy of feedback's taxonomy, suggestions, what staff confirm).

The rules the gateway applies too (is it taking responses, is this response acceptable)
are in the contract, ``engage_contracts.surveys``; these are surveys' own.

Functions take the consultation as a plain dict (as the store returns it) plus
``now``, and return the new dict or raise ``Conflict``/``ValidationFailed``;
the service persists the result. Keeping ``now`` a parameter keeps the rules
testable without clocks.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from marshmallow import ValidationError
from PIL import Image

from engage_common.disclosure import DEFAULT_THRESHOLD, hidden, suppress
from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import feedback as feedback_rules
from engage_contracts import population, suggestions
from engage_contracts import questionnaire as qn
from engage_contracts import surveys as contract
from engage_contracts.base import flatten_errors
from engage_contracts.feedback import THEME_SLUG
from engage_contracts.reference import (
    ALL_EQUALITY_FIELDS,
    consent_record,
    equality_versions_with,
)
from engage_contracts.shared import localised
from engage_contracts.surveys import DECISION_STATUSES, check_schedule

EDITABLE_WHEN_OPEN = frozenset({"title", "summary", "description", "closes_at"})
DRAFT_FIELDS = frozenset(
    {
        "title",
        "summary",
        "description",
        "places",
        "priorities",
        "opens_at",
        "closes_at",
        "questionnaire",
    }
)
# Submissions queued just before the close date still get stored: the automatic
# close waits this long after ``closes_at`` so the queue can drain.
CLOSE_GRACE = timedelta(minutes=5)
# One schema for every queued message: building one (and its nested schemas) cost as much
# as loading a message with it.
SUBMISSION_SCHEMA = contract.SubmissionSchema()


def canonical_id(value: Any) -> str | None:
    """``value`` as a canonical UUID string, or None when it is not a UUID (so names
    nothing we hold)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def new_consultation(data: dict[str, Any], consultation_id: str, now: datetime) -> dict[str, Any]:
    """A draft from what staff sent (``ConsultationCreateSchema``), questionnaire normalised."""
    return {
        **data,
        "id": consultation_id,
        "status": "draft",
        "questionnaire": qn.normalise_questionnaire(data["questionnaire"]),
        "outcome": None,
        "response_count": 0,
        "created_at": now,
        "updated_at": now,
        "opened_at": None,
        "closed_at": None,
    }


def apply_update(
    consultation: dict[str, Any], changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The consultation with ``changes`` applied, if its status allows them."""
    status = consultation["status"]
    if status == "closed":
        raise Conflict("A closed consultation cannot be changed; you can only publish its outcome")
    if status == "open":
        locked = sorted(set(changes) - EDITABLE_WHEN_OPEN)
        if locked:
            raise Conflict(
                "Once a consultation is open only its title, summary, description "
                "and closing date can change, not: " + ", ".join(locked)
            )
    unknown = sorted(set(changes) - DRAFT_FIELDS)
    if unknown:
        raise ValidationFailed({name: ["cannot be changed"] for name in unknown})
    if "questionnaire" in changes:
        changes = {**changes, "questionnaire": qn.normalise_questionnaire(changes["questionnaire"])}
    updated = {**consultation, **changes, "updated_at": now}
    errors = check_schedule(updated.get("opens_at"), updated.get("closes_at"))
    if (
        status == "open"
        and "closes_at" in changes
        and (changes["closes_at"] is None or changes["closes_at"] <= now)
    ):
        errors.setdefault("closes_at", []).append("must be in the future")
    if errors:
        raise ValidationFailed(errors)
    return updated


def open_consultation(consultation: dict[str, Any], now: datetime) -> dict[str, Any]:
    if consultation["status"] != "draft":
        raise Conflict(f"Only a draft can be opened; this consultation is {consultation['status']}")
    errors: dict[str, list[str]] = {}
    if not consultation["questionnaire"].get("questions"):
        errors["questionnaire.questions"] = ["add at least one question before opening"]
    opens_at = consultation.get("opens_at") or now
    closes_at = consultation.get("closes_at")
    if closes_at is None:
        errors["closes_at"] = ["set a closing date before opening"]
    elif closes_at <= now:
        errors["closes_at"] = ["must be in the future"]
    elif closes_at <= opens_at:
        errors["closes_at"] = ["must be after the opening date"]
    if errors:
        raise Conflict(
            "This consultation cannot be opened yet: "
            + "; ".join(f"{field} {', '.join(reasons)}" for field, reasons in errors.items())
        )
    return {
        **consultation,
        "status": "open",
        "opens_at": opens_at,
        "opened_at": now,
        "updated_at": now,
    }


def close_consultation(consultation: dict[str, Any], now: datetime) -> dict[str, Any]:
    if consultation["status"] != "open":
        raise Conflict(
            f"Only an open consultation can be closed; this one is {consultation['status']}"
        )
    return {**consultation, "status": "closed", "closed_at": now, "updated_at": now}


def due_to_close(consultation: dict[str, Any], now: datetime) -> bool:
    closes_at = consultation.get("closes_at")
    return (
        consultation["status"] == "open"
        and closes_at is not None
        and closes_at + CLOSE_GRACE <= now
    )


def check_outcome(outcome: dict[str, Any]) -> dict[str, list[str]]:
    """Rules for "you said, we did" beyond field types."""
    errors: dict[str, list[str]] = {}
    decisions = outcome.get("decisions") or []
    if not decisions:
        errors["decisions"] = ["add at least one decision"]
    for i, decision in enumerate(decisions):
        status = decision.get("status")
        if status not in DECISION_STATUSES:
            errors[f"decisions.{i}.status"] = ["must be one of " + ", ".join(DECISION_STATUSES)]
        reason = localised(decision.get("reason"))
        if status == "not-taken-forward" and not reason.strip():
            errors[f"decisions.{i}.reason"] = ["explain why this was not taken forward"]
    return errors


def publish_outcome(
    consultation: dict[str, Any], outcome: dict[str, Any], now: datetime
) -> dict[str, Any]:
    if consultation["status"] != "closed":
        raise Conflict("An outcome can only be published once the consultation is closed")
    errors = check_outcome(outcome)
    if errors:
        raise ValidationFailed({f"outcome.{k}": v for k, v in errors.items()})
    published = {
        "summary": outcome["summary"],
        "decisions": [{k: v for k, v in d.items() if v is not None} for d in outcome["decisions"]],
        "published_at": now.isoformat(),
    }
    return {**consultation, "outcome": published, "updated_at": now}


def outcome_payload(consultation: dict[str, Any]) -> dict[str, Any]:
    """What ``outcome_published`` says: the public facts and the outcome."""
    return {**event_payload(consultation), "outcome": consultation["outcome"]}


def event_payload(consultation: dict[str, Any]) -> dict[str, Any]:
    """What the ``consultation_*`` events say (public facts only)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "consultation_id": str(consultation["id"]),
        "title": consultation["title"],
        "summary": consultation.get("summary") or "",
        "places": list(consultation["places"]),
        "priorities": list(consultation["priorities"]),
        "status": consultation["status"],
        "opens_at": iso(consultation.get("opens_at")),
        "closes_at": iso(consultation.get("closes_at")),
        "closed_at": iso(consultation.get("closed_at")),
    }


def percent(count: int | None, total: int | None) -> float | None:
    if count is None or total is None:
        return None
    return round(100.0 * count / total, 1) if total else 0.0


def shape_results(
    consultation: dict[str, Any],
    total: int,
    filters: dict[str, Any],
    aggregates: dict[str, Any],
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Turn the store's raw per-question aggregates into the results contract, every count
    of people through the small-number rule (``engage_common.disclosure``): a hidden
    count is None, and so is its percent.

    ``aggregates`` has ``answered`` {qid: n}, ``counts`` {qid: {value: n}},
    ``means`` {qid: float} and ``ranking`` {qid: {value: (mean_rank, first)}}. Free-text
    answers are never in the results (``free_text_answers`` pages them):
    ``free_text_truncated`` says there are some to page through.
    """
    out = []
    for question in consultation["questionnaire"]["questions"]:
        qid, qtype = question["id"], question["type"]
        answered = int(aggregates["answered"].get(qid, 0))
        shown_answered: int | None = None if hidden(answered, threshold) else answered
        item: dict[str, Any] = {"id": qid, "type": qtype, "text": question["text"]}
        counts = aggregates["counts"].get(qid, {})
        if qtype in ("single_choice", "multiple_choice", "likert"):
            options = qn.option_labels(question)
            cells, protected = _cells(counts, [o["value"] for o in options], threshold)
            item["options"] = [{**o, "count": cells[o["value"]]} for o in options]
            shown_answered = shown_answered if protected else None
        if qtype == "rating":
            values = list(range(qn.RATING_MIN, qn.RATING_MAX + 1))
            cells, protected = _cells(counts, values, threshold)
            item["distribution"] = [{"value": v, "count": cells[v]} for v in values]
            shown_answered = shown_answered if protected else None
        if qtype == "ranking":
            ranks = aggregates["ranking"].get(qid, {})
            options = qn.option_labels(question)
            firsts, _ = suppress(
                {o["value"]: int(ranks.get(o["value"], (None, 0))[1]) for o in options}, threshold
            )
            rows = []
            for o in options:
                mean_rank = ranks.get(o["value"], (None, 0))[0]
                rows.append(
                    {
                        **o,
                        "mean_rank": round(float(mean_rank), 2) if mean_rank is not None else None,
                        "first_choice": firsts[o["value"]],
                    }
                )
            rows.sort(key=lambda r: (r["mean_rank"] is None, r["mean_rank"] or 0))
            item["ranking"] = rows
        if qtype in ("likert", "rating"):
            mean = aggregates["means"].get(qid)
            item["mean"] = round(float(mean), 2) if mean is not None and shown_answered else None
        for key in ("options", "distribution"):
            for cell in item.get(key, []):
                cell["percent"] = percent(cell["count"], shown_answered)
        if qtype == "free_text":
            item["free_text"] = []
            item["free_text_truncated"] = answered > 0
        item["answered"] = shown_answered
        out.append(item)
    results = {
        "consultation_id": str(consultation["id"]),
        "total_responses": total,
        "filters": filters,
        "small_number_threshold": threshold,
        "suppressed": False,
        "questions": out,
    }
    versions = equality_versions_covered(filters)
    if versions is not None:
        results["equality_versions"] = versions
    return results


def _cells(
    counts: dict[str, int], values: list[Any], threshold: int
) -> tuple[dict[Any, int | None], bool]:
    """A question's counts per answer as they may be shown, and whether its total may be
    shown beside them (it would give hidden counts away when they cannot be protected)."""
    shown, total = suppress({v: int(counts.get(str(v), 0)) for v in values}, threshold)
    return shown, total is not None


def counted_aggregates(
    consultation: dict[str, Any], rows: Iterable[dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    """``(total responses, aggregates)`` as ``shape_results`` takes them, from the kept
    counts (``store.result_counts``: ``question_id`` '' for the responses, ``value`` ''
    for how many answered): the same figures ``store.aggregate_results`` counts."""
    types = {q["id"]: q["type"] for q in consultation["questionnaire"]["questions"]}
    total, answered = 0, {}
    counts: dict[str, dict[str, int]] = {}
    ranking: dict[str, dict[str, tuple[Decimal, int]]] = {}
    for row in rows:
        qid, value, n = row["question_id"], row["value"], int(row["n"])
        if qid == "":
            total = n
        elif value == "":
            answered[qid] = n
        elif types.get(qid) == "ranking":
            ranking.setdefault(qid, {})[value] = (Decimal(row["rank_sum"]) / n, int(row["firsts"]))
        else:
            counts.setdefault(qid, {})[value] = n
    means = {}
    for qid, qtype in types.items():
        if qtype == "likert":
            scored = [(qn.LIKERT_SCORES.get(v), n) for v, n in counts.get(qid, {}).items()]
        elif qtype == "rating":
            scored = [(Decimal(v), n) for v, n in counts.get(qid, {}).items()]
        else:
            continue
        weighed = [(Decimal(score), n) for score, n in scored if score is not None]
        if weighed:
            means[qid] = sum(score * n for score, n in weighed) / sum(n for _, n in weighed)
    return total, {"answered": answered, "counts": counts, "means": means, "ranking": ranking}


def withheld_results(
    consultation: dict[str, Any], filters: dict[str, Any], threshold: int
) -> dict[str, Any]:
    """Results for a group too small to show (``disclosure.group_shown``): nothing about
    it, not even how many it holds."""
    results = {
        "consultation_id": str(consultation["id"]),
        "total_responses": None,
        "filters": filters,
        "small_number_threshold": threshold,
        "suppressed": True,
        "questions": [],
    }
    versions = equality_versions_covered(filters)
    if versions is not None:
        results["equality_versions"] = versions
    return results


def equality_versions_covered(filters: dict[str, Any]) -> list[str] | None:
    """Which versions of the equality questions a filter on equality answers covers (the
    versions that ask each filtered field with that answer); None without such a filter."""
    covered: list[str] | None = None
    for field, value in filters.items():
        if field in ALL_EQUALITY_FIELDS:
            versions = equality_versions_with(field, value)
            covered = versions if covered is None else [v for v in covered if v in versions]
    return covered


def page_of(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``) and whether there are more."""
    return rows[:limit], len(rows) > limit


FIXED_EXPORT_COLUMNS = ("receipt_code", "submitted_at", "place", "channel")
EQUALITY_VERSION_COLUMN = "equality_version"


def export_columns(consultation: dict[str, Any]) -> list[str]:
    """receipt_code, submitted_at, place, channel, one column per question id, then the
    version of the equality questions asked and every field any version asks.

    A question id that clashes with another column is prefixed with ``question:``.
    """
    fixed = {*FIXED_EXPORT_COLUMNS, EQUALITY_VERSION_COLUMN, *ALL_EQUALITY_FIELDS}
    questions = [
        q["id"] if q["id"] not in fixed else f"question:{q['id']}"
        for q in consultation["questionnaire"]["questions"]
    ]
    return [*FIXED_EXPORT_COLUMNS, *questions, EQUALITY_VERSION_COLUMN, *ALL_EQUALITY_FIELDS]


def export_cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def export_table(
    consultation: dict[str, Any], rows: list[dict[str, Any]], next_after: int | None
) -> dict[str, Any]:
    """Shape stored rows (``id, receipt_code, submitted_at, place, channel, answers``,
    ``equality``, ``question_set``) into ``{"columns", "rows", "next_after"}``."""
    questions = [q["id"] for q in consultation["questionnaire"]["questions"]]
    table = []
    for row in rows:
        answers, equality = row["answers"] or {}, row.get("equality") or {}
        table.append(
            [
                row["receipt_code"],
                row["submitted_at"].isoformat(),
                row["place"],
                row["channel"],
                *[export_cell(answers.get(qid)) for qid in questions],
                row.get("question_set"),
                *[export_cell(equality.get(field)) for field in ALL_EQUALITY_FIELDS],
            ]
        )
    return {"columns": export_columns(consultation), "rows": table, "next_after": next_after}


def export_page(
    consultation: dict[str, Any], rows: list[dict[str, Any]], limit: int
) -> dict[str, Any]:
    """One keyset page of the export (``contract.ExportRowsSchema``) from up to
    ``limit + 1`` stored rows: ``next_after`` is the last id shown when there are more,
    else None; the rows as one JSON text, as ``export_shaped`` passes them on."""
    page, more = page_of(rows, limit)
    table = export_table(consultation, page, next_after=page[-1]["id"] if more else None)
    return {**table, "rows": json.dumps(table["rows"])}


def export_shaped(consultation: dict[str, Any], shaped: dict[str, Any]) -> dict[str, Any]:
    """``export_page`` from a page the database shaped (``store.export_rows``): its rows,
    one JSON text, are passed on as they are; the gateway decodes them."""
    return {
        "columns": export_columns(consultation),
        "rows": shaped["rows"],
        "next_after": shaped["last"] if shaped["more"] else None,
    }


# -- submissions ---------------------------------------------------------------------------

Verdict = Literal["stored", "rejected"]
NO_CONSULTATION = "The consultation does not exist"
NOT_ACCEPTING = "The consultation was no longer accepting responses when this was stored"


def read_submission(body: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A queued message as ``(submission, errors)``.

    Well formed (``SubmissionSchema``): the loaded message and no errors. Shaped wrong:
    what it can be recorded under (``submission_id``, ``receipt_code``, ``consultation_id``
    and ``submitted_at`` as far as they can be read) and the schema's errors. Without a
    valid ``submission_id`` and ``receipt_code`` there is nothing to record it under:
    raises ``ValueError("unidentifiable submission: ...")``, which ``consume`` retries and
    then dead-letters.
    """
    try:
        message = SUBMISSION_SCHEMA.load(body)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
    else:
        return {**message, "submission_id": str(message["submission_id"])}, {}
    raw = body if isinstance(body, dict) else {}
    submission_id = canonical_id(raw.get("submission_id"))
    receipt = raw.get("receipt_code")
    readable_receipt = isinstance(receipt, str) and receipt and "receipt_code" not in errors
    if submission_id is None or not readable_receipt:
        raise ValueError(f"unidentifiable submission: {errors}")
    try:
        submitted_at: datetime | None = datetime.fromisoformat(str(raw.get("submitted_at")))
    except ValueError:
        submitted_at = None
    return {
        "submission_id": submission_id,
        "receipt_code": receipt,
        "consultation_id": str(raw.get("consultation_id")),
        "submitted_at": submitted_at,
    }, errors


def judge_submission(
    consultation: dict[str, Any] | None,
    submission: dict[str, Any],
    errors: dict[str, list[str]],
) -> tuple[Verdict, dict[str, Any]]:
    """What a queued submission becomes, given the consultation it names (None when
    there is none) and what ``read_submission`` found wrong with its shape.

    ``("stored", response)``: the submission with its cleaned answers, equality answers
    and place, ``derived_place`` (from the postcode district) and the consent record with
    the server's wording for the version agreed to. ``("rejected", rejection)``: what its
    receipt says instead (``submission_id``, ``receipt_code``, ``consultation_id``,
    ``submitted_at``, ``reasons``).
    """
    if errors:
        return "rejected", _rejection(submission, rejection_reasons(errors))
    if consultation is None:
        return "rejected", _rejection(submission, [NO_CONSULTATION])
    submission = {**submission, "consultation_id": str(consultation["id"])}
    if not contract.accepting_submission(consultation, submission["submitted_at"]):
        return "rejected", _rejection(submission, [NOT_ACCEPTING])
    clean, problems = contract.check_submission(consultation, submission)
    if problems:
        return "rejected", _rejection(submission, rejection_reasons(problems))
    return "stored", {
        **submission,
        "answers": clean["answers"],
        "equality": clean["equality"],
        "place": clean["place"],
        "derived_place": contract.derived_place(clean["equality"]),
        "consent": consent_record(clean["consent"]["version"]),
    }


def _rejection(submission: dict[str, Any], reasons: list[str]) -> dict[str, Any]:
    return {
        "submission_id": submission["submission_id"],
        "receipt_code": submission["receipt_code"],
        "consultation_id": str(submission["consultation_id"]),
        "submitted_at": submission.get("submitted_at"),
        "reasons": reasons,
    }


def rejection_reasons(errors: dict[str, list[str]]) -> list[str]:
    """Flat, readable reasons for a rejected submission (answer errors name their question)."""
    out = []
    for path, messages in errors.items():
        for message in messages:
            out.append(
                message
                if path.startswith("answers.") and message.startswith("Question ")
                else f"{path}: {message}"
            )
    return out


def response_submitted(response: dict[str, Any], response_id: int) -> dict[str, Any]:
    """What ``response_submitted`` says: where and how it came, and the Census groups
    (and deprivation decile) its equality answers put it in for reach; never what it
    says, never an answer's words or the postcode district."""
    return {
        "consultation_id": response["consultation_id"],
        "response_id": response_id,
        "receipt_code": response["receipt_code"],
        "place": response["place"],
        "channel": response["channel"],
        "submitted_at": response["submitted_at"].isoformat(),
        "equality": population.coarse_groups(response.get("equality")),
    }


# -- privacy (UK GDPR) ------------------------------------------------------------------------


def free_text_ids(questionnaire: dict[str, Any]) -> set[str]:
    """Ids of the questions whose answers are a resident's own words (personal data)."""
    return {
        q["id"] for q in (questionnaire or {}).get("questions", []) if q.get("type") == "free_text"
    }


def response_deleted(deleted: dict[str, Any]) -> dict[str, Any]:
    """What ``response_deleted`` says: which response (its id, as ``response_submitted``
    and ``answer_themed`` gave it), its consultation and place, so counts and themes can
    follow; nothing about the person travels."""
    return {
        "response_id": deleted["id"],
        "consultation_id": deleted["consultation_id"],
        "place": deleted["place"],
    }


def personal_data_matches(
    row: dict[str, Any], receipt_code: str | None, text: str | None
) -> list[dict[str, str]]:
    """Where a stored response matches an erasure search: its receipt code, its free-text
    answers and its postcode district containing ``text`` (case-insensitive). Choices are
    not a person's own words, so they never match."""
    matches = []
    if receipt_code and row["receipt_code"] == receipt_code:
        matches.append({"field": "receipt_code", "text": row["receipt_code"]})
    if not text:
        return matches
    needle = text.casefold()
    free = free_text_ids(row["questionnaire"])
    for qid, value in (row["answers"] or {}).items():
        if qid in free and isinstance(value, str) and needle in value.casefold():
            matches.append({"field": f"answers.{qid}", "text": value})
    district = row["postcode_district"]
    if district and needle in district.casefold():
        matches.append({"field": "equality.postcode_district", "text": district})
    return matches


def purge_before(now: datetime, retention_days: int) -> datetime:
    """Responses to consultations closed before this moment are past retention."""
    return now - timedelta(days=retention_days)


def without_free_text(answers: dict[str, Any], questionnaire: dict[str, Any]) -> dict[str, Any]:
    """The answers a retention purge keeps: choices, scales and rankings, no free text."""
    drop = free_text_ids(questionnaire)
    return {k: v for k, v in (answers or {}).items() if k not in drop}


# -- redaction of free-text answers -----------------------------------------------------------
# What staff are shown of a resident's words is the redactor's text (engage_common.redaction),
# never the original: stored with the response, or, for a response not redacted yet (stored
# before redaction existed), redacted as it is read.


def free_texts(answers: dict[str, Any] | None, questionnaire: dict[str, Any]) -> dict[str, str]:
    """The free-text answers of a response, ``{question id: text}``."""
    free = free_text_ids(questionnaire)
    return {q: v for q, v in (answers or {}).items() if q in free and isinstance(v, str)}


def redaction_records(
    texts: Sequence[dict[str, str]], redactions: Sequence[Any], version: str
) -> list[dict[str, Any]]:
    """For each response's ``free_texts``, in order, what is stored of its redaction:
    ``{"redacted_answers": {qid: text}, "redactions": {qid: [kind, ...]},
    "redactor_version"}``. ``redactions`` are the redactor's answers (``.text``, ``.found``
    with ``.kind``) to every text of every response, in the same order."""
    results = iter(redactions)
    records = []
    for answers in texts:
        redacted, removed = {}, {}
        for qid in answers:
            result = next(results)
            redacted[qid] = result.text
            removed[qid] = [finding.kind for finding in result.found]
        records.append(
            {"redacted_answers": redacted, "redactions": removed, "redactor_version": version}
        )
    return records


def unredacted(row: dict[str, Any], questionnaire: dict[str, Any]) -> dict[str, str]:
    """The free-text answers of a stored response that have no redacted text yet."""
    done = row.get("redacted_answers") or {}
    return {q: v for q, v in free_texts(row["answers"], questionnaire).items() if q not in done}


def shown_answers(
    row: dict[str, Any], questionnaire: dict[str, Any], redacted_now: dict[str, str]
) -> dict[str, Any]:
    """A stored response's answers as staff are shown them: each free-text answer as
    redacted (stored, else ``redacted_now``; neither: left out), everything else as given."""
    free = free_text_ids(questionnaire)
    redacted = {**(row.get("redacted_answers") or {}), **redacted_now}
    return {
        q: (redacted.get(q) if q in free else v)
        for q, v in (row["answers"] or {}).items()
        if q not in free or q in redacted
    }


# -- themes of free-text answers ---------------------------------------------------------------


def seeded_themes(config: Any) -> list[dict[str, Any]]:
    """The themes the feedback service starts with (the contract's ``seeded_themes``), as
    surveys keeps them."""
    return [
        {**{k: v for k, v in t.items() if k != "source"}, "active": True}
        for t in feedback_rules.seeded_themes(config)
    ]


def theme_from_event(event: Any, seeded: dict[str, list[str]]) -> dict[str, Any]:
    """What a feedback ``theme_saved`` event says of a theme, as surveys stores it.
    ``keywords`` is None when the event carries none (the theme keeps the ones it has);
    ``seed_keywords`` are the ones a theme new to surveys starts with then (the common
    topics', from ``seeded``). An event that does not say which theme raises ValueError
    (retried, then dead-lettered)."""
    if not isinstance(event, dict):
        raise ValueError("a theme_saved event must be an object")
    slug, label = event.get("slug"), event.get("label")
    if not isinstance(slug, str) or not THEME_SLUG.match(slug):
        raise ValueError(f"theme_saved without a theme's slug: {slug!r}")
    keywords = event.get("keywords")
    if keywords is not None and not (
        isinstance(keywords, list) and all(isinstance(k, str) for k in keywords)
    ):
        raise ValueError(f"theme_saved {slug} with keywords that are not a list of words")
    try:
        at: datetime | None = datetime.fromisoformat(str(event["occurred_at"]))
    except (KeyError, ValueError):
        at = None
    priority = event.get("priority")
    return {
        "slug": slug,
        "label": label.strip() if isinstance(label, str) and label.strip() else slug,
        "active": event.get("active", True) is not False,
        "priority": priority if isinstance(priority, str) else None,
        "keywords": feedback_rules.clean_keywords(keywords) if keywords is not None else None,
        "seed_keywords": seeded.get(slug, []),
        "event_at": at,
    }


def answer_suggestions(
    redacted: dict[str, str], themes: Sequence[dict[str, Any]], ignore: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """``{question id: {"suggested_themes", "suggested_tone"}}`` for a response's redacted
    free-text answers (``ignore``: the redactor's placeholders, which suggest nothing)."""
    ignore = tuple(ignore)
    return {qid: suggest(text, themes, ignore) for qid, text in redacted.items()}


def suggest(
    text: str, themes: Sequence[dict[str, Any]], ignore: Iterable[str] = ()
) -> dict[str, Any]:
    """``{"suggested_themes": [{theme, label, because}], "suggested_tone"}`` for one
    redacted text (``engage_contracts.suggestions``, as feedback suggests them)."""
    return {
        "suggested_themes": suggestions.themes(text, themes, ignore),
        "suggested_tone": suggestions.tone(text, ignore),
    }


def check_free_text_question(consultation: dict[str, Any], question_id: str) -> None:
    if question_id not in free_text_ids(consultation["questionnaire"]):
        raise ValidationFailed({"question_id": [contract.NOT_FREE_TEXT]})


def check_themes(themes: Sequence[str], in_use: Iterable[str], keep: Iterable[str] = ()) -> None:
    """Every theme is one in use (or one the answer already had: a retired theme stays
    where it was confirmed); ``ValidationFailed`` naming each one that is not."""
    allowed = set(in_use) | set(keep)
    errors = {
        f"themes.{i}": [contract.THEME_NOT_IN_USE]
        for i, slug in enumerate(themes)
        if slug not in allowed
    }
    if errors:
        raise ValidationFailed(errors)


def themes_changed(current: dict[str, Any] | None, themes: list[str], tone: str | None) -> bool:
    """Whether confirming ``themes`` and ``tone`` changes what was confirmed (or is the
    first confirmation)."""
    if current is None or current.get("confirmed_at") is None:
        return True
    return list(current["themes"]) != themes or current.get("tone") != tone


def answer_themed(answer: dict[str, Any], themes: list[str], tone: str | None) -> dict[str, Any]:
    """What ``answer_themed`` says: which answer, its confirmed themes and tone, and where
    and how the response came; never what it says."""
    return {
        "response_id": answer["response_id"],
        "consultation_id": str(answer["consultation_id"]),
        "question_id": answer["question_id"],
        "themes": list(themes),
        "tone": tone,
        "place": answer["place"],
        "channel": answer["channel"],
    }


# -- easy read --------------------------------------------------------------------------------


def read_image(data: bytes) -> dict[str, Any]:
    """What an uploaded picture is, read from its bytes (never its name): its sha256,
    type, size in bytes and pixels. ``ValidationFailed`` naming ``data`` unless it decodes
    as the PNG or JPEG its signature says, within ``IMAGE_MAX_PIXELS`` a side."""
    claimed = contract.image_type(data)
    problem = None if claimed else contract.NOT_AN_IMAGE
    if claimed:
        try:
            with Image.open(io.BytesIO(data)) as picture:
                kind, (width, height) = picture.format, picture.size
                picture.verify()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            problem = "is not a picture we can read: the file may be damaged"
        else:
            if {"PNG": "image/png", "JPEG": "image/jpeg"}.get(kind or "") != claimed:
                problem = contract.NOT_AN_IMAGE
            elif max(width, height) > contract.IMAGE_MAX_PIXELS:
                problem = f"must be at most {contract.IMAGE_MAX_PIXELS} pixels on each side"
    if problem:
        raise ValidationFailed({"data": [problem]})
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": claimed,
        "bytes": len(data),
        "width": width,
        "height": height,
    }


def check_easy_read_change(consultation: dict[str, Any]) -> None:
    """Easy read is text residents read: it changes while text may (drafts and open
    consultations), not once closed."""
    if consultation["status"] == "closed":
        raise Conflict("A closed consultation cannot be changed; you can only publish its outcome")


def easy_read_images(easy_read: dict[str, Any] | None) -> set[str]:
    """The sha256 of every picture an easy-read version names."""
    items = [*(easy_read or {}).get("points", []), *(easy_read or {}).get("questions", [])]
    return {item["image"] for item in items if item.get("image")}


def set_easy_read(
    consultation: dict[str, Any],
    easy_read: dict[str, Any] | None,
    images: dict[str, dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The consultation with ``easy_read`` (``EasyReadSchema`` loaded; None removes it),
    checked against its questions and its uploaded ``images``."""
    check_easy_read_change(consultation)
    if easy_read is not None:
        easy_read, errors = contract.check_easy_read(
            easy_read, consultation["questionnaire"], images
        )
        if errors:
            raise ValidationFailed(errors)
    return {**consultation, "easy_read": easy_read, "updated_at": now}
