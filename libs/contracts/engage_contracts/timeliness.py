"""Closing the loop on time: rules without I/O, shared by every reader of outcomes.

The UK Government's Consultation Principles expect a public response within 12 weeks of
a consultation closing. Days count in UK calendar days (a consultation that closed at
23:30 on Monday closed on Monday), so a board sees the same figure all day.

A commitment (any outcome record with a due date) is past due when its due date has
gone by and it has not reached a final status (done, or not taken forward).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engage_contracts.outcomes import FINAL_STATUSES

EXPECTED_WEEKS = 12
EXPECTED_DAYS = EXPECTED_WEEKS * 7
LONDON = ZoneInfo("Europe/London")

# state -> how a board reads it
STATE_WORDS = {
    "on-time": "Published on time",
    "late": "Published late",
    "waiting": "Still waiting",
    "overdue": "Still waiting, past 12 weeks",
    "open": "Not closed yet",
}


def uk_day(moment: datetime) -> date:
    """The UK calendar day of an aware ``moment``."""
    return moment.astimezone(LONDON).date()


def time_to_outcome(
    closed_at: datetime | None, published_at: datetime | None, today: date
) -> dict[str, Any]:
    """How long after ``closed_at`` an outcome was published (or, without one, how long
    it has been waiting at ``today``), against the 12-week expectation.

    ``state``: ``open`` (not closed), ``on-time``/``late`` (published within 84 days or
    after), ``waiting``/``overdue`` (not published; within 84 days or past them).
    ``days``: days from close to publication, or waited so far; ``due_on``: the close
    plus 12 weeks; ``days_left``: days until ``due_on`` while waiting (negative once past).
    """
    if closed_at is None:
        return {"state": "open", "days": None, "due_on": None, "days_left": None}
    closed = uk_day(closed_at)
    due_on = closed + timedelta(days=EXPECTED_DAYS)
    if published_at is not None:
        days = max((uk_day(published_at) - closed).days, 0)
        state = "on-time" if days <= EXPECTED_DAYS else "late"
        return {"state": state, "days": days, "due_on": due_on, "days_left": None}
    days = max((today - closed).days, 0)
    state = "waiting" if days <= EXPECTED_DAYS else "overdue"
    return {"state": state, "days": days, "due_on": due_on, "days_left": (due_on - today).days}


def past_due(due_date: date | None, status: str, today: date) -> bool:
    """Whether a commitment's due date has gone by without it reaching a final status."""
    return due_date is not None and due_date < today and status not in FINAL_STATUSES


def days_past_due(due_date: date | None, status: str, today: date) -> int | None:
    """Days since a past-due commitment's due date; None when it is not past due."""
    if due_date is None or not past_due(due_date, status, today):
        return None
    return (today - due_date).days
