import subprocess
import sys

import analysis


def test_all_names_exist_once():
    assert len(set(analysis.__all__)) == len(analysis.__all__)
    for name in analysis.__all__:
        assert hasattr(analysis, name), name


def test_every_public_error_derives_from_the_base():
    for name in ("LoadError", "SpecError", "ExplainError", "OptionError"):
        assert issubclass(getattr(analysis, name), analysis.ParityLabError)


def test_engine_imports_no_ui_and_no_heavy_libraries():
    code = (
        "import sys, analysis; "
        "heavy = [m for m in ('streamlit', 'shap', 'sklearn', 'aif360', 'fairlearn', 'altair') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
