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


def engage() -> Engage:
    return current_app.extensions["engage"]
