"""Reading the counts the read model keeps by UK day and by UK month (migration 013:
``reach_day_counts``/``reach_month_counts``, ``contribution_day_counts``/
``contribution_month_counts``): a period of whole UK days reads its whole months from
the month table and the days at either end from the day table, so any scope adds up a
few thousand rows however many contributions there are.

A period that does not start and end at UK midnights (a caller's "since 09:00", or a UTC
midnight in summer) is read as its whole UK days from the counts and the part-days at its
ends, less than a day each, from the rows (``split_period``). Only a period within two
days, or with a bound of no time zone, is counted from its rows alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from engage_contracts.timeliness import LONDON


@dataclass(frozen=True)
class Split:
    """A period as the UK days ``[first, end)`` (either open) read from the counts, and the
    ``edges``, ``[since, until)`` pieces shorter than a day at either end, read from rows."""

    first: date | None
    end: date | None
    edges: tuple[tuple[datetime | None, datetime | None], ...] = ()


def uk_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LONDON)


def split_period(since: datetime | None, until: datetime | None) -> Split | None:
    """``[since, until)`` (either open) as whole UK days and the part-days at its ends;
    None when a bound has no time zone or no whole day lies between them."""
    if any(m is not None and m.tzinfo is None for m in (since, until)):
        return None
    first = end = None
    edges = []
    if since is not None:
        local = since.astimezone(LONDON)
        first = local.date() if local.time() == time() else local.date() + timedelta(days=1)
        if local.time() != time():
            edges.append((since, uk_midnight(first)))
    if until is not None:
        local = until.astimezone(LONDON)
        end = local.date()
        if local.time() != time():
            edges.append((uk_midnight(end), until))
    if first is not None and end is not None and first >= end:
        return None
    return Split(first, end, tuple(edges))


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
