"""Closing the loop on time: the 12-week expectation counted in UK days, and commitments
past their due date."""

from __future__ import annotations

from datetime import UTC, date, datetime

from engage_contracts.timeliness import days_past_due, past_due, time_to_outcome

CLOSED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def test_published_within_twelve_weeks_is_on_time_and_the_84th_day_counts() -> None:
    on_day_84 = time_to_outcome(CLOSED, datetime(2026, 5, 25, 9, tzinfo=UTC), date(2026, 9, 1))
    assert on_day_84["state"] == "on-time" and on_day_84["days"] == 84
    assert on_day_84["due_on"] == date(2026, 5, 25)
    late = time_to_outcome(CLOSED, datetime(2026, 5, 26, 9, tzinfo=UTC), date(2026, 9, 1))
    assert late["state"] == "late" and late["days"] == 85


def test_waiting_counts_days_so_far_and_what_is_left() -> None:
    waiting = time_to_outcome(CLOSED, None, date(2026, 3, 12))
    assert waiting == {"state": "waiting", "days": 10, "due_on": date(2026, 5, 25), "days_left": 74}
    overdue = time_to_outcome(CLOSED, None, date(2026, 6, 1))
    assert overdue["state"] == "overdue" and overdue["days"] == 91 and overdue["days_left"] == -7


def test_days_are_uk_calendar_days_across_midnight_and_summer_time() -> None:
    # 23:30 UTC on 29 June is 00:30 on 30 June in London (BST).
    closed = datetime(2026, 6, 29, 23, 30, tzinfo=UTC)
    same_uk_day = time_to_outcome(closed, datetime(2026, 6, 30, 8, tzinfo=UTC), date(2026, 7, 1))
    assert same_uk_day["days"] == 0 and same_uk_day["state"] == "on-time"


def test_not_closed_has_no_clock_running() -> None:
    assert time_to_outcome(None, None, date(2026, 1, 1))["state"] == "open"


def test_commitments_past_due_only_until_final() -> None:
    today = date(2026, 4, 10)
    assert past_due(date(2026, 4, 9), "in-progress", today)
    assert days_past_due(date(2026, 4, 1), "planned", today) == 9
    assert not past_due(date(2026, 4, 10), "planned", today)  # due today is not past due
    assert not past_due(date(2026, 4, 1), "done", today)
    assert not past_due(date(2026, 4, 1), "not-taken-forward", today)
    assert not past_due(None, "planned", today)
    assert days_past_due(date(2026, 4, 1), "done", today) is None
