"""Feedback's decisions, pure (no I/O): what a queued message becomes (stored, rejected or
a duplicate of an import), the themes and tone suggested for it, the workflow (who may
move an item where, and what that records and publishes), response targets, search
pages, the themes seeded from the ICS configuration, the emails' wording and what a
privacy search matches or a retention purge drops.

The rules the gateway applies too (``check_feedback``, ``can_move``, the schemas) are in
the contract, ``engage_contracts.feedback``, and the suggestions surveys makes too in
``engage_contracts.suggestions``; these are feedback's own. Items are plain
dicts as the store returns them; ``now`` is always a parameter, so the rules are
testable without clocks.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from marshmallow import ValidationError

from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import feedback as contract
from engage_contracts import population, suggestions
from engage_contracts.base import flatten_errors
from engage_contracts.ics import Ics
from engage_contracts.reference import consent_record
from engage_contracts.shared import SELF_SERVICE_CHANNELS

Json = dict[str, Any]
NOT_ENGLISH = "not-checked-automatically"
STAFF_ITEM_PATH = "/api/v1/staff/feedback/{id}"
SAFEGUARDING_QUEUE_PATH = "/api/v1/staff/feedback/safeguarding"
STOP_EMAILS_PATH = "/feedback/receipts/{code}/stop-emails"
RECEIPT_PATH = "/feedback/receipts/{code}"


def canonical_id(value: Any) -> str | None:
    """``value`` as a canonical UUID string, or None when it is not one (names nothing)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


# -- intake -----------------------------------------------------------------------------------


def read_message(body: Any) -> tuple[Json, dict[str, list[str]]]:
    """A queued message as ``(message, errors)``.

    Well formed (``FeedbackMessageSchema``): the loaded message and no errors. Shaped
    wrong: what it can be recorded under (``submission_id``, ``receipt_code``, ``kind``,
    ``submitted_at`` as far as they can be read) and the schema's errors. Without a valid
    ``submission_id`` and ``receipt_code`` there is nothing to record it under: raises
    ``ValueError("unidentifiable submission: ...")``, which ``consume`` retries and then
    dead-letters.
    """
    try:
        message = contract.FeedbackMessageSchema().load(body)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
    else:
        return {
            **message,
            "submission_id": str(message["submission_id"]),
            "consultation_id": str_or_none(message.get("consultation_id")),
        }, {}
    raw = body if isinstance(body, dict) else {}
    submission_id = canonical_id(raw.get("submission_id"))
    receipt = raw.get("receipt_code")
    readable = isinstance(receipt, str) and receipt.strip() and "receipt_code" not in errors
    if submission_id is None or not readable:
        raise ValueError(f"unidentifiable submission: {errors}")
    try:
        submitted_at: datetime | None = datetime.fromisoformat(str(raw.get("submitted_at")))
    except ValueError:
        submitted_at = None
    if submitted_at is not None and submitted_at.tzinfo is None:
        submitted_at = None
    kind = raw.get("kind") if raw.get("kind") in contract.KINDS else None
    return {
        "submission_id": submission_id,
        "receipt_code": receipt,
        "kind": kind,
        "submitted_at": submitted_at,
    }, errors


def str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


Verdict = Literal["stored", "rejected"]


def judge_message(message: Json, errors: dict[str, list[str]]) -> tuple[Verdict, Json]:
    """What a read message becomes: ``("stored", feedback)`` cleaned by the contract's
    rules (``check_feedback``: equality, consent, postcode district, the place worked out
    from it) with the consent record in the server's wording, or ``("rejected",
    rejection)`` with the reasons its receipt gives."""
    if errors:
        return "rejected", rejection(message, reasons(errors))
    clean, problems = contract.check_feedback(message)
    if problems:
        return "rejected", rejection(message, reasons(problems))
    return "stored", {**clean, "consent": consent_record(clean["consent"]["version"])}


def rejection(message: Json, why: list[str]) -> Json:
    return {
        "submission_id": message["submission_id"],
        "receipt_code": message["receipt_code"],
        "kind": message.get("kind"),
        "submitted_at": message.get("submitted_at"),
        "reasons": why,
    }


def reasons(errors: Mapping[str, list[str]]) -> list[str]:
    """Flat, readable reasons: ``"field: reason"``."""
    return [f"{path}: {message}" for path, messages in errors.items() for message in messages]


def is_import(feedback: Json) -> bool:
    """Staff entered it from another channel (a call, a letter, a spreadsheet)."""
    return feedback["channel"] not in SELF_SERVICE_CHANNELS


def dedupe_key(feedback: Json) -> tuple[str, str] | None:
    """What an import is recognised by when it comes again: its ``source_id`` (a row of
    a partner's spreadsheet) or, without one, its ``content_hash``. None: never a
    duplicate (a resident's own feedback, or an import with neither)."""
    if not is_import(feedback):
        return None
    if feedback.get("source_id"):
        return "source_id", feedback["source_id"]
    if feedback.get("content_hash"):
        return "content_hash", feedback["content_hash"]
    return None


def duplicate(feedback: Json, original_id: str) -> Json:
    """The record of an import that stored nothing because ``original_id`` has it."""
    field_name, _ = dedupe_key(feedback) or ("content_hash", "")
    what = "row (source_id)" if field_name == "source_id" else "content"
    return {
        **rejection(feedback, [f"the same {what} was already imported"]),
        "duplicate_of": original_id,
    }


@dataclass(frozen=True)
class Checks:
    """What the redactor, the safeguarding check and the language check made of an item
    (the shape ``engage_common.redaction``/``safeguarding``/``language`` answer in)."""

    about: Any  # Redaction of ``about``
    text: Any  # Redaction of ``text``
    concern: Any  # safeguarding Concern
    english: bool


def new_item(
    feedback: Json, feedback_id: str, checks: Checks, themes: Sequence[Json], now: datetime
) -> Json:
    """A stored item from cleaned feedback: redacted, checked, with suggested themes (from
    the active ``themes``) and tone, status ``received``."""
    redacted = checks.text.text
    placeholders = [f.replacement for r in (checks.text, checks.about) for f in r.found]
    words = f"{checks.about.text}\n{redacted}"
    return {
        "id": feedback_id,
        "version": 1,
        "submission_id": feedback["submission_id"],
        "receipt_code": feedback["receipt_code"],
        "kind": feedback["kind"],
        "about": checks.about.text,
        "about_original": feedback["about"],
        "text": redacted,
        "text_original": feedback["text"],
        "redactions": [
            {"in": name, "kind": f.kind, "start": f.start, "end": f.end}
            for name, r in (("about", checks.about), ("text", checks.text))
            for f in r.found
        ],
        "redactor_version": str(checks.text.version),
        "language_check": "checked" if checks.english else NOT_ENGLISH,
        "urgent": bool(checks.concern.urgent),
        "safeguarding_categories": list(checks.concern.categories),
        # what flagged it, as far as staff may read it: a phrase that held a detail the
        # redactor removed ("my husband John hits me") is not shown
        "safeguarding_matches": [m for m in checks.concern.matches if m in words],
        "place": feedback.get("place"),
        "postcode_district": feedback.get("postcode_district"),
        "consultation_id": str_or_none(feedback.get("consultation_id")),
        "channel": feedback["channel"],
        "entered_by": feedback.get("entered_by"),
        "source_id": feedback.get("source_id") if is_import(feedback) else None,
        "content_hash": feedback.get("content_hash"),
        "status": "received",
        "suggested_themes": suggestions.themes(words, themes, placeholders),
        "themes": [],
        "suggested_tone": suggestions.tone(words, placeholders),
        "tone": None,
        "may_quote": feedback["may_quote"],
        "reply_by": feedback["reply_by"],
        "email": feedback.get("email"),
        "equality": feedback.get("equality"),
        "consent": feedback.get("consent"),
        "received_at": feedback["submitted_at"],
        "updated_at": now,
    }


def redaction_kinds(redactions: Iterable[Json]) -> list[str]:
    """What was removed, as staff are told: the kinds, each once (``["email", "name"]``)."""
    return sorted({r["kind"] for r in redactions or ()})


# -- workflow ---------------------------------------------------------------------------------

CHANGED_MEANWHILE = "This feedback was changed by someone else since you opened it: reload it"


@dataclass
class Change:
    """What a change to an item does: the item as it becomes (``None``: nothing changed),
    the history entries and the events (``[(event_type, payload)]``) it records."""

    item: Json | None
    history: list[Json] = field(default_factory=list)
    events: list[tuple[str, Json]] = field(default_factory=list)


def entry(actor: Json | None, action: str, detail: Json, now: datetime) -> Json:
    """A history entry (``actor`` None: the system)."""
    return {
        "at": now,
        "staff_id": actor["staff_id"] if actor else None,
        "by": actor["name"] if actor else None,
        "action": action,
        "detail": detail,
    }


def intake_history(item: Json, now: datetime) -> list[Json]:
    """How an item's history starts: received from the resident, or entered by staff for
    them; flagged when the safeguarding check found a concern."""
    entered_by = item.get("entered_by")
    first = (
        entry(entered_by, "entered for the resident", {"channel": item["channel"]}, now)
        if entered_by
        else entry(None, "received", {"channel": item["channel"]}, now)
    )
    if not item["urgent"]:
        return [first]
    flagged_entry = entry(
        None, "flagged urgent", {"categories": list(item["safeguarding_categories"])}, now
    )
    return [first, flagged_entry]


def alerted(outcome: str, now: datetime) -> Json:
    """``outcome``: the notifier's (sent; duplicate: it had gone already; opted-out)."""
    action = (
        "safeguarding contact NOT alerted: their address has opted out of email"
        if outcome == "opted-out"
        else "safeguarding contact alerted"
    )
    return entry(None, action, {"email": outcome}, now)


def reply_emailed(outcome: str, mail_version: int, now: datetime) -> Json:
    action = (
        "reply not emailed: the resident stopped emails"
        if outcome == "opted-out"
        else "reply emailed"
    )
    return entry(None, action, {"email": outcome, "version": mail_version}, now)


def purged(now: datetime) -> Json:
    return entry(None, "personal details purged after the retention period", {}, now)


def check_version(item: Json, version: int) -> None:
    if item["version"] != version:
        raise Conflict(CHANGED_MEANWHILE)


def check_move(item: Json, wanted: str) -> None:
    if not contract.can_move(item["status"], wanted):
        allowed = ", ".join(contract.NEXT_STATUSES.get(item["status"], ())) or "nothing"
        raise Conflict(
            f"Feedback that is {item['status']} cannot become {wanted} (it can become: {allowed})"
        )


def _moved(item: Json, status: str, now: datetime) -> Json:
    """The item in ``status``; ``closed_at`` starts the retention clock (reopening stops it)."""
    return {**item, "status": status, "closed_at": now if status == "closed" else None}


def apply_triage(
    item: Json, change: Json, actor: Json, active_themes: Iterable[str], now: datetime
) -> Change:
    """A staff member's change (``TriageSchema``) to ``item``, read at ``change.version``:
    a status move the workflow allows, confirmed themes (replacing them; a retired theme
    may stay where it was but not be added), the tone, the place, a note."""
    check_version(item, change["version"])
    updated, detail = dict(item), {}
    events: list[tuple[str, Json]] = []
    if "status" in change and change["status"] != item["status"]:
        check_move(item, change["status"])
        updated = _moved(updated, change["status"], now)
        detail["status"] = {"from": item["status"], "to": change["status"]}
    if "themes" in change:
        themes = list(dict.fromkeys(change["themes"]))
        check_themes(themes, active_themes, keep=item["themes"], field_name="themes")
        if themes != list(item["themes"]):
            updated["themes"], detail["themes"] = themes, themes
    for name in ("tone", "place"):
        if name in change and change[name] != item.get(name):
            updated[name], detail[name] = change[name], change[name]
    if change.get("note"):
        detail["note"] = change["note"]
    if not detail:
        return Change(None)
    if "status" in detail:
        events.append(("feedback_status_changed", status_changed(updated)))
    if {"themes", "tone", "place"} & set(detail):
        events.append(("feedback_themed", themed(updated)))
    return Change(_bumped(updated, now), [entry(actor, "triaged", detail, now)], events)


def check_themes(
    themes: Sequence[str], active: Iterable[str], keep: Iterable[str] = (), field_name: str = ""
) -> None:
    """Every theme is one we have and still use (or one the item already had)."""
    allowed = set(active) | set(keep)
    errors = {
        f"{field_name}.{i}": ["is not a theme in use: see list_themes"]
        for i, slug in enumerate(themes)
        if slug not in allowed
    }
    if errors:
        raise ValidationFailed(errors)


def apply_bulk(item: Json, change: Json, actor: Json, now: datetime) -> Change:
    """One item of a bulk change (``BulkChangeSchema``): a status and/or themes added.
    ``Conflict`` when the workflow does not allow the move for this item."""
    updated, detail = dict(item), {}
    events: list[tuple[str, Json]] = []
    wanted = change.get("status")
    if wanted and wanted != item["status"]:
        check_move(item, wanted)
        updated = _moved(updated, wanted, now)
        detail["status"] = {"from": item["status"], "to": wanted}
        events.append(("feedback_status_changed", status_changed(updated)))
    added = [t for t in dict.fromkeys(change.get("add_themes") or ()) if t not in item["themes"]]
    if added:
        if len(item["themes"]) + len(added) > contract.MAX_THEMES:
            raise Conflict(f"An item has at most {contract.MAX_THEMES} themes")
        updated["themes"] = [*item["themes"], *added]
        detail["added_themes"] = added
        events.append(("feedback_themed", themed(updated)))
    if not detail:
        return Change(None)
    if change.get("note"):
        detail["note"] = change["note"]
    return Change(_bumped(updated, now), [entry(actor, "bulk change", detail, now)], events)


def apply_reply(item: Json, reply: Json, actor: Json, has_email: bool, now: datetime) -> Change:
    """The public reply (``ReplySchema``): visible with the receipt code, the item
    ``responded``, and emailed when the resident asked for that and we still have their
    address (``reply_mail_version``: which reply the email is for)."""
    check_version(item, reply["version"])
    check_move(item, "responded")
    updated = _bumped({**_moved(item, "responded", now), "public_reply": reply["text"]}, now)
    updated["replied_at"] = now
    emailed = item["reply_by"] == "email" and has_email
    updated["reply_mail_version"] = updated["version"] if emailed else None
    events = []
    if item["status"] != "responded":
        events.append(("feedback_status_changed", status_changed(updated)))
    detail = {"status": {"from": item["status"], "to": "responded"}, "emailed": emailed}
    return Change(updated, [entry(actor, "replied", detail, now)], events)


def approve_quote(item: Json, approval: Json, actor: Json, now: datetime) -> Change:
    """A quote for publication (``QuoteApprovalSchema``): only when the resident allowed
    it, and only redacted text: all of it, or a part of it."""
    check_version(item, approval["version"])
    if not item["may_quote"]:
        raise Conflict("The resident did not agree to be quoted")
    quote = (approval.get("text") or "").strip() or item["text"].strip()
    if quote not in item["text"]:
        raise ValidationFailed({"text": ["must be part of the redacted text, as it is"]})
    by = {"staff_id": actor["staff_id"], "name": actor["name"]}
    updated = _bumped(
        {**item, "quote": quote, "quote_approved": {"by": by, "at": now.isoformat()}}, now
    )
    published = {
        "feedback_id": str(item["id"]),
        "quote": quote,
        "place": item["place"],
        "themes": list(item["themes"]),
        "consultation_id": str_or_none(item.get("consultation_id")),
    }
    return Change(
        updated,
        [entry(actor, "quote approved", {"quote": quote}, now)],
        [("quote_published", published)],
    )


def _bumped(item: Json, now: datetime) -> Json:
    return {**item, "version": item["version"] + 1, "updated_at": now}


def waited_days(item: Json, now: datetime) -> int:
    return max(0, (now - item["received_at"]).days)


def overdue(item: Json, now: datetime, targets: Mapping[str, int]) -> bool:
    """Past the ICS's response target: to triage a received item, to reply to a triaged
    one (both counted from when it was received)."""
    days = target_days(item["status"], targets)
    return days is not None and now - item["received_at"] > timedelta(days=days)


def target_days(status: str, targets: Mapping[str, int]) -> int | None:
    if status == "received":
        return targets["feedback_triage_days"]
    if status == "triaged":
        return targets["feedback_reply_days"]
    return None


# -- events (EVENT_FIELDS; nothing personal) --------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def received(item: Json) -> Json:
    return {
        "feedback_id": str(item["id"]),
        "kind": item["kind"],
        "place": item["place"],
        "channel": item["channel"],
        "consultation_id": str_or_none(item.get("consultation_id")),
        "received_at": _iso(item["received_at"]),
        "urgent": item["urgent"],
        # for reach: the Census groups and IMD decile only, never the answers themselves
        "equality": population.coarse_groups(item.get("equality")),
    }


def themed(item: Json) -> Json:
    return {
        "feedback_id": str(item["id"]),
        "themes": list(item["themes"]),
        "tone": item.get("tone"),
        "place": item["place"],
        "channel": item["channel"],
        "consultation_id": str_or_none(item.get("consultation_id")),
        "received_at": _iso(item["received_at"]),
    }


def status_changed(item: Json) -> Json:
    return {"feedback_id": str(item["id"]), "status": item["status"]}


def deleted(feedback_id: Any) -> Json:
    return {"feedback_id": str(feedback_id)}


def flagged(item: Json) -> Json:
    return {"feedback_id": str(item["id"]), "categories": list(item["safeguarding_categories"])}


def theme_saved(theme: Json) -> Json:
    return {
        "slug": theme["slug"],
        "label": theme["label"],
        "active": theme["active"],
        "priority": theme.get("priority"),
    }


# -- themes -----------------------------------------------------------------------------------


def seeded_themes(config: Ics) -> list[Json]:
    """The contract's seeded themes (the ICS's priorities and ambitions, common topics)
    as feedback stores them."""
    return [
        new_theme(
            {"label": t["label"], "description": "", "keywords": t["keywords"]},
            t["source"],
            slug=t["slug"],
            priority=t["priority"],
        )
        for t in contract.seeded_themes(config)
    ]


def new_theme(
    data: Json, source: str, slug: str | None = None, priority: str | None = None
) -> Json:
    """A theme from ``ThemeInputSchema`` data; its slug from its label unless given."""
    slug = slug or contract.theme_slug(data["label"])
    if not contract.THEME_SLUG.match(slug):
        raise ValidationFailed({"label": ["needs at least one letter or digit"]})
    return {
        "slug": slug,
        "label": data["label"].strip(),
        "description": data.get("description") or "",
        "keywords": contract.clean_keywords(data.get("keywords") or ()),
        "priority": data.get("priority", priority),
        "source": source,
        "active": True,
    }


def change_theme(theme: Json, changes: Json) -> Json:
    """A theme renamed, re-described, given other keywords, retired or brought back
    (``ThemeChangeSchema``); the slug stays, so confirmed themes still name it."""
    updated = {**theme, **{k: v for k, v in changes.items() if k != "keywords"}}
    if "label" in changes:
        updated["label"] = changes["label"].strip()
        if not updated["label"]:
            raise ValidationFailed({"label": ["cannot be blank"]})
    if "keywords" in changes:
        updated["keywords"] = contract.clean_keywords(changes["keywords"])
    return updated


# -- search pages -----------------------------------------------------------------------------

BAD_CURSOR = "is not a page of this list: pass the 'next' of the page before"


def _encode(values: list[Any]) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(value: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed({"after": [BAD_CURSOR]}) from None
    if not isinstance(values, list) or len(values) != size:
        raise ValidationFailed({"after": [BAD_CURSOR]})
    return values


def _position(moment: Any, feedback_id: Any) -> tuple[datetime, str]:
    try:
        at = datetime.fromisoformat(moment)
    except (TypeError, ValueError):
        raise ValidationFailed({"after": [BAD_CURSOR]}) from None
    canonical = canonical_id(feedback_id)
    if at.tzinfo is None or canonical is None:
        raise ValidationFailed({"after": [BAD_CURSOR]})
    return at, canonical


def cursor(item: Json) -> str:
    """A search page's opaque ``next``: the last item's (received_at, id)."""
    return _encode([item["received_at"].isoformat(), str(item["id"])])


def read_cursor(value: str | None) -> tuple[datetime, str] | None:
    """The position a search's ``next`` names; ``ValidationFailed`` for one we never gave."""
    return _position(*_decode(value, 2)) if value else None


def queue_cursor(item: Json) -> str:
    """The triage queue's ``next``: the last item's (needs_attention, received_at, id)."""
    return _encode(
        [bool(item["needs_attention"]), item["received_at"].isoformat(), str(item["id"])]
    )


def read_queue_cursor(value: str | None) -> tuple[bool, datetime, str] | None:
    if not value:
        return None
    attention, moment, feedback_id = _decode(value, 3)
    if not isinstance(attention, bool):
        raise ValidationFailed({"after": [BAD_CURSOR]})
    return (attention, *_position(moment, feedback_id))


def page_of(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``) and whether there are more."""
    return rows[:limit], len(rows) > limit


# -- email ------------------------------------------------------------------------------------


def safeguarding_email(item: Json, public_url: str, ics_name: str) -> tuple[str, str, str]:
    """The alert to the ICS's safeguarding contact: the categories and a link for staff,
    never the resident's words. The notifier puts a "stop" link on every message; for
    this one it is the safeguarding queue, since the contact is the ICS configuration's
    to change, not a list to leave."""
    base = public_url.rstrip("/")
    link = base + STAFF_ITEM_PATH.format(id=item["id"])
    categories = ", ".join(item["safeguarding_categories"]) or "unspecified"
    received_at = item["received_at"].astimezone(UTC)
    subject = f"Safeguarding: feedback flagged urgent ({categories})"
    body = (
        f"Feedback received by {ics_name} on {received_at:%d %B %Y at %H:%M} (UTC) "
        "was flagged as a possible safeguarding concern.\n\n"
        f"Categories: {categories}\n\n"
        f"Read it (staff sign-in needed):\n{link}\n\n"
        "This email does not contain what the resident wrote. Please act on it today."
    )
    return subject, body, base + SAFEGUARDING_QUEUE_PATH


def reply_email(item: Json, public_url: str, ics_name: str) -> tuple[str, str, str]:
    """A reply by email: the public reply, where to see it, and the link that stops
    emails (the notifier adds it to the body, and to the List-Unsubscribe header)."""
    base = public_url.rstrip("/")
    code = item["receipt_code"]
    subject = f"A reply to your feedback ({code})"
    body = (
        f"Thank you for your feedback to {ics_name}. Our reply:\n\n"
        f"{item['public_reply']}\n\n"
        f"See your feedback and this reply with your receipt code {code}:\n"
        f"{base + RECEIPT_PATH.format(code=code)}\n"
    )
    return subject, body, base + STOP_EMAILS_PATH.format(code=code)


# -- privacy (UK GDPR) ------------------------------------------------------------------------


def personal_data_matches(row: Json, receipt_code: str | None, text: str | None) -> list[Json]:
    """Where an item matches an erasure search: its receipt code, or ``text``
    (case-insensitive) in what the resident wrote, their email or postcode district."""
    matches = []
    if receipt_code and row["receipt_code"] == receipt_code:
        matches.append({"field": "receipt_code", "text": row["receipt_code"]})
    if not text:
        return matches
    needle = text.casefold()
    for name, column in (
        ("text", "text_original"),
        ("about", "about_original"),
        ("email", "email"),
        ("postcode_district", "postcode_district"),
    ):
        value = row.get(column)
        if value and needle in value.casefold():
            matches.append({"field": name, "text": value})
    return matches


def purge_before(now: datetime, retention_days: int) -> datetime:
    """Items closed before this moment are past retention."""
    return now - timedelta(days=retention_days)
