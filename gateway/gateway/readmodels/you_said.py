"""'You said, we did' across every channel, from the read model only: contributions
(confirmed-themed survey answers, feedback items, points heard at events), the quotes
approved for publication, and the published outcomes with their history. Contributions,
not people: nothing links one person across channels. Every count goes through the
small-number rule (``engage_common.disclosure``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from engage_common.disclosure import hidden, suppress
from engage_contracts.ics import ics
from engage_contracts.shared import localised
from gateway.readmodels.counts import counted, scanned_period, split_period

CHANNEL_WORDS = {"survey": "Consultation answers", "feedback": "Feedback", "event": "Events"}
QUOTES = 5

# One row per contribution: (channel, place, themes, consultation ids, when). Readers
# count the kept counts instead (``contribution_rows``; migration 013 counts these rows).
CONTRIBUTIONS = """
    SELECT 'survey' AS channel, place, themes, ARRAY[consultation_id] AS consultations,
           occurred_at FROM answer_contributions
    UNION ALL
    SELECT 'feedback', place, themes,
           CASE WHEN consultation_id IS NULL THEN '{}'::uuid[] ELSE ARRAY[consultation_id] END,
           received_at FROM feedback_facts WHERE NOT deleted AND kind IS NOT NULL
    UNION ALL
    SELECT 'event', place, themes, consultation_ids, occurred_at
      FROM point_contributions WHERE NOT withdrawn
"""


def contribution_rows(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """A relation of contributions from ``since`` up to ``until`` (either open) as
    (channel, place, themes, consultations, month, n): ``n`` contributions alike, by UK
    month. Its whole UK days from the counts kept by day and month, the part-days at its
    ends one row a contribution (``scanned_rows``); all of it that way when no whole day
    lies inside (``split_period``)."""
    split = split_period(since, until)
    if split is None:
        return scanned_rows(since, until)
    relation, params = counted(
        "contribution", "channel, place, themes, consultations", split.first, split.end
    )
    parts = [
        "SELECT channel, place, themes, consultations, to_char(period, 'YYYY-MM') AS month, n"
        f" FROM ({relation}) k"
    ]
    for edge in split.edges:
        sql, more = scanned_rows(*edge)
        parts.append(sql)
        params = [*params, *more]
    return " UNION ALL ".join(parts), params


def scanned_rows(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """``contribution_rows`` from every contribution, one row each (``n`` = 1)."""
    clauses, params = scanned_period(since, until)
    return (
        "SELECT channel, place, themes, consultations, to_char(occurred_at AT TIME ZONE"
        f" 'Europe/London', 'YYYY-MM') AS month, 1 AS n FROM ({CONTRIBUTIONS}) k"
        f" WHERE {' AND '.join(clauses)}",
        params,
    )


def _filters(
    place: str | None,
    priority: str | None,
    theme: str | None,
    consultation_id: str | None = None,
) -> tuple[str, list[Any]]:
    """Conditions on ``contribution_rows`` (as ``c``) for a place, priority, theme and
    consultation."""
    clauses, params = ["TRUE"], []
    if place:
        clauses.append("c.place = %s")
        params.append(place)
    if theme:
        clauses.append("%s = ANY(c.themes)")
        params.append(theme)
    if priority:
        # Raised under one of the priority's themes, or about a consultation for it.
        clauses.append(
            "(c.themes && ARRAY(SELECT slug FROM feedback_themes WHERE priority = %s)"
            " OR c.consultations && ARRAY(SELECT id FROM consultation_summaries"
            " WHERE %s = ANY(priorities)))"
        )
        params += [priority, priority]
    if consultation_id:
        clauses.append("%s::uuid = ANY(c.consultations)")
        params.append(consultation_id)
    return " AND ".join(clauses), params


def _shown(counts: dict[Any, int], threshold: int, partition: bool = True) -> dict[Any, Any]:
    if not partition:
        return {k: None if hidden(v, threshold) else v for k, v in counts.items()}
    shown, total = suppress(counts, threshold)
    return shown if total is not None else {k: None for k in counts}


def theme_labels(conn: Connection) -> dict[str, str]:
    return {
        r["slug"]: r["label"]
        for r in conn.execute("SELECT slug, label FROM feedback_themes").fetchall()
    }


def you_said(
    conn: Connection,
    place: str | None = None,
    priority: str | None = None,
    theme: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The combined picture for a place, priority, theme and period: contributions, by
    channel, by month and by theme, and a few approved quotes."""
    relation, params = contribution_rows(since, until)
    where, more = _filters(place, priority, theme)
    # Counted in the database by channel, themes and month (rows with their count ``n``):
    # a few hundred rows however many contributions there are.
    rows = conn.execute(
        "SELECT c.channel, c.themes, c.month, sum(c.n)::bigint AS n"
        f" FROM ({relation}) c WHERE {where} GROUP BY 1, 2, 3",
        [*params, *more],
    ).fetchall()
    threshold = ics().small_number_threshold
    by_channel: dict[str, int] = {}
    by_month: dict[str, int] = {}
    by_theme: dict[str, int] = {}
    for r in rows:
        by_channel[r["channel"]] = by_channel.get(r["channel"], 0) + r["n"]
        by_month[r["month"]] = by_month.get(r["month"], 0) + r["n"]
        for t in r["themes"] or []:
            by_theme[t] = by_theme.get(t, 0) + r["n"]
    labels = theme_labels(conn)
    channels, months = _shown(by_channel, threshold), _shown(by_month, threshold)
    themes = _shown(by_theme, threshold, partition=False)
    total = suppress({"all": sum(r["n"] for r in rows)}, threshold)[0]["all"]
    return {
        "contributions": total,
        "by_channel": [
            {"channel": k, "label": CHANNEL_WORDS.get(k, k), "count": channels[k]}
            for k in sorted(by_channel, key=lambda k: -by_channel[k])
        ],
        "by_month": [{"month": k, "count": months[k]} for k in sorted(by_month)],
        "by_theme": [
            {"theme": k, "label": localised(labels.get(k, k)), "count": themes[k]}
            for k in sorted(by_theme, key=lambda k: (-by_theme[k], k))
        ],
        "quotes": quotes(conn, place, theme),
        "threshold": threshold,
    }


def quotes(conn: Connection, place: str | None, theme: str | None) -> list[dict[str, Any]]:
    """The latest few quotes approved for publication (redacted, allowed by the person)."""
    clauses, params = ["TRUE"], []
    if place:
        clauses.append("place = %s")
        params.append(place)
    if theme:
        clauses.append("%s = ANY(themes)")
        params.append(theme)
    return [
        {"quote": r["quote"], "source": r["source"], "themes": list(r["themes"])}
        for r in conn.execute(
            "SELECT quote, source, themes FROM published_quotes WHERE "
            + " AND ".join(clauses)
            + " ORDER BY published_at DESC, source_id LIMIT %s",
            [*params, QUOTES],
        ).fetchall()
    ]


def outcomes(
    conn: Connection,
    place: str | None = None,
    priority: str | None = None,
    theme: str | None = None,
    consultation_id: str | None = None,
) -> list[dict[str, Any]]:
    """Published outcomes matching the filters (an outcome for no particular place is for
    every place), parents before children, latest change first."""
    clauses, params = ["TRUE"], []
    if place:
        clauses.append("(places = '{}' OR %s = ANY(places))")
        params.append(place)
    if priority:
        clauses.append("%s = ANY(priorities)")
        params.append(priority)
    if theme:
        clauses.append("(%s = ANY(themes) OR %s = ANY(evidence_keys))")
        params += [theme, f"theme:{theme}"]
    if consultation_id:
        clauses.append("%s = ANY(evidence_keys)")
        params.append(f"consultation:{consultation_id}")
    rows = conn.execute(
        "SELECT * FROM outcome_records WHERE "
        + " AND ".join(clauses)
        + " ORDER BY parent_id IS NOT NULL, event_at DESC, id",
        params,
    ).fetchall()
    return [_outcome(r) for r in rows]


def _outcome(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in row.items() if k not in ("evidence_keys", "event_at")},
        "id": str(row["id"]),
        "parent_id": str(row["parent_id"]) if row["parent_id"] else None,
        "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        "updated_at": row["event_at"].isoformat(),
    }


def outcome(conn: Connection, outcome_id: str) -> dict[str, Any] | None:
    """One published outcome, its history (each change, oldest first) and children."""
    row = conn.execute("SELECT * FROM outcome_records WHERE id = %s", (outcome_id,)).fetchone()
    if row is None:
        return None
    history = conn.execute(
        "SELECT at, status, progress, reason FROM outcome_record_history WHERE outcome_id = %s"
        " ORDER BY at, event_id",
        (outcome_id,),
    ).fetchall()
    children = conn.execute(
        "SELECT * FROM outcome_records WHERE parent_id = %s ORDER BY event_at, id", (outcome_id,)
    ).fetchall()
    return {
        **_outcome(row),
        "history": [{**h, "at": h["at"].isoformat()} for h in history],
        "children": [_outcome(c) for c in children],
    }


def consideration(conn: Connection, consultation_id: str) -> dict[str, Any]:
    """Conscientious consideration: every theme raised about a consultation (its answers,
    and feedback and event points linked to it), how often and through which channels,
    with the outcomes that answer it; a theme nothing answers yet is a gap."""
    relation, params = contribution_rows(None, None)
    where, more = _filters(None, None, None, consultation_id)
    rows = conn.execute(
        f"SELECT c.channel, theme, sum(c.n)::bigint AS n FROM ({relation}) c,"
        f" unnest(c.themes) AS theme WHERE {where} GROUP BY 1, 2",
        [*params, *more],
    ).fetchall()
    raised: dict[str, dict[str, int]] = {}
    for r in rows:
        raised.setdefault(r["theme"], {}).setdefault(r["channel"], 0)
        raised[r["theme"]][r["channel"]] += r["n"]
    answers = outcomes(conn, consultation_id=consultation_id)
    threshold = ics().small_number_threshold
    labels = theme_labels(conn)
    themes = []
    for theme in sorted(raised, key=lambda t: (-sum(raised[t].values()), t)):
        decided = [
            {"id": o["id"], "title": o["title"], "status": o["status"], "reason": o["reason"]}
            for o in answers
            if theme in o["themes"] or f"theme:{theme}" in [_key(e) for e in o["evidence"]]
        ]
        total = sum(raised[theme].values())
        channels = _shown(raised[theme], threshold)
        themes.append(
            {
                "theme": theme,
                "label": localised(labels.get(theme, theme)),
                "contributions": None if hidden(total, threshold) else total,
                "by_channel": [{"channel": k, "count": channels[k]} for k in sorted(channels)],
                "outcomes": decided,
                "gap": not decided,
            }
        )
    return {
        "consultation_id": consultation_id,
        "themes": themes,
        "outcomes": answers,
        "threshold": threshold,
    }


def _key(link: dict[str, Any]) -> str:
    return f"theme:{link.get('theme')}" if link.get("kind") == "theme" else ""
