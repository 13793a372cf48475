"""Bad files uploaded through the real file input: a clear message, no traceback, and the app stays usable.

One browser page (one Streamlit session) is reused for every case, as a user who keeps trying files would;
after each bad file a good one is uploaded and its roles confirmed. The files come from the Files list of
../shared/notes/bad-inputs.md; the expected fragments are the loader's own messages (analysis/loading.py) and
the Data page's server-side type check (pages/data.py ``upload_problem``).
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    ROOT,
    by_key,
    confirm_roles,
    exceptions,
    open_app,
    shot,
    start_server,
    stop_server,
    upload,
)
from ui.state import W

pytestmark = pytest.mark.slow

LOANS = ROOT / "sample_data" / "loan_approvals.csv"


def good_bytes(rows: int = 600) -> bytes:
    """The first ``rows`` rows of the loan sample: small, and every role can be suggested from it."""
    lines = LOANS.read_bytes().splitlines(keepends=True)
    return b"".join(lines[: rows + 1])


def wide_csv(columns: int) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join("1" for _ in range(columns))
    return f"{header}\n{row}\n{row}\n".encode()


# name → (file bytes, fragments the page's messages must contain). The files in LOADS are read (with a report of
# what was done); the others are refused with the loader's or the page's message.
GOOD = good_bytes()
TEXT = GOOD.decode()
LATIN1 = "applicant,gender,decision\n" + "".join(f"Jos\xe9 {i},{'FM'[i % 2]},{'YN'[i % 3 == 0]}\n" for i in range(40))
CASES: dict[str, tuple[bytes, list[str]]] = {
    "bom.csv": (b"\xef\xbb\xbf" + GOOD, ["Read 600 rows × 13 columns from bom.csv", "UTF-8 with BOM"]),
    "latin1.csv": (
        LATIN1.encode("latin-1"),
        ["Read 40 rows × 3 columns", "The file is not UTF-8 (line 2: byte 0xE9;", "decoded it as"],
    ),
    "utf16.csv": (TEXT.encode("utf-16"), ["Read 600 rows × 13 columns from utf16.csv", "UTF-16"]),
    "semicolon.csv": (GOOD.replace(b",", b";"), ["Read 600 rows × 13 columns", "semicolon-delimited"]),
    "extra_first.csv": (b"a,b,c\n1,2,3,4\n5,6,7\n", ["Line 2 has 4 fields but the header has 3 columns"]),
    "extra_later.csv": (b"a,b,c\n1,2,3\n5,6,7\n8,9,10,11\n", ["Line 4 has 4 fields but the header has 3 columns"]),
    "duplicates.csv": (b"a,b,a\n1,2,3\n", ["Column names must be unique", "'a' at columns 1 and 3"]),
    "empty.csv": (b"", ["empty.csv is empty", "got 0 bytes"]),
    "header_only.csv": (b"a,b,c\n", ["header_only.csv has a header but no data rows"]),
    "junk.csv": (bytes(range(256)) * 8, ["junk.csv does not look like a table", "found binary data"]),
    "nul.csv": (b"a,b,c\n1,\x002,3\n", ["nul.csv does not look like a table", "a NUL byte"]),
    "gzip_named.csv": (gzip.compress(GOOD), ["Read 600 rows × 13 columns", "gzip-compressed"]),
    "wide.csv": (wide_csv(20_000), ["wide.csv has 20,000 columns; the limit is 2,000"]),
    "model.pkl": (pickle.dumps({"a": 1}), ["'model.pkl' is a .pkl file", "Export it as CSV"]),
    "pickle_named.csv": (pickle.dumps({"a": 1}), ["found binary data (a Python pickle)", "never opened"]),
}
LOADS = {"bom.csv", "latin1.csv", "utf16.csv", "semicolon.csv", "gzip_named.csv"}


# ---------------------------------------------------------------- files that load, with what was changed reported


def with_columns(extra: dict, delimiter: str = ",") -> bytes:
    """The good rows with extra columns; ``extra`` maps a header to a function of the 0-based row number."""
    lines = TEXT.splitlines()
    out = [delimiter.join([*lines[0].split(","), *extra])]
    for i, line in enumerate(lines[1:]):
        out.append(delimiter.join([*line.split(","), *(cell(i) for cell in extra.values())]))
    return ("\n".join(out) + "\n").encode()


def zipped(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return buffer.getvalue()


def padded() -> bytes:
    """Cells and headers padded with spaces, as in public datasets (" Male", " >50K")."""
    lines = TEXT.splitlines()
    header = [f" {c}" if c in ("gender", "approved") else c for c in lines[0].split(",")] + [" income_band "]
    out = [",".join(header)]
    for i, line in enumerate(lines[1:]):
        cells = [f" {c}" if k in (1, 11) else c for k, c in enumerate(line.split(","))]
        out.append(",".join([*cells, " >50K" if i % 3 else " <=50K"]))
    return ("\n".join(out) + "\n").encode()


def ambiguous_missing(i: int) -> str:
    """A number column: every 10th cell is NA, - or ? in turn (60 cells), and 6 cells are N/A."""
    if i % 10 == 0:
        return ("NA", "-", "?")[i // 10 % 3]
    return "N/A" if i % 97 == 1 else str(i % 13)


# The sample's own missing values, reported in every file built from it.
SAMPLE_MISSING = [
    "Treated 7 cells of 'gender' as missing: empty, or spelled as missing (N/A, NULL, None, NaN, #N/A).",
    "Treated 23 cells of 'employment_years' as missing: empty, or spelled as missing (N/A, NULL, None, NaN, #N/A).",
]
# The app names the control that fixes it, never the Python parameter or a flag.
NA_EXAMPLE = "add 'NA', '?', '-' to 'Also treat these spellings as missing' under Reading options on the Data page"

# name → (file bytes, the load report's first line (a success alert), the changes listed under it, the warnings).
# The texts are the loader's templates (analysis/loading.py) filled in by hand for these files.
REPORTED: dict[str, tuple[bytes, str, list[str], list[str]]] = {
    # Tabs, with decimal commas (read only from a tab-, semicolon- or pipe-delimited file).
    "tab_delimited.csv": (
        with_columns({"rate": lambda i: f"{i % 7},{i % 100:02d}"}, delimiter="\t"),
        "Read 600 rows × 14 columns from tab_delimited.csv (CSV, tab-delimited, UTF-8).",
        [*SAMPLE_MISSING, "Parsed 'rate' as numbers with decimal commas (600 cells)."],
        [],
    ),
    "zip_named.csv": (
        zipped("loans.csv", GOOD),
        "Read 600 rows × 13 columns from zip_named.csv (CSV, zip-compressed, comma-delimited, UTF-8).",
        SAMPLE_MISSING,
        [],
    ),
    # Thousands separators, decimal commas in a comma-delimited file, and the ambiguous NA / - / ? spellings in a
    # text column (kept as values) and in a number column (missing, counted per spelling).
    "numbers.csv": (
        with_columns(
            {
                "savings": lambda i: f'"{1000 + i * 3457:,}"' if i % 50 else '"12,345,678"',
                "rate": lambda i: f'"{i % 9},{i % 10}"',
                "country": lambda i: ("NA", "DE", "FR", "-", "?")[i % 5],
                "bonus": ambiguous_missing,
            }
        ),
        "Read 600 rows × 17 columns from numbers.csv (CSV, comma-delimited, UTF-8).",
        [
            *SAMPLE_MISSING,
            "Parsed 'savings' as numbers with thousands separators (600 cells).",
            "Treated 67 cells of 'bonus' as missing: 7 empty, or spelled as missing (N/A, NULL, None, NaN, #N/A), "
            "'NA' (20), '?' (20), '-' (20). 'NA', '?' and '-' count as missing here because every other value in "
            "the column is a number.",
        ],
        [
            "Kept 'rate' as text: values such as '0,0' look like decimal commas, but decimal commas are read only "
            "from semicolon-, tab- or pipe-delimited files. Save the file with '.' as the decimal mark, then load "
            "it again.",
            "Kept 360 cells of 'country' as text values: 'NA' (120), '?' (120), '-' (120). In a text column they "
            "can be real values (NA is Namibia's country code; '?' is an answer in some surveys), so they were not "
            f"treated as missing. To fix it, {NA_EXAMPLE}.",
        ],
    ),
    "padded.csv": (
        padded(),
        "Read 600 rows × 14 columns from padded.csv (CSV, comma-delimited, UTF-8).",
        [
            "Trimmed surrounding spaces in 3 column names.",
            # The same change in three or more columns is one line naming them.
            "Trimmed surrounding spaces in the cells of 3 columns: 'gender' (600), 'approved' (600), "
            "'income_band' (600).",
            SAMPLE_MISSING[0],
            SAMPLE_MISSING[1],
        ],
        [],
    ),
    # Leading-zero codes, an overflow to infinity, integers beyond int64, and integers above 2**53 next to gaps.
    "codes.csv": (
        with_columns(
            {
                "branch": lambda i: f"{i % 40:03d}",
                "exposure": lambda i: "1e400" if i == 7 else f"{i / 8}",
                "account": lambda i: str(10**22 + i),
                "ref": lambda i: "" if i % 100 == 5 else str(2**53 + i),
            }
        ),
        "Read 600 rows × 17 columns from codes.csv (CSV, comma-delimited, UTF-8).",
        [
            "Treated cells that are empty, or spelled as missing (N/A, NULL, None, NaN, #N/A) as missing in 3 "
            "columns: 'gender' (7), 'employment_years' (23), 'ref' (6).",
            "Kept 'branch' as text: 600 of its values start with a zero (for example '000'), so they look like "
            "codes, not numbers.",
            "Kept 'exposure' as text: 1 of its values do not fit in a number or read as infinity or not-a-number "
            "(for example '1e400'); ParityLab never stores infinities.",
            "Kept 'account' as text: 600 of its whole numbers are beyond the 64-bit integer range (for example "
            "'10000000000000000000000').",
            "Kept 'ref' as text: 593 of its whole numbers are above 2**53 and cannot be stored exactly next to "
            "missing values (for example '9007199254740993').",
        ],
        [],
    ),
}


@pytest.fixture(scope="module")
def session_page(browser, browser_context_args, app_server) -> Iterator:
    """One page for the whole module: a user trying file after file in one session."""
    context = browser.new_context(**browser_context_args)
    context.set_default_timeout(90_000)
    page = context.new_page()
    open_app(page, app_server)
    yield page
    context.close()


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good_loans.csv"
    path.write_bytes(GOOD)
    return path


def upload_bytes(page, folder: Path, name: str, data: bytes) -> None:
    path = folder / name
    path.write_bytes(data)
    upload(page, path)


def alerts(page) -> str:
    return "\n".join(page.get_by_test_id("stAlert").all_inner_texts())


def check_usable(page, name: str, decision: str = "approved") -> None:
    """The file ``name`` is loaded, its roles are suggested, and confirming them works."""
    expect(page.get_by_test_id("stHeading").filter(has_text=name)).to_be_visible()
    expect(page.get_by_role("combobox", name="Decision column")).to_have_value(decision)
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Protected attributes")).to_contain_text("gender")
    confirm_roles(page)
    assert not exceptions(page)


def check_good_file_works(page, good_file: Path) -> None:
    """A good upload after a bad one: loaded, roles suggested, confirm works."""
    upload(page, good_file)
    expect(page.get_by_text("Read 600 rows × 13 columns from good_loans.csv")).to_be_visible()
    check_usable(page, good_file.name)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_file_shows_its_message_and_the_app_stays_usable(
    name: str, session_page, good_file: Path, tmp_path: Path, output_path: str
) -> None:
    page = session_page
    data, fragments = CASES[name]
    upload_bytes(page, tmp_path, name, data)
    shot(page, output_path, name.replace(".", "_"))
    shown = alerts(page)
    for fragment in fragments:
        assert fragment in shown, f"{name}: expected {fragment!r} in the page's messages, got:\n{shown}"
    assert not exceptions(page), f"{name}: a traceback was shown"
    assert "Traceback" not in page.content()
    if name in LOADS:
        # Read after decoding / sniffing / decompressing: it is a usable dataset by itself.
        check_usable(page, name, "decision" if name == "latin1.csv" else "approved")
    else:
        # A refused file leaves the previous dataset loaded, and says so; a good file next works.
        expect(page.get_by_text("Still working with")).to_be_visible()
        check_good_file_works(page, good_file)
        assert fragments[0] not in alerts(page), "the error of the bad file is still shown after a good upload"


# ---------------------------------------------------------------- oversized files


@pytest.fixture(scope="module")
def small_limit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server with a 1 MB upload limit, so an 'oversized' file is small enough for a quick test."""
    server = start_server(tmp_path_factory.mktemp("small") / "server.log", extra_args=("--server.maxUploadSize", "1"))
    yield server.url
    stop_server(server)


def test_file_over_the_upload_limit_is_refused_by_the_uploader(
    page, small_limit_server: str, good_file: Path, tmp_path: Path, output_path: str
) -> None:
    open_app(page, small_limit_server)
    big = tmp_path / "big.csv"
    big.write_bytes(LOANS.read_bytes())  # a valid CSV of 1.26 MB: over this server's 1 MB limit
    assert big.stat().st_size > 1024 * 1024
    upload(page, big)
    shot(page, output_path, "oversized")
    chip = by_key(page, W.UPLOAD).get_by_test_id("stFileChip")
    expect(chip).to_have_attribute("aria-invalid", "true")
    expect(chip.get_by_role("alert")).to_contain_text("File must be 1.0MB or smaller")
    # Nothing was loaded: the sample stays, no traceback.
    assert "big.csv" not in "\n".join(page.get_by_test_id("stHeading").all_inner_texts())
    assert not exceptions(page)
    check_good_file_works(page, good_file)


# ---------------------------------------------------------------- files read with changes, each reported


def report_shown(page) -> tuple[list[str], list[str], list[str]]:
    """The load report as the Data page shows it above the 'Columns' table: success alerts, the listed changes and
    the warning alerts (the roles section further down has warnings of its own)."""

    def above_columns(test_id: str) -> list[str]:
        xpath = f"//*[@data-testid='{test_id}'][following::*[@data-testid='stHeading'][normalize-space()='Columns']]"
        return [t.strip() for t in page.locator(f"xpath={xpath}").all_inner_texts()]

    changes = page.locator(
        "xpath=//*[@data-testid='stMarkdown']//li[following::*[@data-testid='stHeading'][normalize-space()='Columns']]"
    )
    return (
        above_columns("stAlertContentSuccess"),
        [t.strip() for t in changes.all_inner_texts()],
        above_columns("stAlertContentWarning"),
    )


@pytest.mark.parametrize("name", list(REPORTED))
def test_file_read_with_changes_reports_each_change(name: str, session_page, tmp_path: Path, output_path: str) -> None:
    page = session_page
    data, first, changes, warnings = REPORTED[name]
    upload_bytes(page, tmp_path, name, data)
    shot(page, output_path, name.replace(".", "_"))
    expect(page.get_by_test_id("stHeading").filter(has_text=name)).to_be_visible()
    shown_successes, shown_changes, shown_warnings = report_shown(page)
    assert shown_successes == [first], f"{name}: the first line of the report differs"
    assert shown_changes == changes, f"{name}: the changes listed differ"
    assert shown_warnings == warnings, f"{name}: the warnings differ"
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    assert not exceptions(page), f"{name}: a traceback was shown"
    check_usable(page, name)
