"""Replaying a service's published events from its outbox (``EventReplay``), for
rebuilding a read model: every published event, in order, in pages; nothing pending."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from engage_common import healthcheck, outbox
from engage_common.db import Database, Pool
from engage_common.errors import ValidationFailed


class Replaying(healthcheck.HealthCheck, outbox.EventReplay):
    name = "replaying"
    db = Database()


@pytest.fixture
def pool(make_database: Callable[[str], str], tmp_path: Path) -> Any:
    url = make_database("gateway")
    p = Pool(url, size=1)
    yield p
    p.close()


def test_published_events_come_back_in_order_a_page_at_a_time(pool: Pool) -> None:
    with pool.connection() as conn:
        ids = [outbox.record_event(conn, "s", "thing_happened", {"n": n}) for n in range(5)]
        conn.execute("UPDATE outbox SET published_at = now() WHERE event_id <> %s", (ids[4],))
    service = worker_factory(Replaying, db=pool)
    first = service.replay_events(None, 3)
    assert [e["n"] for e in first["events"]] == [0, 1, 2] and first["next"]
    rest = service.replay_events(first["next"], 3)
    assert [e["n"] for e in rest["events"]] == [3] and rest["next"] is None  # 4 is pending
    assert [e["event_id"] for e in first["events"] + rest["events"]] == ids[:4]
    for bad in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 10_000}):
        with pytest.raises(ValidationFailed):
            service.replay_events(**bad)
