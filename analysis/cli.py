"""Command line: ``python -m analysis audit DATA [options]``, ``python -m analysis explain DATA --spec SPEC.json``,
``python -m analysis compare BEFORE.json AFTER.json``, ``python -m analysis mitigate DATA --spec SPEC.json``,
``python -m analysis tables DATA --spec SPEC.json --format ll144|four-fifths``, ``python -m analysis slices DATA
--spec SPEC.json`` and ``python -m analysis suggest DATA``.

Every command that reads DATA takes ``--engine pandas|duckdb|spark`` (and ``--spark-master URL``; ``slices``
takes pandas or duckdb): pandas reads the file into memory, as the app does; DuckDB and Spark count the spec's
columns where the data is (:mod:`analysis.engine`), so a file too large for memory, a folder, a glob or
``file.duckdb:table`` is audited the same way. Without ``--engine``, :func:`analysis.engine.choose_engine`
chooses, and a choice other than pandas is said on stderr. What needs rows rather than counts (role
suggestions, the surrogate model, a model score) uses a sample the engine draws, and says so.

Exit codes: 0 ok; 1 a ``--fail-*`` gate was breached (which one is said on stderr); 2 bad
input or usage, with the message on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from analysis.errors import ParityLabError, SpecError
from analysis.options import (
    ALPHA,
    COMPARE_TOLERANCE,
    CONFIDENCE,
    DEFAULT_TOLERANCE,
    FOUR_FIFTHS,
    SAMPLE_SIZE,
    SEED,
    default_tolerance,
)

__all__ = ["main"]

EXIT_OK, EXIT_GATE, EXIT_BAD_INPUT = 0, 1, 2
SHOWN_INTERSECTION_FINDINGS = 5

AUDIT_EPILOG = """\
examples:
  python -m analysis audit loans.csv --decision approved --positive Y --protected ethnicity --protected gender
  python -m analysis audit loans.csv --decision approved --positive Y --label repaid --label-positive 1 \\
      --score model_score --protected age --bins age=25,40,60 --reference age=25-40 --json audit.json
  python -m analysis audit tickets.csv --spec tickets-spec.json --json - --fail-below-di 0.8
  python -m analysis audit loans.csv --spec loans-spec.json --json audit.json --html audit.html
  python -m analysis audit scores.csv --score risk --threshold 0.7 --unfavorable --protected race
  python -m analysis audit 'decisions/*.parquet' --spec loans-spec.json --json audit.json
  python -m analysis audit warehouse.duckdb:loans --spec loans-spec.json --engine duckdb
  python -m analysis audit decisions/ --spec loans-spec.json --spark-master spark://host:7077

Options given on the command line override the same fields of --spec. A file over 200 MB, a folder, a glob or a
DuckDB table is counted by DuckDB unless --engine says otherwise (said on stderr).
exit codes: 0 ok, 1 a --fail-* gate was breached, 2 bad input or usage.
"""

EXPLAIN_EPILOG = """\
examples:
  python -m analysis explain loans.csv --spec loans-spec.json
  python -m analysis explain tickets.csv --spec tickets-spec.json --sample-size 2000 --json drivers.json
  python -m analysis explain loans.csv --spec loans-spec.json --include-protected --json -
  python -m analysis explain big.parquet --spec loans-spec.json --engine duckdb --sample-size 2000

A LightGBM surrogate model of the decisions (or of the score) is explained with SHAP values. With DuckDB or Spark,
the surrogate trains on a stratified sample the engine draws: 100,000 rows at random, and every group of every
protected attribute keeps its rows up to --sample-size (said in the output).
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
ONE_STDOUT = "Only one of --json and --html can go to standard output (-); write the other to a file."
CANNOT_WRITE = "Cannot write {path}: {reason}. Choose a writable path, or --json - for standard output."
GATE_DI = (
    "Gate breached: the lowest impact ratio vs the reference group for '{name}' is {value:.3f} (group {group}), "
    "below --fail-below-di {limit:g}."
)
GATE_FOUR_FIFTHS = (
    "Gate breached: '{name}' fails the four-fifths rule: its four-fifths ratio (lowest ÷ highest favourable rate) "
    "is {value:.3f}, below {limit:g} (--fail-four-fifths)."
)
GATE_EOD = "Gate breached: equalized odds difference for '{name}' is {value:.3f}, above --fail-above-eod {limit:g}."
GATE_UNDEFINED = "Gate {flag} could not be checked for '{name}': {reason}."
OTHER_DATA_WARNING = "warning: {spec_path}: {text}\n"

COMPARE_EPILOG = """\
examples:
  python -m analysis compare audit-2026-q1.json audit-2026-q2.json
  python -m analysis compare before.json after.json --fail-on-regression --tolerance 0.02 --di-tolerance 0.05
  python -m analysis compare before.json after.json --json comparison.json --html comparison.html

BEFORE and AFTER are results of 'audit --json'. A regression is a fairness metric (disparate impact,
parity and odds differences and ratios) that got worse beyond the tolerance. Every change is also tested
on the counts recorded in the results (Benjamini-Hochberg q < --alpha is significant); with
--require-significance only significant changes count as regressions.
exit codes: 0 ok, 1 a regression with --fail-on-regression, 2 bad input or usage.
"""
GATE_REGRESSION = (
    "Regression: {where} went from {before} to {after} (change {change:+.3f}; {significance}), "
    "worse than the tolerance {tolerance:g}."
)
BOTH_TO_STDOUT = "--json - and --html - cannot both write to standard output; give one of them a file path."
SHOWN_NAME = 28


NOT_A_NUMBER = "expects a number such as {example}, got {got!r}"
NOT_FINITE = "expects a finite number such as {example}, got {got!r}: NaN or infinity would make the check meaningless"
OUT_OF_RANGE = "expects a number {range}, such as {example}; got {got!r}"
NEEDS_LABEL = (
    "{flag} checks the equalized odds difference, which needs the true outcome, but the spec names no label "
    "column. Add --label COLUMN --label-positive VALUE (or 'label' in the spec file), or leave out {flag}."
)
NOTE_LINE = "note: {name}: {text}\n"
ROLE_LINE = "role: {column!r}: {reason}\n"
WARNING_LINE = "warning: {name}: {text}\n"


def _number(example: str, *, low: float | None = None, high: float | None = None, open_range: bool = False):
    """An argparse type: a finite float, within [low, high] (or (low, high) with ``open_range``)."""
    if low is not None and high is not None:
        words = f"between {low:g} and {high:g}" + (" (exclusive)" if open_range else "")
    elif low is not None:
        words = f"greater than {low:g}" if open_range else f"of at least {low:g}"
    else:
        words = ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(NOT_A_NUMBER.format(example=example, got=text)) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(NOT_FINITE.format(example=example, got=text))
        below = low is not None and (value <= low if open_range else value < low)
        above = high is not None and (value >= high if open_range else value > high)
        if below or above:
            raise argparse.ArgumentTypeError(OUT_OF_RANGE.format(range=words, example=example, got=text))
        return value

    parse.__name__ = "number"  # argparse names the type in its own messages
    return parse


def _reading_options(parser: argparse.ArgumentParser) -> None:
    """--sheet and --na-values: how the data file is read (the same options as the app's Reading options)."""
    reading = parser.add_argument_group("reading the file")
    reading.add_argument(
        "--sheet",
        metavar="NAME|N",
        help="the workbook sheet to read: its name, or its position (1 is the first; default the first)",
    )
    reading.add_argument(
        "--na-values",
        metavar="SPELLING",
        action="append",
        help="also treat this spelling as missing in every column, e.g. --na-values '?' (repeatable)",
    )
    reading.add_argument(
        "--max-rows", metavar="N", type=_whole_number, help="refuse a file with more data rows than N (default: no cap)"
    )


def _engine_options(parser: argparse.ArgumentParser) -> None:
    """--engine and --spark-master: what reads and counts the rows."""
    from analysis.engine import ENGINES

    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        help="what reads the rows: pandas (into memory, as the app does), duckdb (out of core: large files, folders, "
        "globs, DuckDB tables) or spark (Apache Spark); default: pandas for a single file that fits in memory, else "
        "duckdb (the choice and why is said on stderr)",
    )
    engine.add_argument(
        "--spark-master",
        metavar="URL",
        help="run on this Spark master, e.g. local[4] or spark://host:7077 (implies --engine spark)",
    )


def _whole_number(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expects a whole number of at least 1 such as 100000, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are the package's errors (exit 2, message on stderr)."""

    # The command given, when the top-level parser reports the error (unrecognised arguments are its to report).
    command: str | None = None

    def error(self, message: str) -> None:  # type: ignore[override]
        name = self.prog.removeprefix("python -m analysis").strip() or self.command
        raise SpecError(f"{message}. See 'python -m analysis{f' {name}' if name else ''} --help'.")


_COMMANDS = ("audit", "explain", "compare", "mitigate", "tables", "slices", "suggest")


def _parser() -> _Parser:
    parser = _Parser(
        prog="python -m analysis",
        description="ParityLab: audit decisions for differences between protected groups.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _audit_parser(commands)
    _explain_parser(commands)
    _compare_parser(commands)
    _mitigate_parser(commands)
    _tables_parser(commands)
    _slices_parser(commands)
    suggest = commands.add_parser(
        "suggest",
        help="suggest column roles for a file and print the spec as JSON",
        description="Suggest column roles (decision, label, score, protected, ...) with reasons.",
    )
    suggest.add_argument("data", metavar="DATA", help=DATA_HELP)
    suggest.add_argument("--json", metavar="PATH", help="write the spec JSON here (default: standard output)")
    _reading_options(suggest)
    _engine_options(suggest)
    return parser


DATA_HELP = (
    "the decisions: a file (CSV, TSV, .gz, .zip, Parquet, .xlsx), a folder or a quoted glob of CSV or Parquet files "
    "('data/*.parquet'), or FILE.duckdb:TABLE (a table of a DuckDB database)"
)
MERGE_VARIANTS_HELP = "count values that differ only in case, spaces or invisible characters as one (Yes/yes/YES)"


def _audit_parser(commands: Any) -> None:
    audit = commands.add_parser(
        "audit",
        help="audit a decisions file and print findings or JSON",
        description="Audit a decisions file: rates by group, disparities with intervals and tests, findings.",
        epilog=AUDIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("data", metavar="DATA", help=DATA_HELP)
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
        "--threshold", type=_number("0.5"), metavar="T", help="without --decision: scores >= T are positive decisions"
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
    spec.add_argument("--merge-variants", action="store_true", help=MERGE_VARIANTS_HELP)
    spec.add_argument(
        "--decision-order",
        metavar="V1,V2,...",
        help="the decision's values lowest first, e.g. --decision-order Low,Medium,High, or 'none' when they have "
        "no order (default: recognised from the values, e.g. Low < Medium < High, P4 < ... < P1)",
    )
    out = audit.add_argument_group("output and gates")
    out.add_argument("--json", metavar="PATH", help="write the JSON result to PATH, or - for standard output")
    out.add_argument(
        "--html",
        metavar="PATH",
        help="write the self-contained HTML report to PATH (opens offline; personal-data columns left out)",
    )
    out.add_argument(
        "--confidence",
        type=_number(f"{CONFIDENCE:g}", low=0, high=1, open_range=True),
        default=CONFIDENCE,
        help=f"interval coverage (default {CONFIDENCE:g})",
    )
    out.add_argument(
        "--fail-below-di",
        type=_number(f"{FOUR_FIFTHS:g}", low=0),
        metavar="X",
        help="exit 1 if any attribute's lowest impact ratio vs the reference group (a group's favourable rate "
        f"over the reference group's) is below X, e.g. {FOUR_FIFTHS:g}; for the four-fifths rule itself (lowest ÷ "
        "highest favourable rate) use --fail-four-fifths",
    )
    out.add_argument(
        "--fail-four-fifths",
        action="store_true",
        help=f"exit 1 if any attribute fails the four-fifths rule: its lowest favourable rate is below {FOUR_FIFTHS:g} "
        "of its highest (the four-fifths ratio)",
    )
    out.add_argument(
        "--fail-above-eod",
        type=_number("0.1", low=0),
        metavar="Y",
        help="exit 1 if any attribute's equalized odds difference is above Y, e.g. 0.1 (needs --label)",
    )
    _audit_slice_options(audit)
    _reading_options(audit)
    _engine_options(audit)


def _audit_slice_options(audit: Any) -> None:
    """--slices and its options: the slice search run with the audit, kept in its JSON and drawn in its report."""
    from analysis.metrics import SLICE_METRICS

    group = audit.add_argument_group("slices nobody named (see 'slices --help')")
    group.add_argument(
        "--slices",
        action="store_true",
        help="also search the worst-treated slices (conjunctions of feature values): in the text, the JSON "
        "(under \"slices\", so that 'compare' tracks them) and the HTML report",
    )
    group.add_argument(
        "--slice-metric",
        choices=list(SLICE_METRICS),
        default="favorable_rate",
        help="what makes a slice worse (default favorable_rate; fpr, fnr, error_rate need a label)",
    )
    group.add_argument(
        "--slice-depth", type=_count_type("2"), default=3, metavar="N", help="most terms per slice (default 3)"
    )
    group.add_argument(
        "--slice-bins-from",
        metavar="EARLIER.json",
        help="cut number columns where an earlier audit's (or slices command's) search cut them, so that "
        "'compare' finds the same slices in both",
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
    explain.add_argument("data", metavar="DATA", help=DATA_HELP)
    explain.add_argument("--spec", metavar="SPEC.json", required=True, help="a saved spec (from the app or 'suggest')")
    explain.add_argument("--merge-variants", action="store_true", help=MERGE_VARIANTS_HELP)
    explain.add_argument(
        "--sample-size",
        type=int,
        default=SAMPLE_SIZE,
        metavar="N",
        help=f"rows to compute SHAP values for (default {SAMPLE_SIZE}); with DuckDB or Spark also the rows each group "
        "keeps in the sample the surrogate trains on",
    )
    explain.add_argument(
        "--include-protected",
        action="store_true",
        help="let the surrogate see the protected attributes, and run the flip test",
    )
    explain.add_argument("--json", metavar="PATH", help="write the JSON result to PATH, or - for standard output")
    explain.add_argument("--seed", type=int, default=SEED, metavar="S", help=f"random seed (default {SEED})")
    _reading_options(explain)
    _engine_options(explain)


def _compare_parser(commands: Any) -> None:
    compare = commands.add_parser(
        "compare",
        help="compare two audit results (monitoring): changes, their significance, regressions",
        description=(
            "Compare two audit results of the same decisions (e.g. last month and this month): every group's "
            "rates and disparities before and after, the change, whether it is significant, and regressions."
        ),
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("before", metavar="BEFORE.json", help="the earlier audit result (from 'audit --json')")
    compare.add_argument("after", metavar="AFTER.json", help="the later audit result")
    compare.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a fairness metric regressed (listed on stderr)"
    )
    compare.add_argument(
        "--tolerance",
        type=_number(f"{COMPARE_TOLERANCE:g}", low=0, high=1),
        default=COMPARE_TOLERANCE,
        metavar="T",
        help=(
            "a difference metric regresses when its absolute value grows by more than T "
            f"(default {COMPARE_TOLERANCE:g})"
        ),
    )
    compare.add_argument(
        "--di-tolerance",
        type=_number("0.05", low=0, high=1),
        metavar="T",
        help="a ratio metric (disparate impact, the four-fifths ratio, the parity and odds ratios) regresses when it "
        "falls by more than T (default: --tolerance)",
    )
    compare.add_argument(
        "--alpha",
        type=_number(f"{ALPHA:g}", low=0, high=1, open_range=True),
        default=ALPHA,
        help=f"significance level of the q-values (default {ALPHA:g})",
    )
    # Significance used to be required by default; the old opt-out is accepted (and said to be the default now).
    compare.add_argument("--ignore-significance", action="store_true", help=argparse.SUPPRESS)
    compare.add_argument(
        "--require-significance",
        action="store_true",
        help=(
            "count a change as a regression only when it is also significant (q < alpha); use it when "
            "month-to-month noise exceeds your tolerance"
        ),
    )
    compare.add_argument("--json", metavar="PATH", help="write the comparison JSON to PATH, or - for standard output")
    compare.add_argument("--html", metavar="PATH", help="write a self-contained HTML page of the comparison to PATH")
    compare.add_argument("--all", action="store_true", help="print every row, not only summaries and changes")


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


def _spec_from_args(args: argparse.Namespace, name: str, rows: Any, saved: Any = None):
    """The spec from --spec and the flags; ``rows()`` gives the table (or a sample) a suggestion is made from."""
    from analysis.spec import AuditSpec

    base: dict[str, Any] = saved.to_dict() if saved is not None else {}
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
    if args.merge_variants:
        base["merge_variants"] = True
    order = getattr(args, "decision_order", None)
    if order is not None:
        none = order.strip().lower() in ("none", "")
        base["decision_order"] = [] if none else [v.strip() for v in order.split(",") if v.strip()]
    if args.protected:
        base["protected"] = [{"column": c} for c in args.protected]
    if not base.get("decision") and not base.get("score"):
        raise SpecError(NO_SPEC.format(name=name, command=_suggested_command(rows())))
    base["protected"] = _apply_attribute_options(base.get("protected", []), args)
    return AuditSpec.from_dict(base)


def _print_spec_warnings(warnings: Any, stderr: TextIO) -> None:
    """The spec validation's warnings on standard error, worded for the command line."""
    for warning in warnings:
        text = warning.text_for("cli") if hasattr(warning, "text_for") else str(warning)
        stderr.write(f"warning: {_printable(text)}\n")


def _about_variants(warning: Any) -> bool:
    """Whether a spec warning is about spelling variants: one that merging fixes, or a merge made.

    These are printed because they can change every count; the other spec warnings are in the JSON result.
    """
    remedy = getattr(warning, "remedy", None)
    return (remedy is not None and remedy.option == "merge_variants") or str(warning).startswith("Merged ")


def _variant_warnings(df: Any, spec: Any, stderr: TextIO) -> None:
    """Spelling-variant warnings (and merges) for commands that print no audit of their own.

    ``df`` is the table, or the CountedTable an engine made (its counts are then of every source row).
    """
    from analysis.engine import CountedTable
    from analysis.validation import validate_spec
    from analysis.wording import Notice

    if isinstance(df, CountedTable):
        validation = validate_spec(df.frame, spec, weights=df.weights, columns=df.columns, edges=df.edges)
    else:
        validation = validate_spec(df, spec)
    notices = [Notice(f"{p.message} {p.fix}".strip(), p.remedy) for p in validation.warnings]
    _print_spec_warnings([n for n in notices if _about_variants(n)], stderr)


def _with_merge_variants(spec: Any, args: argparse.Namespace) -> Any:
    """The spec, with ``merge_variants`` switched on by the flag (the flag never switches it off)."""
    from dataclasses import replace

    return replace(spec, merge_variants=True) if args.merge_variants else spec


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
        if attr.status != "ok":  # a gate on an attribute that cannot be audited must not pass
            gates = (("--fail-below-di", args.fail_below_di), ("--fail-above-eod", args.fail_above_eod))
            gates += (("--fail-four-fifths", True if args.fail_four_fifths else None),)
            reason = attr.reason or attr.status
            breaches += [GATE_UNDEFINED.format(flag=f, name=name, reason=reason) for f, v in gates if v is not None]
            continue
        summary = attr.summary.metrics
        if args.fail_below_di is not None:
            di = summary.get("disparate_impact_min")
            if di is None or di.value is None:
                reason = di.reason if di is not None else "not computed"
                breaches.append(GATE_UNDEFINED.format(flag="--fail-below-di", name=name, reason=reason))
            elif di.value < args.fail_below_di:
                breaches.append(GATE_DI.format(name=name, value=di.value, group=di.group, limit=args.fail_below_di))
        if args.fail_four_fifths:
            ratio = summary.get("favorable_rate_ratio")
            if attr.summary.four_fifths_pass is None or ratio is None or ratio.value is None:
                reason = ratio.reason if ratio is not None and ratio.reason else "the four-fifths ratio is undefined"
                breaches.append(GATE_UNDEFINED.format(flag="--fail-four-fifths", name=name, reason=reason))
            elif not attr.summary.four_fifths_pass:
                limit = result.options.di_threshold
                breaches.append(GATE_FOUR_FIFTHS.format(name=name, value=ratio.value, limit=limit))
        if args.fail_above_eod is not None:
            eod = summary.get("equalized_odds_difference")
            if eod is None or eod.value is None:
                reason = eod.reason if eod is not None else "it needs a label column (--label)"
                breaches.append(GATE_UNDEFINED.format(flag="--fail-above-eod", name=name, reason=reason))
            elif eod.value > args.fail_above_eod:
                breaches.append(GATE_EOD.format(name=name, value=eod.value, limit=args.fail_above_eod))
    return breaches


def _audit_json(result: Any) -> str:
    """The audit result's JSON with its gaps ranked under ``"gaps"`` (``AuditResult.from_dict`` ignores the key)."""
    import json

    from analysis.story import rank_gaps

    data = result.to_dict() | {"gaps": [gap.to_dict() for gap in rank_gaps(result)]}
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _summary_text(result: Any, counted: Any = None) -> str:
    """Human-readable headline and findings, one attribute after another.

    ``counted`` (the CountedTable an engine other than pandas made) is named in the first line.
    """
    from analysis.report import summary_line
    from analysis.story import headline, rank_gaps

    gaps = rank_gaps(result)
    by_name = {gap.attribute: gap for gap in gaps}
    rows = f"{result.dataset.rows:,} rows"
    if counted is not None:
        combinations = len(counted.frame)
        rows += f" counted by {ENGINE_NAMES[counted.engine]} into {combinations:,} combination"
        rows += "" if combinations == 1 else "s"
    lines = [f"ParityLab audit of {_printable(result.dataset.name)} ({rows})"]
    lines.append(f"Largest gap: {headline(result, gaps)}")
    for audit in [*result.attributes.values(), *result.intersections.values()]:
        gap = by_name[audit.name]
        lines.append("")
        lines.append(f"{audit.name}: reference group {audit.reference_group}" if audit.reference_group else audit.name)
        lines.append(f"  Verdict: {gap.sentence}")
        if audit.status != "ok":
            # The reason may already start with its status ("not computable: only one group …"): say it once.
            reason = str(audit.reason or "").removeprefix(f"{audit.status}: ")
            lines.append(f"  {audit.status}: {reason}")
        elif line := summary_line(audit, result.options.di_threshold, verdict=gap.verdict):
            lines.append(f"  {line}")
        shown = audit.findings if len(audit.columns) == 1 else audit.findings[:SHOWN_INTERSECTION_FINDINGS]
        lines += [f"  - {finding.text}" for finding in shown]
        if len(shown) < len(audit.findings):
            lines.append(f"  … and {len(audit.findings) - len(shown)} more findings (see --json).")
    for skipped in result.skipped:
        lines.append(f"Skipped {skipped['metric']}: {skipped['reason']}")
    if result.slices is not None:
        lines += _slices_lines(result.slices)
    return "\n".join(lines) + "\n"


def _spec_with_label(spec: Any, args: argparse.Namespace) -> Any:
    """The saved spec with --label applied (enough to tell whether an error metric can be searched)."""
    from dataclasses import replace

    return replace(spec, label=args.label) if args.label else spec


def _slices_lines(search: Any) -> list[str]:
    """The audit text's lines on its slice search: the summary and the worst significant slice."""
    lines = ["", f"Worst-treated slices: {_printable(search.summary())}"]
    worst = next(iter(search.significant), None)
    if worst is not None:
        rest = "undefined" if worst.rest_value is None else f"{worst.rest_value:.3f}"
        lines.append(
            f"  Worst: {_printable(worst.key)} ({worst.n:,} rows): {search.title} {worst.value:.3f} against {rest} "
            "in the rest of the data."
        )
        if worst.stands_in_for is not None:
            lines.append(f"  {_printable(worst.stands_in_for.sentence())}.")
    lines.append("  Every slice of the top-k: --json (under \"slices\"), --html, or 'python -m analysis slices'.")
    return lines


def _check_gates(args: argparse.Namespace, spec: Any) -> None:
    """A gate that cannot be checked is a usage error, said before any row is read."""
    if args.fail_above_eod is not None and spec.label is None:
        raise SpecError(NEEDS_LABEL.format(flag="--fail-above-eod"))


def _warn_other_data(spec: Any, sha256: str | None, name: str | None, spec_path: str, stderr: TextIO) -> str | None:
    """Say on stderr when the spec records the hash of other data (the command still runs); its text, or None."""
    from analysis.validation import dataset_mismatch

    problem = dataset_mismatch(spec, sha256, dataset_name=name)
    if problem is None:
        return None
    stderr.write(OTHER_DATA_WARNING.format(spec_path=spec_path, text=_printable(problem.text_for("cli"))))
    return problem.text


def _unnamed_other_data(spec: Any, sha256: str | None) -> str | None:
    """The audit's own wording of the other-data warning (as in its result's warnings), or None."""
    from analysis.validation import dataset_mismatch

    problem = dataset_mismatch(spec, sha256)
    return None if problem is None else f"{problem.message} {problem.fix}".strip()


def _cli_text(item: object) -> str:
    """An engine error, problem or notice in command-line words (flags), for a terminal."""
    if isinstance(item, SpecError) and item.problems:
        header = item.message.split("\n", 1)[0]
        return "\n".join([header, *(f"- {p.text_for('cli')}" for p in item.problems)])
    if hasattr(item, "message_for"):
        return item.message_for("cli")
    if hasattr(item, "text_for"):
        return item.text_for("cli")
    return str(item)


def _load(args: argparse.Namespace, stderr: TextIO) -> Any:
    """The data file, read with the command's reading options; the loader's changes and warnings go to stderr."""
    from analysis.loading import load_table

    # A --sheet of digits that names no sheet is its position, 1 the first (the loader's rule, as the app's).
    table = load_table(args.data, sheet=args.sheet, na_values=args.na_values, max_rows=args.max_rows)
    name = _printable(table.report.name)
    for text in table.report.change_lines():
        stderr.write(NOTE_LINE.format(name=name, text=_printable(text)))
    for warning in table.report.warnings:
        stderr.write(WARNING_LINE.format(name=name, text=_printable(_cli_text(warning))))
    return table


ENGINE_NAMES = {"pandas": "pandas", "duckdb": "DuckDB", "spark": "Spark"}
# Rows the engine draws for what needs the rows themselves (role suggestions, the surrogate model).
SAMPLE_ROWS = 100_000
SAMPLE_PER_GROUP = 10_000  # with SAMPLE_ROWS: every group keeps this many of its rows (all of a smaller group)
SPARK_MASTER_CONFLICT = (
    "--spark-master runs the command on Spark, but --engine {engine} was given; leave out --engine, or pass "
    "--engine spark."
)
CHOOSE_ANOTHER = "(--engine to choose another)."
ONE_FILE = (
    "The pandas engine reads one file into memory, but {data} is a folder or a pattern of files; pass --engine "
    "duckdb (or spark) to read every file, or name one file."
)
IN_MEMORY_ONLY = (
    "{flag} applies to a file read into memory, but the {engine} engine reads {name}; leave out {flag}, or pass "
    "--engine pandas."
)


def _engine(args: argparse.Namespace, stderr: TextIO) -> str:
    """The engine that reads DATA: the one asked for, else the automatic choice (said on stderr unless pandas)."""
    from analysis.engine import choose_engine

    asked = args.engine
    if args.spark_master:
        if asked not in (None, "spark"):
            raise SpecError(SPARK_MASTER_CONFLICT.format(engine=asked))
        asked = "spark"
    engine, reason = choose_engine(args.data, asked)
    # Quiet for the ordinary small file; a choice the user did not type, and that changes how rows are read, is
    # said, once the engine has read the source (so that a source it cannot read is one line: the error).
    args.engine_note = f"{_printable(reason).rstrip('.')} {CHOOSE_ANOTHER}\n" if asked is None else None
    if engine != "pandas" and args.sheet is not None:
        raise SpecError(IN_MEMORY_ONLY.format(flag="--sheet", engine=ENGINE_NAMES[engine], name=_printable(args.data)))
    many = Path(args.data).is_dir() or (any(ch in args.data for ch in "*?[") and not Path(args.data).is_file())
    if engine == "pandas" and many:
        raise SpecError(ONE_FILE.format(data=_printable(args.data)))
    return engine


def _announce(args: argparse.Namespace, stderr: TextIO) -> None:
    """The automatic choice of engine on stderr, the first time the engine has read DATA."""
    if getattr(args, "engine_note", None):
        stderr.write(args.engine_note)
        args.engine_note = None


def _source_name(data: str) -> str:
    """DATA as messages name it before an engine has read it."""
    return Path(data.split(".duckdb:", 1)[0] + ".duckdb").name if ".duckdb:" in data else Path(data).name or data


def _counted(args: argparse.Namespace, engine: str, spec: Any, stderr: TextIO) -> Any:
    """DATA counted by ``engine`` into a CountedTable; the reading notes go to stderr, --max-rows is checked."""
    from analysis.engine import count_table
    from analysis.errors import LoadError
    from analysis.loading import ROWS_OVER_LIMIT
    from analysis.wording import Remedy

    if engine == "spark":  # count_table does not pass the missing spellings on to Spark; count_spark takes them
        from analysis.spark_engine import count_spark, spark_session

        session = spark_session(master=args.spark_master)
        table = count_spark(args.data, spec, session=session, na_values=args.na_values)
    else:
        table = count_table(args.data, spec, engine=engine, na_values=args.na_values)
    _announce(args, stderr)
    name = _printable(table.name or _source_name(args.data))
    if table.load is not None:
        for text in table.load.change_lines():
            stderr.write(NOTE_LINE.format(name=name, text=_printable(text)))
        for warning in table.load.warnings:
            stderr.write(WARNING_LINE.format(name=name, text=_printable(_cli_text(warning))))
    if args.max_rows is not None and table.rows > args.max_rows:
        message = ROWS_OVER_LIMIT.format(name=name, got=table.rows, limit=args.max_rows)
        raise LoadError(message, remedy=Remedy("max_rows", table.rows))
    return table


def _sample(
    args: argparse.Namespace, engine: str, stderr: TextIO, *, rows: int, spec: Any = None, per_group: int | None = None
) -> Any:
    """Up to ``rows`` rows of DATA drawn by ``engine`` (stratified by the spec's groups with ``per_group``)."""
    seed, options = getattr(args, "seed", SEED), {"spec": spec, "per_group": per_group, "na_values": args.na_values}
    if engine == "spark":
        from analysis.spark_engine import sample_spark, spark_session

        session = spark_session(master=args.spark_master)
        df = sample_spark(args.data, rows=rows, seed=seed, session=session, **options)
    else:
        from analysis.duckdb_engine import sample_duckdb

        df = sample_duckdb(args.data, rows=rows, seed=seed, **options)
    _announce(args, stderr)
    return df


def _run_audit(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from analysis.audit import audit
    from analysis.spec import AuditSpec

    if args.json == "-" and args.html == "-":
        raise SpecError(ONE_STDOUT)
    saved = AuditSpec.load(args.spec) if args.spec else None  # a bad spec file fails before the data is read
    engine = _engine(args, stderr)
    if args.slices and engine == "spark":
        raise SpecError(SLICES_ON_SPARK.format(flag="--slices"))
    if args.slice_bins_from and not args.slices:
        raise SpecError(BINS_WITHOUT_SLICES)
    slice_bins = _bins_from(args.slice_bins_from, "--slice-bins-from")  # a bad file fails before the data is read
    if saved is not None and args.slices:  # said before any row is read when the spec file is known
        _slice_metric_check(_spec_with_label(saved, args), args.slice_metric, "--slice-metric", args.spec)
    if engine == "pandas":
        table = _load(args, stderr)
        spec = _spec_from_args(args, table.report.name, lambda: table.data, saved)
        _check_gates(args, spec)
        if args.slices:
            _slice_metric_check(spec, args.slice_metric, "--slice-metric", args.spec)
        source, name, sha256, report = table.data, table.report.name, table.report.sha256, table.report
    else:
        # The spec says which columns to count; only a missing one needs rows (a sample) to suggest from.
        sample = lambda: _sample(args, engine, stderr, rows=SAMPLE_ROWS)  # noqa: E731
        spec = _spec_from_args(args, _source_name(args.data), sample, saved)
        _check_gates(args, spec)
        if args.slices:
            _slice_metric_check(spec, args.slice_metric, "--slice-metric", args.spec)
        source = _counted(args, engine, spec, stderr)
        name, sha256, report = source.name or _source_name(args.data), source.sha256, source.load
    other_data = _warn_other_data(spec, sha256, name, args.spec, stderr)
    result = audit(
        source,
        spec,
        confidence=args.confidence,
        dataset_name=name,
        dataset_sha256=sha256,
        load_report=report,
    )
    # The audit words the same warning without the spec file's name: said once, above.
    said = {other_data, _unnamed_other_data(spec, sha256)} - {None}
    for warning in result.warnings:
        if str(warning) not in said:
            stderr.write(WARNING_LINE.format(name=_printable(name), text=_printable(_cli_text(warning))))
    if args.slices:
        from dataclasses import replace

        from analysis.slices import find_slices

        searched = find_slices(
            source if engine == "pandas" else args.data,
            spec,
            metric=args.slice_metric,
            max_depth=args.slice_depth,
            confidence=args.confidence,
            engine=engine,
            bins=slice_bins,
            counted=None if engine == "pandas" else source,
            na_values=None if engine == "pandas" else args.na_values,
        )
        result = replace(result, slices=searched)
    if args.json:
        _write(_audit_json(result), args.json, stdout)
    if args.html:
        from analysis.report import render_html

        _write(render_html(result, load_report=report), args.html, stdout)
    if "-" not in (args.json, args.html):
        stdout.write(_summary_text(result, source if engine != "pandas" else None))
    breaches = _gates(result, args)
    for message in breaches:
        stderr.write(message + "\n")
    return EXIT_GATE if breaches else EXIT_OK


def _explain_text(result: Any, name: str, drawn: dict[str, Any] | None = None) -> str:
    """Human-readable drivers: fidelity, top drivers, the biggest gap and the top proxy per attribute.

    ``drawn`` describes the sample an engine other than pandas drew (said in the second line).
    """
    model = result.model
    lines = [
        f"ParityLab explanation of {_printable(name)} (surrogate: {model.kind}, target: {model.target}, "
        f"SHAP on {result.sample.rows.size:,} sampled rows, seed {result.random_state})",
    ]
    if drawn is not None:
        text = _drawn_text(drawn)
        lines.append(text[0].upper() + text[1:])
    lines.append(result.fidelity.message)
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


def _run_explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import json

    from analysis.explain import explain
    from analysis.spec import AuditSpec

    spec = _with_merge_variants(AuditSpec.load(args.spec), args)
    engine = _engine(args, stderr)
    drawn = None
    if engine == "pandas":
        table = _load(args, stderr)
        _warn_other_data(spec, table.report.sha256, table.report.name, args.spec, stderr)
        df, name, load = table.data, table.report.name, table.report.to_dict()
    else:
        # The surrogate needs rows, not counts: a stratified sample the engine draws, every group keeping its
        # rows up to --sample-size (so a small group is explained on all of its rows).
        table = _counted(args, engine, spec, stderr)  # every row: how many, and the spelling checks over all
        _warn_other_data(spec, table.sha256, table.name, args.spec, stderr)
        df, drawn = _engine_sample(args, engine, table, spec, stderr, rows=max(SAMPLE_ROWS, args.sample_size))
        name, load = drawn["name"], None if table.load is None else table.load.to_dict()
        if args.json == "-":  # else the text says it
            stderr.write(NOTE_LINE.format(name=_printable(name), text=_drawn_text(drawn)))
    _variant_warnings(df if engine == "pandas" else table, spec, stderr)
    result = explain(
        df,
        spec,
        sample_size=args.sample_size,
        include_protected=args.include_protected,
        random_state=args.seed,
    )
    if args.json:
        data = result.to_dict() | {"load": load, "engine": engine}
        if drawn is not None:
            data["engine_sample"] = {k: v for k, v in drawn.items() if k != "name"}
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        _write(text, args.json, stdout)
    if args.json != "-":
        stdout.write(_explain_text(result, name, drawn))
    return EXIT_OK


DRAWN = (
    "the surrogate model and its SHAP values are on a stratified sample of {sample:,} of {rows:,} rows drawn by "
    "{engine} (every group keeps its rows up to {per_group:,}; seed {seed})."
)


DRAWN_ALL = "the surrogate model and its SHAP values are on all {rows:,} rows, read by {engine}."


def _engine_sample(
    args: argparse.Namespace, engine: str, table: Any, spec: Any, stderr: TextIO, *, rows: int
) -> tuple[Any, dict[str, Any]]:
    """A stratified sample of DATA (counted as ``table``) drawn by ``engine``, and what it is (text and JSON)."""
    df = _sample(args, engine, stderr, rows=rows, spec=spec, per_group=args.sample_size)
    drawn = {
        "engine": engine,
        "rows": len(df),
        "of": int(table.rows),
        "per_group": int(args.sample_size),
        "seed": int(args.seed),
        "name": table.name or _source_name(args.data),
    }
    return df, drawn


def _drawn_text(drawn: dict[str, Any]) -> str:
    if drawn["rows"] >= drawn["of"]:
        return DRAWN_ALL.format(rows=drawn["of"], engine=ENGINE_NAMES[drawn["engine"]])
    return DRAWN.format(
        sample=drawn["rows"],
        rows=drawn["of"],
        engine=ENGINE_NAMES[drawn["engine"]],
        per_group=drawn["per_group"],
        seed=drawn["seed"],
    )


def _run_suggest(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from dataclasses import replace

    from analysis.suggest import suggest_roles, suggest_spec

    engine = _engine(args, stderr)
    if engine != "pandas":
        return _suggest_at_scale(args, engine, stdout, stderr)
    table = _load(args, stderr)
    suggestion = suggest_roles(table.data)
    # The reasons go to stderr, so that stdout stays the spec JSON alone.
    for role in suggestion.roles:
        reason = role.reason if role.role != "feature" else f"feature: {role.reason}"  # the others name their role
        stderr.write(ROLE_LINE.format(column=_printable(role.column), reason=_printable(reason)))
    for note in suggestion.notes:
        stderr.write(f"note: {_printable(note)}\n")
    spec = suggestion.spec or suggest_spec(table.data)  # SpecError (with its remedy) when no decision or score
    # The spec records which file it was made on, so using it on other data later warns.
    text = replace(spec, dataset_sha256=table.report.sha256).to_json()
    if args.json:
        _write(text, args.json, stdout)
    else:
        stdout.write(text)
    return EXIT_OK


SUGGESTED_FROM = "Suggested from a sample of {sample:,} of {rows:,} rows drawn by {engine}; {checked}."
SUGGESTED_FROM_ALL = "Suggested from all {rows:,} rows, read by {engine}."
CHECKED = {
    "duckdb": "column statistics over every row, and the suggested columns' values counted over every row",
    "spark": "the suggested columns' values counted over every row",
}
OUTSIDE_SAMPLE = "'{column}' has {what} found only outside the sample: {values}."
POSITIVE_FROM_ALL = "The positive values of '{column}' are chosen from every value: {chosen} (the sample's: {was})."
POSITIVE_KEPT = "The positive values of '{column}' stay {chosen}."
THRESHOLD_FROM_ALL = (
    "'{column}' ranges from {low:g} to {high:g} over every row; the threshold is {threshold:g} (the sample's: {was:g})."
)
NOT_UNIQUE = "'{column}' has {distinct:,} distinct values in {rows:,} rows, so it does not identify rows: check it."
NOT_EMPTY = "'{column}' is empty in the sample but has {filled:,} values over every row: check its role."
SHOWN_VALUES = 5


def _suggest_at_scale(args: argparse.Namespace, engine: str, stdout: TextIO, stderr: TextIO) -> int:
    """``suggest`` on a large source: roles from a bounded sample, checked against every row.

    The sample decides the roles; the engine then counts the suggested columns over every row, so that a
    decision or label value, or a group, present only outside the sample is still seen (and the positive
    values and a score's threshold are chosen from every value), and DuckDB's column statistics check what
    the sample says about identifiers and empty columns.
    """
    from dataclasses import replace

    from analysis.suggest import suggest_roles, suggest_spec

    sample = _sample(args, engine, stderr, rows=SAMPLE_ROWS)
    suggestion = suggest_roles(sample)
    spec = suggestion.spec or suggest_spec(sample)  # SpecError (with its remedy) when no decision or score
    # Every row's values of the suggested columns; a score only when it makes the decisions (its range sets the
    # threshold), as a score's distinct values multiply the combinations to count.
    table = _counted(args, engine, spec if spec.decision is None else replace(spec, score=None), stderr)
    name = _printable(table.name or _source_name(args.data))
    engine_name = ENGINE_NAMES[engine]
    if len(sample) >= table.rows:
        said = SUGGESTED_FROM_ALL.format(rows=table.rows, engine=engine_name)
    else:
        said = SUGGESTED_FROM.format(sample=len(sample), rows=table.rows, engine=engine_name, checked=CHECKED[engine])
    stderr.write(NOTE_LINE.format(name=name, text=said))
    spec, notes = _checked_over_every_row(spec, sample, table)
    if engine == "duckdb" and len(sample) < table.rows:
        from analysis.duckdb_engine import column_statistics

        notes += _statistics_notes(suggestion, sample, column_statistics(args.data))
    for role in suggestion.roles:
        reason = role.reason if role.role != "feature" else f"feature: {role.reason}"
        stderr.write(ROLE_LINE.format(column=_printable(role.column), reason=_printable(reason)))
    for note in (*suggestion.notes, *notes):
        stderr.write(f"note: {_printable(note)}\n")
    text = replace(spec, dataset_sha256=table.sha256).to_json()
    if args.json:
        _write(text, args.json, stdout)
    else:
        stdout.write(text)
    return EXIT_OK


def _rows_by_value(table: Any, column: str) -> dict[Any, int]:
    """Every non-missing value of a counted column with its source rows, most frequent first."""
    import pandas as pd

    values = pd.Series(table.weight, index=pd.Index(table.frame[column]), dtype="int64")
    totals = values[values.index.notna()].groupby(level=0, sort=False).sum()
    return {k: int(v) for k, v in totals.sort_values(ascending=False, kind="stable").items()}


def _shown(rows: dict[Any, int]) -> str:
    items = [f"{_printable(v)!r} ({n:,} rows)" for v, n in list(rows.items())[:SHOWN_VALUES]]
    more = len(rows) - SHOWN_VALUES
    return ", ".join(items) + (f" and {more:,} more" if more > 0 else "")


def _checked_over_every_row(spec: Any, sample: Any, table: Any) -> tuple[Any, list[str]]:
    """The spec with its positive values (and a score's threshold) chosen from every row; what changed, said."""
    from dataclasses import replace

    from analysis.suggest import positive_values

    notes: list[str] = []
    for role, field in (("decision", "positive"), ("label", "label_positive")):
        column = getattr(spec, role)
        if column is None or column not in table.frame.columns:
            continue
        every = _rows_by_value(table, column)
        seen = set(sample[column].dropna().tolist())
        outside = {v: n for v, n in every.items() if v not in seen}
        if not outside:
            continue
        notes.append(OUTSIDE_SAMPLE.format(column=column, what="values", values=_shown(outside)))
        chosen = list(positive_values([str(v) for v in every]))
        numeric = sample[column].dtype.kind in "iuf"
        if numeric:
            chosen = [float(v) if "." in v else int(v) for v in chosen]
        was = list(getattr(spec, field))
        if chosen and chosen != was:
            spec = replace(spec, **{field: tuple(chosen)})
            notes.append(POSITIVE_FROM_ALL.format(column=column, chosen=_values_text(chosen), was=_values_text(was)))
        else:
            notes.append(POSITIVE_KEPT.format(column=column, chosen=_values_text(was) or "unchosen"))
    for attribute in spec.protected:
        if attribute.binned or attribute.column not in table.frame.columns:
            continue
        seen = set(sample[attribute.column].dropna().tolist())
        outside = {v: n for v, n in _rows_by_value(table, attribute.column).items() if v not in seen}
        if outside:
            notes.append(OUTSIDE_SAMPLE.format(column=attribute.column, what="groups", values=_shown(outside)))
    if spec.decision is None and spec.score is not None and spec.threshold is not None:
        threshold, low, high = _threshold_over(table, spec.score)
        if threshold is not None and threshold != spec.threshold:
            notes.append(
                THRESHOLD_FROM_ALL.format(
                    column=spec.score, low=low, high=high, threshold=threshold, was=spec.threshold
                )
            )
            spec = replace(spec, threshold=threshold)
    return spec, notes


def _values_text(values: Sequence[Any]) -> str:
    return ", ".join(_printable(v) for v in values)


def _threshold_over(table: Any, score: str) -> tuple[float | None, float, float]:
    """A score's threshold by suggest's rule (0.5 for a probability, else the middle of its range), over every row."""
    import numpy as np

    values = table.frame[score].to_numpy(dtype=float, na_value=np.nan)
    values = values[np.isfinite(values)]
    if not len(values):
        return None, 0.0, 0.0
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        return 0.5, low, high
    return float(f"{(low + high) / 2:.3g}"), low, high


def _statistics_notes(suggestion: Any, sample: Any, statistics: Any) -> list[str]:
    """What every row's column statistics say against the sample: identifiers that repeat, columns not empty."""
    notes = []
    for role in suggestion.roles:
        column = statistics.column(role.column)
        filled = column.rows - column.missing
        if role.role == "id" and column.distinct_exact and column.distinct < filled:
            notes.append(NOT_UNIQUE.format(column=role.column, distinct=column.distinct, rows=filled))
        if sample[role.column].notna().sum() == 0 and filled > 0:
            notes.append(NOT_EMPTY.format(column=role.column, filled=filled))
    return notes


def _printable(text: object, width: int | None = None) -> str:
    """Data-derived text for a terminal: control characters replaced, cut to ``width``."""
    out = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return out if width is None or len(out) <= width else out[: width - 1] + "…"


def _comparison_text(comparison: Any, *, show_all: bool) -> str:
    """The comparison as a text table: summaries, changes worth reading (every row with ``show_all``)."""
    c = comparison
    lines = [
        f"ParityLab comparison: {_printable(c.before.name)} ({c.before.rows_audited:,} rows, "
        f"{c.before.created_at or 'time not recorded'}) -> {_printable(c.after.name)} "
        f"({c.after.rows_audited:,} rows, {c.after.created_at or 'time not recorded'})",
        _printable(c.summary),
    ]
    lines += [f"warning: {_printable(w)}" for w in c.warnings]
    shown = [
        r
        for r in c.rows
        if show_all or r.group is None or r.regression or r.worse or r.significant or r.status.startswith("only")
    ]
    header = ("attribute", "group", "metric", "before", "after", "change", "q", "")
    table = [header] + [_comparison_cells(r) for r in shown]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines.append("")
    numeric = range(3, 7)  # before, after, change, q: right-aligned
    for row in table:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    if len(shown) < len(c.rows):
        lines.append(
            f"({len(c.rows) - len(shown)} more rows without a significant change; --all prints them, "
            "--json and --html write every row.)"
        )
    if c.slices is not None:
        lines += _tracked_slices_text(c.slices)
    return "\n".join(lines) + "\n"


def _tracked_slices_text(tracking: Any) -> list[str]:
    """The slices of both audits' searches: those in both top-k lists as a table, the others listed."""
    from analysis.compare import NEW_IN_TOP, NO_LONGER_IN_TOP, NOT_PROOF

    lines = ["", _printable(tracking.summary)]
    lines += [f"warning: {_printable(w)}" for w in tracking.warnings if w != tracking.summary]
    compared = tracking.compared
    if compared:

        def number(v: float | None, signed: bool = False) -> str:
            return "-" if v is None else f"{v:+.3f}" if signed else f"{v:.3f}"

        def called(flag: bool | None) -> str:
            return "-" if flag is None else "yes" if flag else "no"

        header = ("before", "after", "change", "n before", "n after", "q", "signif. then/now", "", "slice")
        table = [header]
        for r in compared:
            q = "-" if r.q_value is None else "<0.001" if r.q_value < 0.001 else f"{r.q_value:.3f}"
            flag = (r.direction or "") + (", significant" if r.significant else "")
            table.append((number(r.before), number(r.after), number(r.change, signed=True), f"{r.n_before:,}",
                          f"{r.n_after:,}", q, f"{called(r.significant_before)}/{called(r.significant_after)}", flag,
                          _printable(r.slice)))  # fmt: skip
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        lines.append("")
        for row in table:
            cells = [c.rjust(w) if i < 7 else c.ljust(w) for i, (c, w) in enumerate(zip(row[:-1], widths, strict=True))]
            lines.append("  ".join([*cells, row[-1]]))
    for status, title in ((NEW_IN_TOP, "New in the top-k"), (NO_LONGER_IN_TOP, "No longer in the top-k")):
        listed = [r for r in tracking.rows if r.status == status]
        if listed:
            lines.append(f"{title}:")
            for r in listed:
                value, n = (r.after, r.n_after) if status == NEW_IN_TOP else (r.before, r.n_before)
                note = "" if r.note is None else f"; {r.note}"
                lines.append(f"  {_printable(r.slice)} ({tracking.title} {value:.3f}, n={n:,}{_printable(note)})")
    if any(r.status == NO_LONGER_IN_TOP for r in tracking.rows):
        lines.append(NOT_PROOF)
    return lines


def _comparison_cells(r: Any) -> tuple[str, ...]:
    def number(v: float | None, signed: bool = False) -> str:
        return "-" if v is None else f"{v:+.3f}" if signed else f"{v:.3f}"

    q = "-" if r.q_value is None else "<0.001" if r.q_value < 0.001 else f"{r.q_value:.3f}"
    flag = "REGRESSION" if r.regression else "worse" if r.worse else r.status if r.status != "compared" else ""
    return (
        _printable(r.attribute, SHOWN_NAME),
        _printable("(all)" if r.group is None else r.group, SHOWN_NAME),
        r.metric or "-",
        number(r.before),
        number(r.after),
        number(r.change, signed=True),
        q,
        flag,
    )


def _run_compare(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from analysis.compare import RATIOS, compare_audits, load_audit, render_comparison_html

    if args.json == "-" and args.html == "-":
        raise SpecError(BOTH_TO_STDOUT)
    if args.ignore_significance:
        stderr.write(IGNORE_SIGNIFICANCE_DEFAULT + "\n")
    comparison = compare_audits(
        load_audit(args.before),
        load_audit(args.after),
        tolerance=args.tolerance,
        di_tolerance=args.di_tolerance,
        alpha=args.alpha,
        require_significance=args.require_significance,
    )
    if args.json:
        _write(comparison.to_json(), args.json, stdout)
    if args.html:
        _write(render_comparison_html(comparison), args.html, stdout)
    if "-" not in (args.json, args.html):
        stdout.write(_comparison_text(comparison, show_all=args.all))
    if not (args.fail_on_regression and comparison.regressions):
        return EXIT_OK
    for r in comparison.regressions:
        significance = (
            "not tested"
            if r.q_value is None
            else f"significant, q = {r.q_value:.2g}"
            if r.significant
            else f"not significant, q = {r.q_value:.2g}"
        )
        message = GATE_REGRESSION.format(
            where=_printable(r.where),
            before=f"{r.before:.3f}",
            after=f"{r.after:.3f}",
            change=r.change,
            significance=significance,
            tolerance=comparison.di_tolerance if r.metric in RATIOS else comparison.tolerance,
        )
        stderr.write(message + "\n")
    return EXIT_GATE


MITIGATE_EPILOG = """\
examples:
  python -m analysis mitigate loans.csv --spec loans-spec.json
  python -m analysis mitigate loans.csv --spec loans-spec.json --attribute ethnicity --constraint four_fifths \\
      --objective accuracy --json mitigation.json --decisions new-decisions.csv
  python -m analysis mitigate loans.csv --spec loans-spec.json --attribute ethnicity --goal four_fifths_fewest
  python -m analysis mitigate loans.csv --spec loans-spec.json --constraint equal_opportunity --tolerance 0.02 \\
      --objective cost --cost-fp 5 --benefit-tp 1 --json -
  python -m analysis mitigate 'decisions/*.parquet' --spec loans-spec.json --export new-decisions.parquet

Per-group thresholds on the spec's score (decision = score >= the group's threshold) that meet the goal or
constraint on these data. Everything starts from the thresholds that reproduce today's decisions best (their
count of decisions no threshold reproduces is stated); by default, nothing changes when today's decisions pass
the four-fifths rule, and otherwise the rule is met with the fewest changed decisions. Without a score in the
spec, the thresholds apply to a model score (a model of your decisions: out-of-fold LightGBM probabilities).
Figures are on the same data the thresholds were chosen on, so they are optimistic; the Mitigation page also
shows held-out figures. Group-specific thresholds use the protected attribute at decision time, which raises
disparate-treatment concerns in lending and hiring.
exit codes: 0 ok (also when the constraint cannot be met: then "feasible" is false), 2 bad input or usage.
"""
MITIGATE_CAVEAT = (
    "Caution: group-specific thresholds use the protected attribute at decision time (disparate-treatment "
    "concerns in lending and hiring), and figures on the data the thresholds were chosen on are optimistic."
)
SHOWN_MITIGATE_METRICS = (
    "favorable_rate_ratio",
    "disparate_impact_min",
    "demographic_parity_difference",
    "equalized_odds_difference",
)


def _mitigate_parser(commands: Any) -> None:
    from analysis.optimizer import CONSTRAINTS, GOALS, OBJECTIVES

    mitigate = commands.add_parser(
        "mitigate",
        help="per-group thresholds that meet a fairness constraint, with before/after audits",
        description=(
            "Find per-group score thresholds that meet a fairness constraint and maximise an objective "
            "(an exact search), and audit the decisions before and after."
        ),
        epilog=MITIGATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mitigate.add_argument("data", metavar="DATA", help=DATA_HELP)
    mitigate.add_argument("--spec", metavar="SPEC.json", required=True, help="a saved spec (from the app or 'suggest')")
    mitigate.add_argument("--merge-variants", action="store_true", help=MERGE_VARIANTS_HELP)
    mitigate.add_argument("--attribute", metavar="COL", help="the protected attribute (default: the spec's first)")
    mitigate.add_argument(
        "--goal",
        choices=list(GOALS),
        default=None,
        help="a goal in plain words: nothing (keep today's decisions), four_fifths_fewest (pass the four-fifths "
        "rule with the fewest changed decisions), equal_tpr (equal true-positive rates within 0.02, needs a "
        "label), keep_count (pass the four-fifths rule keeping today's count of positive decisions). Default, "
        "without --constraint: nothing when today's decisions pass the four-fifths rule, else four_fifths_fewest",
    )
    mitigate.add_argument(
        "--constraint",
        choices=CONSTRAINTS,
        default=None,
        help="a raw constraint instead of a goal (with --tolerance and --objective)",
    )
    mitigate.add_argument(
        "--tolerance",
        type=_number(f"{DEFAULT_TOLERANCE:g}", low=0),
        default=None,
        metavar="T",
        help=(
            f"allowed range of the constrained rate, default {DEFAULT_TOLERANCE:g}; four_fifths: ratio >= "
            f"{FOUR_FIFTHS:g} - T, default {default_tolerance('four_fifths'):g}"
        ),
    )
    mitigate.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="accuracy",
        help="accuracy, cost (benefit_tp x TP - cost_fp x FP) or selection_rate (keep today's overall selection "
        "rate as closely as the constraint allows, changing few decisions); default accuracy",
    )
    mitigate.add_argument(
        "--cost-fp", type=_number("5", low=0), default=1.0, metavar="C", help="cost of a false positive (1)"
    )
    mitigate.add_argument(
        "--benefit-tp", type=_number("1", low=0), default=1.0, metavar="B", help="benefit of a true positive (1)"
    )
    mitigate.add_argument("--json", metavar="PATH", help="write the JSON result to PATH, or - for standard output")
    mitigate.add_argument(
        "--decisions", metavar="OUT.csv", help="write every row's old and new decision (row id, group, score) as CSV"
    )
    mitigate.add_argument(
        "--export",
        metavar="PATH",
        help="write every row of DATA, all its columns, with its new decision, as Parquet (PATH ending .parquet) "
        "or CSV; streamed by the engine, so it works on data of any size",
    )
    mitigate.add_argument(
        "--seed", type=int, default=SEED, metavar="S", help=f"seed of the model score (default {SEED})"
    )
    _reading_options(mitigate)
    _engine_options(mitigate)


def _plain(text: object) -> str:
    """Data-derived text for a terminal: control characters replaced."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


IGNORE_SIGNIFICANCE_DEFAULT = (
    "Note: --ignore-significance is the default now (a worsening beyond tolerance is a regression whether or not "
    "it is significant); the flag can be dropped. --require-significance asks for significance too."
)
LESS_EQUAL = (
    "Note: the constraint is met, but today's decisions do better on its measure ({measure} {before:.3f} now, "
    "{after:.3f} at these thresholds): the objective gains from the room the tolerance allows. Lower --tolerance, "
    "or choose --objective selection_rate, to stay closer to the current decisions."
)


def _mitigate_text(
    result: dict[str, Any],
    name: str,
    given_back: tuple[float, float] | None = None,
    words: Any = None,
    *,
    sampled: bool = False,
) -> str:
    """Human-readable thresholds, feasibility, before/after disparities and flips (and what today does better).

    ``words`` (``analysis.words.DecisionWords``) names the decision in the thresholds' lines ("newly flagged"),
    so a harmful decision reads as the harm, not as "to positive". ``sampled``: the model score was trained on
    an engine's sample, which the model's first note says.
    """
    from analysis.metrics import title
    from analysis.optimizer import CONSTRAINT_MEASURES

    within = f"within {result['tolerance']:g}" if result["tolerance"] is not None else ""
    if result["constraint"] == "four_fifths":
        within = f"(lowest / highest favourable rate >= {FOUR_FIFTHS - result['tolerance']:g})"
    if result["mode"] == "start":
        asked = "nothing to do (goal 'nothing'): today's decisions, reproduced by thresholds"
    else:
        asked = f"{result['constraint']} {within}, objective {result['objective']}"
        if result["goal"]:
            asked += f" (goal '{result['goal']}')"
    lines = [f"ParityLab mitigation of {_plain(name)}: {_plain(result['attribute'])}, {asked}"]
    if result["score_source"] == "model":
        auc = result["model_score"]["auc"]
        lines.append(
            f"Score: {result['score_label']}, as the spec has no score; out-of-fold AUC "
            f"{'undefined' if auc is None else f'{auc:.3f}'} against the current decisions."
        )
        if sampled:
            lines.append(f"  {result['model_score']['notes'][0]}")
    else:
        lines.append(f"Score: the spec's score column '{_plain(result['score_column'])}'.")
    if result.get("scores"):
        lines.append(f"  {result['scores']['note']}")
    start = result["start"]
    unreproducible, decided = start["total_unreproducible"], sum(start["decided"].values())
    lines.append(
        f"Starting point: the thresholds that reproduce today's decisions best; {unreproducible:,} of "
        f"{decided:,} decisions no threshold on this score reproduces (not counted as changes below)."
    )
    if start["rule"] == "today_rates":
        lines.append(
            f"  (The thresholds reproducing the most decisions would lower the four-fifths ratio to "
            f"{start['most_agreement_measure']:.3f}, so each group starts at today's count of positive decisions.)"
        )
    if result["mode"] == "start":
        lines.append("Nothing to do: " + _pass_text(result["before"]["summary"], words=True))
    else:
        lines.append("Feasible on these data: yes." if result["feasible"] else "Feasible on these data: NO.")
    if result["reason"]:
        lines.append(f"  {result['reason']}")
    lines.append("")
    verb = "positive decision" if words is None else words.verb
    up, down = ("to positive", "to negative") if words is None else (f"newly {verb}", f"no longer {verb}")
    lines.append(f"Thresholds ({verb} when score >= threshold), and the decisions they change from today's:")
    for group, t in result["thresholds"][result["attribute"]].items():
        changed = result["changed"][group]
        moved = f"{up} {changed['to_positive']:,}, {down} {changed['to_negative']:,}"
        lines.append(f"  {_plain(group)}: {t:.4g}  ({moved})")
    lines.append("")
    lines.append("Before -> after:")
    before, after = result["before"]["summary"], result["after"]["summary"]
    for key in SHOWN_MITIGATE_METRICS:
        if key in before and key in after:
            lines.append(f"  {title(key)}: {_fmt_value(before[key]['value'])} -> {_fmt_value(after[key]['value'])}")
    lines.append(f"  four-fifths rule: {_pass_text(before)} -> {_pass_text(after)}")
    if result["objective"] is not None:
        before_value, value = result["objective_value_before"], result["objective_value"]
        shown = (lambda v: f"{v:,.0f}") if result["objective"] == "changes" else _fmt_value
        lines.append(f"  objective ({result['objective']}): {shown(before_value)} -> {shown(value)}")
    if given_back is not None:
        measure = title(CONSTRAINT_MEASURES[result["constraint"]])
        lines.append(LESS_EQUAL.format(measure=measure, before=given_back[0], after=given_back[1]))
    lines.append("")
    lines.append(MITIGATE_CAVEAT)
    return "\n".join(lines) + "\n"


def _fmt_value(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _pass_text(summary: dict[str, Any], *, words: bool = False) -> str:
    passed = summary.get("four_fifths_pass")
    if words:
        if passed is None:
            return "the four-fifths ratio of today's decisions is not computable; they are kept."
        return (
            "today's decisions already pass the four-fifths rule; they are kept."
            if passed
            else "today's decisions fail the four-fifths rule, and goal 'nothing' keeps them."
        )
    return "not computable" if passed is None else "pass" if passed else "fail"


def _run_mitigate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import json

    from analysis.exports import csv_bytes, decision_changes
    from analysis.mitigate import mitigate
    from analysis.optimizer import gives_back
    from analysis.spec import AuditSpec

    spec = _with_merge_variants(AuditSpec.load(args.spec), args)
    engine = _engine(args, stderr)
    if args.decisions and engine != "pandas":  # said before any row is read
        raise SpecError(DECISIONS_IN_MEMORY.format(engine=ENGINE_NAMES[engine]))
    if args.export and engine != "pandas" and spec.score is None:
        raise SpecError(EXPORT_NEEDS_SCORE.format(engine=ENGINE_NAMES[engine]))
    if engine == "pandas":
        table = _load(args, stderr)
        source, name, sha256, report = table.data, table.report.name, table.report.sha256, table.report
    else:
        source = _counted(args, engine, spec, stderr)
        name, sha256, report = source.name or _source_name(args.data), source.sha256, source.load
    _warn_other_data(spec, sha256, name, args.spec, stderr)
    _variant_warnings(source, spec, stderr)
    sample = None
    if engine != "pandas" and spec.score is None:  # a model score trains on rows: a stratified sample of them
        sample = _sample(args, engine, stderr, rows=SAMPLE_ROWS, spec=spec, per_group=SAMPLE_PER_GROUP)
    result = mitigate(
        source,
        spec,
        sample=sample,
        attribute=args.attribute,
        goal=args.goal,
        constraint=args.constraint,
        tolerance=args.tolerance,
        objective=args.objective,
        cost_fp=args.cost_fp,
        benefit_tp=args.benefit_tp,
        random_state=args.seed,
        load_report=report,
    )
    out = result.to_dict() | {"engine": engine}
    if args.export:
        _export(args, engine, source, spec, result, stderr)
    if args.decisions:
        df, scored_spec = source, spec
        if result.model is not None:
            df, scored_spec = result.model.apply(df, spec)
        data = csv_bytes(decision_changes(df, scored_spec, result.thresholds, attribute=result.attribute))
        try:
            Path(args.decisions).write_bytes(data)
        except OSError as exc:
            raise SpecError(CANNOT_WRITE.format(path=args.decisions, reason=exc.strerror or exc)) from exc
    if args.json:
        _write(json.dumps(out, indent=2, ensure_ascii=False, allow_nan=False) + "\n", args.json, stdout)
    if args.json != "-":
        given_back = None if result.optimization is None else gives_back(result.optimization, result.before)
        from analysis.words import decision_words

        stdout.write(_mitigate_text(out, name, given_back, decision_words(spec), sampled=sample is not None))
    return EXIT_OK


EXPORT_NEEDS_SCORE = (
    "--export on the {engine} engine applies the thresholds to the spec's score column, and the spec names none "
    "(a model score exists only for the sample it is trained on). Name the score column in the spec, or pass "
    "--engine pandas."
)
DECISIONS_IN_MEMORY = (
    "--decisions builds its table in memory, but the {engine} engine reads this data; pass --export PATH "
    "(every row with its new decision, written by the engine), or --engine pandas."
)


EXPORTED = "note: {name}: wrote {path}: every row with its group of '{attribute}' and its new decision ({column}).\n"
EXPORT_COLUMNS = ("group", "new_positive")  # as the DuckDB engine names them, each suffixed with _ until new
SPARK_NEW_DECISION = "new_decision"  # as the Spark engine names it


def _export(args: argparse.Namespace, engine: str, source: Any, spec: Any, result: Any, stderr: TextIO) -> None:
    """Every row of DATA with its group and new decision, written to --export by the engine that read it.

    DuckDB and Spark stream the rows from the source to the file; pandas writes the loaded table.
    """
    path, attribute = args.export, result.attribute
    thresholds = result.thresholds
    if engine == "duckdb":
        from analysis.duckdb_engine import export_decisions_duckdb

        export_decisions_duckdb(args.data, spec, attribute, thresholds, path, na_values=args.na_values)
    elif engine == "spark":
        from analysis.spark_engine import export_decisions_spark, spark_session

        session = spark_session(master=args.spark_master)
        chosen = "csv" if str(path).lower().endswith(".csv") else "parquet"
        export_decisions_spark(args.data, spec, attribute, thresholds, path, session=session, format=chosen)
    else:
        _export_pandas(source, spec, result, path)
    column = SPARK_NEW_DECISION if engine == "spark" else EXPORT_COLUMNS[1]
    stderr.write(EXPORTED.format(name=_printable(args.data), path=_printable(path), attribute=_printable(attribute),
                                 column=column))  # fmt: skip


def _export_pandas(df: Any, spec: Any, result: Any, path: str) -> None:
    """The loaded table with two more columns, its group and its new decision, as Parquet or CSV."""
    from analysis.exports import csv_bytes, decision_changes

    scored, scored_spec = (df, spec) if result.model is None else result.model.apply(df, spec)
    changes = decision_changes(scored, scored_spec, result.thresholds, attribute=result.attribute)
    out = df.copy()
    for column in EXPORT_COLUMNS:
        name = column
        while name in out.columns:
            name += "_"
        out[name] = changes[column].to_numpy()
    try:
        if str(path).lower().endswith((".parquet", ".pq", ".parq")):
            out.to_parquet(path, index=False)
        else:
            Path(path).write_bytes(csv_bytes(out))
    except OSError as exc:
        raise SpecError(CANNOT_WRITE.format(path=path, reason=exc.strerror or exc)) from exc


TABLES_EPILOG = """\
examples:
  python -m analysis tables hiring.csv --spec hiring-spec.json --format ll144
  python -m analysis tables hiring.csv --spec hiring-spec.json --format ll144 --sex gender --race ethnicity \\
      --json tables.json --csv tables.csv
  python -m analysis tables hiring.csv --spec hiring-spec.json --format four-fifths --json -
  python -m analysis tables scores.csv --spec scores-spec.json --format ll144 --mode scoring

ll144: NYC Local Law 144 bias audit (6 RCNY § 5-301): per category of sex, race/ethnicity and their intersection,
the number of individuals, the selection rate (or, with --mode scoring, the share scoring above the median score),
the impact ratio (÷ the highest category's rate) and the individuals of unknown category; categories under 2% of
their table are left out of the impact ratios (--keep-small keeps them). four-fifths: EEOC four-fifths table
(29 CFR 1607.4(D)): each group's selection rate, the ratio to the highest rate and whether it is below 0.8.
exit codes: 0 ok, 2 bad input or usage.
"""


def _tables_parser(commands: Any) -> None:
    from analysis.bias_tables import FORMATS, MODES

    tables = commands.add_parser(
        "tables",
        help="audit tables in the formats users are asked for (NYC Local Law 144, EEOC four-fifths)",
        description="Audit tables per category of sex, race/ethnicity and their intersection, as a rule asks.",
        epilog=TABLES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tables.add_argument("data", metavar="DATA", help=DATA_HELP)
    tables.add_argument("--spec", metavar="SPEC.json", required=True, help="a saved spec (from the app or 'suggest')")
    tables.add_argument("--format", choices=FORMATS, required=True, help="ll144 or four-fifths")
    tables.add_argument(
        "--sex", metavar="COL", help="the protected column holding sex (default: the one named sex or gender)"
    )
    tables.add_argument(
        "--race", metavar="COL", help="the protected column holding race/ethnicity (default: named race or ethnic…)"
    )
    tables.add_argument(
        "--mode",
        choices=MODES,
        help="selection (a decision) or scoring (a score: the share above the median); default selection when the "
        "spec has a decision, else scoring",
    )
    tables.add_argument(
        "--keep-small",
        action="store_true",
        help="ll144: keep categories under 2%% of their table in the impact ratios (default: left out, as the rule "
        "allows)",
    )
    tables.add_argument("--merge-variants", action="store_true", help=MERGE_VARIANTS_HELP)
    tables.add_argument("--json", metavar="PATH", help="write the tables as JSON to PATH, or - for standard output")
    tables.add_argument(
        "--csv",
        metavar="PATH",
        help="write one row per category (with its table's name) as CSV to PATH, or - for standard output",
    )
    _reading_options(tables)
    _engine_options(tables)


def _share(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.1%}"


def _tables_text(result: Any, name: str, counted: Any = None) -> str:
    """The tables as text: one block per table, then the notes (``counted``: an engine's CountedTable, named)."""
    lines = [f"ParityLab {result.title} of {_plain(name)} ({result.mode} mode; {result.rate_name})"]
    if counted is not None:
        lines.append(f"Counted by {ENGINE_NAMES[counted.engine]}: {counted.rows:,} rows.")
    if result.median_score is not None:
        lines.append(f"Median score of the full sample: {result.median_score:.6g}")
    for table in result.tables.values():
        lines.append("")
        head = f"{_plain(table.name)}  ({table.unknown:,} of unknown category, left out)"
        if result.format == "four-fifths":
            from analysis.bias_tables import table_verdict

            lowest = "undefined" if table.lowest_ratio is None else f"{table.lowest_ratio:.3f}"
            head += f": four-fifths ratio {lowest}, {table_verdict(table, result.threshold)}"
        lines.append(head)
        cells = [("category", "n", "rate", "impact ratio", "note")]
        for r in table.rows:
            ratio = "excluded" if r.excluded else "undefined" if r.impact_ratio is None else f"{r.impact_ratio:.3f}"
            cells.append((_printable(r.category, SHOWN_NAME), f"{r.n:,}", _share(r.rate), ratio, r.note))
        widths = [max(len(row[i]) for row in cells) for i in range(4)]
        for row in cells:
            text = "  ".join(
                c.rjust(w) if 0 < i < 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row[:4], widths, strict=True))
            )
            lines.append(("  " + text + "  " + row[4]).rstrip())
    lines.append("")
    lines += [f"Note: {_plain(note)}" for note in result.notes]
    return "\n".join(lines) + "\n"


def _run_tables(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from analysis.bias_tables import bias_tables
    from analysis.exports import csv_bytes
    from analysis.spec import AuditSpec

    if args.json == "-" and args.csv == "-":
        raise SpecError("--json - and --csv - cannot both write to standard output; give one of them a file path.")
    spec = _with_merge_variants(AuditSpec.load(args.spec), args)
    engine = _engine(args, stderr)
    if engine == "pandas":
        table = _load(args, stderr)
        source, name, sha256 = table.data, table.report.name, table.report.sha256
    else:
        source = _counted(args, engine, spec, stderr)
        name, sha256 = source.name or _source_name(args.data), source.sha256
    _warn_other_data(spec, sha256, name, args.spec, stderr)
    _variant_warnings(source, spec, stderr)
    result = bias_tables(
        source,
        spec,
        format=args.format,
        sex=args.sex,
        race=args.race,
        mode=args.mode,
        exclude_small=not args.keep_small,
    )
    for role, column, chosen in (("sex", result.sex, result.sex_source), ("race", result.race, result.race_source)):
        if chosen == "guessed":
            stderr.write(
                f"note: {role} column {_printable(column)!r}, guessed from its name (--{role} COL to choose)\n"
            )
    if args.csv:
        data = csv_bytes(result.to_frame())
        if args.csv == "-":
            stdout.write(data.decode("utf-8"))
        else:
            try:
                Path(args.csv).write_bytes(data)
            except OSError as exc:
                raise SpecError(CANNOT_WRITE.format(path=args.csv, reason=exc.strerror or exc)) from exc
    if args.json:
        _write(result.to_json(), args.json, stdout)
    if "-" not in (args.json, args.csv):
        stdout.write(_tables_text(result, name, source if engine != "pandas" else None))
    return EXIT_OK


SLICES_EPILOG = """\
examples:
  python -m analysis slices loans.csv --spec loans-spec.json
  python -m analysis slices loans.csv --spec loans-spec.json --metric fnr --max-depth 2 --top-k 10
  python -m analysis slices tickets.csv --spec tickets-spec.json --features language,plan,channel --json slices.json
  python -m analysis slices big.parquet --spec loans-spec.json --engine duckdb --max-depth 2 --json -

A slice is a conjunction of feature values ("region = East and income = <40100"): numbers with many values are
cut into quartiles (protected attributes as the spec bins them), a missing cell is a value of its own, and the
protected attributes are terms too unless --no-protected. Every slice of up to --max-depth terms with at least
--min-support rows is tested against the rest of the data; the q-values are Benjamini-Hochberg over every slice
of the search (the count is said), and only q < --alpha is called significant. A significant slice that holds
far more of one protected group than the data does is said to stand in for it.
exit codes: 0 ok, 2 bad input or usage.
"""
SLICE_ENGINES = ("pandas", "duckdb")
DEEP_SEARCH = (
    "note: --max-depth {depth}: a search of more than 3 terms can take much longer (each term multiplies it).\n"
)
SLICE_NEEDS_LABEL = (
    "{flag} {metric} ({title}) compares decisions with true outcomes, but the spec names no label column. {add}, "
    "or leave out {flag} to search by the favourable rate."
)
ADD_LABEL_TO_SPEC = 'Add "label" and "label_positive" to {spec}'
ADD_LABEL_FLAGS = "Add --label COLUMN --label-positive VALUE"
UNKNOWN_FEATURE = (
    "--features names {column!r}, which is not a column of {name}. Name columns of the data separated by commas, "
    "e.g. --features {example}. Columns: {columns}."
)
NO_FEATURES_GIVEN = "--features expects column names separated by commas, e.g. --features region,channel; got {got!r}."
FEATURES_AND_NO_PROTECTED = (
    "--no-protected leaves the protected attributes out of the spec's features, but --features names the terms "
    "itself; leave out --no-protected (and the protected columns from --features, to leave them out)."
)
BINS_WITHOUT_SLICES = "--slice-bins-from cuts the slice search's numbers: add --slices, or leave it out."
BINS_FROM_UNREADABLE = "{flag} {path}: the file cannot be read as JSON ({why}). Give the JSON a search wrote."
BINS_FROM_NO_SEARCH = (
    "{flag} {path}: the file holds no slice search. Give the JSON of 'slices --json' or of 'audit --slices --json'."
)
SLICES_ON_SPARK = (
    "{flag} runs on the pandas or DuckDB engine, not on Spark; pass --engine duckdb for data beyond memory."
)
SLICES_FOOTNOTE = (
    "Intervals: Wilson for the slice, Newcombe for the difference. folded: slices with one more term that are no "
    "worse than this one (they say nothing it does not), left out of the list."
)
SUPPORT_TOO_HIGH = (
    "note: --min-support {support:,} is more than the {rows:,} rows the {title} counts, so no slice can have it; "
    "lower --min-support (the default here is {default:,}).\n"
)
NO_TERMS = (
    "No column can be a slice term: {why}. Pass --features COL,COL (e.g. --features {example}), or name features "
    "in {spec}."
)
SLICES_KIND = "paritylab slices"
SLICES_SCHEMA_VERSION = 1
SLICE_TEXT_COLUMNS = ("rank", "n", "{what} in the slice", "rest of the data", "difference", "q-value", "folded",
                      "state", "slice")  # fmt: skip
SHOWN_COLUMNS = 12


def _slices_parser(commands: Any) -> None:
    from analysis.metrics import SLICE_METRICS

    slices = commands.add_parser(
        "slices",
        help="find the worst-treated slices nobody named (conjunctions of feature values), with q-values",
        description=(
            "Find the slices of the data (conjunctions of feature values) where the decisions are least "
            "favourable, or with a label where they err most, each tested against the rest of the data."
        ),
        epilog=SLICES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    slices.add_argument("data", metavar="DATA", help=DATA_HELP)
    slices.add_argument("--spec", metavar="SPEC.json", required=True, help="a saved spec (from the app or 'suggest')")
    slices.add_argument(
        "--metric",
        choices=list(SLICE_METRICS),
        default="favorable_rate",
        help="what makes a slice worse: favorable_rate (lower), or with a label fpr, fnr, error_rate (higher); "
        "default favorable_rate",
    )
    _slice_search_options(slices)
    slices.add_argument(
        "--features",
        metavar="COL,COL",
        help="the columns to use as terms, separated by commas (default: the spec's features and protected attributes)",
    )
    slices.add_argument("--no-protected", action="store_true", help="leave the protected attributes out of the terms")
    slices.add_argument(
        "--confidence",
        type=_number(f"{CONFIDENCE:g}", low=0, high=1, open_range=True),
        default=CONFIDENCE,
        help=f"interval coverage (default {CONFIDENCE:g})",
    )
    slices.add_argument("--merge-variants", action="store_true", help=MERGE_VARIANTS_HELP)
    slices.add_argument("--json", metavar="PATH", help="write the JSON result to PATH, or - for standard output")
    _reading_options(slices)
    engine = slices.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=SLICE_ENGINES,
        help="what reads the rows: pandas (into memory, as the app does) or duckdb (out of core: large files, "
        "folders, globs, DuckDB tables); default: pandas for a single file that fits in memory, else duckdb (the "
        "choice and why is said on stderr)",
    )


def _count_type(example: str):
    """An argparse type: a whole number of at least 1 (the message gives ``example``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"expects a whole number of at least 1 such as {example}, got {text!r}")
        return value

    parse.__name__ = "count"
    return parse


def _slice_search_options(parser: Any, prefix: str = "") -> None:
    """--max-depth, --min-support, --top-k, --alpha (``audit --slices`` takes the depth as --slice-depth)."""
    from analysis.options import ALPHA as LEVEL

    if not prefix:
        parser.add_argument(
            "--max-depth", type=_count_type("2"), default=3, metavar="N", help="most terms per slice (default 3)"
        )
    parser.add_argument(
        f"--{prefix}min-support",
        type=_count_type("100"),
        metavar="ROWS",
        help="fewest rows a slice needs (default: 1%% of the rows the metric counts, at least the spec's "
        "min_group_size)",
    )
    parser.add_argument(
        "--bins-from",
        metavar="EARLIER.json",
        help="cut number columns where an earlier search cut them (the JSON of 'slices' or of 'audit --slices'), "
        "so that the slices of both can be compared",
    )
    parser.add_argument(
        f"--{prefix}top-k", type=_count_type("20"), default=20, metavar="K", help="slices reported (default 20)"
    )
    parser.add_argument(
        f"--{prefix}alpha",
        type=_number(f"{LEVEL:g}", low=0, high=1, open_range=True),
        default=LEVEL,
        metavar="A",
        help=f"a slice is significant when its Benjamini-Hochberg q-value is below A (default {LEVEL:g})",
    )


def _bins_from(path: str | None, flag: str) -> dict[str, tuple[float, ...]] | None:
    """The bins of the slice search in a JSON file written by ``slices --json`` or ``audit --slices --json``."""
    if path is None:
        return None
    from analysis.slices import SliceSearch

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SpecError(BINS_FROM_UNREADABLE.format(flag=flag, path=_printable(path), why=exc)) from None
    search = data.get("slices") if isinstance(data, dict) and isinstance(data.get("slices"), dict) else data
    try:
        return SliceSearch.from_dict(search).bins
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SpecError(BINS_FROM_NO_SEARCH.format(flag=flag, path=_printable(path))) from None


def _slice_metric_check(spec: Any, metric: str, flag: str, spec_path: str | None) -> None:
    """An error metric needs the label: said before any row is read (the fix names the spec file, or the flags)."""
    from analysis.metrics import SLICE_METRICS

    info = SLICE_METRICS[metric][0]
    if info.needs_label and spec.label is None:
        add = ADD_LABEL_FLAGS if spec_path is None else ADD_LABEL_TO_SPEC.format(spec=_printable(spec_path))
        raise SpecError(SLICE_NEEDS_LABEL.format(flag=flag, metric=metric, title=info.title, add=add))


def _features(text: str | None) -> list[str] | None:
    if text is None:
        return None
    columns = [c.strip() for c in text.split(",") if c.strip()]
    if not columns:
        raise SpecError(NO_FEATURES_GIVEN.format(got=text))
    return columns


def _check_features(features: Sequence[str] | None, columns: Sequence[str], name: str, spec: Any) -> None:
    """Every --features column is a column of DATA (the message lists the columns there are)."""
    present = [str(c) for c in columns]
    suggested = list(spec.feature_columns(present)) or present
    for column in features or ():
        if column not in present:
            shown = ", ".join(_printable(c) for c in present[:SHOWN_COLUMNS])
            shown += f" and {len(present) - SHOWN_COLUMNS:,} more" if len(present) > SHOWN_COLUMNS else ""
            example = ",".join(_printable(c) for c in suggested[:2]) or "region,channel"
            raise SpecError(
                UNKNOWN_FEATURE.format(column=column, name=_printable(name), example=example, columns=shown)
            )


def _slices_text(search: Any, name: str, rows: int) -> str:
    """The search as text: what was searched, how columns became terms, the slices, what each stands in for."""
    from analysis.tables import slice_table, text_rows

    overall = "undefined" if search.overall is None else f"{search.overall:.3f}"
    lines = [
        f"ParityLab slices of {_printable(name)} ({rows:,} rows; {search.title} over the {search.rows:,} rows it "
        f"counts: {overall})",
        _printable(search.summary()),
        _printable(search.terms_note()),
    ]
    if search.slices:
        table = slice_table(search)
        columns = [c.format(what=search.title) for c in SLICE_TEXT_COLUMNS]
        cells = [columns] + [[_printable(c) for c in row] for row in text_rows(table[columns])]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns) - 1)]
        numeric = range(0, 7)  # rank to folded: right-aligned; the slice last, as long as it is
        lines.append("")
        for row in cells:
            pairs = enumerate(zip(row[:-1], widths, strict=True))
            parts = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in pairs]
            lines.append("  ".join([*parts, row[-1]]))
    standing = [(rank, s) for rank, s in enumerate(search.slices, start=1) if s.significant and s.stands_in_for]
    if standing:
        lines.append("")
        lines.append("Significant slices that stand in for a protected group:")
        lines += [f"  {rank}. {_printable(s.key)}: {_printable(s.stands_in_for.sentence())}." for rank, s in standing]
    lines.append("")
    if search.slices:
        lines.append(SLICES_FOOTNOTE)
    lines.append("Each slice's ratio to the rest and its protected groups' shares are in the --json output.")
    return "\n".join(lines) + "\n"


def _slices_json(search: Any, spec: Any, name: str, rows: int, sha256: str, load: Any) -> str:
    """The search's JSON in the audit's envelope: when, which ParityLab, which data (name, rows, hash), the spec."""
    import json

    from analysis.audit import library_versions, utc_timestamp

    data = {
        "schema_version": SLICES_SCHEMA_VERSION,
        "kind": SLICES_KIND,
        "created_at": utc_timestamp(),
        "versions": library_versions(),
        "dataset": {"name": name, "rows": int(rows), "sha256": sha256},
        "load": None if load is None else load.to_dict(),
        "spec": spec.to_dict(),
    } | search.to_dict()
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _check_terms(spec: Any, columns: Sequence[str], features: Sequence[str] | None, args: argparse.Namespace) -> None:
    """A search with no column to use as a term is refused with the flags that give it some."""
    from analysis.slices import feature_columns

    if features is not None or feature_columns(columns, spec, None, not args.no_protected):
        return
    why = "the spec names no feature column"
    why += ", and --no-protected leaves out the protected attributes" if args.no_protected else ""
    taken = set(spec.role_columns())
    example = ",".join(_printable(c) for c in [str(c) for c in columns if str(c) not in taken][:2]) or "COL,COL"
    raise SpecError(NO_TERMS.format(why=why, example=example, spec=_printable(args.spec)))


def _run_slices(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from analysis.slices import default_min_support, find_slices
    from analysis.spec import AuditSpec

    spec = _with_merge_variants(AuditSpec.load(args.spec), args)
    _slice_metric_check(spec, args.metric, "--metric", args.spec)
    bins = _bins_from(args.bins_from, "--bins-from")  # a bad file fails before the data is read
    features = _features(args.features)
    if features is not None and args.no_protected:
        raise SpecError(FEATURES_AND_NO_PROTECTED)
    args.spark_master = None
    engine = _engine(args, stderr)
    if args.max_depth > 3:
        stderr.write(DEEP_SEARCH.format(depth=args.max_depth))
    if engine == "pandas":
        table = _load(args, stderr)
        source, name, sha256, load, rows = table.data, table.report.name, table.report.sha256, table.report, None
        columns = table.data.columns
    else:
        counted = _counted(args, engine, spec, stderr)  # every row counted: the name, hash and reading notes
        source, name, sha256, load = args.data, counted.name or _source_name(args.data), counted.sha256, counted.load
        columns, rows = counted.columns, counted.rows
    _warn_other_data(spec, sha256, name, args.spec, stderr)
    _check_features(features, columns, name, spec)
    _check_terms(spec, columns, features, args)
    search = find_slices(
        source,
        spec,
        metric=args.metric,
        max_depth=args.max_depth,
        min_support=args.min_support,
        top_k=args.top_k,
        alpha=args.alpha,
        features=features,
        include_protected=not args.no_protected,
        confidence=args.confidence,
        engine=engine,
        na_values=None if engine == "pandas" else args.na_values,
        bins=bins,
        counted=None if engine == "pandas" else counted,
    )
    rows = len(source) if rows is None else rows
    if args.min_support is not None and args.min_support > search.rows:
        default = default_min_support(search.rows, spec)
        stderr.write(SUPPORT_TOO_HIGH.format(support=args.min_support, rows=search.rows, title=search.title,
                                             default=default))  # fmt: skip
    if args.json:
        _write(_slices_json(search, spec, name, rows, sha256, load), args.json, stdout)
    if args.json != "-":
        stdout.write(_slices_text(search, name, rows))
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
    given = sys.argv[1:] if argv is None else list(argv)
    parser.command = next((a for a in given if a in _COMMANDS), None)
    try:
        args = parser.parse_args(argv)
        if args.command == "audit":
            return _run_audit(args, stdout, stderr)
        if args.command == "explain":
            return _run_explain(args, stdout, stderr)
        if args.command == "compare":
            return _run_compare(args, stdout, stderr)
        if args.command == "mitigate":
            return _run_mitigate(args, stdout, stderr)
        if args.command == "tables":
            return _run_tables(args, stdout, stderr)
        if args.command == "slices":
            return _run_slices(args, stdout, stderr)
        return _run_suggest(args, stdout, stderr)
    except ParityLabError as exc:
        stderr.write(f"error: {_cli_text(exc)}\n")
        return EXIT_BAD_INPUT
