"""Staff tokens expire, and the last working admin cannot be revoked or demoted through
the API (issue 7: tokens never expired, and an API fuzz run revoked its own admin token
and locked itself out). A module of its own: it expires and revokes admin tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from engage_common.db import Pool
from gateway import cli
from gateway.application.staff import issue_token, reissue_labelled
from gateway.config import Settings
from gateway.store import audit as audit_store
from gateway.store import staff as store

ME = "/api/v1/staff/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def admin(role_tokens: dict[str, str]) -> dict[str, str]:
    return bearer(role_tokens["admin"])


def test_tokens_expire_and_show_when(client: FlaskClient, db: Pool, admin: dict[str, str]) -> None:
    issued = client.post(
        "/api/v1/staff/tokens",
        headers=admin,
        json={"email": "analyst@example.nhs.uk", "label": "week"},
    )
    assert issued.status_code == 201, issued.get_json()
    expires = datetime.fromisoformat(issued.json["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
    assert issued.json["state"] == "active"
    short = client.post(
        "/api/v1/staff/tokens",
        headers=admin,
        json={"email": "analyst@example.nhs.uk", "label": "short", "valid_days": 7},
    )
    assert short.status_code == 201
    assert datetime.fromisoformat(short.json["expires_at"]) < datetime.now(UTC) + timedelta(days=8)
    for days, reason in (
        (91, "must be at most 90 (TOKEN_TTL_DAYS)"),
        (0, "must be a whole number of days from 1 to 365"),
    ):
        refused = client.post(
            "/api/v1/staff/tokens",
            headers=admin,
            json={"email": "analyst@example.nhs.uk", "valid_days": days},
        )
        assert refused.status_code == 422
        assert refused.json["error"]["fields"] == {"valid_days": [reason]}

    token = issued.json["token"]
    assert client.get(ME, headers=bearer(token)).status_code == 200
    with db.connection() as conn:
        conn.execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE prefix = %s",
            (issued.json["prefix"],),
        )
    refused = client.get(ME, headers=bearer(token))
    assert refused.status_code == 401
    listed = {
        t["prefix"]: t for t in client.get("/api/v1/staff/tokens", headers=admin).json["tokens"]
    }
    assert listed[issued.json["prefix"]]["state"] == "expired"
    assert listed[short.json["prefix"]]["state"] == "active"


def test_the_last_working_admin_cannot_be_revoked_or_demoted(
    client: FlaskClient, db: Pool, admin: dict[str, str], role_tokens: dict[str, str]
) -> None:
    mine = client.get(ME, headers=admin).json
    last = client.delete(f"/api/v1/staff/tokens/{mine['token_prefix']}", headers=admin)
    assert last.status_code == 409, last.get_json()
    assert "no admin with a working token" in last.json["error"]["message"]
    demote = client.patch(
        f"/api/v1/staff/users/{mine['id']}", headers=admin, json={"role": "analyst"}
    )
    assert demote.status_code == 409
    assert client.get(ME, headers=admin).json["role"] == "admin"

    # With a second working admin, either may go.
    second = client.post(
        "/api/v1/staff/users",
        headers=admin,
        json={"email": "second.admin@example.nhs.uk", "name": "Second", "role": "admin"},
    )
    assert second.status_code == 201
    token = client.post(
        "/api/v1/staff/tokens", headers=admin, json={"email": "second.admin@example.nhs.uk"}
    ).json
    renamed = client.patch(
        f"/api/v1/staff/users/{second.json['id']}", headers=admin, json={"name": "Second Admin"}
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Second Admin"
    assert (
        client.delete(
            f"/api/v1/staff/tokens/{token['prefix']}", headers=bearer(token["token"])
        ).status_code
        == 200
    )
    # Revoked, the second admin no longer counts: demoting them is fine, the first stays.
    demoted = client.patch(
        f"/api/v1/staff/users/{second.json['id']}", headers=admin, json={"role": "board-viewer"}
    )
    assert demoted.status_code == 200 and demoted.json["role"] == "board-viewer"
    assert (
        client.patch(
            "/api/v1/staff/users/999999", headers=admin, json={"role": "analyst"}
        ).status_code
        == 404
    )
    bad = client.patch(
        f"/api/v1/staff/users/{second.json['id']}",
        headers=admin,
        json={"role": "owner", "email": "x@y.z"},
    )
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"role", "email"}
    with db.connection() as conn:
        actions = [e["action"] for e in audit_store.audit_entries(conn)]
    assert "staff.update" in actions


def test_an_admin_locked_out_gets_back_in_from_the_shell(
    client: FlaskClient, db: Pool, settings: Settings
) -> None:
    with db.connection() as conn:
        conn.execute(
            "UPDATE api_tokens t SET expires_at = now() - interval '1 second'"
            " FROM staff_users u WHERE u.id = t.staff_user_id AND u.role = 'admin'"
        )
        assert store.working_admins(conn) == 0
    result = CliRunner().invoke(
        cli.cli,
        ["issue-token", "--email", "admin@example.nhs.uk", "--label", "recovery"],
        obj={"settings": settings},
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert client.get(ME, headers=bearer(token)).json["role"] == "admin"


def test_a_reissued_demo_token_replaces_the_last_one(db: Pool, settings: Settings) -> None:
    with db.connection() as conn:
        user = store.staff_by_email(conn, "board-viewer@example.nhs.uk")
        first, _ = reissue_labelled(conn, user["id"], "demo", 90)
        second, _ = reissue_labelled(conn, user["id"], "demo", 90)
        kept = store.working_tokens_labelled(conn, user["id"], "demo")
        other, _ = issue_token(conn, user["id"], "laptop")
    assert first != second and len(kept) == 1 and second.startswith(kept[0]["prefix"] + "_")
