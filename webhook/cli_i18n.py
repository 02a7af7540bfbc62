"""`hrtp-intake i18n ...`: the translator workflow (extract, init, compile, check) and the SMS segment report."""

from __future__ import annotations

import os
import sys

import click

from bot.i18n import LOCALES_DIR, compile_catalogs
from webhook.channels import ChannelChoice


def _languages():
    from intake_flows.schema import load_languages

    return load_languages()


def _pick(languages, wanted: tuple[str, ...]):
    if not wanted:
        return languages
    known = {lang.id: lang for lang in languages}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise click.BadParameter(f"unknown language id(s) {', '.join(unknown)}; known: {', '.join(known)}",
                                 param_hint="--lang")
    return tuple(known[w] for w in wanted)


@click.group("i18n")
def i18n_group() -> None:
    """Translations: extract msgids, update and compile catalogs, check them, count SMS segments."""


@i18n_group.command("extract")
def extract_command() -> None:
    """Regenerate locales/messages.pot from code, templates and data files, and update every catalog."""
    from devtools.i18n_check import existing_catalogs, extract_and_update

    pot_written, updated = extract_and_update(_languages())
    click.echo(f"messages.pot {'updated' if pot_written else 'unchanged'}; "
               f"catalogs updated: {', '.join(updated) if updated else 'none'} "
               f"(of {len(existing_catalogs())}).")
    written = compile_catalogs()
    click.echo(f"Compiled {len(written)} catalog(s). Run `hrtp-intake i18n check` to see what needs translating.")


@i18n_group.command("init")
@click.argument("lang_ids", nargs=-1, required=True)
def init_command(lang_ids: tuple[str, ...]) -> None:
    """Create an empty catalog for each given language id that has none yet."""
    from devtools.i18n_check import extract_template, new_catalog, po_path, serialize, write_if_changed

    languages = _pick(_languages(), lang_ids)
    template = extract_template()
    for lang in languages:
        path = po_path(lang.id)
        if path.exists():
            click.echo(f"{lang.id}: {path} exists; left as it is")
            continue
        write_if_changed(path, serialize(new_catalog(lang, lang.id, template)))
        click.echo(f"{lang.id}: created {path}")


@i18n_group.command("compile")
@click.option("--force", is_flag=True, help="Compile every catalog, not only the changed ones.")
def compile_command(force: bool) -> None:
    """Compile .po catalogs to .mo (start-up and tests do this too, so a stale .mo is never served)."""
    written = compile_catalogs(LOCALES_DIR, force=force)
    click.echo(f"Compiled {len(written)} catalog(s)." if written else "Every .mo is up to date.")


@i18n_group.command("check")
@click.option("--lang", "lang_ids", multiple=True, help="Check only this language (repeatable).")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary per language.")
def check_command(lang_ids: tuple[str, ...], quiet: bool) -> None:
    """Fail on anything wrong in a catalog: untranslated, fuzzy, placeholders, plurals, loading, stale files."""
    # Also keywords people could not type back and messages over 3 SMS segments (README, Translating).
    from intake_flows.schema import load_keywords, load_phrases

    from devtools.i18n_check import check_all, phrase_warnings, summary

    languages = _pick(_languages(), lang_ids)
    problems = check_all(languages, load_keywords())
    for warning in phrase_warnings(languages, load_phrases()):
        click.echo(f"warning: {warning}", err=True)
    if not quiet:
        for p in problems:
            click.echo(str(p))
    counts = summary(problems)
    click.echo("")
    for lang in ["pot", *(language.id for language in languages)]:
        if lang == "pot" and lang not in counts:
            continue
        c = counts.get(lang)
        status = click.style("ok", fg="green") if not c else click.style(
            ", ".join(f"{n} {kind}" for kind, n in sorted(c.items())), fg="red")
        click.echo(f"{lang:8} {status}")
    if problems:
        click.echo(f"\n{len(problems)} problem(s).")
        sys.exit(1)
    click.echo("\nEvery catalog is complete and correct.")


@i18n_group.command("segments")
@click.option("--lang", "lang_ids", multiple=True, help="Only this language (repeatable).")
@click.option("--channel", type=ChannelChoice(lambda c: c.max_segments is not None), default="sms", show_default=True,
              help="A channel billed by the segment.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for the README).")
@click.option("--show-longest", is_flag=True, help="Also print each language's longest message.")
def segments_command(lang_ids: tuple[str, ...], channel: str, markdown: bool, show_longest: bool) -> None:
    """Report what a full SMS intake costs per language: messages, max and total segments, encoding.

    "plain seg" is the same intake with the language's sms_plain letters (languages.yaml), as SMS_PLAIN_LANGUAGES
    would send it; "-" where the language has none."""
    from bot.service import Runtime
    from bot.sms import MAX_SEGMENTS
    from devtools.i18n_check import segment_report, segment_table

    languages = _pick(_languages(), lang_ids)
    rows = segment_report(Runtime.load(), languages, channel)
    if markdown:
        click.echo(segment_table(rows))
    else:
        click.echo(f"{'language':9} {'status':10} {'messages':>8} {'max seg':>7} {'total seg':>9} {'plain seg':>9}  encoding")
        for r in rows:
            plain = "-" if r.plain_segments is None else str(r.plain_segments)
            click.echo(f"{r.lang:9} {r.status:10} {r.messages:8} {r.max_segments:7} {r.total_segments:9} {plain:>9}"
                       f"  {r.encoding}")
            for f in r.failures:
                click.echo(f"          ! {f}")
        on = os.environ.get("SMS_PLAIN_LANGUAGES", "").strip()
        click.echo(f"\nplain seg: sent with languages.yaml's sms_plain letters; SMS_PLAIN_LANGUAGES here: {on or 'none (off)'}")
    if show_longest:
        for r in rows:
            click.echo(f"\n[{r.lang}] longest message:\n{r.longest}")
    bad = [r for r in rows if r.max_segments > MAX_SEGMENTS or r.failures or r.status != "completed"]
    if bad:
        click.echo(f"\nOver {MAX_SEGMENTS} segments or not completed: {', '.join(r.lang for r in bad)}", err=True)
        sys.exit(1)
