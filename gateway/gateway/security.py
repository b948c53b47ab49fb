"""Per-client rate limits and security headers.

The limiter is a fixed window counted in the gateway's PostgreSQL database (table
``rate_limits``, one upserted row per client key and minute), so every gateway
replica counts against the same limit. The client is the remote address; the
``X-Forwarded-For`` header is believed only with ``TRUST_PROXY=1``, because anyone
can send it.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from flask import Response, request

from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import errors
from gateway.store import rate_limits

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=1)
WRITE, READ = "write", "read"
# Roughly one request in this many sweeps away windows that have ended.
SWEEP_EVERY = 200

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def client_address() -> str:
    """Who is asking: the first X-Forwarded-For hop behind a trusted proxy, else the peer."""
    if engage().settings.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return request.remote_addr or "unknown"


def is_https() -> bool:
    if request.is_secure:
        return True
    return engage().settings.trust_proxy and (
        request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"
    )


def hit(bucket: str, limit: int, now: datetime | None = None) -> int | None:
    """Count one request for this client in ``bucket``; seconds to wait when over ``limit``,
    else None."""
    if limit <= 0:
        return None
    now = now or datetime.now(UTC)
    start = now.replace(second=0, microsecond=0)
    key = f"{bucket}:{client_address()}"
    try:
        with engage().db.connection() as conn:
            hits = rate_limits.count_hit(conn, key, start)
            if random.randrange(SWEEP_EVERY) == 0:
                rate_limits.sweep(conn, start, WINDOW)
    except psycopg.Error:
        # Fail open: a resident must still be able to read and answer while the
        # gateway's own database is unreachable (their answers go to RabbitMQ).
        log.warning("rate limit not counted: gateway database unreachable", exc_info=True)
        return None
    if hits <= limit:
        return None
    return max(1, math.ceil((start + WINDOW - now).total_seconds()))


def rate_limited(kind: str = WRITE, html: bool = False) -> Callable[[F], F]:
    """Refuse the view with 429 and ``Retry-After`` once this client has used its
    allowance for the minute (``RATE_LIMIT_PER_MINUTE`` for writes,
    ``RATE_LIMIT_READS_PER_MINUTE`` for reads). ``html``: the route answers with a page."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            settings = engage().settings
            limit = (
                settings.rate_limit_per_minute
                if kind == WRITE
                else settings.rate_limit_reads_per_minute
            )
            wait = hit(kind, limit)
            if wait is not None:
                raise ApiError(
                    "Too many requests from you just now. Please wait a minute and try again.",
                    status=429,
                    headers={"Retry-After": str(wait)},
                )
            return view(*args, **kwargs)

        wrapper.__rate_limited__ = kind  # type: ignore[attr-defined]
        return errors(429, html=html)(wrapper)  # type: ignore[return-value]

    return decorate


def add_security_headers(response: Response) -> Response:
    """Every response: CSP and friends; HSTS only over HTTPS (it would be ignored, and
    misleading, over plain HTTP)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if is_https():
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
