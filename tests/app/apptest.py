"""Shared AppTest helpers: start the app, run it and check it raised nothing."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def new_app(*, timeout: float = 60) -> AppTest:
    """The app after its first run (it opens on the Data page with the loan sample)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.run()
    assert not at.exception
    return at


def run(node) -> AppTest:
    """Run the app (or the app of a widget just set or clicked) and check it raised nothing."""
    at = node.run()
    assert not at.exception, at.exception
    return at


def back_to_data(at: AppTest) -> AppTest:
    """After 'Confirm roles' (which opens the Overview page), go back to the Data page."""
    assert [t.value for t in at.title] == ["Overview"]
    at.switch_page("pages/data.py")
    return run(at)
