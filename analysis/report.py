"""The audit report: a self-contained HTML page, and the metrics as a spreadsheet-safe CSV.

``render_html(result, ...)`` returns one HTML document that opens offline with nothing else
installed. Charts are inline SVG: the app's charts (:mod:`analysis.charts`), their Vega-Lite
specs drawn by ``vl-convert-python`` (Vega runs inside that package, not in the reader's
browser), so the page holds no script and loads nothing: a Content-Security-Policy meta tag
(``default-src 'none'``) makes the browser refuse any request or script anyway. The group tables
are the Fairness page's (:mod:`analysis.tables`). Every data-derived string (column names, group labels,
finding sentences, load notes) is escaped with :func:`html.escape`; Vega escapes the text it
draws into the SVG.

``metrics_csv(result)`` writes one row per attribute (and intersection) × group × metric, plus
each attribute's summary metrics, with text cells neutralised against spreadsheet formulas
(:func:`analysis.exports.csv_bytes`).

Personal data: a protected attribute that the spec also lists in ``pii_columns`` has personal
data as its group labels. Exports leave its audit (and every intersection with it) out unless
``include_pii=True``, and say so; the loader's notes about personal-data columns, which can
quote cell values, are left out the same way. Raw rows are never part of either export.
"""

from __future__ import annotations

import html
import json
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.audit import AttributeAudit, AuditResult
from analysis.exports import csv_bytes
from analysis.loading import LoadReport
from analysis.metrics import METRIC_NAMES, MetricValue, four_fifths_words
from analysis.mitigation import SUMMARY_FIGURES, flip_columns
from analysis.options import CONFIDENCE, FOUR_FIFTHS
from analysis.story import Gap, Verdict, gap_for, headline, rank_gaps
from analysis.stratified import StratifiedSample
from analysis.tables import comparison_table, group_table, q_text, text_rows
from analysis.version import __version__
from analysis.words import DecisionWords, decision_words

if TYPE_CHECKING:
    from analysis.bias_tables import BiasTables
    from analysis.compare import AuditComparison
    from analysis.explain import Explanation
    from analysis.mitigation import MitigationComparison
    from analysis.slices import SliceSearch

__all__ = [
    "CSP",
    "CSV_COLUMNS",
    "chart_specs",
    "metrics_csv",
    "render_html",
    "summary_line",
    "verdict",
    "without_pii",
]

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSV_COLUMNS = (
    "level",
    "scope",
    "attribute",
    "group",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "n",
    "is_reference",
    "status",
    "reason",
)
VERSIONED_PACKAGES = ("numpy", "pandas", "scipy", "pyarrow", "vl-convert-python")
MAX_IMPORTANCE_ROWS = 12
MAX_TABLE_ROWS = 500

PII_OMITTED = (
    "The audit of {name} is left out of this export: {columns} {verb} marked as personal data (pii_columns), "
    "so {pronoun} group labels are personal data. Export with personal-data columns included to see it."
)
PII_NOTES_OMITTED = "{count} loader note{s} about personal-data columns left out (they can quote cell values)."
PII_MITIGATION = (
    "The mitigation comparison for {attribute} is left out: its groups are personal data (pii_columns). "
    "Export with personal-data columns included to see it."
)
MITIGATION_SETTINGS = (
    "attribute",
    "constraint",
    "tolerance",
    "objective",
    "target",
    "score_source",
    "score_label",
    "train_rows",
    "test_rows",
    "thresholds_feasible",
    "thresholds_reason",
)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1100px;
padding:24px;color:#1d1d1f;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #e4e4e4;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.6em}.meta{color:#666;font-size:.9em}
.verdict{background:#f5f7fb;border-left:4px solid #1f4e9c;padding:12px 16px;font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:8px 24px}
.chart{margin:.4em 0;overflow-x:auto}.chart svg{max-width:100%;height:auto}.chart .title{font-weight:600;margin:.2em 0}
pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:.85em}
.fail{color:#b3261e;font-weight:600}.pass{color:#2a7f62;font-weight:600}.note{color:#555}
code{background:#f1f1f1;padding:0 3px}
"""


# --- small helpers ------------------------------------------------------------------------


def _esc(value: object) -> str:
    """Untrusted text as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[object]], *, numeric: Sequence[int] = ()) -> str:
    """An HTML table (without a header row when ``header`` is None); every cell is escaped."""
    head = "" if header is None else "<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr></thead>"
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_esc(c)}</td>' if i in numeric else f"<td>{_esc(c)}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table>{head}<tbody>{''.join(body)}</tbody></table>"


def _list(items: Sequence[object]) -> str:
    return "<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>" if items else ""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- personal data ------------------------------------------------------------------------


def _pii_audits(result: AuditResult) -> dict[str, tuple[str, ...]]:
    """Audit name → its personal-data columns, for every attribute and intersection that has one."""
    pii = set(result.spec.pii_columns)
    audits = [*result.attributes.values(), *result.intersections.values()]
    return {a.name: tuple(c for c in a.columns if c in pii) for a in audits if pii.intersection(a.columns)}


def without_pii(result: AuditResult) -> tuple[AuditResult, tuple[str, ...]]:
    """The result without the audits of personal-data attributes, and a sentence for each one left out.

    A protected attribute also listed in ``spec.pii_columns`` has personal data as group labels;
    its audit and every intersection with it are dropped. Nothing else changes.
    """
    dropped = _pii_audits(result)
    if not dropped:
        return result, ()
    notes = tuple(
        PII_OMITTED.format(
            name=name,
            columns=", ".join(columns),
            verb="is" if len(columns) == 1 else "are",
            pronoun="its" if len(columns) == 1 else "their",
        )
        for name, columns in dropped.items()
    )
    kept = replace(
        result,
        attributes={k: a for k, a in result.attributes.items() if k not in dropped},
        intersections={k: a for k, a in result.intersections.items() if k not in dropped},
    )
    return kept, notes


# --- metrics CSV --------------------------------------------------------------------------


def _metric_row(level: str, scope: str, audit: AttributeAudit, group: str | None, name: str, m: MetricValue) -> dict:
    return {
        "level": level,
        "scope": scope,
        "attribute": audit.name,
        "group": group,
        "metric": name,
        "value": m.value,
        "ci_low": m.ci_low,
        "ci_high": m.ci_high,
        "p_value": m.p_value,
        "q_value": m.q_value,
        "reason": m.reason,
    }


def _metric_rows(scope: str, audit: AttributeAudit) -> list[dict[str, Any]]:
    rows = []
    for group, g in audit.groups.items():
        for name, m in g.metrics.items():
            row = _metric_row("group", scope, audit, group, name, m)
            rows.append(row | {"n": g.n, "is_reference": g.is_reference, "status": g.status})
    summary = audit.summary
    for name, m in summary.metrics.items():
        row = _metric_row("summary", scope, audit, m.group, name, m)
        rows.append(row | {"status": summary.status, "reason": m.reason or summary.reason})
    if summary.four_fifths_pass is not None:
        rows.append(
            {"level": "summary", "scope": scope, "attribute": audit.name, "metric": "four_fifths_pass"}
            | {"value": float(summary.four_fifths_pass), "status": summary.status}
        )
    return rows


def metrics_csv(result: AuditResult, *, include_pii: bool = False) -> bytes:
    """Every metric of the audit as CSV: one row per attribute (and intersection) × group × metric.

    Parameters
    ----------
    result
        The audit.
    include_pii
        Include the audits of protected attributes that the spec marks as personal data
        (``pii_columns``). Off by default: each left-out audit gets one ``level = omitted`` row
        saying so.

    Returns
    -------
    bytes
        UTF-8 CSV with the columns :data:`CSV_COLUMNS`. ``level`` is ``group`` (a group's metric),
        ``summary`` (the attribute's headline numbers; ``group`` names the group a minimum or
        maximum was found in; ``four_fifths_pass`` is 1 or 0) or ``omitted``. An undefined value is
        empty, with its ``reason``.
        Text cells that a spreadsheet would run as a formula start with ``'``; numbers stay numbers.
    """
    dropped = {} if include_pii else _pii_audits(result)
    shown, notes = (result, ()) if include_pii else without_pii(result)
    rows: list[dict[str, Any]] = []
    for scope, audits in (("attribute", shown.attributes), ("intersection", shown.intersections)):
        for audit in audits.values():
            rows += _metric_rows(scope, audit)
    for name, note in zip(dropped, notes, strict=True):
        scope = "intersection" if name in result.intersections else "attribute"
        rows.append({"level": "omitted", "scope": scope, "attribute": name, "status": "omitted", "reason": note})
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    for column in ("value", "ci_low", "ci_high", "p_value", "q_value"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["n"] = frame["n"].astype("Int64")
    frame["is_reference"] = frame["is_reference"].astype("boolean")
    return csv_bytes(frame)


# --- charts (the app's Altair charts, drawn to SVG by vl-convert) ---------------------------

CHART_TITLES = {
    "favorable_rate": "Favourable rate by group",
    "error_rates": "Error rates by group (TPR and FPR: equalized odds)",
    "calibration": "Calibration by group: observed positive rate per score decile",
    "decision_distribution": "Share of every decision value by group",
}


def _chart_title(chart: str, words: DecisionWords) -> str:
    """A chart's heading; a harmful decision's rate chart is headed as the share given it, as it is drawn."""
    if chart == "favorable_rate" and words.harmful:
        return f"{words.share.capitalize()} by group"
    return CHART_TITLES[chart]


# The font is set when drawing, not in the spec: in the app the spec takes Streamlit's theme.
SVG_CONFIG = {"font": "sans-serif"}
SCHEMA_VERSION = re.compile(r"/v(\d+\.\d+)[.\d]*\.json$")


def chart_specs(
    audit: AttributeAudit,
    *,
    di_threshold: float = FOUR_FIFTHS,
    confidence: float = CONFIDENCE,
    detail: bool = True,
    words: DecisionWords | None = None,
) -> list[dict]:
    """The Vega-Lite specs the report draws for one attribute: the app's charts (:mod:`analysis.charts`) as
    ``chart.to_dict()``. Favourable rate, TPR/FPR when there is a label and, with ``detail``, calibration
    (score and label) and every decision value's share (multi-valued decisions)."""
    import analysis.charts as charts  # altair is imported only when a report draws charts

    figures = [
        charts.favorable_rate_chart(audit, di_threshold=di_threshold, confidence=confidence, words=words),
        charts.error_rates_chart(audit, confidence=confidence),
    ]
    if detail:
        figures += [
            charts.calibration_chart(audit, confidence=confidence),
            charts.decision_distribution_chart(audit, confidence=confidence),
        ]
    # Not validated again here: the app validates these very specs, and the tests do.
    return [f.to_dict(validate=False) for f in figures if f is not None]


def _svg(spec: Mapping[str, Any]) -> str:
    """One chart as SVG text (vl-convert runs Vega-Lite in-process; it may load nothing from any URL)."""
    import vl_convert  # imported here: the engine loads it only when a report is drawn

    version = SCHEMA_VERSION.search(spec.get("$schema", ""))
    svg = vl_convert.vegalite_to_svg(
        dict(spec),
        vl_version=version.group(1) if version else None,
        config=SVG_CONFIG,
        allowed_base_urls=[],
    )
    # The SVG is Vega's output, with every data string escaped by Vega; keep only the <svg> element.
    return svg[svg.index("<svg") :]


# --- HTML sections ------------------------------------------------------------------------


def _scope_audits(result: AuditResult) -> list[tuple[str, AttributeAudit]]:
    return [("attribute", a) for a in result.attributes.values()] + [
        ("intersection", a) for a in result.intersections.values()
    ]


def verdict(result: AuditResult, gaps: Sequence[Gap] | None = None) -> str:
    """One paragraph in plain words: what was audited, the largest gap, and every attribute's verdict.

    ``gaps`` is :func:`analysis.story.rank_gaps`' output when already computed (the report passes the full
    result's, so that a report without personal-data attributes keeps the same q-values).
    """
    spec, info, options = result.spec, result.dataset, result.options
    audits = [a for _, a in _scope_audits(result)]
    target = spec.decision if spec.decision else f"{spec.score} ≥ {_fmt(spec.threshold, 'g')}"
    opening = (
        f"ParityLab audited {info.rows_audited:,} of {info.rows:,} rows of {info.name or 'the dataset'} "
        f"for differences between groups in the decision {target}, across {len(result.attributes)} protected "
        f"attribute{'s' if len(result.attributes) != 1 else ''} and {len(result.intersections)} "
        f"intersection{'s' if len(result.intersections) != 1 else ''}."
    )
    if not audits:
        return opening + " No attribute could be shown in this report."
    names = {a.name for a in audits}
    ranked = [g for g in (rank_gaps(result) if gaps is None else gaps) if g.attribute in names]
    parts = [opening, headline(result, ranked)]
    with_findings = [a for a in audits if any(f.kind == "gap" for f in a.findings)]
    if with_findings:
        described = []
        for a in with_findings:
            count = sum(1 for f in a.findings if f.kind == "gap")
            described.append(f"{a.name} ({count} gap{'s' if count > 1 else ''})")
        parts.append(
            f"Significant gaps beyond the thresholds (q < {options.alpha:g} after Benjamini–Hochberg) were found "
            f"for {', '.join(described)}."
        )
    parts.append("Verdicts, most unequal first: " + "; ".join(_verdict_item(g) for g in ranked) + ".")
    parts.append("These are statistical differences in the recorded decisions, not proof of intent or cause.")
    return " ".join(parts)


def _verdict_item(gap: Gap) -> str:
    """``"ethnicity (four-fifths ratio 0.71): below four-fifths and significant"``."""
    if gap.ratio is None:
        return f"{gap.attribute}: {gap.verdict.text}"
    return f"{gap.attribute} (four-fifths ratio {gap.ratio:.2f}): {gap.verdict.text}"


def _dataset_card(result: AuditResult, load_report: LoadReport | None, pii: set[str], include_pii: bool) -> str:
    info = result.dataset
    columns = getattr(load_report, "columns", None)
    rows = [
        ("Name", info.name or "—"),
        ("Rows", f"{info.rows:,}"),
        ("Rows audited (with a decision)", f"{info.rows_audited:,}"),
        ("Columns", f"{columns:,}" if isinstance(columns, int) else "—"),
        ("SHA-256", info.sha256),
    ]
    out = _table(None, rows)
    if load_report is not None:
        lines = _load_lines(load_report, pii, include_pii)
        out += "<h3>How the file was read</h3>" + _list(lines)
    else:
        out += '<p class="note">The load report was not given to the report (only the audit result).</p>'
    for row in result.left_out:
        text = f"{row['rows']:,} rows left out — {row['reason']}."
        out += f'<p class="note">{_esc(text)}</p>'
    return out


def _load_lines(load_report: LoadReport, pii: set[str], include_pii: bool) -> list[str]:
    summary = list(load_report.summary())
    if include_pii or not pii:
        return summary
    first, dropped = summary[:1], 0
    kept = []
    for change in load_report.changes:
        if change.column in pii:
            dropped += 1
        else:
            kept.append(change.detail)
    for warning in load_report.warnings:
        if any(repr(c) in warning or f"'{c}'" in warning for c in pii):
            dropped += 1
        else:
            kept.append(warning)
    if dropped:
        kept.append(PII_NOTES_OMITTED.format(count=dropped, s="s" if dropped > 1 else ""))
    return first + kept


def _decision_order(result: AuditResult) -> str:
    """``'P4 < P3 < P2 < P1 (priority codes …)'`` as the audit listed them, or why there is none."""
    dist = next((a.decision_distribution for a in result.attributes.values() if a.decision_distribution), None)
    if dist is None:
        return "— (two values)" if result.spec.decision else "—"
    if dist.order is None:
        return "not ordered"
    return f"{' < '.join(dist.values)} ({dist.order})"


def _spec_section(result: AuditResult) -> str:
    spec = result.spec
    positive = ", ".join(str(v) for v in spec.positive) or "—"
    protected = []
    for a in spec.protected:
        extra = []
        if a.bins is not None:
            extra.append("bins " + ", ".join(f"{b:g}" for b in a.bins))
        if a.quantiles is not None:
            extra.append(f"{a.quantiles} quantiles")
        if a.reference is not None:
            extra.append(f"reference {a.reference}")
        protected.append(a.column + (f" ({'; '.join(extra)})" if extra else ""))
    rows = [
        ("Decision", spec.decision or f"score {spec.score} ≥ {_fmt(spec.threshold, 'g')}"),
        ("Positive decision values", positive),
        ("Order of the decision values", _decision_order(result)),
        ("The positive decision", "benefits the person" if spec.positive_is_favorable else "harms the person"),
        ("Label (true outcome)", spec.label or "— (none: error rates not computed)"),
        ("Positive label values", ", ".join(str(v) for v in spec.label_positive) or "—"),
        ("Score", spec.score or "—"),
        ("Protected attributes", "; ".join(protected) or "—"),
        ("Intersections", "; ".join(" × ".join(t) for t in spec.intersection_sets()) or "—"),
        ("ID columns", ", ".join(spec.id_columns) or "—"),
        ("Personal-data columns", ", ".join(spec.pii_columns) or "—"),
        ("Minimum group size", f"{spec.min_group_size:,}"),
    ]
    text = spec.to_json()
    return (
        _table(["Field", "Value"], rows)
        + f"<details><summary>The spec as JSON</summary><pre>{_esc(text)}</pre>"
        + ("</details>")
    )


def summary_line(audit: AttributeAudit, di_threshold: float = FOUR_FIFTHS, *, verdict: Verdict | None = None) -> str:
    """One attribute's headline in words: the four-fifths ratio and verdict, the lowest impact ratio, parity, odds.

    Pass the attribute's :class:`~analysis.story.Verdict` (:func:`analysis.story.verdict_for`): its statement
    replaces the bare four-fifths words, so the line never says "fails" where the test is not conclusive.
    """
    s = audit.summary
    parts = []
    ratio = s.metrics.get("favorable_rate_ratio")
    if ratio is not None:
        text = f"{METRIC_NAMES['favorable_rate_ratio'].capitalize()} {_fmt(ratio.value)}"
        if ratio.value is None:
            text += f" ({ratio.reason or 'undefined'})"
        elif verdict is not None:
            text += f": {verdict.text}"
        elif s.four_fifths_pass is not None:
            text += f": {four_fifths_words(s.four_fifths_pass, di_threshold)}"
        parts.append(text)
    m = s.metrics.get("disparate_impact_min")
    if m is not None:
        if m.value is None:
            parts.append(f"{METRIC_NAMES['disparate_impact_min']}: {m.reason or 'undefined'}")
        else:
            ci = f" (CI {m.ci_low:.3f}–{m.ci_high:.3f})" if m.ci_low is not None and m.ci_high is not None else ""
            parts.append(f"{METRIC_NAMES['disparate_impact_min']} {m.value:.3f}{ci}, group {m.group}")
    for name in ("demographic_parity_difference", "equalized_odds_difference"):
        m = s.metrics.get(name)
        if m is not None:
            parts.append(f"{METRIC_NAMES[name]} {_fmt(m.value)}" + ("" if m.value is not None else f" ({m.reason})"))
    return "; ".join(parts) + "." if parts else ""


def _audit_section(
    scope: str, audit: AttributeAudit, result: AuditResult, index: int, charts: bool, gaps: Sequence[Gap] | None = None
) -> tuple[str, int]:
    """One attribute's (or intersection's) section, and how many charts it holds."""
    options = result.options
    out = [f'<section id="audit-{index}"><h3>{_esc(audit.name)} <small class="meta">({_esc(scope)})</small></h3>']
    if audit.status != "ok":
        out.append(f'<p class="fail">{_esc(f"Disparities for {audit.name} are {audit.reason}.")}</p>')
    if audit.reference_group is not None:
        reference = f"Reference group: {audit.reference_group} ({audit.reference_rule})."
        out.append(f"<p>{_esc(reference)}</p>")
    gap = gap_for(result, audit.name) if gaps is None else next(g for g in gaps if g.attribute == audit.name)
    out.append(f'<p class="verdict-line"><b>Verdict:</b> {_esc(gap.sentence)}</p>')
    line = summary_line(audit, result.options.di_threshold, verdict=gap.verdict)
    if line:
        out.append(f"<p>{_esc(line)}</p>")
    out.append("<h4>Findings</h4>" + (_list([f.text for f in audit.findings]) or "<p>None.</p>"))
    count = 0
    if charts and audit.groups:
        # Calibration and decision-value charts for single attributes only: per intersection cell they are
        # unreadable (the Fairness page has them, and the group tables hold every number).
        words = decision_words(result.spec)
        specs = chart_specs(
            audit,
            di_threshold=options.di_threshold,
            confidence=options.confidence,
            detail=scope == "attribute",
            words=words,
        )
        drawn = [
            f'<div class="chart"><p class="title">{_esc(_chart_title(s["usermeta"]["chart"], words))}</p>{_svg(s)}'
            "</div>"
            for s in specs
        ]
        out.append(f'<div class="charts">{"".join(drawn)}</div>')
        count = len(drawn)
        highest = audit.highest_group()
        if highest is not None:
            if words.harmful:
                line = (
                    f"Dashed line: one minus {options.di_threshold:g} × the highest favourable rate of the groups "
                    f"compared (group {_esc(highest)}), on the scale of the {_esc(words.share)}; a group right of it "
                    "fails the four-fifths rule."
                )
            else:
                line = (
                    f"Dashed line: {options.di_threshold:g} × the highest favourable rate of the groups compared "
                    f"(group {_esc(highest)}); a group left of it fails the four-fifths rule."
                )
            out.append(f'<p class="note">{line} Bars: confidence intervals.</p>')
    groups = group_table(audit, options.confidence)
    out.append("<h4>Groups</h4>" + _table(list(groups.columns), text_rows(groups), numeric=(1, 2)))
    comparisons = comparison_table(audit, options.confidence)
    if len(comparisons.columns) > 3:
        rows = text_rows(comparisons)
        out.append(
            "<h4>All comparisons with the reference group</h4>" + _table(list(comparisons.columns), rows, numeric=(1,))
        )
    if audit.suppressed:
        count_text = f"{len(audit.suppressed)} cell{'s' if len(audit.suppressed) > 1 else ''}"
        out.append(
            f'<p class="note">{_esc(count_text)} with fewer than {options.min_cell_size} rows suppressed '
            "(not in the tables or charts).</p>"
        )
    out.append("</section>")
    return "".join(out), count


def _drivers_section(record: Explanation | None, pii: set[str], include_pii: bool) -> str:
    if record is None:
        return (
            '<p class="note">Not computed: the drivers (a surrogate model of the decisions and its SHAP values) '
            "were not computed for this report — visit the Drivers page, then make the report again.</p>"
        )
    explanation = record.to_dict()
    out = []
    fidelity = explanation.get("fidelity") or {}
    model = explanation.get("model") or {}
    if fidelity.get("message"):
        cls = "fail" if fidelity.get("low") else "note"
        out.append(f'<p class="{cls}">{_esc(fidelity["message"])}</p>')
    rows = [
        ("Surrogate model", model.get("kind", "—")),
        ("Target", model.get("target", "—")),
        ("Rows", model.get("n_rows", "—")),
        ("Held-out accuracy", _fmt(fidelity.get("accuracy"))),
        ("Held-out AUC", _fmt(fidelity.get("auc"))),
        ("Held-out R²", _fmt(fidelity.get("r2"))),
        ("Rows explained (SHAP sample)", explanation.get("sampled_rows", "—")),
    ]
    out.append(_table(None, rows))
    if explanation.get("training_sample"):  # the source was too large to model whole
        drawn = StratifiedSample.from_dict(explanation["training_sample"])
        out.append(f'<p class="note">{_esc(drawn.describe("The surrogate was trained"))}</p>')
    importance = list(explanation.get("global_importance") or ())[:MAX_IMPORTANCE_ROWS]
    if importance:
        out.append("<h4>Strongest drivers overall (mean |SHAP|)</h4>")
        out.append(
            _table(
                ["feature", "mean |SHAP|"],
                [[f["feature"], _fmt(f["mean_abs_shap"], ".4f")] for f in importance],
                numeric=(1,),
            )
        )
    sentences = []
    for attribute, groups in (explanation.get("gap") or {}).items():
        if attribute in pii and not include_pii:
            continue
        sentences += [d.get("sentence") for d in groups.values() if d.get("sentence")]
    if sentences:
        out.append("<h4>Where the gaps come from</h4>" + _list(sentences))
    recover = [r.get("sentence") for r in (explanation.get("recoverability") or {}).values() if r.get("sentence")]
    if recover:
        out.append("<h4>Can the features reveal the protected attribute?</h4>" + _list(recover))
    flagged = [
        f"{p['feature']} predicts {attribute} (score {_fmt(p.get('score'))})"
        for attribute, scores in (explanation.get("proxies") or {}).items()
        for p in scores
        if p.get("flag")
    ]
    if flagged:
        out.append("<h4>Likely proxies</h4>" + _list(flagged))
    return "".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return format(value, ".4g")
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "—" if value is None else str(value)


def _flip_text(flips: Any) -> str:
    if not isinstance(flips, Mapping):
        return "—"
    up = sum(int(f.get("to_positive", 0) or 0) for f in flips.values() if isinstance(f, Mapping))
    down = sum(int(f.get("to_negative", 0) or 0) for f in flips.values() if isinstance(f, Mapping))
    return f"{up:,} to positive, {down:,} to negative"


def _mitigation_section(comparison: MitigationComparison, pii: set[str], include_pii: bool) -> str:
    """A mitigation comparison: its settings, one row per method, the thresholds and the notes."""
    data = comparison.to_dict()
    if data["attribute"] in pii and not include_pii:
        return f'<p class="note">{_esc(PII_MITIGATION.format(attribute=data["attribute"]))}</p>'
    methods = data["rows"]
    settings = [(k, _cell(data[k])) for k in MITIGATION_SETTINGS if k in data and data[k] is not None]
    header = ["method", "status", "accuracy", *(METRIC_NAMES[name] for name in SUMMARY_FIGURES), "decisions changed"]
    flip_headers, flip_cells = flip_columns([r.get("flips") for r in methods])
    header += flip_headers
    rows = [
        [
            r.get("label") or r["method"],
            r.get("status", "—") if not r.get("reason") else f"{r.get('status')}: {r['reason']}",
            _fmt(r.get("accuracy")),
            *(_fmt(r.get(name)) for name in SUMMARY_FIGURES),
            _flip_text(r.get("flips")),
            *(cell or "—" for cell in cells),
        ]
        for r, cells in zip(methods, flip_cells, strict=True)
    ]
    out = _table(None, settings) + _table(header, rows, numeric=(2, 3, 4, 5, 6))
    thresholds = data.get("thresholds")
    if isinstance(thresholds, Mapping) and thresholds:
        out += "<h4>Per-group thresholds</h4>" + _table(
            ["group", "threshold"], [[g, _fmt(t)] for g, t in thresholds.items()]
        )
    notes = [str(n) for n in data.get("notes") or ()]
    return out + _list(notes)


def _comparison_section(comparison: AuditComparison, dropped: set[str]) -> str:
    """A monitoring comparison: summary, warnings, regressions and every row."""
    data = comparison.to_dict()
    out = [f"<p>{_esc(data.get('summary', ''))}</p>"] if data.get("summary") else []
    stamps = []
    for side in ("before", "after"):
        stamp = data.get(side)
        if isinstance(stamp, Mapping):
            text = f"{stamp.get('name') or 'a dataset'}, {stamp.get('rows_audited', '—')} rows audited"
            text += f", recorded {stamp['created_at']}" if stamp.get("created_at") else ""
            stamps.append((side.capitalize(), f"{text}; SHA-256 {stamp.get('sha256', '—')}"))
    if isinstance(data.get("settings"), Mapping):
        stamps.append(("Settings", ", ".join(f"{k} {_cell(v)}" for k, v in data["settings"].items())))
    out.append(_table(None, stamps))
    out.append(_list([str(w) for w in data.get("warnings") or ()]))
    rows = [r for r in data["rows"] if isinstance(r, Mapping) and r.get("attribute") not in dropped]
    header = ["attribute", "group", "metric", "before", "after", "change", "q", "significant", "regression", "note"]

    def line(r: Mapping) -> list[object]:
        significant = "—" if r.get("significant") is None else ("yes" if r["significant"] else "no")
        change = "—" if r.get("change") is None else format(r["change"], "+.3f")
        where = [r.get("attribute"), r.get("group") or "(all groups)", r.get("metric") or "—"]
        values = [_fmt(r.get("before")), _fmt(r.get("after")), change, q_text(r.get("q_value")), significant]
        return [*where, *values, "yes" if r.get("regression") else "", r.get("note") or ""]

    regressions = [line(r) for r in rows if r.get("regression")]
    if regressions:
        out.append("<h4>Regressions</h4>" + _table(header, regressions, numeric=(3, 4, 5, 6)))
    shown = rows[:MAX_TABLE_ROWS]
    out.append(
        f"<h4>Every metric ({len(rows):,})</h4>" + _table(header, [line(r) for r in shown], numeric=(3, 4, 5, 6))
    )
    if len(rows) > len(shown):
        out.append(f'<p class="note">{len(rows) - len(shown):,} more rows not shown.</p>')
    if comparison.slices is not None:
        out.append(_tracked_slices(comparison.slices))
    return "".join(out)


def _tracked_slices(tracking: Any) -> str:
    """The slices of both audits' searches (compare's :class:`~analysis.compare.SliceTracking`), as a table."""
    from analysis.compare import NO_LONGER_IN_TOP, NOT_PROOF

    out = [f"<h4>Slices</h4><p>{_esc(tracking.summary)}</p>"]
    out.append(_list([w for w in tracking.warnings if w != tracking.summary]))
    header = ["slice", "status", "before", "after", "change", "n before", "n after", "significant then / now",
              "q (change)", "note"]  # fmt: skip

    def called(flag: bool | None) -> str:
        return "—" if flag is None else "yes" if flag else "no"

    rows = [
        [r.slice, r.status + ("" if r.direction is None else f" ({r.direction})"), _fmt(r.before), _fmt(r.after),
         "—" if r.change is None else format(r.change, "+.3f"), "—" if r.n_before is None else f"{r.n_before:,}",
         "—" if r.n_after is None else f"{r.n_after:,}",
         f"{called(r.significant_before)} / {called(r.significant_after)}", q_text(r.q_value), r.note or ""]
        for r in tracking.rows
    ]  # fmt: skip
    if rows:
        out.append(_table(header, rows, numeric=(2, 3, 4, 5, 6, 8)))
    if any(r.status == NO_LONGER_IN_TOP for r in tracking.rows):
        out.append(f'<p class="note">{_esc(NOT_PROOF)}</p>')
    return "".join(out)


def _method_notes(result: AuditResult, explanation: Explanation | None, notes: Sequence[str]) -> str:
    o = result.options
    items = [
        f"Intervals at {o.confidence:.0%} confidence: Wilson score intervals for rates, Katz log intervals for "
        "disparate impact (a ratio), Newcombe hybrid score intervals for differences of rates.",
        "Tests: Fisher's exact test or the chi-square test of two proportions for each group against the reference; "
        "the q-values control the false discovery rate over every test of the audit (Benjamini–Hochberg). A finding "
        f"needs q < {o.alpha:g} and an effect beyond the threshold: disparate impact below {o.di_threshold:g} (or "
        f"above its inverse), or a TPR/FPR gap larger than {o.gap_threshold:g}.",
        f"Where no gap was found, the finding states the gap the sample could have detected ({o.power:.0%} power).",
        "Each attribute's verdict compares its worst-treated group (lowest favourable rate) with its best-treated "
        "one (highest): below four-fifths and significant; below four-fifths but not conclusive (the test cannot "
        "tell the gap from chance); passing four-fifths but with a significant gap; no gap detected (with the gap "
        "its sizes could have detected); or not computable. The pair's q-value is the audit's own when the "
        "best-treated group is the reference; otherwise the pair is tested and adjusted with the audit's tests.",
        f"Groups under {o.min_group_size:,} rows are marked too small to conclude: shown, but left out of the "
        f"summaries and findings. Intersection cells under {o.min_cell_size:,} rows are suppressed entirely.",
        "A rate with no rows in its denominator is undefined (shown as “undefined (n=0)”), never 0.",
    ]
    if explanation is not None:
        fidelity = explanation.fidelity
        items.append(
            "Drivers describe a surrogate model of the decisions, as far as it agrees with them (held-out "
            f"accuracy {_fmt(fidelity.accuracy)}, AUC {_fmt(fidelity.auc)}); they show association, not cause."
        )
    else:
        items.append("Drivers (surrogate model and SHAP values): not computed — visit the Drivers page.")
    skipped: dict[str, list[str]] = {}
    for item in result.skipped:
        skipped.setdefault(item["reason"], []).append(METRIC_NAMES.get(item["metric"], item["metric"]))
    items += [f"Not computed ({reason}): {', '.join(names)}." for reason, names in skipped.items()]
    items += [f"{row['rows']:,} rows left out — {row['reason']}." for row in result.left_out]
    items += [f"Spec warning: {w}" for w in result.warnings]
    items += list(notes)
    items.append("Raw rows are not part of this report; only counts and rates per group are.")
    return _list(items)


def _versions(result: AuditResult) -> list[tuple[str, str]]:
    rows = [("ParityLab", __version__), ("Python", platform.python_version())]
    rows += [(p, _version(p)) for p in VERSIONED_PACKAGES]
    recorded = getattr(result, "versions", None)
    if isinstance(recorded, Mapping):
        rows += [(f"{k} (recorded with the audit)", str(v)) for k, v in recorded.items()]
    return rows


def _timestamp(result: AuditResult, generated_at: datetime | None) -> tuple[str, str | None]:
    made = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    created = getattr(result, "created_at", None)
    return made, None if created is None else str(created)


def _contents(mitigation: bool, comparison: bool, tables: bool = False, slices: bool = False) -> str:
    """Links to the sections (fixed anchors: no data reaches an href)."""
    entries = [
        ("verdict", "Verdict"),
        ("dataset", "Dataset"),
        ("spec", "Spec"),
        ("groups", "Groups"),
        ("slices", "Slices") if slices else None,
        ("drivers", "Drivers"),
        ("mitigation", "Mitigation") if mitigation else None,
        ("monitoring", "Monitoring") if comparison else None,
        ("audit-tables", "Audit tables") if tables else None,
        ("method", "Method and limitations"),
        ("versions", "Versions"),
    ]
    links = " · ".join(f'<a href="#{anchor}">{text}</a>' for anchor, text in filter(None, entries))
    return f'<nav class="meta">{links}</nav>'


TABLES_PII = (
    "The audit tables are left out: {columns} {are} marked as personal data, so their categories are personal data. "
    "Include personal-data attributes to add them."
)


def _tables_section(tables: BiasTables, pii: set[str], include_pii: bool) -> str:
    """The audit tables in their rule's format: one table per category set, then the rule's notes."""
    private = [c for c in (tables.sex, tables.race) if c in pii]
    if private and not include_pii:
        columns = " and ".join(f"'{c}'" for c in private)
        return f"<p>{_esc(TABLES_PII.format(columns=columns, are='are' if len(private) > 1 else 'is'))}</p>"
    parts = [f"<p><strong>{_esc(tables.title)}</strong> ({_esc(tables.mode)} mode; {_esc(tables.rate_name)}).</p>"]
    if tables.median_score is not None:
        parts.append(f"<p>Median score of the full sample: {_esc(f'{tables.median_score:.6g}')}.</p>")
    for table in tables.tables.values():
        head = f"{table.name} — {table.unknown:,} individuals of unknown category left out"
        if tables.format == "four-fifths":
            from analysis.bias_tables import table_verdict

            head += f"; four-fifths ratio {_fmt(table.lowest_ratio)}, {table_verdict(table, tables.threshold)}"
        rows = [
            (
                r.category,
                f"{r.n:,}",
                _fmt(r.rate, ".1%"),
                "excluded" if r.excluded else _fmt(r.impact_ratio),
                r.note,
            )
            for r in table.rows
        ]
        parts.append(f"<h3>{_esc(head)}</h3>")
        parts.append(_table(["category", "individuals", "rate", "impact ratio", "note"], rows, numeric=(1, 2, 3)))
    parts.append(_list(tables.notes))
    return "\n".join(parts)


SLICES_PII = (
    "{count} slice{s} of the top {top} left out: {verb} a term of a personal-data column ({columns}). Include "
    "personal-data attributes to show {them}."
)
SLICES_FAMILY = (
    "q-values are Benjamini–Hochberg over all {family:,} slices of the search ({tested:,} tested, {pruned:,} never "
    "counted because no slice of their combination could enter the top {top}: counted with p = 1), so the "
    "correction is never smaller than over every slice; a slice is significant when q < {alpha:g}. Intervals: "
    "Wilson for the slice's {title}, Newcombe for the difference, Katz for the ratio. A folded slice is a child "
    "no worse than this one (it says nothing this one does not)."
)


def _slices_section(
    search: SliceSearch, pii: set[str], include_pii: bool, charts: bool, confidence: float
) -> tuple[str, int]:
    """The slice search: its summary and terms note, the chart and table of the top-k, what each stands in for."""
    from analysis.tables import slice_table

    out = [f"<p>{_esc(search.summary())}</p>", f'<p class="note">{_esc(search.terms_note())}</p>']
    shown, hidden = search, ()
    if not include_pii:
        hidden = tuple(s for s in search.slices if any(t.column in pii for t in s.terms))
        kept = tuple(
            replace(s, composition=tuple(c for c in s.composition if c.attribute not in pii))
            for s in search.slices
            if s not in hidden
        )
        shown = replace(search, slices=kept)
    if hidden:
        columns = ", ".join(sorted({t.column for s in hidden for t in s.terms if t.column in pii}))
        one = len(hidden) == 1
        words = {"s": "" if one else "s", "verb": "it has" if one else "they have", "them": "it" if one else "them"}
        text = SLICES_PII.format(count=len(hidden), top=len(search.slices), columns=columns, **words)
        out.append(f"<p>{_esc(text)}</p>")
    count = 0
    if charts and shown.slices:
        import analysis.charts as chart_module

        spec = chart_module.slices_chart(shown, confidence=confidence).to_dict(validate=False)
        title = f"{search.title.capitalize()} in each slice of the top {len(shown.slices)}, with its interval"
        out.append(f'<div class="chart"><p class="title">{_esc(title)}</p>{_svg(spec)}</div>')
        out.append(
            '<p class="note">Red: significantly worse than the rest (q &lt; '
            f"{_esc(f'{search.alpha:g}')}); grey: not conclusive. Dashed line: all rows.</p>"
        )
        count = 1
    if shown.slices:
        table = slice_table(shown)
        out.append(_table(list(table.columns), text_rows(table), numeric=(0, 2, 9)))
    standing = [(rank, s) for rank, s in enumerate(shown.slices, start=1) if s.significant and s.stands_in_for]
    if standing:
        out.append("<h4>Slices that stand in for a protected group</h4>")
        out.append(_list([f"{rank}. {s.key}: {s.stands_in_for.sentence()}." for rank, s in standing]))
    family = {"family": search.family, "tested": search.tested, "pruned": search.pruned, "top": search.top_k}
    text = SLICES_FAMILY.format(**family, alpha=search.alpha, title=search.title)
    out.append(f'<p class="note">{_esc(text)}</p>')
    return "".join(out), count


# What render_html takes for each optional part: the record, and the call that makes it (for the message).
RECORDS = {
    "load_report": ("analysis.loading", "LoadReport", "load_table(...).report"),
    "explanation": ("analysis.explain", "Explanation", "explain(df, spec)"),
    "mitigation": ("analysis.mitigation", "MitigationComparison", "compare_mitigations(df, spec)"),
    "comparison": ("analysis.compare", "AuditComparison", "compare_audits(before, after)"),
    "tables": ("analysis.bias_tables", "BiasTables", "bias_tables(df, spec)"),
    "slices": ("analysis.slices", "SliceSearch", "find_slices(df, spec)"),
}


def _check_records(**parts: Any) -> None:
    """Each part is its engine record (or None): never a dict, whose shape nobody checked."""
    import importlib

    for name, value in parts.items():
        module, record, made_by = RECORDS[name]
        if value is not None and not isinstance(value, getattr(importlib.import_module(module), record)):
            raise TypeError(
                f"render_html({name}=...) takes a {record} ({made_by}), got {type(value).__name__}. "
                "Pass the record itself, not its to_dict()."
            )


def render_html(
    result: AuditResult,
    *,
    load_report: LoadReport | None = None,
    explanation: Explanation | None = None,
    mitigation: MitigationComparison | None = None,
    comparison: AuditComparison | None = None,
    title: str | None = None,
    include_pii: bool = False,
    charts: bool = True,
    generated_at: datetime | None = None,
    tables: BiasTables | None = None,
    slices: SliceSearch | None = None,
) -> str:
    """The audit as one self-contained HTML page that opens offline and requests nothing.

    Parameters
    ----------
    result
        The audit.
    load_report
        The :class:`analysis.LoadReport` of the table, for the dataset card (optional).
    explanation
        The drivers: :func:`analysis.explain`'s :class:`~analysis.explain.Explanation` (optional).
    mitigation
        The retraining comparison: :func:`analysis.compare_mitigations`'s
        :class:`~analysis.mitigation.MitigationComparison` (optional).
    comparison
        The monitoring comparison: :func:`analysis.compare_audits`'s
        :class:`~analysis.compare.AuditComparison` (optional).
    tables
        Audit tables in a rule's format (NYC Local Law 144, EEOC four-fifths):
        :func:`analysis.bias_tables.bias_tables`'s :class:`~analysis.bias_tables.BiasTables` (optional).
    slices
        The worst-treated slices: :func:`analysis.find_slices`'s :class:`~analysis.slices.SliceSearch`
        (optional; default the one the result carries, from ``audit --slices``).
    title
        The page title; default names the dataset.
    include_pii
        Include the audits of personal-data attributes (see the module docstring). Off by default.
    charts
        Draw the charts (inline SVG). Off gives the tables only, quicker.
    generated_at
        The report's timestamp; default now (UTC).

    Returns
    -------
    str
        The HTML document. Data-derived text is escaped; there is no script and no reference to
        any host (a Content-Security-Policy meta tag forbids requests as well).
    """
    pii = set(result.spec.pii_columns)
    shown, notes = (result, ()) if include_pii else without_pii(result)
    _check_records(
        load_report=load_report,
        explanation=explanation,
        mitigation=mitigation,
        comparison=comparison,
        tables=tables,
        slices=slices,
    )
    slices = result.slices if slices is None else slices
    title = title or f"ParityLab audit report — {result.dataset.name or 'dataset'}"
    made, created = _timestamp(result, generated_at)
    gaps = rank_gaps(result)  # of the full result: the q-values do not depend on what the report leaves out
    sections = [
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">Made {_esc(made)}'
        + (f" from an audit recorded {_esc(created)}" if created else "")
        + f" by ParityLab. Dataset SHA-256 <code>{_esc(result.dataset.sha256)}</code>.</p>",
        _contents(mitigation is not None, comparison is not None, tables is not None, slices is not None),
        f'<h2 id="verdict">Verdict</h2><p class="verdict">{_esc(verdict(shown, gaps))}</p>',
    ]
    if notes:
        sections.append(_list(notes))
    sections.append('<h2 id="dataset">Dataset</h2>' + _dataset_card(result, load_report, pii, include_pii))
    sections.append('<h2 id="spec">Spec</h2>' + _spec_section(result))
    sections.append('<h2 id="groups">Groups, findings and charts</h2>')
    total_charts = 0
    for index, (scope, audit) in enumerate(_scope_audits(shown)):
        section, count = _audit_section(scope, audit, shown, index, charts, gaps)
        sections.append(section)
        total_charts += count
    if slices is not None:
        section, count = _slices_section(slices, pii, include_pii, charts, result.options.confidence)
        sections.append('<h2 id="slices">Worst-treated slices: the ones nobody named</h2>' + section)
        total_charts += count
    sections.append('<h2 id="drivers">Drivers</h2>' + _drivers_section(explanation, pii, include_pii))
    if mitigation is not None:
        sections.append('<h2 id="mitigation">Mitigation</h2>')
        sections.append(_mitigation_section(mitigation, pii, include_pii))
    if comparison is not None:
        dropped = set() if include_pii else set(_pii_audits(result))
        sections.append('<h2 id="monitoring">Monitoring: comparison with an earlier audit</h2>')
        sections.append(_comparison_section(comparison, dropped))
    if tables is not None:
        sections.append('<h2 id="audit-tables">Audit tables</h2>' + _tables_section(tables, pii, include_pii))
    sections.append('<h2 id="method">Method notes and limitations</h2>' + _method_notes(result, explanation, notes))
    versions = _versions(result)
    sections.append('<h2 id="versions">Versions</h2>' + _table(["software", "version"], versions))
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="ParityLab">\n<meta name="paritylab-charts" content="{total_charts}">\n'
        f"<title>{_esc(title)}</title>\n<style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
