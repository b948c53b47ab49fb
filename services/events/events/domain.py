"""Pure rules for engagement events and registrations (no I/O)."""

from __future__ import annotations

from datetime import datetime

STATUSES: tuple[str, ...] = ("draft", "published", "cancelled")
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "cancelled"}),
    "published": frozenset({"cancelled"}),
    "cancelled": frozenset(),
}


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def check_times(starts_at: datetime, ends_at: datetime) -> list[str]:
    """Reasons the times are unusable; empty when they are fine."""
    errors: list[str] = []
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        errors.append("times must include a timezone")
    elif ends_at <= starts_at:
        errors.append("must end after it starts")
    return errors


def places_left(capacity: int | None, registered: int) -> int | None:
    """Places still free; ``None`` means the event has no capacity limit."""
    if capacity is None:
        return None
    return max(capacity - registered, 0)


def registration_refusal(
    status: str, starts_at: datetime, capacity: int | None, registered: int, now: datetime
) -> str | None:
    """Why a resident cannot register now, or ``None`` when they can."""
    if status != "published":
        return "this event is not open for registration"
    if now >= starts_at:
        return "this event has already started"
    if places_left(capacity, registered) == 0:
        return "this event is full"
    return None
