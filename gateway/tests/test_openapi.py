"""``/openapi.json`` describes every API and health route the app really has, with the
right methods, bearer security on staff routes and the error schema, and is valid OpenAPI."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate

from engage_contracts.reference import EQUALITY_FIELDS
from gateway.app import create_app
from gateway.config import Settings


@pytest.fixture(scope="module")
def app() -> Flask:
    # The document needs neither the database nor the broker.
    return create_app(Settings(database_url="postgresql://postgres@127.0.0.1:5432/unused"))


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def documented_rules(app: Flask) -> list[tuple[str, set[str], str]]:
    """Every route the app has, but static files: the API, health and the web pages."""
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.endswith("static"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            rules.append(
                (path, {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}, rule.endpoint)
            )
    return rules


def test_every_route_appears_with_its_methods(app: Flask, document: dict[str, Any]) -> None:
    rules = documented_rules(app)
    assert len(rules) >= 20  # the API really is registered
    for path, methods, endpoint in rules:
        assert path in document["paths"], endpoint
        assert methods <= set(document["paths"][path]), (path, methods)
    # (a path item's "parameters" are its path parameters, shared by its methods)
    documented = {(p, m) for p, ops in document["paths"].items() for m in ops if m != "parameters"}
    real = {(p, m) for p, methods, _ in rules for m in methods} | {("/openapi.json", "get")}
    assert documented == real  # and nothing that does not exist


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")


def test_staff_routes_need_a_bearer_token_and_public_ones_do_not(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if method == "parameters":
                continue
            staff = path.startswith("/api/v1/staff/")
            assert ("security" in op) == staff, (path, method)
            if staff:
                assert {"401", "403"} <= set(op["responses"]), (path, method)


def test_errors_use_the_error_schema(document: dict[str, Any]) -> None:
    error_ref = "#/components/schemas/Error"
    seen = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in operations.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if status == "default" or int(status) >= 400:
                    # flask-smorest refers shared error answers to components.responses
                    if "$ref" in response:
                        name = response["$ref"].rsplit("/", 1)[1]
                        response = document["components"]["responses"][name]
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": error_ref
                    }, (path, status)
                    seen += 1
    assert seen > 40
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"status", "message", "fields"}


def test_bodies_and_filters_come_from_the_validating_schemas(document: dict[str, Any]) -> None:
    paths = document["paths"]
    schemas = document["components"]["schemas"]

    def body(path: str, method: str) -> str:
        return paths[path][method]["requestBody"]["content"]["application/json"]["schema"][
            "$ref"
        ].rsplit("/", 1)[1]

    create = body("/api/v1/staff/consultations", "post")
    assert set(schemas[create]["required"]) == {"title", "summary"}
    assert schemas[create]["additionalProperties"] is False  # unknown fields are refused
    assert body("/api/v1/staff/consultations/{consultation_id}/outcome", "put") == "Outcome"
    assert body("/api/v1/consultations/{consultation_id}/responses", "post") == "ResponseInput"
    submit = paths["/api/v1/consultations/{consultation_id}/responses"]["post"]
    assert "202" in submit["responses"] and "409" in submit["responses"]
    assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in submit["parameters"])
    results = paths["/api/v1/staff/consultations/{consultation_id}/results"]["get"]
    query = {p["name"] for p in results["parameters"] if p["in"] == "query"}
    assert query == {"place", *EQUALITY_FIELDS}
    export = paths["/api/v1/staff/consultations/{consultation_id}/responses.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert "Retry-After" in export["responses"]["503"]["headers"]
    public = paths["/api/v1/consultations/{consultation_id}"]["get"]["responses"]["200"]
    name = public["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "response_count" not in schemas[name]["properties"]
