"""Put untrusted text (column names, cell values, messages quoting them) into Markdown safely.

Streamlit renders Markdown in st.markdown, st.caption, st.error, labels, ...: a column
named ``![x](https://host/p.png)`` would load a remote image and ``[y](javascript:..)``
would become a link. Every data-derived string goes through :func:`md` first.
"""

from __future__ import annotations

import re

__all__ = ["md"]

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=])")


def md(text: object) -> str:
    """Escape Markdown (and HTML) so ``text`` shows literally."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
