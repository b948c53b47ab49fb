"""Staff authentication and roles against a real gateway database: every role is
refused what it must not do, tokens are stored only hashed, revoking works, and the
``gateway.cli`` commands do the same from a shell."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from engage_common.db import Pool
from gateway import cli
from gateway.application.staff import ROLES
from gateway.config import Settings
from gateway.store import audit as audit_store

CID = str(uuid.uuid4())
C = f"/api/v1/staff/consultations/{CID}"
# (method, path, body): every staff route that changes something or is admin-only.
CREATE = ("POST", "/api/v1/staff/consultations", {"title": "t", "summary": "s"})
EDIT = ("PATCH", C, {"title": "t"})
OPEN = ("POST", f"{C}/open", None)
CLOSE = ("POST", f"{C}/close", None)
OUTCOME = (
    "PUT",
    f"{C}/outcome",
    {
        "summary": "s",
        "decisions": [
            {"you_said": "more buses", "we_did": "asked the council", "status": "planned"}
        ],
    },
)
EXPORT = ("GET", f"{C}/responses.csv", None)
LIST_TOKENS = ("GET", "/api/v1/staff/tokens", None)
ISSUE = ("POST", "/api/v1/staff/tokens", {"email": "admin@example.nhs.uk"})
REVOKE = ("DELETE", "/api/v1/staff/tokens/eng_00000000", None)
LIST_USERS = ("GET", "/api/v1/staff/users", None)
CHANGE_USER = ("PATCH", "/api/v1/staff/users/999999", {"role": "analyst"})
ADD_USER = (
    "POST",
    "/api/v1/staff/users",
    {"email": "x@example.nhs.uk", "name": "X", "role": "admin"},
)
ADMIN_ONLY = [LIST_TOKENS, ISSUE, REVOKE, LIST_USERS, ADD_USER, CHANGE_USER]
CHANGES = [CREATE, EDIT, OPEN, CLOSE, OUTCOME]

REFUSED = {
    "engagement-officer": ADMIN_ONLY,
    "analyst": CHANGES + ADMIN_ONLY,
    "board-viewer": CHANGES + [EXPORT] + ADMIN_ONLY,
}


@pytest.fixture(scope="module")
def settings_overrides() -> dict[str, Any]:
    return {"rpc_timeout": 0.5}


@pytest.fixture(scope="module")
def tokens(role_tokens: dict[str, str]) -> dict[str, str]:
    return role_tokens


def call(client: FlaskClient, route: tuple, token: str | None = None) -> object:
    method, path, body = route
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize("role", sorted(REFUSED))
def test_each_role_is_refused_what_it_must_not_do(
    client: FlaskClient, tokens: dict[str, str], role: str
) -> None:
    for route in REFUSED[role]:
        response = call(client, route, tokens[role])
        assert response.status_code == 403, (role, route)
        assert role in response.get_json()["error"]["message"]


def test_without_or_with_a_bad_token_it_is_401(client: FlaskClient, tokens: dict[str, str]) -> None:
    good = tokens["admin"]
    for headers in (
        {},
        {"Authorization": f"Basic {good}"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer eng_deadbeef_nottherealtoken"},
        {"Authorization": f"Bearer {good}x"},
        {"Authorization": good},
    ):
        for route in (LIST_TOKENS, EXPORT, CREATE, ("GET", "/api/v1/staff/me", None)):
            method, path, body = route
            response = client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 401, (headers, route)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.get_json()["error"]["status"] == 401


def test_allowed_roles_get_past_the_check(client: FlaskClient, tokens: dict[str, str]) -> None:
    """Past the role check the request reaches surveys, which is not running here: 503."""
    allowed = {
        "admin": CHANGES + [EXPORT],
        "engagement-officer": CHANGES + [EXPORT],
        "analyst": [EXPORT, ("GET", f"{C}/results", None)],
        "board-viewer": [
            ("GET", f"{C}/results", None),
            ("GET", C, None),
            ("GET", "/api/v1/staff/consultations", None),
        ],
    }
    for role, routes in allowed.items():
        for route in routes:
            assert call(client, route, tokens[role]).status_code == 503, (role, route)
        me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert me.status_code == 200 and me.get_json()["role"] == role


def test_tokens_are_stored_only_as_sha256_hashes(db: Pool, tokens: dict[str, str]) -> None:
    with db.connection() as conn:
        rows = conn.execute("SELECT * FROM api_tokens").fetchall()
    stored = {r["token_hash"] for r in rows}
    for token in tokens.values():
        assert hashlib.sha256(token.encode()).hexdigest() in stored
        assert not any(token in str(value) for row in rows for value in row.values())
        assert token.startswith(
            next(
                r["prefix"]
                for r in rows
                if r["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
            )
            + "_"
        )


def test_admin_issues_lists_and_revokes_tokens(
    client: FlaskClient, db: Pool, tokens: dict[str, str]
) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    added = client.post(
        "/api/v1/staff/users",
        headers=admin,
        json={"email": "Analyst2@Example.nhs.uk", "name": "Second Analyst", "role": "analyst"},
    )
    assert added.status_code == 201 and added.get_json()["email"] == "analyst2@example.nhs.uk"
    again = client.post(
        "/api/v1/staff/users",
        headers=admin,
        json={"email": "analyst2@example.nhs.uk", "name": "Again", "role": "analyst"},
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/v1/staff/users",
        headers=admin,
        json={"email": "not-an-email", "name": "", "role": "owner", "extra": 1},
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"email", "name", "role", "extra"}

    issued = client.post(
        "/api/v1/staff/tokens",
        headers=admin,
        json={"email": "analyst2@example.nhs.uk", "label": "laptop"},
    )
    assert issued.status_code == 201
    token, prefix = issued.get_json()["token"], issued.get_json()["prefix"]
    assert token.startswith(prefix + "_")
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/staff/me", headers=mine).get_json()["email"] == (
        "analyst2@example.nhs.uk"
    )
    assert (
        client.post(
            "/api/v1/staff/tokens", headers=admin, json={"email": "nobody@example.nhs.uk"}
        ).status_code
        == 404
    )

    listed = client.get("/api/v1/staff/tokens", headers=admin).get_json()["tokens"]
    entry = next(t for t in listed if t["prefix"] == prefix)
    assert entry["label"] == "laptop" and entry["revoked_at"] is None
    assert entry["last_used_at"] is not None
    assert all("token" not in t and "token_hash" not in t for t in listed)

    revoked = client.delete(f"/api/v1/staff/tokens/{prefix}", headers=admin)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.get("/api/v1/staff/me", headers=mine).status_code == 401
    assert client.delete("/api/v1/staff/tokens/eng_nothere", headers=admin).status_code == 404
    with db.connection() as conn:
        actions = {e["action"] for e in audit_store.audit_entries(conn)}
    assert {"staff.create", "token.issue", "token.revoke"} <= actions


def test_cli_commands(settings: Settings, client: FlaskClient) -> None:
    runner = CliRunner()

    def run(*argv: str) -> tuple[int, str, str]:
        result = runner.invoke(cli.cli, list(argv), obj={"settings": settings})
        return result.exit_code, result.stdout, result.stderr

    assert run("migrate")[0] == 0  # already migrated: applies nothing, still fine
    code, out, _ = run(
        "create-staff",
        "--email",
        "board2@example.nhs.uk",
        "--name",
        "Board",
        "--role",
        "board-viewer",
    )
    assert code == 0 and "board-viewer board2@example.nhs.uk" in out
    code, _, err = run(
        "create-staff", "--email", "board2@example.nhs.uk", "--name", "B", "--role", "board-viewer"
    )
    assert code == 1 and "already exists" in err
    code, out, err = run("issue-token", "--email", "board2@example.nhs.uk", "--label", "cli")
    token = out.strip()
    assert code == 0 and token.startswith("eng_") and "shown once" in err
    assert "works until" in err
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/staff/me", headers=headers).get_json()["role"] == "board-viewer"
    prefix = "_".join(token.split("_")[:2])
    code, out, _ = run("list-tokens")
    assert code == 0 and f"{prefix}\tactive\tboard2@example.nhs.uk" in out and token not in out
    assert run("revoke-token", "--prefix", prefix)[0] == 0
    assert f"{prefix}\trevoked" in run("list-tokens")[1]
    assert client.get("/api/v1/staff/me", headers=headers).status_code == 401
    assert run("revoke-token", "--prefix", "eng_missing")[0] == 1
    assert run("issue-token", "--email", "ghost@example.nhs.uk")[0] == 1
    for command in ("migrate", "create-staff", "issue-token", "revoke-token", "list-tokens"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "Usage:" in out, command


# -- every staff route x every role -----------------------------------------------------------

ALL = set(ROLES)
ADMIN_ONLY_ROLES = {"admin"}
OFFICERS = {"admin", "engagement-officer"}
READERS = {"admin", "engagement-officer", "analyst", "board-viewer", "triage-officer"}
BOARD = {"admin", "engagement-officer", "analyst", "board-viewer"}
FEEDBACK_READERS = {"admin", "engagement-officer", "analyst", "triage-officer", "safeguarding-lead"}
FEEDBACK_TRIAGERS = {"admin", "engagement-officer", "triage-officer", "safeguarding-lead"}
FEEDBACK_ENTERERS = {"admin", "engagement-officer", "triage-officer"}
# Who may call each staff route. Written out by hand (not read from the decorators) so a
# loosened decorator fails here; a staff route missing from this table fails too.
ROUTE_ROLES: dict[str, set[str]] = {
    "staff.list_consultations": READERS,
    "staff.get_consultation": READERS,
    "staff.results": BOARD,
    "staff.me": ALL,
    "staff.create_consultation": OFFICERS,
    "staff.update_consultation": OFFICERS,
    "staff_easy_read.upload_image": OFFICERS,
    "staff_easy_read.set_easy_read": OFFICERS,
    "staff_easy_read.remove_easy_read": OFFICERS,
    "staff.open_consultation": OFFICERS,
    "staff.close_consultation": OFFICERS,
    "staff.publish_outcome": OFFICERS,
    "staff.erasure_request": OFFICERS,
    "staff.export_responses": OFFICERS | {"analyst"},
    "staff.enter_response": OFFICERS,
    "reach.consultation_reach": BOARD,
    "reach.place_reach": BOARD,
    "reports.report_csv": BOARD,
    "reports.report_html": BOARD,
    "reports.board_paper_html": BOARD,
    "reports.board_paper_pdf": BOARD,
    "reports.board_paper_csv": BOARD,
    "reports.board_paper_json": BOARD,
    "reports.board_paper_xlsx": BOARD,
    "reports.evidence_pack_pdf": BOARD,
    "reports.evidence_pack_csv": BOARD,
    "reports.evidence_pack_json": BOARD,
    "dashboard.dashboard": BOARD,
    "dashboard.dashboard_page": BOARD,
    "staff_feedback.enter_feedback": FEEDBACK_ENTERERS,
    "staff_feedback.search": FEEDBACK_READERS,
    "staff_feedback.triage_queue": FEEDBACK_READERS,
    "staff_feedback.safeguarding_queue": {"admin", "triage-officer", "safeguarding-lead"},
    "staff_feedback.get_item": FEEDBACK_READERS,
    # What residents wrote before redaction: the triage roles only, not even admins.
    "staff_feedback.get_original": {"triage-officer", "safeguarding-lead"},
    "staff_feedback.triage": FEEDBACK_TRIAGERS,
    "staff_feedback.reply": FEEDBACK_TRIAGERS,
    "staff_feedback.approve_quote": FEEDBACK_TRIAGERS,
    "staff_feedback.bulk": FEEDBACK_TRIAGERS,
    "staff_feedback.list_themes": FEEDBACK_READERS,
    "staff_feedback.create_theme": FEEDBACK_ENTERERS,
    "staff_feedback.update_theme": FEEDBACK_ENTERERS,
    "staff_feedback.counts": ALL,
    "staff.free_text_answers": {"admin", "engagement-officer", "analyst", "triage-officer"},
    "staff.confirm_answer_themes": FEEDBACK_ENTERERS,
    "staff_events.staff_list_events": READERS,
    "staff_events.create_event": OFFICERS,
    "staff_events.update_event": OFFICERS,
    "staff_events.publish_event": OFFICERS,
    "staff_events.cancel_event": OFFICERS,
    "staff_events.list_registrations": OFFICERS,
    "staff_events.list_adjustments": OFFICERS,
    "staff_events.set_adjustment": OFFICERS,
    "staff_events.record_attendance": OFFICERS,
    "staff_events.list_points": READERS,
    "staff_events.add_point": OFFICERS,
    "staff_events.approve_point_quote": OFFICERS,
    "staff_events.event_reach": BOARD,
    "staff_events.reach": BOARD,
    "staff_outcomes.staff_list_outcomes": READERS,
    "staff_outcomes.create_outcome": OFFICERS,
    "staff_outcomes.staff_get_outcome": READERS,
    "staff_outcomes.update_outcome": OFFICERS,
    "staff_outcomes.add_progress": OFFICERS,
    "staff_outcomes.publish_outcome": OFFICERS,
    "staff_outcomes.import_outcomes": OFFICERS,
    "admin.list_users": ADMIN_ONLY_ROLES,
    "admin.create_user": ADMIN_ONLY_ROLES,
    "admin.update_user": ADMIN_ONLY_ROLES,
    "admin.list_tokens": ADMIN_ONLY_ROLES,
    "admin.issue_token": ADMIN_ONLY_ROLES,
    "admin.revoke_token": ADMIN_ONLY_ROLES,
    "admin.audit_log": ADMIN_ONLY_ROLES,
    "admin.dead_letters": ADMIN_ONLY_ROLES,
}
BODIES: dict[str, object] = {
    "staff.create_consultation": {"title": "t", "summary": "s"},
    "staff.update_consultation": {"title": "t"},
    "staff_easy_read.upload_image": {"data": "iVBORw0KGgo=", "alt": "A bus"},
    "staff_easy_read.set_easy_read": {"points": [{"text": "We want to hear from you."}]},
    "staff.publish_outcome": OUTCOME[2],
    "staff.erasure_request": {"text": "someone@example.org"},
    "admin.create_user": {"email": "table@example.nhs.uk", "name": "T", "role": "analyst"},
    "admin.issue_token": {"email": "analyst@example.nhs.uk"},
    "admin.update_user": {"role": "analyst"},
    "staff_feedback.enter_feedback": {
        "kind": "concern",
        "about": "the GP",
        "text": "a phone call",
        "channel": "phone",
        "consent": {"given": True, "version": "feedback-2026-11"},
    },
    "staff_feedback.triage": {"version": 1, "status": "triaged"},
    "staff_feedback.reply": {"version": 1, "text": "Thank you"},
    "staff_feedback.approve_quote": {"version": 1},
    "staff_feedback.bulk": {"feedback_ids": [CID], "status": "closed"},
    "staff_feedback.create_theme": {"label": "Pharmacy"},
    "staff_feedback.update_theme": {"label": "GP access"},
    "staff.confirm_answer_themes": {"themes": ["gp-access"], "tone": None},
    "staff_events.create_event": {
        "kind": "drop-in",
        "title": {"en": "Drop-in"},
        "starts_local": "2026-12-01T10:00",
        "ends_local": "2026-12-01T12:00",
        "venue": {"name": "Library"},
    },
    "staff_events.update_event": {"capacity": 20},
    "staff_events.cancel_event": {"reason": "Venue flooded"},
    "staff_events.set_adjustment": {"state": "arranged"},
    "staff_events.record_attendance": {"walk_ins": [{"places": 1}]},
    "staff_events.add_point": {"text": "More evening sessions"},
    "staff_outcomes.create_outcome": {"kind": "decision", "title": {"en": "More buses"}},
    "staff_outcomes.update_outcome": {"owner": "Transport lead"},
    "staff_outcomes.add_progress": {"progress": 50},
}
PATH_ARGS = {
    "consultation_id": CID,
    "prefix": "eng_00000000",
    "user_id": "999999",
    "feedback_id": CID,
    "slug": "gp-access",
    "question_id": "tell",
    "response_id": "999999",
    "event_id": CID,
    "adjustment_id": CID,
    "point_id": CID,
    "outcome_id": CID,
}


def staff_routes(app: Flask) -> list[tuple[str, str, str]]:
    """``(endpoint, method, path)`` of every route under /api/v1/staff."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/staff"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{arg}>", PATH_ARGS[arg], path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


def test_every_staff_route_checks_a_role_and_is_in_the_table(app: Flask) -> None:
    routes = staff_routes(app)
    assert {endpoint for endpoint, _, _ in routes} == set(ROUTE_ROLES)
    for endpoint, _, _ in routes:
        roles = getattr(app.view_functions[endpoint], "__roles__", None)
        assert roles is not None, f"{endpoint} has no require_role"
        assert set(roles) == ROUTE_ROLES[endpoint], endpoint


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_route_for_every_role(
    app: Flask, client: FlaskClient, tokens: dict[str, str], role: str
) -> None:
    """Refused: 403 naming the role. Allowed: past the check (the service is not running,
    so usually 503; never 401 or 403)."""
    checked = 0
    for endpoint, method, path in staff_routes(app):
        response = client.open(
            path,
            method=method,
            json=BODIES.get(endpoint),
            headers={"Authorization": f"Bearer {tokens[role]}"},
        )
        if role in ROUTE_ROLES[endpoint]:
            assert response.status_code not in (401, 403), (role, endpoint, response.json)
        else:
            assert response.status_code == 403, (role, endpoint, response.status_code)
            assert role in response.get_json()["error"]["message"]
        checked += 1
    assert checked >= len(ROUTE_ROLES)


def test_the_readme_role_table_matches_the_routes(app: Flask) -> None:
    """The README's table is what operators read: every staff route, with exactly the
    roles the code allows, and nothing that is not a route."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    header = (
        "| route | what | admin | engagement-officer | analyst | board-viewer | triage-officer"
        " | safeguarding-lead |"
    )
    roles = header.strip("|").split("|")[2:]
    table: dict[tuple[str, str], set[str]] = {}
    for line in readme[readme.index(header) :].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        method, path = cells[0].strip("`").split(" ", 1)
        table[(method, re.sub(r"<[^>]+>", "<>", path))] = {
            r.strip() for r, cell in zip(roles, cells[2:], strict=True) if cell == "yes"
        }
    in_code = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/staff"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                in_code[(method, re.sub(r"<[^>]+>", "<>", rule.rule))] = ROUTE_ROLES[rule.endpoint]
    assert table == in_code
