"""Outcomes' decisions, pure (no I/O): what a new outcome, a change to its record and a
progress update become (the history is only ever added to), when a parent would become its
own ancestor, progress rolled up from children, what an import row does, what surveys'
published consultation outcomes become, what the events say, the digest's wording, and
when a follower's address is past retention.

The rules the gateway applies too (the schemas, ``check_status``, ``rolled_up``,
``evidence_key``) are in the contract, ``engage_contracts.outcomes``; these are the
service's own. Outcomes are plain dicts as the store returns them (``evidence`` being the
list of links); ``now`` is always a parameter, so the rules are testable without clocks.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import outcomes as contract
from engage_contracts.shared import as_localised, localised

Json = dict[str, Any]
UK = ZoneInfo("Europe/London")
OUTCOME_PATH = "/you-said-we-did/outcomes/{id}"
STOP_PATH = "/outcomes/stop/{token}"
# The record: what update_outcome and an import change. Status, progress and reason move
# only with a history entry.
RECORD = (
    "kind", "reference", "title", "description", "you_said", "partner", "owner", "due_date",
    "places", "priorities", "themes", "evidence", "parent_id",
)  # fmt: skip
CYCLE = "an outcome cannot be under itself or under one of its own children"
MOVED_NOTE = {"en": "From the consultation's published outcome"}
# What a consultation's outcome, published again in surveys, changes of a decision moved
# over: staff's own additions (partner, owner, due date, evidence, progress) stay.
MOVED_FIELDS = ("title", "you_said", "places", "priorities")


def canonical_id(value: Any) -> str | None:
    """``value`` as a canonical UUID string, or None when it is not one (names nothing)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def uk_day(now: datetime) -> date:
    """The UK calendar day ``now`` falls on (a digest goes at most once a day)."""
    return now.astimezone(UK).date()


# -- evidence ---------------------------------------------------------------------------------


def clean_link(link: Mapping[str, Any]) -> Json:
    """A loaded ``EvidenceLinkSchema`` as stored and shown: only the ids it has, as text."""
    return {k: str(v) for k, v in link.items() if v is not None}


def clean_links(links: Iterable[Mapping[str, Any]]) -> list[Json]:
    """Links without repeats (the same evidence twice is once), in the order given."""
    seen: dict[str, Json] = {}
    for link in links:
        cleaned = clean_link(link)
        seen.setdefault(contract.evidence_key(cleaned), cleaned)
    return list(seen.values())


def evidence_rows(links: Sequence[Mapping[str, Any]]) -> list[Json]:
    """What the store keeps per link: its key, kind, consultation (for consultation and
    question links) and position."""
    return [
        {
            "evidence_key": contract.evidence_key(link),
            "kind": link["kind"],
            "consultation_id": link.get("consultation_id")
            if link["kind"] in ("consultation", "question")
            else None,
            "position": position,
            "link": dict(link),
        }
        for position, link in enumerate(links)
    ]


# -- outcomes ---------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def entry(
    actor: Json | None,
    status: str,
    progress: int,
    now: datetime,
    on: date | None = None,
    note: Any = None,
    reason: Any = None,
) -> Json:
    """One history entry (``actor`` None: the system)."""
    return {
        "at": now,
        "on": on or uk_day(now),
        "staff_id": actor["staff_id"] if actor else None,
        "by": actor["name"] if actor else None,
        "status": status,
        "progress": progress,
        "note": note,
        "reason": reason,
    }


def reached_final(before: Json | None, status: str, now: datetime) -> datetime | None:
    """When the outcome reached its final status (kept while it stays final)."""
    if status not in contract.FINAL_STATUSES:
        return None
    if before is not None and before["status"] in contract.FINAL_STATUSES:
        return before.get("final_at") or now
    return now


def new_outcome(
    clean: Json, outcome_id: str, actor: Json | None, now: datetime
) -> tuple[Json, Json]:
    """A draft from ``OutcomeInputSchema`` and its first history entry."""
    outcome = {name: clean[name] for name in RECORD}
    outcome.update(
        id=outcome_id,
        evidence=clean_links(clean["evidence"]),
        parent_id=canonical_id(clean["parent_id"]) if clean["parent_id"] else None,
        status=clean["status"],
        progress=clean["progress"],
        reason=clean["reason"],
        published_at=None,
        final_at=reached_final(None, clean["status"], now),
        created_at=now,
        updated_at=now,
    )
    return outcome, entry(actor, clean["status"], clean["progress"], now, reason=clean["reason"])


def change_record(outcome: Json, changes: Json, now: datetime) -> Json:
    """The outcome with ``changes`` (``OutcomeChangeSchema``) to its record; unchanged
    (the same dict) when they change nothing."""
    updated = dict(outcome)
    for name, value in changes.items():
        if name == "evidence":
            value = clean_links(value)
        elif name == "parent_id":
            value = canonical_id(value) if value else None
        updated[name] = value
    if all(updated[name] == outcome[name] for name in RECORD):
        return outcome
    updated["updated_at"] = now
    return updated


def check_parent(
    outcome_id: str, parent_id: str | None, ancestors_of_parent: Iterable[str]
) -> None:
    """A parent may not be the outcome itself or one of its descendants: ``Conflict``."""
    if parent_id is None:
        return
    if parent_id == outcome_id or outcome_id in set(ancestors_of_parent):
        raise Conflict(f"That parent would make a loop: {CYCLE}", {"parent_id": [CYCLE]})


def apply_progress(
    outcome: Json, update: Json, actor: Json | None, now: datetime, whole: bool = False
) -> tuple[Json, Json]:
    """A progress update (``ProgressUpdateSchema``): the outcome's new status, progress and
    reason, and the entry added to its history. A reason not given stays while the status
    does; ``whole``: the update's reason is the reason, given or not (an import row)."""
    status = update.get("status") or outcome["status"]
    progress = update["progress"] if update.get("progress") is not None else outcome["progress"]
    if whole or update.get("reason") is not None:
        reason = update["reason"]
    elif status == outcome["status"]:
        reason = outcome["reason"]
    else:
        reason = None
    errors = contract.check_status(status, localised(reason))
    if errors:
        raise ValidationFailed(errors)
    updated = {
        **outcome,
        "status": status,
        "progress": progress,
        "reason": reason,
        "final_at": reached_final(outcome, status, now),
        "updated_at": now,
    }
    note = update.get("note")
    made = entry(actor, status, progress, now, on=update.get("at"), note=note, reason=reason)
    return updated, made


def moves(before: Json, after: Json) -> bool:
    """Whether status, progress or reason differ (a history entry is due)."""
    return any(before[k] != after[k] for k in ("status", "progress", "reason"))


# -- what changes tell the world --------------------------------------------------------------


def event_payload(outcome: Json, event_type: str) -> Json:
    """``EVENT_FIELDS[event_type]``: the public facts of a published outcome (its own
    progress; a read model rolls parents up from ``parent_id``)."""
    values = {
        "outcome_id": str(outcome["id"]),
        "kind": outcome["kind"],
        "title": outcome["title"],
        "status": outcome["status"],
        "progress": outcome["progress"],
        "places": list(outcome["places"]),
        "priorities": list(outcome["priorities"]),
        "themes": list(outcome["themes"]),
        "evidence": [dict(link) for link in outcome["evidence"]],
        "parent_id": str(outcome["parent_id"]) if outcome["parent_id"] else None,
        "partner": outcome["partner"],
        "due_date": _iso(outcome["due_date"]),
        "reason": outcome["reason"],
    }
    return {name: values[name] for name in contract.EVENT_FIELDS[event_type]}


@dataclass
class Effects:
    """What a change to a published outcome records: events, and notices to followers."""

    events: list[tuple[str, Json]] = field(default_factory=list)
    notice: str | None = None  # "published" / "changed": followers are told


def published(outcome: Json) -> Effects:
    return Effects(
        [("outcome_published", event_payload(outcome, "outcome_published"))], "published"
    )


def changed(before: Json, after: Json) -> Effects:
    """A published outcome that changed: ``outcome_changed`` when anything it says did,
    and followers told when its status moved. A draft: nothing (it is nobody's yet)."""
    if after.get("published_at") is None:
        return Effects()
    old, new = event_payload(before, "outcome_changed"), event_payload(after, "outcome_changed")
    if old == new:
        return Effects()
    notice = "changed" if before["status"] != after["status"] else None
    return Effects([("outcome_changed", new)], notice)


# -- progress rolled up -----------------------------------------------------------------------


def roll_up(nodes: Mapping[str, Json]) -> dict[str, int]:
    """Every node's progress, rolled up from its children (``contract.rolled_up``), deepest
    first. ``nodes``: id -> {parent_id, status, progress}; a parent outside ``nodes`` is
    ignored (its own progress is not asked for)."""
    children: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        parent = node.get("parent_id")
        if parent is not None and str(parent) in nodes:
            children.setdefault(str(parent), []).append(node_id)
    done: dict[str, int] = {}

    def progress(node_id: str, path: frozenset[str]) -> int:
        if node_id in done:
            return done[node_id]
        kids = [k for k in children.get(node_id, []) if k not in path]  # a loop never recurses
        rolled = [{"progress": progress(k, path | {k}), "status": nodes[k]["status"]} for k in kids]
        done[node_id] = contract.rolled_up(nodes[node_id]["progress"], rolled)
        return done[node_id]

    for node_id in nodes:
        progress(node_id, frozenset({node_id}))
    return done


# -- imports ----------------------------------------------------------------------------------


def reason_text(errors: Mapping[str, Sequence[str]]) -> str:
    """A row's errors as one line: ``title: is required; partner: is not ...``."""
    return "; ".join(
        f"{path}: {', '.join(reasons)}" if path != "_schema" else ", ".join(reasons)
        for path, reasons in errors.items()
    )


def row_line(row: Any, index: int) -> int:
    """The line a row says it came from (else its position, counting from 1)."""
    line = row.get("line") if isinstance(row, Mapping) else None
    return line if isinstance(line, int) and not isinstance(line, bool) else index + 1


def import_changes(current: Json, row: Json) -> tuple[Json, Json | None]:
    """What a row changes of an outcome it names by reference: the record changes, and
    the progress update to add when its status, progress or reason differ (else None)."""
    changes = {name: row[name] for name in RECORD if name != "reference"}
    update = {"status": row["status"], "progress": row["progress"], "reason": row["reason"]}
    if all(current[k] == update[k] for k in update):
        return changes, None
    return changes, update


def moved_changes(current: Json, record: Json) -> tuple[Json, Json | None]:
    """What a decision published again in surveys changes of the outcome it became: its
    words, places and priorities, and a progress update when its status or reason moved
    (progress 100 once done; otherwise staff's own figure stays)."""
    changes = {name: record[name] for name in MOVED_FIELDS}
    if current["status"] == record["status"] and current["reason"] == record["reason"]:
        return changes, None
    progress = 100 if record["status"] == "done" else current["progress"]
    return changes, {"status": record["status"], "progress": progress, "reason": record["reason"]}


# -- consultation outcomes moved from surveys -------------------------------------------------


def consultation_reference(consultation_id: str, number: int) -> str:
    return f"consultation:{consultation_id}:{number}"


def read_survey_outcome(event: Any) -> Json:
    """Surveys' ``outcome_published`` as what it moves over: ``{event_id, occurred_at,
    consultation_id, places, priorities, published_at, decisions}``; ``ValidationFailed``
    when it is not one."""
    errors: dict[str, list[str]] = {}
    if not isinstance(event, Mapping):
        raise ValidationFailed({"_schema": ["is not an event"]})
    consultation_id = canonical_id(event.get("consultation_id"))
    if consultation_id is None:
        errors["consultation_id"] = ["is not a consultation id"]
    outcome = event.get("outcome")
    decisions = outcome.get("decisions") if isinstance(outcome, Mapping) else None
    if not isinstance(decisions, list):
        errors["outcome.decisions"] = ["must be a list of decisions"]
        decisions = []
    for i, decision in enumerate(decisions):
        if not isinstance(decision, Mapping) or not localised(decision.get("we_did")).strip():
            errors[f"outcome.decisions.{i}.we_did"] = ["is required"]
        elif decision.get("status") not in contract.STATUSES:
            errors[f"outcome.decisions.{i}.status"] = ["is not a status we know"]
        elif contract.check_status(decision["status"], localised(decision.get("reason"))):
            errors[f"outcome.decisions.{i}.reason"] = ["say why it was not taken forward"]
    occurred = _moment(event.get("occurred_at"))
    if occurred is None:
        errors["occurred_at"] = ["must be a date and time with a time zone"]
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(outcome, Mapping) and occurred is not None and consultation_id
    return {
        "event_id": str(event.get("event_id") or ""),
        "occurred_at": occurred,
        "consultation_id": consultation_id,
        "places": [p for p in event.get("places") or [] if isinstance(p, str)],
        "priorities": [p for p in event.get("priorities") or [] if isinstance(p, str)],
        "published_at": _moment(outcome.get("published_at")) or occurred,
        "decisions": [dict(d) for d in decisions],
    }


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def moved_outcomes(moved: Json) -> list[Json]:
    """One published decision per decision of the consultation's outcome, keyed by
    ``consultation:<id>:<n>`` (n from 1): what the outcome says now."""
    link = {"kind": "consultation", "consultation_id": moved["consultation_id"]}
    found = []
    for number, decision in enumerate(moved["decisions"], start=1):
        status = decision["status"]
        reason = as_localised(decision.get("reason")) or None
        found.append(
            {
                "reference": consultation_reference(moved["consultation_id"], number),
                "kind": "decision",
                "title": as_localised(decision["we_did"]),
                "description": {"en": ""},
                "you_said": as_localised(decision.get("you_said")) or {"en": ""},
                "partner": None,
                "owner": None,
                "due_date": None,
                "places": list(moved["places"]),
                "priorities": list(moved["priorities"]),
                "themes": [],
                "evidence": [link],
                "parent_id": None,
                "status": status,
                "progress": 100 if status == "done" else 0,
                "reason": reason,
            }
        )
    return found


# -- followers --------------------------------------------------------------------------------


def new_token() -> tuple[str, str]:
    """A stop link's token and the SHA-256 kept of it."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def stop_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + STOP_PATH.format(token=token)


def outcome_url(public_url: str, outcome_id: Any) -> str:
    return public_url.rstrip("/") + OUTCOME_PATH.format(id=outcome_id)


def digest_email(
    notices: Sequence[Json], public_url: str, stop: str, ics_name: str
) -> tuple[str, str]:
    """``(subject, body)`` of one follower's digest: each outcome once, as it stands now
    (title, status in words, its page). The notifier adds the stop link's footer."""
    lines = [
        "Hello,",
        "",
        f"You asked {ics_name} to tell you when what you told us led to something, or when "
        "that changed. Here is what has moved:",
        "",
    ]
    seen: set[str] = set()
    for notice in notices:
        outcome_id = str(notice["outcome_id"])
        if outcome_id in seen:
            continue
        seen.add(outcome_id)
        words = contract.STATUS_WORDS.get(notice["status"], notice["status"])
        lines += [
            f"- {localised(notice['title'])}: {words}",
            f"  {outcome_url(public_url, outcome_id)}",
        ]
        reason = localised(notice.get("reason"))
        if notice["status"] == "not-taken-forward" and reason:
            lines.append(f"  Why: {reason}")
    lines += ["", "We send at most one of these emails a day.", f"Stop these updates: {stop}"]
    return f"{ics_name}: what happened next", "\n".join(lines)


def digest_key(follower_id: Any, day: date) -> str:
    return f"digest:{follower_id}:{day.isoformat()}"


def digest_prefix(follower_id: Any) -> str:
    return f"digest:{follower_id}:"


def purge_before(now: datetime, retention_days: int) -> datetime:
    """Contact details of followers whose linked outcomes all reached a final status
    before this moment (or, with none linked, who followed before it) are purged."""
    return now - timedelta(days=retention_days)
