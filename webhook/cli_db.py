"""`hrtp-intake db ...`: upgrade, inspect and write the schema migrations (Alembic, in bot/migrations)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url


def _url() -> str:
    return str(current_app.config["DATABASE_URL"])


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _revs(revs: tuple[str, ...]) -> str:
    return ", ".join(revs) or "(none)"


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc).strip() or exc.__class__.__name__)


@click.group("db")
def db_group() -> None:
    """The database schema: upgrade it, see where it stands, go back, or write a new migration."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Migrate DATABASE_URL up to REVISION (default: head, the newest); safe to run from two places at once."""
    from alembic.util import CommandError

    from bot.migrate import SchemaError, differences, upgrade

    url = _url()
    try:
        report = upgrade(url, revision)
    except (CommandError, SchemaError) as exc:
        raise _fail(exc) from exc
    if report.adopted:
        click.echo("The database predates migrations: its tables were kept and marked as revision 0001.")
    if report.before == report.after:
        click.echo(f"The database is already at {_revs(report.after)} ({_shown(url)}).")
    else:
        click.echo(f"Upgraded the database from {_revs(report.before)} to {_revs(report.after)} ({_shown(url)}).")
    if revision == "head":
        drift = differences(url)
        if drift:
            click.echo("warning: the database still differs from the models; a migration is missing "
                       "(`hrtp-intake db revision -m ...`):", err=True)
            for diff in drift:
                click.echo(f"  {diff}", err=True)


@db_group.command("current")
@with_appcontext
def current_command() -> None:
    """Show the revision DATABASE_URL is at, and whether this release expects another."""
    from bot.db import make_engine
    from bot.migrate import status

    engine = make_engine(_url())
    try:
        schema = status(engine)
    finally:
        engine.dispose()
    click.echo(f"{_revs(schema.current)}: {schema.advice}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--yes", is_flag=True, help="Do not ask first (a downgrade can drop columns and tables with their data).")
@with_appcontext
def downgrade_command(revision: str, yes: bool) -> None:
    """Migrate DATABASE_URL down to REVISION (default: -1, one step back; base drops every table)."""
    from alembic.util import CommandError

    from bot.migrate import SchemaError, downgrade

    url = _url()
    if not yes:
        click.confirm(f"Downgrade {_shown(url)} to {revision}? Data in what it removes is lost", abort=True)
    try:
        before, after = downgrade(url, revision)
    except (CommandError, SchemaError) as exc:
        raise _fail(exc) from exc
    click.echo(f"Downgraded the database from {_revs(before)} to {_revs(after)} ({_shown(url)}).")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does, e.g. \"add intakes.county\".")
@click.option("--empty", is_flag=True, help="Write an empty migration to fill by hand (a data migration).")
def revision_command(message: str, empty: bool) -> None:
    """Write the next migration from the models' changes since the newest one (compared on a scratch database)."""
    from alembic.util import CommandError

    from bot.migrate import SchemaError, revision

    try:
        path = revision(message, autogenerate=not empty)
    except (CommandError, SchemaError) as exc:
        raise _fail(exc) from exc
    click.echo(f"Wrote {path}\nRead it (autogenerate sees a rename as a drop and an add), run the tests, commit it.")


@db_group.command("check")
@with_appcontext
def check_command() -> None:
    """Exit 1 when DATABASE_URL differs from the models (a model changed without a migration)."""
    from bot.migrate import differences

    drift = differences(_url())
    for diff in drift:
        click.echo(f"  {diff}")
    if drift:
        raise click.ClickException("the database differs from the models: add a migration "
                                   "(`hrtp-intake db revision -m ...`) or run `hrtp-intake db upgrade`")
    click.echo("The database matches the models.")
