"""Hardening checks: the Streamlit config, no data-derived HTML, per-session bounded caches, server-side upload checks.

The browser-level checks (payloads in uploaded files, bad files through the real uploader) are in tests/browser/.
"""

from __future__ import annotations

import ast
import inspect
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]


# ---------------------------------------------------------------- .streamlit/config.toml


@pytest.fixture(scope="module")
def config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_config_sends_nothing_and_shows_no_tracebacks(config):
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"


def test_config_limits_uploads_and_keeps_xsrf_on(config):
    server = config["server"]
    # pages/data.py checks the same limit server-side (analysis.loading.DEFAULT_MAX_BYTES is 200 MiB).
    from analysis.loading import DEFAULT_MAX_BYTES

    assert server["maxUploadSize"] * 1024 * 1024 == DEFAULT_MAX_BYTES
    assert server["enableXsrfProtection"] is True
    # CORS protection stays on (the default); XSRF needs it.
    assert server.get("enableCORS", True) is True


def test_config_listens_on_this_machine_only(config):
    assert config["server"]["address"] == "127.0.0.1"
    assert "serverAddress" not in config.get("browser", {})  # Streamlit's default, localhost, for CORS and XSRF


def test_the_start_banner_looks_up_no_address(monkeypatch, capsys):
    """With server.address set, Streamlit prints one URL and asks nobody for this machine's addresses."""
    from streamlit import config as st_config
    from streamlit import net_util
    from streamlit.web import bootstrap

    def looked_up(*_args):
        raise AssertionError("Streamlit looked up this machine's address")

    monkeypatch.chdir(ROOT)
    st_config.get_config_options(force_reparse=True)
    try:
        monkeypatch.setattr(net_util, "get_external_ip", looked_up)
        monkeypatch.setattr(net_util, "get_internal_ip", looked_up)
        monkeypatch.setattr(st_config, "get_option", _with_headless(st_config.get_option))
        bootstrap._print_url(False)
        printed = capsys.readouterr().out
        assert "URL: http://127.0.0.1:" in printed
        assert "External URL" not in printed and "Network URL" not in printed
    finally:
        monkeypatch.undo()
        st_config.get_config_options(force_reparse=True)


def _with_headless(get_option):
    """``config.get_option`` with ``server.headless`` on (the lookup of the external IP happens only headless)."""
    return lambda name: True if name == "server.headless" else get_option(name)


def test_the_config_test_can_fail(monkeypatch, capsys):
    """Without an address, the same banner does look up the addresses (the check above would catch it)."""
    from streamlit import config as st_config
    from streamlit import net_util
    from streamlit.web import bootstrap

    calls: list[str] = []
    monkeypatch.setattr(net_util, "get_external_ip", lambda: calls.append("external"))
    monkeypatch.setattr(net_util, "get_internal_ip", lambda: calls.append("internal"))
    monkeypatch.setattr(st_config, "is_manually_set", lambda name: False)
    monkeypatch.setattr(st_config, "get_option", _with_headless(st_config.get_option))
    bootstrap._print_url(False)
    assert calls == ["internal", "external"]
    assert "Local URL" in capsys.readouterr().out


# A sitecustomize for the server under test: every connection or name lookup to a host other than this machine
# is refused and written down, so a lookup at start shows up in the file (and is never sent).
NETWORK_GUARD = """
import os, socket

LOG = os.environ["PARITYLAB_NETWORK_LOG"]
LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", ""}


def _note(what):
    with open(LOG, "a") as out:
        out.write(what + "\\n")


def _local(address):
    host = address[0] if isinstance(address, tuple) else address
    return not isinstance(host, str) or host in LOCAL or host.startswith("127.")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address):
        _note(f"connect {address}")
        raise OSError(101, "Network is unreachable (blocked by the test)")
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address):
        _note(f"connect {address}")
        return 101
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if isinstance(host, bytes):
        host = host.decode()
    if host is not None and not _local(host):
        _note(f"lookup {host}")
        raise socket.gaierror(socket.EAI_NONAME, "blocked by the test")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
"""


def listening_addresses(port: int) -> set[str]:
    """The local IPv4/IPv6 addresses with a socket listening on ``port`` (from /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:
                    found.add("::" if raw == bytes(16) else raw.hex())
    return found


def serve(tmp_path: Path, *extra: str) -> tuple[str, list[str], set[str]]:
    """Start ``streamlit run app.py`` headless with only ``extra`` options; its banner, network attempts, listeners."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.browser.helpers import free_port

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    log, attempts = tmp_path / "server.log", tmp_path / "network.log"
    attempts.write_text("")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(guard), "PARITYLAB_NETWORK_LOG": str(attempts), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "URL:" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the server printed no URL"
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
            assert response.read().strip() == b"ok"
        time.sleep(1.5)  # the banner's lookups (1 s timeout each) would have started by now
        return log.read_text(errors="replace"), attempts.read_text().split("\n")[:-1], listening_addresses(port)
    finally:
        process.terminate()
        process.wait(15)


@pytest.mark.slow
def test_the_server_listens_locally_and_looks_nothing_up(tmp_path):
    banner, attempts, listening = serve(tmp_path)
    assert listening == {"127.0.0.1"}
    assert attempts == []
    assert "External URL" not in banner and "Network URL" not in banner and "URL: http://127.0.0.1:" in banner


@pytest.mark.slow
def test_the_network_guard_sees_the_lookups_of_a_shared_server(tmp_path):
    """The deliberate way to share it (README) listens everywhere, and headless Streamlit then asks for its IP."""
    banner, attempts, listening = serve(tmp_path, "--server.address", "0.0.0.0")
    assert listening == {"0.0.0.0"}
    assert any(a.startswith("connect ('8.8.8.8'") for a in attempts)  # the network address, for "Network URL"
    assert any("checkip.amazonaws.com" in a for a in attempts)  # the external address: refused, never sent
    assert "Local URL" in banner


def test_config_serves_no_static_files_and_watches_no_files(config):
    server = config["server"]
    assert server["enableStaticServing"] is False
    assert server["fileWatcherType"] == "none"
    assert server.get("runOnSave", False) is False


def test_config_is_the_one_streamlit_reads():
    """A typo in a section or option name would be ignored silently: check every option exists in Streamlit."""
    from streamlit import config as st_config

    options = st_config._config_options_template  # the options Streamlit defines
    data = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    for section, values in data.items():
        for name in values:
            assert f"{section}.{name}" in options, f"unknown Streamlit option {section}.{name}"


# ---------------------------------------------------------------- no data-derived HTML


HTML_CALLS = {"html"}  # st.html, components.html, st.components.v1.html
# Calls that take unsafe_allow_html: with **kwargs the flag could be hidden in the mapping.
UNSAFE_CAPABLE = {"markdown", "write", "caption", "html"}


def module_constants(tree: ast.Module) -> set[str]:
    """Names assigned once at module level to a literal string (the only text allowed as raw HTML)."""
    constants: dict[str, int] = {}
    literal: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name):
                constants[target.id] = constants.get(target.id, 0) + 1
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    literal.add(target.id)
    # A name assigned again anywhere (a function, a loop) is not a constant.
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node not in _module_targets(tree):
            constants[node.id] = constants.get(node.id, 0) + 1
    return {name for name in literal if constants[name] == 1}


def _module_targets(tree: ast.Module) -> list[ast.AST]:
    out: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            out.extend(node.targets)
        elif isinstance(node, ast.AnnAssign):
            out.append(node.target)
    return out


def is_constant_text(node: ast.expr, constants: set[str]) -> bool:
    """A literal string, or a module-level constant holding one; f-strings, variables and calls are not."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Name) and node.id in constants


def raw_html_problems(source: str, filename: str = "<snippet>") -> list[str]:
    """Every call that renders raw HTML from anything but a constant string.

    Raw HTML is rendered by ``unsafe_allow_html=<anything but False>`` on any call, and by ``*.html(...)``
    (``st.html``, ``components.html``). A computed ``unsafe_allow_html`` value counts as True.
    """
    tree = ast.parse(source, filename)
    constants = module_constants(tree)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        unsafe = [
            k
            for k in node.keywords
            if k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
        ]
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        html_call = name in HTML_CALLS
        hidden = name in UNSAFE_CAPABLE and any(k.arg is None for k in node.keywords)
        if not unsafe and not html_call and not hidden:
            continue
        where = f"{filename}:{node.lineno}"
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            problems.append(f"{where}: raw HTML with **kwargs/*args (cannot be checked)")
            continue
        texts = [*node.args, *(k.value for k in node.keywords if k.arg in ("body", "html"))]
        if not texts:
            problems.append(f"{where}: raw HTML call without a literal body")
        for text in texts:
            if not is_constant_text(text, constants):
                problems.append(f"{where}: raw HTML from {ast.unparse(text)!r}, not a module-level constant string")
    return problems


@pytest.mark.parametrize("path", UI_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_data_derived_text_in_raw_html(path: Path):
    assert raw_html_problems(path.read_text(), str(path.relative_to(ROOT))) == []


def test_the_ui_sources_were_found():
    names = {p.name for p in UI_SOURCES}
    assert {"app.py", "data.py", "fairness.py", "drivers.py", "cached.py", "state.py"} <= names


BAD_SNIPPETS = {
    "f-string": 'import streamlit as st\nname = "x"\nst.markdown(f"<b>{name}</b>", unsafe_allow_html=True)\n',
    "variable": "import streamlit as st\ndef show(col):\n    st.markdown(col, unsafe_allow_html=True)\n",
    "concatenation": 'import streamlit as st\ndef show(col):\n    st.write("<b>" + col, unsafe_allow_html=True)\n',
    "call": "import streamlit as st\ndef show(df):\n    st.markdown(df.to_html(), unsafe_allow_html=True)\n",
    "computed flag": "import streamlit as st\ndef show(t, ok):\n    st.markdown(t, unsafe_allow_html=ok)\n",
    "st.html": "import streamlit as st\ndef show(t):\n    st.html(t)\n",
    "st.html f-string": 'import streamlit as st\nx = 1\nst.html(f"<p>{x}</p>")\n',
    "components.html": "import streamlit.components.v1 as components\ndef show(t):\n    components.html(t)\n",
    "kwargs": "import streamlit as st\ndef show(t, **kw):\n    st.markdown(t, **kw)\n",
    "st.html body=": "import streamlit as st\ndef show(t):\n    st.html(body=t)\n",
    "reassigned constant": (
        'import streamlit as st\nCSS = "<style></style>"\ndef f(x):\n    global CSS\n    CSS = x\n'
        "st.markdown(CSS, unsafe_allow_html=True)\n"
    ),
}

GOOD_SNIPPETS = {
    "literal": 'import streamlit as st\nst.markdown("<br>", unsafe_allow_html=True)\n',
    "module constant": 'import streamlit as st\nCSS = "<style>p {color: red}</style>"\nst.html(CSS)\n',
    "markdown without html": "import streamlit as st\ndef show(t):\n    st.markdown(t)\n",
    "explicit False": "import streamlit as st\ndef show(t):\n    st.markdown(t, unsafe_allow_html=False)\n",
}


@pytest.mark.parametrize("name", list(BAD_SNIPPETS))
def test_the_checker_flags_data_derived_html(name):
    assert raw_html_problems(BAD_SNIPPETS[name]), f"the checker missed: {name}"


@pytest.mark.parametrize("name", list(GOOD_SNIPPETS))
def test_the_checker_allows_constant_html(name):
    assert raw_html_problems(GOOD_SNIPPETS[name]) == []


# ---------------------------------------------------------------- caches


def cached_functions() -> dict[str, object]:
    from streamlit.runtime.caching.cache_utils import CachedFunc

    import ui.cached

    return {name: f for name, f in vars(ui.cached).items() if isinstance(f, CachedFunc)}


def test_caches_of_session_data_are_per_session_bounded_and_expire():
    """Anything computed from a session's data is cached per session, with a bound and a lifetime."""
    functions = cached_functions()
    assert len(functions) >= 6
    for name, func in functions.items():
        info = func._info
        assert info.max_entries is not None, f"{name}: unbounded cache"
        params = list(inspect.signature(func.__wrapped__).parameters)
        if name == "load_sample":
            # The bundled samples are the same for everybody: one server-wide copy each.
            assert params == ["title"]
            assert info.max_entries <= 4
            continue
        # Keyed by the data as read (file hash and reading options), never by the file hash alone.
        assert params[0] == "data_key", f"{name}: not keyed by the data as read"
        assert info.scope == "session", f"{name}: cache shared between sessions"
        assert info.ttl is not None and 0 < info.ttl <= 24 * 3600, f"{name}: no lifetime"
        assert 1 <= info.max_entries <= 32, f"{name}: max_entries={info.max_entries}"
        assert info.persist is None, f"{name}: persisted to disk"


def test_uploads_are_not_cached_across_sessions():
    """An upload is parsed per session and kept in session state, never in a server-wide cache."""
    import ui.cached

    assert "load_upload" not in cached_functions()
    assert callable(ui.cached.load_upload)


# ---------------------------------------------------------------- server-side upload checks (AppTest)


@pytest.fixture
def small_upload_limit(monkeypatch):
    """Lower the loader's byte limit, which pages/data.py reads on each run, so 'oversized' is about 1 MB."""
    import analysis.loading

    monkeypatch.setattr(analysis.loading, "DEFAULT_MAX_BYTES", 2**20)


def apptest_upload(name: str, data: bytes):
    from tests.app.apptest import new_app
    from ui.state import W

    at = new_app()
    at.radio(key=W.SOURCE).set_value("Upload a file").run()
    at.file_uploader(key=W.UPLOAD).set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def navigation_pages(monkeypatch):
    """Keep AppTest on st.navigation's semantics (see tests/app/conftest.py)."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def test_the_app_refuses_an_oversized_upload_server_side(small_upload_limit, navigation_pages):
    """Streamlit's per-widget limit is a browser check; the page checks the size itself, before reading."""
    data = (ROOT / "sample_data" / "loan_approvals.csv").read_bytes()
    assert 1_150_000 < len(data) < 1_350_000
    at = apptest_upload("big.csv", data)
    errors = [e.value.replace("\\", "") for e in at.error]  # shown through md(): Markdown-escaped
    assert any("'big.csv' is 1.2 MB; the limit is 1 MB" in e for e in errors), errors  # MB of 2**20 bytes
    # Nothing was loaded: the sample stays.
    assert any("Still working with" in c.value for c in at.caption)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "script.py", "noext"])
def test_the_app_refuses_other_types_server_side(name, navigation_pages):
    at = apptest_upload(name, b"\x80\x04K\x01.")
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any("ParityLab reads" in e and "Export it as CSV" in e for e in errors), errors
