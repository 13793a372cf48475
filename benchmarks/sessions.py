"""Many users at once: concurrent browser sessions each upload their own file and run the audit.

Starts the app (``streamlit run app.py``) on a free port, then opens N Playwright browser contexts at the same
time (each one a separate Streamlit session). Every session uploads a DIFFERENT generated loan CSV
(``sample_data.generate.generate_loans`` with its own seed, plus a column and file name carrying a token unique
to the session), confirms the suggested roles and opens the Fairness page. It prints:

- the server's peak RSS (whole process tree, sampled every 0.2 s) and its RSS at baseline,
- time from the upload to the loaded table, and to the first Fairness results (median, p95, max),
- errors (Streamlit exception elements, error alerts, page errors, timeouts),
- isolation: the tokens each session's pages contain (its own, never another session's),
- RSS after the sessions are closed: a few seconds later, and after Streamlit drops disconnected sessions
  (``server.disconnectedSessionTTL``, 120 s by default; the expiry is lazy, so a fresh session is opened to
  trigger it), then until RSS has stopped falling for 40 s (at most 150 s) while the app's memory janitor
  (``ui/memory.py``) gives the memory back.

    python benchmarks/sessions.py                         # 20 sessions × ~20 MB files
    python benchmarks/sessions.py --sessions 3 --rows 5000 --ttl 10
    python benchmarks/sessions.py --waves 2       # twice on one server: does memory keep growing?

Needs Debian's Chromium at /usr/bin/chromium (see ../shared/notes/browser-tests.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.helpers import CHROMIUM, CHROMIUM_FLAGS, start_server, stop_server  # after sys.path

DEFAULT_SESSIONS = 20
DEFAULT_ROWS = 270_000  # ≈ 20 MB of CSV with the session's extra column
STEP_TIMEOUT_MS = 900_000
TOKEN_RE = re.compile(r"iso\d{3}q")
UPLOAD_KEY = "upload"  # ui.state.W.UPLOAD
FEATURES_EXPANDER = "Features, identifiers and personal data"
# ui/memory.py checks every CHECK_EVERY_S and releases at most once per MIN_GAP_S: wait until RSS has not fallen
# for longer than one such gap (so at least one release has had its chance), at most RELEASE_WAIT_S.
RELEASE_WAIT_S = 150.0
STABLE_FOR_S = 40.0


# ---------------------------------------------------------------- the files


@dataclass(frozen=True)
class SessionFile:
    """A session's own CSV: its name and one of its columns carry ``token``."""

    path: Path
    token: str
    column: str
    size: int


def token_for(index: int) -> str:
    """A token no other session's token contains (fixed width, closed by a letter)."""
    return f"iso{index:03d}q"


def make_session_file(folder: Path, index: int, rows: int) -> SessionFile:
    """Write session ``index``'s CSV: the loan sample with its own seed and a column named after its token."""
    from sample_data.generate import generate_loans

    token = token_for(index)
    df = generate_loans(rows, seed=10_000 + index)
    column = f"branch_{token}"
    # A text column whose name and values carry the token (a branch code; low cardinality, so it is a feature).
    df.insert(4, column, [f"{token}-{k}" for k in range(5)] * (rows // 5) + [f"{token}-0"] * (rows % 5))
    path = folder / f"loans_{token}.csv"
    df.to_csv(path, index=False)
    return SessionFile(path, token, column, path.stat().st_size)


def tokens_in(html: str) -> set[str]:
    """Session tokens that appear in a page's HTML."""
    return set(TOKEN_RE.findall(html))


# ---------------------------------------------------------------- server memory


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    return sum(status_kb(p, "VmRSS") for p in process_tree(pid)) / 1024


class MemorySampler(threading.Thread):
    """Samples the RSS of a process tree until stopped; remembers the peak."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_mb = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            time.sleep(self.every)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_mb


# ---------------------------------------------------------------- one session in the browser


@dataclass
class SessionResult:
    index: int
    token: str
    upload_to_loaded: float | None = None
    upload_to_results: float | None = None
    errors: list[str] = field(default_factory=list)
    tokens_seen: set[str] = field(default_factory=set)


async def wait_for_app(page, timeout: float = STEP_TIMEOUT_MS) -> None:
    """Connected, script finished, no stale element (the async twin of tests/browser/helpers.wait_for_app)."""
    from playwright.async_api import expect

    await page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout)
    await page.wait_for_timeout(250)
    await page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)
    stale = page.locator("[data-testid=stElementContainer][data-stale=true]")
    await expect(stale).to_have_count(0, timeout=timeout)


async def page_errors(page) -> list[str]:
    found = [f"exception: {t[:200]}" for t in await page.get_by_test_id("stException").all_inner_texts()]
    alerts = page.get_by_test_id("stAlertContentError")
    found += [f"error alert: {t[:200]}" for t in await alerts.all_inner_texts()]
    return found


async def run_session(context, url: str, file: SessionFile, index: int, start: asyncio.Event) -> SessionResult:
    """Upload ``file``, confirm the suggested roles, open Fairness; time it and record what the pages show."""
    from playwright.async_api import expect

    result = SessionResult(index, file.token)
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)  # 20 sessions on a small machine: every step can take minutes
    page.on("pageerror", lambda exc: result.errors.append(f"page error: {exc}"))
    try:
        await page.goto(url, timeout=STEP_TIMEOUT_MS)
        await wait_for_app(page)
        await page.get_by_test_id("stRadio").get_by_text("Upload a file", exact=True).click()
        await wait_for_app(page)
        upload = page.locator(f".st-key-{UPLOAD_KEY}").get_by_test_id("stFileUploaderDropzoneInput")
        await upload.wait_for(state="attached", timeout=STEP_TIMEOUT_MS)
        await start.wait()  # every session uploads at the same moment
        t0 = time.perf_counter()
        await upload.set_input_files(str(file.path), timeout=STEP_TIMEOUT_MS)
        heading = page.get_by_test_id("stHeading").filter(has_text=file.path.name)
        await expect(heading).to_be_visible(timeout=STEP_TIMEOUT_MS)
        await wait_for_app(page)
        result.upload_to_loaded = time.perf_counter() - t0
        # The session's own column is offered as a feature (the expander's content exists once it is open).
        await page.get_by_test_id("stExpander").get_by_text(FEATURES_EXPANDER, exact=True).click()
        await expect(page.get_by_test_id("stMultiSelect").filter(has_text=file.column)).not_to_have_count(0)
        result.tokens_seen |= tokens_in(await page.content())
        await page.get_by_role("button", name="Confirm roles").click(timeout=STEP_TIMEOUT_MS)
        await wait_for_app(page)
        await expect(page.get_by_text("These roles are confirmed for the audit.")).to_be_visible(timeout=60_000)
        await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Fairness").click()
        await expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
        await wait_for_app(page)
        result.upload_to_results = time.perf_counter() - t0
        result.tokens_seen |= tokens_in(await page.content())
        result.errors += await page_errors(page)
    except Exception as exc:  # a timeout or a broken page is an error of this session, not of the run
        result.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return result


# ---------------------------------------------------------------- the run


@dataclass
class RunFigures:
    sessions: int
    file_mb: float
    baseline_mb: float
    peak_mb: float
    after_close_mb: float
    after_ttl_mb: float
    results: list[SessionResult]
    wall_s: float

    @property
    def errors(self) -> list[str]:
        return [f"session {r.index}: {e}" for r in self.results for e in r.errors]

    @property
    def leaks(self) -> list[str]:
        """Sessions that saw another session's token, or did not see their own."""
        out = []
        for r in self.results:
            others = r.tokens_seen - {r.token}
            if others:
                out.append(f"session {r.index} saw {sorted(others)}")
            if r.token not in r.tokens_seen and not r.errors:
                out.append(f"session {r.index} never saw its own token {r.token}")
        return out


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def drive(url: str, files: list[SessionFile]) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        contexts = [await browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in files]
        start = asyncio.Event()
        tasks = [
            asyncio.create_task(run_session(ctx, url, f, i, start))
            for i, (ctx, f) in enumerate(zip(contexts, files, strict=True))
        ]
        # Let every session open the app and reach the uploader, then start them together.
        await asyncio.sleep(0)
        while not all(t.done() for t in tasks):
            ready = 0
            for ctx in contexts:
                for page in ctx.pages:
                    with contextlib.suppress(Exception):  # a page still navigating
                        ready += await page.locator(f".st-key-{UPLOAD_KEY}").count()
            if ready == len(files) or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.2)
        start.set()
        results = await asyncio.gather(*tasks)
        for ctx in contexts:
            await ctx.close()
        await browser.close()
    return list(results)


async def poke(url: str) -> None:
    """Open and close one fresh session (Streamlit expires disconnected sessions lazily, on access)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = await browser.new_page()
        await page.goto(url)
        await wait_for_app(page)
        await browser.close()


def settle_rss(pid: int, settle: float) -> float:
    """RSS once the app's memory janitor has had its chances: polled until it stops falling (or a time limit)."""
    time.sleep(settle)
    start = time.monotonic()
    lowest, since = tree_rss_mb(pid), time.monotonic()
    while time.monotonic() - start < RELEASE_WAIT_S and time.monotonic() - since < STABLE_FOR_S:
        time.sleep(5)
        now = tree_rss_mb(pid)
        if now < lowest - 1:
            lowest, since = now, time.monotonic()
    return tree_rss_mb(pid)


def run(sessions: int, rows: int, ttl: int, settle: float, folder: Path, waves: int = 1) -> list[RunFigures]:
    """``waves`` rounds of ``sessions`` concurrent sessions on one server (new files each round)."""
    log = folder / "server.log"
    server = start_server(log, extra_args=("--server.disconnectedSessionTTL", str(ttl)))
    figures = []
    try:
        pid = server.process.pid
        asyncio.run(poke(server.url))  # imports and the sample loaded once: the idle server a user finds
        time.sleep(1)
        baseline = tree_rss_mb(pid)
        for wave in range(waves):
            files = [make_session_file(folder, wave * sessions + i, rows) for i in range(sessions)]
            sampler = MemorySampler(pid)
            sampler.start()
            t0 = time.perf_counter()
            results = asyncio.run(drive(server.url, files))
            wall = time.perf_counter() - t0
            time.sleep(settle)
            after_close = tree_rss_mb(pid)
            peak = sampler.stop()
            time.sleep(max(0.0, ttl + 5 - settle))
            asyncio.run(poke(server.url))
            after_ttl = settle_rss(pid, settle)
            figures.append(
                RunFigures(
                    sessions=sessions,
                    file_mb=statistics.mean(f.size for f in files) / 1e6,
                    baseline_mb=baseline,
                    # VmHWM is the lifetime high-water mark: it only describes the first wave.
                    peak_mb=max(peak, status_kb(pid, "VmHWM") / 1024) if wave == 0 else peak,
                    after_close_mb=after_close,
                    after_ttl_mb=after_ttl,
                    results=results,
                    wall_s=wall,
                )
            )
            for f in files:
                f.path.unlink()
    finally:
        stop_server(server)
    return figures


def report(fig: RunFigures, settle: float, ttl: int) -> None:
    loaded = [r.upload_to_loaded for r in fig.results if r.upload_to_loaded is not None]
    done = [r.upload_to_results for r in fig.results if r.upload_to_results is not None]
    print(f"{fig.sessions} concurrent sessions, one {fig.file_mb:.1f} MB CSV each ({fig.wall_s:.0f} s wall)")
    print(f"server RSS: baseline {fig.baseline_mb:,.0f} MB, peak {fig.peak_mb:,.0f} MB")
    for label, values in (("upload → table loaded", loaded), ("upload → first Fairness results", done)):
        if values:
            print(
                f"{label}: median {statistics.median(values):.1f} s, p95 {quantile(values, 0.95):.1f} s, "
                f"max {max(values):.1f} s ({len(values)}/{fig.sessions} sessions)"
            )
        else:
            print(f"{label}: no session got there")
    print(f"errors: {len(fig.errors)}")
    for error in fig.errors[:20]:
        print(f"  {error}")
    print(f"server RSS {settle:.0f} s after closing the sessions: {fig.after_close_mb:,.0f} MB")
    print(
        f"server RSS after the disconnected-session TTL ({ttl} s) and one fresh session: {fig.after_ttl_mb:,.0f} MB "
        f"({fig.after_ttl_mb - fig.baseline_mb:+,.0f} MB against the baseline)"
    )
    leaks = fig.leaks
    print(f"isolation: {'every session saw only its own data' if not leaks else 'VIOLATED'}")
    for leak in leaks:
        print(f"  {leak}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows per file (270,000 ≈ 20 MB)")
    parser.add_argument("--ttl", type=int, default=120, help="server.disconnectedSessionTTL in seconds")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait before measuring after close")
    parser.add_argument("--waves", type=int, default=1, help="rounds of sessions on the same server (leak check)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} not found: install Debian's chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="paritylab-sessions-") as tmp:
        waves = run(args.sessions, args.rows, args.ttl, args.settle, Path(tmp), args.waves)
    for i, figures in enumerate(waves, 1):
        if len(waves) > 1:
            print(f"--- wave {i} of {len(waves)}")
        report(figures, args.settle, args.ttl)
    return 1 if any(f.errors or f.leaks for f in waves) else 0


if __name__ == "__main__":
    raise SystemExit(main())
