"""Deterministic look-alikes of public fairness datasets, as the CSV bytes their publishers ship.

The real files are never committed; these reproduce what matters to ParityLab about each: the header
as published (COMPAS: the duplicated identical ``decile_score`` / ``priors_count`` columns and a
trailing empty header name; German credit: an unnamed leading index column), the value
vocabularies ('African-American', 'Greater than 45', ' <=50K', good/bad), the way cells are written
(Adult: a space after every comma, '?' for missing) and the relations between columns (``score_text``
is a band of ``decile_score``, ``age_cat`` of ``age``, ``r_*`` columns are filled only for people who
reoffended, ``relationship`` Husband/Wife goes with ``sex``).

    compas_like(n=2000, seed=0) -> bytes
    adult_like(n=2000, seed=0) -> bytes
    german_like(n=1000, seed=0) -> bytes
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import numpy as np

__all__ = ["ADULT_HEADER", "COMPAS_HEADER", "GERMAN_HEADER", "adult_like", "compas_like", "german_like"]

COMPAS_HEADER = [
    "id", "name", "first", "last", "compas_screening_date", "sex", "dob", "age", "age_cat", "race",
    "juv_fel_count", "decile_score", "juv_misd_count", "juv_other_count", "priors_count",
    "days_b_screening_arrest", "c_jail_in", "c_jail_out", "c_case_number", "c_offense_date", "c_arrest_date",
    "c_days_from_compas", "c_charge_degree", "c_charge_desc", "is_recid", "r_case_number", "r_charge_degree",
    "r_days_from_arrest", "r_offense_date", "r_charge_desc", "r_jail_in", "r_jail_out", "violent_recid",
    "is_violent_recid", "vr_case_number", "vr_charge_degree", "vr_offense_date", "vr_charge_desc",
    "type_of_assessment", "decile_score", "score_text", "screening_date", "v_type_of_assessment",
    "v_decile_score", "v_score_text", "v_screening_date", "in_custody", "out_custody", "priors_count", "start",
    "end", "event", "two_year_recid", "",
]  # fmt: skip
ADULT_HEADER = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship",
    "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]  # fmt: skip
GERMAN_HEADER = [
    "", "Age", "Sex", "Job", "Housing", "Saving accounts", "Checking account", "Credit amount", "Duration",
    "Purpose", "Risk",
]  # fmt: skip

FIRST_NAMES = ["michael", "james", "robert", "anthony", "kevon", "ed", "marsha", "tanya", "jose", "lisa", "dwayne"]
FIRST_NAMES += ["christopher", "maria", "john", "david", "joseph", "brian", "ashley", "carlos", "andre", "keith"]
LAST_NAMES = ["williams", "johnson", "brown", "smith", "jones", "hernandez", "dixon", "miles", "philo", "davis"]
LAST_NAMES += ["garcia", "rodriguez", "martinez", "wilson", "thomas", "jackson", "white", "harris", "clark", "lewis"]
RACES = ["African-American", "Caucasian", "Hispanic", "Other", "Asian", "Native American"]
RACE_SHARES = [0.51, 0.34, 0.087, 0.052, 0.006, 0.005]
CHARGES = ["Battery", "Possession of Cocaine", "Grand Theft in the 3rd Degree", "Driving While License Revoked"]
CHARGES += ["Aggravated Assault w/Firearm", "Felony Battery w/Prior Convict", "arrest case no charge", "Petit Theft"]
DEGREES = ["(M1)", "(M2)", "(F3)", "(F2)", "(F1)", "(MO3)"]


def _csv(header: list[str], rows: list[list[object]], *, space: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        cells = ["" if v is None else str(v) for v in row]
        if space:  # Adult's adult.data writes ", " between cells
            out.write(",".join([cells[0], *(f" {c}" for c in cells[1:])]) + "\n")
        else:
            writer.writerow(cells)
    return out.getvalue().encode()


def _band(decile: int) -> str:
    return "Low" if decile <= 4 else "Medium" if decile <= 7 else "High"


def compas_like(n: int = 2000, seed: int = 0, *, duplicates: bool = True) -> bytes:
    """A file shaped like ProPublica's compas-scores-two-years.csv.

    Parameters
    ----------
    n, seed
        Rows and random seed (the same arguments give the same bytes).
    duplicates
        Keep the published header's second, identical ``decile_score`` and ``priors_count`` columns
        and its trailing column with an empty name (as published); False writes each column once and
        no empty column.
    """
    rng = np.random.default_rng(seed)
    header = COMPAS_HEADER if duplicates else list(dict.fromkeys(COMPAS_HEADER[:-1]))
    rows = []
    ids = np.cumsum(rng.integers(1, 3, n))
    for i in range(n):
        screening = date(2013, 1, 1) + timedelta(days=int(rng.integers(0, 730)))
        age = int(np.clip(rng.gamma(4.0, 8.0) + 18, 18, 96))
        dob = screening - timedelta(days=age * 365 + int(rng.integers(0, 365)))
        age_cat = "Less than 25" if age < 25 else "25 - 45" if age <= 45 else "Greater than 45"
        race = str(rng.choice(RACES, p=RACE_SHARES))
        sex = "Male" if rng.random() < 0.81 else "Female"
        priors = int(rng.poisson(3.0 if race == "African-American" else 2.0))
        juv_fel, juv_misd, juv_other = (int(rng.poisson(0.07)) for _ in range(3))
        risk = 0.25 * priors + (1.5 if age < 25 else 0.0) - 0.03 * (age - 30) + rng.normal(0, 1)
        decile = int(np.clip(round(3.5 + 1.5 * risk), 1, 10))
        v_decile = int(np.clip(round(decile + rng.normal(-1, 1.5)), 1, 10))
        recid = int(rng.random() < 0.2 + 0.055 * decile)
        violent = int(recid and rng.random() < 0.25)
        two_year = int(recid and rng.random() < 0.93)
        first, last = str(rng.choice(FIRST_NAMES)), str(rng.choice(LAST_NAMES))
        jail_in = datetime(screening.year, screening.month, screening.day, 3) - timedelta(
            hours=int(rng.integers(1, 40))
        )
        has_jail = rng.random() > 0.04
        case = f"{screening.year % 100:02d}{int(rng.integers(0, 10**6)):06d}{rng.choice(['CF10A', 'MM10A'])}"
        offense = screening - timedelta(days=int(rng.integers(0, 30)))
        r_offense = screening + timedelta(days=int(rng.integers(10, 700)))
        r_days = int(rng.integers(0, 200)) if recid and rng.random() < 0.66 else None
        end = int(rng.integers(10, 700)) if recid else int(rng.integers(700, 1186))
        row: dict[str, object] = {
            "id": int(ids[i]),
            "name": f"{first} {last}",
            "first": first,
            "last": last,
            "compas_screening_date": screening.isoformat(),
            "sex": sex,
            "dob": dob.isoformat(),
            "age": age,
            "age_cat": age_cat,
            "race": race,
            "juv_fel_count": juv_fel,
            "decile_score": decile,
            "juv_misd_count": juv_misd,
            "juv_other_count": juv_other,
            "priors_count": priors,
            "days_b_screening_arrest": int(rng.integers(-30, 2)) if has_jail else None,
            "c_jail_in": jail_in.isoformat(sep=" ") if has_jail else None,
            "c_jail_out": (jail_in + timedelta(days=int(rng.integers(1, 20)))).isoformat(sep=" ") if has_jail else None,
            "c_case_number": case,
            "c_offense_date": offense.isoformat() if rng.random() < 0.84 else None,
            "c_arrest_date": None if rng.random() < 0.84 else offense.isoformat(),
            "c_days_from_compas": int(rng.integers(0, 5)),
            "c_charge_degree": "F" if rng.random() < 0.64 else "M",
            "c_charge_desc": str(rng.choice(CHARGES)),
            "is_recid": recid,
            "r_case_number": f"{r_offense.year % 100:02d}{int(rng.integers(0, 10**6)):06d}MM10A" if recid else None,
            "r_charge_degree": str(rng.choice(DEGREES)) if recid else None,
            "r_days_from_arrest": r_days,
            "r_offense_date": r_offense.isoformat() if recid else None,
            "r_charge_desc": str(rng.choice(CHARGES)) if recid else None,
            "r_jail_in": r_offense.isoformat() if r_days is not None else None,
            "r_jail_out": (r_offense + timedelta(days=3)).isoformat() if r_days is not None else None,
            "violent_recid": None,
            "is_violent_recid": violent,
            "vr_case_number": f"{r_offense.year % 100:02d}{int(rng.integers(0, 10**6)):06d}CF10A" if violent else None,
            "vr_charge_degree": str(rng.choice(DEGREES)) if violent else None,
            "vr_offense_date": r_offense.isoformat() if violent else None,
            "vr_charge_desc": str(rng.choice(CHARGES[:2])) if violent else None,
            "type_of_assessment": "Risk of Recidivism",
            "score_text": _band(decile),
            "screening_date": screening.isoformat(),
            "v_type_of_assessment": "Risk of Violence",
            "v_decile_score": v_decile,
            "v_score_text": _band(v_decile),
            "v_screening_date": screening.isoformat(),
            "in_custody": jail_in.date().isoformat() if has_jail else None,
            "out_custody": (jail_in.date() + timedelta(days=5)).isoformat() if has_jail else None,
            "start": int(rng.integers(0, 10)),
            "end": end,
            "event": int(recid and end < 730),
            "two_year_recid": two_year,
            "": None,
        }
        rows.append([row[c] for c in header])
    return _csv(header, rows)


EDUCATION = [
    ("Preschool", 1), ("1st-4th", 2), ("5th-6th", 3), ("7th-8th", 4), ("9th", 5), ("10th", 6), ("11th", 7),
    ("12th", 8), ("HS-grad", 9), ("Some-college", 10), ("Assoc-voc", 11), ("Assoc-acdm", 12), ("Bachelors", 13),
    ("Masters", 14), ("Prof-school", 15), ("Doctorate", 16),
]  # fmt: skip
EDUCATION_SHARES = np.array([1, 2, 3, 6, 5, 9, 11, 4, 100, 70, 13, 10, 50, 17, 6, 4], dtype=float)
WORKCLASS = ["Private", "Self-emp-not-inc", "Local-gov", "?", "State-gov", "Self-emp-inc", "Federal-gov"]
WORKCLASS_SHARES = [0.70, 0.08, 0.065, 0.056, 0.04, 0.034, 0.025]
OCCUPATIONS = ["Prof-specialty", "Craft-repair", "Exec-managerial", "Adm-clerical", "Sales", "Other-service"]
OCCUPATIONS += ["Machine-op-inspct", "?", "Transport-moving", "Handlers-cleaners", "Tech-support"]
ADULT_RACES = ["White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"]
ADULT_RACE_SHARES = [0.854, 0.096, 0.032, 0.01, 0.008]
COUNTRIES = ["United-States", "Mexico", "?", "Philippines", "Germany", "Canada", "India", "Puerto-Rico"]
COUNTRY_SHARES = [0.895, 0.02, 0.018, 0.018, 0.015, 0.013, 0.011, 0.01]


def adult_like(n: int = 2000, seed: int = 0) -> bytes:
    """A file shaped like UCI Adult's adult.data with its usual header added (cells after ', ', '?')."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        sex = "Male" if rng.random() < 0.67 else "Female"
        age = int(np.clip(rng.normal(38.5, 13.6), 17, 90))
        married = rng.random() < (0.62 if sex == "Male" else 0.15) and age > 20
        if married:
            marital, relationship = "Married-civ-spouse", "Husband" if sex == "Male" else "Wife"
        else:
            marital = str(rng.choice(["Never-married", "Divorced", "Separated", "Widowed"], p=[0.6, 0.25, 0.07, 0.08]))
            relationship = str(rng.choice(["Not-in-family", "Own-child", "Unmarried", "Other-relative"]))
        education, years = EDUCATION[int(rng.choice(16, p=EDUCATION_SHARES / EDUCATION_SHARES.sum()))]
        hours = int(np.clip(rng.normal(40 if sex == "Male" else 36, 12), 1, 99))
        logit = -7.5 + 0.35 * years + 0.03 * age + 1.2 * married + 0.02 * hours
        income = ">50K" if rng.random() < 1 / (1 + np.exp(-logit)) else "<=50K"
        gain = int(rng.choice([0, 15024, 7688, 7298, 99999])) if rng.random() < 0.08 else 0
        rows.append(
            [
                age,
                str(rng.choice(WORKCLASS, p=WORKCLASS_SHARES)),
                int(rng.integers(12285, 1484705)),
                education,
                years,
                marital,
                str(rng.choice(OCCUPATIONS)),
                relationship,
                str(rng.choice(ADULT_RACES, p=ADULT_RACE_SHARES)),
                sex,
                gain,
                int(rng.choice([0, 1902, 1977])) if rng.random() < 0.05 else 0,
                hours,
                str(rng.choice(COUNTRIES, p=COUNTRY_SHARES)),
                income,
            ]
        )
    return _csv(ADULT_HEADER, rows, space=True)


SAVINGS = ["little", "moderate", "quite rich", "rich", None]
CHECKING = ["little", "moderate", "rich", None]
PURPOSES = ["radio/TV", "car", "furniture/equipment", "business", "education", "repairs", "domestic appliances"]


def german_like(n: int = 1000, seed: int = 0) -> bytes:
    """A file shaped like Kaggle's german_credit_data.csv: an unnamed leading index column, Risk good/bad."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        age = int(np.clip(rng.gamma(2.0, 8.0) + 19, 19, 75))
        duration = int(rng.choice([6, 12, 18, 24, 36, 48, 60]))
        amount = int(np.clip(rng.lognormal(7.8, 0.75), 250, 18424))
        checking = CHECKING[int(rng.choice(4, p=[0.27, 0.27, 0.06, 0.40]))]
        bad = 0.1 + 0.01 * duration + (0.15 if checking == "little" else 0.0) - 0.002 * (age - 19)
        rows.append(
            [
                i,
                age,
                "male" if rng.random() < 0.69 else "female",
                int(rng.choice(4, p=[0.02, 0.2, 0.63, 0.15])),
                str(rng.choice(["own", "rent", "free"], p=[0.71, 0.18, 0.11])),
                SAVINGS[int(rng.choice(5, p=[0.6, 0.1, 0.06, 0.05, 0.19]))],
                checking,
                amount,
                duration,
                str(rng.choice(PURPOSES)),
                "bad" if rng.random() < bad else "good",
            ]
        )
    return _csv(GERMAN_HEADER, rows)
