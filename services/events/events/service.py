"""nameko service ``events``. For now it answers its health check; the events
features arrive in later issues on top of this database and outbox."""

from __future__ import annotations

from engage_common import healthcheck
from engage_common.db import Database
from engage_common.outbox import OutboxRelay


class EventsService(healthcheck.HealthCheck):
    name = "events"

    db = Database()
    outbox = OutboxRelay()
