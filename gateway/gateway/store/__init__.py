"""SQL over the gateway's own database (``engage_gateway``), and nothing else: staff and
tokens, the audit log, consultation snapshots, rate-limit counts. The read models' SQL
lives with them in ``gateway.readmodels``.

Every function takes an open connection (from ``Pool.connection()``), so the caller
decides the transaction. Rows are dicts.
"""

from __future__ import annotations

from psycopg import Connection


def ping(conn: Connection) -> bool:
    """The database answers a real query."""
    return conn.execute("SELECT 1 AS ok").fetchone()["ok"] == 1
