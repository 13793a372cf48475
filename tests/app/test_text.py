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


@pytest.mark.parametrize("option", sorted(__import__("analysis.wording").wording.OPTIONS))
def test_remedy_without_column_or_value_never_shows_a_placeholder(option):
    from analysis.wording import Remedy
    from ui.text import app_remedy

    remedy = Remedy(option)
    texts = {"python": remedy.text("python"), "cli": remedy.text("cli"), "app": app_remedy(remedy)}
    for surface, text in texts.items():
        assert "None" not in text and "''" not in text and "{" not in text, (surface, text)
    for surface in ("python", "app"):
        assert "COLUMN" not in texts[surface] and "VALUE" not in texts[surface], (surface, texts[surface])


def test_missing_column_is_worded_per_surface():
    from analysis.errors import SpecError
    from analysis.wording import Remedy
    from ui.text import say

    assert Remedy("protected").text("cli") == "pass --protected COLUMN"
    assert Remedy("protected").text("python") == "add the column to protected"
    assert Remedy("bins", column="age").text("python") == "set the bins of 'age'"
    error = SpecError("No decision column.", remedy=Remedy("decision"))
    assert say(error) == md("No decision column. To fix it, choose the column in 'Decision column' on the Data page.")


def test_data_page_wording_for_a_file_without_a_protected_attribute():
    import pandas as pd

    from analysis.spec import AuditSpec
    from analysis.validation import validate_spec
    from ui.text import say

    df = pd.DataFrame({"id": [1, 2], "sex": ["F", "M"], "x": [0, 1]})
    problems = [p for p in validate_spec(df, AuditSpec(decision="x", positive=[1])).problems if p.field == "protected"]
    assert problems and all("COLUMN" not in say(p) for p in problems)
    wanted = "add the column to 'Protected attributes' on the Data page"
    assert any(wanted in say(p).replace("\\", "") for p in problems)


def _no_cli_or_python(text):
    plain = text.replace("\\", "")
    for mark in ("--", "python -m", "`", "pd.", "df.", "=["):
        assert mark not in plain, (mark, plain)
    assert not __import__("re").search(r"\w=", plain), plain


@pytest.mark.parametrize(
    "data, limits",
    [
        (b'[{"a": 1, "b": 2}, {"a": 3, "b": 4}]', {}),
        (b"a,b\n1,2\n3,4\n", {"max_bytes": 5}),
        (b"a,b,c\n1,2,3\n", {"max_columns": 2}),
    ],
)
def test_loader_errors_reach_the_page_without_code(data, limits):
    from analysis.errors import LoadError
    from analysis.loading import load_table
    from ui.text import say

    with pytest.raises(LoadError) as raised:
        load_table(data, name="upload.csv", **limits)
    _no_cli_or_python(say(raised.value))


def test_engine_messages_that_reach_pages_carry_no_code():
    import importlib

    from analysis import audit_json, optimizer, spec
    from analysis.errors import SpecError
    from analysis.wording import Remedy
    from ui.text import say

    audit = importlib.import_module("analysis.audit")
    texts = [
        say(audit_json.damaged("attributes", "is missing")),
        say(audit.NOT_AN_AUDIT.format(kind="a list")),
        say(spec.SPEC_EMPTY),
        say(SpecError(optimizer.NEEDS_LABEL.format(constraint="equal_opportunity"), remedy=Remedy("label"))),
        say(SpecError(optimizer.NEEDS_LABEL_OBJECTIVE.format(objective="cost"), remedy=Remedy("objective"))),
    ]
    for text in texts:
        _no_cli_or_python(text)
    report = (__import__("pathlib").Path(__file__).parents[2] / "pages" / "report.py").read_text(encoding="utf-8")
    assert "python -m analysis audit --json" not in report
