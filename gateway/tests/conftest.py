"""Fixtures the gateway's test modules share: a gateway app on its own database and
vhost, a staff token per role, and the real surveys service on the same vhost.

A module customises them by overriding ``settings_overrides`` or ``surveys_config``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engage_common.db import Pool
from gateway.app import create_app
from gateway.application.staff import ROLES, issue_token
from gateway.config import Settings
from gateway.store import staff as store


@pytest.fixture(scope="module")
def amqp(make_vhost: Callable[[], str]) -> str:
    return make_vhost()


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def settings(
    make_database: Callable[[str], str], amqp: str, settings_overrides: dict[str, Any]
) -> Settings:
    return Settings(
        **{
            "amqp_uri": amqp,
            "database_url": make_database("gateway"),
            "rpc_timeout": 5,
            **settings_overrides,
        }
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    flask_app = create_app(settings)
    yield flask_app
    flask_app.extensions["engage"].close()


@pytest.fixture(scope="module")
def db(settings: Settings) -> Iterator[Pool]:
    pool = Pool(settings.database_url, size=2)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def role_tokens(db: Pool) -> dict[str, str]:
    """``{role: bearer token}``, one staff user per role."""
    tokens = {}
    with db.connection() as conn:
        for role in ROLES:
            user = store.create_staff(conn, f"{role}@example.nhs.uk", role.title(), role)
            tokens[role], _ = issue_token(conn, user["id"], "tests")
    return tokens


@pytest.fixture(scope="module")
def as_role(role_tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """``{role: request headers carrying that role's bearer token}``."""
    return {role: {"Authorization": f"Bearer {token}"} for role, token in role_tokens.items()}


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def surveys_db(make_database: Callable[[str], str]) -> str:
    return make_database("surveys")


@pytest.fixture(scope="module")
def surveys_config() -> dict[str, Any]:
    return {}


@pytest.fixture
def surveys(
    container_factory: Any, amqp: str, surveys_db: str, surveys_config: dict[str, Any]
) -> Any:
    """The real surveys service, on the gateway's vhost."""
    from surveys.service import SurveysService

    container = container_factory(
        SurveysService, {"AMQP_URI": amqp, "DATABASE_URL": surveys_db, **surveys_config}
    )
    container.start()
    return container


@pytest.fixture(scope="module")
def feedback_db(make_database: Callable[[str], str]) -> str:
    return make_database("feedback")


@pytest.fixture
def feedback(container_factory: Any, amqp: str, feedback_db: str) -> Any:
    """The real feedback service, on the gateway's vhost (mail only logged)."""
    from feedback.service import FeedbackService

    container = container_factory(FeedbackService, {"AMQP_URI": amqp, "DATABASE_URL": feedback_db})
    container.start()
    return container


@pytest.fixture(scope="module")
def events_db(make_database: Callable[[str], str]) -> str:
    return make_database("events")


@pytest.fixture
def events_service(container_factory: Any, amqp: str, events_db: str) -> Any:
    """The real events service, on the gateway's vhost (mail only logged)."""
    from events.service import EventsService

    container = container_factory(EventsService, {"AMQP_URI": amqp, "DATABASE_URL": events_db})
    container.start()
    return container


@pytest.fixture(scope="module")
def outcomes_db(make_database: Callable[[str], str]) -> str:
    return make_database("outcomes")


@pytest.fixture
def outcomes_service(container_factory: Any, amqp: str, outcomes_db: str) -> Any:
    """The real outcomes service, on the gateway's vhost (mail only logged)."""
    from outcomes.service import OutcomesService

    container = container_factory(OutcomesService, {"AMQP_URI": amqp, "DATABASE_URL": outcomes_db})
    container.start()
    return container
