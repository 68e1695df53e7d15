"""Truth-recovery studies of the calibration: simulated cases with known truth.

The research harness around the calibration step (:mod:`perfmodel.calibrate.step`):
it simulates confounded periods whose true performance is known
(:func:`simulate_calibration_case`), evaluates them once per calibration mode
(:func:`evaluate_case`) and measures how well each score ranks units by their
truth and how much it still leans on context (:func:`truth_recovery`,
:func:`truth_recovery_table`), over one seed or several (:func:`seed_robustness`).

An analysis (layer 6): it builds whole evaluations and simulations, so nothing in
the pipeline imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfmodel.calibrate.difficulty import model_formula, r2_on_context
from perfmodel.calibrate.peers import context_frame
from perfmodel.framework import Framework
from perfmodel.randomness import seed_from

if TYPE_CHECKING:  # pragma: no cover - typing only
    from perfmodel.evaluation import Evaluation

__all__ = [
    "TRUTH_CONTEXT",
    "CalibrationCase",
    "evaluate_case",
    "raw_scores",
    "robustness_summary",
    "seed_robustness",
    "simulate_calibration_case",
    "truth_recovery",
    "truth_recovery_table",
]


def _residual(score: pd.Series, units: pd.DataFrame, covariates: Sequence[str]) -> pd.Series:
    import statsmodels.formula.api as smf

    context = context_frame(units)
    if "unit_id" in context.columns:
        context.index = pd.Index(context["unit_id"].astype(object), name="unit_id")
    data = context.assign(_score=score.reindex(context.index).astype(float))
    data = data.dropna(subset=["_score", *covariates])
    fit = smf.ols(model_formula("_score", covariates, data), data=data).fit()
    return fit.resid + data["_score"].mean()


def truth_recovery(
    scores: dict[str, pd.Series],
    truth: pd.Series,
    units: pd.DataFrame,
    covariates: Sequence[str],
    *,
    ceiling: Sequence[str] | None = None,
) -> pd.DataFrame:
    """How well scores rank units by their true performance, and how much they lean on context.

    Parameters
    ----------
    scores : dict of str to pandas.Series
        Label (e.g. ``"raw"``, ``"calibrated"``) → score per unit id.
    truth : pandas.Series
        True performance per unit id (e.g. ``truth_units`` with ``node == "overall"``).
    units : pandas.DataFrame
        Units table with the context columns.
    covariates : sequence of str
        Context for the R² (e.g. ``["log_workload", "log_population", "area_type", "district"]``).
    ceiling : sequence of str, optional
        Calibration covariates: adds a row ``truth_net_of_context``, the truth
        with its own least-squares dependence on these covariates removed. A
        context adjustment cannot tell true performance that goes with context
        from the context's effect, so this row's Spearman is about the best a
        calibrated score can reach.

    Returns
    -------
    pandas.DataFrame
        One row per score plus ``truth``: ``spearman`` and ``kendall`` (rank
        correlation with the truth), ``r2_context`` and ``adj_r2_context`` (R² of
        the score on context; the ``truth`` row shows how much of the truth
        itself goes with context, the level a perfectly calibrated score would
        show) and ``n``.
    """
    from scipy import stats

    rows = []
    candidates = {**scores, "truth": truth}
    if ceiling is not None:
        candidates["truth_net_of_context"] = _residual(truth, units, ceiling)
    for label, score in candidates.items():
        both = pd.concat({"s": score.astype(float), "t": truth.astype(float)}, axis=1).dropna()
        r2 = r2_on_context(score, units, covariates, minimum=False)  # compared across scores of the same units
        rows.append(
            {
                "score": label,
                "spearman": float(stats.spearmanr(both["s"], both["t"]).statistic),
                "kendall": float(stats.kendalltau(both["s"], both["t"]).statistic),
                "r2_context": r2["r2"],
                "adj_r2_context": r2["adj_r2"],
                "n": len(both),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- simulated cases with known truth
TRUTH_CONTEXT: tuple[str, ...] = ("log_workload", "log_population", "area_type", "station_type")
"""Context of the truth checks: the covariates a calibration can adjust for. ``district`` is
added for the R² on context (it acts in the simulator but is not a calibration covariate)."""


@dataclass(frozen=True)
class CalibrationCase:
    """Simulated units and observations of one period, with every confounder on, and the truth.

    Attributes
    ----------
    framework : Framework
        The framework observed.
    period : str
        The period the observations cover.
    seed : int
        Integer seed the simulation ran with (drawn from ``rng`` when that was
        not an int), so the case can be simulated again.
    units : pandas.DataFrame
        Validated units (with an officer framework: stations and officers).
    observations : pandas.DataFrame
        Validated observations of ``framework``.
    truth : pandas.Series
        True overall performance (latent) per unit id of the framework's level.
    """

    framework: Framework
    period: str
    seed: int
    units: pd.DataFrame
    observations: pd.DataFrame
    truth: pd.Series

    @property
    def scored_units(self) -> pd.DataFrame:
        """The units rows of the units with a truth (the units the framework evaluates)."""
        return self.units[self.units["unit_id"].isin(self.truth.index)]


def simulate_calibration_case(
    framework: Framework | str,
    period: str,
    *,
    stations: int = 120,
    rng: int | np.random.Generator | None = 7,
) -> CalibrationCase:
    """Simulate a confounded period with known truth, to check calibration against.

    :func:`perfmodel.simulate.simulate` with ``confounding=True`` (load per
    officer, urban-rural fringe, district difficulty, lenient and harsh raters,
    small stations), clean data (``defect_rate=0``) and the months of ``period``;
    six officers per station for an officer framework, none for a station
    framework. Units and observations pass through the same validation as files do.

    Parameters
    ----------
    framework : Framework or str
        Framework or shipped framework id / YAML path.
    period : str
        Period to simulate, e.g. ``2025Q2`` (its months are simulated).
    stations : int
        Number of stations.
    rng : int, numpy.random.Generator or None
        Randomness: an int seed gives the same case for the same arguments; a
        generator or ``None`` draws the simulation's integer seed from it
        (kept in :attr:`CalibrationCase.seed`).

    Returns
    -------
    CalibrationCase
    """
    from perfmodel.framework import load_framework
    from perfmodel.periods import months_in, parse_period
    from perfmodel.simulate import simulate
    from perfmodel.validation import validate_observations, validate_units

    seed = seed_from(rng)
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    months = months_in(parse_period(period))
    sample = simulate(
        [fw],
        stations=stations,
        months=len(months),
        start=str(months[0]),
        rng=seed,
        officers_per_station=0 if fw.level == "station" else 6,
        defect_rate=0.0,
        confounding=True,
    )
    units = validate_units(sample.units, source="simulated units").data
    observations = validate_observations(sample.observations[fw.id], units, fw, source="simulated").data
    truth = sample.truth_units.query("node == 'overall'").set_index("unit_id")["true_latent"]
    return CalibrationCase(fw, str(period), int(seed), units, observations, truth)


def raw_scores(ev: Evaluation) -> pd.Series:
    """Weighted score per unit id before any difficulty coefficient (``raw_score``): what truth checks compare."""
    return ev.scores.set_index("unit_id")["raw_score"]


def evaluate_case(
    case: CalibrationCase,
    modes: Sequence[str] = ("none", "casemix", "full"),
    *,
    peer_group: str | None = None,
) -> dict[str, Evaluation]:
    """Evaluate a simulated case once per calibration mode.

    Parameters
    ----------
    case : CalibrationCase
        From :func:`simulate_calibration_case`.
    modes : sequence of str
        Calibration modes (``none``, ``casemix``, ``full``).
    peer_group : str, optional
        Peer-group setting of the evaluation.

    Returns
    -------
    dict of str to Evaluation
        Mode → run evaluation (without the previous period), in the order of ``modes``.
    """
    from perfmodel.evaluation import evaluate

    base = evaluate(
        case.framework, case.observations, case.units, case.period, compare_previous=False, peer_group=peer_group
    )
    return {mode: base if mode == "none" else base.regen(calibration=mode) for mode in modes}


def truth_recovery_table(
    scores: dict[str, pd.Series],
    truth: pd.Series,
    units: pd.DataFrame,
    covariates: Sequence[str] = TRUTH_CONTEXT,
    *,
    also: Sequence[str] = ("district",),
) -> pd.DataFrame:
    """:func:`truth_recovery` on the calibration covariates plus ``also``, with the R² on the covariates alone.

    Parameters
    ----------
    scores, truth, units
        As for :func:`truth_recovery`.
    covariates : sequence of str
        The calibration covariates: the ``ceiling`` of :func:`truth_recovery`.
    also : sequence of str
        Context that acts on the scores but is not adjusted for (the district):
        added for ``r2_context``.

    Returns
    -------
    pandas.DataFrame
        :func:`truth_recovery` (R² on ``covariates`` + ``also``) with the column
        ``r2_calibration_covariates`` (R² on ``covariates`` alone) after ``r2_context``.
    """
    covariates = list(covariates)
    recovery = truth_recovery(scores, truth, units, [*covariates, *also], ceiling=covariates)
    own = truth_recovery(scores, truth, units, covariates, ceiling=covariates).set_index("score")["r2_context"]
    recovery.insert(recovery.columns.get_loc("r2_context") + 1, "r2_calibration_covariates", recovery["score"].map(own))
    return recovery


def seed_robustness(
    framework: Framework | str,
    period: str,
    seeds: Sequence[int],
    *,
    stations: int = 120,
    peer_group: str | None = None,
    covariates: Sequence[str] = TRUTH_CONTEXT,
    also: Sequence[str] = ("district",),
) -> pd.DataFrame:
    """The truth check of full calibration repeated on simulated cases with other seeds.

    Parameters
    ----------
    framework, period, stations
        As for :func:`simulate_calibration_case`.
    seeds : sequence of int
        One simulated case per seed.
    peer_group : str, optional
        Peer-group setting of the evaluations.
    covariates, also
        As for :func:`truth_recovery_table`.

    Returns
    -------
    pandas.DataFrame
        One row per seed: ``seed``; ``spearman_none``, ``spearman_full`` and
        ``spearman_truth_net_of_context`` (rank correlation with the truth of the
        raw score, the fully calibrated score and the ceiling); ``r2_none``,
        ``r2_full`` and ``r2_truth`` (R² on the context, covariates + ``also``) —
        the numbers of :func:`truth_recovery` for that case.
    """
    rows = []
    for seed in seeds:
        case = simulate_calibration_case(framework, period, stations=stations, rng=seed)
        scores = {
            mode: raw_scores(ev) for mode, ev in evaluate_case(case, ("none", "full"), peer_group=peer_group).items()
        }
        table = truth_recovery(
            scores, case.truth, case.scored_units, [*covariates, *also], ceiling=list(covariates)
        ).set_index("score")
        rows.append(
            {
                "seed": int(seed),
                **{
                    f"spearman_{name}": table.loc[name, "spearman"] for name in ("none", "full", "truth_net_of_context")
                },
                **{f"r2_{name}": table.loc[name, "r2_context"] for name in ("none", "full", "truth")},
            }
        )
    columns = [
        "seed",
        "spearman_none",
        "spearman_full",
        "spearman_truth_net_of_context",
        "r2_none",
        "r2_full",
        "r2_truth",
    ]
    return pd.DataFrame(rows, columns=columns)


def robustness_summary(table: pd.DataFrame) -> dict[str, float]:
    """What :func:`seed_robustness` says in three numbers.

    Returns
    -------
    dict
        ``n_seeds``; ``mean_change`` (mean of ``spearman_full − spearman_none``,
        NaN without seeds) and ``n_better`` (seeds on which full calibration ranks
        closer to the truth).
    """
    change = table["spearman_full"] - table["spearman_none"]
    return {
        "n_seeds": len(table),
        "mean_change": float(change.mean()) if len(table) else float("nan"),
        "n_better": int((change > 0).sum()),
    }
