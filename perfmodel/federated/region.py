"""The region side of a federated comparison: it keeps its rows and answers with aggregates.

A :class:`Region` holds one bureau's or province's clean observations and units
table. The coordinator (:mod:`perfmodel.federated.compare`) never reads them: it
calls the region's methods, each of which returns one of the message objects of
:mod:`perfmodel.federated.messages` (sums over rows, never rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import patsy

from perfmodel.calibrate.casemix import CaseMixModel
from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.federated.messages import GlmContribution, RegionInventory, UnitIndicatorStatistics, UnitTotals
from perfmodel.framework import Framework, Indicator, load_framework
from perfmodel.periods import months_in
from perfmodel.rollup import roll_up

__all__ = ["CaseMixSpec", "Region", "RegionError", "family_for", "glm_rows"]

Family = Literal["binomial", "poisson", "gaussian", "gamma"]

REGION_COLUMN = "region"
"""Column of the case-mix rows holding the region's name (``C(region)`` is the region effect)."""

_Y, _W = "__y", "__w"


class RegionError(PerfmodelError, ValueError):
    """A region's data cannot take part in the comparison; the message says why."""


def family_for(indicator: Indicator) -> Family:
    """GLM family of an indicator's case-mix model, from its kind.

    Rates with numerator and denominator: binomial (logit link, trials as variance
    weights, as :class:`~perfmodel.calibrate.casemix.CaseMixModel` with
    ``denominator=``); counts: Poisson (log link); durations: gamma (log link);
    scores: gaussian (identity link).
    """
    return {"rate": "binomial", "count": "poisson", "duration": "gamma"}.get(indicator.kind, "gaussian")  # type: ignore[return-value]


@dataclass(frozen=True)
class CaseMixSpec:
    """The case-mix model of one indicator, the same in every region.

    Attributes
    ----------
    indicator
        Indicator id.
    terms
        Right-hand side of the formula over units-table columns, e.g.
        ``"C(area_type) + np.log(incident_volume / officers)"``; ``"1"`` for none.
        Stateful transforms (``center``, ``standardize``, ``scale``) are refused:
        they would learn from each region's rows separately.
    family
        GLM family (:func:`family_for` gives the default for the indicator's kind).
    region_effects
        ``"fixed"`` adds ``C(region)`` to the terms; ``"none"`` leaves it out.
    """

    indicator: str
    terms: str
    family: Family
    region_effects: Literal["fixed", "none"] = "fixed"

    @property
    def rhs(self) -> str:
        """The formula's right-hand side as the model uses it."""
        terms = self.terms.strip() or "1"
        if self.region_effects == "fixed":
            return f"C({REGION_COLUMN})" if terms == "1" else f"C({REGION_COLUMN}) + {terms}"
        return terms

    def glm_family(self) -> Any:
        """The statsmodels family object (same links as :class:`CaseMixModel`)."""
        return CaseMixModel("y ~ 1", self.family)._family()


def glm_rows(
    observations: pd.DataFrame,
    units: pd.DataFrame,
    period: str,
    indicator: str,
    *,
    family: Family,
    region: str,
) -> pd.DataFrame:
    """The rows a case-mix GLM of ``indicator`` is fitted on, with the units' context.

    One row per observation row of the indicator in ``period`` (a rater's row for
    rated scores): the outcome ``__y`` (the proportion numerator/denominator for
    binomial, else the value), its variance weight ``__w`` (the denominator for
    binomial, else 1), ``unit_id``, every units-table column and ``region``.
    Rows a family cannot use (no denominator for binomial, a value <= 0 for
    gamma) are left out.
    """
    months = {str(m) for m in months_in(period)}
    obs = observations[(observations["indicator"] == indicator) & observations["period"].astype(str).isin(months)]
    if family == "binomial":
        den = pd.to_numeric(obs["denominator"], errors="coerce")
        num = pd.to_numeric(obs["numerator"], errors="coerce")
        keep = num.notna() & (den > 0)
        y, w = (num / den)[keep], den[keep]
    else:
        value = pd.to_numeric(obs["value"], errors="coerce")
        keep = value.notna() & ((value > 0) if family == "gamma" else True)
        y, w = value[keep], pd.Series(1.0, index=value.index)[keep]
    rows = pd.DataFrame(
        {"unit_id": obs.loc[keep, "unit_id"].astype(str).to_numpy(), _Y: y.to_numpy(float), _W: w.to_numpy(float)}
    )
    context = units.drop_duplicates("unit_id").assign(unit_id=lambda f: f["unit_id"].astype(str))
    context = context.drop(columns=[c for c in (REGION_COLUMN, _Y, _W) if c in context.columns])
    rows = rows.merge(context, on="unit_id", how="inner", validate="many_to_one")
    rows[REGION_COLUMN] = region
    return rows


_STATEFUL = ("center(", "standardize(", "scale(")


class Region:
    """One region's data, private to it; the coordinator sees only what its methods return.

    Parameters
    ----------
    name
        The region's name (used as its level of ``C(region)``).
    framework
        The shared framework (id, YAML path or object).
    observations
        The region's clean observations (:data:`perfmodel.simulate.OBSERVATION_COLUMNS`).
    units
        The region's units table; units of the framework's level are compared.
    period
        The evaluation period (``2025Q2``, ``2025``…).
    """

    def __init__(
        self,
        name: str,
        framework: Framework | str | Path,
        observations: pd.DataFrame,
        units: pd.DataFrame,
        period: str,
    ) -> None:
        self.name = str(name)
        self.framework = framework if isinstance(framework, Framework) else load_framework(framework)
        self.period = str(period)
        level = self.framework.level
        units = units.copy()
        units["unit_id"] = units["unit_id"].astype(str)
        if "level" in units.columns:
            units = units[units["level"].astype(str) == level]
        role = self.framework.role
        if role is not None and "role" in units.columns:  # as Evaluation.scored_units
            units = units[units["role"].astype(str) == role]
        if units.empty:
            raise RegionError(
                f"region {self.name!r} has no units of level {level!r}"
                + (f" and role {role!r}" if role else "")
                + f" for {self.framework.id!r}"
            )
        self._units = units.reset_index(drop=True)
        obs = observations.copy()
        obs["unit_id"] = obs["unit_id"].astype(str)
        obs["period"] = obs["period"].astype(str)
        self._observations = obs[obs["unit_id"].isin(set(self._units["unit_id"]))].reset_index(drop=True)
        self._rows: dict[tuple[str, str], pd.DataFrame] = {}
        self._designs: dict[tuple[Any, ...], tuple[np.ndarray, pd.DataFrame]] = {}
        if self._observations.empty:
            raise RegionError(f"region {self.name!r} has no observations of its {level} units")

    @classmethod
    def from_files(
        cls,
        name: str,
        framework: Framework | str | Path,
        observations: str | Path,
        units: str | Path,
        period: str,
    ) -> Region:
        """Read and validate a region's files (:func:`perfmodel.evaluation.read_evaluation_inputs`)."""
        from perfmodel.evaluation import read_evaluation_inputs

        fw, obs, unit_table, _, _ = read_evaluation_inputs(framework, observations, units)
        return cls(name, fw, obs, unit_table, period)

    # -- private rows (never sent) -------------------------------------------------------
    def rows(self, spec: CaseMixSpec) -> pd.DataFrame:
        """The region's case-mix rows of ``spec.indicator`` (:func:`glm_rows`); they stay here."""
        key = (spec.indicator, spec.family)
        if key not in self._rows:
            self._rows[key] = self._glm_rows(spec)
        return self._rows[key].copy()

    def _glm_rows(self, spec: CaseMixSpec) -> pd.DataFrame:
        return glm_rows(
            self._observations,
            self._units,
            self.period,
            spec.indicator,
            family=spec.family,
            region=self.name,
        )

    def _design(self, spec: CaseMixSpec, design: patsy.DesignInfo) -> tuple[np.ndarray, pd.DataFrame]:
        key = (spec, tuple(design.column_names))
        if key in self._designs:
            return self._designs[key]
        rows = self.rows(spec)
        for column in categorical_columns(spec.rhs, rows):
            rows[column] = rows[column].astype(str).astype(object)
        X = np.asarray(patsy.build_design_matrices([design], rows, NA_action="raise")[0], dtype=float)
        self._designs = {key: (X, rows)}  # the model being fitted; one at a time
        return X, rows

    # -- messages ------------------------------------------------------------------------
    def inventory(self, specs: Sequence[CaseMixSpec]) -> RegionInventory:
        """Number of units, data rows per indicator and the levels of categorical context columns."""
        rows: dict[str, int] = {}
        levels: dict[str, set[str]] = {}
        for spec in specs:
            if any(s in spec.rhs for s in _STATEFUL):
                raise OptionError(
                    f"case-mix terms {spec.terms!r} use a stateful transform; "
                    "write the transformation out (e.g. np.log(x)) so every region applies the same one"
                )
            frame = self.rows(spec)
            rows[spec.indicator] = len(frame)
            for column in categorical_columns(spec.rhs, frame):
                levels.setdefault(column, set()).update(frame[column].astype(str).unique())
        return RegionInventory(
            region=self.name,
            n_units=len(self._units),
            rows=rows,
            levels={k: tuple(sorted(v)) for k, v in sorted(levels.items())},
        )

    def statistics(self) -> UnitIndicatorStatistics:
        """Per unit and indicator: months present, rows, Σ value, Σ value², Σ numerator, Σ denominator, period value."""
        obs = self._observations
        months = {str(m) for m in months_in(self.period)}
        obs = obs[obs["period"].isin(months)]
        rolled = roll_up(obs, self.framework.rollup_kinds(), self.period)
        value = pd.to_numeric(obs["value"], errors="coerce")
        sums = (
            obs.assign(_v=value, _v2=value**2)
            .groupby(["unit_id", "indicator"], sort=True)
            .agg(n_rows=("_v", "size"), sum_value=("_v", "sum"), sum_squares=("_v2", "sum"))
            .reset_index()
        )
        table = rolled[["unit_id", "indicator", "months_present", "numerator", "denominator", "value"]].merge(
            sums, on=["unit_id", "indicator"], how="left"
        )
        columns = [
            "unit_id",
            "indicator",
            "months_present",
            "n_rows",
            "sum_value",
            "sum_squares",
            "numerator",
            "denominator",
            "value",
        ]
        return UnitIndicatorStatistics(region=self.name, table=table[columns].reset_index(drop=True))

    def glm_contribution(
        self, spec: CaseMixSpec, design: patsy.DesignInfo, beta: np.ndarray | None, iteration: int
    ) -> GlmContribution:
        """Score vector and information matrix of the region's rows at ``beta``.

        ``beta=None`` is the start of IRLS: the working response comes from the
        family's starting means (as in statsmodels), and U = XᵀWz.
        """
        X, rows = self._design(spec, design)
        fam = spec.glm_family()
        y, w = rows[_Y].to_numpy(float), rows[_W].to_numpy(float)
        if beta is None:
            mu = fam.starting_mu(y)
            eta = fam.predict(mu)
            offset = eta
        else:
            eta = X @ beta
            mu = fam.fitted(eta)
            offset = np.zeros_like(eta)  # z − Xβ = g'(μ)(y − μ)
        deriv = fam.link.deriv(mu)
        weights = w / (deriv**2 * fam.variance(mu))
        working = offset + deriv * (y - mu)
        return GlmContribution(
            region=self.name,
            indicator=spec.indicator,
            iteration=iteration,
            score=X.T @ (weights * working),
            information=(X * weights[:, None]).T @ X,
            deviance=float(fam.deviance(y, mu, var_weights=w)),
            pearson_chi2=float(np.sum(w * (y - mu) ** 2 / fam.variance(mu))),
            n_rows=int(len(y)),
        )

    def unit_totals(self, spec: CaseMixSpec, design: patsy.DesignInfo, beta: np.ndarray) -> UnitTotals:
        """Observed and expected totals per unit at ``beta``, their model variance and ∂E/∂β."""
        X, rows = self._design(spec, design)
        fam = spec.glm_family()
        y, w = rows[_Y].to_numpy(float), rows[_W].to_numpy(float)
        mu = fam.fitted(X @ beta)
        dmu = 1.0 / fam.link.deriv(mu)
        codes, ids = pd.factorize(rows["unit_id"], sort=True)
        n = len(ids)

        def per_unit(values: np.ndarray) -> np.ndarray:
            return np.bincount(codes, weights=values, minlength=n)

        jacobian = np.zeros((n, X.shape[1]))
        np.add.at(jacobian, codes, X * (w * dmu)[:, None])
        return UnitTotals(
            region=self.name,
            indicator=spec.indicator,
            unit_id=np.asarray(ids, dtype=object),
            observed=per_unit(w * y),
            expected=per_unit(w * mu),
            variance=per_unit(w * fam.variance(mu)),
            weight=per_unit(w),
            jacobian=jacobian,
        )


def categorical_columns(rhs: str, frame: pd.DataFrame) -> list[str]:
    """Columns of ``frame`` named in ``rhs`` inside ``C(…)`` or holding text."""
    names = set(re.findall(r"[^\W\d]\w*", rhs, re.UNICODE))
    wrapped = set(re.findall(r"C\(\s*([^\W\d]\w*)", rhs, re.UNICODE))
    out = []
    for column in frame.columns:
        if not isinstance(column, str) or column not in names:
            continue
        if column in wrapped or not pd.api.types.is_numeric_dtype(frame[column]):
            out.append(column)
    return sorted(out)
