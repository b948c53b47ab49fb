"""``GET /openapi.json``: an OpenAPI 3 document built with apispec from the app's own
URL map and the marshmallow schemas its views validate with (see ``api.docs.doc``).

Walking the URL map means a route cannot exist without appearing in the document;
a view without ``@doc`` still appears, with a bare description. The resident web
pages are in it too, as HTML operations (tag ``resident web pages``); only static
files are left out.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify
from marshmallow import Schema

from gateway.schemas import ErrorSchema

bp = Blueprint("openapi", __name__)

DOCUMENTED_PREFIXES = ("/api/v1/",)
WEB_ENDPOINT_PREFIX = "web."
EXTRA_PATHS = ("/healthz", "/readyz", "/openapi.json")
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

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

_HEALTH: dict[str, dict[str, Any]] = {
    "/healthz": {
        "get": {
            "summary": "Liveness: the process answers",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "alive",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"status": {"type": "string"}},
                            }
                        }
                    },
                }
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: database, broker and services all answer",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "ready",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}
                    },
                },
                "503": {
                    "description": "not ready",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}
                    },
                },
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "OpenAPI 3 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


def _name_resolver() -> Any:
    """Component names for schemas: the class name without ``Schema``, plus the
    modifiers (``exclude``/``only``/``partial``) and, when two modules use the
    same class name (both have an ``OptionSchema``), the owning package."""
    taken: dict[str, type] = {}

    def resolve(schema: Any) -> str:
        instance = schema if isinstance(schema, Schema) else schema()
        cls = type(instance)
        base = cls.__name__.removesuffix("Schema") or cls.__name__
        if taken.setdefault(base, cls) is not cls:
            base = cls.__module__.split(".")[0].title() + base
            taken.setdefault(base, cls)
        if instance.exclude:
            base += "Without" + "".join(
                p.title().replace("_", "") for p in sorted(instance.exclude)
            )
        if instance.only:
            base += "Only" + "".join(p.title().replace("_", "") for p in sorted(instance.only))
        if instance.partial:
            base += "Partial"
        return base

    return resolve


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": REASONS.get(status, "Error"),
        "content": {"application/json": {"schema": ErrorSchema}},
    }


def _operation(view: Any, method: str, path_args: list[str], endpoint: str) -> dict[str, Any]:
    meta: dict[str, Any] = getattr(view, "__openapi__", {}) or {}
    roles: tuple[str, ...] | None = getattr(view, "__roles__", None)
    op: dict[str, Any] = {
        "operationId": f"{method}_{endpoint.replace('.', '_')}",
        "summary": meta.get("summary") or (view.__doc__ or view.__name__).strip().split("\n")[0],
        "tags": [meta.get("tag", "other")],
        "parameters": [
            {
                "in": "path",
                "name": arg,
                "required": True,
                "schema": (
                    {"type": "string", "format": "uuid"}
                    if arg == "consultation_id"
                    else {"type": "string"}
                ),
            }
            for arg in path_args
        ],
    }
    description = meta.get("description", "")
    if roles:
        description = (description + "\n\n" if description else "") + (
            "Roles: " + ", ".join(roles) + "."
        )
        op["security"] = [{"bearerAuth": []}]
    if description:
        op["description"] = description
    if meta.get("query") is not None:
        op["parameters"].append({"in": "query", "schema": meta["query"]})
    for header, text in meta.get("request_headers", {}).items():
        op["parameters"].append(
            {
                "in": "header",
                "name": header,
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
        )
    if meta.get("body") is not None:
        op["requestBody"] = {
            "required": True,
            "content": {meta.get("consumes", "application/json"): {"schema": meta["body"]}},
        }
    status = str(meta.get("status", 200))
    success: dict[str, Any] = {
        "description": "OK"
        if status == "200"
        else {"201": "Created", "202": "Accepted"}.get(status, "Success")
    }
    produces = meta.get("produces", "application/json")
    if meta.get("response") is not None:
        success["content"] = {produces: {"schema": meta["response"]}}
    elif produces != "application/json":
        success["content"] = {produces: {"schema": {"type": "string"}}}
    else:
        success["content"] = {produces: {"schema": {"type": "object"}}}
    if meta.get("headers"):
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in meta["headers"].items()
        }
    responses: dict[str, Any] = {status: success}
    errors = set(meta.get("errors", ()))
    if roles:
        errors |= {401, 403}
    if getattr(view, "__rate_limited__", None):
        errors |= {429}
    for code in sorted(errors | {500}):
        responses[str(code)] = (
            _error_response(code)
            if code != 500
            else {
                "description": "Unexpected error",
                "content": {"application/json": {"schema": ErrorSchema}},
            }
        )
        # Web pages answer errors with a page; /api routes (even an HTML report) with JSON.
        if produces == "text/html" and not endpoint.startswith("api."):
            responses[str(code)]["content"] = {"text/html": {"schema": {"type": "string"}}}
    for code in (429, 503):
        if code in errors:
            responses[str(code)]["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
    op["responses"] = responses
    return op


def build_spec(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="Engage gateway API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_name_resolver())],
        info={
            "description": "Consultations for residents; staff tools for engagement "
            "officers, analysts and boards. Errors are always "
            '`{"error": {"status", "message", "fields"}}`.'
        },
        servers=[{"url": app.extensions["engage"].settings.public_url}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema(
        "Readiness",
        {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not ready"]},
                "checks": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in EXTRA_PATHS or rule.endpoint.endswith("static"):
            continue
        if not (
            rule.rule.startswith(DOCUMENTED_PREFIXES)
            or rule.endpoint.startswith(WEB_ENDPOINT_PREFIX)
        ):
            continue
        path = _RULE_ARG.sub(r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                view, method.lower(), _ordered_args(rule.rule), rule.endpoint
            )
    for path in EXTRA_PATHS:
        paths[path] = _HEALTH[path]
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def _ordered_args(rule: str) -> list[str]:
    return _RULE_ARG.findall(rule)


@bp.get("/openapi.json")
def openapi_json() -> Any:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("engage.openapi")
    if cached is None:
        cached = app.extensions["engage.openapi"] = build_spec(app)
    return jsonify(cached)
