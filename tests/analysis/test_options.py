"""One default per option, and one shape of option error: the checks of analysis.options, and the library
signatures and the CLI's defaults read from its constants."""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pytest

from analysis import ParityLabError, SpecError
from analysis.audit import AuditOptions, audit
from analysis.cli import _parser
from analysis.compare import compare_audits
from analysis.errors import OptionError
from analysis.explain import explain
from analysis.mitigate import mitigate
from analysis.mitigation import compare_mitigations, model_scores
from analysis.optimizer import CONSTRAINTS, optimize
from analysis.options import (
    ALPHA,
    COMPARE_TOLERANCE,
    CONFIDENCE,
    DEFAULT_TOLERANCE,
    FOUR_FIFTHS,
    GAP_THRESHOLD,
    MIN_CELL_SIZE,
    MIN_GROUP_SIZE,
    POWER,
    SAMPLE_SIZE,
    SEED,
    TEST_SIZE,
    check_choice,
    check_costs,
    check_flag,
    check_fraction,
    check_number,
    check_whole,
    default_tolerance,
)
from analysis.spec import AuditSpec
from analysis.stats import minimum_detectable_difference, z_value


def refused(check, *args, **kwargs) -> OptionError:
    with pytest.raises(OptionError) as caught:
        check(*args, **kwargs)
    return caught.value


# --- the checks -------------------------------------------------------------------------------------------------


def test_a_fraction_outside_0_1_is_refused_with_expected_got_and_fix():
    error = refused(check_fraction, "audit()", "di_threshold", 1.5, "Use e.g. di_threshold=0.8 (the four-fifths rule).")
    assert str(error) == (
        "audit() option di_threshold must be a number strictly between 0 and 1, got 1.5. "
        "Use e.g. di_threshold=0.8 (the four-fifths rule)."
    )
    assert isinstance(error, ParityLabError) and isinstance(error, SpecError) and isinstance(error, ValueError)
    assert error.option == "di_threshold"


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, math.nan, math.inf, True, "0.5", None])
def test_check_fraction_refuses_every_value_not_strictly_between_0_and_1(bad):
    error = refused(check_fraction, "z_value()", "confidence", bad, "Use e.g. confidence=0.95.")
    assert f"got {bad!r}." in str(error)


@pytest.mark.parametrize("good", [0.5, 1e-9, 0.999, np.float64(0.3), np.float32(0.25)])
def test_check_fraction_accepts_fractions_including_numpy_scalars(good):
    assert check_fraction("z_value()", "confidence", good, "") is None


def test_check_number_words_its_range():
    low_only = refused(check_number, "optimize()", "tolerance", -0.1, low=0, fix="Use e.g. tolerance=0.05.")
    assert (
        str(low_only) == "optimize() option tolerance must be a finite number ≥ 0, got -0.1. Use e.g. tolerance=0.05."
    )
    half_open = refused(
        check_number, "compare_audits()", "tolerance", 1.0, low=0, high=1, fix="Use e.g. tolerance=0.02."
    )
    assert "must be a number in [0, 1), got 1.0. Use e.g. tolerance=0.02." in str(half_open)
    closed = refused(check_number, "f()", "x", 3, low=1, high=2, high_open=False, fix="")
    assert str(closed) == "f() option x must be a number in [1, 2], got 3."
    assert check_number("f()", "x", 2, low=1, high=2, high_open=False, fix="") is None
    assert check_number("f()", "x", 0, low=0, fix="") is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, True, "1", None, np.bool_(True)])
def test_check_number_refuses_what_is_not_a_finite_number(bad):
    error = refused(check_number, "optimize()", "tolerance", bad, low=0, fix="Use e.g. tolerance=0.05.")
    assert str(error).endswith(f"got {bad!r}. Use e.g. tolerance=0.05.")


def test_check_whole_refuses_fractions_bools_and_small_numbers():
    for bad in (0, 2.0, 2.5, True, "3", -1):
        error = refused(check_whole, "model_scores()", "folds", bad, 2, "Use e.g. folds=5.")
        assert (
            str(error)
            == f"model_scores() option folds must be a whole number of at least 2, got {bad!r}. Use e.g. folds=5."
        )
    assert check_whole("model_scores()", "folds", np.int64(3), 2, "") is None
    assert check_whole("explain()", "random_state", 0, 0, "") is None


def test_check_choice_lists_the_choices_and_suggests_the_first():
    error = refused(check_choice, "optimize()", "constraint", "parity", CONSTRAINTS)
    assert str(error) == (
        f"optimize() option constraint must be one of {list(CONSTRAINTS)}, got 'parity'. "
        "Use e.g. constraint='demographic_parity'."
    )
    assert "got 3." in str(refused(check_choice, "f()", "objective", 3, ("accuracy",)))
    assert check_choice("optimize()", "constraint", "four_fifths", CONSTRAINTS) is None


def test_check_flag_wants_a_bool():
    error = refused(check_flag, "explain()", "include_protected", 1)
    assert str(error) == (
        "explain() option include_protected must be True or False, got 1. "
        "Use include_protected=True or include_protected=False."
    )
    assert check_flag("explain()", "include_protected", False) is None


@pytest.mark.parametrize(("name", "value"), [("cost_fp", -1.0), ("benefit_tp", math.nan), ("cost_fp", "5")])
def test_check_costs_names_the_cost_and_explains_it(name, value):
    costs = {"cost_fp": 1.0, "benefit_tp": 1.0} | {name: value}
    error = refused(check_costs, "what_if()", costs["cost_fp"], costs["benefit_tp"])
    message = str(error)
    assert message.startswith(f"what_if() option {name} must be a finite number ≥ 0, got {value!r}.")
    assert "cost of a false positive / the benefit of a true positive" in message


def test_an_option_error_survives_pickling_with_its_option():
    error = refused(check_whole, "explain()", "sample_size", 0, 1, "Use e.g. sample_size=5000.")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is OptionError and str(copy) == str(error) and copy.option == "sample_size"


def test_default_tolerance_is_0_for_four_fifths_and_the_common_default_otherwise():
    assert default_tolerance("four_fifths") == 0.0
    assert {default_tolerance(c) for c in CONSTRAINTS if c != "four_fifths"} == {DEFAULT_TOLERANCE} == {0.05}


# --- the engine's checks are these checks --------------------------------------------------------------------


def _tiny():
    import pandas as pd

    df = pd.DataFrame({"d": ["Y", "N"] * 20, "g": ["a"] * 20 + ["b"] * 20, "s": np.linspace(0, 1, 40)})
    return df, AuditSpec(decision="d", positive=("Y",), protected=("g",), score="s", min_group_size=10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda df, spec: audit(df, spec, di_threshold=1.5), "audit() option di_threshold must be a number strictly"),
        (lambda df, spec: AuditOptions(min_group_size=0), "audit() option min_group_size must be a whole number"),
        (lambda df, spec: explain(df, spec, sample_size=0), "explain() option sample_size must be a whole number"),
        (lambda df, spec: explain(df, spec, include_protected="yes"), "explain() option include_protected must be"),
        (lambda df, spec: model_scores(df, spec, folds=1), "model_scores() option folds must be a whole number"),
        (lambda df, spec: compare_mitigations(df, spec, test_size=1.0), "compare_mitigations() option test_size"),
        (lambda df, spec: compare_mitigations(df, spec, objective="x"), "compare_mitigations() option objective"),
        (lambda df, spec: mitigate(df, spec, cost_fp=-1), "mitigate() option cost_fp must be a finite number ≥ 0"),
        (lambda df, spec: z_value(95), "z_value() option confidence must be a number strictly between 0 and 1"),
        (
            lambda df, spec: minimum_detectable_difference(1, 1, 0.5, power=80),
            "minimum_detectable_difference() option power",
        ),
    ],
)
def test_every_engine_option_check_raises_an_option_error_in_the_common_shape(call, message):
    df, spec = _tiny()
    with pytest.raises(OptionError) as caught:
        call(df, spec)
    assert str(caught.value).startswith(message)
    assert ", got " in str(caught.value) and "Use " in str(caught.value)


# --- one default: the library's signatures and the CLI -------------------------------------------------------


def defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items() if p.default is not p.empty}


def test_the_library_signatures_default_to_the_constants():
    assert {k: defaults(audit)[k] for k in ("confidence", "di_threshold", "gap_threshold", "min_cell_size")} == {
        "confidence": CONFIDENCE,
        "di_threshold": FOUR_FIFTHS,
        "gap_threshold": GAP_THRESHOLD,
        "min_cell_size": MIN_CELL_SIZE,
    }
    options = AuditOptions()
    assert (options.confidence, options.di_threshold, options.gap_threshold) == (CONFIDENCE, FOUR_FIFTHS, GAP_THRESHOLD)
    assert (options.min_group_size, options.min_cell_size, options.alpha, options.power) == (
        MIN_GROUP_SIZE,
        MIN_CELL_SIZE,
        ALPHA,
        POWER,
    )
    assert AuditSpec(decision="d").min_group_size == MIN_GROUP_SIZE
    assert defaults(optimize)["tolerance"] is None and defaults(mitigate)["tolerance"] is None
    assert defaults(compare_mitigations)["tolerance"] is None
    assert (defaults(compare_mitigations)["test_size"], defaults(compare_mitigations)["random_state"]) == (
        TEST_SIZE,
        SEED,
    )
    assert defaults(mitigate)["random_state"] == SEED == defaults(model_scores)["random_state"]
    assert (defaults(compare_audits)["tolerance"], defaults(compare_audits)["alpha"]) == (COMPARE_TOLERANCE, ALPHA)
    assert (defaults(explain)["sample_size"], defaults(explain)["random_state"]) == (SAMPLE_SIZE, SEED)
    assert defaults(z_value) == {} and defaults(minimum_detectable_difference) == {"alpha": ALPHA, "power": POWER}


def test_optimize_defaults_to_the_constraints_default_tolerance():
    from analysis.thresholds import threshold_curves

    df, spec = _tiny()
    curves = threshold_curves(df, spec)
    assert optimize(curves, constraint="demographic_parity", objective="selection_rate").tolerance == DEFAULT_TOLERANCE
    assert optimize(curves, constraint="four_fifths", objective="selection_rate").tolerance == 0.0


def _cli_defaults(*argv: str) -> dict:
    return vars(_parser().parse_args(list(argv)))


def test_the_cli_defaults_are_the_constants():
    assert _cli_defaults("audit", "x.csv")["confidence"] == CONFIDENCE
    explain_args = _cli_defaults("explain", "x.csv", "--spec", "s.json")
    assert (explain_args["sample_size"], explain_args["seed"]) == (SAMPLE_SIZE, SEED)
    compare_args = _cli_defaults("compare", "a.json", "b.json")
    assert (compare_args["tolerance"], compare_args["alpha"], compare_args["di_tolerance"]) == (
        COMPARE_TOLERANCE,
        ALPHA,
        None,
    )
    mitigate_args = _cli_defaults("mitigate", "x.csv", "--spec", "s.json")
    assert (mitigate_args["tolerance"], mitigate_args["seed"]) == (None, SEED)  # None: the constraint's default


def test_the_cli_help_states_the_constants():
    helps = {}
    for action in _parser()._subparsers._group_actions[0].choices.items():
        name, sub = action
        helps |= {(name, a.dest): a.help or "" for a in sub._actions}
    assert f"default {CONFIDENCE:g}" in helps["audit", "confidence"]
    assert f"default {SAMPLE_SIZE}" in helps["explain", "sample_size"]
    assert f"default {COMPARE_TOLERANCE:g}" in helps["compare", "tolerance"]
    assert f"default {ALPHA:g}" in helps["compare", "alpha"]
    assert f"default {DEFAULT_TOLERANCE:g}" in helps["mitigate", "tolerance"]
    assert f">= {FOUR_FIFTHS:g} - T, default {default_tolerance('four_fifths'):g}" in helps["mitigate", "tolerance"]
