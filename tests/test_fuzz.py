"""Bounded fuzzing of the engine's path: load → suggest / validate spec → audit.

Generated tables (mixed types, missing values, unicode, empty strings, one group, constant columns, huge
values) and mutated bytes of the bundled samples (bit flips, truncation, inserted delimiters, quotes, NULs,
BOMs) go through the same path the app takes. Only ParityLabError may come out: any other exception is a bug.
The example counts keep the whole file within ~30 s in CI; ``derandomize`` makes every run test the same cases.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analysis import AuditSpec, ParityLabError, ProtectedAttribute, load_table, validate_spec
from analysis.audit import audit
from analysis.suggest import suggest_spec

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {
    "loans": (ROOT / "sample_data" / "loan_approvals.csv").read_bytes()[:6_000],
    "tickets": (ROOT / "sample_data" / "support_tickets.csv").read_bytes()[:6_000],
}
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def check_result_is_json_safe(result) -> None:
    """Every number the audit reports is finite or None (never NaN or infinity)."""
    import json

    def walk(value):
        if isinstance(value, float):
            assert math.isfinite(value), value
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    data = result.to_dict()
    walk(data)
    json.dumps(data, allow_nan=False)


def engine_path(df: pd.DataFrame, spec: AuditSpec | None = None) -> None:
    """What the app does with a table: suggest a spec (or take ``spec``), validate it, audit it."""
    if spec is None:
        spec = suggest_spec(df)
    check = validate_spec(df, spec)
    check.raise_for_errors()
    check_result_is_json_safe(audit(df, spec))


def only_own_errors(call, *args) -> None:
    """Run ``call``; a ParityLabError (a refusal with a message) is a correct answer to a bad input."""
    try:
        call(*args)
    except ParityLabError as exc:
        event(f"refused: {type(exc).__name__}")
    else:
        event("audited")


# ---------------------------------------------------------------- generated tables

# No NUL (binary) and no bare CR: pandas' to_csv leaves a lone CR unquoted, which every reader takes as a line end.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=6)
GROUPS = st.one_of(
    st.sampled_from(["A", "B", "Ünïcødé", "", " A ", "NA", "-", "?", "群", "<b>x</b>", "=1+1"]),
    TEXT,
)
DECISIONS = st.sampled_from(["Y", "N", "yes", "no", 0, 1, True, False, "Approved", "Denied", None, 0.5, 2])
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.just(1e308),
    st.none(),
)


@st.composite
def tables(draw) -> pd.DataFrame:
    rows = draw(st.integers(min_value=0, max_value=60))
    groups = draw(st.lists(GROUPS, min_size=1, max_size=4))
    decisions = draw(st.lists(DECISIONS, min_size=2, max_size=3, unique_by=repr))
    data = {
        "group": [draw(st.sampled_from([*groups, None])) for _ in range(rows)],
        # Cycling through the drawn values gives most tables two decision values or more.
        "decision": [decisions[i % len(decisions)] for i in range(rows)]
        if draw(st.booleans())
        else [draw(st.sampled_from(decisions)) for _ in range(rows)],
        "label": [draw(st.sampled_from([0, 1, None, "x"])) for _ in range(rows)] if draw(st.booleans()) else None,
        "score": [draw(NUMBERS) for _ in range(rows)],
        "constant": [draw(st.sampled_from(["same", 7]))] * rows,
        "note": [draw(TEXT) for _ in range(rows)],
    }
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items() if v is not None})


def spec_for(df: pd.DataFrame, pick: int, with_score: bool) -> AuditSpec:
    """A hand-made spec: the ``pick``-th distinct decision value is positive (so it exists in the column)."""
    values = list(dict.fromkeys(v for v in df["decision"] if not pd.isna(v))) if "decision" in df.columns else []
    return AuditSpec(
        decision="decision",
        positive=(values[pick % len(values)],) if values else ("Y",),
        label="label" if "label" in df.columns else None,
        label_positive=(1,) if "label" in df.columns else (),
        score="score" if with_score else None,
        protected=(ProtectedAttribute("group"),),
        min_group_size=1,
    )


@FUZZ
@given(df=tables(), pick=st.integers(min_value=0, max_value=3), with_score=st.booleans())
def test_generated_tables_through_csv(df, pick, with_score):
    """A generated table written as CSV, loaded, and audited under the suggested and a hand-made spec."""
    payload = df.to_csv(index=False).encode()
    try:
        table = load_table(payload, name="generated.csv")
    except ParityLabError:
        event("not loaded")
        return
    only_own_errors(engine_path, table.data)
    only_own_errors(engine_path, table.data, spec_for(table.data, pick, with_score))


@FUZZ
@given(df=tables(), pick=st.integers(min_value=0, max_value=3), with_score=st.booleans())
def test_generated_tables_given_directly(df, pick, with_score):
    """The library can be called with any DataFrame, not only loaded ones."""
    only_own_errors(engine_path, df, spec_for(df, pick, with_score))


# ---------------------------------------------------------------- mutated files

INSERTS = [b",", b";", b"\t", b'"', b"\x00", b"\xef\xbb\xbf", b"\n", b"\r", b"\r\n", b"\xff\xfe", b"\x1f\x8b"]


# Weighted towards changes that keep the file loadable, so most examples reach the audit.
MUTATIONS = ["flip"] * 4 + ["insert"] * 2 + ["truncate_line", "truncate", "delete", "duplicate_line", "swap_lines"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    data = data[: data.rfind(b"\n") + 1]  # whole lines, as a user's file would have
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(MUTATIONS))
        at = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(INSERTS))
        elif kind == "truncate_line":
            del data[start:]
        elif kind == "truncate":
            del data[at:]
        elif kind == "delete":
            del data[at : min(at + draw(st.integers(min_value=1, max_value=20)), end if end > at else len(data))]
        elif kind == "duplicate_line" and end > start:
            data[end:end] = b"\n" + data[start:end]
        elif kind == "swap_lines" and start > 0 and end > start:
            line = bytes(data[start : end + 1])
            del data[start : end + 1]
            data[0:0] = line  # a data row becomes the header
    return bytes(data)


@FUZZ
@given(payload=mutated(), name=st.sampled_from(["mutated.csv", "mutated.txt", "mutated.tsv", "mutated.gz"]))
def test_mutated_sample_files(payload, name):
    try:
        table = load_table(payload, name=name)
    except ParityLabError:
        event("not loaded")
        return
    assert len(table.data.columns) == table.report.columns
    assert len(table.data) == table.report.rows
    # Loaded tables never hold infinities (the loader keeps such columns as text).
    numeric = table.data.select_dtypes("number")
    assert np.isfinite(numeric.to_numpy(dtype=float, na_value=0.0)).all()
    only_own_errors(engine_path, table.data)


def test_the_fuzz_path_can_fail():
    """The harness lets non-ParityLab errors through (it would not find bugs otherwise)."""

    def broken(_df):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        only_own_errors(broken, pd.DataFrame())


def test_the_samples_pass_the_path_unmutated():
    for name, payload in SAMPLES.items():
        text = payload.rsplit(b"\n", 1)[0]  # whole lines only
        table = load_table(io.BytesIO(text), name=f"{name}.csv")
        engine_path(table.data)
