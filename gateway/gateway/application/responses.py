"""Accepting a resident's response: check it, queue it durably, give a receipt.

The response is not written by the gateway: it goes on the durable queue
``surveys.submissions`` with publisher confirms, and the surveys service stores
it once (keyed on ``submission_id``). The receipt code is derived from the
idempotency key, so the same submission sent twice gets the same receipt and is
stored once.

The gateway checks the response with the surveys service's own pure rules against
its snapshot of the consultation while that is fresh (``SNAPSHOT_TTL``, and no
consultation event since: ``snapshots.recall_fresh``; staff changes made through the
gateway rewrite it at once), else against the consultation as surveys gives it, or,
while surveys does not answer, against its last snapshot, and queues it all the same;
whether it is open now is worked out again from the snapshot's dates each time.
surveys checks it again when it stores it, and a response that no longer fits (a
consultation changed outside the gateway less than ``SNAPSHOT_TTL`` ago) is kept as
rejected, which its receipt page then says.

Each gateway worker also keeps the fresh snapshots it read for ``MEMORY_TTL`` seconds
(``recent``), so most submissions read no database row at all. A staff change made
through this worker is seen at once (``remember``); one made through another worker or
replica rewrites the database snapshot and is seen by this worker within ``MEMORY_TTL``
seconds: for that long a response may still be accepted, then surveys keeps it as
rejected. A consultation event the projections applied is likewise seen up to
``MEMORY_TTL`` seconds later than before.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engage_common.confirms import Submits
from engage_contracts import surveys as contract
from gateway.application import follows, reach
from gateway.application.receipts import queue_or_503, receipt_code, submission_id
from gateway.context import Engage
from gateway.errors import ServiceUnavailable
from gateway.store import snapshots

log = logging.getLogger(__name__)

# Seconds a snapshot of a consultation stands in for asking surveys on each submission.
SNAPSHOT_TTL = 30.0
# Seconds a worker reuses a fresh snapshot from memory: how late it may see a staff change
# made through another worker. Consultations kept in memory at most, per worker.
MEMORY_TTL = 2.0
MEMORY_SIZE = 1024


class RecentSnapshots:
    """Fresh snapshots by consultation id, each for ``ttl`` seconds, the ``size`` most
    recently kept at most; shared by a worker's request threads."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._kept: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, consultation_id: str) -> dict[str, Any] | None:
        with self._lock:
            kept = self._kept.get(consultation_id)
            if kept is None:
                return None
            if self.clock() >= kept[0]:
                del self._kept[consultation_id]
                return None
            return kept[1]

    def put(self, consultation_id: str, snapshot: dict[str, Any]) -> None:
        with self._lock:
            self._kept.pop(consultation_id, None)
            self._kept[consultation_id] = (self.clock() + self.ttl, snapshot)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def forget(self, consultation_id: str) -> None:
        with self._lock:
            self._kept.pop(consultation_id, None)


recent = RecentSnapshots(MEMORY_TTL, MEMORY_SIZE)


def submit_response(
    ctx: Engage,
    consultation_id: str,
    submission: dict[str, Any],
    idempotency_key: str | None,
    channel: str,
    consultation: dict[str, Any] | None = None,
    entered_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check ``submission`` (as ``ResponseInputSchema`` loaded it) against the consultation
    (fetched unless the caller already has it from ``current_or_snapshot``), queue it as
    having come by ``channel``, and return the receipt. A full postcode becomes its
    district and IMD decile first (``reach.locate_submission``): it is never queued.
    ``entered_by``: the staff member who entered it for the resident (paper, phone)."""
    if consultation is None:
        consultation = fresh_or_current(ctx, consultation_id)
    cleaned = check(consultation, reach.locate_submission(ctx.db, submission))
    receipt = queue_response(
        ctx.settings.secret_key,
        ctx.publisher,
        consultation_id,
        cleaned,
        idempotency_key,
        channel,
        entered_by,
    )
    if submission.get("hear_back_email"):
        follows.follow(
            ctx.publisher,
            ctx.settings.secret_key,
            receipt["submission_id"],
            submission["hear_back_email"],
            [{"kind": "consultation", "consultation_id": consultation_id}],
            channel,
            cleaned["consent"],
        )
    return receipt


def queue_response(
    secret: str,
    publisher: Submits,
    consultation_id: str,
    cleaned: dict[str, Any],
    idempotency_key: str | None,
    channel: str,
    entered_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Queue an already-checked response for surveys to store once; its receipt.
    ``entered_by``: the staff member who entered it for the resident (paper, phone...)."""
    sid = submission_id(secret, consultation_id, idempotency_key or str(uuid.uuid4()))
    receipt = receipt_code(secret, sid)
    with queue_or_503():
        publisher.submit(
            "surveys",
            {
                "submission_id": sid,
                "receipt_code": receipt,
                "consultation_id": consultation_id,
                "answers": cleaned["answers"],
                "equality": cleaned.get("equality") or None,
                "place": cleaned.get("place"),
                "consent": cleaned["consent"],
                "submitted_at": datetime.now(UTC).isoformat(),
                "channel": channel,
                "entered_by": entered_by,
            },
            message_id=sid,
        )
    return {
        "receipt_code": receipt,
        "status": "received",
        "consultation_id": consultation_id,
        "submission_id": sid,
    }


def fresh_or_current(ctx: Engage, consultation_id: str) -> dict[str, Any]:
    """The consultation from the gateway's snapshot while it is fresh (no RPC, no write;
    from this worker's memory for ``MEMORY_TTL`` s, else from the database), with
    ``accepting_responses`` worked out again for now; else ``current_or_snapshot``."""
    snapshot = recent.get(consultation_id)
    if snapshot is None:
        with ctx.db.connection() as conn:
            snapshot = snapshots.recall_fresh(conn, consultation_id, SNAPSHOT_TTL)
        if snapshot is not None:
            recent.put(consultation_id, snapshot)
    if snapshot is not None:
        return _as_of_now(snapshot)
    return current_or_snapshot(ctx, consultation_id, checked=True)


def remember(ctx: Engage, consultation: dict[str, Any]) -> None:
    """Keep what surveys just said of a consultation (after a staff change) as its fresh
    snapshot, so the next submission is checked against it: at once in this worker,
    within ``MEMORY_TTL`` s in the others."""
    if consultation.get("status") == "draft":
        recent.forget(consultation["id"])
        return
    with ctx.db.connection() as conn:
        snapshots.remember(conn, consultation, checked=True)
    recent.put(consultation["id"], consultation)


def current_or_snapshot(ctx: Engage, consultation_id: str, checked: bool = False) -> dict[str, Any]:
    """The consultation from surveys (remembered as the snapshot; ``checked``: marked fresh
    even if unchanged), or while surveys does not answer, the last snapshot with
    ``accepting_responses`` worked out again for now, so a resident can still open the
    form and answer. 503 when there is no snapshot."""
    try:
        consultation = ctx.services.surveys("get_consultation", consultation_id)
    except ServiceUnavailable:
        with ctx.db.connection() as conn:
            snapshot = snapshots.recall(conn, consultation_id)
        if snapshot is None:
            raise
        return _as_of_now(snapshot)
    if consultation.get("status") != "draft":
        with ctx.db.connection() as conn:
            snapshots.remember(conn, consultation, checked=checked)
        if checked:
            recent.put(consultation_id, consultation)
    return consultation


def _as_of_now(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with ``accepting_responses`` worked out again for now (its dates)."""
    return {
        **snapshot,
        "accepting_responses": contract.accepting_responses(
            _with_dates(snapshot), datetime.now(UTC)
        ),
    }


def _with_dates(consultation: dict[str, Any]) -> dict[str, Any]:
    """The consultation with its ISO dates as datetimes, as surveys' rules expect."""
    return {
        **consultation,
        **{
            key: datetime.fromisoformat(consultation[key])
            for key in ("opens_at", "closes_at")
            if consultation.get(key)
        },
    }


def check(consultation: dict[str, Any], submission: dict[str, Any]) -> dict[str, Any]:
    """The contract's checks of a loaded response against the consultation as surveys just
    gave it (or its snapshot), as surveys makes them when it stores it: the cleaned
    response, ``Conflict`` when it takes no answers, or ``ValidationFailed``."""
    return contract.validate_submission(_with_dates(consultation), submission, datetime.now(UTC))
