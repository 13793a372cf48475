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
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["OPTIONS", "Notice", "Option", "Remedy", "Surface", "worded"]

Surface = Literal["python", "cli", "app"]


@dataclass(frozen=True)
class Option:
    """One option a user can set, as each surface spells it.

    ``python`` and ``cli`` are templates with ``{value}`` (the value, quoted for that surface) and
    ``{column}``; the app's wording is in ``ui.text``.
    """

    python: str
    cli: str
    cli_separator: str = " "  # between the items of a list value on the command line


# Every option a remedy may name. Keep the keys in step with ui.text.WIDGETS (a test checks it).
OPTIONS: dict[str, Option] = {
    "decision": Option("set decision={column}", "pass --decision {column}"),
    "positive": Option("set positive=[{value}]", "pass --positive {value}"),
    "positive_is_favorable": Option("set positive_is_favorable={value}", "pass --unfavorable if it harms the person"),
    "label": Option("set label={column}", "pass --label {column}"),
    "label_positive": Option("set label_positive=[{value}]", "pass --label-positive {value}"),
    "score": Option("set score={column}", "pass --score {column}"),
    "threshold": Option("set threshold={value}", "pass --threshold {value}"),
    "protected": Option("add {column} to protected", "pass --protected {column}"),
    "bins": Option("set the bins of {column} (e.g. bins=[{value}])", "pass --bins {column}={value}", ","),
    "reference": Option("set the reference of {column} to {value}", "pass --reference {column}={value}"),
    "features": Option("change features", "change 'features' in the spec file"),
    "id_columns": Option("add {column} to id_columns", "add {column} to 'id_columns' in the spec file"),
    "pii_columns": Option("add {column} to pii_columns", "add {column} to 'pii_columns' in the spec file"),
    "min_group_size": Option("set min_group_size={value}", "pass --min-group-size {value}"),
    "max_levels": Option("set max_levels={value}", "set 'max_levels' in the spec file"),
    "na_values": Option("pass na_values=[{value}]", "pass --na-values {value}"),
    "sheet": Option("pass sheet={value}", "pass --sheet {value}"),
    "max_rows": Option("pass max_rows={value}", "pass --max-rows {value}"),
    "merge_variants": Option("set merge_variants=True", "pass --merge-variants"),
}


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
        if surface == "python":
            value, column = _python_value(self.value), repr(self.column)
            return option.python.format(value=value, column=column)
        value = _cli_value(self.value, option.cli_separator)
        return option.cli.format(value=value, column=_cli_value(self.column or ""))

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
