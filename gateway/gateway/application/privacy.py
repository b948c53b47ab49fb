"""Erasure requests (UK GDPR): find what may be about one person in every service that
holds residents' data, and with ``confirm`` erase it. The audit says who searched and
what was found, never the searched text."""

from __future__ import annotations

from typing import Any

from gateway.application.staff import record
from gateway.context import Engage

# Services that hold data about residents, and what is searched there.
SERVICES_CHECKED = {
    "surveys": "searched (responses: receipt code, free-text answers, postcode district)",
    "feedback": "searched (feedback: receipt code, its text and subject, reply email, "
    "postcode district)",
    "events": "searched (registrations: receipt code, name, email, phone, access needs)",
}


def erasure_request(
    ctx: Engage, actor: int, receipt_code: str | None, text: str | None, confirm: bool
) -> dict[str, Any]:
    """What each service holds that matches the receipt code and/or text; erased too with
    ``confirm``. A receipt code is only ever one service's, so both are asked."""
    responses = ctx.services.surveys("find_personal_data", receipt_code, text)
    feedback = ctx.services.feedback("find_personal_data", receipt_code, text)
    registrations = ctx.services.events("find_personal_data", receipt_code, text)
    response_ids = [r["response_id"] for r in responses["responses"]]
    feedback_ids = [f["feedback_id"] for f in feedback["items"]]
    registration_ids = [r["registration_id"] for r in registrations["registrations"]]
    criteria = f"receipt_code={receipt_code or '-'} text={'given' if text else '-'}"
    record(
        ctx.db,
        actor,
        "personal_data.search",
        f"{criteria} found={len(response_ids)} feedback={len(feedback_ids)}"
        f" registrations={len(registration_ids)}",
    )
    erased = erased_feedback = erased_registrations = 0
    if confirm and response_ids:
        erased = ctx.services.surveys("erase_responses", response_ids)["erased"]
        record(
            ctx.db, actor, "personal_data.erase", "responses " + ",".join(map(str, response_ids))
        )
    if confirm and feedback_ids:
        erased_feedback = ctx.services.feedback("erase_feedback", feedback_ids)["erased"]
        record(ctx.db, actor, "personal_data.erase", "feedback " + ",".join(feedback_ids))
    if confirm and registration_ids:
        erased_registrations = ctx.services.events("erase_registrations", registration_ids)[
            "erased"
        ]
        record(ctx.db, actor, "personal_data.erase", "registrations " + ",".join(registration_ids))
    return {
        "found": responses["responses"],
        "found_feedback": feedback["items"],
        "found_registrations": registrations["registrations"],
        "truncated": responses["truncated"] or feedback["truncated"] or registrations["truncated"],
        "erased": erased,
        "erased_feedback": erased_feedback,
        "erased_registrations": erased_registrations,
        "services_checked": SERVICES_CHECKED,
    }
