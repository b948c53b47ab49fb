"""Receipt codes and the durable queue, as every resident submission uses them.

A submission's id is derived from the idempotency key (an HMAC with the gateway's
secret), and its receipt code from the id, so the same submission sent twice gets the
same receipt and is stored once by the service that owns it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Iterator

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError

from gateway.errors import QueueUnavailable

log = logging.getLogger(__name__)
RECEIPT_CODE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")


def submission_id(secret: str, scope: str, idempotency_key: str) -> str:
    """The id a submission is stored under: the same for the same ``scope`` (a
    consultation's id, ``feedback``, an import's source row) and key."""
    digest = hmac.new(
        secret.encode(), f"{scope}:{idempotency_key}".encode(), hashlib.sha256
    ).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def receipt_code(secret: str, submission: str) -> str:
    """A 12-character code a resident can read out over the phone, e.g. ``K7QM-2XRT-HP4D``."""
    digest = hmac.new(secret.encode(), f"receipt:{submission}".encode(), hashlib.sha256).digest()
    return _format_code(digest)


def decoy_receipt_code() -> str:
    """A random code of the same form, for a submission quietly thrown away (a bot's)."""
    return _format_code(secrets.token_bytes(10))


def normalise_receipt(code: str) -> str | None:
    """A receipt code as typed or linked, in its stored form; None if it cannot be one."""
    code = code.strip().upper()
    return code if RECEIPT_CODE.match(code) else None


def new_key() -> str:
    return str(uuid.uuid4())


def _format_code(raw: bytes) -> str:
    code = base64.b32encode(raw).decode()[:12]
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))


@contextlib.contextmanager
def queue_or_503() -> Iterator[None]:
    """RabbitMQ unreachable (or lost mid-publish): a 503 and no receipt, never a 500.
    If the message did reach the queue, sending it again with the same idempotency key
    still stores it once."""
    try:
        yield
    except (OperationalError, AMQPError, OSError) as exc:
        log.warning("could not queue a submission: %s", exc)
        raise QueueUnavailable() from exc
