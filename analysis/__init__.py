"""ParityLab's engine: load decision data, describe it with an AuditSpec, audit it.

Pure Python; never imports streamlit. Heavy libraries (scikit-learn, shap, aif360)
are imported only inside the functions that use them.
"""

from analysis.errors import LoadError, ParityLabError, SpecError

__all__ = [
    "LoadError",
    "ParityLabError",
    "SpecError",
]
