"""Funnel limits, over-dispersion and flagging: hand-computed values and simulations."""

from __future__ import annotations

import io
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfmodel.calibrate import (
    FunnelPlot,
    confidence_label,
    estimate_overdispersion,
    funnel_analysis,
    funnel_limits,
)
from perfmodel.calibrate import funnel as fn

plt.switch_backend("Agg")


# --------------------------------------------------------------------------- brute force
def brute_force_binomial_limits(n: int, theta: float, level: float) -> dict[str, float]:
    """Spiegelhalter's interpolated limits by enumerating the binomial CDF."""
    a = (1 - level) / 2
    counts = list(range(n + 1))
    cdf = [sum(stats.binom.pmf(j, n, theta) for j in range(r + 1)) for r in counts]

    def cdf_at(r: int) -> float:
        return 0.0 if r < 0 else cdf[r]

    def quantile(p: float) -> float:
        r_p = next(r for r in counts if cdf_at(r) >= p)
        alpha = (cdf_at(r_p) - p) / (cdf_at(r_p) - cdf_at(r_p - 1))
        return r_p - alpha

    # the same interpolation on the upper tail, through P(Y >= r)
    tail = [1 - cdf_at(r - 1) for r in counts] + [0.0]
    r_u = max(r for r in counts if tail[r] >= a)
    beta = (tail[r_u] - a) / (tail[r_u] - tail[r_u + 1])
    return {
        "lower": quantile(a) / n,
        "upper_quantile": quantile(1 - a) / n,
        "upper_symmetric": (r_u + beta) / n,
    }


# --------------------------------------------------------------------------- exact limits
@pytest.mark.parametrize("expected", [0.7, 5.0, 20.0, 123.4])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_chisq_poisson_limits_match_formula(expected: float, level: float) -> None:
    lab = confidence_label(level)
    got = funnel_limits([expected], kind="ratio", method="chisq", confidence=[level])
    a = (1 - level) / 2
    lower = stats.chi2.ppf(a, 2 * expected) / 2 / expected
    upper = stats.chi2.ppf(1 - a, 2 * (expected + 1)) / 2 / expected
    assert got[f"lower_{lab}"].iloc[0] == pytest.approx(lower, rel=1e-12)
    assert got[f"upper_{lab}"].iloc[0] == pytest.approx(upper, rel=1e-12)


def test_chisq_rate_limits_scale_with_target() -> None:
    rate = 0.02
    got = funnel_limits([500.0], kind="rate", target=rate, method="chisq", confidence=[0.95])
    e = rate * 500.0
    assert got["lower_95"].iloc[0] == pytest.approx(rate * stats.chi2.ppf(0.025, 2 * e) / (2 * e))
    assert got["upper_95"].iloc[0] == pytest.approx(rate * stats.chi2.ppf(0.975, 2 * e + 2) / (2 * e))


def test_exact_rate_limits_are_ratio_limits_times_target() -> None:
    rate, n = 0.004, np.array([250.0, 1000.0, 5000.0])
    got = funnel_limits(n, kind="rate", target=rate)
    ratio = funnel_limits(rate * n, kind="ratio")
    np.testing.assert_allclose(got["lower_998"], rate * ratio["lower_998"], rtol=1e-12)
    np.testing.assert_allclose(got["upper_95"], rate * ratio["upper_95"], rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12])
@pytest.mark.parametrize("theta", [0.1, 0.35, 0.8])
def test_exact_binomial_limits_match_brute_force(n: int, theta: float) -> None:
    for level in (0.95, 0.998):
        lab = confidence_label(level)
        expected = brute_force_binomial_limits(n, theta, level)
        quant = funnel_limits([n], kind="proportion", target=theta, confidence=[level], discrete="quantile")
        sym = funnel_limits([n], kind="proportion", target=theta, confidence=[level], discrete="symmetric")
        assert quant[f"lower_{lab}"].iloc[0] == pytest.approx(max(expected["lower"], 0.0), abs=1e-10)
        assert sym[f"lower_{lab}"].iloc[0] == pytest.approx(max(expected["lower"], 0.0), abs=1e-10)
        assert quant[f"upper_{lab}"].iloc[0] == pytest.approx(expected["upper_quantile"], abs=1e-10)
        assert sym[f"upper_{lab}"].iloc[0] == pytest.approx(min(expected["upper_symmetric"], 1.0), abs=1e-10)


@pytest.mark.parametrize("n", [1, 4, 15, 60])
@pytest.mark.parametrize("theta", [0.05, 0.5, 0.9])
def test_symmetric_exact_limits_flag_exactly_the_unlikely_counts(n: int, theta: float) -> None:
    """Outside <=> P(Y <= O) < a or P(Y >= O) < a, for every possible count."""
    level = 0.998
    a = (1 - level) / 2
    data = pd.DataFrame({"unit_id": range(n + 1), "x": range(n + 1), "n": n})
    table = funnel_analysis(
        data, observed="x", denominator="n", kind="proportion", target=theta, confidence=[level]
    ).table
    y = np.arange(n + 1)
    unlikely = (stats.binom.cdf(y, n, theta) < a) | (stats.binom.sf(y - 1, n, theta) < a)
    np.testing.assert_array_equal(table["outside_998"].to_numpy(), unlikely)


@pytest.mark.parametrize("mu", [0.3, 2.5, 17.2])
def test_symmetric_exact_poisson_limits_flag_exactly_the_unlikely_counts(mu: float) -> None:
    level = 0.95
    a = (1 - level) / 2
    counts = np.arange(0, int(mu * 4 + 15))
    data = pd.DataFrame({"unit_id": counts, "o": counts, "e": mu})
    table = funnel_analysis(data, observed="o", expected="e", confidence=[level]).table
    unlikely = (stats.poisson.cdf(counts, mu) < a) | (stats.poisson.sf(counts - 1, mu) < a)
    np.testing.assert_array_equal(table["outside_95"].to_numpy(), unlikely)


def test_chisq_form_flags_zero_counts_even_when_expected_is_small() -> None:
    """Documented weakness of the chi-square form that method='exact' avoids."""
    data = pd.DataFrame({"unit_id": ["a"], "o": [0], "e": [1.0]})
    chisq = funnel_analysis(data, observed="o", expected="e", method="chisq").table
    exact = funnel_analysis(data, observed="o", expected="e", method="exact").table
    assert bool(chisq["outside_998"].iloc[0])  # P(O = 0 | E = 1) = 0.37, yet flagged
    assert not bool(exact["outside_998"].iloc[0])


def test_quantile_rule_flags_full_count_at_high_target_symmetric_does_not() -> None:
    # 10 of 10 when the target is 90 %: P = 0.9^10 = 0.35, plainly noise
    data = pd.DataFrame({"unit_id": ["a"], "x": [10], "n": [10]})
    quant = funnel_analysis(data, observed="x", denominator="n", kind="proportion", target=0.9, discrete="quantile")
    sym = funnel_analysis(data, observed="x", denominator="n", kind="proportion", target=0.9)
    assert bool(quant.table["outside_998"].iloc[0])
    assert not bool(sym.table["outside_998"].iloc[0])
    assert sym.table["p_value"].iloc[0] == pytest.approx(2 * 0.9**10)  # two-sided exact


# --------------------------------------------------------------------------- normal limits
def test_normal_limits_on_sqrt_and_log_scales() -> None:
    e = np.array([4.0, 25.0, 400.0])
    z = stats.norm.ppf(0.975)
    sq = funnel_limits(e, kind="ratio", method="normal", transform="sqrt", confidence=[0.95])
    np.testing.assert_allclose(sq["lower_95"], np.clip(1 - z / (2 * np.sqrt(e)), 0, None) ** 2)
    np.testing.assert_allclose(sq["upper_95"], (1 + z / (2 * np.sqrt(e))) ** 2)
    lg = funnel_limits(e, kind="ratio", method="normal", transform="log", confidence=[0.95])
    np.testing.assert_allclose(lg["lower_95"], np.exp(-z / np.sqrt(e)))
    np.testing.assert_allclose(lg["upper_95"], np.exp(z / np.sqrt(e)))


def test_normal_limits_for_proportions_use_arcsine_scale() -> None:
    n, theta = np.array([10.0, 100.0]), 0.3
    z = stats.norm.ppf(0.999)
    got = funnel_limits(n, kind="proportion", target=theta, method="normal", confidence=[0.998])
    centre = np.arcsin(np.sqrt(theta))
    np.testing.assert_allclose(got["lower_998"], np.sin(np.clip(centre - z / (2 * np.sqrt(n)), 0, None)) ** 2)
    np.testing.assert_allclose(got["upper_998"], np.sin(centre + z / (2 * np.sqrt(n))) ** 2)


def test_overdispersed_limits_formulae() -> None:
    e = np.array([10.0, 100.0])
    z = stats.norm.ppf(0.999)
    add = funnel_limits(e, kind="ratio", transform="log", tau2=0.04, confidence=[0.998])
    np.testing.assert_allclose(add["upper_998"], np.exp(z * np.sqrt(1 / e + 0.04)))
    mult = funnel_limits(e, kind="ratio", transform="log", phi=4.0, confidence=[0.998])
    np.testing.assert_allclose(mult["upper_998"], np.exp(z * 2.0 / np.sqrt(e)))


def test_limits_narrow_as_size_grows() -> None:
    got = funnel_limits(np.arange(5, 500, 5), kind="proportion", target=0.2)
    assert (np.diff(got["upper_998"]) <= 1e-12).mean() > 0.95
    assert (got["lower_998"] <= 0.2).all() and (got["upper_998"] >= 0.2).all()


# --------------------------------------------------------------------------- over-dispersion
def test_dersimonian_laird_tau2_by_hand_without_trimming() -> None:
    z = [2.0, -1.0, 0.5]
    s = [0.1, 0.2, 0.5]
    # w = 1/s^2 = 100, 25, 4; phi = (4 + 1 + 0.25) / 3 = 1.75; n phi - (n - 1) = 3.25
    # sum w = 129, sum w^2 = 10641, denominator = 129 - 10641/129
    est = estimate_overdispersion(z, s, trim_method="none")
    assert est.phi == pytest.approx(1.75)
    assert est.tau2 == pytest.approx(3.25 / (129 - 10641 / 129))
    assert est.n_used == 3


def test_tau2_is_zero_without_excess_variation() -> None:
    est = estimate_overdispersion([0.5, -0.5, 0.2, -0.1], [0.1, 0.2, 0.3, 0.4], trim_method="none")
    assert est.tau2 == 0.0  # n phi = 0.55 < n - 1 = 3


def test_winsorisation_by_hand() -> None:
    z = np.arange(11.0)  # 10th/90th percentiles (R type 7) are 1 and 9
    est = estimate_overdispersion(z, np.ones(11), trim_method="winsorise", trim=0.1)
    clipped = np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9.0])
    assert est.phi == pytest.approx(np.mean(clipped**2))
    np.testing.assert_array_equal(est.trimmed, (z < 1) | (z > 9))
    assert est.n_used == 11


def test_truncation_rank_rule_by_hand() -> None:
    rng = np.random.default_rng(5)
    z = rng.permutation(np.linspace(-3, 3, 20))
    est = estimate_overdispersion(z, np.ones(20), trim_method="truncate", trim=0.1)
    # floor(rank * 10 / 21) is 0 for ranks 1-2 and >= 9 for ranks 19-20
    ranks = stats.rankdata(z)
    np.testing.assert_array_equal(est.used, (ranks >= 3) & (ranks <= 18))
    assert est.phi == pytest.approx(np.mean(z[est.used] ** 2))


def test_multiplicative_adjustment_widens_limits_by_sqrt_phi() -> None:
    rng = np.random.default_rng(11)
    e = rng.uniform(20, 400, 60)
    o = rng.poisson(e * rng.gamma(4, 1 / 4, 60))  # over-dispersed
    data = pd.DataFrame({"unit_id": range(60), "o": o, "e": e})
    res = funnel_analysis(data, observed="o", expected="e", overdispersion="multiplicative")
    assert res.adjusted and res.phi > 1
    t = res.table
    z = stats.norm.ppf(0.999)
    np.testing.assert_allclose(t["upper_998"], (1 + z * np.sqrt(res.phi) / (2 * np.sqrt(e))) ** 2)
    np.testing.assert_allclose(t["z_adjusted"], t["z"] / np.sqrt(res.phi))


def test_no_detected_overdispersion_falls_back_to_unadjusted_limits() -> None:
    data = pd.DataFrame({"unit_id": range(4), "o": [10, 11, 9, 10], "e": [10.0, 10.0, 10.0, 10.0]})
    res = funnel_analysis(data, observed="o", expected="e", overdispersion="additive")
    plain = funnel_analysis(data, observed="o", expected="e")
    assert res.tau2 == 0.0 and not res.adjusted
    pd.testing.assert_frame_equal(res.table, plain.table)
    assert "none detected" in res.summary()


# --------------------------------------------------------------------------- p and q values
@pytest.mark.parametrize(
    "options",
    [
        {"method": "exact"},
        {"method": "exact", "discrete": "quantile"},
        {"method": "chisq"},
        {"method": "normal"},
        {"overdispersion": "additive"},
        {"overdispersion": "multiplicative", "trim_method": "truncate"},
    ],
)
def test_p_values_agree_with_limits(options: dict[str, str]) -> None:
    rng = np.random.default_rng(2)
    e = rng.uniform(1, 80, 300)
    o = rng.poisson(e * rng.gamma(3, 1 / 3, 300))
    data = pd.DataFrame({"unit_id": range(300), "o": o, "e": e})
    t = funnel_analysis(data, observed="o", expected="e", **options).table
    for level in (0.95, 0.998):
        lab = confidence_label(level)
        np.testing.assert_array_equal(t[f"outside_{lab}"], t["p_value"] < 1 - level)


def test_q_values_are_benjamini_hochberg() -> None:
    rng = np.random.default_rng(4)
    n = rng.integers(20, 300, 40)
    x = rng.binomial(n, rng.uniform(0.1, 0.3, 40))
    t = funnel_analysis(
        pd.DataFrame({"unit_id": range(40), "x": x, "n": n}),
        observed="x",
        denominator="n",
        kind="proportion",
    ).table
    p = t["p_value"].to_numpy()
    order = np.argsort(p)
    m = len(p)
    stepped = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(1, np.minimum.accumulate(stepped[::-1])[::-1])
    q = np.empty(m)
    q[order] = q_sorted
    np.testing.assert_allclose(t["q_value"], q)
    assert (t["q_value"] >= t["p_value"] - 1e-15).all()


# --------------------------------------------------------------------------- false alarms
def test_false_alarm_rate_near_nominal_for_small_proportions() -> None:
    rng = np.random.default_rng(20240601)
    flagged = {"symmetric": 0, "quantile": 0}
    total = 0
    for _ in range(200):
        n = rng.integers(5, 61, 50)
        x = rng.binomial(n, 0.15)
        data = pd.DataFrame({"unit_id": range(50), "x": x, "n": n})
        for rule in flagged:
            t = funnel_analysis(data, observed="x", denominator="n", kind="proportion", discrete=rule).table
            flagged[rule] += int(t["outside_998"].sum())
        total += 50
    # nominal 0.2 %; the symmetric rule is conservative by construction
    assert flagged["symmetric"] / total <= 0.004
    assert flagged["quantile"] / total <= 0.01


def test_false_alarm_rate_near_nominal_for_small_expected_counts() -> None:
    rng = np.random.default_rng(7)
    flagged = total = 0
    for _ in range(200):
        e = rng.uniform(0.5, 20, 50)
        data = pd.DataFrame({"unit_id": range(50), "o": rng.poisson(e), "e": e})
        flagged += int(funnel_analysis(data, observed="o", expected="e").table["outside_998"].sum())
        total += 50
    assert flagged / total <= 0.01


def test_unit_with_few_cases_is_not_flagged_by_noise() -> None:
    rng = np.random.default_rng(3)
    n = np.r_[rng.integers(80, 200, 49), 3]
    x = np.r_[rng.binomial(n[:49], 0.2), 3]  # 3 of 3 against a 20 % rate: P = 0.008
    data = pd.DataFrame({"unit_id": [f"u{i}" for i in range(50)], "x": x, "n": n})
    t = funnel_analysis(data, observed="x", denominator="n", kind="proportion").table.set_index("unit_id")
    assert t.loc["u49", "value"] == 1.0
    assert not t.loc["u49", "outside_998"]
    assert t.loc["u49", "p_value"] > 0.002


def test_large_real_effect_with_many_cases_is_flagged() -> None:
    rng = np.random.default_rng(9)
    n = np.r_[rng.integers(80, 200, 49), 2000]
    p = np.r_[np.full(49, 0.15), 0.25]
    data = pd.DataFrame({"unit_id": [f"u{i}" for i in range(50)], "x": rng.binomial(n, p), "n": n})
    res = funnel_analysis(data, observed="x", denominator="n", kind="proportion")
    t = res.table.set_index("unit_id")
    assert t.loc["u49", "outside_998"]
    assert t.loc["u49", "value"] > t.loc["u49", "upper_998"]
    assert t.loc["u49", "q_value"] < 0.001
    assert "u49" in res.summary()


# --------------------------------------------------------------------------- tables and API
def test_record_level_data_are_totalled_per_unit() -> None:
    records = pd.DataFrame({"station": ["a", "a", "b", "b", "b"], "x": [1, 2, 0, 1, 1], "n": [5, 5, 3, 3, 4]})
    t = funnel_analysis(records, observed="x", denominator="n", kind="proportion", unit="station").table
    assert list(t["station"]) == ["a", "b"]
    assert list(t["observed"]) == [3, 2] and list(t["denominator"]) == [10, 10]
    assert t["target"].iloc[0] == pytest.approx(5 / 20)


def test_output_columns_are_documented() -> None:
    data = pd.DataFrame({"unit_id": range(5), "o": [3, 5, 8, 2, 9], "e": [4.0, 5, 6, 3, 7]})
    res = FunnelPlot("o", "e", confidence=(0.9, 0.95, 0.998)).fit(data)
    assert list(res.table_.columns) == [
        "unit_id",
        "observed",
        "expected",
        "value",
        "target",
        "z",
        "z_adjusted",
        "p_value",
        "q_value",
        "lower_90",
        "upper_90",
        "outside_90",
        "lower_95",
        "upper_95",
        "outside_95",
        "lower_998",
        "upper_998",
        "outside_998",
        "trimmed",
    ]
    assert res.to_frame().equals(res.table_)
    assert res.phi_ == pytest.approx(res.result_.phi)
    assert "kind='ratio'" in res.summary()
    assert repr(res.result_).startswith("FunnelResult(kind='ratio', units=5, outside_998=")


def test_rate_kind_uses_pooled_target() -> None:
    data = pd.DataFrame({"unit_id": range(3), "events": [2, 10, 30], "years": [100.0, 400.0, 1000.0]})
    res = funnel_analysis(data, observed="events", denominator="years", kind="rate")
    assert res.target == pytest.approx(42 / 1500)
    np.testing.assert_allclose(res.table["value"], data["events"] / data["years"])


# --------------------------------------------------------------------------- input errors
def _ratio_data() -> pd.DataFrame:
    return pd.DataFrame({"unit_id": range(3), "o": [0, 4, 6], "e": [2.0, 4.0, 5.0]})


def test_missing_column_message() -> None:
    data = _ratio_data()
    msg = fn.MISSING_COLUMN.format(column="obs", param="observed", available=list(data.columns))
    with pytest.raises(ValueError, match=re.escape(msg)):
        funnel_analysis(data, observed="obs", expected="e")


def test_ratio_needs_expected_column() -> None:
    with pytest.raises(ValueError, match="kind='ratio' needs the expected= column"):
        funnel_analysis(_ratio_data(), observed="o", denominator="e")


def test_log_transform_rejects_zero_counts() -> None:
    with pytest.raises(ValueError, match=re.escape(fn.LOG_ZERO.format(column="o", count=1))):
        funnel_analysis(_ratio_data(), observed="o", expected="e", transform="log")


def test_chisq_is_not_for_proportions() -> None:
    data = pd.DataFrame({"unit_id": [1, 2], "x": [1, 2], "n": [5, 5]})
    with pytest.raises(ValueError, match=re.escape(fn.CHISQ_NOT_FOR_PROPORTION)):
        funnel_analysis(data, observed="x", denominator="n", kind="proportion", method="chisq")


def test_numerator_above_denominator_is_rejected() -> None:
    data = pd.DataFrame({"unit_id": [1, 2], "x": [6, 2], "n": [5, 5]})
    msg = fn.OBSERVED_EXCEEDS_DENOMINATOR.format(observed="x", denominator="n", count=1)
    with pytest.raises(ValueError, match=re.escape(msg)):
        funnel_analysis(data, observed="x", denominator="n", kind="proportion")


def test_bad_options_and_values() -> None:
    data = _ratio_data()
    with pytest.raises(ValueError, match=re.escape(fn.BAD_CONFIDENCE.format(confidence=(0.95, 1.2)))):
        funnel_analysis(data, observed="o", expected="e", confidence=(0.95, 1.2))
    with pytest.raises(ValueError, match="kind='odds' is not valid"):
        funnel_analysis(data, observed="o", expected="e", kind="odds")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(fn.MISSING_VALUES.format(column="e", count=1))):
        funnel_analysis(data.assign(e=[1.0, np.nan, 2.0]), observed="o", expected="e")
    with pytest.raises(ValueError, match="has 1 value\\(s\\) <= 0"):
        funnel_analysis(data.assign(e=[1.0, 0.0, 2.0]), observed="o", expected="e")
    with pytest.raises(ValueError, match="needs whole-number counts"):
        funnel_analysis(data.assign(o=[0.5, 1, 2]), observed="o", expected="e")
    with pytest.raises(ValueError, match=re.escape(fn.BAD_TRIM.format(trim=0.6))):
        funnel_analysis(data, observed="o", expected="e", trim=0.6)


def test_unfitted_estimator_explains_itself() -> None:
    with pytest.raises(ValueError, match=re.escape(fn.NOT_FITTED)):
        FunnelPlot("o", "e").summary()


# --------------------------------------------------------------------------- plotting
def test_plot_draws_labelled_limits_and_highlights_outliers() -> None:
    rng = np.random.default_rng(1)
    e = rng.uniform(5, 200, 30)
    o = rng.poisson(e)
    o[0] = int(e[0] * 3) + 10
    data = pd.DataFrame({"unit_id": [f"s{i}" for i in range(30)], "o": o, "e": e})
    res = funnel_analysis(data, observed="o", expected="e")
    ax = res.plot(title="LOS funnel", xlabel="E", ylabel="O/E", confidence_labels={0.95: "inner", 0.998: "outer"})
    try:
        labels = [line.get_label() for line in ax.get_lines()]
        assert "inner" in labels and "outer" in labels
        assert ax.get_title() == "LOS funnel" and ax.get_xlabel() == "E" and ax.get_ylabel() == "O/E"
        assert len(ax.collections) == 2  # in-control points and highlighted outliers
        assert any(text.get_text() == "s0" for text in ax.texts)
    finally:
        plt.close(ax.figure)


def test_plot_with_chinese_labels_renders_without_missing_glyphs() -> None:
    from perfmodel.report.fonts import use_cjk_font

    data = pd.DataFrame(
        {
            "派出所": ["东城", "西城", "南城", "北城"],
            "o": [12, 30, 4, 50],
            "e": [10.0, 28.0, 9.0, 30.0],
        }
    )
    res = funnel_analysis(data, observed="o", expected="e", unit="派出所")
    with matplotlib.rc_context():
        use_cjk_font()
        fig, ax = plt.subplots()
        try:
            res.plot(
                ax,
                title="漏斗图：投诉比",
                xlabel="期望数",
                ylabel="实际/期望",
                confidence_labels={0.95: "95% 控制限", 0.998: "99.8% 控制限"},
                target_label="目标",
            )
            fig.savefig(io.BytesIO(), format="png")  # glyph warnings would be errors here
            assert ax.get_title() == "漏斗图：投诉比"
        finally:
            plt.close(fig)
