"""What decision makers read, from the read model only (never a service): themes over
time, published outcomes by status and by partner, commitments past their due date, time
from a consultation's close to its outcome, and reach against population (the reach read
model, ``gateway.readmodels.reach``). The staff dashboard, the board paper and its exports
all read it here.

Counts of people (contributions, responses) go through the small-number rule; counts of
outcome records are not about people and are shown as they are. Rows that can be many
(consultations, outcomes) come from server-side cursors, so an export streams them; the
rest are aggregates grouped in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from psycopg import Connection

from engage_common.disclosure import hidden, suppress
from engage_contracts.ics import ics
from engage_contracts.outcomes import STATUSES
from engage_contracts.reference import place_label, priority_label
from engage_contracts.shared import localised
from engage_contracts.timeliness import LONDON, days_past_due, time_to_outcome, uk_day
from gateway.readmodels import reach
from gateway.readmodels.queries import status_words
from gateway.readmodels.you_said import _filters, contribution_rows, theme_labels

THEMES_CHARTED = 6
KIND_WORDS = {"decision": "Decision", "action": "Action", "commitment": "Commitment"}


@dataclass(frozen=True)
class Scope:
    """A place, a priority and a period of UK days (``until`` included); each optional."""

    place: str | None = None
    priority: str | None = None
    since: date | None = None
    until: date | None = None

    def start(self) -> datetime | None:
        return datetime.combine(self.since, time(), LONDON) if self.since else None

    def end(self) -> datetime | None:
        """The first moment after the period (midnight after ``until``, UK time)."""
        return (
            datetime.combine(self.until + timedelta(days=1), time(), LONDON) if self.until else None
        )

    def words(self) -> str:
        """The scope as a board reads it, e.g. "Leeds, Living Well, 1 April 2026 to ..."."""
        parts = [place_label(self.place) if self.place else "All places"]
        parts.append(priority_label(self.priority) if self.priority else "all priorities")
        if self.since or self.until:
            since = _day_words(self.since) if self.since else "the start"
            until = _day_words(self.until) if self.until else "today"
            parts.append(f"{since} to {until}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "priority": self.priority,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def _day_words(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def threshold() -> int:
    return ics().small_number_threshold


# -- you said: contributions ---------------------------------------------------------------


def _contributions(scope: Scope) -> tuple[str, str, list[Any]]:
    """(the scope's contributions as a relation, the conditions on it as ``c``, their
    parameters): a period of whole UK days, read from the kept counts."""
    relation, params = contribution_rows(scope.start(), scope.end())
    where, more = _filters(scope.place, scope.priority, None)
    return relation, where, [*params, *more]


def contributions(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Contributions in scope: the total and by channel, through the small-number rule."""
    relation, where, params = _contributions(scope)
    rows = conn.execute(
        f"SELECT c.channel, sum(c.n)::bigint AS n FROM ({relation}) c WHERE {where}"
        " GROUP BY c.channel ORDER BY c.channel",
        params,
    ).fetchall()
    counts = {r["channel"]: r["n"] for r in rows}
    shown, total = suppress(counts, threshold())
    if total is not None and hidden(total, threshold()):
        total = None
    return {"total": total, "by_channel": shown}


def theme_counts(conn: Connection, scope: Scope) -> dict[str, int]:
    """Contributions raising each theme in scope, most raised first (raw: callers hide)."""
    relation, where, params = _contributions(scope)
    rows = conn.execute(
        f"SELECT theme, sum(c.n)::bigint AS n FROM ({relation}) c, unnest(c.themes) AS theme"
        f" WHERE {where} GROUP BY theme ORDER BY sum(c.n) DESC, theme",
        params,
    ).fetchall()
    return {r["theme"]: r["n"] for r in rows}


def themes_over_time(conn: Connection, scope: Scope) -> dict[str, Any]:
    """The most raised themes by UK month: ``months``, and per theme its count per month
    (a theme's months add up to its total, so each theme's months are suppressed together)."""
    relation, where, params = _contributions(scope)
    rows = conn.execute(
        f"SELECT c.month, theme, sum(c.n)::bigint AS n FROM ({relation}) c,"
        f" unnest(c.themes) AS theme WHERE {where} GROUP BY c.month, theme",
        params,
    ).fetchall()
    totals: dict[str, int] = {}
    cells: dict[str, dict[str, int]] = {}
    for r in rows:
        totals[r["theme"]] = totals.get(r["theme"], 0) + r["n"]
        cells.setdefault(r["theme"], {})[r["month"]] = r["n"]
    months = sorted({r["month"] for r in rows})
    labels = theme_labels(conn)
    charted = sorted(totals, key=lambda t: (-totals[t], t))[:THEMES_CHARTED]
    themes = []
    for theme in charted:
        by_month = {m: cells[theme].get(m, 0) for m in months}
        shown, total = suppress(by_month, threshold())
        themes.append(
            {
                "theme": theme,
                "label": localised(labels.get(theme, theme)),
                "total": None if total is None or hidden(total, threshold()) else total,
                "by_month": [shown[m] if total is not None else None for m in months],
            }
        )
    return {"months": months, "themes": themes}


# -- we did: outcome records -----------------------------------------------------------------

OUTCOME_COLUMNS = (
    "SELECT o.*, (SELECT min(h.at) FROM outcome_record_history h WHERE h.outcome_id = o.id)"
    " AS published_at FROM outcome_records o"
)


def outcome_filter(scope: Scope) -> tuple[str, list[Any]]:
    """Outcomes for the scope's place (an outcome for no place is for every place) and
    priority, and live at some point in its period: published before it ended, and still
    open or last changed after it began."""
    clauses, params = ["TRUE"], []
    if scope.place:
        clauses.append("(o.places = '{}' OR %s = ANY(o.places))")
        params.append(scope.place)
    if scope.priority:
        clauses.append("%s = ANY(o.priorities)")
        params.append(scope.priority)
    if scope.end():
        clauses.append(
            "(SELECT min(h.at) FROM outcome_record_history h WHERE h.outcome_id = o.id) < %s"
        )
        params.append(scope.end())
    if scope.start():
        clauses.append("(o.status NOT IN ('done', 'not-taken-forward') OR o.event_at >= %s)")
        params.append(scope.start())
    return " AND ".join(clauses), params


def outcome_rows(conn: Connection, scope: Scope) -> Iterator[dict[str, Any]]:
    """Published outcomes in scope, parents first, oldest published first (a server-side
    cursor: rows are read as they are used)."""
    where, params = outcome_filter(scope)
    with conn.cursor(name="decisions_outcomes") as cur:
        cur.execute(
            f"SELECT * FROM ({OUTCOME_COLUMNS}) o WHERE {where}"
            " ORDER BY o.parent_id IS NOT NULL, o.published_at, o.id",
            params,
        )
        yield from cur


def outcome_counts(conn: Connection, scope: Scope, today: date) -> dict[str, Any]:
    """Outcomes by status, by partner (and status), and commitments with a due date and
    past it, counted in PostgreSQL."""
    where, params = outcome_filter(scope)
    rows = conn.execute(
        f"SELECT o.partner, o.status, count(*) AS n,"
        " count(*) FILTER (WHERE o.due_date IS NOT NULL) AS dated,"
        " count(*) FILTER (WHERE o.due_date < %s"
        "   AND o.status NOT IN ('done', 'not-taken-forward')) AS past_due"
        f" FROM outcome_records o WHERE {where} GROUP BY o.partner, o.status",
        [today, *params],
    ).fetchall()
    by_status = {s: 0 for s in STATUSES}
    by_partner: dict[str, dict[str, int]] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
        partner = r["partner"] or ""
        by_partner.setdefault(partner, {s: 0 for s in STATUSES})[r["status"]] += r["n"]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_partner": by_partner,
        "with_due_date": sum(r["dated"] for r in rows),
        "past_due": sum(r["past_due"] for r in rows),
    }


def partner_label(code: str | None) -> str:
    names = {p.code: p.name for p in ics().partners}
    return names.get(code or "", code or "No partner named")


def overdue_commitments(conn: Connection, scope: Scope, today: date) -> list[dict[str, Any]]:
    """Outcomes with a due date gone by and no final status, most overdue first."""
    where, params = outcome_filter(scope)
    rows = conn.execute(
        f"SELECT o.id, o.kind, o.title, o.partner, o.status, o.progress, o.due_date"
        f" FROM outcome_records o WHERE {where} AND o.due_date < %s"
        " ORDER BY o.due_date, o.id",
        [*params, today],
    ).fetchall()
    found = []
    for r in rows:
        late = days_past_due(r["due_date"], r["status"], today)
        if late is None:
            continue
        found.append(
            {
                "id": str(r["id"]),
                "kind": r["kind"],
                "title": localised(r["title"]),
                "partner": r["partner"],
                "partner_label": partner_label(r["partner"]),
                "status": r["status"],
                "status_words": status_words(r["status"]),
                "progress": r["progress"],
                "due_date": r["due_date"].isoformat(),
                "days_past_due": late,
            }
        )
    return found


# -- closing the loop on time ----


def _consultation_filter(scope: Scope, now: datetime) -> tuple[str, list[Any]]:
    """Consultations that have closed (by staff or by their date), closed in the period,
    naming the place and the priority."""
    clauses = [
        "c.status <> 'draft'",
        "(c.status = 'closed' OR c.outcome IS NOT NULL OR c.closes_at <= %s)",
    ]
    params: list[Any] = [now]
    if scope.place:
        clauses.append("%s = ANY(c.places)")
        params.append(scope.place)
    if scope.priority:
        clauses.append("%s = ANY(c.priorities)")
        params.append(scope.priority)
    if scope.start():
        clauses.append("COALESCE(c.closed_at, c.closes_at) >= %s")
        params.append(scope.start())
    if scope.end():
        clauses.append("COALESCE(c.closed_at, c.closes_at) < %s")
        params.append(scope.end())
    return " AND ".join(clauses), params


CONSULTATION_COLUMNS = """
    SELECT c.id, c.title, c.places, c.priorities, c.status, c.response_count,
           COALESCE(c.closed_at, c.closes_at) AS closed_at,
           LEAST((c.outcome->>'published_at')::timestamptz,
                 (SELECT min(h.at) FROM outcome_records o
                    JOIN outcome_record_history h ON h.outcome_id = o.id
                   WHERE 'consultation:' || c.id::text = ANY(o.evidence_keys))) AS published_at,
           (SELECT count(*) FROM outcome_records o
             WHERE 'consultation:' || c.id::text = ANY(o.evidence_keys)) AS outcomes
      FROM consultation_summaries c
"""


def consultation_rows(
    conn: Connection, scope: Scope, now: datetime, name: str = "decisions_consultations"
) -> Iterator[dict[str, Any]]:
    """Each closed consultation in scope, latest closed first, with its time to outcome
    (``engage_contracts.timeliness``) and its responses through the small-number rule."""
    where, params = _consultation_filter(scope, now)
    today = uk_day(now)
    with conn.cursor(name=name) as cur:
        cur.execute(
            f"{CONSULTATION_COLUMNS} WHERE {where} ORDER BY closed_at DESC, c.id",
            params,
        )
        for r in cur:
            yield consultation_line(r, today)


def consultation_line(r: dict[str, Any], today: date) -> dict[str, Any]:
    clock = time_to_outcome(r["closed_at"], r["published_at"], today)
    return {
        "id": str(r["id"]),
        "title": localised(r["title"]),
        "places": list(r["places"]),
        "priorities": list(r["priorities"]),
        "closed_on": uk_day(r["closed_at"]).isoformat() if r["closed_at"] else None,
        "responses": None if hidden(r["response_count"], threshold()) else r["response_count"],
        "outcome_published_on": uk_day(r["published_at"]).isoformat()
        if r["published_at"]
        else None,
        "outcomes": r["outcomes"],
        "time_to_outcome": {
            **clock,
            "due_on": clock["due_on"].isoformat() if clock["due_on"] else None,
        },
    }


def timeliness_counts(conn: Connection, scope: Scope, now: datetime) -> dict[str, int]:
    """Closed consultations in scope by time-to-outcome state (one pass, counters only)."""
    counts = {"on-time": 0, "late": 0, "waiting": 0, "overdue": 0}
    for line in consultation_rows(conn, scope, now, name="decisions_timeliness"):
        counts[line["time_to_outcome"]["state"]] += 1
    return counts


# -- reach against population (the reach read model) --------------------------------------------


def place_reach(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Reach against population in the scope's place (every contribution, against the
    ICS's population, when it names none) and period (``gateway.readmodels.reach``)."""
    found = reach.place_reach(conn, scope.place, since=scope.start(), until=scope.end())
    label = place_label(scope.place) if scope.place else "All places"
    return [{"place": scope.place, "label": label, **found}]


def consultation_reach(conn: Connection, consultation_id: str) -> dict[str, Any]:
    return reach.consultation_reach(conn, consultation_id)


# -- the dashboard ----


def dashboard(conn: Connection, scope: Scope, now: datetime) -> dict[str, Any]:
    """Everything the decision makers' dashboard shows, as data (JSON and the page)."""
    today = uk_day(now)
    counts = outcome_counts(conn, scope, today)
    consultations = list(consultation_rows(conn, scope, now))
    states = {"on-time": 0, "late": 0, "waiting": 0, "overdue": 0}
    for c in consultations:
        states[c["time_to_outcome"]["state"]] += 1
    return {
        "scope": scope.as_dict(),
        "scope_words": scope.words(),
        "today": today.isoformat(),
        "threshold": threshold(),
        "contributions": contributions(conn, scope),
        "themes_over_time": themes_over_time(conn, scope),
        "outcomes": {
            "total": counts["total"],
            "by_status": [
                {"status": s, "label": status_words(s), "count": n}
                for s, n in counts["by_status"].items()
            ],
            "by_partner": [
                {
                    "partner": p or None,
                    "label": partner_label(p),
                    "by_status": [{"status": s, "count": n} for s, n in statuses.items()],
                }
                for p, statuses in sorted(counts["by_partner"].items())
            ],
            "with_due_date": counts["with_due_date"],
            "past_due": counts["past_due"],
        },
        "overdue_commitments": overdue_commitments(conn, scope, today),
        "time_to_outcome": {"by_state": states, "consultations": consultations},
        "reach": place_reach(conn, scope),
    }
