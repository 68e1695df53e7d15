"""Generating processes for the power study of the threshold-gaming detector (R16).

Each :func:`make_world` call draws one monthly rate panel around a hard threshold
(95 %, "three real" information collection) with known truth: which units
manipulate, and how many months each spent in the band just below the threshold
before the manipulation. Three processes:

``straddle``
    Unit levels straddle the threshold (95 % ± 2 pp), two peer groups with
    their own seasonal month effects, over-dispersed monthly rates (beta-binomial).
    Manipulators are drawn among the units within 3 pp of the threshold and
    report 90 % of their months in ``[93 %, 95 %)`` as just meeting it.
``far``
    Levels spread widely (mean 92 %, sd 4 pp); manipulators are drawn among
    *all* units, so some sit far below or far above the threshold (and some
    have nothing to move); they reach a little further than the test's hole
    (months in ``[92.5 %, 95 %)`` moved with probability 0.7, landing within
    0.5 pp).
``far_reach`` (benchmark only)
    ``far`` with manipulators reaching 3 pp below and landing up to 1 pp above
    (with the ceiling to a whole count, about half land beyond the 1 pp heap):
    a manipulation wider than the test's band.
``honest_heap``
    A third of the honest units sit at the threshold by nature: large units
    (1 000–2 000 cases a month) whose level is in ``[95 %, 96 %)`` with little
    month-to-month spread — a target met by effort, not by the pen — so most of
    their months fall just above the threshold; the manipulators are as in
    ``straddle``.

``gamer_share=0`` gives the all-honest world of the same process.
:func:`rates_only` exports the same panel as rates without numerators and
denominators (rounded to 4 decimals, as a spreadsheet would), and
:func:`naive_score` is the baseline of issue 14: months in the band just above
the threshold minus half the months in the band just below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

INDICATOR = "three_real_info_rate"
THRESHOLD = 0.95
HOLE = 0.02  # width of the band below the threshold searched for the hole
HEAP = 0.01  # width of the band above it searched for the heap
PROCESSES = ("straddle", "far", "honest_heap")
EXTRA_PROCESSES = ("far_reach",)


@dataclass(frozen=True)
class World:
    """A simulated panel with its truth."""

    process: str
    observations: pd.DataFrame
    units: pd.DataFrame
    gamers: frozenset[str]
    band_months: pd.Series
    """Months each unit spent in ``[t − 2 pp, t)`` before any manipulation."""

    def truth(self, unit_ids: list[str]) -> np.ndarray:
        """True where the unit manipulates, in the order of ``unit_ids``."""
        return np.array([u in self.gamers for u in unit_ids])


def make_world(
    process: str,
    *,
    n_units: int = 80,
    n_months: int = 24,
    gamer_share: float = 0.15,
    rng: int | np.random.Generator | None = None,
) -> World:
    """Draw one world of ``process`` (see the module docstring)."""
    if process not in PROCESSES + EXTRA_PROCESSES:
        raise ValueError(f"process must be one of {PROCESSES + EXTRA_PROCESSES}, got {process!r}")
    rng = np.random.default_rng(rng)
    group = np.where(np.arange(n_units) % 2 == 0, "urban", "rural")
    months = np.arange(n_months)
    # Seasonal month effects by peer group (the cross-section moves together).
    season = {
        "urban": 0.008 * np.sin(2 * np.pi * months / 12),
        "rural": -0.008 * np.sin(2 * np.pi * months / 12) + 0.004 * np.cos(2 * np.pi * months / 12),
    }
    effect = np.stack([season[g] for g in group])
    spread = np.full(n_units, 0.010)
    if process.startswith("far"):
        level = np.clip(rng.normal(0.92, 0.04, n_units), 0.78, 0.995)
    else:
        level = np.clip(rng.normal(THRESHOLD, 0.02, n_units), 0.85, 0.995)
    size = np.exp(rng.normal(np.log(150), 0.5, n_units)) + 30
    natural = np.zeros(n_units, dtype=bool)
    n_gamers = int(round(gamer_share * n_units))
    if process.startswith("far"):
        eligible = np.arange(n_units)
    else:
        eligible = np.flatnonzero(np.abs(level - THRESHOLD) <= 0.03)
    gamers = rng.choice(eligible, size=min(n_gamers, len(eligible)), replace=False) if n_gamers else np.array([], int)
    if process == "honest_heap":
        honest = np.setdiff1d(np.arange(n_units), gamers)
        natural[rng.choice(honest, size=len(honest) // 3, replace=False)] = True
        level[natural] = rng.uniform(THRESHOLD, THRESHOLD + 0.01, natural.sum())
        spread[natural] = 0.002
        size[natural] = rng.uniform(1000, 2000, natural.sum())  # large units: little sampling noise
        effect[natural] *= 0.25  # a unit that works to its target follows the season only a little
    den = rng.poisson(np.broadcast_to(size[:, None], (n_units, n_months))).clip(5)
    mean = np.clip(level[:, None] + effect, 0.5, 0.999)
    # Beta month rates around the unit's mean with sd ≈ spread (over-dispersion).
    conc = np.maximum(mean * (1 - mean) / spread[:, None] ** 2 - 1, 5.0)
    p = rng.beta(mean * conc, (1 - mean) * conc)
    num = rng.binomial(den, p).astype(float)
    rate = num / den
    band = (rate >= THRESHOLD - HOLE - 1e-12) & (rate < THRESHOLD - 1e-12)
    band_months = band.sum(axis=1)
    reach, share, landing = {"far": (0.025, 0.7, 0.005), "far_reach": (0.03, 0.7, 0.01)}.get(
        process, (HOLE, 0.9, 0.005)
    )
    is_gamer = np.zeros(n_units, dtype=bool)
    is_gamer[gamers] = True
    short = (rate >= THRESHOLD - reach - 1e-12) & (rate < THRESHOLD - 1e-12)
    move = is_gamer[:, None] & short & (rng.random(rate.shape) < share)
    target = THRESHOLD + rng.random(rate.shape) * landing
    num = np.where(move, np.minimum(np.ceil(target * den - 1e-7), den), num)
    ids = [f"U{i + 1:03d}" for i in range(n_units)]
    periods = [str(m) for m in pd.period_range("2024-01", periods=n_months, freq="M")]
    obs = pd.DataFrame(
        {
            "period": np.tile(periods, n_units),
            "unit_id": np.repeat(ids, n_months),
            "indicator": INDICATOR,
            "value": (num / den).ravel(),
            "numerator": num.ravel(),
            "denominator": den.ravel().astype(float),
        }
    )
    units = pd.DataFrame({"unit_id": ids, "name": ids, "level": "station", "peer_group": group})
    return World(
        process,
        obs,
        units,
        frozenset(ids[i] for i in gamers),
        pd.Series(band_months, index=ids),
    )


def rates_only(observations: pd.DataFrame) -> pd.DataFrame:
    """The same panel exported as rates alone (4 decimals, no numerator or denominator)."""
    return observations.assign(value=observations["value"].round(4), numerator=np.nan, denominator=np.nan)


def naive_score(observations: pd.DataFrame) -> pd.Series:
    """Months in ``[t, t + 1 pp)`` minus half the months in ``[t − 2 pp, t)``, per unit."""
    v = observations["value"].to_numpy(dtype=float)
    above = (v >= THRESHOLD - 1e-9) & (v < THRESHOLD + HEAP - 1e-9)
    below = (v >= THRESHOLD - HOLE - 1e-9) & (v < THRESHOLD - 1e-9)
    score = pd.Series(above - 0.5 * below, index=observations.index)
    return score.groupby(observations["unit_id"]).sum()


# ============================================================================ the power study
def study(
    process: str,
    seeds: range | list[int],
    *,
    honest_seeds: range | list[int] | None = None,
    n_units: int = 80,
    n_months: int = 24,
    alpha: float = 0.1,
    rates: bool = False,
    checks: list[str] | None = None,
) -> dict[str, float]:
    """Power of :func:`~perfmodel.design.gaming.detect_gaming` on ``process``.

    ``seeds``: one world with manipulators per seed; ``honest_seeds`` (default
    ``seeds``): one all-honest world of the same process per seed (seed
    ``10 000 + s``). Returns, averaged over the worlds with manipulators, the ROC
    AUC of the shipped unit score (``report.units["score"]``; ``auc``), of the
    threshold test's ``−log10 p`` (``auc_p``) and of the naive baseline
    (``auc_naive``), recall and precision of the units with a lead at
    ``alpha``, and the recall among manipulators with four or more months in
    the band below the threshold (``recall_busy``; pooled over the worlds:
    ``recall_busy_pooled``, of ``busy_total``); over the honest worlds the
    number of worlds (``honest_worlds``), of worlds with any lead
    (``honest_with_leads``) and with a lead of the threshold test
    (``honest_with_threshold_leads``), and their shares (``false_lead_rate``,
    which the false discovery rate keeps at most ``alpha``, and
    ``false_lead_rate_threshold``). Empty ``seeds``: only the honest worlds.
    """
    from sklearn.metrics import roc_auc_score

    from perfmodel.design.gaming import GamingReport, detect_gaming

    def run(world: World, seed: int) -> tuple[pd.DataFrame, GamingReport]:
        obs = rates_only(world.observations) if rates else world.observations
        report = detect_gaming(
            obs,
            "station_four_dimension",
            units=world.units,
            peer_group="peer_group",
            alpha=alpha,
            checks=checks,
            n_boot=20,
            rng=seed,
        )
        return obs, report

    honest_runs = []
    for seed in seeds if honest_seeds is None else honest_seeds:
        honest = make_world(process, n_units=n_units, n_months=n_months, gamer_share=0.0, rng=10_000 + seed)
        clean = run(honest, seed)[1]
        honest_runs.append((bool(clean.flagged_units()), bool(clean.leads()["check"].eq("threshold_heaping").any())))
    rows = []
    for seed in seeds:
        world = make_world(process, n_units=n_units, n_months=n_months, rng=seed)
        obs, report = run(world, seed)
        ids = sorted(obs["unit_id"].unique())
        truth = world.truth(ids)
        tests = report.tests[report.tests["check"] == "threshold_heaping"].set_index("unit_id")
        p_score = -np.log10(tests["p_value"].reindex(ids).fillna(1.0).to_numpy())
        score = report.units.set_index("unit_id")["score"].reindex(ids).fillna(-np.inf).to_numpy()
        flagged = set(report.flagged_units())
        busy = {u for u in world.gamers if world.band_months[u] >= 4}
        rows.append(
            {
                "auc": roc_auc_score(truth, score),
                "auc_p": roc_auc_score(truth, p_score),
                "auc_naive": roc_auc_score(truth, naive_score(obs).reindex(ids).to_numpy()),
                "recall": len(flagged & world.gamers) / max(len(world.gamers), 1),
                "precision": len(flagged & world.gamers) / len(flagged) if flagged else float("nan"),
                "recall_busy": len(flagged & busy) / len(busy) if busy else float("nan"),
                "busy": len(busy),
                "busy_named": len(flagged & busy),
            }
        )
    result = pd.DataFrame(rows).mean().to_dict() if rows else {}
    if rows:  # recall among all busy manipulators of all worlds (not a mean of small shares)
        result["busy_total"] = sum(r["busy"] for r in rows)
        result["busy_named_total"] = sum(r["busy_named"] for r in rows)
        result["recall_busy_pooled"] = result["busy_named_total"] / max(result["busy_total"], 1)
    any_lead, threshold_lead = np.array(honest_runs, dtype=bool).reshape(-1, 2).T
    result |= {
        "honest_worlds": len(honest_runs),
        "honest_with_leads": int(any_lead.sum()),
        "honest_with_threshold_leads": int(threshold_lead.sum()),
        "false_lead_rate": float(any_lead.mean()) if len(honest_runs) else float("nan"),
        "false_lead_rate_threshold": float(threshold_lead.mean()) if len(honest_runs) else float("nan"),
    }
    return result
