"""How a fix is worded for where the user is: the Python API, the command line or the app.

An engine message says what is wrong in neutral words; when an option of the user's fixes it, the
message carries a :class:`Remedy` naming that option (and a value to set it to). The Python and
command-line wordings live here; the app words a remedy by its own widget labels (``ui.text``), so
the engine never knows a widget and the browser never shows a flag.

    Remedy("na_values", "?").text("cli")     -> "pass --na-values '?'"
    Remedy("na_values", "?").text("python")  -> "pass na_values=['?']"

:class:`Notice` is a loader or validation warning that carries its remedy: it *is* the Python-worded
string (so it prints, compares and serialises as before) and can be worded for another surface with
:meth:`Notice.text_for`.
"""

from __future__ import annotations

import shlex
import string
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["OPTIONS", "PLACEHOLDERS", "Notice", "Option", "Remedy", "Surface", "fill", "worded"]

Surface = Literal["python", "cli", "app"]


@dataclass(frozen=True)
class Option:
    """One option a user can set, as each surface spells it.

    ``python`` and ``cli`` are templates with ``{value}`` (the value, quoted for that surface) and
    ``{column}``; the app's wording is in ``ui.text``. ``python_generic`` is the Python wording when the
    remedy names no column or value that the template needs (the command line shows a metavar instead).
    """

    python: str
    cli: str
    cli_separator: str = " "  # between the items of a list value on the command line
    python_generic: str | None = None


# Every option a remedy may name. Keep the keys in step with ui.text.WIDGETS (a test checks it).
OPTIONS: dict[str, Option] = {
    "decision": Option(
        "set decision={column}", "pass --decision {column}", python_generic="set decision to the column"
    ),
    "positive": Option(
        "set positive=[{value}]",
        "pass --positive {value}",
        python_generic="set positive to the values that mean the positive decision",
    ),
    "positive_is_favorable": Option(
        "set positive_is_favorable={value}",
        "pass --unfavorable if it harms the person",
        python_generic="set positive_is_favorable=False if the positive decision harms the person",
    ),
    "label": Option("set label={column}", "pass --label {column}", python_generic="set label to the column"),
    "label_positive": Option(
        "set label_positive=[{value}]",
        "pass --label-positive {value}",
        python_generic="set label_positive to the values that mean the positive outcome",
    ),
    "score": Option("set score={column}", "pass --score {column}", python_generic="set score to the column"),
    "threshold": Option("set threshold={value}", "pass --threshold {value}", python_generic="set threshold"),
    "protected": Option("add {column} to protected", "pass --protected {column}"),
    "bins": Option(
        "set the bins of {column} (e.g. bins=[{value}])",
        "pass --bins {column}={value}",
        ",",
        python_generic="set the bins of {column}",
    ),
    "reference": Option(
        "set the reference of {column} to {value}",
        "pass --reference {column}={value}",
        python_generic="set the reference of {column}",
    ),
    "features": Option("change features", "change 'features' in the spec file"),
    "id_columns": Option("add {column} to id_columns", "add {column} to 'id_columns' in the spec file"),
    "pii_columns": Option("add {column} to pii_columns", "add {column} to 'pii_columns' in the spec file"),
    "intersections": Option(
        "add {column} to protected, or remove the intersections that use it from intersections",
        "pass --protected {column}, or remove the intersections that use it from 'intersections' in the spec file",
        python_generic="add the column to protected, or remove the intersections that use it from intersections",
    ),
    "min_group_size": Option(
        "set min_group_size={value}", "pass --min-group-size {value}", python_generic="set min_group_size"
    ),
    "max_levels": Option(
        "set max_levels={value}", "set 'max_levels' in the spec file", python_generic="set max_levels"
    ),
    "na_values": Option(
        "pass na_values=[{value}]", "pass --na-values {value}", python_generic="pass the spelling in na_values"
    ),
    "sheet": Option(
        "pass sheet={value}", "pass --sheet {value}", python_generic="pass the sheet's name or position as sheet"
    ),
    "max_rows": Option("pass max_rows={value}", "pass --max-rows {value}", python_generic="pass a larger max_rows"),
    # The command line keeps the in-memory limits (no flags for them): past them, another engine reads the rows.
    "max_bytes": Option(
        "pass max_bytes={value}",
        "pass --engine duckdb, which counts the rows out of core, with no size limit",
        python_generic="pass a larger max_bytes, or audit the file with engine='duckdb'",
    ),
    "max_uncompressed_bytes": Option(
        "pass max_uncompressed_bytes={value}",
        "pass --engine duckdb, which counts CSV, gzip-compressed CSV and Parquet out of core, with no size limit "
        "(save a workbook or a zip archive's file as CSV first)",
        python_generic="pass a larger max_uncompressed_bytes, or audit the file with engine='duckdb'",
    ),
    "max_columns": Option(
        "pass max_columns={value}", "drop the columns you do not need", python_generic="pass a larger max_columns"
    ),
    "merge_variants": Option("set merge_variants=True", "pass --merge-variants"),
    "sex": Option(
        "pass sex={column}", "pass --sex {column}", python_generic="pass sex= a protected column holding sex"
    ),
    "race": Option(
        "pass race={column}",
        "pass --race {column}",
        python_generic="pass race= a protected column holding race/ethnicity",
    ),
    "decision_order": Option(
        "set decision_order=[{value}] (lowest first), or decision_order=[] for no order",
        "pass --decision-order {value} (lowest first), or --decision-order none for no order",
        ",",
        python_generic="set decision_order to the decision's values, lowest first",
    ),
    "objective": Option("pass objective={value}", "pass --objective {value}", python_generic="pass another objective"),
}


# What stands in for a column or value a remedy does not name: a metavar on the command line, plain words elsewhere.
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "python": {"column": "the column", "value": "a value"},
    "cli": {"column": "COLUMN", "value": "VALUE"},
    "app": {"column": "the column", "value": "a value"},
}


def fill(template: str, generic: str | None, surface: Surface, value: str | None, column: str | None) -> str:
    """``template`` with the quoted ``value`` and ``column``; ``generic`` (if given) when one it needs is None.

    Parameters
    ----------
    template, generic
        Format strings with ``{value}`` and ``{column}``.
    surface
        Picks the words that stand in for a missing column or value (see :data:`PLACEHOLDERS`).
    value, column
        Already quoted for the surface, or None when the remedy names none.
    """
    needed = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    given = {"value": value, "column": column}
    if generic is not None and any(given[name] is None for name in needed):
        template = generic
    words = PLACEHOLDERS[surface]
    return template.format(**{k: words[k] if v is None else v for k, v in given.items()})


def _python_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_python_value(v) for v in value)
    return repr(value)


def _cli_value(value: Any, separator: str = " ") -> str:
    if isinstance(value, (list, tuple)):
        return separator.join(_cli_value(v) for v in value)
    return shlex.quote(str(value))


@dataclass(frozen=True)
class Remedy:
    """The option that fixes a problem, and an example value for it.

    Parameters
    ----------
    option
        A key of :data:`OPTIONS` (``"na_values"``, ``"positive"``, ``"sheet"``, ...).
    value
        The value to set it to (a scalar or a list), when there is a sensible one.
    column
        The column the option applies to, when it is per column.
    """

    option: str
    value: Any = None
    column: str | None = None

    def __post_init__(self) -> None:
        if self.option not in OPTIONS:
            raise ValueError(f"Unknown option {self.option!r} for a remedy; known: {sorted(OPTIONS)}.")

    def text(self, surface: Surface = "python") -> str:
        """The remedy as a clause for ``surface`` ("python" or "cli"; the app words it in ``ui.text``)."""
        if surface not in ("python", "cli"):
            raise ValueError(f"Remedy.text words 'python' or 'cli'; the app words remedies itself, got {surface!r}.")
        option = OPTIONS[self.option]
        column = None if self.column is None else (repr if surface == "python" else _cli_value)(self.column)
        if surface == "python":
            value = None if self.value is None else _python_value(self.value)
            return fill(option.python, option.python_generic, surface, value, column)
        value = None if self.value is None else _cli_value(self.value, option.cli_separator)
        return fill(option.cli, None, surface, value, column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"option": self.option, "value": value, "column": self.column}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Remedy:
        """Rebuild from :meth:`to_dict` output."""
        return cls(data["option"], data.get("value"), data.get("column"))


def worded(message: str, remedy: Remedy | None, surface: Surface = "python", *, app_text: str | None = None) -> str:
    """``message`` followed by its remedy for ``surface`` ("To fix it, pass --na-values '?'.")."""
    if remedy is None:
        return message
    clause = app_text if surface == "app" else remedy.text(surface)
    if not clause:
        return message
    return f"{message} To fix it, {clause}."


class Notice(str):
    """A warning that is its Python-worded text and knows its message and remedy.

    A ``str`` subclass so that lists of warnings keep printing, comparing and serialising as text.
    """

    message: str
    remedy: Remedy | None

    def __new__(cls, message: str, remedy: Remedy | None = None) -> Notice:
        self = super().__new__(cls, worded(message, remedy, "python"))
        self.message = message
        self.remedy = remedy
        return self

    def __getnewargs__(self) -> tuple[str, Remedy | None]:  # pickling (Streamlit's cache) keeps the remedy
        return (self.message, self.remedy)

    def text_for(self, surface: Surface = "python", *, app_text: str | None = None) -> str:
        """The warning worded for ``surface``."""
        return worded(self.message, self.remedy, surface, app_text=app_text)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the message and its remedy."""
        return {"message": self.message, "remedy": None if self.remedy is None else self.remedy.to_dict()}
