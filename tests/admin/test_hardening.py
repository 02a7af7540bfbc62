"""Admin hardening: the web chat keeps its own cookie, every page its headers, every CSV its cells inert."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from intake_flows.spreadsheet import safe_cell

from bot.models import AuditLog, Contact, Intake
from tests.admin.helpers import PASSWORD, csrf_token, make_user, seed_intakes, sign_in

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def session_cookie(response) -> str | None:
    return next((v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")), None)


# ---- the web chat does not widen a staff sign-in --------------------------------------------------

def test_opening_the_chat_leaves_a_staff_sign_in_ending_with_the_browser(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    assert "Expires" not in session_cookie(sign_in(c, "sam"))
    r = c.get("/chat")
    # The chat used to mark the shared session permanent: a 31-day staff cookie on a shared computer.
    assert session_cookie(r) is None or "Expires" not in session_cookie(r)
    chat_cookie = next(v for v in r.headers.getlist("Set-Cookie") if v.startswith("hrtp_chat="))
    assert "HttpOnly" in chat_cookie and "SameSite=Lax" in chat_cookie and "Secure" in chat_cookie
    first = c.post("/chat/send", json={"text": "hi"})
    assert session_cookie(first) is None or "Expires" not in session_cookie(first)
    assert c.get("/admin/intakes").status_code == 200
    c.post("/chat/send", json={"text": "1"})
    with svc.db.session() as s:
        assert s.scalar(select(Contact.address).where(Contact.channel == "web")).startswith("web:")
        assert len(list(s.scalars(select(Contact).where(Contact.channel == "web")))) == 1  # one visitor throughout


def test_a_chat_begun_in_the_shared_session_carries_on_and_the_session_stops_being_permanent(app, svc):
    c = app.test_client()
    c.post("/chat/send", json={"text": "hi"})  # a visitor from before: move their id into the old place
    visitor = c.get_cookie("hrtp_chat").value
    c.delete_cookie("hrtp_chat")
    with c.session_transaction() as sess:
        sess["visitor"] = visitor
        sess.permanent = True
    r = c.get("/chat")
    assert c.get_cookie("hrtp_chat").value == visitor
    assert session_cookie(r) is None or "Expires" not in session_cookie(r)
    with c.session_transaction() as sess:
        assert "visitor" not in sess and not sess.permanent


def test_a_forged_chat_cookie_is_replaced_not_trusted(app, svc):
    c = app.test_client()
    c.set_cookie("hrtp_chat", "web:../../etc\x00")
    c.post("/chat/send", json={"text": "hi"})
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", c.get_cookie("hrtp_chat").value)


# ---- headers on every page ------------------------------------------------------------------------

def test_the_chat_page_has_a_csp_with_a_fresh_nonce_and_cannot_be_framed(client):
    pages = [client.get(path) for path in ("/chat", "/chat", "/chat?ref=EASTLA1")]
    nonces = []
    for r in pages:
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
        nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", csp).group(1)
        body = r.get_data(as_text=True)
        # Our own inline script and style run with the nonce; nothing else inline could.
        assert f'<script nonce="{nonce}">' in body and f'<style nonce="{nonce}">' in body
        assert "<script>" not in body and "<style>" not in body
        nonces.append(nonce)
    assert len(set(nonces)) == len(nonces)
    # The form (/apply, /) has no script at all, and the same headers.
    for path in ("/apply?ref=EASTLA1", "/"):
        r = client.get(path)
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
        assert "<script" not in r.get_data(as_text=True)


def test_a_script_in_data_gets_no_nonce(client):
    body = client.get("/chat?ref=</script><script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)" not in body and body.count("<script nonce=") == 1


def test_hsts_only_when_served_over_https(app):
    # The admin fixtures' PUBLIC_BASE_URL is https: every answer pins the browser to https.
    for path in ("/chat", "/healthz", "/admin/login"):
        assert app.test_client().get(path).headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_hsts_over_plain_http_and_yes_once_the_proxy_says_https(app_config):
    from webhook import create_app

    plain = create_app({**app_config, "PUBLIC_BASE_URL": ""})
    try:
        assert "Strict-Transport-Security" not in plain.test_client().get("/chat").headers
        secure = plain.test_client().get("/chat", base_url="https://intake.example.org")
        assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        plain.extensions["hrtp"].db.dispose()


# ---- CSV cells never run as formulas --------------------------------------------------------------

@pytest.mark.parametrize("value, cell", [
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+SUM(A1:A9)", "'+SUM(A1:A9)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("+13105550031", "+13105550031"), ("-12.5", "-12.5"), ("EASTLA1", "EASTLA1"), (-5, -5), (None, ""),
    (["=a", "b"], "'=a;b"),
])
def test_safe_cell_follows_the_owasp_rule_and_leaves_plain_numbers_alone(value, cell):
    assert safe_cell(value) == cell


def referral_rows(svc, codes) -> None:
    """Intake rows carrying codes stored before codes were checked (rows a database may already hold)."""
    ids = seed_intakes(svc, len(codes))
    with svc.db.writing() as s:
        for intake_id, code in zip(ids, codes, strict=True):
            s.get(Intake, intake_id).referral_code = code


def test_by_referral_csv_escapes_formula_cells(staff, svc):
    hostile = ['=HYPERLINK("http://evil.example","Click")', "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"]
    referral_rows(svc, hostile)
    r = staff.get("/admin/metrics/by_referral.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)], cells
    assert {row[0] for row in rows[1:]} >= {"'" + c for c in hostile}


def test_every_admin_csv_is_inert(staff, svc):
    referral_rows(svc, ["=cmd|' /C calc'!A0"])
    with svc.db.writing() as s:
        s.execute(Intake.__table__.update().values(first_name="@SUM(1)"))
    for path in ["/admin/intakes/export.csv"] + [f"/admin/metrics/{t}.csv" for t in
                                                  ("summary", "by_sector", "by_referral", "funnel", "dropoff", "needs")]:
        r = staff.get(path)
        assert r.status_code == 200, path
        for row in csv.reader(io.StringIO(r.get_data(as_text=True))):
            assert not [c for c in row if c.startswith(FORMULA_START) and not re.fullmatch(r"[+-]?\d+(\.\d+)?", c)], (path, row)


def test_area_table_written_back_is_inert():
    from intake_flows.areas import AreaTable, csv_text

    text = csv_text(AreaTable({"90011": "high"}, {"90011": "=HYPERLINK(\"x\")"}, False, ()))
    assert "'=HYPERLINK" in text


# ---- referral codes from every channel keep to the documented form --------------------------------

def codes(svc) -> list[str | None]:
    with svc.db.session() as s:
        return list(s.scalars(select(Intake.referral_code).order_by(Intake.id)))


@pytest.mark.parametrize("ref", ['=HYPERLINK("http://evil.example")', "+1", "-EAST", "@x", "EAST LA", "É1",
                                 "A", "X" * 33, "east\tla"])
def test_a_web_link_code_outside_the_documented_form_is_ignored_and_the_intake_starts(app, ref):
    c = app.test_client()
    r = c.post("/chat/send", json={"text": "hi", "ref": ref})
    assert r.status_code == 200 and r.get_json()["messages"]
    assert codes(app.extensions["hrtp"]) == [None]


def test_codes_in_the_documented_form_still_count_from_each_channel(app, svc):
    app.test_client().post("/chat/send", json={"text": "hi", "ref": "eastla_1-b"})
    svc.handle(_tg("/start SHELTER-22"))
    from bot.messages import InboundMessage

    svc.handle(InboundMessage("sms", "+13235550190", "JOIN CBO_7", "SM" + "8" * 32))
    assert codes(svc) == ["EASTLA_1-B", "SHELTER-22", "CBO_7"]


def _tg(text: str, chat_id: int = 7001):
    from bot.messages import InboundMessage
    from webhook.telegram_channel import parse_update

    update = {"update_id": chat_id, "message": {"message_id": 1, "date": 1763700000, "text": text,
                                                "from": {"id": chat_id, "is_bot": False, "first_name": "R"},
                                                "chat": {"id": chat_id, "type": "private"}}}
    msg = parse_update(update, {"en"}).message
    assert isinstance(msg, InboundMessage)
    return msg


def test_a_telegram_start_with_a_formula_is_no_code(svc):
    result = svc.handle(_tg('/start =HYPERLINK("x")', 7002))
    assert result.messages
    svc.handle(_tg("/start " + "A" * 40, 7003))
    assert codes(svc) == [None, None]


def test_an_sms_join_with_a_formula_is_no_code(svc):
    from bot.messages import InboundMessage

    svc.handle(InboundMessage("sms", "+13235550191", "JOIN =1+1", "SM" + "9" * 32))
    assert codes(svc) == [None]


def test_add_referral_code_refuses_a_code_people_could_not_use(app):
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["add-referral-code", "=EVIL()"])
    assert bad.exit_code != 0 and "letters, digits" in bad.output
    assert runner.invoke(args=["add-referral-code", "eastla1"]).exit_code == 0


# ---- sign-in redirects ----------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/admin%0d%0aX-Evil:%201", "/admin/intakes%0aSet-Cookie:x=1", "/admin\\..\\evil",
                                    "//evil.example/admin", "https://evil.example/admin", "/admin@evil.example",
                                    "/adminx", "javascript:alert(1)"])
def test_sign_in_with_a_hostile_next_goes_to_the_intake_list(app, svc, target):
    make_user(svc, "sam")
    c = app.test_client()
    token = csrf_token(c, f"/admin/login?next={target}")
    r = c.post(f"/admin/login?next={target}", data={"username": "sam", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/intakes"


def test_sign_in_still_returns_to_the_admin_page_asked_for(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    r = c.get("/admin/intakes?language=es")
    target = r.headers["Location"].split("next=", 1)[1]
    token = csrf_token(c)
    r = c.post(f"/admin/login?next={target}", data={"username": "sam", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/admin/intakes?language=es"


# ---- the command-line export is audited -----------------------------------------------------------

def test_the_command_line_export_writes_an_audit_entry(tmp_path):
    from webhook.cli import main

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env, catch_exceptions=False).exit_code == 0
    runner.invoke(main, ["chat", "--from", "+13105550101"], env=env, input="Hi\nyes\nZelda\n", catch_exceptions=False)
    out = tmp_path / "out.csv"
    assert runner.invoke(main, ["export", "--since", "2020-01-01", "-o", str(out)], env=env,
                         catch_exceptions=False).exit_code == 0
    assert "Zelda" in out.read_text()
    runner.invoke(main, ["export", "--format", "jsonl"], env=env, catch_exceptions=False)
    from bot.db import Database

    db = Database(env["DATABASE_URL"])
    with db.session() as s:
        entries = list(s.scalars(select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id)))
    db.dispose()
    assert [(e.target_type, e.detail["via"], e.detail["format"]) for e in entries] == [
        ("intakes", "cli", "csv"), ("intakes", "cli", "jsonl")]
    assert entries[0].detail["since"].startswith("2020-01-01") and entries[0].detail["output"] == str(out)
    assert "Zelda" not in json.dumps([e.detail for e in entries])
