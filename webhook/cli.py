"""The `hrtp-intake` command (also `flask --app webhook ...`): serve, chat, simulate, export and upkeep."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from bot.service import IntakeService


def _service() -> IntakeService:
    return current_app.extensions["hrtp"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Run the web service (webhooks, web chat, admin) with waitress."""
    from waitress import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.echo(f"HRTP Intake is running on http://{shown}:{port}/")
    click.echo(f"  Talk to the bot in your browser: http://{shown}:{port}/chat")
    click.echo("  Or in a terminal: .venv/bin/hrtp-intake chat")
    click.echo(f"  Database: {app.config['DATABASE_URL']}")
    click.echo(f"  Twilio webhook: POST http://{shown}:{port}/webhooks/twilio")
    serve(app, host=host, port=port, threads=threads, ident="hrtp-intake")


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
    """Run scripted people (scenario YAML files) through the real engine and store."""
    import tempfile

    from bot.service import Runtime
    from bot.simulate import Runner, ScenarioError, load_scenario
    from bot.store import Database

    runtime = Runtime.load()
    failed = 0
    outputs = []
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            raise click.ClickException(str(exc)) from exc
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(database or f"sqlite:///{Path(tmp) / 'simulate.db'}")
            db.create_all()
            result = Runner(IntakeService(db, runtime), scenario).run()
            db.dispose()
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
def export_command(fmt: str, since: datetime | None, output: click.utils.LazyFile) -> None:
    """Export complete and partial intakes, streamed so any number fits in memory."""
    from bot.export import export_csv, export_jsonl

    since_utc = since.replace(tzinfo=timezone.utc) if since else None
    chunks = export_csv(_service().db, since_utc) if fmt == "csv" else export_jsonl(_service().db, since_utc)
    for chunk in chunks:
        output.write(chunk)


@click.command("add-referral-code")
@click.argument("code")
@click.option("--organisation", "--org", default=None, help="Who hands this code out.")
@click.option("--note", default=None)
@with_appcontext
def add_referral_code_command(code: str, organisation: str | None, note: str | None) -> None:
    """Register an outreach referral code so intakes that use it are attributed."""
    from bot.store import ReferralCode

    code = code.strip().upper()
    with _service().db.writing() as s:
        row = s.get(ReferralCode, code) or ReferralCode(code=code)
        row.organisation, row.note, row.active = organisation, note, True
        s.add(row)
    _service().forget_referral_codes()
    click.echo(f"Referral code {code} is active. People can text: JOIN {code}")


from webhook.cli_i18n import i18n_group  # noqa: E402

COMMANDS = (serve_command, chat_command, simulate_command, export_command, add_referral_code_command, i18n_group)


def register(app: Flask) -> None:
    """Makes the same commands available as `flask --app webhook <command>`."""
    for cmd in COMMANDS:
        app.cli.add_command(cmd)


def _create_app() -> Flask:
    from webhook import create_app

    return create_app()


main = FlaskGroup(name="hrtp-intake", create_app=_create_app, add_default_commands=False, load_dotenv=False,
                  help="HRTP Intake: the front door to LA County's High Road Training Partnerships.")
