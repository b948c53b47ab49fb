"""Community feedback over HTTP. Residents (``/api/v1/feedback``) send feedback with no
account and follow it with their receipt code; staff (``/api/v1/staff/feedback``,
``/api/v1/staff/themes``) enter feedback from other channels, triage, theme, answer and
search it. Feedback is not a complaint: every receipt points to PALS and the formal
complaints route (``ICS.contact``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import url_for

from engage_contracts import feedback as contract
from gateway.api.schemas import (
    BulkResultSchema,
    FeedbackAcceptedSchema,
    FeedbackCountsQuerySchema,
    FeedbackCountsSchema,
    FeedbackDeletedSchema,
    IdempotencyHeaderSchema,
    QueuePageSchema,
    SafeguardingQueueSchema,
    StopEmailsSchema,
    ThemeListQuerySchema,
    ThemeListSchema,
)
from gateway.application import feedback
from gateway.application.receipts import normalise_receipt
from gateway.application.staff import (
    FEEDBACK_ENTER,
    FEEDBACK_READ,
    FEEDBACK_TRIAGE,
    ORIGINALS,
    SAFEGUARDING_QUEUE,
    THEMES_EDIT,
)
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import Blueprint, errors
from gateway.readmodels.feedback import feedback_counts
from gateway.security import READ, WRITE, rate_limited

public = Blueprint(
    "feedback", __name__, url_prefix="/api/v1/feedback", description="Residents' feedback"
)
staff = Blueprint(
    "staff_feedback",
    __name__,
    url_prefix="/api/v1/staff",
    description="Community feedback for staff: triage, themes, replies, search",
)
ITEM = "/feedback/<uuid:feedback_id>"
STAFF_ITEM = contract.FeedbackItemSchema(exclude=("original_text",))
LOCATION = {"Location": {"description": "the receipt", "schema": {"type": "string"}}}


def receipt(code: str) -> str:
    normal = normalise_receipt(code)
    if normal is None:
        raise ApiError("There is no feedback with that receipt code.", status=404)
    return normal


def _dump(schema: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Loaded data as JSON again, for RPC; feedback loads it with the same schema."""
    return schema().dump(data)


# -- residents --------------------------------------------------------------------------------


@public.route("", methods=["POST"])
@rate_limited(WRITE)
@public.arguments(contract.FeedbackInputSchema)
@public.arguments(IdempotencyHeaderSchema, location="headers")
@public.response(202, FeedbackAcceptedSchema, headers=LOCATION)
@errors(400, 413, 415, 503)
def give_feedback(sent: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Give feedback

    No account needed. Queued durably and stored once, even while the feedback service is
    down; the same `Idempotency-Key` again returns the same receipt. Health experiences are
    special-category data: only what is needed is kept, and text is redacted of names,
    contact details and NHS numbers before anyone but the triage team reads it."""
    got = feedback.submit(engage(), sent, headers.get("idempotency_key"), "online")
    location = url_for("feedback.get_receipt", code=got["receipt_code"])
    return got, 202, {"Location": location}


@public.route("/receipts/<code>", methods=["GET"])
@rate_limited(READ)
@public.response(200, contract.ReceiptSchema)
@errors(404, 503)
def get_receipt(code: str) -> Any:
    """What became of feedback: its status and the public reply

    404 while it is still queued (usually a second or two)."""
    return engage().services.feedback("get_receipt", receipt(code))


@public.route("/receipts/<code>/feedback", methods=["GET"])
@rate_limited(WRITE)
@public.response(200, contract.MyFeedbackSchema)
@errors(404, 503)
def my_feedback(code: str) -> Any:
    """See what you sent

    Anyone holding the receipt code can see and delete the feedback: keep it safe."""
    sent = engage().services.feedback("get_my_feedback", receipt(code))
    return sent, 200, {"Cache-Control": "no-store"}


@public.route("/receipts/<code>/feedback", methods=["DELETE"])
@rate_limited(WRITE)
@public.response(200, FeedbackDeletedSchema)
@errors(404, 503)
def delete_my_feedback(code: str) -> Any:
    """Delete what you sent, for good (counts no longer include it)"""
    return engage().services.feedback("delete_my_feedback", receipt(code))


@public.route("/receipts/<code>/stop-emails", methods=["POST"])
@rate_limited(WRITE)
@public.response(200, StopEmailsSchema)
@errors(404, 503)
def stop_emails(code: str) -> Any:
    """Stop emails about this feedback (the link in every email leads here)"""
    return engage().services.feedback("stop_emails", receipt(code))


# -- staff ------------------------------------------------------------------------------------


@staff.route("/feedback", methods=["POST"])
@require_role(*FEEDBACK_ENTER)
@staff.arguments(contract.StaffFeedbackInputSchema)
@staff.arguments(IdempotencyHeaderSchema, location="headers")
@staff.response(202, FeedbackAcceptedSchema, headers=LOCATION)
@errors(400, 413, 415, 503)
def enter_feedback(sent: dict[str, Any], headers: dict[str, Any]) -> Any:
    """Enter feedback for a resident from another channel

    A phone call, letter, email, engagement event, Healthwatch referral or partner
    organisation: marked with that channel and with who entered it. With `source_id`
    (a partner's own reference), entering it again stores nothing twice."""
    me = current_staff()
    got = feedback.submit(
        engage(),
        sent,
        headers.get("idempotency_key"),
        sent["channel"],
        {"staff_id": me.id, "name": me.name},
    )
    location = url_for("feedback.get_receipt", code=got["receipt_code"])
    return got, 202, {"Location": location}


@staff.route("/feedback", methods=["GET"])
@require_role(*FEEDBACK_READ)
@staff.arguments(contract.SearchQuerySchema, location="query")
@staff.response(200, contract.SearchPageSchema)
@errors(503)
def search(query: dict[str, Any]) -> Any:
    """The feedback queue and search

    Full-text search over the redacted text (stemmed English: "appointments" finds
    "appointment") with filters; newest first; pass `next` back as `after` for the next
    page. Each item says how long it has waited and whether it is past the response
    target."""
    return engage().services.feedback("search", _dump(contract.SearchQuerySchema, query))


@staff.route("/feedback/queue", methods=["GET"])
@require_role(*FEEDBACK_READ)
@staff.arguments(QueuePageSchema, location="query")
@staff.response(200, contract.SearchPageSchema)
@errors(503)
def triage_queue(page: dict[str, Any]) -> Any:
    """The triage queue: feedback not yet triaged, what needs a person first

    Urgent items and text not checked automatically (not detected as English) first,
    then the longest waiting; each says how long it has waited and whether it is past the
    ICS's target. Pass `next` back as `after`."""
    return engage().services.feedback("triage_queue", page["after"], page["limit"])


@staff.route("/feedback/safeguarding", methods=["GET"])
@require_role(*SAFEGUARDING_QUEUE)
@staff.response(200, SafeguardingQueueSchema)
@errors(503)
def safeguarding_queue() -> Any:
    """The safeguarding queue: items flagged urgent and not closed, oldest first"""
    return engage().services.feedback("safeguarding_queue")


@staff.route(ITEM, methods=["GET"])
@require_role(*FEEDBACK_READ)
@staff.response(200, STAFF_ITEM)
@errors(404, 503)
def get_item(feedback_id: UUID) -> Any:
    """One feedback item (redacted text), its suggested themes and its history"""
    return feedback.item(engage(), current_staff(), str(feedback_id), original=False)


@staff.route(f"{ITEM}/original", methods=["GET"])
@require_role(*ORIGINALS, admins=False)
@staff.response(200, contract.FeedbackItemSchema)
@errors(404, 503)
def get_original(feedback_id: UUID) -> Any:
    """The item with the text as the resident wrote it (triage roles only; audited)"""
    found = feedback.item(engage(), current_staff(), str(feedback_id), original=True)
    return found, 200, {"Cache-Control": "no-store"}


@staff.route(ITEM, methods=["PATCH"])
@require_role(*FEEDBACK_TRIAGE)
@staff.arguments(contract.TriageSchema)
@staff.response(200, STAFF_ITEM)
@errors(400, 404, 409, 413, 415, 503)
def triage(change: dict[str, Any], feedback_id: UUID) -> Any:
    """Triage an item: confirm its themes and tone, move its status, correct its place

    Send the `version` you read: if someone changed the item meanwhile, 409 (read it again
    and redo your change), so no change is lost."""
    return engage().services.feedback(
        "triage",
        str(feedback_id),
        _dump(contract.TriageSchema, change),
        feedback.actor(current_staff()),
    )


@staff.route(f"{ITEM}/reply", methods=["POST"])
@require_role(*FEEDBACK_TRIAGE)
@staff.arguments(contract.ReplySchema)
@staff.response(200, STAFF_ITEM)
@errors(400, 404, 409, 413, 415, 503)
def reply(answer: dict[str, Any], feedback_id: UUID) -> Any:
    """Reply in public: the resident sees it with their receipt code (and by email if
    they asked for one); the item becomes `responded`"""
    return engage().services.feedback(
        "respond",
        str(feedback_id),
        _dump(contract.ReplySchema, answer),
        feedback.actor(current_staff()),
    )


@staff.route(f"{ITEM}/quote", methods=["POST"])
@require_role(*FEEDBACK_TRIAGE)
@staff.arguments(contract.QuoteApprovalSchema)
@staff.response(200, STAFF_ITEM)
@errors(400, 404, 409, 413, 415, 503)
def approve_quote(approval: dict[str, Any], feedback_id: UUID) -> Any:
    """Approve a quote for publication: only when the resident allowed quoting, and only
    redacted text (all of it, or a part of it you choose)"""
    return engage().services.feedback(
        "approve_quote",
        str(feedback_id),
        _dump(contract.QuoteApprovalSchema, approval),
        feedback.actor(current_staff()),
    )


@staff.route("/feedback/bulk", methods=["POST"])
@require_role(*FEEDBACK_TRIAGE)
@staff.arguments(contract.BulkChangeSchema)
@staff.response(200, BulkResultSchema)
@errors(400, 413, 415, 503)
def bulk(change: dict[str, Any]) -> Any:
    """Change many items at once (status, add themes): up to 500"""
    return engage().services.feedback(
        "bulk", _dump(contract.BulkChangeSchema, change), feedback.actor(current_staff())
    )


@staff.route("/themes", methods=["GET"])
@require_role(*FEEDBACK_READ)
@staff.arguments(ThemeListQuerySchema, location="query")
@staff.response(200, ThemeListSchema)
@errors(503)
def list_themes(query: dict[str, Any]) -> Any:
    """The ICS's themes (its priorities and ambitions, common topics, and staff's own)"""
    return engage().services.feedback("list_themes", query["include_retired"])


@staff.route("/themes", methods=["POST"])
@require_role(*THEMES_EDIT)
@staff.arguments(contract.ThemeInputSchema)
@staff.response(201, contract.ThemeSchema)
@errors(400, 409, 413, 415, 503)
def create_theme(theme: dict[str, Any]) -> Any:
    """Add a theme"""
    return engage().services.feedback(
        "create_theme", _dump(contract.ThemeInputSchema, theme), feedback.actor(current_staff())
    )


@staff.route("/themes/<slug>", methods=["PATCH"])
@require_role(*THEMES_EDIT)
@staff.arguments(contract.ThemeChangeSchema)
@staff.response(200, contract.ThemeSchema)
@errors(400, 404, 413, 415, 503)
def update_theme(changes: dict[str, Any], slug: str) -> Any:
    """Rename a theme, change its keywords, or retire it (`active: false`)"""
    return engage().services.feedback(
        "update_theme",
        slug,
        _dump(contract.ThemeChangeSchema, changes),
        feedback.actor(current_staff()),
    )


@staff.route("/reports/feedback-counts", methods=["GET"])
@require_role(*FEEDBACK_READ, "board-viewer")
@staff.arguments(FeedbackCountsQuerySchema, location="query")
@staff.response(200, FeedbackCountsSchema)
def counts(query: dict[str, Any]) -> Any:
    """Feedback counted by confirmed theme, place, channel and kind

    From the read model (feedback's events), through the small-number rule: a count below
    the threshold is null. Answers while the feedback service is down."""
    with engage().db.connection() as conn:
        return feedback_counts(
            conn, query.get("received_from"), query.get("received_to"), query.get("place")
        )
