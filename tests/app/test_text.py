"""ui.text.md: untrusted text shows literally in Streamlit's Markdown — no markup, no links."""

from __future__ import annotations

import re

import pytest

from ui.text import ZERO_WIDTH_SPACE, md


@pytest.mark.parametrize(
    "text",
    [
        "![x](http://example.com/x.png)",
        "[click](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "# heading *bold* `code` | table |",
        '=HYPERLINK("http://evil","x")',
    ],
)
def test_markup_characters_are_escaped(text):
    out = md(text)
    # Every Markdown/HTML special character is backslash-escaped; nothing else is added but zero-width spaces.
    assert re.sub(r"\\(.)", r"\1", out).replace(ZERO_WIDTH_SPACE, "") == text
    assert not re.search(r"(?<!\\)[\[\]()<>!*`#|]", out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see http://example.com/x", "http\\:\u200b//example\\.com/x"),
        ("HTTPS://Example.org", "HTTPS\\:\u200b//Example\\.org"),
        ("www.example.com", "www\u200b\\.example\\.com"),
        ("WWW.example.com", "WWW\u200b\\.example\\.com"),
        ("mail a@b.com", "a\u200b@b\\.com"),
    ],
)
def test_autolink_patterns_are_broken(text, expected):
    # GFM autolinks bare URLs and e-mail addresses even when escaped (seen in Chromium): break them.
    assert expected in md(text)


def test_plain_text_and_newlines():
    assert md("Group A, 1 234 rows") == "Group A, 1 234 rows"
    assert md("two\nlines") == "two lines"


def test_every_remedy_option_has_app_wording():
    from analysis.wording import OPTIONS
    from ui.text import WIDGETS

    assert set(WIDGETS) == set(OPTIONS)


def test_say_names_the_control_not_the_flag():
    from analysis.errors import LoadError
    from analysis.wording import Notice, Remedy
    from ui.text import say

    error = LoadError("3 cells of 'x' hold '?'.", remedy=Remedy("na_values", "?"))
    assert "--na-values" in error.message_for("cli")
    assert "na_values=['?']" in str(error)
    worded = say(error)
    assert "Also treat these spellings as missing" in worded and "--" not in worded and "na_values" not in worded
    notice = Notice("Sheet 'A' was read.", Remedy("sheet", "B"))
    assert say(notice).endswith("under Reading options on the Data page\\.")
    assert notice == "Sheet 'A' was read. To fix it, pass sheet='B'."
