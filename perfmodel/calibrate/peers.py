"""Peer groups: declared station classes, k-means context clusters and most-similar units.

"One ruler for all" (一刀切, R4) compares a small rural station with a busy
urban one. This module gives three ways of choosing whom a unit is compared with:

* **declared classes** — the classes the bureau declares in the units table
  (``station_class`` 一类/二类/三类, ``station_type`` 地区/治安派出所, or a
  combination): :func:`declared_peer_groups`;
* **derived classes** — k-means clusters on standardised context variables
  (population, load per officer, incident rate…), with ``k`` chosen by the
  silhouette score and labels ``P1 … Pk`` ordered by the clusters' mean
  workload, so that the labels mean the same thing from one run to the next:
  :class:`KMeansPeerGroups`;
* **most similar units** — each unit's own set of ``k`` nearest neighbours in
  standardised context space, as in the UK Home Office "most similar groups"
  of police forces and community safety partnerships:
  :func:`most_similar_units` and :func:`compare_with_neighbours`.

:func:`context_frame` adds the derived context columns used here and by the
case-mix models (``log_population``, ``workload_per_officer``,
``log_workload``, ``incidents_per_1000``, ``log_incident_rate``,
``officers_per_10000``). :func:`add_peer_column` returns a copy of the units
table with a peer column, usable as ``Settings(peer_group=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from perfmodel.columns import NUMERIC_CONTEXT
from perfmodel.errors import OptionError

__all__ = [
    "CONTEXT_COLUMNS",
    "DEFAULT_PEER_VARIABLES",
    "DERIVED_CONTEXT",
    "KMeansPeerGroups",
    "add_peer_column",
    "compare_with_neighbours",
    "context_frame",
    "declared_peer_groups",
    "most_similar_units",
    "standardise_context",
]

CONTEXT_COLUMNS: tuple[str, ...] = NUMERIC_CONTEXT
"""Numeric units-table columns from which the derived context is computed."""

DERIVED_CONTEXT: Mapping[str, str] = {
    "log_population": "log(population)",
    "log_incident_volume": "log(incident_volume)",
    "workload_per_officer": "incident_volume / officers (monthly incidents per officer)",
    "log_workload": "log(incident_volume / officers)",
    "incidents_per_1000": "1000 x incident_volume / population",
    "log_incident_rate": "log(incident_volume / population)",
    "officers_per_10000": "10000 x officers / population (police density)",
}
"""Derived context columns added by :func:`context_frame`, with their definitions."""

DEFAULT_PEER_VARIABLES: tuple[str, ...] = ("log_population", "log_workload", "log_incident_rate")
"""Context variables used for k-means peer groups and most-similar units by default."""

_NUMERIC_NEEDED = {
    "log_population": ("population",),
    "log_incident_volume": ("incident_volume",),
    "workload_per_officer": ("incident_volume", "officers"),
    "log_workload": ("incident_volume", "officers"),
    "incidents_per_1000": ("incident_volume", "population"),
    "log_incident_rate": ("incident_volume", "population"),
    "officers_per_10000": ("officers", "population"),
}

MISSING_VARIABLE = (
    "context variable {column!r} is neither a units-table column nor a derived context column; "
    "units columns: {available}; derived: {derived}. Fix the name or add the column to the units file."
)
CONSTANT_VARIABLE = (
    "context variable {column!r} has the same value for every unit, so it cannot separate peer "
    "groups; drop it from variables=."
)
TOO_FEW_UNITS = (
    "{what} needs at least {need} units with complete context, found {n}; "
    "check the context columns {columns} for missing values."
)
NOT_FITTED = "this KMeansPeerGroups is not fitted yet; call .fit(units) first."
BAD_K = "n_clusters={k!r} is not valid: give an integer between 2 and the number of units minus 1."
BAD_RANGE = "k_range={k_range!r} is not valid: give (low, high) with 2 <= low <= high."
NO_PEER_COLUMN = "declared peer column {column!r} is not in the units table; available: {available}."
DUPLICATE_UNITS = "units table has duplicated unit ids (e.g. {example!r}); give one row per unit."


# --------------------------------------------------------------------------- context
def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float)


def context_frame(units: pd.DataFrame) -> pd.DataFrame:
    """A copy of the units table with numeric context and derived context columns.

    ``population``, ``incident_volume`` and ``officers`` are converted to float
    (text such as ``"12,3"`` becomes missing), and the columns of
    :data:`DERIVED_CONTEXT` are added for every unit whose inputs are present
    and positive (missing otherwise, never an error: the caller decides what a
    missing covariate means). Text columns (``area_type``, ``station_type``,
    ``district``…) become plain ``object`` columns so that model formulas treat
    them as categories. Columns that are absent from ``units`` are skipped.

    Parameters
    ----------
    units : pandas.DataFrame
        Units table (one row per unit).

    Returns
    -------
    pandas.DataFrame
        Same index and rows as ``units``.

    Examples
    --------
    >>> u = pd.DataFrame({"unit_id": ["A"], "population": [20000], "incident_volume": [100],
    ...                   "officers": [10]})
    >>> float(context_frame(u)["workload_per_officer"].iloc[0])
    10.0
    """
    out = units.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, pd.StringDtype) or pd.api.types.is_string_dtype(dtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    for column in CONTEXT_COLUMNS:
        if column in out.columns:
            out[column] = _numeric(out[column])

    def positive(column: str) -> pd.Series:
        values = out[column]
        return values.where(values > 0)

    def have(*columns: str) -> bool:
        return all(c in out.columns for c in columns)

    with np.errstate(divide="ignore", invalid="ignore"):
        if have("population"):
            out["log_population"] = np.log(positive("population"))
        if have("incident_volume"):
            out["log_incident_volume"] = np.log(positive("incident_volume"))
        if have("incident_volume", "officers"):
            out["workload_per_officer"] = positive("incident_volume") / positive("officers")
            out["log_workload"] = np.log(out["workload_per_officer"])
        if have("incident_volume", "population"):
            out["incidents_per_1000"] = 1000.0 * positive("incident_volume") / positive("population")
            out["log_incident_rate"] = np.log(out["incidents_per_1000"] / 1000.0)
        if have("officers", "population"):
            out["officers_per_10000"] = 10000.0 * positive("officers") / positive("population")
    return out


def _unit_index(units: pd.DataFrame) -> pd.Index:
    if "unit_id" in units.columns:
        ids = units["unit_id"].astype(object)
        dup = ids.duplicated()
        if dup.any():
            raise OptionError(DUPLICATE_UNITS.format(example=ids[dup].iloc[0]))
        return pd.Index(ids.to_numpy(), name="unit_id")
    return pd.Index(units.index, name="unit_id")


def standardise_context(
    units: pd.DataFrame,
    variables: Sequence[str] = DEFAULT_PEER_VARIABLES,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Standardised (z-score) context variables, one row per unit with complete data.

    Parameters
    ----------
    units : pandas.DataFrame
        Units table; derived columns are computed with :func:`context_frame`.
    variables : sequence of str
        Numeric context columns (raw or derived).
    weights : mapping, optional
        Multiplier per variable after standardisation (the Home Office weights
        its most-similar-group variables); default 1.

    Returns
    -------
    pandas.DataFrame
        Index ``unit_id``; columns ``variables``; each column has mean 0 and
        (population) standard deviation ``weight``. Units with a missing
        variable are left out.
    """
    frame = context_frame(units)
    for column in variables:
        if column not in frame.columns:
            raise OptionError(
                MISSING_VARIABLE.format(
                    column=column,
                    available=[c for c in units.columns],
                    derived=list(DERIVED_CONTEXT),
                )
            )
    data = frame[list(variables)].apply(_numeric)
    data.index = _unit_index(frame)
    data = data.dropna()
    sd = data.std(ddof=0)
    for column in variables:
        if not sd[column] > 0:
            raise OptionError(CONSTANT_VARIABLE.format(column=column))
    z = (data - data.mean()) / sd
    if weights:
        z = z * pd.Series({c: float(weights.get(c, 1.0)) for c in variables})
    return z


# --------------------------------------------------------------------------- declared
def declared_peer_groups(
    units: pd.DataFrame, columns: str | Sequence[str] = ("station_class",), sep: str = "·"
) -> pd.Series:
    """Peer group of every unit from declared units-table columns.

    Parameters
    ----------
    units : pandas.DataFrame
        Units table.
    columns : str or sequence of str
        One column (``"station_class"``) or several combined
        (``["station_class", "station_type"]`` gives ``"一类·地区派出所"``).
    sep : str
        Separator between combined labels.

    Returns
    -------
    pandas.Series
        Index ``unit_id``; missing when any of the columns is missing.
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    for column in columns:
        if column not in units.columns:
            raise OptionError(NO_PEER_COLUMN.format(column=column, available=list(units.columns)))
    parts = units[columns].astype(object)
    labels = [
        sep.join(str(v) for v in row) if all(pd.notna(v) for v in row) else None
        for row in parts.itertuples(index=False, name=None)
    ]
    return pd.Series(labels, index=_unit_index(units), dtype=object, name="peer_group")


def add_peer_column(units: pd.DataFrame, groups: pd.Series, column: str = "peer_cluster") -> pd.DataFrame:
    """A copy of ``units`` with ``groups`` (indexed by unit id) as column ``column``.

    The result can be passed to an evaluation with ``Settings(peer_group=column)``.
    Units absent from ``groups`` get a missing peer group.
    """
    out = units.copy()
    ids = out["unit_id"].astype(object) if "unit_id" in out.columns else pd.Series(out.index)
    mapped = ids.map(groups.to_dict())
    out[column] = pd.Series(mapped.to_numpy(), index=out.index, dtype="string")
    return out


# --------------------------------------------------------------------------- k-means
class KMeansPeerGroups:
    """Derived peer groups: k-means on standardised context variables.

    Parameters
    ----------
    n_clusters : int, optional
        Number of groups; chosen from ``k_range`` by the mean silhouette
        width when omitted (the smallest ``k`` among ties).
    variables : sequence of str
        Numeric context columns (raw or from :data:`DERIVED_CONTEXT`).
    k_range : (int, int)
        Candidate numbers of groups when ``n_clusters`` is omitted.
    weights : mapping, optional
        Weights of the standardised variables.
    random_state : int
        Seed of the k-means initialisations (results are deterministic).
    n_init : int
        Number of k-means initialisations.
    order_by : str
        Context column whose cluster mean orders the labels ``P1`` (lowest)
        … ``Pk`` (highest); default ``workload_per_officer``.
    prefix : str
        Label prefix.

    Attributes
    ----------
    k_ : int
        Number of groups used.
    silhouette_ : pandas.Series
        Mean silhouette width per candidate ``k``.
    labels_ : pandas.Series
        Peer group per unit id (units with missing context are absent).
    profiles_ : pandas.DataFrame
        One row per group: ``peer_group``, ``n_units``, the mean of each
        variable and of the ``order_by`` column on the natural scale, and the
        centre on the standardised scale (``z_<variable>``).
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        *,
        variables: Sequence[str] = DEFAULT_PEER_VARIABLES,
        k_range: tuple[int, int] = (2, 6),
        weights: Mapping[str, float] | None = None,
        random_state: int = 0,
        n_init: int = 20,
        order_by: str = "workload_per_officer",
        prefix: str = "P",
    ) -> None:
        self.n_clusters = n_clusters
        self.variables = tuple(variables)
        self.k_range = k_range
        self.weights = weights
        self.random_state = random_state
        self.n_init = n_init
        self.order_by = order_by
        self.prefix = prefix

    def _candidates(self, n_units: int) -> list[int]:
        if self.n_clusters is not None:
            k = self.n_clusters
            if not isinstance(k, (int, np.integer)) or not 2 <= k <= n_units - 1:
                raise OptionError(BAD_K.format(k=k))
            return [int(k)]
        low, high = self.k_range
        if not (isinstance(low, (int, np.integer)) and isinstance(high, (int, np.integer))) or not (2 <= low <= high):
            raise OptionError(BAD_RANGE.format(k_range=self.k_range))
        return list(range(int(low), int(min(high, n_units - 1)) + 1))

    def fit(self, units: pd.DataFrame) -> KMeansPeerGroups:
        """Cluster the units; returns ``self``."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        z = standardise_context(units, self.variables, self.weights)
        if len(z) < 3:
            raise OptionError(
                TOO_FEW_UNITS.format(what="k-means peer groups", need=3, n=len(z), columns=list(self.variables))
            )
        scores: dict[int, float] = {}
        fitted = {}
        for k in self._candidates(len(z)):
            model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)
            labels = model.fit_predict(z.to_numpy())
            fitted[k] = (model, labels)
            scores[k] = float(silhouette_score(z.to_numpy(), labels)) if len(set(labels)) > 1 else -1.0
        best = max(scores.values())
        self.k_ = min(k for k, s in scores.items() if s >= best - 1e-12)
        self.silhouette_ = pd.Series(scores, name="silhouette").rename_axis("k")
        model, labels = fitted[self.k_]
        context = context_frame(units)
        context.index = _unit_index(context)
        order_values = (
            _numeric(context.loc[z.index, self.order_by])
            if (self.order_by in context.columns)
            else pd.Series(0.0, index=z.index)
        )
        raw = pd.Series(labels, index=z.index)
        means = order_values.groupby(raw).mean()
        # ties in the ordering variable are broken by the smallest member id (deterministic)
        first_member = pd.Series(z.index, index=z.index).groupby(raw).min()
        ordered = sorted(means.index, key=lambda c: (means[c], first_member[c]))
        names = {c: f"{self.prefix}{i + 1}" for i, c in enumerate(ordered)}
        self.labels_ = raw.map(names).rename("peer_group")
        self._model = model
        self._names = names
        self._z_mean = context.loc[z.index, list(self.variables)].apply(_numeric).mean()
        self._z_sd = context.loc[z.index, list(self.variables)].apply(_numeric).std(ddof=0)
        rows = []
        for c in ordered:
            members = raw.index[raw == c]
            row: dict[str, object] = {"peer_group": names[c], "n_units": len(members)}
            for v in self.variables:
                row[v] = float(_numeric(context.loc[members, v]).mean())
            if self.order_by not in self.variables and self.order_by in context.columns:
                row[self.order_by] = float(order_values[members].mean())
            for j, v in enumerate(self.variables):
                row[f"z_{v}"] = float(model.cluster_centers_[c, j])
            rows.append(row)
        self.profiles_ = pd.DataFrame(rows)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise OptionError(NOT_FITTED)

    def predict(self, units: pd.DataFrame) -> pd.Series:
        """Peer group of (new) units: the nearest fitted cluster centre."""
        self._check_fitted()
        frame = context_frame(units)
        frame.index = _unit_index(frame)
        data = frame[list(self.variables)].apply(_numeric).dropna()
        z = (data - self._z_mean) / self._z_sd
        if self.weights:
            z = z * pd.Series({c: float(self.weights.get(c, 1.0)) for c in self.variables})
        labels = self._model.predict(z.to_numpy()) if len(z) else np.array([], dtype=int)
        return pd.Series([self._names[c] for c in labels], index=z.index, name="peer_group")

    def assign(self, units: pd.DataFrame, column: str = "peer_cluster") -> pd.DataFrame:
        """A copy of ``units`` with the fitted labels in ``column`` (see :func:`add_peer_column`)."""
        self._check_fitted()
        return add_peer_column(units, self.labels_, column)


# --------------------------------------------------------------------------- most similar
def most_similar_units(
    units: pd.DataFrame,
    variables: Sequence[str] = DEFAULT_PEER_VARIABLES,
    k: int = 7,
    weights: Mapping[str, float] | None = None,
    within: str | None = None,
) -> pd.DataFrame:
    """Each unit's ``k`` most similar units in standardised context space.

    Euclidean distance on z-scores (optionally weighted), as in the UK Home
    Office most similar groups. Ties are broken by the neighbour's id, so the
    result is deterministic.

    Parameters
    ----------
    units : pandas.DataFrame
        Units table.
    variables : sequence of str
        Numeric context columns (raw or derived).
    k : int
        Neighbours per unit (the Home Office uses 7 for forces, 15 for
        community safety partnerships).
    weights : mapping, optional
        Weights of the standardised variables.
    within : str, optional
        Units-table column: neighbours are chosen among units with the same
        value only (e.g. ``"level"`` or ``"station_type"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_id``, ``neighbour_rank`` (1 = most similar),
        ``neighbour_id``, ``distance``.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise OptionError(f"k={k!r} is not valid: give the number of neighbours, an integer >= 1.")
    z = standardise_context(units, variables, weights)
    if len(z) < 2:
        raise OptionError(TOO_FEW_UNITS.format(what="most similar units", need=2, n=len(z), columns=list(variables)))
    if within is not None:
        if within not in units.columns:
            raise OptionError(NO_PEER_COLUMN.format(column=within, available=list(units.columns)))
        blocks = pd.Series(units[within].astype(object).to_numpy(), index=_unit_index(units))
        blocks = blocks.reindex(z.index)
    else:
        blocks = pd.Series("all", index=z.index)
    frames = []
    for _, members in blocks.groupby(blocks, sort=True).groups.items():
        sub = z.loc[members]
        ids = sub.index.to_numpy()
        x = sub.to_numpy()
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1))
        np.fill_diagonal(d, np.inf)
        id_rank = np.argsort(np.argsort(ids.astype(str)))
        # lexsort: last key is primary → distance first, then neighbour id
        n_take = min(k, len(ids) - 1)
        if n_take < 1:
            continue
        for i, unit in enumerate(ids):
            order = np.lexsort((id_rank, d[i]))[:n_take]
            frames.append(
                pd.DataFrame(
                    {
                        "unit_id": unit,
                        "neighbour_rank": np.arange(1, n_take + 1),
                        "neighbour_id": ids[order],
                        "distance": d[i, order],
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["unit_id", "neighbour_rank", "neighbour_id", "distance"])
    return pd.concat(frames, ignore_index=True)


def compare_with_neighbours(values: pd.Series, neighbours: pd.DataFrame, direction: str = "higher") -> pd.DataFrame:
    """Score and rank every unit against its own most-similar set.

    Parameters
    ----------
    values : pandas.Series
        A value per unit id (a score or an indicator); missing values are ignored.
    neighbours : pandas.DataFrame
        From :func:`most_similar_units`.
    direction : {"higher", "lower"}
        Whether higher values are better.

    Returns
    -------
    pandas.DataFrame
        One row per unit with a value: ``unit_id``, ``value``, ``n_neighbours``
        (with a value), ``neighbour_mean``, ``neighbour_sd``, ``difference``
        (value − neighbour mean, oriented so that positive is better), ``z``
        (difference / neighbour sd), ``rank_in_set`` (1 = best among the unit
        and its neighbours; ties share the best rank) and ``set_size``.
    """
    if direction not in ("higher", "lower"):
        raise OptionError(f"direction={direction!r} is not valid; use 'higher' or 'lower'.")
    sign = 1.0 if direction == "higher" else -1.0
    v = values.dropna().astype(float)
    pairs = neighbours.assign(neighbour_value=neighbours["neighbour_id"].map(v))
    pairs = pairs[pairs["unit_id"].isin(v.index) & pairs["neighbour_value"].notna()]
    rows = []
    for unit, sub in pairs.groupby("unit_id", sort=True):
        own = float(v[unit])
        others = sub["neighbour_value"].to_numpy(dtype=float)
        mean = float(others.mean())
        sd = float(others.std(ddof=1)) if len(others) > 1 else np.nan
        diff = sign * (own - mean)
        better = int(np.sum(sign * others > sign * own))
        rows.append(
            {
                "unit_id": unit,
                "value": own,
                "n_neighbours": len(others),
                "neighbour_mean": mean,
                "neighbour_sd": sd,
                "difference": diff,
                "z": diff / sd if sd and sd > 0 else np.nan,
                "rank_in_set": better + 1,
                "set_size": len(others) + 1,
            }
        )
    columns = [
        "unit_id",
        "value",
        "n_neighbours",
        "neighbour_mean",
        "neighbour_sd",
        "difference",
        "z",
        "rank_in_set",
        "set_size",
    ]
    return pd.DataFrame(rows, columns=columns)
