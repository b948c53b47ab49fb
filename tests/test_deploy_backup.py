"""docs/operations.md's backup and restore, done for real: a migrated service database
with rows in it is dumped with pg_dump, dropped, restored with pg_restore into a new
database, and every table's count (and the outbox's contents and sequence) is equal."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from engage_common.db import connect, create_database, database_name, drop_database

pytestmark = pytest.mark.skipif(
    not (shutil.which("pg_dump") and shutil.which("pg_restore")),
    reason="pg_dump/pg_restore not installed",
)


def figures(url: str) -> dict[str, object]:
    with connect(url) as conn:
        tables = [
            r["tablename"]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        found: dict[str, object] = {
            t: conn.execute(f'SELECT count(*) AS n FROM "{t}"').fetchone()["n"] for t in tables
        }
        found["outbox contents"] = conn.execute(
            "SELECT md5(string_agg(event_id::text || payload::text, ',' ORDER BY id)) AS h"
            " FROM outbox"
        ).fetchone()["h"]
        found["outbox next id"] = conn.execute("SELECT last_value FROM outbox_id_seq").fetchone()[
            "last_value"
        ]
        found["migrations"] = [
            r["name"] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")
        ]
    return found


def test_dump_drop_restore_keeps_every_figure(
    make_database: Callable[[str], str], tmp_path: Path
) -> None:
    url = make_database("feedback")
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO outbox (event_id, source, event_type, payload)"
            " SELECT gen_random_uuid(), 'feedback', 'feedback_received',"
            " jsonb_build_object('n', n, 'text', 'é ' || n) FROM generate_series(1, 300) n"
        )
        conn.execute(
            "INSERT INTO processed_messages (message_id, handler)"
            " SELECT 'm' || n, 'store_feedback' FROM generate_series(1, 200) n"
        )
        conn.execute(
            "INSERT INTO notification_opt_outs (address)"
            " SELECT 'r' || n || '@example.org' FROM generate_series(1, 50) n"
        )
        conn.commit()
    before = figures(url)
    assert before["outbox"] == 300 and before["processed_messages"] == 200
    assert len(before) > 8, "the service's own tables are counted too"

    dump = tmp_path / "feedback.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), "--dbname", url],
        check=True,
        timeout=60,
    )
    drop_database(url)
    with pytest.raises(Exception, match="does not exist"):
        connect(url).close()

    restored = url.rsplit("/", 1)[0] + f"/{database_name(url)}_restored"
    create_database(restored)
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored, str(dump)],
            check=True,
            timeout=60,
        )
        assert figures(restored) == before
    finally:
        drop_database(restored)
