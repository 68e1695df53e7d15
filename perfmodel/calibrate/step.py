"""Calibration step of the evaluation: case-mix, small-numbers shrinkage and rater leniency.

:func:`calibrate` is called by :meth:`perfmodel.evaluation.Evaluation.run` when
``Settings.calibration`` is not ``"none"``. It is a pure function of values: the
framework, the period's clean observations (for rater calibration), the units
table, the treated indicator values (wide, natural units), the rolled-up
numerators and denominators and the peer group of each unit. It returns the
calibrated values in the same units, plus tidy tables the evaluation keeps in
``ev.stages``. The truth-recovery studies that evaluate simulated cases live in
:mod:`perfmodel.calibrate.truth` (an analysis, a layer above the evaluation).

Modes
-----
``casemix``
    Every indicator is compared with what a unit *in its context* is expected
    to show. A GLM per indicator (:class:`~perfmodel.calibrate.casemix.CaseMixModel`)
    is fitted on the units of the evaluation with the framework's
    ``calibration.covariates`` (units-table columns or the derived context of
    :func:`~perfmodel.calibrate.peers.context_frame`; text columns enter as
    categories; ``calibration.formulas`` gives an indicator its own right-hand
    side):

    * rate with numerator/denominator — binomial with extra-binomial weights;
      adjusted on the logit scale (see below);
    * rate in [0, 1] without counts — binomial (fractional logit); logit scale;
    * other rate (e.g. a relative change) — gaussian; observed − expected + mean;
    * count, points — poisson with negative-binomial weights and a
      log(denominator) offset when the indicator declares a denominator;
      observed / expected x mean;
    * duration — gamma with log link; observed / expected x mean;
    * score, rating — gaussian; observed − expected + mean.

    Units differ in performance far more than binomial or Poisson noise, so
    with plain GLM weights (trials, expected counts) the few largest units
    would dominate the context coefficients. Rates are therefore fitted with
    Williams' (1982) extra-binomial weights ``n / (1 + (n − 1) rho)`` and counts
    with negative-binomial weights ``1 / (1 + alpha mu)``, ``rho`` and
    ``alpha`` estimated by moments from the Pearson residuals (column
    ``overdispersion`` of ``casemix_models``); with no excess variation they
    reduce to the ordinary fits.

    For log-link families the adjusted value is the indirectly standardised
    value ``O/E x overall``. For rates it is the same comparison made on the
    model's own (logit) scale, ``expit(logit(observed) − logit(expected) +
    logit(overall))``, because ``O/E x overall`` of a rate near 100 % can exceed
    1 and compresses differences in the failures that matter (pass
    ``rate_scale="ratio"`` for the classical ``O/E x overall``). The
    ``casemix`` stage keeps observed, expected, O/E, ``standardised``
    (O/E x overall) and the adjusted value for every unit × indicator.
``full``
    ``casemix``, preceded by rater calibration of multi-rater scores
    (:mod:`~perfmodel.calibrate.raters`: each unit's value minus the mean
    leniency of the raters it had; crossed random effects with statsmodels
    MixedLM, or two-way fixed effects when raters + ratees exceed 600) and
    followed by empirical-Bayes shrinkage of
    rates with numerators and denominators
    (:class:`~perfmodel.calibrate.shrinkage.BetaBinomialShrinkage`, one prior per
    peer group): the case-mix adjusted rate times the unit's denominator is
    shrunk towards its peer group's mean in proportion to how few cases it rests
    on. Either step is skipped when the framework sets ``calibration.raters`` or
    ``calibration.shrinkage`` to false.

Preventable and non-preventable cases (R5)
------------------------------------------
Indicators marked ``preventable: false`` (cases a station cannot control, such
as roving offenders) are case-mix adjusted like every other indicator and keep
the (already reduced) weight the framework gives them. ``nonpreventable="exclude"``
removes them from the score instead (their value becomes missing and the
aggregation re-spreads their weight); listing an indicator in
``calibration.exclude`` leaves it unadjusted.

Nothing is skipped silently: an indicator left unadjusted (excluded, too few
units, no variation, model failure), units without context, and every fallback
are recorded in the ``calibration_log`` stage and logged with :mod:`logging`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from perfmodel import progress
from perfmodel.calibrate.casemix import CaseMixModel, Family
from perfmodel.calibrate.difficulty import model_formula
from perfmodel.calibrate.peers import DERIVED_CONTEXT, context_frame
from perfmodel.calibrate.raters import (
    RaterModel,
    calibrate_ratings,
    central_tendency,
    halo,
    rated_indicators,
    self_enhancement,
)
from perfmodel.calibrate.reliability import icc_from_components, krippendorff_alpha, ratings_matrix
from perfmodel.calibrate.shrinkage import BetaBinomialShrinkage
from perfmodel.columns import CONTEXT_COLUMNS
from perfmodel.errors import OptionError, check_lang
from perfmodel.framework import Framework, Indicator
from perfmodel.groups import ALL_UNITS
from perfmodel.text import has_message, say

__all__ = [
    "CASEMIX_COLUMNS",
    "DEFAULT_COVARIATES",
    "MIN_CASEMIX_UNITS",
    "MODES",
    "UNITS_CONTEXT",
    "CalibrationResult",
    "calibrate",
    "calibrate_values",
    "calibration_reason",
    "indicator_family",
]

logger = logging.getLogger("perfmodel.calibrate")

MODES: tuple[str, ...] = ("casemix", "full")
UNITS_CONTEXT: tuple[str, ...] = CONTEXT_COLUMNS
"""Context columns of the units-table contract: a covariate among them (or derived from them)
that a units file lacks is dropped with a log entry; any other unknown name is an error."""
DEFAULT_COVARIATES: tuple[str, ...] = ("log_workload", "log_population", "area_type")
MIN_CASEMIX_UNITS = 10
"""A case-mix model of an indicator needs this many units with a value and complete context
(and three per model parameter); below it the indicator keeps its raw values, logged."""
"""Used, with a logged note, when the framework declares no ``calibration.covariates``."""

CASEMIX_COLUMNS = [
    "unit_id",
    "indicator",
    "family",
    "observed",
    "expected",
    "ratio",
    "standardised",
    "adjusted",
    "difference",
    "std_residual",
    "denominator",
    "in_fit",
]
MODEL_COLUMNS = [
    "indicator",
    "family",
    "formula",
    "exposure",
    "n",
    "n_params",
    "dispersion",
    "overdispersion",
    "deviance",
    "overall",
    "adjusted_scale",
    "preventable",
    "summary",
]
LOG_COLUMNS = ["indicator", "step", "action", "n_units", "reason", "code", "detail"]
"""Columns of the ``calibration_log`` stage. ``reason`` is the sentence in English; ``code``
(a key of ``reason.calibration`` in the catalogue) and ``detail`` (its placeholder values as a
JSON object) say it in any language: :func:`calibration_reason`."""
REASON_SECTION = "reason.calibration"
SHRINK_COLUMNS = [
    "unit_id",
    "indicator",
    "group",
    "numerator",
    "denominator",
    "raw",
    "shrunk",
    "prior_mean",
    "reliability",
    "lower",
    "upper",
]
RELIABILITY_COLUMNS = ["indicator", "measure", "estimate", "n_targets", "n_raters", "parameter", "note"]
"""Columns of the ``reliability`` stage. ``parameter`` is the number the measure's note names (k raters
per unit-month of ``icc_agreement_k``, the smallest reliability of ``shrinkage_reliability_median``);
``note`` is an English gloss of ``measure`` (reports take the words from the catalogue,
``report.reliability.*``)."""

BAD_MODE = "calibration mode {mode!r} is not valid; use one of {allowed} (or 'none' in Settings)."
_EPS = 1e-6


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes
    ----------
    values : pandas.DataFrame
        Calibrated indicator values: same index and columns as the input, natural units.
    stages : dict of str to pandas.DataFrame
        ``casemix``, ``casemix_models``, ``casemix_coefficients``, ``shrinkage``,
        ``rater_effects``, ``rater_central_tendency``, ``rater_halo``,
        ``self_enhancement``, ``reliability`` and ``calibration_log``.
    models : dict
        Indicator id → fitted :class:`~perfmodel.calibrate.casemix.CaseMixModel`.
    rater_models : dict
        Indicator id → fitted :class:`~perfmodel.calibrate.raters.RaterModel`.
    mode : str
    """

    values: pd.DataFrame
    stages: dict[str, pd.DataFrame]
    models: dict[str, CaseMixModel] = field(default_factory=dict)
    rater_models: dict[str, RaterModel] = field(default_factory=dict)
    mode: str = "casemix"

    @property
    def log(self) -> pd.DataFrame:
        """The ``calibration_log`` stage: what was adjusted, skipped or excluded, and why."""
        return self.stages["calibration_log"]


def calibration_reason(code: str, detail: str | Mapping[str, Any] | None, lang: str = "zh") -> str:
    """The sentence of a ``calibration_log`` row in ``lang``, from its ``code`` and ``detail``.

    Parameters
    ----------
    code
        The row's ``code``: a key of the ``reason.calibration`` block of the catalogue.
    detail
        The row's ``detail``: the placeholder values, as the JSON object the stage
        holds or as a mapping; ``None`` or empty when the message has none.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        The filled message. Model names, formulas and the text of a fitting error are
        data and stay as recorded; an indicator kind is said in ``lang``.

    Examples
    --------
    >>> calibration_reason("too_few_units", '{"n": 6, "min_units": 10}', "en")
    'only 6 unit(s) with a value and complete context; at least 10 are needed'
    """
    check_lang(lang)
    values = dict(json.loads(detail) if isinstance(detail, str) else detail or {})
    if "kind" in values and has_message(f"label.kind.{values['kind']}"):
        values["kind"] = say(f"label.kind.{values['kind']}", lang)
    return say(f"{REASON_SECTION}.{code}", lang, **values)


def _error_text(exc: Exception) -> str:
    """An exception raised while fitting, as data for a log row: its class and message."""
    return f"{type(exc).__name__}: {exc}"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number JSON can hold."""
    return value.item() if isinstance(value, np.generic) else str(value)


class _Log:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, indicator: str | None, step: str, action: str, code: str, n_units: int | None = None, **detail: Any
    ) -> None:
        """Record one row: ``code`` names the reason (``reason.calibration.<code>``), ``detail`` its values."""
        reason = calibration_reason(code, detail, "en")
        row = {"indicator": indicator, "step": step, "action": action, "n_units": n_units, "reason": reason}
        self.rows.append(row | {"code": code, "detail": json.dumps(detail, ensure_ascii=False, default=_plain)})
        level = logging.WARNING if action in ("skipped", "partial", "dropped", "fallback") else logging.INFO
        logger.log(level, "%s %s %s: %s", step, indicator or "", action, reason)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=LOG_COLUMNS)


# --------------------------------------------------------------------------- families
def indicator_family(indicator: Indicator, values: pd.Series, has_counts: bool) -> Family:
    """GLM family used to case-mix adjust an indicator (see the module docstring).

    Parameters
    ----------
    indicator : Indicator
        Framework indicator.
    values : pandas.Series
        Its period values (natural units).
    has_counts : bool
        Whether numerators and denominators are available.

    Returns
    -------
    str
        ``"binomial"``, ``"poisson"``, ``"gamma"`` or ``"gaussian"``.
    """
    v = values.dropna()
    if indicator.kind == "rate":
        in_unit_interval = bool(len(v)) and bool(((v >= 0) & (v <= 1)).all())
        declared = indicator.range is None or (indicator.range[0] >= 0 and indicator.range[1] <= 1)
        return "binomial" if (has_counts or (declared and in_unit_interval)) else "gaussian"
    if indicator.kind in ("count", "points"):
        return "poisson" if bool((v >= 0).all()) else "gaussian"
    if indicator.kind == "duration":
        return "gamma" if bool((v > 0).all()) else "gaussian"
    return "gaussian"


# --------------------------------------------------------------------------- case-mix
@dataclass
class _Fit:
    table: pd.DataFrame
    model: CaseMixModel
    row: dict[str, Any]


def _counts(rolled: pd.DataFrame, indicator: str, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    sub = rolled[rolled["indicator"] == indicator]
    if sub.empty or "denominator" not in sub.columns:
        empty = pd.Series(np.nan, index=index)
        return empty, empty
    sub = sub.set_index("unit_id")
    num = pd.to_numeric(sub["numerator"], errors="coerce").reindex(index)
    den = pd.to_numeric(sub["denominator"], errors="coerce").reindex(index)
    return num, den


def _adjust_binomial(
    observed: np.ndarray, expected: np.ndarray, overall: float, trials: np.ndarray, scale: str
) -> np.ndarray:
    if scale == "ratio":
        return observed / expected * overall
    # continuity at 0 % and 100 %: (x + 1/2) / (n + 1), or a small margin without counts
    n = np.where(np.isfinite(trials) & (trials > 0), trials, np.nan)
    at_edge = (observed <= 0) | (observed >= 1)
    corrected = np.where(at_edge & np.isfinite(n), (observed * n + 0.5) / (n + 1.0), np.clip(observed, 1e-3, 1 - 1e-3))
    obs = np.where(at_edge, corrected, observed)
    exp_ = np.clip(expected, _EPS, 1 - _EPS)
    ref = float(np.clip(overall, _EPS, 1 - _EPS))
    return special.expit(special.logit(obs) - special.logit(exp_) + special.logit(ref))


_MAX_ITER = 25


def _fit_binomial(formula: str, rows: pd.DataFrame) -> tuple[CaseMixModel, float]:
    """Binomial GLM with Williams' extra-binomial weights ``n / (1 + (n − 1) rho)``.

    Unit-level rates vary far more than binomial noise (the units differ in
    performance); with plain binomial weights the largest units dominate the
    fit. Williams (1982): the variance of a unit's count is
    ``n p (1 − p) (1 + (n − 1) rho)``; ``rho`` is estimated by moments from the
    Pearson residuals and the model refitted with effective trials until
    ``rho`` settles. ``rho = 0`` gives the ordinary binomial fit. The formula is
    read once: the refits use the first fit's design matrix (``design_of``).
    """
    n = rows["_n"].to_numpy(dtype=float)
    x = rows["_x"].to_numpy(dtype=float)
    p_obs = x / n
    lhs_formula = "_xeff ~ " + formula.split("~", 1)[1].strip()
    rho = 0.0
    model = first = None
    for _ in range(_MAX_ITER):
        n_eff = n / (1.0 + (n - 1.0) * rho)
        model = CaseMixModel(lhs_formula, "binomial", denominator="_neff").fit(
            rows.assign(_neff=n_eff, _xeff=p_obs * n_eff), design_of=first
        )
        first = first or model
        p_hat = np.clip(np.asarray(model.result_.fittedvalues, dtype=float), _EPS, 1 - _EPS)
        pearson = np.sum((x - n * p_hat) ** 2 / (n * p_hat * (1 - p_hat)))
        df = len(n) - len(model.result_.params)
        new = max(0.0, (pearson - df) / max(float(np.sum(n - 1.0)), _EPS))
        if abs(new - rho) <= 1e-4 * max(rho, 1e-4):
            rho = new
            break
        rho = new
    assert model is not None
    return model, rho


def _fit_poisson(formula: str, rows: pd.DataFrame, has_exposure: bool) -> tuple[CaseMixModel, float]:
    """Poisson GLM with negative-binomial (NB2) weights ``1 / (1 + alpha mu)``.

    The counts and the exposure of a unit are both multiplied by its weight,
    which leaves its expected rate unchanged and scales its contribution to
    the estimating equations; ``alpha`` is estimated by moments from the
    Pearson residuals (``Var = mu (1 + alpha mu)``) and the fit repeated until
    it settles. ``alpha = 0`` is the ordinary Poisson fit. The formula is read
    once: the refits use the first fit's design matrix (``design_of``).
    """
    y = rows["_y"].to_numpy(dtype=float)
    exposure = rows["_exposure"].to_numpy(dtype=float) if has_exposure else np.ones(len(rows))
    lhs_formula = "_yw ~ " + formula.split("~", 1)[1].strip()
    alpha = 0.0
    weight = np.ones(len(rows))
    model = first = None
    for _ in range(_MAX_ITER):
        model = CaseMixModel(lhs_formula, "poisson", exposure="_ew").fit(
            rows.assign(_yw=y * weight, _ew=exposure * weight), design_of=first
        )
        first = first or model
        mu = np.clip(model.predict(rows.assign(_ew=exposure)).to_numpy(dtype=float), _EPS, None)
        pearson = np.sum((y - mu) ** 2 / mu)
        df = len(y) - len(model.result_.params)
        new = max(0.0, (pearson - df) / max(float(np.sum(mu)), _EPS))
        weight = 1.0 / (1.0 + new * mu)
        if abs(new - alpha) <= 1e-4 * max(alpha, 1e-4):
            alpha = new
            break
        alpha = new
    assert model is not None
    return model, alpha


def _overall(family: str, rows: pd.DataFrame, has_counts: bool, has_exposure: bool) -> float:
    """Reference value of the indicator: pooled rate, count per exposure, or mean."""
    if family == "binomial" and has_counts:
        return float(rows["_x"].sum() / rows["_n"].sum())
    if family == "poisson" and has_exposure:
        return float(rows["_y"].sum() / rows["_exposure"].sum())
    return float(rows["_y"].mean())


def _fit_indicator(
    indicator: Indicator,
    y: pd.Series,
    context: pd.DataFrame,
    rolled: pd.DataFrame,
    rhs: str | Sequence[str],
    *,
    rate_scale: str,
    min_units: int,
    log: _Log,
) -> _Fit | None:
    """Fit one indicator's case-mix model; ``None`` (with a log entry) when it cannot be."""
    ind_id = indicator.id
    _, den = _counts(rolled, ind_id, y.index)
    has_counts = bool((den > 0).sum() >= min_units)
    family = indicator_family(indicator, y, has_counts)
    natural = {"rate": "binomial", "count": "poisson", "points": "poisson", "duration": "gamma"}
    if natural.get(indicator.kind, family) != family:
        log.add(
            ind_id,
            "casemix",
            "fallback",
            "kind_fallback",
            kind=indicator.kind,
            natural=natural[indicator.kind],
            family=family,
        )
    data = context.assign(_y=y.astype(float))
    covariates = list(rhs) if not isinstance(rhs, str) else []
    needed = ["_y", *covariates]
    if isinstance(rhs, str):
        names = set(re.findall(r"[^\W\d]\w*", rhs))
        needed += [c for c in context.columns if c in names]
    exposure = None
    if family == "poisson" and indicator.denominator is not None:
        if indicator.denominator not in context.columns:
            log.add(ind_id, "casemix", "skipped", "denominator_not_in_units", column=indicator.denominator)
            return None
        exposure = "_exposure"
        data["_exposure"] = pd.to_numeric(context[indicator.denominator], errors="coerce")
        data["_y"] = data["_y"] * data["_exposure"] / indicator.per
        needed.append("_exposure")
    usable = data.dropna(subset=needed)
    if exposure is not None:
        usable = usable[usable["_exposure"] > 0]
    missing_context = int(y.notna().sum() - len(usable))
    if missing_context > 0:
        log.add(
            ind_id,
            "casemix",
            "partial",
            "covariate_missing",
            missing_context,
            n=missing_context,
        )
    if family == "binomial" and has_counts:
        usable = usable.assign(_n=den.reindex(usable.index))
        fit_rows = usable[usable["_n"] > 0].copy()
        fit_rows["_x"] = (fit_rows["_y"] * fit_rows["_n"]).clip(lower=0.0, upper=fit_rows["_n"])
    else:
        fit_rows = usable.copy()
    if len(fit_rows) < min_units:
        log.add(
            ind_id,
            "casemix",
            "skipped",
            "too_few_units",
            len(fit_rows),
            n=len(fit_rows),
            min_units=min_units,
        )
        return None
    if fit_rows["_y"].nunique() < 2:
        log.add(ind_id, "casemix", "skipped", "constant_values", len(fit_rows))
        return None
    if isinstance(rhs, str):
        formula = f"_y ~ {rhs}"
    else:
        formula = model_formula("_y", covariates, fit_rows)
    try:
        if family == "binomial" and has_counts:
            model, overdispersion = _fit_binomial(formula, fit_rows)
        elif family == "poisson":
            model, overdispersion = _fit_poisson(formula, fit_rows, exposure is not None)
        else:
            model, overdispersion = CaseMixModel(formula, family).fit(fit_rows), np.nan
    except Exception as exc:  # any fitting failure leaves the indicator unadjusted, logged
        log.add(ind_id, "casemix", "skipped", "model_failed", len(fit_rows), family=family, error=_error_text(exc))
        return None
    n_params = len(model.result_.params)
    if len(fit_rows) < 3 * n_params:
        log.add(
            ind_id,
            "casemix",
            "skipped",
            "too_many_parameters",
            len(fit_rows),
            n=len(fit_rows),
            n_params=n_params,
        )
        return None

    # expected values on the indicator's scale for every usable unit
    predict_frame = usable.copy()
    if family == "binomial" and has_counts:
        predict_frame["_neff"] = 1.0  # probabilities
    if family == "poisson":
        predict_frame["_ew"] = usable["_exposure"] if exposure is not None else 1.0
    expected = model.predict(predict_frame).to_numpy(dtype=float)
    observed = usable["_y"].to_numpy(dtype=float)
    overall = _overall(family, fit_rows, has_counts, exposure is not None)
    trials = den.reindex(usable.index).to_numpy(dtype=float)
    per = indicator.per
    if exposure is not None:  # back to the indicator's units (per `per` of the denominator)
        exposure_values = usable["_exposure"].to_numpy(dtype=float)
        observed = observed / exposure_values * per
        expected = expected / exposure_values * per
        overall = overall * per
        trials = exposure_values
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, observed / expected, np.nan)
    standardised = ratio * overall
    if family == "binomial":
        adjusted = _adjust_binomial(observed, expected, overall, trials, rate_scale)
        scale = "logit" if rate_scale == "logit" else "ratio"
    elif family in ("poisson", "gamma"):
        adjusted = standardised
        scale = "ratio"
    else:
        adjusted = observed - expected + overall
        scale = "additive"
    resid = pd.Series(
        np.asarray(model.result_.resid_pearson, dtype=float) / np.sqrt(max(model.dispersion_, _EPS)),
        index=fit_rows.index,
    )
    table = pd.DataFrame(
        {
            "unit_id": usable.index.to_numpy(),
            "indicator": ind_id,
            "family": family,
            "observed": observed,
            "expected": expected,
            "ratio": ratio,
            "standardised": standardised,
            "adjusted": adjusted,
            "difference": observed - expected,
            "std_residual": resid.reindex(usable.index).to_numpy(),
            "denominator": trials,
            "in_fit": usable.index.isin(fit_rows.index),
        }
    )
    shown = f"{ind_id} ~ {formula.split('~', 1)[1].strip()}"
    row = {
        "indicator": ind_id,
        "family": family,
        "formula": shown,
        "exposure": indicator.denominator if exposure is not None else None,
        "n": model.n_obs_,
        "n_params": n_params,
        "dispersion": model.dispersion_,
        "overdispersion": overdispersion,
        "deviance": float(model.result_.deviance),
        "overall": overall,
        "adjusted_scale": scale,
        "preventable": indicator.preventable,
        "summary": model.summary(),
    }
    log.add(
        ind_id,
        "casemix",
        "adjusted",
        (
            "adjusted_extra_binomial"
            if family == "binomial" and has_counts
            else "adjusted_nb2"
            if family == "poisson"
            else "adjusted"
        ),
        len(fit_rows),
        family=family,
        formula=shown,
    )
    return _Fit(table, model, row)


def _covariates(framework: Framework, context: pd.DataFrame, override: Sequence[str] | None, log: _Log) -> list[str]:
    if override is not None:
        chosen = list(override)
    elif framework.calibration.covariates:
        chosen = list(framework.calibration.covariates)
    else:
        chosen = [c for c in DEFAULT_COVARIATES if c in context.columns]
        log.add(None, "casemix", "default", "default_covariates", framework=framework.id, covariates=", ".join(chosen))
    absent = [c for c in chosen if c not in context.columns or context[c].isna().all()]
    unknown = [c for c in absent if c not in DERIVED_CONTEXT and c not in UNITS_CONTEXT]
    if unknown:
        raise OptionError(
            f"calibration covariate(s) {unknown} are neither units-table columns nor derived context "
            f"columns; available: {sorted(map(str, context.columns))}; derived: {list(DERIVED_CONTEXT)}. "
            f"Fix calibration.covariates in framework {framework.id!r} or add the column(s) to the "
            "units file."
        )
    if absent:
        chosen = [c for c in chosen if c not in absent]
        if chosen:
            log.add(
                None, "casemix", "dropped", "covariates_dropped", absent=", ".join(absent), chosen=", ".join(chosen)
            )
        else:
            log.add(None, "casemix", "dropped", "covariates_dropped_all", absent=", ".join(absent))
    return chosen


# --------------------------------------------------------------------------- shrinkage
def _shrink(
    fit: _Fit, values: pd.Series, groups: pd.Series | None, log: _Log, min_group: int = 5
) -> tuple[pd.Series, pd.DataFrame] | None:
    table = fit.table
    ind_id = fit.row["indicator"]
    rows = table[np.isfinite(table["denominator"]) & (table["denominator"] > 0)]
    rows = rows[rows["unit_id"].map(values).notna()]
    if len(rows) < 2:
        log.add(ind_id, "shrinkage", "skipped", "shrink_too_few", len(rows))
        return None
    n = rows["denominator"].to_numpy(dtype=float)
    rate = values.reindex(rows["unit_id"]).to_numpy(dtype=float)
    data = pd.DataFrame({"unit_id": rows["unit_id"].to_numpy(), "numerator": np.clip(rate, 0, 1) * n, "denominator": n})
    column = None
    if groups is not None:
        g = groups.reindex(data["unit_id"]).astype(object).to_numpy()
        sizes = pd.Series(g).value_counts()
        if pd.isna(g).any() or (sizes < min_group).any():
            log.add(
                ind_id,
                "shrinkage",
                "pooled",
                "shrink_pooled_small_groups",
                len(data),
                min_group=min_group,
            )
        else:
            data["group"] = g
            column = "group"
    try:
        shrinker = BetaBinomialShrinkage(groups=column).fit(data)
        if column is not None and not np.isfinite(shrinker.prior_["concentration"]).all():
            pooled = BetaBinomialShrinkage().fit(data.drop(columns=[column]))
            if np.isfinite(pooled.prior_["concentration"]).all():
                degenerate = shrinker.prior_.loc[~np.isfinite(shrinker.prior_["concentration"]), "group"].tolist()
                log.add(
                    ind_id,
                    "shrinkage",
                    "pooled",
                    "shrink_pooled_degenerate",
                    len(data),
                    groups=", ".join(map(str, degenerate)),
                )
                shrinker, column = pooled, None
    except ValueError as exc:
        log.add(ind_id, "shrinkage", "skipped", "shrink_failed", len(data), error=_error_text(exc))
        return None
    out = shrinker.table_.copy()
    if column is None:
        out["group"] = ALL_UNITS
    out["indicator"] = ind_id
    if not np.isfinite(shrinker.prior_["concentration"]).all():
        log.add(
            ind_id,
            "shrinkage",
            "note",
            "shrink_no_variation",
            len(data),
        )
    log.add(
        ind_id,
        "shrinkage",
        "shrunk",
        "shrunk_by_group" if column else "shrunk_pooled",
        len(data),
        reliability=float(out["reliability"].median()),
    )
    shrunk = pd.Series(out["shrunk"].to_numpy(), index=out["unit_id"].to_numpy())
    return shrunk, out[SHRINK_COLUMNS]


# --------------------------------------------------------------------------- raters
def _rater_step(
    fw: Framework,
    raw: pd.DataFrame,
    values: pd.DataFrame,
    exclude: Sequence[str],
    method: Literal["mixedlm", "fixed", "auto"],
    log: _Log,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, RaterModel], list[dict[str, Any]]]:
    stages: dict[str, pd.DataFrame] = {}
    reliability: list[dict[str, Any]] = []
    out = values.copy()
    if raw.empty or "rater_id" not in raw.columns:
        log.add(None, "raters", "skipped", "no_rater_column")
        return out, stages, {}, reliability
    candidates = [i for i in rated_indicators(fw, raw) if i in values.columns]
    for ind in fw.indicators():
        if ind.kind == "score" and ind.is_subjective and ind.id not in candidates:
            log.add(ind.id, "raters", "skipped", "self_ratings" if ind.source == "self" else "too_few_raters")
    chosen = [i for i in candidates if i not in exclude]
    for ind_id in sorted(set(candidates) - set(chosen)):
        log.add(ind_id, "raters", "excluded", "listed_in_exclude")
    models: dict[str, RaterModel] = {}
    effects_all, diag_ct, diag_halo = [], [], []
    for ind_id in chosen:
        try:
            effects, shift, _, fitted = calibrate_ratings(raw, [ind_id], method)
        except ValueError as exc:
            log.add(ind_id, "raters", "skipped", "raters_failed", error=_error_text(exc))
            continue
        model = fitted[ind_id]
        models[ind_id] = model
        effects_all.append(effects)
        shift_by_unit = shift.set_index("unit_id")["rater_effect"]
        delta = shift_by_unit.reindex(out.index).fillna(0.0)
        out[ind_id] = out[ind_id] - delta.where(out[ind_id].notna())
        log.add(
            ind_id,
            "raters",
            "calibrated",
            "raters_calibrated" if model.converged_ else "raters_calibrated_unconverged",
            len(shift),
            method=model.method_,
            raters=len(model.effects_),
            parts=int(model.n_components_),
            sd=float(np.sqrt(model.variance_["rater"])),
        )
        ratings = raw[(raw["indicator"] == ind_id) & raw["rater_id"].notna()]
        ratings = ratings[ratings["rater_id"].astype(object) != ratings["unit_id"].astype(object)]
        k = float(ratings.groupby(["unit_id", "period"]).size().mean())
        comps = icc_from_components(model.variance_["ratee"], model.variance_["rater"], model.variance_["residual"], k)
        n_targets = int(ratings["unit_id"].nunique())
        n_raters = int(ratings["rater_id"].nunique())
        for key, parameter, note in (
            ("agreement", np.nan, "ICC(2,1)-type: one rater, leniency counts as error"),
            ("consistency", np.nan, "ICC(3,1)-type: one rater, leniency removed"),
            ("agreement_k", k, f"ICC(2,k)-type: mean of k = {k:.2f} raters per unit-month"),
        ):
            reliability.append(
                {
                    "indicator": ind_id,
                    "measure": f"icc_{key}",
                    "estimate": comps[key],
                    "n_targets": n_targets,
                    "n_raters": n_raters,
                    "parameter": parameter,
                    "note": note,
                }
            )
        matrix = ratings_matrix(ratings, target=["unit_id", "period"])
        reliability.append(
            {
                "indicator": ind_id,
                "measure": "krippendorff_alpha",
                "estimate": krippendorff_alpha(matrix),
                "n_targets": len(matrix),
                "n_raters": n_raters,
                "parameter": np.nan,
                "note": "interval metric; unit-months rated by 2+ raters",
            }
        )
        diag_ct.append(central_tendency(ratings))
        diag_halo.append(ratings)
    if effects_all:
        stages["rater_effects"] = pd.concat(effects_all, ignore_index=True)
        stages["rater_central_tendency"] = pd.concat(diag_ct, ignore_index=True)
        stages["rater_halo"] = halo(pd.concat(diag_halo, ignore_index=True))
    stages["self_enhancement"] = self_enhancement(raw, fw)
    return out, stages, models, reliability


# --------------------------------------------------------------------------- entry points
def calibrate_values(
    framework: Framework,
    values: pd.DataFrame,
    units: pd.DataFrame,
    rolled: pd.DataFrame | None = None,
    *,
    covariates: Sequence[str] | None = None,
    rate_scale: Literal["logit", "ratio"] = "logit",
    nonpreventable: Literal["adjust", "exclude"] | None = None,
    min_units: int = MIN_CASEMIX_UNITS,
) -> CalibrationResult:
    """Case-mix adjust a wide table of indicator values (the ``casemix`` mode, without an Evaluation).

    Parameters
    ----------
    framework : Framework
        Gives each indicator's kind, denominator and ``calibration`` settings.
    values : pandas.DataFrame
        Index unit ids, one column per indicator, natural units.
    units : pandas.DataFrame
        Units table with ``unit_id`` and the context columns.
    rolled : pandas.DataFrame, optional
        Long period values with ``unit_id``, ``indicator``, ``numerator``,
        ``denominator`` (``ev.stages["rolled"]``); rates without it are fitted
        as fractional-logit models.
    covariates : sequence of str, optional
        Overrides ``framework.calibration.covariates``.
    rate_scale : {"logit", "ratio"}
        Scale of the adjusted value of rates (see the module docstring).
    nonpreventable : {"adjust", "exclude"}, optional
        What happens to indicators marked ``preventable: false``; default: the
        framework's ``calibration.nonpreventable``.
    min_units : int
        Fewest units with a value and complete context for a model.

    Returns
    -------
    CalibrationResult
    """
    if rate_scale not in ("logit", "ratio"):
        raise OptionError(f"rate_scale={rate_scale!r} is not valid; use 'logit' or 'ratio'.")
    nonpreventable = nonpreventable or framework.calibration.nonpreventable
    if nonpreventable not in ("adjust", "exclude"):
        raise OptionError(f"nonpreventable={nonpreventable!r} is not valid; use 'adjust' or 'exclude'.")
    log = _Log()
    return _casemix(
        framework,
        values,
        units,
        rolled,
        covariates,
        rate_scale,
        nonpreventable,
        min_units,
        log,
        shrink_groups=None,
        shrink=False,
    )


def _casemix(
    framework: Framework,
    values: pd.DataFrame,
    units: pd.DataFrame,
    rolled: pd.DataFrame | None,
    covariates: Sequence[str] | None,
    rate_scale: str,
    nonpreventable: str,
    min_units: int,
    log: _Log,
    *,
    shrink_groups: pd.Series | None,
    shrink: bool,
) -> CalibrationResult:
    context = context_frame(units)
    if "unit_id" in context.columns:
        context.index = pd.Index(context["unit_id"].astype(object), name="unit_id")
    context = context.reindex(values.index)
    chosen = _covariates(framework, context, covariates, log)
    rolled = rolled if rolled is not None else pd.DataFrame(columns=["unit_id", "indicator"])
    cal = framework.calibration
    out = values.astype(float).copy()
    tables, rows, coefficients, shrink_tables = [], [], [], []
    models: dict[str, CaseMixModel] = {}
    indicators = framework.indicators()
    for position, ind in enumerate(indicators, start=1):
        progress.advance("calibrating", position, len(indicators), indicator=ind.id)
        if ind.id not in out.columns:
            continue
        if ind.preventable is False and nonpreventable == "exclude":
            out[ind.id] = np.nan
            log.add(
                ind.id,
                "casemix",
                "excluded",
                "nonpreventable_excluded",
            )
            continue
        if ind.id in cal.exclude:
            log.add(ind.id, "casemix", "excluded", "casemix_excluded")
            continue
        y = out[ind.id]
        if y.notna().sum() == 0:
            log.add(ind.id, "casemix", "skipped", "no_values", 0)
            continue
        rhs: str | Sequence[str] = cal.formulas.get(ind.id, chosen)
        if not rhs:
            log.add(ind.id, "casemix", "skipped", "no_covariates")
            continue
        fit = _fit_indicator(ind, y, context, rolled, rhs, rate_scale=rate_scale, min_units=min_units, log=log)
        if fit is None:
            continue
        models[ind.id] = fit.model
        tables.append(fit.table)
        rows.append(fit.row)
        coefficients.append(fit.model.to_frame().assign(indicator=ind.id))
        adjusted = pd.Series(fit.table["adjusted"].to_numpy(), index=fit.table["unit_id"].to_numpy())
        out[ind.id] = adjusted.reindex(out.index).where(adjusted.reindex(out.index).notna(), y)
        if shrink and fit.row["family"] == "binomial" and fit.table["denominator"].notna().any():
            done = _shrink(fit, out[ind.id], shrink_groups, log)
            if done is not None:
                shrunk, frame = done
                out.loc[shrunk.index, ind.id] = shrunk.to_numpy()
                shrink_tables.append(frame)
    stages = {
        "casemix": (
            pd.concat(tables, ignore_index=True)[CASEMIX_COLUMNS] if tables else pd.DataFrame(columns=CASEMIX_COLUMNS)
        ),
        "casemix_models": pd.DataFrame(rows, columns=MODEL_COLUMNS),
        "casemix_coefficients": (pd.concat(coefficients, ignore_index=True) if coefficients else pd.DataFrame()),
        "shrinkage": (
            pd.concat(shrink_tables, ignore_index=True) if shrink_tables else pd.DataFrame(columns=SHRINK_COLUMNS)
        ),
        "calibration_log": log.frame(),
    }
    if len(stages["casemix_coefficients"]):
        cols = ["indicator", *[c for c in stages["casemix_coefficients"].columns if c != "indicator"]]
        stages["casemix_coefficients"] = stages["casemix_coefficients"][cols]
    return CalibrationResult(values=out, stages=stages, models=models, mode="casemix")


def calibrate(
    framework: Framework,
    observations: pd.DataFrame | None,
    units: pd.DataFrame,
    values: pd.DataFrame,
    *,
    rolled: pd.DataFrame | None = None,
    peer_groups: pd.Series | None = None,
    mode: str = "casemix",
    covariates: Sequence[str] | None = None,
    rater_method: Literal["mixedlm", "fixed", "auto"] = "auto",
    rate_scale: Literal["logit", "ratio"] = "logit",
    nonpreventable: Literal["adjust", "exclude"] | None = None,
    min_units: int = MIN_CASEMIX_UNITS,
) -> CalibrationResult:
    """Calibrate treated indicator values (the calibration step of ``Evaluation.run``).

    Parameters
    ----------
    framework : Framework
        Gives each indicator's kind, denominator and ``calibration`` settings.
    observations : pandas.DataFrame or None
        Clean long observations of the period with ``rater_id`` (the
        evaluation's ``stages["raw"]``); used by rater calibration in ``full``
        mode only. ``None`` or without ``rater_id``: rater calibration is skipped
        (and logged).
    units : pandas.DataFrame
        Units table of the scored units, with ``unit_id`` and the context columns.
    values : pandas.DataFrame
        Treated indicator values (index unit ids, one column per indicator).
    rolled : pandas.DataFrame, optional
        Long period values with ``unit_id``, ``indicator``, ``numerator``,
        ``denominator`` (the evaluation's ``stages["rolled"]``).
    peer_groups : pandas.Series, optional
        Peer group per unit id: the groups of the shrinkage priors in ``full``
        mode; ``None``: one prior over all units.
    mode : {"casemix", "full"}
        See the module docstring.
    covariates : sequence of str, optional
        Overrides ``framework.calibration.covariates``.
    rater_method : {"auto", "mixedlm", "fixed"}
        Rater model in ``full`` mode (:class:`~perfmodel.calibrate.raters.RaterModel`):
        crossed random effects (MixedLM) when raters + ratees number at most 600,
        two-way fixed effects above (``"auto"``), or either one always.
    rate_scale : {"logit", "ratio"}
        Scale of the adjusted value of rates.
    nonpreventable : {"adjust", "exclude"}, optional
        Treatment of ``preventable: false`` indicators (R5); default: the
        framework's ``calibration.nonpreventable``.
    min_units : int
        Fewest units with a value and complete context for a case-mix model.

    Returns
    -------
    CalibrationResult
        ``.values`` has the index and columns of ``values``; ``.stages`` the
        tidy tables listed in :class:`CalibrationResult`.
    """
    if mode not in MODES:
        raise OptionError(BAD_MODE.format(mode=mode, allowed=list(MODES)))
    if rate_scale not in ("logit", "ratio"):
        raise OptionError(f"rate_scale={rate_scale!r} is not valid; use 'logit' or 'ratio'.")
    fw = framework
    nonpreventable = nonpreventable or fw.calibration.nonpreventable
    if nonpreventable not in ("adjust", "exclude"):
        raise OptionError(f"nonpreventable={nonpreventable!r} is not valid; use 'adjust' or 'exclude'.")
    log = _Log()
    work = values.astype(float).copy()
    rater_stages: dict[str, pd.DataFrame] = {}
    rater_models: dict[str, RaterModel] = {}
    reliability: list[dict[str, Any]] = []
    if mode == "full":
        if fw.calibration.raters:
            raw = observations if observations is not None else pd.DataFrame()
            work, rater_stages, rater_models, reliability = _rater_step(
                fw, raw, work, fw.calibration.exclude, rater_method, log
            )
        else:
            log.add(None, "raters", "skipped", "raters_off")
        if not fw.calibration.shrinkage:
            log.add(None, "shrinkage", "skipped", "shrinkage_off")
    shrink = mode == "full" and fw.calibration.shrinkage
    groups = peer_groups if shrink else None
    result = _casemix(
        fw,
        work,
        units,
        rolled,
        covariates,
        rate_scale,
        nonpreventable,
        min_units,
        log,
        shrink_groups=groups,
        shrink=shrink,
    )
    stages = dict(result.stages)
    stages.update(rater_stages)
    shrink_table = stages["shrinkage"]
    for ind_id, sub in shrink_table.groupby("indicator", sort=False):
        reliability.append(
            {
                "indicator": ind_id,
                "measure": "shrinkage_reliability_median",
                "estimate": float(sub["reliability"].median()),
                "n_targets": len(sub),
                "n_raters": np.nan,
                "parameter": float(sub["reliability"].min()),
                "note": f"n / (n + prior concentration); min {sub['reliability'].min():.2f}",
            }
        )
    stages["reliability"] = pd.DataFrame(reliability, columns=RELIABILITY_COLUMNS)
    stages["calibration_log"] = log.frame()
    for key in ("rater_effects", "rater_central_tendency", "rater_halo", "self_enhancement"):
        stages.setdefault(key, pd.DataFrame())
    return CalibrationResult(
        values=result.values.reindex(index=values.index, columns=values.columns),
        stages=stages,
        models=result.models,
        rater_models=rater_models,
        mode=mode,
    )
