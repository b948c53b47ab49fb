"""Request parsing shared by the API routes: JSON bodies and ids that never cause a 500."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from flask import request
from marshmallow import Schema

from engage_common.storable import unstorable
from gateway.errors import ApiError
from gateway.schemas import load


def json_body(schema: Schema, raw: bool = False) -> Any:
    """The request body parsed as JSON and validated by ``schema``: the loaded data, or
    with ``raw`` the JSON as sent (to pass on over RPC, where only JSON types travel).

    415 when it is not sent as JSON, 400 when it does not parse, 422 when it does
    not match the schema (wrong types, unknown or missing fields).
    """
    if not request.is_json:
        raise ApiError("Send the body as JSON with 'Content-Type: application/json'.", status=415)
    body = request.get_data(cache=True)
    try:
        data = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(
            f"The body is not valid JSON: {exc}", status=400, fields={"body": ["is not valid JSON"]}
        ) from exc
    refuse_unstorable(data, "body")
    loaded = load(schema, data)
    return data if raw else loaded


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def query_args(schema: Schema) -> dict[str, Any]:
    """Query parameters validated by ``schema``; only those given (plus defaults)."""
    args = request.args.to_dict()
    refuse_unstorable(args, "query")
    return load(schema, args, what="query")


def refuse_unstorable(data: Any, what: str) -> None:
    """What PostgreSQL cannot store (NUL, lone surrogates) is a 422 before anything is
    accepted, never a receipt for something then lost, nor a 500."""
    bad = unstorable(data)
    if bad:
        raise ApiError(
            "Some fields need correcting."
            if what == "body"
            else "Some query parameters are not valid.",
            status=422,
            fields=bad,
        )


def check_id(value: str, what: str = "consultation") -> str:
    """Ids (UUIDs) from the URL, normalised: anything else is simply not found."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(f"There is no {what} with that id.", status=404) from None
