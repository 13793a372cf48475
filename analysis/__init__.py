"""ParityLab's engine: load decision data, describe it with an AuditSpec, audit it.

Pure Python; never imports streamlit. Heavy libraries (LightGBM, scikit-learn, shap, aif360)
are imported only inside the functions that use them.
"""

from analysis.audit import AttributeAudit, AuditResult, Finding, GroupMetrics, MetricValue, audit
from analysis.bias_tables import BiasTable, BiasTables, bias_tables
from analysis.compare import AuditComparison, ComparisonRow, compare_audits, load_audit, render_comparison_html
from analysis.errors import ExplainError, LoadError, OptionError, ParityLabError, SpecError
from analysis.explain import (
    Explanation,
    ExplanationSample,
    FeatureImportance,
    Fidelity,
    GapDecomposition,
    LocalExplanation,
    ModelInfo,
    ProxyScore,
    Recoverability,
    explain,
    explain_row,
)
from analysis.exports import csv_bytes, decision_changes, neutralize_formulas
from analysis.groups import MISSING_GROUP, GroupCodes, encode_groups
from analysis.loading import Change, LoadedTable, LoadReport, load_table
from analysis.mitigation import (
    MitigationComparison,
    MitigationRow,
    ModelScores,
    apply_thresholds,
    compare_mitigations,
    model_scores,
)
from analysis.optimizer import Frontier, FrontierPoint, Optimization, frontier, optimize
from analysis.profile import ColumnProfile, profile_columns
from analysis.report import metrics_csv, render_html
from analysis.slices import Slice, SliceSearch, find_slices
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.story import VERDICTS, Gap, Verdict, gap_for, headline, rank_gaps, verdict_for, worst_gap
from analysis.suggest import ColumnRole, SpecSuggestion, suggest_roles, suggest_spec
from analysis.thresholds import ThresholdCurves, WhatIf, baseline, threshold_curves, what_if
from analysis.validation import Problem, SpecValidation, validate_spec
from analysis.values import VariantGroup, value_variants
from analysis.variants import MergedTable, find_variants, merge_variants
from analysis.version import __version__
from analysis.words import DecisionWords, decision_words

__all__ = [
    "MISSING_GROUP",
    "VERDICTS",
    "AttributeAudit",
    "AuditComparison",
    "AuditResult",
    "AuditSpec",
    "BiasTable",
    "BiasTables",
    "Change",
    "ColumnProfile",
    "ColumnRole",
    "ComparisonRow",
    "DecisionWords",
    "ExplainError",
    "Explanation",
    "ExplanationSample",
    "FeatureImportance",
    "Fidelity",
    "Finding",
    "Frontier",
    "FrontierPoint",
    "Gap",
    "GapDecomposition",
    "GroupCodes",
    "GroupMetrics",
    "LoadError",
    "LoadReport",
    "LoadedTable",
    "LocalExplanation",
    "MergedTable",
    "MetricValue",
    "MitigationComparison",
    "MitigationRow",
    "ModelInfo",
    "ModelScores",
    "Optimization",
    "OptionError",
    "ParityLabError",
    "Problem",
    "ProtectedAttribute",
    "ProxyScore",
    "Recoverability",
    "Slice",
    "SliceSearch",
    "SpecError",
    "SpecSuggestion",
    "SpecValidation",
    "ThresholdCurves",
    "VariantGroup",
    "Verdict",
    "WhatIf",
    "__version__",
    "apply_thresholds",
    "audit",
    "baseline",
    "bias_tables",
    "compare_audits",
    "compare_mitigations",
    "csv_bytes",
    "decision_changes",
    "decision_words",
    "encode_groups",
    "explain",
    "explain_row",
    "find_slices",
    "find_variants",
    "frontier",
    "gap_for",
    "headline",
    "load_audit",
    "load_table",
    "merge_variants",
    "metrics_csv",
    "model_scores",
    "neutralize_formulas",
    "optimize",
    "profile_columns",
    "rank_gaps",
    "render_comparison_html",
    "render_html",
    "suggest_roles",
    "suggest_spec",
    "threshold_curves",
    "validate_spec",
    "value_variants",
    "verdict_for",
    "what_if",
    "worst_gap",
]
