"""Difficulty coefficients (难度系数, R4): declared per class and estimated from data.

The seeds ask for station classes (一类/二类/三类) by jurisdiction population and
incident volume, each with a difficulty coefficient that multiplies the score.
Declared coefficients are step functions: a station with one resident more than
the class threshold jumps to the next coefficient (a cliff edge), while two
very different stations inside a class get the same one.

The model-based alternative here is smooth: the composite score is regressed
on continuous context (a :class:`~perfmodel.calibrate.casemix.CaseMixModel`,
Gaussian by default) and each unit's **expected score** is the score an average
unit would get in its context. The **implied coefficient** is

``implied = overall mean score / expected score``

so that ``score x implied`` is the indirectly standardised score: above 1 for
units whose context predicts a low score, below 1 for easy contexts. It is on
the same multiplicative scale as the declared coefficients and can be set side
by side with them (:func:`difficulty_table`, :func:`class_coefficients`).

The declared class column (``difficulty.by``) is never a covariate, so there is
no jump at class boundaries. Note that the expected score absorbs every
difference that goes with context, including real performance differences that
happen to be associated with it; see the calibration notes in the docs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from perfmodel.calibrate.casemix import CaseMixModel
from perfmodel.calibrate.peers import context_frame
from perfmodel.errors import OptionError
from perfmodel.framework import Framework

__all__ = [
    "DEFAULT_DIFFICULTY_COVARIATES",
    "class_coefficients",
    "declared_difficulty",
    "difficulty_table",
    "expected_scores",
    "model_formula",
    "r2_on_context",
]

DEFAULT_DIFFICULTY_COVARIATES: tuple[str, ...] = ("log_workload", "log_population", "log_incident_rate")

NO_COVARIATES = (
    "no context covariates are available for the difficulty model; declare them in the "
    "framework's calibration.covariates or pass covariates=."
)
MISSING_COVARIATE = (
    "covariate {column!r} is not in the units table nor a derived context column "
    "(log_population, workload_per_officer, log_workload, incidents_per_1000, log_incident_rate, "
    "officers_per_10000); fix calibration.covariates in the framework or add the column."
)


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def model_formula(outcome: str, covariates: Sequence[str], data: pd.DataFrame) -> str:
    """``outcome ~ a + C(b) + …``: text and boolean covariates become categories.

    Covariates that are constant in ``data`` are left out (they carry no
    information and would make the model singular).
    """
    terms = []
    for column in covariates:
        if column not in data.columns:
            raise OptionError(MISSING_COVARIATE.format(column=column))
        values = data[column].dropna()
        if values.nunique() < 2:
            continue
        terms.append(f"C({column})" if _is_categorical(data[column]) else column)
    return f"{outcome} ~ " + (" + ".join(terms) if terms else "1")


MIN_CONTEXT_UNITS = 20
"""A regression of a score on context needs at least this many units with complete context data …"""

CONTEXT_UNITS_PER_TERM = 10
"""… and at least this many per term of the regression (a text variable has one term per level but one)."""


def context_units_needed(terms: int) -> int:
    """Units a regression of a score on context with ``terms`` terms needs.

    Below it an R² mostly measures how few the units are (with as many terms as
    units less one it is 100 % whatever the scores), so perfmodel does not report one.

    >>> context_units_needed(1), context_units_needed(4)
    (20, 40)
    """
    return max(MIN_CONTEXT_UNITS, CONTEXT_UNITS_PER_TERM * terms)


class TooFewUnitsError(OptionError):
    """Too few units with complete context data for a model of the score on context.

    Attributes ``n`` (units), ``terms`` (regression terms) and ``needed``
    (:func:`context_units_needed`) say what the data have and what it would take.
    """

    def __init__(self, n: int, terms: int) -> None:
        self.n, self.terms, self.needed = n, terms, context_units_needed(terms)
        super().__init__(
            f"{n} units with complete context data for {terms} context term(s); a model of the score on "
            f"context needs at least {self.needed} (at least {MIN_CONTEXT_UNITS}, and {CONTEXT_UNITS_PER_TERM} "
            "per term)",
            hint="add units (a larger area or period) or use fewer context columns",
        )


def _design_terms(formula: str, data: pd.DataFrame) -> int:
    """Terms of a least-squares design (columns of the model matrix but the intercept), without fitting it."""
    import statsmodels.formula.api as smf

    return int(smf.ols(formula, data=data).exog.shape[1]) - 1


def r2_on_context(
    scores: pd.Series, units: pd.DataFrame, covariates: Sequence[str], *, minimum: bool = True
) -> dict[str, float]:
    """How much of a score its context explains: R² of the score regressed on context by least squares.

    The one home of "R² on context": the quarterly report's calibration
    paragraph and the truth-recovery studies both use it.

    Parameters
    ----------
    scores : pandas.Series
        Score per unit id.
    units : pandas.DataFrame
        Units table with ``unit_id``; the derived context columns of
        :func:`~perfmodel.calibrate.peers.context_frame` are added.
    covariates : sequence of str
        Context columns; text and boolean columns enter as categories, columns
        constant over the units with a score are left out.
    minimum : bool
        Apply :func:`context_units_needed` (default). A study that compares the
        R² of several scores of the same units with each other (the
        truth-recovery studies, which also report the adjusted R²) may turn it off.

    Returns
    -------
    dict
        ``r2``, ``adj_r2``, ``n`` (units with a score and every covariate),
        ``n_params`` (coefficients, intercept included) and ``needed``
        (:func:`context_units_needed` for its terms). With fewer than ``needed``
        units the model is not fitted and ``r2``/``adj_r2`` are NaN.
    """
    import statsmodels.formula.api as smf

    context = context_frame(units)
    if "unit_id" in context.columns:
        context.index = pd.Index(context["unit_id"].astype(object), name="unit_id")
    data = context.assign(_score=scores.reindex(context.index).astype(float))
    data = data.dropna(subset=["_score", *covariates])
    model = smf.ols(model_formula("_score", covariates, data), data=data)
    n_params = int(model.exog.shape[1])
    out: dict[str, float] = {
        "r2": float("nan"),
        "adj_r2": float("nan"),
        "n": int(model.nobs),
        "n_params": n_params,
        "needed": context_units_needed(n_params - 1),
    }
    if out["n"] >= out["needed"] or not minimum:
        fit = model.fit()
        out.update(r2=float(fit.rsquared), adj_r2=float(fit.rsquared_adj))
    return out


def declared_difficulty(framework: Framework, units: pd.DataFrame) -> pd.Series:
    """The declared difficulty coefficient of every unit (index ``unit_id``).

    1 for every unit when the framework declares no difficulty; missing for a
    unit whose class has no coefficient (the evaluation uses 1 and flags it).
    """
    ids = units["unit_id"].astype(object).to_numpy() if "unit_id" in units.columns else units.index
    if framework.difficulty is None:
        return pd.Series(1.0, index=pd.Index(ids, name="unit_id"), name="declared_coefficient")
    by = framework.difficulty.by
    if by not in units.columns:
        raise OptionError(
            f"difficulty.by column {by!r} of framework {framework.id!r} is not in the units table; "
            f"available: {list(units.columns)}"
        )
    mapped = units[by].astype(object).map(framework.difficulty.coefficients).astype(float)
    return pd.Series(mapped.to_numpy(), index=pd.Index(ids, name="unit_id"), name="declared_coefficient")


def expected_scores(
    scores: pd.Series,
    units: pd.DataFrame,
    covariates: Sequence[str],
    family: Literal["gaussian", "gamma"] = "gaussian",
) -> tuple[pd.DataFrame, CaseMixModel]:
    """Model-based expected score of every unit given its context.

    Parameters
    ----------
    scores : pandas.Series
        Score per unit id (e.g. ``ev.scores.set_index("unit_id")["raw_score"]``).
    units : pandas.DataFrame
        Units table (derived context columns are added by
        :func:`~perfmodel.calibrate.peers.context_frame`).
    covariates : sequence of str
        Context columns; text columns enter as categories.
    family : {"gaussian", "gamma"}
        Identity-link linear model, or gamma with log link (multiplicative
        context effects; scores must be > 0).

    Returns
    -------
    (table, model)
        ``table``: ``unit_id``, ``observed``, ``expected``, ``implied_coefficient``
        (overall mean / expected), ``standardised`` (observed x implied); units
        with a missing score or covariate are left out. ``model``: the fitted
        :class:`CaseMixModel`.

    Raises
    ------
    TooFewUnitsError
        Fewer units with a score and every covariate than
        :func:`context_units_needed` asks for the model's terms.
    """
    if not covariates:
        raise OptionError(NO_COVARIATES)
    context = context_frame(units)
    ids = context["unit_id"].astype(object) if "unit_id" in context.columns else context.index
    context.index = pd.Index(ids, name="unit_id")
    data = context.assign(score=scores.reindex(context.index).astype(float))
    for column in covariates:
        if column not in data.columns:
            raise OptionError(MISSING_COVARIATE.format(column=column))
    data = data.dropna(subset=["score", *covariates])
    formula = model_formula("score", covariates, data)
    terms = _design_terms(formula, data)
    if len(data) < context_units_needed(terms):
        raise TooFewUnitsError(len(data), terms)
    model = CaseMixModel(formula, family=family).fit(data)
    expected = model.predict(data)
    overall = float(data["score"].mean())
    implied = overall / expected
    table = pd.DataFrame(
        {
            "unit_id": data.index.to_numpy(),
            "observed": data["score"].to_numpy(),
            "expected": expected.to_numpy(),
            "implied_coefficient": implied.to_numpy(),
            "standardised": (data["score"] * implied).to_numpy(),
        }
    )
    return table, model


def difficulty_table(
    framework: Framework,
    units: pd.DataFrame,
    scores: pd.Series,
    covariates: Sequence[str] | None = None,
    *,
    family: Literal["gaussian", "gamma"] = "gaussian",
) -> pd.DataFrame:
    """Declared and model-based difficulty side by side, one row per unit.

    Parameters
    ----------
    framework : Framework
        Declares the difficulty classes and coefficients and the calibration covariates.
    units : pandas.DataFrame
        Units table of the scored units (``ev.scored_units``).
    scores : pandas.Series
        Score per unit id to model, normally the weighted score before
        difficulty, bonus and deductions
        (``ev.scores.set_index("unit_id")["raw_score"]`` of an evaluation run
        with ``calibration="none"``, so that the score still carries its context).
    covariates : sequence of str, optional
        Continuous context; default the framework's ``calibration.covariates``
        without the declared class column (``difficulty.by``), or
        :data:`DEFAULT_DIFFICULTY_COVARIATES` when the framework declares none.
    family : {"gaussian", "gamma"}

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``name``, ``class`` (the declared class, when the framework
        declares difficulty), ``declared_coefficient``, ``score``,
        ``expected_score``, ``implied_coefficient``, ``workload_per_officer``,
        ``population``; sorted by implied coefficient (hardest context first).
    """
    fw = framework
    by = fw.difficulty.by if fw.difficulty is not None else None
    if covariates is None:
        covariates = tuple(c for c in fw.calibration.covariates if c != by)
        if not covariates:
            context = context_frame(units)
            covariates = tuple(c for c in DEFAULT_DIFFICULTY_COVARIATES if c in context.columns)
    table, _ = expected_scores(scores, units, covariates, family=family)
    table = table.set_index("unit_id")
    context = context_frame(units)
    context.index = pd.Index(context["unit_id"].astype(object), name="unit_id")
    out = pd.DataFrame(index=context.index)
    out["name"] = context["name"] if "name" in context.columns else out.index
    if by is not None:
        out["class"] = context[by]
    out["declared_coefficient"] = declared_difficulty(fw, units).reindex(out.index)
    out["score"] = scores.reindex(out.index)
    out["expected_score"] = table["expected"]
    out["implied_coefficient"] = table["implied_coefficient"]
    for column in ("workload_per_officer", "population"):
        if column in context.columns:
            out[column] = context[column]
    out = out.sort_values(["implied_coefficient"], ascending=False, na_position="last")
    return out.reset_index()


def class_coefficients(table: pd.DataFrame, by: str = "class") -> pd.DataFrame:
    """Per declared class: the declared coefficient and the spread of implied ones.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`difficulty_table`.
    by : str
        Class column.

    Returns
    -------
    pandas.DataFrame
        ``<by>``, ``n_units``, ``declared_coefficient``, ``implied_mean``,
        ``implied_min``, ``implied_max``. A wide min–max range inside a class is
        what the declared step function cannot express.
    """
    if by not in table.columns:
        raise OptionError(
            f"column {by!r} is not in the table; the framework declares no difficulty classes, "
            "so there is nothing to compare per class."
        )
    grouped = table.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "n_units": grouped.size(),
            "declared_coefficient": grouped["declared_coefficient"].first(),
            "implied_mean": grouped["implied_coefficient"].mean(),
            "implied_min": grouped["implied_coefficient"].min(),
            "implied_max": grouped["implied_coefficient"].max(),
        }
    )
    return out.rename_axis(by).reset_index().replace([np.inf, -np.inf], np.nan)
