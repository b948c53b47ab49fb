"""Flask application factory: settings, the outside world (``context``), flask-smorest's
API with every blueprint, health checks and the error handlers."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, jsonify, request
from kombu import Connection
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from engage_common.confirms import SharedConfirms
from engage_common.db import Pool
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.messaging import amqp_uris
from gateway import observability, store
from gateway.api.schemas import AliveSchema, ReadinessSchema
from gateway.config import Settings
from gateway.context import Engage, engage
from gateway.errors import ApiError, ServiceUnavailable
from gateway.http import Blueprint, EngageApi, add_field_types, schema_name
from gateway.rpc import Services
from gateway.security import add_security_headers

log = logging.getLogger(__name__)

SERVICES = ("surveys", "feedback", "events", "outcomes")
DESCRIPTION = (
    "Consultations for residents; staff tools for engagement officers, analysts and boards. "
    'Errors are always `{"error": {"status", "message", "fields"}}`.'
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.check()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        API_TITLE="Engage gateway API",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": DESCRIPTION},
            "servers": [{"url": settings.public_url}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    observability.init_app(app)  # first: every request gets its correlation id
    app.extensions["engage"] = Engage(
        settings=settings,
        services=Services(settings.amqp_uri, settings.rpc_timeout),
        # connects on first use, so in each gunicorn worker (not the master)
        publisher=SharedConfirms(settings.amqp_uri, name="engage-gateway"),
        db=Pool(settings.database_url, size=10),
    )

    api = EngageApi(
        app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)}
    )
    add_field_types(api)
    from gateway.api import (
        admin,
        dashboard,
        easy_read,
        events,
        feedback,
        outcomes,
        public,
        reach,
        reports,
        staff,
    )
    from gateway.web import bp as web
    from gateway.web.languages import init_languages

    init_languages(app)

    for blueprint in (
        public.blp,
        feedback.public,
        events.public,
        outcomes.public,
        staff.blp,
        easy_read.blp,
        feedback.staff,
        events.staff,
        outcomes.staff,
        admin.blp,
        reports.blp,
        reach.blp,
        dashboard.blp,
        web,
        health,
        observability.metrics,
    ):
        api.register_blueprint(blueprint)
    # Served by flask-smorest itself; said here so the document lists every route.
    api.spec.path(rule=Rule("/openapi.json"), operations=OPENAPI_JSON, parameters=[])
    _register_errors(app)
    app.after_request(add_security_headers)
    return app


OPENAPI_JSON = {
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
}

health = Blueprint("health", __name__, description="Liveness and readiness")


@health.route("/healthz", methods=["GET"])
@health.response(200, AliveSchema)
def healthz() -> Any:
    """Liveness: the process answers"""
    return {"status": "ok"}


@health.route("/readyz", methods=["GET"])
@health.response(200, ReadinessSchema, description="ready")
@health.alt_response(503, schema=ReadinessSchema, description="not ready")
def readyz() -> Any:
    """Readiness: database, broker and services all answer"""
    ctx = engage()
    checks: dict[str, str] = {}
    try:
        with ctx.db.connection() as conn:
            store.ping(conn)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        # Every node of a failover list once (kombu moves to the next at each retry),
        # without pausing between them: the broker is ready if any node answers.
        nodes = len(amqp_uris(ctx.settings.amqp_uri))
        with Connection(ctx.settings.amqp_uri, connect_timeout=2) as conn:
            conn.ensure_connection(
                max_retries=max(1, nodes - 1), interval_start=0, interval_step=0, interval_max=0
            )
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    for name in SERVICES:
        try:
            ctx.services.call(name, "health")
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"not answering: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    # Which process answered: each gunicorn worker has its own view of the services.
    instance = f"{socket.gethostname()}:{os.getpid()}"
    body = {"status": "ready" if ready else "not ready", "checks": checks, "instance": instance}
    return body, 200 if ready else 503


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path in ("/openapi.json",)


def _register_errors(app: Flask) -> None:
    def respond(error: ApiError) -> Any:
        if not _is_api():
            from gateway.web import render_error

            return render_error(error)
        response = jsonify(error.body())
        response.status_code = error.status
        for key, value in error.headers.items():
            response.headers[key] = value
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Any:
        return respond(error)

    @app.errorhandler(ValidationFailed)
    def validation_failed(error: ValidationFailed) -> Any:
        return respond(ApiError("Some fields need correcting.", fields=error.errors, status=422))

    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> Any:
        return respond(ApiError(error.message, status=404))

    @app.errorhandler(Conflict)
    def conflict(error: Conflict) -> Any:
        return respond(ApiError(error.message, fields=error.fields, status=409))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return respond(ApiError(error.description or error.name, status=error.code or 500))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(ApiError("Something went wrong on our side. Please try again.", status=500))


__all__ = ["create_app", "ServiceUnavailable"]
