"""Case-mix (risk) adjustment by generalised linear models and indirect standardisation.

A :class:`CaseMixModel` fits a GLM (statsmodels formula API) of an outcome on
case-mix factors over all records (or units), then compares each unit's
observed total O with the total E the model expects for *its* case mix:
``O/E`` is the indirectly standardised ratio, ``O/E x overall`` the
indirectly standardised rate or mean.  The per-unit frame from
:meth:`CaseMixModel.expected` is the input of a funnel plot
(:func:`perfmodel.calibrate.funnel.funnel_analysis` with ``kind="ratio"``).

Families
--------
* ``"binomial"`` — rates of success.  Either a 0/1 outcome per record
  (``"cleared ~ offence_type"``) or successes out of trials: the formula's
  left-hand side is the numerator (successes) column and ``denominator=`` names
  the trials column; the model is fitted to the proportion with the trials as
  variance weights (identical to the two-column binomial GLM).
* ``"poisson"`` — counts, optionally with ``exposure=`` (log offset).
* ``"gamma"`` — positive durations (log link).
* ``"gaussian"`` — ratings, scores (identity link).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError, check_confidence

__all__ = ["CaseMixModel", "indirect_standardisation"]

Family = Literal["binomial", "poisson", "gaussian", "gamma"]
FAMILIES: tuple[str, ...] = ("binomial", "poisson", "gaussian", "gamma")

# --------------------------------------------------------------------------- messages
BAD_FAMILY = "family={family!r} is not valid; use one of {allowed}."
BAD_FORMULA = "formula={formula!r} is not valid: {why} Write it as 'outcome ~ factor1 + C(factor2)'."
MISSING_COLUMN = (
    "column {column!r} ({role}) is not in the data; available columns: {available}. "
    "Add the column or fix the name in the {where}."
)
MISSING_VALUES = (
    "column {column!r} has {count} missing value(s); drop or impute those rows before "
    "fitting the case-mix model, so that every record keeps its expected value."
)
NEGATIVE_VALUES = "column {column!r} has {count} negative value(s); {what} must be >= 0."
NONPOSITIVE_VALUES = "column {column!r} has {count} value(s) <= 0; {what} must be > 0."
BINARY_OUTCOME = (
    "column {column!r} must be 0/1 for a binomial model without denominator=; found values "
    "outside [0, 1]. For successes out of trials pass denominator='<trials column>'."
)
SUCCESSES_EXCEED_TRIALS = (
    "column {numerator!r} exceeds column {denominator!r} in {count} row(s); successes must be <= trials."
)
OPTION_NOT_FOR_FAMILY = "{option}= applies only to family={family!r}; remove it for family={given!r}."
NOT_FITTED = "this CaseMixModel is not fitted yet; call .fit(data) first."
FIT_FAILED = "the GLM could not be fitted: {error}"
EMPTY_DATA = "the data have no rows; the case-mix model needs records to fit."
SHAPE_MISMATCH = "observed and expected must have the same length (got {n_obs} and {n_exp})."
BAD_OVERALL = "overall_rate={overall!r} must be a finite number > 0."
NONPOSITIVE_EXPECTED = "expected has {count} value(s) <= 0; every unit needs a positive expected value."

_IDENTIFIER = re.compile(r"[^\W\d]\w*", re.UNICODE)


def indirect_standardisation(
    observed: Sequence[float] | np.ndarray | pd.Series,
    expected: Sequence[float] | np.ndarray | pd.Series,
    overall_rate: float,
) -> pd.DataFrame:
    """Indirectly standardised ratios and rates.

    Parameters
    ----------
    observed : array-like
        Observed totals O per unit (>= 0).
    expected : array-like
        Expected totals E per unit under the reference (case-mix) model (> 0).
    overall_rate : float
        Reference rate or mean (> 0): e.g. all units' events per trial.

    Returns
    -------
    pandas.DataFrame
        Columns ``observed``, ``expected``, ``ratio`` (O/E), ``standardised``
        (O/E x overall_rate) and ``excess`` (O - E); the index is that of
        ``observed`` when it is a Series.

    Examples
    --------
    >>> indirect_standardisation([12, 5], [10.0, 10.0], 0.2)
       observed  expected  ratio  standardised  excess
    0      12.0      10.0    1.2          0.24     2.0
    1       5.0      10.0    0.5          0.10    -5.0
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    if o.shape != e.shape or o.ndim != 1:
        raise OptionError(SHAPE_MISMATCH.format(n_obs=o.size, n_exp=e.size))
    if not (np.isfinite(overall_rate) and overall_rate > 0):
        raise OptionError(BAD_OVERALL.format(overall=overall_rate))
    if np.any(~np.isfinite(o)) or np.any(o < 0):
        raise OptionError(
            NEGATIVE_VALUES.format(column="observed", count=int(np.sum(~(o >= 0))), what="observed totals")
        )
    if np.any(~(e > 0)):
        raise OptionError(NONPOSITIVE_EXPECTED.format(count=int(np.sum(~(e > 0)))))
    index = observed.index if isinstance(observed, pd.Series) else None
    ratio = o / e
    return pd.DataFrame(
        {
            "observed": o,
            "expected": e,
            "ratio": ratio,
            "standardised": ratio * float(overall_rate),
            "excess": o - e,
        },
        index=index,
    )


class CaseMixModel:
    """Risk-adjustment GLM with per-unit observed/expected comparison.

    Parameters
    ----------
    formula : str
        statsmodels/patsy formula, e.g. ``"los ~ hmo + died + C(type)"``.  For a
        binomial model with ``denominator=`` the left-hand side is the successes
        column.  ``np`` (numpy) is available inside the formula.
    family : {"binomial", "poisson", "gaussian", "gamma"}
        GLM family; canonical links except gamma, which uses the log link.
    exposure : str, optional
        Poisson only: exposure column (person-time, population…), entered as a
        ``log(exposure)`` offset.
    group : str, default "unit_id"
        Unit column used by :meth:`expected` to total records per unit.
    denominator : str, optional
        Binomial only: trials column; the formula's left-hand side is then the
        successes (numerator) column.

    Attributes
    ----------
    result_ : statsmodels GLMResults
        The fitted model.
    dispersion_ : float
        Pearson chi-square / residual degrees of freedom (1 when the model's
        variance assumption holds; > 1 means over-dispersion).
    overall_ : float
        Reference rate or mean of the fitting data: Σsuccesses/Σtrials
        (binomial), Σcount/Σexposure (Poisson with exposure), else the mean outcome.
    outcome_ : str
        Left-hand side of the formula.
    n_obs_ : int
        Records used in the fit.

    Examples
    --------
    >>> model = CaseMixModel("los ~ hmo + died + C(type)", family="poisson", group="provnum")
    >>> per_unit = model.fit(records).expected(records)  # doctest: +SKIP
    """

    def __init__(
        self,
        formula: str,
        family: Family,
        exposure: str | None = None,
        group: str = "unit_id",
        *,
        denominator: str | None = None,
    ) -> None:
        self.formula = formula
        self.family = family
        self.exposure = exposure
        self.group = group
        self.denominator = denominator

    # -- validation ------------------------------------------------------------------
    def _parse(self) -> tuple[str, str]:
        if self.family not in FAMILIES:
            raise OptionError(BAD_FAMILY.format(family=self.family, allowed=list(FAMILIES)))
        if not isinstance(self.formula, str) or self.formula.count("~") != 1:
            raise OptionError(BAD_FORMULA.format(formula=self.formula, why="it needs exactly one '~'."))
        lhs, rhs = (part.strip() for part in self.formula.split("~"))
        if not lhs or not rhs:
            raise OptionError(
                BAD_FORMULA.format(formula=self.formula, why="both the outcome and the case-mix terms are needed.")
            )
        if self.exposure is not None and self.family != "poisson":
            raise OptionError(OPTION_NOT_FOR_FAMILY.format(option="exposure", family="poisson", given=self.family))
        if self.denominator is not None and self.family != "binomial":
            raise OptionError(OPTION_NOT_FOR_FAMILY.format(option="denominator", family="binomial", given=self.family))
        if self.denominator is not None and not lhs.isidentifier():
            raise OptionError(
                BAD_FORMULA.format(
                    formula=self.formula,
                    why="with denominator= the left-hand side must be the name of the successes column.",
                )
            )
        return lhs, rhs

    @staticmethod
    def _names_in(text: str) -> set[str]:
        return set(_IDENTIFIER.findall(text))

    def _check_data(self, data: pd.DataFrame, lhs: str, *, need_group: bool, need_outcome: bool) -> None:
        if not isinstance(data, pd.DataFrame):
            raise OptionError("data must be a pandas DataFrame.")
        if len(data) == 0:
            raise OptionError(EMPTY_DATA)
        required: list[tuple[str, str, str]] = []
        if need_group:
            required.append((self.group, "unit id", "group= argument"))
        if self.exposure is not None:
            required.append((self.exposure, "exposure", "exposure= argument"))
        if self.denominator is not None:
            required.append((self.denominator, "trials", "denominator= argument"))
        if need_outcome and self.denominator is not None:
            required.append((lhs, "successes", "formula"))
        for column, role, where in required:
            if column not in data.columns:
                raise OptionError(
                    MISSING_COLUMN.format(column=column, role=role, available=list(data.columns), where=where)
                )
        text = self.formula if need_outcome else self.formula.split("~", 1)[1]
        names = self._names_in(text)
        referenced = [c for c in data.columns if isinstance(c, str) and c in names]
        for column in [*referenced, *(c for c, _, _ in required)]:
            n_missing = int(data[column].isna().sum())
            if n_missing:
                raise OptionError(MISSING_VALUES.format(column=column, count=n_missing))
        if self.exposure is not None:
            bad = int((~(data[self.exposure] > 0)).sum())
            if bad:
                raise OptionError(NONPOSITIVE_VALUES.format(column=self.exposure, count=bad, what="exposure"))
        if self.denominator is not None:
            bad = int((~(data[self.denominator] > 0)).sum())
            if bad:
                raise OptionError(
                    NONPOSITIVE_VALUES.format(column=self.denominator, count=bad, what="the number of trials")
                )

    def _outcome(self, data: pd.DataFrame, lhs: str) -> np.ndarray:
        if lhs in data.columns:
            values = data[lhs]
            if pd.api.types.is_bool_dtype(values):
                values = values.astype(float)
            if not pd.api.types.is_numeric_dtype(values):
                raise OptionError(
                    f"column {lhs!r} (outcome) must be numeric, got dtype {values.dtype}; "
                    "convert it with pd.to_numeric or map categories to 0/1."
                )
            return values.to_numpy(dtype=float)
        import patsy  # statsmodels and patsy load on first fit: `perfmodel score` starts without them

        try:
            matrix = patsy.dmatrix(f"{lhs} - 1", data, NA_action="raise", return_type="dataframe")
        except Exception as exc:  # patsy raises many types
            raise self._translate(exc, data) from exc
        if matrix.shape[1] != 1:
            raise OptionError(BAD_FORMULA.format(formula=self.formula, why="the outcome must be one numeric column."))
        return matrix.iloc[:, 0].to_numpy(dtype=float)

    def _translate(self, exc: Exception, data: pd.DataFrame) -> ValueError:
        match = re.search(r"name '([^']+)' is not defined", str(exc))
        if match:
            return ValueError(
                MISSING_COLUMN.format(
                    column=match.group(1),
                    role="used in the formula",
                    available=list(data.columns),
                    where="formula",
                )
            )
        return ValueError(FIT_FAILED.format(error=str(exc).splitlines()[0]))

    # -- fitting -----------------------------------------------------------------------
    def _family(self) -> Any:
        import statsmodels.api as sm

        fams = sm.families
        return {
            "binomial": lambda: fams.Binomial(),
            "poisson": lambda: fams.Poisson(),
            "gaussian": lambda: fams.Gaussian(),
            "gamma": lambda: fams.Gamma(link=fams.links.Log()),
        }[self.family]()

    def fit(self, data: pd.DataFrame, *, design_of: CaseMixModel | None = None) -> CaseMixModel:
        """Fit the GLM to record- or unit-level data.

        Parameters
        ----------
        data : pandas.DataFrame
            Records with the outcome, the case-mix factors and, if given, the
            exposure or trials column.  The group column is not needed to fit.
        design_of : CaseMixModel, optional
            A model fitted with the same right-hand side: when ``data`` has the
            rows (index) and the values of the columns it names that ``design_of``
            was fitted to, its design matrix is used and the formula is not read
            again (an iterative reweighting refits with other outcomes or weights
            only). The fit is the formula fit's, number for number. Otherwise the
            formula is read as usual.

        Returns
        -------
        CaseMixModel
            ``self``.
        """
        lhs, rhs = self._parse()
        self._check_data(data, lhs, need_group=False, need_outcome=True)
        y = self._outcome(data, lhs)
        kwargs: dict[str, Any] = {"family": self._family(), "missing": "raise"}
        formula = self.formula
        frame = data
        if self.family == "binomial":
            if self.denominator is not None:
                trials = data[self.denominator].to_numpy(dtype=float)
                if np.any(y < 0):
                    raise OptionError(NEGATIVE_VALUES.format(column=lhs, count=int((y < 0).sum()), what="successes"))
                if np.any(y > trials):
                    raise OptionError(
                        SUCCESSES_EXCEED_TRIALS.format(
                            numerator=lhs,
                            denominator=self.denominator,
                            count=int((y > trials).sum()),
                        )
                    )
                frame = data.assign(__casemix_proportion__=y / trials)
                formula = f"__casemix_proportion__ ~ {rhs}"
                kwargs["var_weights"] = trials
                self.overall_ = float(y.sum() / trials.sum())
            else:
                if np.any((y < 0) | (y > 1)):
                    raise OptionError(BINARY_OUTCOME.format(column=lhs))
                self.overall_ = float(y.mean())
        elif self.family == "poisson":
            if np.any(y < 0):
                raise OptionError(NEGATIVE_VALUES.format(column=lhs, count=int((y < 0).sum()), what="counts"))
            if self.exposure is not None:
                exposure = data[self.exposure].to_numpy(dtype=float)
                kwargs["exposure"] = exposure
                self.overall_ = float(y.sum() / exposure.sum())
            else:
                self.overall_ = float(y.mean())
        else:
            if self.family == "gamma" and np.any(y <= 0):
                raise OptionError(
                    NONPOSITIVE_VALUES.format(column=lhs, count=int((y <= 0).sum()), what="a gamma outcome")
                )
            self.overall_ = float(y.mean())
        import patsy
        import statsmodels.formula.api as smf
        from statsmodels.tools.sm_exceptions import MissingDataError

        try:
            outcome = formula.split("~", 1)[0].strip()  # a column of ``frame`` when the fit can reuse a design
            if (
                design_of is not None
                and outcome in frame.columns
                and pd.api.types.is_float_dtype(frame[outcome])
                and design_of._same_design(data, rhs)
            ):
                self.result_ = design_of._glm_on_design(frame, formula, outcome, kwargs).fit()
            else:
                self.result_ = smf.glm(formula, data=frame, **kwargs).fit()
        except MissingDataError as exc:
            raise OptionError(FIT_FAILED.format(error=exc)) from exc
        except Exception as exc:
            if isinstance(exc, ValueError) and not isinstance(exc, patsy.PatsyError):
                raise OptionError(FIT_FAILED.format(error=exc)) from exc
            raise self._translate(exc, data) from exc
        self.outcome_ = lhs
        self._fitted_terms = self._terms(data, rhs)
        self.n_obs_ = int(self.result_.nobs)
        self.dispersion_ = float(self.result_.pearson_chi2 / self.result_.df_resid)
        return self

    def _same_design(self, data: pd.DataFrame, rhs: str) -> bool:
        """Whether ``data`` builds this fit's design matrix: same right-hand side, rows and named columns."""
        return self.formula.split("~", 1)[1].strip() == rhs and self._same_terms(data, rhs)

    def _glm_on_design(self, frame: pd.DataFrame, formula: str, outcome: str, kwargs: dict[str, Any]) -> Any:
        """The GLM ``smf.glm(formula, frame, **kwargs)`` would build, on this fit's design matrix.

        As statsmodels' ``from_formula`` builds it: the outcome column as a one-column
        frame and the design as the frame the formula gave, with the formula and its
        specification attached (so that prediction from new data and the summary work).
        """
        import statsmodels.api as sm

        fitted = self._check_fitted().model
        endog = pd.DataFrame({outcome: frame[outcome].to_numpy(dtype=float)}, index=frame.index)
        spec = {key: getattr(fitted.data, key) for key in ("model_spec", "design_info") if hasattr(fitted.data, key)}
        model = sm.GLM(endog, fitted.data.orig_exog, missing_idx=None, formula=formula, **spec, **kwargs)
        model.formula = formula
        model.data.frame = frame
        return model

    @staticmethod
    def _terms(data: pd.DataFrame, rhs: str) -> tuple[pd.Index, dict[Any, pd.Series]]:
        """What the design matrix is built from: the rows' index and every column whose name occurs in ``rhs``.

        A name occurring anywhere in the text counts (also inside ``Q("…")`` or another
        name): more columns than the formula reads, never fewer.
        """
        return data.index, {c: data[c] for c in data.columns if str(c) in rhs}

    def _same_terms(self, data: pd.DataFrame, rhs: str) -> bool:
        """Whether ``data`` has the rows and the values of the named columns of the data of the last fit."""
        fitted = getattr(self, "_fitted_terms", None)
        if fitted is None:
            return False
        (index, columns), (new_index, new_columns) = fitted, self._terms(data, rhs)
        return (
            index.equals(new_index)
            and list(columns) == list(new_columns)
            and all(
                columns[c].dtype == new_columns[c].dtype
                and np.array_equal(columns[c].to_numpy(), new_columns[c].to_numpy())
                for c in columns
            )
        )

    def _check_fitted(self) -> Any:
        if not hasattr(self, "result_"):
            raise OptionError(NOT_FITTED)
        return self.result_

    # -- results -----------------------------------------------------------------------
    def summary(self) -> str:
        """The statsmodels summary of the fitted GLM, as text."""
        return self._check_fitted().summary().as_text()

    def to_frame(self, confidence: float = 0.95) -> pd.DataFrame:
        """Tidy coefficient table.

        Parameters
        ----------
        confidence : float, default 0.95
            Coverage of the intervals ``conf_low``, ``conf_high``.

        Returns
        -------
        pandas.DataFrame
            Columns ``term``, ``estimate``, ``std_error``, ``z``, ``p_value``,
            ``conf_low``, ``conf_high`` (on the link scale).
        """
        res = self._check_fitted()
        ci = res.conf_int(alpha=1.0 - check_confidence(confidence))
        return pd.DataFrame(
            {
                "term": res.params.index.astype(str),
                "estimate": res.params.to_numpy(),
                "std_error": res.bse.to_numpy(),
                "z": res.tvalues.to_numpy(),
                "p_value": res.pvalues.to_numpy(),
                "conf_low": ci.iloc[:, 0].to_numpy(),
                "conf_high": ci.iloc[:, 1].to_numpy(),
            }
        )

    def predict(self, data: pd.DataFrame) -> pd.Series:
        """Expected outcome per record on the outcome's scale.

        Counts for Poisson (including exposure), expected successes for a
        binomial model with ``denominator=`` (probability x trials),
        probabilities for 0/1 outcomes, means for gamma and gaussian.
        """
        res = self._check_fitted()
        lhs, _ = self._parse()
        self._check_data(data, lhs, need_group=False, need_outcome=False)
        kwargs: dict[str, Any] = {}
        if self.exposure is not None:
            kwargs["exposure"] = data[self.exposure].to_numpy(dtype=float)
        if self._same_terms(data, self.formula.split("~", 1)[1]):
            # the rows and terms of the fit: its design matrix, as the formula would build it again
            exog = np.asarray(res.model.data.orig_exog)
            mu = np.asarray(res.predict(exog, transform=False, **kwargs), dtype=float)
        else:
            try:
                mu = np.asarray(res.predict(data, **kwargs), dtype=float)
            except Exception as exc:
                raise self._translate(exc, data) from exc
        if self.denominator is not None:
            mu = mu * data[self.denominator].to_numpy(dtype=float)
        return pd.Series(mu, index=data.index, name="expected")

    def _record_variance(self, data: pd.DataFrame, mu: np.ndarray) -> np.ndarray:
        scale = float(self.result_.scale)
        if self.family == "binomial":
            if self.denominator is not None:
                trials = data[self.denominator].to_numpy(dtype=float)
                p = mu / trials
                return trials * p * (1.0 - p)
            return mu * (1.0 - mu)
        if self.family == "poisson":
            return mu
        if self.family == "gamma":
            return scale * mu**2
        return np.full_like(mu, scale)

    def expected(self, data: pd.DataFrame) -> pd.DataFrame:
        """Observed and expected totals per unit, with indirect standardisation.

        Parameters
        ----------
        data : pandas.DataFrame
            Records (the fitting data or new records) with the group column and
            the outcome.

        Returns
        -------
        pandas.DataFrame
            One row per unit (in order of first appearance) with columns:

            * ``<group>`` — unit id;
            * ``n_records`` — records of the unit;
            * ``denominator`` — Σtrials (binomial with ``denominator=``) or
              Σexposure (Poisson with ``exposure=``); absent otherwise;
            * ``observed`` — O, the unit's total outcome;
            * ``expected`` — E, the total the case-mix model expects;
            * ``ratio`` — O/E, the indirectly standardised ratio;
            * ``standardised`` — O/E x :attr:`overall_`, the indirectly standardised
              rate (binomial, Poisson) or mean (gamma, gaussian);
            * ``excess`` — O - E;
            * ``pearson_residual`` — (O - E) / sqrt(Σ Var), the records' model
              variances summed (scale 1 for binomial and Poisson; see
              :attr:`dispersion_` for over-dispersion).
        """
        self._check_fitted()
        lhs, _ = self._parse()
        self._check_data(data, lhs, need_group=True, need_outcome=True)
        y = self._outcome(data, lhs)
        mu = self.predict(data).to_numpy()
        var = self._record_variance(data, mu)
        frame = pd.DataFrame(
            {
                self.group: data[self.group].to_numpy(),
                "n_records": 1,
                "observed": y,
                "expected": mu,
                "_var": var,
            }
        )
        size_col = self.denominator or self.exposure
        if size_col is not None:
            frame["denominator"] = data[size_col].to_numpy(dtype=float)
        agg = frame.groupby(self.group, sort=False, as_index=False).sum()
        std = indirect_standardisation(agg["observed"], agg["expected"], self.overall_)
        cols = [self.group, "n_records"] + (["denominator"] if size_col is not None else [])
        out = agg[cols].copy()
        out["n_records"] = out["n_records"].astype(int)
        for col in ("observed", "expected", "ratio", "standardised", "excess"):
            out[col] = std[col].to_numpy()
        out["pearson_residual"] = out["excess"].to_numpy() / np.sqrt(agg["_var"].to_numpy())
        return out
