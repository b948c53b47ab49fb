"""Reading the counts the read model keeps by UK day and by UK month (migration 013:
``reach_day_counts``/``reach_month_counts``, ``contribution_day_counts``/
``contribution_month_counts``): a period of whole UK days reads its whole months from
the month table and the days at either end from the day table, so any scope adds up a
few thousand rows however many contributions there are.

A period that does not start and end at UK midnights cannot be read from day counts:
``uk_days`` says so (None) and the readers count the rows themselves, as before."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from engage_contracts.timeliness import LONDON


def uk_days(
    since: datetime | None, until: datetime | None
) -> tuple[date | None, date | None] | None:
    """The UK days ``[first, end)`` of the period ``[since, until)`` (either open), or
    None when a bound is not a UK midnight (or not an aware moment)."""
    days = []
    for moment in (since, until):
        if moment is None:
            days.append(None)
            continue
        if moment.tzinfo is None:
            return None
        local = moment.astimezone(LONDON)
        if local.time() != time():
            return None
        days.append(local.date())
    return days[0], days[1]


def scanned_period(
    since: datetime | None, until: datetime | None, place: str | None = None
) -> tuple[list[str], list[Any]]:
    """Conditions (and their parameters) on rows' ``occurred_at`` for ``[since, until)``
    and, when given, their ``place``: how a period not of whole UK days is read from the
    rows themselves."""
    clauses, params = ["TRUE"], []
    for condition, value in (
        ("place = %s", place),
        ("occurred_at >= %s", since),
        ("occurred_at < %s", until),
    ):
        if value:
            clauses.append(condition)
            params.append(value)
    return clauses, params


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def counted(
    table: str, columns: str, first: date | None, end: date | None
) -> tuple[str, list[Any]]:
    """A relation of ``columns``, ``period`` (the month's or the day's date) and ``n``
    over ``{table}_month_counts`` and ``{table}_day_counts`` for the UK days ``[first,
    end)`` (either open), with its parameters. Nothing is counted twice: whole months
    come from the month table, the days outside them from the day table. With neither
    bound, every month (and rows of no known moment, as a scan with no period has them)."""
    months = f"SELECT {columns}, month AS period, n FROM {table}_month_counts"
    days = f"SELECT {columns}, day AS period, n FROM {table}_day_counts"
    if first is None and end is None:
        return months, []
    month_first = None if first is None else first if first.day == 1 else _next_month(first)
    month_end = None if end is None else end.replace(day=1)
    if month_first is not None and month_end is not None and month_first >= month_end:
        return f"{days} WHERE day >= %s AND day < %s", [first, end]
    clauses, params = [], []
    if month_first is not None:
        clauses.append("month >= %s")
        params.append(month_first)
    if month_end is not None:
        clauses.append("month < %s")
        params.append(month_end)
    parts = [f"{months} WHERE {' AND '.join(clauses)}"]
    if first is not None and month_first is not None and first < month_first:
        parts.append(f"{days} WHERE day >= %s AND day < %s")
        params += [first, month_first]
    if end is not None and month_end is not None and month_end < end:
        parts.append(f"{days} WHERE day >= %s AND day < %s")
        params += [month_end, end]
    return " UNION ALL ".join(parts), params
