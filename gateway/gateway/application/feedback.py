"""Community feedback through the gateway: a resident's (API or web form), a staff
member's for a resident (phone, letter, event...), a partner's spreadsheet (the CLI's
``import-feedback``). All go the same way: checked by the contract's rules, queued
durably on ``feedback.submissions`` with a receipt, stored once by the feedback service
(keyed on ``submission_id``), so feedback sent while that service is down is kept.

Staff work on feedback through the service's RPC; a read of what a resident wrote
before redaction is audited here, with who read it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engage_common.confirms import Submits
from engage_common.db import Pool
from engage_common.errors import NotFound, ValidationFailed
from engage_contracts import feedback as contract
from engage_contracts.base import load
from engage_contracts.reference import current_consent
from gateway.application import follows, reach
from gateway.application.receipts import new_key, queue_or_503, receipt_code, submission_id
from gateway.application.staff import ADMIN, FEEDBACK_ENTER, record
from gateway.context import Engage
from gateway.store import staff as staff_store

OWNER = "feedback"
IMPORT_MAX_ROWS = 100_000
IMPORT_COLUMNS = (
    "source_id",
    "kind",
    "about",
    "text",
    "place",
    "postcode_district",
    "consultation_id",
    "received_at",
    "channel",
    "may_quote",
    "consent",
    "consent_version",
)
YES = ("yes", "y", "true", "1")


def checked(feedback: dict[str, Any], any_wording: bool = False) -> dict[str, Any]:
    """Loaded feedback after the contract's rules (equality, consent, district), or
    ``ValidationFailed`` naming each field. Consent is to the feedback wording offered
    now, unless ``any_wording`` (an imported row names the wording its partner used)."""
    versions = None if any_wording else {current_consent("feedback")["version"]}
    clean, errors = contract.check_feedback(feedback, versions)
    if errors:
        raise ValidationFailed(errors)
    return clean


def problems(feedback: dict[str, Any]) -> dict[str, list[str]]:
    """What the contract's rules find wrong with feedback as sent (loaded or not)."""
    return contract.check_feedback(feedback, {current_consent("feedback")["version"]})[1]


def content_hash(feedback: dict[str, Any]) -> str:
    """A row's normalised content (kind, what about, text, place, district, day received):
    the same comment typed again with other spacing or capitals hashes the same."""
    received = feedback.get("received_at")
    parts = [
        feedback.get("kind") or "",
        contract.normalised_text(feedback.get("about") or ""),
        contract.normalised_text(feedback.get("text") or ""),
        feedback.get("place") or "",
        feedback.get("postcode_district") or "",
        received.date().isoformat() if received else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def message(
    secret: str,
    feedback: dict[str, Any],
    channel: str,
    idempotency_key: str | None,
    entered_by: dict[str, Any] | None = None,
    source_id: str | None = None,
    imported: bool = False,
) -> dict[str, Any]:
    """The queued message for checked feedback. An imported row is keyed on its
    ``source_id`` or, without one, on its normalised content, so importing a file again
    queues the same ids and feedback stores nothing twice; anything else on its
    idempotency key (two residents may well write the same words)."""
    digest = content_hash(feedback) if imported and not source_id else None
    if source_id:
        sid = submission_id(secret, "feedback-source", source_id)
    elif digest:
        sid = submission_id(secret, "feedback-content", digest)
    else:
        sid = submission_id(secret, OWNER, idempotency_key or new_key())
    return contract.FeedbackMessageSchema().dump(
        {
            **{k: v for k, v in feedback.items() if k != "received_at"},
            "submission_id": sid,
            "receipt_code": receipt_code(secret, sid),
            "submitted_at": feedback.get("received_at") or datetime.now(UTC),
            "channel": channel,
            "entered_by": entered_by,
            "source_id": source_id,
            "content_hash": digest,
        }
    )


def queue(publisher: Submits, queued: dict[str, Any]) -> dict[str, Any]:
    with queue_or_503():
        publisher.submit(OWNER, queued, message_id=queued["submission_id"])
    return {"receipt_code": queued["receipt_code"], "status": "received"}


def submit(
    ctx: Engage,
    feedback: dict[str, Any],
    idempotency_key: str | None,
    channel: str,
    entered_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check and queue feedback (as ``FeedbackInputSchema`` or, from staff,
    ``StaffFeedbackInputSchema`` loaded it); its receipt."""
    clean = checked(reach.locate_feedback(ctx.db, feedback))
    source_id = clean.pop("source_id", None)
    clean.pop("channel", None)
    hear_back = clean.pop("hear_back_email", None)
    queued = message(
        ctx.settings.secret_key, clean, channel, idempotency_key, entered_by, source_id
    )
    receipt = queue(ctx.publisher, queued)
    if hear_back:
        follows.follow(
            ctx.publisher,
            ctx.settings.secret_key,
            queued["submission_id"],
            hear_back,
            [{"kind": "feedback", "feedback_id": queued["submission_id"]}],
            channel,
            queued["consent"],
        )
    return receipt


def item(ctx: Engage, staff: Any, feedback_id: str, original: bool) -> dict[str, Any]:
    """One item for staff; with ``original``, the text as the resident wrote it, which
    only the triage roles may read (the route checks) and which is audited."""
    found = ctx.services.feedback("get_item", feedback_id, original)
    if original:
        record(ctx.db, staff.id, "feedback.read_original", feedback_id)
    return found


def actor(staff: Any) -> dict[str, Any]:
    """Who is acting, as feedback records it in an item's history."""
    return {"staff_id": staff.id, "name": staff.name, "role": staff.role}


# -- importing a partner's spreadsheet --------------------------------------------------------


@dataclass
class ImportReport:
    rows: int = 0
    queued: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _row_input(row: dict[str, str], channel: str, consent_version: str) -> dict[str, Any]:
    """A CSV row as ``StaffFeedbackInputSchema`` input: blank cells are absent."""
    data: dict[str, Any] = {
        k: v.strip() for k, v in row.items() if k in IMPORT_COLUMNS and v and v.strip()
    }
    data.setdefault("channel", channel)
    data["may_quote"] = str(data.get("may_quote", "")).lower() in YES
    data["consent"] = {
        "given": str(data.pop("consent", "")).lower() in YES,
        "version": data.pop("consent_version", consent_version),
    }
    return data


def _reason(errors: dict[str, Any]) -> str:
    return "; ".join(
        f"{path}: {', '.join(map(str, r if isinstance(r, list) else [r]))}"
        for path, r in sorted(errors.items())
    )


def read_rows(text: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | str]]:
    """``(line number, row)`` of a CSV with a header row; a row that cannot be read as
    the header says is ``(line, reason)``."""
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        yield 1, f"the header row cannot be read as CSV ({exc})"
        return
    missing = {"kind", "about", "text"} - set(header)
    if missing:
        yield 1, "the header row must name the columns " + ", ".join(sorted(missing))
        return
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        yield 1, "unknown columns " + ", ".join(unknown) + "; use " + ", ".join(IMPORT_COLUMNS)
        return
    try:
        for row in reader:
            if None in row:
                yield reader.line_num, f"more cells than the {len(header)} columns of the header"
                continue
            yield reader.line_num, row
    except csv.Error as exc:
        yield reader.line_num, f"this line cannot be read as CSV ({exc}): check its quotes"


def import_csv(
    secret: str,
    publisher: Submits,
    text: io.TextIOBase | Iterable[str],
    channel: str,
    entered_by: dict[str, Any],
    progress: Callable[[int], None] = lambda n: None,
    locate: Callable[[dict[str, Any]], dict[str, Any]] = lambda row: row,
) -> ImportReport:
    """Queue each good row of a feedback spreadsheet, as staff-entered feedback from
    ``channel`` (a row's own ``channel`` column wins); report each bad row by its line.
    Rows already imported (same ``source_id``, else same content) are queued under the
    same id and stored once. ``locate``: a full postcode to its district (and decile)."""
    report = ImportReport()
    version = current_consent("feedback")["version"]
    schema = contract.StaffFeedbackInputSchema()
    for line, row in read_rows(text):
        if isinstance(row, str):
            report.problems.append((line, row))
            continue
        report.rows += 1
        if report.rows > IMPORT_MAX_ROWS:
            report.problems.append((line, f"more than {IMPORT_MAX_ROWS:,} rows: split the file"))
            break
        try:
            loaded = load(schema, _row_input(row, channel, version))
            clean = checked(locate(loaded), any_wording=True)
        except ValidationFailed as failed:
            report.problems.append((line, _reason(failed.errors)))
            continue
        source_id = clean.pop("source_id", None)
        row_channel = clean.pop("channel")
        queue(
            publisher,
            message(secret, clean, row_channel, None, entered_by, source_id, imported=True),
        )
        report.queued += 1
        progress(report.rows)
    return report


def import_for(
    db: Pool,
    secret: str,
    publisher: Submits,
    text: Iterable[str],
    staff_email: str,
    channel: str,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """``import_csv`` as the staff member ``staff_email`` (who must be allowed to enter
    feedback), audited with what was queued and refused."""
    with db.connection() as conn:
        who = staff_store.staff_by_email(conn, staff_email.strip().lower())
    if who is None:
        raise NotFound(f"There is no staff user {staff_email}.")
    if who["role"] not in (ADMIN, *FEEDBACK_ENTER):
        raise ValidationFailed(
            {"entered_by": [f"{who['email']} is a {who['role']}, who may not enter feedback"]}
        )
    entered_by = {"staff_id": who["id"], "name": who["name"]}
    report = import_csv(
        secret,
        publisher,
        text,
        channel,
        entered_by,
        progress,
        lambda row: reach.locate_feedback(db, row),
    )
    record(
        db,
        who["id"],
        "feedback.import",
        f"rows={report.rows} queued={report.queued} refused={len(report.problems)}",
    )
    return report
