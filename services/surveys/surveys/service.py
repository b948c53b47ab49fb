"""nameko entrypoints for surveys: each loads its arguments with the contract's schemas
(``engage_contracts.surveys``), asks ``domain`` what to do, persists with ``store`` in one
transaction, recording events through the outbox in that same transaction, and returns
the contract's shapes (``schemas``).

Residents' free-text answers are redacted (``engage_common.redaction``, off the eventlet
hub) when a response is stored; staff are shown only the redacted text (results, export,
``free_text_answers``). Responses stored before that, or redacted by an older redactor,
are redacted by ``redact_backlog`` (a timer, ``BACKFILL_BATCH`` rows a tick). Until it
reaches one, whatever staff are shown of it is redacted as it is read (not stored: the
backfill stores it), so the original is never shown; only the resident's own "see what
you sent" and the erasure search use the original.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from nameko.timer import timer
from psycopg import Connection

from engage_common import healthcheck, outbox
from engage_common.db import Database
from engage_common.disclosure import group_shown
from engage_common.errors import NotFound
from engage_common.logs import EXPECTED
from engage_common.messaging import (
    claim_message,
    consume_batches,
    event_handler,
    rpc,
    submissions_queue,
)
from engage_common.observability import Observability
from engage_common.outbox import OutboxRelay, record_event, record_events
from engage_common.redaction import REDACTOR_VERSION, REPLACEMENTS, Redactor
from engage_contracts import privacy
from engage_contracts import surveys as contract
from engage_contracts.base import load
from engage_contracts.ics import ics
from surveys import domain, schemas, store

log = logging.getLogger(__name__)
SOURCE = "surveys"
SEARCH_LIMIT = 200
PURGE_BATCH = 500
BACKFILL_BATCH = 200  # responses redacted a tick by ``redact_backlog``
BACKFILL_INTERVAL = 5  # seconds
FEEDBACK = "feedback"  # the service whose theme_saved events keep surveys' copy of themes
PLACEHOLDERS = tuple(REPLACEMENTS.values())  # what the redactor put in: suggests nothing
NO_RECEIPT = "We do not hold a response with that receipt code"
CLAIM = "surveys.store_submission"  # the claims of queued submissions are kept under

Json = dict[str, Any]
Change = Callable[..., Json]  # called as change(consultation, now=now)


def _now() -> datetime:
    return datetime.now(UTC)


class SurveysService(healthcheck.HealthCheck, outbox.EventReplay):
    name = "surveys"

    db = Database()
    obs = Observability()  # correlation ids, a log line a call, metrics (METRICS_PORT)
    relay = OutboxRelay()  # publishes what the outbox holds
    redact = Redactor()  # free text redacted off the hub, the redactor built at start

    def _consultation(self, conn: Connection, consultation_id: Any, **options: Any) -> Json:
        """The consultation (``store.get_consultation`` ``options``), or ``NotFound``."""
        cid = domain.canonical_id(consultation_id)
        found = store.get_consultation(conn, cid, **options) if cid else None
        if found is None:
            raise NotFound(f"There is no consultation with id {cid or consultation_id}")
        return found

    def _transition(
        self, consultation_id: Any, change: Change, event: str, payload: Any = domain.event_payload
    ) -> Json:
        """Load and lock, apply the pure ``change``, save, and record ``event``."""
        now = _now()
        with self.db.connection() as conn:
            current = self._consultation(conn, consultation_id, lock="update", with_count=True)
            updated = change(current, now=now)
            updated["updated_at"] = store.save_consultation(conn, updated)
            record_event(conn, SOURCE, event, payload(updated))
        return schemas.consultation(updated, now)

    def _receipt_code(self, receipt_code: Any) -> str:
        return load(privacy.ReceiptCodeSchema(), {"receipt_code": receipt_code})["receipt_code"]

    @rpc(expected_exceptions=EXPECTED)
    def create_consultation(self, data: Json) -> Json:
        clean, now = load(contract.ConsultationCreateSchema(), data), _now()
        consultation = domain.new_consultation(clean, str(uuid.uuid4()), now)
        with self.db.connection() as conn:
            store.insert_consultation(conn, consultation)
        return schemas.consultation(consultation, now)

    @rpc(expected_exceptions=EXPECTED)
    def update_consultation(self, consultation_id: str, changes: Json) -> Json:
        clean = load(contract.ConsultationUpdateSchema(), changes)
        change = partial(domain.apply_update, changes=clean)
        return self._transition(consultation_id, change, "consultation_updated")

    @rpc(expected_exceptions=EXPECTED)
    def open_consultation(self, consultation_id: str) -> Json:
        return self._transition(consultation_id, domain.open_consultation, "consultation_opened")

    @rpc(expected_exceptions=EXPECTED)
    def close_consultation(self, consultation_id: str) -> Json:
        return self._transition(consultation_id, domain.close_consultation, "consultation_closed")

    @rpc(expected_exceptions=EXPECTED)
    def publish_outcome(self, consultation_id: str, outcome: Json) -> Json:
        clean = load(contract.OutcomeSchema(), outcome, prefix="outcome")
        change = partial(domain.publish_outcome, outcome=clean)
        return self._transition(
            consultation_id, change, "outcome_published", domain.outcome_payload
        )

    @rpc(expected_exceptions=EXPECTED)
    def get_consultation(self, consultation_id: str) -> Json:
        with self.db.connection() as conn:
            consultation = self._consultation(conn, consultation_id, with_count=True)
        return schemas.consultation(consultation, _now())

    @rpc(expected_exceptions=EXPECTED)
    def list_consultations(self, filters: Json | None = None) -> list[Json]:
        clean, now = load(contract.ConsultationFiltersSchema(), filters or {}), _now()
        with self.db.connection() as conn:
            rows = store.list_consultations(conn, now, **clean)
        return [schemas.consultation(row, now) for row in rows]

    @rpc(expected_exceptions=EXPECTED)
    def validate_submission(self, consultation_id: str, submission: Json) -> Json:
        data = load(contract.ResponseInputSchema(), submission)
        with self.db.connection() as conn:
            consultation = self._consultation(conn, consultation_id)
        return contract.validate_submission(consultation, data, _now())

    @rpc(expected_exceptions=EXPECTED)
    def get_submission(self, receipt_code: str) -> Json:
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.find_receipt(conn, code)
        if row is None:
            raise NotFound("We have not stored a response with that receipt code (yet)")
        return schemas.receipt(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_results(self, consultation_id: str, filters: Json | None = None) -> Json:
        """Results from the kept counts (``result_counts``) for everyone or one place; a
        filter on equality answers counts the matching responses (a scan). Free text is
        never in them: ``free_text_answers`` pages it."""
        clean = load(contract.ResultsFiltersSchema(), filters or {}, prefix="filters")
        threshold = ics().small_number_threshold
        with self.db.connection() as conn:
            consultation = self._consultation(conn, consultation_id)
            cid = str(consultation["id"])
            counted = set(clean) <= {"place"}
            equality = {k: v for k, v in clean.items() if k != "place"}
            by_group = len(equality) == 1  # kept by equality group too (migration 009)
            for field, value in clean.items():
                others = {k: v for k, v in clean.items() if k != field}
                if counted:
                    groups = store.counted_places(conn, cid)
                elif by_group:
                    groups = store.counted_breakdown(conn, cid, field, others)
                else:
                    groups = store.breakdown(conn, cid, field, others)
                if not group_shown(groups, value, threshold):
                    return domain.withheld_results(consultation, clean, threshold)
            if counted:
                rows = store.result_counts(conn, cid, clean.get("place"))
                total, aggregates = domain.counted_aggregates(consultation, rows)
            elif by_group:
                ((field, group),) = equality.items()
                rows = store.equality_result_counts(conn, cid, field, group, clean.get("place"))
                total, aggregates = domain.counted_aggregates(consultation, rows)
            else:
                total, aggregates = store.aggregate_results(conn, consultation, clean)
        return domain.shape_results(consultation, total, clean, aggregates, threshold)

    def _redact_now(self, texts: list[Any]) -> list[str]:
        """Texts redacted as they are read (free text stored before redaction existed, not
        yet reached by ``redact_backlog``)."""
        if not texts:
            return []
        return [r.text for r in self.redact([str(t) for t in texts])]

    @rpc(expected_exceptions=EXPECTED)
    def export_responses(self, consultation_id: str, after: Any = 0, limit: Any = 1000) -> Json:
        page = load(contract.ExportPageSchema(), {"after": after, "limit": limit})
        with self.db.connection() as conn:
            consultation = self._consultation(conn, consultation_id)
            cid = str(consultation["id"])
            shaped = store.export_rows(
                conn, cid, consultation["questionnaire"], page["after"], page["limit"]
            )
            if not shaped["pending"]:  # shaped by the database
                return domain.export_shaped(consultation, shaped)
            rows = store.export_page(conn, cid, page["after"], page["limit"] + 1)
        questionnaire = consultation["questionnaire"]
        pending = [domain.unredacted(row, questionnaire) for row in rows]
        flat = self._redact_now([text for texts in pending for text in texts.values()])
        redacted = iter(flat)
        shown = [
            {
                **row,
                "answers": domain.shown_answers(
                    row, questionnaire, {qid: next(redacted) for qid in texts}
                ),
            }
            for row, texts in zip(rows, pending, strict=True)
        ]
        return domain.export_page(consultation, shown, page["limit"])

    @consume_batches(submissions_queue("surveys"))
    def store_submissions(self, bodies: list[Any]) -> list[str]:
        """Store a batch of queued resident submissions in one transaction, each exactly
        once (claimed by its ``submission_id``), or record why one was rejected; the
        batch's free text redacted in one call off the hub, an outbox event a response.
        An unidentifiable submission raises: the batch is then handled a message at a
        time, and that one retried, then dead-lettered."""
        read = [domain.read_submission(body) for body in bodies]
        verdicts = ["duplicate"] * len(read)
        with self.db.connection() as conn:
            fresh = store.claim_submissions(conn, [s["submission_id"] for s, _ in read], CLAIM)
            todo: list[tuple[int, Json, Any]] = []
            for i, (submission, errors) in enumerate(read):
                if submission["submission_id"] in fresh:
                    fresh.discard(submission["submission_id"])  # twice in a batch: once
                    cid = None if errors else domain.canonical_id(submission["consultation_id"])
                    todo.append((i, submission, (cid, errors)))
            cids = sorted({cid for _, _, (cid, _) in todo if cid})
            # Shared locks in one order: a concurrent close waits for the batch.
            found = {cid: store.get_consultation(conn, cid, lock="share") for cid in cids}
            accepted: list[tuple[int, Json, Json]] = []
            for i, submission, (cid, errors) in todo:
                consultation = found.get(cid) if cid else None
                verdict, result = domain.judge_submission(consultation, submission, errors)
                verdicts[i] = verdict
                if verdict == "rejected":
                    store.insert_rejected(conn, result)
                else:
                    assert consultation is not None  # stored: judged against it
                    accepted.append((i, result, consultation))
            if accepted:
                self._store_accepted(conn, accepted, verdicts)
        if accepted:
            self.relay.wake()  # committed: their events go out now, not at the relay's next look
        return verdicts

    def _store_accepted(
        self, conn: Connection, accepted: list[tuple[int, Json, Json]], verdicts: list[str]
    ) -> None:
        """Redact (off the hub, inside the transaction: the messages are claimed and the
        consultations locked until the responses are stored), insert, suggest themes and
        record ``response_submitted`` for the judged responses of a batch."""
        texts = [
            domain.free_texts(result["answers"], consultation["questionnaire"])
            for _, result, consultation in accepted
        ]
        records = self._redact(texts)
        rows = [
            {**result, **record} for (_, result, _), record in zip(accepted, records, strict=True)
        ]
        ids = store.insert_responses(conn, rows)
        themes = store.list_themes(conn)
        suggestions, events = [], []
        for (i, result, _), row, response_id in zip(accepted, rows, ids, strict=True):
            if response_id is None:
                verdicts[i] = "duplicate"
                continue
            suggested = domain.answer_suggestions(row["redacted_answers"], themes, PLACEHOLDERS)
            cid = result["consultation_id"]
            suggestions += [(response_id, cid, qid, s) for qid, s in suggested.items()]
            events.append(domain.response_submitted(result, response_id))
        store.insert_suggestions(conn, suggestions)
        record_events(conn, SOURCE, "response_submitted", events)

    def _redact(self, texts: list[dict[str, str]]) -> list[Json]:
        """Each response's free texts redacted, in one batch off the hub, as stored
        (``domain.redaction_records``)."""
        flat = [text for answers in texts for text in answers.values()]
        results = self.redact(flat) if flat else []
        return domain.redaction_records(texts, results, REDACTOR_VERSION)

    @timer(interval=BACKFILL_INTERVAL, eager=True)
    def redact_backlog(self) -> int:
        """Redact the free text of responses stored before redaction existed (or redacted by
        an older redactor): up to ``BACKFILL_BATCH`` a tick, oldest first. Rows are locked
        (``SKIP LOCKED``) while they are redacted, so two instances share the work and a
        response is redacted once; running it again when there are none does nothing."""
        with self.db.connection() as conn:
            rows = store.redaction_backlog(conn, REDACTOR_VERSION, BACKFILL_BATCH)
            if not rows:
                return 0
            texts = [domain.free_texts(row["answers"], row["questionnaire"]) for row in rows]
            themes = store.list_themes(conn)
            for row, record in zip(rows, self._redact(texts), strict=True):
                store.save_redaction(conn, row["id"], record)
                suggested = domain.answer_suggestions(
                    record["redacted_answers"], themes, PLACEHOLDERS
                )
                store.save_suggestions(conn, row["id"], row["consultation_id"], suggested)
        log.info("redacted the free text of %d earlier response(s)", len(rows))
        return len(rows)

    @rpc(expected_exceptions=EXPECTED)
    def get_my_response(self, receipt_code: str) -> Json:
        """What a resident sent, found by their receipt code (the only key they hold)."""
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.response_by_receipt(conn, code)
        if row is None:
            raise NotFound(NO_RECEIPT)
        return schemas.my_response(row)

    @rpc(expected_exceptions=EXPECTED)
    def delete_my_response(self, receipt_code: str) -> Json:
        """Delete a resident's response and its equality answers, at their request."""
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.response_by_receipt(conn, code)
            if row is None:
                raise NotFound(NO_RECEIPT)
            self._delete(conn, [row["id"]], "resident")
        return {"receipt_code": code, "deleted": True}

    @rpc(expected_exceptions=EXPECTED)
    def find_personal_data(self, receipt_code: str | None = None, text: str | None = None) -> Json:
        """Responses that may be about one person: by receipt code and/or a text (a name,
        an email) found in their free-text answers or postcode district."""
        arguments = {"receipt_code": receipt_code, "text": text}
        search = load(privacy.PersonalDataSearchSchema(), arguments)
        with self.db.connection() as conn:
            rows = store.search_personal_data(conn, **search, limit=SEARCH_LIMIT + 1)
        page, truncated = domain.page_of(rows, SEARCH_LIMIT)
        found = [
            schemas.personal_data_response(row, matches)
            for row in page
            if (matches := domain.personal_data_matches(row, **search))
        ]
        return {"responses": found, "truncated": truncated}

    @rpc(expected_exceptions=EXPECTED)
    def erase_responses(self, response_ids: list[int]) -> Json:
        """Erase responses (an erasure request under UK GDPR), equality answers included."""
        ids = load(contract.EraseResponsesSchema(), {"response_ids": response_ids})
        with self.db.connection() as conn:
            erased = self._delete(conn, ids["response_ids"], "staff")
        return {"erased": len(erased), "response_ids": erased}

    def _delete(self, conn: Connection, response_ids: list[int], by: str) -> list[int]:
        deleted = store.delete_responses(conn, response_ids)
        for row in deleted:
            record_event(conn, SOURCE, "response_deleted", domain.response_deleted(row))
        if deleted:
            log.info("deleted %d response(s) at the request of %s", len(deleted), by)
        return [row["id"] for row in deleted]

    @rpc(expected_exceptions=EXPECTED)
    def purge_expired(self, now: str | None = None) -> Json:
        """Purge personal details past the retention period (``now``: ISO 8601, for tests)."""
        moment = load(privacy.PurgeExpiredSchema(), {"now": now})["now"]
        return {"purged": self._purge(moment or _now())}

    @timer(interval=3600)
    def purge_retention(self) -> None:
        """Hourly: personal details of responses past the retention period are purged."""
        purged = self._purge(_now())
        if purged:
            log.info("purged personal details of %d response(s)", purged)

    def _purge(self, now: datetime) -> int:
        days = ics().retention_days["consultation_responses"]
        closed_before, total = domain.purge_before(now, days), 0
        while True:
            with self.db.connection() as conn:
                rows = store.expired_responses(conn, closed_before, PURGE_BATCH)
                for row in rows:
                    kept = domain.without_free_text(row["answers"], row["questionnaire"])
                    store.purge_response(conn, row["id"], kept, now)
            total += len(rows)
            if len(rows) < PURGE_BATCH:
                return total

    @timer(interval=60)
    def close_expired(self) -> None:
        """Close open consultations a little after their close date (see ``CLOSE_GRACE``)."""
        now = _now()
        with self.db.connection() as conn:
            for cid in store.open_past_close(conn, now - domain.CLOSE_GRACE):
                closed = domain.close_consultation(store.get_consultation(conn, cid), now)
                closed["updated_at"] = store.save_consultation(conn, closed)
                record_event(conn, SOURCE, "consultation_closed", domain.event_payload(closed))
                log.info("closed consultation %s after its close date", cid)

    # -- themes of free-text answers ------------------------------------------------------------

    @timer(interval=3600, eager=True)
    def seed_themes(self) -> None:
        """At start (and hourly, harmlessly): the themes feedback seeds (the ICS's priorities
        and ambitions, the common topics), so suggestions work before any of feedback's
        events arrive. Only missing ones are added: what events said stays."""
        with self.db.connection() as conn:
            added = store.seed_themes(conn, domain.seeded_themes(ics()))
        if added:
            log.info("seeded %d theme(s) from the ICS configuration", len(added))

    @event_handler(FEEDBACK, "theme_saved")
    def on_theme_saved(self, event: Json) -> None:
        """Keep surveys' copy of feedback's themes; each event applied once."""
        seeded = {t["slug"]: t["keywords"] for t in domain.seeded_themes(ics())}
        theme = domain.theme_from_event(event, seeded)
        with self.db.connection() as conn:
            if claim_message(conn, str(event["event_id"]), "surveys.on_theme_saved"):
                store.apply_theme(conn, theme)

    @rpc(expected_exceptions=EXPECTED)
    def free_text_answers(
        self,
        consultation_id: str,
        question_id: str,
        after: Any = 0,
        limit: Any = contract.FREE_TEXT_DEFAULT_LIMIT,
    ) -> Json:
        """One free-text question's answers, redacted, with the themes and tone suggested
        and confirmed, oldest first, a keyset page at a time (``FreeTextAnswersSchema``)."""
        arguments = {"question_id": question_id, "after": after, "limit": limit}
        page = load(contract.FreeTextPageSchema(), arguments)
        with self.db.connection() as conn:
            consultation = self._consultation(conn, consultation_id)
            domain.check_free_text_question(consultation, page["question_id"])
            rows = store.free_text_page(
                conn, str(consultation["id"]), page["question_id"], page["after"], page["limit"] + 1
            )
            themes = store.list_themes(conn)
        shown, more = domain.page_of(rows, page["limit"])
        return {
            "answers": self._shown_answers(shown, themes),
            "next_after": shown[-1]["response_id"] if more else None,
        }

    def _shown_answers(self, rows: list[Json], themes: list[Json]) -> list[Json]:
        """Answers as staff see them: an answer not redacted yet is redacted now, and
        suggestions not made yet are made now (neither stored: ``redact_backlog`` does)."""
        pending = [row for row in rows if row["text"] is None]
        redacted = self._redact_now([r["original"] for r in pending])
        for row, text in zip(pending, redacted, strict=True):
            row["text"] = text
        out = []
        for row in rows:
            if row["suggested_tone"] is None:
                row = {**row, **domain.suggest(row["text"], themes, PLACEHOLDERS)}
            out.append(schemas.free_text_answer(row))
        return out

    @rpc(expected_exceptions=EXPECTED)
    def confirm_answer_themes(
        self, response_id: int, question_id: str, themes: list[str], tone: str | None, actor: Json
    ) -> Json:
        """Staff confirm (or change) the themes and tone of one free-text answer; only
        confirmed themes count. Records ``answer_themed`` when that changes what was
        confirmed."""
        arguments = {
            "response_id": response_id,
            "question_id": question_id,
            "themes": themes,
            "tone": tone,
            "actor": actor,
        }
        clean = load(contract.ConfirmAnswerThemesSchema(), arguments)
        rid, qid = clean["response_id"], clean["question_id"]
        with self.db.connection() as conn:
            answer = store.answer_to_theme(conn, rid, qid)
            if (
                answer is None
                or not answer["answered"]
                or qid not in domain.free_text_ids(answer["questionnaire"])
            ):
                raise NotFound(f"Response {rid} has no free-text answer to question {qid}")
            in_use = store.list_themes(conn)
            slugs = [t["slug"] for t in in_use]
            domain.check_themes(clean["themes"], slugs, keep=answer["themes"] or ())
            if domain.themes_changed(answer, clean["themes"], clean["tone"]):
                store.confirm_themes(
                    conn, answer, clean["themes"], clean["tone"], clean["actor"], _now()
                )
                event = domain.answer_themed(answer, clean["themes"], clean["tone"])
                record_event(conn, SOURCE, "answer_themed", event)
            row = store.free_text_answer(conn, rid, qid)
        assert row is not None  # locked above
        log.info(
            "themes of response %s answer %s confirmed by %s", rid, qid, clean["actor"]["name"]
        )
        return self._shown_answers([row], in_use)[0]

    # -- easy read ------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def upload_easy_read_image(self, consultation_id: str, image: Json) -> Json:
        """Keep a picture for the consultation's easy-read version: PNG or JPEG by its
        content, up to 500 KB, with its alt text (``ImageUploadSchema``). Named by its
        sha256, so the same picture twice is kept once."""
        clean = load(contract.ImageUploadSchema(), image)
        found = domain.read_image(clean["data"])
        with self.db.connection() as conn:
            consultation = self._consultation(conn, consultation_id, lock="share")
            domain.check_easy_read_change(consultation)
            row = store.save_image(
                conn, str(consultation["id"]), {**found, "data": clean["data"], "alt": clean["alt"]}
            )
        return schemas.image(row)

    @rpc(expected_exceptions=EXPECTED)
    def set_easy_read(self, consultation_id: str, easy_read: Json | None) -> Json:
        """Set (or, with None, remove) the consultation's easy-read version: points with
        pictures uploaded for it, and the easy-read wording of some of its questions.
        Records ``consultation_updated``, so copies of it (the gateway's snapshot) renew."""
        clean = None if easy_read is None else load(contract.EasyReadSchema(), easy_read)
        now = _now()
        with self.db.connection() as conn:
            current = self._consultation(conn, consultation_id, lock="update", with_count=True)
            domain.check_easy_read_change(current)
            shas = domain.easy_read_images(clean)
            images = store.easy_read_images(conn, str(current["id"]), shas)
            updated = domain.set_easy_read(current, clean, images, now)
            updated["updated_at"] = store.save_consultation(conn, updated)
            record_event(conn, SOURCE, "consultation_updated", domain.event_payload(updated))
        return schemas.consultation(updated, now)

    @rpc(expected_exceptions=EXPECTED)
    def get_easy_read_image(self, consultation_id: str, sha256: str) -> Json:
        """One of the consultation's easy-read pictures, with its bytes (base64)."""
        sha = load(contract.ImageRequestSchema(), {"sha256": sha256})["sha256"]
        cid = domain.canonical_id(consultation_id)
        with self.db.connection() as conn:
            row = store.get_image(conn, cid, sha) if cid else None
        if row is None:
            raise NotFound("There is no such picture for this consultation")
        return schemas.image(row, with_data=True)
