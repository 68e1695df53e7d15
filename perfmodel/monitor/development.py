"""Inputs and summaries of the development report (officer cockpit, team credit, training, deployment).

The development report (``notebooks/development.ipynb``) evaluates the stations
of one framework and the officers of several role frameworks, then builds the
cockpit (:mod:`~perfmodel.monitor.cockpit`), team credit
(:mod:`~perfmodel.monitor.team`), training needs
(:mod:`~perfmodel.monitor.training`) and the deployment view
(:mod:`~perfmodel.monitor.deployment`). This module holds the glue between them:

* :func:`observation_folders`, :func:`find_observations` and
  :func:`officer_evaluations` — find each role framework's observations file
  (``<folder>/observations/<framework_id>.csv.gz`` as ``perfmodel sample`` writes
  it, or ``<folder>/<framework_id>.<ext>``) and evaluate it; frameworks without a
  file are reported, not fatal;
* :func:`collaborations_of` — the collaborative cases beside the units file (or
  at a given path), when there are any;
* :func:`overview` — the numbers of the report's opening paragraph;
* :func:`officer_scores`, :func:`officer_truth` and :func:`team_shares` — how
  much of the differences belongs to the team, for collaborative credit, officer
  scores and (in simulated data) the officers' true performance, next to the
  team shares planted by the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from perfmodel.errors import OptionError
from perfmodel.evaluation import Evaluation, evaluate_files
from perfmodel.monitor.cockpit import Cockpit
from perfmodel.monitor.team import (
    CollaborationError,
    VarianceShare,
    anova_components,
    figure_variance_shares,
    monthly_credit,
    planted_team_shares,
    read_collaborations,
    team_share_interval,
    trailing_months,
    variance_decomposition,
    variance_table,
)
from perfmodel.randomness import RngLike
from perfmodel.text import check_lang, say
from perfmodel.validation import check_input_order

__all__ = [
    "OBSERVATION_EXTENSIONS",
    "OUTCOMES",
    "TeamShares",
    "collaborations_of",
    "find_observations",
    "framework_ids",
    "observation_folders",
    "officer_evaluations",
    "officer_scores",
    "officer_truth",
    "overview",
    "team_shares",
]

OBSERVATION_EXTENSIONS: tuple[str, ...] = (".csv.gz", ".csv", ".tsv.gz", ".tsv", ".xlsx", ".parquet")
"""File endings tried for ``<framework_id><ending>``, in this order (compressed CSV first)."""

OUTCOMES: tuple[str, ...] = ("collaboration_credit", "officer_scores", "officer_performance")
"""Outcomes of :func:`team_shares` (keys as in :func:`~perfmodel.monitor.team.planted_team_shares`)
(words: ``monitor.development.outcome.<code>``)."""

_SCORE_COLUMNS = ["unit_id", "station", "peer_group", "score"]
_TRUTH_COLUMNS = ("unit_id", "node", "true_latent")


# ---------------------------------------------------------------- officer evaluations
def framework_ids(frameworks: str | Sequence[str]) -> list[str]:
    """Framework ids from a comma-separated text or a sequence, blanks and repeats dropped.

    Examples
    --------
    >>> framework_ids("officer_traffic, officer_emergency,,officer_traffic")
    ['officer_traffic', 'officer_emergency']
    """
    items = frameworks.split(",") if isinstance(frameworks, str) else frameworks
    return list(dict.fromkeys(s for s in (str(item).strip() for item in items) if s))


def observation_folders(observations: str | Path, folder: str | Path | None = None) -> list[Path]:
    """Folders searched for the role frameworks' observations files.

    Parameters
    ----------
    observations
        The station observations file; by default the search covers its folder's
        ``observations/`` sub-folder (the layout of ``perfmodel sample``), then the
        folder itself.
    folder
        A folder to search instead (empty text counts as not given).

    Returns
    -------
    list of pathlib.Path
    """
    if folder:
        return [Path(folder)]
    base = Path(observations).parent
    return [base / "observations", base]


def find_observations(framework_id: str, folders: Sequence[str | Path]) -> Path | None:
    """The first ``<folder>/<framework_id><ending>`` file that exists, or ``None``.

    Folders are searched in the order given, and within a folder the endings of
    :data:`OBSERVATION_EXTENSIONS` in their order.
    """
    for folder in folders:
        for ending in OBSERVATION_EXTENSIONS:
            path = Path(folder) / f"{framework_id}{ending}"
            if path.is_file():
                return path
    return None


def officer_evaluations(
    frameworks: str | Sequence[str],
    observations: str | Path,
    units: str | Path,
    period: str,
    folders: Sequence[str | Path] | None = None,
    **settings: object,
) -> tuple[dict[str, Evaluation], list[str]]:
    """Evaluate every role framework that has an observations file.

    Parameters
    ----------
    frameworks
        Role framework ids, as a sequence or comma-separated text.
    observations
        The station observations file (it locates the default folders).
    units
        The units file (stations and officers).
    period
        Evaluation period, e.g. ``2025Q2``.
    folders
        Folders to search (:func:`observation_folders` by default).
    **settings
        Passed to :func:`~perfmodel.evaluation.evaluate_files`.

    Returns
    -------
    (dict, list)
        Framework id → run evaluation, in the order given; and the ids for which
        no observations file was found.

    Raises
    ------
    OptionError
        For the order before issue 12, ``(observations, units, frameworks, period)``.
    """
    check_input_order(frameworks, observations, units, caller="officer_evaluations")
    searched = observation_folders(observations) if folders is None else list(folders)
    evaluations: dict[str, Evaluation] = {}
    absent: list[str] = []
    for fid in framework_ids(frameworks):
        path = find_observations(fid, searched)
        if path is None:
            absent.append(fid)
        else:
            evaluations[fid] = evaluate_files(fid, path, units, period, **settings)
    return evaluations, absent


def collaborations_of(
    units: str | Path, units_table: pd.DataFrame, collaborations: str | Path | None = None
) -> tuple[pd.DataFrame | None, Path]:
    """The validated collaborative cases, when the file exists.

    Parameters
    ----------
    units
        The units file; without ``collaborations`` the file looked for is
        ``collaborations.csv`` beside it (as ``perfmodel sample`` writes it).
    units_table
        The validated units, to check officers and stations against.
    collaborations
        Path of the collaborations file (empty text counts as not given).

    Returns
    -------
    (pandas.DataFrame or None, pathlib.Path)
        The cases (``None`` when there is no such file) and the path looked at.

    Raises
    ------
    CollaborationError
        When the file exists but cannot be used (the message names row and column).
    """
    path = Path(collaborations) if collaborations else Path(units).parent / "collaborations.csv"
    return (read_collaborations(path, units_table) if path.is_file() else None), path


def overview(station_ev: Evaluation, officer_evs: Mapping[str, Evaluation], lang: str = "zh") -> dict[str, object]:
    """Numbers of the report's opening paragraph.

    Returns
    -------
    dict
        ``n_stations`` (scored stations), ``framework`` (the station framework's
        name in ``lang``), ``n_officers`` (officers over all role frameworks) and
        ``n_roles`` (role frameworks evaluated).
    """
    check_lang(lang)
    name = station_ev.framework.name
    return {
        "n_stations": len(station_ev.scores),
        "framework": name.in_lang(lang),
        "n_officers": sum(len(ev.scores) for ev in officer_evs.values()),
        "n_roles": len(officer_evs),
    }


# ---------------------------------------------------------------- team shares
def officer_scores(cockpits: Mapping[str, Cockpit]) -> pd.DataFrame:
    """Scored officers of every cockpit: ``unit_id``, ``station``, ``peer_group``, ``score``."""
    frames = [c.profiles[_SCORE_COLUMNS].dropna(subset=["score"]) for c in cockpits.values()]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=_SCORE_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def officer_truth(folder: str | Path, scores: pd.DataFrame) -> pd.DataFrame:
    """True overall performance of the scored officers, from a simulated sample's ``truth_units.csv``.

    Parameters
    ----------
    folder
        The data folder; real data have no ``truth_units.csv`` and give an empty table.
    scores
        :func:`officer_scores` (gives the officers, their station and peer group).

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``node``, ``true_latent`` and the other truth columns, plus
        ``station`` and ``peer_group``; one row per scored officer with a truth.

    Raises
    ------
    ValueError
        When ``truth_units.csv`` lacks a needed column.
    """
    path = Path(folder) / "truth_units.csv"
    if not path.is_file() or scores.empty:
        return pd.DataFrame(columns=[*_TRUTH_COLUMNS, "station", "peer_group"])
    truth = pd.read_csv(path)
    missing = [c for c in _TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise OptionError(
            f"{path} lacks column(s) {', '.join(missing)}; it should be the truth_units.csv "
            "written by perfmodel sample (or remove it for real data)"
        )
    truth = truth[(truth["node"] == "overall") & truth["unit_id"].isin(scores["unit_id"])]
    return truth.merge(scores[["unit_id", "station", "peer_group"]], on="unit_id")


def _by_station(frame: pd.DataFrame, outcome: str) -> VarianceShare | None:
    """Team (station) vs individual split of one value per officer; roles aligned by fixed effects."""
    if frame.empty or frame["station"].nunique() < 2:
        return None
    adjust = ["peer_group"] if frame["peer_group"].nunique() > 1 else []
    return variance_decomposition(frame, outcome, "station", adjust_for=adjust)


@dataclass(frozen=True)
class TeamShares:
    """How much of the officers' lasting differences belongs to their team, for several outcomes.

    Attributes
    ----------
    results
        One decomposition per outcome; the first is always the monthly
        collaborative credit (MixedLM with team, individual, team-month and noise).
    outcomes
        Keys of :data:`OUTCOMES`, one per result.
    planted
        Position in ``results`` → team share planted by the simulator (simulated data only).
    interval
        Bootstrap interval (over stations, coverage ``team_shares(confidence=…)``) of the collaborative credit's team
        share; ``None`` when the monthly panel is not balanced.
    check
        ANOVA estimates of the collaborative credit (the check on the MixedLM fit);
        ``None`` when ``interval`` is.
    n_months
        Months of collaborative credit analysed.
    confidence
        Coverage of ``interval``.
    """

    results: tuple[VarianceShare, ...]
    outcomes: tuple[str, ...]
    planted: dict[int, float] = field(default_factory=dict)
    interval: tuple[float, float] | None = None
    check: VarianceShare | None = None
    n_months: int = 0
    confidence: float = 0.95

    @property
    def credit(self) -> VarianceShare:
        """The decomposition of the monthly collaborative credit."""
        return self.results[0]

    def labels(self, lang: str = "zh") -> list[str]:
        """Report labels of the outcomes."""
        check_lang(lang)
        return [say(f"monitor.development.outcome.{key}", lang) for key in self.outcomes]

    def summary(self) -> str:
        """Team share of each outcome, with the interval and planted values, as text."""
        lines = [f"Team share of lasting differences ({self.n_months} months of collaborative credit)"]
        for i, (key, r) in enumerate(zip(self.outcomes, self.results, strict=True)):
            line = f"  {key}: {r.team_share:.1%} ({r.method})"
            if i == 0 and self.interval is not None:
                line += f", {self.confidence:.0%} interval {self.interval[0]:.1%}–{self.interval[1]:.1%}"
            if i in self.planted:
                line += f", planted {self.planted[i]:.1%}"
            lines.append(line)
        return "\n".join(lines)

    def to_frame(self, lang: str = "zh") -> pd.DataFrame:
        """The main table (:meth:`table`): one row per outcome."""
        check_lang(lang)
        return self.table(lang)

    def table(self, lang: str = "zh") -> pd.DataFrame:
        """:func:`~perfmodel.monitor.team.variance_table` with the outcomes' labels in the first column."""
        check_lang(lang)
        table = variance_table(self.results, lang)
        table.iloc[:, 0] = self.labels(lang)
        return table

    def figure(self, lang: str = "zh") -> Axes:
        """:func:`~perfmodel.monitor.team.figure_variance_shares` with planted values and the interval."""
        check_lang(lang)
        intervals = {0: self.interval} if self.interval is not None else None
        return figure_variance_shares(
            self.results,
            lang=lang,
            labels=self.labels(lang),
            planted=self.planted,
            intervals=intervals,
            confidence=self.confidence,
        )


def team_shares(
    collab: pd.DataFrame,
    units: pd.DataFrame,
    period: str,
    *,
    months: int = 12,
    cockpits: Mapping[str, Cockpit] | None = None,
    folder: str | Path | None = None,
    confidence: float = 0.95,
    rng: RngLike = None,
) -> TeamShares:
    """Team share of collaborative credit, officer scores and (simulated) true performance.

    Parameters
    ----------
    collab
        Validated collaborative cases.
    units
        Validated units (officers' home stations).
    period
        The report period; the collaborative credit covers the ``months`` months
        ending with its last month (:func:`~perfmodel.monitor.team.trailing_months`).
    months
        Months of collaborative credit.
    cockpits
        Officer cockpits; their scores add the ``officer_scores`` outcome (when
        officers of at least two stations are scored).
    folder
        Data folder: a simulated sample there adds the ``officer_performance``
        outcome (its ``truth_units.csv``) and the planted team shares
        (:func:`~perfmodel.monitor.team.planted_team_shares`).
    confidence, rng
        Coverage and random numbers (an int seed, a Generator or None) of the
        bootstrap interval of the collaborative credit's team share.

    Returns
    -------
    TeamShares
    """
    panel = monthly_credit(collab, units, months=trailing_months(period, months))
    args = ("credit", "station", "officer_id")
    results, outcomes = [variance_decomposition(panel, *args, period="period")], ["collaboration_credit"]
    try:
        interval = team_share_interval(panel, *args, period="period", confidence=confidence, rng=rng)
    except CollaborationError:  # unbalanced panel: no ANOVA bootstrap
        interval = None
    check = anova_components(panel, *args, period="period") if interval is not None else None
    scores = officer_scores(cockpits or {})
    candidates = [("officer_scores", scores, "score")]
    if folder is not None:
        candidates.append(("officer_performance", officer_truth(folder, scores), "true_latent"))
    for key, frame, outcome in candidates:
        result = _by_station(frame, outcome)
        if result is not None:
            results.append(result)
            outcomes.append(key)
    planted_values = planted_team_shares(folder) if folder is not None else {}
    planted = {i: planted_values[key] for i, key in enumerate(outcomes) if key in planted_values}
    return TeamShares(
        tuple(results), tuple(outcomes), planted, interval, check, int(panel["period"].nunique()), confidence
    )
