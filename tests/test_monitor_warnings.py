"""Early warnings: exact false-alarm level of the decline rule, ARL of the control charts against
published tables, measured false-alarm and detection rates over many seeds, shrinkage against lucky leaders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfmodel.monitor import warnings as mw

RULES = mw.WarningRules()


# ----------------------------------------------------------------------------- the decline rule's level
@pytest.mark.parametrize("c", [0.0, 0.5, 1.3, 2.2])
def test_one_decline_probability_is_a_normal_tail(c):
    # one decline of at least c·√2 sd: x0 − x1 ~ N(0, 2) -> P = 1 − Φ(c)
    assert mw.decline_probability(c, months=1) == pytest.approx(1 - stats.norm.cdf(c), abs=1e-9)


def test_decline_probability_matches_order_statistics_and_simulation():
    assert mw.decline_probability(0.0, 3) == pytest.approx(1 / 24, abs=1e-10)  # 4 values in one order
    assert mw.decline_probability(0.0, 2) == pytest.approx(1 / 6, abs=1e-10)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1_000_000, 4))
    falling = (x[:, 0] > x[:, 1]) & (x[:, 1] > x[:, 2]) & (x[:, 2] > x[:, 3])
    for c in (1.0, 1.8):
        simulated = (falling & ((x[:, 0] - x[:, 3]) / np.sqrt(2) >= c)).mean()
        assert mw.decline_probability(c, 3) == pytest.approx(simulated, abs=4 * np.sqrt(simulated / 1e6))


def test_decline_threshold_inverts_the_probability():
    for alpha in (0.005, 0.01, 0.02):
        c = mw.decline_threshold(alpha, 3)
        assert mw.decline_probability(c, 3) == pytest.approx(alpha, rel=1e-6)
    assert mw.decline_threshold(0.05, 3) == 0.0  # 1/24 < 5 %: declines alone are rare enough
    with pytest.raises(ValueError, match="probability"):
        mw.decline_threshold(1.5)


# ----------------------------------------------------------------------------- ARL against tables
def test_cusum_arl_matches_montgomery_table_9_3():
    """Tabular CUSUM, k = 1/2 (Montgomery, Introduction to SQC, Table 9.3): two-sided in-control ARL
    168 (h = 4) and 465 (h = 5); out of control one side dominates."""
    for h, two_sided, shifted in ((4.0, 168, {0.5: 26.6, 1.0: 8.38}), (5.0, 465, {0.5: 38.0, 1.0: 10.4})):
        one = mw.arl_cusum(0.5, h)
        assert one / 2 == pytest.approx(two_sided, rel=0.01)
        for shift, arl in shifted.items():
            assert mw.arl_cusum(0.5, h, shift=shift) == pytest.approx(arl, rel=0.02)


@pytest.mark.parametrize(
    "lam, limit, shifted", [(0.05, 2.615, 11.4), (0.10, 2.814, 10.3), (0.25, 2.998, 11.1), (0.40, 3.054, 14.3)]
)
def test_ewma_arl_matches_lucas_saccucci(lam, limit, shifted):
    """Two-sided EWMA with asymptotic limits (Lucas & Saccucci 1990): ARL0 = 500, ARL at a 1-sd shift."""
    sd = np.sqrt(lam / (2 - lam))
    assert mw.arl_ewma(lam, -limit * sd, limit * sd) == pytest.approx(500, rel=0.01)
    assert mw.arl_ewma(lam, -limit * sd, limit * sd, shift=1.0) == pytest.approx(shifted, rel=0.02)


def test_limits_give_the_stated_arl_also_by_simulation():
    h = mw.cusum_limit(100.0, 0.5)
    assert mw.arl_cusum(0.5, h) == pytest.approx(100.0, rel=1e-4)
    limit = mw.ewma_limit(100.0, 0.2)
    sd = np.sqrt(0.2 / 1.8)
    assert mw.arl_ewma(0.2, -limit * sd, 8 * sd, reflect_upper=True) == pytest.approx(100.0, rel=1e-4)
    # independent check: run both charts on long standard-normal streams and count signals
    rng = np.random.default_rng(1)
    z = rng.standard_normal(400_000)
    cusum = ewma = 0.0
    signals = {"cusum": 0, "ewma": 0}
    for value in z:
        cusum = max(0.0, cusum - value - 0.5)
        if cusum > h:
            signals["cusum"], cusum = signals["cusum"] + 1, 0.0
        ewma = 0.8 * ewma + 0.2 * value
        if ewma < -limit * sd:
            signals["ewma"], ewma = signals["ewma"] + 1, 0.0
    for n in signals.values():
        assert len(z) / n == pytest.approx(100.0, rel=0.08)


# ----------------------------------------------------------------------------- preparation
def _toy(values: dict[str, list[float]], group: dict[str, str] | None = None, start: str = "2025-01") -> pd.DataFrame:
    months = [str(p) for p in pd.period_range(start, periods=len(next(iter(values.values()))), freq="M")]
    rows = [(u, m, (group or {}).get(u, "G"), v) for u, vs in values.items() for m, v in zip(months, vs, strict=True)]
    return pd.DataFrame(rows, columns=["unit_id", "period", "peer_group", "score"])


def test_expected_score_is_the_group_mean_and_removes_common_shocks():
    base = {"A": [70, 72, 71, 69], "B": [60, 61, 59, 62], "C": [50, 49, 52, 51], "D": [80, 82, 81, 79]}
    shocked = {u: [v + (15 if i == 2 else 0) for i, v in enumerate(vs)] for u, vs in base.items()}
    groups = {"A": "G", "B": "G", "C": "G", "D": "H"}  # H has one unit: compared with all units
    p0 = mw.prepare_scores(_toy(base, groups), shrink=False).set_index(["unit_id", "period"])
    p1 = mw.prepare_scores(_toy(shocked, groups), shrink=False).set_index(["unit_id", "period"])
    assert p0.loc[("A", "2025-01"), "expected"] == pytest.approx(60.0)  # mean of A, B, C
    assert p0.loc[("D", "2025-01"), "expected"] == pytest.approx(65.0)  # all four units
    assert np.allclose(p0["relative"], p1["relative"])  # a shock to everyone moves no one
    assert np.allclose(p0["noise_sd"], p1["noise_sd"])


def test_moderated_noise_by_hand():
    scores = _toy({"A": [0, 2, 0, 2, 0], "B": [0, 0, 0, 0, 0], "C": [0, 0, 0, 0, 0]})
    p = mw.prepare_scores(scores, shrink=False).groupby("unit_id")["noise_sd"].first()
    rel_a = np.array([0, 2, 0, 2, 0]) - np.array([0, 2, 0, 2, 0]) / 3  # A minus the group mean
    rel_b = -np.array([0, 2, 0, 2, 0]) / 3
    var = {u: np.var(np.diff(r), ddof=1) / 2 for u, r in (("A", rel_a), ("B", rel_b))}
    prior = np.median([var["A"], var["B"], var["B"]])
    d0, d = 4.0, 3.0
    assert p["A"] == pytest.approx(np.sqrt((d0 * prior + d * var["A"]) / (d0 + d)))
    assert p["B"] == pytest.approx(np.sqrt((d0 * prior + d * var["B"]) / (d0 + d)))


def test_bad_score_tables_are_explained():
    good = _toy({"A": [1, 2, 3], "B": [2, 3, 4], "C": [3, 4, 5]})
    with pytest.raises(ValueError, match="peer_group"):
        mw.prepare_scores(good.drop(columns="peer_group"))
    with pytest.raises(ValueError, match="monthly"):
        mw.prepare_scores(good.assign(period="2025Q1").drop_duplicates(["unit_id"]))
    with pytest.raises(ValueError, match="more than one score"):
        mw.prepare_scores(pd.concat([good, good.iloc[:1]]))


# ----------------------------------------------------------------------------- rules by hand
def test_decline_rule_needs_three_falls_and_a_large_total_drop():
    flat = [50.0] * 12
    noise = np.random.default_rng(0).normal(0, 1.0, (3, 12))
    values = {f"S{i}": list(50 + noise[i]) for i in range(3)}
    values["FALL"] = flat[:8] + [46.0, 40.0, 33.0, 25.0]
    values["SMALL"] = flat[:8] + [49.9, 49.8, 49.7, 49.6]  # three falls, but tiny
    prepared = mw.prepare_scores(_toy(values), shrink=False)
    warnings = mw.decline_warnings(prepared)
    fall = warnings[warnings["unit_id"] == "FALL"]
    assert "2025-11" in set(fall["period"])  # Sep, Oct, Nov fell from Aug's level
    assert fall.set_index("period").loc["2025-11", "start"] == "2025-09"
    assert "SMALL" not in set(warnings["unit_id"])
    episodes = mw.merge_episodes(warnings[warnings["unit_id"] == "FALL"])
    assert len(episodes) == 1 and episodes["period"].iloc[0] == "2025-12"


def test_leader_flags_by_hand():
    values = {"A": [90, 91, 92, 93, 60], "B": [80, 85, 70, 80, 95], "C": [70, 60, 80, 75, 70]}
    prepared = mw.prepare_scores(_toy(values), shrink=False)
    flags = mw.leader_flags(prepared, column="score")
    assert list(flags["unit_id"]) == ["A", "A"]
    assert list(flags["period"]) == ["2025-03", "2025-04"] and set(flags["start"]) == {"2025-01"}
    assert flags["size"].iloc[0] == pytest.approx(92 - 80)  # lead over the second
    tied = mw.prepare_scores(_toy({"A": [90, 90, 90], "B": [90, 90, 90], "C": [10, 10, 10]}), shrink=False)
    assert mw.leader_flags(tied, column="score").empty  # a shared first place leads nobody


def test_last_place_two_years_running_and_shrinkage_protects_a_noisy_unit():
    rows = []
    for year in ("2023", "2024", "2025"):
        rows += [
            ("P", year, "G", 55.0, 1.0),
            ("Q", year, "G", 70.0, 1.0),
            ("R", year, "G", 75.0, 1.0),
            ("N", year, "G", 50.0 if year != "2024" else 60.0, 30.0),
        ]
    annual = pd.DataFrame(rows, columns=["unit_id", "period", "peer_group", "score", "se"])
    raw = mw.last_place_flags(annual)
    # raw scores: N last in 2023 and 2025 only (a gap), P last in 2024 only -> nobody two years running
    assert raw.empty
    shrunk = mw.last_place_flags(annual, se="se")
    # shrunk: N's 30-point standard error pulls it to the group mean, P is last every year
    assert set(shrunk["unit_id"]) == {"P"} and list(shrunk["period"]) == ["2024", "2025"]
    assert list(shrunk["start"]) == ["2023", "2023"]


# ----------------------------------------------------------------------------- measured rates
@pytest.mark.parametrize("method", ["rules", "cusum", "ewma"])
def test_false_alarms_near_the_stated_rate_and_planted_declines_found(method):
    oc = mw.operating_characteristics(method, seeds=range(20), declining=2).set_index("units")
    stated = oc.loc["all stable", "stated"]
    assert stated == pytest.approx(0.01)
    assert oc.loc["all stable", "unit_months"] > 20_000
    assert 0.6 * stated <= oc.loc["all stable", "rate"] <= 1.6 * stated
    assert 0.5 * stated <= oc.loc["noisy", "rate"] <= 2.0 * stated  # small units with 2.5× the noise
    detected = oc.loc["declining", "rate"]
    assert detected >= (0.6 if method == "rules" else 0.9)
    assert oc.loc["declining", "median_delay"] <= 5


def test_the_literal_three_declines_rule_fires_in_one_month_in_24():
    literal = dataclasses.replace(RULES, alpha=0.05)  # 1/24 < 5 %: no size condition
    oc = mw.operating_characteristics("rules", seeds=range(10), rules=literal).set_index("units")
    assert oc.loc["all stable", "stated"] == pytest.approx(1 / 24)
    assert oc.loc["all stable", "rate"] == pytest.approx(1 / 24, abs=0.006)


def test_shrinkage_keeps_noisy_units_from_leading():
    lc = mw.leader_characteristics(seeds=range(8), leader_lead=6.0).set_index("score")
    assert lc.loc["shrunk", "noisy_flagged"] < lc.loc["raw", "noisy_flagged"]
    assert lc.loc["shrunk", "noisy_flagged"] <= 0.03
    assert lc.loc["shrunk", "leaders_flagged"] >= 0.9


def test_stable_generated_stations_raise_few_warnings():
    """End to end on the package's generator: stations with no trend and no month-to-month drift,
    scored month by month through the Evaluation; only measurement noise and context remain."""
    from perfmodel.framework import load_framework
    from perfmodel.monitor.series import monthly_scores
    from perfmodel.simulate import EFFECTS, simulate

    fw = load_framework("station_four_dimension")
    effects = dataclasses.replace(EFFECTS, station_trend_sd=0.0, ar_sd=0.0)
    sample = simulate([fw], stations=60, months=30, rng=11, defect_rate=0.0, effects=effects, officers_per_station=0)
    prepared = mw.prepare_scores(monthly_scores(fw, sample.observations[fw.id], sample.units).scores)
    rate = len(mw.decline_warnings(prepared)) / (60 * (30 - RULES.decline_months))
    assert rate <= 2.5 * RULES.alpha


def test_control_chart_signals_a_step_down_and_restarts():
    rng = np.random.default_rng(5)
    values = {f"S{i}": list(60 + rng.normal(0, 2, 24)) for i in range(5)}
    values["DROP"] = list(60 + rng.normal(0, 2, 14)) + list(48 + rng.normal(0, 2, 10))
    prepared = mw.prepare_scores(_toy(values), shrink=False)
    for method in ("cusum", "ewma"):
        chart = mw.control_chart(prepared, method)
        drop = chart[chart["unit_id"] == "DROP"]
        first = drop.loc[drop["signal"], "period"].min()
        assert "2026-03" <= first <= "2026-05"  # the step comes in 2026-03
        assert (chart["period"] >= "2026-01").all()  # first 12 months are the baseline
    with pytest.raises(ValueError, match="cusum"):
        mw.control_chart(prepared, "shewhart")


def test_decline_rule_keeps_its_stated_rate_when_scores_are_shrunk():
    """Shrinkage (used for leaders) must not change the decline rule, whose 1 % is derived unshrunk."""
    for seed in range(3):
        scores, _ = mw.simulate_monitoring(rng=seed, declining=2)
        shrunk = mw.decline_warnings(mw.prepare_scores(scores, shrink=True))
        plain = mw.decline_warnings(mw.prepare_scores(scores, shrink=False))
        pd.testing.assert_frame_equal(shrunk, plain)
