"""The JSON API under ``/api/v1``: public routes for residents and staff routes
(bearer token, role-checked) for engagement officers, analysts, boards and admins."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from gateway.api import dashboard, public, reports, staff  # noqa: E402,F401  (registers the routes on bp)

__all__ = ["bp"]
