"""The mitigation workflow as one engine call: thresholds (found or given) and what they change.

:func:`mitigate` takes a table and its spec, puts a score on it when the spec has none (a model of
the decisions, :func:`analysis.mitigation.model_scores`), finds per-group thresholds with the exact
optimizer (:func:`analysis.optimizer.optimize`) or takes the ones given, and returns one
:class:`Mitigation` record: the thresholds, the current decisions and the new ones measured by the
metrics module (over the scored rows, as the Mitigation page's sliders show them, and as full
audits of the table), and the flips. ``python -m analysis mitigate`` prints it and writes its
:meth:`Mitigation.to_dict` as JSON; the Mitigation page's "Download thresholds (JSON)" is the same
dict — one thresholds schema.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.audit import AttributeAudit, audit
from analysis.engine import CountedTable, ScoreResolution
from analysis.errors import OptionError, SpecError
from analysis.optimizer import GOALS, NOTHING, Optimization, default_goal, goal_unavailable, objective_value, optimize
from analysis.options import SEED, check_choice, check_costs, default_tolerance
from analysis.spec import AuditSpec
from analysis.thresholds import (
    Start,
    ThresholdCurves,
    WhatIf,
    attribute_of,
    baseline,
    changed_decisions,
    counted_spec,
    reproducing_thresholds,
    threshold_curves,
    what_if,
)

if TYPE_CHECKING:
    from analysis.loading import LoadReport
    from analysis.mitigation import ModelScores

__all__ = ["THRESHOLDS_SCHEMA_VERSION", "Mitigation", "mitigate", "score_note", "starting_point"]

THRESHOLDS_SCHEMA_VERSION = 1
MODES = ("start", "optimized", "per_group", "single")
GOAL_UNAVAILABLE = "mitigate() option goal={goal!r} {reason}."
GOAL_AND_CONSTRAINT = (
    "mitigate() takes a goal or a constraint, not both: got goal={goal!r} and constraint={constraint!r}. "
    "Drop one of them."
)
NEEDS_SAMPLE = (
    "mitigate() on counted rows ({rows:,} source rows counted by the {engine} engine) cannot {what}: that needs "
    "the rows themselves. Give the spec a score column, or pass sample= a stratified sample of the rows as a "
    "DataFrame (the engines' sample_duckdb / sample_spark give one)."
)
NOT_A_SAMPLE = "mitigate() option sample must be a pandas DataFrame of the source's rows, got {got}."
SAMPLED = (
    "The model score was trained on a stratified sample of {rows:,} rows (of {total:,} source rows); the "
    "thresholds were found and measured on that sample."
)
GRID_THRESHOLDS = (
    "The thresholds found are points of that grid, where the counts equal those of the raw score; at a "
    "threshold between grid points the counts are those of the next grid point up."
)


def score_note(resolution: ScoreResolution) -> str:
    """What the score's resolution means for thresholds, in one or two sentences."""
    if resolution.exact:
        return resolution.describe()
    return f"{resolution.describe()} {GRID_THRESHOLDS}"


def starting_point(curves: ThresholdCurves, *, cost_fp: float = 1.0, benefit_tp: float = 1.0) -> tuple[Start, WhatIf]:
    """Where every mitigation starts: the thresholds reproducing today's decisions, and today's decisions.

    The Mitigation page's sliders and ``python -m analysis mitigate`` both start here
    (:func:`analysis.thresholds.reproducing_thresholds`); changes are counted from it
    (:func:`analysis.thresholds.changed_decisions`).
    """
    start = reproducing_thresholds(curves, cost_fp=cost_fp, benefit_tp=benefit_tp)
    return start, baseline(curves, cost_fp=cost_fp, benefit_tp=benefit_tp)


@dataclass(frozen=True, eq=False)
class Mitigation:
    """Thresholds for one protected attribute and what they change.

    Attributes
    ----------
    attribute
        The protected column the thresholds are per group of.
    mode
        ``"start"`` (the thresholds reproducing today's decisions: goal "nothing"), ``"optimized"`` (found by
        the optimizer), ``"per_group"`` or ``"single"`` (given).
    goal
        The goal in plain words asked for (:data:`analysis.optimizer.GOALS`), or None for a raw constraint or
        given thresholds.
    start
        The starting point (:func:`starting_point`): what the thresholds are measured from; ``changed`` counts
        the decisions the thresholds change from today's that the start reproduces, and
        ``start.unreproducible`` the ones no threshold reproduces (``flips`` is both together).
    thresholds
        Group → threshold (decision = score ≥ threshold).
    optimization
        The optimizer's answer (constraint, tolerance, objective, feasibility, …); None when given.
    before, after
        The current decisions and the new ones over the scored rows (:class:`analysis.thresholds.WhatIf`).
    audit_before, audit_after
        The attribute's audit of the whole table, with today's decisions and with the decisions
        re-made by the thresholds (rows without a score keep theirs).
    score_column, score_label, model
        The score the thresholds act on; ``model`` is the model score's record when the spec had none.
    dataset, load
        The table's name, rows and SHA-256, and how the file was read (None for a DataFrame).
    scores
        How the score was counted (:class:`analysis.engine.ScoreResolution`): exact, or rounded to a grid
        whose points the thresholds found are.
    """

    attribute: str
    mode: str
    thresholds: dict[str, float]
    optimization: Optimization | None
    before: WhatIf
    after: WhatIf
    audit_before: AttributeAudit
    audit_after: AttributeAudit
    score_column: str
    score_label: str | None
    model: ModelScores | None
    cost_fp: float
    benefit_tp: float
    dataset: dict[str, Any]
    load: LoadReport | None = None
    goal: str | None = None
    start: Start | None = None
    scores: ScoreResolution | None = None

    @property
    def changed(self) -> dict[str, dict[str, int]]:
        """Group → decisions changed from today's, not counting those no threshold reproduces."""
        return changed_decisions(self.after, self.start) if self.start is not None else self.flips

    @property
    def flips(self) -> dict[str, dict[str, int]]:
        """Group → ``{"to_positive": n, "to_negative": n}`` against the current decisions."""
        return self.after.flips

    def to_dict(self) -> dict[str, Any]:
        """The thresholds JSON (``schema_version`` 1): what the CLI writes and the Mitigation page downloads."""
        opt = self.optimization
        objective = None if opt is None else opt.objective
        return {
            "schema_version": THRESHOLDS_SCHEMA_VERSION,
            "attribute": self.attribute,
            "mode": self.mode,
            "goal": self.goal,
            "thresholds": {self.attribute: dict(self.thresholds)},
            "start": None if self.start is None else self.start.to_dict(),
            "changed": {g: dict(f) for g, f in self.changed.items()},
            "constraint": None if opt is None else opt.constraint,
            "tolerance": None if opt is None else opt.tolerance,
            "objective": objective,
            "feasible": None if opt is None else opt.feasible,
            "reason": None if opt is None else opt.reason,
            "exact": None if opt is None else opt.exact,
            "achieved": None if opt is None else opt.achieved,
            "constrained_groups": None if opt is None else list(opt.constrained_groups),
            "notes": [] if opt is None else list(opt.notes),
            "objective_value": None if opt is None else opt.objective_value,
            "objective_value_before": None if opt is None else objective_value(self.before, objective),
            "cost_fp": self.cost_fp,
            "benefit_tp": self.benefit_tp,
            "score_source": "model" if self.model is not None else "spec",
            "score_column": self.score_column,
            "score_label": self.score_label,
            "model_score": None if self.model is None else self.model.to_dict(),
            "scores": None if self.scores is None else self.scores.to_dict() | {"note": score_note(self.scores)},
            "flips": {g: dict(f) for g, f in self.flips.items()},
            "before": self.audit_before.to_dict(),
            "after": self.audit_after.to_dict(),
            "scored_rows": {"before": self.before.to_dict(), "after": self.after.to_dict()},
            "dataset": dict(self.dataset),
            "load": None if self.load is None else self.load.to_dict(),
        }


def mitigate(
    source: pd.DataFrame | CountedTable,
    spec: AuditSpec,
    *,
    attribute: str | None = None,
    thresholds: dict[str, float] | float | None = None,
    goal: str | None = None,
    constraint: str | None = None,
    tolerance: float | None = None,
    objective: str = "accuracy",
    cost_fp: float = 1.0,
    benefit_tp: float = 1.0,
    random_state: int = SEED,
    model: ModelScores | None = None,
    optimization: Optimization | None = None,
    load_report: LoadReport | None = None,
    dataset_name: str | None = None,
    sample: pd.DataFrame | None = None,
) -> Mitigation:
    """Per-group thresholds on the score — found by the optimizer, or given — and what they change.

    Parameters
    ----------
    source, spec
        The table (or a :class:`analysis.engine.CountedTable`) and its spec. Without a score in the spec, the
        thresholds act on the model score (``model``, else :func:`analysis.mitigation.model_scores` with
        ``random_state``), which needs the rows themselves, not counted ones. On a score counted on a grid,
        the thresholds found are grid points and the record's ``scores`` says so.
    attribute
        The protected column (default: the spec's first).
    thresholds
        Group → threshold, or one number for every group; None to follow the goal or the constraint.
    goal
        A goal in plain words (:data:`analysis.optimizer.GOALS`): ``"nothing"`` keeps the starting
        thresholds (today's decisions, reproduced), the others name a constraint × objective × tolerance.
        Without a goal, a constraint or thresholds, the default goal
        (:func:`analysis.optimizer.default_goal`): nothing to do when today's decisions pass the
        four-fifths rule, else the rule with the fewest changed decisions — never worse than today.
    constraint, tolerance, objective, cost_fp, benefit_tp
        As :func:`analysis.optimizer.optimize` (used when ``thresholds`` and ``goal`` are None); ``tolerance``
        defaults to :func:`analysis.options.default_tolerance` of the constraint.
    optimization
        An answer of the optimizer already found on this table (the Mitigation page's), used instead of
        optimizing again; its settings are the record's.
    load_report, dataset_name
        How the file was read, and its name, for the record.
    sample
        For counted rows and a spec without a score only: a stratified sample of the source's rows (every
        column; e.g. the engines' ``sample_duckdb`` / ``sample_spark`` with ``per_group``). The model score is
        trained on it, and the thresholds are found and measured on it; the record says so. Without it,
        counted rows and no score are refused.
    """
    from analysis.mitigation import MODEL_SCORE_LABEL, apply_thresholds, model_scores

    column = attribute_of(spec, attribute).column  # a bad attribute fails before any model is trained
    check_costs("mitigate()", cost_fp, benefit_tp)  # and so does a bad cost
    table = source if isinstance(source, CountedTable) else None
    df = source.frame if table is not None else source
    counted = table is not None and table.weights is not None
    score_label = None
    if spec.score is None:
        if counted and sample is None:
            what = "train a model score (the spec names no score column)"
            raise SpecError(NEEDS_SAMPLE.format(rows=table.rows, engine=table.engine, what=what))
        if counted:
            options = {"attribute": attribute, "thresholds": thresholds, "goal": goal, "constraint": constraint}
            options |= {"tolerance": tolerance, "objective": objective, "cost_fp": cost_fp, "benefit_tp": benefit_tp}
            options |= {"random_state": random_state, "model": model, "optimization": optimization}
            return _on_sample(table, spec, sample, options, load_report, dataset_name)
        model = model if model is not None else model_scores(df, spec, random_state=random_state)
        df, spec = model.apply(df, spec)
        score_label = MODEL_SCORE_LABEL
    else:
        model = None
    if table is not None:
        table = replace(table, frame=df)
    curves = threshold_curves(table if table is not None else df, spec, attribute=column)
    start, today = starting_point(curves, cost_fp=cost_fp, benefit_tp=benefit_tp)
    if goal is None and constraint is None and thresholds is None and optimization is None:
        goal = default_goal(today)
    if goal is not None:
        if constraint is not None:
            raise OptionError(GOAL_AND_CONSTRAINT.format(goal=goal, constraint=constraint), option="goal")
        check_choice("mitigate()", "goal", goal, list(GOALS))
        reason = goal_unavailable(goal, curves.has_label)
        if reason:
            raise OptionError(GOAL_UNAVAILABLE.format(goal=goal, reason=reason), option="goal")
        chosen = GOALS[goal]
        constraint, objective, tolerance = chosen.constraint, chosen.objective, chosen.tolerance
    if optimization is not None:  # found already: its thresholds, measured at these costs
        after = what_if(curves, optimization.thresholds, cost_fp=cost_fp, benefit_tp=benefit_tp)
        mode = "optimized"
    elif goal == NOTHING:
        after, mode = start.what_if, "start"
    elif thresholds is None:
        tolerance = default_tolerance(constraint) if tolerance is None else tolerance
        optimization = optimize(
            curves,
            constraint=constraint,
            tolerance=tolerance,
            objective=objective,
            cost_fp=cost_fp,
            benefit_tp=benefit_tp,
        )
        after, mode = optimization.what_if, "optimized"
    else:
        after = what_if(curves, thresholds, cost_fp=cost_fp, benefit_tp=benefit_tp)
        mode = "per_group" if isinstance(thresholds, dict) else "single"
    # On counted rows, quantile bins are cut where the source's rows cut them.
    cut = counted_spec(table, spec) if counted else spec
    after_df, after_spec = apply_thresholds(df, cut, after.thresholds, attribute=column)
    if counted:
        after_spec = replace(after_spec, protected=spec.protected, features=spec.features)
        after_spec = replace(after_spec, id_columns=spec.id_columns, pii_columns=spec.pii_columns)
    load_report = load_report if load_report is not None or table is None else table.load
    name = dataset_name or (load_report.name if load_report is not None else None)
    if name is None and table is not None:
        name = table.name
    sha256 = load_report.sha256 if load_report is not None else (None if table is None else table.sha256)
    return Mitigation(
        attribute=column,
        mode=mode,
        thresholds=dict(after.thresholds),
        optimization=optimization,
        before=today,
        after=after,
        audit_before=_attribute_audit(table, df, spec, column, name),
        audit_after=_attribute_audit(table, after_df, after_spec, column, name),
        score_column=spec.score,
        score_label=score_label,
        model=model,
        cost_fp=float(cost_fp),
        benefit_tp=float(benefit_tp),
        dataset={"name": name, "rows": len(df) if table is None else table.rows, "sha256": sha256},
        load=load_report,
        goal=goal,
        start=start,
        scores=_resolution(table, df, spec.score),
    )


def _on_sample(
    table: CountedTable,
    spec: AuditSpec,
    sample: pd.DataFrame,
    options: dict[str, Any],
    load_report: LoadReport | None,
    dataset_name: str | None,
) -> Mitigation:
    """:func:`mitigate` on a sample of a counted table's rows, the model score trained on it, said in the record."""
    if not isinstance(sample, pd.DataFrame):
        raise SpecError(NOT_A_SAMPLE.format(got=type(sample).__name__))
    load_report = load_report if load_report is not None else table.load
    name = dataset_name or (load_report.name if load_report is not None else table.name)
    result = mitigate(sample, spec, **options, load_report=load_report, dataset_name=name)
    note = SAMPLED.format(rows=len(sample), total=table.rows)
    model = replace(result.model, notes=(note, *result.model.notes))
    sha256 = load_report.sha256 if load_report is not None else table.sha256
    return replace(result, model=model, dataset=result.dataset | {"sha256": sha256})


def _resolution(table: CountedTable | None, df: pd.DataFrame, score: str) -> ScoreResolution:
    """How the score was counted: the table's record, else exact with its distinct finite values."""
    if table is not None and table.scores is not None:
        return table.scores
    values = df[score].to_numpy(dtype=float, na_value=np.nan)
    return ScoreResolution(int(np.unique(values[np.isfinite(values)]).size))


def _attribute_audit(
    table: CountedTable | None, frame: pd.DataFrame, spec: AuditSpec, column: str, name: str | None
) -> AttributeAudit:
    """The attribute's audit of ``frame``: the table's rows, or counted rows standing for the table's."""
    if table is None or table.weights is None:
        return audit(frame, spec, dataset_name=name).attributes[column]
    # The re-made decisions may sit in a new column (no decision column in the spec): one of the table's now.
    columns = tuple(dict.fromkeys([*table.columns, *map(str, frame.columns)]))
    counted = replace(table, frame=frame, columns=columns)
    if "engine" in inspect.signature(audit).parameters:  # the audit that takes counted tables
        return audit(counted, spec, dataset_name=name).attributes[column]
    # An audit that reads rows only: the counted rows, each as often as it occurs (the rows it stands for).
    rows = frame.loc[frame.index.repeat(table.weights)].reset_index(drop=True)
    return audit(rows, counted_spec(counted, spec), dataset_name=name).attributes[column]
