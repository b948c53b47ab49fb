"""Residents who ask to hear back: when a response or feedback comes with a
``hear_back_email``, the gateway queues a follow on ``outcomes.submissions`` for the
outcomes service (which keeps the address apart from what they said, writes at most once
a day when an outcome linked to it is published or moves, and purges it after). The
address never goes to the service that stores what they said."""

from __future__ import annotations

from typing import Any

from engage_common.confirms import Submits
from gateway.application.receipts import queue_or_503, submission_id

OWNER = "outcomes"


def follow(
    publisher: Submits,
    secret: str,
    submission: str,
    email: str,
    evidence: list[dict[str, Any]],
    channel: str,
    consent: dict[str, Any],
) -> None:
    """Queue a follow, keyed on the submission it came with (sent twice: one follow)."""
    follow_id = submission_id(secret, "follow", submission)
    with queue_or_503():
        publisher.submit(
            OWNER,
            {
                "follow_id": follow_id,
                "email": email,
                "evidence": evidence,
                "channel": channel,
                "consent": consent,
            },
            message_id=follow_id,
        )
