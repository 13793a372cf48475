"""Dates in several formats, read cell by cell without guessing day against month; periods."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import SpecError
from analysis.periods import parse_dates, period_labels


def _col(values, name="created"):
    return pd.Series(values, name=name, dtype=object)


def test_mixed_formats_are_read_per_cell_and_reported():
    parsed = parse_dates(
        _col(
            [
                "2024-03-05",
                "2024-03-06 14:30",
                "25/03/2024",
                "05.04.2024",
                "7 Apr 2024",
                "Apr 8, 2024",
                "45390",
                "",
                None,
            ]
        )
    )
    assert list(parsed.dates.dt.strftime("%Y-%m-%d").iloc[:7]) == [
        "2024-03-05", "2024-03-06", "2024-03-25", "2024-04-05", "2024-04-07", "2024-04-08", "2024-04-08",
    ]  # fmt: skip
    assert parsed.dates.iloc[1].hour == 14
    assert parsed.missing == 2
    names = {f.name: f.rows for f in parsed.formats}
    assert names == {"ISO": 2, "day/month/year": 1, "day.month.year": 1, "with a month name": 2,
                     "Excel serial numbers": 1}  # fmt: skip
    assert "2 ISO (2024-03-05)" in parsed.describe() and "2 missing" in parsed.describe()


def test_slash_dates_are_never_guessed():
    with pytest.raises(SpecError, match=r"'created' has 2 dates like '03/04/2024', '05/06/2024'.*dayfirst=True"):
        parse_dates(_col(["03/04/2024", "05/06/2024"]))
    day_first = parse_dates(_col(["03/04/2024", "05/06/2024"]), dayfirst=True)
    assert list(day_first.dates.dt.strftime("%Y-%m-%d")) == ["2024-04-03", "2024-06-05"]
    # One value above 12 decides for the whole column, whatever dayfirst says.
    month_first = parse_dates(_col(["03/04/2024", "05/26/2024"]), dayfirst=True)
    assert list(month_first.dates.dt.strftime("%Y-%m-%d")) == ["2024-03-04", "2024-05-26"]
    assert month_first.formats[0].name == "month/day/year"


def test_day_first_and_month_first_in_one_column_are_refused():
    with pytest.raises(
        SpecError, match=r"day-first dates \(e.g. 25/03/2024\) and month-first dates \(e.g. 03/25/2024\)"
    ):
        parse_dates(_col(["25/03/2024", "03/25/2024"]))


def test_cells_that_are_no_dates_are_named():
    with pytest.raises(SpecError, match=r"3 cells that are not dates.*'next week', '2024-13'"):
        parse_dates(_col(["2024-01-01", "next week", "2024-13", "next week"]))
    with pytest.raises(SpecError, match=r"1 cell that is not a date in any format read here \(e.g. '31/02/2024'\)"):
        parse_dates(_col(["25/01/2024", "31/02/2024"]))


def test_quarters_months_and_datetime_columns():
    parsed = parse_dates(_col(["2024Q1", "2024-Q3", "2024-02"]))
    assert list(parsed.dates.dt.strftime("%Y-%m-%d")) == ["2024-01-01", "2024-07-01", "2024-02-01"]
    already = parse_dates(pd.Series(pd.to_datetime(["2024-01-01", None]), name="d"))
    assert already.missing == 1 and already.formats[0].rows == 1


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("month", ["2024-12", "2025-01", None]),
        ("quarter", ["2024-Q4", "2025-Q1", None]),
        ("week", ["2025-W01", "2025-W01", None]),
    ],
)
def test_period_labels(period, expected):
    dates = pd.Series(pd.to_datetime(["2024-12-30", "2025-01-02", None]))
    assert list(period_labels(dates, period)) == expected


def test_unknown_period_is_refused():
    from analysis.errors import OptionError

    with pytest.raises(OptionError, match="month, quarter or week"):
        period_labels(pd.Series(pd.to_datetime(["2024-01-01"])), "year")
