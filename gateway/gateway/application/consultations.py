"""What staff do with consultations, through the surveys service: every change and every
read of residents' own words is audited here, once, whichever route asked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from gateway.application.responses import remember
from gateway.application.staff import record
from gateway.context import Engage
from gateway.rpc import Pending

EXPORT_PAGE = 5000  # rows a call (surveys' largest page): 200 calls a million rows


def create(ctx: Engage, actor: int, draft: dict[str, Any]) -> dict[str, Any]:
    consultation = ctx.services.surveys("create_consultation", draft)
    record(ctx.db, actor, "consultation.create", str(consultation["id"]))
    return consultation


def update(ctx: Engage, actor: int, consultation_id: str, changes: dict[str, Any]) -> Any:
    consultation = ctx.services.surveys("update_consultation", consultation_id, changes)
    remember(ctx, consultation)
    record(ctx.db, actor, "consultation.update", consultation_id)
    return consultation


def open_(ctx: Engage, actor: int, consultation_id: str) -> dict[str, Any]:
    consultation = ctx.services.surveys("open_consultation", consultation_id)
    remember(ctx, consultation)
    record(ctx.db, actor, "consultation.open", consultation_id)
    return consultation


def close(ctx: Engage, actor: int, consultation_id: str) -> dict[str, Any]:
    consultation = ctx.services.surveys("close_consultation", consultation_id)
    remember(ctx, consultation)
    record(ctx.db, actor, "consultation.close", consultation_id)
    return consultation


def publish_outcome(
    ctx: Engage, actor: int, consultation_id: str, outcome: dict[str, Any]
) -> dict[str, Any]:
    consultation = ctx.services.surveys("publish_outcome", consultation_id, outcome)
    remember(ctx, consultation)
    record(ctx.db, actor, "consultation.outcome", consultation_id)
    return consultation


def results(
    ctx: Engage, actor: int, consultation_id: str, filters: dict[str, Any]
) -> dict[str, Any]:
    """Counts only: residents' own words are read (and the reading audited) through
    ``free_text_answers``."""
    return ctx.services.surveys("get_results", consultation_id, filters)


def export(ctx: Engage, actor: int, consultation_id: str) -> tuple[list[str], Iterator[list[Any]]]:
    """The export's header and its rows, page after page. The first page is fetched now,
    so a missing consultation or an absent service is an error status, not a broken
    download; the rest as the rows are read (``_rows``)."""
    services = ctx.services  # the rows are read after the request context is gone

    def fetch(after: int) -> Pending:
        return services.call_async(
            "surveys", "export_responses", consultation_id, after, EXPORT_PAGE
        )

    first = services.surveys("export_responses", consultation_id, None, EXPORT_PAGE)
    record(ctx.db, actor, "consultation.export", consultation_id)
    return first["columns"], _rows(first, fetch)


def _rows(first: dict[str, Any], fetch: Callable[[int], Pending]) -> Iterator[list[Any]]:
    """Every page's rows, the next page asked for before this one's are decoded (a page's
    ``rows`` is one JSON text, ``ExportRowsSchema``) and handed on, so surveys reads it
    while the gateway decodes and writes these (one after the other, a million rows took
    37.6 s). One page at most is in flight: each starts after the last one's
    ``next_after``. A download stopped part-way abandons the page on its way."""
    page, pending = first, None
    try:
        while True:
            after = page.get("next_after")
            pending = None if after is None else fetch(after)
            yield from json.loads(page["rows"])
            if pending is None:
                return
            page = pending.result()
    finally:
        if pending is not None:
            pending.abandon()


def free_text_answers(
    ctx: Engage, actor: int, consultation_id: str, page: dict[str, Any]
) -> dict[str, Any]:
    """One free-text question's answers, redacted, with suggested and confirmed themes;
    the read is audited like the results' free-text samples."""
    found = ctx.services.surveys(
        "free_text_answers", consultation_id, page["question_id"], page["after"], page["limit"]
    )
    record(
        ctx.db, actor, "consultation.free_text_answers", f"{consultation_id} {page['question_id']}"
    )
    return found


def confirm_answer_themes(
    ctx: Engage, staff: Any, response_id: int, question_id: str, confirmed: dict[str, Any]
) -> dict[str, Any]:
    return ctx.services.surveys(
        "confirm_answer_themes",
        response_id,
        question_id,
        confirmed["themes"],
        confirmed["tone"],
        {"staff_id": staff.id, "name": staff.name, "role": staff.role},
    )
