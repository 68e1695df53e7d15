"""Deployment view (警力配置, R15): officers per station against workload-based demand.

*Demand.* A station's share of the bureau's work is a weighted mix of its share
of the bureau's incidents (警情) and of its residents, by default 70 % incidents
and 30 % population (:data:`DEFAULT_DEMAND_WEIGHTS`; population stands for the
community work — visits, registration, disputes — that residents bring even
without incidents). ``demand`` is that share of all the officers now deployed:
the headcount the station would have if every officer carried the same load.
``load`` = demand ÷ officers is the workload per officer relative to the bureau
(1 = average, 1.3 = 30 % more than average).

*Reallocation.* :func:`reallocate` moves officers one at a time from the station
where losing one costs least to the station where gaining one helps most, as
long as a move lowers the officer-weighted variance of ``load``
(``Σ officers × (load − 1)² / Σ officers``, the spread of load that officers
experience), within the constraints: no station goes below ``min_staff`` (or
below its current headcount if that is already smaller), at most ``max_moves``
officers move, and optionally moves stay within a group (``within="district"``:
no moves between district bureaus). Because the variance is a separable convex
function of the headcounts (``Σ demand² / officers``), a move that lowers it never
has to be undone and, without a move limit, the greedy ends at the best possible
allocation. The total headcount never changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfmodel.errors import PerfmodelError
from perfmodel.simulate import AREA_TYPES
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_DEMAND_WEIGHTS",
    "DeploymentError",
    "Reallocation",
    "area_summary",
    "area_table",
    "demand_weights",
    "dispersion",
    "figure_load_before_after",
    "figure_police_density",
    "moves_table",
    "reallocate",
    "shortfall_table",
    "staffing_table",
]

DEFAULT_DEMAND_WEIGHTS: Mapping[str, float] = {"incident_volume": 0.7, "population": 0.3}
"""Units columns that drive demand and their weights."""

_STATION_COLUMNS = ("unit_id", "level", "officers", "population", "incident_volume")


class DeploymentError(PerfmodelError, ValueError):
    """Input the deployment view cannot use; the message names the station and column."""


def _row_label(units: pd.DataFrame, index) -> str:
    if "source_row" in units.columns:
        return f"row {int(units.loc[index, 'source_row'])}"
    return f"unit {units.loc[index, 'unit_id']!r}"


def demand_weights(incident_weight: float) -> dict[str, float]:
    """Demand weights mixing the incident share (``incident_weight``) and the population share (the rest).

    Examples
    --------
    >>> demand_weights(0.75)
    {'incident_volume': 0.75, 'population': 0.25}
    """
    if not 0 <= incident_weight <= 1:
        raise DeploymentError(
            f"incident_weight must be between 0 and 1 (the incidents' part of the demand), got {incident_weight!r}"
        )
    return {"incident_volume": incident_weight, "population": 1 - incident_weight}


def staffing_table(
    units: pd.DataFrame, *, demand_weights: Mapping[str, float] = DEFAULT_DEMAND_WEIGHTS
) -> pd.DataFrame:
    """Officers, workload and demand per station.

    Parameters
    ----------
    units
        Units table; its stations (``level == "station"``) need ``officers`` > 0,
        ``population`` > 0 and ``incident_volume`` ≥ 0 (monthly incidents).
    demand_weights
        Units column → weight of its share in the demand (non-negative, not all zero).

    Returns
    -------
    pandas.DataFrame
        One row per station: ``unit_id``, ``name``, ``district``, ``area_type``,
        ``station_type``, ``population``, ``incident_volume``, ``officers``,
        ``incidents_per_officer`` (monthly), ``police_per_10k`` (officers per
        10,000 residents), ``demand`` (officers needed at the bureau's average
        load), ``gap`` (officers − demand; negative = short) and ``load``
        (demand ÷ officers; 1 = bureau average).

    Raises
    ------
    DeploymentError
        Missing columns or unusable values, naming the station's row and the column.
    """
    missing = [c for c in (*_STATION_COLUMNS, *demand_weights) if c not in units.columns]
    if missing:
        raise DeploymentError(
            f"the units table lacks column(s) {', '.join(missing)}; the deployment view needs each "
            "station's officers, population and incident_volume"
        )
    weights = pd.Series(demand_weights, dtype=float)
    if (weights < 0).any() or weights.sum() <= 0 or weights.isna().any():
        raise DeploymentError(f"demand weights must be non-negative and not all zero, got {dict(demand_weights)}")
    stations = units[units["level"].astype(str) == "station"].copy()
    if stations.empty:
        raise DeploymentError("the units table has no stations (level 'station')")
    numeric = {c: pd.to_numeric(stations[c], errors="coerce") for c in {*_STATION_COLUMNS[2:], *weights.index}}
    rules = {
        "officers": (lambda v: v > 0, "a whole number above 0"),
        "population": (lambda v: v > 0, "a number above 0"),
    }
    for column, values in numeric.items():
        test, wanted = rules.get(column, (lambda v: v >= 0, "a number of at least 0"))
        bad = values.isna() | ~test(values)
        if bad.any():
            first = bad.index[bad][0]
            raise DeploymentError(
                f"column {column!r} must be {wanted} for every station; {_row_label(stations, first)} "
                f"(station {stations.loc[first, 'unit_id']}) has {stations.loc[first, column]!r}"
                + (f" and {int(bad.sum()) - 1} more" if bad.sum() > 1 else "")
                + ": correct the units table"
            )
    officers = numeric["officers"]
    share = sum(w * numeric[c] / numeric[c].sum() for c, w in (weights / weights.sum()).items())
    demand = share * officers.sum()
    context = [c for c in ("name", "district", "area_type", "station_type") if c in stations.columns]
    out = pd.DataFrame({"unit_id": stations["unit_id"].astype(str)}).join(stations[context])
    out["population"] = numeric["population"]
    out["incident_volume"] = numeric["incident_volume"]
    out["officers"] = officers
    out["incidents_per_officer"] = numeric["incident_volume"] / officers
    out["police_per_10k"] = officers / numeric["population"] * 10_000
    out["demand"] = demand
    out["gap"] = officers - demand
    out["load"] = demand / officers
    return out.reset_index(drop=True)


def dispersion(load: pd.Series | np.ndarray, officers: pd.Series | np.ndarray) -> dict[str, float]:
    """How unevenly workload per officer is spread.

    Returns
    -------
    dict
        ``sd_officers``: officer-weighted sd of ``load`` around the officer-weighted
        mean (the objective of :func:`reallocate`); ``cv_stations``: coefficient of
        variation of ``load`` across stations; ``max_min``: highest ÷ lowest load
        (infinite when a station has no demand);
        ``share_overloaded``: share of officers at stations with load > 1.2.
    """
    load, officers = np.asarray(load, dtype=float), np.asarray(officers, dtype=float)
    mean = np.average(load, weights=officers)
    return {
        "sd_officers": float(np.sqrt(np.average((load - mean) ** 2, weights=officers))),
        "cv_stations": float(load.std() / load.mean()),
        "max_min": float(load.max() / load.min()) if load.min() > 0 else float("inf"),
        "share_overloaded": float(officers[load > 1.2].sum() / officers.sum()),
    }


def area_summary(table: pd.DataFrame, by: str = "area_type") -> pd.DataFrame:
    """Totals per group (default urban core / fringe / rural) of :func:`staffing_table`.

    Area types come in the order urban core, fringe, rural; other groups follow
    alphabetically.
    ``incidents_per_officer`` and ``police_per_10k`` are ratios of the group's
    totals; ``load`` is the group's demand ÷ officers.
    """
    if by not in table.columns:
        raise DeploymentError(f"column {by!r} is not in the staffing table; choose one of {', '.join(table.columns)}")
    sums = table.groupby(by).agg(
        stations=("unit_id", "size"),
        officers=("officers", "sum"),
        population=("population", "sum"),
        incidents=("incident_volume", "sum"),
        demand=("demand", "sum"),
    )
    sums["incidents_per_officer"] = sums["incidents"] / sums["officers"]
    sums["police_per_10k"] = sums["officers"] / sums["population"] * 10_000
    sums["load"] = sums["demand"] / sums["officers"]
    sums["gap"] = sums["officers"] - sums["demand"]
    known = {name: i for i, name in enumerate(AREA_TYPES)}
    order = sorted(sums.index, key=lambda g: (known.get(g, len(known)), str(g)))
    return sums.loc[order].reset_index()


@dataclass
class Reallocation:
    """A suggested reallocation and its effect.

    Attributes
    ----------
    table
        :func:`staffing_table` with ``officers_after``, ``change`` and ``load_after``.
    moves
        ``from_station``, ``to_station``, ``officers`` (aggregated single moves).
    before, after
        :func:`dispersion` before and after.
    constraints
        The constraints used (``min_staff``, ``max_moves``, ``within``).
    n_moves
        Officers moved.
    """

    table: pd.DataFrame
    moves: pd.DataFrame
    before: dict[str, float]
    after: dict[str, float]
    constraints: dict[str, object]
    n_moves: int

    @property
    def sd_reduction(self) -> float:
        """Relative fall of the officer-weighted sd of load, ``1 − after / before`` (0 when nothing was uneven)."""
        before = self.before["sd_officers"]
        return 1 - self.after["sd_officers"] / before if before > 0 else 0.0

    def effect(self, lang: str = "zh") -> pd.DataFrame:
        """Before/after dispersion measures as a report table."""
        check_lang(lang)
        return pd.DataFrame(
            {
                say("monitor.deployment.measure", lang): [
                    say(f"monitor.deployment.effect.{k}", lang) for k in self.before
                ],
                say("monitor.deployment.before_header", lang): list(self.before.values()),
                say("monitor.deployment.after_header", lang): [self.after[k] for k in self.before],
            }
        )


def _floors(table: pd.DataFrame, min_staff: int | Mapping[str, int]) -> np.ndarray:
    if isinstance(min_staff, Mapping):
        floor = table["unit_id"].map(pd.Series(min_staff, dtype=float))
        if floor.isna().any():
            raise DeploymentError(
                f"min_staff gives no minimum for station(s) {', '.join(table.loc[floor.isna(), 'unit_id'][:5])}; "
                "give one number for all stations or a minimum for every station"
            )
    else:
        floor = pd.Series(float(min_staff), index=table.index)
    if (floor < 1).any():
        raise DeploymentError("min_staff must be at least 1 officer per station")
    return np.minimum(floor.to_numpy(), table["officers"].to_numpy())


def _best_pairs(members: np.ndarray, gain: np.ndarray, cost: np.ndarray) -> list[tuple[float, int, int]]:
    """Candidate best moves among ``members``: (change in variance, donor, receiver).

    The best pair either receives at the station with the largest gain or donates
    from the station with the smallest cost; both candidates are returned.
    """
    receiver = members[np.argmax(gain[members])]
    donor = members[np.argmin(cost[members])]
    others_r, others_d = members[members != receiver], members[members != donor]
    best_donor = others_r[np.argmin(cost[others_r])]
    best_receiver = others_d[np.argmax(gain[others_d])]
    return [
        (float(cost[best_donor] - gain[receiver]), int(best_donor), int(receiver)),
        (float(cost[donor] - gain[best_receiver]), int(donor), int(best_receiver)),
    ]


def reallocate(
    table: pd.DataFrame,
    *,
    min_staff: int | Mapping[str, int] = 3,
    max_moves: int = 20,
    within: str | None = None,
) -> Reallocation:
    """Suggest moves of officers between stations that even out workload per officer.

    Parameters
    ----------
    table
        :func:`staffing_table` output.
    min_staff
        Minimum officers per station after the moves (one number, or station id →
        number); a station already below it only receives.
    max_moves
        At most this many officers move.
    within
        Column of ``table`` (e.g. ``district``): officers move only between
        stations with the same value.

    Returns
    -------
    Reallocation
    """
    if max_moves < 0:
        raise DeploymentError(f"max_moves must be 0 or more, not {max_moves}")
    if within is not None and within not in table.columns:
        raise DeploymentError(f"within column {within!r} is not in the staffing table")
    demand = table["demand"].to_numpy(dtype=float)
    before_staff = table["officers"].to_numpy(dtype=float)
    floor = _floors(table, min_staff)
    staff = before_staff.copy()
    groups = table[within].astype(str).to_numpy() if within is not None else np.zeros(len(table), dtype=object)
    d2 = demand**2
    moves: list[tuple[int, int]] = []
    while len(moves) < max_moves:
        gain = d2 / (staff * (staff + 1))  # variance saved by one more officer
        with np.errstate(divide="ignore", invalid="ignore"):
            cost = np.where(staff - 1 >= floor, d2 / (staff * (staff - 1)), np.inf)  # added by one fewer
        best: tuple[float, int, int] | None = None
        for group in dict.fromkeys(groups):
            members = np.flatnonzero(groups == group)
            if members.size < 2:
                continue
            for change, donor, receiver in _best_pairs(members, gain, cost):
                if best is None or change < best[0]:
                    best = (change, donor, receiver)
        if best is None or not best[0] < -1e-12:
            break
        _, donor, receiver = best
        staff[donor] -= 1
        staff[receiver] += 1
        moves.append((donor, receiver))
    ids = table["unit_id"].to_numpy()
    moved = pd.DataFrame([(ids[d], ids[r]) for d, r in moves], columns=["from_station", "to_station"])
    moved = (
        moved.value_counts(sort=False).rename("officers").reset_index()
        if len(moved)
        else moved.assign(officers=pd.Series(dtype=int))
    )
    out = table.copy()
    out["officers_after"] = staff
    out["change"] = staff - before_staff
    out["load_after"] = demand / staff
    return Reallocation(
        table=out,
        moves=moved,
        before=dispersion(table["load"], before_staff),
        after=dispersion(out["load_after"], staff),
        constraints={"min_staff": min_staff, "max_moves": max_moves, "within": within},
        n_moves=len(moves),
    )


def area_table(summary: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`area_summary` with localised column names, for a report."""
    check_lang(lang)
    return summary.rename(
        columns={
            "area_type": say("monitor.deployment.area_type", lang),
            "stations": say("common.stations", lang),
            "officers": say("common.officers", lang),
            "population": say("monitor.deployment.population", lang),
            "incidents": say("monitor.deployment.monthly_incidents", lang),
            "demand": say("monitor.deployment.demand", lang),
            "incidents_per_officer": say("monitor.deployment.incidents_per_officer", lang),
            "police_per_10k": say("monitor.deployment.police_per_10k", lang),
            "load": say("monitor.deployment.load", lang),
            "gap": say("monitor.deployment.surplus_gap", lang),
        }
    )


def shortfall_table(table: pd.DataFrame, top: int = 8) -> pd.DataFrame:
    """The ``top`` stations of :func:`staffing_table` with the largest shortfall (lowest ``gap``)."""
    columns = [
        "unit_id",
        "name",
        "area_type",
        "officers",
        "demand",
        "gap",
        "incidents_per_officer",
        "police_per_10k",
        "load",
    ]
    return table.sort_values("gap").head(top)[[c for c in columns if c in table.columns]]


def moves_table(result: Reallocation, lang: str = "zh", top: int = 15) -> pd.DataFrame:
    """The ``top`` largest moves of a reallocation (most officers first), with localised column names."""
    check_lang(lang)
    moves = result.moves.sort_values("officers", ascending=False).head(top)
    return moves.rename(
        columns={
            "from_station": say("monitor.deployment.from", lang),
            "to_station": say("monitor.deployment.to", lang),
            "officers": say("monitor.deployment.officers", lang),
        }
    )


# ---------------------------------------------------------------- figures
def figure_load_before_after(result: Reallocation, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Workload per officer of every station before and after the suggested moves.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    table = result.table.sort_values("load").reset_index(drop=True)
    ax = report_axes(ax, figsize=(9, 4.5))
    x = np.arange(len(table))
    ax.scatter(x, table["load"], s=14, color="#b2182b", label=say("monitor.deployment.before", lang))
    ax.scatter(x, table["load_after"], s=14, color="#1b7837", label=say("monitor.deployment.after", lang))
    changed = table["change"] != 0
    ax.vlines(x[changed], table.loc[changed, "load"], table.loc[changed, "load_after"], color="grey", lw=0.8)
    ax.axhline(1.0, color="black", ls="--", lw=1)
    ax.legend()
    ax.set_title(say("monitor.deployment.load_title", lang, n=result.n_moves))
    ax.set_xlabel(say("monitor.deployment.station_sorted_by_load_before", lang))
    ax.set_ylabel(say("monitor.deployment.relative_load_1_bureau_average", lang))
    return ax


def figure_police_density(
    summary: pd.DataFrame, *, fig: Figure | None = None, lang: str = "zh", by: str = "area_type"
) -> Figure:
    """Police per 10,000 residents and incidents per officer by area type, side by side.

    Several axes: drawn on ``fig`` (an empty figure; default: a new one) after applying the
    report style (CJK font); returns the figure.
    """
    from perfmodel.report.style import report_subplots

    check_lang(lang)
    fig, axes = report_subplots(fig, 1, 2, figsize=(9, 3.8), layout="constrained")
    labels = summary[by].astype(str)
    axes[0].bar(labels, summary["police_per_10k"], color="#4d7ea8")
    axes[0].set_title(say("monitor.deployment.police_per_10_000_residents", lang))
    axes[0].set_ylabel(say("monitor.deployment.officers_per_10_000", lang))
    axes[1].bar(labels, summary["incidents_per_officer"], color="#f4a582")
    axes[1].set_title(say("monitor.deployment.monthly_incidents_per_officer", lang))
    axes[1].set_ylabel(say("monitor.deployment.incidents_per_officer_per_month", lang))
    for ax in axes:
        ax.set_xlabel(say("monitor.deployment.area_type", lang))
    return fig
