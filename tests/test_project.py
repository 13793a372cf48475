"""Project set-up: the Streamlit config and the CI script do what README promises."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_config_keeps_everything_local_and_private():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["maxUploadSize"] == 200
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableStaticServing"] is False


def test_ci_runs_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```\n(pip install -r requirements[^\n]*)\n```", readme)
    assert commands == [
        "pip install -r requirements.txt && streamlit run app.py",
        "pip install -r requirements-dev.txt && pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == commands[1]
    assert "set -euo pipefail" in ci and "apt-get install" in ci and "chromium" in ci


def test_requirements_are_pinned_and_free_of_deep_learning_frameworks():
    lines = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^\s]*", ln) for ln in lines), lines
    names = {ln.split("==")[0].lower() for ln in lines}
    assert {"streamlit", "pandas", "pyarrow", "fairlearn", "aif360", "shap", "altair", "scipy"} <= names
    assert not names & {"torch", "tensorflow", "aif360[all]"}
    streamlit = next(ln for ln in lines if ln.startswith("streamlit=="))
    assert tuple(int(p) for p in streamlit.split("==")[1].split(".")[:2]) >= (1, 54)
