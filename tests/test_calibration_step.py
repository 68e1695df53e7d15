"""The calibration step: case-mix per indicator family, shrinkage, raters, stages and logs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfmodel.calibrate.step import (
    CASEMIX_COLUMNS,
    calibrate,
    calibrate_values,
    indicator_family,
)
from perfmodel.evaluation import evaluate
from perfmodel.framework import framework_from_dict

MONTHS = ("2025-04", "2025-05", "2025-06")


def make_framework(difficulty=None, **calibration):
    spec = {
        "id": "calib_test",
        "name": {"zh": "校准", "en": "Calibration"},
        "level": "station",
        "normalisation": {"method": "minmax"},
        "calibration": {"covariates": ["log_workload", "area_type"], **calibration},
        "tree": [
            {
                "id": "all",
                "name": {"zh": "全部", "en": "All"},
                "weight": 1.0,
                "children": [
                    {
                        "id": "clear",
                        "name": {"zh": "破案率", "en": "Clearance"},
                        "weight": 0.3,
                        "kind": "rate",
                        "range": [0, 1],
                    },
                    {
                        "id": "cases",
                        "name": {"zh": "发案", "en": "Cases"},
                        "weight": 0.2,
                        "kind": "count",
                        "direction": "lower",
                        "denominator": "population",
                        "per": 10000,
                    },
                    {
                        "id": "minutes",
                        "name": {"zh": "时长", "en": "Minutes"},
                        "weight": 0.2,
                        "kind": "duration",
                        "direction": "lower",
                    },
                    {
                        "id": "leader",
                        "name": {"zh": "上级", "en": "Leader"},
                        "weight": 0.2,
                        "kind": "score",
                        "source": "supervisor",
                        "range": [0, 100],
                    },
                    {
                        "id": "roving",
                        "name": {"zh": "流窜", "en": "Roving"},
                        "weight": 0.1,
                        "kind": "rate",
                        "range": [0, 1],
                        "preventable": False,
                    },
                ],
            }
        ],
    }
    if difficulty is not None:
        spec["difficulty"] = difficulty
    return framework_from_dict(spec, source="test")


def make_data(seed: int = 0, n: int = 48, context: float = 1.0, performance: float = 1.0):
    """Stations with planted performance (``perf``) and context effects of strength ``context``."""
    rng = np.random.default_rng(seed)
    area = rng.choice(np.array(["城区核心", "城乡结合部", "农村"], dtype=object), n)
    population = np.round(rng.lognormal(np.log(30_000), 0.5, n), -2)
    officers = rng.integers(8, 30, n)
    incidents = np.round(officers * rng.lognormal(np.log(12), 0.4, n))
    lw = np.log(incidents / officers)
    z = (lw - lw.mean()) / lw.std()
    fringe = (area == "城乡结合部").astype(float)
    perf = rng.normal(0, 1, n) * performance
    ctx = context * (-0.8 * z - 0.6 * fringe)
    units = pd.DataFrame(
        {
            "unit_id": [f"S{i:02d}" for i in range(n)],
            "name": [f"站{i}" for i in range(n)],
            "level": "station",
            "station_class": np.where(population > 30_000, "一类", "二类"),
            "area_type": area,
            "population": population,
            "incident_volume": incidents,
            "officers": officers,
        }
    )
    rows = []
    raters = [f"L{j}" for j in range(8)]
    leniency = np.linspace(-8, 8, 8)
    for month in MONTHS:
        den = rng.poisson(np.maximum(incidents * 0.15, 2)) + 1
        p = 1 / (1 + np.exp(-(1.0 + 0.6 * perf + 0.6 * ctx)))
        num = rng.binomial(den, p)
        rov_n = rng.poisson(6, n) + 1
        rov = rng.binomial(rov_n, 1 / (1 + np.exp(-(-0.5 + 0.8 * ctx))))
        cases = rng.poisson(population / 10_000 * 5 * np.exp(-0.3 * perf - 0.5 * ctx))
        minutes = rng.gamma(20.0, 15 * np.exp(-0.2 * perf - 0.3 * ctx) / 20.0)
        for i in range(n):
            uid = units.at[i, "unit_id"]
            rows += [
                (month, uid, "clear", num[i] / den[i], num[i], den[i], None),
                (month, uid, "roving", rov[i] / rov_n[i], rov[i], rov_n[i], None),
                (month, uid, "cases", float(cases[i]), np.nan, np.nan, None),
                (month, uid, "minutes", float(minutes[i]), np.nan, np.nan, None),
            ]
            for j in rng.choice(8, 2, replace=False):
                rows.append(
                    (
                        month,
                        uid,
                        "leader",
                        float(70 + 6 * perf[i] + 3 * ctx[i] + leniency[j] + rng.normal(0, 2)),
                        np.nan,
                        np.nan,
                        raters[j],
                    )
                )
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs[["numerator", "denominator"]] = obs[["numerator", "denominator"]].astype(float)
    return units, obs, pd.Series(perf, index=units["unit_id"]), pd.Series(leniency, index=raters)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def full_ev(data):
    units, obs, _, _ = data
    return evaluate(make_framework(), obs, units, "2025Q2", compare_previous=False, calibration="full")


def test_families_follow_the_indicator_kind(full_ev):
    models = full_ev.stages["casemix_models"].set_index("indicator")
    assert models["family"].to_dict() == {
        "clear": "binomial",
        "cases": "poisson",
        "minutes": "gamma",
        "leader": "gaussian",
        "roving": "binomial",
    }
    assert models.loc["cases", "exposure"] == "population"
    assert models.loc["clear", "adjusted_scale"] == "logit"
    assert models["summary"].str.contains("Generalized Linear Model").all()
    assert models.loc["roving", "preventable"] is False or models.loc["roving", "preventable"] == 0


def test_stages_and_values_keep_the_shape(full_ev):
    treated, calibrated = full_ev.stages["treated"], full_ev.stages["calibrated"]
    assert calibrated.index.equals(treated.index) and list(calibrated.columns) == list(treated.columns)
    casemix = full_ev.stages["casemix"]
    assert list(casemix.columns) == CASEMIX_COLUMNS
    assert len(casemix) == 5 * len(treated)
    for key in ("shrinkage", "rater_effects", "reliability", "calibration_log", "casemix_coefficients"):
        assert len(full_ev.stages[key]) > 0, key


def test_context_is_removed_and_performance_kept(data, full_ev):
    _, _, perf, _ = data
    cm = full_ev.stages["casemix"]
    units = full_ev.units.set_index("unit_id")
    lw = np.log(units["incident_volume"] / units["officers"])
    for indicator, sign in (("clear", 1), ("cases", -1), ("minutes", -1), ("leader", 1)):
        sub = cm[cm.indicator == indicator].set_index("unit_id")
        raw_ctx = abs(stats.spearmanr(sub["observed"], lw[sub.index]).statistic)
        adj_ctx = abs(stats.spearmanr(sub["adjusted"], lw[sub.index]).statistic)
        assert adj_ctx < raw_ctx, indicator
        raw_perf = stats.spearmanr(sign * sub["observed"], perf[sub.index]).statistic
        adj_perf = stats.spearmanr(sign * sub["adjusted"], perf[sub.index]).statistic
        assert adj_perf > raw_perf, indicator


def test_gaussian_adjustment_by_hand(data):
    units, obs, _, _ = data
    fw = make_framework()
    values = obs[obs.indicator == "minutes"].groupby("unit_id")["value"].mean().to_frame("leader")
    values["leader"] = values["leader"] * 3  # any numbers: a gaussian model on a score column
    result = calibrate_values(fw, values, units, covariates=["log_workload", "area_type"])
    u = units.set_index("unit_id").loc[values.index]
    x = np.column_stack(
        [
            np.ones(len(u)),
            (u["area_type"] == "城区核心").astype(float),
            (u["area_type"] == "城乡结合部").astype(float),
            np.log(u["incident_volume"] / u["officers"]),
        ]
    )
    x = x[:, x.any(axis=0)]
    y = values["leader"].to_numpy()
    fitted = x @ np.linalg.lstsq(x, y, rcond=None)[0]
    expected = y - fitted + y.mean()
    assert result.values["leader"].to_numpy() == pytest.approx(expected, rel=1e-8)


def test_exact_multiplicative_context_is_removed_completely():
    # counts exactly proportional to exposure x workload^1.5: nothing left after adjustment
    rng = np.random.default_rng(4)
    n = 30
    units = pd.DataFrame(
        {
            "unit_id": [f"S{i}" for i in range(n)],
            "population": rng.uniform(1e4, 9e4, n),
            "incident_volume": rng.uniform(100, 900, n),
            "officers": rng.integers(5, 30, n),
            "area_type": "农村",
        }
    )
    wl = units["incident_volume"] / units["officers"]
    jitter = np.exp(rng.normal(0, 1e-4, (n, 2)))  # a perfect fit would be flagged by statsmodels
    values = pd.DataFrame({"cases": (5.0 * wl**1.5).to_numpy() * 1e-2 * jitter[:, 0]}, index=units["unit_id"])
    values["minutes"] = (20 * wl**0.5).to_numpy() * jitter[:, 1]
    fw = make_framework()
    result = calibrate_values(fw, values, units, covariates=["log_workload"])
    for column in ("cases", "minutes"):
        adjusted = result.values[column]
        assert adjusted.std() / adjusted.mean() < 1e-3, column
        assert values[column].std() / values[column].mean() > 0.2, column


def test_nothing_is_skipped_silently(data):
    units, obs, _, _ = data
    fw = make_framework(exclude=["minutes"])
    values = obs.groupby(["unit_id", "indicator"])["value"].mean().unstack()
    values["leader"] = 70.0  # no variation
    units = units.copy()
    units.loc[0, "officers"] = np.nan  # no workload for one station
    result = calibrate_values(fw, values, units, nonpreventable="exclude")
    log = result.log

    def entry(indicator, action):
        rows = log[(log.indicator == indicator) & (log.action == action)]
        assert len(rows) == 1, (indicator, action)
        return rows.iloc[0]

    entry("minutes", "excluded")
    assert result.values["minutes"].equals(values["minutes"].astype(float))
    assert "same value" in entry("leader", "skipped")["reason"]
    assert result.values["roving"].isna().all()
    assert "preventable" in entry("roving", "excluded")["reason"]
    partial = result.log[(result.log.indicator == "clear") & (result.log.action == "partial")]
    assert len(partial) == 1 and partial["n_units"].iloc[0] == 1
    assert result.values.loc["S00", "clear"] == values.loc["S00", "clear"]
    few = calibrate_values(fw, values.iloc[:8], units, min_units=10).log
    skipped = few[(few.indicator == "clear") & (few.action == "skipped")]
    assert len(skipped) == 1 and "at least 10" in skipped["reason"].iloc[0]


def test_shrinkage_pulls_small_stations_most(full_ev):
    shrink = full_ev.stages["shrinkage"]
    clear = shrink[shrink.indicator == "clear"]
    assert clear["reliability"].between(0, 1).all()
    lo = np.minimum(clear["raw"], clear["prior_mean"]) - 1e-12
    hi = np.maximum(clear["raw"], clear["prior_mean"]) + 1e-12
    assert clear["shrunk"].between(lo, hi).all()
    assert stats.spearmanr(clear["denominator"], clear["reliability"]).statistic > 0.9
    # the shrunk value is what the evaluation normalises
    calibrated = full_ev.stages["calibrated"]["clear"]
    assert calibrated[clear["unit_id"]].to_numpy() == pytest.approx(clear["shrunk"].to_numpy())


def test_rater_leniency_is_removed_in_full_mode(data, full_ev):
    _, _, _, leniency = data
    effects = full_ev.stages["rater_effects"].set_index("rater_id")["effect"]
    assert stats.pearsonr(effects, leniency[effects.index]).statistic > 0.9
    reliability = full_ev.stages["reliability"]
    measures = set(reliability[reliability.indicator == "leader"]["measure"])
    assert {"icc_agreement", "icc_consistency", "icc_agreement_k", "krippendorff_alpha"} <= measures
    assert "shrinkage_reliability_median" in set(reliability["measure"])


def test_reliability_table_says_each_measure_in_the_report_language(full_ev):
    """Issue 11: the table showed the stage's English notes in the Chinese report."""
    from perfmodel.report import calibration as rc

    stage = full_ev.stages["reliability"]
    k_row = stage[stage["measure"] == "icc_agreement_k"].iloc[0]
    k = re.search(r"k = ([0-9.]+)", k_row["note"]).group(1)  # the stage's own English gloss
    zh, en = rc.reliability_table(full_ev, "zh"), rc.reliability_table(full_ev, "en")
    assert list(zh.columns) == ["指标", "指标项", "估计值", "被评对象数", "评分人数", "说明"]
    assert len(zh) == len(en) == len(stage)
    row = zh[zh["指标项"].str.endswith("(icc_agreement_k)")].iloc[0]
    assert row["说明"] == f"ICC(2,k):每个单位每月平均 k = {k} 名评分人"
    assert not zh["说明"].str.contains("rater|leniency|interval|prior").any()
    assert (
        en.loc[en["Measure"] == "Agreement, one rater (icc_agreement)", "Note"]
        .eq("ICC(2,1): one rater, leniency counts as error")
        .all()
    )


def test_modes_and_errors(data):
    units, obs, _, _ = data
    ev = evaluate(make_framework(), obs, units, "2025Q2", compare_previous=False, calibration="casemix")
    assert "rater_effects" not in ev.stages or ev.stages["rater_effects"].empty
    assert ev.stages["shrinkage"].empty
    with pytest.raises(ValueError, match="calibration mode 'both'"):
        calibrate(ev.framework, ev.stages["raw"], ev.scored_units, ev.stages["treated"], mode="both")
    with pytest.raises(ValueError, match="'crime_index'"):
        calibrate(ev.framework, ev.stages["raw"], ev.scored_units, ev.stages["treated"], covariates=["crime_index"])


def test_the_step_is_a_function_of_values_and_gives_the_evaluations_numbers(data):
    """Called with the evaluation's inputs (no Evaluation), the step reproduces the calibrated stage."""
    units, obs, _, _ = data
    ev = evaluate(
        make_framework(), obs, units, "2025Q2", compare_previous=False, calibration="full", peer_group="area_type"
    )
    scored = ev.scored_units
    groups = pd.Series(scored["area_type"].to_numpy(), index=pd.Index(scored["unit_id"].astype(object)))
    result = calibrate(
        ev.framework,
        ev.stages["raw"],
        scored,
        ev.stages["treated"],
        rolled=ev.stages["rolled"],
        peer_groups=groups,
        mode="full",
    )
    pd.testing.assert_frame_equal(result.values, ev.stages["calibrated"], check_names=False, check_freq=False)
    # without peer groups the shrinkage uses one prior over all units: other numbers, same shape
    pooled = calibrate(
        ev.framework, ev.stages["raw"], scored, ev.stages["treated"], rolled=ev.stages["rolled"], mode="full"
    )
    assert set(pooled.stages["shrinkage"]["group"]) <= {"全部"}
    # without observations rater calibration is skipped, and says so
    no_raters = calibrate(ev.framework, None, scored, ev.stages["treated"], rolled=ev.stages["rolled"], mode="full")
    log = no_raters.stages["calibration_log"]
    assert ((log["step"] == "raters") & (log["action"] == "skipped")).any()


def test_indicator_family_fallbacks():
    fw = make_framework()
    meta = fw.indicator_meta()
    assert indicator_family(meta["minutes"], pd.Series([0.0, 3.0]), False) == "gaussian"
    assert indicator_family(meta["clear"], pd.Series([0.2, 0.9]), False) == "binomial"
    assert indicator_family(meta["clear"], pd.Series([0.2, 1.9]), False) == "gaussian"
    assert indicator_family(meta["cases"], pd.Series([1.0, 4.0]), False) == "poisson"


def test_report_helpers_draw_labelled_figures(full_ev, tmp_path):
    from perfmodel.report import calibration as rc
    from perfmodel.report.style import apply_report_style, save_figure

    apply_report_style()
    funnels = rc.funnel_results(full_ev)
    assert set(funnels) == {"clear", "roving"} and funnels["clear"].kind == "ratio"
    save_figure(rc.figure_funnel(full_ev, "clear", funnels["clear"]), tmp_path / "funnel.png")
    save_figure(rc.figure_rater_leniency(full_ev, "leader", lang="en"), tmp_path / "raters.png")
    save_figure(rc.figure_expected_observed(full_ev, "minutes"), tmp_path / "eo.png")
    assert len(rc.reliability_table(full_ev, "en")) >= 5
    assert "Family" in rc.casemix_model_table(full_ev, "en").columns
    with pytest.raises(ValueError, match="not case-mix adjusted"):
        rc.figure_expected_observed(full_ev, "nothing")


NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "calibration.ipynb"
REQUIRED = ["observations", "units", "framework", "period", "lang", "output_dir", "peer_group"]


def test_notebook_declares_the_report_parameters():
    from perfmodel.report.runner import notebook_parameters

    specs = notebook_parameters(NOTEBOOK)
    assert list(specs)[: len(REQUIRED)] == REQUIRED
    assert specs["peer_group"].default is None
    assert specs["seed"].default == 7 and specs["stations"].default == 120


@pytest.mark.notebook
def test_notebook_runs_on_small_synthetic_data(tmp_path):
    import nbformat

    from perfmodel.report.runner import run_notebook

    out = tmp_path / "report"
    run = run_notebook(
        NOTEBOOK,
        out,
        {
            "observations": str(tmp_path / "none.csv"),
            "units": str(tmp_path / "none.csv"),
            "period": "2025Q2",
            "lang": "en",
            "output_dir": str(out),
            "stations": 40,
            "check_seeds": 1,
        },
        timeout=180,
        html_lang="en",
    )
    executed = nbformat.read(run.executed_notebook, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    for figure in ("truth_comparison", "context_dependence"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    recovery = pd.read_csv(out / "truth_recovery.csv").set_index("score")
    assert {"none", "casemix", "full", "truth", "truth_net_of_context"} <= set(recovery.index)
    html = run.html.read_text(encoding="utf-8")
    assert "Spearman" in html
    # 40 stations are too few for model-based difficulty coefficients on the context terms: the
    # section says so (and how many units it would need) instead of drawing coefficients that mean nothing
    assert "Too few units to estimate model-based coefficients" in html
    assert not (out / "figures" / "difficulty.png").exists()


def test_missing_context_columns_are_dropped_with_a_log_entry(data):
    units, obs, _, _ = data
    fw = make_framework()
    values = obs.groupby(["unit_id", "indicator"])["value"].mean().unstack()
    result = calibrate_values(fw, values, units.drop(columns=["area_type"]))
    dropped = result.log[result.log.action == "dropped"]
    assert len(dropped) == 1 and "area_type" in dropped["reason"].iloc[0]
    assert result.stages["casemix_models"]["formula"].str.contains("log_workload").all()
    bare = calibrate_values(fw, values, units.drop(columns=["area_type", "officers"]))
    assert (bare.log[bare.log.indicator.notna()]["action"] == "skipped").all()
    assert bare.values.equals(values.astype(float))


def test_declared_difficulty_is_not_applied_on_top_of_calibration(data):
    """Case-mix already compares a unit with its context; a class coefficient would count it twice."""
    units, obs, _, _ = data
    framework = make_framework(difficulty={"by": "station_class", "coefficients": {"一类": 1.2, "二类": 1.0}})
    raw = evaluate(framework, obs, units, "2025Q2", compare_previous=False).scores
    calibrated = evaluate(framework, obs, units, "2025Q2", compare_previous=False, calibration="casemix").scores
    first_class = raw["unit_id"].map(units.set_index("unit_id")["station_class"]) == "一类"
    assert (raw.loc[first_class, "difficulty"] == 1.2).all()
    assert (calibrated["difficulty"] == 1.0).all()


def test_the_framework_declares_how_non_preventable_cases_enter(data):
    """R5: ``calibration.nonpreventable: exclude`` in the framework drops roving-offender cases."""
    units, obs, _, _ = data
    declared = evaluate(
        make_framework(nonpreventable="exclude"), obs, units, "2025Q2", compare_previous=False, calibration="casemix"
    )
    default = evaluate(make_framework(), obs, units, "2025Q2", compare_previous=False, calibration="casemix")
    assert declared.stages["calibrated"]["roving"].isna().all()
    assert default.stages["calibrated"]["roving"].notna().all()
    log = declared.stages["calibration_log"]
    assert ((log["indicator"] == "roving") & (log["action"] == "excluded")).sum() == 1


# ----------------------------------------------------------------------------- reweighted fits against formula refits
def _overdispersed_rows(seed: int, n_units: int = 40) -> pd.DataFrame:
    """Units with a workload covariate, a type, Beta-binomial successes and over-dispersed counts."""
    rng = np.random.default_rng(seed)
    load = rng.gamma(4.0, 1.0, n_units)
    kind = rng.choice(["urban", "rural", "mixed"], n_units)
    trials = rng.integers(5, 400, n_units).astype(float)
    p = rng.beta(8 * (1 + 0.1 * load), 8, n_units)
    successes = rng.binomial(trials.astype(int), p).astype(float)
    exposure = rng.uniform(0.5, 3.0, n_units)
    counts = rng.poisson(exposure * rng.gamma(2.0, 2.0 + load, n_units)).astype(float)
    return pd.DataFrame(
        {"load": load, "kind": kind, "_n": trials, "_x": successes, "_y": counts, "_exposure": exposure},
        index=pd.Index([f"U{i}" for i in range(n_units)], name="unit_id"),
    )


def _binomial_by_formula_refits(formula: str, rows: pd.DataFrame):
    """Williams' iteration with a new formula fit at every step (the slow, plain reading)."""
    from perfmodel.calibrate.casemix import CaseMixModel

    n, x = rows["_n"].to_numpy(dtype=float), rows["_x"].to_numpy(dtype=float)
    lhs = "_xeff ~ " + formula.split("~", 1)[1].strip()
    rho, model = 0.0, None
    for _ in range(25):
        n_eff = n / (1.0 + (n - 1.0) * rho)
        model = CaseMixModel(lhs, "binomial", denominator="_neff").fit(rows.assign(_neff=n_eff, _xeff=x / n * n_eff))
        p_hat = np.clip(np.asarray(model.result_.fittedvalues, dtype=float), 1e-9, 1 - 1e-9)
        pearson = np.sum((x - n * p_hat) ** 2 / (n * p_hat * (1 - p_hat)))
        new = max(0.0, (pearson - (len(n) - len(model.result_.params))) / max(float(np.sum(n - 1.0)), 1e-9))
        converged = abs(new - rho) <= 1e-4 * max(rho, 1e-4)
        rho = new
        if converged:
            break
    return model, rho


def _poisson_by_formula_refits(formula: str, rows: pd.DataFrame):
    """The NB2 reweighting with a new formula fit and a formula prediction at every step."""
    from perfmodel.calibrate.casemix import CaseMixModel

    y, exposure = rows["_y"].to_numpy(dtype=float), rows["_exposure"].to_numpy(dtype=float)
    lhs = "_yw ~ " + formula.split("~", 1)[1].strip()
    alpha, weight, model = 0.0, np.ones(len(rows)), None
    for _ in range(25):
        model = CaseMixModel(lhs, "poisson", exposure="_ew").fit(rows.assign(_yw=y * weight, _ew=exposure * weight))
        mu = np.clip(model.predict(rows.assign(_ew=exposure)).to_numpy(dtype=float), 1e-9, None)
        new = max(
            0.0, (np.sum((y - mu) ** 2 / mu) - (len(y) - len(model.result_.params))) / max(float(np.sum(mu)), 1e-9)
        )
        weight = 1.0 / (1.0 + new * mu)
        converged = abs(new - alpha) <= 1e-4 * max(alpha, 1e-4)
        alpha = new
        if converged:
            break
    return model, alpha


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reweighted_fits_equal_a_formula_fit_at_every_step(seed):
    """Refitting on the kept design matrix gives the formula refits' numbers exactly: weights, model, residuals."""
    from perfmodel.calibrate.step import _fit_binomial, _fit_poisson

    rows = _overdispersed_rows(seed)
    formula = "_y ~ load + C(kind)"
    for fast, slow in (
        (_fit_binomial(formula, rows), _binomial_by_formula_refits(formula, rows)),
        (_fit_poisson(formula, rows, True), _poisson_by_formula_refits(formula, rows)),
    ):
        (model, weight), (reference, reference_weight) = fast, slow
        assert weight == reference_weight and weight > 0  # over-dispersed by construction: several steps
        pd.testing.assert_series_equal(model.result_.params, reference.result_.params, check_exact=True)
        pd.testing.assert_series_equal(model.result_.resid_pearson, reference.result_.resid_pearson, check_exact=True)
        assert model.dispersion_ == reference.dispersion_ and model.result_.deviance == reference.result_.deviance
        pd.testing.assert_series_equal(
            model.predict(rows.assign(_neff=1.0, _ew=1.0)),
            reference.predict(rows.assign(_neff=1.0, _ew=1.0)),
            check_exact=True,
        )


def _without_clock(summary: str) -> str:
    return re.sub(r"(Date|Time):\s+\S+", "", summary)


def test_a_fit_on_anothers_design_is_the_formula_fit():
    """``design_of``: same rows and terms, other outcome and weights; the formula fit's numbers and summary."""
    from perfmodel.calibrate.casemix import CaseMixModel

    rows = _overdispersed_rows(5)
    first = CaseMixModel("_x ~ load + C(kind)", "binomial", denominator="_n").fit(rows)
    half = rows.assign(_h=rows["_x"] / 2, _m=rows["_n"] / 2)
    reused = CaseMixModel("_h ~ load + C(kind)", "binomial", denominator="_m").fit(half, design_of=first)
    plain = CaseMixModel("_h ~ load + C(kind)", "binomial", denominator="_m").fit(half)
    pd.testing.assert_series_equal(reused.result_.params, plain.result_.params, check_exact=True)
    pd.testing.assert_series_equal(reused.result_.bse, plain.result_.bse, check_exact=True)
    assert reused.dispersion_ == plain.dispersion_ and reused.overall_ == plain.overall_
    assert _without_clock(reused.summary()) == _without_clock(plain.summary())
    pd.testing.assert_frame_equal(reused.to_frame(), plain.to_frame(), check_exact=True)
    other = rows.assign(load=rows["load"] + 1.0, _h=rows["_x"] / 2, _m=rows["_n"] / 2)
    moved = CaseMixModel("_h ~ load + C(kind)", "binomial", denominator="_m").fit(other, design_of=first)
    pd.testing.assert_series_equal(
        moved.result_.params,
        CaseMixModel("_h ~ load + C(kind)", "binomial", denominator="_m").fit(other).result_.params,
        check_exact=True,
    )  # other covariate values: the formula is read again (the intercept absorbs the shift)
    assert not moved.result_.params.equals(plain.result_.params)
