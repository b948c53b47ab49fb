"""Apply the shared migrations (outbox, inbox), then a service's own, once each, in order.

Usage: ``python -m engage_common.migrate DATABASE_URL MIGRATIONS_DIR``
"""

from __future__ import annotations

import sys
from pathlib import Path

from engage_common.db import connect, create_database

LOCK_KEY = 727_001  # advisory lock so two processes never migrate at once
COMMON = Path(__file__).parent / "migrations"


def migrate(url: str, directory: str | Path) -> list[str]:
    """Apply what is not applied yet, each file in a transaction of its own, all under a
    session advisory lock. Each transaction commits before the lock is released, so a
    second migrate waiting at the lock sees every file the first applied (releasing it
    first, as before, let the second start the same files again: 1 run in 10 failed)."""
    create_database(url)
    applied: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in conn.execute("SELECT name FROM schema_migrations")}
            files = [(f"common/{p.name}", p) for p in sorted(COMMON.glob("*.sql"))]
            files += [(p.name, p) for p in sorted(Path(directory).glob("*.sql"))]
            for name, path in files:
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied


if __name__ == "__main__":
    names = migrate(sys.argv[1], sys.argv[2])
    print(f"{sys.argv[2]}: applied {len(names)} migration(s) {' '.join(names)}".rstrip())
