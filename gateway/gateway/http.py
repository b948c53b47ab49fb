"""HTTP plumbing every route shares, on flask-smorest: one ``@blp.arguments`` and one
``@blp.response`` per route drive validation, serialisation and ``/openapi.json``.

What Engage adds to flask-smorest and webargs:

- ``EngageParser``: a body must be sent as JSON (415), must parse (400; ``NaN`` and
  numbers too large for JSON refused), and must be storable (NUL, lone surrogates: 422,
  ``engage_common.storable``); validation errors are a 422 naming each field, with errors
  about the body as a whole under ``body``.
- Errors keep Engage's body, ``{"error": {"status", "message", "fields"}}`` (the app's
  error handlers in ``app.py``; flask-smorest's own handler is not registered).
- ``errors(...)`` documents the error statuses a route can answer, with that body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema
from webargs.flaskparser import FlaskParser

from engage_common.storable import unstorable
from engage_contracts.base import flatten_errors
from engage_contracts.shared import LocalisedText
from gateway.api.schemas import ErrorSchema
from gateway.errors import ApiError

REASONS = {
    400: "The request is malformed (for example, the body is not valid JSON).",
    401: "No valid bearer token.",
    403: "Your role may not do this.",
    404: "Not found.",
    409: "Not allowed in the current state (for example, the consultation is closed).",
    413: "The body is too large.",
    415: "The body is not JSON.",
    422: "Validation failed; `fields` names each field and why.",
    429: "Too many requests from this client; retry after `Retry-After` seconds.",
    503: "A service is not answering; retry after `Retry-After` seconds.",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
# What a message about a whole location calls it, and how a failed location is described.
WHOLE = {"json": "body", "query": "query", "headers": "headers", "form": "form"}
FAILED = {
    "json": "Some fields need correcting.",
    "query": "Some query parameters are not valid.",
    "headers": "Some headers are not valid.",
    "form": "Some fields need correcting.",
}


class EngageParser(FlaskParser):
    """webargs' Flask parser with Engage's rules for bodies and its error body."""

    # Unknown query parameters are refused like unknown body fields (each schema says so);
    # webargs would drop them silently. Headers: only the ones a schema names are read.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_json(self, req: Any, schema: Schema) -> Any:
        if not req.is_json:
            raise ApiError(
                "Send the body as JSON with 'Content-Type: application/json'.", status=415
            )
        try:
            data = json.loads(
                req.get_data(cache=True), parse_constant=_no_constants, parse_float=_finite
            )
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApiError(
                f"The body is not valid JSON: {exc}",
                status=400,
                fields={"body": ["is not valid JSON"]},
            ) from exc
        _refuse_unstorable(data, "json")
        return data

    def load_querystring(self, req: Any, schema: Schema) -> Any:
        _refuse_unstorable(req.args.to_dict(), "query")
        return super().load_querystring(req, schema)

    def handle_error(
        self,
        error: Any,
        req: Any,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> Any:
        ((location, messages),) = error.messages.items()
        fields = {
            (WHOLE.get(location, location) if path == "_schema" else path): reasons
            for path, reasons in flatten_errors(messages).items()
        }
        raise ApiError(FAILED.get(location, "Some fields need correcting."), fields, status=422)


def _refuse_unstorable(data: Any, location: str) -> None:
    bad = unstorable(data)
    if bad:
        raise ApiError(
            FAILED[location],
            status=422,
            fields={(WHOLE[location] if k == "_schema" else k): v for k, v in bad.items()},
        )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = EngageParser()


class EngageApi(Api):
    """flask-smorest's Api with Engage's error schema in the document; its error handler
    is not registered (``app.py`` registers Engage's)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def error_doc(status: int, html: bool = False) -> dict[str, Any]:
    """An error response as the document shows it: Engage's error body, or a page."""
    media = (
        {"text/html": {"schema": {"type": "string"}}}
        if html
        else {"application/json": {"schema": ErrorSchema}}
    )
    doc: dict[str, Any] = {"description": REASONS.get(status, "Error"), "content": media}
    if status in (429, 503):
        doc["headers"] = RETRY_AFTER
    return doc


def errors(*statuses: int, html: bool = False) -> Callable[[Any], Any]:
    """Document the error statuses a route answers (``html`` for resident pages)."""
    return SmorestBlueprint.doc(responses={str(s): error_doc(s, html) for s in statuses})


def schema_name(schema: Any) -> str:
    """Component names: the class name without ``Schema``, plus its modifiers
    (``exclude``/``only``/``partial``), and the owning module when two modules use the
    same class name."""
    instance = schema if isinstance(schema, Schema) else schema()
    cls = type(instance)
    base = cls.__name__.removesuffix("Schema") or cls.__name__
    owner = _NAMES.setdefault(base, cls)
    if owner is not cls:
        base = cls.__module__.rsplit(".", 1)[-1].title() + base
        _NAMES.setdefault(base, cls)
    if instance.exclude:
        base += "Without" + "".join(p.title().replace("_", "") for p in sorted(instance.exclude))
    if instance.only:
        base += "Only" + "".join(p.title().replace("_", "") for p in sorted(instance.only))
    if instance.partial:
        base += "Partial"
    return base


_NAMES: dict[str, type] = {}


def _localised_text(self: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    if isinstance(field, LocalisedText):
        return {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": {"type": "string"}},
            ]
        }
    return {}


def marshmallow_plugin() -> MarshmallowPlugin:
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    return plugin


def add_field_types(api: Api) -> None:
    """How Engage's own marshmallow fields look in the document."""
    api.ma_plugin.converter.add_attribute_function(_localised_text)


def file_response(content_type: str, description: str) -> Callable[[Any], Any]:
    """Document a route that answers with a file (CSV, a printable page) it builds itself,
    streamed: no schema serialises it."""
    return SmorestBlueprint.doc(
        responses={
            "200": {
                "description": description,
                "content": {content_type: {"schema": {"type": "string"}}},
            }
        }
    )
