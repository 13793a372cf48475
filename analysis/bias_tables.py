"""Audit tables in the formats users are asked for: the NYC Local Law 144 bias audit and the EEOC four-fifths table.

``bias_tables(df, spec, format="ll144")`` returns :class:`BiasTables`: one table per category of sex, of
race/ethnicity and of their intersection, each row a category with its number of individuals, its rate and its
impact ratio. ``to_dict()`` is the JSON the command line writes and the app downloads::

    {"format": "ll144" | "four-fifths", "mode": "selection" | "scoring", "median_score": (scoring mode only),
     "tables": {name: [{"category", "n", "rate", "impact_ratio", "excluded", "note"}]},
     "unknown": {name: count}}

``name`` is the column (``"gender"``) or ``"gender × ethnicity"`` for the intersection.

Definitions
-----------
- **Selection rate** (6 RCNY § 5-300, 29 CFR 1607.4(D)): the share of a category that is selected, i.e. given the
  favourable decision — the audit's favourable rate (:mod:`analysis.metrics`). When the positive decision harms
  the person (``positive_is_favorable`` False, e.g. "flagged high risk"), being *selected* (moved forward) means
  *not* receiving it, so the rate is the share not flagged and a low impact ratio still marks the category the
  decision treats worst, as the audit's four-fifths ratio does.
- **Scoring rate** (6 RCNY § 5-300): the share of a category scoring *above* the median score of the full sample
  (every individual with a score, unknown categories included). A score equal to the median is not above it.
  With a harmful score (high = harmful), the favourable side is "not above the median", so the rate is the share
  at or below the median.
- **Impact ratio**: a category's rate ÷ the highest category's rate (LL144); the four-fifths table divides by the
  highest rate among the groups the audit compares (at least ``min_group_size`` individuals) and says whether the
  ratio falls below 0.8. A rate or a ratio with a zero denominator is undefined (None), never 0.
- **Unknown category**: an individual whose sex or race is missing is counted in ``unknown`` and left out of the
  table (6 RCNY § 5-301(b)(5)).
- **Small categories** (6 RCNY § 5-301(d)): a category under 2% of the individuals in its table may be left out of
  the impact ratios; by default it is (as the rule allows), and it is still shown with its count and rate,
  ``excluded`` true and a note saying why. ``exclude_small=False`` keeps every category in the ratios.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.counts import INTERSECTION_SEPARATOR, outcomes
from analysis.engine import CountedTable
from analysis.errors import OptionError, SpecError
from analysis.groups import GroupCodes, encode_groups
from analysis.metrics import Counts, divide, evaluate, four_fifths_words, rates
from analysis.options import FOUR_FIFTHS, SMALL_CATEGORY_SHARE, check_choice, check_flag, check_fraction
from analysis.spec import AuditSpec
from analysis.validation import run_checks
from analysis.wording import Remedy
from analysis.words import decision_words

__all__ = [
    "CITATIONS",
    "FORMATS",
    "MODES",
    "BiasTable",
    "BiasTables",
    "TableRow",
    "bias_tables",
    "guess_columns",
    "ll144_rows",
    "table_verdict",
]

FORMATS = ("ll144", "four-fifths")
MODES = ("selection", "scoring")
CITATIONS = {
    "ll144": "NYC Local Law 144 of 2021 (Admin. Code § 20-870 et seq.), bias audit rules 6 RCNY § 5-300 and § 5-301",
    "four-fifths": "Uniform Guidelines on Employee Selection Procedures, 29 CFR 1607.4(D) (the four-fifths rule)",
}
TITLES = {"ll144": "NYC Local Law 144 bias audit", "four-fifths": "EEOC four-fifths table"}
# Guessing the columns: a word of the name that is one of NAME_WORDS ("Gender", "race_ethnicity"; so "essex" and
# "sexual_orientation" are not taken for sex while a better name exists), else a name containing a NAME_HINTS entry.
NAME_WORDS = {"sex": ("sex", "gender"), "race": ("race", "ethnic", "ethnicity")}
NAME_HINTS = {"sex": ("sex", "gender"), "race": ("race", "ethnic")}
ROLE_WORDS = {"sex": "sex", "race": "race/ethnicity"}

NOT_PROTECTED = (
    "{role} column {column!r} is not one of the spec's protected attributes ({protected}). Choose one of them, "
    "or add {column!r} to the protected attributes."
)
NO_GUESS = (
    "No protected attribute is named like a {words} column ({hints}); the spec's protected attributes are {protected}."
)
SAME_COLUMN = "The sex and the race/ethnicity columns are both {column!r}; they must be two different columns."
NEEDS_SCORE = (
    "Scoring rates need a score column, and the spec names none. Name a score column, or use mode='selection'."
)
NEEDS_DECISION = (
    "Selection rates need a decision, and the spec names neither a decision column nor a score threshold. "
    "Name the decision column, or use mode='scoring' (the share scoring above the median)."
)
FOUR_FIFTHS_SCORING = (
    "The four-fifths table compares selection rates (29 CFR 1607.4(D)); for scoring rates use format='ll144'."
)
NO_ONE = "No individual has a {what} ({column!r} is empty in every row), so there is nothing to tabulate."

NOTE_HIGHEST = "highest rate"
NOTE_BELOW = "below four-fifths (under {threshold:g} × the highest rate)"
NOTE_NONE = "no individuals: rate undefined (n=0)"
# Row notes are short (they sit in a table cell); the notes of the tables say why, with the rule.
NOTE_SMALL = "under 2% of the table ({share}): not in the impact ratios"
NOTE_SMALL_SHARE = "under {limit:.0%} of the table ({share}): not in the impact ratios"
NOTE_FEW = "fewer than {minimum}: too small to conclude, not in the ratio"
NOTE_TOP_ZERO = "undefined: the highest rate is 0"


@dataclass(frozen=True)
class TableRow:
    """One category of one table.

    Attributes
    ----------
    category
        The category (``"Female"``, ``"Female × B"``).
    n
        Individuals in the category (with a decision, or a score in scoring mode).
    selected
        Of those, the individuals counted by the rate (selected, or scoring above the median).
    rate
        The selection or scoring rate; None when ``n`` is 0.
    impact_ratio
        ``rate`` ÷ the highest rate; None when excluded or undefined.
    excluded
        Left out of the impact ratios (LL144: under 2% of the table; four-fifths: under the minimum group size).
    note
        Why a value is missing or what it means (``"highest rate"``, ``"below four-fifths: …"``), else ``""``.
    """

    category: str
    n: int
    selected: int
    rate: float | None
    impact_ratio: float | None
    excluded: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The row as the JSON's ``tables`` list holds it."""
        return {
            "category": self.category,
            "n": self.n,
            "rate": self.rate,
            "impact_ratio": self.impact_ratio,
            "excluded": self.excluded,
            "note": self.note,
        }


@dataclass(frozen=True)
class BiasTable:
    """One table: a column's categories (or the intersection's), with what was left out.

    Attributes
    ----------
    name
        The column, or ``"SEX × RACE"`` with the real column names for the intersection.
    columns
        The columns tabulated.
    rows
        One :class:`TableRow` per category.
    unknown
        Individuals left out because a column is missing for them.
    highest
        The category with the highest rate among those in the ratios (None when no ratio is defined).
    lowest_ratio
        The lowest impact ratio (for the four-fifths table, the audit's four-fifths ratio); None when undefined.
    passes
        Four-fifths table: whether the lowest ratio is at least the threshold (None when not computable or LL144).
    """

    name: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    unknown: int
    highest: str | None
    lowest_ratio: float | None
    passes: bool | None = None

    def row(self, category: str) -> TableRow:
        """The row of ``category`` (KeyError when absent)."""
        for r in self.rows:
            if r.category == category:
                return r
        raise KeyError(category)


@dataclass(frozen=True)
class BiasTables:
    """The audit tables of one dataset in one format.

    Attributes
    ----------
    format, mode
        ``"ll144"`` or ``"four-fifths"``; ``"selection"`` or ``"scoring"``.
    sex, race
        The columns used, and how each was chosen (``sex_source``: ``"named"`` or ``"guessed"``).
    median_score
        Scoring mode: the median score of the full sample; else None.
    tables
        Sex, race/ethnicity, intersection: :class:`BiasTable` by name.
    rate_name
        What the rate is, in words (``"selection rate (share approved)"``).
    assessed, left_out
        Individuals with a decision (a score in scoring mode); rows without one, left out of every table.
    exclude_small, small_share, threshold, min_group_size
        The options the tables were made with.
    notes
        The notes a reader of the tables needs: the rule, what the rate means, what was left out and why,
        the columns used, and what the tables do not establish.
    """

    format: str
    mode: str
    sex: str
    race: str
    sex_source: str
    race_source: str
    median_score: float | None
    tables: dict[str, BiasTable]
    rate_name: str
    assessed: int
    left_out: int
    exclude_small: bool
    small_share: float
    threshold: float
    min_group_size: int
    notes: tuple[str, ...] = field(default=())

    @property
    def citation(self) -> str:
        """The rule the tables follow."""
        return CITATIONS[self.format]

    @property
    def title(self) -> str:
        """``"NYC Local Law 144 bias audit"`` or ``"EEOC four-fifths table"``."""
        return TITLES[self.format]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: format, mode, median_score (scoring mode only), tables and unknown.

        Also ``rate_name``: what every ``rate`` is ("selection rate (share not flagged)" for a harmful decision),
        so that a reader of the JSON alone does not take the share not flagged for the share flagged.
        """
        out: dict[str, Any] = {"format": self.format, "mode": self.mode, "rate_name": self.rate_name}
        if self.mode == "scoring":
            out["median_score"] = self.median_score
        out["tables"] = {name: [r.to_dict() for r in t.rows] for name, t in self.tables.items()}
        out["unknown"] = {name: t.unknown for name, t in self.tables.items()}
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def to_frame(self) -> pd.DataFrame:
        """One row per category with its table's name: the CSV export's columns."""
        records = [{"table": name} | r.to_dict() for name, t in self.tables.items() for r in t.rows]
        columns = ["table", "category", "n", "rate", "impact_ratio", "excluded", "note"]
        return pd.DataFrame.from_records(records, columns=columns)


def _guess(protected: tuple[str, ...], role: str) -> str | None:
    """The first column whose name has a word like the role's (``Gender``, ``race_ethnicity``); else a name that
    contains one (``applicantGender``)."""
    hints = NAME_HINTS[role]

    def word_match(column: str) -> bool:
        return any(word in NAME_WORDS[role] for word in re.split(r"[^a-z]+", column.lower()))

    found = [c for c in protected if word_match(c)] or [c for c in protected if any(h in c.lower() for h in hints)]
    return found[0] if found else None


def guess_columns(spec: AuditSpec) -> tuple[str | None, str | None]:
    """The protected columns named like sex (sex, gender) and race/ethnicity (race, ethnic); None when none is.

    Examples
    --------
    >>> from analysis import AuditSpec
    >>> guess_columns(AuditSpec(decision="hired", positive=("Y",), protected=("age", "Gender", "ethnicity")))
    ('Gender', 'ethnicity')
    """
    protected = spec.protected_columns
    sex = _guess(protected, "sex")
    race = _guess(tuple(c for c in protected if c != sex), "race")
    return sex, race


def _column(spec: AuditSpec, role: str, given: str | None) -> tuple[str, str]:
    protected = spec.protected_columns
    listed = ", ".join(repr(c) for c in protected) or "none"
    if given is not None:
        if given not in protected:
            raise OptionError(
                NOT_PROTECTED.format(role=ROLE_WORDS[role].capitalize(), column=given, protected=listed),
                option=role,
                remedy=Remedy(role),
            )
        return given, "named"
    guessed = guess_columns(spec)[0 if role == "sex" else 1]
    if guessed is None:
        hints = " or ".join(NAME_HINTS[role])
        raise OptionError(
            NO_GUESS.format(words=ROLE_WORDS[role], hints=hints, protected=listed), option=role, remedy=Remedy(role)
        )
    return guessed, "guessed"


def _ratios(rate: np.ndarray, included: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Each included category's rate ÷ the highest included rate (NaN elsewhere or when that rate is 0)."""
    candidates = np.flatnonzero(included & np.isfinite(rate))
    if not candidates.size:
        return np.full(rate.size, np.nan), None
    top = int(candidates[np.argmax(rate[candidates])])
    ratio = divide(rate, np.full(rate.size, rate[top]))
    return np.where(included, ratio, np.nan), top


def _percent(share: float) -> str:
    """A share as a percentage, never "0.0%" for a category that has individuals."""
    return f"{share:.1%}" if share >= 0.0005 else "<0.1%"


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def ll144_rows(
    categories: list[str] | tuple[str, ...],
    n: Any,
    selected: Any,
    *,
    positive_is_favorable: bool = True,
    exclude_small: bool = True,
    small_share: float = SMALL_CATEGORY_SHARE,
) -> tuple[TableRow, ...]:
    """An LL144 table from counts: each category's rate, impact ratio and exclusion.

    Parameters
    ----------
    categories, n, selected
        The categories, their individuals and (of those) how many are selected or score above the median.
    positive_is_favorable
        False when ``selected`` counts a harmful outcome: the rate is then the share not counted.
    exclude_small, small_share
        Leave categories under ``small_share`` of the table's individuals out of the impact ratios.
    """
    return _ll144(Counts.of(tuple(categories), n, selected, positive_is_favorable=positive_is_favorable),
                  exclude_small, small_share)[0]  # fmt: skip


def _row(counts: Counts, i: int, rate: np.ndarray, ratio: float | None, excluded: bool, note: str) -> TableRow:
    """Category ``i``'s row: its counts and rate from ``counts``, with the table's ratio, exclusion and note."""
    return TableRow(
        category=counts.labels[i],
        n=int(counts.n[i]),
        selected=int(counts.favorable[i]),
        rate=_finite(rate[i]),
        impact_ratio=ratio,
        excluded=excluded,
        note=note,
    )


def _ll144(counts: Counts, exclude_small: bool, small_share: float) -> tuple[tuple[TableRow, ...], int | None]:
    rate = rates(counts, ("favorable_rate",))["favorable_rate"]
    total = int(counts.n.sum())
    share = divide(counts.n, np.full(counts.n.size, total))
    small = np.zeros(counts.n.size, dtype=bool)
    if exclude_small and total:
        small = (counts.n > 0) & (share < small_share)
    ratio, top = _ratios(rate, ~small)
    rows = []
    for i in range(len(counts.labels)):
        if counts.n[i] == 0:
            note = NOTE_NONE
        elif small[i]:
            template = NOTE_SMALL if small_share == SMALL_CATEGORY_SHARE else NOTE_SMALL_SHARE
            note = template.format(share=_percent(float(share[i])), limit=small_share)
        elif top is not None and rate[top] == 0:
            note = NOTE_TOP_ZERO
        elif i == top:
            note = NOTE_HIGHEST
        else:
            note = ""
        rows.append(_row(counts, i, rate, _finite(ratio[i]), bool(small[i]), note))
    return tuple(rows), top


def _four_fifths(
    counts: Counts, min_group_size: int, threshold: float
) -> tuple[tuple[TableRow, ...], int | None, float | None, bool | None]:
    table = evaluate(counts, min_group_size=min_group_size, di_threshold=threshold)
    rate = table.rates["favorable_rate"]
    compared = table.compared & (counts.n > 0)
    ratio, top = _ratios(rate, compared)
    ratio_value = table.summary.metrics.get("favorable_rate_ratio")
    passes = table.summary.four_fifths_pass
    rows = []
    for i in range(len(counts.labels)):
        value = _finite(ratio[i])
        if counts.n[i] == 0:
            note = NOTE_NONE
        elif not compared[i]:
            note = NOTE_FEW.format(minimum=min_group_size)
        elif top is not None and rate[top] == 0:
            note = NOTE_TOP_ZERO
        elif i == top:
            note = NOTE_HIGHEST
        elif value is not None and value < threshold:
            note = NOTE_BELOW.format(threshold=threshold)
        else:
            note = ""
        rows.append(_row(counts, i, rate, value, not bool(compared[i]), note))
    lowest = None if ratio_value is None else ratio_value.value
    return tuple(rows), top, lowest, passes


def _encoded(df: pd.DataFrame, spec: AuditSpec, column: str, encoded: Mapping[str, GroupCodes]) -> GroupCodes:
    if column in encoded:
        return encoded[column]
    attribute = next(a for a in spec.protected if a.column == column)
    return encode_groups(df[column], bins=attribute.bins, quantiles=attribute.quantiles)


def _median(scores: np.ndarray, weights: np.ndarray) -> float:
    """The median of ``scores`` each repeated ``weights`` times (as ``np.median`` of the repeated values)."""
    order = np.argsort(scores, kind="stable")
    values, ends = scores[order], np.cumsum(weights[order])
    total = int(ends[-1])
    middle = np.searchsorted(ends, [(total - 1) // 2, total // 2], side="right")
    return float(values[middle].mean())


def _known(groups: GroupCodes) -> tuple[np.ndarray, tuple[str, ...]]:
    """Which rows have a known category, and the known categories (the missing group is last when present)."""
    labels = groups.labels[:-1] if groups.missing_count else groups.labels
    return groups.codes < len(labels), tuple(labels)


def _notes(result: dict[str, Any], words: Any, spec: AuditSpec) -> tuple[str, ...]:
    fmt, mode = result["format"], result["mode"]
    notes = [f"{TITLES[fmt]}, following {CITATIONS[fmt]}."]
    if mode == "selection":
        if words.harmful:
            notes.append(
                f"The positive decision ({words.condition}) harms the person, so being selected (moved forward) "
                f"means not being {words.verb}: the selection rate is the share {words.favorable}, and a low impact "
                "ratio marks the category the decision treats worst (as the audit's four-fifths ratio does)."
            )
        else:
            notes.append(f"Selection rate: the share of a category {words.verb} ({words.condition}).")
    else:
        median = result["median_score"]
        side = "above" if spec.positive_is_favorable else "at or below"
        notes.append(
            f"Scoring rate: the share of a category scoring {side} the median score of the full sample, "
            f"{median:.6g} (over all {result['scored']:,} individuals with a score '{spec.score}', unknown "
            "categories included); a score equal to the median is not above it (6 RCNY § 5-300)."
        )
        if not spec.positive_is_favorable:
            notes.append(
                "A high score leads to the harmful decision here, so the favourable side is a score not above the "
                "median: the rate is the share at or below it, and a low impact ratio marks the category scored worst."
            )
    for role in ("sex", "race"):
        column, source = result[role], result[f"{role}_source"]
        how = "guessed from its name among the protected attributes" if source == "guessed" else "as named"
        notes.append(f"The {ROLE_WORDS[role]} column is '{column}' ({how}).")
    for name, table in result["tables"].items():
        if table.unknown:
            notes.append(
                f"{name}: {table.unknown:,} individuals with an unknown category are counted here and left out of "
                "the table."
            )
    for name, table in result["tables"].items():
        present = [r.category for r in table.rows if r.n > 0]
        if len(present) == 1:
            # Its impact ratio is 1 by definition: say so, as the audit says "not computable".
            notes.append(
                f"{name}: only one category ({present[0]}) has individuals, so there is nothing to compare it with: "
                "its impact ratio of 1 says nothing about bias."
            )
    if fmt == "ll144":
        excluded = [(name, r) for name, t in result["tables"].items() for r in t.rows if r.excluded]
        if excluded:
            shown = "; ".join(f"{name}: {r.category} (n={r.n:,})" for name, r in excluded)
            notes.append(
                f"Categories under {result['small_share']:.0%} of their table are left out of the impact ratios and "
                f"still shown with their count and rate, as 6 RCNY § 5-301(d) allows (the summary of results must "
                f"give the auditor's justification): {shown}."
            )
        elif result["exclude_small"]:
            notes.append(
                f"No category is under {result['small_share']:.0%} of its table: none is left out of the ratios."
            )
        else:
            notes.append("Every category is in the impact ratios (small categories are not left out).")
    else:
        notes.append(
            f"Groups with fewer than {result['min_group_size']} individuals are shown and left out of the ratio, as "
            "in the audit; 29 CFR 1607.4(D) also warns that differences based on small numbers may not mean adverse "
            "impact."
        )
    if result["left_out"]:
        what = "a score" if mode == "scoring" else "a decision"
        notes.append(f"{result['left_out']:,} rows without {what} are left out of every table.")
    notes.append(
        "What these tables do not establish: whether a difference is statistically significant or could be chance "
        "(see the Fairness page's intervals and q-values), what causes it, or whether it is lawful or justified; a "
        "Local Law 144 bias audit must be carried out by an independent auditor."
    )
    return tuple(notes)


def bias_tables(
    df: pd.DataFrame | CountedTable,
    spec: AuditSpec,
    *,
    format: str = "ll144",
    sex: str | None = None,
    race: str | None = None,
    mode: str | None = None,
    exclude_small: bool = True,
    small_share: float = SMALL_CATEGORY_SHARE,
    threshold: float = FOUR_FIFTHS,
) -> BiasTables:
    """The audit tables of ``df`` under ``spec`` in ``format``: per category of sex, race/ethnicity and both.

    ``df`` may be an engine's :class:`analysis.engine.CountedTable`: every count is then of the source rows.

    Parameters
    ----------
    df, spec
        The table and its spec (validated as the audit validates it).
    format
        ``"ll144"`` (NYC Local Law 144, 6 RCNY § 5-301) or ``"four-fifths"`` (29 CFR 1607.4(D)).
    sex, race
        Protected columns holding sex and race/ethnicity; default the protected columns named like them.
    mode
        ``"selection"`` (a decision) or ``"scoring"`` (a score: the share above the median); default selection
        when the spec has a decision (a decision column or a score threshold), else scoring.
    exclude_small, small_share
        LL144: leave categories under ``small_share`` (2%) of their table out of the impact ratios.
    threshold
        The four-fifths floor (0.8).

    Raises
    ------
    OptionError
        A column that is not protected, none to guess, an unknown format or mode.
    SpecError
        When the spec does not fit the table.
    """
    where = "bias_tables()"
    check_choice(where, "format", format, FORMATS)
    if mode is not None:
        check_choice(where, "mode", mode, MODES)
    check_flag(where, "exclude_small", exclude_small)
    check_fraction(where, "small_share", small_share, "Use e.g. small_share=0.02 (the rule's 2%).")
    check_fraction(where, "threshold", threshold, f"Use e.g. threshold={FOUR_FIFTHS:g} (the four-fifths rule).")
    weights = columns = edges = None
    if isinstance(df, CountedTable):  # an engine's counts: every row counts as the source rows it stands for
        df, weights, columns, edges = df.frame, df.weights, df.columns, df.edges
    checked = run_checks(df, spec, weights=weights, columns=columns, edges=edges)
    checked.validation.raise_for_errors()
    df, spec = checked.df, checked.spec
    weight = np.ones(len(df), np.int64) if weights is None else np.asarray(weights, np.int64)
    sex, sex_source = _column(spec, "sex", sex)
    race, race_source = _column(spec, "race", race)
    if sex == race:
        raise OptionError(SAME_COLUMN.format(column=sex), option="race", remedy=Remedy("race"))
    has_decision = spec.decision is not None or spec.threshold is not None
    mode = mode or ("selection" if has_decision else "scoring")
    if mode == "scoring" and spec.score is None:
        raise OptionError(NEEDS_SCORE, option="mode", remedy=Remedy("score"))
    if mode == "selection" and not has_decision:
        raise OptionError(NEEDS_DECISION, option="mode", remedy=Remedy("decision"))
    if format == "four-fifths" and mode == "scoring":
        raise OptionError(FOUR_FIFTHS_SCORING, option="mode")
    median = None
    scored = 0
    if mode == "selection":
        state = outcomes(df, spec, weights=weights)
        assessed, counted = state.decided, state.positive
        if not assessed.any():
            raise SpecError(NO_ONE.format(what="decision", column=spec.decision or spec.score))
    else:
        scores = df[spec.score].to_numpy(dtype=float, na_value=np.nan)
        assessed = ~np.isnan(scores)
        if not assessed.any():
            raise SpecError(NO_ONE.format(what="score", column=spec.score))
        median = _median(scores[assessed], weight[assessed])
        scored = int(weight[assessed].sum())
        with np.errstate(invalid="ignore"):
            counted = assessed & (scores > median)  # the rule: "above the median"; a tie is not above
    sex_groups, race_groups = (_encoded(df, spec, c, checked.encoded) for c in (sex, race))
    sex_known, sex_labels = _known(sex_groups)
    race_known, race_labels = _known(race_groups)
    both = np.where(sex_known & race_known, sex_groups.codes * len(race_labels) + race_groups.codes, -1)
    cross = tuple(f"{s}{INTERSECTION_SEPARATOR}{r}" for s in sex_labels for r in race_labels)
    parts = (
        (sex, (sex,), sex_groups.codes, sex_known, sex_labels),
        (race, (race,), race_groups.codes, race_known, race_labels),
        (f"{sex}{INTERSECTION_SEPARATOR}{race}", (sex, race), both, both >= 0, cross),
    )
    tables: dict[str, BiasTable] = {}
    for name, columns, codes, known, labels in parts:
        rows_in = assessed & known
        k = len(labels)
        n = np.bincount(codes[rows_in], weights=weight[rows_in], minlength=k).astype(np.int64)
        hits = np.bincount(codes[rows_in & counted], weights=weight[rows_in & counted], minlength=k).astype(np.int64)
        counts = Counts.of(labels, n, hits, positive_is_favorable=spec.positive_is_favorable, missing=np.zeros(k, bool))
        unknown = int(weight[assessed & ~known].sum())
        if format == "ll144":
            rows, top = _ll144(counts, exclude_small, small_share)
            defined = [r.impact_ratio for r in rows if r.impact_ratio is not None]
            lowest, passes = (min(defined) if defined else None), None
        else:
            rows, top, lowest, passes = _four_fifths(counts, spec.min_group_size, threshold)
        highest = None if top is None or rows[top].impact_ratio is None else labels[top]
        tables[name] = BiasTable(name, columns, rows, unknown, highest, lowest, passes)
    words = decision_words(spec)
    rate_name = (
        f"selection rate (share {words.favorable})"
        if mode == "selection"
        else f"scoring rate (share {'above' if spec.positive_is_favorable else 'at or below'} the median score)"
    )
    result = {
        "format": format,
        "mode": mode,
        "median_score": median,
        "scored": scored,
        "sex": sex,
        "race": race,
        "sex_source": sex_source,
        "race_source": race_source,
        "tables": tables,
        "exclude_small": exclude_small,
        "small_share": small_share,
        "min_group_size": spec.min_group_size,
        "left_out": int(weight[~assessed].sum()),
    }
    return BiasTables(
        format=format,
        mode=mode,
        sex=sex,
        race=race,
        sex_source=sex_source,
        race_source=race_source,
        median_score=median,
        tables=tables,
        rate_name=rate_name,
        assessed=int(weight[assessed].sum()),
        left_out=result["left_out"],
        exclude_small=exclude_small,
        small_share=small_share,
        threshold=threshold,
        min_group_size=spec.min_group_size,
        notes=_notes(result, words, spec),
    )


def table_verdict(table: BiasTable, threshold: float = FOUR_FIFTHS) -> str:
    """A four-fifths table's verdict in words ("fails the four-fifths rule"), from :func:`four_fifths_words`."""
    return four_fifths_words(table.passes, threshold)
