"""The `hrtp-intake` command (also `flask --app webhook ...`): serve, chat, simulate, export and upkeep."""

from __future__ import annotations

import getpass
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from bot.service import IntakeService
from webhook.channels import ChannelChoice


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
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes sharing the port (use PostgreSQL for more than one; see README, Production).")
@with_appcontext
def serve_command(host: str, port: int, threads: int, connection_limit: int, channel_timeout: int, workers: int) -> None:
    """Run the web service (webhooks, web chat, admin) with waitress."""
    from waitress import serve

    from webhook import logs

    logs.configure(current_app.config.get("LOG_FORMAT", "json"), current_app.config.get("LOG_LEVEL", "INFO"))
    _require_schema()  # run.sh upgrades first; a deploy runs `hrtp-intake db upgrade` before the workers
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions["hrtp"].runtime.warm_up()  # before forking, so workers share what it reads
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.echo(f"HRTP Intake is running on http://{shown}:{port}/")
    click.echo(f"  Talk to the bot in your browser: http://{shown}:{port}/chat")
    click.echo("  Or in a terminal: .venv/bin/hrtp-intake chat")
    click.echo(f"  Staff admin: http://{shown}:{port}/admin (first account: .venv/bin/hrtp-intake create-user NAME --role admin)")
    click.echo(f"  Database: {app.config['DATABASE_URL']}")
    click.echo(f"  Twilio webhook: POST http://{shown}:{port}/webhooks/twilio")
    click.echo(f"  Up to {connection_limit} connections, idle ones closed after {channel_timeout} s, "
               f"request bodies up to {SERVE_OPTIONS['max_request_body_size'] >> 20} MB")
    options = {**SERVE_OPTIONS, "threads": threads, "ident": "hrtp-intake", "connection_limit": connection_limit,
               "channel_timeout": channel_timeout}
    if workers > 1:
        from webhook.workers import serve_workers

        if app.config["DATABASE_URL"].startswith("sqlite"):
            click.echo("  Note: on SQLite, workers queue on the database file's lock; one worker is faster. "
                       "Use PostgreSQL for several.")
        click.echo(f"  {workers} worker processes, {threads} threads each")
        sys.exit(serve_workers(app, host, port, workers, options))
    serve(app, host=host, port=port, **options)


@click.command("chat")
@click.option("--from", "sender", default="+12135550123", show_default=True, help="The phone number you pretend to text from.")
@click.option("--channel", default="sms", type=ChannelChoice(), show_default=True)
@click.option("--segments/--no-segments", default=True, help="Show what each SMS costs.")
@with_appcontext
def chat_command(sender: str, channel: str, segments: bool) -> None:
    """Talk to the bot in the terminal as an SMS user would (Ctrl-D to quit)."""
    import itertools

    from bot.channels import capabilities
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
            if segments and capabilities(channel).max_segments is not None:
                click.echo(click.style(f"     [{m.segments} segment{'s' if m.segments != 1 else ''}, {m.encoding}]", dim=True))
        click.echo()


@click.command("simulate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--database", default=None, help="Run against this DATABASE_URL instead of a fresh temporary one.")
def simulate_command(files: tuple[Path, ...], as_json: bool, database: str | None) -> None:
    """Run scripted people (scenario YAML files) through the real engine and store, each as a new person."""
    import tempfile

    from bot.db import Database
    from bot.migrate import fresh_sqlite, upgrade
    from bot.service import Runtime
    from bot.simulate import Runner, Scenario, ScenarioError, SimResult, load_scenario

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
    from bot.audit import audit
    from bot.export import export_csv, export_jsonl

    since_utc = since.replace(tzinfo=UTC) if since else None
    # Written first, as the admin's export is: an export that fails part-way still took personal data out.
    with _service().db.writing() as s:
        audit(s, None, "export", "intakes", None, {
            "via": "cli", "format": fmt, "since": since_utc.isoformat() if since_utc else None,
            "system_user": _system_user(), "output": str(getattr(output, "name", "") or "")[:200] or None})
    svc = _service()
    chunks = export_csv(svc.db, since_utc, svc.runtime.bundle.flow) if fmt == "csv" else export_jsonl(svc.db, since_utc)
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
    from bot.audit import audit
    from bot.models import ReferralCode
    from bot.referrals import code_error, normalise_code

    code = normalise_code(code)
    why = code_error(code)  # the admin's own rule, so a code made either way reads the same
    if why:
        raise click.BadParameter(why, param_hint="CODE")
    with _service().db.writing() as s:
        row = s.get(ReferralCode, code) or ReferralCode(code=code, channels=[])
        row.organisation, row.note, row.active, row.retired_at = organisation, note, True, None
        s.add(row)
        audit(s, None, "referral_code_saved", "referral_code", code, {"how": "cli", "organisation": organisation})
    _service().forget_referral_codes()
    click.echo(f"Referral code {code} is active. People can text: JOIN {code}")


@click.command("flyer")
@click.argument("code")
@click.option("--lang", "languages", multiple=True, help="A page in this language (repeat; default en and es).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Where to write the PDF (default flyer-CODE.pdf).")
@click.option("--base-url", default="", help="The public web address for the QR code (default PUBLIC_BASE_URL).")
@click.option("--number", default="", help="The number people text (default TWILIO_FROM_NUMBER).")
@with_appcontext
def flyer_command(code: str, languages: tuple[str, ...], output: Path | None, base_url: str, number: str) -> None:
    """Print a referral code's flyer: a PDF page per language with its keyword and QR codes."""
    from bot.flyer import DEFAULT_LANGUAGES
    from webhook.flyer import FlyerError, flyer_links, flyer_pdf

    wanted = list(dict.fromkeys(languages)) or list(DEFAULT_LANGUAGES)
    try:
        links = flyer_links(_service(), current_app.config, code, base_url.rstrip("/"), number)
        if not links.public_base_url:
            raise FlyerError("Set PUBLIC_BASE_URL (or pass --base-url https://your.host): the web QR code needs it.")
        pdf = flyer_pdf(_service(), links, wanted)
    except FlyerError as exc:
        raise click.ClickException(str(exc)) from exc
    target = output or Path(f"flyer-{links.code}.pdf")
    try:
        target.write_bytes(pdf)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {target}: {exc.strerror or exc}") from exc
    missing = [what for what, have in (("texting number (TWILIO_FROM_NUMBER or --number)", links.sms_number),
                                       ("Telegram link (TELEGRAM_BOT_USERNAME)", links.telegram_bot)) if not have]
    for what in missing:
        click.echo(f"note: no {what}, so the flyer leaves it off", err=True)
    click.echo(f"Wrote {target}: {len(wanted)} page(s), {', '.join(wanted)}; {len(pdf) // 1024} KB.")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "staff", "partner", "outreach"]), default="staff", show_default=True)
@click.option("--name", "display_name", default=None, help="How the person's name shows in the admin.")
@click.option("--program", "programs", multiple=True,
              help="A program id this partner account sees referrals for (repeat for several).")
@click.option("--code", "codes", multiple=True, help="A referral code this outreach account sees counts for (repeat).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def create_user_command(username: str, role: str, display_name: str | None, programs: tuple[str, ...],
                        password_stdin: bool, codes: tuple[str, ...] = ()) -> None:
    """Create a staff, admin, partner or outreach account for the admin (or reset its password and role)."""
    from bot.accounts import create_user
    from bot.audit import audit

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
            if codes:
                _link_codes(s, user, role, codes)
            audit(s, None, "user_saved", "user", user.id, {"username": user.username, "role": role,
                                                           "programs": list(user.program_ids), "via": "cli"})
            summary = f"{user.username} ({user.role}" + (f": {', '.join(user.program_ids)}" if user.program_ids else "") + ")"
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Saved {summary}. Sign in at /admin/login")


def _link_codes(s: Any, user: Any, role: str, codes: tuple[str, ...]) -> None:
    """Makes an outreach account the one that sees these codes' weekly counts."""
    from bot.models import ReferralCode
    from bot.referrals import normalise_code

    if role != "outreach":
        raise ValueError("--code is for outreach accounts")
    for raw in codes:
        row = s.get(ReferralCode, normalise_code(raw))
        if row is None:
            raise ValueError(f"no referral code {normalise_code(raw)} (add it first with `hrtp-intake add-referral-code`)")
        row.outreach_user_id = user.id


from webhook.cli_db import db_group  # noqa: E402
from webhook.cli_i18n import i18n_group  # noqa: E402
from webhook.reminders import reminders_command  # noqa: E402


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
    from intake_flows.areas import TIERS, AreaFileError, read_area_csv_bytes

    from bot.programs import clear_areas, replace_areas

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
    from intake_flows.catalog import load_catalog
    from intake_flows.schema import FlowError

    from bot.programs import seed_programs

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
    from bot.models import utcnow
    from bot.privacy import purge

    service = _service()
    days = days or int(current_app.config.get("RETENTION_DAYS") or 180)
    report = purge(service.db, utcnow(), days, dry_run, service.settings.privacy_key)
    since = report.cutoff.strftime("%Y-%m-%d")
    what = (f"{report.intakes} incomplete intake{'s' if report.intakes != 1 else ''} idle since before {since} "
            f"({days} days) and {report.contacts} contact{'s' if report.contacts != 1 else ''} left with nothing else")
    click.echo(f"Would erase {what}; nothing was changed." if dry_run else f"Erased {what}.")


@click.command("worker")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(min=1),
              help="Jobs run at once (threads); run more `hrtp-intake worker` processes for more.")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run the job queue's worker: sends staff messages and Telegram replies from the outbox, with retries."""
    import logging

    from webhook.queue import queue_of

    _require_schema()
    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    where = {"redis": "Redis (REDIS_URL)", "sqlite": f"SQLite {getattr(queue.huey.storage, 'filename', '')}",
             "immediate": "nowhere: QUEUE_IMMEDIATE runs jobs in the web process"}[queue.backend]
    click.echo(f"HRTP Intake worker: {workers} thread{'s' if workers != 1 else ''}, jobs in {where}, "
               f"channels: {', '.join(sorted(queue.senders)) or 'none configured'}", err=True)
    from webhook.reminders import scan_once

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Every worker process scans: each reminder step is recorded once (a unique row), so two scans never send twice.
    every = max(10, int(current_app.config.get("REMINDER_SCAN_SECONDS") or 300))
    queue.run_worker(workers, also=[("reminder-scan", every, lambda: scan_once(app))])



COMMANDS = (serve_command, db_group, chat_command, simulate_command, export_command, add_referral_code_command,
            flyer_command, create_user_command, i18n_group, load_areas_command, seed_programs_command,
            list_programs_command, purge_command, worker_command, reminders_command)


def register(app: Flask) -> None:
    """Makes the same commands available as `flask --app webhook <command>`."""
    for cmd in COMMANDS:
        app.cli.add_command(cmd)


def _create_app() -> Flask:
    from webhook import ConfigError, create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


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
