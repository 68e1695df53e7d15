"""Redundancy and coherence of an indicator system (OECD/JRC handbook, step 4).

Questions a designer asks before adding or keeping an indicator:

* Do the indicators of a dimension measure the same thing, and does each agree
  with its dimension and the overall score? (:func:`correlations`,
  :func:`parent_correlations`, :func:`cronbach_alpha`, :func:`reliability`,
  :func:`pca_by_dimension`, :func:`vif`)
* Does an indicator tell units apart at all? (:func:`discrimination`)
* What happens to the ranking without it? (:func:`removal_effect`)
* Which pairs say the same thing and could be merged into one indicator, as seed
  001 merges patrol mileage and street visibility into 有效巡防覆盖率 (R10)?
  (:func:`merge_suggestions`)
* What does the system cost the stations that report into it? (:func:`reporting_burden`)

All statistics use the normalised indicators of an evaluation (oriented so that
higher is better, 0–100), so a positive correlation always means agreement, except
:func:`discrimination`, which looks at the natural values.
:func:`redundancy_report` runs everything.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfmodel.evaluation import Evaluation
from perfmodel.framework import Framework, Indicator, Name
from perfmodel.periods import months_in
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "MergeRule",
    "KNOWN_MERGES",
    "RedundancyReport",
    "cronbach_alpha",
    "alpha_if_deleted",
    "dimension_members",
    "correlations",
    "parent_correlations",
    "correlation_matrix",
    "reliability",
    "pca_by_dimension",
    "vif",
    "discrimination",
    "removal_effect",
    "merge_suggestions",
    "reporting_burden",
    "redundancy_report",
    "figure_correlation_heatmap",
]


@dataclass(frozen=True)
class MergeRule:
    """A known merge of two indicators into one (matched by words in their names or ids)."""

    words_a: tuple[str, ...]
    words_b: tuple[str, ...]
    id: str
    name: Name
    reference: str

    def matches(self, a: Indicator, b: Indicator) -> bool:
        def has(ind: Indicator, words: tuple[str, ...]) -> bool:
            text = f"{ind.id} {ind.name.zh} {ind.name.en}".lower()
            return any(w.lower() in text for w in words)

        return (has(a, self.words_a) and has(b, self.words_b)) or (has(a, self.words_b) and has(b, self.words_a))


KNOWN_MERGES: tuple[MergeRule, ...] = (
    MergeRule(
        words_a=("巡逻里程", "patrol mileage", "patrol_mileage"),
        words_b=("见警率", "street visibility", "visibility"),
        id="effective_patrol_coverage",
        name=Name(zh="有效巡防覆盖率", en="Effective patrol coverage"),
        reference="seed 001 (R10): 巡逻里程 + 街面见警率 → 有效巡防覆盖率",
    ),
    MergeRule(
        words_a=("破案时长", "clearance time", "clearance_days", "破案周期"),
        words_b=("满意度", "satisfaction"),
        id="clearance_effectiveness",
        name=Name(zh="破案综合效能", en="Clearance effectiveness"),
        reference="seed 000 (R10): 破案率 → 破案时长 + 群众满意度",
    ),
)
"""Merges the seeds name; other redundant pairs get a generic proposed name."""


# ---------------------------------------------------------------- basics
def cronbach_alpha(X: pd.DataFrame | np.ndarray) -> float:
    """Cronbach's alpha of the columns of ``X`` (rows with a missing value are dropped).

    ``alpha = k / (k − 1) · (1 − Σ var(item) / var(Σ items))`` with sample
    variances; ``NaN`` for fewer than two items or two complete rows.

    Examples
    --------
    >>> cronbach_alpha(np.array([[1, 2], [2, 3], [3, 4.0]]))
    1.0
    """
    data = pd.DataFrame(X).dropna()
    k = data.shape[1]
    if k < 2 or len(data) < 2:
        return float("nan")
    total = data.sum(axis=1).var(ddof=1)
    if total == 0:
        return float("nan")
    return float(k / (k - 1) * (1 - data.var(ddof=1).sum() / total))


def alpha_if_deleted(X: pd.DataFrame) -> pd.Series:
    """Cronbach's alpha of ``X`` without each column in turn."""
    return pd.Series({c: cronbach_alpha(X.drop(columns=c)) for c in X.columns}, dtype=float)


def dimension_members(framework: Framework) -> dict[str, list[str]]:
    """Parent node id → the indicators directly under it (``score`` for top-level indicators)."""
    out: dict[str, list[str]] = {}
    for info in framework.walk():
        if isinstance(info.node, Indicator):
            out.setdefault(info.parent or "score", []).append(info.id)
    return out


def _normalised(ev: Evaluation) -> pd.DataFrame:
    ids = [i.id for i in ev.framework.indicators()]
    return ev.stages["normalised"].reindex(columns=ids).astype(float)


# ---------------------------------------------------------------- correlations
def correlations(ev: Evaluation, method: str = "pearson") -> pd.DataFrame:
    """Correlation of every pair of indicators that share a parent dimension.

    Returns
    -------
    pandas.DataFrame
        dimension, indicator_a, indicator_b, r, n (units with both values).
    """
    X = _normalised(ev)
    rows = []
    for dim, members in dimension_members(ev.framework).items():
        for a, b in itertools.combinations(members, 2):
            both = X[[a, b]].dropna()
            r = both[a].corr(both[b], method=method) if len(both) > 2 else np.nan
            rows.append({"dimension": dim, "indicator_a": a, "indicator_b": b, "r": r, "n": len(both)})
    return pd.DataFrame(rows, columns=["dimension", "indicator_a", "indicator_b", "r", "n"])


def parent_correlations(ev: Evaluation, method: str = "pearson") -> pd.DataFrame:
    """Each indicator's correlation with its parent dimension and with the overall score.

    A weak or negative correlation with its own dimension says the indicator does
    not measure what the dimension is meant to (or is drowned by its siblings).
    """
    X = _normalised(ev)
    agg = ev.stages["aggregated"].reindex(X.index)
    rows = []
    for info in ev.framework.walk():
        if not isinstance(info.node, Indicator):
            continue
        parent = info.parent or "score"
        rows.append(
            {
                "indicator": info.id,
                "dimension": parent,
                "r_dimension": X[info.id].corr(agg[parent], method=method),
                "r_score": X[info.id].corr(agg["score"], method=method),
            }
        )
    return pd.DataFrame(rows)


def correlation_matrix(ev: Evaluation, method: str = "pearson") -> pd.DataFrame:
    """All indicators and dimensions against each other (for a heat map)."""
    X = _normalised(ev)
    agg = ev.stages["aggregated"].reindex(X.index).drop(columns="availability", errors="ignore")
    return pd.concat([X, agg], axis=1).corr(method=method)


# ---------------------------------------------------------------- reliability & PCA
def reliability(ev: Evaluation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cronbach's alpha per dimension, and alpha if each indicator were deleted.

    Returns
    -------
    by_dimension, by_indicator
        ``by_dimension``: dimension, n_indicators, n_units (complete rows), alpha.
        ``by_indicator``: dimension, indicator, alpha_if_deleted, change (positive:
        the dimension is more consistent without the indicator).
    """
    X = _normalised(ev)
    dims, items = [], []
    for dim, members in dimension_members(ev.framework).items():
        block = X[members]
        alpha = cronbach_alpha(block)
        dims.append({"dimension": dim, "n_indicators": len(members), "n_units": len(block.dropna()), "alpha": alpha})
        if len(members) > 2:
            for ind, value in alpha_if_deleted(block).items():
                items.append({"dimension": dim, "indicator": ind, "alpha_if_deleted": value, "change": value - alpha})
    return (pd.DataFrame(dims), pd.DataFrame(items, columns=["dimension", "indicator", "alpha_if_deleted", "change"]))


def _standardised_complete(block: pd.DataFrame) -> pd.DataFrame:
    data = block.dropna()
    sd = data.std(ddof=1)
    data = data.loc[:, sd > 0]
    return (data - data.mean()) / data.std(ddof=1)


def pca_by_dimension(ev: Evaluation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Principal components of each dimension's indicators (correlation matrix).

    Returns
    -------
    summary, loadings
        ``summary``: dimension, n_indicators, n_units, pc1_share (share of the
        variance explained by the first component — near 1 means the dimension is
        one-dimensional), n_eigen_gt_1 (Kaiser criterion).
        ``loadings``: dimension, indicator, loading on the first component (sign
        chosen so the loadings sum to a positive number).
    """
    X = _normalised(ev)
    summary, loads = [], []
    for dim, members in dimension_members(ev.framework).items():
        Z = _standardised_complete(X[members])
        if Z.shape[1] < 2 or len(Z) < 3:
            summary.append(
                {
                    "dimension": dim,
                    "n_indicators": len(members),
                    "n_units": len(Z),
                    "pc1_share": np.nan,
                    "n_eigen_gt_1": np.nan,
                }
            )
            continue
        values, vectors = np.linalg.eigh(np.corrcoef(Z.to_numpy(), rowvar=False))
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        first = vectors[:, 0] * np.sqrt(values[0])
        first = first if first.sum() >= 0 else -first
        summary.append(
            {
                "dimension": dim,
                "n_indicators": len(members),
                "n_units": len(Z),
                "pc1_share": values[0] / values.sum(),
                "n_eigen_gt_1": int((values > 1).sum()),
            }
        )
        loads += [{"dimension": dim, "indicator": c, "loading": v} for c, v in zip(Z.columns, first, strict=True)]
    return pd.DataFrame(summary), pd.DataFrame(loads, columns=["dimension", "indicator", "loading"])


def _vif_block(block: pd.DataFrame) -> pd.Series:
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    from statsmodels.tools.tools import add_constant

    data = block.dropna()
    keep = [c for c in data.columns if data[c].std(ddof=1) > 0]
    out = pd.Series(np.nan, index=block.columns, dtype=float)
    if len(keep) < 2 or len(data) <= len(keep) + 1:
        if len(keep) == 1:
            out[keep[0]] = 1.0
        return out
    exog = add_constant(data[keep].to_numpy(dtype=float), has_constant="add")
    with np.errstate(divide="ignore"):
        for k, c in enumerate(keep, start=1):
            out[c] = variance_inflation_factor(exog, k)
    return out


def vif(ev: Evaluation) -> pd.DataFrame:
    """Variance inflation factors (statsmodels), within each dimension and across all indicators.

    ``VIF = 1 / (1 − R²)`` of an indicator regressed on the others; above 5–10 the
    indicator is largely predictable from the others.
    """
    X = _normalised(ev)
    across = _vif_block(X)
    rows = []
    for dim, members in dimension_members(ev.framework).items():
        within = _vif_block(X[members])
        rows += [{"indicator": c, "dimension": dim, "vif_dimension": within[c], "vif_all": across[c]} for c in members]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- discrimination
def discrimination(ev: Evaluation, *, mode_share: float = 0.5) -> pd.DataFrame:
    """Whether each indicator separates units, on its natural values.

    Columns: indicator, n (units with a value), n_distinct, cv (coefficient of
    variation, sd / |mean|), share_at_mode (share of units with the most common
    value), separates (more than one distinct value) and a plain verdict. An
    indicator with ``share_at_mode ≥ mode_share`` barely separates units (e.g.
    most stations at 100 %).
    """
    values = ev.stages["treated"]
    rows = []
    for ind in ev.framework.indicators():
        x = values[ind.id].dropna().astype(float) if ind.id in values.columns else pd.Series(dtype=float)
        n = len(x)
        counts = x.round(10).value_counts()
        share = counts.iloc[0] / n if n else np.nan
        mean = x.mean()
        cv = x.std(ddof=1) / abs(mean) if n > 1 and mean != 0 else np.nan
        distinct = int(counts.size)
        if n == 0:
            verdict = "no data"
        elif distinct <= 1:
            verdict = "no spread: does not separate units"
        elif share >= mode_share:
            verdict = f"weak: {share:.0%} of units share one value"
        else:
            verdict = "separates units"
        rows.append(
            {
                "indicator": ind.id,
                "name": ind.name.zh,
                "n": n,
                "n_distinct": distinct,
                "cv": cv,
                "share_at_mode": share,
                "separates": distinct > 1,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- ranking effect
def removal_effect(ev: Evaluation) -> pd.DataFrame:
    """Effect on the ranking of leaving out each indicator (its weight respread by the tree).

    Columns: indicator, spearman (rank correlation of scores with the full
    evaluation), mean_abs_rank_shift and max_abs_rank_shift (ranks within peer
    group), grade_changes (share of units whose grade changes).
    """
    from perfmodel.design.sensitivity import GRADE_LABELS, scenarios

    ids = [i.id for i in ev.framework.indicators()]
    res = scenarios(ev, [{"drop": i} for i in ids], labels=ids)
    stated = res.stated
    full_score = stated["score"].to_numpy(float)
    full_rank = stated["rank"].to_numpy(float)
    full_grade = stated["grade"].to_numpy(object)
    rows = []
    for k, ind in enumerate(ids):
        score = pd.Series(res.scores[k])
        both = score.notna().to_numpy() & ~np.isnan(full_score)
        rho = pd.Series(full_score[both]).corr(score[both].reset_index(drop=True), method="spearman")
        shift = np.abs(res.ranks[k].astype(float) - full_rank)
        grades = np.array(GRADE_LABELS, dtype=object)[res.grades[k]]
        rows.append(
            {
                "indicator": ind,
                "spearman": rho,
                "mean_abs_rank_shift": np.nanmean(shift) if both.any() else np.nan,
                "max_abs_rank_shift": np.nanmax(shift) if both.any() else np.nan,
                "grade_changes": float(np.mean(grades != full_grade)),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- merges
def merge_suggestions(ev: Evaluation, threshold: float = 0.8) -> pd.DataFrame:
    """Pairs in the same dimension with ``|r| ≥ threshold``, with a proposed merged indicator.

    Positive pairs are merge candidates: one indicator (the mean of the two
    normalised values, weight = the sum of both) carries the same information
    with half the reporting. Strongly negative pairs are trade-offs, not
    duplicates: merging would hide the conflict, so they are marked for review.

    Returns
    -------
    pandas.DataFrame
        dimension, indicator_a, indicator_b, r, action (``merge`` or ``review``),
        merged_id, merged_name_zh, merged_name_en, merged_weight, basis.
    """
    meta = ev.framework.indicator_meta()
    weights = {info.id: info.node.weight for info in ev.framework.walk()}
    rows = []
    for pair in correlations(ev).itertuples(index=False):
        if not np.isfinite(pair.r) or abs(pair.r) < threshold:
            continue
        a, b = meta[pair.indicator_a], meta[pair.indicator_b]
        rule = next((m for m in KNOWN_MERGES if m.matches(a, b)), None)
        if rule is not None:
            merged_id, name, basis = rule.id, rule.name, rule.reference
        else:
            merged_id = f"{a.id}__{b.id}"
            name = Name(zh=f"{a.name.zh}与{b.name.zh}综合", en=f"{a.name.en} and {b.name.en} (combined)")
            basis = f"|r| = {abs(pair.r):.2f} ≥ {threshold:g}"
        rows.append(
            {
                "dimension": pair.dimension,
                "indicator_a": a.id,
                "indicator_b": b.id,
                "r": pair.r,
                "action": "merge" if pair.r > 0 else "review",
                "merged_id": merged_id,
                "merged_name_zh": name.zh,
                "merged_name_en": name.en,
                "merged_weight": weights[a.id] + weights[b.id],
                "basis": basis,
            }
        )
    columns = [
        "dimension",
        "indicator_a",
        "indicator_b",
        "r",
        "action",
        "merged_id",
        "merged_name_zh",
        "merged_name_en",
        "merged_weight",
        "basis",
    ]
    return pd.DataFrame(rows, columns=columns).sort_values("r", key=np.abs, ascending=False, ignore_index=True)


# ---------------------------------------------------------------- burden
def reporting_burden(ev: Evaluation) -> pd.DataFrame:
    """Indicators and data items (observation rows) per unit per month, by source.

    Sources are the indicators' ``source`` (system, supervisor, peer, self,
    citizen); case types of points indicators count under their indicator's
    source, bonus and negative-list counts under ``system``. Rows are the clean
    observations of the evaluated period; the last row is the total.
    """
    fw = ev.framework
    source_of: dict[str, str] = {}
    for ind in fw.indicators():
        for input_id in ind.inputs:
            source_of[input_id] = ind.source
    for item in (*fw.bonus, *fw.negative_list):
        source_of.setdefault(item.indicator, "system")
    raw = ev.stages["raw"]
    n_units = len(ev.scored_units)
    n_months = len(months_in(ev.period))
    sources = raw["indicator"].map(source_of).fillna("other")
    indicators = pd.Series([i.source for i in fw.indicators()]).value_counts()
    inputs = pd.Series(source_of).value_counts()
    rows = raw.groupby(sources).size()
    table = (
        pd.DataFrame(
            {
                "indicators": indicators,
                "input_items": inputs,
                "rows": rows,
            }
        )
        .fillna(0)
        .astype(int)
    )
    table.loc["total"] = table.sum()
    table["rows_per_unit_month"] = table["rows"] / (n_units * n_months)
    table["units"] = n_units
    table["months"] = n_months
    return table.rename_axis("source").reset_index()


# ---------------------------------------------------------------- report
@dataclass
class RedundancyReport:
    """Every redundancy and coherence table of one evaluation."""

    correlations: pd.DataFrame
    parent_correlations: pd.DataFrame
    alpha: pd.DataFrame
    alpha_if_deleted: pd.DataFrame
    pca: pd.DataFrame
    pca_loadings: pd.DataFrame
    vif: pd.DataFrame
    discrimination: pd.DataFrame
    removal: pd.DataFrame
    merges: pd.DataFrame
    burden: pd.DataFrame

    def summary(self) -> str:
        """How many pairs, blocks and indicators each check points at, as text."""
        return "\n".join(
            [
                "Redundancy and coherence",
                f"  {len(self.merges)} same-dimension pair(s) correlated enough to consider merging",
                f"  {len(self.correlations)} indicator pair(s) correlated, "
                f"{len(self.alpha)} block(s) with Cronbach's alpha",
                f"  {len(self.vif)} indicator(s) with a variance inflation factor, "
                f"{len(self.removal)} leave-one-out removal(s) analysed",
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        """The main table: pairs within a dimension that could be merged (:attr:`merges`)."""
        return self.merges

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table, for export."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def redundancy_report(ev: Evaluation, *, threshold: float = 0.8, mode_share: float = 0.5) -> RedundancyReport:
    """Run every check of this module on one evaluation.

    Parameters
    ----------
    ev
        A run evaluation.
    threshold
        ``|r|`` above which a same-dimension pair is reported in ``merges``.
    mode_share
        Share of units at the modal value above which an indicator is called weak.
    """
    alpha, if_deleted = reliability(ev)
    pca, loadings = pca_by_dimension(ev)
    return RedundancyReport(
        correlations=correlations(ev),
        parent_correlations=parent_correlations(ev),
        alpha=alpha,
        alpha_if_deleted=if_deleted,
        pca=pca,
        pca_loadings=loadings,
        vif=vif(ev),
        discrimination=discrimination(ev, mode_share=mode_share),
        removal=removal_effect(ev),
        merges=merge_suggestions(ev, threshold),
        burden=reporting_burden(ev),
    )


# ---------------------------------------------------------------- figures
def figure_correlation_heatmap(
    ev: Evaluation, *, ax: Axes | None = None, lang: str = "zh", method: str = "pearson"
) -> Axes:
    """Heat map of correlations between indicators and dimensions, grouped by dimension.

    Indicators are ordered as in the tree with each dimension's block outlined,
    followed by the dimensions, so within-dimension redundancy and weak links to
    the parent stand out.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    from matplotlib.patches import Rectangle

    fw = ev.framework
    members = dimension_members(fw)
    order = [i for group in members.values() for i in group]
    dims = [d.id for d in fw.dimensions()]
    matrix = correlation_matrix(ev, method).reindex(index=order + dims, columns=order + dims)
    names = {info.id: (info.node.name.in_lang(lang)) for info in fw.walk()}
    labels = [names.get(c, c) for c in matrix.columns]
    size = len(labels)
    ax = report_axes(ax, figsize=(0.42 * size + 3.2, 0.42 * size + 2.2))
    fig = ax.figure
    image = ax.imshow(matrix.to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1)
    if size <= 24:
        for (i, j), value in np.ndenumerate(matrix.to_numpy(float)):
            if np.isfinite(value):
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if abs(value) > 0.6 else "black",
                )
    start = 0
    for group in members.values():
        ax.add_patch(Rectangle((start - 0.5, start - 0.5), len(group), len(group), fill=False, lw=1.6, ec="black"))
        start += len(group)
    ax.axhline(len(order) - 0.5, color="black", lw=0.8)
    ax.axvline(len(order) - 0.5, color="black", lw=0.8)
    ax.set_xticks(range(size), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(size), labels, fontsize=8)
    bar = fig.colorbar(image, ax=ax, fraction=0.04)
    bar.set_label(say("design.redundancy.correlation_r", lang))
    ax.set_title(say("design.redundancy.correlations_of_indicators_and_dimension", lang))
    ax.set_xlabel(say("design.redundancy.indicator_dimension", lang))
    ax.set_ylabel(say("design.redundancy.indicator_dimension", lang))
    return ax
