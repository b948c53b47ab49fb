"""Migrations (``engage_common.migrate``): each file in a transaction of its own, committed
before the advisory lock is released. Before, every file ran in one transaction that
committed only after the lock was released, so a second migrate waiting at the lock
could start the same files again (two at once on one database failed 1 run in 10), and a
failing file undid the ones before it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from engage_common.db import connect, drop_database
from engage_common.migrate import COMMON, LOCK_KEY, migrate


def test_a_failing_migration_keeps_the_ones_before_it_and_frees_the_lock(tmp_path: Path) -> None:
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = f"{server.rsplit('/', 1)[0]}/engage_migrate_{uuid.uuid4().hex[:10]}"
    (tmp_path / "001_first.sql").write_text("CREATE TABLE first_one (x int);")
    (tmp_path / "002_second.sql").write_text("CREATE TABLE second_one (x int); SELECT 1 / 0;")
    common = [f"common/{p.name}" for p in sorted(COMMON.glob("*.sql"))]
    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            migrate(url, tmp_path)
        with connect(url, autocommit=True) as conn:
            names = [r["name"] for r in conn.execute("SELECT name FROM schema_migrations")]
            assert sorted(names) == sorted([*common, "001_first.sql"])
            assert conn.execute("SELECT to_regclass('first_one') AS t").fetchone()["t"]
            assert conn.execute("SELECT to_regclass('second_one') AS t").fetchone()["t"] is None
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS free", (LOCK_KEY,)).fetchone()
            assert got["free"]  # released although it failed
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

        (tmp_path / "002_second.sql").write_text("CREATE TABLE second_one (x int);")
        assert migrate(url, tmp_path) == ["002_second.sql"]
        assert migrate(url, tmp_path) == []
    finally:
        drop_database(url)
