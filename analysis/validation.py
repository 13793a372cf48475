"""Check an AuditSpec against a table, reporting every problem at once, each with a fix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.engine import CountedTable
from analysis.errors import SpecError
from analysis.groups import LITERAL_MISSING_GROUP, MISSING_GROUP, GroupCodes, encode_groups, quantile_edges
from analysis.ordering import decision_order, order_values, recognize_order
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.values import (
    VariantGroup,
    counted_variants,
    distinct_keys,
    shown_spelling,
    value_key,
    value_variants,
)
from analysis.variants import find_variants, merge_variants
from analysis.wording import Remedy, Surface, worded

__all__ = ["Problem", "SpecValidation", "dataset_mismatch", "validate_spec"]

SHOWN_VALUES = 10
SCORE_LIKE_DISTINCT = 20

UNKNOWN_COLUMN = "The {role} column '{column}' is not in the table{hint}."
UNKNOWN_COLUMN_FIX = "Choose one of the table's columns: {columns}."
NO_POSITIVE = "Column '{column}' has values {values}; the spec does not say which of them mean the positive {what}."
NO_POSITIVE_FIX = "Choose which values mean the positive {what}."
POSITIVE_ABSENT = "Column '{column}' has no value {value!r}{hint}; its values are {values}."
POSITIVE_ABSENT_FIX = "Pick the positive values from the column's actual values."
ALL_POSITIVE = "Every value of column '{column}' ({values}) is marked positive, so every row would be positive."
ALL_POSITIVE_FIX = "Mark only the values that mean the positive {what}."
LOOKS_LIKE_SCORE = (
    "Column '{column}' has {distinct:,} distinct numbers between {low:g} and {high:g}; "
    "it looks like a score, not a decision."
)
LOOKS_LIKE_SCORE_FIX = "Use it as the score with a threshold (e.g. 0.5), or pick the decision column."
MISSING_CELLS = "Column '{column}' has {count:,} missing values ({share:.1%} of rows); {consequence}."
MISSING_CELLS_FIX = "Fill them in the source data if they are known."
SCORE_NOT_NUMERIC = "The score column '{column}' must hold numbers, but it has text such as {examples}."
SCORE_NOT_NUMERIC_FIX = "Choose a numeric score column, or clean the values so every cell is a number."
NEEDS_THRESHOLD = "There is no decision column, so the score '{column}' needs a threshold to make decisions."
NEEDS_THRESHOLD_FIX = "Set a threshold: scores at or above it count as positive decisions."
THRESHOLD_OUTSIDE = (
    "The threshold {threshold:g} lies outside the scores' range [{low:g}, {high:g}], "
    "so every row gets the same decision."
)
THRESHOLD_OUTSIDE_FIX = "Choose a threshold within the scores' range."
ORDER_UNKNOWN = (
    "The order of the decision values ('decision_order') names {values}, which {verb} not a value of column "
    "'{column}'; its values are {all}."
)
ORDER_INCOMPLETE = (
    "The order of the decision values ('decision_order') leaves out {values} of column '{column}', so it cannot "
    "place every decision."
)
ORDER_FIX = "Name every value of the decision column once, lowest first, or no value when they have no order."
NO_PROTECTED = "The spec names no protected attribute, so there is nothing to compare."
NO_PROTECTED_FIX = "Name at least one protected attribute."
SAME_COLUMN = "Column '{column}' is used as both {first} and {second}."
SAME_COLUMN_FIX = "Give each column one role."
TOO_MANY_LEVELS = (
    "Protected attribute '{column}' has {levels:,} distinct values; at most {limit} groups can be compared."
)
TOO_MANY_LEVELS_NUMERIC_FIX = "Bin it into ranges (or quantiles)."
TOO_MANY_LEVELS_TEXT_FIX = "Merge rare values into broader groups in the data, or raise max_levels if you mean it."
BIN_PROBLEM_FIX = "Fix the binning of '{column}'."
ONE_GROUP = "Protected attribute '{column}' has a single group ({group!r}); disparities are not computable."
ONE_GROUP_FIX = "Choose an attribute whose rows fall into at least two groups."
MISSING_GROUP_NOTE = (
    f"Protected attribute '{{column}}' has {{count:,}} missing values; they form an explicit '{MISSING_GROUP}' group."
)
MISSING_GROUP_FIX = "Keep it to see whether rows without the attribute are treated differently, or fill the values."
SMALL_GROUPS = (
    "Protected attribute '{column}' has groups under {minimum} rows: {groups}; they are marked too small to conclude."
)
SMALL_GROUPS_FIX = "Merge small groups, bin more coarsely, or gather more data."
REFERENCE_ABSENT = "Reference group {reference!r} is not a group of '{column}'{hint}; its groups are {groups}."
REFERENCE_ABSENT_FIX = "Pick the reference from the attribute's groups, or leave it empty for the default."
INTERSECTION_NOT_PROTECTED = "Intersection {names} uses '{column}', which is not a protected attribute."
INTERSECTION_NOT_PROTECTED_FIX = "Intersections combine protected attributes only."
ROLE_IN_FEATURES = (
    "The {role} column '{column}' is listed as a feature; explaining a decision by itself leaks the answer."
)
ROLE_IN_FEATURES_FIX = "Remove '{column}' from the features."
PROTECTED_IN_FEATURES = "Protected attribute '{column}' is listed as a feature."
PROTECTED_IN_FEATURES_FIX = "Leave it out of features; explanations can include it on request."
PII_IN_FEATURES = "Column '{column}' is flagged as personal data (PII) but is listed as a feature."
PII_IN_FEATURES_FIX = "Remove it from the features; personal identifiers should not explain decisions."
ONE_VALUE_FEATURE = "Feature '{column}' has a single value ({value!r}) and cannot explain anything."
ONE_VALUE_FEATURE_FIX = "Remove it from the features."
OTHER_DATA = (
    "This spec was made on data with SHA-256 {recorded}…, but {name}has SHA-256 {actual}…: "
    "it is not the same file, so groups, values or rows may differ."
)
OTHER_DATA_FIX = (
    "Check that this is the data you meant to audit; ParityLab uses the spec anyway. "
    "Save the spec again from this data to record its hash."
)
SHOWN_HASH = 12
VARIANTS = (
    "Column '{column}' has values that differ only in letter case, spaces, invisible characters or Unicode form: "
    "{groups}. They are counted as different values."
)
VARIANTS_FIX = "Merge each into its most frequent spelling, or correct them in the source data."
VARIANTS_SPLIT = (
    "The positive {what} values of '{column}' include {named} but not {others}: "
    "{rows:,} row{s} spelled so count as {negative}."
)
VARIANTS_SPLIT_FIX = "Add those spellings to the positive values, or merge the spellings."
VARIANTS_MERGED = "Merged {others} into {kept} in column '{column}'."
LITERAL_MISSING = (
    "Protected attribute '{column}' has the text '{missing}' in {count:,} cell{s}: a value, kept as its own group "
    "'{literal}'{apart}."
)
LITERAL_MISSING_APART = ", apart from the {empty:,} empty cell{s} (the '{missing}' group)"
LITERAL_MISSING_FIX = "If that text means the value is unknown, read it as missing when loading the file."
SHOWN_VARIANT_GROUPS = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec for a given table.

    Attributes
    ----------
    severity
        ``"error"`` blocks an audit; ``"warning"`` is worth knowing.
    field
        The spec field concerned (``decision``, ``positive``, ``protected``, ...).
    column
        The column concerned, when there is one.
    message, fix
        What is wrong, and how to fix it (the fix in words that fit every surface).
    remedy
        The option that fixes it, when one does; :meth:`text_for` words it for the surface.
    """

    severity: Literal["error", "warning"]
    field: str
    message: str
    fix: str
    column: str | None = None
    remedy: Remedy | None = None

    @property
    def text(self) -> str:
        """Message and fix as one sentence pair (Python wording)."""
        return self.text_for("python")

    def text_for(self, surface: Surface = "python", *, app_text: str | None = None) -> str:
        """Message and fix, with the remedy worded for ``surface`` (the app passes its own clause)."""
        return worded(f"{self.message} {self.fix}".strip(), self.remedy, surface, app_text=app_text)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "severity": self.severity,
            "field": self.field,
            "column": self.column,
            "message": self.message,
            "fix": self.fix,
            "remedy": None if self.remedy is None else self.remedy.to_dict(),
        }


@dataclass(frozen=True)
class SpecValidation:
    """Every problem found when checking a spec against a table.

    Attributes
    ----------
    problems
        Errors and warnings, in the order of the spec's fields.
    group_sizes
        Rows per group for each protected attribute that could be encoded.
    """

    problems: tuple[Problem, ...]
    group_sizes: dict[str, dict[str, int]]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems that block an audit."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth knowing that do not block an audit."""
        return tuple(p for p in self.problems if p.severity == "warning")

    def raise_for_errors(self) -> None:
        """Raise :class:`SpecError` listing every error, if there is any."""
        if self.errors:
            lines = "\n".join(f"- {p.text}" for p in self.errors)
            raise SpecError(f"The spec does not fit the table:\n{lines}", problems=self.errors)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "ok": self.ok,
            "problems": [p.to_dict() for p in self.problems],
            "group_sizes": self.group_sizes,
        }


def _show(values: Sequence[str]) -> str:
    shown = [str(v) for v in values[:SHOWN_VALUES]]
    more = f" and {len(values) - SHOWN_VALUES:,} more" if len(values) > SHOWN_VALUES else ""
    return f"{shown}{more}"


def _close(word: str, options: Sequence[str]) -> list[str]:
    """Close matches, ignoring case and surrounding spaces."""
    lowered = {o.lower().strip(): o for o in options}
    if word.lower().strip() in lowered:
        return [lowered[word.lower().strip()]]
    hits = get_close_matches(word.lower().strip(), list(lowered), n=3, cutoff=0.6)
    return [lowered[h] for h in hits]


def _hint(word: str, options: Sequence[str]) -> str:
    close = _close(word, options)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def dataset_mismatch(spec: AuditSpec, dataset_sha256: str | None, *, dataset_name: str | None = None) -> Problem | None:
    """A warning when ``spec`` records the hash of other data than ``dataset_sha256``.

    Parameters
    ----------
    spec
        The spec; its ``dataset_sha256`` is the hash of the data it was made on (or None).
    dataset_sha256
        SHA-256 of the data it is now used on (:attr:`analysis.LoadReport.sha256`), or None.
    dataset_name
        The data's name, for the message.

    Returns
    -------
    Problem or None
        A ``"warning"`` naming both hashes (first 12 characters); None when either hash is
        unknown or they agree.
    """
    if spec.dataset_sha256 is None or dataset_sha256 is None or spec.dataset_sha256 == dataset_sha256.lower():
        return None
    name = f"'{dataset_name}' " if dataset_name else "this data "
    message = OTHER_DATA.format(
        recorded=spec.dataset_sha256[:SHOWN_HASH], actual=dataset_sha256[:SHOWN_HASH].lower(), name=name
    )
    return Problem("warning", "dataset_sha256", message, OTHER_DATA_FIX)


class _Checker:
    """Collects problems; one method per spec field."""

    def __init__(
        self,
        df: pd.DataFrame,
        spec: AuditSpec,
        dataset_sha256: str | None = None,
        *,
        weights: np.ndarray | None = None,
        columns: Sequence[str] | None = None,
        edges: dict[str, Sequence[float]] | None = None,
    ):
        self.df = df
        self.spec = spec
        self.dataset_sha256 = dataset_sha256
        self.weights = None if weights is None else np.asarray(weights, dtype=np.int64)
        self.rows = len(df) if self.weights is None else int(self.weights.sum())
        self.edges = dict(edges or {})
        self.columns = [str(c) for c in (df.columns if columns is None else columns)]
        self.problems: list[Problem] = []
        self.group_sizes: dict[str, dict[str, int]] = {}
        self.encoded: dict[str, GroupCodes] = {}  # kept so the audit does not encode each attribute again

    def add(
        self, severity: str, field: str, message: str, fix: str, column: str | None = None, remedy: Remedy | None = None
    ) -> None:
        self.problems.append(Problem(severity, field, message, fix, column, remedy))  # type: ignore[arg-type]

    def exists(self, field: str, role: str, column: str) -> bool:
        if column in self.columns:
            return True
        self.add(
            "error",
            field,
            UNKNOWN_COLUMN.format(role=role, column=column, hint=_hint(column, self.columns)),
            UNKNOWN_COLUMN_FIX.format(columns=_show(self.columns)),
            column,
        )
        return False

    def run(self) -> SpecValidation:
        spec = self.spec
        other_data = dataset_mismatch(spec, self.dataset_sha256)
        if other_data is not None:
            self.problems.append(other_data)
        self.check_roles_distinct()
        self.check_variants()
        spec = self.spec  # with merge_variants, the merged spelling of the positive values
        if spec.decision is not None and self.exists("decision", "decision", spec.decision):
            self.check_decision()
        if spec.label is not None and self.exists("label", "label", spec.label):
            self.check_outcome("label", spec.label, spec.label_positive, "outcome", "label_positive")
        if spec.score is not None and self.exists("score", "score", spec.score):
            self.check_score()
        self.check_protected()
        self.check_intersections()
        self.check_features()
        for column in (*spec.id_columns, *spec.pii_columns):
            self.exists("id_columns" if column in spec.id_columns else "pii_columns", "identifier", column)
        return SpecValidation(tuple(self.problems), self.group_sizes)

    def check_variants(self) -> None:
        """Spelling variants: merged (and each merge listed) on request, else a warning per column.

        Without the merge, a protected attribute's variants are read from its encoded groups
        (:meth:`check_attribute`), so that only the decision and label take a pass here.
        """
        spec = self.spec
        if spec.merge_variants:
            found = find_variants(self.df, spec, weights=self.weights)
            merged = merge_variants(self.df, spec, found, weights=self.weights)
            self.df, self.spec = merged.df, merged.spec
            for column, groups in found.items():
                for group in groups:
                    others = " and ".join(f"{shown_spelling(s)} ({n:,})" for s, n in group.spellings[1:])
                    message = VARIANTS_MERGED.format(others=others, kept=shown_spelling(group.kept), column=column)
                    self.add("warning", "merge_variants", message, "", column)
            return
        for field, column, positive, what in (
            ("positive", spec.decision, spec.positive, "decision"),
            ("label_positive", spec.label, spec.label_positive, "outcome"),
        ):
            if column in self.columns and column not in spec.protected_columns:
                groups = value_variants(self.df[column], self.weights)
                self.warn_variants(field, column, groups)
                self.check_split(column, positive, groups, field, what)

    def warn_variants(self, field: str, column: str, groups: Sequence[VariantGroup]) -> None:
        if not groups:
            return
        shown = "; ".join(g.shown() for g in groups[:SHOWN_VARIANT_GROUPS])
        if len(groups) > SHOWN_VARIANT_GROUPS:
            shown += f"; and {len(groups) - SHOWN_VARIANT_GROUPS:,} more"
        message = VARIANTS.format(column=column, groups=shown)
        self.add("warning", field, message, VARIANTS_FIX, column, Remedy("merge_variants"))

    def check_split(
        self, column: str, positive: Sequence[object], groups: Sequence[VariantGroup], field: str, what: str
    ) -> None:
        """A warning for each value whose positive spelling leaves its other spellings negative."""
        named = {value_key(v) for v in positive}
        for group in groups:
            spellings = [s for s, _ in group.spellings]
            inside = [s for s in spellings if s in named]
            outside = [(s, n) for s, n in group.spellings if s not in named]
            if not inside or not outside:
                continue
            rows = sum(n for _, n in outside)
            message = VARIANTS_SPLIT.format(
                what=what,
                column=column,
                named=" and ".join(shown_spelling(s) for s in inside),
                others=", ".join(f"{shown_spelling(s)} ({n:,})" for s, n in outside),
                rows=rows,
                s="" if rows == 1 else "s",
                negative=f"negative {what}s",
            )
            self.add("warning", field, message, VARIANTS_SPLIT_FIX, column, Remedy("merge_variants"))

    def check_roles_distinct(self) -> None:
        spec = self.spec
        roles = [("the decision", spec.decision), ("the label", spec.label), ("the score", spec.score)]
        roles += [("a protected attribute", c) for c in spec.protected_columns]
        seen: dict[str, str] = {}
        for role, column in roles:
            if column is None:
                continue
            if column in seen:
                self.add(
                    "error",
                    "roles",
                    SAME_COLUMN.format(column=column, first=seen[column], second=role),
                    SAME_COLUMN_FIX,
                    column,
                )
            else:
                seen[column] = role

    def check_decision(self) -> None:
        spec = self.spec
        series = self.df[spec.decision]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            distinct = series.nunique(dropna=True)
            if distinct > SCORE_LIKE_DISTINCT:
                low, high = float(series.min()), float(series.max())
                self.add(
                    "error",
                    "decision",
                    LOOKS_LIKE_SCORE.format(column=spec.decision, distinct=distinct, low=low, high=high),
                    LOOKS_LIKE_SCORE_FIX,
                    spec.decision,
                    Remedy("score", column=spec.decision),
                )
                return
        self.check_outcome("positive", spec.decision, spec.positive, "decision", "positive")
        self.check_order()

    def check_order(self) -> None:
        """An explicit decision order names each value of the decision column, and nothing else."""
        spec = self.spec
        if not spec.decision_order:
            return
        values = distinct_keys(self.df[spec.decision], self.weights)
        unknown = [v for v in spec.decision_order if v not in values]
        left_out = [v for v in values if v not in spec.decision_order]
        remedy = Remedy("decision_order", list(order_values(values, recognize_order(values))), column=spec.decision)
        if unknown:
            verb = "is" if len(unknown) == 1 else "are"
            message = ORDER_UNKNOWN.format(values=_show(unknown), verb=verb, column=spec.decision, all=_show(values))
            self.add("error", "decision_order", message, ORDER_FIX, spec.decision, remedy)
        if left_out:
            message = ORDER_INCOMPLETE.format(values=_show(left_out), column=spec.decision)
            self.add("error", "decision_order", message, ORDER_FIX, spec.decision, remedy)

    def check_outcome(self, field: str, column: str, positive: Sequence[object], what: str, option: str) -> None:
        series = self.df[column]
        values = distinct_keys(series, self.weights)
        if not positive:
            example = values[0] if values else "VALUE"
            order = decision_order(self.spec.decision_order, values) if field == "positive" and values else None
            ranked = [v for v in order.values if v in values] if order is not None else []
            if ranked:
                # An ordered decision (Low < Medium < High, P4 < … < P1): the highest value, not the first by name.
                example = ranked[-1]
            self.add(
                "error",
                field,
                NO_POSITIVE.format(column=column, values=_show(values), what=what),
                NO_POSITIVE_FIX.format(what=what),
                column,
                Remedy(option, example, column=column),
            )
        else:
            for value in positive:
                key = value_key(value)
                if key not in values:
                    self.add(
                        "error",
                        field,
                        POSITIVE_ABSENT.format(column=column, value=key, hint=_hint(key, values), values=_show(values)),
                        POSITIVE_ABSENT_FIX,
                        column,
                    )
            if values and set(values) <= {value_key(v) for v in positive}:
                self.add(
                    "error",
                    field,
                    ALL_POSITIVE.format(column=column, values=_show(values)),
                    ALL_POSITIVE_FIX.format(what=what),
                    column,
                )
        self.check_missing(
            field,
            series,
            "those rows are left out of the audit"
            if what == "decision"
            else "those rows are left out of error-rate metrics",
        )

    def check_missing(self, field: str, series: pd.Series, consequence: str) -> None:
        absent = series.isna().to_numpy()
        missing = int(absent.sum()) if self.weights is None else int(self.weights[absent].sum())
        if missing:
            share = missing / max(self.rows, 1)
            self.add(
                "warning",
                field,
                MISSING_CELLS.format(column=series.name, count=missing, share=share, consequence=consequence),
                MISSING_CELLS_FIX,
                str(series.name),
            )

    def check_score(self) -> None:
        spec = self.spec
        series = self.df[spec.score]
        if not pd.api.types.is_numeric_dtype(series.dtype) and _only_numbers(series):
            series = pd.to_numeric(series)  # an object column of Python numbers (a DataFrame built in code)
        if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            numbers = pd.to_numeric(series, errors="coerce")
            bad = series[(numbers.isna() & series.notna()) | series.map(_is_bool)]
            examples = _show([str(v) for v in pd.unique(bad)][:3])
            self.add(
                "error",
                "score",
                SCORE_NOT_NUMERIC.format(column=spec.score, examples=examples),
                SCORE_NOT_NUMERIC_FIX,
                spec.score,
            )
            return
        self.check_missing("score", series, "those rows are left out of score-based metrics")
        if spec.decision is None and spec.threshold is None:
            message, remedy = NEEDS_THRESHOLD.format(column=spec.score), Remedy("threshold", 0.5)
            self.add("error", "threshold", message, NEEDS_THRESHOLD_FIX, spec.score, remedy)
        if spec.threshold is not None and series.notna().any():
            low, high = float(series.min()), float(series.max())
            if not low < spec.threshold <= high:
                self.add(
                    "warning",
                    "threshold",
                    THRESHOLD_OUTSIDE.format(threshold=spec.threshold, low=low, high=high),
                    THRESHOLD_OUTSIDE_FIX,
                    spec.score,
                )

    def check_protected(self) -> None:
        if not self.spec.protected:
            self.add("error", "protected", NO_PROTECTED, NO_PROTECTED_FIX, remedy=Remedy("protected"))
        for attr in self.spec.protected:
            if self.exists("protected", "protected attribute", attr.column):
                self.check_attribute(attr)

    def check_attribute(self, attr: ProtectedAttribute) -> None:
        column, series = attr.column, self.df[attr.column]
        if not attr.binned:
            levels = int(series.nunique(dropna=True))
            if levels > self.spec.max_levels:
                numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
                remedy = None
                if numeric:
                    cuts = quantile_edges(series, 4, self.weights)
                    edges = [int(e) if float(e).is_integer() else float(e) for e in cuts]
                    fix, remedy = TOO_MANY_LEVELS_NUMERIC_FIX, Remedy("bins", edges, column=column)
                else:
                    fix = TOO_MANY_LEVELS_TEXT_FIX
                self.add(
                    "error",
                    "protected",
                    TOO_MANY_LEVELS.format(column=column, levels=levels, limit=self.spec.max_levels),
                    fix,
                    column,
                    remedy,
                )
                return
        try:
            groups = encode_groups(
                series, bins=attr.bins, quantiles=attr.quantiles, weights=self.weights, edges=self.edges.get(column)
            )
        except SpecError as exc:
            self.add("error", "protected", str(exc), BIN_PROBLEM_FIX.format(column=column), column)
            return
        sizes = groups.sizes()
        self.group_sizes[column] = sizes
        self.encoded[column] = groups
        self.check_groups(attr, sizes, groups.missing_count)
        self.check_literal_missing(column, groups)
        if not attr.binned and not self.spec.merge_variants:
            counts = {label: n for label, n in sizes.items() if label != MISSING_GROUP}
            self.warn_variants("protected", column, counted_variants(column, counts))

    def check_literal_missing(self, column: str, groups: GroupCodes) -> None:
        literal = next((g for g in groups.labels if g.startswith(LITERAL_MISSING_GROUP)), None)
        if literal is None or groups.edges is not None:
            return
        count, empty = groups.sizes()[literal], groups.missing_count
        apart = LITERAL_MISSING_APART.format(empty=empty, s="" if empty == 1 else "s", missing=MISSING_GROUP)
        message = LITERAL_MISSING.format(
            column=column,
            count=count,
            s="" if count == 1 else "s",
            missing=MISSING_GROUP,
            literal=literal,
            apart=apart if empty else "",
        )
        remedy = Remedy("na_values", MISSING_GROUP)
        self.add("warning", "protected", message, LITERAL_MISSING_FIX, column, remedy)

    def check_groups(self, attr: ProtectedAttribute, sizes: dict[str, int], missing: int) -> None:
        column = attr.column
        labels = list(sizes)
        if len(labels) == 1:
            self.add("warning", "protected", ONE_GROUP.format(column=column, group=labels[0]), ONE_GROUP_FIX, column)
        if missing:
            self.add(
                "warning",
                "protected",
                MISSING_GROUP_NOTE.format(column=column, count=missing),
                MISSING_GROUP_FIX,
                column,
            )
        small = [f"{g} (n={n:,})" for g, n in sizes.items() if n < self.spec.min_group_size]
        if small:
            self.add(
                "warning",
                "protected",
                SMALL_GROUPS.format(column=column, minimum=self.spec.min_group_size, groups=", ".join(small)),
                SMALL_GROUPS_FIX,
                column,
            )
        if attr.reference is not None and attr.reference not in sizes:
            self.add(
                "error",
                "protected",
                REFERENCE_ABSENT.format(
                    reference=attr.reference, column=column, hint=_hint(attr.reference, labels), groups=_show(labels)
                ),
                REFERENCE_ABSENT_FIX,
                column,
                Remedy("reference", (_close(attr.reference, labels) or labels)[0], column=column),
            )

    def check_intersections(self) -> None:
        if self.spec.intersections is None:
            return
        protected = set(self.spec.protected_columns)
        for names in self.spec.intersections:
            for column in names:
                if column not in protected:
                    self.add(
                        "error",
                        "intersections",
                        INTERSECTION_NOT_PROTECTED.format(names=" × ".join(names), column=column),
                        INTERSECTION_NOT_PROTECTED_FIX,
                        column,
                        Remedy("intersections", column=column),
                    )

    def check_features(self) -> None:
        spec = self.spec
        if spec.features is None:
            return
        roles = {spec.decision: "decision", spec.label: "label", spec.score: "score"}
        for column in spec.features:
            if not self.exists("features", "feature", column):
                continue
            if column in roles:
                self.add(
                    "error",
                    "features",
                    ROLE_IN_FEATURES.format(role=roles[column], column=column),
                    ROLE_IN_FEATURES_FIX.format(column=column),
                    column,
                )
            elif column in spec.protected_columns:
                self.add(
                    "warning",
                    "features",
                    PROTECTED_IN_FEATURES.format(column=column),
                    PROTECTED_IN_FEATURES_FIX,
                    column,
                )
            elif column in spec.pii_columns or column in spec.id_columns:
                self.add("warning", "features", PII_IN_FEATURES.format(column=column), PII_IN_FEATURES_FIX, column)
            else:
                self.check_feature_values(column)

    def check_feature_values(self, column: str) -> None:
        if column not in self.df.columns:
            return  # a source column that was not counted (a counted table holds only the audit's columns)
        values = self.df[column].dropna()
        if len(values) and values.nunique() == 1:
            value = value_key(values.iloc[0])
            self.add(
                "warning",
                "features",
                ONE_VALUE_FEATURE.format(column=column, value=value),
                ONE_VALUE_FEATURE_FIX,
                column,
            )


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, np.bool_))


def _only_numbers(series: pd.Series) -> bool:
    """Whether every non-missing value is a real number (not text, not a boolean)."""
    values = series.dropna()
    return all(isinstance(v, (int, float, np.number)) and not _is_bool(v) for v in values)


def validate_spec(
    df: pd.DataFrame | CountedTable,
    spec: AuditSpec,
    *,
    dataset_sha256: str | None = None,
    weights: np.ndarray | None = None,
    columns: Sequence[str] | None = None,
    edges: dict[str, Sequence[float]] | None = None,
) -> SpecValidation:
    """Check that ``spec`` fits ``df``; report every problem, each with a fix.

    Parameters
    ----------
    df
        The table (as returned by :func:`analysis.load_table`), or a :class:`analysis.engine.CountedTable`
        (its frame is checked with its weights, columns and edges), or such a table's ``frame``.
    spec
        The spec to check.
    dataset_sha256
        The table's SHA-256 (:attr:`analysis.LoadReport.sha256`). When given and the spec
        records another hash, a warning says so (see :func:`dataset_mismatch`).
    weights, columns, edges
        For a :class:`analysis.engine.CountedTable`: source rows per row of ``df`` (every count is
        then of source rows), every source column (``df`` holds only those counted; a feature's
        values are then not checked) and quantile edges computed over every source row.

    Returns
    -------
    SpecValidation
        Errors (which block an audit) and warnings, plus group sizes per protected
        attribute. Never raises for a problem of the spec; call
        :meth:`SpecValidation.raise_for_errors` to turn errors into a :class:`SpecError`.
    """
    return run_checks(df, spec, dataset_sha256=dataset_sha256, weights=weights, columns=columns, edges=edges).validation


@dataclass(frozen=True)
class _Checked:
    """What validation found, and the table and spec it checked (spelling variants merged if the spec asks)."""

    validation: SpecValidation
    encoded: dict[str, GroupCodes]
    df: pd.DataFrame
    spec: AuditSpec


def run_checks(
    df: pd.DataFrame | CountedTable,
    spec: AuditSpec,
    *,
    dataset_sha256: str | None = None,
    weights: np.ndarray | None = None,
    columns: Sequence[str] | None = None,
    edges: dict[str, Sequence[float]] | None = None,
) -> _Checked:
    """Validate and encode (see :func:`validate_spec` for the parameters); the table and spec to compute on."""
    if isinstance(df, CountedTable):
        columns = df.columns if columns is None else columns
        edges = df.edges if edges is None else edges
        df, weights = df.frame, df.weights if weights is None else weights
    if not isinstance(df, pd.DataFrame):
        raise SpecError(f"validate_spec expects a pandas DataFrame, got {type(df).__name__}.")
    if weights is not None and len(weights) != len(df):
        raise ValueError(f"Expected one weight per row of the table ({len(df):,}), got {len(weights):,}.")
    checker = _Checker(df, spec, dataset_sha256, weights=weights, columns=columns, edges=edges)
    validation = checker.run()
    return _Checked(validation, checker.encoded, checker.df, checker.spec)


def checked_table(df: pd.DataFrame, spec: AuditSpec) -> tuple[pd.DataFrame, AuditSpec]:
    """Validate (raising :class:`SpecError` on errors) and return the table and spec to compute on.

    With ``spec.merge_variants`` these are the table and spec with spelling variants merged; else the inputs.
    """
    checked = run_checks(df, spec)
    checked.validation.raise_for_errors()
    return checked.df, checked.spec
