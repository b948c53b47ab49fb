"""Reach against population from the read model (``reach_contributions``, kept from the
services' events, and the population profiles the ICS loaded): who took part, across
every channel, by Census group and deprivation, beside the population's shares. Live:
it reads what the projections keep while a consultation is open, from the counts the
database keeps of those rows (migration 013: by UK day, UK month and consultation), or
for a period not made of whole UK days from the rows themselves.

Both functions return::

    {"contributions": int | None, "by_channel": {channel: int | None},
     "dimensions": [{"dimension", "label", "answered": int | None,
                     "representativeness": float | None,
                     "groups": [{"group", "label", "count", "share", "population_share",
                                 "ratio"}]}],
     "representativeness": float | None, "furthest_below": [{dimension, group, label,
     ratio, sentence}], "population_source": str, "threshold": int, "places": [place]}

The small-number rule (``engage_common.disclosure``) applies to every count: the
contributions, the channels, and each dimension's groups together with those who did not
say (a partition of the contributions, so no hidden count can be worked out from the
others and the total). ``share`` is a group's share of the contributions that said which
group they are in; it is withheld (None) in a dimension whose "did not say" count is
hidden, since with the shares that count could be worked out. ``ratio`` is share ÷
population share. A dimension's ``representativeness`` (the lowest group's participation
rate ÷ the highest, over groups with residents) needs every group's count shown; the
overall figure is the lowest of the dimensions'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from engage_common.disclosure import suppress
from engage_contracts import population as pop
from engage_contracts.ics import ics
from gateway.readmodels.counts import counted, scanned_period, split_period

COLUMNS = ("age_band", "sex", "ethnicity", "disability", "unpaid_care", "imd_decile")
DIMENSIONS = ("channel", *COLUMNS)
NO_POPULATION = "No population profiles loaded (./engage manage load-population FILE)"

# How many contributions have each value, by dimension ("channel" and the Census
# ``COLUMNS``; None: did not say): all the figures need, as each group counts on its own.
Tally = dict[str, dict[Any, int]]


def consultation_reach(conn: Connection, consultation_id: str) -> dict[str, Any]:
    """Reach of one consultation: survey responses to it, feedback about it and people
    at engagement events linked to it, against the population of its places (every
    place of the ICS when it names none). From the counts kept by consultation."""
    found = conn.execute(
        "SELECT places FROM consultation_summaries WHERE id = %s", (consultation_id,)
    ).fetchone()
    places = list(found["places"] or []) if found else []
    rows = conn.execute(
        "SELECT dimension, value, n FROM reach_consultation_counts WHERE consultation_id = %s",
        (consultation_id,),
    ).fetchall()
    return _figures(conn, _tally(rows), places)


def place_reach(
    conn: Connection,
    place: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Reach in one place (every contribution when ``place`` is None), from ``since``
    up to but not including ``until``, against that place's (or the ICS's) population."""
    split = split_period(since, until)
    if split is None:
        rows = _scanned_rows(conn, place, since, until)
    else:  # whole days from the counts, the part-days at either end from the rows
        rows = _counted_rows(conn, place, split.first, split.end)
        for edge in split.edges:
            rows += _scanned_rows(conn, place, *edge)
    return _figures(conn, _tally(rows), [place] if place else [])


def place_tally(conn: Connection, place: str | None, first: Any, end: Any) -> Tally:
    """A place's (or every) contributions on the UK days ``[first, end)`` from the counts
    kept by day and month (``gateway.readmodels.counts``)."""
    return _tally(_counted_rows(conn, place, first, end))


def scanned_tally(
    conn: Connection, place: str | None, since: datetime | None, until: datetime | None
) -> Tally:
    """The same from every contribution row, for a period not made of whole UK days."""
    return _tally(_scanned_rows(conn, place, since, until))


def _counted_rows(
    conn: Connection, place: str | None, first: Any, end: Any
) -> list[dict[str, Any]]:
    relation, params = counted("reach", "place, dimension, value", first, end)
    where = "c.place = %s" if place else "TRUE"
    return conn.execute(
        f"SELECT c.dimension, c.value, sum(c.n)::bigint AS n FROM ({relation}) c"
        f" WHERE {where} GROUP BY c.dimension, c.value",
        [*params, *([place] if place else [])],
    ).fetchall()


def _scanned_rows(
    conn: Connection, place: str | None, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    clauses, params = scanned_period(since, until, place)
    return conn.execute(
        "SELECT d.dimension, d.value, count(*) AS n FROM reach_contributions r,"
        " LATERAL (VALUES ('channel', r.channel), ('age_band', r.age_band), ('sex', r.sex),"
        " ('ethnicity', r.ethnicity), ('disability', r.disability),"
        " ('unpaid_care', r.unpaid_care), ('imd_decile', r.imd_decile::text))"
        " d(dimension, value) WHERE " + " AND ".join(clauses) + " GROUP BY 1, 2",
        params,
    ).fetchall()


def _tally(rows: list[dict[str, Any]]) -> Tally:
    """Rows of (dimension, value as text, n) as a ``Tally`` (deciles as numbers again)."""
    out: Tally = {d: {} for d in DIMENSIONS}
    for r in rows:
        value = r["value"]
        if r["dimension"] == "imd_decile" and value is not None:
            value = int(value)
        out[r["dimension"]][value] = out[r["dimension"]].get(value, 0) + int(r["n"])
    return out


def _population(conn: Connection, places: list[str]) -> dict[str, dict[str, int]]:
    """Residents by dimension and group (file groups: IMD by decile) in ``places`` (all
    when empty)."""
    found = conn.execute(
        "SELECT dimension, grp, sum(population)::bigint AS population FROM population_profiles"
        " WHERE cardinality(%s::text[]) = 0 OR place = ANY(%s::text[]) GROUP BY dimension, grp",
        (places, places),
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for r in found:
        out.setdefault(r["dimension"], {})[r["grp"]] = int(r["population"])
    return out


def _source(conn: Connection) -> str:
    files = {
        r["kind"]: r["source"]
        for r in conn.execute("SELECT kind, source FROM reference_files").fetchall()
    }
    parts = []
    parts.append(f"Population: {files['population']}" if "population" in files else NO_POPULATION)
    if "deprivation" in files:
        parts.append(f"Deprivation: {files['deprivation']}")
    return "; ".join(parts)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _dimension(
    dimension: pop.Dimension,
    values: dict[Any, int],
    residents: dict[str, int],
    threshold: int,
) -> dict[str, Any]:
    codes = dimension.group_codes()
    counts = dict.fromkeys((*codes, pop.NOT_GIVEN), 0)
    for value, n in values.items():
        counts[pop.group_of(dimension.code, {dimension.code: value})] += n
    shown, total = suppress(counts, threshold)
    if total is None:
        shown = dict.fromkeys(counts)
    not_given = shown[pop.NOT_GIVEN]
    answered = None if not_given is None or total is None else total - not_given
    population = pop.population_counts(dimension.code, residents) if residents else {}
    population_total = sum(population.values())
    groups = []
    for code in codes:
        count = shown[code]
        share = count / answered if count is not None and answered else None
        population_share = population[code] / population_total if population_total else None
        groups.append(
            {
                "group": code,
                "label": dimension.label_of(code),
                "count": count,
                "share": _round(share, 4),
                "population_share": _round(population_share, 4),
                "ratio": _round(pop.ratio(share, population_share), 3),
            }
        )
    every_count_shown = all(shown[c] is not None for c in codes)
    figure = (
        pop.representativeness({c: counts[c] for c in codes}, population)
        if every_count_shown and answered and population_total
        else None
    )
    return {
        "dimension": dimension.code,
        "label": dimension.label,
        "answered": answered,
        "representativeness": _round(figure, 3),
        "groups": groups,
    }


def _figures(conn: Connection, tally: Tally, places: list[str]) -> dict[str, Any]:
    threshold = ics().small_number_threshold
    residents = _population(conn, places)
    channels = dict(tally["channel"])
    by_channel, channel_total = suppress(channels, threshold)
    if channel_total is None:
        by_channel = dict.fromkeys(channels)
    total = suppress({"all": sum(channels.values())}, threshold)[0]["all"]
    dimensions = [
        _dimension(d, tally.get(d.code, {}), residents.get(d.code, {}), threshold)
        for d in pop.DIMENSIONS
    ]
    figures = [d["representativeness"] for d in dimensions if d["representativeness"] is not None]
    judged = [{**g, "dimension": d["dimension"]} for d in dimensions for g in d["groups"]]
    return {
        "contributions": total,
        "by_channel": dict(sorted(by_channel.items())),
        "dimensions": dimensions,
        "representativeness": min(figures) if figures else None,
        "furthest_below": pop.furthest_below(judged),
        "population_source": _source(conn),
        "threshold": threshold,
        "places": places,
    }
