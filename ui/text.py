"""Put untrusted text (column names, cell values, messages quoting them) into Markdown safely.

Streamlit renders Markdown in st.markdown, st.caption, st.error, labels, ...: a column
named ``![x](https://host/p.png)`` would load a remote image and ``[y](javascript:..)``
would become a link. Every data-derived string goes through :func:`md` first.
"""

from __future__ import annotations

import re

__all__ = ["md"]

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=])")
# Escaping does not stop GFM's autolinks: "http://…", "www.…" and "a@b.c" in data would still become
# clickable links. A zero-width space inside each pattern breaks the link and keeps the text readable.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www))(?=\.)|(?=@)")
ZERO_WIDTH_SPACE = "\u200b"


def md(text: object) -> str:
    """Escape Markdown (and HTML) so ``text`` shows literally, and never as a link."""
    text = _AUTOLINK.sub(ZERO_WIDTH_SPACE, str(text))
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")
