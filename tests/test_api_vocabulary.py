"""The API vocabulary of the house (issue 12, docs/architecture.md "API vocabulary").

Argument order ``(framework, observations, units, period, …)`` with the old order
refused, one ``rng`` convention, ``confidence``/``alpha`` names, results objects with
``summary() -> str`` and ``to_frame()``, figure functions that draw on a given axes
and set the report style themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfmodel.errors import OptionError, check_confidence
from perfmodel.evaluation import evaluate_files, read_evaluation_inputs
from perfmodel.framework import load_framework
from perfmodel.privacy import MIN_KEY_BYTES, pseudonymise_inputs
from perfmodel.randomness import as_generator, seed_from
from perfmodel.validation import read_inputs

FRAMEWORK = "station_four_dimension"
UNITS = "unit_id,name,level\nS01,东城所,station\nS02,西城所,station\n"
OBSERVATIONS = "period,unit_id,indicator,value\n2025-04,S01,enforcement_errors,1\n"


@pytest.fixture
def files(tmp_path):
    obs, units = tmp_path / "obs.csv", tmp_path / "units.csv"
    obs.write_text(OBSERVATIONS, encoding="utf-8")
    units.write_text(UNITS, encoding="utf-8")
    return obs, units


def test_read_inputs_takes_framework_first_and_returns_observations_first(files):
    obs, units = files
    obs_result, units_result = read_inputs(FRAMEWORK, obs, units)
    assert set(units_result.data["unit_id"]) == {"S01", "S02"}  # the units table, second
    assert "indicator" in obs_result.data.columns and "indicator" not in units_result.data.columns


@pytest.mark.parametrize("function", [read_inputs, read_evaluation_inputs])
def test_old_argument_order_is_refused_with_the_new_order_in_the_message(files, function):
    obs, units = files
    with pytest.raises(OptionError, match=r"\(framework, observations, units, …\)") as info:
        function(obs, units, FRAMEWORK)
    assert function.__name__ in str(info.value) and "obs.csv" in str(info.value)


def test_evaluate_files_old_order_is_refused(files):
    obs, units = files
    with pytest.raises(OptionError, match="evaluate_files: the framework argument is .*obs.csv"):
        evaluate_files(obs, units, FRAMEWORK, "2025Q2")


@pytest.mark.parametrize("position", [1, 2])
def test_a_framework_in_a_data_position_is_refused(files, position):
    args = [load_framework(FRAMEWORK), *files]
    args[0], args[position] = "station_four_dimension", args[0]
    with pytest.raises(OptionError, match="a Framework, a framework"):
        read_inputs(*args)


def test_a_yaml_path_as_observations_is_refused(files):
    _, units = files
    with pytest.raises(OptionError, match="observations argument is 'fw.yaml', a framework"):
        read_inputs(FRAMEWORK, "fw.yaml", units)


def test_a_table_as_framework_is_refused():
    table = pd.DataFrame({"unit_id": ["S01"]})
    with pytest.raises(OptionError, match="framework argument is a table"):
        read_inputs(table, table, FRAMEWORK)


def test_pseudonymise_inputs_is_keyword_only_and_returns_observations_first():
    units = pd.DataFrame({"unit_id": ["PS1"], "name": ["桥东"]})
    obs = pd.DataFrame({"unit_id": ["PS1"], "value": ["1"]})
    key = b"k" * MIN_KEY_BYTES
    with pytest.raises(TypeError):
        pseudonymise_inputs(units, obs, key)  # type: ignore[misc]
    o, u = pseudonymise_inputs(observations=obs, units=units, key=key)
    assert list(o.columns) == ["unit_id", "value"] and "name" in u.columns
    assert o.loc[0, "unit_id"] == u.loc[0, "unit_id"] != "PS1"


# ----------------------------------------------------------------------------- rng
def _simulated(rng):
    from perfmodel.simulate import simulate

    return (
        simulate([load_framework(FRAMEWORK)], stations=3, months=1, officers_per_station=0, rng=rng, defect_rate=0.0)
        .observations[FRAMEWORK]
        .to_csv(index=False)
        .splitlines()
    )


def _team_interval(rng):
    from perfmodel.monitor.team import team_share_interval

    gen = np.random.default_rng(0)
    panel = pd.DataFrame(
        {
            "station": np.repeat(["a", "b", "c", "d"], 6),
            "officer_id": np.tile(np.repeat(["1", "2", "3"], 2), 4),
            "period": np.tile(["m1", "m2"], 12),
        }
    )
    panel["officer_id"] = panel["station"] + panel["officer_id"]
    panel["credit"] = np.repeat(gen.normal(0, 1, 4), 6) + gen.normal(0, 0.5, 24)
    return team_share_interval(panel, "credit", "station", "officer_id", period="period", n_boot=50, rng=rng)


def _bootstrap_weights(rng):
    from perfmodel.audit.policy import inflated_weight_example, stated_vs_variance_shares

    ev = inflated_weight_example(n_units=20, rng=1)
    return stated_vs_variance_shares(ev, level="source", n_boot=30, rng=rng).to_frame()["ci_low"].to_numpy()


def _synthetic(rng):
    from perfmodel.monitor.targets import load_targets, synthetic_progress

    return synthetic_progress(load_targets(), rng=rng)["value"].to_numpy()


DRAWERS = [_simulated, _team_interval, _bootstrap_weights, _synthetic]


@pytest.mark.parametrize("draw", DRAWERS)
def test_same_int_same_result_and_a_generator_is_accepted(draw):
    first, again = draw(5), draw(5)
    np.testing.assert_equal(np.asarray(first, dtype=object), np.asarray(again, dtype=object))
    from_generator = draw(np.random.default_rng(5))  # accepted; a stream of its own
    assert len(np.asarray(from_generator, dtype=object)) == len(np.asarray(first, dtype=object))


@pytest.mark.parametrize("draw", DRAWERS)
@pytest.mark.parametrize("bad", [1.5, "1", -1, True, np.random.RandomState(0)])
def test_a_bad_rng_is_an_option_error(draw, bad):
    with pytest.raises(OptionError, match="rng="):
        draw(bad)


def test_as_generator_passes_a_generator_through_and_seeds_an_int():
    gen = np.random.default_rng(1)
    assert as_generator(gen) is gen
    assert as_generator(7).random() == np.random.default_rng(7).random()
    assert seed_from(11) == 11 and 0 <= seed_from(np.random.default_rng(2)) < 2**32


def test_old_keyword_names_still_work_with_a_deprecation_warning():
    from perfmodel.audit.policy import inflated_weight_example, weight_policy

    ev = inflated_weight_example(n_units=20, rng=1)
    with pytest.warns(DeprecationWarning, match=r"weight_policy\(seed=…\) is deprecated; use rng="):
        old = weight_policy(ev, n_boot=20, seed=3, lang="en").to_frame()
    pd.testing.assert_frame_equal(old, weight_policy(ev, n_boot=20, rng=3, lang="en").to_frame())
    with pytest.raises(TypeError, match="both seed="):
        weight_policy(ev, n_boot=20, seed=3, rng=3)


# ----------------------------------------------------------------------------- confidence / alpha
@pytest.mark.parametrize("bad", [0, 1, 95, -0.1, "0.95", True])
def test_confidence_outside_0_1_is_an_option_error(bad):
    with pytest.raises(OptionError, match="strictly between 0 and 1"):
        check_confidence(bad)


def test_confidence_sets_the_interval_width():
    from perfmodel.audit._frame import t_interval

    lo90, hi90 = t_interval(10.0, 2.0, 5, confidence=0.90)
    lo95, hi95 = t_interval(10.0, 2.0, 5)  # house default 0.95
    # hand computed: t(4) quantiles 2.131847 (0.95) and 2.776445 (0.975); sd/sqrt(n) = 0.894427
    assert hi90 - 10.0 == pytest.approx(2.131847 * 0.894427, rel=1e-5)
    assert hi95 - 10.0 == pytest.approx(2.776445 * 0.894427, rel=1e-5)
    assert lo95 < lo90 < 10.0 < hi90 < hi95


def test_no_public_signature_uses_level_ci_or_q_level_for_a_probability():
    """A coverage is 'confidence', a significance 'alpha' and randomness 'rng', in every module."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "perfmodel"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                positional = node.args.posonlyargs + node.args.args
                args = positional + node.args.kwonlyargs
                defaults = [None] * (len(positional) - len(node.args.defaults)) + node.args.defaults
                defaults += node.args.kw_defaults
                for arg, default in zip(args, defaults, strict=True):
                    probability = isinstance(default, ast.Constant) and isinstance(default.value, float)
                    if arg.arg in {"level", "ci", "q_level", "levels", "seed"} and (probability or arg.arg == "seed"):
                        found.append(f"{path.relative_to(root)}:{node.lineno} {node.name}({arg.arg}=)")
    assert not found, found


# ----------------------------------------------------------------------------- results objects
SPLIT_MODULES = (
    "design/gaming.py",
    "design/simulate_gaming.py",
    "audit/fairness.py",
    "calibrate/pipeline.py",
    "calibrate/difficulty.py",
    "monitor/series.py",
    "monitor/warnings.py",
)


def test_every_results_class_has_summary_str_and_to_frame():
    """A class with summary() or tables() returns text from summary() and has to_frame()."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "perfmodel"
    problems = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).as_posix().endswith(SPLIT_MODULES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
            if not ({"summary", "tables"} & set(methods)):
                continue
            where = f"{path.relative_to(root)}::{node.name}"
            summary = methods.get("summary")
            if summary is None or ast.unparse(summary.returns or ast.Constant(None)) != "str":
                problems.append(f"{where}: summary() -> str missing")
            if "to_frame" not in methods:
                problems.append(f"{where}: to_frame() missing")
    assert not problems, problems


@pytest.fixture(scope="module")
def small_evaluation(tmp_path_factory):
    from perfmodel.simulate import generate_sample

    folder = tmp_path_factory.mktemp("sample")
    paths = generate_sample(folder, stations=12, months=6, rng=4, start="2025-01", frameworks=[FRAMEWORK])
    return evaluate_files(FRAMEWORK, paths["station_observations"], paths["units"], "2025Q2")


def test_evaluation_summary_is_text_and_key_figures_the_dict(small_evaluation):
    ev = small_evaluation
    figures = ev.key_figures()
    text = ev.summary()
    assert isinstance(text, str) and text.startswith(f"Evaluation {FRAMEWORK} {figures['period']}")
    assert f"scored {figures['scored']}" in text
    assert sum(figures["grades"].values()) == figures["scored"] <= figures["units"] == 12
    pd.testing.assert_frame_equal(ev.to_frame(), ev.scores)
    assert ev.to_frame() is not ev.scores  # a copy: editing it leaves the evaluation alone
    assert set(ev.tables()) == {"scores", "grade_counts", "quarantine"}
    assert int(ev.tables()["grade_counts"].to_numpy().sum()) == figures["units"]


def test_validation_result_summary_counts_every_row(files):
    obs, units = files
    obs.write_text(
        OBSERVATIONS + "2025-13,S01,enforcement_errors,1\n2025-04,S09,enforcement_errors,1\n", encoding="utf-8"
    )
    obs_result, _ = read_inputs(FRAMEWORK, obs, units)
    text = obs_result.summary()
    assert "3 rows read, 1 accepted, 2 quarantined" in text
    table = obs_result.to_frame()
    assert table["n"].sum() == 2 and set(table["reason"]) == {"bad_period", "unknown_unit"}
    assert all(f"{r.reason}: {r.n}" in text for r in table.itertuples())
    assert set(obs_result.tables()) == {"data", "quarantine", "reasons"}


# ----------------------------------------------------------------------------- figure functions
FIGURE_MODULES = [
    "perfmodel.report.quarterly",
    "perfmodel.report.calibration",
    "perfmodel.audit.robustness",
    "perfmodel.audit.policy",
    "perfmodel.design.compare",
    "perfmodel.design.redundancy",
    "perfmodel.design.sensitivity",
    "perfmodel.monitor.cockpit",
    "perfmodel.monitor.targets",
    "perfmodel.monitor.training",
    "perfmodel.monitor.deployment",
    "perfmodel.monitor.trends",
    "perfmodel.monitor.team",
]


def _figure_functions():
    import importlib
    import inspect

    for module_name in FIGURE_MODULES:
        module = importlib.import_module(module_name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("figure_") and function.__module__ == module_name:
                yield f"{module_name}.{name}", function


def test_every_figure_function_takes_ax_or_fig_and_lang_by_keyword():
    import inspect

    seen = 0
    for where, function in _figure_functions():
        seen += 1
        params = inspect.signature(function).parameters
        target = "ax" if "ax" in params else "fig"
        assert params[target].kind is inspect.Parameter.KEYWORD_ONLY and params[target].default is None, where
        assert params["lang"].kind is inspect.Parameter.KEYWORD_ONLY, where
        expected = "Axes" if target == "ax" else "Figure"
        assert inspect.signature(function).return_annotation == expected, where
    assert seen >= 29


FRESH_PROCESS = r"""
import json, warnings
import matplotlib
matplotlib.use("Agg")
import pandas as pd
from perfmodel.audit.policy import figure_weights

warnings.simplefilter("error")  # a missing glyph warns; here it fails
table = pd.DataFrame({"name": ["案件办理", "群众评价"], "stated": [0.6, 0.4], "estimate": [0.3, 0.7],
                      "ci_low": [0.2, 0.6], "ci_high": [0.4, 0.8], "flagged": [True, True],
                      "level": ["source", "source"]})
ax = figure_weights(table, lang="zh")
ax.figure.canvas.draw()
texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_yticklabels()]
print(json.dumps({"fonts": sorted({t.get_fontname() for t in texts}),
                  "strings": [t.get_text() for t in texts]}))
"""


def test_a_figure_function_in_a_fresh_process_draws_chinese_with_the_bundled_font():
    """No apply_report_style() first: the figure function applies it itself."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from perfmodel.report.fonts import CJK_FONT_FAMILY

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], capture_output=True, text=True, env=env, check=False, timeout=120
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["fonts"] == [CJK_FONT_FAMILY]
    assert "名义权重与实际权重(红色:相差悬殊)" in result["strings"] and "案件办理" in result["strings"]


def test_a_figure_function_draws_on_the_given_axes_and_makes_no_figure():
    import matplotlib.pyplot as plt

    from perfmodel.audit.policy import figure_weights

    table = pd.DataFrame(
        {
            "name": ["a", "b"],
            "stated": [0.5, 0.5],
            "estimate": [0.4, 0.6],
            "ci_low": [np.nan] * 2,
            "ci_high": [np.nan] * 2,
            "flagged": [False, False],
            "level": ["indicator"] * 2,
        }
    )
    fig, (left, right) = plt.subplots(1, 2)
    before = plt.get_fignums()
    returned = figure_weights(table, ax=right, lang="en")
    assert returned is right and plt.get_fignums() == before
    assert len(right.patches) == 4 and not left.patches  # two pairs of bars, all on the right
    plt.close(fig)


def test_several_axes_functions_draw_on_the_given_figure():
    import matplotlib.pyplot as plt

    from perfmodel.report.calibration import figure_truth_comparison

    truth = pd.Series([1.0, 2.0, 3.0], index=["u1", "u2", "u3"])
    scores = {"none": truth * 2, "full": truth + 1}
    fig = plt.figure()
    before = plt.get_fignums()
    returned = figure_truth_comparison(scores, truth, fig=fig, lang="en")
    assert returned is fig and plt.get_fignums() == before and len(fig.axes) == 2
    plt.close(fig)


def test_save_figure_takes_the_axes_a_figure_function_returns(tmp_path):
    import matplotlib.pyplot as plt

    from perfmodel.report.style import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set(title="t", xlabel="x", ylabel="y")
    path = save_figure(ax, tmp_path / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)


# ----------------------------------------------------------------------------- command line
def test_calibration_modes_have_one_home_and_the_cli_offers_them():
    from perfmodel import cli
    from perfmodel.evaluation import CALIBRATION_MODES

    assert not hasattr(cli, "CALIBRATION_MODES")
    score = cli.build_parser()._subparsers._group_actions[0].choices["score"]
    option = next(a for a in score._actions if "--calibration" in a.option_strings)
    assert tuple(option.choices) == CALIBRATION_MODES == ("none", "casemix", "full")


@pytest.mark.parametrize("flag", ["--alpha", "--q-level"])
def test_gaming_lab_takes_alpha_and_still_the_old_q_level(flag):
    from perfmodel import cli

    args = cli.build_parser().parse_args(
        [
            "lab",
            "gaming",
            "--observations",
            "o.csv",
            "--units",
            "u.csv",
            "--framework",
            FRAMEWORK,
            "--period",
            "2025",
            "--out",
            "x",
            flag,
            "0.05",
        ]
    )
    assert args.alpha == 0.05


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_an_int_rng_is_its_own_seed(seed: int) -> None:
    """Results for rng=int are those of the former seed=int (analyses that hand a seed on)."""
    assert seed_from(seed) == seed and seed_from(np.int64(seed)) == seed


def test_seed_from_a_generator_is_its_next_draw() -> None:
    generator, twin = np.random.default_rng(11), np.random.default_rng(11)
    assert seed_from(generator) == int(twin.integers(0, 2**32))
    assert seed_from(generator) == int(twin.integers(0, 2**32)), "the generator moves on"
