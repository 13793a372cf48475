"""The story of each bundled sample: what bias was injected, how large it is, and what to look for.

One source of truth: the numbers come from ``sample_data/generate.py`` (``DOCUMENTED_EFFECTS``, the true sizes)
and the data card ``sample_data/README.md`` (the mechanism, and each effect's value in the committed file);
``tests/test_sample_data.py`` keeps those two and the CSVs in step. Only the wording of the hint is written here.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SampleEffect", "SampleStory", "sample_story"]

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
CARD = SAMPLE_DIR / "README.md"
GENERATOR = SAMPLE_DIR / "generate.py"

# Sample title (as the Data page lists it) → its file, its key in DOCUMENTED_EFFECTS, the protected column the
# bias shows in, and the hint; {name} in the hint is the true size of that effect (DOCUMENTED_EFFECTS).
HINTS: dict[str, dict[str, str]] = {
    "Loan approvals": {
        "file": "loan_approvals.csv",
        "effects": "loans",
        "attribute": "ethnicity",
        "hint": (
            "Look at ethnicity: groups B and C are approved at about {disparate_impact_ethnicity_B_vs_A:.2f}× and "
            "{disparate_impact_ethnicity_C_vs_A:.2f}× the rate of group A — below four-fifths — while group D is "
            "barely affected ({disparate_impact_ethnicity_D_vs_A:.2f}×) and gender not at all "
            "({disparate_impact_gender_Female_vs_Male:.2f}×). The model never sees ethnicity: region stands in for "
            "it, so the Drivers page should find region. Among applicants who would repay, B is approved "
            "{tpr_ethnicity_B:.0%} of the time against {tpr_ethnicity_A:.0%} for A."
        ),
    },
    "Support tickets": {
        "file": "support_tickets.csv",
        "effects": "tickets",
        "attribute": "customer_language",
        "hint": (
            "Look at customer_language: non-English tickets are put in P1/P2 at about "
            "{p1p2_ratio_non_English_vs_English:.2f}× the rate of English ones (Japanese: {p1p2_rate_Japanese:.1%} "
            "against {p1p2_rate_English:.1%}), although they are as often truly urgent "
            "({urgent_share_non_English:.1%} against {urgent_share_English:.1%}). The triage model never sees the "
            "language: the bias arrives through the sentiment score, so the Drivers page should find sentiment."
        ),
    },
}


@dataclass(frozen=True)
class SampleEffect:
    """One documented effect: its name, true size (the generating process) and value in the committed file."""

    name: str
    true_size: float
    committed: float
    se: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "true_size": self.true_size, "committed": self.committed, "se": self.se}


@dataclass(frozen=True)
class SampleStory:
    """A bundled sample's story, told on the Data page and in the workshop.

    Attributes
    ----------
    title, file
        The sample as the Data page lists it, and its CSV file.
    attribute
        The protected column the injected bias shows in.
    mechanism
        The injected bias in one line (the data card's overview table).
    injected
        The data card's paragraph on the injected bias and its size.
    effects
        Every documented effect, in the data card's order.
    hint
        What to look for, with the true sizes.
    caveats
        Column → the data card's caveat about it (a bullet of its 'Caveats' that starts with the column's name).
    """

    title: str
    file: str
    attribute: str
    mechanism: str
    injected: str
    effects: tuple[SampleEffect, ...]
    hint: str
    caveats: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "file": self.file,
            "attribute": self.attribute,
            "mechanism": self.mechanism,
            "injected": self.injected,
            "effects": [e.to_dict() for e in self.effects],
            "hint": self.hint,
            "caveats": dict(self.caveats),
        }


@cache
def documented_effects() -> dict[str, dict[str, float]]:
    """``DOCUMENTED_EFFECTS`` of ``sample_data/generate.py`` (loaded by path: sample_data is not a package)."""
    spec = importlib.util.spec_from_file_location("paritylab_sample_generate", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DOCUMENTED_EFFECTS


def card_section(text: str, file: str) -> str:
    """The data card's section about ``file`` (from its ``## file`` heading to the next one)."""
    match = re.search(rf"^## {re.escape(file)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    if match is None:
        raise LookupError(f"sample_data/README.md has no section '## {file}'")
    return match.group(1)


def card_mechanism(text: str, file: str) -> str:
    """The 'injected bias' cell of ``file``'s row in the data card's overview table."""
    match = re.search(rf"^\| `{re.escape(file)}` \|.*\| ([^|]+) \|$", text, flags=re.M)
    if match is None:
        raise LookupError(f"sample_data/README.md's overview table has no row for {file}")
    return match.group(1).strip()


def card_injected(section: str) -> tuple[str, tuple[tuple[str, float, float, float], ...]]:
    """The paragraph under 'Injected bias and its size' and its table rows (name, true size, committed, SE)."""
    match = re.search(r"^### Injected bias and its size\n(.*?)(?=^### |\Z)", section, flags=re.S | re.M)
    if match is None:
        raise LookupError("a sample's section of sample_data/README.md has no 'Injected bias and its size'")
    body = match.group(1)
    paragraph = " ".join(body.strip().split("\n\n")[0].split())
    rows = tuple(
        (name, float(true), float(value), float(se))
        for name, true, value, se in re.findall(
            r"^\| `([^`]+)` \| (-?[\d.]+) \| (-?[\d.]+) ± ([\d.]+) \|$", body, flags=re.M
        )
    )
    return paragraph, rows


def card_caveats(section: str) -> dict[str, str]:
    """The bullets of the section's 'Caveats' that start with a column's name: column → the bullet's text."""
    match = re.search(r"^### Caveats\n(.*?)(?=^### |^---|\Z)", section, flags=re.S | re.M)
    bullets = re.split(r"^- ", match.group(1), flags=re.M)[1:] if match else []
    out = {}
    for bullet in bullets:
        named = re.match(r"`([^`]+)`", bullet)
        if named:
            out[named.group(1)] = " ".join(bullet.replace("`", "").split())
    return out


@cache
def sample_story(title: str) -> SampleStory:
    """The story of the bundled sample ``title`` (a key of ``ui.cached.SAMPLES``).

    Raises
    ------
    KeyError
        When ``title`` is not a bundled sample.
    LookupError
        When the data card lacks a part of the story, or disagrees with ``DOCUMENTED_EFFECTS``.
    """
    hint = HINTS[title]
    text = CARD.read_text(encoding="utf-8")
    true_sizes = documented_effects()[hint["effects"]]
    section = card_section(text, hint["file"])
    paragraph, rows = card_injected(section)
    effects = tuple(SampleEffect(name, true, value, se) for name, true, value, se in rows)
    card = {e.name: e.true_size for e in effects}
    if card != true_sizes:
        raise LookupError(
            f"sample_data/README.md and DOCUMENTED_EFFECTS['{hint['effects']}'] disagree: change both together"
        )
    return SampleStory(
        title=title,
        file=hint["file"],
        attribute=hint["attribute"],
        mechanism=card_mechanism(text, hint["file"]),
        injected=paragraph,
        effects=effects,
        hint=hint["hint"].format(**true_sizes),
        caveats=card_caveats(section),
    )
