"""Request parsing shared by the API routes: JSON bodies and ids that never cause a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import request
from marshmallow import Schema

from gateway.errors import ApiError
from gateway.schemas import load
from surveys.schemas import NUL_MESSAGE, nul_paths


def json_body(schema: Schema, raw: bool = False) -> Any:
    """The request body parsed as JSON and validated by ``schema``: the loaded data, or
    with ``raw`` the JSON as sent (to pass on over RPC, where only JSON types travel).

    415 when it is not sent as JSON, 400 when it does not parse, 422 when it does
    not match the schema (wrong types, unknown or missing fields).
    """
    if not request.is_json:
        raise ApiError("Send the body as JSON with 'Content-Type: application/json'.",
                       status=415)
    body = request.get_data(cache=True)
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(f"The body is not valid JSON: {exc}", status=400,
                       fields={"body": ["is not valid JSON"]}) from exc
    refuse_nul(data, "body")
    loaded = load(schema, data)
    return data if raw else loaded


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def query_args(schema: Schema) -> dict[str, Any]:
    """Query parameters validated by ``schema``; only those given (plus defaults)."""
    args = request.args.to_dict()
    refuse_nul(args, "query")
    return load(schema, args, what="query")


def refuse_nul(data: Any, what: str) -> None:
    """U+0000 cannot be stored by PostgreSQL (text or JSONB): a 422, never a 500."""
    bad = nul_paths(data)
    if bad:
        raise ApiError("Some fields need correcting." if what == "body" else
                       "Some query parameters are not valid.", status=422,
                       fields={path: [NUL_MESSAGE] for path in bad})


def check_id(value: str, what: str = "consultation") -> str:
    """Ids (UUIDs) from the URL, normalised: anything else is simply not found."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(f"There is no {what} with that id.", status=404) from None
