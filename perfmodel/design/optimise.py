"""The design optimiser: search a framework family for designs that measure better and game worse.

A *framework family* is a base framework and the variations a bureau is willing
to consider (:class:`DesignSpace`): the weights of every sibling set (each node's
stated weight times a factor, rescaled within its siblings), leaving indicators
out, the normalisation and aggregation, the peer grouping (grades within a
units-table column, optionally with normalisation within it too), the
calibration mode, whether hard thresholds cap grades or only flag, and the
points scheme by which case work is credited. Every candidate is built as a
real :class:`~perfmodel.framework.Framework` (so the framework validator, with its
policy limits R6/R8, decides whether it is allowed at all) and evaluated on a
*world* with known truth (:class:`World`: simulated by :mod:`perfmodel.simulate`
with context, small stations and lenient raters, or the shipped sample).

Objectives (:data:`OBJECTIVES`)
-------------------------------
``truth``
    Spearman correlation of the score with the true performance (maximised).
``context_r2``
    R² of the score on context (load per officer, population, area and station
    type, district) by least squares (minimised).
``easy_effort``
    Share of officers' hours spent on easy cases in the agent-based simulation
    (:func:`perfmodel.design.simulate_gaming.simulate_gaming`) when officers chase
    the design's score (minimised). The design enters that model through
    :func:`casework_design`.
``manipulation_gain``
    Percentile points of the overall ranking that a manipulating station buys
    (minimised): a fixed set of stations report their self-reported figures
    better than they are (:func:`manipulate`) and the gain is their mean rise.
``rank_instability``
    Mean absolute move, in percentile points, of a unit's position when every
    weight varies by ±25 % (:func:`perfmodel.design.sensitivity.uncertainty`, minimised).
``n_indicators``
    The data burden: indicators the stations must report (minimised).

The search is Optuna's NSGA-II sampler (Deb et al. 2002), a genetic algorithm
for several objectives with constraint handling, seeded and run with one
worker so that the same seed gives the same trials. The shipped design is
evaluated first, then its one-change neighbours (each other option of one
discrete choice) and their improving changes combined, so the search starts
from what each choice alone does. The Pareto front is computed from all
evaluated designs that pass the policy limits (:func:`pareto_front`), and the
recommended design is chosen from it in tiers: better than the base on truth
recovery and no worse on the two gaming measures first, with the best balance
over all objectives (:meth:`OptimisationResult.recommended_trial`).

Examples
--------
>>> world = simulated_world("station_four_dimension", "2025Q4", stations=40, rng=1)  # doctest: +SKIP
>>> result = optimise(DesignSpace.of(world.framework), world, trials=20, rng=1)  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError, PerfmodelError, check_choice
from perfmodel.framework import Dimension, Framework, Indicator, framework_from_dict, load_framework
from perfmodel.randomness import RngLike, seed_from
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from perfmodel.design.simulate_gaming import CaseTable, ScoringDesign
    from perfmodel.evaluation import Evaluation

__all__ = [
    "OBJECTIVES",
    "POINTS_SCHEMES",
    "Design",
    "DesignSpace",
    "World",
    "OptimisationResult",
    "OptimiserError",
    "build_framework",
    "casework_design",
    "evaluate_design",
    "figure_front",
    "framework_yaml",
    "manipulate",
    "optimise",
    "pareto_front",
    "sample_world",
    "simulated_world",
]

OBJECTIVES: dict[str, Literal["maximize", "minimize"]] = {
    "truth": "maximize",
    "context_r2": "minimize",
    "easy_effort": "minimize",
    "manipulation_gain": "minimize",
    "rank_instability": "minimize",
    "n_indicators": "minimize",
}
"""Objective → direction (Optuna's spelling)."""

POINTS_SCHEMES: tuple[str, ...] = ("flat", "difficulty", "harm")
"""How a case counts in the case-work indicators: each case alike (``flat``), by its
standard hours ÷ expected clearance (``difficulty``), or by its harm (``harm``)."""

CONTEXT: tuple[str, ...] = ("log_workload", "log_population", "area_type", "station_type", "district")
"""Context of the neutrality objective: the calibration covariates and the district."""

MANIPULABLE_SOURCES: tuple[str, ...] = ("system", "self")
"""Sources whose figures a station enters itself and could report better than they are."""


class OptimiserError(PerfmodelError, ValueError):
    """A design space or world the optimiser cannot work with; the message says why."""


# ============================================================================ the world
@dataclass(frozen=True)
class World:
    """Units and observations of one period with the true performance of every unit.

    Attributes
    ----------
    framework
        The base framework the observations follow.
    period
        The period evaluated.
    units, observations
        Units table and (clean, numeric) observations of ``framework``.
    truth
        True overall performance per unit id.
    manipulators
        Unit ids of the stations that manipulate in the manipulation objective.
    seed
        The integer seed the world (and the choice of manipulators) came from.
    """

    framework: Framework
    period: str
    units: pd.DataFrame
    observations: pd.DataFrame
    truth: pd.Series
    manipulators: tuple[str, ...]
    seed: int


def _manipulators(truth: pd.Series, share: float, seed: int) -> tuple[str, ...]:
    ids = np.array(sorted(map(str, truth.index)))
    n = max(2, round(share * len(ids)))
    chosen = np.random.default_rng([seed, 17]).choice(ids, size=min(n, len(ids)), replace=False)
    return tuple(sorted(chosen.tolist()))


def simulated_world(
    framework: Framework | str,
    period: str,
    *,
    stations: int = 120,
    manipulators: float = 0.1,
    rng: RngLike = None,
) -> World:
    """A simulated world (:func:`perfmodel.calibrate.truth.simulate_calibration_case`) for the optimiser.

    Every confounder of the simulator is on: load per officer, urban–rural fringe,
    district difficulty, small stations with small denominators, lenient and
    harsh raters. ``manipulators`` is the share of stations that manipulate (at least 2).
    """
    from perfmodel.calibrate.truth import simulate_calibration_case

    seed = seed_from(rng)
    case = simulate_calibration_case(framework, period, stations=stations, rng=seed)
    return World(
        framework=case.framework,
        period=period,
        units=case.units,
        observations=case.observations,
        truth=case.truth,
        manipulators=_manipulators(case.truth, manipulators, seed),
        seed=seed,
    )


def sample_world(
    folder: str | Path,
    framework: Framework | str = "station_four_dimension",
    period: str = "2025",
    *,
    manipulators: float = 0.1,
    rng: RngLike = 0,
) -> World:
    """The world of a sample written by ``perfmodel sample`` (its files and ``truth_units.csv``).

    Rows that fail validation (the sample's planted defects) are left out, as the
    evaluation would; the truth is the framework's ``overall`` true latent.
    """
    from perfmodel.validation import read_inputs

    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    folder = Path(folder)
    obs_path = folder / "observations" / f"{fw.id}.csv.gz"
    if not obs_path.is_file():
        raise OptimiserError(f"{obs_path} does not exist; write the sample with 'perfmodel sample --out {folder}'")
    obs, units = read_inputs(fw, obs_path, folder / "units.csv")
    truth_units = pd.read_csv(folder / "truth_units.csv", dtype={"unit_id": str})
    rows = truth_units[(truth_units["framework"] == fw.id) & (truth_units["node"] == "overall")]
    truth = rows.set_index("unit_id")["true_latent"].astype(float)
    seed = seed_from(rng)
    return World(fw, period, units.data, obs.data, truth, _manipulators(truth, manipulators, seed), seed)


def manipulate(
    framework: Framework, observations: pd.DataFrame, units: Sequence[str], *, gap: float = 0.3
) -> pd.DataFrame:
    """Observations in which ``units`` report their self-reported figures better than they are.

    For every indicator whose source is in :data:`MANIPULABLE_SOURCES` and whose
    kind is a rate, count or duration, each month's value moves ``gap`` of the way
    towards its best value (the end of its ``range``; for a rate with counts the
    numerator is raised and the value recomputed); an indicator with a hard
    threshold then has its values just short of the threshold heaped just past it
    (:func:`perfmodel.design.simulate_gaming.plant_threshold_gaming`, the "hole
    and heap" of threshold gaming).
    """
    from perfmodel.design.simulate_gaming import plant_threshold_gaming

    out = observations.copy()
    for column in ("value", "numerator", "denominator"):
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    who = out["unit_id"].astype(str).isin(set(map(str, units)))
    for ind in framework.indicators():
        if ind.source not in MANIPULABLE_SOURCES or ind.kind not in ("rate", "count", "duration"):
            continue
        rows = who & out["indicator"].astype(str).eq(ind.id)
        if not rows.any():
            continue
        value = out.loc[rows, "value"]
        low, high = ind.range if ind.range is not None else (0.0, 1.0 if ind.kind == "rate" else float(value.max()))
        best = high if ind.direction == "higher" else low
        if ind.kind == "rate" and "denominator" in out.columns and out.loc[rows, "denominator"].notna().all():
            den = out.loc[rows, "denominator"]
            num = np.minimum(np.ceil(out.loc[rows, "numerator"] + gap * (den - out.loc[rows, "numerator"])), den)
            out.loc[rows, "numerator"] = num
            out.loc[rows, "value"] = np.where(den > 0, num / den.where(den > 0, 1), value)
        else:
            out.loc[rows, "value"] = value + gap * (best - value)
        threshold = ind.threshold
        if threshold is not None and threshold.min is not None:
            out = plant_threshold_gaming(
                out, units, threshold.min, window=gap * (high - low) / 2, share=1.0, rng=0, indicator=ind.id
            )
        elif threshold is not None and threshold.max is not None:
            out = plant_threshold_gaming(
                out, units, threshold.max, window=gap * (high - low) / 2, share=1.0, rng=0, indicator=ind.id, side="max"
            )
    out.attrs.pop("planted", None)
    return out


# ============================================================================ designs
@dataclass(frozen=True)
class Design:
    """One point of the design space.

    Attributes
    ----------
    factors
        Node id → weight factor (multiplies the stated weight before rescaling
        within its siblings).
    dropped
        Indicators left out.
    normalisation, aggregation
        Methods (:class:`~perfmodel.framework.Normalisation`, :class:`~perfmodel.framework.Aggregation`).
    peer_group
        Units-table column of the peer groups (grades and ranks within), or ``"none"``.
    within
        Whether indicators are also normalised within the peer group.
    calibration
        Evaluation setting ``none``, ``casemix`` or ``full``.
    thresholds
        ``keep`` the framework's hard-threshold consequences or ``flag`` breaches only.
    points
        A :data:`POINTS_SCHEMES` entry.
    """

    factors: Mapping[str, float] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    normalisation: str = "goalposts"
    aggregation: str = "arithmetic"
    peer_group: str = "none"
    within: bool = False
    calibration: str = "none"
    thresholds: str = "keep"
    points: str = "flat"

    @classmethod
    def of(cls, framework: Framework) -> Design:
        """The framework's own design (factors 1, nothing dropped)."""
        return cls(
            normalisation=framework.normalisation.method,
            aggregation=framework.aggregation.method,
            peer_group=framework.grading.within or framework.peer_group or "none",
            within=framework.normalisation.within is not None,
        )

    def describe(self) -> str:
        """Short one-line description (ids and method names)."""
        parts = [self.normalisation, self.aggregation, f"peer={self.peer_group}{'+norm' if self.within else ''}"]
        parts += [f"calibration={self.calibration}", f"thresholds={self.thresholds}", f"points={self.points}"]
        if self.dropped:
            parts.append("without " + ",".join(self.dropped))
        return "; ".join(parts)


@dataclass(frozen=True)
class DesignSpace:
    """The framework family: a base framework and the variations allowed.

    Attributes
    ----------
    framework
        The base framework.
    normalisations, aggregations, peer_groups, calibrations, thresholds, points
        Options of each discrete choice (``peer_groups``: units-table columns or ``"none"``).
    within
        Options of normalising within the peer group.
    factor_range
        Smallest and largest weight factor (log-uniform).
    drop
        Whether indicators may be left out (each dimension keeps at least one).
    """

    framework: Framework
    normalisations: tuple[str, ...] = ("goalposts", "minmax", "rank")
    aggregations: tuple[str, ...] = ("arithmetic", "geometric")
    peer_groups: tuple[str, ...] = ("station_class", "none")
    within: tuple[bool, ...] = (False, True)
    calibrations: tuple[str, ...] = ("none", "casemix")
    thresholds: tuple[str, ...] = ("keep", "flag")
    points: tuple[str, ...] = POINTS_SCHEMES
    factor_range: tuple[float, float] = (0.25, 4.0)
    drop: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (
            ("normalisations", ("goalposts", "minmax", "zscore", "rank", "target")),
            ("aggregations", ("arithmetic", "geometric")),
            ("calibrations", ("none", "casemix", "full")),
            ("thresholds", ("keep", "flag")),
            ("points", POINTS_SCHEMES),
        ):
            values = getattr(self, name)
            if not values:
                raise OptionError(f"{name}: give at least one option")
            for value in values:
                check_choice(name, value, allowed)
        lo, hi = self.factor_range
        if not 0 < lo <= 1 <= hi:
            raise OptionError(f"factor_range={self.factor_range}: need 0 < low <= 1 <= high")

    @classmethod
    def of(cls, framework: Framework | str, **changes: Any) -> DesignSpace:
        """The default family of ``framework``: its own methods among the options."""
        fw = framework if isinstance(framework, Framework) else load_framework(framework)
        base = Design.of(fw)
        space = cls(fw, **changes)
        extra: dict[str, Any] = {}
        for name, value in (
            ("normalisations", base.normalisation),
            ("aggregations", base.aggregation),
            ("peer_groups", base.peer_group),
        ):
            options = getattr(space, name)
            if value not in options:
                extra[name] = (value, *options)
        if all(i.goalposts is None for i in fw.indicators()) and "goalposts" in space.normalisations:
            extra["normalisations"] = tuple(
                n for n in extra.get("normalisations", space.normalisations) if n != "goalposts"
            )
        return replace(space, **extra) if extra else space

    def sample(self, trial: Any) -> Design:
        """The design an Optuna trial proposes."""
        lo, hi = self.factor_range
        factors: dict[str, float] = {}
        dropped: list[str] = []
        for info in self.framework.walk():
            if info.parent is None and len(self.framework.tree) == 1:
                continue
            factors[info.id] = float(trial.suggest_float(f"w:{info.id}", lo, hi, log=True)) if hi > lo else 1.0
        if self.drop:
            for dim in _parents(self.framework):
                leaves = [c.id for c in dim.children if isinstance(c, Indicator)]
                if len(leaves) < 2:
                    continue
                out = [leaf for leaf in leaves if trial.suggest_categorical(f"drop:{leaf}", [False, True])]
                dropped += out if len(out) < len(dim.children) else out[1:]
        return Design(
            factors=factors,
            dropped=tuple(dropped),
            normalisation=trial.suggest_categorical("normalisation", list(self.normalisations)),
            aggregation=trial.suggest_categorical("aggregation", list(self.aggregations)),
            peer_group=trial.suggest_categorical("peer_group", list(self.peer_groups)),
            within=trial.suggest_categorical("within", list(self.within)),
            calibration=trial.suggest_categorical("calibration", list(self.calibrations)),
            thresholds=trial.suggest_categorical("thresholds", list(self.thresholds)),
            points=trial.suggest_categorical("points", list(self.points)),
        )

    def neighbours(self, design: Design) -> list[Design]:
        """``design`` with one discrete choice changed, for every other option of every choice."""
        out = []
        choices: tuple[tuple[str, tuple[Any, ...]], ...] = (
            ("normalisation", self.normalisations),
            ("aggregation", self.aggregations),
            ("peer_group", self.peer_groups),
            ("within", self.within),
            ("calibration", self.calibrations),
            ("thresholds", self.thresholds),
            ("points", self.points),
        )
        for name, options in choices:
            out += [replace(design, **{name: option}) for option in options if option != getattr(design, name)]
        return out

    def params(self, design: Design) -> dict[str, Any]:
        """Optuna parameters of ``design`` (to enqueue it as a trial)."""
        out: dict[str, Any] = {f"w:{k}": v for k, v in design.factors.items()}
        for info in self.framework.walk():
            out.setdefault(f"w:{info.id}", 1.0)
        for dim in _parents(self.framework):
            for leaf in (c.id for c in dim.children if isinstance(c, Indicator)):
                out[f"drop:{leaf}"] = leaf in design.dropped
        out.update(
            normalisation=design.normalisation,
            aggregation=design.aggregation,
            peer_group=design.peer_group,
            within=design.within,
            calibration=design.calibration,
            thresholds=design.thresholds,
            points=design.points,
        )
        return out


def _parents(fw: Framework) -> list[Dimension]:
    return [info.node for info in fw.walk() if isinstance(info.node, Dimension)]


def _rebuild(nodes: list[dict[str, Any]], design: Design) -> list[dict[str, Any]]:
    kept = []
    for node in nodes:
        if node["id"] in design.dropped:
            continue
        node = dict(node)
        node["weight"] = float(node["weight"]) * float(design.factors.get(node["id"], 1.0))
        if "children" in node:
            node["children"] = _rebuild(node["children"], design)
        if design.thresholds == "flag" and "threshold" in node:
            node["threshold"] = {k: v for k, v in node["threshold"].items() if k in ("min", "max")}
            node["threshold"]["consequence"] = "flag"
        kept.append(node)
    total = sum(n["weight"] for n in kept)
    for n in kept:
        n["weight"] = round(n["weight"] / total, 4) if total > 0 else round(1 / len(kept), 4)
    if kept:  # weights add up to 1 exactly after rounding
        kept[-1]["weight"] = round(1 - sum(n["weight"] for n in kept[:-1]), 4)
    return kept


def build_framework(framework: Framework, design: Design, *, id: str | None = None) -> Framework:
    """The framework ``design`` makes of ``framework``, validated like a YAML file.

    Raises
    ------
    perfmodel.framework.FrameworkError
        When the design breaks a rule of the framework validator, policy limits
        (temporary ≤ ``max_temporary_weight``, subjective ≤ ``max_subjective_weight``) included.
    """
    raw = framework.model_dump(mode="json", exclude_none=True)
    raw["tree"] = _rebuild(raw["tree"], design)
    raw["id"] = id or framework.id
    raw["normalisation"] = {**raw["normalisation"], "method": design.normalisation}
    group = None if design.peer_group == "none" else design.peer_group
    raw["normalisation"].pop("within", None)
    if design.within and group is not None:
        raw["normalisation"]["within"] = group
    raw["aggregation"] = {**raw["aggregation"], "method": design.aggregation}
    raw.pop("peer_group", None)
    raw["grading"] = {k: v for k, v in raw["grading"].items() if k != "within"}
    if group is not None:
        raw["peer_group"] = group
        raw["grading"]["within"] = group
    return framework_from_dict(raw, source=f"design of {framework.id}")


def framework_yaml(framework: Framework, design: Design | None = None) -> str:
    """A YAML file of ``framework`` that :func:`perfmodel.framework.load_framework` reads back."""
    import yaml

    raw = framework.model_dump(mode="json", exclude_none=True)
    head = ""
    if design is not None:
        head = (
            f"# {framework.id}: designed by perfmodel lab optimise\n"
            f"# evaluate with calibration={design.calibration}; case work credited {design.points}\n"
        )
    return head + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=100)


# ============================================================================ case work
def _credit(table: CaseTable, scheme: str) -> np.ndarray:
    if scheme == "difficulty":
        return np.asarray(table.hours / table.clearance, dtype=float)
    if scheme == "harm":
        return np.asarray(table.harm, dtype=float)
    return np.ones(len(table.types))


def casework_design(framework: Framework, design: Design | None = None, *, name: str = "design") -> ScoringDesign:
    """The design as officers see it in the agent-based simulation of case choice.

    Each indicator becomes a function of an officer's case work (running totals
    per case type) according to its kind and source, with the credit per case of
    ``design.points`` (:data:`POINTS_SCHEMES`):

    - citizen rates and scores: satisfied ÷ handled cases;
    - other rates: credited cleared cases ÷ credited handled cases (``flat``: the
      plain clearance rate, which rewards picking easy cases);
    - durations: handled ÷ arrived cases (finishing more cases shortens them);
    - counts and points: credited cleared cases (direction ``lower``: no term);
    - ratings by supervisors, peers or self: no case-work term.

    Each term is divided by its value for an average officer who handles cases in
    proportion to their arrival, and the terms are combined with the framework's
    effective weights, arithmetically or geometrically as the design aggregates.
    """
    from perfmodel.design.simulate_gaming import (
        DEFAULT_CASE_TYPES,
        SATISFIED_IF_CLEARED,
        SATISFIED_IF_NOT,
        CaseTable,
        ScoringDesign,
    )

    design = design or Design.of(framework)
    weights = framework.effective_weights()
    table = CaseTable(DEFAULT_CASE_TYPES)
    credit = _credit(table, design.points)
    crime = np.asarray(table.crime, dtype=bool)

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(np.asarray(a, dtype=float)), where=b > 0)

    terms: list[tuple[float, Any]] = []
    for ind in framework.indicators():
        w = float(weights.get(ind.id, 0.0))
        if w <= 0 or ind.source in ("supervisor", "peer", "self"):
            continue
        if ind.source == "citizen":
            terms.append((w, lambda s: ratio(s["satisfied"].sum(-1), s["handled"].sum(-1))))
        elif ind.kind == "rate":
            terms.append(
                (w, lambda s: ratio((s["cleared"] * credit * crime).sum(-1), (s["handled"] * credit * crime).sum(-1)))
            )
        elif ind.kind == "duration":
            terms.append((w, lambda s: ratio(s["handled"].sum(-1), s["arrived"].sum(-1))))
        elif ind.kind in ("count", "points") and ind.direction == "higher":
            terms.append((w, lambda s: (s["cleared"] * credit).sum(-1)))
    hours = 140.0
    demand = table.arrivals * table.hours
    handled = table.arrivals * min(1.0, hours / float(demand.sum()))
    reference = {
        "handled": handled,
        "cleared": handled * table.clearance,
        "satisfied": handled * (SATISFIED_IF_NOT + (SATISFIED_IF_CLEARED - SATISFIED_IF_NOT) * table.clearance),
        "arrived": np.asarray(table.arrivals, dtype=float),
    }
    scales = [float(f(reference)) or 1.0 for _, f in terms]
    total = sum(w for w, _ in terms) or 1.0
    geometric = design.aggregation == "geometric"

    def score(state: Mapping[str, np.ndarray], _table: CaseTable) -> np.ndarray:
        shape = np.asarray(state["handled"]).shape[:-1]
        if not terms:
            return np.zeros(shape)
        parts = [w / total * f(state) / scale for (w, f), scale in zip(terms, scales, strict=True)]
        if geometric:
            logs = [
                w / total * np.log(np.maximum(f(state) / scale, 0.01))
                for (w, f), scale in zip(terms, scales, strict=True)
            ]
            return np.exp(sum(logs))
        return sum(parts) * np.ones(shape)

    return ScoringDesign(name, name, name, score, design.describe())


# ============================================================================ evaluation of one design
def _percentile(scores: pd.Series) -> pd.Series:
    return 100 * (scores.rank(method="average") - 1) / max(len(scores) - 1, 1)


def _evaluate(framework: Framework, observations: pd.DataFrame, world: World, design: Design) -> Evaluation:
    from perfmodel.evaluation import evaluate

    return evaluate(
        framework, observations, world.units, world.period, calibration=design.calibration, compare_previous=False
    )


def evaluate_design(
    world: World,
    design: Design,
    *,
    framework: Framework | None = None,
    draws: int = 40,
    officers: int = 60,
    months: int = 8,
    manipulated: pd.DataFrame | None = None,
) -> dict[str, float]:
    """The objectives (:data:`OBJECTIVES`) of ``design`` on ``world``.

    ``draws`` replicates of ±25 % weights measure rank instability; ``officers``
    and ``months`` size the agent-based simulation; ``manipulated`` is
    :func:`manipulate` of the world's observations (computed when not given).
    Randomness comes from ``world.seed`` only, so the same design on the same
    world gives the same numbers.
    """
    from perfmodel.calibrate.difficulty import r2_on_context
    from perfmodel.design.sensitivity import UncertaintySpec, uncertainty
    from perfmodel.design.simulate_gaming import simulate_gaming

    fw = framework if framework is not None else build_framework(world.framework, design)
    ev = _evaluate(fw, world.observations, world, design)
    scores = ev.scores.set_index("unit_id")["score"].astype(float).dropna()
    truth = world.truth.reindex(scores.index)
    both = pd.concat({"s": scores, "t": truth}, axis=1).dropna()
    rho = float(both["s"].rank().corr(both["t"].rank())) if len(both) > 2 else float("nan")
    present = [c for c in CONTEXT if c in world.units.columns or c in ("log_workload", "log_population")]
    r2 = r2_on_context(scores, world.units, present, minimum=False)["r2"]

    if manipulated is None:
        manipulated = manipulate(world.framework, world.observations, world.manipulators)
    gamed = _evaluate(fw, manipulated, world, design)
    after = gamed.scores.set_index("unit_id")["score"].astype(float).dropna()
    common = scores.index.intersection(after.index)
    rise = _percentile(after.reindex(common)) - _percentile(scores.reindex(common))
    movers = [u for u in world.manipulators if u in common]
    gain = float(rise.reindex(movers).mean()) if movers else 0.0

    runs = uncertainty(
        ev, UncertaintySpec(weights="uniform", weight_range=0.25), draws=draws, rng=world.seed, progress=False
    )
    stated = _percentile(pd.Series(runs.stated["score"].to_numpy(float)))
    shifts = [
        float(np.nanmean(np.abs(_percentile(pd.Series(row)).to_numpy() - stated.to_numpy()))) for row in runs.scores
    ]
    instability = float(np.mean(shifts))

    sim = simulate_gaming(
        {"design": casework_design(fw, design)}, n_officers=officers, n_months=months, burn_in=2, rng=world.seed
    )
    return {
        "truth": rho,
        "context_r2": float(r2),
        "easy_effort": float(sim.summary["easy_effort"].iloc[0]),
        "manipulation_gain": gain,
        "rank_instability": instability,
        "n_indicators": float(len(fw.indicators())),
    }


# ============================================================================ Pareto front
def pareto_front(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean mask of the rows of ``values`` that no other row dominates.

    Row *a* dominates row *b* when it is at least as good on every objective and
    better on one (``directions``: ``maximize`` or ``minimize`` per column). Rows
    with a missing value are never on the front.
    """
    v = np.asarray(values, dtype=float).copy()
    for j, d in enumerate(directions):
        check_choice("direction", d, ("maximize", "minimize"))
        if d == "maximize":
            v[:, j] = -v[:, j]
    ok = np.isfinite(v).all(axis=1)
    front = ok.copy()
    for i in np.flatnonzero(ok):
        others = v[ok]
        dominated = np.any(np.all(others <= v[i], axis=1) & np.any(others < v[i], axis=1))
        front[i] = not dominated
    return front


# ============================================================================ result
class OptimisationResult:
    """Every design evaluated, the Pareto front, the recommended design and its YAML.

    Attributes
    ----------
    trials
        One row per evaluated design: ``trial``, the objectives, ``feasible``
        (passes the framework validator and its policy limits), ``on_front``,
        ``is_base`` and ``design`` (its description).
    designs
        Trial number → :class:`Design`.
    space, world
        What was searched and on what.
    seconds
        Time the search took.
    """

    def __init__(
        self, space: DesignSpace, world: World, trials: pd.DataFrame, designs: dict[int, Design], seconds: float
    ) -> None:
        self.space = space
        self.world = world
        self.designs = designs
        self.seconds = seconds
        names = list(OBJECTIVES)
        trials = trials.copy()
        trials["on_front"] = False
        feasible = trials["feasible"].to_numpy(bool)
        if feasible.any():
            mask = pareto_front(trials.loc[feasible, names].to_numpy(float), list(OBJECTIVES.values()))
            trials.loc[trials.index[feasible][mask], "on_front"] = True
        self.trials = trials

    @property
    def front(self) -> pd.DataFrame:
        """The Pareto front: feasible designs no other evaluated feasible design dominates."""
        return self.trials[self.trials["on_front"]].reset_index(drop=True)

    @property
    def base(self) -> pd.Series:
        """The base framework's own design's row."""
        return self.trials[self.trials["is_base"]].iloc[0]

    def recommended_trial(self) -> int:
        """Trial number of the recommended design.

        Among the front, the designs that beat the base on truth recovery and are
        at least as good on effort on easy cases and manipulation gain (better on
        one of them) come first; failing those, designs at least as good on all
        three and better on one; failing those, the whole front. Within that
        pool, the one with the largest mean of its objectives scaled to 0–1 over
        the front (1 = best on the front).
        """
        front = self.front
        base = self.base
        names = list(OBJECTIVES)
        scaled = pd.DataFrame(index=front.index)
        for name, direction in OBJECTIVES.items():
            col = front[name].astype(float)
            span = col.max() - col.min()
            good = (col - col.min()) / span if span > 0 else pd.Series(1.0, index=col.index)
            scaled[name] = good if direction == "maximize" else 1 - good
        balance = scaled[names].mean(axis=1)
        truth_up, truth_kept = front["truth"] > base["truth"], front["truth"] >= base["truth"]
        gaming_kept = (front["easy_effort"] <= base["easy_effort"]) & (
            front["manipulation_gain"] <= base["manipulation_gain"]
        )
        gaming_up = gaming_kept & (
            (front["easy_effort"] < base["easy_effort"]) | (front["manipulation_gain"] < base["manipulation_gain"])
        )
        pool = balance
        for tier in (truth_up & gaming_up, truth_up & gaming_kept | truth_kept & gaming_up):
            if (tier & ~front["is_base"]).any():
                pool = balance[tier & ~front["is_base"]]
                break
        return int(front.loc[pool.idxmax(), "trial"])

    @property
    def recommended(self) -> Design:
        """The recommended :class:`Design`."""
        return self.designs[self.recommended_trial()]

    def recommended_framework(self, id: str | None = None) -> Framework:
        """The recommended design as a validated framework (id ``<base>_optimised``)."""
        return build_framework(self.world.framework, self.recommended, id=id or f"{self.world.framework.id}_optimised")

    def yaml(self) -> str:
        """The recommended framework as YAML, ready for :func:`perfmodel.framework.load_framework`."""
        return framework_yaml(self.recommended_framework(), self.recommended)

    def comparison(self) -> pd.DataFrame:
        """Base and recommended design side by side: one row per objective."""
        rec = self.trials.set_index("trial").loc[self.recommended_trial()]
        base = self.base
        rows = []
        for name, direction in OBJECTIVES.items():
            b, r = float(base[name]), float(rec[name])
            better = r > b if direction == "maximize" else r < b
            rows.append({"objective": name, "direction": direction, "base": b, "recommended": r, "better": better})
        return pd.DataFrame(rows)

    def trade_offs(self, lang: str = "zh") -> list[str]:
        """The recommended design against the base, one sentence per objective, and its choices."""
        lang = check_lang(lang)
        out = []
        for row in self.comparison().itertuples():
            if math.isclose(row.base, row.recommended, abs_tol=1e-9):
                verdict = "same"
            else:
                verdict = "better" if row.better else "worse"
            out.append(
                say(
                    f"design.optimise.trade_off.{verdict}",
                    lang,
                    objective=say(f"design.optimise.objective.{row.objective}", lang),
                    base=row.base,
                    recommended=row.recommended,
                )
            )
        rec = self.recommended
        out.append(
            say(
                "design.optimise.choices",
                lang,
                normalisation=rec.normalisation,
                aggregation=rec.aggregation,
                peer_group=rec.peer_group,
                calibration=rec.calibration,
                thresholds=say(f"design.optimise.thresholds.{rec.thresholds}", lang),
                points=say(f"design.optimise.points.{rec.points}", lang),
                dropped=", ".join(rec.dropped) or "—",
            )
        )
        return out

    def summary(self, lang: str = "zh") -> str:
        """Readable text: the search, the front and the recommended design's trade-offs."""
        lang = check_lang(lang)
        head = say(
            "design.optimise.summary",
            lang,
            framework=self.world.framework.id,
            trials=len(self.trials),
            feasible=int(self.trials["feasible"].sum()),
            front=len(self.front),
            seconds=self.seconds,
        )
        return "\n".join([head, *(f"- {line}" for line in self.trade_offs(lang))])

    def to_frame(self) -> pd.DataFrame:
        """Every evaluated design (:attr:`trials`)."""
        return self.trials.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """``trials``, ``front`` and ``comparison`` (base vs recommended)."""
        return {"trials": self.to_frame(), "front": self.front, "comparison": self.comparison()}


# ============================================================================ the search
def optimise(
    space: DesignSpace,
    world: World,
    *,
    trials: int = 60,
    timeout: float | None = None,
    rng: RngLike = None,
    population: int | None = None,
    draws: int = 40,
    neighbours: bool = True,
) -> OptimisationResult:
    """Search ``space`` on ``world`` with Optuna's NSGA-II sampler; see the module notes.

    Parameters
    ----------
    space
        The framework family (:class:`DesignSpace`).
    world
        Units, observations and truth (:func:`simulated_world`, :func:`sample_world`).
    trials
        Designs evaluated at most (the base design is the first).
    timeout
        Seconds after which no new design is started (the running one finishes).
        With a timeout the number of designs depends on the machine; the designs
        evaluated are the same first ones for the same seed.
    rng
        Seed of the sampler (an int gives the same trials on every run; Optuna runs
        with one worker).
    population
        NSGA-II population size (default ``min(20, trials // 2)``, at least 4).
    draws
        Weight replicates for rank instability.
    neighbours
        Start with the current design's one-change neighbours (:meth:`DesignSpace.neighbours`)
        after the current design itself, so that the search sees what each
        choice alone does before NSGA-II recombines them.

    Returns
    -------
    OptimisationResult
    """
    import optuna

    if trials < 1:
        raise OptionError(f"trials={trials}: evaluate at least one design")
    if timeout is not None and timeout <= 0:
        raise OptionError(f"timeout={timeout}: give a positive number of seconds")
    if world.framework.id != space.framework.id:
        raise OptimiserError(f"the world follows {world.framework.id!r} but the space is of {space.framework.id!r}")
    seed = seed_from(rng)
    names = list(OBJECTIVES)
    designs: dict[int, Design] = {}
    rows: list[dict[str, Any]] = []

    manipulated = manipulate(world.framework, world.observations, world.manipulators)

    def objective(trial: Any) -> list[float]:
        design = space.sample(trial)
        designs[trial.number] = design
        row: dict[str, Any] = {"trial": trial.number, "design": design.describe(), "is_base": trial.number == 0}
        try:
            fw = build_framework(space.framework, design)
            values = evaluate_design(world, design, framework=fw, draws=draws, manipulated=manipulated)
            feasible = all(np.isfinite(v) for v in values.values())
        except PerfmodelError as exc:
            values = {n: float("nan") for n in names}
            row["problem"] = str(exc).splitlines()[0][:200]
            feasible = False
        row.update(values, feasible=feasible)
        rows.append(row)
        trial.set_constraint("policy", 0.0 if feasible else 1.0)  # > 0: infeasible (NSGA-II ranks it last)
        worst = {"maximize": -1e9, "minimize": 1e9}
        return [values[n] if feasible else worst[d] for n, d in OBJECTIVES.items()]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    size = population or max(4, min(20, trials // 2))
    sampler = optuna.samplers.NSGAIISampler(population_size=size, seed=seed)
    study = optuna.create_study(directions=list(OBJECTIVES.values()), sampler=sampler)
    base = Design.of(space.framework)
    opening = [base, *(space.neighbours(base) if neighbours else [])][:trials]
    for design in opening:
        study.enqueue_trial(space.params(design))
    start = time.perf_counter()
    study.optimize(objective, n_trials=len(opening), timeout=timeout, n_jobs=1, gc_after_trial=False)
    left = None if timeout is None else timeout - (time.perf_counter() - start)
    if len(rows) < trials and (left is None or left > 0):
        combined = _combined_changes(base, designs, rows)
        if combined is not None:
            study.enqueue_trial(space.params(combined))
        study.optimize(objective, n_trials=trials - len(rows), timeout=left, n_jobs=1, gc_after_trial=False)
    table = pd.DataFrame(rows)
    if "problem" not in table.columns:
        table["problem"] = ""
    table["problem"] = table["problem"].fillna("")
    return OptimisationResult(space, world, table, designs, time.perf_counter() - start)


def _combined_changes(base: Design, designs: Mapping[int, Design], rows: Sequence[Mapping[str, Any]]) -> Design | None:
    """The current design with every one-change improvement that keeps truth recovery, combined.

    A neighbour's change is kept when the neighbour is better than the current
    design on some objective, not worse on truth recovery, and not dominated by
    it; of several kept options of one choice, the one with the best truth
    recovery, then the smaller manipulation gain, then the less easy-case effort.
    ``None`` when fewer than two changes are kept (the neighbours already hold it).
    """
    by_trial = {int(r["trial"]): r for r in rows if r.get("feasible")}
    if 0 not in by_trial:
        return None
    names = list(OBJECTIVES)
    sign = np.array([1.0 if d == "maximize" else -1.0 for d in OBJECTIVES.values()])
    reference = np.array([by_trial[0][n] for n in names], dtype=float) * sign
    best: dict[str, tuple[tuple[float, float, float], Any]] = {}
    for number, row in by_trial.items():
        changed = [
            k
            for k in ("normalisation", "aggregation", "peer_group", "within", "calibration", "thresholds", "points")
            if getattr(designs[number], k) != getattr(base, k)
        ]
        if (
            number == 0
            or len(changed) != 1
            or designs[number].dropped
            or any(f != 1 for f in designs[number].factors.values())
        ):
            continue
        values = np.array([row[n] for n in names], dtype=float) * sign
        better, worse_truth = bool(np.any(values > reference)), values[0] < reference[0]
        dominated = bool(np.all(reference >= values) and np.any(reference > values))
        if not better or worse_truth or dominated:
            continue
        key = (-row["truth"], row["manipulation_gain"], row["easy_effort"])
        name = changed[0]
        if name not in best or key < best[name][0]:
            best[name] = (key, getattr(designs[number], name))
    if len(best) < 2:
        return None
    return replace(base, **{name: option for name, (_, option) in best.items()})


# ============================================================================ figure
def figure_front(
    result: OptimisationResult,
    x: str = "manipulation_gain",
    y: str = "truth",
    *,
    ax: Axes | None = None,
    lang: str = "zh",
) -> Axes:
    """Evaluated designs on two objectives, the Pareto front, the base and the recommended design."""
    from perfmodel.report.style import report_axes

    lang = check_lang(lang)
    for name in (x, y):
        check_choice("objective", name, tuple(OBJECTIVES))
    ax = report_axes(ax, figsize=(6.4, 4.4))
    t = result.trials[result.trials["feasible"]]
    label = lambda key: say(f"design.optimise.figure.{key}", lang)  # noqa: E731
    ax.scatter(t[x], t[y], s=14, color="#bbbbbb", label=label("evaluated"))
    front = t[t["on_front"]]
    ax.scatter(front[x], front[y], s=26, color="#1f77b4", label=label("front"))
    base = result.base
    ax.scatter([base[x]], [base[y]], s=90, marker="s", color="#d62728", label=label("base"))
    rec = t.set_index("trial").loc[result.recommended_trial()]
    ax.scatter([rec[x]], [rec[y]], s=140, marker="*", color="#2ca02c", label=label("recommended"))
    ax.set_xlabel(say(f"design.optimise.objective.{x}", lang))
    ax.set_ylabel(say(f"design.optimise.objective.{y}", lang))
    ax.set_title(say("design.optimise.figure.title", lang, framework=result.world.framework.name.in_lang(lang)))
    ax.legend(loc="best", fontsize="small")
    return ax
