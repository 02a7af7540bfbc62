"""The `hrtp-intake` command (also `flask --app webhook ...`): serve, chat, simulate, export and upkeep."""

from __future__ import annotations

import getpass
import json
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from bot.service import IntakeService


def _require_schema() -> None:
    schema = current_app.extensions["hrtp_schema"]
    if not schema.usable:
        raise click.ClickException(schema.advice)


def _service() -> IntakeService:
    _require_schema()
    return current_app.extensions["hrtp"]


# Waitress keeps at most 100 connections open, each up to 120 s idle: a hundred sockets that send nothing
# locked everyone out. More room, idle ones closed sooner, and no request body near waitress's 1 GB default.
SERVE_OPTIONS: dict[str, Any] = {"connection_limit": 1000, "channel_timeout": 20, "cleanup_interval": 5,
                                 "asyncore_use_poll": True, "max_request_body_size": 1 << 20}


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1),
              help="Requests handled at once; more wait in line.")
@click.option("--connection-limit", default=SERVE_OPTIONS["connection_limit"], show_default=True,
              type=click.IntRange(min=1), help="Open connections accepted at once, idle ones included.")
@click.option("--channel-timeout", default=SERVE_OPTIONS["channel_timeout"], show_default=True,
              type=click.IntRange(min=1), help="Seconds a connection may sit idle before it is closed.")
@with_appcontext
def serve_command(host: str, port: int, threads: int, connection_limit: int, channel_timeout: int) -> None:
    """Run the web service (webhooks, web chat, admin) with waitress."""
    from waitress import serve

    _require_schema()  # run.sh upgrades first; a deploy runs `hrtp-intake db upgrade` before the workers
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.echo(f"HRTP Intake is running on http://{shown}:{port}/")
    click.echo(f"  Talk to the bot in your browser: http://{shown}:{port}/chat")
    click.echo("  Or in a terminal: .venv/bin/hrtp-intake chat")
    click.echo(f"  Staff admin: http://{shown}:{port}/admin (first account: .venv/bin/hrtp-intake create-user NAME --role admin)")
    click.echo(f"  Database: {app.config['DATABASE_URL']}")
    click.echo(f"  Twilio webhook: POST http://{shown}:{port}/webhooks/twilio")
    click.echo(f"  Up to {connection_limit} connections, idle ones closed after {channel_timeout} s, "
               f"request bodies up to {SERVE_OPTIONS['max_request_body_size'] >> 20} MB")
    serve(app, host=host, port=port, threads=threads, ident="hrtp-intake",
          **{**SERVE_OPTIONS, "connection_limit": connection_limit, "channel_timeout": channel_timeout})


@click.command("chat")
@click.option("--from", "sender", default="+12135550123", show_default=True, help="The phone number you pretend to text from.")
@click.option("--channel", default="sms", type=click.Choice(["sms", "whatsapp", "telegram", "web"]), show_default=True)
@click.option("--segments/--no-segments", default=True, help="Show what each SMS costs.")
@with_appcontext
def chat_command(sender: str, channel: str, segments: bool) -> None:
    """Talk to the bot in the terminal as an SMS user would (Ctrl-D to quit)."""
    import itertools

    from bot.messages import InboundMessage

    service = _service()
    click.echo(f"Texting the HRTP intake as {sender} ({channel}). Say hi; HELP, BACK, NEW and STOP work. Ctrl-D quits.\n")
    stamp = uuid.uuid4().hex[:12]  # unique per session: provider ids are de-duplicated
    for n in itertools.count(1):
        try:
            text = input("you> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        result = service.handle(InboundMessage(channel=channel, sender=sender, text=text, provider_id=f"CHAT{stamp}{n:05d}"))
        for m in result.messages:
            click.echo(click.style("bot> ", fg="cyan") + m.text.replace("\n", "\n     "))
            if segments and channel in ("sms", "whatsapp"):
                click.echo(click.style(f"     [{m.segments} segment{'s' if m.segments != 1 else ''}, {m.encoding}]", dim=True))
        click.echo()


@click.command("simulate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--database", default=None, help="Run against this DATABASE_URL instead of a fresh temporary one.")
def simulate_command(files: tuple[Path, ...], as_json: bool, database: str | None) -> None:
    """Run scripted people (scenario YAML files) through the real engine and store, each as a new person."""
    import tempfile

    from bot.migrate import fresh_sqlite, upgrade
    from bot.service import Runtime
    from bot.simulate import Runner, Scenario, ScenarioError, SimResult, load_scenario
    from bot.store import Database

    try:
        scenarios = [(path, load_scenario(path)) for path in files]
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    runtime = Runtime.load()
    if database:
        upgrade(database)
    shared = Database(database) if database else None

    def run_one(scenario: Scenario) -> SimResult:
        if shared is not None:
            return Runner(IntakeService(shared, runtime), scenario).run()
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(fresh_sqlite(Path(tmp) / "simulate.db"))
            try:
                return Runner(IntakeService(db, runtime), scenario).run()
            finally:
                db.dispose()

    failed = 0
    outputs = []
    try:
        for path, scenario in scenarios:
            result = run_one(scenario)
            failed += not result.ok
            if as_json:
                outputs.append(result.to_json())
            else:
                mark = click.style("ok  ", fg="green") if result.ok else click.style("FAIL", fg="red")
                click.echo(f"{mark} {path}: {scenario.name} -> {result.status}, "
                           f"eligibility {result.intake.get('eligibility', {}).get('status')}, "
                           f"{result.stats['person_messages']} person / {result.stats['bot_messages']} bot messages, "
                           f"{result.stats['segments']} segments")
                for f in result.failures:
                    click.echo(f"     {f}")
    finally:
        if shared is not None:
            shared.dispose()
    if as_json:
        click.echo(json.dumps(outputs[0] if len(outputs) == 1 else outputs, ensure_ascii=False, indent=2))
    if failed:
        sys.exit(1)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Only intakes started on or after this date (UTC).")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@with_appcontext
def export_command(fmt: str, since: datetime | None, output: IO[str]) -> None:
    """Export complete and partial intakes, streamed so any number fits in memory."""
    from bot.export import export_csv, export_jsonl
    from bot.staff import audit

    since_utc = since.replace(tzinfo=timezone.utc) if since else None
    # Written first, as the admin's export is: an export that fails part-way still took personal data out.
    with _service().db.writing() as s:
        audit(s, None, "export", "intakes", None, {
            "via": "cli", "format": fmt, "since": since_utc.isoformat() if since_utc else None,
            "system_user": _system_user(), "output": str(getattr(output, "name", "") or "")[:200] or None})
    chunks = export_csv(_service().db, since_utc) if fmt == "csv" else export_jsonl(_service().db, since_utc)
    for chunk in chunks:
        output.write(chunk)


def _system_user() -> str | None:
    """Who ran a command, as the server knows them (the audit log's only name for a command-line export)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


@click.command("add-referral-code")
@click.argument("code")
@click.option("--organisation", "--org", default=None, help="Who hands this code out.")
@click.option("--note", default=None)
@with_appcontext
def add_referral_code_command(code: str, organisation: str | None, note: str | None) -> None:
    """Register an outreach referral code so intakes that use it are attributed."""
    from bot.store import ReferralCode
    from intake_flows.detect import is_referral_code

    code = code.strip().upper()
    if not is_referral_code(code):
        raise click.BadParameter("use 2 to 32 letters, digits, _ or -, starting with a letter or digit, like EASTLA1",
                                 param_hint="CODE")
    with _service().db.writing() as s:
        row = s.get(ReferralCode, code) or ReferralCode(code=code)
        row.organisation, row.note, row.active = organisation, note, True
        s.add(row)
    _service().forget_referral_codes()
    click.echo(f"Referral code {code} is active. People can text: JOIN {code}")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "staff", "partner"]), default="staff", show_default=True)
@click.option("--name", "display_name", default=None, help="How the person's name shows in the admin.")
@click.option("--program", "programs", multiple=True,
              help="A program id this partner account sees referrals for (repeat for several).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def create_user_command(username: str, role: str, display_name: str | None, programs: tuple[str, ...],
                        password_stdin: bool) -> None:
    """Create a staff, admin or partner account for the admin (or reset its password and role)."""
    from bot.staff import audit, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    from bot.programs import program_names

    try:
        with _service().db.writing() as s:
            unknown = sorted(set(programs) - set(program_names(s))) if role == "partner" else []
            if unknown:
                raise ValueError(f"no program has the id {', '.join(unknown)} (see `hrtp-intake list-programs --all`)")
            user = create_user(s, username, password, role, display_name, programs)
            audit(s, None, "user_saved", "user", user.id, {"username": user.username, "role": role,
                                                           "programs": list(user.program_ids), "via": "cli"})
            summary = f"{user.username} ({user.role}" + (f": {', '.join(user.program_ids)}" if user.program_ids else "") + ")"
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Saved {summary}. Sign in at /admin/login")


from webhook.cli_db import db_group  # noqa: E402
from webhook.cli_i18n import i18n_group  # noqa: E402

@click.command("load-areas")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-sample", is_flag=True, help="Load a file marked `# status: sample` (demos and training only).")
@click.option("--dry-run", is_flag=True, help="Check the file and report what it holds without loading it.")
@click.option("--clear", is_flag=True, help="Remove the loaded table: the area category goes back to unknown.")
@with_appcontext
def load_areas_command(file: Path | None, allow_sample: bool, dry_run: bool, clear: bool) -> None:
    """Load the ZIP -> need-tier table behind the priority_area category (CSV: zip,tier[,source]).

    Tiers are highest, high, moderate, low, lowest (or 1-5, 1 = highest need); moderate and
    above count as a priority area. The file replaces any table loaded before. Until a table
    is loaded, the area category is unknown for everyone. Format: intake_flows/areas.py.
    """
    from bot.programs import clear_areas, replace_areas
    from intake_flows.areas import TIERS, AreaFileError, read_area_csv_bytes

    service = _service()
    if clear:
        if file is not None:
            raise click.UsageError("give either FILE or --clear, not both")
        with service.db.writing() as s:
            clear_areas(s)
        service.forget_catalog()
        click.echo("The need-tier table is cleared; priority_area is unknown until a table is loaded.")
        return
    if file is None:
        raise click.UsageError("give the CSV FILE to load (or --clear)")
    try:
        table = read_area_csv_bytes(file.read_bytes(), str(file))
    except AreaFileError as exc:
        raise click.ClickException(str(exc)) from exc
    if table.sample and not allow_sample:
        raise click.ClickException(f"{file} is marked `# status: sample`: its tiers are not the county's. "
                                   "Load the real table, or pass --allow-sample for a demo.")
    for warning in table.warnings:
        click.echo(f"warning: {warning}", err=True)
    counts = ", ".join(f"{t} {n}" for t, n in table.counts().items())
    if dry_run:
        click.echo(f"{file}: {len(table.tiers)} ZIP codes ({counts}){' [SAMPLE]' if table.sample else ''}; nothing loaded.")
        return
    with service.db.writing() as s:
        loaded = replace_areas(s, table, source=file.name)
    service.forget_catalog()
    click.echo(f"Loaded {loaded} ZIP codes ({counts}){' [SAMPLE DATA]' if table.sample else ''}. "
               f"Tiers {', '.join(TIERS[:3])} count as a priority area.")


@click.command("seed-programs")
@click.option("--file", "path", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A catalog YAML other than the shipped intake_flows/data/programs.yaml.")
@click.option("--reset", is_flag=True, help="Also overwrite programs already in the database, staff edits included.")
@click.option("--yes", is_flag=True, help="Do not ask before --reset overwrites staff edits.")
@with_appcontext
def seed_programs_command(path: Path | None, reset: bool, yes: bool) -> None:
    """Copy the program catalog into the database: adds programs it lacks, keeps staff edits."""
    from bot.programs import seed_programs
    from intake_flows.catalog import load_catalog
    from intake_flows.schema import FlowError

    try:
        programs = load_catalog(path)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from exc
    if reset and not yes:
        click.confirm("Overwrite every program in the database with the file's version, losing staff edits?", abort=True)
    service = _service()
    with service.db.writing() as s:
        report = seed_programs(s, programs, replace=reset)
    service.forget_catalog()
    click.echo(f"Programs: {len(report.added)} added, {len(report.updated)} overwritten, {len(report.kept)} kept as they are.")
    for pid in report.added:
        click.echo(f"  + {pid}")


@click.command("list-programs")
@click.option("--all", "show_all", is_flag=True, help="Include inactive programs.")
@with_appcontext
def list_programs_command(show_all: bool) -> None:
    """Show the program catalog as matching uses it, with how many facts are still placeholders."""
    from bot.programs import load_programs

    with _service().db.session() as s:
        programs = load_programs(s, active_only=not show_all)
    for p in programs:
        status = p.fact_status()
        placeholders = sum(1 for v in status.values() if v == "placeholder")
        flag = " (inactive)" if not p.active else " (unconfirmed: not offered)" if p.placeholder_name else ""
        click.echo(f"{p.id:32} {p.sector:18} {p.staff_name}{flag}  [{placeholders}/{len(status)} facts placeholder]")


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Report what would be erased without erasing anything.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Idle days before an incomplete intake is erased (default: RETENTION_DAYS, 180).")
@with_appcontext
def purge_command(dry_run: bool, days: int | None) -> None:
    """Erase incomplete intakes with no activity for RETENTION_DAYS days, as if each person sent DELETE."""
    from bot.privacy import purge
    from bot.store import utcnow

    service = _service()
    days = days or int(current_app.config.get("RETENTION_DAYS") or 180)
    report = purge(service.db, utcnow(), days, dry_run, service.settings.privacy_key)
    since = report.cutoff.strftime("%Y-%m-%d")
    what = (f"{report.intakes} incomplete intake{'s' if report.intakes != 1 else ''} idle since before {since} "
            f"({days} days) and {report.contacts} contact{'s' if report.contacts != 1 else ''} left with nothing else")
    click.echo(f"Would erase {what}; nothing was changed." if dry_run else f"Erased {what}.")


from webhook.telegram_channel import set_webhook_command as telegram_webhook_command  # noqa: E402

COMMANDS = (serve_command, db_group, chat_command, simulate_command, export_command, add_referral_code_command,
            create_user_command, i18n_group, load_areas_command, seed_programs_command, list_programs_command,
            purge_command, telegram_webhook_command)


def register(app: Flask) -> None:
    """Makes the same commands available as `flask --app webhook <command>`."""
    for cmd in COMMANDS:
        app.cli.add_command(cmd)


def _create_app() -> Flask:
    from webhook import create_app

    return create_app()


def app_version() -> str:
    """The installed package's version, from its metadata (pyproject.toml's `version`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hrtp-intake")
    except PackageNotFoundError:
        return "unknown (not installed; pip install -e .)"


main = FlaskGroup(name="hrtp-intake", create_app=_create_app, add_default_commands=False, load_dotenv=False,
                  add_version_option=False,
                  help="HRTP Intake: the front door to LA County's High Road Training Partnerships.")
main = click.version_option(app_version(), "--version", prog_name="hrtp-intake",
                            message="%(prog)s %(version)s")(main)
