"""The counts the read model keeps for reach and the "you said" contributions (migration
013) answer exactly as counting every row did, for every scope (place, UK days across
month ends and a clock change, consultation, priority, theme), after single events, a
batch, a changed row, deletions and erasure, and a rebuild swapped in; and the tables
hold exactly what counting the rows from scratch gives (no count left at 0)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from engage_common.db import Pool
from engage_contracts.timeliness import LONDON
from gateway.readmodels import decisions, reach, you_said
from gateway.readmodels.counts import split_period
from gateway.readmodels.projections import BATCHED, HANDLERS
from gateway.readmodels.rebuild import rebuild

CID = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
# Around the end of March 2026: the clocks go forward on Sunday 29 March.
BASE = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
PLACES = ("leeds", "bradford", None)
GROUPS = (
    {"age_band": "25-34", "sex": "female", "imd_decile": 3},
    {"age_band": "65-74", "ethnicity": "white", "disability": "not-limited"},
    {},
    {"sex": "male", "unpaid_care": "no", "imd_decile": 10},
)


def event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": BASE.isoformat(),
        **fields,
    }


def at(hours: float) -> str:
    return (BASE + timedelta(hours=hours)).isoformat()


def response(rid: int, hours: float, **more: Any) -> dict[str, Any]:
    return event(
        "response_submitted",
        consultation_id=CID if rid % 3 else OTHER,
        response_id=rid,
        receipt_code=f"R{rid}",
        place=PLACES[rid % 3],
        channel=("online", "paper", "phone")[rid % 3],
        submitted_at=at(hours),
        equality=GROUPS[rid % 4],
        **more,
    )


def feedback(i: int, hours: float) -> dict[str, Any]:
    return event(
        "feedback_received",
        feedback_id=str(uuid.UUID(int=i)),
        kind="idea",
        place=PLACES[i % 3],
        channel="phone",
        consultation_id=CID if i % 2 else None,
        received_at=at(hours),
        equality=GROUPS[i % 4],
    )


def apply(db: Pool, source: str, e: dict[str, Any]) -> None:
    with db.connection() as conn:
        HANDLERS[source, e["event_type"]][1](conn, e)


def batch(db: Pool, source: str, events: list[dict[str, Any]]) -> None:
    with db.connection() as conn:
        BATCHED[source, events[0]["event_type"]](conn, events)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


# Periods of whole UK days (either end open): inside a month, across its end, a day,
# whole months, and open on one side.
PERIODS = [
    (None, None),
    (date(2026, 3, 28), date(2026, 3, 30)),
    (date(2026, 3, 29), date(2026, 4, 2)),
    (date(2026, 3, 1), date(2026, 4, 1)),
    (date(2026, 2, 1), date(2026, 5, 1)),
    (date(2026, 3, 30), date(2026, 3, 31)),
    (date(2026, 3, 31), None),
    (None, date(2026, 3, 30)),
    (date(2026, 4, 1), None),
    (None, date(2026, 4, 1)),
]


def moments(first: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    return (midnight(first) if first else None, midnight(end) if end else None)


# -- the oracle: counting every row, as the readers did before ---------------------------------

EXPECTED = {
    "reach_day_counts": """
        SELECT (occurred_at AT TIME ZONE 'Europe/London')::date, place, d.dimension, d.value,
               count(*) FROM reach_contributions r, LATERAL (VALUES ('channel', r.channel),
               ('age_band', r.age_band), ('sex', r.sex), ('ethnicity', r.ethnicity),
               ('disability', r.disability), ('unpaid_care', r.unpaid_care),
               ('imd_decile', r.imd_decile::text)) d(dimension, value) GROUP BY 1, 2, 3, 4""",
    "reach_consultation_counts": """
        SELECT c, d.dimension, d.value, count(*) FROM reach_contributions r,
               LATERAL (SELECT DISTINCT c FROM unnest(r.consultation_ids) c) cs,
               LATERAL (VALUES ('channel', r.channel), ('age_band', r.age_band),
               ('sex', r.sex), ('ethnicity', r.ethnicity), ('disability', r.disability),
               ('unpaid_care', r.unpaid_care), ('imd_decile', r.imd_decile::text))
               d(dimension, value) GROUP BY 1, 2, 3""",
    "contribution_month_counts": f"""
        SELECT date_trunc('month', occurred_at AT TIME ZONE 'Europe/London')::date, channel,
               place, themes, consultations, count(*)
          FROM ({you_said.CONTRIBUTIONS}) c GROUP BY 1, 2, 3, 4, 5""",
}
KEPT = {
    "reach_day_counts": "SELECT day, place, dimension, value, n FROM reach_day_counts",
    "reach_consultation_counts": "SELECT consultation_id, dimension, value, n"
    " FROM reach_consultation_counts",
    "contribution_month_counts": "SELECT month, channel, place, themes, consultations, n"
    " FROM contribution_month_counts",
}


def rows_of(conn: Any, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    return sorted((tuple(r.values()) for r in conn.execute(sql, params).fetchall()), key=repr)


def assert_counts_exact(db: Pool) -> None:
    """The kept counts are what counting the rows gives, and the readers answer as the
    scans do for every scope."""
    with db.connection() as conn:
        for table, sql in EXPECTED.items():
            assert rows_of(conn, KEPT[table]) == rows_of(conn, sql), table
        for table in ("reach_month_counts", "contribution_day_counts"):
            zero = conn.execute(f"SELECT count(*) AS n FROM {table} WHERE n <= 0").fetchone()
            assert zero["n"] == 0, table
        for first, end in PERIODS:
            since, until = moments(first, end)
            for place in ("leeds", "bradford", None):
                kept = reach.place_tally(conn, place, first, end)
                assert kept == reach.scanned_tally(conn, place, since, until), (place, first)
                for priority in (None, "living-well"):
                    for theme in (None, "access"):
                        assert said(conn, place, priority, theme, since, until, False) == said(
                            conn, place, priority, theme, since, until, True
                        ), (place, priority, theme, first, end)
        for cid in (CID, OTHER):
            found = conn.execute(
                "SELECT d.dimension, d.value, count(*) AS n FROM reach_contributions r,"
                " LATERAL (VALUES ('channel', r.channel), ('age_band', r.age_band),"
                " ('sex', r.sex), ('ethnicity', r.ethnicity), ('disability', r.disability),"
                " ('unpaid_care', r.unpaid_care), ('imd_decile', r.imd_decile::text))"
                " d(dimension, value) WHERE %s::uuid = ANY(r.consultation_ids) GROUP BY 1, 2",
                (cid,),
            ).fetchall()
            assert reach.consultation_reach(conn, cid) == reach._figures(
                conn, reach._tally(found), reach.consultation_reach(conn, cid)["places"]
            )
            assert said(conn, None, None, None, None, None, False, cid) == said(
                conn, None, None, None, None, None, True, cid
            )


def said(
    conn: Any,
    place: str | None,
    priority: str | None,
    theme: str | None,
    since: datetime | None,
    until: datetime | None,
    scan: bool,
    consultation_id: str | None = None,
) -> list[tuple[Any, ...]]:
    """Contributions by channel, themes and month for a scope, from the kept counts or
    from every row."""
    relation, params = (you_said.scanned_rows if scan else you_said.contribution_rows)(since, until)
    where, more = you_said._filters(place, priority, theme, consultation_id)
    return rows_of(
        conn,
        f"SELECT c.channel, c.themes, c.month, sum(c.n)::bigint FROM ({relation}) c"
        f" WHERE {where} GROUP BY 1, 2, 3",
        [*params, *more],
    )


# -- the scenario ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filled(db: Pool) -> Pool:
    """Themes with priorities, two consultations, and contributions of every kind."""
    for slug, priority in (("access", "living-well"), ("transport", None)):
        saved = event("theme_saved", slug=slug, label=slug.title(), priority=priority)
        apply(db, "feedback", saved)
    for cid, priorities in ((CID, ["living-well"]), (OTHER, [])):
        apply(
            db,
            "surveys",
            event(
                "consultation_opened",
                consultation_id=cid,
                title="Counts",
                places=["leeds"],
                priorities=priorities,
                status="open",
            ),
        )
    return db


def test_counts_stay_exact_through_every_way_rows_are_written(filled: Pool) -> None:
    db = filled
    assert_counts_exact(db)
    # One at a time, across the clock change and the end of March.
    for rid in range(1, 13):
        apply(db, "surveys", response(rid, hours=rid * 7 - 30))
    for i in range(1, 7):
        apply(db, "feedback", feedback(i, hours=i * 11 - 40))
    assert_counts_exact(db)
    # A batch (one response twice: the last wins) and a batch of feedback.
    batch(db, "surveys", [response(rid, hours=rid * 5 - 60) for rid in range(13, 40)])
    batch(db, "surveys", [response(20, hours=300), response(20, hours=-300)])
    batch(db, "feedback", [feedback(i, hours=i * 13 - 200) for i in range(7, 20)])
    # Themed answers and feedback, points heard, people at events.
    for rid in (1, 2, 14):
        apply(
            db,
            "surveys",
            event(
                "answer_themed",
                response_id=rid,
                question_id="q1",
                consultation_id=CID,
                place=PLACES[rid % 3],
                themes=["access", "transport"][: rid % 2 + 1],
                occurred_at=at(rid * 9),
            ),
        )
    for i in range(1, 10):
        apply(
            db,
            "feedback",
            event(
                "feedback_themed",
                feedback_id=str(uuid.UUID(int=i)),
                place=PLACES[i % 3],
                channel="phone",
                themes=[["access"], ["transport"], []][i % 3],
                occurred_at=at(i + 500),
            ),
        )
    for i in range(6):
        apply(
            db,
            "events",
            event(
                "point_heard",
                point_id=str(uuid.UUID(int=1000 + i)),
                engagement_event_id=str(uuid.UUID(int=2000)),
                place=PLACES[i % 3],
                consultation_ids=[CID] if i % 2 else [],
                themes=["access"] if i % 3 else ["transport", "access"],
                heard_at=at(i * 20 - 50),
            ),
        )
        apply(
            db,
            "events",
            event(
                "attendee_recorded",
                registration_id=str(uuid.UUID(int=3000 + i)),
                attended=True,
                place=PLACES[i % 3],
                consultation_ids=[CID, CID] if i % 2 else [OTHER],
                heard_at=at(i * 20 - 50),
                equality=GROUPS[i % 4],
            ),
        )
    assert_counts_exact(db)
    # Changed rows: a response stored again elsewhere, feedback themed again.
    apply(db, "surveys", response(5, hours=400) | {"place": "bradford"})
    apply(
        db,
        "feedback",
        event(
            "feedback_themed",
            feedback_id=str(uuid.UUID(int=1)),
            place="leeds",
            channel="phone",
            themes=["transport", "access"],
            occurred_at=at(900),
        ),
    )
    assert_counts_exact(db)
    # Deletion, erasure, absence, withdrawal.
    apply(db, "surveys", event("response_deleted", consultation_id=CID, response_id=4))
    apply(db, "surveys", event("response_deleted", consultation_id=CID, response_id=20))
    apply(db, "feedback", event("feedback_deleted", feedback_id=str(uuid.UUID(int=2))))
    apply(db, "events", event("registration_erased", registration_id=str(uuid.UUID(int=3001))))
    apply(
        db,
        "events",
        event("attendee_recorded", registration_id=str(uuid.UUID(int=3002)), attended=False),
    )
    apply(
        db,
        "events",
        event(
            "point_withdrawn",
            point_id=str(uuid.UUID(int=1001)),
            engagement_event_id=str(uuid.UUID(int=2000)),
        ),
    )
    assert_counts_exact(db)


def test_the_dashboard_reads_the_counts_and_hides_small_numbers(filled: Pool) -> None:
    """Hand-counted: four responses and two feedback items in Leeds on 31 March (UK)."""
    db = filled
    day = date(2026, 12, 31)
    cid = str(uuid.uuid4())
    start = midnight(day).astimezone(UTC)
    for rid in range(9001, 9005):
        apply(
            db,
            "surveys",
            event(
                "response_submitted",
                consultation_id=cid,
                response_id=rid,
                place="leeds",
                channel="online",
                submitted_at=(start + timedelta(hours=rid - 9000)).isoformat(),
                equality={"sex": "female"},
            ),
        )
    scope = decisions.Scope("leeds", None, day, day)
    with db.connection() as conn:
        figures = decisions.place_reach(conn, scope)[0]
        threshold = decisions.threshold()
        tally = reach.place_tally(conn, "leeds", day, day + timedelta(days=1))
    assert tally["channel"] == {"online": 4}
    assert tally["sex"] == {"female": 4}
    assert figures["contributions"] == (4 if threshold <= 4 else None)
    # The last moment of the period is in it, the next day's first is not.
    apply(
        db,
        "surveys",
        event(
            "response_submitted",
            consultation_id=cid,
            response_id=9010,
            place="leeds",
            channel="paper",
            submitted_at=midnight(day + timedelta(days=1)).isoformat(),
            equality={},
        ),
    )
    with db.connection() as conn:
        assert reach.place_tally(conn, "leeds", day, day + timedelta(days=1)) == tally


# Periods not of whole UK days: the whole days inside come from the counts, the part-days
# at either end from the rows. A UTC midnight in summer is 01:00 in the UK; 23:00 UTC on
# 30 March is a UK midnight (BST), as is a GMT midnight in winter.
PART_DAYS = [
    (datetime(2026, 3, 29, 10, 0, tzinfo=UTC), None),
    (None, datetime(2026, 3, 30, 23, 0, tzinfo=UTC)),
    (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
    (datetime(2026, 3, 28, 12, 30, tzinfo=UTC), datetime(2026, 4, 2, 6, 0, tzinfo=UTC)),
    (datetime(2026, 2, 14, 9, 0, tzinfo=UTC), datetime(2026, 3, 30, 0, 0, 1, tzinfo=UTC)),
    (datetime(2026, 3, 29, 2, 0, tzinfo=UTC), datetime(2026, 3, 29, 20, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("since, until", PART_DAYS)
def test_a_period_of_part_days_reads_its_whole_days_from_the_counts_and_its_ends_from_the_rows(
    filled: Pool, since: datetime | None, until: datetime | None
) -> None:
    split = split_period(since, until)
    relation, _ = you_said.contribution_rows(since, until)
    if (since, until) == PART_DAYS[-1]:
        assert split is None  # no whole day inside: the rows alone
        assert relation == you_said.scanned_rows(since, until)[0]
    else:
        assert split is not None
        assert "contribution_day_counts" in relation or "contribution_month_counts" in relation
        assert len(split.edges) == sum(
            m is not None and m.astimezone(LONDON).time() != time() for m in (since, until)
        )
    with filled.connection() as conn:
        for place in ("leeds", "bradford", None):
            assert reach.place_reach(conn, place, since, until) == reach._figures(
                conn,
                reach.scanned_tally(conn, place, since, until),
                [place] if place else [],
            ), place
            for priority in (None, "living-well"):
                for theme in (None, "access"):
                    assert said(conn, place, priority, theme, since, until, False) == said(
                        conn, place, priority, theme, since, until, True
                    ), (place, priority, theme)


def test_the_rebuild_counts_afresh_compares_and_swaps_the_counts(filled: Pool) -> None:
    db = filled
    events = {
        "surveys": [response(rid, hours=rid * 3 - 20) for rid in range(5000, 5012)],
        "feedback": [feedback(i, hours=i - 10) for i in range(5000, 5004)],
        "events": [],
        "outcomes": [],
    }
    events["surveys"].append(event("response_deleted", consultation_id=CID, response_id=5003))

    def call(source: str, method: str, after: Any, size: int) -> dict[str, Any]:
        assert method == "replay_events"
        return {"events": events[source], "next": None}

    compared = rebuild(db, call)
    assert not compared.swapped
    # The counts differ as the rows do: the live read model has other contributions.
    assert "reach_day_counts" in compared.differences
    assert "contribution_month_counts" in compared.differences
    swapped = rebuild(db, call, swap=True)
    assert swapped.swapped
    assert_counts_exact(db)
    with db.connection() as conn:
        live = conn.execute("SELECT count(*) AS n FROM reach_contributions").fetchone()
        assert live["n"] == 12 - 1 + 4
    assert rebuild(db, call).same
