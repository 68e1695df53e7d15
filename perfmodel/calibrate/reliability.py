"""Inter-rater reliability: intraclass correlations and Krippendorff's alpha.

Subjective indicators (supervisor, peer, citizen ratings, R8) are only as good as
the agreement between raters. This module implements, without GPL dependencies:

* :func:`icc` — the six intraclass correlations of Shrout & Fleiss (1979),
  in McGraw & Wong's (1996) terms, from the two-way ANOVA of a complete
  targets × raters table, with F tests and confidence intervals:

  ======== ===================================== =====================================
  form     model                                 formula (n targets, k raters)
  ======== ===================================== =====================================
  ICC1     one-way random, absolute agreement    (BMS − WMS) / (BMS + (k−1) WMS)
  ICC2     two-way random, absolute agreement    (BMS − EMS) / (BMS + (k−1) EMS + k (JMS − EMS) / n)
  ICC3     two-way mixed, consistency            (BMS − EMS) / (BMS + (k−1) EMS)
  ICC1k    mean of k raters, one-way             (BMS − WMS) / BMS
  ICC2k    mean of k raters, two-way random      (BMS − EMS) / (BMS + (JMS − EMS) / n)
  ICC3k    mean of k raters, two-way mixed       (BMS − EMS) / BMS
  ======== ===================================== =====================================

  BMS, WMS, JMS and EMS are the between-targets, within-targets, between-raters
  and residual mean squares. Shrout & Fleiss's 6 targets × 4 judges example
  gives 0.17, 0.29, 0.71, 0.44, 0.62 and 0.91.
* :func:`icc_from_components` — the same single- and k-rater coefficients from
  variance components (e.g. a crossed random-effects model,
  :class:`perfmodel.calibrate.raters.RaterModel`), for incomplete designs where
  every target has its own raters.
* :func:`krippendorff_alpha` — Krippendorff's alpha for interval, ratio or
  nominal data, any number of raters, missing ratings allowed
  (``alpha = 1 − D_o / D_e`` from the coincidences of pairable values).
* :func:`ratings_matrix` — long ratings to the targets × raters table both need.

References
----------
Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater
reliability. *Psychological Bulletin* 86:420–428.
McGraw KO, Wong SP (1996). Forming inferences about some intraclass correlation
coefficients. *Psychological Methods* 1:30–46.
Krippendorff K (2011). Computing Krippendorff's alpha-reliability. Annenberg
School for Communication Departmental Papers 43.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.errors import OptionError, check_confidence

__all__ = [
    "ICC_FORMS",
    "icc",
    "icc_from_components",
    "krippendorff_alpha",
    "ratings_matrix",
]

ICC_FORMS: dict[str, str] = {
    "ICC1": "single rater, one-way random effects, absolute agreement",
    "ICC2": "single rater, two-way random effects, absolute agreement",
    "ICC3": "single rater, two-way mixed effects, consistency",
    "ICC1k": "mean of k raters, one-way random effects, absolute agreement",
    "ICC2k": "mean of k raters, two-way random effects, absolute agreement",
    "ICC3k": "mean of k raters, two-way mixed effects, consistency",
}
"""The six intraclass correlations returned by :func:`icc`, with their meaning."""

TOO_SMALL = (
    "the ratings table has {n} complete target(s) and {k} rater(s); ICCs need at least 2 targets "
    "rated by the same 2 or more raters. {hint}"
)
BAD_METRIC = "metric={metric!r} is not valid; use one of {allowed}."
RATIO_NEGATIVE = "metric='ratio' needs ratings >= 0; found {count} negative value(s)."
NOT_NUMERIC = "ratings must be numeric; convert them with pd.to_numeric (found dtype {dtype})."
MISSING_COLUMN = "column {column!r} ({role}) is not in the ratings; available: {available}."


# --------------------------------------------------------------------------- helpers
def ratings_matrix(
    data: pd.DataFrame,
    *,
    target: str | Sequence[str] = "unit_id",
    rater: str = "rater_id",
    rating: str = "value",
) -> pd.DataFrame:
    """Long ratings → a targets × raters table (repeated ratings averaged).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per rating.
    target : str or sequence of str
        Column(s) identifying what is rated, e.g. ``["unit_id", "period"]``
        when each month's performance is a separate object of rating.
    rater, rating : str
        Rater id and rating columns.

    Returns
    -------
    pandas.DataFrame
        Rows: targets; columns: raters; missing where a rater did not rate a target.
    """
    targets = [target] if isinstance(target, str) else list(target)
    for column, role in [*((t, "target") for t in targets), (rater, "rater"), (rating, "rating")]:
        if column not in data.columns:
            raise OptionError(MISSING_COLUMN.format(column=column, role=role, available=list(data.columns)))
    values = pd.to_numeric(data[rating], errors="coerce").astype(float)
    frame = data[targets].astype(object).assign(_rater=data[rater].astype(object), _y=values)
    frame = frame.dropna(subset=["_rater", "_y"])
    return frame.pivot_table(index=targets, columns="_rater", values="_y", aggfunc="mean").rename_axis(columns=rater)


def _as_table(table: pd.DataFrame | np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    x = table.to_numpy(dtype=float) if isinstance(table, pd.DataFrame) else np.asarray(table, float)
    if x.ndim != 2:
        raise OptionError("the ratings table must be two-dimensional: targets in rows, raters in columns.")
    return x


# --------------------------------------------------------------------------- ICC
def _mean_squares(x: np.ndarray) -> dict[str, float]:
    n, k = x.shape
    grand = x.mean()
    row = x.mean(axis=1)
    col = x.mean(axis=0)
    ss_total = float(((x - grand) ** 2).sum())
    ss_rows = float(k * ((row - grand) ** 2).sum())
    ss_cols = float(n * ((col - grand) ** 2).sum())
    ss_error = ss_total - ss_rows - ss_cols
    return {  # numpy floats, so that a zero mean square gives inf/nan rather than an exception
        "BMS": np.float64(ss_rows / (n - 1)),
        "WMS": np.float64(max(ss_total - ss_rows, 0.0) / (n * (k - 1))),
        "JMS": np.float64(ss_cols / (k - 1)),
        "EMS": np.float64(max(ss_error, 0.0) / ((n - 1) * (k - 1))),
    }


def icc(
    table: pd.DataFrame | np.ndarray | Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    missing: str = "omit",
) -> pd.DataFrame:
    """The six Shrout–Fleiss / McGraw–Wong intraclass correlations of a ratings table.

    Parameters
    ----------
    table : DataFrame or array-like
        Targets in rows, raters in columns (see :func:`ratings_matrix`).
    confidence : float, default 0.95
        Coverage of the intervals.
    missing : {"omit", "raise"}, default "omit"
        Targets with a missing rating are dropped (``"omit"``; the number used
        is reported in ``n_targets``) or make the call fail (``"raise"``). For
        incomplete designs use :func:`icc_from_components` or
        :func:`krippendorff_alpha` instead.

    Returns
    -------
    pandas.DataFrame
        One row per form (``ICC1``, ``ICC2``, ``ICC3``, ``ICC1k``, ``ICC2k``,
        ``ICC3k``): ``form``, ``description``, ``icc``, ``F``, ``df1``, ``df2``,
        ``p_value`` (H0: ICC = 0), ``ci_low``, ``ci_high``, ``n_targets``,
        ``n_raters``.

    Examples
    --------
    Shrout & Fleiss (1979), table 2 (6 targets, 4 judges):

    >>> sf = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> icc(sf).set_index("form")["icc"].round(2).tolist()
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    confidence = check_confidence(confidence)
    x = _as_table(table)
    if missing not in ("omit", "raise"):
        raise OptionError(f"missing={missing!r} is not valid; use 'omit' or 'raise'.")
    complete = ~np.isnan(x).any(axis=1)
    if missing == "raise" and not complete.all():
        raise OptionError(
            f"{int((~complete).sum())} target(s) lack a rating from some rater; pass missing='omit' "
            "to drop them, or use icc_from_components / krippendorff_alpha for incomplete designs."
        )
    x = x[complete]
    n, k = x.shape
    if n < 2 or k < 2:
        raise OptionError(
            TOO_SMALL.format(
                n=n,
                k=k,
                hint="For designs where each target has different raters use icc_from_components "
                "or krippendorff_alpha.",
            )
        )
    ms = _mean_squares(x)
    bms, wms, jms, ems = ms["BMS"], ms["WMS"], ms["JMS"], ms["EMS"]
    alpha = 1.0 - confidence
    q = 1.0 - alpha / 2.0

    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (bms - wms) / (bms + (k - 1) * wms)
        icc2 = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
        icc3 = (bms - ems) / (bms + (k - 1) * ems)
        icc1k = (bms - wms) / bms
        icc2k = (bms - ems) / (bms + (jms - ems) / n)
        icc3k = (bms - ems) / bms

        # one-way (ICC1, ICC1k)
        f1 = bms / wms
        df1_1, df2_1 = n - 1, n * (k - 1)
        f1_low = f1 / stats.f.ppf(q, df1_1, df2_1)
        f1_up = f1 * stats.f.ppf(q, df2_1, df1_1)
        ci1 = ((f1_low - 1) / (f1_low + k - 1), (f1_up - 1) / (f1_up + k - 1))
        ci1k = (1 - 1 / f1_low, 1 - 1 / f1_up)

        # two-way mixed, consistency (ICC3, ICC3k)
        f3 = bms / ems
        df1_3, df2_3 = n - 1, (n - 1) * (k - 1)
        f3_low = f3 / stats.f.ppf(q, df1_3, df2_3)
        f3_up = f3 * stats.f.ppf(q, df2_3, df1_3)
        ci3 = ((f3_low - 1) / (f3_low + k - 1), (f3_up - 1) / (f3_up + k - 1))
        ci3k = (1 - 1 / f3_low, 1 - 1 / f3_up)

        # two-way random, absolute agreement (ICC2, ICC2k): Satterthwaite df
        fj = jms / ems
        v_num = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v_den = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = v_num / v_den
        f_u = stats.f.ppf(q, n - 1, v)
        f_l = stats.f.ppf(q, v, n - 1)
        low2 = n * (bms - f_u * ems) / (f_u * (k * jms + (k * n - k - n) * ems) + n * bms)
        up2 = n * (f_l * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_l * bms)
        ci2 = (low2, up2)
        ci2k = (low2 * k / (1 + low2 * (k - 1)), up2 * k / (1 + up2 * (k - 1)))

    p1 = float(stats.f.sf(f1, df1_1, df2_1))
    p3 = float(stats.f.sf(f3, df1_3, df2_3))
    rows = [
        ("ICC1", icc1, f1, df1_1, df2_1, p1, ci1),
        ("ICC2", icc2, f3, df1_3, df2_3, p3, ci2),
        ("ICC3", icc3, f3, df1_3, df2_3, p3, ci3),
        ("ICC1k", icc1k, f1, df1_1, df2_1, p1, ci1k),
        ("ICC2k", icc2k, f3, df1_3, df2_3, p3, ci2k),
        ("ICC3k", icc3k, f3, df1_3, df2_3, p3, ci3k),
    ]
    return pd.DataFrame(
        [
            {
                "form": form,
                "description": ICC_FORMS[form],
                "icc": float(value),
                "F": float(f),
                "df1": int(d1),
                "df2": int(d2),
                "p_value": p,
                "ci_low": float(ci[0]),
                "ci_high": float(ci[1]),
                "n_targets": n,
                "n_raters": k,
            }
            for form, value, f, d1, d2, p, ci in rows
        ]
    )


def icc_from_components(var_target: float, var_rater: float, var_residual: float, k: float = 1.0) -> dict[str, float]:
    """ICCs from variance components of a crossed targets × raters model.

    Parameters
    ----------
    var_target, var_rater, var_residual : float
        Between-target, between-rater (leniency) and residual variances (>= 0).
    k : float, default 1
        Number of raters averaged per target (may be a mean, e.g. 2.6).

    Returns
    -------
    dict
        ``agreement`` (ICC2-type: rater leniency counts as error),
        ``consistency`` (ICC3-type: leniency ignored), and their ``k``-rater
        versions ``agreement_k`` and ``consistency_k``.
    """
    for name, value in (("var_target", var_target), ("var_rater", var_rater), ("var_residual", var_residual)):
        if not (np.isfinite(value) and value >= 0):
            raise OptionError(f"{name}={value!r} must be a finite variance >= 0.")
    if not k > 0:
        raise OptionError(f"k={k!r} must be > 0.")
    total = var_target + var_rater + var_residual
    consistency_total = var_target + var_residual

    def ratio(num: float, den: float) -> float:
        return float(num / den) if den > 0 else float("nan")

    return {
        "agreement": ratio(var_target, total),
        "consistency": ratio(var_target, consistency_total),
        "agreement_k": ratio(var_target, var_target + (var_rater + var_residual) / k),
        "consistency_k": ratio(var_target, var_target + var_residual / k),
    }


# --------------------------------------------------------------------------- Krippendorff
_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "interval": lambda a, b: (a - b) ** 2,
    "ratio": lambda a, b: np.divide(
        (a - b) ** 2, (a + b) ** 2, out=np.zeros(np.broadcast(a, b).shape), where=(a + b) != 0
    ),
    "nominal": lambda a, b: (a != b).astype(float),
}


def krippendorff_alpha(
    table: pd.DataFrame | np.ndarray | Sequence[Sequence[float]],
    metric: str = "interval",
) -> float:
    """Krippendorff's alpha for a units × raters table with missing ratings.

    Only units rated by at least two raters ("pairable values") count.
    ``alpha = 1 − D_o / D_e`` where the observed disagreement
    ``D_o = (1/n) Σ_u Σ_{i≠j} δ(v_ui, v_uj) / (m_u − 1)`` runs over pairs of
    values within a unit (``m_u`` values in unit u, ``n`` pairable values in
    all) and the expected disagreement
    ``D_e = Σ_{i≠j} δ(v_i, v_j) / (n (n − 1))`` over all pairs of pairable values.

    Parameters
    ----------
    table : DataFrame or array-like
        Units (rated objects) in rows, raters in columns; NaN = not rated.
        This is the transpose of the "reliability data" layout of Krippendorff's papers.
    metric : {"interval", "ratio", "nominal"}
        Difference function ``δ``: squared difference, squared relative
        difference ``((a − b) / (a + b))²``, or 0/1 mismatch.

    Returns
    -------
    float
        Alpha (1 = perfect agreement, 0 = agreement at chance level); NaN when
        there are no pairable values or every value is identical.

    Examples
    --------
    Krippendorff (2011), 4 observers × 12 units with missing values:

    >>> nan = float("nan")
    >>> data = [[1, 1, nan, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2],
    ...         [1, 2, 3, 4], [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [nan, 5, 5, 5],
    ...         [nan, nan, 1, 1], [nan, 3, nan, nan]]
    >>> round(krippendorff_alpha(data, "nominal"), 3), round(krippendorff_alpha(data, "interval"), 3)
    (0.743, 0.849)
    """
    if metric not in _METRICS:
        raise OptionError(BAD_METRIC.format(metric=metric, allowed=list(_METRICS)))
    if isinstance(table, pd.DataFrame):
        bad = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
        if bad:
            raise OptionError(NOT_NUMERIC.format(dtype=table[bad[0]].dtype))
    x = _as_table(table)
    if metric == "ratio" and np.any(x[~np.isnan(x)] < 0):
        raise OptionError(RATIO_NEGATIVE.format(count=int(np.sum(x[~np.isnan(x)] < 0))))
    delta = _METRICS[metric]
    m = (~np.isnan(x)).sum(axis=1)
    pairable = x[m >= 2]
    m = m[m >= 2]
    n = int(m.sum())
    if n < 2:
        return float("nan")
    # observed disagreement, unit by unit
    d_obs = 0.0
    for row, m_u in zip(pairable, m, strict=True):
        v = row[~np.isnan(row)]
        d_obs += delta(v[:, None], v[None, :]).sum() / (m_u - 1)
    d_obs /= n
    # expected disagreement over all pairable values (via distinct values and counts)
    values = pairable[~np.isnan(pairable)]
    if metric == "interval":
        total = n * np.sum(values**2) - np.sum(values) ** 2  # = Σ_{i<j} (v_i − v_j)^2
        d_exp = 2.0 * total / (n * (n - 1))
    else:
        distinct, counts = np.unique(values, return_counts=True)
        pair = delta(distinct[:, None], distinct[None, :])
        d_exp = float(counts @ pair @ counts) / (n * (n - 1))
    if not d_exp > 0:
        return float("nan")
    return float(1.0 - d_obs / d_exp)
