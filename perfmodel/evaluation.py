"""The :class:`Evaluation`: one framework, one period, one dataset — every stage kept.

The pipeline (each step a small function of its own module)::

    clean observations ─ roll up (rollup) ─ points & counts ─ denominate ─ impute
      ─ treat outliers ─ thresholds ─ orient + normalise ─ aggregate the tree
      ─ difficulty, bonus items, negative list ─ grade + rank ─ rank change

Like COINr's "coin", an evaluation keeps every stage's output in
:attr:`Evaluation.stages` and the settings that produced it in
:attr:`Evaluation.settings`, so :meth:`Evaluation.regen` can re-run it with one
choice changed, and a report can show any stage.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

from perfmodel import progress
from perfmodel.aggregate import aggregate_tree, availability
from perfmodel.coverage import INCOMPLETE, coverage_table, required_months
from perfmodel.errors import OptionError, PerfmodelError, check_choice
from perfmodel.flags import FlagLog, flag_codes
from perfmodel.framework import GRADES, Framework, Indicator, load_framework
from perfmodel.grading import (
    GRADE_CODES,
    NO_CAP,
    NOT_GRADED,
    group_indices,
    rank_draws,
    tie_break_key_draws,
)
from perfmodel.groups import ALL_UNITS
from perfmodel.memory import trim_heap
from perfmodel.normalise import normalise, orient, orient_bounds
from perfmodel.periods import months_in, parse_period, period_label, previous
from perfmodel.scoring import ScoredDraws, ScoringRules, score_draws
from perfmodel.source import ObservationSource, among, as_source
from perfmodel.weights import stated_weights

__all__ = [
    "Settings",
    "Evaluation",
    "evaluate",
    "evaluate_files",
    "read_evaluation_inputs",
    "check_data_fits_framework",
    "EvaluationError",
]


class EvaluationError(PerfmodelError, ValueError):
    """The evaluation cannot be run as asked; the message says why and what to change."""


@dataclass(frozen=True)
class Settings:
    """Choices that override the framework for one evaluation (``None`` = framework's).

    Attributes
    ----------
    peer_group
        Units-table column whose values form peer groups for ranks, grades and
        within-group normalisation; ``"none"`` for one group of all units.
    normalisation
        ``minmax``, ``zscore``, ``rank``, ``goalposts`` or ``target``.
    aggregation
        ``arithmetic`` or ``geometric``.
    imputation
        ``none``, ``group_mean`` or ``carry_forward``.
    winsorise
        Apply COINr's skew/kurtosis outlier rule before normalising.
    grading
        ``cutoffs`` or ``quota``.
    calibration
        ``none`` (raw values), ``casemix`` (observed/expected given context) or
        ``full`` (case-mix, small-numbers shrinkage and rater calibration); see
        :mod:`perfmodel.calibrate`.
    weights
        Replacement weights by node id.
    compare_previous
        Also evaluate the previous period for rank changes.

    Raises
    ------
    perfmodel.errors.OptionError
        When an option given is outside its allowed values; the message names them.
    """

    peer_group: str | None = None
    normalisation: str | None = None
    aggregation: str | None = None
    imputation: str | None = None
    winsorise: bool | None = None
    grading: str | None = None
    calibration: str = "none"
    weights: Mapping[str, float] = field(default_factory=dict)
    compare_previous: bool = True

    def __post_init__(self) -> None:
        """Refuse any option outside its allowed values, naming them (a typo never falls back)."""
        for name, allowed in _setting_choices().items():
            value = getattr(self, name)
            if value is not None or name == "calibration":  # calibration has no framework default
                check_choice(name, value, allowed)
        for name in ("winsorise", "compare_previous"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool | np.bool_):
                raise OptionError(f"{name}={value!r} is not allowed; choose True or False")
        if self.peer_group is not None and not isinstance(self.peer_group, str):
            raise OptionError(f"peer_group={self.peer_group!r} must be a units-table column name or 'none'")
        if not isinstance(self.weights, Mapping):
            raise OptionError(f"weights={self.weights!r} must map node ids to weights")
        for node_id, weight in self.weights.items():
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float | np.number)
                or not (np.isfinite(weight) and weight >= 0)
            ):
                raise OptionError(
                    f"weights[{node_id!r}]={weight!r} is not allowed; a weight must be a finite number >= 0"
                )

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(self).items()}


CALIBRATION_MODES: tuple[str, ...] = ("none", "casemix", "full")
"""``Settings.calibration`` values (``none`` and :data:`perfmodel.calibrate.step.MODES`)."""


def _setting_choices() -> dict[str, tuple[str, ...]]:
    """Allowed values of the text settings, read from the framework schema (one source)."""
    from pydantic import BaseModel

    from perfmodel.framework import Aggregation, Grading, Missing, Normalisation

    def allowed(model: type[BaseModel], field_name: str) -> tuple[str, ...]:
        return get_args(model.model_fields[field_name].annotation)

    return {
        "normalisation": allowed(Normalisation, "method"),
        "aggregation": allowed(Aggregation, "method"),
        "imputation": allowed(Missing, "imputation"),
        "grading": allowed(Grading, "method"),
        "calibration": CALIBRATION_MODES,
    }


PREVIOUS_KEPT_STAGES = ("scores", "flags", "grading_notes", "unit_months")
"""Stages of the previous period's evaluation (:attr:`Evaluation.previous`) kept in memory;
the others are computed again when first read (:meth:`Evaluation.release_stages`)."""

PREVIOUS_SLIM_STAGES = ("scores",)
"""Stages of the previous period's evaluation kept in memory when the run itself keeps only some
(:meth:`Evaluation.run` ``keep``): the scores its comparison reads (``previous_rank``, ``previous_grade``)."""

SCORE_KEPT_STAGES = ("scores", "flags", "grading_notes", "unit_months", "calibration_log")
"""Stages ``perfmodel score`` keeps in memory (:meth:`Evaluation.run` ``keep``): what it writes and
prints; the others are let go as the run passes them."""


class Stages(dict[str, Any]):
    """The stages of an evaluation: a dict whose entries may be loaded on first access.

    :meth:`later` records a stage by the function that loads it; the stage is
    loaded (once) when it is first read — by ``[]``, :meth:`get`, iteration over
    values or items, or a copy — so the row-level ``raw`` stage reaches pandas only
    when an analysis reads it. ``in``, ``len`` and the keys never load.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._later: dict[str, Any] = {}

    def is_later(self, key: str) -> bool:
        """Whether stage ``key`` is recorded but not loaded yet."""
        return key in self._later

    def later(self, key: str, load: Any) -> None:
        """Record stage ``key`` as ``load()``, called on first access."""
        self._later[key] = load
        super().__setitem__(key, None)

    def _load(self, key: str) -> Any:
        load = self._later.pop(key, None)
        if load is not None:
            super().__setitem__(key, load())
        return super().__getitem__(key)

    def __getitem__(self, key: str) -> Any:
        if key in self._later:
            return self._load(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __setitem__(self, key: str, value: Any) -> None:
        self._later.pop(key, None)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._later.pop(key, None)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __iter__(self) -> Any:  # also makes dict(stages) and {**stages} read through __getitem__
        return super().__iter__()

    def values(self) -> Any:
        return [self[key] for key in self]

    def items(self) -> Any:
        return [(key, self[key]) for key in self]

    def copy(self) -> dict[str, Any]:
        return {key: self[key] for key in self}

    def __reduce__(self) -> tuple[Any, ...]:
        return (Stages, (self.copy(),))


class Evaluation:
    """Run and record the scoring pipeline for one framework, period and dataset.

    Parameters
    ----------
    framework
        The indicator system (a :class:`~perfmodel.framework.Framework`, a shipped
        id or a YAML path).
    observations
        Clean observations (as produced by :func:`perfmodel.validation.validate_observations`),
        or an :class:`~perfmodel.source.ObservationSource` that answers for them (the
        columnar core's, which keeps the rows out of pandas); months outside the period
        are used only for carry-forward imputation and the previous period.
    units
        Clean units table.
    period
        ``2025Q2``, ``2025-04`` or ``2025``.
    settings
        Overrides of the framework's choices.
    quarantine
        Rows rejected by validation, kept with the evaluation for its data-quality section.
    inputs
        Names → paths of the input files (for provenance).

    Attributes
    ----------
    source
        The observations as an :class:`~perfmodel.source.ObservationSource`.
    stages
        Every stage's output by name (``raw`` … ``aggregated``, ``flags``, ``scores``).
    scoring_rules
        The per-unit inputs of the scoring engine after aggregation
        (:class:`~perfmodel.scoring.ScoringRules`), set by :meth:`run`; the
        uncertainty analysis re-applies them to other weights.

    Examples
    --------
    >>> ev = evaluate_files("station_four_dimension", "data_samples/station_observations.csv.gz",
    ...     "data_samples/units.csv", "2025Q2")  # doctest: +SKIP
    >>> ev.scores[["unit_id", "score", "rank", "grade"]].head()  # doctest: +SKIP
    """

    def __init__(
        self,
        framework: Framework | str | Path,
        observations: pd.DataFrame | ObservationSource,
        units: pd.DataFrame,
        period: str | pd.Period,
        settings: Settings | None = None,
        *,
        quarantine: pd.DataFrame | None = None,
        inputs: Mapping[str, Path] | None = None,
    ) -> None:
        self.framework = framework if isinstance(framework, Framework) else load_framework(framework)
        self.source = as_source(observations)
        self.units = units
        self.period = parse_period(period)
        self.settings = settings or Settings()
        self.quarantine = quarantine if quarantine is not None else pd.DataFrame()
        self.inputs = dict(inputs or {})
        self.stages: Stages = Stages()
        self.log: list[dict[str, Any]] = []
        self.previous: Evaluation | None = None
        self.n_input: dict[str, int] = {}
        self.scoring_rules: ScoringRules | None = None
        self._n_used = 0

    @property
    def observations(self) -> pd.DataFrame:
        """Every clean observation row as one frame (from :attr:`source`; large for big data)."""
        return self.source.frame()

    # ------------------------------------------------------------ settings
    @property
    def peer_column(self) -> str | None:
        chosen = self.settings.peer_group
        if chosen is None:
            chosen = self.framework.peer_group
        if chosen in (None, "none", ""):
            return None
        if chosen not in self.units.columns:
            raise EvaluationError(
                f"peer group column {chosen!r} is not in the units table; "
                f"choose one of {', '.join(map(str, self.units.columns))} or 'none'"
            )
        return chosen

    def _choice(self, name: str, default: Any) -> Any:
        value = getattr(self.settings, name)
        return default if value is None else value

    def regen(self, **changes: Any) -> Evaluation:
        """A new evaluation of the same data with some settings changed, already run.

        Examples
        --------
        >>> geo = ev.regen(aggregation="geometric")  # doctest: +SKIP
        """
        new = Evaluation(
            self.framework,
            self.source,
            self.units,
            self.period,
            replace(self.settings, **changes),
            quarantine=self.quarantine,
            inputs=self.inputs,
        )
        return new.run()

    def _record(self, step: str, frame: pd.DataFrame, **params: Any) -> pd.DataFrame:
        self.stages[step] = frame
        self.log.append({"step": step, **params})
        return frame

    # ------------------------------------------------------------ pipeline
    @property
    def scored_units(self) -> pd.DataFrame:
        level = self.framework.level
        units = self.units[self.units["level"] == level]
        if self.framework.role is not None and "role" in units.columns:
            units = units[units["role"] == self.framework.role]
        return units.set_index("unit_id", drop=False).rename_axis(None)

    def run(self, keep: Iterable[str] | None = None) -> Evaluation:
        """Run every stage; returns ``self``.

        Parameters
        ----------
        keep
            The stages to hold in memory (default: all). Every other stage is let go
            as soon as the steps after it no longer need it, and computed again when
            first read (:meth:`release_stages`): the same values, at the cost of a
            second run. ``perfmodel score`` keeps :data:`SCORE_KEPT_STAGES`, so that the
            unit × indicator tables of the early steps are not all held at the peak.
        """
        let_go = self._stage_releaser(keep)
        fw = self.framework
        units = self.scored_units
        if units.empty:
            raise EvaluationError(
                f"no units of level {fw.level!r}"
                + (f" and role {fw.role!r}" if fw.role else "")
                + " in the units table; check the units file's 'level' and 'role' columns"
            )
        if self.settings.calibration != "none":
            _check_covariates(fw, self.units)
        months = [str(m) for m in months_in(self.period)]
        source = self.source
        self._n_used = source.count_rows(units.index, months)
        if not self._n_used:
            available = source.months()
            span = f"{available[0]} to {available[-1]}" if available else "none"
            raise EvaluationError(
                f"no usable observations for period {period_label(self.period)} "
                f"(months {months[0]} to {months[-1]}); the data cover {span}"
            )
        self.stages.later("raw", lambda: source.rows(units.index, months))  # rows reach pandas only when read
        self.log.append({"step": "raw", "months": months})
        incomplete = self._check_coverage(units, months)
        # late rows counted now, while DuckDB's working memory is not yet beside the unit-level tables
        late = source.late_counts(units.index, months)
        # This period's roll-up first: while DuckDB fills its memory limit, pandas holds no unit-level stages.
        kinds = fw.rollup_kinds()
        natural = source.rolled_values(units.index, kinds, self.period)
        # Then the previous period, kept slim, so that its stages and this period's are never all held at once.
        before = self._previous_evaluation(keep is not None) if self.settings.compare_previous else None
        # The queries are over: DuckDB's cache, and what the previous period's steps freed, go back to the system.
        source.hand_back_memory()
        trim_heap()

        # the long roll-up (numerators, denominators, methods) reaches pandas only when an analysis reads it
        self.stages.later("rolled", lambda: source.roll_up(units.index, kinds, self.period))
        self.log.append({"step": "rolled", "rule": "rates from summed numerators and denominators"})

        indicators = fw.indicators()
        values = pd.DataFrame(index=units.index)
        for ind in indicators:
            values[ind.id] = self._indicator_values(ind, natural)
        values.loc[incomplete] = np.nan  # a unit with too few months takes no part in the others' scoring
        self._record("values", values)

        denominated, problems = self._denominate(values, indicators, units)
        self._record("denominated", denominated)
        self.stages["denominator_problems"] = problems
        del values
        let_go("values")

        imputed, imputed_mask = self._impute(denominated, units)
        imputed.loc[incomplete], imputed_mask.loc[incomplete] = np.nan, False
        log = self.stages["imputation_log"]
        self.stages["imputation_log"] = log[~log["unit"].isin(incomplete)].reset_index(drop=True)
        self._record("imputed", imputed, method=self._choice("imputation", fw.missing.imputation))
        del denominated
        let_go("denominated")

        treated = self._treat(imputed)
        self._record("treated", treated, winsorise=self._choice("winsorise", fw.treatment.winsorise))
        del imputed
        let_go("imputed")

        if self.settings.calibration != "none":
            from perfmodel.calibrate.step import calibrate

            scored = self.scored_units
            groups = None
            if self.peer_column is not None:
                groups = pd.Series(
                    scored[self.peer_column].to_numpy(),
                    name=self.peer_column,
                    index=pd.Index(scored["unit_id"].astype(object), name="unit_id"),
                )
            result = calibrate(
                fw,
                self.stages.get("raw"),
                scored,
                treated,
                rolled=self.stages.get("rolled"),
                peer_groups=groups,
                mode=self.settings.calibration,
            )
            self.stages.update(result.stages)
            treated = self._record("calibrated", result.values, mode=self.settings.calibration)

        breaches = self._thresholds(self.stages["treated"], indicators)
        self.stages["breaches"] = breaches
        let_go("treated")

        normalised = self._normalise(treated, indicators, units)
        del treated
        let_go("calibrated", "oriented")
        zeroed = breaches[breaches["consequence"] == "zero"]
        lo = fw.normalisation.range[0]
        for indicator, breached in zeroed.groupby("indicator", sort=False)["unit_id"]:
            normalised.loc[breached.to_numpy(), indicator] = lo
        self._record("normalised", normalised, method=self._choice("normalisation", fw.normalisation.method))

        weights = self.stated_weights()
        aggregated = aggregate_tree(
            normalised,
            fw,
            self._choice("aggregation", fw.aggregation.method),
            weights=weights,
        )
        coverage = availability(normalised.notna(), fw, weights)
        aggregated["availability"] = coverage
        self._record("aggregated", aggregated, method=self._choice("aggregation", fw.aggregation.method))
        del normalised
        let_go("normalised")

        self.stages["imputed_cells"] = _mask_to_long(imputed_mask, "imputed")
        scores = self._finalise(aggregated, natural, breaches, units, late)
        self._record("scores", scores)
        if self.settings.compare_previous:
            self._compare_previous(before)
        let_go(*dict.keys(self.stages))
        return self

    # ------------------------------------------------------------ steps
    def _check_coverage(self, units: pd.DataFrame, months: list[str]) -> pd.Index:
        """Units with fewer months of data than required (:mod:`perfmodel.coverage`).

        Records ``stages["unit_months"]``; such units are flagged 数据不完整 and not
        graded. Raises when no unit has enough months, since nothing could be graded.
        """
        fw = self.framework
        required = required_months(fw, len(months))
        counts = self.source.months_with_data(units.index, months, fw.input_indicators())
        coverage = coverage_table(counts, len(months), required)
        self.stages["unit_months"] = coverage
        if not coverage["complete"].any():
            raise EvaluationError(
                f"no unit has data in {required} of the {len(months)} months of {period_label(self.period)} "
                f"(the most any unit has is {int(coverage['months'].max())}); evaluate a period the data "
                "cover, or declare fewer months in the framework's missing.min_months"
            )
        return coverage.index[~coverage["complete"]]

    @staticmethod
    def _indicator_values(ind: Indicator, natural: pd.DataFrame) -> pd.Series:
        if ind.kind != "points":
            if ind.id in natural.columns:
                return natural[ind.id]
            return pd.Series(np.nan, index=natural.index)
        case_points = ind.points or {}  # never empty: the framework requires points on kind 'points'
        cases = [c for c in case_points if c in natural.columns]
        if not cases:
            return pd.Series(np.nan, index=natural.index)
        counts = natural[cases]
        seen = counts.notna().any(axis=1)
        points = counts.fillna(0.0).mul(pd.Series({c: case_points[c] for c in cases})).sum(axis=1)
        return points.where(seen)

    @staticmethod
    def _denominate(
        values: pd.DataFrame, indicators: list[Indicator], units: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Values per denominator (``per`` units of a units column), and the cells that could not be divided."""
        from perfmodel.denominate import denominate, denominator_problems

        denominators = {i.id: i.denominator for i in indicators if i.denominator is not None}
        if not denominators:
            return values, pd.DataFrame()
        per = {i.id: i.per for i in indicators if i.denominator is not None}
        absent = sorted({c for c in denominators.values() if c not in units.columns})
        if absent:
            raise EvaluationError(
                f"indicators are divided by units column(s) {', '.join(absent)}, which the units table does not have"
            )
        numeric = units.assign(**{c: pd.to_numeric(units[c], errors="coerce") for c in set(denominators.values())})
        problems = denominator_problems(values, denominators, numeric)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = denominate(values, denominators, numeric, per)
        return out, problems

    def _impute(self, values: pd.DataFrame, units: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        from perfmodel.impute import impute

        fw = self.framework
        method = self._choice("imputation", fw.missing.imputation)
        groups = history = None
        if method == "group_mean":
            column = fw.missing.group or self.peer_column
            groups = units[column] if column else pd.Series(ALL_UNITS, index=units.index)
        if method == "carry_forward":
            history = []
            for age in range(1, fw.missing.max_age + 1):
                earlier = Evaluation(
                    fw,
                    self.source,
                    self.units,
                    previous(self.period, age),
                    replace(self.settings, imputation="none", compare_previous=False),
                )
                try:
                    history.append(earlier._history_values())
                except EvaluationError:
                    history.append(pd.DataFrame(index=values.index, columns=values.columns, dtype=float))
        result = impute(values, method, groups=groups, history=history or (), max_age=fw.missing.max_age)
        self.stages["imputation_log"] = result.log
        return result.values, result.imputed

    def _history_values(self) -> pd.DataFrame:
        units = self.scored_units
        months = [str(m) for m in months_in(self.period)]
        if not self.source.count_rows(units.index, months):
            raise EvaluationError("no data")
        natural = self.source.rolled_values(units.index, self.framework.rollup_kinds(), self.period)
        values = pd.DataFrame({i.id: self._indicator_values(i, natural) for i in self.framework.indicators()})
        return self._denominate(values, self.framework.indicators(), units)[0]

    def _treat(self, values: pd.DataFrame) -> pd.DataFrame:
        from perfmodel.treat import treat

        fw = self.framework
        if not self._choice("winsorise", fw.treatment.winsorise):
            return values
        if fw.treatment.log:
            columns = list(values.columns)
            result = treat(
                values,
                skew_threshold=fw.treatment.skew,
                kurtosis_threshold=fw.treatment.kurtosis,
                max_points=fw.treatment.max_points,
                log_fallback=True,
                columns=columns,
            )
        else:
            result = treat(
                values,
                skew_threshold=fw.treatment.skew,
                kurtosis_threshold=fw.treatment.kurtosis,
                max_points=fw.treatment.max_points,
            )
        self.stages["treatment_log"] = result.log
        return result.values

    @staticmethod
    def _thresholds(values: pd.DataFrame, indicators: list[Indicator]) -> pd.DataFrame:
        rows = []
        for ind in indicators:
            if ind.threshold is None:
                continue
            column = values[ind.id]
            hits = ind.threshold.breached_where(column.to_numpy(dtype=float, na_value=np.nan))
            for unit_id, value in column[hits].items():
                rows.append(
                    {
                        "unit_id": unit_id,
                        "indicator": ind.id,
                        "name": ind.name.zh,
                        "value": value,
                        "min": ind.threshold.min,
                        "max": ind.threshold.max,
                        "consequence": ind.threshold.consequence,
                        "grade_cap": ind.threshold.grade_cap,
                    }
                )
        columns = ["unit_id", "indicator", "name", "value", "min", "max", "consequence", "grade_cap"]
        return pd.DataFrame(rows, columns=columns)

    def _normalise(self, values: pd.DataFrame, indicators: list[Indicator], units: pd.DataFrame) -> pd.DataFrame:
        fw = self.framework
        method = self._choice("normalisation", fw.normalisation.method)
        directions = {i.id: i.direction for i in indicators}
        targets = {i.id: i.target for i in indicators if i.target is not None}
        oriented = orient(values, directions, targets)
        self.stages["oriented"] = oriented
        lo, hi = fw.normalisation.range
        within = fw.normalisation.within
        if within is not None and within not in units.columns:
            raise EvaluationError(f"normalisation.within column {within!r} is not in the units table")
        groups = units[within] if within else None
        goalposts = None
        if method == "goalposts":
            lacking = [i.id for i in indicators if i.goalposts is None]
            if lacking:
                raise EvaluationError(f"normalisation 'goalposts' needs goalposts on: {', '.join(lacking)}")
            goalposts = {
                i.id: orient_bounds(*i.goalposts, i.direction, i.target) for i in indicators if i.goalposts is not None
            }
            groups = None
        oriented_targets = None
        if method == "target":
            oriented_targets = {
                i.id: (0.0 if i.direction == "target" else (-i.target if i.direction == "lower" else i.target))
                for i in indicators
                if i.target is not None
            }
        return normalise(oriented, method, lo=lo, hi=hi, groups=groups, goalposts=goalposts, targets=oriented_targets)

    def stated_weights(self) -> dict[str, float]:
        """Node weights as this evaluation applies them (:func:`perfmodel.weights.stated_weights`).

        The framework's weights, temporary indicators outside their validity window
        at zero (R6), the ``weights`` setting on top.
        """
        months = [str(m) for m in months_in(self.period)]
        return stated_weights(self.framework, self.settings.weights, months)

    # ------------------------------------------------------------ after aggregation
    def _finalise(
        self,
        aggregated: pd.DataFrame,
        natural: pd.DataFrame,
        breaches: pd.DataFrame,
        units: pd.DataFrame,
        late: pd.Series | None,
    ) -> pd.DataFrame:
        """Turn the aggregated scores into the scores table: every rule after aggregation.

        The per-unit inputs of the rules are gathered step by step into one
        :class:`~perfmodel.scoring.ScoringRules` (kept as :attr:`scoring_rules`),
        and :func:`perfmodel.scoring.score_draws` applies them to the composite
        — the same engine the uncertainty analysis runs on thousands of weight
        draws. The steps, in order:

        1. :meth:`_usable_units` — enough months and enough weight observed;
        2. :meth:`_difficulty` — the difficulty coefficient and its cap;
        3. :meth:`_bonus` — bonus points;
        4. :meth:`_negative_list` — deductions and grade caps of negative-list hits;
        5. :meth:`_hard_threshold_caps` — grade caps of breached hard thresholds;
        6. :meth:`_grading_groups` — the groups ranks and quotas apply within;
        7. :meth:`_tie_break_keys` — the keys that decide quota ties;
        8. the engine: adjusted score, bonus, deductions, ranks, grades, caps;
        9. :meth:`_record_scoring_flags` — non-finite scores and quota ties;
        10. :meth:`_late_reports` — rows reported late;
        11. :meth:`_scores_table` — one row per unit.

        Flags are recorded in ``stages["flags"]`` (:mod:`perfmodel.flags`),
        reasons a unit was not graded and quota-tie decisions in
        ``stages["grading_notes"]``.

        Parameters
        ----------
        aggregated
            ``stages["aggregated"]``: node scores, ``score`` and ``availability`` per unit.
        natural
            The period's rolled-up values in natural units (counts of bonus and
            negative-list indicators among them).
        breaches
            ``stages["breaches"]``: hard thresholds breached.
        units
            The scored units, indexed by unit id.
        late
            Rows marked late per unit in the period (``None``: the data do not say).

        Returns
        -------
        pandas.DataFrame
            The scores table (:attr:`scores`), sorted by peer group and rank.
        """
        flags = FlagLog()
        notes: list[tuple[str, str, str]] = []  # (unit_id, code, detail): why a unit was not graded, ties
        usable = self._usable_units(aggregated, units, flags, notes)
        coefficient, difficulty_cap = self._difficulty(units, flags)
        bonus = self._bonus(natural, units)
        deduction, caps, hits = self._negative_list(natural, units, flags)
        caps = self._hard_threshold_caps(breaches, caps, flags)
        rank_labels, grade_labels = self._grading_groups(units)
        grading = self.framework.grading
        rules = ScoringRules(
            units=units.index,
            usable=usable.to_numpy(dtype=bool),
            coefficient=coefficient.to_numpy(dtype=float),
            difficulty_cap=difficulty_cap,
            bonus=bonus.to_numpy(dtype=float),
            deduction=deduction.to_numpy(dtype=float),
            grade_cap=caps.to_numpy(dtype=np.int8),
            negative_hits=hits.to_numpy(dtype=float),
            rank_groups=tuple(group_indices(rank_labels)),
            grade_groups=tuple(group_indices(grade_labels, len(units))),
            method=self._choice("grading", grading.method),
            cutoffs=dict(grading.cutoffs),
            quotas=dict(grading.quotas),
            tie_break=tuple(grading.tie_break),
        )
        self.scoring_rules = rules
        keys = self._tie_break_keys(aggregated, rules) if rules.method == "quota" else None
        scored = score_draws(aggregated["score"].to_numpy(dtype=float)[None, :], rules, keys)
        self._record_scoring_flags(scored, rules, flags, notes)
        self.stages["grading_notes"] = pd.DataFrame(notes, columns=["unit_id", "code", "detail"])
        self._late_reports(late, units, flags)
        self.stages["flags"] = flags.frame(release=True)  # the log is emptied: not held beside the table
        return self._scores_table(scored, aggregated, units, rank_labels, usable, coefficient, bonus, deduction)

    def _usable_units(
        self, aggregated: pd.DataFrame, units: pd.DataFrame, flags: FlagLog, notes: list[tuple[str, str, str]]
    ) -> pd.Series:
        """Units that may be scored: enough months of data and enough of their weight observed.

        A unit with fewer months than :func:`perfmodel.coverage.required_months`
        (``stages["unit_months"]``) is flagged ``incomplete_data``; one whose
        observed share of weight (``availability``) is below
        ``missing.min_availability`` is flagged ``low_availability``. Neither is
        ranked or graded; both keep their row in the scores table.

        Returns
        -------
        pandas.Series
            Boolean per unit (index: unit ids).
        """
        min_avail = self.framework.missing.min_availability
        coverage = self.stages["unit_months"].reindex(units.index)
        complete = coverage["complete"].fillna(True).astype(bool)
        available = aggregated["availability"] >= min_avail - 1e-12
        for unit_id, row in coverage[~complete].iterrows():
            months, of, required = int(row["months"]), int(row["of"]), int(row["required"])
            flags.add(unit_id, INCOMPLETE, count=months, of=of, limit=required)
            notes.append((unit_id, INCOMPLETE, f"{months}/{of} months, {required} required"))
        for unit_id in units.index[~available & complete]:
            share = aggregated.loc[unit_id, "availability"]
            flags.add(unit_id, "low_availability", value=share, limit=min_avail)
            notes.append((unit_id, "low_availability", f"{share:.0%}"))
        return available & complete

    def _difficulty(self, units: pd.DataFrame, flags: FlagLog) -> tuple[pd.Series, float | None]:
        """Each unit's difficulty coefficient (framework ``difficulty``) and the cap after it.

        The coefficient of the unit's class multiplies its composite; a class
        without a coefficient gets 1 and the flag ``no_difficulty_coefficient``.
        With calibration the coefficients are not applied (1 for all): calibrated
        values already compare each unit with what its context predicts, and a
        declared class coefficient as well would count it twice.

        Returns
        -------
        (coefficient, cap)
            Coefficient per unit, and the upper limit of the adjusted composite
            (``difficulty.cap``, ``None`` when there is none or no coefficient applies).

        Raises
        ------
        EvaluationError
            When ``difficulty.by`` is not a units-table column.
        """
        difficulty = self.framework.difficulty
        if difficulty is None or self.settings.calibration != "none":
            return pd.Series(1.0, index=units.index), None
        by = difficulty.by
        if by not in units.columns:
            raise EvaluationError(f"difficulty.by column {by!r} is not in the units table")
        mapped = units[by].map(difficulty.coefficients)
        for unit_id in mapped.index[mapped.isna()]:
            flags.add(unit_id, "no_difficulty_coefficient", item=str(units.loc[unit_id, by]))
        return mapped.fillna(1.0).astype(float), difficulty.cap

    def _bonus(self, natural: pd.DataFrame, units: pd.DataFrame) -> pd.Series:
        """Bonus points per unit: each bonus item's count × points, capped per item, summed."""
        bonus = pd.Series(0.0, index=units.index)
        for item in self.framework.bonus:
            points = _counts(natural, item.indicator) * item.points_per_unit
            if item.cap is not None:
                points = points.clip(upper=item.cap)
            bonus += points
        return bonus

    def _negative_list(
        self, natural: pd.DataFrame, units: pd.DataFrame, flags: FlagLog
    ) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Deductions, grade caps and hit counts of the framework's negative list.

        Every item recorded for a unit is flagged ``negative_list`` (item id and
        count) and listed in ``stages["negative_hits"]``; a ``deduct`` item takes
        ``points`` per hit off the score, a ``grade_cap`` item caps the grade, a
        ``warning`` item only warns.

        Returns
        -------
        (deduction, grade_cap, hits)
            Points deducted, the code of the best grade allowed
            (:data:`perfmodel.grading.NO_CAP` for none) and the summed hit
            counts (the ``fewer_negative_hits`` tie-break), per unit.
        """
        deduction = pd.Series(0.0, index=units.index)
        caps = pd.Series(NO_CAP, index=units.index, dtype=np.int8)
        hits = pd.Series(0.0, index=units.index)
        parts: list[dict[str, Any]] = []
        for item in self.framework.negative_list:
            count = _counts(natural, item.indicator)
            hits += count
            hit = count[count > 0]
            n = hit.to_numpy(dtype=float)
            with np.errstate(over="ignore"):
                deducted = n * item.points if item.consequence == "deduct" else np.zeros(len(hit))
            if len(hit):
                parts.append(
                    {
                        "unit_id": hit.index,  # text array: no Python string per hit
                        "item": np.full(len(hit), item.id, dtype=object),
                        "name": np.full(len(hit), item.name.zh, dtype=object),
                        "count": n,
                        "consequence": np.full(len(hit), item.consequence, dtype=object),
                        "points": deducted.astype(float),
                        "grade_cap": np.full(len(hit), item.grade_cap, dtype=object),
                    }
                )
                flags.extend(hit.index, "negative_list", item=item.id, count=n)
            if item.consequence == "deduct":
                deduction += count * item.points
            if item.consequence == "grade_cap":
                caps = _tighter_cap(caps, count.index[count > 0], item.grade_cap)
        columns = ["unit_id", "item", "name", "count", "consequence", "points", "grade_cap"]
        self.stages["negative_hits"] = (
            pd.DataFrame(
                {"unit_id": pd.concat([pd.Series(part["unit_id"], copy=False) for part in parts], ignore_index=True)}
                | {c: np.concatenate([part[c] for part in parts]) for c in columns[1:]}
            )
            if parts
            else pd.DataFrame([], columns=columns)
        )
        return deduction, caps, hits

    def _hard_threshold_caps(self, breaches: pd.DataFrame, caps: pd.Series, flags: FlagLog) -> pd.Series:
        """Grade caps of breached hard thresholds (``stages["breaches"]``), on top of ``caps``.

        Every breach is flagged ``hard_threshold`` (indicator id and value). A
        ``zero`` breach already set the indicator to the bottom of the range
        before aggregation; a ``grade_cap`` breach caps the grade here.
        """
        indicator, names = pd.factorize(breaches["indicator"])  # one text object per indicator, not per breach
        flags.extend(
            pd.Index(breaches["unit_id"]),
            "hard_threshold",
            item=np.asarray(names, dtype=object)[indicator],
            value=breaches["value"].to_numpy(dtype=float),
        )
        capping = breaches[breaches["consequence"] == "grade_cap"]
        for grade, rows in capping.groupby("grade_cap", sort=False):  # the worse of two caps holds: order is free
            caps = _tighter_cap(caps, list(rows["unit_id"]), str(grade))
        return caps

    def _grading_groups(self, units: pd.DataFrame) -> tuple[pd.Series, pd.Series | None]:
        """The groups ranks are given within (peer groups) and the groups quotas apply within.

        Ranks: the peer group (``Settings.peer_group`` or the framework's), one
        group :data:`~perfmodel.groups.ALL_UNITS` without. Quotas: the
        framework's ``grading.within`` column, unless ``Settings.peer_group``
        overrides it; ``None`` means one group of all units.
        """
        peer = units[self.peer_column] if self.peer_column else pd.Series(ALL_UNITS, index=units.index)
        within = self.framework.grading.within
        grade_groups = units[within] if within in units.columns else None
        if self.settings.peer_group is not None:
            grade_groups = peer if self.peer_column else None
        return peer, grade_groups

    def _tie_break_keys(self, aggregated: pd.DataFrame, rules: ScoringRules) -> np.ndarray:
        """The ``grading.tie_break`` keys of every unit (keys × 1 draw × units), higher is better.

        ``heaviest_dimension`` reads the top-level node of the largest stated
        weight (``Settings.weights`` over the framework's), ``dimension:<id>``
        that node's score, ``fewer_negative_hits`` the summed negative-list counts.

        Raises
        ------
        FrameworkError
            When ``dimension:<id>`` names no node of the tree.
        """
        top = {
            node.id: np.array([self.settings.weights.get(node.id, node.weight)], dtype=float)
            for node in self.framework.tree
        }
        nodes = {c: aggregated[c].to_numpy(dtype=float)[None, :] for c in aggregated.columns}
        return tie_break_key_draws(rules.tie_break, nodes, top, rules.negative_hits)

    def _record_scoring_flags(
        self, scored: ScoredDraws, rules: ScoringRules, flags: FlagLog, notes: list[tuple[str, str, str]]
    ) -> None:
        """Flag what the engine decided: non-finite scores, quota ties broken or lowered."""
        units = rules.units
        total = scored.total[0]
        for k in np.flatnonzero(rules.usable & ~np.isfinite(total)):
            flags.add(units[k], "non_finite_score", value=total[k])
            notes.append((units[k], "non_finite_score", str(total[k])))
        chain = "、".join(rules.tie_break) or "无"
        for k in np.flatnonzero(scored.tie_broken[0]):
            flags.add(units[k], "quota_tie_broken")
            notes.append((units[k], "quota_tie_broken", chain))
        for k in np.flatnonzero(scored.tie_lowered[0]):
            flags.add(units[k], "quota_tie_lowered")
            notes.append((units[k], "quota_tie_lowered", GRADE_CODES[scored.grade[0, k]]))

    @staticmethod
    def _late_reports(late: pd.Series | None, units: pd.DataFrame, flags: FlagLog) -> None:
        """Flag ``late_reports`` (with the count) for units with rows marked late in the period.

        ``late``: rows marked late per unit (:meth:`~perfmodel.source.ObservationSource.late_counts`).
        """
        if late is None:
            return
        late = late[(late > 0).to_numpy() & among(late.index, units.index)]
        flags.extend(late.index, "late_reports", count=late.to_numpy(dtype=float))

    def _scores_table(
        self,
        scored: ScoredDraws,
        aggregated: pd.DataFrame,
        units: pd.DataFrame,
        peer: pd.Series,
        usable: pd.Series,
        coefficient: pd.Series,
        bonus: pd.Series,
        deduction: pd.Series,
    ) -> pd.DataFrame:
        """One row per unit: score, ranks, grade, top-level scores, the parts of the score, flags.

        ``flags`` holds each unit's flag codes (:func:`perfmodel.flags.flag_codes`);
        :func:`perfmodel.flags.flag_text` gives them in words.
        """
        index = units.index
        columns: dict[str, Any] = {
            "unit_id": pd.Series(index, index=index),
            "name": units["name"] if "name" in units.columns else pd.Series(index, index=index),
            "period": pd.Series(period_label(self.period), index=index),
            "peer_group": peer.astype(str),
            "score": pd.Series(scored.score[0], index=index),
            "rank": pd.Series(scored.rank[0], index=index),
            "rank_overall": pd.Series(rank_draws(scored.score, None)[0], index=index),
            "grade": pd.Series(np.asarray(GRADE_CODES, dtype=object)[scored.grade[0]], index=index),
        }
        for dim in [n.id for n in self.framework.tree]:
            columns[dim] = aggregated[dim]
        columns["raw_score"] = aggregated["score"].where(usable)
        columns["difficulty"] = coefficient
        columns["bonus"] = bonus
        columns["deduction"] = deduction
        columns["availability"] = aggregated["availability"]
        columns["flags"] = pd.Series(flag_codes(self.stages["flags"], index), index=index)
        return _sorted_table(columns, index, by=["peer_group", "rank", "unit_id"])

    def _previous_evaluation(self, slim: bool = False) -> Evaluation | None:
        """The previous period's evaluation, run and slimmed (:meth:`release_stages`); ``None`` without its data.

        It keeps :data:`PREVIOUS_KEPT_STAGES`, or only :data:`PREVIOUS_SLIM_STAGES` when
        ``slim`` (this run keeps only some stages); the others are let go as its run
        passes them and computed again when first read.
        """
        before = Evaluation(
            self.framework,
            self.source,
            self.units,
            previous(self.period),
            replace(self.settings, compare_previous=False),
        )
        try:
            before.run(keep=PREVIOUS_SLIM_STAGES if slim else PREVIOUS_KEPT_STAGES)
        except EvaluationError:
            return None
        return before

    def release_stages(self, keep: Iterable[str]) -> None:
        """Free the memory of every stage but ``keep``; a released stage is computed again when first read.

        The first read of a released stage runs the same evaluation again (same
        framework, source, units, period and settings, so the same values) and
        takes its stages from that run. The previous period's evaluation
        (:attr:`previous`) is kept this way: its scores and flags at hand, the
        rest — most of its memory at national scale — only when an analysis asks.

        Parameters
        ----------
        keep
            Names of the stages to keep in memory.
        """
        self._stage_releaser(keep)(*dict.keys(self.stages))

    def _stage_releaser(self, keep: Iterable[str] | None) -> Callable[..., None]:
        """A function that lets go of the named stages, but those in ``keep`` (all, when ``keep`` is None).

        A stage let go is computed again when first read; the first such read runs
        the evaluation again (:meth:`regen`, no change) and every later one takes
        its stage from that same run.
        """
        if keep is None:
            return lambda *keys: None
        kept = set(keep)
        again: list[Evaluation] = []

        def loader(key: str) -> Callable[[], Any]:
            def load() -> Any:
                if not again:
                    again.append(self.regen())  # no change: the same evaluation, run anew
                return again[0].stages[key]

            return load

        def let_go(*keys: str) -> None:
            for key in keys:
                if key not in kept and key in self.stages and not self.stages.is_later(key):
                    self.stages.later(key, loader(key))

        return let_go

    def _compare_previous(self, before: Evaluation | None) -> None:
        scores = self.stages["scores"]
        if before is None:
            scores["previous_rank"] = np.nan
            scores["rank_change"] = np.nan
            scores["previous_grade"] = None
            return
        self.previous = before
        prev = before.scores.set_index("unit_id")
        scores["previous_rank"] = scores["unit_id"].map(prev["rank"])
        scores["rank_change"] = scores["previous_rank"] - scores["rank"]
        scores["previous_grade"] = scores["unit_id"].map(prev["grade"])

    # ------------------------------------------------------------ results
    @property
    def scores(self) -> pd.DataFrame:
        """One row per unit: score, rank (within peer group), grade, dimensions, flags.

        ``flags`` holds codes joined by ``"; "`` (``negative_list:<item>; late_reports``);
        ``stages["flags"]`` has one row per flag with its details, and
        :func:`perfmodel.flags.flag_text` / :func:`perfmodel.flags.with_flag_text`
        put them into words in Chinese or English.
        """
        if "scores" not in self.stages:
            raise EvaluationError("the evaluation has not been run; call run() first")
        return self.stages["scores"]

    def grade_counts(self) -> pd.DataFrame:
        """Units per peer group and grade."""
        table = pd.crosstab(self.scores["peer_group"], self.scores["grade"])
        order = [g for g in (*GRADES, NOT_GRADED) if g in table.columns]
        return table[order]

    def key_figures(self) -> dict[str, Any]:
        """Key numbers of the run as a dict, for logs, JSON and the CLI.

        ``framework``, ``period`` (label), ``units``, ``scored``, ``observations_used``,
        ``quarantined_rows``, ``grades`` (grade → units) and ``grading_notes`` (code → units).
        """
        scores = self.scores
        return {
            "framework": self.framework.id,
            "period": period_label(self.period),
            "units": len(scores),
            "scored": int(scores["score"].notna().sum()),
            "observations_used": self._n_used,
            "quarantined_rows": len(self.quarantine),
            "grades": scores["grade"].value_counts().to_dict(),
            # units not graded (incomplete_data, low_availability, non_finite_score) and quota-tie decisions
            "grading_notes": self.stages["grading_notes"].groupby("code")["unit_id"].nunique().to_dict(),
        }

    def summary(self) -> str:
        """The run in a few readable lines (framework, period, units scored, grades, quarantine)."""
        k = self.key_figures()
        lines = [
            f"Evaluation {k['framework']} {k['period']}",
            f"  units {k['units']}, scored {k['scored']}, from {k['observations_used']} observations "
            f"({k['quarantined_rows']} input rows quarantined)",
            "  grades: " + (", ".join(f"{g} {n}" for g, n in k["grades"].items()) or "none"),
        ]
        if k["grading_notes"]:
            lines.append(
                "  not graded or decided by note: " + ", ".join(f"{code} {n}" for code, n in k["grading_notes"].items())
            )
        settings = {name: value for name, value in self.settings.to_dict().items() if value not in (None, {}, False)}
        lines.append("  settings: " + (", ".join(f"{n}={v}" for n, v in settings.items()) or "framework defaults"))
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The main table: score, rank and grade per unit (a copy of :attr:`scores`)."""
        return self.scores.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table: ``scores``, ``grade_counts`` and ``quarantine`` (rows rejected by validation)."""
        return {"scores": self.to_frame(), "grade_counts": self.grade_counts(), "quarantine": self.quarantine.copy()}

    def parameters(self) -> dict[str, Any]:
        """Everything that determines the result besides the data."""
        return {
            "framework": self.framework.id,
            "framework_version": self.framework.version,
            "period": period_label(self.period),
            "settings": self.settings.to_dict(),
        }


def _check_covariates(fw: Framework, units: pd.DataFrame) -> None:
    """Refuse calibration covariates that are neither units columns nor known context.

    A covariate of the units-table contract or derived from it (``log_workload`` …)
    that this units file lacks is only dropped, with a log entry, by the calibration;
    any other name is a misspelling and stops the evaluation before anything runs.
    """
    import difflib

    from perfmodel.calibrate.peers import DERIVED_CONTEXT
    from perfmodel.columns import CONTEXT_COLUMNS

    known = [*map(str, units.columns), *DERIVED_CONTEXT, *CONTEXT_COLUMNS]
    for name in fw.calibration.covariates:
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(dict.fromkeys(known)), n=1, cutoff=0.6)
        raise EvaluationError(
            f"framework {fw.id!r}: calibration covariate {name!r} is neither a units-table column "
            f"nor a derived context column"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; units columns: {', '.join(map(str, units.columns))}; derived: {', '.join(DERIVED_CONTEXT)}. "
            "Fix calibration.covariates in the framework or add the column to the units file."
        )


def _counts(natural: pd.DataFrame, indicator: str) -> pd.Series:
    """Period counts of a bonus or negative-list indicator; absent means none recorded."""
    if indicator not in natural.columns:
        return pd.Series(0.0, index=natural.index)
    return natural[indicator].fillna(0.0)


def _tighter_cap(caps: pd.Series, unit_ids: Sequence[str] | pd.Index, grade: str | None) -> pd.Series:
    """``caps`` with the cap ``grade`` added for ``unit_ids`` (the worse of two caps holds)."""
    if grade is None or not len(unit_ids):
        return caps
    out = caps
    code = GRADES.index(grade)
    at = out.index.get_indexer(pd.Index(unit_ids).unique())
    if (at < 0).any():
        raise KeyError(f"units not among the scored units: {list(pd.Index(unit_ids)[at < 0])}")
    values = out.to_numpy().copy()
    values[at] = np.maximum(values[at], code)
    return pd.Series(values, index=out.index, dtype=out.dtype, name=out.name)


def _sorted_table(columns: dict[str, Any], index: pd.Index, by: list[str]) -> pd.DataFrame:
    """The frame of ``columns`` (each aligned on ``index``) sorted by ``by`` (missing last), indexed 0 … n−1.

    The same table as building the frame and calling ``sort_values(by, na_position="last")``
    and ``reset_index(drop=True)``, without holding the unsorted frame beside the sorted one:
    each column is put in order and let go of in turn (``columns`` is emptied).
    """
    aligned = {name: column.reindex(index) for name, column in columns.items()}  # as a frame on index aligns
    columns.clear()
    keys = pd.DataFrame({key: aligned[key] for key in by}).reset_index(drop=True)
    order = keys.sort_values(by, na_position="last").index.to_numpy()
    del keys
    return pd.DataFrame({name: aligned.pop(name).take(order).reset_index(drop=True) for name in list(aligned)})


def _mask_to_long(mask: pd.DataFrame, name: str) -> pd.DataFrame:
    stacked = mask.stack()
    stacked = stacked[stacked]
    return stacked.reset_index().rename(columns={"level_0": "unit_id", "level_1": "indicator", 0: name})


def evaluate(
    framework: Framework | str | Path,
    observations: pd.DataFrame,
    units: pd.DataFrame,
    period: str,
    **settings: Any,
) -> Evaluation:
    """Run an evaluation on clean frames with optional settings overrides."""
    return Evaluation(framework, observations, units, period, Settings(**settings)).run()


def read_evaluation_inputs(
    framework: Framework | str | Path,
    observations: str | Path,
    units: str | Path,
    *,
    sheet: int | str | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
    period: str | None = None,
    as_source: bool = False,
) -> tuple[Framework, Any, pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Read and validate the input files once, for one or several evaluations.

    ``engine`` reads and validates the observations: 'duckdb' (the columnar core,
    :mod:`perfmodel.engine.validate`, within ``memory_limit`` such as '4GB'; default a
    share of RAM), 'pandas', or 'auto' (DuckDB for large files and for folders). Both
    give the same rows. ``observations`` may be a folder of Parquet files partitioned
    by ``month=YYYY-MM`` (as ``perfmodel sample --format parquet`` writes) or a pattern
    (DuckDB only): with ``period``, only the files and rows of its months are read, and
    only they count as input (:func:`perfmodel.engine.validate.partition_files`).
    With ``as_source`` and the engine, the clean observations stay in DuckDB and come
    back as an :class:`~perfmodel.engine.source.EngineSource` (for :class:`Evaluation`;
    only unit-level tables reach pandas); otherwise as a frame.

    Returns
    -------
    (framework, observations, units, quarantine, n_input)
        The loaded framework, the clean observations (a frame, or with ``as_source`` an
        :class:`~perfmodel.source.ObservationSource`) and units, the rows rejected
        by validation (both files, one table) and the number of input rows per file.

    Raises
    ------
    EvaluationError
        When a file lacks a required column, so that no row of it can be used.
    OptionError
        When the arguments come in the old order ``(observations, units, framework)``.
    """
    from perfmodel.engine.validate import is_partitioned, read_inputs_engine, read_inputs_source, use_engine
    from perfmodel.periods import months_in
    from perfmodel.validation import read_inputs, resolve_input_order

    fw = resolve_input_order(framework, observations, units, caller="read_evaluation_inputs")
    clean: Any = None
    if use_engine(observations, engine):
        months = None  # a single file is read whole: rows of other periods count as input, as with pandas
        if period is not None and is_partitioned(observations):
            months = [str(m) for m in months_in(period)]
        if as_source:
            clean, obs_result, units_result = read_inputs_source(
                fw, observations, units, sheet=sheet, months=months, memory_limit=memory_limit
            )
        else:
            obs_result, units_result = read_inputs_engine(
                fw, observations, units, sheet=sheet, months=months, memory_limit=memory_limit
            )
    else:
        obs_result, units_result = read_inputs(fw, observations, units, sheet=sheet)
    for result in (units_result, obs_result):  # a missing required column rejects every row
        rejected = result.quarantine
        if not len(rejected):  # an empty quarantine may lack the reason column
            continue
        missing = rejected[rejected["reason"] == "missing_column"]
        if len(missing):
            raise EvaluationError(f"{missing['message'].iloc[0]}; no row of the file can be used")
    accepted = clean.indicator_counts() if clean is not None else obs_result.data["indicator"]
    check_data_fits_framework(fw, accepted, obs_result.quarantine, observations)
    if clean is None:
        clean = obs_result.data
    parts = [q for q in (units_result.quarantine, obs_result.quarantine) if len(q)]
    quarantine = pd.concat(parts, ignore_index=True) if parts else obs_result.quarantine
    n_input = {"observations": obs_result.n_input, "units": units_result.n_input}
    return fw, clean, units_result.data, quarantine, n_input


MISFIT_SHARE = 0.5
"""A file fits another framework when more than this share of its rows name indicators the
framework does not use *and* it holds less than this share of the framework's input ids."""


def check_data_fits_framework(
    fw: Framework, accepted: pd.Series | Mapping[str, int], quarantine: pd.DataFrame, source: str | Path
) -> None:
    """Stop when an observations file was collected for another framework.

    Such a file scores no unit, or a few on a handful of indicators, and fails later with
    errors that do not say why. A file that merely carries some extra indicators, or lacks
    some, passes.

    Parameters
    ----------
    fw
        The framework asked for.
    accepted
        The ``indicator`` column of the rows validation accepted, or their number per
        indicator (a mapping, as a columnar source counts them).
    quarantine
        The rows validation rejected (reason ``unknown_indicator`` for foreign indicators).
    source
        The observations file, named in the message.

    Raises
    ------
    EvaluationError
        Naming the file, the framework, how many rows and indicators fit, and the shipped
        frameworks whose indicators the file holds.
    """
    from perfmodel.framework import shipped_frameworks

    foreign = quarantine.loc[quarantine["reason"] == "unknown_indicator", "indicator"] if len(quarantine) else []
    expected = set(fw.input_indicators())
    if isinstance(accepted, Mapping):  # rows per indicator, as a columnar source counts them
        rows = sum(int(n) for n in accepted.values()) + len(quarantine)
        held = expected & {str(i) for i, n in accepted.items() if n}
    else:
        rows = len(accepted) + len(quarantine)
        held = expected & set(accepted.astype(str))
    if len(foreign) <= MISFIT_SHARE * rows or len(held) >= MISFIT_SHARE * len(expected):
        return
    ids = held | set(pd.Series(foreign).astype(str))
    fitting = [
        fid
        for fid, path in shipped_frameworks().items()
        if fid != fw.id and ids <= set(load_framework(path).input_indicators())
    ]
    raise EvaluationError(
        f"observations file {source} does not fit framework {fw.id!r}: {len(foreign)} of its {rows} rows "
        f"name indicators the framework does not use, and it holds {len(held)} of the framework's "
        f"{len(expected)} indicators"
        + (f"; its indicators are those of framework {' / '.join(map(repr, fitting))}" if fitting else ""),
        "pass the framework the data were collected for (--framework), or this framework's observations "
        f"(see 'perfmodel frameworks show {fw.id}' for its indicator ids)",
    )


def evaluate_files(
    framework: Framework | str | Path,
    observations: str | Path,
    units: str | Path,
    period: str,
    *,
    sheet: int | str | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
    keep: Iterable[str] | None = None,
    **settings: Any,
) -> Evaluation:
    """Read and validate the input files, then run the evaluation.

    Rows rejected by validation are kept in :attr:`Evaluation.quarantine`. ``engine`` and
    ``memory_limit``: see :func:`read_evaluation_inputs` (the scores are the same).
    ``keep``: the stages held in memory, see :meth:`Evaluation.run` (default: all).
    ``sheet`` picks one sheet of an observations workbook (default: all). The arguments
    come in the house order ``(framework, observations, units, period)``; the old order
    ``(observations, units, framework, period)`` raises :class:`~perfmodel.errors.OptionError`.
    """
    from perfmodel.validation import resolve_input_order

    fw = resolve_input_order(framework, observations, units, caller="evaluate_files")
    fw, clean_observations, clean_units, quarantine, n_input = read_evaluation_inputs(
        fw, observations, units, sheet=sheet, engine=engine, memory_limit=memory_limit, period=period, as_source=True
    )
    ev = Evaluation(
        fw,
        clean_observations,
        clean_units,
        period,
        Settings(**settings),
        quarantine=quarantine,
        inputs={"observations": Path(observations), "units": Path(units)},
    )
    ev.n_input = n_input
    progress.step("scoring", framework=fw.id, period=period)
    return ev.run(keep)
