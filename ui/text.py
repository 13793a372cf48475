"""Put untrusted text (column names, cell values, messages quoting them) into Markdown safely, and word the
engine's remedies by the app's own controls.

Streamlit renders Markdown in st.markdown, st.caption, st.error, labels, ...: a column
named ``![x](https://host/p.png)`` would load a remote image and ``[y](javascript:..)``
would become a link. Every data-derived string goes through :func:`md` first.

The engine says which *option* fixes a problem (:class:`analysis.wording.Remedy`); :func:`say` words
that option as the control on the page that sets it, never as a command-line flag.
"""

from __future__ import annotations

import re

from analysis.metrics import METRICS
from analysis.wording import Remedy, fill

__all__ = ["WIDGETS", "WIDGETS_GENERIC", "app_remedy", "md", "say"]

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=])")
# Escaping does not stop GFM's autolinks: "http://…", "www.…" and "a@b.c" in data would still become
# clickable links. A zero-width space inside each pattern breaks the link and keeps the text readable.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www))(?=\.)|(?=@)")
ZERO_WIDTH_SPACE = "\u200b"

# Each option a remedy may name, as the control that sets it ({value} and {column} are quoted data).
WIDGETS: dict[str, str] = {
    "decision": "choose {column} in 'Decision column' on the Data page",
    "positive": "pick {value} in 'Values that mean the positive decision' on the Data page",
    "positive_is_favorable": "set 'The positive decision benefits the person' on the Data page",
    "label": "choose {column} in 'Label column' on the Data page",
    "label_positive": "pick {value} in 'Values that mean the positive outcome' on the Data page",
    "score": "choose {column} in 'Score column' on the Data page",
    "threshold": "set 'Threshold' to {value} on the Data page",
    "protected": "add {column} to 'Protected attributes' on the Data page",
    "bins": "type edges such as {value} in 'Bin edges for {column}' on the Data page",
    "reference": "choose {value} in 'Reference group for {column}' on the Data page",
    "features": "change 'Features that may explain decisions' on the Data page",
    "id_columns": "add {column} to 'Identifier columns' on the Data page",
    "pii_columns": "add {column} to 'Personal data (PII) columns' on the Data page",
    "intersections": (
        "add {column} to 'Protected attributes' on the Data page, or click 'Drop the kept settings' there to "
        "remove the loaded spec's intersections"
    ),
    "min_group_size": "set 'Minimum group size to draw conclusions' on the Data page",
    "max_levels": "bin the attribute or merge rare values in the data",
    "na_values": "add {value} to 'Also treat these spellings as missing' under Reading options on the Data page",
    "sheet": "choose {value} in 'Excel sheet' under Reading options on the Data page",
    "max_rows": "upload a sample of the rows",
    "max_bytes": "upload a smaller file (for example a sample of the rows)",
    "max_uncompressed_bytes": "upload a smaller file",
    "max_columns": "drop the columns you do not need before uploading",
    "merge_variants": "tick 'Merge values that differ only in case, spaces or invisible characters' on the Data page",
    "decision_order": (
        "pick every value of {column}, lowest first, in 'Order of the decision values' on the Data page (clear it "
        "when they have no order)"
    ),
    # The selectbox shows descriptions, not the objective's code name, so the value is not quoted.
    "sex": "choose {value} in 'Sex column' on the Audit tables page",
    "race": "choose {value} in 'Race/ethnicity column' on the Audit tables page",
    "objective": "choose another objective in 'Objective' on the Mitigation page",
}
# The wording when a remedy names no column or value that its WIDGETS entry needs (missing ones read
# "the column" / "a value"); options absent here read well with those words.
WIDGETS_GENERIC: dict[str, str] = {
    "sex": "choose the sex column in 'Sex column' on the Audit tables page",
    "race": "choose the race/ethnicity column in 'Race/ethnicity column' on the Audit tables page",
    "threshold": "set 'Threshold' on the Data page",
    "bins": "type edges in 'Bin edges for {column}' on the Data page",
    "reference": "choose the reference group in 'Reference group for {column}' on the Data page",
    "na_values": "add the spelling to 'Also treat these spellings as missing' under Reading options on the Data page",
    "sheet": "choose the sheet in 'Excel sheet' under Reading options on the Data page",
    "positive": "pick the values in 'Values that mean the positive decision' on the Data page",
    "label_positive": "pick the values in 'Values that mean the positive outcome' on the Data page",
}


def md(text: object) -> str:
    """Escape Markdown (and HTML) so ``text`` shows literally, and never as a link."""
    text = _AUTOLINK.sub(ZERO_WIDTH_SPACE, str(text))
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _quoted(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_quoted(v) for v in value)
    return f"'{value}'"


def app_remedy(remedy: Remedy | None) -> str | None:
    """The remedy as a clause naming the control that applies it (plain text, not yet escaped)."""
    if remedy is None:
        return None
    value = None if remedy.value is None else _quoted(remedy.value)
    column = None if remedy.column is None else _quoted(remedy.column)
    return fill(WIDGETS[remedy.option], WIDGETS_GENERIC.get(remedy.option), "app", value, column)


def say(item: object) -> str:
    """An engine error, problem or notice worded for the app, escaped for Markdown.

    Anything carrying a remedy (:class:`analysis.ParityLabError`, :class:`analysis.Problem`,
    :class:`analysis.wording.Notice`) names the control to change; plain text is only escaped.
    """
    remedy = getattr(item, "remedy", None)
    if hasattr(item, "message_for"):
        return md(item.message_for("app", app_text=app_remedy(remedy)))
    if hasattr(item, "text_for"):
        return md(item.text_for("app", app_text=app_remedy(remedy)))
    return md(item)


def metric_label(name: str) -> str:
    """A metric's short name from the registry, capitalised for a card label ("Four-fifths ratio")."""
    words = METRICS[name].label
    return words[0].upper() + words[1:]


def metric_help(name: str) -> str:
    """A card's tooltip: the metric's full title and meaning, from the registry."""
    words = METRICS[name].title
    return f"{words[0].upper()}{words[1:]}: {METRICS[name].meaning}"
