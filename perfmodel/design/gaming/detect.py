"""The gaming analysis: every check on every unit, one family of q-values, units ranked by evidence.

:func:`detect_gaming` runs the checks of :mod:`~perfmodel.design.gaming.heaping`,
:mod:`~perfmodel.design.gaming.bunching` and :mod:`~perfmodel.design.gaming.checks`
and returns a :class:`GamingReport`; :func:`leads_table`, :func:`units_table`
and :func:`checks_table` are its tables for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from perfmodel.design.gaming.bunching import BunchingResult, WindowTest, bunching, window_test
from perfmodel.design.gaming.checks import (
    DigitTest,
    _count_columns,
    digit_checks,
    dispersion_checks,
    last_digit_test,
    level_shift_checks,
    repeat_checks,
    round_percent_checks,
)
from perfmodel.design.gaming.data import CHECKS, DISCLAIMER, _frame, select_months
from perfmodel.design.gaming.evidence import calibrated_log10_bf
from perfmodel.design.gaming.heaping import (
    PooledHeaping,
    ThresholdSpec,
    _band_fit,
    _pooled_test,
    _threshold_frame,
    threshold_specs,
)
from perfmodel.errors import OptionError
from perfmodel.framework import Framework, load_framework
from perfmodel.multiple_testing import bh_qvalues
from perfmodel.periods import period_label
from perfmodel.randomness import seed_from
from perfmodel.rollup import monthly_values
from perfmodel.text import check_lang

__all__ = [
    "GamingReport",
    "checks_table",
    "detect_gaming",
    "leads_table",
    "units_table",
]


THRESHOLD_SHARE = 0.5
"""Share of the false-discovery budget given to the threshold tests (weighted Benjamini–Hochberg)."""


# ============================================================================ the report
@dataclass
class GamingReport:
    """Result of :func:`detect_gaming`.

    Attributes
    ----------
    tests
        Every test run: one row per unit × indicator × check with ``statistic``,
        ``p_value``, ``q_value`` (weighted Benjamini–Hochberg over all rows, half
        the budget to the threshold tests), ``flagged`` (``q ≤ alpha``),
        ``log10_bf`` (the threshold test's Bayes factor of manipulation against
        none; for the other checks the p-value calibrated to one), ``evidence``
        (in ``lang``), ``evidence_zh``/``evidence_en``, and the unit's
        ``score``; sorted by score, then p-value.
    units
        One row per unit: ``unit_id``, ``score`` (``log10`` Bayes factor: the
        threshold test's where it applies, another check's only when it is a
        lead; see :func:`_unit_table`), ``combined_p`` (harmonic-mean p-value of
        its tests), ``rank``, ``n_tests``, ``n_flags``, ``checks`` (flagged
        checks), ``evidence`` (the sentence of the test that gives the score).
    pooled
        Model-based :class:`PooledHeaping` test per threshold indicator: is there
        heaping at all?
    bunching
        Pooled :class:`BunchingResult` per threshold indicator.
    windows
        Classic narrow-window :class:`WindowTest` per threshold indicator (assumes
        a locally linear pooled density; prefer ``pooled`` when they disagree).
    digits
        Pooled :class:`DigitTest` over all eligible counts (None without counts).
    """

    tests: pd.DataFrame
    units: pd.DataFrame
    pooled: dict[str, PooledHeaping]
    bunching: dict[str, BunchingResult]
    windows: dict[str, WindowTest]
    digits: DigitTest | None
    specs: list[ThresholdSpec]
    alpha: float
    lang: str
    parameters: dict[str, Any] = field(default_factory=dict)
    indicator_names: dict[str, tuple[str, str]] = field(default_factory=dict)

    def indicator_name(self, indicator: str) -> str:
        """The indicator's name in the report's language (its id when unknown; ``*``: all counts)."""
        if indicator == "*":
            return "全部计数" if self.lang == "zh" else "all counts"
        names = self.indicator_names.get(indicator)
        return indicator if names is None else names[0 if self.lang == "zh" else 1]

    @property
    def disclaimer(self) -> str:
        return DISCLAIMER["zh" if self.lang == "zh" else "en"]

    def to_frame(self) -> pd.DataFrame:
        """One row per unit, ranked by evidence (a copy of :attr:`units`)."""
        return self.units.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """The units, every test and the leads (flagged tests), by name."""
        return {"units": self.to_frame(), "tests": self.tests.copy(), "leads": self.leads()}

    def leads(self) -> pd.DataFrame:
        """Flagged rows only (``q ≤ alpha``): the leads to verify, strongest first."""
        return self.tests[self.tests["flagged"]].reset_index(drop=True)

    def flagged_units(self) -> list[str]:
        """Units with at least one lead, strongest first."""
        return self.units.loc[self.units["n_flags"] > 0, "unit_id"].tolist()

    def summary(self) -> str:
        """A short plain-language summary ending with the disclaimer."""
        zh = self.lang == "zh"
        n_units = len(self.units)
        flagged = self.flagged_units()
        n_leads = int(self.tests["flagged"].sum())
        lines = []
        if zh:
            lines.append(
                f"共检验{n_units}个单位的{len(self.tests)}项统计检验;在q ≤ {self.alpha:g}"
                f"(加权Benjamini–Hochberg)下有{n_leads}条线索,涉及{len(flagged)}个单位。"
            )
        else:
            lines.append(
                f"{len(self.tests)} tests on {n_units} units; {n_leads} leads at q ≤ {self.alpha:g} "
                f"(weighted Benjamini–Hochberg) in {len(flagged)} units."
            )
        for indicator, pooled in self.pooled.items():
            text = pooled.summary(self.lang)
            if indicator in self.bunching:
                text += " " + self.bunching[indicator].summary(self.lang)
            lines.append(f"{indicator}: {text}")
        lines.append(self.disclaimer)
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``gaming_tests.csv``, ``gaming_leads.csv``, ``gaming_units.csv``,
        ``bunching_<indicator>.csv`` and ``gaming_summary.txt`` to ``out_dir``."""
        from perfmodel.io import write_table

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "tests": write_table(self.tests, out / "gaming_tests.csv"),
            "leads": write_table(self.leads(), out / "gaming_leads.csv"),
            "units": write_table(self.units, out / "gaming_units.csv"),
        }
        for indicator, result in self.bunching.items():
            paths[f"bunching_{indicator}"] = write_table(result.bins, out / f"bunching_{indicator}.csv")
        summary = out / "gaming_summary.txt"
        summary.write_text(self.summary() + "\n", encoding="utf-8")
        paths["summary"] = summary
        return {k: Path(v) if v is not None else out for k, v in paths.items()}


def _unit_table(tests: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One row per unit, ranked by ``score``: the largest ``log10_bf`` among its tests that count.

    Where the threshold test applies, the unit's score is its Bayes factor
    (:mod:`~perfmodel.design.gaming.evidence`), and another check counts only
    when it is a lead, with its p-value calibrated to a Bayes factor
    (:func:`~perfmodel.design.gaming.evidence.calibrated_log10_bf`): the many
    checks without evidence neither dilute nor, by chance, outrank it. A unit
    without a threshold test is ranked by the largest calibrated evidence of its
    checks. ``combined_p`` (harmonic mean of all the unit's p-values) is shown beside it.
    """
    columns = ["unit_id", "score", "combined_p", "rank", "n_tests", "n_flags", "checks", "evidence"]
    if tests.empty:
        return pd.DataFrame(columns=columns)
    inverse = 1.0 / np.clip(tests["p_value"].to_numpy(dtype=float), 1e-300, 1.0)
    threshold = tests["check"].eq("threshold_heaping")
    counts = threshold | tests["flagged"] | ~threshold.groupby(tests["unit_id"]).transform("any")
    counted = tests["log10_bf"].where(counts, -np.inf)
    grouped = tests.assign(_inverse=inverse, _counted=counted).groupby("unit_id", sort=True)
    units = grouped.agg(
        n_tests=("p_value", "size"), n_flags=("flagged", "sum"), _sum=("_inverse", "sum"), score=("_counted", "max")
    )
    units["combined_p"] = np.minimum(1.0, units["n_tests"] / units["_sum"])
    strongest = tests.loc[grouped["_counted"].idxmax().to_numpy()].set_index("unit_id")
    units["evidence"] = strongest["evidence_zh" if lang == "zh" else "evidence_en"]
    flagged = tests[tests["flagged"]]
    checks = flagged.groupby("unit_id")["check"].agg(lambda c: ", ".join(sorted(set(c))))
    units["checks"] = checks.reindex(units.index).fillna("")
    units = units.reset_index().sort_values(["score", "unit_id"], ascending=[False, True], kind="stable")
    units["rank"] = np.arange(1, len(units) + 1)
    return units[columns].reset_index(drop=True)


def detect_gaming(
    observations: pd.DataFrame,
    framework: Framework | str | Path | None = None,
    *,
    units: pd.DataFrame | None = None,
    period: str | None = None,
    peer_group: str | None = None,
    history_months: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    window: float | Mapping[str, float] | None = None,
    checks: Iterable[str] | None = None,
    alpha: float = 0.1,
    min_months: int = 6,
    min_run: int = 3,
    n_boot: int = 300,
    rng: int | np.random.Generator | None = 0,
    lang: Literal["zh", "en"] = "zh",
) -> GamingReport:
    """Run all gaming and data-distortion checks and rank units by the evidence.

    Parameters
    ----------
    observations
        Clean long observations (``period``, ``unit_id``, ``indicator``, ``value``,
        ``numerator``, ``denominator``), e.g. ``Evaluation.observations`` or
        ``read_inputs(...)[1].data``.
    framework
        Gives indicator kinds and hard thresholds (a framework, shipped id or YAML path).
    units
        Optional units table; its ``name`` column is added to the outputs.
    period, history_months
        Restrict to the months of ``period`` (see :func:`select_months`); default: all rows.
    peer_group
        Column of ``units`` naming comparable units (e.g. ``station_class``): the
        threshold test takes each month's cross-sectional effect from the unit's
        peer group. None: all units are compared with all.
    thresholds, window
        Extra thresholds and window half-widths (see :func:`threshold_specs`).
    checks
        Subset of :data:`CHECKS` to run; default all.
    alpha
        False-discovery rate (Benjamini–Hochberg) at which a test becomes a lead.
    min_months, min_run
        Shortest series tested; shortest run of repeated figures reported.
    n_boot
        Bootstrap replicates of the pooled bunching estimate.
    rng
        Randomness of every random step (bootstrap, simulated exact tests): an
        int seed, or a generator from which one seed is drawn.
    lang
        Language of the ``evidence`` columns and the summary.

    Returns
    -------
    GamingReport
        Leads for verification (third-party checks, R16), not verdicts.
    """
    check_lang(lang)
    if not 0 < alpha < 1:
        raise OptionError(f"alpha must be between 0 and 1, got {alpha}")
    seed = seed_from(rng)
    fw = framework if isinstance(framework, Framework) or framework is None else load_framework(framework)
    chosen = set(CHECKS) if checks is None else set(checks)
    unknown = chosen - set(CHECKS)
    if unknown:
        raise OptionError(f"unknown check(s) {', '.join(sorted(unknown))}; choose from {', '.join(CHECKS)}")
    obs = select_months(observations, period, history_months=history_months)
    if obs.empty:
        where = f" in {period_label(period)}" if period is not None else ""
        raise OptionError(f"no observations{where}; check the period and the observations file")
    monthly = monthly_values(obs, fw)
    specs = threshold_specs(fw, thresholds=thresholds, window=window)
    specs = [s for s in specs if s.indicator in set(monthly["indicator"])]

    groups = _peer_groups(units, peer_group)
    fits = [_band_fit(monthly, spec, min_months, groups) for spec in specs]  # one counterfactual per threshold
    parts: list[pd.DataFrame] = []
    if "threshold_heaping" in chosen:
        parts.extend(_threshold_frame(spec, fit) for spec, fit in zip(specs, fits, strict=True))
    if "under_dispersion" in chosen:
        parts.append(dispersion_checks(monthly, min_months=min_months))
    if "level_shift" in chosen:
        parts.append(level_shift_checks(monthly, min_months=max(min_months, 8), rng=seed))
    if "repeated_values" in chosen:
        bounds = {i.id: i.range for i in fw.indicators() if i.range is not None} if fw is not None else {}
        parts.append(repeat_checks(monthly, min_run=min_run, bounds=bounds))
    if chosen & {"last_digit", "round_numbers"}:
        digits = digit_checks(monthly, rng=seed)
        parts.append(digits[digits["check"].isin(chosen)])
    if "round_percent" in chosen:
        parts.append(round_percent_checks(monthly, min_months=min_months))
    parts = [p for p in parts if not p.empty]
    tests = pd.concat(parts, ignore_index=True) if parts else _frame([])
    # The threshold test's own Bayes factor; the other checks' p-values calibrated to one.
    calibrated = pd.Series(calibrated_log10_bf(tests["p_value"].to_numpy()), index=tests.index, dtype=float)
    tests["log10_bf"] = tests.get("log10_bf", calibrated).fillna(calibrated).astype(float)
    tests["q_value"] = bh_qvalues(tests["p_value"].to_numpy() / _bh_weights(tests["check"]))
    tests["flagged"] = tests["q_value"] <= alpha
    tests["evidence"] = tests["evidence_zh" if lang == "zh" else "evidence_en"]
    ranking = _unit_table(tests, lang)
    tests = tests.merge(ranking[["unit_id", "score"]], on="unit_id", how="left")
    tests = tests.sort_values(["score", "p_value", "unit_id"], ascending=[False, True, True], kind="stable")
    order = [
        "unit_id",
        "indicator",
        "check",
        "statistic",
        "p_value",
        "q_value",
        "flagged",
        "log10_bf",
        "score",
        "evidence",
        "n",
        "observed",
        "expected",
        "evidence_zh",
        "evidence_en",
    ]
    tests = tests[order].reset_index(drop=True)
    if units is not None and {"unit_id", "name"} <= set(units.columns):
        names = units.assign(unit_id=units["unit_id"].astype(str)).drop_duplicates("unit_id")
        names = names.set_index("unit_id")["name"]
        tests.insert(1, "name", tests["unit_id"].map(names))
        ranking.insert(1, "name", ranking["unit_id"].map(names))

    pooled_bunching, pooled_windows, pooled_tests = {}, {}, {}
    for spec, fit in zip(specs, fits, strict=True):
        pooled_tests[spec.indicator] = _pooled_test(spec, fit)
        data = monthly[monthly["indicator"] == spec.indicator]
        counts = spec.kind == "rate" and bool(data["has_counts"].all())
        kwargs: dict[str, Any] = {}
        if counts:
            kwargs = {"numerators": data["numerator"].to_numpy(), "denominators": data["denominator"].to_numpy()}
        upper = _upper_bound(fw, spec)
        try:
            pooled_bunching[spec.indicator] = bunching(
                data["value"].to_numpy(),
                spec.threshold,
                side=spec.side,
                window=spec.window,
                exclude=(spec.window, spec.heap_width),
                groups=data["unit_id"].to_numpy(),
                upper=upper,
                n_boot=n_boot,
                rng=seed,
                **kwargs,
            )
        except ValueError:
            pass  # too little room around the threshold for a counterfactual
        pooled_windows[spec.indicator] = window_test(
            data["value"].to_numpy(), spec.threshold, window=spec.window, side=spec.side, upper=upper, **kwargs
        )
    pooled_digits = None
    counts = _count_columns(monthly, 5.0)
    if len(counts):
        pooled_digits = last_digit_test(counts["count"].to_numpy(), rng=seed)
    return GamingReport(
        tests=tests,
        units=ranking,
        pooled=pooled_tests,
        bunching=pooled_bunching,
        windows=pooled_windows,
        digits=pooled_digits,
        specs=specs,
        alpha=alpha,
        lang=lang,
        indicator_names={i.id: (i.name.zh, i.name.en) for i in fw.indicators()} if fw is not None else {},
        parameters={
            "period": period,
            "peer_group": peer_group,
            "history_months": history_months,
            "alpha": alpha,
            "min_months": min_months,
            "min_run": min_run,
            "n_boot": n_boot,
            "seed": seed,
            "checks": sorted(chosen),
            "months": sorted(set(monthly["period"])),
        },
    )


def _bh_weights(check: pd.Series) -> np.ndarray:
    """Weights of the weighted Benjamini–Hochberg procedure (Genovese, Roeder & Wasserman 2006).

    The threshold tests share :data:`THRESHOLD_SHARE` of the error budget and the
    other checks the rest, declared before the data are seen; the weights
    average 1, which keeps the false discovery rate at ``alpha``. A family of
    one kind of check gets weight 1 throughout (plain Benjamini–Hochberg).
    """
    threshold = check.eq("threshold_heaping").to_numpy()
    m, m_threshold = len(threshold), int(threshold.sum())
    if m_threshold in (0, m):
        return np.ones(m)
    return np.where(threshold, THRESHOLD_SHARE * m / m_threshold, (1 - THRESHOLD_SHARE) * m / (m - m_threshold))


def _peer_groups(units: pd.DataFrame | None, peer_group: str | None) -> dict[str, str] | None:
    """``{unit_id: group}`` from the units table's ``peer_group`` column (None when not asked for)."""
    if peer_group is None:
        return None
    if units is None or peer_group not in units.columns:
        raise OptionError(
            f"peer_group={peer_group!r} needs a units table with a {peer_group!r} column",
            hint="pass units= with that column, or leave peer_group out to compare all units with all",
        )
    return dict(zip(units["unit_id"].astype(str), units[peer_group].astype(str), strict=True))


def _upper_bound(framework: Framework | None, spec: ThresholdSpec) -> float | None:
    """The natural bound on the passing side (100 % for rates), excluded from density fits."""
    meta = framework.indicator_meta().get(spec.indicator) if framework is not None else None
    if meta is not None and meta.range is not None:
        return float(meta.range[1] if spec.side == "min" else meta.range[0])
    if spec.kind == "rate":
        return 1.0 if spec.side == "min" else 0.0
    return None


# ============================================================================ display
_HEADERS = {
    "zh": {
        "unit_id": "单位编号",
        "name": "单位名称",
        "indicator": "指标",
        "check": "检查项",
        "statistic": "统计量",
        "p_value": "p值",
        "q_value": "q值(BH)",
        "score": "证据得分(log10贝叶斯因子)",
        "log10_bf": "log10贝叶斯因子",
        "evidence": "证据",
        "rank": "排序",
        "n_flags": "线索数",
        "n_tests": "检验数",
        "checks": "被标记的检查项",
        "combined_p": "综合p值",
    },
    "en": {
        "unit_id": "unit",
        "name": "name",
        "indicator": "indicator",
        "check": "check",
        "statistic": "statistic",
        "p_value": "p",
        "q_value": "q (BH)",
        "score": "evidence (log10 Bayes factor)",
        "log10_bf": "log10 Bayes factor",
        "evidence": "evidence",
        "rank": "rank",
        "n_flags": "leads",
        "n_tests": "tests",
        "checks": "flagged checks",
        "combined_p": "combined p",
    },
}


def leads_table(report: GamingReport, *, top: int | None = 20) -> pd.DataFrame:
    """The leads (``q ≤ alpha``) for display: check names spelled out, headers in the report's language."""
    lang = "zh" if report.lang == "zh" else "en"
    columns = [
        c
        for c in ("unit_id", "name", "indicator", "check", "p_value", "q_value", "score", "evidence")
        if c in report.tests.columns
    ]
    table = report.leads()[columns].copy()
    table["check"] = table["check"].map(lambda c: CHECKS[c][lang])
    table["indicator"] = table["indicator"].map(report.indicator_name)
    if top is not None:
        table = table.head(top)
    return table.rename(columns=_HEADERS[lang])


def units_table(report: GamingReport, *, top: int | None = 15) -> pd.DataFrame:
    """Units ranked by evidence (``score``), for display (headers in the report's language)."""
    lang = "zh" if report.lang == "zh" else "en"
    columns = [
        c
        for c in ("rank", "unit_id", "name", "score", "n_tests", "n_flags", "checks", "evidence")
        if c in report.units.columns
    ]
    table = report.units[columns].copy()
    table["checks"] = table["checks"].map(
        lambda text: (
            "、".join(CHECKS[c.strip()][lang] for c in text.split(",") if c.strip())
            if lang == "zh"
            else ", ".join(CHECKS[c.strip()][lang] for c in text.split(",") if c.strip())
        )
    )
    if top is not None:
        table = table.head(top)
    return table.rename(columns=_HEADERS[lang])


def checks_table(report: GamingReport) -> pd.DataFrame:
    """Per check: tests run, leads, share of tests that are leads (headers in the report's language)."""
    lang = "zh" if report.lang == "zh" else "en"
    tests = report.tests
    table = tests.groupby("check", sort=False).agg(tests=("p_value", "size"), leads=("flagged", "sum"))
    table = table.reindex([c for c in CHECKS if c in table.index])
    table.insert(0, "name", [CHECKS[c][lang] for c in table.index])
    table["share"] = table["leads"] / table["tests"]
    headers = (
        {"name": "检查项", "tests": "检验数", "leads": "线索数", "share": "线索占比"}
        if lang == "zh"
        else {"name": "check", "tests": "tests", "leads": "leads", "share": "share of tests"}
    )
    return table.reset_index(drop=True).rename(columns=headers)
