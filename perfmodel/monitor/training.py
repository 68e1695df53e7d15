"""Training-needs list (培训需求清单, R15): weakest areas relative to peers → training topics.

For every evaluated unit (station or officer) the normalised score of each
indicator — or of each dimension — is turned into a percentile within the unit's
peer group (:func:`~perfmodel.monitor.cockpit.peer_percentiles`). A unit *needs*
training on a node when it is below the ``threshold`` percentile there; the
``top`` weakest such nodes per unit are kept. Each node is mapped to the training
topic declared in the framework (``training_topic`` on the node, else on its
nearest ancestor; see ``docs/framework.md``). :func:`training_plan` aggregates the
needs of any number of evaluations (stations and every officer role) into the
bureau-level plan: topic, how many stations and officers need it, and which.

Comparing with peers (not with a fixed standard) makes the list relative: about
``threshold`` % of the units fall below the threshold on any one node. Use
context-calibrated evaluations (``Settings(calibration="casemix")``) so that a
station is not sent to training for the difficulty of its area.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from perfmodel.errors import PerfmodelError, check_choice
from perfmodel.evaluation import Evaluation
from perfmodel.framework import Dimension, Framework
from perfmodel.monitor.cockpit import peer_groups, peer_percentiles
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "LEVELS",
    "level_name",
    "NEEDS_COLUMNS",
    "TrainingError",
    "bureau_training_needs",
    "figure_training_plan",
    "needs_excerpt",
    "node_scores",
    "plan_table",
    "training_needs",
    "training_plan",
    "training_topic",
    "weakest_nodes",
]

Level = Literal["indicator", "dimension", "top"]

"""Label of needs whose node and ancestors declare no ``training_topic``."""

LEVELS: tuple[str, ...] = ("indicator", "dimension", "top")
"""The comparison levels of training needs."""


def level_name(level: str, lang: str = "zh") -> str:
    """What a node of comparison level ``level`` is called in a report (``monitor.training.level.<level>``).

    Examples
    --------
    >>> level_name("top", "en")
    'top-level dimension'
    """
    check_lang(lang)
    check_choice("level", level, LEVELS)
    return say(f"monitor.training.level.{level}", lang)


NEEDS_COLUMNS: list[str] = [
    "framework",
    "level",
    "unit_id",
    "name",
    "station",
    "peer_group",
    "node",
    "node_name",
    "node_name_en",
    "score",
    "peer_median",
    "percentile",
    "topic",
    "topic_from",
]
"""Columns of :func:`training_needs`."""


class TrainingError(PerfmodelError, ValueError):
    """A training-needs request that cannot be met; the message says what to change."""


def training_topic(framework: Framework, node_id: str) -> tuple[str | None, str | None]:
    """The training topic of a node and the id of the node that declares it.

    The node's own ``training_topic`` wins; otherwise its nearest ancestor's.

    Examples
    --------
    >>> from perfmodel.framework import load_framework
    >>> training_topic(load_framework("station_four_dimension"), "mediation_success_rate")
    ('矛盾纠纷调解', 'mediation_success_rate')
    """
    try:
        path = framework.node(node_id).path
    except KeyError:
        raise TrainingError(f"node {node_id!r} is not in framework {framework.id!r}") from None
    for ancestor in reversed(path):
        topic = framework.node(ancestor).node.training_topic
        if topic:
            return topic, ancestor
    return None, None


def node_scores(
    ev: Evaluation, level: Level = "indicator", *, exclude_sources: Sequence[str] = ("self",)
) -> pd.DataFrame:
    """Normalised scores (0–100, higher is better) per unit and node.

    ``indicator``: the indicators (``Evaluation.stages["normalised"]``), without
    those whose source is in ``exclude_sources`` (a low self-rating is not a
    training need); ``dimension``: every inner node; ``top``: the top-level
    dimensions (``Evaluation.stages["aggregated"]``).
    """
    if "normalised" not in ev.stages:
        raise TrainingError("the evaluation has not been run; call run() first")
    fw = ev.framework
    if level == "indicator":
        columns = [i.id for i in fw.indicators() if i.source not in set(exclude_sources)]
        frame = ev.stages["normalised"]
    elif level in ("dimension", "top"):
        nodes = fw.dimensions() if level == "dimension" else [n for n in fw.tree if isinstance(n, Dimension)]
        columns = [d.id for d in nodes]
        frame = ev.stages["aggregated"]
    else:
        raise TrainingError(f"level must be 'indicator', 'dimension' or 'top', not {level!r}")
    return frame.reindex(index=ev.scored_units.index, columns=columns).astype(float)


def weakest_nodes(
    scores: pd.DataFrame,
    groups: pd.Series | None = None,
    *,
    threshold: float = 25.0,
    top: int = 2,
) -> pd.DataFrame:
    """Each unit's weakest nodes relative to its peers.

    Parameters
    ----------
    scores
        Units × nodes, higher is better.
    groups
        Peer group of each unit; one group when ``None``.
    threshold
        A node is weak when the unit's percentile there is below this.
    top
        At most this many weak nodes per unit (the lowest percentiles; ties in
        column order).

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``node``, ``score``, ``peer_median``, ``percentile`` and
        ``order`` (1 = weakest), sorted by unit and order.
    """
    if not 0 < threshold <= 100:
        raise TrainingError(f"threshold is a percentile in (0, 100], not {threshold!r}")
    if top < 1:
        raise TrainingError(f"top must be at least 1, not {top!r}")
    keys = pd.Series("all", index=scores.index) if groups is None else groups.reindex(scores.index)
    pct = peer_percentiles(scores, keys)
    medians = scores.groupby(keys).transform("median")
    position = {node: i for i, node in enumerate(scores.columns)}
    long = pd.DataFrame(
        {
            "unit_id": np.repeat(scores.index.to_numpy(), scores.shape[1]),
            "node": np.tile(scores.columns.to_numpy(), len(scores)),
            "score": scores.to_numpy().ravel(),
            "peer_median": medians.to_numpy().ravel(),
            "percentile": pct.to_numpy().ravel(),
        }
    )
    long = long[long["percentile"] < threshold].assign(_pos=lambda d: d["node"].map(position))
    long = long.sort_values(["unit_id", "percentile", "_pos"])
    long["order"] = long.groupby("unit_id").cumcount() + 1
    long = long[long["order"] <= top].drop(columns="_pos")
    return long.reset_index(drop=True)


def training_needs(
    ev: Evaluation,
    *,
    level: Level = "indicator",
    peer_group: str | None = None,
    threshold: float = 25.0,
    top: int = 2,
    exclude_sources: Sequence[str] = ("self",),
    show_names: bool = False,
) -> pd.DataFrame:
    """The training-needs list of one evaluation (R15).

    Parameters
    ----------
    ev
        A run evaluation (stations, or the officers of one role).
    level
        Compare ``indicator`` scores (the most specific topics), every
        ``dimension``, or the ``top``-level dimensions.
    peer_group
        As for :func:`~perfmodel.monitor.cockpit.peer_groups`: ``None`` for the
        evaluation's peer groups (officers: their role), ``"none"``, or a column.
    threshold, top
        As for :func:`weakest_nodes`.
    exclude_sources
        Indicator sources never counted as needs (indicator level only).
    show_names
        Fill ``name`` with officers' names; by default it is blank for officers
        (ids only, :mod:`perfmodel.privacy`). Stations are always named.

    Returns
    -------
    pandas.DataFrame
        :data:`NEEDS_COLUMNS`, one row per unit × weak node.
    """
    fw = ev.framework
    units = ev.scored_units
    groups = peer_groups(ev, peer_group)
    weak = weakest_nodes(node_scores(ev, level, exclude_sources=exclude_sources), groups, threshold=threshold, top=top)
    topics = {node: training_topic(fw, node) for node in weak["node"].unique()}
    out = weak.assign(
        framework=fw.id,
        level=fw.level,
        name=(
            weak["unit_id"].map(units["name"])
            if "name" in units.columns and (show_names or fw.level != "officer")
            else None
        ),
        station=(weak["unit_id"].map(units["parent_id"]) if fw.level == "officer" else weak["unit_id"]),
        peer_group=weak["unit_id"].map(groups),
        node_name=weak["node"].map(lambda n: fw.node(n).node.name.zh),
        node_name_en=weak["node"].map(lambda n: fw.node(n).node.name.en),
        topic=weak["node"].map(lambda n: topics[n][0]),
        topic_from=weak["node"].map(lambda n: topics[n][1]),
    )
    return out[NEEDS_COLUMNS].reset_index(drop=True)


def bureau_training_needs(
    evaluations: Sequence[Evaluation],
    *,
    calibration: str = "none",
    level: Level = "indicator",
    threshold: float = 25.0,
    top: int = 2,
    show_names: bool = False,
) -> pd.DataFrame:
    """:func:`training_needs` of several evaluations (stations and every officer role), optionally calibrated.

    Parameters
    ----------
    evaluations
        Run evaluations.
    calibration
        ``none`` uses them as they are; ``casemix`` or ``full`` re-runs each with
        that calibration first, so that no unit is sent to training for the
        difficulty of its area.
    level, threshold, top, show_names
        As for :func:`training_needs`.

    Returns
    -------
    pandas.DataFrame
        The needs of every evaluation, one after the other (:data:`NEEDS_COLUMNS`;
        ``framework`` tells them apart); ``[needs]`` is the input of :func:`training_plan`.
    """
    chosen = [ev if calibration == "none" else ev.regen(calibration=calibration) for ev in evaluations]
    needs = [training_needs(ev, level=level, threshold=threshold, top=top, show_names=show_names) for ev in chosen]
    needs = [n for n in needs if len(n)]
    return pd.concat(needs, ignore_index=True) if needs else pd.DataFrame(columns=NEEDS_COLUMNS)


def training_plan(needs: Sequence[pd.DataFrame], lang: str = "zh", max_listed: int = 8) -> pd.DataFrame:
    """The bureau-level training plan: one row per topic.

    Parameters
    ----------
    needs
        :func:`training_needs` tables (e.g. the station framework and every
        officer role).
    lang
        Language of the labels.
    max_listed
        Units named per topic before "… and N more".

    Returns
    -------
    pandas.DataFrame
        ``topic``, ``n_stations``, ``n_officers``, ``n_total`` (distinct units
        needing the topic), ``units`` (who, by name and id), ``indicators`` (the
        weak nodes behind the topic) and ``frameworks``; most-needed topics first.
    """
    check_lang(lang)
    frames = [n for n in needs if len(n)]
    if not frames:
        return pd.DataFrame(
            columns=["topic", "n_stations", "n_officers", "n_total", "units", "indicators", "frameworks"]
        )
    data = pd.concat(frames, ignore_index=True)
    data["topic"] = data["topic"].fillna(say("monitor.training.no_topic", lang))
    rows = []
    for topic, part in data.groupby("topic", sort=False):
        people = part.drop_duplicates("unit_id")
        listed = [
            f"{n}({u})" if isinstance(n, str) and n else str(u)
            for n, u in zip(people["name"], people["unit_id"], strict=True)
        ]
        more = len(listed) - max_listed
        who = say("common.list_sep", lang).join(listed[:max_listed])
        if more > 0:
            who += say("monitor.training.and_more", lang, total=len(listed))
        rows.append(
            {
                "topic": topic,
                "n_stations": int((people["level"] == "station").sum()),
                "n_officers": int((people["level"] == "officer").sum()),
                "n_total": len(people),
                "units": who,
                "indicators": say("common.list_sep", lang).join(
                    dict.fromkeys(part["node_name_en" if lang == "en" else "node_name"])
                ),
                "frameworks": ", ".join(dict.fromkeys(part["framework"])),
            }
        )
    plan = pd.DataFrame(rows).sort_values(["n_total", "topic"], ascending=[False, True])
    return plan.reset_index(drop=True)


def plan_table(plan: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`training_plan` with localised column names, for a report."""
    check_lang(lang)
    labels = {
        "topic": say("monitor.training.topic", lang),
        "n_stations": say("common.stations", lang),
        "n_officers": say("common.officers", lang),
        "n_total": say("monitor.training.total", lang),
        "units": say("monitor.training.who", lang),
        "indicators": say("monitor.training.weak_indicators", lang),
        "frameworks": say("monitor.training.frameworks", lang),
    }
    return plan.rename(columns=labels)


def needs_excerpt(needs: pd.DataFrame, lang: str = "zh", rows: int = 12, framework: str | None = None) -> pd.DataFrame:
    """The first ``rows`` training needs (of one framework, if given), in the columns a reader needs.

    ``unit_id``, ``name``, ``peer_group``, the node's name (``node_name`` in
    Chinese, ``node_name_en`` in English), ``score``, ``peer_median``,
    ``percentile`` and ``topic``.
    """
    check_lang(lang)
    if framework is not None:
        needs = needs[needs["framework"] == framework]
    columns = [
        "unit_id",
        "name",
        "peer_group",
        "node_name_en" if lang == "en" else "node_name",
        "score",
        "peer_median",
        "percentile",
        "topic",
    ]
    return needs.head(rows)[columns]


def figure_training_plan(plan: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh", top: int = 15) -> Axes:
    """Horizontal stacked bars: stations and officers needing each of the ``top`` topics.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    shown = plan.head(top).iloc[::-1]
    ax = report_axes(ax, figsize=(8.5, 0.38 * len(shown) + 1.8))
    y = np.arange(len(shown))
    ax.barh(y, shown["n_stations"], color="#4d7ea8", label=say("monitor.training.stations", lang))
    ax.barh(
        y, shown["n_officers"], left=shown["n_stations"], color="#f4a582", label=say("monitor.training.officers", lang)
    )
    ax.set_yticks(y, shown["topic"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right")
    ax.set_title(say("monitor.training.training_needs_units_needing_each", lang))
    ax.set_xlabel(say("monitor.training.stations_and_officers_needing_the", lang))
    ax.set_ylabel(say("monitor.training.training_topic", lang))
    return ax
