"""Benchmark ``analysis.explain`` on a generated loan-like table (default 1,000,000 rows, 15 features).

Prints, from one run: the default ``explain()`` total, its surrogate training and SHAP parts
measured separately, LightGBM's ``pred_contrib`` against ``shap.TreeExplainer`` on the same
rows (and whether they agree), and scikit-learn HistGradientBoosting training on the same rows.

    python benchmarks/explain.py                # 1,000,000 rows
    python benchmarks/explain.py --rows 200000

Target: the default ``explain()`` on 1e6 rows within 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import AuditSpec, explain
from analysis.surrogate import MAX_TRAIN_ROWS, SURROGATE_PARAMS, fit_booster, prepare_features

REGIONS = np.array(["North", "South", "East", "West", "Central"])
REGION_BY_ETHNICITY = np.array(
    [
        [0.30, 0.08, 0.08, 0.30, 0.24],
        [0.08, 0.45, 0.30, 0.07, 0.10],
        [0.10, 0.25, 0.40, 0.10, 0.15],
        [0.25, 0.12, 0.10, 0.25, 0.28],
    ]
)


def _choice(rng: np.random.Generator, values, n: int, p=None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]


def loan_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A loan-like table: 3 protected attributes, 15 features (6 text, 9 numeric), a decision."""
    rng = np.random.default_rng(seed)
    ethnicity = rng.choice(4, n, p=[0.6, 0.22, 0.12, 0.06])
    cumulative = REGION_BY_ETHNICITY.cumsum(axis=1)[ethnicity]
    region = REGIONS[(rng.random(n)[:, None] > cumulative).sum(axis=1)]
    age = 18 + np.minimum(rng.gamma(3.2, 6.4, n), 62).astype(int)
    income = 32_000 * np.exp(0.6 * (1 - np.exp(-(age - 18) / 12)) + rng.normal(0, 0.42, n))
    credit = np.maximum(0, age - 18 - rng.exponential(3, n)).round(1)
    employment = ((age - 18) * rng.beta(1.6, 3.2, n)).round(1)
    employment[rng.random(n) < 0.03] = np.nan
    dti = rng.beta(2.2, 5.5, n).round(3)
    loan = np.maximum(1000, income * np.exp(rng.normal(np.log(0.35), 0.5, n))).round(-2)
    utilization = rng.beta(2, 3, n).round(3)
    delinquencies = rng.poisson(0.3, n)
    accounts = rng.poisson(4, n)
    savings = np.exp(rng.normal(8, 1.5, n)).round(-1)
    dependents = rng.poisson(1.1, n)
    c = (
        -0.4
        + 0.9 * np.log(income / 55_000)
        + 0.045 * np.minimum(credit, 20)
        - 3.0 * (dti - 0.29)
        - 0.8 * np.log(loan / income / 0.35)
        - 0.6 * delinquencies
        - 1.0 * (utilization - 0.4)
        - 0.58 * np.isin(region, ["South", "East"])
    )
    approved = np.where(c + rng.normal(0, 0.2, n) >= 0, "Y", "N")  # a lender's score cut, slightly noisy
    return pd.DataFrame(
        {
            "applicant_id": np.arange(n),
            "gender": _choice(rng, ["Female", "Male", "Non-binary"], n, [0.49, 0.49, 0.02]),
            "age": age,
            "ethnicity": np.array(["A", "B", "C", "D"], dtype=object)[ethnicity],
            "region": region.astype(object),
            "income": income.round(-2),
            "credit_history_years": credit,
            "debt_to_income": dti,
            "loan_amount": loan,
            "employment_years": employment,
            "home_ownership": _choice(rng, ["rent", "own", "mortgage"], n, [0.4, 0.2, 0.4]),
            "purpose": _choice(rng, ["car", "home", "education", "medical", "debt", "business", "travel", "other"], n),
            "term": _choice(rng, ["36m", "60m"], n, [0.7, 0.3]),
            "channel": _choice(rng, ["branch", "web", "app", "broker"], n),
            "employment_type": _choice(
                rng, ["salaried", "self-employed", "contract", "none"], n, [0.6, 0.2, 0.15, 0.05]
            ),
            "utilization": utilization,
            "delinquencies": delinquencies,
            "open_accounts": accounts,
            "savings": savings,
            "dependents": dependents,
            "approved": approved,
        }
    ).astype({c: "str" for c in ("gender", "ethnicity", "region", "home_ownership", "purpose", "term", "channel")})


SPEC = AuditSpec(
    decision="approved",
    positive=("Y",),
    protected=("gender", {"column": "age", "bins": [25, 40, 60]}, "ethnicity"),
    id_columns=("applicant_id",),
)


def _timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{label:<58} {time.perf_counter() - start:7.2f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shap-rows", type=int, default=5000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.rows:,} rows")
    df = _timed("generate the table", lambda: loan_table(args.rows))
    features = SPEC.feature_columns(df.columns)
    features = [c for c in features if c not in SPEC.protected_columns]
    print(f"features ({len(features)}): {', '.join(features)}")
    _timed("import lightgbm (+ scikit-learn)", lambda: __import__("lightgbm"))
    result = _timed("explain(df, spec) default: total", lambda: explain(df, SPEC))
    print(f"  fidelity: {result.fidelity.message}")
    print(f"  top drivers: {[f.feature for f in result.global_importance[:4]]}")
    print(f"  ethnicity B gap: {result.gap['ethnicity']['B'].sentence}")

    rng = np.random.default_rng(0)
    train_rows = np.sort(rng.choice(len(df), min(MAX_TRAIN_ROWS, len(df)), replace=False))
    train = df.iloc[train_rows]
    y = (train["approved"] == "Y").to_numpy()
    prep, _ = _timed(
        "  feature preparation (category dtypes), training rows", lambda: prepare_features(train, features)
    )
    x = prep.frame(train)
    booster = _timed(
        f"  surrogate training, LightGBM, {len(x):,} rows", lambda: fit_booster(x, y, "decision", 0, SURROGATE_PARAMS)
    )
    sample = prep.frame(df.iloc[rng.choice(len(df), args.shap_rows, replace=False)])
    contrib = _timed(
        f"  SHAP, LightGBM pred_contrib, {len(sample):,} rows",
        lambda: booster.predict(sample, pred_contrib=True, num_threads=2),
    )
    shap = _timed("import shap", lambda: __import__("shap"))
    explainer = shap.TreeExplainer(booster, feature_perturbation="tree_path_dependent")
    values = _timed(
        f"SHAP, shap.TreeExplainer path-dependent, {len(sample):,} rows", lambda: explainer.shap_values(sample)
    )
    values = np.asarray(values)
    values = values[-1] if values.ndim == 3 else values
    print(f"  max |pred_contrib - TreeExplainer| = {np.abs(values - contrib[:, :-1]).max():.2e}")
    from sklearn.ensemble import HistGradientBoostingClassifier

    hgb = HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=31, learning_rate=0.1, categorical_features="from_dtype", early_stopping=False
    )
    _timed(f"alternative: sklearn HistGradientBoosting training, {len(x):,} rows", lambda: hgb.fit(x, y))
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
