"""Who the assessment favours: results by group, adverse impact, conditional parity, context.

Four checks, each returning a tidy frame with ``n``, ``estimate``, an uncertainty
and a one-line ``verdict``:

:func:`disaggregate`
    Mean score (or mean grade) per group with a t interval, Hedges' g (or
    Cliff's δ for grades) against a reference group, Welch (or Mann–Whitney)
    p-values corrected for multiple groups, and the grade distribution. Groups
    with fewer than ``min_n`` units are *suppressed*: named, but without any
    count or estimate (see :mod:`perfmodel.privacy`).
:func:`adverse_impact`
    For each cumulative grade cut (≥优秀, ≥良好, ≥合格): the share of each group
    reaching it, the impact ratio against the most favoured group (the
    "four-fifths rule"), Fisher's exact test, the practical size of the gap and
    a multiple-testing correction across groups and cuts.
:func:`conditional_parity`
    The gap between groups after accounting for legitimate factors (workload,
    …): a stratified (Mantel–Haenszel weighted) comparison and a two-fold
    Oaxaca–Blinder decomposition into an explained and an unexplained part.
:func:`context_neutrality`
    How much of the score context the unit does not control predicts: R²,
    adjusted R², partial R² per variable and the cross-validated AUC of
    predicting the top grade.

:func:`perfmodel.audit.run.run_audit` runs every applicable check (also the
weight-policy, robustness and rater checks of the sibling modules); the figures
and the paragraph the quarterly report includes are in :mod:`perfmodel.report.audit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.audit._frame import (
    ERR_NOT_NUMERIC,
    AuditData,
    AuditError,
    CheckResult,
    Correction,
    Lang,
    adjust_pvalues,
    as_list,
    auc_se,
    ceil_int,
    check_correction,
    check_lang,
    check_min_n,
    choose_reference,
    effect_size_word,
    finish,
    fmt,
    fmt_ci,
    fmt_p,
    fmt_pct,
    group_codes,
    group_labels,
    hedges_g,
    records,
    require_columns,
    single_blas_thread,
    t_interval,
    unit_table,
    welch,
)
from perfmodel.errors import check_confidence
from perfmodel.framework import GRADES
from perfmodel.glossary import attribute_label, grade_label
from perfmodel.privacy import COMPLEMENTARY, blank_suppressed, suppression_plan
from perfmodel.randomness import seed_from
from perfmodel.text import LANGS, say, templates

__all__ = [
    "GRADE_POINTS",
    "FOUR_FIFTHS_NOTE",
    "ERR_ORDINAL",
    "ERR_NO_GRADES",
    "ERR_NO_LEGITIMATE",
    "ERR_NO_CONTEXT",
    "ERR_CUT",
    "disaggregate",
    "adverse_impact",
    "conditional_parity",
    "context_neutrality",
]

OutcomeType = Literal["auto", "continuous", "ordinal"]
Comparison = Literal["rest", "favoured"]

GRADE_POINTS: Mapping[str, int] = {"优秀": 4, "良好": 3, "合格": 2, "不合格": 1}
"""Grades as ordinal points for :func:`disaggregate` with an ordinal outcome."""

ERR_ORDINAL = (
    "column {column!r} is treated as an ordinal outcome but holds values that are neither numbers "
    "nor grades ({values}); use the grades {grades} or numeric codes"
)
ERR_NO_GRADES = "column {column!r} holds no grades ({grades}); adverse impact needs graded units"
ERR_NO_LEGITIMATE = (
    "name at least one legitimate factor to control for (for example legitimate=['incidents_per_officer'])"
)
ERR_NO_CONTEXT = "name at least one context variable (for example context=['population', 'area_type'])"
ERR_CUT = "unknown grade cut {cut!r}; use grades above the lowest: {grades}"


def _words(lang: Lang) -> dict[str, str]:
    """The verdict templates of the fairness checks in ``lang`` (``audit.fairness.verdict.*`` in the catalogue)."""
    return templates("audit.fairness.verdict", lang)


FOUR_FIFTHS_NOTE: Mapping[str, str] = MappingProxyType({lang: say("audit.note.four_fifths", lang) for lang in LANGS})
"""What the four-fifths rule can and cannot say (attached to :func:`adverse_impact` results)."""


_DISAGGREGATE_COLUMNS = [
    "attribute",
    "group",
    "role",
    "n",
    "estimate",
    "sd",
    "se",
    "ci_low",
    "ci_high",
    "difference",
    "effect",
    "effect_se",
    "effect_ci_low",
    "effect_ci_high",
    "effect_measure",
    "p_value",
    "p_adjusted",
    "flagged",
]
_IMPACT_COLUMNS = [
    "attribute",
    "cut",
    "cut_grade",
    "group",
    "role",
    "n",
    "selected",
    "rate",
    "favoured_group",
    "favoured_rate",
    "comparison_rate",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "expected",
    "shortfall",
    "to_clear",
    "below_threshold",
    "significant",
    "flagged",
    "verdict",
]
_PARITY_COLUMNS = [
    "attribute",
    "group",
    "reference",
    "component",
    "n",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "share_of_gap",
    "n_strata",
    "flagged",
    "verdict",
]
_CONTEXT_COLUMNS = [
    "measure",
    "variable",
    "n",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "flagged",
    "verdict",
]


# ============================================================================ disaggregate
def _outcome(frame: pd.DataFrame, column: str, outcome_type: OutcomeType) -> tuple[str, pd.Series]:
    values = frame[column]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if outcome_type == "auto":
        outcome_type = "continuous" if numeric and column != "grade" else "ordinal"
    if numeric:
        return outcome_type, values.astype(float)
    if outcome_type == "continuous":
        raise AuditError(ERR_NOT_NUMERIC.format(column=column, dtype=values.dtype))
    from perfmodel.grading import NOT_GRADED

    present = values.dropna().astype(str)
    unknown = sorted(set(present) - set(GRADE_POINTS) - {NOT_GRADED})
    if unknown:
        raise AuditError(ERR_ORDINAL.format(column=column, values=", ".join(unknown[:5]), grades="/".join(GRADES)))
    return "ordinal", values.astype(object).map(GRADE_POINTS).astype(float)


def disaggregate(
    data: AuditData,
    *,
    by: str | Sequence[str],
    outcome: str = "score",
    outcome_type: OutcomeType = "auto",
    reference: str | None = None,
    min_n: int = 5,
    confidence: float = 0.95,
    correction: Correction = "holm",
    alpha: float = 0.05,
    lang: Lang = "zh",
) -> CheckResult:
    """Results by group: n, mean with CI, effect size against a reference, grade distribution.

    Parameters
    ----------
    data
        An :class:`~perfmodel.evaluation.Evaluation` or a per-unit frame (see
        :func:`~perfmodel.audit._frame.unit_table`).
    by
        One attribute (``"area_type"``) or a combination (``["area_type",
        "station_class"]`` or ``"area_type+station_class"``).
    outcome
        Column to compare: ``score`` (default), a dimension id, or ``grade``.
    outcome_type
        ``continuous``: mean with t interval, Hedges' g, Welch's test.
        ``ordinal`` (grades, or numeric codes): mean grade points (优秀 4 …
        不合格 1) with t interval, Cliff's δ and the Mann–Whitney test, which use
        only the order. ``auto``: ordinal for ``grade`` and text columns.
    reference
        Group every other group is compared with; default the largest.
    min_n
        Groups with fewer units are suppressed: shown with role ``suppressed``
        and a reason code in ``suppressed``, without count or estimates (never
        as zeros); more groups are suppressed when needed so that a small group
        cannot be derived from the totals (:func:`perfmodel.privacy.suppression_plan`).
        Grade shares are also hidden for groups with fewer than ``min_n`` graded units.
    confidence
        Coverage of the intervals.
    correction
        Multiple-testing correction of the p-values across the compared groups.
    alpha
        Significance level for ``flagged``.
    lang
        Language of ``verdict``.

    Returns
    -------
    CheckResult
        ``to_frame()``: One row per group: ``attribute``, ``group``, ``role`` (reference /
        compared / suppressed), ``n``, ``estimate`` (mean), ``sd``, ``se``,
        ``ci_low``, ``ci_high``, ``difference`` (group − reference), ``effect``
        (Hedges' g or Cliff's δ, named in ``effect_measure``) with ``effect_se``
        and its interval, ``p_value``, ``p_adjusted``, ``flagged``
        (``p_adjusted < alpha``), ``share_<grade>`` columns when grades exist,
        and ``verdict``.

    Examples
    --------
    >>> f = pd.DataFrame({"area": ["a"] * 6 + ["b"] * 6,
    ...                   "score": [80, 82, 84, 86, 88, 90, 70, 72, 74, 76, 78, 80.0]})
    >>> out = disaggregate(f, by="area", lang="en").to_frame()
    >>> out[["group", "n", "estimate", "difference"]].to_dict("records")[1]
    {'group': 'b', 'n': 6, 'estimate': 75.0, 'difference': -10.0}
    """
    lang = check_lang(lang)
    min_n = check_min_n(min_n)
    level = check_confidence(confidence)
    correction = check_correction(correction)
    frame = unit_table(data)
    require_columns(frame, [outcome])
    attribute, codes, names = group_codes(frame, by)
    kind, y_series = _outcome(frame, outcome, outcome_type)
    y = y_series.to_numpy(dtype=float)
    k = len(names)
    valid = ~np.isnan(y)
    n = np.bincount(codes[valid], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes[valid], weights=y[valid], minlength=k) / n
        squares = np.bincount(codes[valid], weights=(y[valid] - mean[codes[valid]]) ** 2, minlength=k)
        sd = np.sqrt(squares / (n - 1))
    sd[n < 2] = np.nan
    ref = choose_reference(pd.Series(n, index=names), reference, min_n, attribute)
    r = names.index(ref)
    plan = suppression_plan(pd.Series(n, index=names), min_n, keep=[ref])
    hidden = np.isin(np.asarray(names, dtype=object), list(plan))
    role = np.where(hidden, "suppressed", "compared").astype(object)
    if not hidden[r]:
        role[r] = "reference"
    compared, shown = role == "compared", role != "suppressed"

    if kind == "continuous":
        effect, effect_se = hedges_g(mean, sd, n, mean[r], sd[r], n[r])
        _, _, p = welch(mean, sd, n, mean[r], sd[r], n[r])
        measure = "hedges_g"
    else:
        effect, effect_se, p = _cliffs_delta(y, codes, k, r)
        measure = "cliffs_delta"
    z = stats.norm.ppf(0.5 + level / 2)
    hide = ~compared
    effect, effect_se, p = (np.where(hide, np.nan, x) for x in (effect, effect_se, p))
    p_adjusted = adjust_pvalues(p, correction)
    ci_low, ci_high = t_interval(mean, sd, n, level)
    columns: dict[str, Any] = {
        "attribute": attribute,
        "group": names,
        "role": role,
        "n": n,
        "estimate": np.where(shown, mean, np.nan),
        "sd": np.where(shown, sd, np.nan),
        "se": np.where(shown, sd / np.sqrt(n.clip(min=1)), np.nan),
        "ci_low": np.where(shown, ci_low, np.nan),
        "ci_high": np.where(shown, ci_high, np.nan),
        "difference": np.where(hide, np.nan, mean - mean[r]),
        "effect": effect,
        "effect_se": effect_se,
        "effect_ci_low": effect - z * effect_se,
        "effect_ci_high": effect + z * effect_se,
        "effect_measure": measure,
        "p_value": p,
        "p_adjusted": p_adjusted,
        "flagged": compared & (p_adjusted < alpha),
    }
    if "grade" in frame.columns:
        graded = np.bincount(codes[frame["grade"].notna().to_numpy()], minlength=k)
        share_plan = suppression_plan(pd.Series(graded, index=names), min_n, keep=[ref])
        columns.update(_grade_shares(frame["grade"], codes, k, shown & ~np.isin(names, list(share_plan))))
    table = blank_suppressed(pd.DataFrame(columns), plan, keep=("attribute", "effect_measure"))
    digits = 1 if kind == "continuous" else 2
    table["verdict"] = [_disaggregate_verdict(row, ref, min_n, measure, lang, level, digits) for row in records(table)]
    order = np.lexsort((table["group"].to_numpy(), table["role"].map(_ROLE_ORDER).to_numpy()))
    return finish(
        table.iloc[order],
        "disaggregate",
        _DISAGGREGATE_COLUMNS,
        outcome=outcome,
        outcome_type=kind,
        reference=ref,
        min_n=min_n,
        confidence=level,
        correction=correction,
    )


_ROLE_ORDER = {"reference": 0, "favoured": 0, "compared": 1, "suppressed": 2}


def _suppressed_verdict(row: Any, min_n: int, lang: Lang) -> str:
    """Why a row shows nothing; never its count (see :func:`perfmodel.privacy.suppression_plan`)."""
    key = "complementary" if getattr(row, "suppressed", None) == COMPLEMENTARY else "suppressed"
    return _words(lang)[key].format(min_n=min_n)


def _grade_shares(grades: pd.Series, codes: np.ndarray, k: int, shown: np.ndarray) -> dict[str, np.ndarray]:
    """Share of each grade within each group (``share_<grade>``); suppressed groups get ``nan``."""
    values = grades.to_numpy(dtype=object)
    present = np.array([not pd.isna(v) for v in values], dtype=bool)
    extra = sorted({str(v) for v in values[present]} - set(GRADES))
    order = [*GRADES, *extra]
    index = {g: i for i, g in enumerate(order)}
    g_codes = np.array([index[str(v)] for v in values[present]], dtype=int)
    counts = np.bincount(codes[present] * len(order) + g_codes, minlength=k * len(order)).reshape(k, len(order))
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / totals
    shares[~shown] = np.nan
    return {f"share_{g}": shares[:, i] for i, g in enumerate(order)}


def _cliffs_delta(y: np.ndarray, codes: np.ndarray, k: int, ref: int):
    """Cliff's δ of each group against group ``ref`` (= 2·AUC − 1), its SE and Mann–Whitney p."""
    valid = ~np.isnan(y)
    ref_values = y[valid & (codes == ref)]
    delta, se, p = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    for group in range(k):
        values = y[valid & (codes == group)]
        if group == ref or len(values) < 2 or len(ref_values) < 2:
            continue
        test = stats.mannwhitneyu(values, ref_values, alternative="two-sided")
        auc = test.statistic / (len(values) * len(ref_values))
        delta[group] = 2 * auc - 1
        se[group] = 2 * float(auc_se(auc, len(values), len(ref_values)))
        p[group] = test.pvalue
    return delta, se, p


def _disaggregate_verdict(row: Any, ref: str, min_n: int, measure: str, lang: Lang, level: float, digits: int) -> str:
    if row.role == "suppressed":
        return _suppressed_verdict(row, min_n, lang)
    if row.role == "reference":
        return _words(lang)["reference"].format(
            mean=fmt(row.estimate, digits), ci=fmt_ci(row.ci_low, row.ci_high, digits), lvl=fmt_pct(level)
        )
    key = "diff_sig" if row.flagged else "diff_ns"
    direction = _words(lang)["lower" if row.difference < 0 else "higher"]
    label = "g" if measure == "hedges_g" else "δ"
    return _words(lang)[key].format(
        ref=ref,
        dir=direction,
        diff=fmt(abs(row.difference), digits),
        measure=label,
        g=fmt(row.effect, 2),
        size=effect_size_word(row.effect, lang, measure),
        p=fmt_p(row.p_adjusted),
    )


# ============================================================================ adverse impact
def _cut_label(grade: str, lang: Lang) -> str:
    if lang == "en":
        from perfmodel.framework import GRADE_NAMES_EN

        return f"≥{GRADE_NAMES_EN[grade]}"
    return f"≥{grade}"


def _katz_interval(a: int, n: int, c: int, m: int, z: float) -> tuple[float, float]:
    """Katz log interval of the ratio (a/n)/(c/m); 0.5 is added to every cell when one is 0."""
    if min(a, n - a, c, m - c) == 0:
        a, n, c, m = a + 0.5, n + 1.0, c + 0.5, m + 1.0
    se = np.sqrt(1 / a - 1 / n + 1 / c - 1 / m)
    log_ratio = np.log((a / n) / (c / m))
    return float(np.exp(log_ratio - z * se)), float(np.exp(log_ratio + z * se))


def _fisher(a: int, b: int, c: int, d: int) -> float:
    return float(stats.fisher_exact([[a, b], [c, d]], alternative="two-sided")[1])


def adverse_impact(
    data: AuditData,
    *,
    by: str | Sequence[str],
    grade: str = "grade",
    cuts: Sequence[str] | None = None,
    comparison: Comparison = "rest",
    threshold: float = 0.8,
    correction: Correction = "holm",
    alpha: float = 0.05,
    min_n: int = 5,
    confidence: float = 0.95,
    lang: Lang = "zh",
) -> CheckResult:
    """Adverse impact of grades: selection rates, impact ratios, Fisher tests, shortfalls.

    For each cumulative cut (≥优秀, ≥良好, ≥合格) a unit is *selected* when its
    grade reaches the cut. Units without a grade (未评定) are left out of every
    count. The *most favoured* group is the group (with at least ``min_n``
    units) with the highest selection rate; each group's *impact ratio* is its
    rate divided by the favoured rate, and the four-fifths rule flags ratios
    below ``threshold`` (0.8).

    Parameters
    ----------
    data
        An Evaluation or a per-unit frame with a grade column.
    by
        Attribute or combination of attributes (a list, or joined with ``+``)
        defining the groups.
    grade
        Column holding the grades.
    cuts
        Grades whose cumulative cut to test; default every grade but the lowest.
    comparison
        The 2×2 table of Fisher's exact test (two-sided, scipy's
        ``fisher_exact``): ``rest`` (default) compares the group's selected /
        not selected counts with those of all other graded units together;
        ``favoured`` compares them with the most favoured group's only. The
        favoured group itself, the benchmark, is not tested.
    threshold
        Impact-ratio threshold (0.8 = four-fifths).
    correction
        Correction across every test of the table (all groups × all cuts):
        ``holm`` controls the chance of any false alarm, ``fdr_bh`` the share of
        false alarms among the flags.
    alpha
        Significance level after correction.
    min_n
        Groups with fewer graded units are suppressed: no count, rate or test,
        only the label, role ``suppressed`` and the reason in ``suppressed``
        (complementary suppression as in :func:`disaggregate`).
    confidence
        Coverage of the impact ratio's interval (Katz log method, with
        0.5 added to every cell when a count is zero).
    lang
        Language of ``verdict`` and of the result's ``note``.

    Returns
    -------
    CheckResult
        ``to_frame()``: One row per cut × group: ``cut``, ``group``, ``role`` (favoured /
        compared / suppressed), ``n`` (graded units), ``selected``, ``rate``,
        ``favoured_group``, ``favoured_rate``, ``estimate`` (impact ratio),
        ``ci_low``, ``ci_high``, ``p_value`` (Fisher), ``p_adjusted``,
        ``expected`` (n × the overall rate of all graded units), ``shortfall``
        (expected − selected), ``to_clear`` (how many more of the group's units
        would have to reach the cut for the ratio to reach ``threshold``, the
        favoured rate held fixed), ``below_threshold``, ``significant``
        (adjusted p below ``alpha`` *and* a rate below the comparison's),
        ``flagged`` (both, and not the favoured group) and ``verdict``. The result's ``note`` states the
        limits of the four-fifths rule (:data:`FOUR_FIFTHS_NOTE`).

    Examples
    --------
    >>> f = pd.DataFrame({"g": ["a"] * 20 + ["b"] * 20,
    ...                   "grade": ["优秀"] * 10 + ["合格"] * 10 + ["优秀"] * 4 + ["合格"] * 16})
    >>> out = adverse_impact(f, by="g", cuts=["优秀"], lang="en").to_frame()
    >>> b = out[out.group == "b"].iloc[0]
    >>> float(b.rate), round(float(b.estimate), 3), float(b.shortfall), int(b.to_clear)
    (0.2, 0.4, 3.0, 4)
    """
    lang = check_lang(lang)
    min_n = check_min_n(min_n)
    level = check_confidence(confidence)
    correction = check_correction(correction)
    frame = unit_table(data)
    require_columns(frame, [grade])
    attribute, codes, names = group_codes(frame, by)
    index = {g: i for i, g in enumerate(GRADES)}
    position = np.array(
        [index.get(g, -1) if isinstance(g, str) else -1 for g in frame[grade].to_numpy(dtype=object)], dtype=int
    )
    graded = position >= 0
    if not graded.any():
        raise AuditError(ERR_NO_GRADES.format(column=grade, grades="/".join(GRADES)))
    cuts = list(GRADES[:-1] if cuts is None else cuts)
    for cut in cuts:
        if cut not in GRADES[:-1]:
            raise AuditError(ERR_CUT.format(cut=cut, grades=", ".join(GRADES[:-1])))
    k = len(names)
    z = stats.norm.ppf(0.5 + level / 2)
    n = np.bincount(codes[graded], minlength=k)
    plan = suppression_plan(pd.Series(n, index=names), min_n)
    eligible = ~np.isin(np.asarray(names, dtype=object), list(plan))
    total_n = int(n.sum())
    rows: dict[str, list[Any]] = {
        c: []
        for c in (
            "cut",
            "cut_grade",
            "group",
            "role",
            "n",
            "selected",
            "rate",
            "favoured_group",
            "favoured_rate",
            "estimate",
            "ci_low",
            "ci_high",
            "p_value",
            "comparison_rate",
            "expected",
            "shortfall",
            "to_clear",
        )
    }
    for cut in cuts:
        selected = np.bincount(codes[graded & (position <= GRADES.index(cut))], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = selected / n
        total_sel = int(selected.sum())
        candidates = [g for g in range(k) if eligible[g]]
        fav = min(candidates, key=lambda g: (-rate[g], -n[g], names[g])) if candidates else None
        fav_n, fav_sel = (int(n[fav]), int(selected[fav])) if fav is not None else (0, 0)
        fav_rate = fav_sel / fav_n if fav is not None else np.nan
        pooled = total_sel / total_n
        for g in range(k):
            a, m = int(selected[g]), int(n[g])
            role = "suppressed" if not eligible[g] else "favoured" if g == fav else "compared"
            ratio = lo = hi = p = clear = np.nan
            if role != "suppressed" and fav_sel > 0:
                ratio = (a / m) / fav_rate
                clear = max(0, ceil_int(threshold * fav_rate * m - a)) if ratio < threshold else 0
                if role == "compared":
                    lo, hi = _katz_interval(a, m, fav_sel, fav_n, z)
                    if comparison == "rest":
                        p = _fisher(a, m - a, total_sel - a, total_n - m - (total_sel - a))
                    else:
                        p = _fisher(a, m - a, fav_sel, fav_n - fav_sel)
            others = total_n - m
            comparison_rate = ((total_sel - a) / others if others else np.nan) if comparison == "rest" else fav_rate
            shown = role != "suppressed"
            for column, value in (
                ("cut", _cut_label(cut, lang)),
                ("cut_grade", cut),
                ("group", names[g]),
                ("role", role),
                ("n", m),
                ("selected", a),
                ("rate", rate[g] if shown else np.nan),
                ("favoured_group", names[fav] if fav is not None else None),
                ("favoured_rate", fav_rate),
                ("estimate", ratio),
                ("ci_low", lo),
                ("ci_high", hi),
                ("p_value", p),
                ("comparison_rate", comparison_rate),
                ("expected", m * pooled if shown else np.nan),
                ("shortfall", m * pooled - a if shown else np.nan),
                ("to_clear", clear),
            ):
                rows[column].append(value)
    out = blank_suppressed(pd.DataFrame(rows), plan, keep=("cut", "cut_grade"))
    out["attribute"] = attribute
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(dtype=float), correction)
    out["below_threshold"] = out["estimate"] < threshold
    out["significant"] = (out["p_adjusted"] < alpha) & (out["rate"] < out["comparison_rate"])
    out["flagged"] = out["below_threshold"] & out["significant"] & (out["role"] == "compared")
    out["to_clear"] = out["to_clear"].astype("Int64")
    out["verdict"] = [_impact_verdict(row, threshold, min_n, lang) for row in records(out)]
    order = np.lexsort(
        (out["group"].to_numpy(), out["role"].map(_ROLE_ORDER).to_numpy(), out["cut_grade"].map(index).to_numpy())
    )
    return finish(
        out.iloc[order],
        "adverse_impact",
        _IMPACT_COLUMNS,
        note=FOUR_FIFTHS_NOTE[lang],
        threshold=threshold,
        comparison=comparison,
        correction=correction,
        min_n=min_n,
    )


def _impact_verdict(row: Any, threshold: float, min_n: int, lang: Lang) -> str:
    words = _words(lang)
    if row.role == "suppressed":
        return _suppressed_verdict(row, min_n, lang)
    if not np.isfinite(row.favoured_rate) or row.favoured_rate == 0:
        return words["no_selection"].format(cut=row.cut)
    if row.role == "favoured":
        return words["favoured"].format(cut=row.cut, rate=fmt_pct(row.rate), k=row.selected, n=row.n)
    values = dict(
        cut=row.cut,
        rate=fmt_pct(row.rate),
        ratio=fmt(row.estimate, 2),
        threshold=fmt(threshold, 2),
        p=fmt_p(row.p_adjusted),
        shortfall=fmt(max(row.shortfall, 0.0), 1),
        clear=row.to_clear,
    )
    if row.flagged:
        verdict = words["ai_flag"].format(**values)
    elif row.below_threshold:
        verdict = words["ai_ratio_only"].format(**values)
    elif row.significant:
        verdict = words["ai_sig_only"].format(**values)
    else:
        verdict = words["ai_ok"].format(**values)
    if row.expected < 5 or row.n < 2 * min_n:
        verdict += words["small"]
    return verdict


# ============================================================================ conditional parity
def _design(frame: pd.DataFrame, variables: Sequence[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Numeric design columns for ``variables``: numbers as they are, text as 0/1 dummies.

    Returns the design (no intercept) and, per variable, the columns it produced.
    """
    parts, columns = [], {}
    for variable in variables:
        values = frame[variable]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            parts.append(values.astype(float).rename(variable))
            columns[variable] = [variable]
        else:
            labels = values.astype(object).where(values.notna(), "(missing)").astype(str)
            dummies = pd.get_dummies(labels, prefix=variable, prefix_sep="=", dtype=float)
            dummies = dummies.iloc[:, 1:]  # first level is the baseline
            dummies = dummies.loc[:, dummies.std() > 0]
            parts.append(dummies)
            columns[variable] = list(dummies.columns)
    design = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    return design, columns


def _strata(frame: pd.DataFrame, variables: Sequence[str], bins: int) -> pd.Series:
    """Stratum labels: numeric variables cut at quantiles into ``bins`` bins, text kept."""
    keys = []
    for variable in variables:
        values = frame[variable]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            codes = pd.qcut(values.astype(float), q=bins, labels=False, duplicates="drop")
            keys.append(codes.astype(float).astype(str))
        else:
            keys.append(values.astype(object).where(values.notna(), "(missing)").astype(str))
    stratum = keys[0]
    for key in keys[1:]:
        stratum = stratum + "|" + key
    return stratum


def _stratified_gap(y: np.ndarray, focal: np.ndarray, stratum: np.ndarray) -> dict[str, float]:
    """Mantel–Haenszel weighted within-stratum mean difference (focal − reference).

    Weight of stratum s: w_s = n_fs·n_rs / (n_fs + n_rs). With a pooled
    within-cell variance σ², Var(Σw_s d_s / Σw_s) = σ² / Σw_s.
    """
    cells = pd.DataFrame({"y": y, "focal": focal, "s": stratum})
    agg = cells.groupby(["s", "focal"])["y"].agg(["count", "mean", "var"]).unstack("focal")
    empty = {"estimate": np.nan, "se": np.nan, "n": 0, "n_strata": 0, "df": np.nan}
    if {True, False} - set(agg["count"].columns):
        return empty
    both = agg["count"][True].notna() & agg["count"][False].notna()
    if not both.any():
        return empty
    used = agg[both]
    n_f, n_r = used["count"][True], used["count"][False]
    d = used["mean"][True] - used["mean"][False]
    w = n_f * n_r / (n_f + n_r)
    ss = ((used["count"] - 1) * used["var"].fillna(0.0)).to_numpy().sum()
    n_total = float(n_f.sum() + n_r.sum())
    df = n_total - 2 * len(used)
    if df < 1:
        return {
            "estimate": float((w * d).sum() / w.sum()),
            "se": np.nan,
            "n": int(n_total),
            "n_strata": len(used),
            "df": np.nan,
        }
    sigma2 = ss / df
    return {
        "estimate": float((w * d).sum() / w.sum()),
        "se": float(np.sqrt(sigma2 / w.sum())),
        "n": int(n_total),
        "n_strata": len(used),
        "df": df,
    }


def _oaxaca(y: np.ndarray, X: np.ndarray, focal: np.ndarray) -> tuple[float, float]:
    """Two-fold Oaxaca–Blinder with pooled coefficients (pooled model with a group dummy).

    Returns (explained, unexplained) of the gap ȳ_focal − ȳ_reference:
    explained = (X̄_f − X̄_r)·β*, unexplained = the group dummy's coefficient,
    which equals gap − explained exactly (Jann 2008).
    """
    design = np.column_stack([np.ones(len(y)), X, focal.astype(float)])
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    slopes = beta[1:-1]
    explained = float((X[focal].mean(axis=0) - X[~focal].mean(axis=0)) @ slopes) if X.shape[1] else 0.0
    return explained, float(beta[-1])


def conditional_parity(
    data: AuditData,
    *,
    by: str | Sequence[str],
    legitimate: str | Sequence[str],
    outcome: str = "score",
    reference: str | None = None,
    bins: int = 3,
    n_boot: int = 200,
    rng: int | np.random.Generator | None = 0,
    min_n: int = 5,
    confidence: float = 0.95,
    correction: Correction = "holm",
    alpha: float = 0.05,
    lang: Lang = "zh",
) -> CheckResult:
    """The gap between each group and the reference after legitimate factors.

    Two complementary answers, for every group compared with the reference:

    *Stratified comparison.* Units are put into strata of the legitimate
    factors (numeric factors cut at their quantiles into ``bins`` bins, text
    factors by value); within each stratum holding both groups the mean
    difference is taken, and the differences are averaged with Mantel–Haenszel
    weights n_f·n_r/(n_f + n_r). Its SE uses the pooled within-cell variance.

    *Oaxaca–Blinder decomposition (two-fold, pooled).* An OLS regression
    (statsmodels) of the outcome on the legitimate factors and a group dummy,
    fitted on the two groups, splits the raw gap into an *explained* part
    (differences in the factors × their pooled coefficients) and an
    *unexplained* part (the dummy's coefficient) — the gap between otherwise
    comparable units. SEs of both parts come from a seeded bootstrap that
    resamples units within each group.

    Parameters
    ----------
    data
        An Evaluation or a per-unit frame.
    by
        Attribute or combination of attributes (a list, or joined with ``+``)
        defining the groups.
    legitimate
        Factors it is legitimate to account for (workload such as
        ``incidents_per_officer``, …). Numeric or text columns.
    outcome
        Numeric column compared (default ``score``).
    reference
        Reference group (default the largest).
    bins
        Quantile bins per numeric factor for the stratified comparison.
    n_boot
        Bootstrap replicates for the decomposition's SEs.
    rng
        Randomness of the bootstrap: an int seed or a generator.
    min_n
        Groups with fewer units (with complete data) are not compared, nor
        groups suppressed by the complementary rule of
        :func:`perfmodel.privacy.suppression_plan`.
    confidence, correction, alpha
        Coverage of the intervals; correction of p-values across groups (per component);
        significance level for ``flagged``.
    lang
        Language of ``verdict``.

    Returns
    -------
    CheckResult
        ``to_frame()``: Four rows per compared group, ``component`` = ``raw`` (Welch),
        ``stratified``, ``explained`` and ``unexplained``, with ``n``,
        ``estimate`` (points; group − reference, negative = group lower), ``se``,
        ``ci_low``, ``ci_high``, ``p_value``, ``p_adjusted``, ``share_of_gap``
        (explained and unexplained as shares of the raw gap), ``n_strata``,
        ``flagged`` (stratified and unexplained rows significant after
        correction) and ``verdict``.
    """
    lang = check_lang(lang)
    min_n = check_min_n(min_n)
    level = check_confidence(confidence)
    correction = check_correction(correction)
    legit = as_list(legitimate)
    if not legit:
        raise AuditError(ERR_NO_LEGITIMATE)
    frame = unit_table(data)
    require_columns(frame, [outcome, *legit])
    attribute, labels = group_labels(frame, by)
    _, y_all = _outcome(frame, outcome, "continuous")
    complete = y_all.notna() & frame[legit].notna().all(axis=1)
    frame, labels, y_all = frame[complete], labels[complete], y_all[complete]
    counts = labels.value_counts()
    ref = choose_reference(counts, reference, min_n, attribute)
    design, _ = _design(frame, legit)
    stratum = _strata(frame, legit, bins)
    legit_text = "、".join(legit) if lang == "zh" else ", ".join(legit)
    z = stats.norm.ppf(0.5 + level / 2)
    seed = seed_from(rng)
    rng = np.random.default_rng(seed)

    plan = suppression_plan(counts, min_n, keep=[ref])
    rows: list[dict[str, Any]] = []
    with single_blas_thread():
        for group in sorted(counts.index):
            if group == ref or group in plan or ref in plan:
                continue
            rows.extend(_parity_rows(group, ref, attribute, labels, y_all, design, stratum, n_boot, rng))

    out = pd.DataFrame(rows, columns=[*_PARITY_COLUMNS[:6], "se", "p_value", "n_strata", "share_of_gap"])
    if out.empty:
        out = pd.DataFrame(columns=_PARITY_COLUMNS)
        return finish(out, "conditional_parity", _PARITY_COLUMNS, reference=ref, legitimate=legit)
    out["ci_low"] = out["estimate"] - z * out["se"]
    out["ci_high"] = out["estimate"] + z * out["se"]
    out["p_adjusted"] = np.nan
    for index in out.groupby("component").groups.values():
        out.loc[index, "p_adjusted"] = adjust_pvalues(out.loc[index, "p_value"].to_numpy(), correction)
    out["flagged"] = out["component"].isin(["stratified", "unexplained"]) & (out["p_adjusted"] < alpha)
    out["verdict"] = [_parity_verdict(row, legit_text, level, lang) for row in records(out)]
    return finish(
        out, "conditional_parity", _PARITY_COLUMNS, reference=ref, legitimate=legit, bins=bins, n_boot=n_boot, seed=seed
    )


def _parity_rows(
    group: str,
    ref: str,
    attribute: str,
    labels: pd.Series,
    y_all: pd.Series,
    design: pd.DataFrame,
    stratum: pd.Series,
    n_boot: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Raw, stratified, explained and unexplained gaps of ``group`` against ``ref``."""
    import statsmodels.api as sm

    pair = ((labels == group) | (labels == ref)).to_numpy()
    y = y_all.to_numpy()[pair]
    focal = (labels[pair] == group).to_numpy()
    X = design.to_numpy()[pair]
    X = X[:, X.std(axis=0) > 0] if X.shape[1] else X
    base = {"attribute": attribute, "group": group, "reference": ref}
    rows = []

    yf, yr = y[focal], y[~focal]
    gap, gap_se, gap_p = welch(yf.mean(), yf.std(ddof=1), len(yf), yr.mean(), yr.std(ddof=1), len(yr))
    rows.append(
        {
            **base,
            "component": "raw",
            "n": len(y),
            "estimate": float(gap),
            "se": float(gap_se),
            "p_value": float(gap_p),
            "n_strata": np.nan,
        }
    )

    strat = _stratified_gap(y, focal, stratum.to_numpy()[pair])
    usable = np.isfinite(strat["se"]) and strat["se"] > 0
    p_strat = 2 * stats.t.sf(abs(strat["estimate"] / strat["se"]), strat["df"]) if usable else np.nan
    rows.append(
        {
            **base,
            "component": "stratified",
            "n": strat["n"],
            "estimate": strat["estimate"],
            "se": strat["se"],
            "p_value": p_strat,
            "n_strata": strat["n_strata"],
        }
    )

    fit = sm.OLS(y, np.column_stack([np.ones(len(y)), X, focal.astype(float)])).fit()
    slopes = np.asarray(fit.params)[1:-1]
    explained = float((X[focal].mean(axis=0) - X[~focal].mean(axis=0)) @ slopes) if X.shape[1] else 0.0
    unexplained = float(np.asarray(fit.params)[-1])
    boot = _bootstrap_oaxaca(y, X, focal, n_boot, rng)
    for component, value, column in (("explained", explained, 0), ("unexplained", unexplained, 1)):
        se = float(np.std(boot[:, column], ddof=1)) if len(boot) > 1 else np.nan
        p = 2 * stats.norm.sf(abs(value / se)) if se > 0 else np.nan
        rows.append(
            {
                **base,
                "component": component,
                "n": len(y),
                "estimate": value,
                "se": se,
                "p_value": p,
                "n_strata": np.nan,
                "share_of_gap": value / gap if abs(gap) > 1e-12 else np.nan,
            }
        )
    return rows


def _bootstrap_oaxaca(
    y: np.ndarray, X: np.ndarray, focal: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Explained and unexplained parts on ``n_boot`` resamples (units resampled within group)."""
    f_idx, r_idx = np.flatnonzero(focal), np.flatnonzero(~focal)
    out = np.empty((n_boot, 2))
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(f_idx, len(f_idx)), rng.choice(r_idx, len(r_idx))])
        out[b] = _oaxaca(y[idx], X[idx], focal[idx])
    return out


def _parity_verdict(row: Any, legit: str, level: float, lang: Lang) -> str:
    words = _words(lang)
    values = dict(
        gap=fmt(row.estimate),
        ci=fmt_ci(row.ci_low, row.ci_high),
        legit=legit,
        lvl=fmt_pct(level),
        part=fmt(row.estimate),
        share=fmt_pct(row.share_of_gap),
        k=_int(row.n_strata),
        p=fmt_p(row.p_adjusted if row.component != "raw" else row.p_value),
    )
    if row.component == "raw":
        return words["raw"].format(**values)
    if row.component == "stratified":
        if not np.isfinite(row.estimate):
            return words["stratified_none"]
        return words["stratified_sig" if row.flagged else "stratified_ns"].format(**values)
    if row.component == "explained":
        return words["explained"].format(**values)
    return words["unexplained_sig" if row.flagged else "unexplained_ns"].format(**values)


def _int(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else str(int(value))


# ============================================================================ context neutrality
def context_neutrality(
    data: AuditData,
    *,
    context: str | Sequence[str],
    outcome: str = "score",
    grade: str = "grade",
    top_grade: str = "优秀",
    cv: int = 5,
    rng: int | np.random.Generator | None = 0,
    alpha: float = 0.05,
    confidence: float = 0.95,
    lang: Lang = "zh",
) -> CheckResult:
    """How much of the score context the unit does not control predicts.

    An OLS regression (statsmodels) of the outcome on the context variables
    (numbers as they are, text as dummies) gives R² and adjusted R² with the
    overall F-test; for each variable its partial R² — the share of the
    variance left by the other variables that it explains,
    (SSE_without − SSE_with) / SSE_without — with the nested-model F-test. A
    fair score should be (nearly) unpredictable from context alone, unless the
    context legitimately changes performance.

    For the top grade, a logistic regression (scikit-learn, standardised
    inputs) predicts whether a unit reached it from context alone; its
    ``cv``-fold stratified, shuffled (seeded) cross-validated AUC says how far
    the top grade is decided by context (0.5 = not at all).

    Parameters
    ----------
    data
        An Evaluation or a per-unit frame.
    context
        Context columns (``population``, ``incident_volume``, ``area_type`` …).
    outcome
        Numeric outcome (default ``score``).
    grade, top_grade
        Grade column and the grade predicted for the AUC.
    cv
        Folds of the cross-validation (fewer when the top grade is rarer).
    rng
        Randomness of the fold assignment: an int seed or a generator.
    alpha, confidence
        Significance level for ``flagged``; coverage of the intervals.
    lang
        Language of ``verdict``.

    Returns
    -------
    CheckResult
        ``to_frame()``: Rows with ``measure`` = ``r2``, ``adj_r2``, ``partial_r2`` (one per
        variable, named in ``variable``) and ``auc``: ``n``, ``estimate``,
        ``se`` (Olkin–Finn approximation for R², Hanley–McNeil for the AUC),
        ``ci_low``, ``ci_high``, ``p_value`` (F-tests; Mann–Whitney test of the
        out-of-fold predictions for the AUC), ``flagged`` and ``verdict``.
    """
    import statsmodels.api as sm

    lang = check_lang(lang)
    level = check_confidence(confidence)
    seed = seed_from(rng)
    variables = as_list(context)
    if not variables:
        raise AuditError(ERR_NO_CONTEXT)
    frame = unit_table(data)
    require_columns(frame, [outcome, *variables])
    _, y_all = _outcome(frame, outcome, "continuous")
    complete = y_all.notna() & frame[variables].notna().all(axis=1)
    frame, y = frame[complete], y_all[complete].to_numpy()
    design, columns = _design(frame, variables)
    n = len(y)
    z = stats.norm.ppf(0.5 + level / 2)
    words = _words(lang)
    rows: list[dict[str, Any]] = []

    full = sm.OLS(y, sm.add_constant(design.to_numpy(), has_constant="add")).fit()
    k = design.shape[1]
    r2, adj = float(full.rsquared), float(full.rsquared_adj)
    r2_se = _r2_se(r2, n, k)
    p_all = float(full.f_pvalue) if k else np.nan
    for measure, value in (("r2", r2), ("adj_r2", adj)):
        rows.append(
            {
                "measure": measure,
                "variable": ", ".join(variables),
                "n": n,
                "estimate": value,
                "se": r2_se,
                "p_value": p_all,
                "flagged": bool(p_all < alpha),
            }
        )
    rows[0]["verdict"] = rows[1]["verdict"] = words["r2_sig" if p_all < alpha else "r2_ns"].format(
        r2=fmt_pct(r2), adj=fmt_pct(adj), p=fmt_p(p_all)
    )

    for variable in variables:
        keep = [c for v in variables if v != variable for c in columns[v]]
        reduced = sm.OLS(y, sm.add_constant(design[keep].to_numpy(), has_constant="add")).fit()
        if not columns[variable]:
            partial, p_value = 0.0, np.nan
        else:
            partial = float((reduced.ssr - full.ssr) / reduced.ssr) if reduced.ssr > 0 else np.nan
            p_value = float(full.compare_f_test(reduced)[1])
        rows.append(
            {
                "measure": "partial_r2",
                "variable": variable,
                "n": n,
                "estimate": partial,
                "se": _r2_se(partial, n, len(columns[variable])),
                "p_value": p_value,
                "flagged": bool(p_value < alpha),
                "verdict": words["partial_sig" if p_value < alpha else "partial_ns"].format(
                    var=attribute_label(variable, lang), pr2=fmt_pct(partial), p=fmt_p(p_value)
                ),
            }
        )

    if grade in frame.columns:
        rows.append(
            _context_auc(
                frame[grade].astype(object).eq(top_grade).to_numpy(),
                design.to_numpy(),
                top_grade,
                cv,
                seed,
                alpha,
                lang,
            )
        )
    out = pd.DataFrame(rows)
    out["ci_low"] = (out["estimate"] - z * out["se"]).clip(lower=0)
    out["ci_high"] = out["estimate"] + z * out["se"]
    out.loc[out["measure"] != "auc", "ci_high"] = out["ci_high"].clip(upper=1)
    auc_rows = out["measure"] == "auc"
    out.loc[auc_rows, "ci_high"] = out.loc[auc_rows, "ci_high"].clip(upper=1)
    out["verdict"] = [
        v
        if m != "auc" or not np.isfinite(e)
        else words["auc"].format(
            grade=grade_label(top_grade, lang), auc=fmt(e, 2), ci=fmt_ci(lo, hi, 2), lvl=fmt_pct(level)
        )
        for m, v, e, lo, hi in zip(
            out["measure"], out["verdict"], out["estimate"], out["ci_low"], out["ci_high"], strict=True
        )
    ]
    return finish(
        out,
        "context_neutrality",
        _CONTEXT_COLUMNS,
        outcome=outcome,
        context=variables,
        top_grade=top_grade,
        cv=cv,
        seed=seed,
    )


def _r2_se(r2: float, n: int, k: int) -> float:
    """Olkin–Finn large-sample SE of R²: √(4R²(1−R²)²(n−k−1)² / ((n²−1)(n+3)))."""
    if not np.isfinite(r2) or n <= k + 1:
        return np.nan
    return float(np.sqrt(4 * r2 * (1 - r2) ** 2 * (n - k - 1) ** 2 / ((n**2 - 1) * (n + 3))))


def _context_auc(
    top: np.ndarray, X: np.ndarray, top_grade: str, cv: int, seed: int, alpha: float, lang: Lang
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k_pos, k_neg = int(top.sum()), int((~top).sum())
    folds = min(cv, k_pos, k_neg)
    row = {"measure": "auc", "variable": top_grade, "n": len(top)}
    if folds < 2 or X.shape[1] == 0:
        return {
            **row,
            "estimate": np.nan,
            "se": np.nan,
            "p_value": np.nan,
            "flagged": False,
            "verdict": _words(lang)["auc_none"].format(grade=grade_label(top_grade, lang), k=k_pos, cv=cv),
        }
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(model, X, top, cv=splitter, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(top, predicted))
    p_value = float(stats.mannwhitneyu(predicted[top], predicted[~top], alternative="greater").pvalue)
    return {
        **row,
        "estimate": auc,
        "se": float(auc_se(auc, k_pos, k_neg)),
        "p_value": p_value,
        "flagged": bool(p_value < alpha and auc > 0.5),
        "verdict": "",
    }
