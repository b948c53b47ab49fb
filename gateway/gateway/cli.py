"""The gateway's admin commands (``./engage manage ...``, or ``python -m gateway.cli``).

The same workflows as the admin API (``gateway.application.staff``), from a shell: it
needs no token, so it is also how an admin locked out (every admin token expired or
revoked) gets back in. Settings (``DATABASE_URL``, ``TOKEN_TTL_DAYS``) come from the
environment. ``--help`` on any command says what it does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click
from kombu.exceptions import OperationalError as KombuOperationalError

from engage_common import queues
from engage_common.db import Pool
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.messaging import DurablePublisher
from engage_common.migrate import migrate as apply_migrations
from engage_contracts.shared import CHANNELS, SELF_SERVICE_CHANNELS
from gateway.application import dead_letters, feedback, outcomes, reach, staff
from gateway.application.staff import ROLES
from gateway.config import Settings
from gateway.errors import QueueUnavailable
from gateway.readmodels.rebuild import rebuild
from gateway.rpc import Services

MIGRATIONS = Path(__file__).parent / "migrations"


@contextmanager
def _pool(settings: Settings) -> Iterator[Pool]:
    pool = Pool(settings.database_url, size=1)
    try:
        yield pool
    except (NotFound, Conflict) as exc:
        raise click.ClickException(exc.message) from None
    except ValidationFailed as exc:
        reasons = "; ".join(f"{k} {', '.join(v)}" for k, v in exc.errors.items())
        raise click.ClickException(reasons) from None
    finally:
        pool.close()


@click.group(help=__doc__)
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.ensure_object(dict)
    ctx.obj.setdefault("settings", Settings.from_env())


def _settings() -> Settings:
    return click.get_current_context().obj["settings"]


@cli.command()
def migrate() -> None:
    """Create or upgrade the gateway database (DATABASE_URL)."""
    names = apply_migrations(_settings().database_url, MIGRATIONS)
    click.echo(f"applied {len(names)} migration(s) {' '.join(names)}".rstrip())


@cli.command("migrate-queues")
def migrate_queues() -> None:
    """Make the RabbitMQ queues an earlier Engage declared classic (submissions, events,
    dead letters) quorum queues, messages and bindings kept, and drop its durable RPC
    queues (the services recreate them). Run it with the services stopped; running it
    again changes nothing. Needs RabbitMQ (AMQP_URI) and its management API
    (RABBITMQ_MANAGEMENT_URL, or port 15672 of AMQP_URI's host)."""
    report = queues.migrate_queues(_settings().amqp_uri, say=click.echo)
    if not (report.migrated or report.deleted or report.skipped):
        click.echo("every queue already has its type: nothing to migrate")
    if report.skipped:
        raise click.ClickException(
            f"{len(report.skipped)} queue(s) not migrated while consumed: stop the services"
            " and run it again"
        )


@cli.command("create-staff")
@click.option("--email", required=True, help="their work email; they are found by it")
@click.option("--name", required=True, help="their name, as the audit log shows it")
@click.option("--role", required=True, type=click.Choice(ROLES), help="what they may do")
def create_staff(email: str, name: str, role: str) -> None:
    """Add a staff user."""
    with _pool(_settings()) as db:
        row = staff.create_staff(db, None, email, name, role)
    click.echo(f"created {row['role']} {row['email']} (id {row['id']})")


@cli.command("issue-token")
@click.option("--email", required=True, help="the staff user the token is for")
@click.option("--label", default="", help="where it will be used, e.g. 'laptop'")
@click.option(
    "--valid-days", type=int, default=None, help="days it works (default and most: TOKEN_TTL_DAYS)"
)
def issue_token(email: str, label: str, valid_days: int | None) -> None:
    """Issue an API token; it is printed once, on its own line (the rest goes to stderr)."""
    settings = _settings()
    with _pool(settings) as db:
        token, row = staff.issue_token_for(
            db, None, email, label, valid_days, settings.token_ttl_days
        )
    click.echo(
        f"# token {row['prefix']} for {row['email']} ({row['role']}), works until "
        f"{row['expires_at']:%Y-%m-%d %H:%M} UTC; shown once, store it safely:",
        err=True,
    )
    click.echo(token)


@cli.command("revoke-token")
@click.option("--prefix", required=True, help="the token's public id, e.g. eng_3f9a1c2b")
@click.option("--force", is_flag=True, help="even the last working admin token")
def revoke_token(prefix: str, force: bool) -> None:
    """Revoke a token by its prefix; it stops working at once."""
    with _pool(_settings()) as db:
        try:
            row = staff.revoke(db, None, prefix, force=force)
        except Conflict as exc:
            raise click.ClickException(f"{exc.message} (--force revokes it anyway)") from None
    click.echo(f"revoked {row['prefix']} ({row['email']})")


@cli.command("list-tokens")
def list_tokens() -> None:
    """List tokens: prefix, state, owner, role, label, expiry, last use (never a token)."""
    with _pool(_settings()) as db:
        rows = staff.list_tokens(db)
    for row in rows:
        used = row["last_used_at"].isoformat() if row["last_used_at"] else "never"
        click.echo(
            f"{row['prefix']}\t{row['state']}\t{row['email']}\t{row['role']}\t"
            f"{row['label']}\texpires {row['expires_at']:%Y-%m-%d}\tlast used {used}"
        )


STAFF_CHANNELS = [c for c in CHANNELS if c not in SELF_SERVICE_CHANNELS]


@cli.command("import-feedback")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--entered-by", required=True, help="your staff email: the import is yours")
@click.option(
    "--channel",
    type=click.Choice(STAFF_CHANNELS),
    default="partner",
    show_default=True,
    help="how the rows reached us (a 'channel' column wins)",
)
def import_feedback(csv_file: TextIO, entered_by: str, channel: str) -> None:
    """Import feedback from a CSV file (e.g. a partner's spreadsheet, up to 100,000 rows).

    Columns: kind, about, text (required); source_id, place, postcode_district,
    consultation_id, received_at, channel, may_quote, consent (yes when the person agreed),
    consent_version. Good rows go on the feedback queue, the same way as feedback from the
    web; bad rows are listed by line with the reason (exit status 1). Importing the same
    file again stores nothing twice: a row is the same as before when its source_id
    matches, or without one, when its content does. Needs RabbitMQ (AMQP_URI)."""
    settings = _settings()

    def progress(rows: int) -> None:
        if rows % 1000 == 0:
            click.echo(f"read {rows:,} rows", err=True)

    publisher = DurablePublisher(settings.amqp_uri)
    with _pool(settings) as db:
        try:
            report = feedback.import_for(
                db, settings.secret_key, publisher, csv_file, entered_by, channel, progress
            )
        except QueueUnavailable:
            raise click.ClickException(
                "RabbitMQ cannot be reached (AMQP_URI), so the import stopped. Run it again "
                "when it is back: rows already queued are not stored twice."
            ) from None
    for line, reason in report.problems:
        click.echo(f"line {line}: {reason}", err=True)
    click.echo(
        f"queued {report.queued:,} of {report.rows:,} rows; refused {len(report.problems):,}"
    )
    if not report.ok:
        sys.exit(1)


@cli.command("import-outcomes")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--as", "email", required=True, help="your staff email: the changes are yours")
def import_outcomes(csv_file: TextIO, email: str) -> None:
    """Create and update outcomes from a CSV (the same as POST /api/v1/staff/outcomes/import).

    Columns: reference, kind, title (required); description, you_said, partner, owner,
    due_date, status, progress, reason, places, priorities, themes, evidence (lists split
    on ';'; evidence like consultation:<id>, question:<id>:<question>, theme:<slug>,
    feedback:<id>, point:<id>), parent_id. Rows are keyed on reference: importing the same
    file again changes nothing. Bad rows are listed by line (exit status 1)."""
    settings = _settings()
    with _pool(settings) as db:
        who = staff.acting(db, email)
        report = outcomes.import_csv(Services(settings.amqp_uri, 30), who, csv_file)
    for problem in report["problems"]:
        click.echo(f"line {problem['line']}: {problem['reason']}", err=True)
    click.echo(
        f"created {report['created']}, updated {report['updated']},"
        f" unchanged {report['unchanged']}, refused {len(report['problems'])}"
    )
    if report["problems"]:
        sys.exit(1)


@cli.command("move-consultation-outcomes")
def move_consultation_outcomes() -> None:
    """Move today's consultation outcomes (decisions published with a consultation) into
    the outcomes service, as published outcome records linked to their consultation.
    Running it again changes nothing. Needs the services running (AMQP_URI)."""
    settings = _settings()
    moved = outcomes.move_consultation_outcomes(Services(settings.amqp_uri, 30))
    click.echo(f"moved {moved['outcomes']} outcome(s) of {moved['consultations']} consultation(s)")


@cli.command("rebuild-read-models")
@click.option("--swap", is_flag=True, help="replace the live rows with the rebuilt ones")
def rebuild_read_models(swap: bool) -> None:
    """Rebuild the read models by replaying every event the services published, and
    compare with the live ones (exit status 1 when they differ). With --swap, replace the
    live rows: stop the projections process first, start it again after. Needs the
    services running (AMQP_URI)."""
    settings = _settings()
    services = Services(settings.amqp_uri, max(settings.rpc_timeout, 30))
    with _pool(settings) as db:
        report = rebuild(db, services.call, swap=swap)
    for source, count in report.events.items():
        click.echo(f"replayed {count:,} events from {source}")
    for table, (live, rebuilt) in report.rows.items():
        mark = "differs" if table in report.differences else "same"
        click.echo(f"{table}: {live:,} live, {rebuilt:,} rebuilt: {mark}")
        for line in report.differences.get(table, []):
            click.echo(f"  {line}", err=True)
    if report.swapped:
        click.echo("swapped: the live read models are now the rebuilt ones")
    if not report.same and not report.swapped:
        sys.exit(1)


@cli.group("dead-letters")
def dead_letters_group() -> None:
    """Messages that failed every retry: list them, replay them once the cause is fixed.

    They wait on the queue engage.dead-letters until the projections process stores them
    in the gateway database; both places are listed and replayed. Needs RabbitMQ
    (AMQP_URI) and the gateway database (DATABASE_URL)."""


@contextmanager
def _broker() -> Iterator[None]:
    """RabbitMQ away: say so, not a traceback."""
    try:
        yield
    except (OSError, KombuOperationalError) as exc:
        raise click.ClickException(
            f"RabbitMQ cannot be reached (AMQP_URI): {exc}. Run it again when it is back:"
            " letters already replayed are gone from the list, the rest stay."
        ) from None


@dead_letters_group.command("list")
@click.option(
    "--queue", default=None, help="only letters from this queue, e.g. surveys.submissions"
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def list_dead_letters(queue: str | None, limit: int) -> None:
    """List dead letters (those still on the queue, then those stored, oldest first):
    where each is, when it was stored, the queue it came from, its attempts, its error and
    the start of its body."""
    settings = _settings()
    with _pool(settings) as db, _broker():
        letters = dead_letters.list_letters(db, settings.amqp_uri, queue, limit)
    for item in letters:
        letter, when = item.letter, item.received_at
        stamp = f"{when:%Y-%m-%d %H:%M:%S %Z}" if when else "not stored yet"
        body = (
            letter.body.decode("utf-8", "replace")
            if isinstance(letter.body, bytes)
            else letter.body
        )
        click.echo(
            f"{item.where}\t{stamp}\t{letter.queue or 'unknown queue'}\t"
            f"{letter.attempts} attempts\t{letter.error.splitlines()[-1] if letter.error else ''}"
        )
        click.echo(f"    {body[:160]}")
    click.echo(f"{len(letters)} dead letter(s)" + (f" from {queue}" if queue else ""))


@dead_letters_group.command("replay")
@click.option(
    "--queue", default=None, help="only letters from this queue, e.g. surveys.submissions"
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="at most this many")
def replay_dead_letters(queue: str | None, limit: int | None) -> None:
    """Put dead letters back on the queue they came from, attempts reset (fix the cause
    first). Each is removed only once RabbitMQ has confirmed it, so stopping midway loses
    nothing, and handlers are idempotent, so nothing is stored twice. Letters whose queue
    no longer exists stay, listed with the reason (exit status 1). Audited."""
    settings = _settings()
    with _pool(settings) as db, _broker():
        done = dead_letters.replay(db, settings.amqp_uri, queue, limit)
    for item, why in done.refused:
        click.echo(
            f"not replayed: {item.where} from {item.letter.queue or 'unknown queue'}: {why}",
            err=True,
        )
    counts: dict[str, int] = {}
    for item in done.replayed:
        counts[item.letter.queue] = counts.get(item.letter.queue, 0) + 1
    click.echo(
        f"replayed {len(done.replayed)} dead letter(s)"
        + "".join(f"\n  {n} to {name}" for name, n in sorted(counts.items()))
    )
    if done.refused:
        click.echo(f"{len(done.refused)} left where they were", err=True)
        sys.exit(1)


def _load_reference(kind: str, csv_file: TextIO) -> None:
    loader = {"population": reach.load_population, "deprivation": reach.load_deprivation}[kind]
    settings = _settings()
    pool = Pool(settings.database_url, size=1)
    try:
        loaded = loader(pool, csv_file.read())
    except ValidationFailed as refused:
        for problem in refused.errors["file"]:
            click.echo(problem, err=True)
        click.echo(f"nothing was loaded: the {kind} data stay as they were", err=True)
        sys.exit(1)
    finally:
        pool.close()
    click.echo(f"loaded {loaded['rows']:,} rows of {kind} data from: {loaded['source']}")


@cli.command("load-population")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
def load_population(csv_file: TextIO) -> None:
    """Load population profiles by place (ONS Census 2021), replacing those loaded before.

    Columns: source, place, dimension, group, population; one row per place, dimension
    and group. Dimensions and groups: age_band (under-16, 16-24, ... 85-plus), sex
    (female, male), ethnicity (asian, black, mixed, white, other), disability
    (limited-a-lot, limited-a-little, not-limited), unpaid_care (no, up-to-19, 20-49,
    50-plus), imd_decile (1 to 10: residents living in LSOAs of each decile). source names
    the Census tables (the same on every row). Lines starting with # are comments. A file
    with a bad line loads nothing: each problem is listed by line (exit status 1)."""
    _load_reference("population", csv_file)


@cli.command("load-deprivation")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
def load_deprivation(csv_file: TextIO) -> None:
    """Load the postcode -> LSOA -> IMD decile lookup, replacing the one loaded before.

    Columns: postcode (full), lsoa, imd_decile (1 most deprived to 10), edition: 'IMD 2025'
    (on 2021 LSOAs) or 'IMD 2019' (on 2011 LSOAs), the same on every row. Residents' full
    postcodes are looked up when they answer; only the district and the decile are kept.
    A file with a bad line loads nothing (exit status 1)."""
    _load_reference("deprivation", csv_file)


@cli.command("export-board-paper")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["xlsx", "csv", "json", "pdf"]),
    default="xlsx",
    help="what to write (default xlsx)",
)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True)
@click.option("--place", default=None, help="one of the ICS's places (default: all)")
@click.option("--priority", default=None, help="one of the ICS's priorities (default: all)")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="from this UK day")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="to this UK day")
def export_board_paper(
    kind: str,
    out: str,
    place: str | None,
    priority: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Write the board paper for a period, place and priority to a file, showing progress
    table by table (the same paper as GET /api/v1/staff/reports/board-paper.*; audited)."""
    from engage_contracts.ics import ics
    from engage_contracts.reference import places, priorities
    from gateway.application import papers
    from gateway.exports import csv_tables, json_tables, xlsx_chunks
    from gateway.readmodels.decisions import Scope

    if place and place not in places():
        raise click.BadParameter(f"not one of {', '.join(places())}", param_hint="--place")
    if priority and priority not in priorities():
        raise click.BadParameter(f"not one of {', '.join(priorities())}", param_hint="--priority")
    scope = Scope(place, priority, since.date() if since else None, until.date() if until else None)
    now, threshold = datetime.now(UTC), ics().small_number_threshold
    settings = _settings()
    with _pool(settings) as db:
        with db.connection() as conn, open(out, "wb") as target:
            if kind == "pdf":
                from gateway.app import create_app

                with create_app(settings).app_context():
                    click.echo("rendering the PDF", err=True)
                    target.write(papers.pdf(papers.board_paper_html(conn, scope, now, True)))
            else:
                with click.progressbar(
                    papers.board_tables(conn, scope, now),
                    length=papers.BOARD_TABLES,
                    label=f"writing {kind}",
                    item_show_func=lambda t: t.name if t else None,
                    file=sys.stderr,
                ) as tables:
                    chunks = {
                        "csv": lambda: (c.encode() for c in csv_tables(tables, threshold)),
                        "json": lambda: (
                            c.encode()
                            for c in json_tables(
                                {"title": "Board paper", **scope.as_dict()}, tables
                            )
                        ),
                        "xlsx": lambda: xlsx_chunks("Board paper", tables, threshold),
                    }[kind]()
                    for chunk in chunks:
                        target.write(chunk)
        staff.record(db, None, f"report.board_paper.{kind}", f"cli {scope.words()}")
    click.echo(f"wrote {out}")


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    sys.exit(main())
