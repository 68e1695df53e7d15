"""Rater fairness: do raters score some groups of units differently from other raters?

Ratings (supervisor, peer and citizen scores with a ``rater_id``) differ
between groups for two reasons: the units really perform differently, or some
raters are harder on some groups. Only the second is a rater problem. Both are
separated by comparing raters *on the same units*: a rater × group interaction
in a model that accounts for each unit's own level.

Model (``model="fixed"``, default)
    rating = unit effect + indicator effect + (rater × group) cell effect + error,
    with unit effects absorbed (within-unit demeaning) and fitted by OLS
    (statsmodels). Without interaction the cells collapse to rater effects
    (leniency the same for every group); the F-test of the cells against the
    rater effects is the interaction test.
Model (``model="mixed"``)
    The same fixed part with random unit intercepts instead of unit effects
    (statsmodels MixedLM, maximum likelihood); the interaction test is a
    likelihood-ratio χ² test.

For every rater and group, the *gap* is how much lower (negative) or higher the
rater rates that group relative to the reference group, minus the average gap
of the raters connected to it (raters who share rated units with it, directly
or through other raters) — a difference in differences, so the units' true
level cancels. Raters flagged are then left out of that average and the gaps
recomputed (at most five rounds), so that one harsh rater does not make all the
others look lenient. A gap is only reported when it is identified by the
design (raters sharing units).

Limitation: the model gives every rater one leniency per group, not its own
scale. A rater who spreads ratings more widely than others (rates good units
higher *and* weak units lower) also produces an interaction when the groups
differ in true level; read a flagged gap together with the group's own
results before calling it bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.audit._frame import (
    AuditError,
    CheckResult,
    Correction,
    Lang,
    adjust_pvalues,
    check_correction,
    check_lang,
    check_min_n,
    choose_reference,
    finish,
    fmt,
    fmt_ci,
    fmt_p,
    fmt_pct,
    group_labels,
    records,
    require_columns,
    single_blas_thread,
    unit_table,
)
from perfmodel.errors import check_confidence
from perfmodel.privacy import SMALL_GROUP
from perfmodel.text import templates

__all__ = ["ERR_NO_RATINGS", "ERR_RATINGS_COLUMNS", "ratings_table", "rater_bias"]

Model = Literal["fixed", "mixed"]

ERR_NO_RATINGS = (
    "no ratings with a rater_id in the period; rater fairness needs rated indicators "
    "(supervisor, peer, self or citizen scores) recorded with the rater's id"
)
ERR_RATINGS_COLUMNS = "a ratings table needs the columns unit_id, rater_id and value; {column!r} is missing"

_RATED_SOURCES = ("supervisor", "peer", "citizen")
"""Sources whose raters judge other units; self-ratings cannot be compared across raters."""


_COLUMNS = [
    "scope",
    "attribute",
    "rater_id",
    "group",
    "reference",
    "role",
    "n",
    "n_reference",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "flagged",
    "verdict",
]


def ratings_table(ev: Any) -> pd.DataFrame:
    """The period's individual ratings of an evaluation, with the units' attributes.

    Rows of the ``raw`` stage that carry a ``rater_id`` and belong to an
    indicator rated by others (supervisor, peer or citizen; a self-rating has
    one rater per unit, so raters cannot be compared), joined with
    :func:`~perfmodel.audit._frame.unit_table`.
    """
    raw = ev.stages["raw"]
    if "rater_id" not in raw.columns:
        raise AuditError(ERR_NO_RATINGS)
    rated = {i.id for i in ev.framework.indicators() if i.source in _RATED_SOURCES}
    ratings = raw[raw["rater_id"].notna() & raw["indicator"].isin(rated)]
    if ratings.empty:
        raise AuditError(ERR_NO_RATINGS)
    units = unit_table(ev)
    units = units.drop(columns=[c for c in units.columns if c in ("period", "indicator", "value", "rater_id")])
    columns = ["unit_id", "period", "indicator", "value", "rater_id"]
    return ratings[columns].merge(units, on="unit_id", how="left").reset_index(drop=True)


def _demean(matrix: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Subtract each unit's mean from every column (absorbs unit fixed effects)."""
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    if matrix.ndim == 1:
        means = np.bincount(codes, weights=matrix, minlength=n_groups) / counts
        return matrix - means[codes]
    sums = np.zeros((n_groups, matrix.shape[1]))
    np.add.at(sums, codes, matrix)
    return matrix - (sums / counts[:, None])[codes]


def _dummies(codes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(codes), n))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def rater_bias(
    data: Any,
    *,
    by: str | Sequence[str],
    reference: str | None = None,
    model: Model = "fixed",
    min_n: int = 5,
    confidence: float = 0.95,
    correction: Correction = "holm",
    alpha: float = 0.05,
    lang: Lang = "zh",
) -> CheckResult:
    """Whether raters score groups of units differently (rater × group interaction).

    Parameters
    ----------
    data
        A run :class:`~perfmodel.evaluation.Evaluation` (its ratings are taken
        from the ``raw`` stage, see :func:`ratings_table`) or a long ratings
        frame with ``unit_id``, ``rater_id``, ``value``, optionally
        ``indicator``, and the ``by`` columns.
    by
        Unit attribute or combination (a list, or joined with ``+``) defining
        the groups.
    reference
        Reference group of the gaps (default: the group with most ratings).
    model
        ``fixed`` (unit fixed effects, OLS, F-test) or ``mixed`` (random unit
        intercepts, ML, likelihood-ratio test).
    min_n
        A rater's gap for a group is reported only with at least ``min_n``
        ratings of that group and of the reference group.
    confidence, correction, alpha
        Interval coverage (default 0.95); correction of the per-rater p-values (across all
        raters and groups); significance level for ``flagged``.
    lang
        Language of ``verdict``.

    Returns
    -------
    CheckResult
        ``to_frame()``: First row ``scope = "interaction"``: ``n`` (ratings), ``estimate`` (SD
        of the reported gaps, points), ``statistic`` (F or LR χ²), ``df``,
        ``p_value``, ``flagged`` and ``verdict``. Then one row per rater ×
        non-reference group (``scope = "rater"``): ``role`` (compared /
        suppressed / not_identified), ``n`` and ``n_reference`` (the rater's
        ratings of the group and of the reference; missing for suppressed
        rows, whose reason is in ``suppressed``), ``estimate`` (the rater's
        gap minus the average gap of the connected, unflagged raters, points;
        negative = harsher on the group), ``se``, ``ci_low``, ``ci_high``,
        ``statistic`` (t), ``df``, ``p_value``, ``p_adjusted``, ``flagged`` and
        ``verdict``.
    """
    lang = check_lang(lang)
    confidence = check_confidence(confidence)
    min_n = check_min_n(min_n)
    correction = check_correction(correction)
    if isinstance(data, pd.DataFrame):
        ratings = data.copy()
        for column in ("unit_id", "rater_id", "value"):
            if column not in ratings.columns:
                raise AuditError(ERR_RATINGS_COLUMNS.format(column=column))
        ratings = ratings[ratings["rater_id"].notna()]
        if ratings.empty:
            raise AuditError(ERR_NO_RATINGS)
    else:
        ratings = ratings_table(data)
    if "indicator" not in ratings.columns:
        ratings["indicator"] = "rating"
    require_columns(ratings, ["value"])
    ratings = ratings[ratings["value"].notna()].reset_index(drop=True)
    attribute, labels = group_labels(ratings, by)
    ref = choose_reference(labels.value_counts(), reference, min_n, attribute)

    unit_code, units = pd.factorize(ratings["unit_id"].astype(str), sort=True)
    rater_code, raters = pd.factorize(ratings["rater_id"].astype(str), sort=True)
    ind_code, _ = pd.factorize(ratings["indicator"].astype(str), sort=True)
    cell_key = ratings["rater_id"].astype(str) + "\x1f" + labels
    cell_code, cells = pd.factorize(cell_key, sort=True)
    y = ratings["value"].to_numpy(dtype=float)
    indicators = _dummies(ind_code, ind_code.max() + 1)[:, 1:]
    cell_x = _dummies(cell_code, len(cells))
    rater_x = _dummies(rater_code, len(raters))

    counts = pd.crosstab(ratings["rater_id"].astype(str), labels)
    with single_blas_thread():
        if model == "fixed":
            test, estimate = _fit_fixed(y, unit_code, len(units), indicators, cell_x, rater_x)
        else:
            test, estimate = _fit_mixed(y, unit_code, labels, ref, indicators, cell_x, rater_x)
    component = _components(ratings)
    z = stats.norm.ppf(0.5 + confidence / 2)
    excluded: set[tuple[str, str]] = set()
    for _ in range(_MAX_ROUNDS):
        contrasts, meta = _contrasts(cells, counts, ref, min_n, component, excluded)
        table = _gap_table(
            meta,
            [estimate(c) if c is not None else (np.nan,) * 3 for c in contrasts],
            counts,
            attribute,
            ref,
            z,
            correction,
            alpha,
        )
        flagged = {(r.rater_id, r.group) for r in records(table) if r.flagged}
        if flagged == excluded:
            break
        excluded = flagged
    table["verdict"] = [_gap_verdict(r, min_n, confidence, lang) for r in records(table)]
    reported = table.loc[table["role"] == "compared", "estimate"]
    head = {
        "scope": "interaction",
        "attribute": attribute,
        "rater_id": None,
        "group": None,
        "reference": ref,
        "role": "test",
        "n": len(y),
        "n_reference": np.nan,
        "estimate": float(reported.std(ddof=1)) if len(reported) > 1 else np.nan,
        "statistic": test["statistic"],
        "df": test["df"],
        "p_value": test["p_value"],
        "p_adjusted": test["p_value"],
        "flagged": bool(test["p_value"] < alpha),
    }
    head["verdict"] = _test_verdict(head, test, attribute, model, lang)
    out = pd.concat([pd.DataFrame([head]), table], ignore_index=True)
    out["flagged"] = out["flagged"].fillna(False).astype(bool)
    return finish(out, "rater_bias", _COLUMNS, model=model, reference=ref, test=test)


_MAX_ROUNDS = 5
"""Rounds of re-centring the gaps on the raters not flagged (see :func:`rater_bias`)."""


def _gap_table(meta, estimates, counts, attribute, ref, z, correction, alpha) -> pd.DataFrame:
    rows = []
    for (rater, group, role), (estimate, se, df) in zip(meta, estimates, strict=True):
        row = {
            "scope": "rater",
            "attribute": attribute,
            "rater_id": rater,
            "group": group,
            "reference": ref,
            "role": role,
            "n": int(counts.loc[rater, group]),
            "n_reference": int(counts.loc[rater, ref]),
            "estimate": estimate,
            "se": se,
            "df": df,
        }
        if role == "suppressed":  # no counts for a suppressed cell (perfmodel.privacy)
            row.update(n=np.nan, n_reference=np.nan, suppressed=SMALL_GROUP)
        if role == "compared" and np.isfinite(se) and se > 0:
            t = estimate / se
            row.update(
                statistic=t,
                p_value=float(2 * stats.t.sf(abs(t), df)),
                ci_low=estimate - z * se,
                ci_high=estimate + z * se,
            )
        elif role == "compared":
            row["role"] = "not_identified"
        rows.append(row)
    table = pd.DataFrame(
        rows, columns=[*(c for c in _COLUMNS if c not in ("p_adjusted", "flagged", "verdict")), "suppressed"]
    )
    table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(dtype=float), correction)
    table["flagged"] = table["p_adjusted"] < alpha
    return table


def _components(ratings: pd.DataFrame) -> dict[str, int]:
    """Rater → connected component of the rater–unit graph (raters linked by shared units)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for unit, rater in zip(ratings["unit_id"].astype(str), ratings["rater_id"].astype(str), strict=True):
        a, b = find("u\x1f" + unit), find("r\x1f" + rater)
        if a != b:
            parent[a] = b
    roots = sorted({find("r\x1f" + r) for r in ratings["rater_id"].astype(str).unique()})
    code = {root: i for i, root in enumerate(roots)}
    return {r: code[find("r\x1f" + r)] for r in ratings["rater_id"].astype(str).unique()}


def _contrasts(
    cells: pd.Index,
    counts: pd.DataFrame,
    ref: str,
    min_n: int,
    component: dict[str, int],
    excluded: set[tuple[str, str]],
):
    """Contrast vectors over the cell effects: each rater's gap minus the mean gap of the raters
    connected to it (who share units with it, directly or through other raters), leaving out of
    that mean the raters in ``excluded`` (flagged in an earlier round) while two others remain."""
    position = {key: i for i, key in enumerate(cells)}
    vectors, meta = [], []
    for group in [g for g in counts.columns if g != ref]:
        eligible = [r for r in counts.index if counts.loc[r, group] >= min_n and counts.loc[r, ref] >= min_n]
        gaps = {}
        for rater in eligible:
            v = np.zeros(len(cells))
            v[position[f"{rater}\x1f{group}"]] += 1.0
            v[position[f"{rater}\x1f{ref}"]] -= 1.0
            gaps[rater] = v
        for rater in counts.index:
            if counts.loc[rater, group] == 0 and counts.loc[rater, ref] == 0:
                continue
            peers = [r for r in gaps if component[r] == component[rater]]
            unflagged = [r for r in peers if (r, group) not in excluded]
            centre = unflagged if len(unflagged) >= 2 else peers
            if rater in gaps and len(peers) >= 2:
                vectors.append(gaps[rater] - np.mean([gaps[r] for r in centre], axis=0))
                meta.append((rater, group, "compared"))
            else:
                vectors.append(None)
                meta.append((rater, group, "suppressed" if rater not in gaps else "not_identified"))
    return vectors, meta


def _estimable(projector: np.ndarray, c: np.ndarray) -> bool:
    """Whether c'β is the same for every least-squares solution (c in the row space of X).

    ``projector`` is X⁺X, the projection onto the row space of X.
    """
    projected = projector @ c
    return bool(np.allclose(projected, c, atol=1e-7 * max(1.0, np.abs(c).max())))


def _fit_fixed(y, unit_code, n_units, indicators, cell_x, rater_x):
    """Within-unit OLS fits of the cell and the rater-only models: the F-test and a function
    giving estimate, SE and df of a contrast of the cell effects (``nan`` if not estimable)."""
    yd = _demean(y, unit_code, n_units)
    full_x = _demean(np.column_stack([cell_x, indicators]), unit_code, n_units)
    reduced_x = _demean(np.column_stack([rater_x, indicators]), unit_code, n_units)
    keep_full, keep_reduced = _independent(full_x), _independent(reduced_x)
    ssr_full, ssr_reduced = _ssr(yd, full_x[:, keep_full]), _ssr(yd, reduced_x[:, keep_reduced])
    rank_full, rank_reduced = keep_full.size, keep_reduced.size
    df_full = len(y) - n_units - rank_full
    df_num = rank_full - rank_reduced
    if df_full <= 0 or df_num <= 0:
        test = {"statistic": np.nan, "df": float(df_num), "df_resid": float(df_full), "p_value": np.nan, "kind": "F"}
    else:
        F = ((ssr_reduced - ssr_full) / df_num) / (ssr_full / df_full)
        test = {
            "statistic": float(F),
            "df": float(df_num),
            "df_resid": float(df_full),
            "p_value": float(stats.f.sf(F, df_num, df_full)),
            "kind": "F",
        }
    sigma2 = ssr_full / df_full if df_full > 0 else np.nan
    pinv = np.linalg.pinv(full_x)
    xtx_pinv = pinv @ pinv.T
    projector = pinv @ full_x
    beta = pinv @ yd
    n_ind = indicators.shape[1]

    def estimate(c: np.ndarray) -> tuple[float, float, float]:
        full_c = np.r_[c, np.zeros(n_ind)]
        if not _estimable(projector, full_c):
            return np.nan, np.nan, np.nan
        return float(full_c @ beta), float(np.sqrt(sigma2 * full_c @ xtx_pinv @ full_c)), float(df_full)

    return test, estimate


def _ssr(y: np.ndarray, X: np.ndarray) -> float:
    """Residual sum of squares of an OLS fit (statsmodels); ``y·y`` without regressors."""
    import statsmodels.api as sm

    return float(y @ y) if X.shape[1] == 0 else float(sm.OLS(y, X).fit().ssr)


def _fit_mixed(y, unit_code, labels, ref, indicators, cell_x, rater_x):
    """MixedLM with random unit intercepts, cells vs rater + group effects: the LR test and a
    function giving estimate, SE and df of a contrast of the cell effects."""
    import warnings

    import statsmodels.api as sm

    group_code, groups = pd.factorize(labels, sort=True)
    group_x = _dummies(group_code, len(groups))[:, [i for i, g in enumerate(groups) if g != ref]]
    full_x = np.column_stack([cell_x, indicators])
    reduced_x = np.column_stack([rater_x, group_x, indicators])
    reduced_x = reduced_x[:, _independent(reduced_x)]
    keep_full = _independent(full_x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = sm.MixedLM(y, full_x[:, keep_full], groups=unit_code).fit(reml=False)
        reduced = sm.MixedLM(y, reduced_x, groups=unit_code).fit(reml=False)
    df = keep_full.size - reduced_x.shape[1]
    lr = max(0.0, 2 * (full.llf - reduced.llf))
    test = {
        "statistic": float(lr),
        "df": float(df),
        "df_resid": np.nan,
        "p_value": float(stats.chi2.sf(lr, df)) if df > 0 else np.nan,
        "kind": "LR",
    }
    k_fe = keep_full.size
    beta = np.zeros(full_x.shape[1])
    beta[keep_full] = np.asarray(full.fe_params)
    cov = np.zeros((full_x.shape[1], full_x.shape[1]))
    cov[np.ix_(keep_full, keep_full)] = np.asarray(full.cov_params())[:k_fe, :k_fe]
    dropped = np.setdiff1d(np.arange(full_x.shape[1]), keep_full)
    n_ind = indicators.shape[1]

    def estimate(c: np.ndarray) -> tuple[float, float, float]:
        full_c = np.r_[c, np.zeros(n_ind)]
        if np.abs(full_c[dropped]).sum() > 1e-12:
            return np.nan, np.nan, np.nan
        return float(full_c @ beta), float(np.sqrt(full_c @ cov @ full_c)), float(len(y) - k_fe)

    return test, estimate


def _independent(X: np.ndarray) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns (pivoted QR), in order."""
    from scipy.linalg import qr

    _, r, pivots = qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > max(diag.max() * 1e-10, 1e-12)).sum()) if len(diag) else 0
    return np.sort(pivots[:rank])


def _gap_verdict(row: Any, min_n: int, confidence: float, lang: Lang) -> str:
    words = templates("audit.raters.verdict", lang)
    if row.role == "suppressed":
        return words["small"].format(rater=row.rater_id, group=row.group, min_n=min_n)
    if row.role == "not_identified":
        return words["gap_none"].format(rater=row.rater_id)
    values = dict(
        rater=row.rater_id,
        group=row.group,
        ref=row.reference,
        gap=fmt(abs(row.estimate)),
        dir=words["lower" if row.estimate < 0 else "higher"],
        ci=fmt_ci(row.ci_low, row.ci_high),
        p=fmt_p(row.p_adjusted),
        lvl=fmt_pct(confidence),
    )
    if not row.flagged:
        values["gap"] = fmt(row.estimate)
    return words["gap_sig" if row.flagged else "gap_ns"].format(**values)


def _test_verdict(head: dict[str, Any], test: dict[str, Any], attribute: str, model: Model, lang: Lang) -> str:
    words = templates("audit.raters.verdict", lang)
    if not np.isfinite(test["statistic"]):
        return words["test_none"]
    if test["kind"] == "F":
        stat = f"F({test['df']:.0f}, {test['df_resid']:.0f}) = {test['statistic']:.2f}"
    else:
        stat = f"χ²({test['df']:.0f}) = {test['statistic']:.2f}"
    key = "test_sig" if head["flagged"] else "test_ns"
    verdict = words[key].format(stat=stat, p=fmt_p(test["p_value"]), attribute=attribute, spread=fmt(head["estimate"]))
    if head["flagged"] and not np.isfinite(head["estimate"]):
        verdict = verdict.split(words["spread_cut"])[0]
    return verdict
