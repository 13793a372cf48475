"""Tests for analysis.loading: one per bad input of shared/notes/bad-inputs.md (Files), plus properties."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import zipfile
from datetime import date, datetime

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis.loading as loading
from analysis.errors import LoadError
from analysis.loading import (
    ALWAYS_MISSING,
    DEFAULT_MAX_COLUMNS,
    Change,
    LoadedTable,
    LoadReport,
    load_table,
)
from analysis.wording import Notice, Remedy


def load(text: str | bytes, **options) -> LoadedTable:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return load_table(data, **options)


def column(table: LoadedTable, name: str) -> list:
    """A column's values, with every missing value as None (so lists compare exactly)."""
    return [None if pd.isna(value) else value for value in table.data[name].tolist()]


def kinds(table: LoadedTable, kind: str) -> list[Change]:
    return [change for change in table.report.changes if change.kind == kind]


def is_text(series: pd.Series) -> bool:
    return series.dtype == pd.StringDtype(na_value=np.nan)


# --- encodings ---------------------------------------------------------------------------------------


def test_utf8_bom_is_not_part_of_the_first_column_name():
    table = load(codecs.BOM_UTF8 + "name,age\nZoë,30\n".encode())
    assert list(table.data.columns) == ["name", "age"]
    assert column(table, "name") == ["Zoë"]
    assert table.report.encoding == "utf-8-sig"
    assert table.report.warnings == ()


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [
        ("name,city\nMüller,€uro\n".encode("cp1252"), "cp1252"),
        # 0x81 is undefined in cp1252, so only Latin-1 decodes this file.
        ("name,city\nMüller,x".encode("latin-1") + b"\x81\n", "latin-1"),
    ],
)
def test_legacy_encodings_are_detected_decoded_and_reported(payload, encoding):
    table = load(payload)
    assert column(table, "name") == ["Müller"]
    assert column(table, "city") == (["€uro"] if encoding == "cp1252" else ["x\x81"])
    assert table.report.encoding == encoding
    assert any("not UTF-8" in warning for warning in table.report.warnings)


def test_invalid_utf8_after_the_sample_falls_back_to_cp1252():
    rows = "".join(f"{i},plain\n" for i in range(20_000))
    payload = ("id,name\n" + rows + "20000,Müller\n").encode("cp1252")
    table = load(payload)
    assert table.report.encoding == "cp1252"
    assert column(table, "name")[-1] == "Müller"
    assert len(table.data) == 20_001


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_bom(codec):
    table = load("name,score\nMüller,1.5\nØre,2\n".encode(codec))
    assert column(table, "name") == ["Müller", "Øre"]
    assert column(table, "score") == [1.5, 2.0]
    assert table.report.encoding == "utf-16"
    assert any("UTF-16" in warning for warning in table.report.warnings)


@pytest.mark.parametrize(
    ("payload", "how"),
    [
        # UTF-32 LE's byte-order mark FF FE 00 00 starts like UTF-16 LE's FF FE.
        ("name,score\nMüller,1.5\nØre,2\n".encode("utf-32"), " (byte-order mark)"),
        (codecs.BOM_UTF32_BE + "name,score\nMüller,1.5\nØre,2\n".encode("utf-32-be"), " (byte-order mark)"),
        ("name,score\nMüller,1.5\nØre,2\n".encode("utf-32-le"), " without a byte-order mark"),
        ("name,score\nMüller,1.5\nØre,2\n".encode("utf-32-be"), " without a byte-order mark"),
    ],
)
def test_utf32_with_and_without_bom(payload, how):
    table = load(payload)
    assert column(table, "name") == ["Müller", "Øre"]
    assert column(table, "score") == [1.5, 2.0]
    assert table.report.encoding == "utf-32"
    assert table.report.warnings[0].startswith(f"The file is UTF-32 text{how}")


def utf8_with_bad_bytes(rows: int, bad: dict[int, bytes]) -> bytes:
    """A UTF-8 file of `rows` rows ('Zoë' in each); row i's name replaced by bad[i] (file line i + 2)."""
    lines = [b"id,name"] + [f"{i},".encode() + bad.get(i, "Zoë".encode()) for i in range(rows)]
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("rows", [50, 30_000])  # the bad bytes inside the sniffed sample, and far after it
def test_mostly_utf8_with_a_few_bad_bytes_stays_utf8_and_names_lines_and_bytes(rows):
    payload = utf8_with_bad_bytes(rows, {5: b"Zo\xeb", rows - 3: b"Ren\xe9\xe4"})
    table = load(payload)
    assert table.report.encoding == "utf-8"
    assert column(table, "name")[4:6] == ["Zoë", "Zo\ufffd"]
    assert column(table, "name")[rows - 3] == "Ren\ufffd\ufffd"
    assert table.report.warnings == (
        f"The file is UTF-8 except for 3 bytes that are not valid UTF-8 (line 7: byte 0xEB; line {rows - 1:,}: "
        "bytes 0xE9, 0xE4); shown as '\ufffd'. If letters are missing there, save the file as UTF-8 again from "
        "the program that wrote it.",
    )


def test_utf8_bom_with_a_bad_byte_is_read_not_a_crash():
    table = load(codecs.BOM_UTF8 + b"a,b\nZo\xe9,1\nZo\xc3\xab,2\n")
    assert column(table, "a") == ["Zo\ufffd", "Zoë"]
    assert "line 2: byte 0xE9" in table.report.warnings[0]


def test_legacy_fallback_names_the_first_lines_where_utf8_failed():
    payload = ("id,name\n" + "".join(f"{i},Müller\n" for i in range(20))).encode("cp1252")
    table = load(payload)
    assert table.report.encoding == "cp1252"
    assert column(table, "name") == ["Müller"] * 20
    assert table.report.warnings == (
        "The file is not UTF-8 (line 2: byte 0xFC; line 3: byte 0xFC; line 4: byte 0xFC; and 17 more bytes after "
        "line 4); decoded it as Windows-1252 (cp1252). If accented letters look wrong, save the file as UTF-8 and "
        "load it again.",
    )


# --- delimiters and row shape ------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_and_reported(delimiter):
    text = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "x y", "3"]) + "\n"
    table = load(text)
    assert list(table.data.columns) == ["a", "b", "c"]
    assert column(table, "b") == ["x y"]
    assert table.report.delimiter == delimiter


def test_semicolon_file_with_commas_in_values_splits_on_semicolons():
    table = load("name;note\nAnn;a, b, c\nBo;d, e\n")
    assert table.report.delimiter == ";"
    assert column(table, "note") == ["a, b, c", "d, e"]


def test_extra_field_on_the_first_data_row_is_refused_not_shifted():
    with pytest.raises(LoadError, match=r"Line 2 has 4 fields but the header has 3 columns") as caught:
        load("id,gender,income\n1,F,100,oops\n2,M,200\n")
    assert caught.value.line == 2
    assert "'1,F,100,oops'" in str(caught.value)


def test_extra_field_later_names_the_line_counting_physical_lines():
    # The quoted value spans lines 2-3, so the bad row starts on line 5.
    text = 'id,note\n1,"two\nlines"\n2,ok\n3,too,many\n'
    with pytest.raises(LoadError, match=r"Line 5 has 3 fields but the header has 2 columns") as caught:
        load(text)
    assert caught.value.line == 5


def test_missing_field_names_the_line():
    with pytest.raises(LoadError, match=r"Line 3 has 1 field but the header has 2 columns"):
        load("a,b\n1,2\n3\n")


def test_quoted_fields_with_embedded_newlines_and_delimiters():
    table = load('id,comment,score\n1,"line one\nline two, with comma",0.5\n2,"say ""hi""",1\n')
    assert column(table, "comment") == ["line one\nline two, with comma", 'say "hi"']
    assert column(table, "score") == [0.5, 1.0]


def test_quoted_newlines_across_parse_blocks(monkeypatch):
    monkeypatch.setattr(loading, "_BLOCK_SIZE", 1 << 12)  # many blocks, so a value straddles one
    rows = "".join(f'{i},"first\nsecond {i}"\n' for i in range(3_000))
    table = load("id,text\n" + rows)
    assert len(table.data) == 3_000
    assert column(table, "text")[2_999] == "first\nsecond 2999"


def test_duplicate_headers_are_refused_by_name_after_trimming():
    with pytest.raises(LoadError, match=r"'id' at columns 1 and 3; 'age' at columns 2 and 4") as caught:
        load("id,age,id, age \n1,2,3,4\n")
    assert caught.value.column == "id"


def test_columns_repeating_a_name_and_every_value_are_kept_once_and_reported():
    table = load("id,score,race,score,priors,priors\n1,7,A,7,0,0\n2, 3,B, 3,5,5\n")
    assert list(table.data.columns) == ["id", "score", "race", "priors"]
    assert column(table, "score") == [7, 3]
    assert [(c.column, c.count, c.detail) for c in kinds(table, "duplicate_column")] == [
        (
            "score",
            1,
            "Column 'score' appears twice in the header (columns 2 and 4) with the same value in every "
            "row; kept it once (column 2).",
        ),
        (
            "priors",
            1,
            "Column 'priors' appears twice in the header (columns 5 and 6) with the same value in every "
            "row; kept it once (column 5).",
        ),
    ]


def test_repeated_names_with_one_differing_value_are_refused_naming_only_those():
    # 'a' repeats its values, 'b' differs in the last row only: only 'b' is named.
    with pytest.raises(LoadError, match=r"appear more than once: 'b' at columns 2 and 4\. Rename") as caught:
        load("a,b,a,b\n1,x,1,x\n2,y,2,Y\n")
    assert caught.value.column == "b"


def test_an_unnamed_empty_trailing_column_is_dropped_and_reported():
    table = load("id,score,\r\n1,2,\r\n3,4,\r\n")
    assert list(table.data.columns) == ["id", "score"]
    assert kinds(table, "renamed_header") == []
    [change] = kinds(table, "dropped_empty")
    assert change.detail == (
        "Dropped 1 column at the end with no name and no value in any row (position 3): a delimiter at the end of "
        "every line, not data."
    )


def test_an_unnamed_trailing_column_with_a_value_is_kept_and_named():
    table = load("id,score,\n1,2,\n3,4,x\n")
    assert list(table.data.columns) == ["id", "score", "column_3"]
    assert column(table, "column_3") == [None, "x"]


COMPAS = "/work/datasets/compas-scores-two-years.csv"


@pytest.mark.skipif(not os.path.exists(COMPAS), reason="the public COMPAS file is not on this machine")
def test_propublica_compas_two_year_file_loads_with_its_repeated_columns_kept_once():
    table = load_table(COMPAS)
    assert table.data.shape == (7_214, 51)
    assert list(table.data.columns).count("decile_score") == 1 and list(table.data.columns).count("priors_count") == 1
    assert [c.column for c in kinds(table, "duplicate_column")] == ["decile_score", "priors_count"]
    assert table.data["decile_score"].between(1, 10).all()


def test_empty_header_names_are_named_by_position_and_reported():
    table = load("id,,score\n1,a,2\n")
    assert list(table.data.columns) == ["id", "column_2", "score"]
    assert [change.column for change in kinds(table, "renamed_header")] == ["column_2"]


def test_header_cells_spelled_like_missing_values_keep_their_names():
    table = load("None,NA,value\n1,2,3\n")
    assert list(table.data.columns) == ["None", "NA", "value"]


@pytest.mark.parametrize(
    ("payload", "got"),
    [(b"", "0 bytes"), (b"  \r\n\n\t ", "only whitespace"), (b"sep=;\r\n", "only a 'sep=' line")],
)
def test_empty_file(payload, got):
    with pytest.raises(LoadError, match=rf"upload is empty: .*got {got}"):
        load(payload)


def test_header_only_file():
    with pytest.raises(LoadError, match=r"has a header but no data rows: expected .* under its header of 3 columns"):
        load("a,b,c\n")


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        (b"\x00\x01\x02\x03binary junk", "NUL byte at offset 0"),
        (b"a,b\n1,2\x00\n", "NUL byte at offset 7"),
        (bytes(range(1, 9)) * 64, "control characters"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(1, 30)) * 10, "control characters"),
    ],
)
def test_binary_data_does_not_look_like_a_table(payload, found):
    with pytest.raises(LoadError, match=r"does not look like a table \(CSV, TSV, Parquet or Excel\)") as caught:
        load(payload)
    assert found in str(caught.value)


def test_pickles_are_refused_without_being_loaded():
    with pytest.raises(LoadError, match=r"pickle.*never opened"):
        load(pickle.dumps({"a": [1, 2]}))


def test_old_excel_files_are_explained():
    with pytest.raises(LoadError, match=r"old-style Excel \.xls"):
        load(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)


# --- compressed sources ------------------------------------------------------------------------------

CSV = b"id,group,outcome\n1,A,1\n2,B,0\n3,A,1\n"


def test_gzip_is_recognized_by_content_whatever_the_name():
    payload = gzip.compress(CSV)
    table = load(payload, name="data.txt")
    assert column(table, "group") == ["A", "B", "A"]
    assert table.report.compression == "gzip"
    assert table.report.size_bytes == len(payload)
    assert table.report.sha256 == hashlib.sha256(payload).hexdigest()


def test_gzip_bomb_is_stopped_at_the_cap():
    bomb = gzip.compress(b"0" * (8 * 1024 * 1024))  # about 8 KB that expand to 8 MB
    with pytest.raises(LoadError, match=r"decompresses to more than 1 MB; the limit is 1 MB"):
        load(bomb, max_uncompressed_bytes=1024 * 1024)


def test_truncated_gzip_is_explained():
    with pytest.raises(LoadError, match=r"gzip-compressed but could not be decompressed"):
        load(gzip.compress(CSV * 100)[:40])


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members:
            archive.writestr(member, data)
    return buffer.getvalue()


def test_zip_with_one_csv_ignoring_folders_and_mac_metadata():
    payload = zipped(("data/", b""), ("__MACOSX/._data.csv", b"junk"), ("data/data.csv", CSV))
    table = load(payload, name="upload.zip")
    assert column(table, "id") == [1, 2, 3]
    assert table.report.compression == "zip"
    assert table.report.format == "csv"


def test_zip_with_two_files_is_refused_listing_them():
    with pytest.raises(LoadError, match=r"zip archive with 2 files \('a\.csv', 'b\.csv'\); expected exactly one"):
        load(zipped(("a.csv", CSV), ("b.csv", CSV)))


def test_zip_member_larger_than_the_cap_is_refused():
    with pytest.raises(LoadError, match=r"decompresses to more than 1,000 bytes"):
        load(zipped(("big.csv", b"a\n" + b"1\n" * 5_000)), max_uncompressed_bytes=1_000)


# --- Parquet and Excel -------------------------------------------------------------------------------


def test_parquet_round_trip_with_text_treatment():
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "score": [0.5, np.nan, float("inf")],
            "gender": [" F", "N/A", "M "],
            "country": ["NA", "DE", None],
            "member": [True, False, True],
            "since": [date(2020, 1, 2), date(2021, 3, 4), date(2022, 5, 6)],
        }
    )
    table = load(frame.to_parquet(index=False), name="people.parquet")
    report = table.report
    assert (report.format, report.encoding, report.delimiter, report.compression) == ("parquet", None, None, None)
    assert table.data["id"].dtype == np.int64
    assert column(table, "score") == [0.5, None, None]  # inf is never kept
    assert column(table, "gender") == ["F", None, "M"]
    assert column(table, "country") == ["NA", "DE", None]
    assert column(table, "member") == ["true", "false", "true"]
    assert column(table, "since") == ["2020-01-02", "2021-03-04", "2022-05-06"]
    assert [(c.kind, c.column, c.count) for c in report.changes] == [
        ("infinite", "score", 1),
        ("trimmed", "gender", 2),
        ("missing", "gender", 1),
    ]
    assert len(report.warnings) == 1 and "'NA' (1)" in report.warnings[0]


def workbook_bytes() -> bytes:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Applicants"
    first.append(["id", " name ", "income", "applied", "approved"])
    first.append([1, "Ann", 52000.0, datetime(2024, 1, 2), True])
    first.append([2, "Bo", 61000.5, datetime(2024, 2, 3, 14, 30), False])
    first.append([None, None, None, None, None])  # trailing empty row: skipped
    second = book.create_sheet("Decisions")
    second.append(["case", "decision"])
    second.append(["007", "yes"])
    second.append(["008", "#N/A"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_first_sheet_by_default():
    table = load(workbook_bytes(), name="cases.xlsx")
    assert list(table.data.columns) == ["id", "name", "income", "applied", "approved"]
    assert table.data["id"].dtype == np.int64  # 1, not "1.0"
    assert column(table, "income") == [52000.0, 61000.5]
    assert column(table, "applied") == ["2024-01-02", "2024-02-03T14:30:00"]
    assert column(table, "approved") == ["TRUE", "FALSE"]
    assert (table.report.format, table.report.sheet, table.report.rows) == ("xlsx", "Applicants", 2)


@pytest.mark.parametrize("sheet", ["Decisions", 1])
def test_xlsx_chosen_sheet(sheet):
    table = load(workbook_bytes(), sheet=sheet)
    assert column(table, "case") == ["007", "008"]
    assert column(table, "decision") == ["yes", None]
    assert table.report.sheet == "Decisions"


def test_xlsx_missing_sheet_lists_the_sheets():
    with pytest.raises(LoadError, match=r"no sheet 'Totals'; its sheets are 'Applicants', 'Decisions'"):
        load(workbook_bytes(), sheet="Totals")


# --- numbers -----------------------------------------------------------------------------------------


def test_thousands_separators_are_parsed_and_reported():
    table = load('id,income\n1,"1,234"\n2,"12,345.5"\n3,-7\n4,"-1,234,567"\n')
    assert column(table, "income") == [1234.0, 12345.5, -7.0, -1234567.0]
    [change] = kinds(table, "thousands")
    assert (change.column, change.count) == ("income", 3)
    assert change.detail == "Parsed 'income' as numbers with thousands separators (3 cells)."


def test_lone_thousands_in_a_comma_file_are_integers():
    table = load('id,amount\n1,"1,234"\n2,567\n')
    assert table.data["amount"].dtype == np.int64
    assert column(table, "amount") == [1234, 567]


def test_decimal_commas_in_a_semicolon_file():
    table = load("id;price;weight\n1;3,5;1.234,5\n2;10;2,25\n")
    assert column(table, "price") == [3.5, 10.0]
    assert column(table, "weight") == [1234.5, 2.25]
    assert [change.column for change in kinds(table, "decimal_comma")] == ["price", "weight"]


def test_decimal_commas_in_a_comma_file_stay_text_with_a_warning():
    table = load('id,price\n1,"3,5"\n2,"4,25"\n')
    assert column(table, "price") == ["3,5", "4,25"]
    assert any("look like decimal commas" in warning for warning in table.report.warnings)


def test_ambiguous_commas_in_a_semicolon_file_stay_text_with_a_warning():
    table = load("id;amount\n1;1,234\n2;5,678\n")
    assert column(table, "amount") == ["1,234", "5,678"]
    assert any("thousands or for decimals" in warning for warning in table.report.warnings)


def test_dot_groups_next_to_decimal_comma_columns_stay_text_with_a_warning():
    table = load("id;amount;rate\n1;12.500;3,5\n2;1.250;4,25\n3;7;1,0\n")
    assert column(table, "amount") == ["12.500", "1.250", "7"]
    assert column(table, "rate") == [3.5, 4.25, 1.0]
    assert table.report.warnings == (
        "Kept 'amount' as text: a value such as '12.500' reads as 12.5 with '.' as the decimal mark, but as 12,500 "
        "with '.' grouping thousands, as a file with decimal commas writes it ('rate'). Save the file with one decimal "
        "mark throughout (and no thousands separators), then load it again.",
    )


def test_dot_groups_next_to_a_column_that_may_use_decimal_commas_stay_text():
    # '1,234' could be 1.234 or 1234, so '12.500' could be 12.5 or 12500: neither is guessed.
    table = load("id;amount;rate\n1;12.500;1,234\n2;1.250;5,678\n")
    assert column(table, "amount") == ["12.500", "1.250"] and column(table, "rate") == ["1,234", "5,678"]
    assert [w.split(":")[0] for w in table.report.warnings] == ["Kept 'amount' as text", "Kept 'rate' as text"]


def test_dot_groups_in_a_semicolon_file_without_decimal_commas_are_decimals():
    # Read as decimals (nothing in the file uses decimal commas), but '12.500' could be 12500: said so.
    table = load("id;amount\n1;12.500\n2;1.250\n")
    assert column(table, "amount") == [12.5, 1.25]
    assert table.report.warnings == (
        "Read 'amount' with '.' as the decimal mark: a value such as '12.500' reads as 12.5, but as 12,500 with '.' "
        "grouping thousands, as files with decimal commas write it. If the column holds thousands, save the file "
        "without thousands separators, then load it again.",
    )


@pytest.mark.parametrize("values", ["12.500;1.25", "12.500;3.2", "12.500;1.2345", "0.406;0.250"])
def test_dot_decimals_with_other_digit_counts_settle_it_without_a_warning(values):
    first, second = values.split(";")
    table = load(f"id;amount\n1;{first}\n2;{second}\n")
    assert column(table, "amount") == [float(first), float(second)] and table.report.warnings == ()


def test_dot_decimals_that_cannot_group_thousands_stay_numbers_next_to_decimal_commas():
    table = load("id;amount;rate\n1;12.5;3,5\n2;1.250;4,25\n")
    assert column(table, "amount") == [12.5, 1.25] and table.report.warnings == ()


def test_several_dot_groups_settle_thousands_in_a_semicolon_file():
    table = load("id;amount\n1;1.234.567\n2;12.500\n3;7\n")
    assert column(table, "amount") == [1_234_567, 12_500, 7]
    assert [c.detail for c in kinds(table, "thousands_dot")] == [
        "Parsed 'amount' as numbers with '.' as the thousands separator (2 cells)."
    ]


def test_booleans_and_flags_stay_text_values():
    table = load("a,b,c\nyes,Y,TRUE\nno,N,false\n")
    assert [column(table, name) for name in "abc"] == [["yes", "no"], ["Y", "N"], ["TRUE", "false"]]
    assert all(is_text(table.data[name]) for name in "abc")


@pytest.mark.parametrize("codes", [["007", "01234", "42"], ["-01", "5", "6"], ["00", "1", "2"]])
def test_leading_zeros_keep_codes_as_text(codes):
    table = load("code\n" + "\n".join(codes) + "\n")
    assert column(table, "code") == codes
    [change] = kinds(table, "kept_text")
    assert "start with a zero" in change.detail and change.column == "code"


def test_hex_after_the_sample_is_a_code_not_a_number():
    # Arrow's integer cast accepts "0x1F"; the leading-zero check keeps it text.
    table = load("x\n" + "1\n" * 300 + "0x1F\n")
    assert column(table, "x")[-1] == "0x1F"
    assert "start with a zero" in kinds(table, "kept_text")[0].detail


def test_zero_and_fractions_are_numbers_not_codes():
    table = load("x\n0\n0.5\n-0.25\n0e3\n")
    assert column(table, "x") == [0.0, 0.5, -0.25, 0.0]
    assert kinds(table, "kept_text") == []


def test_a_leading_zero_after_the_sample_still_keeps_the_column_as_text():
    values = [str(i + 1) for i in range(5_000)] + ["00042"]
    table = load("id\n" + "\n".join(values) + "\n")
    assert is_text(table.data["id"])
    assert column(table, "id")[-1] == "00042"


@pytest.mark.parametrize("value", ["1e400", "-1e400", "inf", "Infinity", "NAN"])
def test_values_that_are_not_finite_numbers_keep_the_column_as_text(value):
    table = load(f"x\n1.5\n{value}\n2\n")
    assert column(table, "x") == ["1.5", value, "2"]
    [change] = kinds(table, "kept_text")
    assert value in change.detail


def test_no_infinity_anywhere_in_numeric_columns():
    table = load("a,b\n1e308,1\n-1e308,2\n")
    values = table.data.select_dtypes("number").to_numpy()
    assert np.isfinite(values).all()


def test_integers_beyond_int64_stay_text():
    table = load("big\n99999999999999999999\n1\n")
    assert column(table, "big") == ["99999999999999999999", "1"]
    assert "64-bit integer range" in kinds(table, "kept_text")[0].detail


def test_int64_extremes_are_integers():
    table = load("x\n9223372036854775807\n-9223372036854775808\n")
    assert table.data["x"].dtype == np.int64
    assert column(table, "x") == [2**63 - 1, -(2**63)]


def test_large_integers_with_missing_values_stay_text_rather_than_lose_digits():
    table = load("id,x\n1,9007199254740993\n2,\n3,1\n")
    assert column(table, "x") == ["9007199254740993", None, "1"]
    assert "2**53" in kinds(table, "kept_text")[0].detail


def test_integers_with_missing_values_become_floats():
    table = load("id,x\n1,1\n2,\n3,3\n")
    assert table.data["x"].dtype == np.float64
    assert column(table, "x") == [1.0, None, 3.0]


def test_a_float_far_down_an_integer_column():
    table = load("x\n" + "1\n" * 3_000 + "2.5\n")
    assert table.data["x"].dtype == np.float64
    assert column(table, "x")[-1] == 2.5


def test_text_far_down_a_numeric_column_makes_it_text():
    table = load("x\n" + "1\n" * 3_000 + "many\n")
    assert is_text(table.data["x"])
    assert column(table, "x")[-1] == "many"


# --- missing values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ALWAYS_MISSING)
def test_always_missing_spellings_in_text_and_numeric_columns(spelling):
    table = load(f"name,score\nAnn,1\n{spelling},{spelling}\nBo,3\n")
    assert column(table, "name") == ["Ann", None, "Bo"]
    assert column(table, "score") == [1.0, None, 3.0]
    assert [(c.column, c.count) for c in kinds(table, "missing")] == [("name", 1), ("score", 1)]


@pytest.mark.parametrize("spelling", ["NA", "?", "-"])
def test_ambiguous_spelling_is_kept_in_a_text_column_with_a_warning(spelling):
    table = load(f"country,n\nDE,1\n{spelling},2\n{spelling},3\n")
    assert column(table, "country") == ["DE", spelling, spelling]
    [warning] = table.report.warnings
    assert f"Kept 2 cells of 'country' as text values: {spelling!r} (2)" in warning
    assert f"na_values=[{spelling!r}]" in warning
    assert kinds(table, "missing") == []


@pytest.mark.parametrize("spelling", ["NA", "?", "-"])
def test_ambiguous_spelling_is_missing_in_a_numeric_column_with_a_change(spelling):
    table = load(f"age\n31\n{spelling}\n45\n")
    assert column(table, "age") == [31.0, None, 45.0]
    [change] = kinds(table, "missing")
    assert change.count == 1
    assert f"{spelling!r} (1)" in change.detail and "every other value in the column is a number" in change.detail
    assert table.report.warnings == ()


def test_a_column_of_only_ambiguous_spellings_is_text():
    table = load("country\nNA\nNA\n")
    assert column(table, "country") == ["NA", "NA"]


def test_user_na_values_are_missing_everywhere_and_reported():
    table = load("answer,score\nyes,1\n?,?\nunknown,3\n", na_values=["?", " unknown "])
    assert column(table, "answer") == ["yes", None, None]
    assert column(table, "score") == [1.0, None, 3.0]
    assert [(c.column, c.count) for c in kinds(table, "missing")] == [("answer", 2), ("score", 1)]
    # No parameter name: the same sentence is shown in the app.
    assert "one of the extra missing spellings" in kinds(table, "missing")[0].detail
    assert table.report.warnings == ()


def test_padded_missing_spellings_are_found_after_trimming():
    table = load("name\nAnn\n  N/A \nBo\n")
    assert column(table, "name") == ["Ann", None, "Bo"]
    assert [c.kind for c in table.report.changes] == ["trimmed", "missing"]


# --- trimming, sources, names, limits ----------------------------------------------------------------


def test_padded_cells_and_headers_are_trimmed_with_counts():
    table = load(" id ,  income,gender \n1, 50 , Male\n2,60,Female\n3,70 ,\tMale \n")
    assert list(table.data.columns) == ["id", "income", "gender"]
    assert column(table, "income") == [50, 60, 70]
    assert column(table, "gender") == ["Male", "Female", "Male"]
    assert {(c.column, c.count) for c in kinds(table, "trimmed")} == {(None, 3), ("income", 2), ("gender", 2)}
    assert "Trimmed surrounding spaces in 2 cells of 'gender'." in table.report.summary()


def test_unicode_spaces_are_trimmed():
    table = load("name\n\u00a0Ann\u3000\nBo\n")
    assert column(table, "name") == ["Ann", "Bo"]


def test_path_input_derives_the_name_and_hashes_the_file(tmp_path):
    path = tmp_path / "loans.csv"
    path.write_bytes(CSV)
    table = load_table(path)
    assert table.report.name == "loans.csv"
    assert table.report.sha256 == hashlib.sha256(CSV).hexdigest()
    assert table.report.size_bytes == len(CSV)
    assert load_table(str(path), name="given.csv").report.name == "given.csv"


class Upload(io.BytesIO):
    """Like Streamlit's UploadedFile: a binary file object with a name."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name


@pytest.mark.parametrize(
    ("source", "name"),
    [
        (CSV, "upload"),
        (bytearray(CSV), "upload"),
        (memoryview(CSV), "upload"),
        (io.BytesIO(CSV), "upload"),
        (Upload(CSV, "loans.csv"), "loans.csv"),
    ],
)
def test_bytes_and_file_objects(source, name):
    table = load_table(source)
    assert column(table, "group") == ["A", "B", "A"]
    assert table.report.name == name
    assert table.report.sha256 == hashlib.sha256(CSV).hexdigest()


def test_file_object_is_read_at_most_one_byte_past_the_limit():
    class CountingReader(io.BytesIO):
        requested = 0

        def read(self, size=-1):
            CountingReader.requested += size
            return super().read(size)

    with pytest.raises(
        LoadError, match=r"upload is more than 100 bytes; the limit is 100 bytes.*pass a larger max_bytes"
    ):
        load_table(CountingReader(b"x" * 2_000), max_bytes=100)
    assert CountingReader.requested == 101


def test_path_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(int(250.3 * 1024 * 1024))  # sparse: nothing is written or read
    with pytest.raises(LoadError, match=r"huge\.csv is 250\.3 MB; the limit is 200 MB"):
        load_table(path)


def test_bytes_over_the_limit():
    with pytest.raises(LoadError, match=rf"is {len(CSV)} bytes; the limit is 10 bytes"):
        load_table(CSV, max_bytes=10)


def test_declared_upload_size_is_checked_before_reading():
    upload = Upload(b"", "big.csv")
    upload.size = 300 * 1024 * 1024
    with pytest.raises(LoadError, match=r"big\.csv is 300 MB; the limit is 200 MB"):
        load_table(upload)


def test_blank_lines_are_skipped_like_pandas_does():
    table = load("a,b\n1,2\n\n3,4\n\n")
    assert column(table, "a") == [1, 3]


def test_missing_path_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match=r"Could not open .*nowhere\.csv"):
        load_table(tmp_path / "nowhere.csv")


def test_too_many_columns():
    header = ",".join(f"c{i}" for i in range(DEFAULT_MAX_COLUMNS + 1))
    with pytest.raises(LoadError, match=r"has 2,001 columns; the limit is 2,000.*pass a larger max_columns"):
        load(header + "\n" + ",".join(["1"] * (DEFAULT_MAX_COLUMNS + 1)) + "\n")


def test_max_rows():
    with pytest.raises(LoadError, match=r"has 3 data rows; the limit is 2\. .*max_rows=3") as caught:
        load(CSV, max_rows=2)
    assert caught.value.remedy == Remedy("max_rows", 3) and "max_rows" not in caught.value.message
    assert caught.value.message_for("cli").endswith("To fix it, pass --max-rows 3.")
    assert load(CSV, max_rows=3).report.rows == 3


# --- what is not a plain table: lines above the header, totals, repeated headers, other formats ----------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "Loan decisions Q3\n\nid,sex,approved\n",
            "1 line above the header on line 3, a title or comments rather than "
            "rows of the table: line 1: 'Loan decisions Q3'.",
        ),
        (
            "# exported 2026-05-01\n# by system, v2\nid,sex,approved\n",
            "2 lines above the header on line 3, a title or "
            "comments rather than rows of the table: line 1: '# exported 2026-05-01'; line 2: '# by system, v2'.",
        ),
        # Excel writes a title cell as a full-width row, and an empty row as delimiters only.
        (
            "Loan decisions Q3,,\r\n,,\r\nid,sex,approved\r\n",
            "2 lines above the header on line 3, a title or comments "
            "rather than rows of the table: line 1: 'Loan decisions Q3,,'; line 2: ',,'.",
        ),
    ],
)
def test_title_and_comment_lines_above_the_header_are_skipped_and_named(text, shown):
    table = load(text + "1,F,yes\n2,M,no\n")
    assert list(table.data.columns) == ["id", "sex", "approved"]
    assert column(table, "sex") == ["F", "M"]
    [change] = kinds(table, "skipped_lines")
    assert change.detail == "Skipped " + shown


def test_lines_of_a_bad_row_count_the_skipped_lines():
    with pytest.raises(LoadError, match=r"Line 5 has 4 fields but the header has 3 columns"):
        load("Loan decisions Q3\n\nid,sex,approved\n1,F,yes\n2,M,no,extra\n")


def test_a_header_starting_with_hash_is_a_header():
    table = load("#id,name\n1,Ann\n2,Bo\n")
    assert list(table.data.columns) == ["#id", "name"]
    assert kinds(table, "skipped_lines") == []


def test_a_first_row_of_numbers_is_not_taken_for_a_header_below_a_title():
    # 'score' alone on line 1 over rows of numbers: no header to find, so nothing is skipped.
    table = load("score,,\n1,2,3\n4,5,6\n")
    assert list(table.data.columns) == ["score", "column_2", "column_3"]


def test_excel_sep_line_declares_the_delimiter():
    table = load(b"sep=;\r\nid;rate;note\r\n1;3,5;a,b\r\n2;4,25;c\r\n")
    assert table.report.delimiter == ";"
    assert column(table, "rate") == [3.5, 4.25]
    assert column(table, "note") == ["a,b", "c"]
    [change] = kinds(table, "delimiter_line")
    assert change.detail == (
        "Read the delimiter (semicolon) from the file's first line (line 1: 'sep=;'), as Excel writes it, and "
        "skipped that line."
    )


@pytest.mark.parametrize(
    ("tail", "shown"),
    [
        ("Total,,30\n", "1 row at the end that is totals or summaries, not records (line 4: 'Total,,30'). If it is"),
        (
            "Subtotal,,30\nGrand total,,30\n",
            "2 rows at the end that are totals or summaries, not records (line 4: 'Subtotal,,30'; "
            "line 5: 'Grand total,,30'). If one is",
        ),
        (
            "TOTAL:,,30\n\n\n",
            "1 row at the end that is totals or summaries, not records (line 4: 'TOTAL:,,30'). If it is",
        ),
        (
            ",,30\n",
            "1 row at the end that is totals or summaries, not records (line 4: ',,30'). If it is",
        ),  # the column's sum
        (
            "Total,,30\nAverage,,15\n",
            "2 rows at the end that are totals or summaries, not records (line 4: "
            "'Total,,30'; line 5: 'Average,,15'). If one is",
        ),
    ],
)
def test_trailing_total_rows_are_removed_naming_their_lines(tail, shown):
    table = load("region,sex,amount\nN,F,10\nS,M,20\n" + tail)
    assert column(table, "region") == ["N", "S"] and column(table, "amount") == [10, 20]
    [change] = kinds(table, "total_rows")
    assert change.detail == f"Removed {shown} a real record, rename its label in the file."


@pytest.mark.parametrize(
    "text",
    [
        "plan,amount\nTotal,10\nBasic,20\nTotal,30\n",  # 'Total' is a category of the column
        "region,sex,amount\nN,F,10\nS,M,20\n,,31\n",  # not the sum
        "id,sex,amount\n1,F,10\n2,M,20\n3,,30\n",  # a first cell: a record
    ],
)
def test_rows_that_only_resemble_totals_are_kept(text):
    table = load(text)
    assert kinds(table, "total_rows") == []
    assert len(table.data) == 3


def test_a_header_and_a_totals_row_only_is_refused():
    with pytest.raises(LoadError, match=r"has a header and a totals row \(line 2: 'Total,1234'\) but no data rows"):
        load("region,amount\nTotal,1234\n")


def test_repeated_header_rows_are_removed_naming_their_lines():
    text = "id,sex,approved\r\n1,F,yes\r\n2,M,no\r\nid,sex,approved\r\n3,F,yes\r\n\r\nid,sex,approved\r\n4,M,no\r\n"
    table = load(text)
    assert column(table, "id") == [1, 2, 3, 4]  # numbers again once the header rows are gone
    [change] = kinds(table, "repeated_header")
    assert change.count == 2
    assert change.detail == (
        "Removed 2 rows that repeat the header inside the data (lines 4 and 7), as when exports are joined one "
        "after another."
    )


def test_repeated_header_far_down_a_large_file_names_its_line():
    rows = [f"{i},{'F' if i % 2 else 'M'},{i % 7}" for i in range(50_000)]
    rows.insert(30_000, "id,sex,score")
    table = load("id,sex,score\n" + "\n".join(rows) + "\n")
    assert len(table.data) == 50_000 and table.data["id"].dtype == np.int64
    assert kinds(table, "repeated_header")[0].detail.startswith(
        "Removed 1 row that repeats the header inside the data (line 30,002)"
    )


def test_markdown_pipe_table_with_alignment_colons_is_read():
    table = load("| id | sex | note |\n|:---|:---:|---:|\n| 1 | F | a \\| b |\n| 2 | M |  |\n")
    assert list(table.data.columns) == ["id", "sex", "note"]
    assert column(table, "id") == [1, 2] and column(table, "note") == ["a | b", None]
    [change] = kinds(table, "markdown")
    assert change.detail == (
        "Read a Markdown table: the header on line 1, cells between '|', and the alignment line 2 "
        "('|:---|:---:|---:|') skipped."
    )


def test_markdown_row_of_the_wrong_width_names_its_line():
    with pytest.raises(LoadError, match=r"Line 4 has 3 fields but the header has 2 columns"):
        load("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 | 5 |\n")


@pytest.mark.parametrize(
    "text",
    [
        "   id sex  income\n0   1   F     100\n1   2   M     200\n",  # pandas
        "  id sex income\n1  1   F    100\n2  2   M    200\n",  # R
        " id | sex | income\n----+-----+--------\n  1 | F   |    100\n  2 | M   |    200\n(2 rows)\n",  # psql
        "+----+-----+\n| id | sex |\n+----+-----+\n|  1 | F   |\n+----+-----+\n",  # mysql
    ],
)
def test_tables_printed_for_the_screen_are_refused_saying_how_to_export(text):
    with pytest.raises(LoadError, match=r"looks like a table printed for the screen") as caught:
        load(text)
    assert "Export the table as CSV from the program that made it" in str(caught.value)
    assert "df." not in str(caught.value)
    assert f"it starts with {text.splitlines()[0]!r}" in str(caught.value)


def test_space_separated_values_are_refused_saying_so():
    rows = "".join(f"A1{i % 4} {i} A3{i % 5} 1169\n" for i in range(10))
    with pytest.raises(LoadError, match=r"has its values separated by spaces \(4 on each line, for example 'A10 0"):
        load(rows)


def test_a_header_of_numbers_is_flagged_as_probably_data():
    table = load("39, State-gov, 77516, Bachelors, 13\n50, Private, 83311, HS-grad, 9\n")
    assert table.report.warnings == (
        "The first row, read as the header, looks like data: 3 of its 5 names are numbers (for example '39'). If "
        "the file has no header row, add one naming the columns; otherwise its first record is lost and the "
        "columns are named after its values.",
    )
    assert load("region,2019,2020\nN,1,2\n").report.warnings == ()  # years are headers


def test_one_column_of_text_is_not_a_printed_table():
    assert column(load("comment\nhello world\ngood job\n"), "comment") == ["hello world", "good job"]


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (json.dumps([{"id": 1, "x": 2}, {"id": 2, "x": 3}]), "is a JSON document"),
        (json.dumps({"data": [[1, 2]]}, indent=2), "is a JSON document"),
        ('{"id": 1}\n{"id": 2}\n', "is JSON lines (one JSON object per line)"),
        ("<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>", "is an HTML page with 1 table"),
        ("<html>\n<head></head><body><p>Sign in</p></body></html>", "is an HTML page, not"),
        ('<?xml version="1.0"?>\n<rows><row id="1"/></rows>', "is an XML document"),
        (
            '<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
            "is an Excel 2003 XML spreadsheet",
        ),
        ("%PDF-1.7\n%âãÏÓ\n1 0 obj\n", "is a PDF document"),
        ("{\\rtf1\\ansi id,x}", "is an RTF document"),
    ],
)
def test_other_formats_renamed_csv_are_named(payload, what):
    with pytest.raises(LoadError, match=r"renamed\.csv " + re.escape(what)) as caught:
        load(payload, name="renamed.csv")
    assert "not a delimited table (CSV or TSV)" in str(caught.value)


def test_csv_starting_with_a_bracket_or_angle_is_still_csv():
    assert list(load("[id],name\n1,Ann\n").data.columns) == ["[id]", "name"]
    assert list(load("<id>,name\n1,Ann\n").data.columns) == ["<id>", "name"]


def test_file_edge_cases_from_real_tools():
    excel = load(codecs.BOM_UTF8 + "id,name\r\n1,Zoë\r\n2,Ann\r\n".encode())
    assert column(excel, "name") == ["Zoë", "Ann"] and excel.report.changes == ()
    assert column(load(b"id,x\n1,2\n3,4"), "x") == [2, 4]  # no newline at the end
    assert column(load(b"id,x\r\n1,a\n2,b\r\n3,c\n"), "x") == ["a", "b", "c"]  # mixed line endings


# --- the report ----------------------------------------------------------------------------------------


def test_report_summary_and_json_round_trip():
    table = load("id,gender\n1, F\n2,\n", name="small.csv")
    report = table.report
    assert report.summary() == [
        "Read 2 rows × 2 columns from small.csv (CSV, comma-delimited, UTF-8).",
        "Trimmed surrounding spaces in 1 cell of 'gender'.",
        "Treated 1 cell of 'gender' as missing: empty, or spelled as missing (N/A, NULL, None, NaN, #N/A).",
    ]
    dumped = json.dumps(report.to_dict())
    assert LoadReport.from_dict(json.loads(dumped)) == report
    assert json.dumps(LoadReport.from_dict(json.loads(dumped)).to_dict()) == dumped


def test_ambiguous_kept_is_a_notice_whose_remedy_names_na_values():
    table = load("country,x\nNA,1\n?,2\nNA,3\n")
    [warning] = table.report.warnings
    assert isinstance(warning, Notice)
    assert warning.message == (
        "Kept 3 cells of 'country' as text values: 'NA' (2), '?' (1). In a text column they can be real values "
        "(NA is Namibia's country code; '?' is an answer in some surveys), so they were not treated as missing."
    )
    assert "na_values" not in warning.message
    assert warning.remedy == Remedy("na_values", ["NA", "?"])
    assert warning.endswith("To fix it, pass na_values=['NA', '?'].")
    assert warning.text_for("cli").endswith("To fix it, pass --na-values NA '?'.")


def test_report_summary_words_notices_per_surface():
    report = load("country,x\nNA,1\n").report
    message = report.warnings[0].message
    assert report.summary()[-1] == message + " To fix it, pass na_values=['NA']."
    assert report.summary("cli")[-1] == message + " To fix it, pass --na-values NA."
    assert report.summary("app")[-1] == message


def test_report_dict_carries_notices_and_rebuilds_them():
    report = load("country,x\nNA,1\n", name="n.csv").report
    data = json.loads(json.dumps(report.to_dict()))
    assert data["warnings"] == [str(report.warnings[0])]
    assert data["notices"] == [
        {"message": report.warnings[0].message, "remedy": {"option": "na_values", "value": ["NA"], "column": None}}
    ]
    rebuilt = LoadReport.from_dict(data)
    assert rebuilt == report and rebuilt.warnings[0].remedy == Remedy("na_values", ["NA"])
    old = {key: value for key, value in data.items() if key != "notices"}  # written before notices existed
    assert LoadReport.from_dict(old).warnings == report.warnings
    assert LoadReport.from_dict(old).warnings[0].__class__ is str


def test_module_exports():
    assert set(loading.__all__) == {
        "DEFAULT_MAX_BYTES",
        "DEFAULT_MAX_COLUMNS",
        "DEFAULT_MAX_UNCOMPRESSED_BYTES",
        "Change",
        "LoadReport",
        "LoadedTable",
        "TypedColumns",
        "load_table",
        "type_counted_columns",
    }


def test_counted_columns_are_typed_as_loaded_with_changes_counted_in_rows():
    import pyarrow as pa

    text = pa.array([" a", "a", "N/A", "NA", None])
    cells = pa.table({"t": text, "x": pa.array([1.5, float("inf"), None, 2.0, 3.0])})
    typed = loading.type_counted_columns(cells, np.array([3, 4, 5, 6, 7]), name="t.parquet")
    assert typed.frame["t"].tolist()[:2] == ["a", "a"]
    assert typed.frame["t"].isna().tolist() == [False, False, True, False, True]
    assert typed.frame["x"].isna().tolist() == [False, True, True, False, False]
    assert [(c.kind, c.column, c.count) for c in typed.changes] == [
        ("trimmed", "t", 3),
        ("missing", "t", 5),
        ("infinite", "x", 4),
    ]
    assert "'NA' (6)" in typed.warnings[0]


# --- big inputs: memory-mapped, parallel, many chunks --------------------------------------------------


def wide_csv(rows: int) -> bytes:
    lines = ["id,zip,score,gender,age"]
    for i in range(rows):
        zip_code = "01234" if i == rows - 7 else str(10_000 + i % 80_000)
        gender = " Male" if i % 1_000 == 0 else ("Female" if i % 2 else "Male")
        age = "NA" if i % 997 == 0 else str(20 + i % 50)
        lines.append(f"{i},{zip_code},{(i % 100) / 100},{gender},{age}")
    return ("\n".join(lines) + "\n").encode()


def test_large_file_from_disk_matches_small_blocks(tmp_path, monkeypatch):
    payload = wide_csv(60_000)  # over 1 MB: memory-mapped, hashed in a thread, inferred in parallel
    path = tmp_path / "wide.csv"
    path.write_bytes(payload)
    table = load_table(path)
    monkeypatch.setattr(loading, "_BLOCK_SIZE", 1 << 14)  # dozens of chunks, sliced first chunk
    chunked = load_table(payload)
    pd.testing.assert_frame_equal(table.data, chunked.data)
    assert table.report.changes == chunked.report.changes
    assert table.report.sha256 == hashlib.sha256(payload).hexdigest()
    assert column(table, "zip")[-7] == "01234"
    assert table.data["score"].dtype == np.float64 and table.data["id"].dtype == np.int64
    assert sorted(set(column(table, "gender"))) == ["Female", "Male"]
    assert table.data["age"].isna().sum() == len(range(0, 60_000, 997))
    assert [(c.kind, c.column) for c in table.report.changes] == [
        ("kept_text", "zip"),
        ("trimmed", "gender"),
        ("missing", "age"),
    ]


# --- properties: LoadedTable or LoadError, nothing else ------------------------------------------------


def check_loaded_or_refused(payload: bytes, **options) -> None:
    try:
        table = load_table(payload, **options)
    except LoadError:
        return
    data, report = table.data, table.report
    assert report.rows == len(data) and report.columns == data.shape[1]
    assert data.columns.is_unique and all(isinstance(name, str) and name == name.strip() for name in data.columns)
    for name in data.columns:
        series = data[name]
        assert series.dtype in (np.int64, np.float64) or is_text(series), (name, series.dtype)
        if series.dtype == np.float64:
            assert not np.isinf(series.to_numpy()).any()
    json.dumps(report.to_dict())


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_load_or_are_refused(payload):
    check_loaded_or_refused(payload)


CELL = st.one_of(
    st.sampled_from(["", " ", "NA", "?", "-", "N/A", "null", "007", "0", "1,234", "3,5", "1e400", "-2.5", "yes"]),
    st.sampled_from(['"a,b"', '"x\ny"', '""', '"', "\t1 ", "99999999999999999999"]),
    st.integers(-(10**6), 10**6).map(str),
    st.text(alphabet="ab c;|,\t.\"'0123456789é€", max_size=6),
)


@st.composite
def csv_like(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 5))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=8))
    if draw(st.booleans()):
        rows[draw(st.integers(0, len(rows) - 1))].append("extra")
    text = "\n".join(delimiter.join(row) for row in rows) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_like(), st.sampled_from([None, ["?"], ["-999", ""]]))
def test_csv_like_text_loads_or_is_refused(payload, na_values):
    check_loaded_or_refused(payload, na_values=na_values)


def test_fractions_below_one_next_to_decimal_comma_columns_are_decimals():
    # '0.406' cannot group thousands ('0.406' would be 406 written with a leading zero group): no doubt.
    table = load("id\tratio\trate\n1\t0.406\t3,5\n2\t0.125\t4,25\n3\t-0.500\t1,0\n")
    assert column(table, "ratio") == [0.406, 0.125, -0.5] and column(table, "rate") == [3.5, 4.25, 1.0]
    assert table.report.warnings == ()


def test_repeated_header_rows_in_another_case_or_padding_are_removed():
    text = "id,sex,amount\n1,F,10\n2,M,20\nID,SEX,AMOUNT\n3,F,30\n Id , Sex ,amount \n4,M,5\n"
    table = load(text)
    assert column(table, "id") == [1, 2, 3, 4] and column(table, "amount") == [10, 20, 30, 5]
    assert column(table, "sex") == ["F", "M", "F", "M"]
    [change] = kinds(table, "repeated_header")
    assert change.count == 2
    assert change.detail == (
        "Removed 2 rows that repeat the header inside the data (lines 4 and 6), as when exports are joined one "
        "after another."
    )


def test_a_row_matching_the_header_in_some_columns_only_is_kept():
    table = load("id,sex,amount\n1,F,10\nID,SEX,30\n")
    assert kinds(table, "repeated_header") == [] and column(table, "sex") == ["F", "SEX"]


@pytest.mark.parametrize(
    ("tail", "shown"),
    [
        ("3,Sum,,30\n", "line 4: '3,Sum,,30'"),
        ("n=2,,,30\n", "line 4: 'n=2,,,30'"),
        ("3,,All,30\n", "line 4: '3,,All,30'"),
    ],
)
def test_total_labels_outside_the_first_column_are_removed(tail, shown):
    table = load("id,sex,group,amount\n1,F,a,10\n2,M,b,20\n" + tail)
    assert column(table, "id") == [1, 2] and column(table, "sex") == ["F", "M"] and column(table, "amount") == [10, 20]
    [change] = kinds(table, "total_rows")
    assert change.detail == (
        f"Removed 1 row at the end that is totals or summaries, not records ({shown}). If it is a real record, "
        "rename its label in the file."
    )


@pytest.mark.parametrize(
    "text",
    [
        "id,plan,amount\n1,Total,10\n2,Basic,20\n3,Total,30\n",  # 'Total' is a category of its column
        "id,sex,amount\n1,F,10\n2,M,20\n3,F,9000\n",  # merely a large number
    ],
)
def test_rows_with_labels_used_elsewhere_or_large_numbers_stay_records(text):
    table = load(text)
    assert kinds(table, "total_rows") == [] and column(table, "id") == [1, 2, 3]
