"""Papers for decision makers, from the read model (``gateway.readmodels.decisions``): the
dashboard page, the board paper and the evidence pack per consultation, as pages, PDF
(WeasyPrint, from the same HTML as the printable page, tagged PDF/UA-1), and as tables
for CSV, JSON and XLSX (``gateway.exports``).

The PDF covers summaries; the tables are the same data, with every outcome in scope, and
stream. WeasyPrint holds the CPU for a while: the gateway's gthread workers take that in
a child process (``gateway.application.pdf``), off the request's thread and any hub.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import render_template
from psycopg import Connection

from engage_common.disclosure import hidden
from engage_contracts.outcomes import STATUSES
from engage_contracts.reference import place_label, priority_label
from engage_contracts.shared import localised
from engage_contracts.timeliness import EXPECTED_DAYS, STATE_WORDS, uk_day
from gateway import charts
from gateway.application.pdf import render as render_pdf
from gateway.exports import HIDDEN, Table
from gateway.readmodels import decisions
from gateway.readmodels.queries import status_words
from gateway.readmodels.you_said import CHANNEL_WORDS, consideration, outcome, theme_labels

log = logging.getLogger(__name__)
PAPER_CSS = ("engage.css", "papers.css")
STATE_ORDER = ("on-time", "late", "waiting", "overdue")


def people(count: int | None) -> Any:
    """A count of people for a table: the count, or HIDDEN."""
    return HIDDEN if count is None else count


def _hide(count: int) -> int | None:
    return None if hidden(count, decisions.threshold()) else count


# -- charts ----


def theme_chart(themes: dict[str, Any]) -> charts.Chart:
    return charts.lines(
        "themes-over-time",
        "Themes raised, by month",
        themes["months"],
        {t["label"]: t["by_month"] for t in themes["themes"]},
        label_heading="Month",
        threshold=decisions.threshold(),
    )


def status_chart(by_status: dict[str, int]) -> charts.Chart:
    return charts.bars(
        "outcomes-by-status",
        "Outcomes by status",
        [status_words(s) for s in by_status],
        {"Outcomes": list(by_status.values())},
        label_heading="Status",
        threshold=decisions.threshold(),
        counts_people=False,
    )


def partner_chart(by_partner: dict[str, dict[str, int]]) -> charts.Chart:
    partners = sorted(by_partner)
    return charts.bars(
        "outcomes-by-partner",
        "Outcomes by partner and status",
        [decisions.partner_label(p or None) for p in partners],
        {status_words(s): [by_partner[p][s] for p in partners] for s in STATUSES},
        label_heading="Partner",
        threshold=decisions.threshold(),
        horizontal=True,
        stacked=True,
        counts_people=False,
    )


def timeliness_chart(states: dict[str, int]) -> charts.Chart:
    return charts.bars(
        "time-to-outcome",
        f"Closed consultations: outcome within 12 weeks ({EXPECTED_DAYS} days)?",
        [STATE_WORDS[s] for s in STATE_ORDER],
        {"Consultations": [states[s] for s in STATE_ORDER]},
        label_heading="Time to outcome",
        threshold=decisions.threshold(),
        counts_people=False,
    )


def reach_charts(reach: list[dict[str, Any]]) -> list[charts.Chart]:
    """Each dimension's groups: share of contributions against share of the population."""
    found = []
    for r in reach:
        for d in r.get("dimensions") or []:
            groups = d.get("groups") or []
            found.append(
                charts.bars(
                    f"reach-{d['dimension']}",
                    f"{d['label']}: share of contributions and of the population (%)",
                    [g["label"] for g in groups],
                    {
                        "Contributions": [_percent(g.get("share")) for g in groups],
                        "Population": [_percent(g.get("population_share")) for g in groups],
                    },
                    label_heading="Group",
                    threshold=decisions.threshold(),
                    horizontal=True,
                    counts_people=False,
                )
            )
    return found


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def dashboard_charts(data: dict[str, Any]) -> list[charts.Chart]:
    o = data["outcomes"]
    return [
        theme_chart(data["themes_over_time"]),
        status_chart({s["status"]: s["count"] for s in o["by_status"]}),
        partner_chart(
            {
                p["partner"] or "": {s["status"]: s["count"] for s in p["by_status"]}
                for p in o["by_partner"]
            }
        ),
        timeliness_chart(data["time_to_outcome"]["by_state"]),
        *reach_charts(data["reach"]),
    ]


def dashboard_page(conn: Connection, scope: decisions.Scope, now: datetime) -> str:
    data = decisions.dashboard(conn, scope, now)
    return render_template(
        "dashboard.html", d=data, charts=dashboard_charts(data), STATE_WORDS=STATE_WORDS
    )


# -- the board paper ----


def you_said_we_did(conn: Connection, scope: decisions.Scope) -> Iterator[dict[str, Any]]:
    """Each theme raised in scope (most raised first) with the outcomes that answer it;
    a theme nothing answers has none (a gap)."""
    labels = theme_labels(conn)
    where, params = decisions.outcome_filter(scope)
    for theme, count in decisions.theme_counts(conn, scope).items():
        answers = conn.execute(
            f"SELECT o.title, o.kind, o.partner, o.status, o.progress, o.due_date, o.reason"
            f" FROM outcome_records o WHERE {where}"
            " AND (%s = ANY(o.themes) OR %s = ANY(o.evidence_keys))"
            " ORDER BY o.parent_id IS NOT NULL, o.event_at, o.id",
            [*params, theme, f"theme:{theme}"],
        ).fetchall()
        yield {
            "theme": theme,
            "label": localised(labels.get(theme, theme)),
            "contributions": _hide(count),
            "outcomes": [
                {
                    "title": localised(a["title"]),
                    "kind": decisions.KIND_WORDS.get(a["kind"], a["kind"]),
                    "partner": decisions.partner_label(a["partner"]) if a["partner"] else "",
                    "status": status_words(a["status"]),
                    "progress": a["progress"],
                    "due_date": a["due_date"],
                    "reason": localised(a["reason"]) if a["reason"] else "",
                }
                for a in answers
            ],
        }


def board_summary(conn: Connection, scope: decisions.Scope, now: datetime) -> dict[str, Any]:
    """The figures the paper opens with (aggregates only)."""
    today = uk_day(now)
    counts = decisions.outcome_counts(conn, scope, today)
    return {
        "contributions": decisions.contributions(conn, scope),
        "timeliness": decisions.timeliness_counts(conn, scope, now),
        "outcomes": counts,
    }


def summary_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The summary as (measure, value) lines: the executive summary's figures."""
    c, t, o = summary["contributions"], summary["timeliness"], summary["outcomes"]
    rows: list[list[Any]] = [["Contributions (all channels)", people(c["total"])]]
    rows += [
        [f"Contributions: {CHANNEL_WORDS.get(k, k)}", people(v)] for k, v in c["by_channel"].items()
    ]
    rows.append(["Consultations closed", sum(t.values())])
    rows += [[f"Time to outcome: {STATE_WORDS[s]}", t[s]] for s in STATE_ORDER]
    rows.append(["Outcomes published", o["total"]])
    rows += [[f"Outcomes: {status_words(s)}", n] for s, n in o["by_status"].items()]
    rows.append(["Outcomes with a due date", o["with_due_date"]])
    rows.append(["Commitments past their due date", o["past_due"]])
    return rows


def board_paper_html(
    conn: Connection, scope: decisions.Scope, now: datetime, for_pdf: bool = False
) -> str:
    """The board paper: the printable page, and (``for_pdf``) the HTML the PDF is made of."""
    today = uk_day(now)
    summary = board_summary(conn, scope, now)
    counts = summary["outcomes"]
    reach = decisions.place_reach(conn, scope)
    consultations = list(decisions.consultation_rows(conn, scope, now))
    figures = [
        status_chart(counts["by_status"]),
        partner_chart(counts["by_partner"]),
        timeliness_chart(summary["timeliness"]),
    ]
    return render_template(
        "board_paper.html",
        scope=scope,
        produced=now,
        summary=summary,
        summary_rows=summary_rows(summary),
        you_said=list(you_said_we_did(conn, scope)),
        overdue=decisions.overdue_commitments(conn, scope, today),
        consultations=consultations,
        reach=reach,
        reach_charts=reach_charts(reach),
        figures=figures,
        STATE_WORDS=STATE_WORDS,
        for_pdf=for_pdf,
    )


def board_tables(conn: Connection, scope: decisions.Scope, now: datetime) -> Iterator[Table]:
    """The board paper's data as tables (the same figures as the PDF, with every outcome)."""
    today = uk_day(now)
    summary = board_summary(conn, scope, now)
    yield Table("Summary", ["measure", "value"], summary_rows(summary))
    yield Table(
        "You said, we did",
        [
            "theme",
            "contributions",
            "outcome",
            "kind",
            "partner",
            "status",
            "progress %",
            "due date",
            "reason",
        ],
        _you_said_rows(conn, scope),
    )
    counts = summary["outcomes"]
    yield Table(
        "Outcomes by status",
        ["status", "outcomes"],
        [[status_words(s), n] for s, n in counts["by_status"].items()],
    )
    yield Table(
        "Outcomes by partner",
        ["partner", *(status_words(s) for s in STATUSES)],
        [
            [decisions.partner_label(p or None), *(v[s] for s in STATUSES)]
            for p, v in sorted(counts["by_partner"].items())
        ],
    )
    yield Table(
        "Commitments past due",
        ["outcome", "partner", "status", "progress %", "due date", "days past due"],
        (
            [
                o["title"],
                o["partner_label"],
                o["status_words"],
                o["progress"],
                o["due_date"],
                o["days_past_due"],
            ]
            for o in decisions.overdue_commitments(conn, scope, today)
        ),
    )
    yield Table("Consultations", CONSULTATION_COLUMNS, _consultation_rows(conn, scope, now))
    yield Table("Reach", REACH_COLUMNS, _reach_rows(decisions.place_reach(conn, scope)))
    yield Table("Outcomes", OUTCOME_COLUMNS, _outcome_rows(conn, scope))


BOARD_TABLES = 8  # how many tables board_tables yields (progress bars count them)
CONSULTATION_COLUMNS = [
    "consultation",
    "places",
    "priorities",
    "closed on",
    "responses",
    "outcome published on",
    "days from close",
    "time to outcome",
    "outcomes",
]
REACH_COLUMNS = [
    "place",
    "dimension",
    "group",
    "contributions",
    "share",
    "population share",
    "ratio",
    "representativeness",
]
OUTCOME_COLUMNS = [
    "outcome",
    "kind",
    "partner",
    "status",
    "progress %",
    "due date",
    "published on",
    "reason",
    "places",
    "priorities",
    "themes",
]


def _you_said_rows(conn: Connection, scope: decisions.Scope) -> Iterator[list[Any]]:
    for t in you_said_we_did(conn, scope):
        contributions = people(t["contributions"])
        if not t["outcomes"]:
            yield [t["label"], contributions, "No outcome yet", "", "", "", "", "", ""]
        for o in t["outcomes"]:
            yield [
                t["label"],
                contributions,
                o["title"],
                o["kind"],
                o["partner"],
                o["status"],
                o["progress"],
                o["due_date"],
                o["reason"],
            ]


def _consultation_rows(
    conn: Connection, scope: decisions.Scope, now: datetime
) -> Iterator[list[Any]]:
    for c in decisions.consultation_rows(conn, scope, now):
        clock = c["time_to_outcome"]
        yield [
            c["title"],
            [place_label(p) for p in c["places"]] or ["All places"],
            [priority_label(p) for p in c["priorities"]],
            c["closed_on"],
            people(c["responses"]),
            c["outcome_published_on"],
            clock["days"],
            STATE_WORDS[clock["state"]],
            c["outcomes"],
        ]


def _reach_rows(reach: list[dict[str, Any]] | None) -> Iterator[list[Any]]:
    for r in reach or []:
        for d in r.get("dimensions") or []:
            for g in d.get("groups") or []:
                yield [
                    r["label"],
                    d["label"],
                    g["label"],
                    people(g.get("count")),
                    g.get("share"),
                    g.get("population_share"),
                    g.get("ratio"),
                    r.get("representativeness"),
                ]


def _outcome_rows(conn: Connection, scope: decisions.Scope) -> Iterator[list[Any]]:
    for o in decisions.outcome_rows(conn, scope):
        yield [
            localised(o["title"]),
            decisions.KIND_WORDS.get(o["kind"], o["kind"]),
            decisions.partner_label(o["partner"]) if o["partner"] else "",
            status_words(o["status"]),
            o["progress"],
            o["due_date"],
            uk_day(o["published_at"]) if o["published_at"] else None,
            localised(o["reason"]) if o["reason"] else "",
            [place_label(p) for p in o["places"]] or ["All places"],
            [priority_label(p) for p in o["priorities"]],
            list(o["themes"]),
        ]


# -- the evidence pack ----


def evidence_pack(conn: Connection, consultation_id: str, now: datetime) -> dict[str, Any] | None:
    """Everything about one consultation a decision is accountable for: the consultation,
    who responded (in aggregate), every theme raised with the decision on it and why, the
    outcomes and their history, and the time to outcome. None: no such consultation."""
    row = conn.execute(
        f"{decisions.CONSULTATION_COLUMNS} WHERE c.id = %s", (consultation_id,)
    ).fetchone()
    if row is None:
        return None
    extra = conn.execute(
        "SELECT summary, opens_at, status FROM consultation_summaries WHERE id = %s",
        (consultation_id,),
    ).fetchone()
    line = decisions.consultation_line(row, uk_day(now))
    if row["status"] == "open" and (row["closed_at"] is None or row["closed_at"] > now):
        line["closed_on"] = None
        line["time_to_outcome"] = {"state": "open", "days": None, "due_on": None, "days_left": None}
    considered = consideration(conn, consultation_id)
    outcomes = [outcome(conn, o["id"]) for o in considered["outcomes"]]
    return {
        "consultation": {
            **line,
            "summary": localised(extra["summary"]),
            "status": extra["status"],
            "opens_on": uk_day(extra["opens_at"]).isoformat() if extra["opens_at"] else None,
        },
        "responses_by_place": _responses_by_place(conn, consultation_id),
        "themes": considered["themes"],
        "outcomes": [o for o in outcomes if o],
        "reach": decisions.consultation_reach(conn, consultation_id),
        "threshold": considered["threshold"],
    }


def _responses_by_place(conn: Connection, consultation_id: str) -> list[dict[str, Any]]:
    from gateway.readmodels.queries import _places_shown

    counts = conn.execute(
        "SELECT place, count FROM responses_by_place WHERE consultation_id = %s"
        " ORDER BY place = '', count DESC, place",
        (consultation_id,),
    ).fetchall()
    return _places_shown({c["place"] or None: c["count"] for c in counts}, decisions.threshold())


def evidence_tables(pack: dict[str, Any]) -> Iterator[Table]:
    c = pack["consultation"]
    clock = c["time_to_outcome"]
    yield Table(
        "Consultation",
        ["field", "value"],
        [
            ["title", c["title"]],
            ["summary", c["summary"]],
            ["places", [place_label(p) for p in c["places"]] or ["All places"]],
            ["priorities", [priority_label(p) for p in c["priorities"]]],
            ["opened on", c["opens_on"]],
            ["closed on", c["closed_on"]],
            ["responses", people(c["responses"])],
            ["outcome published on", c["outcome_published_on"]],
            ["days from close", clock["days"]],
            ["time to outcome", STATE_WORDS[clock["state"]]],
        ],
    )
    yield Table(
        "Responses by place",
        ["place", "responses"],
        [[p["label"], people(p["count"])] for p in pack["responses_by_place"]],
    )
    yield Table(
        "Themes raised",
        [
            "theme",
            "contributions",
            "channel",
            "channel contributions",
            "decision",
            "status",
            "reason",
        ],
        _theme_rows(pack["themes"]),
    )
    yield Table(
        "Outcome history",
        ["outcome", "kind", "partner", "at", "status", "progress %", "reason"],
        _history_rows(pack["outcomes"]),
    )
    if pack["reach"]:
        yield Table(
            "Reach", REACH_COLUMNS, _reach_rows([{"label": "This consultation", **pack["reach"]}])
        )


def _theme_rows(themes: list[dict[str, Any]]) -> Iterator[list[Any]]:
    for t in themes:
        decided = t["outcomes"] or [None]
        channels = t["by_channel"] or [{"channel": "", "count": None}]
        for ch in channels:
            for o in decided:
                yield [
                    t["label"],
                    people(t["contributions"]),
                    CHANNEL_WORDS.get(ch["channel"], ch["channel"]),
                    people(ch["count"]),
                    localised(o["title"]) if o else "Not decided yet",
                    status_words(o["status"]) if o else "",
                    localised(o["reason"]) if o and o["reason"] else "",
                ]


def _history_rows(outcomes: list[dict[str, Any]]) -> Iterator[list[Any]]:
    for o in outcomes:
        for h in o["history"]:
            yield [
                localised(o["title"]),
                decisions.KIND_WORDS.get(o["kind"], o["kind"]),
                decisions.partner_label(o["partner"]) if o["partner"] else "",
                h["at"],
                status_words(h["status"]),
                h["progress"],
                localised(h["reason"]) if h["reason"] else "",
            ]


def evidence_pack_html(pack: dict[str, Any], now: datetime, for_pdf: bool = False) -> str:
    return render_template(
        "evidence_pack.html",
        p=pack,
        produced=now,
        STATE_WORDS=STATE_WORDS,
        CHANNELS=CHANNEL_WORDS,
        KINDS=decisions.KIND_WORDS,
        partner_label=decisions.partner_label,
        for_pdf=for_pdf,
    )


# -- PDF ----


def pdf(html: str) -> bytes:
    """The page as a tagged PDF (PDF/UA-1: structure tags, the title and language from the
    HTML). Only ``data:`` URIs are fetched (the charts): stylesheets are read from the
    package, so rendering never makes a request."""
    started = time.monotonic()
    document = render_pdf(html, PAPER_CSS)
    log.info("PDF of %d bytes rendered in %.2f s", len(document), time.monotonic() - started)
    return document
