"""nameko entrypoints for surveys: thin wrappers that load input with the
schemas, apply the pure rules in ``domain``/``questionnaire``, and persist with
``store`` in one transaction per call, recording events through the outbox in
that same transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.timer import timer
from psycopg import Connection

from engage_common import healthcheck
from engage_common.db import Database
from engage_common.errors import NotFound, ValidationFailed
from engage_common.logs import EXPECTED
from engage_common.messaging import claim_message, consume, submissions_queue
from engage_common.outbox import OutboxRelay, record_event
from engage_common.storable import text_problem
from engage_contracts import questionnaire as qn
from engage_contracts import surveys as contract
from engage_contracts.base import flatten_errors, load
from engage_contracts.reference import EQUALITY_FIELDS, consent_record
from surveys import domain, schemas, store

log = logging.getLogger(__name__)
SOURCE = "surveys"
EXPORT_MAX_LIMIT = 5000
DEFAULT_RETENTION_DAYS = 365
SEARCH_LIMIT = 200
SEARCH_MIN_TEXT = 3
ERASE_MAX = 1000
PURGE_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _uuid_or_404(value: Any, what: str = "consultation") -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"There is no {what} with id {value}") from None


class SurveysService(healthcheck.HealthCheck):
    name = "surveys"

    db = Database()
    outbox = OutboxRelay()
    config = Config()

    # -- helpers -----------------------------------------------------------------------

    def _load(
        self,
        conn: Connection,
        consultation_id: Any,
        lock: str | None = None,
        with_count: bool = False,
    ) -> dict[str, Any]:
        cid = _uuid_or_404(consultation_id)
        consultation = store.get_consultation(conn, cid, lock=lock, with_count=with_count)
        if consultation is None:
            raise NotFound(f"There is no consultation with id {cid}")
        return consultation

    def _transition(
        self, consultation_id: Any, change: Any, event: str, payload: Any = domain.event_payload
    ) -> dict[str, Any]:
        """Load and lock, apply the pure ``change``, save, and record ``event`` with
        ``payload(updated)`` in the same transaction."""
        now = _now()
        with self.db.connection() as conn:
            current = self._load(conn, consultation_id, lock="update", with_count=True)
            updated = change(current, now)
            store.save_consultation(conn, updated)
            record_event(conn, SOURCE, event, payload(updated))
        return schemas.consultation(updated, now)

    # -- RPC ---------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def create_consultation(self, data: dict[str, Any]) -> dict[str, Any]:
        clean = load(contract.ConsultationCreateSchema(), data)
        now = _now()
        consultation = {
            **clean,
            "id": str(uuid.uuid4()),
            "status": "draft",
            "questionnaire": qn.normalise_questionnaire(clean["questionnaire"]),
            "outcome": None,
            "response_count": 0,
            "created_at": now,
            "updated_at": now,
            "opened_at": None,
            "closed_at": None,
        }
        with self.db.connection() as conn:
            store.insert_consultation(conn, consultation)
        return schemas.consultation(consultation, now)

    @rpc(expected_exceptions=EXPECTED)
    def update_consultation(self, consultation_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        clean = load(contract.ConsultationUpdateSchema(), changes)
        if "questionnaire" in clean:
            clean["questionnaire"] = qn.normalise_questionnaire(clean["questionnaire"])
        return self._transition(
            consultation_id,
            lambda c, now: domain.apply_update(c, clean, now),
            "consultation_updated",
        )

    @rpc(expected_exceptions=EXPECTED)
    def open_consultation(self, consultation_id: str) -> dict[str, Any]:
        return self._transition(consultation_id, domain.open_consultation, "consultation_opened")

    @rpc(expected_exceptions=EXPECTED)
    def close_consultation(self, consultation_id: str) -> dict[str, Any]:
        return self._transition(consultation_id, domain.close_consultation, "consultation_closed")

    @rpc(expected_exceptions=EXPECTED)
    def publish_outcome(self, consultation_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
        clean = load(contract.OutcomeSchema(), outcome, prefix="outcome")
        return self._transition(
            consultation_id,
            lambda c, now: domain.publish_outcome(c, clean, now),
            "outcome_published",
            lambda c: {**domain.event_payload(c), "outcome": c["outcome"]},
        )

    @rpc(expected_exceptions=EXPECTED)
    def get_consultation(self, consultation_id: str) -> dict[str, Any]:
        with self.db.connection() as conn:
            consultation = self._load(conn, consultation_id, with_count=True)
        return schemas.consultation(consultation, _now())

    @rpc(expected_exceptions=EXPECTED)
    def list_consultations(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        clean = load(contract.ConsultationFiltersSchema(), filters or {})
        now = _now()
        with self.db.connection() as conn:
            rows = store.list_consultations(conn, now, **clean)
        return [schemas.consultation(row, now) for row in rows]

    @rpc(expected_exceptions=EXPECTED)
    def validate_submission(
        self, consultation_id: str, submission: dict[str, Any]
    ) -> dict[str, Any]:
        data = load(contract.ResponseInputSchema(), submission)
        with self.db.connection() as conn:
            consultation = self._load(conn, consultation_id)
        return contract.validate_submission(consultation, data, _now())

    @rpc(expected_exceptions=EXPECTED)
    def get_submission(self, receipt_code: str) -> dict[str, Any]:
        code = str(receipt_code).strip().upper()
        with self.db.connection() as conn:
            row = store.find_receipt(conn, code)
        if row is None:
            raise NotFound("We have not stored a response with that receipt code (yet)")
        return {
            "receipt_code": row["receipt_code"],
            "consultation_id": row["consultation_id"],
            "status": row["status"],
            "reasons": list(row["reasons"] or []),
            "submitted_at": schemas.iso(row["submitted_at"]),
        }

    @rpc(expected_exceptions=EXPECTED)
    def get_results(
        self, consultation_id: str, filters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        clean = load(contract.ResultsFiltersSchema(), filters or {}, prefix="filters")
        with self.db.connection() as conn:
            consultation = self._load(conn, consultation_id)
            total, aggregates = store.aggregate_results(conn, consultation, clean)
        results = domain.shape_results(consultation, total, clean, aggregates)
        for item in results["questions"]:
            if item["type"] == "free_text":
                item["free_text_truncated"] = int(aggregates["answered"].get(item["id"], 0)) > len(
                    item["free_text"]
                )
        return results

    @rpc(expected_exceptions=EXPECTED)
    def export_responses(
        self, consultation_id: str, after: int | None = 0, limit: int = 1000
    ) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if after is not None and (
            not isinstance(after, int) or isinstance(after, bool) or after < 0
        ):
            errors["after"] = ["must be a whole number of at least 0"]
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not (1 <= limit <= EXPORT_MAX_LIMIT)
        ):
            errors["limit"] = [f"must be a whole number from 1 to {EXPORT_MAX_LIMIT}"]
        if errors:
            raise ValidationFailed(errors)
        with self.db.connection() as conn:
            consultation = self._load(conn, consultation_id)
            rows = store.export_page(conn, str(consultation["id"]), after or 0, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return domain.export_table(consultation, rows, next_after=rows[-1]["id"] if more else None)

    # -- privacy (UK GDPR) -------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def get_my_response(self, receipt_code: str) -> dict[str, Any]:
        """What a resident sent, found by their receipt code (the only key they hold)."""
        code = str(receipt_code).strip().upper()
        with self.db.connection() as conn:
            row = store.response_by_receipt(conn, code)
        if row is None:
            raise NotFound("We do not hold a response with that receipt code")
        equality = (
            {f: row[f] for f in EQUALITY_FIELDS if row[f] is not None}
            if row["has_equality"] is not None
            else None
        )
        return {
            "receipt_code": row["receipt_code"],
            "consultation_id": row["consultation_id"],
            "consultation_title": row["consultation_title"],
            "answers": row["answers"],
            "equality": equality,
            "place": row["place"],
            "consent": row["consent"],
            "submitted_at": schemas.iso(row["submitted_at"]),
            "purged_at": schemas.iso(row["purged_at"]),
        }

    @rpc(expected_exceptions=EXPECTED)
    def delete_my_response(self, receipt_code: str) -> dict[str, Any]:
        """Delete a resident's response and its equality answers, at their request."""
        code = str(receipt_code).strip().upper()
        with self.db.connection() as conn:
            row = store.response_by_receipt(conn, code)
            if row is None:
                raise NotFound("We do not hold a response with that receipt code")
            self._delete(conn, [row["id"]], "resident")
        return {"receipt_code": code, "deleted": True}

    def _delete(self, conn: Connection, response_ids: list[int], by: str) -> list[int]:
        deleted = store.delete_responses(conn, response_ids)
        for row in deleted:
            # consultation and place only: counts can follow, nothing about the person
            record_event(
                conn,
                SOURCE,
                "response_deleted",
                {"consultation_id": row["consultation_id"], "place": row["place"]},
            )
        if deleted:
            log.info("deleted %d response(s) at the request of %s", len(deleted), by)
        return [row["id"] for row in deleted]

    @rpc(expected_exceptions=EXPECTED)
    def find_personal_data(
        self, receipt_code: str | None = None, text: str | None = None
    ) -> dict[str, Any]:
        """Responses that may be about one person: by receipt code and/or a text (a name,
        an email) found in their free-text answers or postcode district."""
        errors: dict[str, list[str]] = {}
        code = str(receipt_code).strip().upper() if receipt_code else None
        needle = text.strip() if isinstance(text, str) else None
        if text is not None and not isinstance(text, str):
            errors["text"] = ["must be text"]
        elif problems := {
            k: v for k, v in {"receipt_code": code, "text": needle}.items() if v and text_problem(v)
        }:
            errors.update({k: [text_problem(v)] for k, v in problems.items()})
        elif needle is not None and not (SEARCH_MIN_TEXT <= len(needle) <= 200):
            errors["text"] = [f"must be {SEARCH_MIN_TEXT} to 200 characters"]
        if not code and not needle and not errors:
            errors["_schema"] = ["give a receipt code, a text to search for, or both"]
        if errors:
            raise ValidationFailed(errors)
        with self.db.connection() as conn:
            rows = store.search_personal_data(conn, code, needle, SEARCH_LIMIT + 1)
        found = []
        for row in rows[:SEARCH_LIMIT]:
            free = domain.free_text_ids(row["questionnaire"])
            matches = []
            if code and row["receipt_code"] == code:
                matches.append({"field": "receipt_code", "text": row["receipt_code"]})
            for qid, value in (row["answers"] or {}).items():
                if (
                    qid in free
                    and needle
                    and isinstance(value, str)
                    and needle.casefold() in value.casefold()
                ):
                    matches.append({"field": f"answers.{qid}", "text": value})
            district = row["postcode_district"]
            if needle and district and needle.casefold() in district.casefold():
                matches.append({"field": "equality.postcode_district", "text": district})
            if matches:
                found.append(
                    {
                        "response_id": row["id"],
                        "receipt_code": row["receipt_code"],
                        "consultation_id": row["consultation_id"],
                        "submitted_at": schemas.iso(row["submitted_at"]),
                        "matches": matches,
                    }
                )
        return {"responses": found, "truncated": len(rows) > SEARCH_LIMIT}

    @rpc(expected_exceptions=EXPECTED)
    def erase_responses(self, response_ids: list[int]) -> dict[str, Any]:
        """Erase responses (an erasure request under UK GDPR), equality answers included."""
        if (
            not isinstance(response_ids, list)
            or len(response_ids) > ERASE_MAX
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in response_ids)
        ):
            raise ValidationFailed(
                {"response_ids": [f"must be a list of up to {ERASE_MAX} response ids"]}
            )
        with self.db.connection() as conn:
            erased = self._delete(conn, sorted(set(response_ids)), "staff")
        return {"erased": len(erased), "response_ids": erased}

    @rpc(expected_exceptions=EXPECTED)
    def purge_expired(self, now: str | None = None) -> dict[str, Any]:
        """Purge personal details past the retention period (``now``: ISO 8601, for tests)."""
        try:
            moment = datetime.fromisoformat(now) if now else _now()
        except (TypeError, ValueError):
            raise ValidationFailed({"now": ["must be a date and time"]}) from None
        if moment.tzinfo is None:
            raise ValidationFailed({"now": ["must include a time zone"]})
        return {"purged": self._purge(moment)}

    @timer(interval=3600)
    def purge_retention(self) -> None:
        """Hourly: personal details of responses past the retention period are purged."""
        purged = self._purge(_now())
        if purged:
            log.info("purged personal details of %d response(s)", purged)

    def _purge(self, now: datetime) -> int:
        days = int(self.config.get("RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        closed_before = now - timedelta(days=days)
        total = 0
        while True:
            with self.db.connection() as conn:
                rows = store.expired_responses(conn, closed_before, PURGE_BATCH)
                for row in rows:
                    store.purge_response(
                        conn,
                        row["id"],
                        domain.without_free_text(row["answers"], row["questionnaire"]),
                        now,
                    )
            total += len(rows)
            if len(rows) < PURGE_BATCH:
                return total

    # -- messages and timers -----------------------------------------------------------

    @consume(submissions_queue("surveys"))
    def store_submission(self, body: dict[str, Any]) -> str:
        """Store a queued resident submission exactly once, or record why it was rejected."""
        try:
            message = contract.SubmissionSchema().load(body)
        except ValidationError as exc:
            return self._reject_malformed(body, exc)
        message["submission_id"] = str(message["submission_id"])
        with self.db.connection() as conn:
            if not claim_message(conn, message["submission_id"], "surveys.store_submission"):
                return "duplicate"
            return self._store(conn, message)

    def _reject_malformed(self, body: Any, exc: ValidationError) -> str:
        """Record a submission whose shape is wrong, if it can be identified at all.

        Without a valid ``submission_id`` and ``receipt_code`` there is nothing to
        record it under: raising lets ``consume`` retry it, then dead-letter it.
        """
        fields = body if isinstance(body, dict) else {}
        try:
            submission_id = str(uuid.UUID(str(fields.get("submission_id"))))
        except ValueError:
            raise ValueError(f"unidentifiable submission: {exc.messages}") from None
        receipt = fields.get("receipt_code")
        if not isinstance(receipt, str) or not receipt or "receipt_code" in exc.messages:
            raise ValueError(f"unidentifiable submission: {exc.messages}")
        try:
            submitted_at = datetime.fromisoformat(str(fields.get("submitted_at")))
        except ValueError:
            submitted_at = None
        record = {
            "submission_id": submission_id,
            "receipt_code": receipt,
            "consultation_id": str(fields.get("consultation_id")),
            "submitted_at": submitted_at,
        }
        with self.db.connection() as conn:
            if claim_message(conn, submission_id, "surveys.store_submission"):
                store.insert_rejected(
                    conn, record, schemas.rejection_reasons(flatten_errors(exc.messages))
                )
        return "rejected"

    def _store(self, conn: Connection, message: dict[str, Any]) -> str:
        consultation = None
        try:
            cid = str(uuid.UUID(message["consultation_id"]))
            consultation = store.get_consultation(conn, cid, lock="share")
        except ValueError:
            pass
        if consultation is None:
            store.insert_rejected(conn, message, ["The consultation does not exist"])
            return "rejected"
        message["consultation_id"] = cid
        if not contract.accepting_submission(consultation, message["submitted_at"]):
            store.insert_rejected(
                conn,
                message,
                ["The consultation was no longer accepting responses when this was stored"],
            )
            return "rejected"
        clean, errors = contract.check_submission(consultation, message)
        if errors:
            store.insert_rejected(conn, message, schemas.rejection_reasons(errors))
            return "rejected"
        message["consent"] = consent_record(clean["consent"]["version"])
        response_id = store.insert_response(conn, message, clean["answers"], clean["place"])
        if response_id is None:
            return "duplicate"
        equality = clean["equality"] or {}
        place_from_district = contract.derived_place(equality)
        if equality:
            store.insert_equality(conn, response_id, cid, equality, place_from_district)
        record_event(
            conn,
            SOURCE,
            "response_submitted",
            {
                "consultation_id": cid,
                "response_id": response_id,
                "receipt_code": message["receipt_code"],
                "place": clean["place"],
                "channel": message["channel"],
                "submitted_at": message["submitted_at"].isoformat(),
            },
        )
        return "stored"

    @timer(interval=60)
    def close_expired(self) -> None:
        """Close open consultations a little after their close date (see ``CLOSE_GRACE``)."""
        now = _now()
        with self.db.connection() as conn:
            for cid in store.open_past_close(conn, now - domain.CLOSE_GRACE):
                consultation = store.get_consultation(conn, cid)
                closed = domain.close_consultation(consultation, now)
                store.save_consultation(conn, closed)
                record_event(conn, SOURCE, "consultation_closed", domain.event_payload(closed))
                log.info("closed consultation %s after its close date", cid)
