"""Weight policy and variance shares: what the framework says versus what drives the score.

A framework *states* weights; the ranking is driven by how much each indicator
actually *varies* between units. An indicator on which every unit scores about
the same hardly moves anyone's rank however large its weight, and a widely
spread rating can dominate with a modest one. The *variance share* of
indicator j (:func:`perfmodel.weights.variance_shares`) is its share of the
variance of the composite,

    s_j = w_j · Cov(X_j, C) / Var(C),    C = Σ_k w_k X_k,

computed over the normalised indicators X (0–100) of the evaluated units. The
shares sum to 1, so they read like weights: a stated 30 % subjective weight
whose shares add up to 60 % drives 60 % of the differences between units.

:func:`weight_policy` checks a framework against policy limits — temporary
indicators ≤ 20 % (R6), subjective evaluation ≤ 30 % (R8), self + superior
ratings ≤ 80 % of all rating-based evaluation (R8, seed 003) and a minimum
citizen share (35 %, R8, seed 001) — for the stated weights and, given an
evaluation, for the variance shares. :func:`inflated_weight_example` builds an
evaluation where the two disagree markedly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from perfmodel.audit._frame import (
    AuditError,
    CheckResult,
    Lang,
    check_lang,
    finish,
    fmt_pct,
    records,
)
from perfmodel.errors import check_confidence, renamed_keywords
from perfmodel.framework import Framework, Indicator
from perfmodel.periods import months_in
from perfmodel.randomness import RngLike, as_generator
from perfmodel.text import say, templates
from perfmodel.weights import effective_weights, variance_share_array

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "PolicyLimits",
    "SOURCES",
    "ERR_WEIGHT_INPUT",
    "ERR_NO_VARIANCE",
    "stated_vs_variance_shares",
    "weight_policy",
    "inflated_weight_example",
    "figure_weights",
]

WeightLevel = Literal["indicator", "source", "dimension"]

SOURCES: tuple[str, ...] = ("system", "supervisor", "peer", "self", "citizen")
"""Indicator sources, in the order the audit lists them (words: ``audit.policy.source.<code>``)."""

ERR_WEIGHT_INPUT = (
    "expected a Framework or an Evaluation, got {kind}; load one with "
    "perfmodel.framework.load_framework or run perfmodel.evaluation.evaluate"
)
ERR_NO_VARIANCE = (
    "the composite does not vary across the {n} units with complete normalised values, so no "
    "indicator drives the ranking and effective weights are undefined"
)


_WEIGHT_COLUMNS = [
    "level",
    "item",
    "name",
    "source",
    "n",
    "stated",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "ratio",
    "sd",
    "corr",
    "flagged",
    "verdict",
]
_POLICY_COLUMNS = [
    "rule",
    "description",
    "basis",
    "kind",
    "limit",
    "n",
    "estimate",
    "passes",
    "effective",
    "se",
    "ci_low",
    "ci_high",
    "passes_effective",
    "flagged",
    "verdict",
]


@dataclass(frozen=True)
class PolicyLimits:
    """Weight-policy limits; ``None`` takes the framework's own ``policy`` value.

    Attributes
    ----------
    max_temporary
        Largest total weight of temporary special indicators (R6, default the
        framework's ``policy.max_temporary_weight``, usually 0.20).
    max_subjective
        Largest total weight of subjective sources (R8, default the framework's
        ``policy.max_subjective_weight``, usually 0.30).
    max_self_superior
        Largest share of self and superior ratings among all rating-based
        evaluation (``rated_sources``); seed 003 criticises shares above 80 %.
    min_citizen
        Smallest total weight of citizen evaluation; seed 001 reports it raised
        to 35 % (a guideline, not a hard rule).
    subjective_sources
        Sources counted as subjective (default the framework's).
    rated_sources
        Sources that are ratings by people (the 360-degree set) — the
        denominator of ``max_self_superior``.
    self_superior_sources
        The numerator of ``max_self_superior``.
    """

    max_temporary: float | None = None
    max_subjective: float | None = None
    max_self_superior: float = 0.80
    min_citizen: float = 0.35
    subjective_sources: tuple[str, ...] | None = None
    rated_sources: tuple[str, ...] = ("supervisor", "peer", "self", "citizen")
    self_superior_sources: tuple[str, ...] = ("self", "supervisor")

    def resolve(self, framework: Framework) -> PolicyLimits:
        """These limits with every ``None`` replaced by the framework's policy value."""
        policy = framework.policy
        return replace(
            self,
            max_temporary=policy.max_temporary_weight if self.max_temporary is None else self.max_temporary,
            max_subjective=policy.max_subjective_weight if self.max_subjective is None else self.max_subjective,
            subjective_sources=tuple(policy.subjective_sources)
            if self.subjective_sources is None
            else tuple(self.subjective_sources),
        )


# ============================================================================ weights
@dataclass(frozen=True)
class _Draws:
    ids: list[str]
    stated: np.ndarray
    point: np.ndarray
    boot: np.ndarray
    n: int
    X: np.ndarray
    composite: np.ndarray


def _draws(ev: Any, n_boot: int, rng: RngLike) -> _Draws:
    """Stated weights, variance shares and their bootstrap replicates (units resampled)."""
    fw: Framework = ev.framework
    w = pd.Series(effective_weights(fw, ev.stated_weights()), dtype=float)
    normalised = ev.stages["normalised"].reindex(columns=w.index).astype(float)
    complete = normalised.loc[:, w > 0].notna().all(axis=1)
    X = normalised[complete].fillna(0.0).to_numpy()
    n = len(X)
    composite = X @ w.to_numpy() if n else np.array([])
    if n < 3 or np.var(composite) <= 1e-12:
        raise AuditError(ERR_NO_VARIANCE.format(n=n))
    point = variance_share_array(X, w.to_numpy())
    generator = as_generator(rng)
    boot = np.empty((0, len(w)))
    if n_boot > 0:
        idx = generator.integers(0, n, size=(n_boot, n))
        boot = variance_share_array(X[idx], w.to_numpy())
        boot = boot[np.isfinite(boot).all(axis=1)]
    return _Draws(list(w.index), w.to_numpy(), point, boot, n, X, composite)


def _membership(fw: Framework, ids: list[str], level: WeightLevel) -> pd.DataFrame:
    """Indicators × items (0/1) for grouping indicators by source or top-level dimension."""
    if level == "indicator":
        return pd.DataFrame(np.eye(len(ids)), index=ids, columns=ids)
    meta = fw.indicator_meta()
    if level == "source":
        keys = {i: meta[i].source for i in ids}
        order = [s for s in SOURCES if s in keys.values()]
    else:
        keys = {}
        for info in fw.walk():
            if isinstance(info.node, Indicator):
                keys[info.id] = info.path[0]
        order = [n.id for n in fw.tree]
    frame = pd.DataFrame(0.0, index=ids, columns=order)
    for i in ids:
        frame.loc[i, keys[i]] = 1.0
    return frame


@renamed_keywords(seed="rng", ci="confidence")
def stated_vs_variance_shares(
    ev: Any,
    *,
    level: WeightLevel = "indicator",
    n_boot: int = 200,
    rng: RngLike = None,
    confidence: float = 0.95,
    lang: Lang = "zh",
) -> CheckResult:
    """Stated weight versus variance share of each indicator, source or top-level dimension.

    The stated weight is the item's share of the score
    (:func:`perfmodel.weights.effective_weights` of the evaluation's
    :meth:`~perfmodel.evaluation.Evaluation.stated_weights`); the variance share
    (:func:`perfmodel.weights.variance_shares`) is its share of the variance of
    the composite across units, which is what orders the units.

    Parameters
    ----------
    ev
        A run :class:`~perfmodel.evaluation.Evaluation`; its ``normalised``
        stage and its (possibly overridden) weights are used. Units missing a
        weighted indicator are left out (``n`` says how many remain).
    level
        ``indicator``, ``source`` (system, supervisor, peer, self, citizen) or
        ``dimension`` (top level of the tree).
    n_boot
        Bootstrap replicates (units resampled) for the SEs and percentile
        intervals; 0 for none.
    rng
        Random numbers of the bootstrap: an int seed, a Generator or None
        (:mod:`perfmodel.randomness`).
    confidence
        Coverage of the percentile intervals.
    lang
        Language of names and verdicts.

    Returns
    -------
    CheckResult
        ``to_frame()``: One row per item: ``level``, ``item`` (id), ``name``, ``source``
        (indicators), ``n``, ``stated`` (stated share of the score),
        ``estimate`` (variance share: share of the composite's variance),
        ``se``, ``ci_low``, ``ci_high``, ``ratio`` (effective / stated), ``sd``
        (indicators: spread of the normalised values) and ``corr``
        (indicators: correlation with the composite), ``flagged`` (effective
        at least 1.5 times or at most two thirds of stated, and at least 5
        points apart) and ``verdict``.

    Notes
    -----
    The composite here is the linear weighted mean of the normalised
    indicators, the score before difficulty coefficients, bonus points and
    deductions; with geometric aggregation it is a first-order approximation.
    """
    lang = check_lang(lang)
    confidence = check_confidence(confidence)
    draws = _draws(ev, n_boot, rng)
    fw: Framework = ev.framework
    members = _membership(fw, draws.ids, level)
    M = members.to_numpy()
    stated = draws.stated @ M
    estimate = draws.point @ M
    boot = draws.boot @ M if len(draws.boot) else np.empty((0, M.shape[1]))
    tail = (1 - confidence) / 2
    se = boot.std(axis=0, ddof=1) if len(boot) > 1 else np.full(M.shape[1], np.nan)
    low = np.quantile(boot, tail, axis=0) if len(boot) else np.full(M.shape[1], np.nan)
    high = np.quantile(boot, 1 - tail, axis=0) if len(boot) else np.full(M.shape[1], np.nan)
    meta = fw.indicator_meta()
    names = {d.id: d.name for d in fw.dimensions()} | {i.id: i.name for i in fw.indicators()}
    rows = []
    for k, item in enumerate(members.columns):
        if level == "source":
            name = say(f"audit.policy.source.{item}", lang)
        else:
            name = names[item].in_lang(lang)
        row = {
            "level": level,
            "item": item,
            "name": name,
            "n": draws.n,
            "stated": stated[k],
            "estimate": estimate[k],
            "se": se[k],
            "ci_low": low[k],
            "ci_high": high[k],
            "ratio": estimate[k] / stated[k] if stated[k] > 0 else np.nan,
        }
        if level == "indicator":
            j = draws.ids.index(item)
            row["source"] = meta[item].source
            row["sd"] = float(np.std(draws.X[:, j], ddof=1))
            column = draws.X[:, j]
            row["corr"] = float(np.corrcoef(column, draws.composite)[0, 1]) if np.std(column) > 0 else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out["flagged"] = _far_apart(out["stated"], out["estimate"])
    out["verdict"] = [_weight_verdict(r.stated, r.estimate, r.flagged, lang) for r in records(out)]
    return finish(
        out,
        "stated_vs_variance_shares",
        _WEIGHT_COLUMNS,
        level=level,
        n_boot=n_boot,
        seed=rng if isinstance(rng, int) else None,
    )


def _far_apart(stated: pd.Series, effective: pd.Series) -> pd.Series:
    ratio = effective / stated.where(stated > 0)
    return ((ratio >= 1.5) | (ratio <= 2 / 3)) & ((effective - stated).abs() >= 0.05)


def _weight_verdict(stated: float, effective: float, flagged: bool, lang: Lang) -> str:
    words = templates("audit.policy.verdict", lang)
    if stated <= 0:
        return words["weight_zero"]
    values = {"stated": fmt_pct(stated, 1), "eff": fmt_pct(effective, 1)}
    if not flagged:
        return words["weight_ok"].format(**values)
    return words["weight_far_more" if effective > stated else "weight_far_less"].format(**values)


# ============================================================================ policy
@renamed_keywords(seed="rng", ci="confidence")
def weight_policy(
    subject: Any,
    *,
    limits: PolicyLimits | None = None,
    n_boot: int = 200,
    rng: RngLike = None,
    confidence: float = 0.95,
    lang: Lang = "zh",
) -> CheckResult:
    """Check stated (and, for an evaluation, effective) weights against policy limits.

    Parameters
    ----------
    subject
        A :class:`~perfmodel.framework.Framework` (stated weights only) or a run
        :class:`~perfmodel.evaluation.Evaluation` (also effective weights, with
        the evaluation's weight overrides).
    limits
        :class:`PolicyLimits`; defaults take the framework's own policy.
    n_boot, rng, confidence
        Bootstrap of the effective shares (evaluations only), as for :func:`effective_weights`.
    lang
        Language of descriptions and verdicts.

    Returns
    -------
    CheckResult
        ``to_frame()``: One row per rule — ``temporary_share`` (≤, R6), ``subjective_share``
        (≤, R8), ``self_superior_share`` (≤, share of self + supervisor among
        the rated sources), ``citizen_share`` (≥) — with ``basis`` (``limit``:
        the framework's own policy; ``guideline``: a figure from the seeds),
        ``kind`` (``max``/``min``), ``limit``, ``n`` (indicators involved),
        ``estimate`` (stated share), ``passes``, ``effective`` (the same share of
        the composite's variance), ``se``, ``ci_low``, ``ci_high`` (of
        ``effective``), ``passes_effective``, ``flagged`` (fails on either) and
        ``verdict``.

    Examples
    --------
    >>> from perfmodel.framework import load_framework
    >>> table = weight_policy(load_framework("station_four_dimension"), lang="en").to_frame()
    >>> row = table.set_index("rule").loc["subjective_share"]
    >>> round(float(row.estimate), 3), bool(row.passes)
    (0.175, True)
    """
    lang = check_lang(lang)
    confidence = check_confidence(confidence)
    if isinstance(subject, Framework):
        fw, ev = subject, None
    elif hasattr(subject, "framework") and hasattr(subject, "stages"):
        fw, ev = subject.framework, subject
    else:
        raise AuditError(ERR_WEIGHT_INPUT.format(kind=type(subject).__name__))
    limits = (limits or PolicyLimits()).resolve(fw)
    stated = pd.Series(effective_weights(fw, ev.settings.weights if ev is not None else None), dtype=float)
    meta = fw.indicator_meta()
    source = pd.Series({i: meta[i].source for i in stated.index})
    temporary = pd.Series({i: meta[i].temporary is not None for i in stated.index})
    masks = {
        "temporary_share": (temporary.to_numpy(), None),
        "subjective_share": (source.isin(limits.subjective_sources).to_numpy(), None),
        "self_superior_share": (
            source.isin(limits.self_superior_sources).to_numpy(),
            source.isin(limits.rated_sources).to_numpy(),
        ),
        "citizen_share": ((source == "citizen").to_numpy(), None),
    }
    rules = {
        "temporary_share": ("limit", "max", limits.max_temporary),
        "subjective_share": ("limit", "max", limits.max_subjective),
        "self_superior_share": ("guideline", "max", limits.max_self_superior),
        "citizen_share": ("guideline", "min", limits.min_citizen),
    }
    draws = _draws(ev, n_boot, rng) if ev is not None else None
    tail = (1 - confidence) / 2
    rows = []
    for rule, (basis, kind, limit) in rules.items():
        numerator, denominator = masks[rule]
        w = stated.to_numpy()
        value = _ratio(w, numerator, denominator)
        row: dict[str, Any] = {
            "rule": rule,
            "description": say(f"audit.policy.rule.{rule}", lang),
            "basis": basis,
            "kind": kind,
            "limit": limit,
            "n": int(numerator.sum()),
            "estimate": value,
            "passes": _passes(value, kind, limit),
        }
        if draws is not None:
            eff = _ratio(draws.point, numerator, denominator)
            boot = np.array([_ratio(b, numerator, denominator) for b in draws.boot])
            boot = boot[np.isfinite(boot)]
            row.update(
                effective=eff,
                se=float(boot.std(ddof=1)) if len(boot) > 1 else np.nan,
                ci_low=float(np.quantile(boot, tail)) if len(boot) else np.nan,
                ci_high=float(np.quantile(boot, 1 - tail)) if len(boot) else np.nan,
                passes_effective=_passes(eff, kind, limit),
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in ("effective", "se", "ci_low", "ci_high"):
        if column not in out.columns:
            out[column] = np.nan
    if "passes_effective" not in out.columns:
        out["passes_effective"] = None
    fails_effective = out["passes_effective"].map(lambda v: v is False or v is np.False_)
    out["flagged"] = ~out["passes"].astype(bool) | fails_effective.astype(bool)
    out["verdict"] = [_policy_verdict(r, confidence, lang) for r in records(out)]
    return finish(out, "weight_policy", _POLICY_COLUMNS, limits=limits)


def _ratio(w: np.ndarray, numerator: np.ndarray, denominator: np.ndarray | None) -> float:
    top = float(w[numerator].sum())
    if denominator is None:
        return top
    bottom = float(w[denominator].sum())
    return top / bottom if bottom > 0 else np.nan


def _passes(value: float, kind: str, limit: float) -> bool:
    if not np.isfinite(value):
        return True
    tolerance = 1e-9
    return value <= limit + tolerance if kind == "max" else value >= limit - tolerance


def _policy_verdict(row: Any, confidence: float, lang: Lang) -> str:
    words = templates("audit.policy.verdict", lang)
    if row.n == 0:
        return (
            words["none"]
            if row.kind == "max" or row.passes
            else words["none_min"].format(limit=fmt_pct(row.limit))
            + (words["guideline"] if row.basis == "guideline" else "")
        )
    key = ("ok_" if row.passes else "bad_") + row.kind
    verdict = words[key].format(stated=fmt_pct(row.estimate, 1), limit=fmt_pct(row.limit))
    if row.basis == "guideline":
        verdict += words["guideline"]
    if np.isfinite(row.effective):
        interval = ""
        if np.isfinite(row.ci_low) and np.isfinite(row.ci_high):
            interval = words["ci"].format(lvl=fmt_pct(confidence), lo=fmt_pct(row.ci_low), hi=fmt_pct(row.ci_high))
        values = {"eff": fmt_pct(row.effective, 1), "ci": interval}
        if not row.passes_effective:
            breach = words["eff_over" if row.kind == "max" else "eff_under"]
            verdict += words["eff_bad" if row.passes else "eff_also"].format(breach=breach, **values)
        elif abs(row.effective - row.estimate) < 0.05 and row.passes:
            verdict += words["eff_same"].format(**values)
        else:
            verdict += words["eff_ok"].format(**values)
    return verdict


# ============================================================================ example
_EXAMPLE_FRAMEWORK: dict[str, Any] = {
    "id": "inflated_subjective_example",
    "name": {"zh": "示例:名义权重与实际权重不一致", "en": "Example: stated and effective weights differ"},
    "level": "station",
    "description": "Three system indicators (70 %) on which stations hardly differ and a supervisor "
    "rating (30 %) that spreads them widely.",
    "normalisation": {"method": "goalposts", "range": [0, 100]},
    "grading": {"method": "cutoffs", "cutoffs": {"优秀": 85, "良好": 75, "合格": 60}},
    "policy": {"max_temporary_weight": 0.2, "max_subjective_weight": 0.3},
    "tree": [
        {
            "id": "work",
            "name": {"zh": "业务工作", "en": "Casework"},
            "weight": 0.7,
            "children": [
                {
                    "id": "case_compliance_rate",
                    "name": {"zh": "案件规范率", "en": "Case compliance rate"},
                    "weight": 0.4,
                    "kind": "rate",
                    "source": "system",
                    "range": [0, 1],
                    "goalposts": [0.6, 1.0],
                },
                {
                    "id": "key_person_control_rate",
                    "name": {"zh": "重点人员管控率", "en": "Key-person control rate"},
                    "weight": 0.3,
                    "kind": "rate",
                    "source": "system",
                    "range": [0, 1],
                    "goalposts": [0.6, 1.0],
                },
                {
                    "id": "mediation_success_rate",
                    "name": {"zh": "纠纷调解成功率", "en": "Mediation success rate"},
                    "weight": 0.3,
                    "kind": "rate",
                    "source": "system",
                    "range": [0, 1],
                    "goalposts": [0.6, 1.0],
                },
            ],
        },
        {
            "id": "rating",
            "name": {"zh": "上级评价", "en": "Supervisor rating"},
            "weight": 0.3,
            "children": [
                {
                    "id": "supervisor_score",
                    "name": {"zh": "上级综合评分", "en": "Supervisor overall rating"},
                    "weight": 1.0,
                    "kind": "score",
                    "source": "supervisor",
                    "range": [0, 100],
                    "goalposts": [60, 100],
                },
            ],
        },
    ],
}


def inflated_weight_example(*, n_units: int = 60, rng: RngLike = None, period: str = "2025Q2") -> Any:
    """An evaluation whose 30 % supervisor rating drives most of the ranking.

    Three system rates (70 % of the stated weight) on which stations differ by
    a few points only, and a supervisor rating (30 %, within the subjective
    limit) given by three raters a month that spreads stations over most of
    its scale. :func:`stated_vs_variance_shares` shows the rating driving roughly two
    thirds of the score differences; :func:`weight_policy` shows the
    subjective share passing on paper and failing in effect.

    Parameters
    ----------
    n_units
        Stations simulated.
    rng
        Random numbers of the data (an int seed gives the same evaluation every time).
    period
        Quarter evaluated; the data cover it and the quarter before.

    Returns
    -------
    perfmodel.evaluation.Evaluation
        Already run (with the previous quarter for rank changes).

    Examples
    --------
    >>> ev = inflated_weight_example(n_units=40, rng=1)
    >>> shares = stated_vs_variance_shares(ev, level="source", n_boot=0).to_frame().set_index("item")
    >>> float(shares.loc["supervisor", "stated"]), bool(shares.loc["supervisor", "estimate"] > 0.5)
    (0.3, True)
    """
    from perfmodel.evaluation import evaluate
    from perfmodel.framework import framework_from_dict
    from perfmodel.periods import parse_period, previous

    fw = framework_from_dict(_EXAMPLE_FRAMEWORK, source="inflated_weight_example")
    rng = as_generator(rng)
    current = parse_period(period)
    months = [str(m) for m in (*months_in(previous(current)), *months_in(current))]
    ids = [f"S{i + 1:03d}" for i in range(n_units)]
    area = rng.choice(["城区核心", "城乡结合部", "农村"], size=n_units, p=[0.4, 0.3, 0.3])
    units = pd.DataFrame(
        {"unit_id": ids, "name": [f"示例派出所{i + 1}" for i in range(n_units)], "level": "station", "area_type": area}
    )
    theta = rng.standard_normal(n_units)
    impression = rng.standard_normal(n_units)  # what the supervisor sees beyond performance
    rows = []
    rates = [i.id for i in fw.indicators() if i.kind == "rate"]
    for month in months:
        for u, unit in enumerate(ids):
            for indicator in rates:
                cases = int(rng.integers(80, 160))
                p = float(np.clip(0.90 + 0.015 * theta[u] + 0.01 * rng.standard_normal(), 0.5, 0.999))
                k = int(rng.binomial(cases, p))
                rows.append((month, unit, indicator, k / cases, float(k), float(cases), None))
            for r in range(3):
                rating = 80 + 3 * theta[u] + 6 * impression[u] + 3 * rng.standard_normal()
                rows.append(
                    (
                        month,
                        unit,
                        "supervisor_score",
                        float(np.clip(rating, 0, 100)),
                        np.nan,
                        np.nan,
                        f"R{(u + r) % 6 + 1:02d}",
                    )
                )
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs["late"] = False
    return evaluate(fw, obs, units, period)


# ============================================================================ figure
def figure_weights(table: pd.DataFrame, *, ax: Axes | None = None, lang: Lang = "zh") -> Axes:
    """Stated weights versus variance shares as paired horizontal bars (from :func:`stated_vs_variance_shares`).

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    import matplotlib.pyplot as plt

    part = table.reset_index(drop=True)
    y = np.arange(len(part))[::-1]
    ax = report_axes(ax, figsize=(8, 0.42 * len(part) + 2.0))
    fig = ax.figure
    ax.barh(y + 0.2, part["stated"], 0.4, color="#bbbbbb", label=say("audit.policy.stated_weight", lang))
    err = None
    if part["ci_low"].notna().all():
        err = [(part["estimate"] - part["ci_low"]).clip(lower=0), (part["ci_high"] - part["estimate"]).clip(lower=0)]
    colours = ["#b2182b" if f else "#2166ac" for f in part["flagged"]]
    ax.barh(
        y - 0.2,
        part["estimate"],
        0.4,
        xerr=err,
        color=colours,
        capsize=2,
        error_kw={"ecolor": "#444444", "elinewidth": 1},
        label=say("audit.policy.effective_weight_variance_share_with", lang),
    )
    ax.set_yticks(y, part["name"])
    ax.axvline(0, color="#444444", linewidth=0.8)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel(say("audit.policy.share_of_the_composite_score", lang))
    ax.set_ylabel(say(f"audit.policy.level.{part['level'].iloc[0]}", lang))
    ax.set_title(say("audit.policy.stated_vs_effective_weights_red", lang))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncols=2)
    return ax
