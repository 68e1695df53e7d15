"""How scoring designs steer officers' effort: an agent-based gaming simulation.

The seeds report that officers chase "high-score, easy-to-clear" cases and neglect
minor livelihood cases (选择性办案, seed 001) and that case points such as
"homicide 100, dispute 10" drive bonuses (办案积分制, seed 003, R13). This module
makes that mechanism explicit so that designs can be compared before they are
introduced.

Model
-----
Each month every officer receives cases of several types (Poisson arrivals,
:class:`CaseType`): easy minor cases, hard minor "livelihood" cases (民生小案),
serious cases, homicides, and disputes/service work. A case type has standard
hours, a clearance (or mediation-success) probability for an average officer and a
harm weight (days of custody, in the manner of the Cambridge Crime Harm Index).
Officers differ in skill θ ~ N(0, 1): a skilled officer clears more (logit
clearance + ``skill_effect`` · θ, strongest for hard cases) and works faster.

Hours are limited, and the cases that arrive need more hours than there are,
so officers choose. Under a scoring :class:`ScoringDesign`, each officer computes the
marginal score per hour of handling one more case of each type — by finite
difference of the design's score at the officer's running totals — and splits the
month's hours by a softmax: the share of type *j* is proportional to
``D_j · exp(β · u_j / max|u|)``, where ``D_j`` is the hours the month's cases of
that type would need (so an indifferent officer handles cases in proportion to
what comes in) and β is the rationality parameter (β = 0: no reaction to the
score; large β: all-or-nothing). Hours beyond a type's demand flow to the other
types. Cases not handled in their month are neglected.

Outcomes are reported per design (:func:`simulate_gaming`): the share of effort on
easy cases, the share of livelihood cases neglected, the share of serious cases
cleared, the harm-weighted clearance (the citizen's outcome: Σ harm of cleared
cases / Σ harm of cases that arrived), the inequality of officers' scores (Gini)
and the rank correlation between score and true skill (does the score measure
the officer?). All designs see the same officers and the same arrivals.

:func:`plant_threshold_gaming` plants the "hole and heap" manipulation in real or
synthetic observations, and :func:`simulate_rate_panel` makes a monthly rate panel
around a hard threshold; both serve to test :mod:`perfmodel.design.gaming`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.errors import OptionError
from perfmodel.randomness import RngLike, as_generator, seed_from
from perfmodel.text import check_lang, templates

__all__ = [
    "DEFAULT_CASE_TYPES",
    "SCORING_DESIGNS",
    "figure_design_outcomes",
    "figure_effort",
    "outcome_table",
    "CaseTable",
    "CaseType",
    "ScoringDesign",
    "GamingSimulation",
    "gini",
    "plant_threshold_gaming",
    "simulate_gaming",
    "simulate_rate_panel",
]


# ============================================================================ case types
@dataclass(frozen=True)
class CaseType:
    """A type of case or work item.

    Attributes
    ----------
    id, zh, en
        Identifier and names.
    arrivals
        Mean number arriving per officer per month (Poisson).
    hours
        Standard hours to handle one case (an average officer).
    clearance
        Probability that a handled case is cleared (mediation succeeds) for an
        average officer.
    harm
        Harm weight: days of custody a typical offence would attract, in the manner
        of the Cambridge Crime Harm Index; for disputes, the harm a successful
        mediation averts.
    points
        Points per cleared case in the flat case-points scheme (R13).
    skill_effect
        Change of the logit clearance probability per standard deviation of skill.
    crime
        Whether the case counts in the clearance rate.
    group
        ``easy``, ``minor``, ``serious`` or ``service``; used by the outcome measures.
    """

    id: str
    zh: str
    en: str
    arrivals: float
    hours: float
    clearance: float
    harm: float
    points: float
    skill_effect: float
    crime: bool = True
    group: Literal["easy", "minor", "serious", "service"] = "minor"

    def __post_init__(self) -> None:
        if self.arrivals < 0 or self.hours <= 0 or self.harm < 0 or self.points < 0:
            raise OptionError(f"case type {self.id!r}: arrivals, harm and points must be >= 0 and hours > 0")
        if not 0 < self.clearance < 1:
            raise OptionError(f"case type {self.id!r}: clearance must be strictly between 0 and 1")


DEFAULT_CASE_TYPES: tuple[CaseType, ...] = (
    CaseType(
        "minor_easy",
        "轻微易破案件",
        "easy minor case",
        arrivals=20,
        hours=3,
        clearance=0.85,
        harm=1,
        points=10,
        skill_effect=0.3,
        group="easy",
    ),
    CaseType(
        "minor_livelihood",
        "民生小案",
        "minor livelihood case",
        arrivals=10,
        hours=8,
        clearance=0.2,
        harm=20,
        points=10,
        skill_effect=0.9,
        group="minor",
    ),
    CaseType(
        "serious",
        "严重刑事案件",
        "serious case",
        arrivals=2,
        hours=40,
        clearance=0.45,
        harm=365,
        points=30,
        skill_effect=0.9,
        group="serious",
    ),
    CaseType(
        "homicide",
        "命案",
        "homicide",
        arrivals=0.05,
        hours=60,
        clearance=0.9,
        harm=5475,
        points=100,
        skill_effect=0.5,
        group="serious",
    ),
    CaseType(
        "dispute",
        "矛盾纠纷调解",
        "dispute mediation",
        arrivals=15,
        hours=3,
        clearance=0.7,
        harm=10,
        points=10,
        skill_effect=0.6,
        crime=False,
        group="service",
    ),
)
"""Illustrative case mix of a community officer's month. Arrivals need about 250
hours against 140 available, so officers must choose. Points follow the flat
scheme of seed 003 (homicide 100, dispute 10); harm weights are days of custody in
the manner of the Cambridge Crime Harm Index (homicide 15 years)."""


@dataclass(frozen=True)
class CaseTable:
    """Case-type attributes as arrays over the case types (``table.hours``, ``table.harm`` …).

    ``table.group("easy")`` is a boolean mask of the types in a group.
    """

    types: tuple[CaseType, ...]

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name == "types":
            raise AttributeError(name)
        return np.array([getattr(t, name) for t in self.types])

    def group(self, name: str) -> np.ndarray:
        return np.array([t.group == name for t in self.types])


# ============================================================================ designs
State = Mapping[str, np.ndarray]
"""Running totals per officer and case type: ``handled``, ``cleared``, ``satisfied``, ``arrived``."""


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0)


def _clearance_rate(s: State, t: CaseTable) -> np.ndarray:
    crime = t.crime.astype(bool)
    return _ratio((s["cleared"] * crime).sum(-1), (s["handled"] * crime).sum(-1))


def _flat_points(s: State, t: CaseTable) -> np.ndarray:
    return (s["cleared"] * t.points).sum(-1)


def _harm_weighted(s: State, t: CaseTable) -> np.ndarray:
    return (s["cleared"] * t.harm).sum(-1)


def _difficulty_adjusted(s: State, t: CaseTable) -> np.ndarray:
    return (s["cleared"] * (t.hours / t.clearance)).sum(-1)


def _composite(s: State, t: CaseTable) -> np.ndarray:
    satisfaction = _ratio(s["satisfied"].sum(-1), s["handled"].sum(-1))
    timeliness = _ratio(s["handled"].sum(-1), s["arrived"].sum(-1))
    return 0.4 * _clearance_rate(s, t) + 0.35 * satisfaction + 0.25 * timeliness


@dataclass(frozen=True)
class ScoringDesign:
    """A scoring design: a name and a score function of an officer's running totals.

    ``score(state, table)`` receives arrays whose last axis is the case type
    (``handled``, ``cleared``, ``satisfied``, ``arrived``; any leading axes) and the
    case-type attributes (``table.points``, ``table.harm``, ``table.hours``,
    ``table.clearance``, ``table.crime`` …), and returns the score with the last
    axis removed. Officers respond to its marginal value per hour.
    """

    id: str
    zh: str
    en: str
    score: Callable[[State, CaseTable], np.ndarray]
    description: str = ""


SCORING_DESIGNS: dict[str, ScoringDesign] = {
    d.id: d
    for d in (
        ScoringDesign(
            "clearance_rate", "纯破案率目标", "pure clearance-rate target", _clearance_rate, "cleared / handled crimes"
        ),
        ScoringDesign(
            "flat_points",
            "办案积分制(固定分值)",
            "flat case points",
            _flat_points,
            "points per cleared case: homicide 100, serious 30, minor 10, dispute 10 (R13)",
        ),
        ScoringDesign(
            "harm_weighted",
            "危害加权积分",
            "harm-weighted points",
            _harm_weighted,
            "points ∝ harm (Cambridge Crime Harm Index style)",
        ),
        ScoringDesign(
            "difficulty_adjusted",
            "难度调整破案积分",
            "difficulty-adjusted clearance",
            _difficulty_adjusted,
            "credit per cleared case ∝ standard hours / expected clearance probability",
        ),
        ScoringDesign(
            "composite",
            "复合指标(破案率+满意度+及时率)",
            "composite (clearance + satisfaction + timeliness)",
            _composite,
            "0.40 clearance rate + 0.35 call-back satisfaction + 0.25 share of cases handled",
        ),
    )
}
"""The designs compared by default."""

SATISFIED_IF_CLEARED = 0.9
SATISFIED_IF_NOT = 0.6


# ============================================================================ simulation
@dataclass
class GamingSimulation:
    """Result of :func:`simulate_gaming`.

    Attributes
    ----------
    summary
        One row per design: ``design``, ``name``, ``easy_effort`` (share of hours on
        easy cases), ``neglected_minor`` (share of livelihood cases never handled),
        ``serious_cleared`` (share of arrived serious cases and homicides cleared),
        ``harm_weighted_clearance`` (Σ harm cleared / Σ harm arrived),
        ``clearance_rate`` (cleared / handled crimes), ``cases_handled`` (per officer
        and month), ``score_gini`` and ``skill_correlation`` (Spearman, score vs skill).
    effort
        Share of hours per design × case type (long).
    officers
        One row per design × officer: skill, score, hours and cases per type.
    """

    summary: pd.DataFrame
    effort: pd.DataFrame
    officers: pd.DataFrame
    case_types: tuple[CaseType, ...]
    parameters: dict[str, object] = field(default_factory=dict)


def gini(values: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal).

    Examples
    --------
    >>> gini([1, 1, 1, 1])
    0.0
    >>> round(gini([0, 0, 0, 4]), 3)
    0.75
    """
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) == 0 or x.sum() <= 0:
        return 0.0
    if x[0] < 0:
        raise OptionError("gini needs non-negative values; shift scores first")
    n = len(x)
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * x.sum()))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _allocate(hours: np.ndarray, demand: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each officer's hours over types ∝ weights, never beyond a type's demand."""
    alloc = np.zeros_like(demand)
    remaining = hours.astype(float).copy()
    active = demand > 1e-12
    for _ in range(demand.shape[1] + 1):
        w = np.where(active, weights, 0.0)
        total = w.sum(axis=1, keepdims=True)
        share = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
        tentative = remaining[:, None] * share
        room = demand - alloc
        capped = active & (tentative >= room)
        if not capped.any():
            alloc += tentative
            break
        # Fill the capped types completely, then re-split what is left.
        fill = np.where(capped, room, 0.0)
        alloc += fill
        remaining = remaining - fill.sum(axis=1)
        active &= ~capped
    return np.minimum(alloc, demand)


def _marginal_per_hour(
    design: ScoringDesign, table: CaseTable, state: State, p: np.ndarray, sat: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """Score gained by one more handled case of each type, per hour (officers × types)."""
    j = len(table.types)
    eye = np.eye(j)[None, :, :]  # 1 × perturbed type × type
    base = design.score(state, table)
    bumped = {
        "handled": state["handled"][:, None, :] + eye,
        "cleared": state["cleared"][:, None, :] + eye * p[:, None, :],
        "satisfied": state["satisfied"][:, None, :] + eye * sat[:, None, :],
        "arrived": np.broadcast_to(state["arrived"][:, None, :], (len(base), j, j)),
    }
    gain = design.score(bumped, table) - base[:, None]
    return gain / hours


def _run_design(
    design: ScoringDesign,
    table: CaseTable,
    skill: np.ndarray,
    arrivals: np.ndarray,
    *,
    hours_available: float,
    rationality: float,
    speed_effect: float,
    burn_in: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    n_officers, n_months, _ = arrivals.shape
    p = 1 / (1 + np.exp(-(_logit(table.clearance)[None, :] + table.skill_effect[None, :] * skill[:, None])))
    need = table.hours[None, :] * np.exp(-speed_effect * skill)[:, None]
    sat = SATISFIED_IF_NOT + (SATISFIED_IF_CLEARED - SATISFIED_IF_NOT) * p
    capacity = np.full(n_officers, float(hours_available))
    # Reference state before the first month: a month handled in proportion to demand.
    mean_demand = table.arrivals[None, :] * need
    proportional = _allocate(capacity, mean_demand, np.ones_like(mean_demand)) / need
    state = {
        "handled": proportional,
        "cleared": proportional * p,
        "satisfied": proportional * sat,
        "arrived": np.broadcast_to(table.arrivals, p.shape).astype(float),
    }
    keys = ("hours", "handled", "cleared", "satisfied", "arrived")
    totals = {k: np.zeros_like(p) for k in keys}
    for month in range(n_months):
        arrived = arrivals[:, month, :].astype(float)
        u = _marginal_per_hour(design, table, state, p, sat, need)
        scale = np.abs(u).max(axis=1, keepdims=True)
        rel = np.divide(u, scale, out=np.zeros_like(u), where=scale > 0)
        demand = arrived * need
        weights = demand * np.exp(rationality * (rel - 1.0))
        hours = _allocate(capacity, demand, weights)
        exact = hours / need
        handled = np.minimum(np.floor(exact) + (rng.random(exact.shape) < exact - np.floor(exact)), arrived)
        cleared = rng.binomial(handled.astype(np.int64), p).astype(float)
        satisfied = (
            rng.binomial(cleared.astype(np.int64), SATISFIED_IF_CLEARED)
            + rng.binomial((handled - cleared).astype(np.int64), SATISFIED_IF_NOT)
        ).astype(float)
        # Officers learn from what they expect their choices to yield.
        state = {
            "handled": state["handled"] + exact,
            "cleared": state["cleared"] + exact * p,
            "satisfied": state["satisfied"] + exact * sat,
            "arrived": state["arrived"] + arrived,
        }
        if month >= burn_in:
            for key, value in zip(keys, (hours, handled, cleared, satisfied, arrived), strict=True):
                totals[key] += value
    return totals


def simulate_gaming(
    designs: Mapping[str, ScoringDesign] | Iterable[str] | None = None,
    case_types: Sequence[CaseType] = DEFAULT_CASE_TYPES,
    *,
    n_officers: int = 200,
    n_months: int = 12,
    hours: float = 140.0,
    rationality: float = 4.0,
    speed_effect: float = 0.15,
    burn_in: int = 2,
    rng: RngLike = None,
) -> GamingSimulation:
    """Simulate officers choosing cases under each scoring design.

    Parameters
    ----------
    designs
        Designs to compare: ids of :data:`SCORING_DESIGNS`, a mapping id → :class:`ScoringDesign`
        (for new designs), or None for all of :data:`SCORING_DESIGNS`.
    case_types
        The case mix (default :data:`DEFAULT_CASE_TYPES`).
    n_officers, n_months
        Officers simulated and months per run.
    hours
        Casework hours per officer and month.
    rationality
        β of the softmax: 0 = effort follows the workload whatever the score;
        larger = stronger score chasing.
    speed_effect
        Hours needed scale with ``exp(−speed_effect · θ)``.
    burn_in
        First months left out of the outcome measures (officers are still learning).
    rng
        An int seed, a ``numpy.random.Generator`` or ``None`` (:mod:`perfmodel.randomness`).
        All designs share the officers' skills and the arrivals (common random
        numbers), so differences between designs are not sampling noise.

    Returns
    -------
    GamingSimulation
    """
    if isinstance(designs, Mapping):
        chosen = dict(designs)
    else:
        ids = list(SCORING_DESIGNS) if designs is None else list(designs)
        unknown = [d for d in ids if d not in SCORING_DESIGNS]
        if unknown:
            raise OptionError(f"unknown design(s) {', '.join(unknown)}; choose from {', '.join(SCORING_DESIGNS)}")
        chosen = {d: SCORING_DESIGNS[d] for d in ids}
    if n_officers < 2 or n_months <= burn_in:
        raise OptionError("need at least 2 officers and more months than burn_in")
    table = CaseTable(tuple(case_types))
    seed = seed_from(rng)
    rng = np.random.default_rng(seed)
    skill = rng.standard_normal(n_officers)
    arrivals = rng.poisson(table.arrivals, size=(n_officers, n_months, len(table.types)))

    summary_rows, effort_rows, officer_frames = [], [], []
    for index, (design_id, design) in enumerate(chosen.items()):
        totals = _run_design(
            design,
            table,
            skill,
            arrivals,
            hours_available=hours,
            rationality=rationality,
            speed_effect=speed_effect,
            burn_in=burn_in,
            rng=np.random.default_rng([seed, index]),
        )
        score = design.score(totals, table)
        summary_rows.append(_summary_row(design_id, design, table, totals, score, skill, n_months - burn_in))
        share = totals["hours"].sum(axis=0) / totals["hours"].sum()
        for case, value in zip(table.types, share, strict=True):
            effort_rows.append(
                {"design": design_id, "case_type": case.id, "zh": case.zh, "en": case.en, "effort_share": float(value)}
            )
        officer = pd.DataFrame({"design": design_id, "officer": np.arange(n_officers), "skill": skill, "score": score})
        for key in ("hours", "handled", "cleared"):
            for c, case in enumerate(table.types):
                officer[f"{key}_{case.id}"] = totals[key][:, c]
        officer_frames.append(officer)
    return GamingSimulation(
        summary=pd.DataFrame(summary_rows),
        effort=pd.DataFrame(effort_rows),
        officers=pd.concat(officer_frames, ignore_index=True),
        case_types=tuple(case_types),
        parameters={
            "designs": list(chosen),
            "n_officers": n_officers,
            "n_months": n_months,
            "hours": hours,
            "rationality": rationality,
            "speed_effect": speed_effect,
            "burn_in": burn_in,
            "seed": seed,
        },
    )


def _summary_row(
    design_id: str,
    design: ScoringDesign,
    table: CaseTable,
    totals: dict[str, np.ndarray],
    score: np.ndarray,
    skill: np.ndarray,
    months: int,
) -> dict[str, object]:
    easy, minor, serious = table.group("easy"), table.group("minor"), table.group("serious")
    arrived, handled, cleared = (totals[k].sum(axis=0) for k in ("arrived", "handled", "cleared"))
    crime = table.crime.astype(bool)
    shifted = score - min(0.0, float(score.min()))
    return {
        "design": design_id,
        "zh": design.zh,
        "en": design.en,
        "easy_effort": float(totals["hours"][:, easy].sum() / totals["hours"].sum()),
        "neglected_minor": float(1 - handled[minor].sum() / arrived[minor].sum()),
        "serious_cleared": float(cleared[serious].sum() / arrived[serious].sum()),
        "harm_weighted_clearance": float((cleared * table.harm).sum() / (arrived * table.harm).sum()),
        "clearance_rate": float(cleared[crime].sum() / handled[crime].sum()),
        "cases_handled": float(handled.sum() / (len(skill) * months)),
        "score_gini": gini(shifted),
        "skill_correlation": float(stats.spearmanr(score, skill).statistic),
    }


# ============================================================================ display
_OUTCOMES: tuple[str, ...] = (
    "easy_effort",
    "neglected_minor",
    "serious_cleared",
    "harm_weighted_clearance",
    "clearance_rate",
    "cases_handled",
    "score_gini",
    "skill_correlation",
)
"""Outcome columns of a simulation's summary, in display order (words: ``design.simulate_gaming.outcome.*``)."""


def outcome_table(result: GamingSimulation, lang: str = "zh") -> pd.DataFrame:
    """The per-design outcomes with readable headers (one row per design)."""
    check_lang(lang)
    words = templates("design.simulate_gaming.outcome", lang)
    table = result.summary[[lang, *_OUTCOMES]].copy()
    return table.rename(columns={lang: words["design"], **{k: words[k] for k in _OUTCOMES}})


def figure_design_outcomes(result: GamingSimulation, lang: str = "zh") -> object:
    """Two bar panels per design: share of effort on easy cases, harm-weighted clearance."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    words = templates("design.simulate_gaming.fig", lang)
    summary = result.summary
    labels = summary[lang].tolist()
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.2), sharey=True)
    panels = (
        ("easy_effort", "#c23030", words["easy_effort"]),
        ("harm_weighted_clearance", "#1f4e79", words["harm_weighted_clearance"]),
    )
    y = np.arange(len(labels))
    for ax, (column, colour, title) in zip(axes, panels, strict=True):
        values = summary[column].to_numpy()
        ax.barh(y, values, color=colour, alpha=0.85)
        for yi, v in zip(y, values, strict=True):
            ax.text(v + 0.005, yi, f"{v:.0%}", va="center", fontsize=9)
        ax.set_yticks(y, labels)
        ax.set_xlim(0, max(0.6, float(values.max()) * 1.25))
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.set_title(title)
        ax.set_xlabel(words["share"])
    axes[0].invert_yaxis()  # shared y axis: the first design on top
    fig.supylabel(words["design"])
    fig.suptitle(words["outcomes_title"])
    fig.tight_layout()
    return fig


def figure_effort(result: GamingSimulation, lang: str = "zh") -> object:
    """Stacked bars: how each design splits officers' hours over case types."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    words = templates("design.simulate_gaming.fig", lang)
    shares = result.effort.pivot(index="design", columns="case_type", values="effort_share")
    order = result.summary["design"].tolist()
    shares = shares.loc[order, [c.id for c in result.case_types]]
    labels = result.summary.set_index("design").loc[order, lang].tolist()
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    left = np.zeros(len(order))
    palette = ["#c23030", "#d9822b", "#1f4e79", "#5c2d91", "#2d8a4e", "#9aa5b1"]
    for i, case in enumerate(result.case_types):
        values = shares[case.id].to_numpy()
        ax.barh(labels, values, left=left, color=palette[i % len(palette)], label=getattr(case, lang))
        left += values
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel(words["share_of_hours"])
    ax.set_ylabel(words["design"])
    ax.set_title(words["effort_title"])
    ax.invert_yaxis()
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.38), ncol=len(result.case_types), fontsize=8.5)
    fig.tight_layout()
    return fig


# ============================================================================ planting gaming in data
def plant_threshold_gaming(
    observations: pd.DataFrame,
    units_subset: Iterable[str],
    threshold: float,
    window: float,
    share: float,
    rng: RngLike,
    *,
    indicator: str | None = None,
    side: Literal["min", "max"] = "min",
    landing: float = 0.0,
) -> pd.DataFrame:
    """Move values just short of a threshold to just past it ("hole and heap").

    For the units in ``units_subset``, each month whose value lies within
    ``window`` short of ``threshold`` (``[t − window, t)`` for ``side="min"``) is
    manipulated with probability ``share``. The new value lies uniformly in
    ``[t, t + landing)`` (``side="max"``: ``(t − landing, t]``); with numerator
    and denominator, the numerator becomes the smallest (largest) count reaching
    that value — with ``landing=0`` the least that meets the threshold — and the
    value becomes numerator / denominator. Without counts and with
    ``landing=0``, values land within a quarter window past the threshold.

    Parameters
    ----------
    observations
        Long observations (clean: numeric ``value``, ``numerator``, ``denominator``).
    units_subset
        Units that manipulate.
    threshold, window, share
        The threshold, how far short a value may be to be moved, and the chance
        that such a month is moved.
    rng
        Random choices: an int seed, a ``numpy.random.Generator`` or ``None``.
    indicator
        The indicator to manipulate; required when the frame holds several.
    side
        ``"min"``: values must reach at least the threshold; ``"max"``: at most.
    landing
        How far past the threshold manipulated values may land.

    Returns
    -------
    DataFrame
        A copy with the manipulated rows changed; ``attrs["planted"]`` holds the
        index labels of the moved rows.
    """
    if not 0 <= share <= 1 or window <= 0 or landing < 0:
        raise OptionError("share must be in [0, 1], window positive and landing non-negative")
    out = observations.copy()
    indicators = out["indicator"].astype(str).unique()
    if indicator is None:
        if len(indicators) != 1:
            raise OptionError(
                f"the observations hold {len(indicators)} indicators ({', '.join(sorted(indicators)[:5])}…); "
                "pass indicator= to say which one to manipulate"
            )
        indicator = str(indicators[0])
    value = pd.to_numeric(out["value"], errors="coerce")
    units = {str(u) for u in units_subset}
    target = out["indicator"].astype(str).eq(indicator) & out["unit_id"].astype(str).isin(units)
    if side == "min":
        short = (value >= threshold - window - 1e-12) & (value < threshold - 1e-12)
    else:
        short = (value <= threshold + window + 1e-12) & (value > threshold + 1e-12)
    rng = as_generator(rng)
    chosen = target & short & pd.Series(rng.random(len(out)) < share, index=out.index)
    idx = out.index[chosen.to_numpy()]
    has_counts = {"numerator", "denominator"} <= set(out.columns)
    for column in ("value", "numerator", "denominator"):
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    offset = rng.random(len(idx)) * landing
    if has_counts:
        den = out.loc[idx, "denominator"].to_numpy(dtype=float)
        with_counts = np.isfinite(den) & (den > 0)
        counted = idx[with_counts]
        n = den[with_counts]
        if side == "min":
            k = np.minimum(np.ceil((threshold + offset[with_counts]) * n - 1e-7), n)
        else:
            k = np.maximum(np.floor((threshold - offset[with_counts]) * n + 1e-7), 0)
        out.loc[counted, "numerator"] = k
        out.loc[counted, "value"] = k / n
        rest, offset = idx[~with_counts], offset[~with_counts]
    else:
        rest = idx
    if landing == 0:
        offset = rng.random(len(rest)) * window / 4
    out.loc[rest, "value"] = threshold + offset if side == "min" else threshold - offset
    out.attrs["planted"] = list(idx)
    return out


def simulate_rate_panel(
    n_units: int = 120,
    n_months: int = 24,
    *,
    indicator: str = "three_real_info_rate",
    threshold: float = 0.95,
    process: Literal["binomial", "beta"] = "binomial",
    start: str = "2024-01",
    rng: RngLike = None,
) -> pd.DataFrame:
    """A monthly rate panel whose unit means straddle a hard threshold (no gaming).

    ``process="binomial"``: unit means logit-normal around the threshold,
    denominators Poisson around a lognormal unit size, numerators binomial.
    ``process="beta"``: unit means Beta-distributed, month rates drawn from a
    Beta around the unit mean (over-dispersion), denominators negative binomial
    (some small units), numerators binomial given the month rate. ``rng``: an int
    seed, a ``numpy.random.Generator`` or ``None``.

    Returns long observations: ``period``, ``unit_id``, ``indicator``, ``value``,
    ``numerator``, ``denominator``.
    """
    rng = as_generator(rng)
    if process == "binomial":
        mean = 1 / (1 + np.exp(-(np.log(threshold / (1 - threshold)) + rng.normal(0, 0.5, n_units))))
        size = np.exp(rng.normal(np.log(120), 0.5, n_units))
        den = rng.poisson(np.broadcast_to(size[:, None], (n_units, n_months))).clip(1)
        p = np.broadcast_to(mean[:, None], den.shape)
    elif process == "beta":
        mean = rng.beta(threshold * 30, (1 - threshold) * 30, n_units)
        size = np.exp(rng.normal(np.log(80), 0.8, n_units)) + 10
        den = rng.negative_binomial(8, 8 / (8 + size[:, None]), size=(n_units, n_months)).clip(1)
        concentration = 300.0
        p = rng.beta(mean[:, None] * concentration, (1 - mean[:, None]) * concentration, size=den.shape)
    else:
        raise OptionError(f"process must be 'binomial' or 'beta', got {process!r}")
    num = rng.binomial(den, p)
    periods = [str(m) for m in pd.period_range(start, periods=n_months, freq="M")]
    units = [f"U{i + 1:03d}" for i in range(n_units)]
    return pd.DataFrame(
        {
            "period": np.tile(periods, n_units),
            "unit_id": np.repeat(units, n_months),
            "indicator": indicator,
            "value": (num / den).ravel(),
            "numerator": num.ravel().astype(float),
            "denominator": den.ravel().astype(float),
        }
    )
