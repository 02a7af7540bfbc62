"""Every admin route, every parameter it reads, every hostile value: a 4xx or a page, never a 500.

The parameters are not listed by hand: each route is requested once plainly while the request records
which query and form names the view (and its template) read, then each of those gets every value below."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import ImmutableMultiDict

from tests.admin.helpers import complete_intake, intake_id_of, make_user, sign_in

HOSTILE = ["²", "٣", "9" * 30, "2147483648", "-1", "0", "1e309", "NaN", "inf", "9999-12-31", "0001-01-01",
           "2026-02-30", "2026-11-02T00:00", "\x00", "a\x00b", "\r\nX-Evil: 1", "%", "%00", "' OR '1'='1", "\\",
           "[]", "{}", "none", "(none)", "\ufffd", "😀", "ZZZ" * 2000, " ", "//evil.example", "=HYPERLINK(\"x\")"]
NOT_WALKED = {"admin.logout", "admin.login"}  # walked apart: signing out ends the walk


class Recording(ImmutableMultiDict):
    """Query and form data that remember which names were read."""

    names: ClassVar[set[str]] = set()

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002 (werkzeug's name)
        Recording.names.add(key)
        return super().get(key, default, type)

    def getlist(self, key: Any, type: Any = None) -> list[Any]:  # noqa: A002
        Recording.names.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key: Any) -> Any:
        Recording.names.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        Recording.names.add(str(key))
        return super().__contains__(key)


@pytest.fixture
def walk(backend):
    from webhook import create_app

    app = create_app({**backend, "WTF_CSRF_ENABLED": False})
    app.request_class.parameter_storage_class = Recording
    svc = app.extensions["hrtp"]
    make_user(svc, "ada", "admin")
    intake = intake_id_of(complete_intake(svc, "+13235550150", "Maria"))
    client = app.test_client()
    assert sign_in(client, "ada").status_code == 302
    with svc.db.session() as s:
        from bot.programs import program_names

        program = sorted(program_names(s))[0]
    # No call-back or outreach device has id 1 here: the routes must refuse that kindly too.
    with svc.db.writing() as s:
        from bot.models import ReferralCode

        s.add(ReferralCode(code="EASTLA1"))  # the referral code pages and the flyer route have a code to walk
    yield app, client, {"intake_id": intake, "program_id": program, "table": "by_referral", "code": "EASTLA1",
                      "call_back_id": 1, "device_id": 1}
    app.request_class.parameter_storage_class = ImmutableMultiDict
    svc.db.dispose()


def call(client, method: str, url: str, params: dict[str, str]) -> tuple[int, str | None]:
    try:
        if method == "GET":
            r = client.get(url, query_string=params)
        else:
            r = client.post(url, data=params)
    except Exception as exc:  # noqa: BLE001  TESTING propagates what would have been a 500, whatever it is
        return 500, f"{type(exc).__name__}: {str(exc)[:120]}"
    csp = r.headers.get("Content-Security-Policy", "")
    if r.mimetype == "text/html" and "frame-ancestors 'none'" not in csp:
        return r.status_code, "an HTML page without the CSP"
    return r.status_code, None


def test_no_admin_route_answers_a_hostile_parameter_with_a_500(walk):
    app, client, values = walk
    failures: list[str] = []
    walked = 0
    rules = sorted((r for r in app.url_map.iter_rules() if r.rule.startswith("/admin") and r.endpoint not in NOT_WALKED),
                   key=lambda r: ("POST" in r.methods, r.rule.endswith("/erase"), r.rule))
    for rule in rules:
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(values[name])).replace(f"<{name}>", str(values[name]))
        for method in sorted(rule.methods & {"GET", "POST"}):
            Recording.names.clear()
            status, why = call(client, method, url, {})
            names = set(Recording.names) - {"csrf_token"}
            if status >= 500 or why:
                failures.append(f"{method} {url} plain: {status} {why}")
            for name in sorted(names):
                for value in HOSTILE:
                    status, why = call(client, method, url, {name: value})
                    walked += 1
                    if status >= 500 or why:
                        failures.append(f"{method} {url} {name}={value[:30]!r}: {status} {why}")
    assert walked > 500  # the walk found the parameters: a few hundred requests, not a handful
    assert not failures, "\n".join(failures)


def test_the_sign_in_page_takes_any_next_and_any_form(walk):
    app, _, _ = walk
    c = app.test_client()
    for value in HOSTILE:
        status, why = call(c, "GET", "/admin/login", {"next": value})
        assert (status, why) == (200, None), value
        status, why = call(c, "POST", "/admin/login?" + urlencode({"next": value}), {"username": value, "password": value})
        assert status in (400, 401, 429) and why is None, value


def test_bad_numbers_and_dates_in_the_issue_get_400(walk):
    _, client, _ = walk
    for url in ("/admin/intakes?before=²", "/admin/intakes?after=99999999999999999999", "/admin/audit?before=²",
                "/admin/intakes?date_to=9999-12-31", "/admin/intakes?date_from=2026-13-01", "/admin/metrics?to=9999-12-31",
                "/admin/metrics/by_referral.csv?from=0001-01-01", "/admin/intakes/export.csv?date_to=9999-12-31",
                "/admin/intakes?assignee=٣", "/admin/intakes?q=%00"):
        r = client.get(url)
        assert r.status_code == 400, url
        assert "cannot be read" in r.get_data(as_text=True)
    assert client.get("/admin/intakes?date_to=2026-12-31&assignee=none&before=").status_code == 200
