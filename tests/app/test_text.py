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
