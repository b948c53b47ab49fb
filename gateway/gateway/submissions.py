"""Accepting a resident's response: validate it, queue it durably, give a receipt.

The response is not written by the gateway: it goes on the durable queue
``surveys.submissions`` with publisher confirms, and the surveys service stores
it once (keyed on ``submission_id``). The receipt code is derived from the
idempotency key, so the same submission sent twice gets the same receipt and is
stored once.

While surveys answers, it validates the response. While it does not, the gateway
checks the response itself against its last snapshot of the consultation, using the
surveys service's own pure rules, and queues it all the same; surveys checks it
again when it stores it, and a response that no longer fits is kept as rejected,
which its receipt page then says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from engage_common.db import Pool
from engage_common.errors import Conflict, ValidationFailed
from gateway.context import Engage
from gateway.errors import ServiceUnavailable


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
    cleaned = _validate(ctx, consultation_id, submission)
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


def remember(pool: Pool, consultation: dict[str, Any]) -> None:
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO consultation_snapshots (consultation_id, body) VALUES (%s, %s)"
            " ON CONFLICT (consultation_id) DO UPDATE SET body = EXCLUDED.body,"
            " fetched_at = now()",
            (consultation["id"], Jsonb(consultation)),
        )


def recall(pool: Pool, consultation_id: str) -> dict[str, Any] | None:
    try:
        uuid.UUID(str(consultation_id))
    except ValueError:
        return None
    with pool.connection() as conn:
        row = conn.execute("SELECT body FROM consultation_snapshots WHERE consultation_id = %s",
                           (consultation_id,)).fetchone()
    return row["body"] if row else None


def current_or_snapshot(ctx: Engage, consultation_id: str) -> dict[str, Any]:
    """The consultation from surveys (remembered as the snapshot), or while surveys does
    not answer, the last snapshot with ``accepting_responses`` worked out again for now,
    so a resident can still open the form and answer. 503 when there is no snapshot."""
    try:
        consultation = ctx.services.surveys("get_consultation", consultation_id)
    except ServiceUnavailable:
        snapshot = recall(ctx.db, consultation_id)
        if snapshot is None:
            raise
        from surveys import domain

        timed = dict(snapshot)
        for key in ("opens_at", "closes_at"):
            if timed.get(key):
                timed[key] = datetime.fromisoformat(timed[key])
        return {**snapshot, "accepting_responses": domain.accepting_responses(
            timed, datetime.now(UTC))}
    if consultation.get("status") != "draft":
        remember(ctx.db, consultation)
    return consultation


def validate_anyway(ctx: Engage, consultation_id: str,
                    submission: dict[str, Any]) -> dict[str, Any]:
    """``validate_submission`` without queueing: by surveys, or from the snapshot."""
    return _validate(ctx, consultation_id, submission)


def _validate(ctx: Engage, consultation_id: str, submission: dict[str, Any]) -> dict[str, Any]:
    try:
        consultation = ctx.services.surveys("get_consultation", consultation_id)
        remember(ctx.db, consultation)
        return ctx.services.surveys("validate_submission", consultation_id, submission)
    except ServiceUnavailable:
        consultation = recall(ctx.db, consultation_id)
        if consultation is None:
            raise
        return validate_locally(consultation, submission)


def validate_locally(consultation: dict[str, Any], submission: dict[str, Any]) -> dict[str, Any]:
    """The checks ``validate_submission`` makes, from a snapshot, with the same rules."""
    from surveys import domain, schemas

    data = schemas.load(schemas.ResponseInputSchema(), submission)
    snapshot = dict(consultation)
    for key in ("opens_at", "closes_at"):
        if snapshot.get(key):
            snapshot[key] = datetime.fromisoformat(snapshot[key])
    if not domain.accepting_responses(snapshot, datetime.now(UTC)):
        raise Conflict("This consultation is not accepting responses")
    cleaned, errors = domain.check_submission(snapshot, data)
    if errors:
        raise ValidationFailed(errors)
    return cleaned
