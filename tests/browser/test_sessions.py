"""Three users at once (the reduced benchmarks/sessions.py): each sees only its own data, and nothing fails.

Each browser context is its own Streamlit session. The three uploads are started together, so the server
parses, profiles and audits them concurrently; then every session confirms its roles and opens Fairness.
Each file's name and one of its columns carry a token unique to the session; a session's pages must show its
own token and never another's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from benchmarks.sessions import make_session_file, tokens_in
from tests.browser.helpers import (
    choose_upload,
    confirm_roles,
    exceptions,
    go_to,
    open_app,
    open_expander,
    shot,
    upload_input,
)

pytestmark = pytest.mark.slow

SESSIONS = 3
ROWS = 3_000


def test_concurrent_sessions_are_isolated(browser, browser_context_args, app_server, tmp_path: Path, output_path):
    files = [make_session_file(tmp_path, i, ROWS) for i in range(SESSIONS)]
    contexts = [browser.new_context(**browser_context_args) for _ in files]
    for ctx in contexts:
        ctx.set_default_timeout(90_000)
    try:
        pages = [ctx.new_page() for ctx in contexts]
        errors: list[str] = []
        for page in pages:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            open_app(page, app_server)
            choose_upload(page)
        # Start the three uploads before waiting for any of them.
        for page, file in zip(pages, files, strict=True):
            upload_input(page).set_input_files(str(file.path))
        seen: list[set[str]] = []
        for i, (page, file) in enumerate(zip(pages, files, strict=True)):
            expect(page.get_by_test_id("stHeading").filter(has_text=file.path.name)).to_be_visible(timeout=120_000)
            # The session's own column is offered as a feature: its name is in this page.
            open_expander(page, "Features, identifiers and personal data")
            expect(page.get_by_test_id("stMultiSelect").filter(has_text=file.column)).not_to_have_count(0)
            tokens = tokens_in(page.content())
            confirm_roles(page)
            go_to(page, "Fairness")
            expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=120_000)
            shot(page, output_path, f"session{i}_fairness")
            tokens |= tokens_in(page.content())
            seen.append(tokens)
            assert not exceptions(page), f"session {i}: {exceptions(page)}"
            assert page.get_by_test_id("stAlertContentError").count() == 0, f"session {i} shows an error"
        assert not errors, errors
        for i, (tokens, file) in enumerate(zip(seen, files, strict=True)):
            assert tokens == {file.token}, f"session {i} saw {sorted(tokens)}; its own token is {file.token}"
    finally:
        for ctx in contexts:
            ctx.close()
