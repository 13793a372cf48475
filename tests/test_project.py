"""Project set-up: the Streamlit config and the CI script do what README promises; the code's house rules."""

import ast
import importlib
import re
import tomllib
from pathlib import Path

import analysis
from analysis.version import __version__

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
        "pip install -r requirements-dev.txt && pytest -n 2 --dist loadfile",
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


FIRST_PARTY = ("analysis", "ui", "pages", "sample_data", "app")
CODE = sorted([*ROOT.glob("analysis/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"])
# Private names imported across modules, as (name, importing module): none. Make a name public where it is
# defined instead; the test fails on an entry that is no longer needed, so the set can only shrink.
ALLOWED_PRIVATE_IMPORTS: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def private_imports(source: str, module: str) -> set[tuple[str, str]]:
    """(name, ``module``) for every ``from <first-party module> import _name`` in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in FIRST_PARTY:
            found |= {(a.name, module) for a in node.names if a.name.startswith("_") and a.name != "__version__"}
    return found


def test_the_version_is_pyprojects_and_the_package_reexports_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"] == analysis.__version__
    assert "__version__" in analysis.__all__


def test_the_version_module_imports_nothing_and_the_package_never_imports_itself():
    tree = ast.parse((ROOT / "analysis" / "version.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for path in ROOT.glob("analysis/*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "analysis" or node.level != 0, f"{path.name}: from analysis import …"
            if isinstance(node, ast.Import):
                assert "analysis" not in [a.name for a in node.names], f"{path.name}: import analysis"


def test_private_imports_are_caught_also_inside_functions():
    source = (
        "import os\nfrom analysis.validation import checked_table, _private\nfrom os.path import _joinrealpath\n"
        "def f():\n    from ui.state import _KEY as key\n    from analysis import __version__\n"
    )
    assert private_imports(source, "m") == {("_private", "m"), ("_KEY", "m")}


def test_no_private_name_is_imported_across_modules():
    found = set().union(*(private_imports(path.read_text(), module_name(path)) for path in CODE))
    assert found - ALLOWED_PRIVATE_IMPORTS == set()
    assert ALLOWED_PRIVATE_IMPORTS - found == set(), "no longer imported: remove from ALLOWED_PRIVATE_IMPORTS"


def test_every_all_of_the_engine_and_ui_names_only_what_exists():
    for path in [*ROOT.glob("analysis/*.py"), *ROOT.glob("ui/*.py")]:
        if path.name == "__main__.py":
            continue
        module = importlib.import_module(module_name(path))
        names = getattr(module, "__all__", None)
        if names is None:
            continue
        assert len(set(names)) == len(names), f"{module.__name__}: a name listed twice"
        assert [n for n in names if not hasattr(module, n)] == [], module.__name__


def test_the_packages_all_is_exactly_what_its_init_imports():
    tree = ast.parse((ROOT / "analysis" / "__init__.py").read_text())
    imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert set(analysis.__all__) == imported
    assert len(analysis.__all__) == len(imported)
