"""The HTML report in headless Chromium with the network blocked: its charts render, it requests nothing,
and hostile column names and cells run no script — even with its Content-Security-Policy taken out."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import AuditSpec, load_table
from analysis.audit import audit
from analysis.report import CSP, render_html
from tests.analysis.test_report import GROUPS, IMG, hostile_frame, hostile_spec

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


class Watch:
    """Every request the page makes (only the report's own file is let through), dialog and console error."""

    def __init__(self, page, allowed: str) -> None:
        self.allowed, self.blocked, self.requests, self.dialogs, self.errors = allowed, [], [], [], []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self.dialog)
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.route("**/*", self.route)

    def route(self, route) -> None:
        if route.request.url == self.allowed:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def open_report(page, tmp_path: Path, html: str) -> Watch:
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    watch = Watch(page, path.as_uri())
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)  # time for anything deferred (there should be nothing) to fire
    return watch


def test_the_report_opens_offline_draws_its_charts_and_requests_nothing(page, tmp_path):
    table = load_table(ROOT / "sample_data" / "loan_approvals.csv")
    spec = AuditSpec(
        decision="approved",
        positive=("Y",),
        label="repaid",
        label_positive=(1,),
        protected=("gender", "ethnicity"),
        id_columns=("applicant_id",),
    )
    result = audit(table.data, spec, dataset_name=table.report.name, dataset_sha256=table.report.sha256)
    watch = open_report(page, tmp_path, render_html(result, load_report=table.report))
    charts = 2 * (len(result.attributes) + len(result.intersections))
    svgs = page.locator("div.chart > svg")
    assert svgs.count() == charts == int(page.locator('meta[name="paritylab-charts"]').get_attribute("content"))
    for i in range(charts):
        box = svgs.nth(i).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50
    # Axis labels are drawn: the group names show inside the first chart.
    assert "Female" in svgs.first.text_content()
    assert page.get_by_role("heading", name="Verdict").is_visible()
    assert watch.requests == [watch.allowed] and not watch.blocked
    assert not watch.errors and not watch.dialogs


@pytest.mark.parametrize("policy", ["with the CSP", "without the CSP"])
def test_hostile_names_and_cells_run_no_script(page, tmp_path, policy):
    result = audit(hostile_frame(), hostile_spec(), dataset_name="<img src=y onerror=alert(2)>.csv")
    html = render_html(result)
    if policy == "without the CSP":
        assert CSP_META in html
        html = html.replace(CSP_META, "")  # escaping alone must keep the payloads inert
    watch = open_report(page, tmp_path, html)
    page.locator("div.chart > svg").first.hover()
    assert not watch.dialogs, watch.dialogs
    assert watch.requests == [watch.allowed] and not watch.blocked  # an <img src=x> would have requested x
    assert page.locator("img, script, iframe, object, a[href]:not([href^='#'])").count() == 0
    body = page.locator("body").inner_text()
    for label in GROUPS:
        assert label in body  # shown as text
    assert page.locator("div.chart > svg").count() == 2 * (len(result.attributes) + len(result.intersections))
    assert IMG in page.locator("div.chart > svg").first.text_content()


@pytest.mark.slow
def test_the_report_page_downloads_a_report_that_opens_offline(app_page, guard, browser, tmp_path):
    from tests.browser.helpers import confirm_roles, exceptions, go_to

    page = app_page
    confirm_roles(page)
    go_to(page, "Report")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the HTML report").click()
    assert download.value.suggested_filename == "loan_approvals-report.html"
    path = tmp_path / "downloaded" / download.value.suggested_filename
    download.value.save_as(path)
    assert not exceptions(page)
    offline = browser.new_context()  # file:// is not this machine's server: keep it out of the app's guard
    try:
        report = offline.new_page()
        html = path.read_text(encoding="utf-8")
        watch = open_report(report, tmp_path, html)
        charts = int(report.locator('meta[name="paritylab-charts"]').get_attribute("content"))
        assert charts >= 12 and report.locator("div.chart > svg").count() == charts
        assert watch.requests == [watch.allowed] and not watch.blocked and not watch.dialogs
    finally:
        offline.close()
