"""ui/memory.py: closed sessions' memory goes back to the OS (see benchmarks/sessions.py for the server figures)."""

from __future__ import annotations

import gc
import threading
import weakref

import pandas as pd
import pyarrow as pa
import pytest

from ui import memory


@pytest.fixture
def gc_disabled():
    """No automatic collection during the test, so only release_memory can free cyclic garbage."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


@pytest.fixture
def arrow_pool():
    """Restore Arrow's default pool after a test that changes it."""
    pool = pa.default_memory_pool()
    yield
    pa.set_memory_pool(pool)


@pytest.mark.slow
def test_release_memory_frees_dataframes_held_only_by_a_cycle(gc_disabled):
    # A closed session's DataFrame is reachable only through a reference cycle, as in the server.
    df = pd.DataFrame({"group": [f"g{i % 7}" for i in range(10_000)], "decision": range(10_000)})
    holder: list = [df]
    holder.append(holder)
    alive = weakref.ref(df)
    del df, holder
    assert alive() is not None  # without a collection, the cycle keeps it
    memory.release_memory()
    assert alive() is None


def test_arrow_uses_the_system_allocator(arrow_pool):
    assert memory.use_system_allocator_for_arrow() is True
    assert pa.default_memory_pool().backend_name == "system"
    before = pa.system_memory_pool().bytes_allocated()
    strings = pa.array([f"row-{i:06d}" for i in range(10_000)])  # 100 KB of characters
    assert pa.system_memory_pool().bytes_allocated() - before >= 100_000
    assert strings.null_count == 0


def test_rss_is_read_from_proc():
    rss = memory.rss_mb()
    assert 10 < rss < 100_000


def test_janitor_releases_above_the_floor_at_most_once_per_gap(monkeypatch):
    readings = iter([200.0, 500.0, 260.0, 600.0, 600.0, 240.0, 230.0, 230.0])
    monkeypatch.setattr(memory, "rss_mb", lambda: next(readings))
    released = []
    monkeypatch.setattr(memory, "release_memory", lambda: released.append(True) or 0.0)
    janitor = memory.Janitor(slack_mb=64, min_gap=30)

    assert janitor.tick(now=0.0) is True  # floor 200 from the first reading; 500 > 264
    assert janitor.floor_mb == 200.0  # 260 after the release is above the floor
    assert janitor.tick(now=10.0) is False  # 600 but only 10 s since the last release
    assert janitor.tick(now=40.0) is True  # 600 again, 40 s later
    assert janitor.floor_mb == 200.0
    assert janitor.tick(now=100.0) is False  # 230 is within the slack
    assert released == [True, True]
    assert janitor.runs == 2


def test_janitor_floor_drops_to_the_lowest_rss_after_a_release(monkeypatch):
    readings = iter([300.0, 400.0, 180.0])
    monkeypatch.setattr(memory, "rss_mb", lambda: next(readings))
    monkeypatch.setattr(memory, "release_memory", lambda: 0.0)
    janitor = memory.Janitor(slack_mb=64, min_gap=30)
    assert janitor.tick(now=0.0) is True
    assert janitor.floor_mb == 180.0


def test_start_janitor_starts_one_daemon_thread(arrow_pool):
    first = memory.start_janitor()
    second = memory.start_janitor()
    assert first is second
    assert first.daemon and first.is_alive()
    assert first.name == "paritylab-memory-janitor"
    assert sum(t.name == "paritylab-memory-janitor" for t in threading.enumerate()) == 1
