"""Gateway admin commands.

    python -m gateway.manage migrate
    python -m gateway.manage create-staff --email E --name N --role R
    python -m gateway.manage issue-token --email E [--label L] [--valid-days N]  # printed once
    python -m gateway.manage revoke-token --prefix P [--force]
    python -m gateway.manage list-tokens

Settings (``DATABASE_URL``, ``TOKEN_TTL_DAYS``) come from the environment. ``issue-token``
needs no token: it is how an admin locked out (every admin token expired or revoked)
gets back in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

from engage_common.db import Pool
from engage_common.errors import Conflict
from engage_common.migrate import migrate
from gateway import store
from gateway.auth import ROLES, issue_token, revoke_token
from gateway.config import Settings
from gateway.schemas import token_state

MIGRATIONS = Path(__file__).parent / "migrations"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.manage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create/upgrade the gateway database")
    staff = commands.add_parser("create-staff", help="add a staff user")
    staff.add_argument("--email", required=True)
    staff.add_argument("--name", required=True)
    staff.add_argument("--role", required=True, choices=ROLES)
    issue = commands.add_parser("issue-token", help="issue an API token (printed once)")
    issue.add_argument("--email", required=True)
    issue.add_argument("--label", default="")
    issue.add_argument(
        "--valid-days",
        type=int,
        default=None,
        help="days the token works for (default and most: TOKEN_TTL_DAYS)",
    )
    revoke = commands.add_parser("revoke-token", help="revoke a token by its prefix")
    revoke.add_argument("--prefix", required=True)
    revoke.add_argument("--force", action="store_true", help="even the last working admin token")
    commands.add_parser("list-tokens", help="list tokens (prefixes, never the tokens)")
    return parser


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings or Settings.from_env()
    if args.command == "migrate":
        names = migrate(settings.database_url, MIGRATIONS)
        print(f"applied {len(names)} migration(s) {' '.join(names)}".rstrip())
        return 0
    pool = Pool(settings.database_url, size=1)
    try:
        with pool.connection() as conn:
            return _run(conn, args, settings)
    finally:
        pool.close()


def _run(conn: psycopg.Connection, args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "create-staff":
        if store.staff_by_email(conn, args.email):
            print(f"error: a staff user with email {args.email} already exists", file=sys.stderr)
            return 1
        row = store.create_staff(conn, args.email, args.name, args.role)
        store.audit(conn, None, "staff.create", row["email"])
        print(f"created {row['role']} {row['email']} (id {row['id']})")
        return 0
    if args.command == "issue-token":
        user = store.staff_by_email(conn, args.email)
        if user is None:
            print(f"error: no staff user with email {args.email}", file=sys.stderr)
            return 1
        days = args.valid_days or settings.token_ttl_days
        if not 1 <= days <= settings.token_ttl_days:
            print(
                f"error: --valid-days must be from 1 to {settings.token_ttl_days}", file=sys.stderr
            )
            return 1
        token, row = issue_token(conn, user["id"], args.label, days)
        store.audit(conn, None, "token.issue", row["prefix"])
        print(
            f"# token {row['prefix']} for {user['email']} ({user['role']}), works until "
            f"{row['expires_at']:%Y-%m-%d %H:%M} UTC; shown once, store it safely:",
            file=sys.stderr,
        )
        print(token)
        return 0
    if args.command == "revoke-token":
        try:
            row = revoke_token(conn, args.prefix, force=args.force)
        except Conflict as exc:
            print(f"error: {exc.message} (--force revokes it anyway)", file=sys.stderr)
            return 1
        if row is None:
            print(f"error: no token with prefix {args.prefix}", file=sys.stderr)
            return 1
        store.audit(conn, None, "token.revoke", row["prefix"])
        print(f"revoked {row['prefix']} ({row['email']})")
        return 0
    if args.command == "list-tokens":
        for row in store.list_tokens(conn):
            used = row["last_used_at"].isoformat() if row["last_used_at"] else "never"
            print(
                f"{row['prefix']}\t{token_state(row)}\t{row['email']}\t{row['role']}\t"
                f"{row['label']}\texpires {row['expires_at']:%Y-%m-%d}\tlast used {used}"
            )
        return 0
    raise AssertionError(args.command)  # argparse only allows the commands above


if __name__ == "__main__":
    sys.exit(main())
