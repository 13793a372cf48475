from collections.abc import Callable

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.runtime.pages_manager import PagesManager


@pytest.fixture(autouse=True)
def navigation_pages_not_legacy(monkeypatch):
    """Keep AppTest on st.navigation's semantics on every run.

    AppTest resets ``PagesManager.uses_pages_directory`` before each run, and a new
    PagesManager then sees our ``pages/`` folder and switches to the legacy multipage mode,
    so reruns execute the page file alone, without app.py's sidebar. In a real server
    the app's st.navigation call sets the flag to False for good after the first run.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes | Callable[[], bytes]]:
    """Every file the app hands to a download button in this test (or its deferred maker), by file id."""
    files: dict[str, bytes | Callable[[], bytes]] = {}
    stored, deferred = MemoryMediaFileStorage.load_and_get_id, MediaFileManager.add_deferred

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = stored(self, path_or_data, mimetype, kind, filename)
        files[file_id] = path_or_data if isinstance(path_or_data, bytes) else bytes(path_or_data, "utf-8")
        return file_id

    def keep_deferred(self, data_callable, *args, **kwargs):
        file_id = deferred(self, data_callable, *args, **kwargs)
        files[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    monkeypatch.setattr(MediaFileManager, "add_deferred", keep_deferred)
    return files
