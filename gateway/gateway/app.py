"""Flask application factory."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from flask import Flask, jsonify, request
from kombu import Connection
from werkzeug.exceptions import HTTPException

from engage_common.db import Pool
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.messaging import DurablePublisher
from gateway.config import Settings
from gateway.context import Engage, engage
from gateway.errors import ApiError, ServiceUnavailable
from gateway.rpc import Services
from gateway.security import add_security_headers

log = logging.getLogger(__name__)

SERVICES = ("surveys", "feedback", "events")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.check()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.production
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["engage"] = Engage(
        settings=settings,
        services=Services(settings.amqp_uri, settings.rpc_timeout),
        publisher=DurablePublisher(settings.amqp_uri),
        db=Pool(settings.database_url, size=10),
    )

    from gateway.api import bp as api_bp
    from gateway.openapi import bp as openapi_bp
    from gateway.web import bp as web_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(openapi_bp)
    _register_health(app)
    _register_errors(app)
    app.after_request(add_security_headers)
    return app


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        ctx = engage()
        checks: dict[str, str] = {}
        try:
            with ctx.db.connection() as conn:
                conn.execute("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            with Connection(ctx.settings.amqp_uri, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
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
        return jsonify(
            status="ready" if ready else "not ready", checks=checks, instance=instance
        ), (200 if ready else 503)


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
        return respond(ApiError("Some answers need correcting.", fields=error.errors, status=422))

    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> Any:
        return respond(ApiError(error.message, status=404))

    @app.errorhandler(Conflict)
    def conflict(error: Conflict) -> Any:
        return respond(ApiError(error.message, status=409))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return respond(ApiError(error.description or error.name, status=error.code or 500))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(ApiError("Something went wrong on our side. Please try again.", status=500))


__all__ = ["create_app", "ServiceUnavailable"]
