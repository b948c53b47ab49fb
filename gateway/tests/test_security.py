"""Rate limits (counted in a real PostgreSQL, shared by replicas), security headers,
session cookie flags and production's refusal of default or short secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engage_common.testing import eventually
from gateway.app import create_app
from gateway.config import DEFAULT_SECRET, Settings

CID = "6f1c1a4e-0000-4000-8000-000000000000"
SUBMIT = f"/api/v1/consultations/{CID}/responses"


@pytest.fixture(scope="module")
def settings(make_database: Callable[[str], str], make_vhost: Callable[[], str]) -> Settings:
    # surveys is not running: past the limiter a request becomes a quick 503
    return Settings(
        amqp_uri=make_vhost(),
        database_url=make_database("gateway"),
        rpc_timeout=0.2,
        rate_limit_per_minute=3,
        rate_limit_reads_per_minute=5,
    )


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Flask]]:
    made: list[Flask] = []

    def make(**changes: object) -> Flask:
        app = create_app(replace(settings, **changes))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["engage"].db.close()


def _fresh_window() -> None:
    """Counts reset on the minute: start counting well inside one, so it cannot flake."""
    eventually(
        lambda: datetime.now(UTC).second < 50, 15, "a minute with ten seconds left", interval=0.2
    )


def _client(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_writes_are_limited_per_client_across_replicas(make_app: Callable[..., Flask]) -> None:
    _fresh_window()
    one, two = make_app(), make_app()  # two gateway replicas, one database
    a1, a2 = _client(one, "10.0.0.1"), _client(two, "10.0.0.1")
    statuses = [c.post(SUBMIT, json={}).status_code for c in (a1, a2, a1)]
    assert 429 not in statuses
    limited = a2.post(SUBMIT, json={})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.get_json()["error"]["status"] == 429
    assert set(limited.get_json()["error"]) == {"status", "message", "fields"}
    # another client still gets in; deleting a response counts as a write too
    assert _client(one, "10.0.0.2").post(SUBMIT, json={}).status_code != 429
    assert a1.delete("/api/v1/receipts/AAAA-BBBB-CCCC/response").status_code == 429
    # reads have their own, higher allowance
    assert a1.get("/api/v1/reference").status_code == 200


def test_reads_are_limited_and_web_pages_get_a_page(make_app: Callable[..., Flask]) -> None:
    _fresh_window()
    client = _client(make_app(), "10.0.1.1")
    assert [client.get("/api/v1/reference").status_code for _ in range(5)] == [200] * 5
    assert client.get("/api/v1/reference").status_code == 429
    page = client.get("/receipts/AAAA-BBBB-CCCC")
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert "Too many requests" in page.get_data(as_text=True) and page.headers["Retry-After"]


def test_forwarded_for_is_believed_only_behind_a_trusted_proxy(
    make_app: Callable[..., Flask],
) -> None:
    _fresh_window()
    untrusted = _client(make_app(), "10.0.2.1")
    for n in range(3):
        untrusted.post(SUBMIT, json={}, headers={"X-Forwarded-For": f"192.0.2.{n}"})
    assert (
        untrusted.post(SUBMIT, json={}, headers={"X-Forwarded-For": "192.0.2.99"}).status_code
        == 429
    )

    proxy = _client(make_app(trust_proxy=True), "10.0.2.2")
    for _ in range(3):
        proxy.post(SUBMIT, json={}, headers={"X-Forwarded-For": "198.51.100.1, 10.0.2.2"})
    assert (
        proxy.post(
            SUBMIT, json={}, headers={"X-Forwarded-For": "198.51.100.1, 10.0.2.2"}
        ).status_code
        == 429
    )
    assert (
        proxy.post(SUBMIT, json={}, headers={"X-Forwarded-For": "198.51.100.2"}).status_code != 429
    )


def test_zero_turns_the_limit_off(make_app: Callable[..., Flask]) -> None:
    client = _client(make_app(rate_limit_reads_per_minute=0), "10.0.3.1")
    assert {client.get("/api/v1/reference").status_code for _ in range(8)} == {200}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reference",
        "/openapi.json",
        "/healthz",
        "/api/v1/nothing-here",
        "/static/web/engage.css",
        "/api/v1/staff/me",
    ],
)
def test_security_headers_on_every_response(make_app: Callable[..., Flask], path: str) -> None:
    response = _client(make_app(rate_limit_reads_per_minute=0), "10.0.4.1").get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"]
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_only_over_https(make_app: Callable[..., Flask]) -> None:
    plain = make_app(rate_limit_reads_per_minute=0)
    assert (
        "max-age="
        in plain.test_client()
        .get("/healthz", base_url="https://engage.example")
        .headers["Strict-Transport-Security"]
    )
    # X-Forwarded-Proto counts only behind a trusted proxy
    assert (
        "Strict-Transport-Security"
        not in plain.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers
    )
    proxied = make_app(trust_proxy=True)
    assert (
        "Strict-Transport-Security"
        in proxied.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers
    )


def test_session_cookie_flags(make_app: Callable[..., Flask]) -> None:
    dev = make_app()
    assert dev.config["SESSION_COOKIE_HTTPONLY"] is True
    assert dev.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert dev.config["SESSION_COOKIE_SECURE"] is False
    prod = make_app(environment="production", secret_key="x" * 40)
    assert prod.config["SESSION_COOKIE_SECURE"] is True


def test_production_refuses_default_or_short_secrets(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        make_app(environment="production", secret_key=DEFAULT_SECRET)
    with pytest.raises(RuntimeError, match="at least 32"):
        make_app(environment="production", secret_key="s" * 31)
    with pytest.raises(RuntimeError):
        create_app(Settings.from_env({"ENGAGE_ENV": "production"}))
    make_app(environment="production", secret_key="s" * 32)  # long enough: starts
    make_app(secret_key="short")  # development does not care
