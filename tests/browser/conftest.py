"""Browser tests: the app on a real loopback server, driven by Debian's chromium through Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium); browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def submit(page, control) -> None:
    """Clicks a control that loads a new page and waits for it: a click returns before the page arrives, and a
    read that does not retry (a count, all texts) can see the old page or a half-parsed new one."""
    with page.expect_navigation(wait_until="load"):
        control.click()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class LiveServer:
    """A Flask app served by werkzeug on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(tmp_path, runtime) -> Iterator[LiveServer]:
    """The public pages (chat, form) served on loopback over a freshly migrated SQLite file."""
    from bot.migrate import fresh_sqlite
    from webhook import create_app

    app = create_app({"DATABASE_URL": fresh_sqlite(tmp_path / "public.db"), "SECRET_KEY": "browser-secret",
                      "PUBLIC_BASE_URL": "", "RUNTIME": runtime, "SMS_NUMBER": "+12135550000"})
    server = LiveServer(app)
    yield server
    server.close()
    app.extensions["hrtp"].db.dispose()
