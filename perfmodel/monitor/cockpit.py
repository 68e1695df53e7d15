"""Officer cockpit (效能驾驶舱, R14): a three-dimensional profile per officer.

Each officer evaluated under an officer framework gets three axis scores —
**workload** (工作量), **quality and efficiency** (质量效率) and **citizen
satisfaction** (群众满意度) — each the weighted mean of the officer's normalised
indicator scores on that axis (weights: the framework's effective weights), and
each axis's **percentile** within the officer's peer group (officers of the same
role, optionally split further by a units column). The profile carries the case
points of R13: points earned per case type, bonus items (加分项) and negative-list
hits (负面清单, 一票警示).

Which indicators form an axis follows from the framework (:func:`cockpit_axes`):
case-points indicators and counts where more is better measure workload, citizen
sources measure satisfaction, the other system indicators measure quality and
efficiency. Supervisor, peer and self ratings are on no axis — the cockpit shows
what the officer did and what citizens said, not what colleagues think. Another
assignment can be passed as ``axes``.

Percentiles are mid-rank percentiles, ``100 × (rank − 0.5) / n`` with ties sharing
their average rank (the same as :func:`scipy.stats.percentileofscore` with
``kind="mean"``): the best of four officers is at 87.5, the worst at 12.5, a lone
officer at 50.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from perfmodel.aggregate import weighted_mean
from perfmodel.errors import PerfmodelError
from perfmodel.evaluation import Evaluation
from perfmodel.framework import Framework
from perfmodel.glossary import grade_label
from perfmodel.grading import rank_scores
from perfmodel.text import check_lang, say, templates

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "AXES",
    "axis_names",
    "Cockpit",
    "CockpitError",
    "axes_description",
    "case_ledger",
    "cockpit_axes",
    "cockpit_summary",
    "axis_scores",
    "figure_cockpit_overview",
    "figure_officer_profile",
    "figure_officer_profiles",
    "negative_records",
    "negative_table",
    "officer_cockpit",
    "peer_groups",
    "peer_percentiles",
    "profile_table",
    "select_officers",
]

AXES: tuple[str, ...] = ("workload", "quality", "satisfaction")
"""The three cockpit axes (R14)."""


_SUBJECTIVE = ("supervisor", "peer", "self")


class CockpitError(PerfmodelError, ValueError):
    """A cockpit that cannot be built as asked; the message says what to change."""


def _t(lang: str) -> dict[str, str]:
    """The cockpit's words in ``lang`` (``monitor.cockpit.text.*`` in the catalogue), by code."""
    return templates("monitor.cockpit.text", lang)


def axis_names(lang: str = "zh") -> dict[str, str]:
    """Axis code (:data:`AXES`) → its name in ``lang``.

    Examples
    --------
    >>> axis_names("en")["quality"]
    'Quality & efficiency'
    """
    check_lang(lang)
    return {axis: say(f"monitor.cockpit.axis.{axis}", lang) for axis in AXES}


# ---------------------------------------------------------------- axes
def cockpit_axes(framework: Framework) -> dict[str, tuple[str, ...]]:
    """The framework's indicators on each cockpit axis, in tree order.

    ``workload``: ``points`` indicators and system counts where higher is better;
    ``satisfaction``: indicators with source ``citizen``; ``quality``: every other
    system indicator. Subjective ratings (supervisor, peer, self) are on no axis.

    Examples
    --------
    >>> from perfmodel.framework import load_framework
    >>> cockpit_axes(load_framework("officer_emergency"))["workload"]
    ('case_points',)
    """
    axes: dict[str, list[str]] = {axis: [] for axis in AXES}
    for ind in framework.indicators():
        if ind.source in _SUBJECTIVE:
            continue
        if ind.source == "citizen":
            axes["satisfaction"].append(ind.id)
        elif ind.kind == "points" or (ind.kind == "count" and ind.direction == "higher"):
            axes["workload"].append(ind.id)
        else:
            axes["quality"].append(ind.id)
    return {axis: tuple(ids) for axis, ids in axes.items()}


def _checked_axes(axes: Mapping[str, Sequence[str]] | None, framework: Framework) -> dict[str, tuple[str, ...]]:
    if axes is None:
        return cockpit_axes(framework)
    unknown_axes = sorted(set(axes) - set(AXES))
    if unknown_axes:
        raise CockpitError(f"unknown cockpit axis {', '.join(map(repr, unknown_axes))}; use {', '.join(AXES)}")
    known = set(framework.indicator_meta())
    seen: dict[str, str] = {}
    for axis, ids in axes.items():
        if isinstance(ids, str):
            raise CockpitError(f"axis {axis!r}: give a list of indicator ids, not the string {ids!r}")
        for ind in ids:
            if ind not in known:
                raise CockpitError(
                    f"axis {axis!r}: indicator {ind!r} is not in framework {framework.id!r}; "
                    f"choose from {', '.join(sorted(known))}"
                )
            if ind in seen:
                raise CockpitError(f"indicator {ind!r} is on two axes ({seen[ind]!r} and {axis!r}); put it on one")
            seen[ind] = axis
    return {axis: tuple(axes.get(axis, ())) for axis in AXES}


def axis_scores(
    normalised: pd.DataFrame, framework: Framework, axes: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Weighted mean of the normalised indicator scores on each axis.

    Parameters
    ----------
    normalised
        Units × indicator ids, oriented so that higher is better (e.g.
        ``Evaluation.stages["normalised"]``, 0–100).
    framework
        Supplies the effective weights.
    axes
        Axis → indicator ids; :func:`cockpit_axes` by default.

    Returns
    -------
    pandas.DataFrame
        Units × :data:`AXES`. Missing indicators are left out of a unit's mean (its
        weight is spread over the others); an axis without any indicator, or
        with none observed for a unit, is missing.
    """
    chosen = _checked_axes(axes, framework)
    weights = framework.effective_weights()
    out = pd.DataFrame(index=normalised.index)
    for axis in AXES:
        ids = [i for i in chosen[axis] if i in normalised.columns]
        if not ids:
            out[axis] = np.nan
            continue
        out[axis] = weighted_mean(normalised[ids], {i: weights[i] for i in ids})
    return out


def peer_percentiles(values: pd.DataFrame | pd.Series, groups: pd.Series | None = None):
    """Mid-rank percentile of every value within its group, ``100 × (rank − 0.5) / n``.

    Ties share their average rank; missing values stay missing and do not count in
    ``n``. Higher values get higher percentiles.

    Examples
    --------
    >>> peer_percentiles(pd.Series([3.0, 1.0, 2.0, 2.0])).tolist()
    [87.5, 12.5, 50.0, 50.0]
    """
    keys = pd.Series("all", index=values.index) if groups is None else groups.reindex(values.index)
    keys = keys.astype(object).where(keys.notna(), "(none)")
    grouped = values.groupby(keys)
    return 100.0 * (grouped.rank(method="average") - 0.5) / grouped.transform("count")


# ---------------------------------------------------------------- case points (R13)
def case_ledger(ev: Evaluation) -> pd.DataFrame:
    """Case points, bonus items and negative-list hits per unit for the period (R13).

    Returns
    -------
    pandas.DataFrame
        One row per unit × item with a non-zero count: ``unit_id``, ``kind``
        (``case`` for a case type of a points indicator, ``bonus``, ``negative``),
        ``indicator`` (the points indicator, bonus or negative-list item id),
        ``item`` (the case type, or the count indicator behind a bonus or
        negative-list item), ``name``, ``count``, ``points`` (case points earned,
        bonus points after the item's cap, points deducted) and ``consequence``
        (negative list only). Bonus points are computed as in the evaluation, so
        they add up to ``Evaluation.scores["bonus"]``.
    """
    fw = ev.framework
    rolled = ev.stages["rolled"]
    counts = rolled.pivot(index="unit_id", columns="indicator", values="value").reindex(ev.scored_units.index)
    rows: list[dict] = []

    def add(kind: str, indicator: str, item: str, name: str, count: pd.Series, points: pd.Series) -> None:
        for unit_id in count.index[count.fillna(0) > 0]:
            rows.append(
                {
                    "unit_id": unit_id,
                    "kind": kind,
                    "indicator": indicator,
                    "item": item,
                    "name": name,
                    "count": float(count[unit_id]),
                    "points": float(points[unit_id]),
                    "consequence": None,
                }
            )

    for ind in fw.indicators():
        for case_type, value in (ind.points or {}).items():
            if case_type in counts.columns:
                count = counts[case_type]
                add("case", ind.id, case_type, ind.name.zh, count, count * value)
    for item in fw.bonus:
        if item.indicator in counts.columns:
            count = counts[item.indicator]
            points = count * item.points_per_unit
            if item.cap is not None:
                points = points.clip(upper=item.cap)
            add("bonus", item.id, item.indicator, item.name.zh, count, points)
    hits = ev.stages.get("negative_hits", pd.DataFrame())
    for hit in hits.itertuples(index=False):
        rows.append(
            {
                "unit_id": hit.unit_id,
                "kind": "negative",
                "indicator": hit.item,
                "item": next(i.indicator for i in fw.negative_list if i.id == hit.item),
                "name": hit.name,
                "count": float(hit.count),
                "points": float(hit.points),
                "consequence": hit.consequence,
            }
        )
    columns = ["unit_id", "kind", "indicator", "item", "name", "count", "points", "consequence"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------- the cockpit
@dataclass
class Cockpit:
    """Per-officer profiles of one officer framework and period.

    Attributes
    ----------
    framework, period
        What was evaluated.
    axes
        Axis → indicator ids used.
    profiles
        One row per officer: ``unit_id``, ``name``, ``station``, ``peer_group``,
        ``n_peers``, the axis scores (:data:`AXES`, 0–100), their percentiles
        (``<axis>_pct``), ``score``, ``rank``, ``grade``, ``case_points``,
        ``bonus_points``, ``negative_hits`` and ``negative_items``.
    ledger
        :func:`case_ledger` of the evaluation.
    """

    framework: Framework
    period: str
    axes: dict[str, tuple[str, ...]]
    profiles: pd.DataFrame
    ledger: pd.DataFrame

    def profile(self, unit_id: str) -> pd.Series:
        """The profile row of one officer."""
        found = self.profiles[self.profiles["unit_id"] == unit_id]
        if found.empty:
            raise CockpitError(
                f"officer {unit_id!r} is not in the cockpit of {self.framework.id} {self.period}; "
                "check the id (column unit_id of the units table) and the officer's role"
            )
        return found.iloc[0]


def peer_groups(ev: Evaluation, peer_group: str | None = None) -> pd.Series:
    """Peer group of every evaluated unit: its role (or level), optionally split by a column.

    ``peer_group=None`` uses the evaluation's peer-group column (framework or
    settings), ``"none"`` none; any other value names a units column.
    """
    units = ev.scored_units
    base = pd.Series(ev.framework.role or ev.framework.level, index=units.index, dtype=object)
    column = ev.peer_column if peer_group is None else (None if peer_group == "none" else peer_group)
    if column is None:
        return base
    if column not in units.columns:
        raise CockpitError(
            f"peer group column {column!r} is not in the units table; choose one of "
            f"{', '.join(map(str, units.columns))} or 'none'"
        )
    return base + " · " + units[column].astype(str)


def officer_cockpit(
    ev: Evaluation,
    *,
    axes: Mapping[str, Sequence[str]] | None = None,
    peer_group: str | None = None,
    show_names: bool = False,
) -> Cockpit:
    """Build the cockpit from an evaluation that has been run.

    Parameters
    ----------
    ev
        A run :class:`~perfmodel.evaluation.Evaluation`, normally of an officer
        framework (a station framework works too).
    axes
        Axis → indicator ids, overriding :func:`cockpit_axes`.
    peer_group
        Units column splitting the role's officers further (e.g. ``area_type``);
        ``None`` uses the evaluation's peer group (if any), ``"none"`` compares all
        officers of the role.
    show_names
        Officers' names in column ``name`` (and in every table and figure made
        from the cockpit). By default an officer cockpit shows ids only
        (:mod:`perfmodel.privacy`); a station cockpit always shows station names.

    Returns
    -------
    Cockpit
    """
    if "normalised" not in ev.stages:
        raise CockpitError("the evaluation has not been run; call run() first")
    fw = ev.framework
    chosen = _checked_axes(axes, fw)
    units = ev.scored_units
    scores = axis_scores(ev.stages["normalised"].reindex(units.index), fw, chosen)
    groups = peer_groups(ev, peer_group)
    pct = peer_percentiles(scores, groups).add_suffix("_pct")
    ledger = case_ledger(ev)
    totals = ledger.pivot_table(index="unit_id", columns="kind", values="points", aggfunc="sum")
    hits = ledger[ledger["kind"] == "negative"]
    described = (
        hits.assign(text=hits["name"].astype(str) + "×" + hits["count"].map("{:g}".format).astype(str))
        .groupby("unit_id")["text"]
        .agg("; ".join)
    )
    final = ev.scores.set_index("unit_id")
    profiles = pd.DataFrame(
        {
            "unit_id": units.index,
            "name": units["name"] if "name" in units.columns else None,
            "station": units["parent_id"] if "parent_id" in units.columns else None,
            "peer_group": groups,
            "n_peers": groups.map(groups.value_counts()),
        },
        index=units.index,
    )
    if not (show_names or fw.level != "officer") or "name" not in units.columns:
        profiles = profiles.drop(columns="name")
    profiles = profiles.join(scores).join(pct)
    profiles["score"] = final["score"]
    profiles["rank"] = rank_scores(profiles["score"], groups)
    profiles["grade"] = final["grade"]
    for column, kind in (("case_points", "case"), ("bonus_points", "bonus")):
        profiles[column] = totals[kind].reindex(units.index).fillna(0.0) if kind in totals else 0.0
    profiles["negative_hits"] = hits.groupby("unit_id")["count"].sum().reindex(units.index).fillna(0.0)
    profiles["negative_items"] = described.reindex(units.index).fillna("")
    profiles = profiles.sort_values(["peer_group", "rank", "unit_id"], na_position="last")
    return Cockpit(fw, ev.key_figures()["period"], chosen, profiles.reset_index(drop=True), ledger)


def select_officers(cockpit: Cockpit, n: int = 6) -> list[str]:
    """Officers to show in a report: the ``n - n // 2`` best and the ``n // 2`` lowest scores.

    Officers without a score are skipped; ties are broken by ``unit_id``.
    """
    scored = cockpit.profiles.dropna(subset=["score"]).sort_values(["score", "unit_id"], ascending=[False, True])
    if n <= 0 or scored.empty:
        return []
    top = scored.head(n - n // 2)["unit_id"].tolist()
    bottom = [u for u in scored.tail(n // 2)["unit_id"].tolist() if u not in top]
    return top + bottom


def profile_table(cockpit: Cockpit, lang: str = "zh", unit_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The profiles as a report table with localised column names."""
    check_lang(lang)
    t, names = _t(lang), axis_names(lang)
    frame = cockpit.profiles
    if unit_ids is not None:
        frame = frame.set_index("unit_id").loc[list(unit_ids)].reset_index()
    columns = [
        c
        for c in [
            "unit_id",
            "name",
            "station",
            "peer_group",
            *[f"{a}_pct" for a in AXES],
            "score",
            "rank",
            "grade",
            "case_points",
            "bonus_points",
            "negative_items",
        ]
        if c in frame.columns
    ]
    labels = {c: t.get(c, c) for c in columns} | {f"{a}_pct": f"{names[a]} {t['pct']}" for a in AXES}
    frame = frame[columns].copy()
    if "grade" in columns:
        frame["grade"] = frame["grade"].map(lambda g: grade_label(g, lang), na_action="ignore")
    return frame.rename(columns=labels)


# ---------------------------------------------------------------- figures
def axes_description(cockpit: Cockpit, lang: str = "zh") -> str:
    """Which indicators make up each axis, e.g. ``工作量: 办案积分; 质量效率: …``.

    An axis without indicators shows ``–``.
    """
    check_lang(lang)
    names = axis_names(lang)
    fw = cockpit.framework

    def label(indicator: str) -> str:
        node = fw.node(indicator).node
        return node.name.in_lang(lang)

    return "; ".join(f"{names[axis]}: " + (", ".join(map(label, ids)) or "–") for axis, ids in cockpit.axes.items())


def cockpit_summary(cockpit: Cockpit, lang: str = "zh", threshold: float = 25.0) -> dict[str, object]:
    """Key numbers of one cockpit, for the text of a report.

    Returns
    -------
    dict
        ``framework`` (its name in ``lang``), ``axes`` (:func:`axes_description`),
        ``n_officers``, ``n_behind`` (officers below the ``threshold`` percentile
        on every axis; a missing axis percentile does not count as below) and
        ``n_negative`` (officers with at least one negative-list hit).
    """
    check_lang(lang)
    profiles = cockpit.profiles
    behind = (profiles[[f"{axis}_pct" for axis in AXES]] < threshold).all(axis=1)
    name = cockpit.framework.name
    return {
        "framework": name.in_lang(lang),
        "axes": axes_description(cockpit, lang),
        "n_officers": len(profiles),
        "n_behind": int(behind.sum()),
        "n_negative": int((profiles["negative_hits"] > 0).sum()),
    }


_NEGATIVE_COLUMNS = ["framework", "unit_id", "officer_name", "station", "name", "count", "consequence"]


def negative_records(cockpits: Mapping[str, Cockpit]) -> pd.DataFrame:
    """Negative-list records (负面清单) of every cockpit, one row per officer × item.

    Parameters
    ----------
    cockpits
        Framework id → cockpit.

    Returns
    -------
    pandas.DataFrame
        ``framework``, ``unit_id``, ``officer_name``, ``station``, ``name`` (the
        item), ``count`` and ``consequence``, in the order of ``cockpits`` and
        their ledgers.
    """
    frames = []
    for fid, cockpit in cockpits.items():
        hits = cockpit.ledger[cockpit.ledger["kind"] == "negative"]
        people = cockpit.profiles.set_index("unit_id")
        names = hits["unit_id"].map(people["name"]) if "name" in people.columns else None
        frames.append(
            hits.assign(framework=fid, officer_name=names, station=hits["unit_id"].map(people["station"]))[
                _NEGATIVE_COLUMNS
            ]
        )
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_NEGATIVE_COLUMNS)


def negative_table(records: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`negative_records` as a report table with localised column names (framework left out).

    The officers' names appear only when the cockpits were built with ``show_names=True``.
    """
    check_lang(lang)
    t = _t(lang)
    labels = {
        "unit_id": t["officer"],
        "officer_name": t["officer_name"],
        "station": t["station_short"],
        "name": t["item"],
        "count": t["count"],
        "consequence": t["consequence"],
    }
    if records["officer_name"].isna().all():
        del labels["officer_name"]
    return records[list(labels)].rename(columns=labels)


def _who(row: pd.Series) -> str:
    """``name(id)`` when the cockpit shows names, else the id."""
    name = row.get("name")
    return f"{name}({row['unit_id']})" if isinstance(name, str) and name else str(row["unit_id"])


def _draw_profile(ax: plt.Axes, row: pd.Series, lang: str) -> None:
    t, names = _t(lang), axis_names(lang)
    values = [row[f"{a}_pct"] for a in AXES]
    y = np.arange(len(AXES))[::-1]
    colours = ["#b2182b" if v < 25 else "#1b7837" if v > 75 else "#4d7ea8" for v in np.nan_to_num(values, nan=50)]
    ax.barh(y, np.nan_to_num(values, nan=0.0), color=colours, height=0.6)
    for yi, v in zip(y, values, strict=True):
        inside = not np.isnan(v) and v > 85
        ax.text(
            v - 2 if inside else np.nan_to_num(v, nan=0.0) + 2,
            yi,
            "–" if np.isnan(v) else f"{v:.0f}",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else "black",
            fontsize=9,
        )
    ax.axvline(50, color="grey", ls="--", lw=1, label=t["median"])
    ax.set_xlim(0, 100)
    ax.set_yticks(y, [names[a] for a in AXES])
    negative = f" · {t['negative']} {row['negative_hits']:g}" if row["negative_hits"] else ""
    ax.set_title(
        f"{_who(row)}\n{t['points']} {row['case_points']:g} · {t['bonus']} {row['bonus_points']:g}{negative}",
        fontsize=10,
    )


def figure_officer_profile(cockpit: Cockpit, unit_id: str, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Compact profile of one officer: the three axis percentiles against the peer median.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    ax = report_axes(ax, figsize=(5.0, 2.4))
    _draw_profile(ax, cockpit.profile(unit_id), lang)
    ax.set_xlabel(t["profile_x"])
    ax.set_ylabel(t["profile_y"])
    return ax


def figure_officer_profiles(
    cockpit: Cockpit, unit_ids: Sequence[str], *, fig: Figure | None = None, lang: str = "zh", ncols: int = 3
) -> Figure:
    """Small multiples of :func:`figure_officer_profile` for several officers.

    Several axes: drawn on ``fig`` (an empty figure; default: a new one) after applying the
    report style (CJK font); returns the figure.
    """
    from perfmodel.report.style import report_subplots

    check_lang(lang)
    if not unit_ids:
        raise CockpitError("no officers to draw; pass at least one unit_id")
    t = _t(lang)
    nrows = -(-len(unit_ids) // ncols)
    fig, axes = report_subplots(
        fig, nrows, ncols, figsize=(4.2 * ncols, 2.5 * nrows), squeeze=False, sharex=True, layout="constrained"
    )
    for ax, unit_id in zip(axes.flat, unit_ids, strict=False):
        _draw_profile(ax, cockpit.profile(unit_id), lang)
    for ax in list(axes.flat)[len(unit_ids) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"{t['profiles_title']} · {cockpit.framework.name.en if lang == 'en' else cockpit.framework.name.zh}"
        f" · {cockpit.period}"
    )
    fig.supxlabel(t["profile_x"])
    fig.supylabel(t["profile_y"])
    return fig


def figure_cockpit_overview(cockpit: Cockpit, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Every officer: workload vs quality percentile, coloured by satisfaction percentile.

    Officers with a negative-list record are ringed in red. The dashed lines at 50
    split the peer group into four quadrants.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    p = cockpit.profiles.dropna(subset=["workload_pct", "quality_pct"])
    ax = report_axes(ax, figsize=(6.5, 5.5))
    fig = ax.figure
    points = ax.scatter(
        p["workload_pct"],
        p["quality_pct"],
        c=p["satisfaction_pct"],
        cmap="RdYlGn",
        vmin=0,
        vmax=100,
        s=28,
        edgecolor="none",
    )
    flagged = p[p["negative_hits"] > 0]
    ax.scatter(
        flagged["workload_pct"],
        flagged["quality_pct"],
        s=90,
        facecolor="none",
        edgecolor="#b2182b",
        lw=1.4,
        label=t["negative_marker"],
    )
    ax.axvline(50, color="grey", ls="--", lw=1)
    ax.axhline(50, color="grey", ls="--", lw=1)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    colorbar = fig.colorbar(points, ax=ax, fraction=0.046)
    colorbar.set_label(t["colorbar"])
    if len(flagged):
        ax.legend(loc="lower left")
    name = cockpit.framework.name.in_lang(lang)
    ax.set_title(f"{t['overview_title']}\n{name} · {cockpit.period}")
    ax.set_xlabel(t["overview_x"])
    ax.set_ylabel(t["overview_y"])
    return ax
