"""Side-by-side comparison of indicator-system designs on the same units.

Run several frameworks — the shipped seed designs, user variants, alternative
weightings, a flexible-pool variant (R19) — on the same units and period
(:func:`run_designs`, :func:`weighting_variants`), then ask
(:func:`compare_designs`):

* how far the rankings agree (Kendall's tau-b, Spearman's rho, top-k overlap);
* how grades move between designs (grade transition matrices);
* which units gain or lose most, and which dimensions explain the move.

Ranks are over all units (``rank_overall``) because designs may use different
peer groups. A dimension's *contribution* to a unit's score is its top-level
weight share times the unit's distance from the mean dimension score, so the
contributions of a unit sum to its distance from the average raw score
(arithmetic aggregation, complete data); the driver of a move is the dimension
whose contribution changed most in the direction of the move.

R19 lets grassroots units propose adjustments to 20 % of the indicator weight:
:func:`flexible_pool_variant` builds such a variant, refusing one that moves more
than the pool or breaks the framework's policy limits, and :func:`weight_shift`
measures how much weight any two designs put differently.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.design.sensitivity import GRADE_LABELS
from perfmodel.design.weights import alternative_weights
from perfmodel.errors import OptionError, PerfmodelError, UnknownKeyError
from perfmodel.evaluation import Evaluation, evaluate
from perfmodel.framework import Framework, FrameworkError, framework_from_dict, load_framework
from perfmodel.text import check_lang, say
from perfmodel.weights import effective_weights, node_weights

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "FlexiblePoolError",
    "DesignComparison",
    "run_designs",
    "weighting_variants",
    "flexible_pool_variant",
    "flexible_pool_example",
    "weight_shift",
    "check_flexible_pool",
    "rank_agreement",
    "top_k_overlap",
    "transition_matrix",
    "dimension_contributions",
    "movers",
    "compare_designs",
    "sibling_observations",
    "figure_bump",
]

FLEXIBLE_POOL = 0.20
"""Share of the total weight a unit may move under the flexible indicator pool (R19)."""


class FlexiblePoolError(PerfmodelError, ValueError):
    """A flexible-pool variant that moves too much weight or breaks policy."""


# ---------------------------------------------------------------- running designs
def run_designs(
    designs: Mapping[str, Framework | str | Path],
    observations: pd.DataFrame | Mapping[str, pd.DataFrame],
    units: pd.DataFrame,
    period: str,
    **settings: Any,
) -> dict[str, Evaluation]:
    """Evaluate several frameworks on the same units and period.

    Parameters
    ----------
    designs
        Design name → framework (object, shipped id or YAML path).
    observations
        One clean observations frame for all designs, or a mapping from design
        name (or framework id) to its own frame — each framework has its own
        indicators, as in :func:`perfmodel.simulate.simulate`'s ``observations``.
    units, period, settings
        As for :func:`perfmodel.evaluation.evaluate` (``compare_previous`` defaults
        to ``False``).
    """
    settings.setdefault("compare_previous", False)
    out: dict[str, Evaluation] = {}
    for label, design in designs.items():
        fw = design if isinstance(design, Framework) else load_framework(design)
        if isinstance(observations, Mapping):
            key = label if label in observations else fw.id
            if key not in observations:
                raise UnknownKeyError(
                    f"no observations for design {label!r} (framework {fw.id!r}); "
                    f"give observations under one of those names (have: {', '.join(observations)})"
                )
            obs = observations[key]
        else:
            obs = observations
        out[label] = evaluate(fw, obs, units, period, **settings)
    return out


def weighting_variants(
    ev: Evaluation,
    methods: Sequence[str] = ("stated", "equal", "pca", "entropy", "critic", "balanced"),
    *,
    scope: str = "flat",
) -> dict[str, Evaluation]:
    """The same evaluation re-run under alternative weightings (see :mod:`perfmodel.design.weights`)."""
    return {m: ev.regen(weights=alternative_weights(ev, m, scope=scope), compare_previous=False) for m in methods}


def sibling_observations(observations: str | Path) -> dict[str, Path]:
    """Framework id → observations file in the ``observations/`` folder beside ``observations``.

    ``perfmodel sample`` writes one file per shipped framework there
    (``observations/<framework_id>.csv.gz``), so a report on one design can find
    the data to run the others on the same units.
    """
    folder = Path(observations).resolve().parent / "observations"
    if not folder.is_dir():
        return {}
    return {p.name.split(".")[0]: p for p in sorted(folder.iterdir()) if p.name.endswith((".csv", ".csv.gz"))}


# ---------------------------------------------------------------- flexible pool (R19)
def _effective(design: Framework | Evaluation | Mapping[str, float]) -> pd.Series:
    if isinstance(design, Evaluation):
        return pd.Series(effective_weights(design.framework, design.stated_weights()), dtype=float)
    if isinstance(design, Framework):
        return pd.Series(effective_weights(design), dtype=float)
    return pd.Series(design, dtype=float)


def weight_shift(
    a: Framework | Evaluation | Mapping[str, float], b: Framework | Evaluation | Mapping[str, float]
) -> float:
    """Share of the total weight placed differently: ``½ Σ |w_a − w_b|`` over indicators.

    Indicators present in only one design count with weight 0 in the other.

    Examples
    --------
    >>> weight_shift({"x": 0.5, "y": 0.5}, {"x": 0.7, "y": 0.3})
    0.2
    """
    ea, eb = _effective(a), _effective(b)
    ids = ea.index.union(eb.index)
    return round(float(0.5 * (ea.reindex(ids, fill_value=0) - eb.reindex(ids, fill_value=0)).abs().sum()), 12)


def check_flexible_pool(
    base: Framework | Evaluation, variant: Framework | Evaluation, pool: float = FLEXIBLE_POOL
) -> float:
    """Return the weight ``variant`` moves relative to ``base``; raise if above ``pool``."""
    moved = weight_shift(base, variant)
    if moved > pool + 1e-9:
        raise FlexiblePoolError(
            f"the variant moves {moved:.1%} of the total weight; the flexible indicator pool (R19) "
            f"allows at most {pool:.0%}: reduce the adjustments"
        )
    return moved


def flexible_pool_example(framework: Framework, amount: float = 0.10) -> dict[str, float]:
    """A simple flexible-pool proposal: move ``amount`` of weight between two indicators.

    The donor is the indicator with the largest stated weight; the recipient the
    one with the smallest among those from objective or citizen sources (system,
    citizen) that are not temporary, so the subjective and temporary limits keep
    holding. ``amount`` is capped at the donor's weight.

    Examples
    --------
    >>> flexible_pool_example(load_framework("station_four_dimension"), 0.05)
    {'case_compliance_rate': -0.05, 'hazard_rectification_rate': 0.05}
    """
    effective = pd.Series(effective_weights(framework), dtype=float)
    meta = framework.indicator_meta()
    donor = effective.idxmax()
    candidates = [
        i
        for i in effective.index
        if i != donor and meta[i].temporary is None and meta[i].source not in framework.policy.subjective_sources
    ]
    if not candidates:
        raise FlexiblePoolError(f"framework {framework.id!r} has no indicator to receive weight")
    recipient = effective[candidates].idxmin()
    amount = min(amount, float(effective[donor]))
    return {donor: -amount, recipient: amount}


def flexible_pool_variant(
    framework: Framework,
    changes: Mapping[str, float],
    *,
    pool: float = FLEXIBLE_POOL,
    id: str | None = None,
    name: Mapping[str, str] | None = None,
) -> Framework:
    """A variant of ``framework`` with some indicator weight moved by a unit (R19).

    Parameters
    ----------
    framework
        The stated design.
    changes
        Indicator id → change of its effective weight (share of the total score,
        e.g. ``+0.05``). The changes must add up to zero (weight is moved, not
        created) and leave every weight non-negative.
    pool
        Largest share of the total weight that may be moved (20 %, R19): the sum
        of the positive changes.
    id, name
        Id and ``{"zh": …, "en": …}`` name of the variant (default: the
        framework's with ``_flex`` / "（弹性调整）").

    Returns
    -------
    Framework
        Validated like any framework, so the policy limits (subjective weight,
        temporary weight) still apply.

    Raises
    ------
    FlexiblePoolError
        When the changes are malformed, move more than ``pool`` or break policy.

    Examples
    --------
    >>> fw = load_framework("station_four_dimension")
    >>> flex = flexible_pool_variant(fw, {"callback_satisfaction": 0.05, "housekeeping_score": -0.05})
    >>> round(weight_shift(fw, flex), 3)
    0.05
    """
    effective = pd.Series(effective_weights(framework), dtype=float)
    unknown = sorted(set(changes) - set(effective.index))
    if unknown:
        raise FlexiblePoolError(f"changes name unknown indicator(s) {', '.join(unknown)} of framework {framework.id!r}")
    total = sum(changes.values())
    if abs(total) > 1e-9:
        raise FlexiblePoolError(
            f"the changes add up to {total:+.3f}; the flexible pool moves weight between indicators, "
            "so increases and decreases must balance"
        )
    moved = sum(d for d in changes.values() if d > 0)
    if moved > pool + 1e-9:
        raise FlexiblePoolError(
            f"the changes move {moved:.1%} of the total weight; the flexible indicator pool (R19) "
            f"allows at most {pool:.0%}"
        )
    new = effective.copy()
    for ind, delta in changes.items():
        new[ind] += delta
    negative = new.index[new < -1e-12].tolist()
    if negative:
        raise FlexiblePoolError(
            f"the changes leave negative weight on: {', '.join(negative)} "
            f"(stated weights: {', '.join(f'{i}={effective[i]:.3f}' for i in negative)})"
        )
    weights = node_weights(framework, new.clip(lower=0).to_dict())
    raw = framework.model_dump(mode="json", exclude_none=True)

    def reweigh(nodes: list[dict]) -> None:
        for node in nodes:
            node["weight"] = weights[node["id"]]
            if "children" in node:
                reweigh(node["children"])

    reweigh(raw["tree"])
    raw["id"] = id or f"{framework.id}_flex"
    raw["name"] = (
        dict(name) if name else {"zh": f"{framework.name.zh}(弹性调整)", "en": f"{framework.name.en} (flexible pool)"}
    )
    try:
        return framework_from_dict(raw, source=f"flexible-pool variant of {framework.id}")
    except FrameworkError as exc:
        raise FlexiblePoolError(f"the adjusted design breaks the framework's policy: {exc}") from None


# ---------------------------------------------------------------- agreement
def _overall(ev: Evaluation) -> pd.DataFrame:
    return ev.scores.set_index("unit_id")[["name", "score", "rank_overall", "grade"]]


def top_k_overlap(a: pd.Series, b: pd.Series, k: int) -> float:
    """Share of the ``k`` best units by score ``a`` that are also among the ``k`` best by ``b``.

    Ties at the boundary are broken by unit id, so the sets have exactly ``k`` units.
    """

    def best(s: pd.Series) -> set:
        frame = s.dropna().rename("s").to_frame().assign(unit=lambda f: f.index.astype(str))
        return set(frame.sort_values(["s", "unit"], ascending=[False, True]).index[:k])

    k = min(k, a.notna().sum(), b.notna().sum())
    return len(best(a) & best(b)) / k if k else float("nan")


def rank_agreement(evaluations: Mapping[str, Evaluation], *, k: int = 10) -> pd.DataFrame:
    """Pairwise agreement of the designs' scores over the units scored by both.

    Columns: design_a, design_b, n, kendall_tau (tau-b), spearman, top_k_overlap, k.
    """
    frames = {name: _overall(ev)["score"] for name, ev in evaluations.items()}
    rows = []
    for a, b in itertools.combinations(frames, 2):
        both = pd.concat([frames[a].rename("a"), frames[b].rename("b")], axis=1, join="inner").dropna()
        tau = stats.kendalltau(both["a"], both["b"]).statistic if len(both) > 1 else np.nan
        rho = stats.spearmanr(both["a"], both["b"]).statistic if len(both) > 1 else np.nan
        rows.append(
            {
                "design_a": a,
                "design_b": b,
                "n": len(both),
                "kendall_tau": tau,
                "spearman": rho,
                "top_k_overlap": top_k_overlap(both["a"], both["b"], k),
                "k": min(k, len(both)),
            }
        )
    return pd.DataFrame(rows, columns=["design_a", "design_b", "n", "kendall_tau", "spearman", "top_k_overlap", "k"])


def transition_matrix(a: Evaluation, b: Evaluation) -> pd.DataFrame:
    """Units by grade under design ``a`` (rows) and design ``b`` (columns), common units."""
    both = pd.concat([_overall(a)["grade"].rename("a"), _overall(b)["grade"].rename("b")], axis=1, join="inner")
    table = pd.crosstab(both["a"], both["b"])
    table = table.reindex(index=list(GRADE_LABELS), columns=list(GRADE_LABELS), fill_value=0)
    table.index.name, table.columns.name = "grade_a", "grade_b"
    return table


# ---------------------------------------------------------------- drivers
def dimension_contributions(ev: Evaluation) -> pd.DataFrame:
    """Each top-level dimension's contribution to each unit's score, relative to the average unit.

    ``contribution = w_d / Σ w · (D_ud − mean_u D_d)`` in score points.

    Returns
    -------
    pandas.DataFrame
        Index unit_id, one column per top-level dimension.
    """
    fw = ev.framework
    weights = ev.stated_weights()
    dims = [n.id for n in fw.tree]
    w = pd.Series({d: weights[d] for d in dims}, dtype=float)
    w = w / w.sum()
    values = ev.stages["aggregated"][dims].astype(float)
    return (values - values.mean()) * w


def _dimension_names(ev: Evaluation, lang: str) -> dict[str, str]:
    return {n.id: (n.name.in_lang(lang)) for n in ev.framework.tree}


def movers(a: Evaluation, b: Evaluation, *, n: int = 10, lang: str = "zh") -> pd.DataFrame:
    """Units that gain or lose most in overall rank from design ``a`` to design ``b``.

    Columns: unit_id, name, rank_a, rank_b, change (positive = better rank under
    ``b``), score_a, score_b, grade_a, grade_b, driver (dimension that explains
    the move), driver_change (its change in contribution, score points), basis (how
    the driver was chosen, a code: ``shared_dimension`` or ``own_dimension``) and
    note (the basis in words, ``design.compare.<basis>`` in ``lang``).
    When both designs share top-level dimensions the driver is the one whose
    contribution changed most in the direction of the move; otherwise it is the
    unit's strongest (for a gain) or weakest (for a loss) dimension under ``b``.
    """
    check_lang(lang)
    oa, ob = _overall(a), _overall(b)
    both = oa.merge(ob.drop(columns="name"), left_index=True, right_index=True, suffixes=("_a", "_b"))
    both = both.dropna(subset=["rank_overall_a", "rank_overall_b"])
    both["change"] = both["rank_overall_a"] - both["rank_overall_b"]
    ordered = both.sort_values(["change"], ascending=False, kind="stable")
    chosen = pd.concat(
        [ordered.head(n)[lambda f: f["change"] > 0], ordered.tail(n)[lambda f: f["change"] < 0].iloc[::-1]]
    )
    ca, cb = dimension_contributions(a), dimension_contributions(b)
    shared = [d for d in cb.columns if d in ca.columns]
    names = {**_dimension_names(a, lang), **_dimension_names(b, lang)}
    rows = []
    for unit_id, row in chosen.iterrows():
        gain = row["change"] > 0
        if shared:
            delta = cb.loc[unit_id, shared] - ca.loc[unit_id, shared]
            driver = delta.idxmax() if gain else delta.idxmin()
            amount = float(delta[driver])
            basis = "shared_dimension"
        else:
            contrib = cb.loc[unit_id]
            driver = contrib.idxmax() if gain else contrib.idxmin()
            amount = float(contrib[driver])
            basis = "own_dimension"
        rows.append(
            {
                "unit_id": unit_id,
                "name": row["name"],
                "rank_a": row["rank_overall_a"],
                "rank_b": row["rank_overall_b"],
                "change": row["change"],
                "score_a": row["score_a"],
                "score_b": row["score_b"],
                "grade_a": row["grade_a"],
                "grade_b": row["grade_b"],
                "driver": driver,
                "driver_name": names.get(driver, driver),
                "driver_change": amount,
                "basis": basis,
                "note": say(f"design.compare.{basis}", lang),
            }
        )
    columns = [
        "unit_id",
        "name",
        "rank_a",
        "rank_b",
        "change",
        "score_a",
        "score_b",
        "grade_a",
        "grade_b",
        "driver",
        "driver_name",
        "driver_change",
        "basis",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------- comparison
@dataclass
class DesignComparison:
    """Results of several designs on the same units, and how they differ.

    Attributes
    ----------
    evaluations
        Design name → evaluation.
    baseline
        Name of the design the others are compared with.
    scores
        Wide table: unit_id, name, then ``score:<design>``, ``rank:<design>``
        (overall) and ``grade:<design>``.
    agreement
        Pairwise rank agreement (:func:`rank_agreement`).
    transitions
        Long table: design, grade_a (baseline), grade_b (design), n.
    movers
        Biggest gains and losses of each design against the baseline (:func:`movers`),
        with a ``design`` column.
    """

    evaluations: dict[str, Evaluation]
    baseline: str
    scores: pd.DataFrame
    agreement: pd.DataFrame
    transitions: pd.DataFrame
    movers: pd.DataFrame

    def transition(self, design: str) -> pd.DataFrame:
        """Grade transition matrix from the baseline to ``design``."""
        return transition_matrix(self.evaluations[self.baseline], self.evaluations[design])

    def ranks_long(self) -> pd.DataFrame:
        """design, unit_id, name, rank (overall) — for bump charts."""
        frames = []
        for design, ev in self.evaluations.items():
            s = ev.scores[["unit_id", "name", "rank_overall"]].rename(columns={"rank_overall": "rank"})
            frames.append(s.assign(design=design))
        return pd.concat(frames, ignore_index=True)[["design", "unit_id", "name", "rank"]]

    def summary(self) -> str:
        """The designs compared and their rank agreement with the baseline, as text."""
        lines = [f"{len(self.evaluations)} designs on {len(self.scores)} units; baseline {self.baseline!r}"]
        for row in self.agreement.itertuples(index=False):
            lines.append(
                f"  {row.design_a} vs {row.design_b}: n {row.n}, Kendall tau-b {row.kendall_tau:.3f}, "
                f"Spearman {row.spearman:.3f}, top-{row.k} overlap {row.top_k_overlap:.0%}"
            )
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The main table: score, rank and grade of every unit under every design (:attr:`scores`)."""
        return self.scores

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table, for export."""
        return {
            "design_scores": self.scores,
            "rank_agreement": self.agreement,
            "grade_transitions": self.transitions,
            "movers": self.movers,
        }


def compare_designs(
    evaluations: Mapping[str, Evaluation],
    *,
    baseline: str | None = None,
    k: int = 10,
    n_movers: int = 10,
    lang: str = "zh",
) -> DesignComparison:
    """Compare designs evaluated on the same units (see the module notes).

    Examples
    --------
    >>> evs = run_designs({"四维度": "station_four_dimension", "三层": "station_three_layer"},
    ...                   sample.observations, sample.units, "2025Q2")  # doctest: +SKIP
    >>> cmp = compare_designs(evs)  # doctest: +SKIP
    >>> cmp.agreement  # doctest: +SKIP
    """
    check_lang(lang)
    evaluations = dict(evaluations)
    if len(evaluations) < 2:
        raise OptionError("compare_designs needs at least two designs")
    baseline = baseline or next(iter(evaluations))
    if baseline not in evaluations:
        raise UnknownKeyError(f"baseline {baseline!r} is not one of the designs: {', '.join(evaluations)}")
    wide = None
    for design, ev in evaluations.items():
        part = _overall(ev).rename(
            columns={"score": f"score:{design}", "rank_overall": f"rank:{design}", "grade": f"grade:{design}"}
        )
        wide = part if wide is None else wide.join(part.drop(columns="name"), how="outer")
    transitions, moves = [], []
    for design, ev in evaluations.items():
        if design == baseline:
            continue
        t = transition_matrix(evaluations[baseline], ev).stack().rename("n").reset_index()
        transitions.append(t.assign(design=design))
        moves.append(movers(evaluations[baseline], ev, n=n_movers, lang=lang).assign(design=design))
    return DesignComparison(
        evaluations=evaluations,
        baseline=baseline,
        scores=wide.rename_axis("unit_id").reset_index(),
        agreement=rank_agreement(evaluations, k=k),
        transitions=pd.concat(transitions, ignore_index=True)[["design", "grade_a", "grade_b", "n"]],
        movers=pd.concat(moves, ignore_index=True),
    )


# ---------------------------------------------------------------- figures
def figure_bump(
    comparison: DesignComparison, *, ax: Axes | None = None, lang: str = "zh", highlight: int = 6, max_units: int = 60
) -> Axes:
    """Bump chart: each unit's overall rank under each design, one line per unit.

    The ``highlight`` units whose rank varies most across designs are coloured
    and labelled; the others are grey. With more than ``max_units`` units only
    the most variable ones are drawn.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    import matplotlib.pyplot as plt

    long = comparison.ranks_long()
    wide = long.pivot(index="unit_id", columns="design", values="rank")[list(comparison.evaluations)]
    names = long.drop_duplicates("unit_id").set_index("unit_id")["name"]
    wide = wide.dropna()
    spread = (wide.max(axis=1) - wide.min(axis=1)).sort_values(ascending=False, kind="stable")
    if len(wide) > max_units:
        wide = wide.loc[spread.index[:max_units]]
    top = list(spread.index[:highlight])
    x = np.arange(wide.shape[1])
    ax = report_axes(ax, figsize=(max(6.5, 1.6 * wide.shape[1] + 2.5), 0.14 * len(wide) + 4))
    colours = plt.get_cmap("tab10")
    for unit_id, ranks in wide.iterrows():
        if unit_id in top:
            continue
        ax.plot(x, ranks.to_numpy(), color="#c8c8c8", lw=0.9, marker="o", ms=2.5, zorder=1)
    for k, unit_id in enumerate(top):
        ranks = wide.loc[unit_id].to_numpy()
        colour = colours(k % 10)
        ax.plot(x, ranks, color=colour, lw=2.0, marker="o", ms=4, zorder=3)
        ax.annotate(
            str(names.get(unit_id, unit_id)),
            (x[-1], ranks[-1]),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=colour,
        )
    ax.set_ylim(float(np.nanmax(wide.to_numpy())) + 1, 0)
    ax.set_xticks(x, list(wide.columns), rotation=20, ha="right")
    ax.set_xlim(-0.3, x[-1] + 0.9)
    ax.set_title(say("design.compare.overall_rank_under_each_design", lang))
    ax.set_xlabel(say("design.compare.design", lang))
    ax.set_ylabel(say("design.compare.overall_rank_1_best", lang))
    return ax
