"""Tests for analysis.excel: workbooks as real tools and people write them (built here, never committed)."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import openpyxl
import openpyxl.chart
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import LoadError
from analysis.excel import sheet_names, workbook_kind
from analysis.loading import LoadedTable, LoadReport, load_table
from analysis.wording import Remedy


def column(table: LoadedTable, name: str) -> list:
    return [None if pd.isna(value) else value for value in table.data[name].tolist()]


def kinds(table: LoadedTable, kind: str) -> list:
    return [change for change in table.report.changes if change.kind == kind]


def saved(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx(rows: list[list], *, title: str = "Data", merges: tuple[str, ...] = (), more: dict | None = None) -> bytes:
    """A workbook whose first sheet holds ``rows`` (with ``merges``), then the sheets in ``more``."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for reference in merges:
        sheet.merge_cells(reference)
    for other, other_rows in (more or {}).items():
        extra = book.create_sheet(other)
        for row in other_rows:
            extra.append(row)
    return saved(book)


def rezipped(data: bytes, edit) -> bytes:
    """The archive with ``edit(name, bytes) -> bytes | None`` applied to each member (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = edit(info.filename, source.read(info))
            if content is not None:
                target.writestr(info.filename, content)
    return out.getvalue()


TWO_SHEETS = xlsx(
    [["id", "decision"], [1, "yes"], [2, "no"]],
    title="Applicants",
    more={"Decisions": [["case", "outcome"], ["007", "approved"]], "Notes": [["note"], ["draft"]]},
)

# --- sheets -------------------------------------------------------------------------------------------


def test_report_lists_the_sheets_and_warns_when_several_and_none_chosen():
    table = load_table(TWO_SHEETS, name="loans.xlsx")
    report = table.report
    assert report.sheets == ("Applicants", "Decisions", "Notes")
    assert report.sheet == "Applicants"
    [warning] = report.warnings
    assert "3 sheets; read the first with cells, 'Applicants'" in warning
    assert "'Decisions', 'Notes'" in warning
    assert warning.remedy == Remedy("sheet", "Decisions")
    assert warning.text_for("cli").endswith("To fix it, pass --sheet Decisions.")


def test_a_chosen_sheet_has_no_warning_about_the_others():
    table = load_table(TWO_SHEETS, sheet="Decisions")
    assert column(table, "case") == ["007"]
    assert table.report.warnings == ()


@pytest.mark.parametrize(
    ("sheet", "read"),
    [
        (1, "Decisions"),  # int: 0-based, as in Python
        (-1, "Notes"),
        ("2", "Decisions"),  # digits that name no sheet: 1-based, as people count on the command line
        ("3", "Notes"),
        ("decisions", "Decisions"),  # letter case and surrounding spaces are forgiven when unambiguous
        (" Notes ", "Notes"),
    ],
)
def test_sheet_by_name_or_position(sheet, read):
    assert load_table(TWO_SHEETS, sheet=sheet).report.sheet == read


def test_a_sheet_named_with_digits_wins_over_the_position():
    data = xlsx([["a"], ["first"]], title="Intro", more={"2": [["b"], ["named two"]], "Third": [["c"], ["x"]]})
    assert load_table(data, sheet="2").report.sheet == "2"
    assert load_table(data, sheet="3").report.sheet == "Third"


@pytest.mark.parametrize("sheet", ["Totals", "4", "0", "²", 3, True])
def test_a_missing_sheet_names_the_sheets_with_a_remedy(sheet):
    with pytest.raises(
        LoadError, match=r"has no sheet .*; its sheets are 'Applicants', 'Decisions', 'Notes'"
    ) as caught:
        load_table(TWO_SHEETS, sheet=sheet)
    assert caught.value.remedy == Remedy("sheet", "Applicants")
    assert "sheet=" not in caught.value.message  # the wording of the fix is per surface
    assert caught.value.message_for("cli").endswith("pass --sheet Applicants.")


def test_empty_first_sheet_is_skipped_with_a_note():
    data = xlsx([], title="Cover", more={"Data": [["id", "decision"], [1, "yes"]]})
    table = load_table(data, name="book.xlsx")
    assert table.report.sheet == "Data"
    assert any("Skipped sheet 'Cover' of book.xlsx: no cells." in w for w in table.report.warnings)


def test_a_chosen_empty_sheet_names_the_others():
    data = xlsx([], title="Cover", more={"Data": [["id"], [1]]})
    with pytest.raises(LoadError, match=r"Sheet 'Cover' in upload has no cells\. Its other sheets are 'Data'\."):
        load_table(data, sheet="Cover")


def test_a_workbook_with_no_cells_at_all():
    with pytest.raises(LoadError, match=r"no cells in any sheet \('Data', 'More'\)"):
        load_table(xlsx([], more={"More": []}))


def test_chart_sheets_are_named_as_charts():
    book = openpyxl.Workbook()
    book.active.title = "Data"
    book.active.append(["id"])
    book.active.append([1])
    chart = openpyxl.chart.BarChart()
    chart.add_data(openpyxl.chart.Reference(book.active, min_col=1, min_row=1, max_row=2), titles_from_data=True)
    book.create_chartsheet("Chart").add_chart(chart)
    data = saved(book)
    with pytest.raises(LoadError, match=r"Sheet 'Chart' in upload is a chart, not a table of cells") as caught:
        load_table(data, sheet="Chart")
    assert caught.value.remedy == Remedy("sheet", "Data")
    table = load_table(data)
    assert table.report.sheets == ("Data", "Chart")
    assert table.report.warnings == ()  # a chart sheet is not another table to choose


def test_sheet_names_helper():
    assert sheet_names(TWO_SHEETS) == ("Applicants", "Decisions", "Notes")
    assert sheet_names(io.BytesIO(TWO_SHEETS)) == ("Applicants", "Decisions", "Notes")
    assert sheet_names(b"a,b\n1,2\n") == ()


def test_report_sheets_survive_the_dict_round_trip_and_old_dicts_load():
    report = load_table(TWO_SHEETS).report
    data = report.to_dict()
    assert data["sheets"] == ["Applicants", "Decisions", "Notes"]
    assert LoadReport.from_dict(data).to_dict() == data
    old = {key: value for key, value in data.items() if key != "sheets"}
    assert LoadReport.from_dict(old).sheets == ()


# --- title rows above the header ------------------------------------------------------------------

TITLED = [
    ["Loan decisions, Q3 2026"],
    [],
    ["Generated by LoanDesk 4.2 on 2026-10-01"],
    ["id", "age", "sex", "decision"],
    [1, 34, "F", "approved"],
    [2, 51, "M", "denied"],
    [3, 29, None, "approved"],
]


def test_title_rows_above_the_header_are_skipped_and_named():
    table = load_table(xlsx(TITLED))
    assert list(table.data.columns) == ["id", "age", "sex", "decision"]
    assert column(table, "age") == [34, 51, 29]
    [change] = kinds(table, "skipped_rows")
    assert change.count == 2
    assert "the header is row 4" in change.detail
    assert "row 1: 'Loan decisions, Q3 2026'" in change.detail
    assert "row 3: 'Generated by LoanDesk 4.2 on 2026-10-01'" in change.detail


def test_a_title_merged_across_the_table_is_a_title_not_a_group():
    table = load_table(xlsx(TITLED[:1] + TITLED[3:], merges=("A1:D1",)))
    assert list(table.data.columns) == ["id", "age", "sex", "decision"]
    assert kinds(table, "combined_header") == []
    assert kinds(table, "skipped_rows")[0].count == 1


def test_a_two_cell_title_row_is_not_taken_for_a_three_column_header():
    rows = [["Report", datetime(2026, 10, 1)], ["id", "group", "decision"], [1, "A", "yes"], [2, "B", "no"]]
    table = load_table(xlsx(rows))
    assert list(table.data.columns) == ["id", "group", "decision"]
    assert "row 1: 'Report', '2026-10-01'" in kinds(table, "skipped_rows")[0].detail


def test_a_header_with_an_unnamed_last_column_is_still_the_header():
    table = load_table(xlsx([["id", "group"], [1, "A", "late"], [2, "B", "ok"]]))
    assert list(table.data.columns) == ["id", "group", "column_3"]
    assert kinds(table, "skipped_rows") == []


def test_a_sheet_without_a_header_row_is_not_searched_for_one():
    table = load_table(xlsx([["Numbers"], [1, 2, 3], [4, 5, 6]]))
    assert list(table.data.columns) == ["Numbers", "column_2", "column_3"]  # read as it is, as before


def test_a_plain_sheet_has_its_header_in_the_first_row():
    table = load_table(xlsx([["id", "income"], [1, 5], [2, 6]]))
    assert list(table.data.columns) == ["id", "income"]
    assert kinds(table, "skipped_rows") == []


def test_a_header_with_an_unnamed_column_is_still_the_header():
    table = load_table(xlsx([[None, "group", "outcome"], [1, "A", 1], [2, "B", 0]]))
    assert list(table.data.columns) == ["column_1", "group", "outcome"]
    assert kinds(table, "skipped_rows") == []


def test_table_offset_from_a1_drops_the_empty_columns_around_it():
    rows = [[], [], [None, None, "Report"], [], [None, None, "id", "score", "group"]]
    rows += [[None, None, 1, 0.5, "A"], [None, None, 2, 0.7, "B"]]
    table = load_table(xlsx(rows))
    assert list(table.data.columns) == ["id", "score", "group"]
    assert column(table, "score") == [0.5, 0.7]
    [dropped] = kinds(table, "dropped_empty")
    assert (dropped.count, "(A and B)" in dropped.detail) == (2, True)
    assert "row 3: 'Report'" in kinds(table, "skipped_rows")[0].detail


def test_an_excel_table_offset_from_a1_is_read_alone():
    from openpyxl.worksheet.table import Table

    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "Loans at 2026-10-01"
    sheet["H2"] = "side note"
    for i, row in enumerate([["id", "group", "decision"], [1, "A", "yes"], [2, "B", "no"]]):
        for j, value in enumerate(row):
            sheet.cell(row=5 + i, column=3 + j, value=value)
    sheet["C9"] = "Total: 2"  # below the table, outside it
    sheet.add_table(Table(displayName="Loans", ref="C5:E7"))
    table = load_table(saved(book))
    assert list(table.data.columns) == ["id", "group", "decision"]
    assert column(table, "id") == [1, 2]
    [change] = kinds(table, "excel_table")
    assert change.count == 3
    assert change.detail == (
        "Read the Excel table 'Loans' (C5:E7) of sheet 'Sheet'. Left out the 3 filled cells outside it (titles, notes)."
    )
    assert [c.kind for c in table.report.changes] == ["excel_table"]  # no other noise about the cells around it


def test_blank_rows_inside_the_data_are_skipped_and_counted():
    table = load_table(xlsx([["id", "group"], [1, "A"], [], [None, None], [2, "B"]]))
    assert column(table, "id") == [1, 2]
    [change] = kinds(table, "blank_rows")
    assert change.count == 2 and "rows 3, 4" in change.detail


# --- merged cells ---------------------------------------------------------------------------------

GROUPED = [
    ["id", "Applicant", None, None, "Decision", None],
    [None, "age", "income", "sex", "outcome", "date"],
    [1, 34, 52000, "F", "approved", datetime(2026, 7, 1)],
    [2, 51, 61000, "M", "denied", datetime(2026, 7, 2)],
]


def test_two_row_header_with_merged_groups_is_combined():
    table = load_table(xlsx(GROUPED, merges=("A1:A2", "B1:D1", "E1:F1")))
    assert list(table.data.columns) == [
        "id",
        "Applicant age",
        "Applicant income",
        "Applicant sex",
        "Decision outcome",
        "Decision date",
    ]
    assert column(table, "Applicant income") == [52000, 61000]
    assert column(table, "Decision date") == ["2026-07-01", "2026-07-02"]
    [change] = kinds(table, "combined_header")
    assert change.count == 5
    assert "rows 1 and 2" in change.detail and "B1:D1 'Applicant'" in change.detail


def test_two_row_header_whose_unmerged_names_sit_in_the_lower_row():
    rows = [[None, "Applicant", None, "Decision"], ["id", "age", "sex", "outcome"], [1, 30, "F", "yes"]]
    table = load_table(xlsx(rows, merges=("B1:C1",)))
    assert list(table.data.columns) == ["id", "Applicant age", "Applicant sex", "Decision outcome"]


def test_a_merged_header_cell_over_data_columns_is_refused_naming_it():
    rows = [["id", "income", None, "group"], [1, 100, 200, "A"], [2, 300, 400, "B"]]
    with pytest.raises(LoadError, match=r"1 cell merged across several columns \(B1:C1 'income'\)"):
        load_table(xlsx(rows, merges=("B1:C1",)))


def test_a_wide_merged_header_cell_over_an_empty_column_is_fine():
    rows = [["id", "comment", None, "group"], [1, "ok", None, "A"], [2, "late", None, "B"]]
    table = load_table(xlsx(rows, merges=("B1:C1",)))
    assert list(table.data.columns) == ["id", "comment", "group"]
    [dropped] = kinds(table, "dropped_empty")
    assert dropped.count == 1 and "(C)" in dropped.detail


def test_merged_cells_in_the_data_are_filled_and_reported():
    rows = [["region", "id", "decision"], ["North", 1, "yes"], [None, 2, "no"], [None, 3, "yes"], ["South", 4, "no"]]
    table = load_table(xlsx(rows, merges=("A2:A4",)))
    assert column(table, "region") == ["North", "North", "North", "South"]
    [change] = kinds(table, "merged_cells")
    assert (change.column, change.count) == ("region", 2)
    assert "A2:A4" in change.detail
    assert kinds(table, "missing") == []


# --- formulas -----------------------------------------------------------------------------------------


def formula_book(cached: bool) -> bytes:
    rows = [["id", "base", "score"]] + [[i, i * 10, f"=B{i + 1}*2"] for i in range(1, 121)]
    data = xlsx(rows)
    if not cached:
        return data  # openpyxl saves formulas without results, as every script does

    def add_results(member: str, content: bytes) -> bytes:
        if member != "xl/worksheets/sheet1.xml":
            return content
        text = content.decode()
        for i in range(1, 121):
            text = text.replace(f"<f>B{i + 1}*2</f><v />", f"<f>B{i + 1}*2</f><v>{i * 20}</v>")
        return text.encode()

    return rezipped(data, add_results)


def test_formulas_without_saved_results_are_refused_naming_column_and_count():
    with pytest.raises(LoadError) as caught:
        load_table(formula_book(cached=False), name="scores.xlsx")
    message = str(caught.value)
    assert "Found 120 formulas in column 'score' of sheet 'Data' in scores.xlsx without saved results" in message
    assert "(first in cell C2)" in message
    assert "Open the file in Excel or LibreOffice, save it, and load it again." in message
    assert caught.value.column == "score"


def test_formulas_with_saved_results_read_their_values():
    table = load_table(formula_book(cached=True))
    assert column(table, "score")[:3] == [20, 40, 60]
    assert table.data["score"].dtype == "int64"


def test_a_formula_whose_saved_result_is_empty_text_is_not_refused():
    def empty_text_result(member: str, content: bytes) -> bytes:
        if member != "xl/worksheets/sheet1.xml":
            return content
        return content.replace(b'<c r="B2"><f>', b'<c r="B2" t="str"><f>')

    data = rezipped(xlsx([["id", "note"], [1, '=IF(A2>5,"big","")']]), empty_text_result)
    assert column(load_table(data), "note") == [None]


# --- Excel values -----------------------------------------------------------------------------------


def test_error_values_are_missing_and_counted_per_error():
    rows = [["id", "ratio"], [1, 0.5], [2, "#DIV/0!"], [3, "#DIV/0!"], [4, "#VALUE!"], [5, "#N/A"], [6, None]]
    table = load_table(xlsx(rows))
    assert column(table, "ratio") == [0.5, None, None, None, None, None]
    [errors] = kinds(table, "excel_error")
    assert errors.count == 4
    assert "'#DIV/0!' (2), '#N/A' (1), '#VALUE!' (1)" in errors.detail
    [missing] = kinds(table, "missing")
    assert missing.count == 1  # only the empty cell: the errors are not counted twice


def test_percentages_booleans_and_dates():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["rate", "member", "since"])
    sheet.append([0.25, True, datetime(2020, 1, 2)])
    sheet.append([0.5, False, datetime(2021, 3, 4, 9, 30)])
    sheet["A2"].number_format = "0%"
    table = load_table(saved(book))
    assert column(table, "rate") == [0.25, 0.5]  # the value, not the "25%" shown
    assert column(table, "member") == ["TRUE", "FALSE"]
    assert column(table, "since") == ["2020-01-02", "2021-03-04T09:30:00"]


def test_hidden_rows_and_columns_are_read_with_a_warning():
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [["id", "group", "secret"], [1, "A", "x"], [2, "B", "y"], [3, "A", "z"]]:
        sheet.append(row)
    sheet.row_dimensions[3].hidden = True
    sheet.column_dimensions["C"].hidden = True
    table = load_table(saved(book))
    assert column(table, "id") == [1, 2, 3]
    warnings = " ".join(table.report.warnings)
    assert "1 row of sheet 'Sheet' is hidden in the workbook (row 3), perhaps by a filter" in warnings
    assert "1 column of sheet 'Sheet' is hidden in the workbook (C)" in warnings


def test_macro_workbooks_are_read_without_running_macros():
    data = rezipped(TWO_SHEETS, lambda member, content: content)
    with zipfile.ZipFile(io.BytesIO(data), "a") as archive:
        pass
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really a macro project")
    table = load_table(buffer.getvalue(), name="tool.xlsm", sheet=0)
    assert table.report.format == "xlsm"
    assert "contains macros; they were not run" in table.report.warnings[0]
    assert "Excel with macros (not run)" in table.report.summary()[0]


def test_a_zipped_workbook_is_unzipped_then_read():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("loans.xlsx", TWO_SHEETS)
    table = load_table(buffer.getvalue(), sheet="Decisions")
    assert (table.report.compression, table.report.format, table.report.sheet) == ("zip", "xlsx", "Decisions")


# --- other workbook formats --------------------------------------------------------------------------


def ods(cells_xml: str) -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{cells_xml}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


def text_cell(value: str, extra: str = "") -> str:
    return f'<table:table-cell office:value-type="string"{extra}><text:p>{value}</text:p></table:table-cell>'


def number_cell(value: float) -> str:
    cell = f'<table:table-cell office:value-type="float" office:value="{value}">'
    return cell + f"<text:p>{value}</text:p></table:table-cell>"


def ods_row(*cells: str) -> str:
    return "<table:table-row>" + "".join(cells) + "</table:table-row>"


def test_ods_is_read_as_a_spreadsheet_not_a_zip_of_files():
    decisions = (
        '<table:table table:name="Decisions">'
        + ods_row(text_cell("id"), text_cell("decision"), text_cell("rate"))
        + ods_row(number_cell(1), text_cell("yes"), number_cell(0.25))
        + ods_row(number_cell(2), text_cell("no"), number_cell(0.5))
        + "</table:table>"
    )
    other = '<table:table table:name="Other">' + ods_row(text_cell("a")) + ods_row(text_cell("b")) + "</table:table>"
    data = ods(decisions + other)
    assert workbook_kind(data) == "ods"
    table = load_table(data, name="loans.ods")
    assert column(table, "id") == [1, 2]  # whole numbers, though OpenDocument stores 1.0
    assert column(table, "rate") == [0.25, 0.5]
    assert (table.report.format, table.report.sheet, table.report.sheets) == (
        "ods",
        "Decisions",
        ("Decisions", "Other"),
    )
    assert "OpenDocument" in table.report.summary()[0]
    assert load_table(data, sheet="Other").data.columns.tolist() == ["a"]


def test_ods_merged_cells_are_warned_about():
    sheet = (
        '<table:table table:name="S">'
        + ods_row(text_cell("region"), text_cell("id"))
        + ods_row(text_cell("North", ' table:number-rows-spanned="2"'), number_cell(1))
        + ods_row("<table:covered-table-cell/>", number_cell(2))
        + "</table:table>"
    )
    table = load_table(ods(sheet))
    assert column(table, "region") == ["North", None]
    warning = "has merged cells (in sheet 'S' or another); in an OpenDocument file"
    assert any(warning in w for w in table.report.warnings)


def test_xls_is_read():
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Loans")
    sheet.write(0, 0, "Loan decisions")
    for j, name in enumerate(["id", "age", "sex", "approved"]):
        sheet.write(2, j, name)
    for i, row in enumerate([(1, 33.0, "F", True), (2, 41.5, "M", False)], start=3):
        for j, value in enumerate(row):
            sheet.write(i, j, value)
    sheet.write(5, 0, 3)
    sheet.write(5, 1, "#DIV/0!")
    book.add_sheet("Empty")
    buffer = io.BytesIO()
    book.save(buffer)
    table = load_table(buffer.getvalue(), name="old.xls")
    assert (table.report.format, table.report.sheet, table.report.sheets) == ("xls", "Loans", ("Loans", "Empty"))
    assert list(table.data.columns) == ["id", "age", "sex", "approved"]
    assert column(table, "age") == [33.0, 41.5, None]
    assert column(table, "approved") == ["TRUE", "FALSE", None]
    assert kinds(table, "skipped_rows")[0].count == 1
    assert "Excel 97-2003" in table.report.summary()[0]


def ole(*streams: str) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"".join(s.encode("utf-16-le") for s in streams)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (ole("EncryptionInfo", "EncryptedPackage"), r"password-protected \(encrypted\) Office file"),
        (ole("WordDocument"), r"an Office 97-2003 file but not an Excel workbook"),
        (ole("Workbook"), r"old-style Excel \.xls workbook that could not be read \(CalamineError"),
    ],
)
def test_office_97_2003_files_that_cannot_be_read_are_named(payload, message):
    with pytest.raises(LoadError, match=message):
        load_table(payload)


def test_xlsb_is_named_when_it_cannot_be_read():
    data = rezipped(TWO_SHEETS, lambda member, content: None if member == "xl/workbook.xml" else content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "xl/workbook.xml" not in archive.namelist()
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/workbook.bin", b"\x00\x01 broken")
    assert workbook_kind(buffer.getvalue()) == "xlsb"
    with pytest.raises(LoadError, match=r"an Excel binary workbook \(\.xlsb\) but could not be read"):
        load_table(buffer.getvalue(), name="book.xlsb")


def test_workbook_limits_are_checked():
    rows = [["Title"], [], ["id", "group"]] + [[i, "A"] for i in range(10)]
    with pytest.raises(LoadError, match=r"has 10 data rows; the limit is 5"):
        load_table(xlsx(rows), max_rows=5)
    assert load_table(xlsx(rows), max_rows=10).report.rows == 10  # title rows do not count
    with pytest.raises(LoadError, match=r"has 3 columns; the limit is 2"):
        load_table(xlsx([["a", "b", "c"], [1, 2, 3]]), max_columns=2)


SHEET_XML = "xl/worksheets/sheet1.xml"
FUZZED = xlsx([*GROUPED, [3, "#N/A", None, "F", "yes", None]], merges=("A1:A2", "B1:D1", "E1:F1"))
DAMAGES = st.sampled_from([b"<", b">", b'"', b"<f>1</f>", b""])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), DAMAGES), max_size=4))
def test_damaged_sheet_xml_is_read_or_refused_with_a_message(edits):
    def damage(member: str, content: bytes) -> bytes:
        if member != SHEET_XML:
            return content
        data = bytearray(content)
        for at, insert in edits:
            at %= len(data)
            data[at : at + (0 if insert else 1)] = insert
        return bytes(data)

    try:
        table = load_table(rezipped(FUZZED, damage))
    except LoadError:
        return
    assert len(table.data.columns) == table.report.columns
