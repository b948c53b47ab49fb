"""nameko service ``feedback``. For now it answers its health check; the feedback
features arrive in later issues on top of this database and outbox."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from engage_common.db import Database
from engage_common.outbox import OutboxRelay
from feedback import store
from feedback.schemas import HealthSchema


class FeedbackService:
    name = "feedback"

    db = Database()
    outbox = OutboxRelay()

    @rpc
    def health(self) -> dict[str, Any]:
        """Proves the service is consuming RPCs and its database answers."""
        with self.db.connection() as conn:
            ok = store.ping(conn)
        return HealthSchema().dump({"service": self.name, "database": ok})
