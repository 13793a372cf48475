"""ParityLab's engine: load decision data, describe it with an AuditSpec, audit it.

Pure Python; never imports streamlit. Heavy libraries (scikit-learn, shap, aif360)
are imported only inside the functions that use them.
"""

from analysis.audit import AttributeAudit, AuditResult, Finding, GroupMetrics, MetricValue, audit
from analysis.errors import LoadError, ParityLabError, SpecError
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
    "Finding",
    "GroupCodes",
    "GroupMetrics",
    "LoadError",
    "LoadReport",
    "LoadedTable",
    "MetricValue",
    "ParityLabError",
    "Problem",
    "ProtectedAttribute",
    "SpecError",
    "SpecSuggestion",
    "SpecValidation",
    "__version__",
    "audit",
    "encode_groups",
    "load_table",
    "profile_columns",
    "suggest_roles",
    "suggest_spec",
    "validate_spec",
]
