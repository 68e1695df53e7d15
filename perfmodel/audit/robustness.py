"""How robust each grade and rank is: bootstrap rank intervals and period-to-period stability.

A quarter's score rests on three months of data and, for rated indicators, on a
handful of raters. :func:`bootstrap_grades` asks what the ranking would have
been with a different draw of those months and raters: it resamples them with
replacement, re-runs the whole evaluation (:class:`~perfmodel.evaluation.Evaluation`
with the same framework and settings) on each resample, and reports per unit
the 5–95 % interval of its rank and the probability that its grade would
change. Units whose grade changes in more than ``max_change`` of the
replicates are *not robust*: their grade owes as much to chance as to
performance.

:func:`rank_stability` compares the ranking with the previous period's
(Spearman, Kendall, top-k overlap): an assessment whose ranks reshuffle every
quarter measures noise.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel import groups
from perfmodel.audit._frame import (
    AuditError,
    CheckResult,
    Lang,
    check_lang,
    finish,
    fmt,
    fmt_p,
    fmt_pct,
    records,
)
from perfmodel.errors import check_confidence, renamed_keywords
from perfmodel.glossary import grade_label
from perfmodel.groups import group_order
from perfmodel.periods import months_in
from perfmodel.randomness import RngLike, as_generator
from perfmodel.text import say, templates

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ERR_NO_PREVIOUS",
    "ERR_N_BOOT",
    "ERR_ALL_FAILED",
    "MIN_STABILITY_UNITS",
    "resample_observations",
    "bootstrap_grades",
    "non_robust_units",
    "rank_stability",
    "figure_rank_intervals",
]

Resample = Literal["months", "raters", "both"]
RankColumn = Literal["rank", "rank_overall"]

ERR_NO_PREVIOUS = (
    "the evaluation has no previous period to compare with; run it with compare_previous=True "
    "on data that cover the previous period too"
)
ERR_N_BOOT = "n_boot must be an integer of at least 1, got {n_boot!r}"
ERR_ALL_FAILED = (
    "every one of the {n_boot} bootstrap evaluations failed (first error: {error}); "
    "check that the evaluation runs on its own data"
)
ALL_UNITS = {"zh": groups.ALL_UNITS, "en": "all"}

MIN_STABILITY_UNITS = 5
"""Rank stability in a scope needs this many units scored in both periods; below it the row says so."""


_BOOT_COLUMNS = [
    "unit_id",
    "name",
    "peer_group",
    "grade",
    "n",
    "estimate",
    "rank_low",
    "rank_high",
    "rank_median",
    "score",
    "se",
    "ci_low",
    "ci_high",
    "p_grade_change",
    "likely_other_grade",
    "robust",
    "verdict",
]
_STABILITY_COLUMNS = ["peer_group", "measure", "n", "estimate", "se", "ci_low", "ci_high", "p_value", "verdict"]


# ============================================================================ resampling
class _Layout:
    """In-period observation rows grouped by unit × month, ready for fast resampling.

    A draw picks, for every output row, the input row it copies (months) and, for
    rated rows, the input row whose rating it takes (raters): one ``take`` per draw.
    """

    _RATING_COLUMNS = ("value", "rater_id", "numerator", "denominator")

    def __init__(self, ev: Any) -> None:
        months = [str(m) for m in months_in(ev.period)]
        obs = ev.observations[ev.observations["unit_id"].isin(ev.scored_units.index)]
        inside = obs["period"].astype(str).isin(months)
        self.outside = obs[~inside]
        rows = obs[inside].sort_values(["unit_id", "period", "indicator"], kind="stable").reset_index(drop=True)
        self.rows = rows
        self.rated = rows["rater_id"].notna().to_numpy() if "rater_id" in rows.columns else np.zeros(len(rows), bool)
        self.indicator_code = pd.factorize(rows["indicator"].astype(str))[0]
        self.rating_columns = [c for c in self._RATING_COLUMNS if c in rows.columns]
        pair = rows["unit_id"].astype(str) + "\x1f" + rows["period"].astype(str)
        starts = np.flatnonzero(np.r_[True, pair.to_numpy()[1:] != pair.to_numpy()[:-1]])
        self.pair_start = starts
        self.pair_len = np.diff(np.r_[starts, len(rows)])
        self.pair_period = rows["period"].to_numpy()[starts]
        units = rows["unit_id"].to_numpy()[starts]
        unit_change = np.r_[True, units[1:] != units[:-1]]
        unit_first = np.flatnonzero(unit_change)
        unit_code = np.cumsum(unit_change) - 1
        self.pair_unit_first = unit_first[unit_code]
        self.pair_unit_count = np.diff(np.r_[unit_first, len(starts)])[unit_code]

    def draw(self, rng: np.random.Generator, resample: Resample) -> pd.DataFrame:
        n_pairs = len(self.pair_start)
        if resample in ("months", "both"):
            source = self.pair_unit_first + np.floor(rng.random(n_pairs) * self.pair_unit_count).astype(int)
        else:
            source = np.arange(n_pairs)
        lengths = self.pair_len[source]
        offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
        index = np.repeat(self.pair_start[source], lengths) + (np.arange(lengths.sum()) - offsets)
        new = self.rows.iloc[index].reset_index(drop=True)
        new["period"] = np.repeat(self.pair_period, lengths)
        rated = np.flatnonzero(self.rated[index])
        if resample in ("raters", "both") and len(rated):
            slot = np.repeat(np.arange(n_pairs), lengths)
            ratings = index.copy()
            ratings[rated] = index[rated[_rater_picks(slot[rated], self.indicator_code[index[rated]], rng)]]
            columns = self.rating_columns
            new[columns] = self.rows[columns].iloc[ratings].reset_index(drop=True)
        return pd.concat([new, self.outside], ignore_index=True)


def _rater_picks(slot: np.ndarray, indicator: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Within every run of rated rows of one slot (unit × month) and indicator, a draw with replacement.

    Returns, for each rated row, the position (among the rated rows) whose rating it takes.
    """
    change = np.r_[True, (slot[1:] != slot[:-1]) | (indicator[1:] != indicator[:-1])]
    group = np.cumsum(change) - 1
    first = np.flatnonzero(change)
    size = np.diff(np.r_[first, len(slot)])
    return first[group] + np.floor(rng.random(len(slot)) * size[group]).astype(int)


def resample_observations(ev: Any, *, rng: RngLike = None, resample: Resample = "both") -> pd.DataFrame:
    """One bootstrap resample of an evaluation's observations.

    For every unit, its months in the period are drawn with replacement from
    the months it reported (each drawn month's rows take the slot's month
    label, so the number of months is kept); then, within every unit × month ×
    rated indicator, the ratings are drawn with replacement from that month's
    raters. Observations outside the period are kept unchanged.

    Parameters
    ----------
    ev
        A run :class:`~perfmodel.evaluation.Evaluation`.
    rng
        Random numbers of this resample: an int seed, a Generator or None.
    resample
        ``months``, ``raters`` or ``both``.
    """
    return _Layout(ev).draw(as_generator(rng), resample)


# ============================================================================ bootstrap
@renamed_keywords(seed="rng", level="confidence")
def bootstrap_grades(
    ev: Any,
    *,
    n_boot: int = 200,
    rng: RngLike = None,
    resample: Resample = "both",
    rank: RankColumn = "rank",
    confidence: float = 0.90,
    max_change: float = 0.2,
    lang: Lang = "zh",
    show_names: bool = False,
) -> CheckResult:
    """Bootstrap rank intervals and grade-change probabilities for every unit.

    Each replicate resamples the period's months (per unit) and, for rated
    indicators, the raters (see :func:`resample_observations`) and re-runs the
    evaluation with the same framework and settings (without the previous
    period). Replicates run one after another (no parallelism), from one seeded
    generator, so the result is reproducible.

    Parameters
    ----------
    ev
        A run :class:`~perfmodel.evaluation.Evaluation`.
    n_boot
        Replicates (default 200; each is a full evaluation).
    rng
        Random numbers of the resampling: an int seed, a Generator or None.
    resample
        What to resample: ``months``, ``raters`` or ``both``.
    rank
        ``rank`` (within peer group, as graded) or ``rank_overall``.
    confidence
        Coverage of the rank interval (0.90 → 5th to 95th percentile). The one exception
        to the house default of 0.95: rank intervals of composite indicators are
        reported as 5th–95th percentiles (OECD/JRC Handbook on Constructing Composite
        Indicators, 2008, §6; Saisana, Saltelli & Tarantola 2005), as
        :func:`perfmodel.design.sensitivity.uncertainty` does.
    max_change
        Largest probability of a grade change for a grade to count as robust.
    lang
        Language of ``verdict``.
    show_names
        Officers' names in ``name``; by default ``name`` is blank for an
        officer framework (ids only, :mod:`perfmodel.privacy`). Stations are
        always named.

    Returns
    -------
    CheckResult
        ``to_frame()``: One row per unit: ``unit_id``, ``name``, ``peer_group``, ``grade``
        (observed), ``n`` (replicates in which the unit was scored),
        ``estimate`` (observed rank), ``rank_low``/``rank_high`` (interval
        ends: the lower and upper percentiles, rounded outwards),
        ``rank_median``, ``score`` (observed), ``se`` (bootstrap SD of the
        score), ``ci_low``/``ci_high`` (percentile interval of the score),
        ``p_grade_change`` (share of replicates giving another grade),
        ``likely_other_grade``, ``robust`` and ``verdict``. ``parameters`` records
        ``n_boot``, ``failed`` replicates, ``resample``, ``seed`` (the int ``rng``, else None),
        ``max_change`` and ``rank``.
    """
    from perfmodel.evaluation import Evaluation, EvaluationError

    lang = check_lang(lang)
    confidence = check_confidence(confidence)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise AuditError(ERR_N_BOOT.format(n_boot=n_boot))
    layout = _Layout(ev)
    generator = as_generator(rng)
    observed = ev.scores.set_index("unit_id")
    named = "name" in observed.columns and (show_names or ev.framework.level != "officer")
    units = observed.index
    ranks = np.full((n_boot, len(units)), np.nan)
    scores = np.full((n_boot, len(units)), np.nan)
    grades = np.full((n_boot, len(units)), None, dtype=object)
    settings = replace(ev.settings, compare_previous=False)
    failed, first_error = 0, ""
    for b in range(n_boot):
        data = layout.draw(generator, resample)
        try:
            rerun = Evaluation(ev.framework, data, ev.units, ev.period, settings).run()
        except EvaluationError as exc:
            failed += 1
            first_error = first_error or str(exc)
            continue
        result = rerun.scores.set_index("unit_id").reindex(units)
        ranks[b], scores[b] = result[rank].to_numpy(dtype=float), result["score"].to_numpy(dtype=float)
        grades[b] = result["grade"].to_numpy(dtype=object)
    if failed == n_boot:
        raise AuditError(ERR_ALL_FAILED.format(n_boot=n_boot, error=first_error))

    tail = (1 - confidence) / 2
    ok = ~np.isnan(ranks)
    rows = []
    for j, unit in enumerate(units):
        r, s = ranks[ok[:, j], j], scores[ok[:, j], j]
        g = grades[ok[:, j], j]
        grade = observed.loc[unit, "grade"]
        score = observed.loc[unit, "score"]
        row: dict[str, Any] = {
            "unit_id": unit,
            "name": observed.loc[unit, "name"] if named else None,
            "peer_group": observed.loc[unit, "peer_group"],
            "grade": grade,
            "n": int(ok[:, j].sum()),
            "estimate": observed.loc[unit, rank],
            "score": score,
        }
        if len(r) and np.isfinite(score):
            changed = g != grade
            others = pd.Series(g[changed]).value_counts()
            row.update(
                rank_low=float(np.quantile(r, tail, method="lower")),
                rank_high=float(np.quantile(r, 1 - tail, method="higher")),
                rank_median=float(np.median(r)),
                se=float(np.std(s, ddof=1)) if len(s) > 1 else np.nan,
                ci_low=float(np.quantile(s, tail)),
                ci_high=float(np.quantile(s, 1 - tail)),
                p_grade_change=float(changed.mean()),
                likely_other_grade=others.index[0] if len(others) else None,
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in _BOOT_COLUMNS:
        if column not in out.columns:
            out[column] = np.nan
    out["robust"] = out["p_grade_change"] <= max_change
    out["verdict"] = [_boot_verdict(row, confidence, lang) for row in records(out)]
    return finish(
        out,
        "bootstrap_grades",
        _BOOT_COLUMNS,
        n_boot=n_boot,
        failed=failed,
        resample=resample,
        seed=rng if isinstance(rng, int) else None,
        max_change=max_change,
        rank=rank,
    )


def _boot_verdict(row: Any, confidence: float, lang: Lang) -> str:
    words = templates("audit.robustness.verdict", lang)
    if not np.isfinite(row.p_grade_change):
        return words["not_scored"]
    values = dict(
        rank=fmt(row.estimate, 0),
        lo=fmt(row.rank_low, 0),
        hi=fmt(row.rank_high, 0),
        lvl=fmt_pct(confidence),
        grade=grade_label(row.grade, lang),
        p=fmt_pct(row.p_grade_change),
        other=grade_label(row.likely_other_grade, lang),
    )
    return words["robust" if row.robust else "fragile"].format(**values)


def non_robust_units(table: pd.DataFrame) -> pd.DataFrame:
    """The units of a :func:`bootstrap_grades` table whose grade is not robust, least robust first.

    ``table`` is the result's table (``bootstrap_grades(...).to_frame()``).
    """
    fragile = table[table["p_grade_change"].notna() & ~table["robust"].astype(bool)]
    return fragile.sort_values(["p_grade_change", "unit_id"], ascending=[False, True]).reset_index(drop=True)


# ============================================================================ stability
def rank_stability(
    ev: Any,
    *,
    top_k: int = 10,
    confidence: float = 0.95,
    lang: Lang = "zh",
) -> CheckResult:
    """Rank stability between the evaluation and its previous period (``ev.previous``).

    Within every peer group and over all units: Spearman's ρ of the two
    periods' scores (equivalently, of the ranks) with a Fisher-z interval using
    Fieller's variance 1.06/(n − 3); Kendall's τ-b with Fieller's 0.437/(n − 4);
    and the overlap of the top-k units (the share of this period's top k that
    were in the previous top k; about k/n is expected by chance), with k at
    most a quarter of the units so that the overlap is not trivially complete
    and its p-value the hypergeometric chance of at least that overlap under
    random ranking.

    Parameters
    ----------
    ev
        A run Evaluation with ``ev.previous`` (``compare_previous=True``).
    top_k
        Size of the top group compared (at most the number of units).
    confidence
        Coverage of the intervals.
    lang
        Language of ``verdict``.

    Returns
    -------
    CheckResult
        ``to_frame()``: Three rows (``measure`` = ``spearman``, ``kendall``, ``top_k_overlap``)
        per peer group and for all units (``peer_group`` = 全部 / all), with
        ``n`` (units scored in both periods), ``estimate``, ``se`` (of the
        Fisher-z transform), ``ci_low``, ``ci_high``, ``p_value`` and ``verdict``.
    """
    lang = check_lang(lang)
    confidence = check_confidence(confidence)
    if getattr(ev, "previous", None) is None:
        raise AuditError(ERR_NO_PREVIOUS)
    now = ev.scores.set_index("unit_id")
    before = ev.previous.scores.set_index("unit_id")["score"]
    joined = now[["peer_group", "score"]].join(before.rename("previous"), how="inner").dropna()
    scopes = [(ALL_UNITS[lang], joined)] + [(str(g), part) for g, part in joined.groupby("peer_group", sort=True)]
    if joined["peer_group"].nunique() <= 1:
        scopes = scopes[:1]
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    for scope, part in scopes:
        rows.extend(_stability_rows(scope, part, top_k, z, confidence, lang))
    out = pd.DataFrame(rows)
    return finish(out, "rank_stability", _STABILITY_COLUMNS, top_k=top_k)


def _stability_rows(scope: str, part: pd.DataFrame, top_k: int, z: float, confidence: float, lang: Lang):
    words = templates("audit.robustness.verdict", lang)
    n = len(part)
    base = {"peer_group": scope, "n": n}
    if n < MIN_STABILITY_UNITS:
        return [
            {
                **base,
                "measure": m,
                "estimate": np.nan,
                "se": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_value": np.nan,
                "verdict": words["too_few"].format(n=n),
            }
            for m in ("spearman", "kendall", "top_k_overlap")
        ]
    rows = []
    for measure, test, variance in (
        ("spearman", stats.spearmanr, 1.06 / (n - 3)),
        ("kendall", stats.kendalltau, 0.437 / (n - 4)),
    ):
        result = test(part["score"], part["previous"])
        r, p = float(result.statistic), float(result.pvalue)
        se = float(np.sqrt(variance))
        zr = np.arctanh(np.clip(r, -0.999999, 0.999999))
        lo, hi = float(np.tanh(zr - z * se)), float(np.tanh(zr + z * se))
        word = words["strong" if r >= 0.7 else "moderate" if r >= 0.4 else "weak"]
        rows.append(
            {
                **base,
                "measure": measure,
                "estimate": r,
                "se": se,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": p,
                "verdict": words[measure].format(
                    r=fmt(r, 2), lo=fmt(lo, 2), hi=fmt(hi, 2), p=fmt_p(p), n=n, word=word, lvl=fmt_pct(confidence)
                ),
            }
        )
    k = max(1, min(top_k, int(np.ceil(n / 4))))
    current = set(part["score"].rank(ascending=False, method="first").nsmallest(k).index)
    earlier = set(part["previous"].rank(ascending=False, method="first").nsmallest(k).index)
    overlap = len(current & earlier)
    rows.append(
        {
            **base,
            "measure": "top_k_overlap",
            "estimate": overlap / k,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": float(stats.hypergeom.sf(overlap - 1, n, k, k)),
            "verdict": words["top_k"].format(k=k, m=overlap, share=fmt_pct(overlap / k), chance=fmt_pct(k / n)),
        }
    )
    return rows


# ============================================================================ figure
def figure_rank_intervals(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: Lang = "zh",
    peer_group: str | None = None,
    max_units: int = 60,
) -> Axes:
    """Observed rank and bootstrap interval per unit (from :func:`bootstrap_grades`).

    Units are listed by peer group and rank, groups separated by a line and
    named on the right; intervals of grades that are not robust are red.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)

    part = table.dropna(subset=["rank_low"])
    if peer_group is not None:
        part = part[part["peer_group"] == peer_group]
    order = {g: i for i, g in enumerate(group_order(part["peer_group"].unique()))}
    part = part.assign(_group=part["peer_group"].map(order)).sort_values(["_group", "estimate", "unit_id"])
    part = part.head(max_units).reset_index(drop=True)
    y = np.arange(len(part))[::-1]
    ax = report_axes(ax, figsize=(8, 0.25 * len(part) + 1.5))
    fig = ax.figure
    colours = np.where(part["robust"].astype(bool), "#2166ac", "#b2182b")
    ax.hlines(y, part["rank_low"], part["rank_high"], colors=colours, linewidth=2)
    ax.scatter(part["estimate"], y, c=colours, zorder=3, s=14)
    for group, rows in part.groupby("peer_group", sort=False):
        top, bottom = y[rows.index].max(), y[rows.index].min()
        if bottom > 0:
            ax.axhline(bottom - 0.5, color="#999999", linewidth=0.6)
        ax.text(
            1.01, (top + bottom) / 2, str(group), transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=9
        )
    who = [n if isinstance(n, str) and n else u for n, u in zip(part["name"], part["unit_id"], strict=True)]
    ax.set_yticks(y, [f"{n} ({grade_label(g, lang)})" for n, g in zip(who, part["grade"], strict=True)], fontsize=8)
    ax.set_ylim(-0.6, len(part) - 0.4)
    ax.set_xlabel(say("audit.robustness.rank_in_peer_group_1", lang))
    ax.set_ylabel(say("audit.robustness.unit_grade", lang))
    ax.set_title(say("audit.robustness.bootstrap_rank_intervals_red_grade", lang))
    fig.tight_layout()
    return ax
