"""How every surface names the decision, in the terms of the person it happens to.

A positive decision that benefits the person reads as what it is ("approved"); one that harms them
("flagged high risk", "escalation denied", "rejected") reads as the harm itself — "flagged at 1.74x the
rate of …", "would newly be flagged" — never as a negated benefit ("do not receive the positive
decision"). Sentences, cards, chart titles and the CLI all take their words from :func:`decision_words`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.spec import AuditSpec
from analysis.values import condition, value_key

__all__ = ["DecisionWords", "decision_words"]

YES_VALUES = frozenset({"y", "yes", "true", "t", "1"})
# The participle used when neither the column's name nor its positive value gives one.
DEFAULT_VERB = {True: "selected", False: "flagged"}


@dataclass(frozen=True)
class DecisionWords:
    """The decision named in words.

    Attributes
    ----------
    verb
        Participle of the positive decision: ``"approved"``, ``"escalated"``; ``"selected"`` (it benefits
        the person) or ``"flagged"`` (it harms them) when the data gives none.
    condition
        The positive decision as a condition on the data: ``"approved = Y"``, ``"score ≥ 0.5"``.
    harmful
        True when the positive decision harms the person (``AuditSpec.positive_is_favorable`` False).
    named
        Whether ``verb`` comes from the data (the column's name or its positive value); when False, sentences
        give the condition with the verb the first time ("flagged (score_text in Medium, High)").
    """

    verb: str
    condition: str
    harmful: bool
    named: bool

    @property
    def are(self) -> str:
        """``"are approved"``; with a default verb, the condition too: ``"are flagged (score_text in …)"``."""
        return f"are {self.verb}" if self.named else f"are {self.verb} ({self.condition})"

    @property
    def are_not(self) -> str:
        """``"are not approved"``: only for sentences about the other decision, never for the verdict."""
        return f"are not {self.verb}" if self.named else f"are not {self.verb} ({self.condition})"

    @property
    def share(self) -> str:
        """Name of the positive rate: ``"share approved"``, ``"share flagged"``."""
        return f"share {self.verb}"

    @property
    def newly(self) -> str:
        """``"would newly be approved"`` / ``"would newly be flagged"``."""
        return f"would newly be {self.verb}"

    @property
    def no_longer(self) -> str:
        """``"would no longer be approved"`` / ``"would no longer be flagged"``."""
        return f"would no longer be {self.verb}"

    @property
    def favorable(self) -> str:
        """What the favourable decision is, in words: ``"approved"``, ``"not flagged"``."""
        return f"not {self.verb}" if self.harmful else self.verb

    def to_dict(self) -> dict[str, Any]:
        return {"verb": self.verb, "condition": self.condition, "harmful": self.harmful, "named": self.named}


def _participle(spec: AuditSpec) -> str | None:
    """A participle naming the positive decision (``"approved"``), when the column or its value gives one."""
    keys = [str(value_key(v)).lower() for v in spec.positive]
    words = spec.decision.replace("_", " ").replace("-", " ").lower().split()
    if words and words[0] in ("is", "was"):
        words = words[1:]
    if words and words[0].endswith("ed") and keys and set(keys) <= YES_VALUES:
        return " ".join(words)
    if len(keys) == 1 and keys[0].isalpha() and keys[0].endswith("ed"):
        return keys[0]
    return None


def decision_words(spec: AuditSpec) -> DecisionWords:
    """The words every surface uses for ``spec``'s decision.

    Examples
    --------
    >>> from analysis import AuditSpec, ProtectedAttribute
    >>> w = decision_words(AuditSpec(decision="approved", positive=("Y",), protected=(ProtectedAttribute("sex"),)))
    >>> w.are, w.newly
    ('are approved', 'would newly be approved')
    >>> w = decision_words(AuditSpec(decision="score_text", positive=("Medium", "High"), positive_is_favorable=False,
    ...                              protected=(ProtectedAttribute("race"),)))
    >>> w.are, w.favorable
    ('are flagged (score_text in Medium, High)', 'not flagged')
    """
    if spec.decision is None:
        decided, verb = f"{spec.score} ≥ {spec.threshold:g}", None
    else:
        decided, verb = condition(spec.decision, spec.positive), _participle(spec)
    harmful = not spec.positive_is_favorable
    return DecisionWords(
        verb=verb or DEFAULT_VERB[not harmful], condition=decided, harmful=harmful, named=verb is not None
    )
