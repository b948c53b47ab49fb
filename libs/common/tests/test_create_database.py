"""Two processes creating one fresh database at once (two instances migrating it): one
creates it, the other finds it made. Before, the second failed with a unique violation
on ``pg_database`` (two ``migrate`` runs on a fresh database failed two times in three)."""

from __future__ import annotations

import os
import uuid

import eventlet

from engage_common.db import connect, create_database, drop_database


def test_two_creating_one_database_at_once_both_succeed_and_one_creates_it() -> None:
    # Green threads interleave at each query: both see the database missing, both CREATE.
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = f"{server.rsplit('/', 1)[0]}/engage_created_twice_{uuid.uuid4().hex[:10]}"
    try:
        created = list(eventlet.GreenPool(2).imap(create_database, [url, url]))
        assert sorted(created) == [False, True]
        with connect(url) as conn:
            assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1
    finally:
        drop_database(url)
