"""Fixtures for the real-browser tests: Debian's Chromium through pytest-playwright, and the app on a local server.

Recipe: ../shared/notes/browser-tests.md. Everything here reuses pytest-playwright's own ``playwright`` and
``browser`` fixtures: a second ``sync_playwright()`` in the same pytest run fails, and the plugin's fixtures
coexist with the AppTests of tests/app (they run in the same process).

Fixtures and helpers for the tests in this folder:

- ``app_server``: base URL of ``streamlit run app.py`` on a free port (one server per pytest session).
- ``app_page``: a fresh page with the app loaded and idle.
- ``guard``: records every request to a host other than 127.0.0.1/localhost and every JavaScript dialog of the
  test's browser context, and fails the test at teardown if there was any.

Helpers (tests/browser/helpers.py): ``wait_for_app(page)``, ``go_to(page, title)``, ``upload(page, path)``,
``confirm_roles(page)``, ``exceptions(page)``, ``shot(page, output_path, name)`` (a screenshot into the test's
output folder, test-results/..., not committed), ``start_server``/``stop_server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_FLAGS, AppServer, Guard, open_app, start_server, stop_server

HERE = Path(__file__).resolve().parent
# Playwright's 5 s default for expect() is short for a shared CI machine running the audit of 30,000 rows.
EXPECT_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 90_000


@pytest.fixture(autouse=True)
def _patient_expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this folder `browser`; skip them only when Debian's Chromium is missing."""
    reason = f"{CHROMIUM} not found: install Debian's chromium (.ci/run does) to run the browser tests"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(skip)


# ---------------------------------------------------------------- pytest-playwright overrides


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch Debian's Chromium (``--browser-channel`` cannot find it) with the offline flags."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_FLAGS}


@pytest.fixture
def context(context):
    """pytest-playwright's context, with a default timeout that suits a busy machine."""
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A desktop-sized viewport so the sidebar stays open, and downloads allowed."""
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


# ---------------------------------------------------------------- the app server


@pytest.fixture(scope="session")
def app_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app's server for the whole pytest session."""
    server = start_server(tmp_path_factory.mktemp("streamlit") / "server.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def app_server(app_server_process: AppServer) -> str:
    """Base URL of the running app, e.g. ``http://127.0.0.1:8765``."""
    return app_server_process.url


@pytest.fixture
def app_page(page, app_server: str, request: pytest.FixtureRequest):
    """A fresh page (new browser context, new Streamlit session) with the app loaded and idle."""
    if "guard" in request.fixturenames:
        request.getfixturevalue("guard")  # watch from the very first request
    open_app(page, app_server)
    return page


@pytest.fixture
def guard(context, page) -> Iterator[Guard]:
    """Opt in to fail the test when its browser context fires a dialog or requests another host."""
    recorder = Guard()
    recorder.watch(context)
    yield recorder
    recorder.check()
