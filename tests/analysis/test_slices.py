"""The in-memory slice search: how columns become terms, its options, its record, and its statistics.

The statistics are checked against independent computations: a brute-force enumeration of every conjunction
with pandas, scipy's and statsmodels' tests and intervals, BH over the whole family, simulations under the null,
planted slices, the ``sliceline`` package on its own scoring, the loan sample and (when PARITYLAB_DATASETS is
set) COMPAS and UCI Adult.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import AuditSpec, OptionError, ProtectedAttribute, SpecError, find_slices, load_table
from analysis.slices import Composition, Slice, SliceSearch, SliceTerm

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"

SPEC = AuditSpec.from_dict({"decision": "decision", "positive": ["yes"], "protected": ["group"]})
LABELLED = AuditSpec.from_dict(
    {"decision": "decision", "positive": ["yes"], "label": "label", "label_positive": [1], "protected": ["group"]}
)


def _decisions(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(rate.size) < rate, "yes", "no")


# ---------------------------------------------------------------- brute force, independent of the search


def _p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """The documented test: Fisher's exact when an expected cell is below 5, else Pearson's chi-square."""
    if n1 == 0 or n2 == 0:
        return math.nan
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    if table[:, 0].sum() == 0 or table[:, 1].sum() == 0:
        return 1.0
    if stats.contingency.expected_freq(table).min() < 5:
        return float(stats.fisher_exact(table).pvalue)
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def brute_force(df: pd.DataFrame, features: list[str], harmful: np.ndarray, *, min_support: int, max_depth: int,
                alpha: float = 0.05) -> list[dict]:  # fmt: skip
    """Every conjunction of up to ``max_depth`` feature values with at least ``min_support`` rows, by groupby.

    Each gets its harm (slice minus rest), its test against the rest, and whether the documented rule folds
    it: a child is folded when, for some parent, it is not significantly worse than the rest of that parent
    (Bonferroni over the parent's possible extensions: alpha / the number of values of the features not in it),
    and is counted by the worst of those parents (``into``; the first of them on a tie).
    """
    frame = df[features].astype(object).where(df[features].notna(), "(missing)").astype(str)
    frame["_h"] = np.asarray(harmful, dtype=int)
    total_n, total_h = len(frame), int(frame["_h"].sum())
    levels = {f: frame[f].nunique() for f in features}
    counts: dict[tuple[str, ...], dict[tuple[str, ...], tuple[int, int]]] = {}
    for depth in range(1, max_depth + 1):
        for cols in itertools.combinations(features, depth):
            grouped = frame.groupby(list(cols))["_h"].agg(["size", "sum"])
            counts[cols] = {
                (k if isinstance(k, tuple) else (k,)): (int(n), int(h))
                for k, n, h in zip(grouped.index, grouped["size"], grouped["sum"], strict=True)
            }
    out = []
    for cols, cells in counts.items():
        for values, (n, h) in cells.items():
            if n < min_support:
                continue
            rest_n, rest_h = total_n - n, total_h - h
            harm = h / n - rest_h / rest_n if rest_n else math.nan
            folded, into, worst = False, None, -math.inf
            for drop in range(len(cols)) if len(cols) > 1 else ():
                parent, parent_values = cols[:drop] + cols[drop + 1 :], values[:drop] + values[drop + 1 :]
                pn, ph = counts[parent][parent_values]
                other_n, other_h = pn - n, ph - h
                worse = other_n > 0 and h / n > other_h / other_n
                limit = alpha / sum(levels[f] for f in features if f not in parent)
                if not (worse and _p_value(h, n, other_h, other_n) < limit):
                    folded = True
                    parent_harm = ph / pn - (total_h - ph) / (total_n - pn)
                    if parent_harm > worst:
                        worst = parent_harm
                        into = " and ".join(f"{c} = {v}" for c, v in zip(parent, parent_values, strict=True))
            out.append(
                {
                    "key": " and ".join(f"{c} = {v}" for c, v in zip(cols, values, strict=True)),
                    "depth": len(cols),
                    "n": n,
                    "h": h,
                    "harm": harm,
                    "p": _p_value(h, n, rest_h, rest_n),
                    "folded": folded,
                    "into": into,
                    "most": n > total_n / 2,
                }
            )
    return out


def _ranked(slices: list[dict]) -> list[dict]:
    # Listed: not folded, worse than the rest, and not more than half the rows (the rest's advantage).
    kept = [s for s in slices if not s["folded"] and s["harm"] > 0 and not s["most"]]
    return sorted(kept, key=lambda s: (-round(s["harm"], 12), -s["n"], s["depth"], s["key"]))


def _bh(p: np.ndarray) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    return multipletests(p, method="fdr_bh")[1]


def _lattice_table(n: int = 4000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.choice(["a0", "a1", "a2"], n),
            "b": rng.choice(["b0", "b1", "b2", None], n, p=[0.4, 0.3, 0.2, 0.1]),
            "c": rng.choice(["c0", "c1"], n),
            "d": rng.choice(["d0", "d1", "d2"], n),
            "group": rng.choice(["A", "B", "C", "D", "E"], n),
        }
    )
    rate = (
        0.55
        - 0.25 * ((df.a == "a1") & (df.b == "b2"))
        - 0.3 * ((df.c == "c1") & (df.d == "d0") & (df.group == "E"))
        - 0.08 * (df.group == "D")
    )
    df["decision"] = _decisions(rate.to_numpy(), rng)
    return df


FEATURES = ["a", "b", "c", "d", "group"]


@pytest.fixture(scope="module")
def lattice():
    df = _lattice_table()
    harmful = (df["decision"] != "yes").to_numpy()
    every = brute_force(df, FEATURES, harmful, min_support=40, max_depth=3)
    return df, every


def test_brute_force_top_k_equals_the_search_over_every_kept_slice(lattice):
    df, every = lattice
    search = find_slices(df, SPEC, features=FEATURES, max_depth=3, min_support=40, top_k=10_000)
    want = _ranked(every)
    got = sorted(search.slices, key=lambda s: (-round(s.harm, 12), -s.n, s.depth, s.key))
    assert [s.key for s in got] == [s["key"] for s in want]
    assert [s.key for s in search.slices] == [s.key for s in got], "worst first"
    for s, w in zip(got, want, strict=True):
        assert (s.n, s.n - s.events) == (w["n"], w["h"])
        assert s.harm == pytest.approx(w["harm"], abs=1e-12)
        assert s.p_value == pytest.approx(w["p"], rel=1e-9, abs=1e-300)
    folds = {}
    for w in every:
        if w["folded"]:
            folds[w["into"]] = folds.get(w["into"], 0) + 1
    assert [s.folded for s in got] == [folds.get(w["key"], 0) for w in want]
    # Some slices folded and some children kept: the rule is exercised both ways.
    assert any(w["folded"] for w in every) and any(w["depth"] > 1 and not w["folded"] for w in want)
    # No pruning with a top-k this large: the family is exactly every slice with enough rows.
    assert search.pruned == 0
    assert search.tested == search.family == len(every)
    q = dict(zip([w["key"] for w in every], _bh(np.array([w["p"] for w in every])), strict=True))
    for s in search.slices:
        assert s.q_value == pytest.approx(q[s.key], rel=1e-9, abs=1e-300)
        assert s.significant == (q[s.key] < 0.05)


def test_a_slice_of_most_rows_is_tested_but_not_listed():
    """Like Adult's "capital-gain = <114" (92 % of the rows, approved less than the few with gains): the gap of
    a slice holding most rows is the advantage of its small rest. It is tested (in the family), not listed, and
    does not raise the cut-off that prunes the smaller slices."""
    rng = np.random.default_rng(8)
    n = 6000
    gain = rng.choice(["none", "some"], n, p=[0.85, 0.15])
    region = rng.choice(["N", "S", "E"], n)
    rate = np.where(gain == "some", 0.9, 0.5) - np.where((region == "E") & (gain == "none"), 0.2, 0.0)
    df = pd.DataFrame({"gain": gain, "region": region, "group": "A"})
    df["decision"] = np.where(rng.random(n) < rate, "yes", "no")
    spec = AuditSpec(decision="decision", positive=("yes",), protected=(ProtectedAttribute("group"),))
    search = find_slices(df, spec, features=["gain", "region"], max_depth=2, top_k=1)
    every = brute_force(df, ["gain", "region"], (df["decision"] != "yes").to_numpy(), min_support=60, max_depth=2)
    none = next(w for w in every if w["key"] == "gain = none")
    assert none["most"] and none["harm"] > 0.25 and not none["folded"], "worse than the rest, most of the rows"
    assert search.slice("gain = none") is None
    assert [s.key for s in search.slices] == [_ranked(every)[0]["key"]] == ["gain = none and region = E"]
    assert search.family >= len(every)


@pytest.mark.parametrize("top_k", [1, 3, 5])
def test_pruned_search_keeps_the_exact_top_k(lattice, top_k):
    # The bounds prune only combinations whose cells are near the minimum support: 300 rows of 4,000 here.
    df, _ = lattice
    every = brute_force(df, FEATURES, (df["decision"] != "yes").to_numpy(), min_support=300, max_depth=3)
    want = _ranked(every)
    assert round(want[top_k - 1]["harm"], 12) != round(want[top_k]["harm"], 12), "no tie at the cut"
    search = find_slices(df, SPEC, features=FEATURES, max_depth=3, min_support=300, top_k=top_k)
    assert [s.key for s in search.slices] == [w["key"] for w in want[:top_k]]
    assert [s.p_value for s in search.slices] == pytest.approx([w["p"] for w in want[:top_k]], rel=1e-9)
    assert search.pruned > 0 and search.combinations_counted < search.combinations == 25, "a small top-k prunes"
    # Honest family: every slice with enough rows is in it (pruned ones with p = 1), so no q-value is
    # smaller than BH over all of them would give.
    assert search.family >= len(every)
    full = dict(zip([w["key"] for w in every], _bh(np.array([w["p"] for w in every])), strict=True))
    for s in search.slices:
        assert s.q_value >= full[s.key] * (1 - 1e-12)


def test_family_counts_deeper_levels_when_a_whole_level_is_pruned():
    # One single-term slice far worse than anything else: with top_k=1 every pair is pruned, and the
    # triples (never reached) must still be in the family.
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame({f: rng.choice(["x", "y", "z"], n) for f in ["a", "b", "c", "d"]})
    df["group"] = rng.choice(["A", "B"], n)
    df["decision"] = _decisions(np.where(df.a == "x", 0.05, 0.9), rng)
    features = ["a", "b", "c", "d"]
    every = brute_force(df, features, (df["decision"] != "yes").to_numpy(), min_support=30, max_depth=3)
    search = find_slices(df, SPEC, features=features, max_depth=3, min_support=30, top_k=1)
    assert [s.key for s in search.slices] == ["a = x"]
    assert search.combinations == 4 + 6 + 4
    assert search.family >= len(every) == 12 + 54 + 108


# ---------------------------------------------------------------- cross-checks of the statistics


def test_intervals_and_tests_match_statsmodels_and_scipy(lattice):
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    df, _ = lattice
    for confidence in (0.95, 0.9):
        search = find_slices(df, SPEC, features=FEATURES, max_depth=2, min_support=40, confidence=confidence)
        assert search.slices
        for s in search.slices:
            a = 1 - confidence
            low, high = proportion_confint(s.events, s.n, alpha=a, method="wilson")
            assert (s.low, s.high) == pytest.approx((low, high), rel=1e-12)
            assert s.value == s.events / s.n and s.rest_value == s.rest_events / s.rest_n
            d_low, d_high = confint_proportions_2indep(
                s.events, s.n, s.rest_events, s.rest_n, method="newcomb", compare="diff", alpha=a
            )
            assert s.difference == pytest.approx(s.value - s.rest_value, abs=1e-15)
            assert (s.difference_low, s.difference_high) == pytest.approx((d_low, d_high), rel=1e-9)
            r_low, r_high = confint_proportions_2indep(
                s.events, s.n, s.rest_events, s.rest_n, method="log", compare="ratio", alpha=a
            )
            assert s.ratio == pytest.approx(s.value / s.rest_value, rel=1e-12)
            assert (s.ratio_low, s.ratio_high) == pytest.approx((r_low, r_high), rel=1e-9)
            table = np.array([[s.events, s.n - s.events], [s.rest_events, s.rest_n - s.rest_events]])
            fisher = stats.contingency.expected_freq(table).min() < 5
            assert s.test == ("fisher" if fisher else "chi-square")
            want = stats.fisher_exact(table).pvalue if fisher else stats.chi2_contingency(table, correction=False)[1]
            assert s.p_value == pytest.approx(want, rel=1e-9)
            assert s.harm == pytest.approx(-s.difference, abs=1e-15), "favourable rate: lower is worse"


def test_small_slices_use_fisher_and_match_scipy():
    rng = np.random.default_rng(2)
    n = 400
    df = pd.DataFrame({"a": rng.choice([f"v{i}" for i in range(12)], n), "group": "A"})
    df.loc[:9, "a"] = "rare"
    df["decision"] = _decisions(np.where(df.a == "rare", 0.0, 0.97), rng)
    search = find_slices(df, SPEC, features=["a"], max_depth=1, min_support=10)
    rare = search.slice("a = rare")
    assert rare is not None and rare.test == "fisher" and rare.events == 0 and rare.n == 10
    table = [[0, 10], [rare.rest_events, rare.rest_n - rare.rest_events]]
    assert rare.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)
    assert rare.ratio == 0.0 and rare.ratio_low is None and rare.ratio_high is None, "Katz is undefined at 0"
    assert rare.low == 0.0


# ---------------------------------------------------------------- planted slices and the null


def _planted(n: int, terms: dict[str, str], seed: int, *, base: float = 0.6, inside: float = 0.35) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "channel": rng.choice(["web", "phone", "branch"], n),
            "plan": rng.choice(["free", "pro", "team", "enterprise"], n),
            "region": rng.choice(["North", "South", "East"], n),
            "tenure": rng.choice(["new", "old"], n),
            "group": rng.choice(["A", "B", "C"], n),
        }
    )
    mask = np.ones(n, bool)
    for column, value in terms.items():
        mask &= (df[column] == value).to_numpy()
    df["decision"] = _decisions(np.where(mask, inside, base), rng)
    return df


@pytest.mark.parametrize(
    ("terms", "n", "seed"),
    [
        ({"channel": "phone", "plan": "free"}, 20_000, 1),
        ({"channel": "phone", "plan": "free", "region": "East"}, 40_000, 2),
    ],
    ids=["depth-2", "depth-3"],
)
def test_planted_slice_is_found_first_with_the_true_gap_inside_its_interval(terms, n, seed):
    df = _planted(n, terms, seed)
    search = find_slices(df, SPEC, max_depth=3, min_support=200)
    first = search.slices[0]
    assert first.key == " and ".join(f"{c} = {v}" for c, v in terms.items())
    assert first.q_value < 0.05 and first.significant
    true_gap = 0.35 - 0.6  # the rest of the data keeps the base rate
    assert first.difference_low < true_gap < first.difference_high
    assert first.low < 0.35 < first.high
    if len(terms) < 3:
        assert first.folded > 0, "its children say nothing more and are folded into it"
    assert all(s.depth <= 3 for s in search.slices)


def test_null_data_rarely_reports_any_significant_slice():
    # No effect planted: BH over the evaluated family keeps the share of runs with any significant slice
    # (the family-wise error under the complete null) at most alpha.
    rng = np.random.default_rng(20261203)
    runs, n, alpha = 200, 600, 0.05
    hits = 0
    for _ in range(runs):
        df = pd.DataFrame(
            {
                "a": rng.choice(["a0", "a1", "a2"], n),
                "b": rng.choice(["b0", "b1", "b2", "b3"], n),
                "c": rng.choice(["c0", "c1"], n),
                "group": rng.choice(["A", "B", "C"], n),
                "decision": rng.choice(["yes", "no"], n),
            }
        )
        search = find_slices(df, SPEC, max_depth=2, min_support=30, top_k=5, alpha=alpha)
        hits += bool(search.significant)
    assert hits / runs <= alpha


# ---------------------------------------------------------------- the loan sample


@pytest.fixture(scope="module")
def loans():
    from analysis.suggest import suggest_spec

    table = load_table(SAMPLES / "loan_approvals.csv").data
    return table, suggest_spec(table)


def test_loan_sample_bias_surfaces_through_the_region_that_stands_in_for_ethnicity(loans):
    table, spec = loans
    search = find_slices(table, spec, features=["region"], max_depth=1)
    south = search.slice("region = South")
    assert south is not None and south.significant and south.q_value < 1e-100
    assert south.n == int((table["region"] == "South").sum()) == 3731
    assert south.value == pytest.approx(0.432, abs=5e-4) and south.rest_value == pytest.approx(0.662, abs=5e-4)
    share_b = float((table.loc[table["region"] == "South", "ethnicity"] == "B").mean())
    assert south.stands_in_for is not None and south.stands_in_for.attribute == "ethnicity"
    assert south.stands_in_for.sentence() == "54% of this slice is ethnicity = B, against 22% overall"
    ethnicity = next(c for c in south.composition if c.attribute == "ethnicity")
    assert ethnicity.shares[ethnicity.groups.index("B")] == pytest.approx(share_b, abs=1e-12)
    assert [s.key for s in search.significant] == ["region = East", "region = South"]
    # The full default search (every feature and protected attribute) keeps a South slice standing in for B.
    full = find_slices(table, spec)
    south_slices = [s for s in full.significant if SliceTerm("region", "South") in s.terms]
    assert south_slices
    assert any(s.stands_in_for is not None and s.stands_in_for.attribute == "ethnicity" for s in south_slices)
    assert all(s.stands_in_for.groups[s.stands_in_for.top] == "B" for s in south_slices if s.stands_in_for)


# ---------------------------------------------------------------- how columns become terms


def _terms_table(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "score": rng.normal(size=n).round(3),
            "visits": np.where(rng.random(n) < 0.8, 0, rng.integers(3, 30, n)),
            "few": rng.integers(0, 5, n),
            "city": rng.choice([f"c{i}" for i in range(60)], n),
            "plan": rng.choice(["free", "pro", None], n),
            "age": rng.integers(18, 80, n),
            "decision": rng.choice(["yes", "no"], n),
        }
    )
    df.loc[:5, "score"] = np.nan
    return df


TERMS_SPEC = AuditSpec.from_dict(
    {"decision": "decision", "positive": ["yes"], "protected": [{"column": "age", "bins": [25, 40, 60]}]}
)


def test_feature_encoding_states_how_each_column_became_terms():
    df = _terms_table()
    search = find_slices(df, TERMS_SPEC, max_depth=1)
    features = {f.column: f for f in search.features}
    q = df["score"].quantile([0.25, 0.5, 0.75]).to_numpy()
    score = features["score"]
    assert score.binned and score.skipped is None and len(score.values) == 5 and score.values[-1] == "(missing)"
    assert score.values[0] == f"<{q[0]:g}" and score.values[3] == f"≥{q[2]:g}"
    assert features["visits"].values == ("<3", "≥3") and features["visits"].binned, "mostly 0: split at 3"
    assert features["few"].values == ("0", "1", "2", "3", "4") and not features["few"].binned, "10 values or fewer"
    assert features["city"].skipped == "60 distinct values: too many to be terms (at most 50; bin or group it)"
    assert features["city"].values == ()
    assert features["plan"].values == ("free", "pro", "(missing)") and not features["plan"].binned
    assert features["age"].values == ("<25", "25–40", "40–60", "≥60") and features["age"].binned, "the spec's bins"
    assert [f.column for f in search.features] == ["score", "visits", "few", "city", "plan", "age"]
    assert search.terms_note() == (
        "Numbers cut into bins (protected attributes as the spec bins them; other numbers into quartiles, or at "
        "their second-smallest value when most rows share one): score, visits, age. A missing cell is a value of "
        'its own, "(missing)". Slices of more than 50% of the rows are tested but not listed: their gap is the '
        "advantage of the smaller rest. Left out: city (60 distinct values: too many to be terms (at most 50; bin or "
        "group it))."
    )
    # Quartile bins hold a quarter of the rows each; the missing cells are a slice of their own.
    counts = find_slices(df, TERMS_SPEC, features=["score"], max_depth=1, min_support=1, top_k=10, alpha=0.5)
    sizes = {s.key: s.n for s in counts.slices}
    assert sizes.get("score = (missing)", 6) == 6
    assert all(abs(v - 1994 / 4) <= 2 for k, v in sizes.items() if k != "score = (missing)")


def test_skipped_columns_and_no_usable_feature():
    df = _terms_table()
    df["empty"] = np.nan
    df["same"] = "x"
    search = find_slices(df, TERMS_SPEC, features=["plan", "empty", "same"], max_depth=1)
    skipped = {f.column: f.skipped for f in search.features}
    assert skipped == {
        "plan": None,
        "empty": "every cell is missing",
        "same": "one value only: it cannot split the data",
    }
    with pytest.raises(SpecError, match=r"No column can be a slice term: empty: every cell is missing; same: one"):
        find_slices(df, TERMS_SPEC, features=["empty", "same"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metric": "bogus"}, "option metric must be one of ['favorable_rate', 'fpr', 'fnr', 'error_rate'], got"),
        ({"max_depth": 0}, "find_slices option max_depth must be a whole number of at least 1, got 0. Use 1, 2 or 3"),
        ({"min_support": 0}, "option min_support must be a whole number of at least 1, got 0. Use a number of rows"),
        ({"top_k": 0}, "find_slices option top_k must be a whole number of at least 1, got 0. Ask for at least one"),
        ({"alpha": 1.5}, "find_slices option alpha must be a number strictly between 0 and 1, got 1.5."),
        ({"alpha": 0}, "find_slices option alpha must be a number strictly between 0 and 1, got 0."),
        ({"engine": "spark"}, "find_slices option engine must be one of ['pandas', 'duckdb'], got 'spark'."),
        ({"metric": "fnr"}, "Slices by FNR need a label column: it compares decisions with true outcomes."),
        ({"metric": "error_rate"}, "Slices by error rate need a label column"),
    ],
)
def test_option_messages(options, message):
    df = _terms_table()
    with pytest.raises(OptionError) as raised:
        find_slices(df, TERMS_SPEC, **options)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_unknown_feature_names_the_columns():
    df = _terms_table()
    with pytest.raises(SpecError, match=r"Feature 'nope' is not a column of the table\. Columns: score, visits, few"):
        find_slices(df, TERMS_SPEC, features=["plan", "nope"])


# ---------------------------------------------------------------- the record


def test_round_trip_is_identical(lattice):
    df, _ = lattice
    search = find_slices(df, SPEC, features=FEATURES, max_depth=3, min_support=40, top_k=6)
    dumped = search.to_dict()
    assert SliceSearch.from_dict(json.loads(json.dumps(dumped))).to_dict() == dumped
    assert SliceSearch.from_dict(dumped) == search
    first = search.slices[0]
    assert Slice.from_dict(first.to_dict()) == first
    assert dumped["family"] == search.tested + search.pruned and dumped["summary"] == search.summary()
    assert dumped["slices"][0]["slice"] == first.key and dumped["slices"][0]["depth"] == first.depth


def test_summary_wording(lattice):
    df, _ = lattice
    search = find_slices(df, SPEC, features=FEATURES, max_depth=3, min_support=40, top_k=6)
    found = len(search.significant)
    assert search.summary() == (
        f"Searched {search.family:,} slices of up to 3 terms with at least 40 rows by favourable rate: "
        f"{found} of the top 6 {'is' if found == 1 else 'are'} significantly worse than the rest "
        f"(q < 0.05, Benjamini–Hochberg over all {search.family:,})."
    )
    one = find_slices(df, SPEC, features=["c"], max_depth=1, min_support=40)
    assert one.summary().startswith("Searched 2 slices of 1 term with at least 40 rows by favourable rate: ")
    assert one.title == "favourable rate" and one.better == "higher"
    even = pd.DataFrame({"c": ["c0", "c1"] * 200, "group": "A", "decision": ["yes", "yes", "no", "no"] * 100})
    none = find_slices(even, SPEC, features=["c"], max_depth=1, min_support=40)
    assert none.slices == () and none.summary().endswith("none is worse than the rest of the data.")


def test_composition_and_what_a_slice_stands_in_for():
    # region S is 80% group B (25% overall) and is approved far less often; region N mirrors it.
    rows = []
    for region, groups in {"S": {"B": 400, "A": 100}, "N": {"B": 100, "A": 1400}}.items():
        for group, count in groups.items():
            rows += [(region, group)] * count
    df = pd.DataFrame(rows, columns=["region", "group"])
    df["channel"] = np.tile(["web", "phone"], len(df) // 2)
    rng = np.random.default_rng(0)
    df["decision"] = _decisions(np.where(df.region == "S", 0.3, 0.7), rng)
    search = find_slices(df, SPEC, features=["region", "channel", "group"], max_depth=1, min_support=30)
    south = search.slice("region = S")
    assert south.significant
    (composition,) = south.composition
    assert composition == Composition("group", ("A", "B"), (0.2, 0.8), (0.75, 0.25))
    assert composition.top == 1 and composition.lift == pytest.approx(0.55)
    assert composition.sentence() == "80% of this slice is group = B, against 25% overall"
    assert south.stands_in_for == composition
    assert south.to_dict()["stands_in_for"] == "80% of this slice is group = B, against 25% overall"
    # A slice through the protected attribute itself does not stand in for it.
    b = search.slice("group = B")
    assert b is not None and b.significant and b.stands_in_for is None
    # A slice whose mix is within 10 points of the whole data's stands in for nobody.
    close = Slice.from_dict(
        {**south.to_dict(), "composition": [{**composition.to_dict(), "shares": [0.66, 0.34]}], "terms": []}
    )
    assert close.stands_in_for is None
    # Not significant: no composition is computed.
    assert all(s.composition == () for s in search.slices if not s.significant)


# ---------------------------------------------------------------- the sliceline package on its own scoring


def test_sliceline_top_slices_equal_ours_ranked_by_its_score():
    """SliceLine's top-k for its own score equals our lattice counts ranked by that score.

    SliceLine (Sagadeeva & Boehm 2021) scores a slice of size ``n`` with ``e`` errors as
    ``alpha·((e/n)/ē − 1) − (1 − alpha)·(N/n − 1)`` (``ē`` the mean error, ``N`` the rows) and keeps slices
    with a positive score and at least ``min_sup`` rows. Our ranking differs on purpose: our harm is the slice's
    rate minus the rest's with a test and a BH q-value, so a small slice with a high error rate can rank first
    while SliceLine's size term prefers larger slices (its top slice here is a superset of our planted one),
    and we fold a child that is not significantly worse than its parent, where SliceLine keeps both (here the
    planted slice's children fill its top-k). SliceLine has no test: nothing says which of its slices are noise.
    """
    from sliceline import Slicefinder

    from analysis.slices import SLICE_METRICS, _memory_data
    from analysis.validation import checked_table

    rng = np.random.default_rng(8)
    n = 3000
    df = pd.DataFrame(
        {
            "a": rng.choice(["a0", "a1", "a2"], n),
            "b": rng.choice(["b0", "b1", "b2", "b3"], n),
            "c": rng.choice(["c0", "c1"], n),
            "d": rng.choice(["d0", "d1", "d2"], n),
        }
    )
    df["group"] = df["d"]
    label = rng.integers(0, 2, n)
    error = np.where(((df.a == "a1") & (df.b == "b2")).to_numpy(), 0.6, 0.2) + np.where(df.c == "c1", 0.1, 0)
    wrong = rng.random(n) < error
    df["label"] = label
    df["decision"] = np.where(wrong ^ (label == 1), "yes", "no")
    features, depth, min_sup, k, alpha = ["a", "b", "c", "d"], 3, 30, 8, 0.95

    # Our lattice counts: every cell of every combination, as the search counts them.
    table, spec = checked_table(df, LABELLED)
    info, _ = SLICE_METRICS["error_rate"]
    prepared = _memory_data(table, spec, info, features)
    used = [f for f in prepared.features if f.skipped is None]
    total, errors = prepared.n, prepared.h
    ours = []
    for size in range(1, depth + 1):
        for subset in itertools.combinations(range(len(used)), size):
            counts, harmful = prepared.counter.count(subset)
            for cell in np.ndindex(counts.shape):
                s, e = int(counts[cell]), int(harmful[cell])
                if s < min_sup or e == 0:
                    continue
                score = alpha * ((e / s) / (errors / total) - 1) - (1 - alpha) * (total / s - 1)
                values = {used[f].column: used[f].values[v] for f, v in zip(subset, cell, strict=True)}
                ours.append((score, s, e, values))
    assert total == n and errors == int(wrong.sum())
    ranked = sorted([o for o in ours if o[0] > 0], key=lambda o: -o[0])[:k]

    X = df[features].to_numpy(dtype=object)
    finder = Slicefinder(alpha=alpha, k=k, max_l=depth, min_sup=min_sup, verbose=False).fit(X, wrong.astype(float))
    theirs = [
        ({f: v for f, v in zip(features, row, strict=True) if v is not None}, stat)
        for row, stat in zip(finder.top_slices_, finder.top_slices_statistics_, strict=True)
    ]
    assert len(theirs) == k
    assert [t[0] for t in theirs] == [r[3] for r in ranked]
    for (_, stat), (score, s, e, _) in zip(theirs, ranked, strict=True):
        assert (stat["slice_size"], stat["sum_slice_error"]) == (s, e)
        assert stat["slice_score"] == pytest.approx(score, rel=1e-9)

    # Where they differ: both put the planted slice first, but SliceLine's top-k also holds its children
    # (a = a1 and b = b2 and c = c1, ... c = c0), which are no worse than the rest of it: we fold them.
    search = find_slices(df, LABELLED, metric="error_rate", features=features, max_depth=depth, min_support=min_sup)
    assert theirs[0][0] == {"a": "a1", "b": "b2"} and theirs[1][0] == {"a": "a1", "b": "b2", "c": "c1"}
    first = search.slices[0]
    assert first.key == "a = a1 and b = b2" and first.significant and first.folded == 5
    assert search.slice("a = a1 and b = b2 and c = c1") is None and search.slice("a = a1 and c = c1") is None
    assert [s.key for s in search.significant] == ["a = a1 and b = b2", "b = b2", "a = a1"]
    # c = c1 errs more too, but holds more than half the rows: its gap is the advantage of the rest, not listed.
    assert (df.c == "c1").sum() > len(df) / 2 and search.slice("c = c1") is None


# ---------------------------------------------------------------- public datasets (PARITYLAB_DATASETS)

REAL = Path(os.environ["PARITYLAB_DATASETS"]) if os.environ.get("PARITYLAB_DATASETS") else None


def _real(name: str):
    from analysis.suggest import suggest_spec

    if REAL is None or not (REAL / name).is_file():
        pytest.skip(f"{name} not found: set PARITYLAB_DATASETS to a folder holding the public datasets")
    table = load_table(REAL / name).data
    return table, suggest_spec(table)


def test_compas_slices():
    table, spec = _real("compas-scores-two-years.csv")
    search = find_slices(table, spec)
    assert search.rows == 7214 and search.min_support == 73 and search.max_depth == 3
    assert len(search.significant) == 20
    assert "c_charge_desc (437 distinct values" in search.terms_note()
    first = search.slices[0]
    assert first.key == "juv_other_count = 1 and priors_count = ≥5"
    assert (first.n, first.events) == (153, 5)
    assert first.stands_in_for.sentence() == "78% of this slice is race = African-American, against 51% overall"
    fpr = find_slices(table, spec, metric="fpr")
    assert fpr.slices[0].key == "priors_count = ≥3 and age = <25" and fpr.slices[0].significant
    assert fpr.slices[0].value == pytest.approx(56 / 58)


def test_adult_slices():
    table, spec = _real("adult.csv")
    search = find_slices(table, spec)
    assert search.rows == 32561 and search.min_support == 326
    # A number that is mostly 0 is split at its second-smallest value: the 92% without capital gains are a
    # slice of their own, worst by its gap, but the gap is the advantage of the few with gains: not listed.
    assert next(f for f in search.features if f.column == "capital-gain").values[0] == "<114"
    assert search.slice("capital-gain = <114") is None
    assert all(s.n <= search.rows / 2 for s in search.slices)
    first = search.slices[0]
    assert first.key == "capital-gain = <114 and capital-loss = <155 and marital-status = Never-married"
    assert first.n == 9914 and first.significant
    never = search.slice("marital-status = Never-married")
    assert never is not None and never.n == 10683 and never.significant
    assert never.stands_in_for.sentence() == "46% of this slice is age = <25, against 17% overall"


def test_duckdb_engine_counts_depth_three_as_memory_does(tmp_path, lattice):
    pytest.importorskip("duckdb")
    df, _ = lattice
    path = tmp_path / "lattice.parquet"
    df.to_parquet(path)
    options = {"features": FEATURES, "max_depth": 3, "min_support": 40, "top_k": 50}
    memory = find_slices(df, SPEC, **options).to_dict()
    duck = find_slices(str(path), SPEC, engine="duckdb", **options).to_dict()
    assert duck.pop("engine") == "duckdb" and memory.pop("engine") == "pandas"
    assert duck == memory and len(memory["slices"]) == 12 and memory["max_depth"] == 3
    assert any(s["depth"] == 3 for s in memory["slices"])


def test_an_earlier_searchs_bins_cut_another_search_the_same_way(tmp_path):
    """Two halves of the loan sample cut their numbers at their own quartiles (other terms); with the first
    half's bins the second half's terms are the first half's, on both engines, and the bins survive JSON."""
    df = load_table("sample_data/loan_approvals.csv").data
    from analysis import suggest_spec

    spec = suggest_spec(df)
    first, second = df.iloc[::2].reset_index(drop=True), df.iloc[1::2].reset_index(drop=True)
    earlier = find_slices(first, spec, max_depth=1)
    assert set(earlier.bins) >= {"income", "loan_amount", "debt_to_income"} and "region" not in earlier.bins
    assert earlier.bins["age"] == (25.0, 40.0, 60.0), "a protected attribute keeps the spec's bins"
    own = find_slices(second, spec, max_depth=1)
    values = lambda s: {f.column: f.values for f in s.features}  # noqa: E731
    assert values(own)["income"] != values(earlier)["income"]
    bins = SliceSearch.from_dict(json.loads(json.dumps(earlier.to_dict()))).bins
    assert bins == earlier.bins
    again = find_slices(second, spec, max_depth=1, bins=bins)
    assert values(again) == values(earlier) and again.bins == earlier.bins
    income = pd.cut(second["income"], [-np.inf, *bins["income"], np.inf], right=False)
    cut = again.slice(f"income = {values(earlier)['income'][0]}")  # the lowest incomes: approved least
    assert cut is not None and cut.n == int(((income.cat.codes == 0) & second["approved"].notna()).sum())
    path = tmp_path / "second.parquet"
    second.to_parquet(path)
    duck = find_slices(str(path), spec, max_depth=1, bins=bins, engine="duckdb").to_dict()
    memory = again.to_dict()
    assert duck.pop("engine") == "duckdb" and memory.pop("engine") == "pandas"
    assert duck == memory


def test_bins_for_a_text_column_are_refused_naming_it():
    df = load_table("sample_data/loan_approvals.csv").data
    from analysis import suggest_spec

    with pytest.raises(SpecError, match="Bins were given for 'region', but it holds text"):
        find_slices(df, suggest_spec(df), max_depth=1, bins={"region": (1.0,)})
