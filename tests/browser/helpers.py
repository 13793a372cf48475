"""Helpers for the real-browser tests (used by conftest.py's fixtures, the tests and benchmarks/sessions.py).

Recipe: ../shared/notes/browser-tests.md.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps trying to reach the internet (component updates, sync, ...).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Schemes that never leave the browser.
IN_BROWSER_SCHEMES = {"data", "blob", "about", "chrome", "chrome-error", "devtools", "file"}
SERVER_START_TIMEOUT = 90.0
SERVER_STOP_GRACE = 15.0
APP_TIMEOUT_MS = 90_000

# ---------------------------------------------------------------- the app server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    """A ``streamlit run app.py`` process in its own process group."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_server(log: Path, *, port: int | None = None, extra_args: tuple[str, ...] = ()) -> AppServer:
    """Start the app on ``port`` (a free one by default) and wait until its health endpoint answers ``ok``."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        *extra_args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = log.open("wb")
    # Own session = own process group, so stopping it also stops anything it started.
    process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    out.close()
    server = AppServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"streamlit did not answer on {server.url} within {SERVER_START_TIMEOUT:.0f} s")


def stop_server(server: AppServer) -> None:
    """SIGTERM, then kill the whole process group if it has not exited after a grace period."""
    if server.process.poll() is not None:
        return
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(SERVER_STOP_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(5)


# ---------------------------------------------------------------- waiting and moving around


def wait_for_app(page, timeout: float = APP_TIMEOUT_MS) -> None:
    """Wait until the app is connected, its script has finished and no stale element is left — twice in a row.

    This is how Streamlit's own e2e suite waits; ``stStatusWidget`` appears too late to rely on. The state is
    read again after a short pause because a rerun requested by a script (``st.rerun``) or a widget callback
    can start just after one run ended, while the old run's elements are still in the page.
    """
    from playwright.sync_api import expect

    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout)
    idle = page.locator("[data-testid=stApp][data-test-script-state=notRunning]")
    stale = page.locator("[data-testid=stElementContainer][data-stale=true]")
    deadline = time.monotonic() + timeout / 1000
    quiet = 0
    while quiet < 2:
        # A rerun triggered just before this call may not have flipped the script state yet.
        page.wait_for_timeout(250)
        remaining = max(1.0, (deadline - time.monotonic()) * 1000)
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=remaining)
        expect(stale).to_have_count(0, timeout=remaining)
        quiet = quiet + 1 if idle.count() == 1 and stale.count() == 0 else 0
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not become idle within {timeout / 1000:.0f} s")


def open_app(page, base_url: str) -> None:
    """Load the app (a new Streamlit session) and wait for its first run."""
    page.goto(base_url)
    wait_for_app(page)


def go_to(page, title: str) -> None:
    """Open a page through the sidebar's navigation (a URL change would start a new session and lose the data)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for_app(page)


def by_key(page, key: str):
    """The element of the widget with this key (Streamlit puts ``st-key-<key>`` on its container)."""
    return page.locator(f".st-key-{key}")


def upload_input(page):
    """The Data page's file input (not the saved-spec one)."""
    from ui.state import W

    return by_key(page, W.UPLOAD).get_by_test_id("stFileUploaderDropzoneInput")


def choose_upload(page) -> None:
    """On the Data page, switch the data source to 'Upload a file'."""
    page.get_by_test_id("stRadio").get_by_text("Upload a file", exact=True).click()
    wait_for_app(page)
    upload_input(page).wait_for(state="attached")


def upload(page, path: Path | str) -> None:
    """Upload ``path`` with the Data page's file input (switching to 'Upload a file' first if needed)."""
    if upload_input(page).count() == 0:
        choose_upload(page)
    upload_input(page).set_input_files(str(path))
    wait_for_app(page)


def confirm_roles(page, *, back_to_data: bool = True) -> None:
    """Click 'Confirm roles' on the Data page, wait for the Overview page it opens, and (by default) go back to
    the Data page and check the confirmation there."""
    from playwright.sync_api import expect

    wait_for_app(page)  # not mid-rerun, when the old run's button can still be in the page too
    page.get_by_role("button", name="Confirm roles").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").filter(has_text="Overview").first).to_be_visible()
    if back_to_data:
        go_to(page, "Data")
        expect(page.get_by_text("These roles are confirmed for the audit.")).to_be_visible()


def open_expander(page, title: str) -> None:
    """Expand an ``st.expander`` by its title (its content is only in the page once it is open).

    Waits for the app first: during a rerun (e.g. the one after an upload) the old run's expander and the
    new one can both be in the page.
    """
    wait_for_app(page)
    page.get_by_test_id("stExpander").get_by_text(title, exact=True).click()
    page.wait_for_timeout(200)


def exceptions(page) -> list[str]:
    """Texts of Streamlit exception elements on the page (a traceback shown to the user)."""
    return page.get_by_test_id("stException").all_inner_texts()


def shot(page, output_path: str, name: str) -> Path:
    """A full-page screenshot into the test's output folder (kept out of git: test-results/)."""
    folder = Path(output_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------- nothing leaves the machine


def is_external(url: str) -> bool:
    """True when ``url`` would reach a host other than this machine."""
    parts = urlsplit(url)
    if parts.scheme in IN_BROWSER_SCHEMES or not parts.scheme:
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS


@dataclass
class Guard:
    """Requests to other hosts and JavaScript dialogs seen by a browser context."""

    external_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, context) -> None:
        """Record (and block) every external request and record (and dismiss) every dialog of ``context``."""

        def on_request(request) -> None:
            if is_external(request.url):
                self.external_requests.append(request.url)

        def on_dialog(dialog) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_websocket(ws) -> None:
            if is_external(ws.url):
                self.external_requests.append(ws.url)

        def route(route) -> None:
            if is_external(route.request.url):
                route.abort("blockedbyclient")
            else:
                route.fallback()

        context.on("request", on_request)
        context.on("dialog", on_dialog)
        context.on("page", lambda p: p.on("websocket", on_websocket))
        for p in context.pages:
            p.on("websocket", on_websocket)
        context.route("**/*", route)

    def check(self) -> None:
        assert not self.dialogs, f"JavaScript dialogs fired (an XSS payload ran): {self.dialogs}"
        assert not self.external_requests, f"requests left this machine: {self.external_requests}"
