"""ParityLab's engine: load decision data, describe it with an AuditSpec, audit it.

Pure Python; never imports streamlit. Heavy libraries (LightGBM, scikit-learn, shap, aif360)
are imported only inside the functions that use them.
"""

from analysis.audit import AttributeAudit, AuditResult, Finding, GroupMetrics, MetricValue, audit
from analysis.errors import ExplainError, LoadError, ParityLabError, SpecError
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
from analysis.groups import MISSING_GROUP, GroupCodes, encode_groups
from analysis.loading import Change, LoadedTable, LoadReport, load_table
from analysis.profile import ColumnProfile, profile_columns
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.suggest import ColumnRole, SpecSuggestion, suggest_roles, suggest_spec
from analysis.validation import Problem, SpecValidation, validate_spec

__version__ = "0.1.0"

__all__ = [
    "MISSING_GROUP",
    "AttributeAudit",
    "AuditResult",
    "AuditSpec",
    "Change",
    "ColumnProfile",
    "ColumnRole",
    "ExplainError",
    "Explanation",
    "ExplanationSample",
    "FeatureImportance",
    "Fidelity",
    "Finding",
    "GapDecomposition",
    "GroupCodes",
    "GroupMetrics",
    "LoadError",
    "LoadReport",
    "LoadedTable",
    "LocalExplanation",
    "MetricValue",
    "ModelInfo",
    "ParityLabError",
    "Problem",
    "ProtectedAttribute",
    "ProxyScore",
    "Recoverability",
    "SpecError",
    "SpecSuggestion",
    "SpecValidation",
    "__version__",
    "audit",
    "encode_groups",
    "explain",
    "explain_row",
    "load_table",
    "profile_columns",
    "suggest_roles",
    "suggest_spec",
    "validate_spec",
]
