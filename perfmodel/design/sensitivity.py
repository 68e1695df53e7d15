"""Uncertainty and sensitivity analysis of an evaluation (Saisana, Saltelli & Tarantola 2005).

An evaluation rests on choices that could reasonably have been made otherwise:
the weights, the normalisation, the aggregation, the imputation, outlier
treatment, calibration, and which indicators are in the system at all. This
module re-scores the units under many combinations of those choices and reports

* per unit, the median rank with its 5–95 % interval and the probability of each
  grade (:func:`uncertainty`, :meth:`UncertaintyResult.by_unit`);
* which choice moves the ranking most: first-order and total Sobol' indices
  ``S_i`` and ``S_Ti`` with bootstrap confidence intervals (:func:`sobol`), from
  the Saltelli (2010) design with the Saltelli (2010) first-order and Jansen
  (1999) total-effect estimators.

How it is computed
------------------
Every uncertain input is driven by columns of a matrix ``U`` of numbers in
[0, 1) (one row per replicate). Weight columns perturb the weights of each
sibling set of the tree (uniformly by ±x % or from a Dirichlet distribution
centred on the stated weights); a discrete choice takes one column, cut into as
many equal parts as it has options. The resolved parameters of every replicate
are kept in :attr:`UncertaintyResult.parameters`, so any replicate can be re-run
exactly through the ordinary pipeline with :meth:`UncertaintyResult.replicate`.

Discrete pipeline choices (normalisation, imputation, …) are few: each
combination is evaluated once with :meth:`~perfmodel.evaluation.Evaluation.regen`
and its normalised indicator matrix and scoring rules reused. Weights and
aggregation are then applied to all replicates of that combination at once by
the array functions of :mod:`perfmodel.aggregate` (with complete data the
composite of every replicate is one matrix product ``E @ X`` of the
(replicates × indicators) effective weights and the (indicators × units)
normalised values; with missing values each inner node is aggregated level by
level, as for the evaluation itself). Difficulty coefficients, bonus points,
deductions, peer-group ranks, grades (quota ties and their tie-break chain
included) and grade caps are applied by :func:`perfmodel.scoring.score_draws`,
the engine :class:`~perfmodel.evaluation.Evaluation` runs with its one draw:
this module holds no copy of any scoring rule. There is no Python loop over
replicates.

Output used for the sensitivity indices
---------------------------------------
``mean_abs_rank_shift``: for each replicate, the mean over units of
``|rank_replicate − rank_stated|`` where ranks are the official ones (within peer
group, 1 = best) and ``rank_stated`` is the rank in the evaluation analysed;
units without a score in either are left out. This is the summary statistic of
the JRC/OECD audits of composite indicators. :attr:`SobolResult.by_unit` also
gives the indices with each unit's own rank as the output.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import special
from scipy.stats import qmc

from perfmodel.aggregate import TreeIndex, aggregate_draws, effective_weights_array
from perfmodel.errors import PerfmodelError, renamed_keywords
from perfmodel.evaluation import Evaluation, EvaluationError, Settings
from perfmodel.grading import GRADE_CODES
from perfmodel.groups import group_order
from perfmodel.normalise import NORMALISERS
from perfmodel.randomness import RngLike, as_generator
from perfmodel.scoring import ScoringRules, score_draws, tree_tie_keys
from perfmodel.text import check_lang

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CHOICE_VALUES",
    "GRADE_LABELS",
    "FLAG_VALUES",
    "PENDING_CHOICES",
    "choice_available",
    "default_choices",
    "SensitivityError",
    "UncertaintySpec",
    "UncertaintyResult",
    "SobolResult",
    "uncertainty",
    "scenarios",
    "sobol",
    "sobol_analysis",
    "saltelli_design",
    "sobol_estimates",
    "aggregate_draws",
    "FACTOR_NAMES",
    "factor_label",
    "figure_rank_intervals",
    "figure_sobol",
]

GRADE_LABELS: tuple[str, ...] = GRADE_CODES
"""Grade codes 0–4 used in :attr:`UncertaintyResult.grades` (:data:`perfmodel.grading.GRADE_CODES`)."""

CHOICE_VALUES: dict[str, tuple[Any, ...]] = {
    "normalisation": ("minmax", "zscore", "rank"),
    "aggregation": ("arithmetic", "geometric"),
    "imputation": ("none", "group_mean"),
    "winsorise": (False, True),
    "grading": ("cutoffs", "quota"),
    "calibration": ("none", "full"),
}
"""Default options of each discrete choice (used when a choice is given as ``None``).

Extend this mapping, or pass explicit options, to vary other settings: any field
of :class:`~perfmodel.evaluation.Settings` can be a choice.
"""

ALLOWED_VALUES: dict[str, tuple[Any, ...]] = {
    "normalisation": tuple(NORMALISERS),
    "aggregation": ("arithmetic", "geometric"),
    "imputation": ("none", "group_mean", "carry_forward"),
    "winsorise": (False, True),
    "grading": ("cutoffs", "quota"),
    "calibration": ("none", "casemix", "full"),
}

_NOT_CHOICES = {"weights", "compare_previous"}
_SETTINGS_FIELDS = {f.name for f in fields(Settings)}

FLAG_VALUES: dict[str, dict[bool, Any]] = {"calibration": {False: "none", True: "full"}}
"""Choices that may also be given as on/off flags, and the settings the flags stand for."""

PENDING_CHOICES: dict[str, str] = {"calibration": "perfmodel.calibrate.step"}
"""Choices accepted before the pipeline can use them: name → module that implements them.

A pending choice is sampled and recorded like any other, but while
:class:`~perfmodel.evaluation.Settings` has no field of that name, or the module
is not installed, it does not change the scores (its sensitivity indices are
then zero, and :attr:`UncertaintyResult.notes` says so). Once both exist the
choice is passed to :meth:`~perfmodel.evaluation.Evaluation.regen`
automatically. Add entries here for other settings under construction.
"""


def choice_available(name: str) -> bool:
    """Whether the pipeline can act on choice ``name`` (see :data:`PENDING_CHOICES`)."""
    if name not in _SETTINGS_FIELDS:
        return False
    module = PENDING_CHOICES.get(name)
    if module is None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class SensitivityError(PerfmodelError, ValueError):
    """An analysis that cannot be run as asked; the message says what to change."""


# ====================================================================== specification
@dataclass(frozen=True)
class UncertaintySpec:
    """What varies in an uncertainty analysis.

    Attributes
    ----------
    weights
        ``uniform``: each node weight is multiplied by a factor drawn uniformly
        from ``[1 − weight_range, 1 + weight_range]``, then the sibling set is
        rescaled to its stated total; ``dirichlet``: each sibling set is drawn
        from a Dirichlet distribution with parameters ``concentration × stated
        shares`` (mean = stated weights; larger concentration, less spread);
        ``none``: stated weights.
    weight_range
        Half-width of the uniform range as a fraction (0.25 = ±25 %).
    concentration
        Dirichlet concentration (sum of the Dirichlet parameters of a sibling set).
    weight_sets
        Parents whose children's weights vary (dimension ids and ``"(root)"`` for
        the top level); ``None`` for every sibling set.
    weight_factors
        For the sensitivity indices: ``joint`` treats all weights as one factor
        ``weights``; ``by_set`` gives each sibling set its own factor
        ``weights:<parent>``.
    choices
        Discrete choices: setting name → options (``None`` for the defaults in
        :data:`CHOICE_VALUES`). Names are fields of
        :class:`~perfmodel.evaluation.Settings` (``normalisation``,
        ``aggregation``, ``imputation``, ``winsorise``, ``grading``, …) or a
        pending choice such as ``calibration`` (:data:`PENDING_CHOICES`).
    drop
        ``True``: each replicate may leave out one indicator (or none), each
        option equally likely; a sequence of indicator ids restricts the
        candidates; ``False``: never.
    """

    weights: Literal["uniform", "dirichlet", "none"] = "uniform"
    weight_range: float = 0.25
    concentration: float = 50.0
    weight_sets: tuple[str, ...] | None = None
    weight_factors: Literal["joint", "by_set"] = "joint"
    choices: Mapping[str, Sequence[Any] | None] = field(default_factory=dict)
    drop: bool | Sequence[str] = False

    def __post_init__(self) -> None:
        if self.weights not in ("uniform", "dirichlet", "none"):
            raise SensitivityError(f"weights={self.weights!r}: use 'uniform', 'dirichlet' or 'none'")
        if not 0 <= self.weight_range < 1:
            raise SensitivityError(
                f"weight_range={self.weight_range}: give the half-width as a fraction in [0, 1), e.g. 0.25 for ±25 %"
            )
        if self.concentration <= 0:
            raise SensitivityError(f"concentration={self.concentration} must be positive")
        if self.weight_factors not in ("joint", "by_set"):
            raise SensitivityError("weight_factors must be 'joint' or 'by_set'")


@dataclass(frozen=True)
class _Factor:
    """One group of columns of ``U`` that the sensitivity indices treat as one input."""

    name: str
    columns: tuple[int, ...]


class _Sampler:
    """Turns rows of ``U`` (numbers in [0, 1)) into replicate parameters."""

    def __init__(self, ev: Evaluation, spec: UncertaintySpec, tree: TreeIndex) -> None:
        self.ev = ev
        self.spec = spec
        self.tree = tree
        self.stated = ev.stated_weights()
        self.choices = _resolve_choices(ev, spec.choices)
        self.drop_options = _drop_options(ev, spec.drop, self.stated)
        self.factors: list[_Factor] = []
        self.weight_columns: dict[str, tuple[int, ...]] = {}
        n = 0
        if spec.weights != "none":
            sets = spec.weight_sets if spec.weight_sets is not None else tree.parent_sets
            unknown = [s for s in sets if s not in tree.children]
            if unknown:
                raise SensitivityError(
                    f"weight_sets {unknown} are not inner nodes of framework {ev.framework.id!r}; "
                    f"use '(root)' or dimension ids: {', '.join(tree.parent_sets)}"
                )
            for parent in sets:
                k = len(tree.children[parent])
                self.weight_columns[parent] = tuple(range(n, n + k))
                n += k
            if spec.weight_factors == "joint":
                self.factors.append(_Factor("weights", tuple(range(n))))
            else:
                self.factors += [_Factor(f"weights:{p}", c) for p, c in self.weight_columns.items()]
        for name in self.choices:
            self.factors.append(_Factor(name, (n,)))
            n += 1
        if self.drop_options:
            self.factors.append(_Factor("drop", (n,)))
            n += 1
        self.n_columns = n

    @property
    def varies_weights(self) -> bool:
        return bool(self.weight_columns) or bool(self.drop_options)

    def parameters(self, U: np.ndarray, blocks: Sequence[str] | str = "MC") -> pd.DataFrame:
        """The replicate table for rows of ``U``."""
        U = np.asarray(U, dtype=float)
        if U.ndim != 2 or U.shape[1] != self.n_columns:
            raise SensitivityError(f"U must have {self.n_columns} columns, got shape {U.shape}")
        table = pd.DataFrame({"replicate": np.arange(len(U)), "block": blocks})
        for name, options in self.choices.items():
            column = self._column(name)
            table[name] = _pick(options, U[:, column])
        table["aggregation"] = table["aggregation"] if "aggregation" in self.choices else _base_aggregation(self.ev)
        if self.drop_options:
            table["drop"] = _pick([None, *self.drop_options], U[:, self._column("drop")])
        else:
            table["drop"] = None
        W = self._weights(U)
        for node, k in self.tree.column.items():
            table[f"w:{node}"] = W[:, k]
        return table

    def _column(self, name: str) -> int:
        return next(f.columns[0] for f in self.factors if f.name == name)

    def _weights(self, U: np.ndarray) -> np.ndarray:
        W = np.tile([self.stated[n] for n in self.tree.nodes], (len(U), 1))
        for parent, cols in self.weight_columns.items():
            kids = [self.tree.column[c] for c in self.tree.children[parent]]
            base = W[:, kids]
            total = base.sum(axis=1, keepdims=True)
            u = U[:, list(cols)]
            if self.spec.weights == "uniform":
                r = self.spec.weight_range
                drawn = base * (1.0 - r + 2.0 * r * u)
            else:
                share = np.divide(base, total, out=np.zeros_like(base), where=total > 0)
                alpha = self.spec.concentration * share
                drawn = np.where(alpha > 0, special.gammaincinv(np.where(alpha > 0, alpha, 1.0), u), 0.0)
            sums = drawn.sum(axis=1, keepdims=True)
            scaled = np.divide(drawn * total, sums, out=base.copy(), where=sums > 0)
            W[:, kids] = scaled
        return W


def _base_aggregation(ev: Evaluation) -> str:
    return ev.settings.aggregation or ev.framework.aggregation.method


def _pick(options: Sequence[Any], u: np.ndarray) -> list[Any]:
    index = np.minimum((u * len(options)).astype(int), len(options) - 1)
    return [options[i] for i in index]


def _resolve_choices(ev: Evaluation, choices: Mapping[str, Sequence[Any] | None]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for name, options in choices.items():
        if name in _NOT_CHOICES or (name not in _SETTINGS_FIELDS and name not in PENDING_CHOICES):
            allowed = sorted((_SETTINGS_FIELDS - _NOT_CHOICES) | set(PENDING_CHOICES))
            raise SensitivityError(
                f"unknown choice {name!r}; vary one of: {', '.join(allowed)} "
                "(weights are varied with UncertaintySpec.weights, indicators with drop)"
            )
        if options is None:
            if name not in CHOICE_VALUES:
                raise SensitivityError(f"choice {name!r} has no default options; list them explicitly")
            options = CHOICE_VALUES[name]
            if name == "normalisation" and ev.framework.normalisation.method not in options:
                options = (*options, ev.framework.normalisation.method)
        options = tuple(FLAG_VALUES.get(name, {}).get(o, o) if isinstance(o, bool) else o for o in options)
        if not options:
            raise SensitivityError(f"choice {name!r} has no options")
        bad = [o for o in options if name in ALLOWED_VALUES and o not in ALLOWED_VALUES[name]]
        if bad:
            raise SensitivityError(
                f"choice {name!r}: unknown option(s) {bad}; use {', '.join(map(str, ALLOWED_VALUES[name]))}"
            )
        out[name] = options
    return out


def _drop_options(ev: Evaluation, drop: bool | Sequence[str], stated: Mapping[str, float]) -> tuple[str, ...]:
    effective = effective_weights_array(
        TreeIndex.of(ev.framework), np.array([[stated[i.id] for i in ev.framework.walk()]])
    )
    ids = [i.id for i in ev.framework.indicators()]
    weighted = [i for i, w in zip(ids, effective[0], strict=True) if w > 0] if effective is not None else ids
    if drop is True:
        return tuple(weighted)
    if drop is False or drop is None:
        return ()
    unknown = [i for i in drop if i not in ids]
    if unknown:
        raise SensitivityError(f"drop: {', '.join(unknown)} not indicators of framework {ev.framework.id!r}")
    return tuple(drop)


# ====================================================================== engine
@dataclass
class _Prepared:
    """One combination of pipeline choices, evaluated once: its normalised values and scoring rules.

    Arrays only, no reference to the evaluation (the cache must not keep re-runs alive).
    """

    X: np.ndarray
    rules: ScoringRules


def _progress(iterable: Iterable, total: int, desc: str, show: bool) -> Iterable:
    """``tqdm`` progress bar when installed and wanted; the plain iterable otherwise."""
    if not show:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False)


@contextmanager
def _quiet_pipeline_logs() -> Iterator[None]:
    """Silence the pipeline's log messages below ERROR while re-running combinations.

    The re-runs repeat the notes the analysed evaluation already logged (e.g. the
    calibration steps); each re-run still records them in its own stages.
    """
    logger = logging.getLogger("perfmodel")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


_PREPARED: weakref.WeakKeyDictionary[Evaluation, dict[tuple, _Prepared]] = weakref.WeakKeyDictionary()
"""Pipeline combinations already evaluated, per analysed evaluation (shared by all analyses of it)."""


class _Engine:
    """Scores, ranks and grades of all replicates of a parameter table.

    Each combination of discrete pipeline choices is evaluated once
    (:meth:`Evaluation.regen`); its normalised values are aggregated under all
    the replicates' weights at once (:func:`perfmodel.aggregate.aggregate_draws`)
    and scored by the evaluation's own engine (:func:`perfmodel.scoring.score_draws`
    with its :attr:`~perfmodel.evaluation.Evaluation.scoring_rules`).
    """

    def __init__(self, ev: Evaluation, *, chunk_size: int = 250, progress: bool = True) -> None:
        if "scores" not in ev.stages:
            raise SensitivityError("the evaluation has not been run; call run() first")
        self.ev = ev
        self.tree = TreeIndex.of(ev.framework)
        self.units = pd.Index(ev.stages["normalised"].index)
        self.chunk_size = chunk_size
        self.progress = progress
        self._cache = _PREPARED.setdefault(ev, {})

    def prepared(self, combo: Mapping[str, Any]) -> _Prepared:
        changes = {k: _plain(v) for k, v in combo.items() if choice_available(k)}
        key = tuple(sorted(changes.items()))
        if key not in self._cache:
            if changes:
                try:
                    with _quiet_pipeline_logs():
                        ev = self.ev.regen(**changes, compare_previous=False)
                except EvaluationError as exc:
                    raise SensitivityError(f"cannot evaluate with {changes}: {exc}") from None
            else:
                ev = self.ev
            self._cache[key] = self._prepare(ev)
        return self._cache[key]

    def _prepare(self, ev: Evaluation) -> _Prepared:
        rules = ev.scoring_rules
        if rules is None or not rules.units.equals(self.units):
            raise SensitivityError("the evaluation's scoring rules do not match its units; re-run it")
        normalised = ev.stages["normalised"].reindex(index=self.units, columns=list(self.tree.indicators))
        return _Prepared(X=normalised.to_numpy(dtype=float).T.copy(), rules=rules)

    def run(self, table: pd.DataFrame, choice_names: Sequence[str]) -> tuple[np.ndarray, ...]:
        """Scores (float64), ranks (float32) and grade codes (int8), replicates × units."""
        n, m = len(table), len(self.units)
        scores = np.empty((n, m))
        ranks = np.empty((n, m), dtype=np.float32)
        grades = np.empty((n, m), dtype=np.int8)
        keys = list(choice_names)
        weight_cols = [f"w:{node}" for node in self.tree.nodes]
        W_all = table[weight_cols].to_numpy(dtype=float, copy=True)
        drop = table["drop"].to_numpy(dtype=object)
        for ind in {d for d in drop if d is not None and not _is_missing(d)}:
            W_all[drop == ind, self.tree.column[ind]] = 0.0
        grouping = [*keys, "aggregation"]
        groups = table.groupby(grouping, sort=False, dropna=False).indices if grouping else {(): np.arange(n)}
        chunks = [
            (key, rows[start : start + self.chunk_size])
            for key, rows in groups.items()
            for start in range(0, len(rows), self.chunk_size)
        ]
        aggregation = self.ev.framework.aggregation
        respread, floor = aggregation.respread_missing, aggregation.geometric_floor
        for key, rows in _progress(chunks, len(chunks), "replicates", self.progress):
            values = key if isinstance(key, tuple) else (key,)
            combo = dict(zip(keys, values[: len(keys)], strict=True))
            method = values[-1]
            prep = self.prepared(combo)
            W = W_all[rows]
            composite = aggregate_draws(prep.X, self.tree, W, method, respread=respread, floor=floor)
            tie_keys = tree_tie_keys(prep.rules, prep.X, self.tree, W, method, respread=respread, floor=floor)
            scored = score_draws(composite, prep.rules, tie_keys)
            scores[rows], ranks[rows], grades[rows] = scored.score, scored.rank, scored.grade
        return scores, ranks, grades


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """Python scalars for settings read back from a table (numpy bools, NaN for None)."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if _is_missing(value) else value


# ====================================================================== results
class UncertaintyResult:
    """Scores, ranks and grades of every replicate, with the parameters that made them.

    Attributes
    ----------
    parameters
        One row per replicate: ``replicate``, ``block`` (``MC``, or the Saltelli
        block ``A``, ``B``, ``AB:<factor>``), each varied choice, ``aggregation``,
        ``drop`` (indicator left out, or ``None``) and ``w:<node>`` (the weight of
        every node before the drop).
    units
        Unit ids, the column order of the arrays.
    scores, ranks, grades
        (replicates × units): final scores, ranks within peer group (1 = best),
        grade codes (indices into :data:`GRADE_LABELS`).
    notes
        Caveats of the analysis (e.g. a pending choice that has no effect yet).
    """

    def __init__(
        self,
        evaluation: Evaluation,
        parameters: pd.DataFrame,
        scores: np.ndarray,
        ranks: np.ndarray,
        grades: np.ndarray,
        choice_names: Sequence[str],
        *,
        weights_varied: bool,
        notes: Sequence[str] = (),
    ) -> None:
        self.evaluation = evaluation
        self.parameters = parameters
        self.units = pd.Index(evaluation.stages["normalised"].index, name="unit_id")
        self.scores = scores
        self.ranks = ranks
        self.grades = grades
        self.choice_names = tuple(choice_names)
        self.weights_varied = weights_varied
        self.notes = list(notes)

    def __len__(self) -> int:
        return len(self.parameters)

    @property
    def stated(self) -> pd.DataFrame:
        """The analysed evaluation's score, rank and grade per unit (array column order)."""
        cols = ["name", "peer_group", "score", "rank", "grade"]
        return self.evaluation.scores.set_index("unit_id").reindex(self.units)[cols]

    def rank_shift(self) -> pd.Series:
        """Mean absolute rank shift of each replicate against the stated ranks."""
        return pd.Series(
            _mean_abs_shift(self.ranks, self.stated["rank"].to_numpy(float)),
            index=self.parameters.index,
            name="mean_abs_rank_shift",
        )

    def by_unit(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """Per unit: stated result, median rank with 5–95 % interval, grade probabilities.

        Parameters
        ----------
        rows
            Replicates to summarise (default all; :class:`SobolResult` uses the
            independent ``A`` and ``B`` blocks).
        """
        sel = slice(None) if rows is None else rows
        ranks = self.ranks[sel].astype(float)
        scores = self.scores[sel]
        grades = self.grades[sel]
        out = self.stated.rename(columns={"score": "stated_score", "rank": "stated_rank", "grade": "stated_grade"})
        out["median_rank"], out["rank_p05"], out["rank_p95"] = _nan_quantiles(ranks, (0.5, 0.05, 0.95))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["mean_score"] = np.nanmean(scores, axis=0)
        out["score_p05"], out["score_p95"] = _nan_quantiles(scores, (0.05, 0.95))
        counts = np.stack([(grades == k).mean(axis=0) for k in range(len(GRADE_LABELS))], axis=1)
        for k, label in enumerate(GRADE_LABELS):
            out[f"P({label})"] = counts[:, k]
        out["modal_grade"] = [GRADE_LABELS[k] for k in counts.argmax(axis=1)]
        out["n_replicates"] = len(ranks)
        return out.reset_index()

    def replicate(self, i: int) -> Evaluation:
        """Re-run replicate ``i`` through the ordinary pipeline (``ev.regen``)."""
        row = self.parameters.iloc[i]
        changes: dict[str, Any] = {name: _plain(row[name]) for name in self.choice_names if choice_available(name)}
        changes["aggregation"] = row["aggregation"]
        if self.weights_varied:
            weights = {c.removeprefix("w:"): float(row[c]) for c in self.parameters.columns if c.startswith("w:")}
            if not _is_missing(row["drop"]):
                weights[row["drop"]] = 0.0
            changes["weights"] = weights
        return self.evaluation.regen(**changes, compare_previous=False)

    def summary(self) -> str:
        """Replicates, choices varied, rank shift and units whose grade is uncertain, as text."""
        by_unit = self.by_unit()
        shift = self.rank_shift()
        modal = by_unit[[c for c in by_unit.columns if c.startswith("P(")]].max(axis=1)
        lines = [
            f"Uncertainty analysis of {self.evaluation.framework.id}: {len(self)} replicates, {len(self.units)} units",
            "  choices varied: "
            + (", ".join(self.choice_names) or "none")
            + ("; weights" if self.weights_varied else ""),
            f"  mean absolute rank shift per replicate: median {shift.median():.2f}, max {shift.max():.2f}",
            f"  units whose most likely grade has probability below 0.8: {int((modal < 0.8).sum())}",
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The main table: :meth:`by_unit` (stated result, rank interval, grade probabilities)."""
        return self.by_unit()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tables for export: ``by_unit`` and ``replicates`` (parameters with rank shift)."""
        replicates = self.parameters.assign(mean_abs_rank_shift=self.rank_shift().to_numpy())
        return {"by_unit": self.by_unit(), "replicates": replicates}


def _nan_quantiles(values: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """Column quantiles ignoring NaN, numpy's default ("linear") definition.

    Sorts once for all quantiles; :func:`numpy.nanpercentile` is much slower on
    wide arrays.
    """
    ordered = np.sort(values, axis=0)  # NaN sort last
    n = (~np.isnan(values)).sum(axis=0)
    cols = np.arange(values.shape[1])
    out = []
    for q in qs:
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        low, high = ordered[lo, cols], ordered[hi, cols]
        value = low + (pos - lo) * (high - low)
        out.append(np.where(n > 0, value, np.nan))
    return out


def _mean_abs_shift(ranks: np.ndarray, stated: np.ndarray) -> np.ndarray:
    shift = np.abs(ranks.astype(float) - stated[None, :])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(shift, axis=1)


@dataclass
class SobolResult:
    """Sobol' sensitivity indices of an evaluation.

    Attributes
    ----------
    indices
        One row per factor: ``S1`` and ``ST`` with ``*_low``/``*_high`` bootstrap
        confidence limits, for the output ``output``.
    by_unit
        Long table (unit_id, factor, S1, ST) with each unit's rank as the output.
    runs
        All replicates of the design (:class:`UncertaintyResult`).
    n
        Base sample size ``N``; the design has ``N × (factors + 2)`` runs.
    output
        Name of the scalar output.
    """

    indices: pd.DataFrame
    by_unit: pd.DataFrame
    runs: UncertaintyResult
    n: int
    output: str

    def uncertainty(self) -> pd.DataFrame:
        """Per-unit rank intervals and grade probabilities from the independent A and B runs."""
        blocks = self.runs.parameters["block"].to_numpy()
        return self.runs.by_unit(np.flatnonzero(np.isin(blocks, ["A", "B"])))

    def summary(self) -> str:
        """First-order and total indices per factor, as text."""
        lines = [f"Sobol' indices of {self.output} (N = {self.n}, {len(self.runs)} runs)"]
        for row in self.indices.itertuples():
            factor = getattr(row, "factor", row.Index)
            lines.append(f"  {factor}: S1 {row.S1:.3f}, ST {row.ST:.3f}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The main table: :attr:`indices`."""
        return self.indices

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table, for export."""
        return {
            "sobol_indices": self.indices,
            "sobol_by_unit": self.by_unit,
            "by_unit": self.uncertainty(),
            "replicates": self.runs.tables()["replicates"],
        }


def default_choices(ev: Evaluation) -> tuple[dict[str, tuple], list[str]]:
    """Discrete choices a standard analysis of ``ev`` varies, and notes on what was left out.

    Normalisation: min-max, rank and the framework's own method (goalposts too
    when every indicator has them); aggregation: arithmetic and geometric;
    imputation: none and group mean; calibration off/on. Calibration is kept as
    a no-op flag while the pipeline cannot act on it (:data:`PENDING_CHOICES`);
    when it can but fails for this evaluation (for example a framework without
    calibration covariates) it is left out and a note says why.
    """
    fw = ev.framework
    normalisations = ["minmax", "rank"]
    if all(i.goalposts is not None for i in fw.indicators()):
        normalisations.append("goalposts")
    if fw.normalisation.method not in normalisations:
        normalisations.append(fw.normalisation.method)
    choices: dict[str, tuple] = {
        "normalisation": tuple(normalisations),
        "aggregation": ("arithmetic", "geometric"),
        "imputation": ("none", "group_mean"),
    }
    notes: list[str] = []
    on = FLAG_VALUES["calibration"][True]
    if not choice_available("calibration"):
        choices["calibration"] = ("none", on)
    else:
        try:
            _Engine(ev, progress=False).prepared({"calibration": on})
        except Exception as exc:  # any failure means: leave the choice out
            notes.append(f"calibration={on!r} left out: {exc}")
        else:
            choices["calibration"] = ("none", on)
    return choices, notes


# ====================================================================== public entry points
def _run(
    ev: Evaluation,
    sampler: _Sampler,
    table: pd.DataFrame,
    *,
    chunk_size: int,
    progress: bool,
) -> UncertaintyResult:
    engine = _Engine(ev, chunk_size=chunk_size, progress=progress)
    names = list(sampler.choices)
    pipeline_names = [n for n in names if n != "aggregation"]
    scores, ranks, grades = engine.run(table, pipeline_names)
    notes = [
        f"choice {name!r} is not yet supported by the pipeline: recorded but without effect"
        for name in names
        if not choice_available(name)
    ]
    return UncertaintyResult(
        ev,
        table,
        scores,
        ranks,
        grades,
        names,
        weights_varied=sampler.varies_weights,
        notes=notes,
    )


@renamed_keywords(seed="rng")
def uncertainty(
    ev: Evaluation,
    spec: UncertaintySpec | None = None,
    *,
    draws: int = 500,
    rng: RngLike = None,
    chunk_size: int = 250,
    progress: bool = True,
) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis: re-score the units under ``draws`` random choices.

    Parameters
    ----------
    ev
        A run evaluation.
    spec
        What varies (default: weights ±25 %).
    draws
        Number of replicates.
    rng
        Randomness of the draws: an int (the same draws on every run), a
        ``numpy.random.Generator``, or ``None`` (fresh entropy), resolved by
        :func:`perfmodel.randomness.as_generator`. An int gives the draws the former
        ``seed`` of that value gave.
    chunk_size
        Replicates aggregated per matrix product (bounds memory).
    progress
        Show a ``tqdm`` progress bar when ``tqdm`` is installed.

    Returns
    -------
    UncertaintyResult

    Examples
    --------
    >>> spec = UncertaintySpec(weights="dirichlet", choices={"normalisation": None})  # doctest: +SKIP
    >>> result = uncertainty(ev, spec, draws=500, rng=1)  # doctest: +SKIP
    >>> result.by_unit()[["unit_id", "median_rank", "rank_p05", "rank_p95"]]  # doctest: +SKIP
    >>> result.replicate(17).scores  # doctest: +SKIP
    """
    spec = spec or UncertaintySpec()
    if draws < 1:
        raise SensitivityError("draws must be at least 1")
    sampler = _Sampler(ev, spec, TreeIndex.of(ev.framework))
    U = as_generator(rng).random((draws, sampler.n_columns))
    return _run(ev, sampler, sampler.parameters(U), chunk_size=chunk_size, progress=progress)


def scenarios(
    ev: Evaluation,
    rows: Sequence[Mapping[str, Any]],
    *,
    labels: Sequence[str] | None = None,
    progress: bool = False,
) -> UncertaintyResult:
    """Score explicit scenarios with the vectorised engine.

    Each scenario is a mapping with any of: a choice name (``normalisation``,
    ``imputation``, … — any :class:`~perfmodel.evaluation.Settings` field),
    ``aggregation``, ``drop`` (an indicator id) and ``weights`` (node id → weight,
    overriding the stated weights).

    Examples
    --------
    >>> res = scenarios(ev, [{"drop": "callback_satisfaction"}, {"aggregation": "geometric"}])  # doctest: +SKIP
    """
    tree = TreeIndex.of(ev.framework)
    stated = ev.stated_weights()
    names = sorted({k for row in rows for k in row} - {"weights", "drop", "aggregation"})
    choices = _resolve_choices(ev, {n: tuple({_plain(r.get(n)) for r in rows if n in r}) for n in names})
    base = ev.settings
    records = []
    for i, row in enumerate(rows):
        unknown = sorted(set(row.get("weights", {})) - set(tree.nodes))
        if unknown:
            raise SensitivityError(f"scenario {i}: weights for unknown node(s) {', '.join(unknown)}")
        if row.get("drop") is not None and row["drop"] not in tree.indicators:
            raise SensitivityError(f"scenario {i}: drop {row['drop']!r} is not an indicator")
        record: dict[str, Any] = {"replicate": i, "block": labels[i] if labels else f"S{i}"}
        for name in choices:
            record[name] = row.get(name, getattr(base, name, None) if name in _SETTINGS_FIELDS else None)
        record["aggregation"] = row.get("aggregation", _base_aggregation(ev))
        record["drop"] = row.get("drop")
        weights = {**stated, **row.get("weights", {})}
        record.update({f"w:{n}": float(weights[n]) for n in tree.nodes})
        records.append(record)
    table = pd.DataFrame.from_records(records)
    pipeline = [n for n in choices if n != "aggregation"]
    engine = _Engine(ev, progress=progress)
    scores, ranks, grades = engine.run(table, pipeline)
    varied = any("weights" in r or r.get("drop") is not None for r in rows)
    return UncertaintyResult(ev, table, scores, ranks, grades, list(choices), weights_varied=varied)


# ---------------------------------------------------------------------- Sobol'
@renamed_keywords(seed="rng")
def saltelli_design(
    n: int,
    n_columns: int,
    groups: Sequence[Sequence[int]] | None = None,
    *,
    rng: RngLike = None,
    sampling: Literal["sobol", "random"] = "sobol",
) -> tuple[np.ndarray, np.ndarray]:
    """The Saltelli (2010) sample: matrices A, B and A_B^(g) for each factor group g.

    Parameters
    ----------
    n
        Base sample size ``N``. With ``sampling="sobol"`` it is rounded up to a
        power of two, as scrambled Sobol' sequences need.
    n_columns
        Number of input columns ``d``.
    groups
        Column indices of each factor (default: one factor per column).
    rng
        Randomness of the scrambling (``sobol``) or of the uniform draws (``random``):
        an int (the same design on every run, the one the former ``seed`` of that
        value gave), a ``numpy.random.Generator``, or ``None`` (fresh entropy).
    sampling
        ``sobol`` (quasi-random, faster convergence) or ``random``.

    Returns
    -------
    U, blocks
        ``U`` has ``N × (G + 2)`` rows: A, then B, then A_B^(g) for each group;
        ``blocks`` labels them ``A``, ``B``, ``AB:<g>`` (g the group's position).
    """
    groups = [tuple(g) for g in groups] if groups is not None else [(k,) for k in range(n_columns)]
    generator = as_generator(rng)
    if n < 2:
        raise SensitivityError("the base sample size must be at least 2")
    if sampling == "sobol":
        m = math.ceil(math.log2(n))
        # scipy's legacy ``seed=int`` scrambles differently from ``rng=default_rng(int)``:
        # an int keeps the former keyword, so an int gives the design it gave before issue 12
        source = {"seed": rng} if isinstance(rng, (int, np.integer)) else {"rng": generator}
        base = qmc.Sobol(d=2 * n_columns, scramble=True, **source).random_base2(m)
    elif sampling == "random":
        base = generator.random((n, 2 * n_columns))
    else:
        raise SensitivityError(f"sampling={sampling!r}: use 'sobol' or 'random'")
    A, B = base[:, :n_columns], base[:, n_columns:]
    parts, labels = [A, B], ["A"] * len(A) + ["B"] * len(B)
    for g, cols in enumerate(groups):
        AB = A.copy()
        AB[:, list(cols)] = B[:, list(cols)]
        parts.append(AB)
        labels += [f"AB:{g}"] * len(A)
    return np.vstack(parts), np.array(labels, dtype=object)


def _estimate(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Saltelli (2010) S_i and Jansen (1999) S_Ti; fA, fB (…, N, m), fAB (G, …, N, m)."""
    variance = np.concatenate([fA, fB], axis=-2).var(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        first = (fB * (fAB - fA)).mean(axis=-2) / variance
        total = 0.5 * ((fA - fAB) ** 2).mean(axis=-2) / variance
    return first, total


@renamed_keywords(seed="rng")
def sobol_estimates(
    y: np.ndarray,
    n: int,
    names: Sequence[str],
    *,
    bootstrap: int = 200,
    confidence: float = 0.95,
    rng: RngLike = None,
) -> pd.DataFrame:
    """First-order and total Sobol' indices from outputs of a :func:`saltelli_design`.

    Parameters
    ----------
    y
        Outputs in design order (``N × (G + 2)`` values).
    n
        Base sample size ``N`` actually used.
    names
        Factor names, one per group.
    bootstrap
        Bootstrap resamples of the ``N`` base rows for the confidence intervals
        (0 for none).
    confidence
        Level of the percentile intervals.
    rng
        Randomness of the bootstrap: an int, a ``numpy.random.Generator`` or ``None``.

    Returns
    -------
    pandas.DataFrame
        factor, S1, S1_low, S1_high, ST, ST_low, ST_high.
    """
    y = np.asarray(y, dtype=float).reshape(len(names) + 2, n)
    y = y - y[:2].mean()  # centring leaves the estimators unbiased and lowers their variance
    fA, fB, fAB = y[0][:, None], y[1][:, None], y[2:][:, :, None]
    first, total = (a[:, 0] for a in _estimate(fA, fB, fAB))
    out = pd.DataFrame({"factor": list(names), "S1": first, "ST": total})
    if bootstrap:
        idx = as_generator(rng).integers(0, n, size=(bootstrap, n))
        bf, bt = _estimate(y[0][idx][..., None], y[1][idx][..., None], y[2:][:, idx][..., None])
        alpha = (1 - confidence) / 2
        for label, boot in (("S1", bf[..., 0]), ("ST", bt[..., 0])):
            out[f"{label}_low"] = np.nanquantile(boot, alpha, axis=1)
            out[f"{label}_high"] = np.nanquantile(boot, 1 - alpha, axis=1)
    return out[["factor", *[c for c in ("S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high") if c in out.columns]]]


def _design_and_bootstrap(rng: RngLike) -> tuple[RngLike, RngLike]:
    """The ``rng`` of a Sobol' design and of its bootstrap.

    An int seeds each of them on its own, as the integer ``seed`` did before issue 12
    (so an int gives the former indices); a Generator, or ``None`` (fresh entropy), is
    one stream the design draws from first and the bootstrap after.
    """
    if rng is None or isinstance(rng, np.random.Generator):
        generator = as_generator(rng)
        return generator, generator
    as_generator(rng)  # checks the int
    return rng, rng


@renamed_keywords(seed="rng")
def sobol_analysis(
    func: Callable[[np.ndarray], np.ndarray],
    n_columns: int,
    n: int,
    *,
    names: Sequence[str] | None = None,
    groups: Sequence[Sequence[int]] | None = None,
    rng: RngLike = None,
    sampling: Literal["sobol", "random"] = "sobol",
    bootstrap: int = 200,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Sobol' indices of any vectorised function of inputs uniform on [0, 1)^d.

    ``func`` receives the whole design (rows × ``n_columns``) and returns one
    output per row. Map the unit interval to your input ranges inside ``func``.
    ``rng`` drives the design and the bootstrap (see :func:`sobol`).

    Examples
    --------
    >>> def ishigami(U, a=7.0, b=0.1):
    ...     x = -np.pi + 2 * np.pi * U
    ...     return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    >>> table = sobol_analysis(ishigami, 3, 2 ** 12, bootstrap=0, rng=1)
    >>> table[["S1", "ST"]].abs().round(2).to_numpy().tolist()
    [[0.31, 0.56], [0.44, 0.44], [0.0, 0.24]]
    """
    design_rng, boot_rng = _design_and_bootstrap(rng)
    U, _ = saltelli_design(n, n_columns, groups, rng=design_rng, sampling=sampling)
    g = len(groups) if groups is not None else n_columns
    n_used = len(U) // (g + 2)
    names = list(names) if names is not None else [f"x{k + 1}" for k in range(g)]
    return sobol_estimates(func(U), n_used, names, bootstrap=bootstrap, confidence=confidence, rng=boot_rng)


@renamed_keywords(seed="rng")
def sobol(
    ev: Evaluation,
    spec: UncertaintySpec | None = None,
    *,
    n: int = 256,
    rng: RngLike = None,
    sampling: Literal["sobol", "random"] = "sobol",
    bootstrap: int = 200,
    confidence: float = 0.95,
    chunk_size: int = 250,
    progress: bool = True,
) -> SobolResult:
    """Variance-based sensitivity of the ranking to each uncertain choice.

    Runs the Saltelli (2010) design with ``N = n`` (rounded up to a power of two
    for ``sampling="sobol"``) and ``N × (factors + 2)`` replicates. The output is
    the mean absolute rank shift against the stated ranking (see the module
    notes); per-unit indices use each unit's rank.

    ``rng`` is an int, a ``numpy.random.Generator`` or ``None`` (fresh entropy). An
    int seeds the design and, separately, the bootstrap of the indices, exactly as
    the former ``seed`` of that value did; a ``Generator`` is one stream the design
    draws from first, then the bootstrap.

    Returns
    -------
    SobolResult

    Examples
    --------
    >>> spec = UncertaintySpec(choices={"normalisation": None, "aggregation": None}, drop=True)  # doctest: +SKIP
    >>> res = sobol(ev, spec, n=256)  # doctest: +SKIP
    >>> res.indices  # doctest: +SKIP
    """
    spec = spec or UncertaintySpec()
    sampler = _Sampler(ev, spec, TreeIndex.of(ev.framework))
    if not sampler.factors:
        raise SensitivityError("nothing varies: give weights, choices or drop in the UncertaintySpec")
    names = [f.name for f in sampler.factors]
    design_rng, boot_rng = _design_and_bootstrap(rng)
    U, blocks = saltelli_design(
        n, sampler.n_columns, [f.columns for f in sampler.factors], rng=design_rng, sampling=sampling
    )
    blocks = np.array([b if not b.startswith("AB:") else f"AB:{names[int(b[3:])]}" for b in blocks])
    n_used = len(U) // (len(names) + 2)
    runs = _run(ev, sampler, sampler.parameters(U, blocks), chunk_size=chunk_size, progress=progress)
    y = runs.rank_shift().to_numpy()
    indices = sobol_estimates(y, n_used, names, bootstrap=bootstrap, confidence=confidence, rng=boot_rng)
    by_unit = _indices_by_unit(runs, n_used, names)
    return SobolResult(indices=indices, by_unit=by_unit, runs=runs, n=n_used, output="mean_abs_rank_shift")


def _indices_by_unit(runs: UncertaintyResult, n: int, names: Sequence[str]) -> pd.DataFrame:
    y = runs.ranks.astype(float).reshape(len(names) + 2, n, -1)
    y = y - y[:2].mean(axis=(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first, total = _estimate(y[0], y[1], y[2:])
    frame = pd.DataFrame(
        {
            "unit_id": np.tile(runs.units.to_numpy(), len(names)),
            "factor": np.repeat(list(names), len(runs.units)),
            "S1": first.ravel(),
            "ST": total.ravel(),
        }
    )
    return frame


# ====================================================================== figures
_FIG_TEXT = {
    "zh": {
        "intervals_title": "排名不确定性:中位排名及5–95%区间(组内)",
        "intervals_x": "组内排名(1 = 最好)",
        "intervals_y": "单位",
        "median": "中位排名",
        "interval": "5–95%区间",
        "stated": "公布排名",
        "sobol_title": "各项设计选择对排名的影响(Sobol'指数,95%置信区间)",
        "sobol_x": "不确定的设计选择",
        "sobol_y": "指数(平均排名变动的方差占比)",
        "S1": "一阶指数 S1",
        "ST": "总效应指数 ST",
    },
    "en": {
        "intervals_title": "Rank uncertainty: median rank and 5–95 % interval (within peer group)",
        "intervals_x": "Rank in peer group (1 = best)",
        "intervals_y": "Unit",
        "median": "Median rank",
        "interval": "5–95 % interval",
        "stated": "Stated rank",
        "sobol_title": "Which design choice moves the ranking (Sobol' indices, 95 % CI)",
        "sobol_x": "Uncertain design choice",
        "sobol_y": "Index (share of variance of mean rank shift)",
        "S1": "First order S1",
        "ST": "Total effect ST",
    },
}

FACTOR_NAMES = {
    "zh": {
        "weights": "权重",
        "normalisation": "标准化方法",
        "aggregation": "合成方法",
        "imputation": "缺失值插补",
        "winsorise": "极端值处理",
        "calibration": "校准",
        "drop": "删除单个指标",
        "grading": "定级方法",
        "peer_group": "同类组",
    },
    "en": {
        "weights": "Weights",
        "normalisation": "Normalisation",
        "aggregation": "Aggregation",
        "imputation": "Imputation",
        "winsorise": "Outlier treatment",
        "calibration": "Calibration",
        "drop": "Dropping one indicator",
        "grading": "Grading",
        "peer_group": "Peer groups",
    },
}
"""Display names of the uncertainty factors."""


def factor_label(factor: str, lang: str = "zh") -> str:
    """Display name of a factor (``weights:<set>`` keeps the set id)."""
    check_lang(lang)
    names = FACTOR_NAMES["en" if lang == "en" else "zh"]
    head, _, rest = factor.partition(":")
    return f"{names.get(head, head)}:{rest}" if rest else names.get(head, head)


def figure_rank_intervals(
    result: UncertaintyResult, *, fig: Figure | None = None, lang: str = "zh", max_units: int = 40
) -> Figure:
    """Median rank and 5–95 % interval of every unit, one panel per peer group.

    Units are sorted by stated rank; the stated rank is drawn as a hollow marker.
    With more than ``max_units`` units in all, each group shows its best and worst
    units in proportion.

    Several axes: drawn on ``fig`` (an empty figure; default: a new one) after applying the
    report style (CJK font); returns the figure.
    """
    from perfmodel.report.style import report_subplots

    check_lang(lang)

    t = _FIG_TEXT["en" if lang == "en" else "zh"]
    table = result.by_unit().dropna(subset=["median_rank"])
    groups = group_order(table["peer_group"].unique())
    share = min(1.0, max_units / max(len(table), 1))
    panels = []
    for g in groups:
        sub = table[table["peer_group"] == g].sort_values(["stated_rank", "median_rank"])
        keep = max(2, int(round(len(sub) * share)))
        if len(sub) > keep:
            sub = pd.concat([sub.head(keep // 2), sub.tail(keep - keep // 2)])
        panels.append((g, sub))
    rows = max(len(sub) for _, sub in panels)
    fig, axes = report_subplots(
        fig, 1, len(panels), figsize=(4.2 * len(panels) + 1.5, 0.26 * rows + 1.8), squeeze=False, sharey=False
    )
    from matplotlib.ticker import MaxNLocator

    for ax, (g, sub) in zip(axes[0], panels, strict=True):
        y = np.arange(len(sub))
        ax.hlines(y, sub["rank_p05"], sub["rank_p95"], color="#4575b4", lw=2.2, label=t["interval"])
        ax.plot(sub["median_rank"], y, "o", color="#08306b", ms=4, label=t["median"])
        ax.plot(sub["stated_rank"], y, "D", mfc="none", mec="#d73027", ms=5, label=t["stated"])
        ax.set_yticks(y, [str(n) for n in sub["name"]], fontsize=7.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(str(g), fontsize=10.5)
        ax.set_xlabel(t["intervals_x"])
        ax.set_ylabel(t["intervals_y"])
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(t["intervals_title"])
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8.5)
    return fig


def figure_sobol(indices: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Bars of first-order and total Sobol' indices per factor, with bootstrap CIs.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)

    t = _FIG_TEXT["en" if lang == "en" else "zh"]
    table = indices.sort_values("ST", ascending=False).reset_index(drop=True)
    x = np.arange(len(table))
    ax = report_axes(ax, figsize=(max(6.0, 1.3 * len(table) + 2), 4.2))
    for offset, key, colour in ((-0.2, "S1", "#74add1"), (0.2, "ST", "#d73027")):
        values = table[key].to_numpy(float)
        err = None
        if f"{key}_low" in table.columns:
            err = np.vstack(
                [np.clip(values - table[f"{key}_low"], 0, None), np.clip(table[f"{key}_high"] - values, 0, None)]
            )
        ax.bar(x + offset, values, width=0.4, color=colour, label=t[key], yerr=err, capsize=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, [factor_label(f, lang) for f in table["factor"]])
    ax.set_title(t["sobol_title"])
    ax.set_xlabel(t["sobol_x"])
    ax.set_ylabel(t["sobol_y"])
    ax.legend()
    return ax
