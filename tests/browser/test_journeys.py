"""A user's whole journey through the real UI, once per bundled sample.

Upload the CSV with the file input → confirm the suggested roles → the Fairness page shows the numbers of
``python -m analysis audit FILE --spec SPEC --json -`` (SPEC: the spec the app confirmed, downloaded from the
Data page), for every attribute and every intersection → the Drivers page finishes and shows the surrogate's
fidelity → moving one group's threshold slider (keyboard arrows) on the Mitigation page changes the metrics →
the HTML report downloads and opens offline.
A screenshot of each page goes to the test's output folder (test-results/...).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analysis import AuditSpec, load_table
from analysis.suggest import suggest_spec
from tests.browser.helpers import (
    ROOT,
    by_key,
    confirm_roles,
    exceptions,
    go_to,
    open_expander,
    shot,
    upload,
    wait_for_app,
)
from ui.state import W

pytestmark = [pytest.mark.slow]

SAMPLES = ["loan_approvals.csv", "support_tickets.csv"]
PAGES_DIR = ROOT / "pages"
RATE = re.compile(r"^value: ([-\d.e]+); group: (.+?); role: [^;]+; rows: ([\d,]+); favourable rate:")
ERROR_RATE = re.compile(r"^value: ([-\d.e]+); group: (.+?); rate: (TPR|FPR) \(")
PER_GROUP = "A threshold per group"
INTERSECTIONS = "Intersections"


def download(page, key: str, folder: Path) -> Path:
    with page.expect_download() as info:
        by_key(page, key).get_by_role("button").click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def cli_audit(csv: Path, spec: Path) -> dict:
    """The command line's audit of ``csv`` under ``spec`` (the JSON contract documented in README)."""
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "audit", str(csv), "--spec", str(spec), "--json", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def chart_labels(page) -> list[str]:
    """The aria-labels of the marks of every Vega-Lite chart on the page (they name each value shown)."""
    marks = page.locator("[data-testid=stVegaLiteChart] [aria-label]")
    return marks.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def metric_cards(page) -> dict[str, str]:
    """Metric label → value of every card on the page."""
    cards = page.get_by_test_id("stMetric")
    expect(cards.first).to_be_visible()
    out = {}
    for i in range(cards.count()):
        card = cards.nth(i)
        out[card.get_by_test_id("stMetricLabel").inner_text().strip()] = (
            card.get_by_test_id("stMetricValue").inner_text().strip()
        )
    return out


def check_attribute_tab(page, name: str, expected: dict) -> None:
    """The open tab's cards and charts show the CLI's numbers for attribute ``name``."""
    summary, groups = expected["summary"], expected["groups"]
    cards = metric_cards(page)

    def shown(metric: str) -> str:
        value = summary[metric]["value"] if summary.get(metric) else None
        return "undefined" if value is None else f"{value:.3f}"

    assert cards["Lowest impact ratio vs reference"] == shown("disparate_impact_min"), name
    assert cards["Four-fifths ratio"] == shown("favorable_rate_ratio"), name
    assert cards["Demographic parity difference"] == shown("demographic_parity_difference"), name
    if "equalized_odds_difference" in summary:
        assert cards["Equalized odds difference"] == shown("equalized_odds_difference"), name
    assert cards["Groups compared"] == f"{len(summary['groups_compared'])} of {len(groups)}", name

    by_label = {label_of(g): g for g in groups.values()}
    rates, error_rates = {}, {}
    for label in chart_labels(page):
        if m := RATE.match(label):
            rates[m[2]] = (float(m[1]), int(m[3].replace(",", "")))
        elif m := ERROR_RATE.match(label):
            error_rates[(m[2], m[3].lower())] = float(m[1])
    assert set(rates) == set(by_label), f"{name}: groups in the chart {sorted(rates)} vs the CLI {sorted(by_label)}"
    for group, (rate, rows) in rates.items():
        cli = by_label[group]
        assert rows == cli["n"], (name, group)
        assert rate == pytest.approx(cli["favorable_rate"]["value"], abs=1e-9), (name, group)
    for (group, metric), rate in error_rates.items():
        assert rate == pytest.approx(by_label[group][metric]["value"], abs=1e-9), (name, group, metric)
    # Every defined TPR and FPR of the CLI is in the chart (an undefined one is not drawn).
    defined = {
        (label, metric)
        for label, group in by_label.items()
        for metric in ("tpr", "fpr")
        if group.get(metric) and group[metric].get("value") is not None
    }
    assert set(error_rates) == defined, f"{name}: TPR/FPR shown {sorted(error_rates)} vs the CLI {sorted(defined)}"
    if expected_has_label(groups):
        assert error_rates, f"{name}: no TPR/FPR chart"


def label_of(group: dict) -> str:
    values = list(group["values"].values())
    return " × ".join(str(v) for v in values)


def expected_has_label(groups: dict) -> bool:
    return any(g.get("tpr") and g["tpr"].get("value") is not None for g in groups.values())


def check_fairness(page, cli: dict, output_path: str) -> None:
    attributes = cli["attributes"]
    for i, name in enumerate(attributes):
        # The page opens on the focus the Overview set: open each tab, the first one too.
        page.get_by_role("tab", name=name, exact=True).click()
        wait_for_app(page)
        shot(page, output_path, f"fairness_{i}")
        check_attribute_tab(page, name, attributes[name])
    check_intersections(page, cli["intersections"], output_path)


def check_intersections(page, intersections: dict, output_path: str) -> None:
    """The Intersections tab offers the CLI's intersections, and each shows the CLI's numbers."""
    assert intersections, "the CLI audit has no intersections to compare"
    page.get_by_role("tab", name=INTERSECTIONS, exact=True).click()
    wait_for_app(page)
    box = page.get_by_role("combobox", name="Intersection")
    for i, name in enumerate(intersections):
        if i:
            box.click()
            page.get_by_role("option", name=name, exact=True).click()
            wait_for_app(page)
        expect(box).to_have_value(name)
        shot(page, output_path, f"intersection_{i}")
        check_attribute_tab(page, name, intersections[name])


def check_mitigation(page, output_path: str) -> None:
    page.get_by_test_id("stRadio").get_by_text(PER_GROUP, exact=True).click()
    wait_for_app(page)
    before = metric_cards(page)
    assert before["Decisions changed"] == "0", before
    thumb = page.get_by_test_id("stSlider").first.get_by_role("slider")
    start = thumb.get_attribute("aria-valuenow")
    thumb.focus()
    for _ in range(5):  # PageUp: ten arrow steps at a time
        thumb.press("PageUp")
    thumb.press("ArrowRight")
    wait_for_app(page)
    expect(thumb).not_to_have_attribute("aria-valuenow", start)
    after = metric_cards(page)
    shot(page, output_path, "mitigation")
    assert after["Decisions changed"] != "0", after
    changed = [k for k in before if k != "Decisions changed" and before[k] != after.get(k)]
    assert changed, f"no metric moved with the threshold: {before} → {after}"


@pytest.mark.parametrize("sample", SAMPLES)
def test_journey(sample: str, app_page, guard, tmp_path: Path, output_path: str) -> None:
    page = app_page
    csv = ROOT / "sample_data" / sample
    upload(page, csv)
    expect(page.get_by_test_id("stHeading").filter(has_text=sample)).to_be_visible()
    confirm_roles(page)
    shot(page, output_path, "data")
    spec_file = download(page, "spec_download", tmp_path)
    confirmed = AuditSpec.from_json(spec_file.read_bytes())
    # The app confirmed the engine's suggestion, unchanged (stamped with the file's hash).
    table = load_table(csv)
    assert confirmed.dataset_sha256 in (None, table.report.sha256)
    assert replace(confirmed, dataset_sha256=None) == replace(suggest_spec(table.data), dataset_sha256=None)

    go_to(page, "Fairness")
    check_fairness(page, cli_audit(csv, spec_file), output_path)

    go_to(page, "Drivers")
    expect(page.get_by_role("heading", name="How faithful is the surrogate?")).to_be_visible(timeout=180_000)
    fidelity = page.get_by_test_id("stMetricValue").first.inner_text()
    assert 0 < float(fidelity.strip().rstrip("%")) <= 100, fidelity
    shot(page, output_path, "drivers")

    if (PAGES_DIR / "mitigation.py").exists():
        go_to(page, "Mitigation")
        check_mitigation(page, output_path)

    if (PAGES_DIR / "report.py").exists():
        go_to(page, "Report")
        shot(page, output_path, "report")
        report = download(page, W.REPORT_HTML, tmp_path)
        viewer = page.context.new_page()
        viewer.goto(report.as_uri())
        expect(viewer.locator("h1")).to_contain_text(sample)
        shot(viewer, output_path, "report_html")
    assert not exceptions(page)


# ---------------------------------------------------------------- a file nobody prepared


def adult_like_csv(rows: int = 600, seed: int = 11) -> bytes:
    """A look-alike of UCI Adult: its header, ', '-separated cells (a leading space in every value), '?' for
    unknown work class, occupation and country, and the outcome ' <=50K' / ' >50K' in 'income'."""
    rng = random.Random(seed)
    header = (
        "age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
        "capital-gain,capital-loss,hours-per-week,native-country,income"
    )
    races = ["White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"]
    lines = [header]
    for _ in range(rows):
        sex = rng.choice(["Male", "Male", "Female"])
        race = rng.choices(races, [70, 12, 8, 5, 5])[0]
        rich = rng.random() < (0.32 if sex == "Male" else 0.12)
        work = "?" if rng.random() < 0.05 else rng.choice(["Private", "Self-emp-not-inc", "State-gov"])
        occupation = "?" if work == "?" else rng.choice(["Adm-clerical", "Exec-managerial", "Craft-repair", "Sales"])
        education, years = rng.choice([("Bachelors", 13), ("HS-grad", 9), ("Masters", 14), ("Some-college", 10)])
        cells = [
            rng.randint(17, 80),
            work,
            rng.randint(20_000, 400_000),
            education,
            years,
            rng.choice(["Never-married", "Married-civ-spouse", "Divorced"]),
            occupation,
            rng.choice(["Husband", "Wife", "Not-in-family", "Own-child"]),
            race,
            sex,
            rng.choice([0, 0, 0, 2174, 14084]),
            0,
            rng.randint(20, 60),
            "?" if rng.random() < 0.02 else "United-States",
            ">50K" if rich else "<=50K",
        ]
        lines.append(", ".join(str(c) for c in cells))
    return ("\n".join(lines) + "\n").encode()


def test_journey_on_an_adult_like_file(app_page, guard, tmp_path: Path, output_path: str) -> None:
    """Upload a file nobody prepared → accept the suggested roles unchanged → the Fairness page shows the CLI's
    numbers for 'sex' and 'race'."""
    page = app_page
    csv = tmp_path / "adult_like.csv"
    csv.write_bytes(adult_like_csv())
    upload(page, csv)
    expect(page.get_by_test_id("stHeading").filter(has_text="adult_like.csv")).to_be_visible()
    shot(page, output_path, "data")
    # Fail fast (not after the click's long timeout) when the suggestion leaves the roles incomplete.
    expect(page.get_by_role("button", name="Confirm roles")).to_be_enabled(timeout=15_000)
    confirm_roles(page)
    spec_file = download(page, "spec_download", tmp_path)
    confirmed = AuditSpec.from_json(spec_file.read_bytes())
    table = load_table(csv)
    assert replace(confirmed, dataset_sha256=None) == replace(suggest_spec(table.data), dataset_sha256=None)
    assert {"sex", "race"} <= set(confirmed.protected_columns), confirmed.protected_columns

    go_to(page, "Fairness")
    cli = cli_audit(csv, spec_file)
    for name in cli["attributes"]:
        page.get_by_role("tab", name=name, exact=True).click()  # it opens on the focus, maybe not the first
        wait_for_app(page)
        if name in ("sex", "race"):
            shot(page, output_path, f"fairness_{name}")
            check_attribute_tab(page, name, cli["attributes"][name])
    assert {"sex", "race"} <= set(cli["attributes"])
    assert not exceptions(page)


def test_the_data_page_names_the_upload_after_another_page_and_reads_it_again(
    app_page, guard, tmp_path: Path, output_path: str
) -> None:
    """The uploader is empty after a visit to another page; the page still names the file, and a reading option
    reads the kept bytes again ('?' becomes missing in every column)."""
    page = app_page
    csv = tmp_path / "adult_like.csv"
    csv.write_bytes(adult_like_csv())
    upload(page, csv)
    go_to(page, "Report")
    go_to(page, "Data")
    expect(page.get_by_text(re.compile(r"^Loaded: adult_like\.csv \("))).to_be_visible()
    expect(page.get_by_test_id("stFileChipName")).to_have_count(0)  # Streamlit's uploader forgot the file
    open_expander(page, "Reading options")
    page.get_by_role("combobox", name=re.compile("Also treat these spellings as missing")).click()
    page.get_by_role("option", name="?", exact=True).click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    expect(page.get_by_text(re.compile("was read again with the new reading options"))).to_be_visible()
    missing = load_table(csv, na_values=["?"]).data["workclass"].isna().sum()
    assert missing > 0
    # '?' in three columns: one line names them all ("... in 3 columns: 'workclass' (29), ...").
    expect(
        page.get_by_text(re.compile(rf"extra missing spellings as missing in \d+ columns: 'workclass' \({missing}\)"))
    ).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(re.compile("read with \\? as missing"))).to_be_visible()
    shot(page, output_path, "data_read_again")
    assert not exceptions(page)


def test_a_loaded_spec_is_confirmed_and_downloaded_with_every_field(
    app_page, guard, tmp_path: Path, output_path: str
) -> None:
    """Load a spec that sets every field with the Data page's spec control → the page names what it keeps
    without a control → the confirmed spec, downloaded, is the loaded one."""
    from tests.app.test_loaded_spec import EVERYTHING

    page = app_page
    spec_file = tmp_path / "everything.json"
    spec_file.write_text(EVERYTHING.to_json(), encoding="utf-8")
    by_key(page, W.SPEC_UPLOAD).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(spec_file))
    wait_for_app(page)
    expect(page.get_by_text(re.compile(r"^Kept from the loaded spec .*intersections gender × age"))).to_be_visible()
    confirm_roles(page)
    shot(page, output_path, "data_loaded_spec")
    downloaded = AuditSpec.from_json(download(page, "spec_download", tmp_path).read_bytes())
    assert downloaded == EVERYTHING  # made on this data, so even its hash is the same
    assert not exceptions(page)
