"""Audit tables page: the tables a rule asks for (NYC Local Law 144, EEOC four-fifths), with the rule's notes and
the CSV and JSON the command line writes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import ParityLabError
from analysis.bias_tables import FORMATS, BiasTables, guess_columns, table_verdict
from analysis.exports import csv_bytes
from ui import cached, state
from ui.frame import require_spec
from ui.state import W
from ui.text import md, say

NOTHING_YET = (
    "No tables yet. Confirm which columns hold the decision and the protected attributes on the Data page first."
)
FORMAT_LABELS = {
    "ll144": "NYC Local Law 144",
    "four-fifths": "EEOC four-fifths rule",
}
MODE_LABELS = {
    "selection": "Selection rates (the decision)",
    "scoring": "Scoring rates (share above the median score)",
}
CHOOSE = "Choose the protected attribute that holds {what}: none is named like it ({hints})."
KEEP_SMALL_HELP = (
    "6 RCNY § 5-301(d) lets an auditor leave a category under 2% of the data out of the impact ratios (it is still "
    "shown with its count and rate). Ticked, every category is in the ratios."
)
# The note gets the room: the numbers are short, and a note cut off would hide why a ratio is missing.
COLUMNS = {
    "category": st.column_config.TextColumn(width="medium"),
    "individuals": st.column_config.NumberColumn(format="localized", width=100),  # pixels: the headers fit
    "rate": st.column_config.TextColumn(width=80),
    "impact ratio": st.column_config.TextColumn(width=110),
    "note": st.column_config.TextColumn(width="large"),
}
ROW_HEIGHT = 35  # st.dataframe's row height in pixels
REPORT_NOTE = "The Report page's HTML report includes these tables, in the format and with the columns chosen here."


def picker(label: str, key: str, options: list[str], guess: str | None) -> str | None:
    """A column picker over the protected attributes, opening on the guess (a stale pick is dropped)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]
    index = options.index(guess) if guess in options else None
    return st.selectbox(label, options, index=index, key=key, placeholder="Choose a protected attribute")


def shown(tables: BiasTables, name: str) -> pd.DataFrame:
    """One table for the screen: rates as percentages, and words where a value is undefined or left out."""
    rows = []
    for r in tables.tables[name].rows:
        ratio = "excluded" if r.excluded else "undefined" if r.impact_ratio is None else f"{r.impact_ratio:.3f}"
        rate = "undefined (n=0)" if r.rate is None else f"{r.rate:.1%}"
        rows.append({"category": r.category, "individuals": r.n, "rate": rate, "impact ratio": ratio, "note": r.note})
    return pd.DataFrame(rows, columns=["category", "individuals", "rate", "impact ratio", "note"])


st.title("Audit tables")
st.caption("The tables a rule asks for, per category of sex, of race/ethnicity and of both, with the rule's notes.")
data, spec = require_spec(NOTHING_YET)
protected = list(spec.protected_columns)
guess_sex, guess_race = guess_columns(spec)
left, middle, right = st.columns(3)
with left:
    table_format = st.selectbox("Format", FORMATS, format_func=FORMAT_LABELS.get, key=W.TABLES_FORMAT)
with middle:
    sex = picker("Sex column", W.TABLES_SEX, protected, guess_sex)
with right:
    race = picker("Race/ethnicity column", W.TABLES_RACE, protected, guess_race)
has_decision = spec.decision is not None or spec.threshold is not None
modes = [m for m, ok in (("selection", has_decision), ("scoring", spec.score is not None)) if ok]
mode = modes[0]
if table_format == "ll144" and len(modes) > 1:
    mode = st.radio("Rates", modes, format_func=MODE_LABELS.get, key=W.TABLES_MODE, horizontal=True)
keep_small = False
if table_format == "ll144":
    keep_small = st.checkbox("Keep categories under 2% in the impact ratios", key=W.TABLES_KEEP_SMALL,
                             help=KEEP_SMALL_HELP)  # fmt: skip
guessed = [f"'{c}'" for c, g in ((sex, guess_sex), (race, guess_race)) if c is not None and c == g]
if guessed:
    st.caption(
        md(f"{' and '.join(guessed)} guessed from {'their names' if len(guessed) > 1 else 'its name'} among the "
           "protected attributes: choose others above if they do not hold sex and race/ethnicity.")
    )  # fmt: skip
if sex is None or race is None:
    missing = ("sex", "sex or gender") if sex is None else ("race/ethnicity", "race or ethnic…")
    st.info(CHOOSE.format(what=missing[0], hints=missing[1]))
    st.stop()
try:
    # A pick that is still the guess goes to the engine as a guess, so the notes say the column was guessed.
    named_sex, named_race = (None if sex == guess_sex else sex), (None if race == guess_race else race)
    tables = cached.bias_tables(
        data.data_key,
        spec.to_json(),
        table_format,
        named_sex,
        named_race,
        mode,
        not keep_small,
        cached.audited(data, spec),
    )
except ParityLabError as exc:
    st.error(say(exc))
    st.stop()
state.remember("bias_tables", (data.data_key, spec.to_json(), table_format, sex, race, mode, keep_small), tables)

st.subheader(tables.title)
st.markdown(md(f"{tables.citation}. Rate: {tables.rate_name}."))
if tables.median_score is not None:
    st.markdown(f"**Median score of the full sample:** {tables.median_score:.6g}")
for name, table in tables.tables.items():
    st.markdown(f"#### {md(name)}")
    line = f"{table.unknown:,} individuals of unknown category, counted and left out of the table."
    if tables.format == "four-fifths":
        ratio = "undefined" if table.lowest_ratio is None else f"{table.lowest_ratio:.3f}"
        line = f"Four-fifths ratio {ratio}: {table_verdict(table, tables.threshold)}. " + line
    st.caption(md(line))
    st.dataframe(
        shown(tables, name),
        hide_index=True,
        width="stretch",
        height=ROW_HEIGHT * (len(table.rows) + 1) + 3,  # every row visible: no scrolling inside a short table
        column_config=COLUMNS,
    )
st.markdown("#### Notes")
st.markdown("\n".join(f"- {md(note)}" for note in tables.notes))
stem = f"{data.name.rsplit('.', 1)[0]}-{table_format}"
left, right = st.columns(2)
left.download_button(
    "Download the tables (CSV)",
    csv_bytes(tables.to_frame()),
    file_name=f"{stem}-tables.csv",
    mime="text/csv",
    key=W.TABLES_CSV,
)
right.download_button(
    "Download the tables (JSON)",
    tables.to_json().encode("utf-8"),
    file_name=f"{stem}-tables.json",
    mime="application/json",
    key=W.TABLES_JSON,
)
st.caption(REPORT_NOTE)
