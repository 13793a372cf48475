import pytest
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
