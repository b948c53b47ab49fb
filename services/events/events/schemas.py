"""How events shows its rows at its boundary, in the shapes its contract defines
(``engage_contracts.events``, which the gateway shares); the schemas themselves live in
the contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engage_contracts import events as contract
from engage_contracts.ics import ics
from engage_contracts.shared import as_localised
from events import domain

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """A moment as it travels: ISO 8601 in UTC."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def event(row: Json, now: datetime) -> Json:
    """``EventSchema``: UTC times and their UK local time; never the joining link.
    ``row`` carries ``confirmed_places`` and ``waiting_places`` (the store counts them)."""
    book_ahead = domain.book_ahead(row["starts_at"], ics().event_book_ahead_days)
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "title": as_localised(row["title"]),
        "description": as_localised(row["description"]),
        "place": row["place"],
        "venue": row["venue"],
        "online": bool(row["online_link"]) or row["kind"] == "online-session",
        "starts_at": iso(row["starts_at"]),
        "ends_at": iso(row["ends_at"]),
        "starts_local": contract.local_text(row["starts_at"]),
        "ends_local": contract.local_text(row["ends_at"]),
        "capacity": row["capacity"],
        "places_left": contract.places_left(row["capacity"], row["confirmed_places"]),
        "waiting": row["waiting_places"],
        "registration_opens_at": iso(row["registration_opens_at"]),
        "registration_closes_at": iso(row["registration_closes_at"]),
        "registration_open": contract.registration_open(row, now),
        "book_ahead": {need: iso(at) for need, at in book_ahead.items()},
        "consultation_ids": domain.str_ids(row["consultation_ids"]),
        "priorities": list(row["priorities"]),
        "themes": list(row["themes"]),
        "partners": list(row["partners"]),
        "status": row["status"],
        "cancelled_reason": row["cancelled_reason"],
    }


def access_need(row: Json) -> Json:
    """An access need as the resident sees it: what they asked for and how it stands."""
    return {
        "need": row["need"],
        "detail": row["detail"],
        "state": row["state"],
        "reason": row["reason"],
        "late": row["late"],
    }


def _contact(row: Json) -> Json | None:
    if row["email"] is None and row["phone"] is None:
        return None
    return {"email": row["email"], "phone": row["phone"]}


def _registration(row: Json, needs: Sequence[Json], position: int | None) -> Json:
    return {
        "id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "status": row["status"],
        "position": position if row["status"] == "waiting" else None,
        "places": row["places"],
        "name": row["name"],
        "contact": _contact(row),
        "access_needs": [access_need(n) for n in needs],
        "late_needs": [n["need"] for n in needs if n["late"]],
        "receipt_code": row["receipt_code"],
        "consent": row["consent"],
        "registered_at": iso(row["registered_at"]),
    }


def registration(
    row: Json,
    needs: Sequence[Json],
    position: int | None,
    event_row: Json,
    manage_code: str | None,
) -> Json:
    """``RegistrationSchema``, for the resident: with their manage code (known only when
    they give it) and the joining link of an online event once their place is confirmed."""
    link = (
        event_row["online_link"]
        if row["status"] == "confirmed" and event_row["status"] == "published"
        else None
    )
    return {
        **_registration(row, needs, position),
        "manage_code": manage_code,
        "online_link": link,
    }


def staff_registration(row: Json, needs: Sequence[Json], position: int | None) -> Json:
    """``StaffRegistrationSchema``: names and contact (the gateway audits each read)."""
    return {
        **_registration(row, needs, position),
        "attended": row["attended"],
        "walk_in": row["walk_in"],
    }


def adjustment(row: Json) -> Json:
    """``AdjustmentSchema``."""
    return {
        "id": str(row["id"]),
        "registration_id": str(row["registration_id"]),
        "need": row["need"],
        "detail": row["detail"],
        "state": row["state"],
        "reason": row["reason"],
        "met": row["met"],
        "late": row["late"],
    }


def point(row: Json, public: bool = False) -> Json:
    """``PointSchema``: the redacted words. ``public``: the quote only when the person
    allowed it and staff approved it, and not who recorded it."""
    return {
        "id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "text": row["text"],
        "themes": list(row["themes"]),
        "tone": row["tone"],
        "place": row["place"],
        "quote": domain.public_quote(row) if public else row["quote"],
        "may_quote": row["may_quote"],
        "quote_approved": row["quote_approved"] is not None,
        "recorded_by": "" if public else row["recorded_by"]["name"],
        "recorded_at": iso(row["recorded_at"]),
    }


def personal_data_registration(row: Json, matches: list[Json]) -> Json:
    """A registration an erasure search found (``PersonalDataRegistrationSchema``)."""
    return {
        "registration_id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "receipt_code": row["receipt_code"],
        "registered_at": iso(row["registered_at"]),
        "matches": matches,
    }


def positions(waiting: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Registration id -> place on the waiting list (1 first), from rows in its order."""
    return {str(w["id"]): i for i, w in enumerate(waiting, start=1)}
