"""What a request needs from the outside world, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from engage_common.confirms import Submits
from engage_common.db import Pool
from gateway.config import Settings
from gateway.rpc import Services


@dataclass
class Engage:
    settings: Settings
    services: Services
    publisher: Submits  # SharedConfirms: one confirming connection per worker process
    db: Pool

    def close(self) -> None:
        """Close the RPC proxies' and the publisher's connections and the idle database
        connections (a gunicorn worker leaving: RabbitMQ then logs closed connections, not
        dropped ones)."""
        self.services.close()
        close = getattr(self.publisher, "close", None)
        if close is not None:
            close()
        self.db.close()


def engage() -> Engage:
    return current_app.extensions["engage"]
