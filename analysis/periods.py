"""Dates in a stranger's file, and the periods an audit over time groups them into.

A date column exported by different tools mixes spellings: ISO (``2024-03-05``), day-first
(``05/03/2024``, ``05.03.2024``), month-first (``03/05/2024``), with times, month names, Excel serial
numbers (``45356``). :func:`parse_dates` reads each cell by the format it is written in and reports how
many cells each format read, with an example. It never guesses day against month: slash dates are read
day-first only when some first field is above 12, month-first only when some second field is, and refused
with the values and the fix (``dayfirst=``) when nothing tells them apart or the column holds both.
:func:`period_labels` turns dates into months, quarters or ISO weeks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from analysis.errors import SpecError
from analysis.options import check_choice

__all__ = ["DateFormat", "ParsedDates", "parse_dates", "period_labels"]

PERIODS = ("month", "quarter", "week")
EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # Excel's day 0 (it counts 1900 as a leap year, hence the 30th)
EXCEL_SERIALS = (20_000, 80_000)  # 1954 to 2119: a whole number in this range in a date column is a serial

AMBIGUOUS = (
    "Column '{column}' has {count:,} dates like {examples} that read as day/month or month/day alike "
    "(no day above 12 tells them apart). Say which: dayfirst=True for 05/03/2024 = 5 March, dayfirst=False "
    "for 5 May."
)
MIXED_ORDER = (
    "Column '{column}' holds day-first dates (e.g. {day}) and month-first dates (e.g. {month}) written the same "
    "way. Fix the export so that one order is used, or split the file by source."
)
UNREADABLE = (
    "Column '{column}' has {count:,} {cells} that {are} not {dates} in any format read here (e.g. {examples}). "
    "Formats read: ISO 2024-03-05 (with a time), 05/03/2024, 05.03.2024, 5 Mar 2024, Mar 5, 2024, 2024-03, "
    "2024-Q1, Excel serial numbers. Correct those cells, or make them empty."
)


@dataclass(frozen=True)
class DateFormat:
    """One way the column writes dates: its name, the cells it read, and one of them."""

    name: str
    rows: int
    example: str

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict."""
        return {"name": self.name, "rows": self.rows, "example": self.example}


@dataclass(frozen=True)
class ParsedDates:
    """A date column read cell by cell: the dates (NaT where missing), and how each format was read."""

    column: str
    dates: pd.Series
    formats: tuple[DateFormat, ...]
    missing: int

    def describe(self) -> str:
        """``"Read 'created' as dates: 980 ISO (2024-03-05), 20 day-first (05/03/2024)."``."""
        parts = ", ".join(f"{f.rows:,} {f.name} ({f.example})" for f in self.formats)
        tail = f"; {self.missing:,} missing" if self.missing else ""
        return f"Read '{self.column}' as dates: {parts}{tail}."

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (without the dates)."""
        return {
            "column": self.column,
            "formats": [f.to_dict() for f in self.formats],
            "missing": self.missing,
            "description": self.describe(),
        }


# Each pattern reads one spelling; the slash form is resolved per column (day/month order) below.
_ISO = re.compile(r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
_YMD_SLASH = re.compile(r"\d{4}/\d{1,2}/\d{1,2}")
_SLASH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})( \d{1,2}:\d{2}(:\d{2})?)?")
_DOTS = re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}( \d{1,2}:\d{2}(:\d{2})?)?")
_NAMED = re.compile(r"(\d{1,2} [A-Za-z]{3,9}\.? \d{4})|([A-Za-z]{3,9}\.? \d{1,2},? \d{4})")
_MONTH = re.compile(r"\d{4}-\d{2}")
_QUARTER = re.compile(r"(\d{4})-?Q([1-4])", re.IGNORECASE)
_SERIAL = re.compile(r"\d{5}(\.\d+)?")


def _kind(text: str) -> str | None:
    for name, pattern in (
        ("ISO", _ISO),
        ("year/month/day", _YMD_SLASH),
        ("slash", _SLASH),
        ("day.month.year", _DOTS),
        ("month name", _NAMED),
        ("year-month", _MONTH),
        ("quarter", _QUARTER),
        ("Excel serial", _SERIAL),
    ):
        if pattern.fullmatch(text):
            if name == "Excel serial" and not EXCEL_SERIALS[0] <= float(text) < EXCEL_SERIALS[1]:
                return None
            return name
    return None


def _slash_order(column: str, texts: pd.Series, dayfirst: bool | None) -> bool:
    """Whether the column's slash dates are day-first; refuses to guess."""
    parts = texts.str.extract(_SLASH.pattern)
    first, second = parts[0].astype(int), parts[1].astype(int)
    day_first, month_first = first > 12, second > 12
    if day_first.any() and month_first.any():
        raise SpecError(
            MIXED_ORDER.format(column=column, day=texts[day_first].iloc[0], month=texts[month_first].iloc[0])
        )
    if day_first.any():
        return True
    if month_first.any():
        return False
    if dayfirst is None:
        examples = ", ".join(repr(v) for v in pd.unique(texts)[:3])
        raise SpecError(AMBIGUOUS.format(column=column, count=len(texts), examples=examples))
    return bool(dayfirst)


def _read(texts: pd.Series, kind: str, dayfirst: bool) -> pd.Series:
    if kind == "ISO":
        return pd.to_datetime(texts, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
    if kind == "year/month/day":
        return pd.to_datetime(texts, format="%Y/%m/%d", errors="coerce")
    if kind == "slash":
        parts = texts.str.extract(_SLASH.pattern)
        day, month = (parts[0], parts[1]) if dayfirst else (parts[1], parts[0])
        year = parts[2].where(parts[2].str.len() == 4, "20" + parts[2])
        time = parts[3].fillna("").str.strip()
        return pd.to_datetime(year + "-" + month + "-" + day + " " + time, format="mixed", errors="coerce")
    if kind == "day.month.year":
        return pd.to_datetime(texts, format="mixed", dayfirst=True, errors="coerce")
    if kind == "month name":
        return pd.to_datetime(texts.str.replace(".", "", regex=False), format="mixed", errors="coerce")
    if kind == "year-month":
        return pd.to_datetime(texts, format="%Y-%m", errors="coerce")
    if kind == "quarter":
        parts = texts.str.extract(_QUARTER.pattern)
        month = (parts[1].astype(int) - 1) * 3 + 1
        return pd.to_datetime(parts[0] + "-" + month.astype(str) + "-01", format="%Y-%m-%d")
    return EXCEL_EPOCH + pd.to_timedelta(texts.astype(float), unit="D")


_NAMES = {
    "ISO": "ISO",
    "year/month/day": "year/month/day",
    "day.month.year": "day.month.year",
    "month name": "with a month name",
    "year-month": "year-month (the 1st)",
    "quarter": "quarter (its first day)",
    "Excel serial": "Excel serial numbers",
}


def parse_dates(series: pd.Series, *, dayfirst: bool | None = None) -> ParsedDates:
    """Read a column of dates written in one or several formats, cell by cell.

    Parameters
    ----------
    series
        The column (text, numbers, or already dates).
    dayfirst
        How to read slash dates when no value tells day and month apart; None refuses to guess.

    Returns
    -------
    ParsedDates

    Raises
    ------
    SpecError
        When a cell is no date, slash dates are ambiguous and ``dayfirst`` is None, or day-first and
        month-first dates are mixed.
    """
    column = str(series.name)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        dates = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        known = int(dates.notna().sum())
        formats = (DateFormat("dates", known, str(dates.dropna().iloc[0])),) if known else ()
        return ParsedDates(column, dates, formats, int(dates.isna().sum()))
    texts = series.astype("string").str.strip()
    missing = texts.isna() | (texts == "")
    kinds = texts[~missing].map(_kind)
    dates = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    formats = []
    for kind in dict.fromkeys(kinds.dropna()):
        cells = texts[~missing][kinds == kind]
        order = _slash_order(column, cells, dayfirst) if kind == "slash" else False
        dates.loc[cells.index] = _read(cells, kind, order).to_numpy()
        name = ("day/month/year" if order else "month/day/year") if kind == "slash" else _NAMES[kind]
        formats.append(DateFormat(name, int(cells.size), str(cells.iloc[0])))
    # A cell no pattern matched, or one that matched but is no calendar date (2024-13, 31/02/2024).
    bad = ~missing & dates.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(texts[bad])[:3])
        count = int(bad.sum())
        cells, are, dates_ = ("cell", "is", "a date") if count == 1 else ("cells", "are", "dates")
        raise SpecError(
            UNREADABLE.format(column=column, count=count, cells=cells, are=are, dates=dates_, examples=examples)
        )
    formats.sort(key=lambda f: -f.rows)
    return ParsedDates(column, dates, tuple(formats), int(missing.sum()))


def period_labels(dates: pd.Series, period: str) -> pd.Series:
    """Each date's period: ``"2024-03"`` (month), ``"2024-Q1"`` (quarter) or ``"2024-W09"`` (ISO week).

    Missing dates stay missing. Labels sort in time order as text.
    """
    check_choice("period_labels", "period", period, PERIODS, "Use month, quarter or week.")
    values = pd.to_datetime(dates)
    if period == "month":
        out = values.dt.strftime("%Y-%m")
    elif period == "quarter":
        out = values.dt.year.astype("Int64").astype(str) + "-Q" + values.dt.quarter.astype("Int64").astype(str)
    else:
        iso = values.dt.isocalendar()
        out = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    return out.astype(object).where(values.notna(), None)
