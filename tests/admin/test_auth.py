"""Accounts, sign-in, throttling, CSRF, cookies and the audit log of who signed in."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import AuditLog, LoginAttempt, User
from tests.admin.helpers import PASSWORD, csrf_token, make_user, sign_in


def audit_actions(svc) -> list[tuple[str, str | None]]:
    with svc.db.session() as s:
        return [(a.action, a.username) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_admin_pages_need_a_signed_in_user(client):
    for path in ("/admin/intakes", "/admin/intakes/1", "/admin/metrics", "/admin/programs", "/admin/audit",
                 "/admin/intakes/export.csv"):
        r = client.get(path)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], path


def test_a_staff_member_signs_in_and_out(app, svc):
    make_user(svc, "sam", "staff", name="Sam Staff")
    c = app.test_client()
    r = sign_in(c, "Sam")  # usernames are not case-sensitive
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/intakes")
    assert "Sam Staff" in c.get("/admin/intakes").get_data(as_text=True)
    token = csrf_token(c, "/admin/intakes")
    assert c.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/admin/intakes").status_code == 302
    assert [a for a in audit_actions(svc) if a[0] in ("login", "logout")] == [("login", "sam"), ("logout", "sam")]


def test_passwords_are_stored_only_as_salted_hashes(svc):
    make_user(svc, "sam")
    make_user(svc, "kim")
    with svc.db.session() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    assert all(h.startswith("scrypt:") and PASSWORD not in h for h in hashes)
    assert hashes[0] != hashes[1]


def test_a_wrong_password_is_refused_and_recorded(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    r = sign_in(c, "sam", "wrong password!")
    assert r.status_code == 401
    assert "do not match" in r.get_data(as_text=True)
    assert ("login_failed", None) in audit_actions(svc)


def test_repeated_failures_lock_the_account_for_a_while_even_with_the_right_password(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    for _ in range(5):
        assert sign_in(c, "sam", "guess-guess-guess").status_code == 401
    r = sign_in(c, "sam")
    assert r.status_code == 429
    assert "Too many failed sign-ins" in r.get_data(as_text=True)
    with svc.db.session() as s:
        assert s.query(LoginAttempt).filter_by(username="sam", ok=True).count() == 0


def test_forms_without_a_csrf_token_are_refused(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    assert c.post("/admin/login", data={"username": "sam", "password": PASSWORD}).status_code == 400
    sign_in(c, "sam")
    assert c.post("/admin/intakes/1/notes", data={"text": "hello"}).status_code == 400


def test_the_webhooks_and_web_chat_still_work_without_csrf_tokens(client):
    r = client.post("/chat/send", json={"text": "hi"})
    assert r.status_code == 200 and r.get_json()["messages"]
    assert client.post("/webhooks/twilio", data={"From": "+13235550101", "Body": "hi", "MessageSid": "SM1"}).status_code == 403


def test_session_cookie_is_http_only_secure_and_same_site(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    r = sign_in(c, "sam")
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and "session" in v)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_admin_pages_are_never_cached_or_framed(staff):
    r = staff.get("/admin/intakes")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_sign_in_only_redirects_within_the_admin(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    token = csrf_token(c)
    r = c.post("/admin/login?next=https://evil.example/", data={"username": "sam", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"].endswith("/admin/intakes")


def test_only_admins_read_the_audit_log(staff, admin_client):
    assert staff.get("/admin/audit").status_code == 403
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "login" in page and "sam" in page


def test_create_user_command(app, svc):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "Pat", "--role", "partner", "--program", "pcc_pre_apprenticeship",
                                 "--name", "Pat Partner", "--password-stdin"], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "pat (partner: pcc_pre_apprenticeship)" in result.output
    with svc.db.session() as s:
        pat = s.scalar(select(User).where(User.username == "pat"))
        assert pat.role == "partner" and pat.program_ids == ["pcc_pre_apprenticeship"]
        assert pat.check_password("a long enough password")
    short = runner.invoke(args=["create-user", "lee", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    nowhere = runner.invoke(args=["create-user", "lou", "--role", "partner", "--password-stdin"],
                            input="a long enough password\n")
    assert nowhere.exit_code != 0 and "program" in nowhere.output
    typo = runner.invoke(args=["create-user", "lou", "--role", "partner", "--program", "pcc_pre_apprentice",
                               "--password-stdin"], input="a long enough password\n")
    assert typo.exit_code != 0 and "no program has the id pcc_pre_apprentice" in typo.output


def test_a_copied_session_cookie_stops_working_at_sign_out(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    sign_in(c, "sam")
    thief = app.test_client()
    thief.set_cookie("session", c.get_cookie("session").value)
    assert thief.get("/admin/intakes").status_code == 200
    c.post("/admin/logout", data={"csrf_token": csrf_token(c, "/admin/intakes")})
    assert thief.get("/admin/intakes").status_code == 302


def test_resetting_a_password_signs_that_account_out_everywhere(app, svc):
    make_user(svc, "sam")
    c = app.test_client()
    sign_in(c, "sam")
    assert c.get("/admin/intakes").status_code == 200
    make_user(svc, "sam")  # create-user again: a new password (and role) for the same account
    assert c.get("/admin/intakes").status_code == 302


def test_a_session_left_idle_signs_out(app, svc):
    import time

    make_user(svc, "sam")
    c = app.test_client()
    sign_in(c, "sam")
    assert c.get("/admin/intakes").status_code == 200
    with c.session_transaction() as sess:
        sess["seen"] = time.time() - 61 * 60
    r = c.get("/admin/intakes")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    assert "without activity" in c.get("/admin/login").get_data(as_text=True)
    assert c.get("/admin/intakes").status_code == 302
