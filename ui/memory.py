"""Give the memory of closed sessions back to the operating system.

When a browser tab closes, Streamlit keeps its session (state, uploads) for ``server.disconnectedSessionTTL``
seconds, then drops it. Measured with ``benchmarks/sessions.py``, three things still kept the server's RSS far
above its baseline after that:

- a dropped session's Dataset (and its DataFrame) is still referenced by its last script run's namespace (the
  page's top-level variables), and that namespace sits in a cycle with the functions defined in it
  (``__globals__``): only a full garbage collection frees it, and an idle server allocates too little to
  trigger one;
- pandas' string columns live in Arrow's memory pool. Its default, mimalloc, keeps the pages of the (exited)
  script threads that allocated them: ``release_unused()`` gives them back only when called from the main
  thread, which Streamlit's event loop owns;
- glibc's malloc keeps freed heap memory in its arenas.

So :func:`start_janitor` switches Arrow to the system allocator (glibc malloc, whose free memory
``malloc_trim`` returns from any thread) and starts a daemon thread that checks the process RSS every few
seconds (reading ``/proc``: cheap). While the RSS stays well above the lowest RSS seen after a clean-up, it
collects garbage, releases Arrow's unused memory and trims malloc's arenas, at most once per ``min_gap``
seconds (a full collection takes ~0.2 s with the app's libraries loaded). Users start the app with
``streamlit run app.py``, so this cannot rely on environment variables such as ``ARROW_DEFAULT_MEMORY_POOL``
or ``MALLOC_ARENA_MAX``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["Janitor", "release_memory", "rss_mb", "start_janitor", "use_system_allocator_for_arrow"]

CHECK_EVERY_S = 5.0
MIN_GAP_S = 30.0
SLACK_MB = 64.0

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4096 / 2**20


def rss_mb() -> float:
    """This process's resident set size in MB (0.0 where ``/proc`` is unavailable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return 0.0


def _malloc_trim() -> None:
    """Return free heap memory to the OS (glibc only; a no-op elsewhere)."""
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim  # absent from musl
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def release_memory() -> float:
    """Collect garbage, release Arrow's unused pool memory and trim malloc; the MB of RSS given back."""
    before = rss_mb()
    gc.collect()
    if "pyarrow" in sys.modules:  # only if something already imported it: never import it for this
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    _malloc_trim()
    return before - rss_mb()


@dataclass
class Janitor:
    """Decides when to release memory: RSS ``slack_mb`` above the floor, at most once per ``min_gap`` seconds.

    The floor is the lowest RSS seen right after a clean-up, so a server whose sessions hold memory they still
    use is cleaned once per ``min_gap`` at most, and one whose sessions have ended falls back to the floor.
    """

    slack_mb: float = SLACK_MB
    min_gap: float = MIN_GAP_S
    floor_mb: float = float("inf")
    last: float = float("-inf")
    runs: int = 0

    def due(self, rss: float, now: float) -> bool:
        return rss > self.floor_mb + self.slack_mb and now - self.last >= self.min_gap

    def tick(self, now: float | None = None) -> bool:
        """Release memory if it is due; True if it was."""
        now = time.monotonic() if now is None else now
        if self.floor_mb == float("inf"):
            self.floor_mb = rss_mb()
        if not self.due(rss_mb(), now):
            return False
        release_memory()
        self.last, self.runs = now, self.runs + 1
        self.floor_mb = min(self.floor_mb, rss_mb())
        return True


_lock = threading.Lock()
_thread: threading.Thread | None = None


def use_system_allocator_for_arrow() -> bool:
    """Make glibc malloc Arrow's default pool (where available); True if Arrow now uses it."""
    try:
        import pyarrow as pa
    except ImportError:
        return False
    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except (NotImplementedError, pa.ArrowException):
        return False
    return pa.default_memory_pool().backend_name == "system"


def start_janitor(check_every: float = CHECK_EVERY_S, janitor: Janitor | None = None) -> threading.Thread:
    """Use the system allocator for Arrow and start the process's janitor thread, once (later calls return it)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            if sys.platform.startswith("linux"):  # where malloc_trim gives Arrow's freed memory back
                use_system_allocator_for_arrow()
            worker = janitor or Janitor()

            def loop() -> None:
                while True:
                    time.sleep(check_every)
                    with contextlib.suppress(Exception):  # a failed clean-up must never stop the server
                        worker.tick()

            _thread = threading.Thread(target=loop, name="paritylab-memory-janitor", daemon=True)
            _thread.start()
        return _thread
