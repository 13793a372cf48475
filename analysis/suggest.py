"""Suggest column roles for a new table, each with a short reason the UI shows.

Roles are inferred from names (``approved``, ``true_urgency``, ``gender``) and from
values (few distinct values, numbers in [0, 1], one value per row, e-mail patterns).
The result is a starting point for the user to confirm, never a silent decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from analysis.errors import SpecError
from analysis.profile import ColumnProfile, profile_columns
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.values import Scalar

__all__ = ["ColumnRole", "Role", "SpecSuggestion", "suggest_roles", "suggest_spec"]

Role = Literal["decision", "label", "score", "protected", "id", "pii", "feature", "unused"]

DECISION_WORDS = {
    "approved", "approve", "approval", "decision", "decided", "prediction", "predicted", "pred", "priority",
    "outcome", "accepted", "accept", "granted", "selected", "hired", "admitted", "flagged", "flag", "offer", "yhat",
    "classification", "assigned", "action", "verdict",
}  # fmt: skip
LABEL_WORDS = {
    "actual", "repaid", "default", "defaulted", "true", "label", "truth", "target", "observed", "real",
    "verified", "ytrue", "gold",
}  # fmt: skip
SCORE_WORDS = {"score", "prob", "probability", "proba", "risk", "likelihood", "propensity", "confidence"}
PROTECTED_WORDS = {
    "gender", "sex", "race", "ethnicity", "ethnic", "age", "religion", "religious", "disability", "disabled",
    "marital", "nationality", "national", "language", "citizenship", "citizen", "pregnancy", "pregnant",
    "veteran", "orientation", "ancestry", "caste", "colour", "color", "origin", "immigrant", "minority",
}  # fmt: skip
AFTER_DECISION_WORDS = {
    "escalated", "escalation", "response", "resolution", "resolved", "closed", "followup", "handled", "reply",
    "collected", "chargeoff", "writeoff",
}  # fmt: skip
ID_WORDS = {"id", "uuid", "guid", "key", "number", "no", "ref", "reference"}
PII_NAME_WORDS = {
    "email", "mail", "phone", "mobile", "telephone", "name", "firstname", "lastname", "surname", "fullname",
    "address", "street", "postcode", "zipcode", "zip", "ssn", "passport", "ip", "birthdate", "dob",
}  # fmt: skip
HARMFUL_WORDS = {
    "risk", "fraud", "flag", "flagged", "reject", "rejected", "deny", "denied", "decline", "declined",
    "default", "arrest", "penalty", "suspicious", "blocked", "ban", "banned", "sanction",
}  # fmt: skip
POSITIVE_WORDS = [
    "1", "y", "yes", "true", "t", "approved", "approve", "accepted", "accept", "granted", "hired", "selected",
    "admitted", "positive", "pos", "pass", "passed", "repaid", "urgent", "high", "flagged", "fraud", "default",
]  # fmt: skip
ORDINAL_LEVELS = [
    ["low", "medium", "high"],
    ["low", "medium", "high", "critical"],
    ["low", "normal", "high", "urgent"],
    ["low", "medium", "high", "urgent"],
]
AGE_EDGES = (25.0, 40.0, 60.0)
MAX_DECISION_VALUES = 10
SCORE_MIN_DISTINCT = 20
PII_SHARE = 0.8
SAMPLE = 2_000

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s().\-]{7,20}$")
PERSON_NAME = re.compile(r"^[A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+){1,2}$")
STREET = re.compile(r"^\d+[A-Za-z]? .+ (?:street|st|avenue|ave|road|rd|lane|ln|blvd|drive|dr|way|court|ct)\.?$", re.I)
PRIORITY_CODE = re.compile(r"^[Pp](\d)$")


@dataclass(frozen=True)
class ColumnRole:
    """The role suggested for one column, and why."""

    column: str
    role: Role
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-safe dict."""
        return {"column": self.column, "role": self.role, "reason": self.reason}


@dataclass(frozen=True)
class SpecSuggestion:
    """Suggested roles for every column, and the spec they make.

    Attributes
    ----------
    spec
        The suggested spec, or None when no decision or score column was found.
    roles
        One :class:`ColumnRole` per column, in table order.
    notes
        Sentences about what could not be inferred (no label found, positive value unclear, ...).
    """

    spec: AuditSpec | None
    roles: tuple[ColumnRole, ...]
    notes: tuple[str, ...]

    def role_of(self, column: str) -> Role:
        """The role suggested for ``column``."""
        return next(r.role for r in self.roles if r.column == column)

    def reason_of(self, column: str) -> str:
        """Why ``column`` got its role."""
        return next(r.reason for r in self.roles if r.column == column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "spec": None if self.spec is None else self.spec.to_dict(),
            "roles": [r.to_dict() for r in self.roles],
            "notes": list(self.notes),
        }


def name_tokens(name: str) -> set[str]:
    """Lower-case words of a column name: ``'TrueUrgency'`` and ``'true_urgency'`` give {true, urgency}."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    joined = {"".join(words[i : i + 2]) for i in range(len(words) - 1)}
    return set(words) | joined


def _matched(name: str, vocabulary: set[str]) -> str | None:
    hits = sorted(name_tokens(name) & vocabulary, key=len, reverse=True)
    return hits[0] if hits else None


def _values(profile: ColumnProfile) -> list[str]:
    return [v for v, _ in profile.top_values]


def _sample(series: pd.Series) -> pd.Series:
    values = series.dropna()
    if len(values) > SAMPLE:
        values = values.sample(SAMPLE, random_state=0)
    return values.astype("str").str.strip()


def _pii_reason(series: pd.Series, profile: ColumnProfile) -> str | None:
    """Why a column holds personal data, judged by its values first, then its name."""
    if profile.kind != "text" or profile.distinct < 2:
        return None
    values = _sample(series)
    if values.empty:
        return None
    patterns = [
        (EMAIL, "e-mail addresses"),
        (PHONE, "phone numbers"),
        (STREET, "street addresses"),
        (PERSON_NAME, "personal names"),
    ]
    for pattern, what in patterns:
        share = values.str.match(pattern).mean()
        if share >= PII_SHARE and (pattern is not PERSON_NAME or profile.distinct >= 0.5 * profile.rows):
            return f"{share:.0%} of its values look like {what}"
    word = _matched(profile.name, PII_NAME_WORDS)
    if word and profile.distinct >= 0.5 * (profile.rows - profile.missing):
        return f"its name mentions '{word}' and almost every row has its own value"
    return None


def _id_reason(profile: ColumnProfile) -> str | None:
    if profile.kind not in ("text", "integer"):
        return None
    if profile.unique_per_row and profile.kind == "text":
        return "every row has its own value"
    if profile.unique_per_row and profile.maximum - profile.minimum == profile.rows - 1:
        return "every row has its own value, numbered consecutively"
    word = _matched(profile.name, ID_WORDS)
    if word and profile.distinct >= 0.95 * profile.rows:
        return f"its name mentions '{word}' and nearly every row has its own value"
    return None


def positive_values(values: list[str]) -> list[str]:
    """Values that most likely mean 'positive' among a column's distinct values (may be empty)."""
    lowered = {v.lower(): v for v in values}
    codes = {v: int(m.group(1)) for v in values if (m := PRIORITY_CODE.match(v))}
    if len(codes) == len(values) and len(values) >= 2:
        ranked = sorted(values, key=codes.__getitem__)
        return ranked[: len(ranked) // 2]
    for levels in ORDINAL_LEVELS:
        if set(lowered) == set(levels):
            return [lowered[level] for level in levels[len(levels) // 2 :]]
    if len(values) == 2:
        for word in POSITIVE_WORDS:
            if word in lowered:
                return [lowered[word]]
    return []


class _Suggester:
    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.profiles = {p.name: p for p in profile_columns(df)}
        self.roles: dict[str, ColumnRole] = {}
        self.notes: list[str] = []

    def assign(self, column: str, role: Role, reason: str) -> None:
        self.roles[column] = ColumnRole(column, role, reason)

    def free(self) -> Iterable[ColumnProfile]:
        return [p for name, p in self.profiles.items() if name not in self.roles]

    def run(self) -> SpecSuggestion:
        self.find_identifiers()
        score = self.find_score()
        decision = self.find_outcome("decision", DECISION_WORDS, exclude_words=LABEL_WORDS)
        label = self.find_outcome("label", LABEL_WORDS, exclude_words=set())
        protected = self.find_protected()
        self.find_consequences()
        for profile in self.free():
            self.assign(profile.name, "feature", "no other role fits; it may help explain decisions")
        self.roles = {name: self.roles[name] for name in self.profiles}
        roles = tuple(self.roles.values())
        spec = self.build_spec(decision, label, score, protected)
        return SpecSuggestion(spec=spec, roles=roles, notes=tuple(self.notes))

    def find_identifiers(self) -> None:
        for profile in self.profiles.values():
            pii = _pii_reason(self.df[profile.name], profile)
            if pii:
                self.assign(profile.name, "pii", f"personal data: {pii}")
                continue
            ident = _id_reason(profile)
            if ident:
                self.assign(profile.name, "id", f"identifier: {ident}")

    def find_score(self) -> str | None:
        candidates = []
        for profile in self.free():
            if not profile.numeric or profile.distinct < SCORE_MIN_DISTINCT:
                continue
            word = _matched(profile.name, SCORE_WORDS)
            if word:
                candidates.append((profile, f"name contains '{word}'"))
        if not candidates:
            return None
        profile, why = candidates[0]
        span = f"numbers from {profile.minimum:g} to {profile.maximum:g}"
        self.assign(profile.name, "score", f"score: {why}; {profile.distinct:,} distinct {span}")
        return profile.name

    def find_outcome(self, role: Role, words: set[str], *, exclude_words: set[str]) -> str | None:
        best: tuple[int, ColumnProfile, str] | None = None
        for profile in self.free():
            if not 2 <= profile.distinct <= MAX_DECISION_VALUES or profile.kind == "number":
                continue
            word = _matched(profile.name, words)
            if not word or _matched(profile.name, exclude_words):
                continue
            rank = 2 if word in name_tokens(profile.name) else 1
            if best is None or rank > best[0]:
                best = (rank, profile, word)
        if best is None:
            return None
        _, profile, word = best
        values = ", ".join(_values(profile))
        self.assign(profile.name, role, f"{role}: name contains '{word}'; {profile.distinct} values ({values})")
        return profile.name

    def find_protected(self) -> list[ProtectedAttribute]:
        found = []
        for profile in self.free():
            word = _matched(profile.name, PROTECTED_WORDS)
            if not word:
                continue
            attr, detail = self.protected_attribute(profile)
            self.assign(profile.name, "protected", f"protected attribute: name contains '{word}'{detail}")
            found.append(attr)
        if not found:
            self.notes.append("No protected attribute was recognised by name; choose at least one.")
        return found

    def find_consequences(self) -> None:
        """Columns recording what happened after the decision would explain it by its own effects."""
        for profile in self.free():
            word = _matched(profile.name, AFTER_DECISION_WORDS)
            if word:
                reason = f"not a feature: its name mentions '{word}', something that happens after the decision"
                self.assign(profile.name, "unused", reason)

    def protected_attribute(self, profile: ColumnProfile) -> tuple[ProtectedAttribute, str]:
        if profile.numeric and profile.distinct > 20:
            if (
                profile.minimum < AGE_EDGES[0]
                and profile.maximum > AGE_EDGES[-1]
                and "age" in name_tokens(profile.name)
            ):
                edges = AGE_EDGES
            else:
                from analysis.groups import quantile_edges

                edges = tuple(round(e, 2) for e in quantile_edges(self.df[profile.name], 4))
            shown = ", ".join(f"{e:g}" for e in edges)
            return ProtectedAttribute(profile.name, bins=edges), f"; {profile.distinct} numbers, binned at {shown}"
        return ProtectedAttribute(profile.name), f"; {profile.distinct} groups"

    def positives(self, column: str, what: str) -> list[Scalar]:
        values = _values(self.profiles[column]) if self.profiles[column].distinct <= 5 else None
        values = values or [str(v) for v in self.df[column].dropna().astype("str").str.strip().unique()]
        chosen: list[Scalar] = list(positive_values(values))
        if self.profiles[column].numeric:
            chosen = [float(v) if "." in v else int(v) for v in chosen]
        if not chosen:
            self.notes.append(f"Could not tell which values of '{column}' mean the positive {what}; choose them.")
        return chosen

    def build_spec(
        self, decision: str | None, label: str | None, score: str | None, protected: list[ProtectedAttribute]
    ) -> AuditSpec | None:
        if decision is None and score is None:
            self.notes.append("No decision or score column was recognised; choose the decision column.")
            return None
        if decision is None:
            self.notes.append(f"No decision column was recognised; the score '{score}' at 0.5 makes the decisions.")
        if label is None:
            self.notes.append("No label (true outcome) column was recognised; error-rate metrics need one.")
        favorable = decision is None or _matched(decision, HARMFUL_WORDS) is None
        if not favorable:
            self.notes.append(
                f"'{decision}' sounds like a decision that harms the person, so positive is unfavourable."
            )
        return AuditSpec(
            decision=decision,
            positive=self.positives(decision, "decision") if decision else (),
            positive_is_favorable=favorable,
            label=label,
            label_positive=self.positives(label, "outcome") if label else (),
            score=score,
            threshold=0.5 if decision is None else None,
            protected=tuple(protected),
            features=tuple(c for c, r in self.roles.items() if r.role == "feature"),
            id_columns=tuple(c for c, r in self.roles.items() if r.role == "id"),
            pii_columns=tuple(c for c, r in self.roles.items() if r.role == "pii"),
        )


def suggest_roles(df: pd.DataFrame) -> SpecSuggestion:
    """Suggest a role for every column of ``df``, with reasons, and the spec they make.

    Parameters
    ----------
    df
        The table, as returned by :func:`analysis.load_table`.

    Returns
    -------
    SpecSuggestion
        Roles with reasons for every column, the suggested spec (None when no decision
        or score column was found) and notes on what could not be inferred.
    """
    return _Suggester(df).run()


def suggest_spec(df: pd.DataFrame) -> AuditSpec:
    """The spec suggested for ``df`` (see :func:`suggest_roles` for the reasons).

    Raises
    ------
    SpecError
        When no decision or score column can be recognised.
    """
    suggestion = suggest_roles(df)
    if suggestion.spec is None:
        raise SpecError(" ".join(suggestion.notes) + " Name it with --decision COLUMN.")
    return suggestion.spec
