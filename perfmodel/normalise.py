"""Normalisation: bring indicators in different units onto one scale.

Data are *wide* frames: one row per unit, one column per indicator. Direction is
handled once, by :func:`orient`, which turns every indicator into
"higher is better"; the normalisers that follow never look at direction again.

Normalisers follow scikit-learn's conventions: parameters in ``__init__``,
:meth:`fit` learns (attributes ending in ``_``), :meth:`transform` applies, so a
normaliser fitted on one period can be applied to another (goalposts fixed across
quarters). :func:`normalise` applies one by name, optionally within peer groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError

__all__ = [
    "orient",
    "orient_bounds",
    "MinMax",
    "ZScore",
    "RankScore",
    "Goalposts",
    "DistanceToTarget",
    "normalise",
    "NORMALISERS",
]

Direction = Literal["higher", "lower", "target"]


def orient(
    X: pd.DataFrame,
    directions: Mapping[str, Direction] | None = None,
    targets: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Turn every column into "higher is better".

    ``higher`` columns are unchanged, ``lower`` columns are negated and
    ``target`` columns become minus the distance to the target.

    Examples
    --------
    >>> X = pd.DataFrame({"rate": [0.9, 0.8], "days": [2.0, 5.0], "t": [9.0, 11.5]})
    >>> orient(X, {"rate": "higher", "days": "lower", "t": "target"}, {"t": 10.0}).values.tolist()
    [[0.9, -2.0, -1.0], [0.8, -5.0, -1.5]]
    """
    directions = directions or {}
    targets = targets or {}
    out = X.astype(float).copy()
    for column in out.columns:
        direction = directions.get(column, "higher")
        if direction == "lower":
            out[column] = -out[column]
        elif direction == "target":
            if column not in targets:
                raise OptionError(f"indicator {column!r} has direction 'target' but no target value")
            out[column] = -(out[column] - targets[column]).abs()
        elif direction != "higher":
            raise OptionError(f"indicator {column!r}: unknown direction {direction!r}")
    return out


def orient_bounds(low: float, high: float, direction: Direction, target: float | None = None) -> tuple[float, float]:
    """Map natural-unit bounds ``[low, high]`` to oriented ``(worst, best)``.

    For a ``target`` indicator the best is 0 (on target) and the worst is the
    larger distance of the two bounds from the target.

    Examples
    --------
    >>> orient_bounds(2.0, 8.0, "lower")
    (-8.0, -2.0)
    >>> orient_bounds(0.0, 10.0, "target", target=4.0)
    (-6.0, 0.0)
    """
    if direction == "higher":
        return float(low), float(high)
    if direction == "lower":
        return -float(high), -float(low)
    if direction != "target":
        raise OptionError(f"unknown direction {direction!r}; use 'higher', 'lower' or 'target'")
    if target is None:
        raise OptionError("direction 'target' needs a target value to orient the bounds")
    return -max(abs(low - target), abs(high - target)), 0.0


class _Normaliser:
    """Shared plumbing: output range and the fitted-state check."""

    def __init__(self, lo: float = 0.0, hi: float = 100.0) -> None:
        self.lo = lo
        self.hi = hi

    def fit(self, X: pd.DataFrame, y: object = None) -> _Normaliser:
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each normaliser maps ``X`` to ``[lo, hi]`` its own way."""
        raise NotImplementedError

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.fit(X).transform(X)

    def _scale(self, unit_interval: pd.DataFrame) -> pd.DataFrame:
        return self.lo + unit_interval * (self.hi - self.lo)

    def _check_fitted(self, attribute: str, X: pd.DataFrame) -> None:
        """Raise unless fitted, and fitted on every column of ``X``."""
        if not hasattr(self, attribute):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit() first")
        unseen = [c for c in X.columns if c not in getattr(self, attribute).index]
        if unseen:
            raise OptionError(
                f"{type(self).__name__} was not fitted on column(s) {', '.join(map(str, unseen))}; "
                "fit it on data that has them"
            )

    def get_params(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}


class MinMax(_Normaliser):
    """Min-max scaling to ``[lo, hi]`` using the fitted minimum and maximum.

    A column with no spread carries no information about who is better; it is
    mapped to the middle of the range.

    Examples
    --------
    >>> MinMax().fit_transform(pd.DataFrame({"a": [1.0, 2.0, 5.0]}))["a"].tolist()
    [0.0, 25.0, 100.0]
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> MinMax:
        self.data_min_ = X.min()
        self.data_max_ = X.max()
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted("data_min_", X)
        span = (self.data_max_ - self.data_min_).replace(0.0, np.nan)
        unit = (X - self.data_min_) / span
        for column in span.index[span.isna() & self.data_min_.notna()]:
            unit[column] = X[column].where(X[column].isna(), 0.5)
        return self._scale(unit)


class ZScore(_Normaliser):
    """Standardisation: ``loc + scale * (x - mean) / sd`` (sample sd, ddof=1).

    ``lo``/``hi`` are not used; the output is centred on ``loc``.
    """

    def __init__(self, loc: float = 50.0, scale: float = 10.0) -> None:
        super().__init__()
        self.loc = loc
        self.scale = scale

    def fit(self, X: pd.DataFrame, y: object = None) -> ZScore:
        self.mean_ = X.mean()
        self.sd_ = X.std(ddof=1)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted("mean_", X)
        sd = self.sd_.replace(0.0, np.nan)
        z = ((X - self.mean_) / sd).where(sd.notna() | X.isna(), 0.0)
        return self.loc + self.scale * z


class RankScore(_Normaliser):
    """Percentile rank within the data, scaled to ``[lo, hi]`` (ties share their mean rank).

    The best unit gets ``hi`` and the worst ``lo``; a single unit gets the middle.
    Rank scores are relative by nature: ``transform`` ranks the data it is given.
    """

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        ranks = X.rank(method="average")
        n = X.notna().sum()
        unit = (ranks - 1) / (n - 1).replace(0, np.nan)
        unit = unit.where(~((n <= 1) & X.notna()), 0.5)
        return self._scale(unit)


class Goalposts(_Normaliser):
    """Scale against fixed bounds, ``(x - worst) / (best - worst)``, clipped to ``[lo, hi]``.

    Bounds are given in oriented units (see :func:`orient_bounds`) and stay the
    same from period to period, so a score means the same thing every quarter.
    ``fit`` only checks the bounds cover the columns.
    """

    def __init__(self, bounds: Mapping[str, tuple[float, float]], lo: float = 0.0, hi: float = 100.0) -> None:
        super().__init__(lo, hi)
        self.bounds = dict(bounds)

    def fit(self, X: pd.DataFrame, y: object = None) -> Goalposts:
        missing = [c for c in X.columns if c not in self.bounds]
        if missing:
            raise OptionError(f"no goalposts for indicator(s): {', '.join(map(str, missing))}")
        self.worst_ = pd.Series({c: self.bounds[c][0] for c in X.columns}, dtype=float)
        self.best_ = pd.Series({c: self.bounds[c][1] for c in X.columns}, dtype=float)
        bad = self.worst_.index[~(self.best_ > self.worst_)]
        if len(bad):
            raise OptionError(
                f"goalposts must be (worst, best) in oriented units with best > worst; check: "
                f"{', '.join(f'{c}={self.bounds[c]}' for c in bad)} (see orient_bounds)"
            )
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted("worst_", X)
        unit = ((X - self.worst_) / (self.best_ - self.worst_)).clip(0.0, 1.0)
        return self._scale(unit)


class DistanceToTarget(_Normaliser):
    """Progress from the fitted minimum towards a target, ``(x - min) / (target - min)``, capped at 1.

    Targets are in oriented units; a unit at or beyond its target scores ``hi``.
    """

    def __init__(self, targets: Mapping[str, float], lo: float = 0.0, hi: float = 100.0) -> None:
        super().__init__(lo, hi)
        self.targets = dict(targets)

    def fit(self, X: pd.DataFrame, y: object = None) -> DistanceToTarget:
        missing = [c for c in X.columns if c not in self.targets]
        if missing:
            raise OptionError(f"no target for indicator(s): {', '.join(map(str, missing))}")
        self.data_min_ = X.min()
        self.target_ = pd.Series({c: self.targets[c] for c in X.columns}, dtype=float)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted("data_min_", X)
        span = (self.target_ - self.data_min_).where(lambda s: s > 0)
        unit = ((X - self.data_min_) / span).clip(0.0, 1.0)
        unit = unit.where(span.notna() | X.isna(), 1.0)
        return self._scale(unit)


NORMALISERS = {
    "minmax": MinMax,
    "zscore": ZScore,
    "rank": RankScore,
    "goalposts": Goalposts,
    "target": DistanceToTarget,
}


def _make(method: str, lo: float, hi: float, goalposts, targets) -> _Normaliser:
    if method not in NORMALISERS:
        raise OptionError(f"unknown normalisation {method!r}; choose one of {', '.join(NORMALISERS)}")
    if method == "goalposts":
        if goalposts is None:
            raise OptionError("normalisation 'goalposts' needs goalposts for every indicator")
        return Goalposts(goalposts, lo, hi)
    if method == "target":
        if targets is None:
            raise OptionError("normalisation 'target' needs a target for every indicator")
        return DistanceToTarget(targets, lo, hi)
    if method == "zscore":
        return ZScore()
    return NORMALISERS[method](lo, hi)


def normalise(
    X: pd.DataFrame,
    method: str = "minmax",
    *,
    lo: float = 0.0,
    hi: float = 100.0,
    groups: pd.Series | None = None,
    goalposts: Mapping[str, tuple[float, float]] | None = None,
    targets: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Normalise an oriented wide frame, over all units or within each peer group.

    Parameters
    ----------
    X
        Oriented indicator values (rows: units, columns: indicators).
    method
        ``minmax``, ``zscore``, ``rank``, ``goalposts`` or ``target``.
    lo, hi
        Output range (not used by ``zscore``).
    groups
        Peer group of each row (aligned on the index); each group is fitted on
        its own members. Rows with a missing group form a group of their own.
    goalposts, targets
        Oriented bounds / targets per column for the methods that need them.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 3.0, 10.0, 20.0]}, index=list("pqrs"))
    >>> g = pd.Series(["A", "A", "B", "B"], index=X.index)
    >>> normalise(X, "minmax", groups=g)["a"].tolist()
    [0.0, 100.0, 0.0, 100.0]
    """
    if groups is None:
        return _make(method, lo, hi, goalposts, targets).fit_transform(X)
    keys = groups.reindex(X.index).astype(object)
    keys = keys.where(keys.notna(), "(none)")
    parts = [
        _make(method, lo, hi, goalposts, targets).fit_transform(X.loc[members])
        for _, members in keys.groupby(keys, sort=True).groups.items()
    ]
    return pd.concat(parts).reindex(X.index)
