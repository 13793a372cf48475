"""Command line: ``python -m analysis audit DATA [options]``, ``python -m analysis explain DATA --spec SPEC.json``
and ``python -m analysis suggest DATA``.

Exit codes: 0 ok; 1 a ``--fail-*`` gate was breached (which one is said on stderr); 2 bad
input or usage, with the message on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from analysis.errors import ParityLabError, SpecError

__all__ = ["main"]

EXIT_OK, EXIT_GATE, EXIT_BAD_INPUT = 0, 1, 2
SHOWN_INTERSECTION_FINDINGS = 5

AUDIT_EPILOG = """\
examples:
  python -m analysis audit loans.csv --decision approved --positive Y --protected ethnicity --protected gender
  python -m analysis audit loans.csv --decision approved --positive Y --label repaid --label-positive 1 \\
      --score model_score --protected age --bins age=25,40,60 --reference age=25-40 --json audit.json
  python -m analysis audit tickets.csv --spec tickets-spec.json --json - --fail-below-di 0.8
  python -m analysis audit scores.csv --score risk --threshold 0.7 --unfavorable --protected race

Options given on the command line override the same fields of --spec.
exit codes: 0 ok, 1 a --fail-* gate was breached, 2 bad input or usage.
"""

EXPLAIN_EPILOG = """\
examples:
  python -m analysis explain loans.csv --spec loans-spec.json
  python -m analysis explain tickets.csv --spec tickets-spec.json --sample-size 2000 --json drivers.json
  python -m analysis explain loans.csv --spec loans-spec.json --include-protected --json -

A LightGBM surrogate model of the decisions (or of the score) is explained with SHAP values.
exit codes: 0 ok, 2 bad input or usage.
"""
SHOWN_DRIVERS = 5

NO_SPEC = (
    "Name the decision and the protected attributes, or pass --spec SPEC.json. "
    "Suggested from the columns of {name}:\n  {command}"
)
BAD_PAIR = "{flag} expects COLUMN=VALUE (e.g. {example}), got {got!r}."
BAD_BINS = "--bins for '{column}' expects numbers separated by commas (e.g. --bins age=25,40,60), got {got!r}."
NOT_PROTECTED = "{flag} names column '{column}', which is not a protected attribute; add --protected {column}."
CANNOT_WRITE = "Cannot write {path}: {reason}. Choose a writable path, or --json - for standard output."
GATE_DI = (
    "Gate breached: disparate impact for '{name}' is {value:.3f} (lowest group {group}), "
    "below --fail-below-di {limit:g}."
)
GATE_EOD = "Gate breached: equalized odds difference for '{name}' is {value:.3f}, above --fail-above-eod {limit:g}."
GATE_UNDEFINED = "Gate {flag} could not be checked for '{name}': {reason}."


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are the package's errors (exit 2, message on stderr)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(f"{message}. See 'python -m analysis {self.prog.split()[-1]} --help'.")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m analysis",
        description="ParityLab: audit decisions for differences between protected groups.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _audit_parser(commands)
    _explain_parser(commands)
    suggest = commands.add_parser(
        "suggest",
        help="suggest column roles for a file and print the spec as JSON",
        description="Suggest column roles (decision, label, score, protected, ...) with reasons.",
    )
    suggest.add_argument("data", metavar="DATA", help="the decisions file (CSV, TSV, .gz, .zip, Parquet, .xlsx)")
    suggest.add_argument("--json", metavar="PATH", help="write the spec JSON here (default: standard output)")
    return parser


def _audit_parser(commands: Any) -> None:
    audit = commands.add_parser(
        "audit",
        help="audit a decisions file and print findings or JSON",
        description="Audit a decisions file: rates by group, disparities with intervals and tests, findings.",
        epilog=AUDIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("data", metavar="DATA", help="the decisions file (CSV, TSV, .gz, .zip, Parquet, .xlsx)")
    spec = audit.add_argument_group("what to audit (or --spec)")
    spec.add_argument("--spec", metavar="SPEC.json", help="a saved spec (from the app or 'suggest')")
    spec.add_argument("--decision", metavar="COL", help="the decision column, e.g. --decision approved")
    spec.add_argument(
        "--positive", metavar="VALUE", action="append", help="a value meaning the positive decision (repeatable)"
    )
    spec.add_argument(
        "--unfavorable",
        action="store_true",
        help="the positive decision harms the person (e.g. 'flagged high risk'); default: it benefits them",
    )
    spec.add_argument("--label", metavar="COL", help="the true outcome column, e.g. --label repaid")
    spec.add_argument(
        "--label-positive", metavar="VALUE", action="append", help="a value meaning the positive outcome (repeatable)"
    )
    spec.add_argument("--score", metavar="COL", help="a score column, higher = more likely positive")
    spec.add_argument(
        "--threshold", type=float, metavar="T", help="without --decision: scores >= T are positive decisions"
    )
    spec.add_argument(
        "--protected", metavar="COL", action="append", help="a protected attribute (repeatable), e.g. gender"
    )
    spec.add_argument(
        "--bins", metavar="COL=EDGES", action="append", help="bin a numeric attribute, e.g. --bins age=25,40,60"
    )
    spec.add_argument(
        "--reference", metavar="COL=GROUP", action="append", help="the reference group, e.g. --reference ethnicity=A"
    )
    out = audit.add_argument_group("output and gates")
    out.add_argument("--json", metavar="PATH", help="write the JSON result to PATH, or - for standard output")
    out.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    out.add_argument(
        "--fail-below-di",
        type=float,
        metavar="X",
        help="exit 1 if any attribute's lowest disparate impact is below X, e.g. 0.8",
    )
    out.add_argument(
        "--fail-above-eod",
        type=float,
        metavar="Y",
        help="exit 1 if any attribute's equalized odds difference is above Y, e.g. 0.1 (needs --label)",
    )


def _explain_parser(commands: Any) -> None:
    explain = commands.add_parser(
        "explain",
        help="explain what drives the decisions (surrogate model + SHAP), by group",
        description=(
            "Explain what drives the decisions: a surrogate model's SHAP values, by group, the gap between "
            "groups split by feature, proxies of the protected attributes."
        ),
        epilog=EXPLAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("data", metavar="DATA", help="the decisions file (CSV, TSV, .gz, .zip, Parquet, .xlsx)")
    explain.add_argument("--spec", metavar="SPEC.json", required=True, help="a saved spec (from the app or 'suggest')")
    explain.add_argument(
        "--sample-size", type=int, default=5000, metavar="N", help="rows to compute SHAP values for (default 5000)"
    )
    explain.add_argument(
        "--include-protected",
        action="store_true",
        help="let the surrogate see the protected attributes, and run the flip test",
    )
    explain.add_argument("--json", metavar="PATH", help="write the JSON result to PATH, or - for standard output")
    explain.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")


def _pairs(values: Sequence[str] | None, flag: str, example: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or ():
        column, sep, rest = value.partition("=")
        if not sep or not column.strip() or not rest.strip():
            raise SpecError(BAD_PAIR.format(flag=flag, example=example, got=value))
        pairs[column.strip()] = rest.strip()
    return pairs


def _edges(column: str, text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SpecError(BAD_BINS.format(column=column, got=text)) from None


def _spec_from_args(args: argparse.Namespace, name: str, df: Any):
    from analysis.spec import AuditSpec

    base: dict[str, Any] = AuditSpec.load(args.spec).to_dict() if args.spec else {}
    base.pop("schema_version", None)
    explicit = {
        "decision": args.decision,
        "positive": args.positive,
        "label": args.label,
        "label_positive": args.label_positive,
        "score": args.score,
        "threshold": args.threshold,
    }
    base.update({k: v for k, v in explicit.items() if v is not None})
    if args.unfavorable:
        base["positive_is_favorable"] = False
    if args.protected:
        base["protected"] = [{"column": c} for c in args.protected]
    if not base.get("decision") and not base.get("score"):
        raise SpecError(NO_SPEC.format(name=name, command=_suggested_command(df)))
    base["protected"] = _apply_attribute_options(base.get("protected", []), args)
    return AuditSpec.from_dict(base)


def _apply_attribute_options(protected: list[Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    attributes = [{"column": p} if isinstance(p, str) else dict(p) for p in protected]
    by_column = {a["column"]: a for a in attributes}
    for flag, pairs in (
        ("--bins", _pairs(args.bins, "--bins", "age=25,40,60")),
        ("--reference", _pairs(args.reference, "--reference", "ethnicity=A")),
    ):
        for column, value in pairs.items():
            if column not in by_column:
                raise SpecError(NOT_PROTECTED.format(flag=flag, column=column))
            if flag == "--bins":
                by_column[column]["bins"] = _edges(column, value)
                by_column[column].pop("quantiles", None)
            else:
                by_column[column]["reference"] = value
    return attributes


def _suggested_command(df: Any) -> str:
    from analysis.suggest import suggest_roles

    spec = suggest_roles(df).spec
    if spec is None:
        return "--decision COLUMN --positive VALUE --protected COLUMN"
    parts = []
    if spec.decision:
        parts.append(f"--decision {spec.decision}")
        parts += [f"--positive {v}" for v in spec.positive] or ["--positive VALUE"]
    if spec.label:
        parts.append(f"--label {spec.label}")
        parts += [f"--label-positive {v}" for v in spec.label_positive]
    if spec.score:
        parts.append(f"--score {spec.score}")
    parts += [f"--protected {c}" for c in spec.protected_columns] or ["--protected COLUMN"]
    parts += [f"--bins {a.column}={','.join(f'{b:g}' for b in a.bins)}" for a in spec.protected if a.bins]
    return " ".join(parts)


def _write(text: str, target: str, stdout: TextIO) -> None:
    if target == "-":
        stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SpecError(CANNOT_WRITE.format(path=target, reason=exc.strerror or exc)) from exc


def _gates(result: Any, args: argparse.Namespace) -> list[str]:
    """Messages for every breached gate (empty when all pass)."""
    breaches: list[str] = []
    for name, attr in result.attributes.items():
        if attr.status != "ok":
            continue
        summary = attr.summary.metrics
        if args.fail_below_di is not None:
            di = summary.get("disparate_impact_min")
            if di is None or di.value is None:
                reason = di.reason if di is not None else "not computed"
                breaches.append(GATE_UNDEFINED.format(flag="--fail-below-di", name=name, reason=reason))
            elif di.value < args.fail_below_di:
                breaches.append(GATE_DI.format(name=name, value=di.value, group=di.group, limit=args.fail_below_di))
        if args.fail_above_eod is not None:
            eod = summary.get("equalized_odds_difference")
            if eod is None or eod.value is None:
                reason = eod.reason if eod is not None else "it needs a label column (--label)"
                breaches.append(GATE_UNDEFINED.format(flag="--fail-above-eod", name=name, reason=reason))
            elif eod.value > args.fail_above_eod:
                breaches.append(GATE_EOD.format(name=name, value=eod.value, limit=args.fail_above_eod))
    return breaches


def _summary_text(result: Any) -> str:
    """Human-readable findings, one attribute after another."""
    lines = [f"ParityLab audit of {result.dataset.name} ({result.dataset.rows:,} rows)"]
    for audit in [*result.attributes.values(), *result.intersections.values()]:
        lines.append("")
        lines.append(f"{audit.name}: reference group {audit.reference_group}" if audit.reference_group else audit.name)
        if audit.status != "ok":
            lines.append(f"  {audit.status}: {audit.reason}")
        shown = audit.findings if len(audit.columns) == 1 else audit.findings[:SHOWN_INTERSECTION_FINDINGS]
        lines += [f"  - {finding.text}" for finding in shown]
        if len(shown) < len(audit.findings):
            lines.append(f"  … and {len(audit.findings) - len(shown)} more findings (see --json).")
    for skipped in result.skipped:
        lines.append(f"Skipped {skipped['metric']}: {skipped['reason']}")
    return "\n".join(lines) + "\n"


def _run_audit(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from analysis.audit import audit
    from analysis.loading import load_table

    table = load_table(args.data)
    spec = _spec_from_args(args, table.report.name, table.data)
    result = audit(
        table.data,
        spec,
        confidence=args.confidence,
        dataset_name=table.report.name,
        dataset_sha256=table.report.sha256,
    )
    if args.json:
        _write(result.to_json(), args.json, stdout)
    if args.json != "-":
        stdout.write(_summary_text(result))
    breaches = _gates(result, args)
    for message in breaches:
        stderr.write(message + "\n")
    return EXIT_GATE if breaches else EXIT_OK


def _explain_text(result: Any, name: str) -> str:
    """Human-readable drivers: fidelity, top drivers, the biggest gap and the top proxy per attribute."""
    model = result.model
    lines = [
        f"ParityLab explanation of {name} (surrogate: {model.kind}, target: {model.target}, "
        f"SHAP on {result.sample.rows.size:,} sampled rows, seed {result.random_state})",
        result.fidelity.message,
    ]
    lines += [f"Note: {note}" for note in model.notes]
    lines.append("")
    lines.append(f"Top drivers (mean |SHAP|, {model.units}):")
    lines += [f"  {f.feature}: {f.mean_abs_shap:.3g}" for f in result.global_importance[:SHOWN_DRIVERS]]
    for attr, gaps in result.gap.items():
        lines.append("")
        lines.append(f"{attr}: reference group {result.reference.get(attr)}")
        if gaps:
            biggest = max(gaps.values(), key=lambda g: abs(g.total))
            lines.append(f"  - {biggest.sentence}")
        proxies = result.proxies.get(attr, ())
        if proxies:
            top = proxies[0]
            flag = " (flagged as a proxy)" if top.flag else ""
            lines.append(f"  - Strongest proxy: {top.feature}, normalised mutual information {top.score:.3f}{flag}.")
        if attr in result.recoverability:
            lines.append(f"  - {result.recoverability[attr].sentence}")
        if result.flip_test is not None and attr in result.flip_test:
            shares = ", ".join(f"{g} {s:.1%}" for g, s in result.flip_test[attr].items())
            lines.append(f"  - Decisions that change when {attr} is set to the reference group: {shares}.")
    return "\n".join(lines) + "\n"


def _run_explain(args: argparse.Namespace, stdout: TextIO) -> int:
    import json

    from analysis.explain import explain
    from analysis.loading import load_table
    from analysis.spec import AuditSpec

    spec = AuditSpec.load(args.spec)
    table = load_table(args.data)
    result = explain(
        table.data,
        spec,
        sample_size=args.sample_size,
        include_protected=args.include_protected,
        random_state=args.seed,
    )
    if args.json:
        text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        _write(text, args.json, stdout)
    if args.json != "-":
        stdout.write(_explain_text(result, table.report.name))
    return EXIT_OK


def _run_suggest(args: argparse.Namespace, stdout: TextIO) -> int:
    from analysis.loading import load_table
    from analysis.suggest import suggest_roles

    suggestion = suggest_roles(load_table(args.data).data)
    if suggestion.spec is None:
        raise SpecError(" ".join(suggestion.notes))
    text = suggestion.spec.to_json()
    if args.json:
        _write(text, args.json, stdout)
    else:
        stdout.write(text)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit code.

    Parameters
    ----------
    argv
        Arguments without the program name (default: ``sys.argv[1:]``).
    stdout, stderr
        Where output and messages go (default: the process's streams).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "audit":
            return _run_audit(args, stdout, stderr)
        if args.command == "explain":
            return _run_explain(args, stdout)
        return _run_suggest(args, stdout)
    except ParityLabError as exc:
        stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
