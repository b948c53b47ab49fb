"""The read model names the ICS's seeded themes even when it started after feedback
announced them (a fresh deployment, started in any order): the projections service adds
the missing ones itself at start, and feedback's own events still win."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook

from engage_common.db import Pool
from engage_common.testing import eventually
from engage_contracts.feedback import seeded_themes
from engage_contracts.ics import ics
from gateway.config import Settings
from gateway.readmodels.projections import ProjectionsService


def themes(db: Pool) -> dict[str, dict[str, Any]]:
    with db.connection() as conn:
        rows = conn.execute("SELECT slug, label, active, priority FROM feedback_themes").fetchall()
    return {r["slug"]: r for r in rows}


@pytest.fixture
def projections(container_factory: Any, settings: Settings) -> Iterator[Any]:
    config = {"AMQP_URI": settings.amqp_uri, "DATABASE_URL": settings.database_url}
    container = container_factory(ProjectionsService, config)
    container.start()
    yield container


def test_seeded_themes_are_named_without_feedbacks_events_which_still_win(
    projections: Any, db: Pool, settings: Settings
) -> None:
    seeded = seeded_themes(ics())
    assert len(seeded) > 5  # the ICS's priorities, their ambitions and the common topics
    held = eventually(lambda: len(themes(db)) == len(seeded) and themes(db), 30, "seeded themes")
    for theme in seeded:
        assert held[theme["slug"]] == {
            "slug": theme["slug"],
            "label": theme["label"],
            "active": True,
            "priority": theme["priority"],
        }

    # Staff rename one seeded theme and retire another; feedback announces both.
    renamed, retired = seeded[0], seeded[-1]
    dispatch = event_dispatcher({"AMQP_URI": settings.amqp_uri})
    for theme, label, active in ((renamed, "Renamed by staff", True), (retired, None, False)):
        dispatch(
            "feedback",
            "theme_saved",
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "theme_saved",
                "occurred_at": datetime.now(UTC).isoformat(),
                "slug": theme["slug"],
                "label": label or theme["label"],
                "active": active,
                "priority": theme["priority"],
            },
        )
    eventually(
        lambda: (
            themes(db)[renamed["slug"]]["label"] == "Renamed by staff"
            and not themes(db)[retired["slug"]]["active"]
        ),
        30,
        "feedback's events applied over the seeded rows",
    )

    # Seeding again (the hourly timer) adds what is missing and changes nothing else.
    with db.connection() as conn:
        conn.execute("DELETE FROM feedback_themes WHERE slug = %s", (seeded[1]["slug"],))
    with entrypoint_hook(projections, "seed_themes") as seed:
        seed()
    again = themes(db)
    assert len(again) == len(seeded)
    assert again[seeded[1]["slug"]]["label"] == seeded[1]["label"]
    assert again[renamed["slug"]]["label"] == "Renamed by staff"
    assert again[retired["slug"]]["active"] is False
