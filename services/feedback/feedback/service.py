"""nameko service ``feedback``. For now it answers its health check; the feedback
features arrive in later issues on top of this database and outbox."""

from __future__ import annotations

from engage_common import healthcheck
from engage_common.db import Database
from engage_common.outbox import OutboxRelay


class FeedbackService(healthcheck.HealthCheck):
    name = "feedback"

    db = Database()
    outbox = OutboxRelay()
