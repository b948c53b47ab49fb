"""Events' decisions, pure (no I/O): who gets a place and who waits (fair filling, the
waiting list, capacity cuts), the codes a registration is known by, what a change to an
event means for its registrants, the emails' wording, what each outbox event says, reach
through the small-number rule, the local copy of feedback's themes, and what a privacy
search matches or a retention purge drops.

The rules the gateway applies too (the schemas, UK local time, ``registration_open``,
``late_needs``, ``check_event``) are in the contract, ``engage_contracts.events``; these
are the service's own. Rows are plain dicts as the store returns them; ``now`` is always a
parameter, so the rules are testable without clocks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from engage_common.disclosure import group_shown, suppress
from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import events as contract
from engage_contracts import feedback as feedback_contract
from engage_contracts import population
from engage_contracts.reference import EQUALITY_FIELDS, consent_record, validate_equality
from engage_contracts.shared import check_consent, localised

Json = dict[str, Any]

STOP_EMAILS_PATH = "/events/registrations/stop-emails/{code}"
MANAGE_PATH = "/events/registrations/{code}"
EVENT_PATH = "/events/{id}"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
THEME_NOT_IN_USE = "is not a theme in use: see the feedback service's themes"
ACTIVE = ("confirmed", "waiting")
# What each kind of email to a registrant is keyed by (``notify`` sends each key once):
# ``<kind>:<registration id>[:<which>]``, so erasure finds a registrant's by prefix.
MAIL_KINDS = ("confirmation", "promoted", "waiting", "changed", "event-cancelled", "reminder")


def canonical_id(value: Any) -> str | None:
    """``value`` as a canonical UUID string, or None when it is not one (names nothing)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def str_ids(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in values or ()]


# -- the codes a registration is known by ----------------------------------------------------


def check_idempotency_key(key: Any) -> str:
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed(
            {"idempotency_key": ["is required: 1 to 200 printable characters without spaces"]}
        )
    return key


def key_hash(idempotency_key: str) -> str:
    """How a registration's idempotency key is kept: only its hash (the manage code is
    derived from the key, so the key itself is never stored)."""
    return hashlib.sha256(f"events-idempotency:{idempotency_key}".encode()).hexdigest()


def new_salt() -> bytes:
    return secrets.token_bytes(32)


def manage_code(idempotency_key: str, salt: bytes) -> str:
    """The resident's private code for managing their registration: derived from the
    idempotency key they sent (so sending the same registration again gives the same code)
    and a random salt kept with the registration; 43 URL-safe characters."""
    digest = hmac.new(idempotency_key.encode(), b"events-manage:" + salt, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def code_hash(code: str) -> str:
    """A manage code as it is stored, like a staff API token: its SHA-256."""
    return hashlib.sha256(code.encode()).hexdigest()


def readable_manage_code(code: Any) -> str | None:
    """The code if it has the form of one (anything else names no registration)."""
    if isinstance(code, str) and contract.MANAGE_CODE.match(code):
        return code
    return None


def new_receipt_code() -> str:
    """A code a resident can read out over the phone, shaped like every Engage receipt code
    (``K7QM-2XRT-HP4D``: base32, 60 bits of chance), so the gateway's links take it."""
    code = base64.b32encode(secrets.token_bytes(10)).decode()[:12]
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))


# -- registering ------------------------------------------------------------------------------


def check_registration(registration: Json) -> Json:
    """A loaded ``RegistrationInputSchema`` against the rules beyond its fields: equality
    answers by the current question set, consent to a privacy wording we have. The
    registration cleaned, with the consent record in the server's wording; else
    ``ValidationFailed`` with every problem."""
    equality, errors = validate_equality(registration.get("equality"))
    consent, consent_errors = check_consent(registration.get("consent"))
    errors.update(consent_errors)
    if errors:
        raise ValidationFailed(errors)
    contact = registration.get("contact") or {}
    assert consent is not None
    return {
        **registration,
        "name": (registration.get("name") or "").strip() or None,
        "email": contact.get("email") or None,
        "phone": (contact.get("phone") or "").strip() or None,
        "equality": equality or None,
        "consent": consent_record(consent["version"]),
        "access_needs": [
            {"need": n["need"], "detail": (n.get("detail") or "").strip()}
            for n in registration.get("access_needs") or ()
        ],
    }


def check_open(event: Json, now: datetime) -> None:
    """``Conflict`` unless a resident may register for ``event`` (published) now."""
    if event["status"] == "cancelled":
        raise Conflict("This event has been cancelled")
    if not contract.registration_open(event, now):
        opens = event.get("registration_opens_at")
        if event["status"] == "published" and opens is not None and now < opens:
            raise Conflict(f"Registration opens {when_opens(opens)}")
        raise Conflict("Registration for this event has closed")


def when_opens(opens: datetime) -> str:
    local = opens.astimezone(contract.LONDON)
    return f"on {local:%A} {local.day} {local:%B %Y} at {local:%H:%M} (UK time)"


def status_for(capacity: int | None, confirmed_places: int, places: int) -> str:
    """A new registration's status: a confirmed place while its places fit, else the
    waiting list."""
    free = contract.places_left(capacity, confirmed_places)
    return "confirmed" if free is None or places <= free else "waiting"


def reminded_on_registering(
    status: str, email: str | None, starts_at: datetime, now: datetime, hours: int
) -> datetime | None:
    """Someone with a confirmed place registering when the reminder is already due: the
    confirmation is their reminder (``reminded_at``), not another email a minute later."""
    due = starts_at - timedelta(hours=hours) <= now
    return now if status == "confirmed" and email and due else None


def new_adjustments(
    registration_id: str, event: Json, needs: Sequence[Json], now: datetime
) -> list[Json]:
    """Access needs as rows staff arrange; ``late`` when asked after their deadline."""
    late = set(contract.late_needs(list(needs), event["starts_at"], now))
    return [
        {
            "id": str(uuid.uuid4()),
            "registration_id": registration_id,
            "event_id": str(event["id"]),
            "need": need["need"],
            "detail": need.get("detail") or "",
            "late": i in late,
            "requested_at": now,
        }
        for i, need in enumerate(needs)
    ]


def changed_needs(current: Sequence[Json], wanted: Sequence[Json]) -> tuple[list[Json], list[str]]:
    """A resident changing their access needs: ``(to add, ids to remove)``. A need asked
    for again (same need and detail) keeps its row, and what staff arranged for it."""
    kept: set[str] = set()
    added: list[Json] = []
    for need in wanted:
        match = next(
            (
                row
                for row in current
                if str(row["id"]) not in kept
                and row["need"] == need["need"]
                and row["detail"] == (need.get("detail") or "")
            ),
            None,
        )
        if match is None:
            added.append(need)
        else:
            kept.add(str(match["id"]))
    removed = [str(row["id"]) for row in current if str(row["id"]) not in kept]
    return added, removed


# -- the waiting list ------------------------------------------------------------------------


def promotions(capacity: int | None, confirmed_places: int, waiting: Sequence[Json]) -> list[str]:
    """Who on the waiting list (in its order) gets a place now: each in turn whose places
    fit in what is free (a larger party further up waits for enough places)."""
    if capacity is None:
        return [str(w["id"]) for w in waiting]
    free = capacity - confirmed_places
    promoted = []
    for each in waiting:
        if free <= 0:
            break
        if each["places"] <= free:
            promoted.append(str(each["id"]))
            free -= each["places"]
    return promoted


def capacity_cut(
    capacity: int | None, confirmed: Sequence[Json], to_waiting_list: Sequence[str]
) -> list[str]:
    """The confirmed registrations to move to the waiting list for ``capacity`` (the new
    one): none when the confirmed places fit; ``to_waiting_list`` when moving them makes
    the rest fit; ``Conflict`` when it does not (nothing is moved without staff saying
    who); ``ValidationFailed`` for an id that is not a confirmed registration here."""
    by_id = {str(r["id"]): r for r in confirmed}
    named = list(dict.fromkeys(str(i) for i in to_waiting_list))
    errors = {
        f"to_waiting_list.{i}": ["is not a confirmed registration for this event"]
        for i, rid in enumerate(named)
        if rid not in by_id
    }
    if errors:
        raise ValidationFailed(errors)
    taken = sum(r["places"] for r in confirmed)
    if capacity is None or taken <= capacity:
        if named:
            raise ValidationFailed(
                {"to_waiting_list": ["only when capacity is cut below the places confirmed"]}
            )
        return []
    left = taken - sum(by_id[rid]["places"] for rid in named)
    if left > capacity:
        raise Conflict(
            f"{taken} places are confirmed and capacity would be {capacity}: name "
            f"registrations to move to the waiting list (to_waiting_list) for at least "
            f"{left - capacity} more place(s)",
            {"capacity": [f"is below the {taken} places confirmed"]},
        )
    return named


# -- events -----------------------------------------------------------------------------------


def new_event(event: Json, event_id: str, actor: Json, now: datetime) -> Json:
    problems = contract.check_event(event)
    if problems:
        raise ValidationFailed(problems)
    return {
        **event,
        "id": event_id,
        "version": 1,
        "status": "draft",
        "consultation_ids": str_ids(event.get("consultation_ids")),
        "cancelled_reason": None,
        "created_by": who(actor),
        "updated_by": who(actor),
        "created_at": now,
        "updated_at": now,
    }


def who(actor: Json) -> Json:
    return {"staff_id": actor["staff_id"], "name": actor["name"]}


EDITABLE = (
    "kind", "title", "description", "place", "venue", "online_link", "starts_at", "ends_at",
    "capacity", "registration_opens_at", "registration_closes_at", "consultation_ids",
    "priorities", "themes", "partners",
)  # fmt: skip


def changed_event(event: Json, changes: Json, actor: Json, now: datetime) -> Json | None:
    """The event with ``changes`` (``EventChangeSchema``, ``to_waiting_list`` aside), or
    None when they change nothing; ``Conflict`` for a cancelled event, ``ValidationFailed``
    when the fields no longer fit together."""
    if event["status"] == "cancelled":
        raise Conflict("A cancelled event cannot be changed")
    updated = dict(event)
    for name in EDITABLE:
        if name in changes:
            value = changes[name]
            updated[name] = str_ids(value) if name == "consultation_ids" else value
    if all(updated[n] == event[n] for n in EDITABLE):
        return None
    problems = contract.check_event(updated)
    if problems:
        raise ValidationFailed(problems)
    return {**updated, "version": event["version"] + 1, "updated_by": who(actor), "updated_at": now}


def what_registrants_hear(before: Json, after: Json) -> list[str]:
    """What changed that people registered must be told of: ``time``, ``venue``, ``link``."""
    told = []
    if (before["starts_at"], before["ends_at"]) != (after["starts_at"], after["ends_at"]):
        told.append("time")
    if before.get("venue") != after.get("venue"):
        told.append("venue")
    if before.get("online_link") != after.get("online_link"):
        told.append("link")
    return told


def publish(event: Json, actor: Json, now: datetime) -> Json | None:
    """The event published (None: it is already); ``Conflict`` when cancelled or over."""
    if event["status"] == "published":
        return None
    if event["status"] == "cancelled":
        raise Conflict("A cancelled event cannot be published")
    if event["ends_at"] <= now:
        raise Conflict("This event is over: it cannot be published")
    return {
        **event,
        "status": "published",
        "version": event["version"] + 1,
        "published_at": now,
        "updated_by": who(actor),
        "updated_at": now,
    }


def cancel(event: Json, reason: str, actor: Json, now: datetime) -> Json | None:
    if event["status"] == "cancelled":
        return None
    return {
        **event,
        "status": "cancelled",
        "cancelled_reason": reason,
        "version": event["version"] + 1,
        "cancelled_at": now,
        "updated_by": who(actor),
        "updated_at": now,
    }


def check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise ValidationFailed({"reason": ["say why, in 1 to 500 characters"]})
    return reason.strip()


def check_themes(themes: Sequence[str], in_use: Iterable[str], keep: Iterable[str] = ()) -> None:
    """Every theme is one in use (or one it already had: a retired theme may stay)."""
    allowed = set(in_use) | set(keep)
    errors = {
        f"themes.{i}": [THEME_NOT_IN_USE] for i, slug in enumerate(themes) if slug not in allowed
    }
    if errors:
        raise ValidationFailed(errors)


def book_ahead(starts_at: datetime, days_by_need: Mapping[str, int]) -> dict[str, datetime]:
    """Need -> when requests for it close, for the needs that must be booked ahead."""
    return {
        need: contract.closes_for(need, starts_at) for need, days in days_by_need.items() if days
    }


def walk_in(event_id: str, places: int, equality: Json | None) -> Json:
    """Someone who came without a place booked (or from the waiting list): an anonymous
    confirmed registration that attended, with their equality answers if they gave them."""
    rid = str(uuid.uuid4())
    return {
        "id": rid,
        "event_id": event_id,
        "idempotency_key_hash": key_hash(f"walk-in:{rid}"),
        "receipt_code": new_receipt_code(),
        "manage_code_hash": None,
        "manage_salt": None,
        "status": "confirmed",
        "places": places,
        "name": None,
        "email": None,
        "phone": None,
        "consent": None,
        "equality": equality or None,
        "walk_in": True,
        "attended": True,
    }


def change_adjustment(adjustment: Json, change: Json) -> Json | None:
    """An access need with staff's change (``AdjustmentChangeSchema``): arranged, not
    possible (with why), and after the event whether it was met. A new state takes the
    reason sent with it (none clears the old one); a reason alone (not null) replaces it.
    None: nothing changes."""
    updated = dict(adjustment)
    reason = (change.get("reason") or "").strip() or None
    if "state" in change:
        updated["state"], updated["reason"] = change["state"], reason
    elif reason is not None:
        updated["reason"] = reason
    if "met" in change:
        updated["met"] = change["met"]
    if updated["state"] == "not-possible" and not updated["reason"]:
        raise ValidationFailed({"reason": ["say why it is not possible"]})
    same = all(updated[k] == adjustment[k] for k in ("state", "reason", "met"))
    return None if same else updated


# -- attendance -------------------------------------------------------------------------------


def check_attendance(attendance: Json, registrations: Mapping[str, Json]) -> None:
    """Everyone marked has a confirmed place at this event (someone from the waiting list
    who comes anyway is a walk-in), and nobody both came and did not."""
    errors: dict[str, list[str]] = {}
    for name in ("attended", "absent"):
        for i, rid in enumerate(attendance[name]):
            row = registrations.get(str(rid))
            if row is None or row["status"] != "confirmed" or row["walk_in"]:
                errors[f"{name}.{i}"] = ["is not a confirmed registration for this event"]
    both = {str(r) for r in attendance["attended"]} & {str(r) for r in attendance["absent"]}
    if both:
        errors["absent"] = ["cannot name someone who attended"]
    for i, walk_in in enumerate(attendance["walk_ins"]):
        _, problems = validate_equality(walk_in.get("equality"))
        for path, reasons in problems.items():
            errors[f"walk_ins.{i}.{path}"] = reasons
    if errors:
        raise ValidationFailed(errors)


# -- points ("what we heard") -----------------------------------------------------------------


def new_point(
    event: Json, point: Json, redacted: Sequence[Any], actor: Json, now: datetime
) -> Json:
    """A point as stored: redacted text and quote (``redacted``: the redactor's answers for
    both), the originals kept until the purge, the event's place unless another is given."""
    text, quote = redacted
    has_quote = bool((point.get("quote") or "").strip())
    return {
        "id": str(uuid.uuid4()),
        "event_id": str(event["id"]),
        "text": text.text,
        "text_original": point["text"],
        "quote": quote.text if has_quote else None,
        "quote_original": point["quote"] if has_quote else None,
        "redactions": [
            {"in": name, "kind": f.kind, "start": f.start, "end": f.end}
            for name, r in (("text", text), ("quote", quote))
            for f in r.found
        ],
        "redactor_version": str(text.version),
        "themes": list(dict.fromkeys(point["themes"])),
        "tone": point.get("tone"),
        "place": point["place"] if point.get("place") is not None else event.get("place"),
        "may_quote": point["may_quote"],
        "quote_approved": None,
        "recorded_by": who(actor),
        "recorded_at": now,
    }


def can_hear(event: Json) -> None:
    if event["status"] != "published":
        raise Conflict(f"Points are recorded for published events, not a {event['status']} one")


def approve_quote(point: Json, actor: Json, now: datetime) -> Json:
    if not point["may_quote"]:
        raise Conflict("The person did not agree to be quoted")
    if not point.get("quote"):
        raise Conflict("This point has no quote to approve")
    return {**point, "quote_approved": {"by": who(actor), "at": now.isoformat()}}


def public_quote(point: Json) -> str | None:
    return point["quote"] if point["may_quote"] and point.get("quote_approved") else None


# -- events for the outbox (EVENT_FIELDS; nothing personal) ----------------------------------


def _iso(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def event_published(event: Json) -> Json:
    return {
        "engagement_event_id": str(event["id"]),
        "kind": event["kind"],
        "title": event["title"],
        "place": event.get("place"),
        "starts_at": _iso(event["starts_at"]),
        "ends_at": _iso(event["ends_at"]),
        "consultation_ids": str_ids(event.get("consultation_ids")),
        "priorities": list(event.get("priorities") or ()),
        "themes": list(event.get("themes") or ()),
    }


def event_changed(event: Json) -> Json:
    return {**event_published(event), "status": event["status"]}


def event_cancelled(event: Json) -> Json:
    return {"engagement_event_id": str(event["id"])}


def registration_event(registration: Json, event: Json) -> Json:
    """``registration_made`` and ``registration_changed``: never a name or contact."""
    return {
        "registration_id": str(registration["id"]),
        "engagement_event_id": str(event["id"]),
        "status": registration["status"],
        "places": registration["places"],
        "place": event.get("place"),
    }


def registration_cancelled(registration_id: Any, event: Json) -> Json:
    return {"registration_id": str(registration_id), "engagement_event_id": str(event["id"])}


def attendee_recorded(
    registration_id: Any, event: Json, attended: bool, equality: Json | None
) -> Json:
    """``attendee_recorded``: one person came (registered or walked in) or, after all, did
    not; for reach, with the Census groups and decile their equality answers put them
    in, never the answers, a name or contact."""
    return {
        "registration_id": str(registration_id),
        "engagement_event_id": str(event["id"]),
        "place": event.get("place"),
        "consultation_ids": str_ids(event.get("consultation_ids")),
        "attended": attended,
        "heard_at": _iso(event["starts_at"]),
        "equality": population.coarse_groups(equality),
    }


def registration_erased(registration_id: Any, event_id: Any) -> Json:
    """``registration_erased``: an erasure request took this registration's details."""
    return {"registration_id": str(registration_id), "engagement_event_id": str(event_id)}


def attendance_recorded(event: Json, counts: Json) -> Json:
    return {
        "engagement_event_id": str(event["id"]),
        "place": event.get("place"),
        "registered": counts["places_registered"],
        "attended": counts["attended"],
        "walk_ins": counts["walk_ins"],
        "no_shows": counts["no_shows"],
    }


def point_heard(point: Json, event: Json) -> Json:
    return {
        "point_id": str(point["id"]),
        "engagement_event_id": str(event["id"]),
        "themes": list(point["themes"]),
        "tone": point.get("tone"),
        "place": point.get("place"),
        "consultation_ids": str_ids(event.get("consultation_ids")),
        "heard_at": _iso(event["starts_at"]),
    }


def quote_published(point: Json, event: Json) -> Json:
    """A quote approved for publication: redacted words the person allowed."""
    return {
        "point_id": str(point["id"]),
        "engagement_event_id": str(event["id"]),
        "quote": point["quote"],
        "place": point.get("place"),
        "themes": list(point["themes"]),
        "consultation_ids": str_ids(event.get("consultation_ids")),
    }


def point_withdrawn(point: Json) -> Json:
    return {"point_id": str(point["id"]), "engagement_event_id": str(point["event_id"])}


# -- reach (the small-number rule) ------------------------------------------------------------


def reach(
    events: int,
    totals: Mapping[str, int],
    needs: Sequence[Json],
    equality: Sequence[Json],
    by_place: Mapping[str | None, int],
    threshold: int,
    shown: bool = True,
) -> Json:
    """``ReachSchema`` from counts of people (places), each through the small-number rule
    (``engage_common.disclosure``): a count from 1 to ``threshold - 1`` is None, and more
    are hidden where the rest would give it away. ``totals``: registrations,
    places_registered, attended, walk_ins, no_shows, waiting (no-shows: confirmed places
    not marked as attending at events whose attendance was recorded; the rate is of the
    places whose attendance is known). ``needs``: ``[{need, requested, arranged, met}]``;
    ``equality``: attendees' answers (one per person who answered); ``by_place``: people
    who came by event place.
    ``shown`` False: a view of one group too small to show, so nothing is."""

    def one(count: int) -> int | None:
        return suppress({"n": count}, threshold)[0]["n"] if shown else None

    pair, _ = suppress({"attended": totals["attended"], "no_shows": totals["no_shows"]}, threshold)
    if not shown:
        pair = {"attended": None, "no_shows": None}
    recorded = totals["attended"] + totals["no_shows"]
    rate = (
        round(totals["no_shows"] / recorded, 3)
        if shown and recorded and pair["no_shows"] is not None and pair["attended"] is not None
        else None
    )
    return {
        "events": events,
        "registrations": one(totals["registrations"]),
        "places_registered": one(totals["places_registered"]),
        "attended": pair["attended"],
        "walk_ins": one(totals["walk_ins"]),
        "no_shows": pair["no_shows"],
        "no_show_rate": rate,
        "waiting": one(totals["waiting"]),
        "access_needs": _needs(needs, threshold) if shown else [],
        "attendees_by": _equality(equality, threshold) if shown else {},
        "by_place": _counts(by_place, threshold) if shown else [],
        "threshold": threshold,
    }


def place_shown(by_place: Mapping[str | None, int], place: str, threshold: int) -> bool:
    """A reach for one place shows only what its line in the by-place breakdown would."""
    return group_shown(by_place, place, threshold)


def _counts(counts: Mapping[Any, int], threshold: int) -> list[Json]:
    shown, _ = suppress(dict(counts), threshold)
    return [{"value": value, "count": shown[value]} for value in counts]


def _needs(needs: Sequence[Json], threshold: int) -> list[Json]:
    columns = {
        name: suppress({n["need"]: n[name] for n in needs}, threshold)[0]
        for name in ("requested", "arranged", "met")
    }
    return [
        {"need": n["need"], **{name: columns[name][n["need"]] for name in columns}} for n in needs
    ]


def _equality(answers: Sequence[Json], threshold: int) -> dict[str, list[Json]]:
    breakdowns: dict[str, dict[str, int]] = {}
    for each in answers:
        for field in EQUALITY_FIELDS:
            value = each.get(field)
            for chosen in value if isinstance(value, list) else [value]:
                if chosen not in (None, ""):
                    counts = breakdowns.setdefault(field, {})
                    counts[chosen] = counts.get(chosen, 0) + 1
    return {
        field: _counts(dict(sorted(counts.items())), threshold)
        for field in EQUALITY_FIELDS
        if (counts := breakdowns.get(field))
    }


# -- themes (a copy of feedback's) ------------------------------------------------------------


def seeded_themes(config: Any) -> list[Json]:
    """The themes feedback starts with (the contract's ``seeded_themes``), as events keeps
    them: so points can be themed before any of feedback's events arrive."""
    return [
        {"slug": t["slug"], "label": t["label"], "priority": t["priority"], "active": True}
        for t in feedback_contract.seeded_themes(config)
    ]


def theme_from_event(event: Any) -> Json:
    """What a feedback ``theme_saved`` event says of a theme, as events keeps it. An event
    that does not say which theme raises ValueError (retried, then dead-lettered)."""
    if not isinstance(event, dict):
        raise ValueError("a theme_saved event must be an object")
    slug, label = event.get("slug"), event.get("label")
    if not isinstance(slug, str) or not feedback_contract.THEME_SLUG.match(slug):
        raise ValueError(f"theme_saved without a theme's slug: {slug!r}")
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
        "event_at": at,
    }


# -- email ------------------------------------------------------------------------------------


def when_text(starts_at: datetime, ends_at: datetime) -> str:
    """``Saturday 28 March 2026, 10:00 to 12:00 (UK time)``."""
    s, e = starts_at.astimezone(contract.LONDON), ends_at.astimezone(contract.LONDON)
    day = f"{s:%A} {s.day} {s:%B %Y}"
    if s.date() == e.date():
        return f"{day}, {s:%H:%M} to {e:%H:%M} (UK time)"
    return f"{day}, {s:%H:%M} to {e:%A} {e.day} {e:%B %Y}, {e:%H:%M} (UK time)"


def where_text(event: Json, confirmed: bool) -> str:
    """Where: the venue, or online (with the joining link for a confirmed place only)."""
    venue = event.get("venue")
    lines = []
    if venue:
        lines.append(
            ", ".join(p for p in (venue["name"], venue.get("address"), venue.get("postcode")) if p)
        )
        features = [contract.VENUE_FEATURE_WORDS[f] for f in venue.get("features") or ()]
        if features:
            lines.append("Access: " + ", ".join(features))
        if venue.get("directions"):
            lines.append(venue["directions"])
    if event.get("online_link"):
        lines.append(
            f"Online: join at {event['online_link']}"
            if confirmed
            else "Online: the joining link goes to people with a confirmed place"
        )
    return "\n".join(lines)


def _about(event: Json, confirmed: bool) -> str:
    return (
        f"{localised(event['title'])}\n"
        f"When: {when_text(event['starts_at'], event['ends_at'])}\n"
        f"Where: {where_text(event, confirmed)}\n"
    )


def stop_url(public_url: str, receipt_code: str) -> str:
    return public_url.rstrip("/") + STOP_EMAILS_PATH.format(code=receipt_code)


def confirmation_email(
    event: Json,
    registration: Json,
    position: int | None,
    code: str,
    late: Sequence[str],
    public_url: str,
    ics_name: str,
) -> tuple[str, str]:
    """Sent once, when someone registers: the only message with the private link (the
    manage code is known only now, and is never stored)."""
    confirmed = registration["status"] == "confirmed"
    title = localised(event["title"])
    subject = f"Your place: {title}" if confirmed else f"You are on the waiting list: {title}"
    status = (
        f"You have a confirmed place for {registration['places']}."
        if confirmed
        else f"The event is full: you are number {position} on the waiting list. We will "
        "email you if a place comes up."
    )
    needs = [contract.ACCESS_NEED_WORDS[n["need"]] for n in registration["access_needs"]]
    lines = [
        f"Thank you for registering with {ics_name}.",
        "",
        status,
        "",
        _about(event, confirmed),
    ]
    if needs:
        lines += ["You asked for: " + "; ".join(needs) + "."]
        if late:
            lines += [
                "Some of these need booking ahead and you asked after the date we need: we "
                "will try, and tell you if we cannot arrange them."
            ]
        lines.append("")
    lines += [
        "Change your access needs or cancel your place (keep this link private):",
        public_url.rstrip("/") + MANAGE_PATH.format(code=code),
        "",
        f"Your receipt code: {registration['receipt_code']}",
    ]
    return subject, "\n".join(lines)


def promoted_email(event: Json) -> tuple[str, str]:
    title = localised(event["title"])
    return f"A place has come up: {title}", (
        "Good news: a place has come up and it is yours. You now have a confirmed place.\n\n"
        + _about(event, True)
        + "\nIf you can no longer come, please cancel so someone else can have the place."
    )


def moved_to_waiting_email(event: Json) -> tuple[str, str]:
    title = localised(event["title"])
    return f"Your place has moved to the waiting list: {title}", (
        "We are sorry: the number of places at this event has had to be reduced, and your "
        "place has moved to the top of the waiting list. We will email you as soon as a "
        "place comes up.\n\n" + _about(event, False)
    )


def changed_email(event: Json, what: Sequence[str], confirmed: bool) -> tuple[str, str]:
    title = localised(event["title"])
    words = {"time": "the time", "venue": "the venue", "link": "the joining link"}
    changed = " and ".join(words[w] for w in what)
    return f"Change to {title}: {changed}", (
        f"We have changed {changed} of this event. Here are the details as they are now.\n\n"
        + _about(event, confirmed)
    )


def cancelled_email(event: Json) -> tuple[str, str]:
    title = localised(event["title"])
    return f"Cancelled: {title}", (
        "We are sorry: this event has been cancelled.\n\n"
        f"Why: {event.get('cancelled_reason') or 'not given'}\n\n" + _about(event, False)
    )


def reminder_email(event: Json) -> tuple[str, str]:
    title = localised(event["title"])
    return f"Reminder: {title}", (
        "A reminder of the event you registered for.\n\n"
        + _about(event, True)
        + "\nIf you can no longer come, please cancel so someone else can have the place."
    )


def mail_key_prefixes(registration_ids: Iterable[str]) -> list[str]:
    """Every message key a registration's emails may have (to forget the address)."""
    return [f"{kind}:{rid}" for rid in registration_ids for kind in MAIL_KINDS]


# -- privacy (UK GDPR) ------------------------------------------------------------------------


def personal_data_matches(row: Json, receipt_code: str | None, text: str | None) -> list[Json]:
    """Where a registration matches an erasure search: its receipt code, or ``text``
    (case-insensitive) in the name, email, phone or an access need's detail."""
    matches = []
    if receipt_code and row["receipt_code"] == receipt_code:
        matches.append({"field": "receipt_code", "text": row["receipt_code"]})
    if not text:
        return matches
    needle = text.casefold()
    for name in ("name", "email", "phone"):
        value = row.get(name)
        if value and needle in value.casefold():
            matches.append({"field": name, "text": value})
    for detail in row.get("details") or ():
        if detail and needle in detail.casefold():
            matches.append({"field": "access_needs.detail", "text": detail})
    return matches


def purge_before(now: datetime, retention_days: int) -> datetime:
    """Registrations of events that ended before this moment are past retention."""
    return now - timedelta(days=retention_days)
