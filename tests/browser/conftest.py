"""Fixtures for tests in a real browser: the app served on a loopback port, with real CSRF,
and Debian's Chromium driven by Playwright, sized like a facilitator's phone.

No browser is downloaded (``playwright install`` fails on these machines, STACK.md): the
tests use ``$SHG_CHROMIUM`` or ``/usr/bin/chromium``. Without it they are skipped, except
under CI, where a missing browser is a broken machine and fails the run.

Each test runs on SQLite and on PostgreSQL, through the suite's ``database_url`` and ``app``
fixtures, and each server listens on a port of its own, so the tests run under pytest-xdist.
"""
from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: A common low-end Android phone: the page must work at this width without sideways scrolling.
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2, "locale": "en-US"}
#: How long a locator waits for the page; generous for a loaded CI machine, never a sleep.
TIMEOUT_MS = 15_000


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium against a live server")


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; under CI the browser tests must run (see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("SHG_CHROMIUM") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _missing(f"no Chromium at {path}: apt-get install chromium, or set SHG_CHROMIUM")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One Chromium per test session (per xdist worker); each test gets a fresh context."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app(app):
    """The suite's app (SQLite or PostgreSQL), but with CSRF checked as in production: the
    browser must post the token the page gave it. Set before the first request is served."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def live_server(app):
    """The app on 127.0.0.1 at a free port, served from a background thread; yields its URL.

    Every request runs in its own thread with its own app context and database session, as
    under gunicorn; the test thread keeps its own context for the factories and checks.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def phone(browser, live_server):
    """A page in a fresh phone-sized context (no cookies) pointed at the live server.
    Closed before the server stops, so no keep-alive connection outlives it."""
    context = browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def script_errors(phone):
    """Uncaught script errors and console errors of the phone's page, e.g. a script the
    Content-Security-Policy blocks: the page looks right but its menu never opens.

    The browser's own request for /favicon.ico is left out: the app has no icon yet, and
    its 404 says nothing about the page.
    """
    errors: list[str] = []

    def on_console(msg):
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} ({msg.location.get('url')})")

    phone.on("pageerror", lambda error: errors.append(str(error)))
    phone.on("console", on_console)
    return errors
