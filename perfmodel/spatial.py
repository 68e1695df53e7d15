"""Hot-spots in space and time (R20): local spatial association, persistence, seasonal peaks.

The seeds ask that under-performing *areas* be identified, not only units, and that
evaluation follow the calendar (seasonal peaks such as telecom fraud at the turn of
the year). When the units table carries coordinates (``lon``/``lat`` columns) or a
neighbour list, this module answers three questions:

* :func:`local_association` — where do high or low values cluster? Local Moran's
  I (Anselin 1995) and Getis–Ord Gi* (Ord & Getis 1995), computed by PySAL's
  ``esda`` on ``libpysal`` weights (:func:`spatial_weights`: k nearest
  neighbours or a distance band from the coordinates, or the neighbour list as
  given), with conditional-permutation p-values and a Benjamini–Hochberg
  false-discovery correction (:mod:`perfmodel.multiple_testing`);
  :func:`hotspots` runs it on one period's scores (or one indicator's);
* :func:`persistence` — which units fall in the bottom tercile, or in a
  significant cold spot, in at least ``k`` of the last ``n`` periods;
* :func:`seasonal_peaks` — the seasonal pressure months of an indicator per
  district (:func:`perfmodel.monitor.trends.seasonality_table`), placed at the
  district's centre so that :func:`figure_hotspot_map` can write them on the map.

The map is drawn from the data themselves (points at the units' coordinates, no
web tiles), so it works offline.

Conventions. Values are "higher is better" (scores, normalised indicator scores),
so an *LL* cluster or a Gi* *cold* spot is an under-performing area. Coordinates
are WGS84 degrees; distances are kilometres on a local equirectangular projection
(exact enough within a city or province). Gi* uses binary weights with the unit
itself included; local Moran's I uses row-standardised weights without it.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError, check_choice, check_confidence
from perfmodel.framework import Framework, load_framework
from perfmodel.multiple_testing import bh_qvalues
from perfmodel.randomness import RngLike, seed_from
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from libpysal.weights import W
    from matplotlib.axes import Axes

__all__ = [
    "CLUSTER_COLOURS",
    "LOCATION_ALIASES",
    "LocalAssociation",
    "Persistence",
    "SpatialInputError",
    "SpatialWeights",
    "coordinates",
    "figure_hotspot_map",
    "has_coordinates",
    "hotspots",
    "local_association",
    "neighbour_pairs",
    "persistence",
    "seasonal_peaks",
    "spatial_weights",
]

LOCATION_ALIASES: dict[str, tuple[str, ...]] = {
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "neighbours": ("neighbours", "neighbors", "相邻单位"),
    "neighbour_id": ("neighbour_id", "neighbor_id", "neighbour", "neighbor", "相邻单位编号"),
}
"""Accepted headers of the location columns (first name is the canonical one)."""

CLUSTER_COLOURS: dict[str, str] = {
    "HH": "#b2182b",
    "LL": "#2166ac",
    "HL": "#f4a582",
    "LH": "#92c5de",
    "hot": "#b2182b",
    "cold": "#2166ac",
    "ns": "#d0d0d0",
}
"""Map colour of each cluster type (red high, blue low, grey not significant)."""

EARTH_RADIUS_KM = 6371.0
"""Mean Earth radius used to turn degrees into kilometres."""

_NEIGHBOUR_SEPARATORS = re.compile(r"[;,，；、\s]+")


def _pysal() -> Any:
    """Import ``libpysal`` and ``esda`` without their import-time chatter (tqdm, numba notices)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import esda.getisord
        import esda.moran
        import libpysal.weights

    return libpysal.weights, esda


class SpatialInputError(OptionError):
    """Coordinates or a neighbour list that cannot be used; the message names the file, row and column."""


# ----------------------------------------------------------------------------- inputs
def _column(frame: pd.DataFrame, name: str) -> str | None:
    """The header of ``frame`` that stands for ``name`` (:data:`LOCATION_ALIASES`), or None."""
    wanted = {a.casefold() for a in LOCATION_ALIASES[name]}
    return next((c for c in frame.columns if str(c).strip().casefold() in wanted), None)


def _rows(frame: pd.DataFrame, positions: Sequence[int] | np.ndarray) -> list[int]:
    """File rows of ``positions``: the validator's ``source_row`` when present, else header + position."""
    if "source_row" in frame.columns:
        return [int(r) for r in frame["source_row"].iloc[list(positions)]]
    return [int(p) + 2 for p in positions]


def _raise(problems: list[str], source: str, hint: str) -> None:
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise SpatialInputError(f"{source}: {shown}", hint)


def _wanted(units: pd.DataFrame, unit_ids: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``unit_ids`` (all rows when None), in that order; unknown ids are an error."""
    if "unit_id" not in units.columns:
        raise SpatialInputError("the units table has no unit_id column", "add the column of unit ids")
    table = units.reset_index(drop=True)
    if "source_row" not in table.columns:  # a table as read: row 2 of the file is the first data row
        table = table.assign(source_row=np.arange(len(table)) + 2)
    repeated = table["unit_id"].astype(str).duplicated(keep=False).to_numpy()
    if repeated.any():
        listed = ", ".join(
            f"'{u}' (row {r})"
            for u, r in zip(table["unit_id"][repeated], _rows(table, np.flatnonzero(repeated)), strict=True)
        )
        raise SpatialInputError(f"unit ids appear more than once: {listed}", "keep one row per unit")
    if unit_ids is None:
        return table
    ids = [str(u) for u in unit_ids]
    index = pd.Index(table["unit_id"].astype(str))
    missing = [u for u in ids if u not in index]
    if missing:
        raise SpatialInputError(
            f"units {', '.join(missing[:5])} are not in the units table", "add them or analyse only listed units"
        )
    return table.iloc[index.get_indexer(ids)]


def has_coordinates(units: pd.DataFrame) -> bool:
    """Whether the units table has a longitude and a latitude column (:data:`LOCATION_ALIASES`)."""
    return _column(units, "lon") is not None and _column(units, "lat") is not None


def coordinates(units: pd.DataFrame, unit_ids: Sequence[str] | None = None, *, source: str = "units") -> pd.DataFrame:
    """Longitude and latitude of units, checked.

    Parameters
    ----------
    units
        The units table (as read, or validated: its ``source_row`` then names file rows),
        with a longitude and a latitude column (:data:`LOCATION_ALIASES`: ``lon``/``经度``,
        ``lat``/``纬度``) in WGS84 degrees.
    unit_ids
        The units wanted, in this order (default every row).
    source
        The file, named in messages.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, lon, lat`` (floats).

    Raises
    ------
    SpatialInputError
        A column is missing, or a wanted unit's cell is blank, not a number or out
        of range (|lon| ≤ 180, |lat| ≤ 90); the message names file, row and column.

    Examples
    --------
    >>> units = pd.DataFrame({"unit_id": ["A", "B"], "经度": [113.6, "x"], "纬度": [34.7, 34.8]})
    >>> coordinates(units, source="units.csv")
    Traceback (most recent call last):
    ...
    perfmodel.spatial.SpatialInputError: units.csv: row 3, column '经度': 'x' is not a number
    """
    table = _wanted(units, unit_ids)
    names = {name: _column(table, name) for name in ("lon", "lat")}
    absent = [name for name, header in names.items() if header is None]
    if absent:
        accepted = "; ".join(f"{n}: {', '.join(LOCATION_ALIASES[n])}" for n in absent)
        raise SpatialInputError(
            f"{source}: no {' and no '.join(absent)} column (accepted headers: {accepted})",
            "add the units' coordinates in degrees, or give a neighbour list instead",
        )
    problems: list[str] = []
    out = {"unit_id": table["unit_id"].astype(str).to_numpy()}
    for name, limit in (("lon", 180.0), ("lat", 90.0)):
        header = str(names[name])
        raw = table[header]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        bad = ~blank & ~np.isfinite(values)
        outside = np.isfinite(values) & (np.abs(values) > limit)
        for kind, mask in (("is blank", blank), ("is not a number", bad), (f"is outside ±{limit:g}°", outside)):
            positions = np.flatnonzero(mask)
            for position, row in zip(positions, _rows(table, positions), strict=True):
                cell = "" if kind == "is blank" else f"{raw.iloc[position]!r} "
                problems.append(f"row {row}, column '{header}': {cell}{kind}")
        out[name] = values
    _raise(problems, source, "give longitude and latitude in decimal degrees (e.g. 113.65, 34.75) for every unit")
    return pd.DataFrame(out)


def neighbour_pairs(
    neighbours: pd.DataFrame | str | Path,
    unit_ids: Sequence[str],
    *,
    known: Sequence[str] | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """A neighbour list as ``unit_id, neighbour_id`` pairs, checked and made symmetric.

    Parameters
    ----------
    neighbours
        A table (or file, read by :func:`perfmodel.io.read_table`) with columns
        ``unit_id`` and ``neighbour_id`` (one row per pair), or the units table with a
        ``neighbours`` column listing each unit's neighbours separated by ``;`` ``,``
        ``、`` or spaces.
    unit_ids
        The units analysed; units without any neighbour are allowed (they get no test).
    known
        Every unit id of the units table (default ``unit_ids``): pairs naming a known
        unit that is not analysed (no score this period, an officer) are left out;
        an id that is not known is an error.
    source
        The file, named in messages.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, neighbour_id``: each pair in both directions (neighbourhood is
        taken as symmetric), without duplicates.

    Raises
    ------
    SpatialInputError
        A missing column, an unknown unit id or a unit listed as its own neighbour,
        naming file, row and column.
    """
    if isinstance(neighbours, (str, Path)):
        from perfmodel.io import UNIT_ALIASES, normalise_header, read_table

        source = source or str(neighbours)
        aliases = {k: v for k, v in UNIT_ALIASES.items() if v == "unit_id"}
        for name in ("neighbour_id", "neighbours"):
            aliases.update({normalise_header(a): name for a in LOCATION_ALIASES[name]})
        neighbours = read_table(neighbours, aliases=aliases)
    source = source or "neighbours"
    table = neighbours.reset_index(drop=True)
    if "unit_id" not in table.columns:
        raise SpatialInputError(f"{source}: no unit_id column", "add the column of unit ids")
    rows_of = _rows(table, np.arange(len(table)))
    list_column, pair_column = _column(table, "neighbours"), _column(table, "neighbour_id")
    pairs: list[tuple[str, str, int, str]] = []
    if pair_column is not None:
        for unit, other, row in zip(table["unit_id"], table[pair_column], rows_of, strict=True):
            if pd.notna(unit) and pd.notna(other) and str(other).strip():
                pairs.append((str(unit).strip(), str(other).strip(), row, str(pair_column)))
    elif list_column is not None:
        for unit, listed, row in zip(table["unit_id"], table[list_column], rows_of, strict=True):
            if pd.isna(unit) or pd.isna(listed):
                continue
            for other in _NEIGHBOUR_SEPARATORS.split(str(listed).strip()):
                if other:
                    pairs.append((str(unit).strip(), other, row, str(list_column)))
    else:
        accepted = ", ".join(LOCATION_ALIASES["neighbour_id"] + LOCATION_ALIASES["neighbours"])
        raise SpatialInputError(
            f"{source}: no neighbour column (accepted headers: {accepted})",
            "give one row per pair (unit_id, neighbour_id) or a neighbours column listing ids",
        )
    analysed = {str(u) for u in unit_ids}
    allowed = analysed | {str(u) for u in (known or ())}
    problems = []
    for unit, other, row, column in pairs:
        if unit == other:
            problems.append(f"row {row}, column '{column}': unit '{unit}' is listed as its own neighbour")
        for which, name in (("unit_id", unit), (column, other)):
            if name not in allowed:
                problems.append(f"row {row}, column '{which}': '{name}' is not one of the units analysed")
    _raise(problems, source, "use the unit_id of the units table and list each neighbour once")
    kept = [(u, o) for u, o, *_ in pairs if u in analysed and o in analysed]
    frame = pd.DataFrame(kept, columns=["unit_id", "neighbour_id"])
    both = pd.concat([frame, frame.rename(columns={"unit_id": "neighbour_id", "neighbour_id": "unit_id"})])
    return both.drop_duplicates().sort_values(["unit_id", "neighbour_id"]).reset_index(drop=True)


@dataclass
class SpatialWeights:
    """Who neighbours whom: a ``libpysal`` weights object and how it was built.

    Attributes
    ----------
    w
        :class:`libpysal.weights.W` over :attr:`unit_ids` (binary: 1 for a neighbour).
    unit_ids
        The units, in the order of :attr:`w` (``w.id_order``).
    method
        ``knn``, ``distance`` or ``list``.
    k, distance_km
        The number of nearest neighbours or the distance band, when used.
    locations
        ``unit_id, lon, lat`` when the units have coordinates (needed for the map).
    """

    w: W
    unit_ids: list[str]
    method: Literal["knn", "distance", "list"]
    k: int | None = None
    distance_km: float | None = None
    locations: pd.DataFrame | None = None

    @property
    def islands(self) -> list[str]:
        """Units without any neighbour: they are not tested."""
        return [u for u in self.unit_ids if not self.w.neighbors[u]]

    def describe(self, lang: str = "zh") -> str:
        """How neighbours were defined, in words."""
        check_lang(lang)
        if self.method == "knn":
            return say("spatial.weights_knn", lang, k=self.k)
        if self.method == "distance":
            return say("spatial.weights_distance", lang, km=f"{self.distance_km:g}")
        return say("spatial.weights_list", lang)


def _kilometres(locations: pd.DataFrame) -> np.ndarray:
    """Equirectangular projection of lon/lat (degrees) to kilometres around their mean latitude."""
    lat0 = np.radians(float(locations["lat"].mean()))
    lon, lat = np.radians(locations["lon"].to_numpy()), np.radians(locations["lat"].to_numpy())
    return np.column_stack([EARTH_RADIUS_KM * np.cos(lat0) * lon, EARTH_RADIUS_KM * lat])


def spatial_weights(
    units: pd.DataFrame,
    unit_ids: Sequence[str] | None = None,
    *,
    neighbours: pd.DataFrame | str | Path | None = None,
    k: int = 6,
    distance_km: float | None = None,
    source: str = "units",
) -> SpatialWeights:
    """Spatial weights of units from a neighbour list or from their coordinates.

    Which neighbours: ``neighbours`` when given (a pairs table or file, see
    :func:`neighbour_pairs`); else the units table's ``neighbours`` column when it
    has one; else, from the coordinates (:func:`coordinates`), every unit within
    ``distance_km`` when that is given, or the ``k`` nearest units
    (``libpysal.weights.KNN``, ties broken by order).

    Parameters
    ----------
    units
        The units table.
    unit_ids
        The units analysed, in order (default every row of ``units``).
    neighbours
        Optional neighbour list.
    k
        Nearest neighbours per unit (at least 1, fewer than the units).
    distance_km
        Distance band in kilometres, instead of ``k`` nearest.
    source
        The units file, named in messages.

    Returns
    -------
    SpatialWeights
    """
    weights_module, _ = _pysal()
    KNN, DistanceBand, W = weights_module.KNN, weights_module.DistanceBand, weights_module.W

    table = _wanted(units, unit_ids)
    ids = table["unit_id"].astype(str).tolist()
    locations = coordinates(table, source=source) if has_coordinates(table) else None
    if neighbours is None and _column(table, "neighbours") is not None:
        neighbours = table
        source_list: str | None = source
    else:
        source_list = None if not isinstance(neighbours, (str, Path)) else str(neighbours)
    if neighbours is not None:
        every = units["unit_id"].astype(str).tolist()
        pairs = neighbour_pairs(neighbours, ids, known=every, source=source_list)
        listed = pairs.groupby("unit_id")["neighbour_id"].apply(list).to_dict()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # islands: reported by SpatialWeights.islands
            w = W({u: listed.get(u, []) for u in ids}, id_order=ids, silence_warnings=True)
        return SpatialWeights(w, ids, "list", locations=locations)
    if locations is None:
        raise SpatialInputError(
            f"{source}: the units have neither coordinates (lon, lat) nor a neighbour list",
            "add lon/lat columns (degrees) or pass a neighbour list (unit_id, neighbour_id)",
        )
    xy = _kilometres(locations)
    if distance_km is not None:
        if not distance_km > 0:
            raise OptionError(f"distance_km={distance_km!r} is not allowed; give a distance in km > 0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = DistanceBand.from_array(xy, threshold=float(distance_km), binary=True, ids=ids, silence_warnings=True)
        return SpatialWeights(w, ids, "distance", distance_km=float(distance_km), locations=locations)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < len(ids):
        raise OptionError(f"k={k!r} is not allowed; give a whole number from 1 to {len(ids) - 1} (units - 1)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not fully connected": separate clusters of units are fine
        w = KNN.from_array(xy, k=int(k), ids=ids)
    return SpatialWeights(w, ids, "knn", k=int(k), locations=locations)


# ----------------------------------------------------------------------------- local association
@dataclass
class LocalAssociation:
    """Local Moran's I and Getis–Ord Gi* of every unit, with permutation p-values and q-values.

    Attributes
    ----------
    frame
        One row per unit: ``unit_id, value, neighbours`` (count), ``moran_i,
        moran_p, moran_q, quadrant`` (HH/LH/LL/HL: the unit's value and its
        neighbours' mean, each above or below the mean), ``moran_cluster``
        (the quadrant where ``moran_q`` ≤ ``alpha``, else ``ns``), ``gi_z,
        gi_p, gi_q, gi_cluster`` (``hot``/``cold``/``ns``).
    alpha
        False-discovery level of the clusters.
    permutations
        Conditional permutations per unit.
    weights
        The :class:`SpatialWeights` used.
    seed
        Integer seed of the permutations.
    label
        What was analysed (e.g. ``score`` or an indicator id).
    """

    frame: pd.DataFrame
    alpha: float
    permutations: int
    weights: SpatialWeights
    seed: int
    label: str = "score"

    def to_frame(self) -> pd.DataFrame:
        """:attr:`frame` (a copy)."""
        return self.frame.copy()

    def clusters(self, statistic: Literal["moran", "gi"] = "gi") -> pd.DataFrame:
        """Units in a significant cluster of ``statistic``."""
        column = "moran_cluster" if statistic == "moran" else "gi_cluster"
        return self.frame[self.frame[column] != "ns"].reset_index(drop=True)

    def summary(self, lang: str = "zh") -> str:
        """Counts of clusters and outliers, in words."""
        check_lang(lang)
        counts = {**self.frame["moran_cluster"].value_counts(), **self.frame["gi_cluster"].value_counts()}
        return say(
            "spatial.association_summary",
            lang,
            label=self.label,
            n=len(self.frame),
            weights=self.weights.describe(lang),
            permutations=self.permutations,
            alpha=f"{self.alpha:g}",
            hh=int(counts.get("HH", 0)),
            ll=int(counts.get("LL", 0)),
            hl=int(counts.get("HL", 0)),
            lh=int(counts.get("LH", 0)),
            hot=int(counts.get("hot", 0)),
            cold=int(counts.get("cold", 0)),
        )


_QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


def _permutation_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Two-sided permutation p-values from esda's simulated statistics (units × permutations).

    ``(min(#sim ≥ obs, #sim ≤ obs) + 1) / (permutations + 1)``, doubled and capped at 1.
    esda's own ``p_sim`` counts ties only as "larger" before folding to the smaller
    tail, which makes a tied value at the lower tail look extreme (p = 1/(P+1) for the
    lowest of tied values); counting ties on both sides is the standard definition and
    gives the same numbers as ``p_sim`` (doubled) for untied data.
    """
    obs = np.asarray(observed, dtype=float)[:, None]
    sim = np.asarray(simulated, dtype=float)
    tol = 1e-9 * np.maximum(1.0, np.abs(obs))
    upper = (sim >= obs - tol).sum(axis=1)
    lower = (sim <= obs + tol).sum(axis=1)
    one_sided = (np.minimum(upper, lower) + 1.0) / (sim.shape[1] + 1.0)
    return np.minimum(1.0, 2.0 * one_sided)


def local_association(
    values: pd.Series | Mapping[str, float],
    weights: SpatialWeights,
    *,
    permutations: int = 999,
    alpha: float = 0.05,
    rng: RngLike = None,
    label: str = "score",
) -> LocalAssociation:
    """Local Moran's I and Gi* of ``values`` over ``weights``, with permutation inference and FDR.

    Both statistics come from ``esda`` (``Moran_Local`` on row-standardised weights;
    ``G_Local(star=True)`` on binary weights with the unit itself included). G is a
    ratio to the total, defined for positive values (esda's z-score carries the sign
    of the mean), so Gi* is computed on the values shifted to be positive, which
    changes neither its z-score nor its permutation p-value. Their
    p-values come from esda's conditional permutations (the unit's value held
    fixed, its neighbours drawn at random from the other units, ``permutations``
    times): the share of permuted statistics at least as extreme, on the observed
    side, counting ties on both sides, doubled (:func:`_permutation_p`); the q-values are
    Benjamini–Hochberg over the units with neighbours (islands get ``nan``). A unit
    is in a cluster when its q-value is at most ``alpha``.

    Parameters
    ----------
    values
        Unit id → value ("higher is better"); every unit of ``weights`` needs a finite value.
    weights
        :func:`spatial_weights` of the same units.
    permutations
        Permutations per unit (at least 99; the smallest p-value is
        ``2 / (permutations + 1)``).
    alpha
        False-discovery level.
    rng
        Seed of the permutations (an int gives the same p-values on every run).
        esda draws from numpy's global generator; its state is restored afterwards.
    label
        What the values are, shown in the summary.

    Returns
    -------
    LocalAssociation
    """
    _, esda = _pysal()
    G_Local, Moran_Local = esda.getisord.G_Local, esda.moran.Moran_Local

    alpha = check_confidence(alpha, "alpha")
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) or permutations < 99:
        raise OptionError(f"permutations={permutations!r} is not allowed; give a whole number of at least 99")
    series = pd.Series(values, dtype=float) if not isinstance(values, pd.Series) else values.astype(float)
    series.index = series.index.astype(str)
    y = series.reindex(weights.unit_ids).to_numpy(dtype=float)
    missing = [u for u, v in zip(weights.unit_ids, y, strict=True) if not np.isfinite(v)]
    if missing:
        raise OptionError(
            f"no value for units {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}",
            "build the weights on the units that have a value (spatial_weights(units, unit_ids=...))",
        )
    if len(y) < 5 or np.ptp(y) == 0:
        raise OptionError(f"local association needs at least 5 units with differing values, got {len(y)}")
    seed = seed_from(rng)
    state = np.random.get_state()  # noqa: NPY002 -- esda seeds numpy's global generator; restore it after
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            moran = Moran_Local(
                y,
                copy.deepcopy(weights.w),
                transformation="r",
                permutations=int(permutations),
                seed=seed % 2**31,
                n_jobs=1,
                keep_simulations=True,
            )
            gi = G_Local(
                y - y.min() + np.ptp(y),  # positive values: see the docstring
                copy.deepcopy(weights.w),
                transform="B",
                star=True,
                permutations=int(permutations),
                seed=(seed + 1) % 2**31,
                n_jobs=1,
                keep_simulations=True,
            )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    cardinality = np.array([len(weights.w.neighbors[u]) for u in weights.unit_ids])
    island = cardinality == 0
    moran_p = np.where(island, np.nan, _permutation_p(moran.Is, moran.rlisas))
    gi_p = np.where(island, np.nan, _permutation_p(gi.Gs, gi.rGs))
    moran_q, gi_q = bh_qvalues(moran_p), bh_qvalues(gi_p)
    quadrant = np.array([_QUADRANTS[int(q)] for q in moran.q], dtype=object)
    frame = pd.DataFrame(
        {
            "unit_id": weights.unit_ids,
            "value": y,
            "neighbours": cardinality,
            "moran_i": np.asarray(moran.Is, dtype=float),
            "moran_p": moran_p,
            "moran_q": moran_q,
            "quadrant": quadrant,
            "moran_cluster": np.where(moran_q <= alpha, quadrant, "ns"),
            "gi_z": np.asarray(gi.Zs, dtype=float),
            "gi_p": gi_p,
            "gi_q": gi_q,
            "gi_cluster": np.where(gi_q <= alpha, np.where(np.asarray(gi.Zs) > 0, "hot", "cold"), "ns"),
        }
    )
    return LocalAssociation(frame, alpha, int(permutations), weights, seed, label)


def _framework(framework: Framework | str | Path) -> Framework:
    return framework if isinstance(framework, Framework) else load_framework(framework)


def _scored_values(evaluation: Any, indicator: str | None) -> tuple[pd.Series, str]:
    """The total score of each unit, or one indicator's normalised score (higher is better)."""
    if indicator is None:
        scores = evaluation.scores.set_index("unit_id")["score"]
        return scores.astype(float), "score"
    normalised = evaluation.stages["normalised"]
    if indicator not in normalised.columns:
        raise OptionError(
            f"indicator {indicator!r} has no scores in this period",
            f"choose one of: {', '.join(map(str, normalised.columns))}",
        )
    return normalised[indicator].astype(float), indicator


def hotspots(
    framework: Framework | str | Path,
    observations: pd.DataFrame,
    units: pd.DataFrame,
    period: str,
    *,
    indicator: str | None = None,
    neighbours: pd.DataFrame | str | Path | None = None,
    k: int = 6,
    distance_km: float | None = None,
    permutations: int = 999,
    alpha: float = 0.05,
    rng: RngLike = None,
    source: str = "units",
    **settings: Any,
) -> LocalAssociation:
    """Hot and cold spots of one period's scores (or of one indicator's normalised score).

    Runs the :class:`~perfmodel.evaluation.Evaluation` of ``period`` (with
    ``settings``), builds :func:`spatial_weights` on the scored units that have a
    score, and calls :func:`local_association`. ``observations`` and ``units`` are
    clean frames, as :func:`perfmodel.validation.read_inputs` returns them (``.data``);
    its ``source_row`` column lets coordinate errors name file rows.

    Examples
    --------
    >>> result = hotspots("station_four_dimension", obs, units, "2025Q4", rng=1)  # doctest: +SKIP
    >>> result.clusters("gi")  # doctest: +SKIP
    """
    from perfmodel.evaluation import Evaluation, Settings

    fw = _framework(framework)
    ev = Evaluation(fw, observations, units, period, Settings(**settings)).run()
    values, label = _scored_values(ev, indicator)
    values = values.dropna()
    weights = spatial_weights(
        units, [str(u) for u in values.index], neighbours=neighbours, k=k, distance_km=distance_km, source=source
    )
    return local_association(values, weights, permutations=permutations, alpha=alpha, rng=rng, label=label)


# ----------------------------------------------------------------------------- persistence
@dataclass
class Persistence:
    """Units under-performing in at least ``k`` of the last ``n`` periods.

    Attributes
    ----------
    frame
        One row per unit: ``unit_id``, one boolean column per period (under-performing
        in it), ``periods_under`` (how many of the last ``n``), ``persistent``
        (``periods_under`` ≥ ``k``).
    periods
        The last ``n`` periods, oldest first.
    k, n, rule
        As given to :func:`persistence`.
    """

    frame: pd.DataFrame
    periods: list[str]
    k: int
    n: int
    rule: str

    def to_frame(self) -> pd.DataFrame:
        """:attr:`frame` (a copy)."""
        return self.frame.copy()

    @property
    def persistent(self) -> list[str]:
        """Ids of the persistent under-performers."""
        return self.frame.loc[self.frame["persistent"], "unit_id"].tolist()

    def summary(self, lang: str = "zh") -> str:
        """How many units are persistent under-performers, in words."""
        check_lang(lang)
        return say(
            "spatial.persistence_summary",
            lang,
            count=len(self.persistent),
            n_units=len(self.frame),
            k=self.k,
            n=self.n,
            rule=say(f"spatial.rule_{self.rule}", lang),
        )


def persistence(
    scores: pd.DataFrame,
    *,
    k: int = 3,
    n: int = 4,
    rule: Literal["bottom_tercile", "cold_spot"] = "bottom_tercile",
    weights: SpatialWeights | None = None,
    permutations: int = 499,
    alpha: float = 0.05,
    rng: RngLike = None,
) -> Persistence:
    """Units under-performing in at least ``k`` of the last ``n`` periods (space-time persistence).

    Parameters
    ----------
    scores
        ``period, unit_id, score`` (e.g. :attr:`PeriodSeries.scores` of quarterly or
        monthly evaluations); higher is better.
    k, n
        At least ``k`` of the last ``n`` periods present in ``scores``.
    rule
        ``bottom_tercile``: the unit's score is in the lowest third of its period;
        ``cold_spot``: the unit is a significant Gi* cold spot of its period
        (:func:`local_association` with ``weights``, ``permutations``, ``alpha``).
        A unit without a score in a period is not under-performing in it.
    rng
        Seed of the permutations (``cold_spot``); each period gets its own stream.

    Returns
    -------
    Persistence
    """
    check_choice("rule", rule, ("bottom_tercile", "cold_spot"))
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise OptionError(f"{name}={value!r} is not allowed; give a whole number of at least 1")
    if k > n:
        raise OptionError(f"k={k} is more than n={n}; k counts periods among the last n")
    missing = [c for c in ("period", "unit_id", "score") if c not in scores.columns]
    if missing:
        raise OptionError(f"the scores table has no column {', '.join(missing)}")
    periods = sorted(scores["period"].astype(str).unique())
    if len(periods) < n:
        raise OptionError(f"n={n} periods asked for but the scores cover {len(periods)}: {', '.join(periods)}")
    last = periods[-n:]
    wide = scores.assign(period=scores["period"].astype(str)).pivot_table(
        index="unit_id", columns="period", values="score", aggfunc="first"
    )[last]
    if rule == "bottom_tercile":
        cut = wide.quantile(1 / 3)
        under = wide.le(cut, axis=1) & wide.notna()
    else:
        if weights is None:
            raise OptionError("rule='cold_spot' needs weights=spatial_weights(units, ...)")
        generator = np.random.default_rng(seed_from(rng))
        under = pd.DataFrame(False, index=wide.index, columns=last)
        for period in last:
            column = wide[period].dropna()
            sub = _subset(weights, [u for u in weights.unit_ids if u in column.index])
            result = local_association(
                column, sub, permutations=permutations, alpha=alpha, rng=generator, label=str(period)
            )
            cold = result.frame.loc[result.frame["gi_cluster"] == "cold", "unit_id"]
            under.loc[under.index.isin(cold), period] = True
    frame = under.astype(bool).reset_index()
    frame.columns = ["unit_id", *[str(p) for p in last]]
    frame["periods_under"] = under.sum(axis=1).to_numpy(dtype=int)
    frame["persistent"] = frame["periods_under"] >= k
    frame = frame.sort_values(["periods_under", "unit_id"], ascending=[False, True]).reset_index(drop=True)
    return Persistence(frame, [str(p) for p in last], int(k), int(n), rule)


def _subset(weights: SpatialWeights, ids: list[str]) -> SpatialWeights:
    """``weights`` restricted to ``ids`` (units without a value in a period)."""
    if ids == weights.unit_ids:
        return weights
    weights_module, _ = _pysal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = weights_module.w_subset(weights.w, ids, silence_warnings=True)
    return SpatialWeights(w, ids, weights.method, weights.k, weights.distance_km, weights.locations)


# ----------------------------------------------------------------------------- seasonal peaks
def seasonal_peaks(
    framework: Framework | str | Path,
    values: pd.DataFrame,
    units: pd.DataFrame,
    *,
    indicator: str,
    by: str = "district",
    alpha: float = 0.05,
    source: str = "units",
) -> pd.DataFrame:
    """Seasonal pressure months of one indicator per district, at the district's centre.

    The monthly mean of the indicator per group of units
    (:func:`perfmodel.monitor.trends.indicator_series` with ``by``) is tested by
    :func:`perfmodel.monitor.trends.seasonality_table` (month effects against
    noise, at ``alpha``); the group's position is the mean of its units' coordinates.

    Parameters
    ----------
    framework
        Gives the indicator's direction and names.
    values
        ``period, unit_id, indicator, value`` of monthly evaluations
        (:attr:`PeriodSeries.values`, at least 24 months).
    units
        The units table with coordinates and the ``by`` column.
    indicator
        The indicator id.

    Returns
    -------
    pandas.DataFrame
        ``group, lon, lat, p, pressure_months`` (list), ``worst_month``,
        ``significant``; one row per group with enough months.
    """
    from perfmodel.monitor.trends import indicator_series, seasonality_table

    fw = _framework(framework)
    chosen = values[values["indicator"] == indicator]
    if chosen.empty:
        raise OptionError(f"indicator {indicator!r} has no monthly values", "choose an indicator of the framework")
    series = indicator_series(chosen, units=units, by=by)
    ids = sorted(set(chosen["unit_id"].astype(str)))
    where = coordinates(units, ids, source=source).merge(
        units[["unit_id", by]].astype({"unit_id": str}), on="unit_id", how="left"
    )
    centres = where.groupby(by)[["lon", "lat"]].mean()
    rows = []
    for group in series.index.get_level_values("group").unique():
        part = series.xs(group, level="group")
        part.index = pd.PeriodIndex([str(p) for p in part.index], freq="M")
        table = seasonality_table(part[[indicator]], fw, alpha=alpha)
        if table.empty:
            continue
        row = table.iloc[0]
        rows.append(
            {
                "group": group,
                "lon": float(centres.loc[group, "lon"]),
                "lat": float(centres.loc[group, "lat"]),
                "p": float(row["p"]),
                "pressure_months": list(row["pressure_months"]),
                "worst_month": int(row["worst_month"]),
                "significant": bool(row["p"] < alpha and len(row["pressure_months"]) > 0),
            }
        )
    columns = ["group", "lon", "lat", "p", "pressure_months", "worst_month", "significant"]
    return pd.DataFrame(rows, columns=columns)


# ----------------------------------------------------------------------------- map
def figure_hotspot_map(
    result: LocalAssociation,
    *,
    statistic: Literal["moran", "gi"] = "gi",
    persistent: Sequence[str] = (),
    peaks: pd.DataFrame | None = None,
    ax: Axes | None = None,
    lang: str = "zh",
) -> Axes:
    """Map of the units at their coordinates, coloured by cluster type; no web tiles.

    Parameters
    ----------
    result
        :func:`local_association` (its weights must carry coordinates).
    statistic
        ``gi`` (hot / cold / not significant) or ``moran`` (HH / LL / HL / LH / not significant).
    persistent
        Unit ids drawn with a black ring (e.g. :attr:`Persistence.persistent`).
    peaks
        :func:`seasonal_peaks`: each significant group's pressure months are written at its centre.
    ax, lang
        Axes to draw on (default a new figure) and language of the words.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from perfmodel.monitor.trends import month_window
    from perfmodel.report.style import report_axes

    check_lang(lang)
    check_choice("statistic", statistic, ("moran", "gi"))
    locations = result.weights.locations
    if locations is None:
        raise OptionError("the map needs coordinates; these weights were built from a neighbour list only")
    frame = result.frame.merge(locations, on="unit_id", how="left")
    column = "gi_cluster" if statistic == "gi" else "moran_cluster"
    order = ("hot", "cold", "ns") if statistic == "gi" else ("HH", "LL", "HL", "LH", "ns")
    ax = report_axes(ax, figsize=(7.0, 6.0))
    for kind in order:
        part = frame[frame[column] == kind]
        if part.empty:
            continue
        ax.scatter(
            part["lon"],
            part["lat"],
            s=70 if kind != "ns" else 30,
            c=CLUSTER_COLOURS[kind],
            edgecolors="white",
            linewidths=0.5,
            label=f"{say(f'spatial.cluster_{kind}', lang)} ({len(part)})",
            zorder=3 if kind != "ns" else 2,
        )
    ringed = frame[frame["unit_id"].isin(list(persistent))]
    if not ringed.empty:
        ax.scatter(
            ringed["lon"],
            ringed["lat"],
            s=150,
            facecolors="none",
            edgecolors="black",
            linewidths=1.2,
            label=f"{say('spatial.persistent_ring', lang)} ({len(ringed)})",
            zorder=4,
        )
    if peaks is not None:
        shown = peaks[peaks["significant"]]
        for row in shown.itertuples(index=False):
            text = say("spatial.peak_label", lang, group=row.group, months=month_window(row.pressure_months, lang))
            ax.annotate(
                text,
                (row.lon, row.lat),
                fontsize=8,
                ha="center",
                va="bottom",
                zorder=5,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#888888", "alpha": 0.85},
            )
        if not shown.empty:
            ax.plot([], [], ls="none", marker="s", mfc="white", mec="#888888", label=say("spatial.peak_legend", lang))
    name = say(f"spatial.statistic_{statistic}", lang)
    ax.set_title(say("spatial.map_title", lang, statistic=name, label=result.label))
    ax.set_xlabel(say("spatial.longitude", lang))
    ax.set_ylabel(say("spatial.latitude", lang))
    ax.set_aspect(1.0 / np.cos(np.radians(float(frame["lat"].mean()))))
    ax.legend(loc="best", fontsize=8, frameon=True)
    return ax
