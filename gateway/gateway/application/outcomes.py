"""Outcomes ("we did") through the gateway: CSV import (API and CLI alike), the open data
file, and moving today's consultation outcomes into the outcomes service."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, request

from engage_common.errors import ValidationFailed
from engage_contracts.base import load
from engage_contracts.outcomes import OutcomeImportRowSchema, evidence_link
from gateway.errors import ApiError
from gateway.rpc import Services

IMPORT_COLUMNS = (
    "reference", "kind", "title", "description", "you_said", "partner", "owner", "due_date",
    "status", "progress", "reason", "places", "priorities", "themes", "evidence", "parent_id",
)  # fmt: skip
LISTS = ("places", "priorities", "themes", "evidence")
TEXTS = ("title", "description", "you_said", "reason")
BATCH = 200


def actor(staff: Any) -> dict[str, Any]:
    return {"staff_id": staff.id, "name": staff.name, "role": staff.role}


def csv_response(lines: Iterable[str], name: str, licence: str) -> Response:
    return Response(
        lines,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Licence": licence,
            "Link": "<https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/>;"
            ' rel="license"',
        },
    )


def csv_body() -> str:
    """The request's CSV body (``text/csv``, UTF-8)."""
    if request.mimetype != "text/csv":
        raise ApiError("Send the outcomes as text/csv.", status=415)
    try:
        return request.get_data(as_text=False).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("The CSV must be UTF-8.", status=400) from None


def row_input(row: dict[str, str], line: int) -> dict[str, Any]:
    """A CSV row as ``OutcomeImportRowSchema`` input: lists split on ';', texts in English,
    evidence keys (``consultation:<id>``, ``question:<id>:<question>``, ``theme:<slug>``,
    ``feedback:<id>``, ``point:<id>``) as links; blank cells left out."""
    data: dict[str, Any] = {"line": line}
    for name, raw in row.items():
        value = (raw or "").strip()
        if name not in IMPORT_COLUMNS or not value:
            continue
        if name in LISTS:
            items = [v.strip() for v in value.split(";") if v.strip()]
            data[name] = [evidence_link(i) for i in items] if name == "evidence" else items
        elif name in TEXTS:
            data[name] = {"en": value}
        elif name == "progress":
            data[name] = int(value) if value.isdigit() else value
        else:
            data[name] = value
    return data


def read_rows(text: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        yield 1, f"the header row cannot be read as CSV ({exc})"
        return
    missing = {"reference", "kind", "title"} - set(header)
    if missing:
        yield 1, "the header row must name the columns " + ", ".join(sorted(missing))
        return
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        yield 1, "unknown columns " + ", ".join(unknown) + "; use " + ", ".join(IMPORT_COLUMNS)
        return
    try:
        for row in reader:
            try:
                yield reader.line_num, row_input(row, reader.line_num)
            except ValueError as exc:
                yield reader.line_num, f"evidence: {exc}"
    except csv.Error as exc:
        yield reader.line_num, f"this line cannot be read as CSV ({exc}): check its quotes"


def import_csv(services: Services, staff: Any, text: Iterable[str]) -> dict[str, Any]:
    """Check each row with the contract, send the good ones to the outcomes service in
    batches; problems by line (the service's and ours together)."""
    totals: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "problems": []}
    batch: list[dict[str, Any]] = []

    def send() -> None:
        if batch:
            done = services.outcomes(
                "import_outcomes", OutcomeImportRowSchema(many=True).dump(batch), actor(staff)
            )
            for key in ("created", "updated", "unchanged"):
                totals[key] += done[key]
            totals["problems"] += done["problems"]
            batch.clear()

    for line, row in read_rows(text):
        if isinstance(row, str):
            totals["problems"].append({"line": line, "reason": row})
            continue
        try:
            batch.append(load(OutcomeImportRowSchema(), row))
        except ValidationFailed as failed:
            reason = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(failed.errors.items()))
            totals["problems"].append({"line": line, "reason": reason})
        if len(batch) >= BATCH:
            send()
    send()
    totals["problems"].sort(key=lambda p: p["line"])
    return totals


def move_consultation_outcomes(services: Services) -> dict[str, Any]:
    """Today's consultation outcomes (decisions inside surveys' ``outcome_published``
    events) become outcome records: surveys' published events are replayed to the
    outcomes service, which keys each decision on ``consultation:<id>:<n>`` (moving twice
    changes nothing)."""
    moved: list[dict[str, Any]] = []
    after = None
    while True:
        page = services.surveys("replay_events", after, 1000)
        moved += [e for e in page["events"] if e.get("event_type") == "outcome_published"]
        if page["next"] is None:
            break
        after = page["next"]
    if not moved:
        return {"consultations": 0, "outcomes": 0}
    return services.outcomes("move_consultation_outcomes", moved)
