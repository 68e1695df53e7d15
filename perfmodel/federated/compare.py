"""The coordinator: a fair cross-region comparison from the regions' aggregates alone.

Steps (each message kept in the :class:`~perfmodel.federated.messages.ExchangeLog`):

1. every region sends its inventory (units, row counts, levels of the
   categorical context columns); the coordinator builds one design layout;
2. every region sends its sufficient statistics per unit and indicator; the
   coordinator puts the units of all regions in one table of period values and
   scores it the framework's way (orient, normalise, aggregate the tree): the
   *naive pooled* composite, blind to context;
3. for each indicator, the case-mix GLM (context terms + region fixed effects)
   is fitted by federated IRLS: the regions send score vectors and information
   matrices at the coordinator's current coefficients until the coefficients
   stop moving (:func:`fit_federated`); this is statsmodels' IRLS on the pooled
   rows, so the estimates are the pooled ones;
4. the regions send per-unit observed and expected totals at the fitted
   coefficients; each unit's value is indirectly standardised (O/E), the
   *calibrated* composite is scored the same way as the naive one, and a
   parametric bootstrap (coefficients from their covariance, observed totals
   from their model variance) gives every unit's rank interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import patsy
from scipy import stats

from perfmodel.aggregate import aggregate_tree
from perfmodel.errors import OptionError, check_choice, check_confidence
from perfmodel.federated.messages import ExchangeLog, GlmContribution, UnitTotals
from perfmodel.federated.region import REGION_COLUMN, CaseMixSpec, Region, RegionError, family_for
from perfmodel.framework import Framework
from perfmodel.normalise import normalise, orient, orient_bounds
from perfmodel.randomness import RngLike, as_generator
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from perfmodel.calibrate.funnel import FunnelResult

__all__ = [
    "CrossRegionComparison",
    "DEFAULT_TERMS",
    "FederatedFit",
    "compare_regions",
    "figure_league",
    "figure_rank_gap",
    "fit_federated",
    "rank_gap",
]

DEFAULT_TERMS = "C(area_type) + C(station_type) + np.log(incident_volume / officers) + np.log(population)"
"""Case-mix terms over the units table used when none are given: area type, station
type, workload per officer and population (the context of R4)."""

REGION_EFFECTS = ("fixed", "none")


@dataclass
class FederatedFit:
    """A case-mix GLM fitted from the regions' score vectors and information matrices.

    Attributes
    ----------
    spec
        The model (indicator, terms, family, region effects).
    params
        Coefficients by term (patsy names, as statsmodels reports them).
    cov
        Covariance of the coefficients: scale × (Σ information)⁻¹.
    scale
        1 for binomial and Poisson; Pearson χ² / (rows − terms) otherwise (statsmodels' default).
    deviance
        Deviance at the estimates.
    n_rows
        Rows over all regions (the regions' counts, summed).
    iterations
        IRLS iterations until the coefficients moved less than the tolerance.
    """

    spec: CaseMixSpec
    params: pd.Series
    cov: pd.DataFrame
    scale: float
    deviance: float
    n_rows: int
    iterations: int
    design: Any = field(repr=False)

    def to_frame(self, confidence: float = 0.95) -> pd.DataFrame:
        """Coefficient table: ``term``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``."""
        z = stats.norm.ppf(0.5 + check_confidence(confidence) / 2)
        se = np.sqrt(np.diag(self.cov.to_numpy()))
        est = self.params.to_numpy()
        return pd.DataFrame(
            {
                "indicator": self.spec.indicator,
                "term": self.params.index,
                "estimate": est,
                "std_error": se,
                "conf_low": est - z * se,
                "conf_high": est + z * se,
            }
        )


def _design_layout(spec: CaseMixSpec, levels: Mapping[str, Sequence[str]], numeric: Sequence[str]) -> Any:
    """patsy design info built from the union of the regions' levels (no rows needed)."""
    n = max([1, *(len(v) for v in levels.values())])
    template: dict[str, list[object]] = {
        column: [values[i % len(values)] for i in range(n)] for column, values in levels.items()
    }
    template.update({column: [1.0] * n for column in numeric if column not in template})
    frame = pd.DataFrame(template)
    return patsy.dmatrix(spec.rhs, frame, NA_action="raise", return_type="dataframe").design_info


def _numeric_names(rhs: str, categorical: Sequence[str]) -> list[str]:
    names = set(re.findall(r"[^\W\d]\w*", rhs, re.UNICODE)) - set(categorical)
    return sorted(names - {"C", "np", "I"})


def fit_federated(
    regions: Sequence[Region],
    spec: CaseMixSpec,
    *,
    log: ExchangeLog | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> FederatedFit:
    """Fit ``spec`` on all regions' rows from their score vectors and information matrices.

    Iteration 0 starts from the family's starting means (as statsmodels does);
    each later iteration sends the current coefficients β and receives from every
    region U = XᵀW g'(μ)(y − μ) and I = XᵀWX; then β ← β + (ΣI)⁻¹ΣU. It stops
    when no coefficient moves more than ``tol`` × (1 + |β|).

    Parameters
    ----------
    regions
        The regions (their rows never leave them).
    spec
        The model.
    log
        Where the received messages are kept (a new log when None).
    tol, max_iter
        Convergence tolerance on the coefficients and the iteration limit.

    Returns
    -------
    FederatedFit
    """
    log = log if log is not None else ExchangeLog([])
    inventories = [log.record(r.inventory([spec])) for r in regions]
    levels: dict[str, set[str]] = {}
    for inv in inventories:
        for column, values in inv.levels.items():
            levels.setdefault(column, set()).update(values)
    categorical = sorted(levels)
    design = _design_layout(spec, {k: sorted(v) for k, v in levels.items()}, _numeric_names(spec.rhs, categorical))
    beta: np.ndarray | None = None
    iteration = 0
    while True:
        parts: list[GlmContribution] = [log.record(r.glm_contribution(spec, design, beta, iteration)) for r in regions]
        score = sum(p.score for p in parts)
        info = sum(p.information for p in parts)
        previous = np.zeros(len(design.column_names)) if beta is None else beta
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError as exc:
            raise RegionError(
                f"the case-mix model of {spec.indicator!r} cannot be fitted: its terms are collinear "
                "or a level has no rows; drop a term or merge rare levels"
            ) from exc
        beta = previous + step
        iteration += 1
        if np.all(np.abs(beta - previous) <= tol * (1 + np.abs(beta))) and iteration > 1:
            break
        if iteration >= max_iter:
            raise RegionError(
                f"the case-mix model of {spec.indicator!r} did not converge in {max_iter} iterations "
                "(a level of a term with no events or all successes makes its coefficient infinite)",
                hint="merge rare levels or drop the term",
            )
    final = [log.record(r.glm_contribution(spec, design, beta, iteration)) for r in regions]
    n_rows = int(sum(p.n_rows for p in final))
    k = len(beta)
    scale = 1.0
    if spec.family in ("gaussian", "gamma"):
        scale = float(sum(p.pearson_chi2 for p in final)) / max(n_rows - k, 1)
    info = sum(p.information for p in final)
    names = list(design.column_names)
    cov = pd.DataFrame(scale * np.linalg.inv(info), index=names, columns=names)
    return FederatedFit(
        spec=spec,
        params=pd.Series(beta, index=names),
        cov=cov,
        scale=scale,
        deviance=float(sum(p.deviance for p in final)),
        n_rows=n_rows,
        iterations=iteration,
        design=design,
    )


def _scores(framework: Framework, values: pd.DataFrame) -> pd.Series:
    """The framework's composite of period values over all units together.

    Orient, normalise with the framework's method and range over the units of
    every region (no peer groups: the comparison is across regions), aggregate
    the tree with the framework's weights; difficulty, bonus items and
    deductions are not part of the comparison.
    """
    indicators = [i for i in framework.indicators() if i.id in values.columns]
    method = framework.normalisation.method
    oriented = orient(
        values[[i.id for i in indicators]],
        {i.id: i.direction for i in indicators},
        {i.id: i.target for i in indicators if i.target is not None},
    )
    lo, hi = framework.normalisation.range
    goalposts = targets = None
    if method == "goalposts":
        goalposts = {i.id: orient_bounds(*i.goalposts, i.direction, i.target) for i in indicators if i.goalposts}
        if len(goalposts) < len(indicators):
            method, goalposts = "minmax", None
    if method == "target":
        targets = {
            i.id: (0.0 if i.direction == "target" else (-i.target if i.direction == "lower" else i.target))
            for i in indicators
            if i.target is not None
        }
    scaled = normalise(oriented, method, lo=lo, hi=hi, goalposts=goalposts, targets=targets)
    return aggregate_tree(scaled, framework)["score"]


def _unit_wise(framework: Framework) -> bool:
    """Whether the framework normalises each unit on its own (goalposts on every indicator)."""
    return framework.normalisation.method == "goalposts" and all(
        i.goalposts is not None for i in framework.indicators()
    )


def _scores_of_draws(framework: Framework, draws: list[pd.DataFrame]) -> np.ndarray:
    """(draws × units) composites; one pass over the stacked draws when normalisation is unit-wise."""
    if not _unit_wise(framework):
        return np.vstack([_scores(framework, d).to_numpy() for d in draws])
    stacked = pd.concat(draws, ignore_index=True)
    return _scores(framework, stacked).to_numpy().reshape(len(draws), -1)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score (ties share the best rank); missing scores rank last."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    return stats.rankdata(-filled, method="min", axis=-1)


@dataclass
class CrossRegionComparison:
    """Units of several regions compared fairly to their context, and how it was computed.

    Attributes
    ----------
    league
        One row per unit (see :meth:`to_frame`).
    fits
        Indicator → its federated case-mix fit.
    totals
        Per unit and modelled indicator: ``observed``, ``expected``, ``ratio`` (O/E).
    log
        Every message received from the regions.
    confidence
        Coverage of the rank intervals.
    draws
        Bootstrap replicates behind the rank intervals.
    """

    framework: Framework
    league: pd.DataFrame
    fits: dict[str, FederatedFit]
    totals: pd.DataFrame
    log: ExchangeLog
    confidence: float
    draws: int

    def to_frame(self) -> pd.DataFrame:
        """The league table.

        Columns ``region``, ``unit_id``, ``naive_score``, ``naive_rank`` (the
        framework's composite on the pooled period values), ``score``, ``rank``
        (calibrated: every modelled indicator indirectly standardised for its
        context and region), ``rank_low``, ``rank_high`` (the rank interval at
        :attr:`confidence`) and ``rank_change`` (naive rank − calibrated rank).
        Sorted by calibrated rank.
        """
        return self.league.copy()

    def region_effects(self, confidence: float = 0.95) -> pd.DataFrame:
        """The region terms of every model, relative to the first region (link scale)."""
        parts = [fit.to_frame(confidence) for fit in self.fits.values()]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if frame.empty:
            return frame
        return frame[frame["term"].str.startswith(f"C({REGION_COLUMN})")].reset_index(drop=True)

    def coefficients(self, confidence: float = 0.95) -> pd.DataFrame:
        """Every coefficient of every case-mix model with its interval."""
        parts = [fit.to_frame(confidence) for fit in self.fits.values()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def tables(self) -> dict[str, pd.DataFrame]:
        """``league``, ``coefficients``, ``unit_totals``, ``exchanged`` (every field that crossed, with its size)."""
        return {
            "league": self.to_frame(),
            "coefficients": self.coefficients(),
            "unit_totals": self.totals.copy(),
            "exchanged": self.log.to_frame().astype({"shape": str}),
        }

    def funnel(self, indicator: str) -> FunnelResult:
        """Funnel analysis of one modelled indicator's O/E across all regions' units."""
        from perfmodel.calibrate.funnel import funnel_analysis

        data = self.totals[self.totals["indicator"] == indicator]
        if data.empty:
            raise OptionError(f"indicator {indicator!r} has no case-mix model; use one of {sorted(self.fits)}")
        data = data.assign(unit=data["region"] + "/" + data["unit_id"])
        return funnel_analysis(
            data, observed="observed", expected="expected", kind="ratio", unit="unit", method="normal"
        )

    def summary(self, lang: str = "zh") -> str:
        """A few lines: units, regions, models, bytes exchanged, the widest rank intervals."""
        check_lang(lang)
        league = self.league
        width = (league["rank_high"] - league["rank_low"]).median()
        return say(
            "federated.summary",
            lang,
            units=len(league),
            regions=league["region"].nunique(),
            models=len(self.fits),
            messages=len(self.log.messages),
            kib=f"{self.log.nbytes / 1024:.1f}",
            confidence=f"{self.confidence:.0%}",
            width=f"{width:.1f}",
        )


def _calibrated(values: pd.Series, totals: pd.DataFrame, identity: bool, overall: float) -> pd.Series:
    """Each unit's period value with its context removed (indirect standardisation).

    Log/logit links: value × overall / (E / Σw) — for a rate (O/E) × the pooled
    rate. Identity link: value − (E / Σw − overall).
    """
    expected_mean = (totals["expected"] / totals["weight"]).reindex(values.index)
    if identity:
        return values - (expected_mean - overall)
    return values * overall / expected_mean


def compare_regions(
    framework: Framework,
    regions: Sequence[Region],
    *,
    terms: str = DEFAULT_TERMS,
    region_effects: Literal["fixed", "none"] = "fixed",
    indicators: Sequence[str] | None = None,
    draws: int = 100,
    confidence: float = 0.9,
    rng: RngLike = None,
) -> CrossRegionComparison:
    """Compare the units of several regions fairly, from the regions' aggregates alone.

    Parameters
    ----------
    framework
        The framework every region scores its units under.
    regions
        The regions (:class:`Region`), each holding its own rows.
    terms
        Case-mix terms over the units table (:data:`DEFAULT_TERMS`).
    region_effects
        ``"fixed"`` (default): each region's own intercept in every case-mix
        model, so a unit is compared with what units of its context achieve in
        its region; ``"none"``: context terms only.
    indicators
        Indicators to calibrate (default: every indicator of the tree with data).
    draws
        Parametric bootstrap replicates for the rank intervals.
    confidence
        Coverage of the rank intervals.
    rng
        Seed or generator of the bootstrap.

    Returns
    -------
    CrossRegionComparison
    """
    check_choice("region_effects", region_effects, REGION_EFFECTS)
    confidence = check_confidence(confidence)
    if draws < 1:
        raise OptionError(f"draws={draws!r} must be at least 1")
    names = [r.name for r in regions]
    if len(regions) < 2 or len(set(names)) != len(names):
        raise OptionError(f"a comparison needs two or more regions with distinct names; got {names}")
    generator = as_generator(rng)
    log = ExchangeLog([])

    stats_parts = []
    for region in regions:
        message = log.record(region.statistics())
        stats_parts.append(message.table.assign(region=region.name))
    pooled = pd.concat(stats_parts, ignore_index=True)
    pooled["key"] = pooled["region"] + "/" + pooled["unit_id"]
    tree = [i for i in framework.indicators()]
    present = set(pooled["indicator"])
    wanted = [i for i in tree if i.id in present and (indicators is None or i.id in indicators)]
    values = pooled.pivot(index="key", columns="indicator", values="value").reindex(
        columns=[i.id for i in tree if i.id in present]
    )
    keys = pooled.drop_duplicates("key").set_index("key")[["region", "unit_id"]].reindex(values.index)

    fits: dict[str, FederatedFit] = {}
    totals_parts = []
    adjusted = values.copy()
    boot: list[tuple[str, pd.DataFrame, FederatedFit, bool, float]] = []
    for ind in wanted:
        spec = CaseMixSpec(ind.id, terms, family_for(ind), region_effects)
        fit = fit_federated(regions, spec, log=log)
        beta = fit.params.to_numpy()
        received: list[UnitTotals] = [log.record(r.unit_totals(spec, fit.design, beta)) for r in regions]
        frame = pd.concat(
            [
                pd.DataFrame(
                    {
                        "region": t.region,
                        "unit_id": t.unit_id.astype(str),
                        "indicator": t.indicator,
                        "observed": t.observed,
                        "expected": t.expected,
                        "variance": t.variance * fit.scale,
                        "weight": t.weight,
                    }
                ).assign(_j=list(t.jacobian))
                for t in received
            ],
            ignore_index=True,
        )
        frame.index = frame["region"] + "/" + frame["unit_id"]
        identity = spec.family == "gaussian"
        overall = float(frame["observed"].sum() / frame["weight"].sum())
        adjusted[ind.id] = _calibrated(values[ind.id], frame, identity, overall)
        fits[ind.id] = fit
        boot.append((ind.id, frame, fit, identity, overall))
        totals_parts.append(frame.drop(columns="_j").assign(ratio=frame["observed"] / frame["expected"]))

    naive = _scores(framework, values)
    score = _scores(framework, adjusted)
    replicates = []
    for _ in range(draws):
        replicate = adjusted.copy()
        for ind_id, frame, fit, identity, overall in boot:
            delta = generator.multivariate_normal(np.zeros(len(fit.params)), fit.cov.to_numpy())
            jac = np.vstack(frame["_j"].to_numpy())
            expected = frame["expected"].to_numpy() + jac @ delta
            observed = frame["observed"].to_numpy() + generator.normal(0, 1, len(frame)) * np.sqrt(
                frame["variance"].to_numpy()
            )
            o = frame["observed"].to_numpy()
            raw = values[ind_id].reindex(frame.index).to_numpy()
            if identity:
                raw_star = raw + (observed - o) / frame["weight"].to_numpy()
            else:
                raw_star = raw * np.divide(observed, o, out=np.ones_like(o), where=o > 0)
            star = frame.assign(expected=np.maximum(expected, 1e-12))
            replicate[ind_id] = _calibrated(pd.Series(raw_star, index=frame.index), star, identity, overall).reindex(
                replicate.index
            )
        replicates.append(replicate)
    rank_draws = _ranks(_scores_of_draws(framework, replicates))
    tail = (1 - confidence) / 2
    league = keys.assign(
        naive_score=naive.to_numpy(),
        naive_rank=_ranks(naive.to_numpy()),
        score=score.to_numpy(),
        rank=_ranks(score.to_numpy()),
        rank_low=np.floor(np.quantile(rank_draws, tail, axis=0)).astype(int),
        rank_high=np.ceil(np.quantile(rank_draws, 1 - tail, axis=0)).astype(int),
    )
    league["rank_change"] = league["naive_rank"] - league["rank"]
    league = league.sort_values(["rank", "region", "unit_id"]).reset_index(drop=True)
    totals = pd.concat(totals_parts, ignore_index=True) if totals_parts else pd.DataFrame()
    return CrossRegionComparison(
        framework=framework, league=league, fits=fits, totals=totals, log=log, confidence=confidence, draws=draws
    )


def rank_gap(league: pd.DataFrame, truth: pd.Series, *, bottom: float = 0.25) -> pd.DataFrame:
    """How far each region's units are ranked from their true rank, naive and calibrated.

    Parameters
    ----------
    league
        :meth:`CrossRegionComparison.to_frame`.
    truth
        True performance indexed by ``region/unit_id`` (higher is better).
    bottom
        Share of units counted as "the bottom".

    Returns
    -------
    pandas.DataFrame
        One row per region: ``units``, ``naive_gap`` and ``gap`` (mean of rank −
        true rank; positive = ranked worse than the truth), ``true_bottom``,
        ``naive_bottom``, ``bottom`` (share of the region's units in the bottom
        ``bottom`` share of all units, by truth, naive and calibrated rank).
    """
    key = league["region"] + "/" + league["unit_id"]
    true = truth.reindex(key).to_numpy(dtype=float)
    true_rank = _ranks(true)
    n = len(league)
    cut = n - int(np.floor(bottom * n))
    frame = pd.DataFrame(
        {
            "region": league["region"].to_numpy(),
            "naive_gap": league["naive_rank"].to_numpy() - true_rank,
            "gap": league["rank"].to_numpy() - true_rank,
            "true_bottom": true_rank > cut,
            "naive_bottom": league["naive_rank"].to_numpy() > cut,
            "bottom": league["rank"].to_numpy() > cut,
        }
    )
    out = frame.groupby("region", sort=True).agg(
        units=("gap", "size"),
        naive_gap=("naive_gap", "mean"),
        gap=("gap", "mean"),
        true_bottom=("true_bottom", "mean"),
        naive_bottom=("naive_bottom", "mean"),
        bottom=("bottom", "mean"),
    )
    return out.reset_index()


def figure_league(
    comparison: CrossRegionComparison, *, top: int | None = None, ax: Axes | None = None, lang: str = "zh"
) -> Axes:
    """Every unit's calibrated rank with its interval, coloured by region (rank 1 at the top)."""
    check_lang(lang)
    from perfmodel.report.style import report_axes

    league = comparison.to_frame()
    if top is not None:
        league = league.head(top)
    ax = report_axes(ax, figsize=(7, max(3.0, 0.12 * len(league) + 1)))
    y = np.arange(len(league))
    for i, (region, part) in enumerate(league.groupby("region", sort=True)):
        pos = y[league["region"].to_numpy() == region]
        ax.hlines(pos, part["rank_low"], part["rank_high"], color=f"C{i}", lw=0.8)
        ax.plot(part["rank"], pos, "o", ms=3, color=f"C{i}", label=str(region))
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_xlabel(say("federated.fig.rank", lang))
    ax.set_ylabel(say("federated.fig.units", lang))
    ax.set_title(say("federated.fig.league_title", lang, confidence=f"{comparison.confidence:.0%}"))
    ax.legend(title=say("federated.fig.region", lang), fontsize="small")
    return ax


def figure_rank_gap(gaps: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Mean rank − true rank by region, naive against calibrated (:func:`rank_gap`)."""
    check_lang(lang)
    from perfmodel.report.style import report_axes

    ax = report_axes(ax, figsize=(6, 3.5))
    x = np.arange(len(gaps))
    ax.bar(x - 0.2, gaps["naive_gap"], width=0.4, label=say("federated.fig.naive", lang))
    ax.bar(x + 0.2, gaps["gap"], width=0.4, label=say("federated.fig.calibrated", lang))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, gaps["region"].astype(str))
    ax.set_xlabel(say("federated.fig.region", lang))
    ax.set_ylabel(say("federated.fig.gap", lang))
    ax.set_title(say("federated.fig.gap_title", lang))
    ax.legend(fontsize="small")
    return ax
