"""Accepting a resident's response: validate it, queue it durably, give a receipt.

The response is not written by the gateway: it goes on the durable queue
``surveys.submissions`` with publisher confirms, and the surveys service stores
it once (keyed on ``submission_id``). The receipt code is derived from the
idempotency key, so the same submission sent twice gets the same receipt and is
stored once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.context import Engage


def submission_id(secret: str, consultation_id: str, idempotency_key: str) -> str:
    digest = hmac.new(secret.encode(), f"{consultation_id}:{idempotency_key}".encode(),
                      hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def receipt_code(secret: str, submission: str) -> str:
    """A 12-character code a resident can read out over the phone, e.g. ``K7QM-2XRT-HP4D``."""
    digest = hmac.new(secret.encode(), f"receipt:{submission}".encode(), hashlib.sha256).digest()
    code = base64.b32encode(digest).decode()[:12]
    return "-".join(code[i:i + 4] for i in range(0, 12, 4))


def submit_response(ctx: Engage, consultation_id: str, submission: dict[str, Any],
                    idempotency_key: str | None) -> dict[str, Any]:
    cleaned = ctx.services.surveys("validate_submission", consultation_id, submission)
    key = idempotency_key or str(uuid.uuid4())
    sid = submission_id(ctx.settings.secret_key, consultation_id, key)
    receipt = receipt_code(ctx.settings.secret_key, sid)
    message = {
        "submission_id": sid,
        "receipt_code": receipt,
        "consultation_id": consultation_id,
        "answers": cleaned["answers"],
        "equality": cleaned.get("equality") or None,
        "place": cleaned.get("place"),
        "consent": submission.get("consent"),
        "submitted_at": datetime.now(UTC).isoformat(),
    }
    ctx.publisher.submit("surveys", message, message_id=sid)
    return {"receipt_code": receipt, "status": "received", "consultation_id": consultation_id}
