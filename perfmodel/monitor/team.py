"""Team credit for collaborative cases (团队积分, R17) and the team's share of a score.

Collaborative cases are recorded one row per case × participating officer
(:data:`~perfmodel.simulate.COLLABORATION_COLUMNS`): ``case_id``, ``period`` (month),
``station`` (the station that handled the case), ``officer_id`` and
``contribution_share`` (the officer's share of the case; the shares of a case add
up to 1). :func:`validate_collaborations` checks such a table and names the row
and column of every problem.

*Credit split.* A case is worth ``case_credit`` (1 by default, or a value per
case); an officer's individual credit is the sum over their cases of share ×
case credit, and a station's team credit is the credit of all its cases, so the
individual credits of everyone who worked on a station's cases add up to its team credit
(:func:`credit_split`, :func:`team_credit`).

*Team versus individual.* :func:`variance_decomposition` fits a linear mixed
model (statsmodels ``MixedLM``, REML) with a random intercept per team (station)
and, with repeated observations per officer, a variance component per officer
nested in the team; the residual is period-to-period noise. The **team share**
``σ²_team / (σ²_team + σ²_individual)`` is the part of the officers' persistent
differences that belongs to the team they work in. :func:`anova_components` gives
the classical ANOVA (method-of-moments) estimates for balanced data, which REML
reproduces whenever they are positive — a check on the model fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from perfmodel.errors import PerfmodelError, check_confidence
from perfmodel.io import normalise_header, read_table
from perfmodel.periods import PeriodError, months_in, parse_month
from perfmodel.randomness import RngLike, as_generator
from perfmodel.simulate import COLLABORATION_COLUMNS
from perfmodel.text import check_lang, say, templates

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "COLLABORATION_ALIASES",
    "SHARE_TOLERANCE",
    "CollaborationError",
    "VarianceShare",
    "anova_components",
    "collaboration_summary",
    "credit_split",
    "credit_table",
    "figure_team_credit",
    "figure_variance_shares",
    "monthly_credit",
    "planted_team_shares",
    "read_collaborations",
    "team_credit",
    "team_share_interval",
    "trailing_months",
    "validate_collaborations",
    "variance_decomposition",
    "variance_table",
]

SHARE_TOLERANCE = 1e-3
"""Shares of a case may add up to 1 ± this (so thirds written as 0.3333 pass)."""

COLLABORATION_ALIASES: dict[str, str] = {
    normalise_header(alias): canonical
    for canonical, aliases in {
        "case_id": ("case", "案件编号", "案件"),
        "period": ("month", "月份", "期间"),
        "station": ("station_id", "派出所", "承办单位"),
        "officer_id": ("officer", "民警编号", "民警"),
        "contribution_share": ("share", "贡献比例", "贡献度"),
    }.items()
    for alias in (canonical, *aliases)
}
"""Normalised header → canonical collaborations column (Chinese headers accepted)."""

_MAX_LISTED = 5


class CollaborationError(PerfmodelError, ValueError):
    """A collaborations table or analysis request that cannot be used; the message says why."""


def _t(lang: str) -> dict[str, str]:
    """The figures' words in ``lang`` (``monitor.team.text.*`` in the catalogue), by code."""
    return templates("monitor.team.text", lang)


# ---------------------------------------------------------------- validation
def _rows_text(rows: Sequence[int]) -> str:
    rows = [int(r) for r in rows]
    shown = ", ".join(map(str, rows[:_MAX_LISTED]))
    return f"row{'s' if len(rows) > 1 else ''} {shown}" + (
        f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    )


def _listed(values: Sequence[object]) -> str:
    values = list(dict.fromkeys(map(str, values)))
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    return shown + (f" and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else "")


def _officers_and_stations(units: pd.DataFrame) -> tuple[pd.Series, set[str]]:
    level = units["level"].astype(str)
    officers = units[level == "officer"]
    home = pd.Series(officers["parent_id"].astype(str).to_numpy(), index=officers["unit_id"].astype(str))
    return home, set(units.loc[level == "station", "unit_id"].astype(str))


def validate_collaborations(
    frame: pd.DataFrame,
    units: pd.DataFrame | None = None,
    *,
    tolerance: float = SHARE_TOLERANCE,
    source: str = "collaborations",
) -> pd.DataFrame:
    """Check a collaborations table and return it typed.

    Parameters
    ----------
    frame
        The table (:data:`~perfmodel.simulate.COLLABORATION_COLUMNS`; headers as
        in :data:`COLLABORATION_ALIASES` are accepted). A ``source_row`` column
        (as :func:`perfmodel.io.read_table` adds) gives the row numbers used in
        messages; otherwise row 2 is the first data row (the header is row 1).
    units
        Units table; when given, every ``officer_id`` must be an officer and every
        ``station`` a station in it.
    tolerance
        How far the shares of a case may add up away from 1.
    source
        Name of the table in messages.

    Returns
    -------
    pandas.DataFrame
        The collaborations columns with ``period`` as ``YYYY-MM``,
        ``contribution_share`` as float, and ``source_row``.

    Raises
    ------
    CollaborationError
        Listing every problem with its column and rows and how to fix it.
    """
    data = frame.rename(columns=lambda c: COLLABORATION_ALIASES.get(normalise_header(c), c))
    missing = [c for c in COLLABORATION_COLUMNS if c not in data.columns]
    if missing:
        raise CollaborationError(
            f"{source}: missing column(s) {', '.join(missing)}; a collaborations table needs "
            f"{', '.join(COLLABORATION_COLUMNS)} (one row per case and participating officer)"
        )
    rows = data["source_row"].to_numpy() if "source_row" in data.columns else np.arange(2, len(data) + 2)
    text = {c: data[c].astype("string").str.strip() for c in COLLABORATION_COLUMNS}
    problems: list[str] = []

    blank = {c: (text[c].isna() | (text[c] == "")).to_numpy() for c in COLLABORATION_COLUMNS}
    for column, where in blank.items():
        if where.any():
            problems.append(f"column {column!r} is blank in {_rows_text(rows[where])}: fill it in")

    share = pd.to_numeric(text["contribution_share"], errors="coerce").to_numpy(dtype=float)
    not_number = np.isnan(share) & ~blank["contribution_share"]
    if not_number.any():
        problems.append(
            f"column 'contribution_share' is not a number in {_rows_text(rows[not_number])} "
            f"(e.g. {_listed(text['contribution_share'][not_number])}): write a fraction such as 0.5"
        )
    outside = ~np.isnan(share) & ((share <= 0) | (share > 1))
    if outside.any():
        hint = (
            " — these look like percentages: divide by 100"
            if np.all((share[outside] > 1) & (share[outside] <= 100))
            else ""
        )
        problems.append(
            f"column 'contribution_share' must be a fraction in (0, 1] but is "
            f"{_listed(text['contribution_share'][outside])} in {_rows_text(rows[outside])}{hint}"
        )

    period = pd.Series(pd.NA, index=data.index, dtype="string")
    bad_period = np.zeros(len(data), dtype=bool)
    for value in text["period"].dropna().unique():
        where = (text["period"] == value).fillna(False).to_numpy()
        try:
            period[where] = str(parse_month(value))
        except PeriodError:
            bad_period |= where & ~blank["period"]
    if bad_period.any():
        problems.append(
            f"column 'period' is not a month in {_rows_text(rows[bad_period])} "
            f"(e.g. {_listed(text['period'][bad_period])}): write it as YYYY-MM, e.g. 2025-04"
        )

    if units is not None:
        home, stations = _officers_and_stations(units)
        unknown = ~text["officer_id"].isin(home.index) & ~pd.Series(blank["officer_id"], index=data.index)
        if unknown.any():
            problems.append(
                f"column 'officer_id': unknown officer(s) {_listed(text['officer_id'][unknown])} in "
                f"{_rows_text(rows[unknown.to_numpy()])}; add them to the units table (level officer) "
                "or correct the id"
            )
        strange = ~text["station"].isin(stations) & ~pd.Series(blank["station"], index=data.index)
        if strange.any():
            problems.append(
                f"column 'station': unknown station(s) {_listed(text['station'][strange])} in "
                f"{_rows_text(rows[strange.to_numpy()])}; use a station unit_id of the units table"
            )

    keyed = pd.DataFrame({"case_id": text["case_id"], "officer_id": text["officer_id"], "row": rows})
    repeated = keyed.duplicated(["case_id", "officer_id"], keep=False).to_numpy() & ~blank["case_id"]
    if repeated.any():
        problems.append(
            f"officer listed twice for the same case in {_rows_text(rows[repeated])}: "
            "merge the rows into one and add up the shares"
        )

    cases = pd.DataFrame(
        {"case_id": text["case_id"], "period": period, "station": text["station"], "share": share, "row": rows}
    ).dropna(subset=["case_id"])
    for column in ("period", "station"):
        spread = cases.groupby("case_id")[column].nunique()
        for case_id in spread.index[spread > 1][:_MAX_LISTED]:
            at = cases.loc[cases["case_id"] == case_id]
            problems.append(
                f"case {case_id!r} has several values in column {column!r} "
                f"({_listed(at[column].dropna())}) in {_rows_text(at['row'])}: a case belongs to one "
                f"{'month' if column == 'period' else 'station'}"
            )
    totals = cases.groupby("case_id")["share"].agg(lambda s: s.sum(min_count=len(s)))
    off = totals[(totals - 1).abs() > tolerance]
    for case_id, total in off.iloc[:_MAX_LISTED].items():
        at = cases.loc[cases["case_id"] == case_id, "row"]
        problems.append(
            f"case {case_id!r}: contribution shares add up to {total:.4g}, not 1 "
            f"({_rows_text(at)}); correct the shares so that they sum to 1"
        )
    if len(off) > _MAX_LISTED:
        problems.append(f"{len(off) - _MAX_LISTED} more cases whose shares do not add up to 1")
    if problems:
        raise CollaborationError(f"{source}: " + "; ".join(problems))
    return pd.DataFrame(
        {
            "case_id": text["case_id"].astype(str).to_numpy(),
            "period": period.astype(str).to_numpy(),
            "station": text["station"].astype(str).to_numpy(),
            "officer_id": text["officer_id"].astype(str).to_numpy(),
            "contribution_share": share,
            "source_row": rows,
        }
    )


def read_collaborations(
    path: str | Path, units: pd.DataFrame | None = None, *, tolerance: float = SHARE_TOLERANCE
) -> pd.DataFrame:
    """Read (CSV, Excel, Parquet) and validate a collaborations file."""
    table = read_table(path, aliases=COLLABORATION_ALIASES)
    return validate_collaborations(table, units, tolerance=tolerance, source=str(path))


# ---------------------------------------------------------------- credit
def _in_period(collab: pd.DataFrame, period: str | pd.Period | None) -> pd.DataFrame:
    if period is None:
        return collab
    months = {str(m) for m in months_in(period)}
    return collab[collab["period"].isin(months)]


def _case_credit(collab: pd.DataFrame, case_credit: float | Mapping[str, float] | pd.Series) -> pd.Series:
    if isinstance(case_credit, int | float):
        return pd.Series(float(case_credit), index=collab.index)
    mapping = pd.Series(case_credit, dtype=float)
    credit = collab["case_id"].map(mapping)
    if credit.isna().any():
        raise CollaborationError(
            f"case_credit has no value for case(s) {_listed(collab.loc[credit.isna(), 'case_id'])}; "
            "give a credit for every case or one number for all"
        )
    return credit


def credit_split(
    collab: pd.DataFrame,
    units: pd.DataFrame | None = None,
    *,
    period: str | pd.Period | None = None,
    case_credit: float | Mapping[str, float] | pd.Series = 1.0,
    show_names: bool = False,
) -> pd.DataFrame:
    """Individual credit per officer: the sum of contribution share × case credit.

    Parameters
    ----------
    collab
        Validated collaborations (:func:`validate_collaborations`).
    units
        Units table; when given, every officer appears (with zero credit if they
        took part in no case) with their name and home station.
    period
        Only cases in this period (``2025Q2``, ``2025-04``, ``2025``); all by default.
    case_credit
        Credit of a case: one number, or a mapping case_id → credit (e.g. the
        case's points).
    show_names
        Fill ``name`` from the units table; by default it is blank (officer
        ids only, :mod:`perfmodel.privacy`).

    Returns
    -------
    pandas.DataFrame
        ``officer_id``, ``name``, ``station`` (home station; without units, the
        station of most of the officer's cases), ``n_cases``, ``credit``,
        ``team_credit`` (the credit of the home station's officers, from any
        station's cases — equal to :func:`team_credit` when no case crosses
        stations) and ``team_share`` (credit ÷ team credit; the shares of a
        station add up to 1), sorted by station and credit.
    """
    rows = _in_period(collab, period)
    weighted = rows.assign(credit=rows["contribution_share"] * _case_credit(rows, case_credit))
    per = weighted.groupby("officer_id").agg(n_cases=("case_id", "nunique"), credit=("credit", "sum"))
    if units is not None:
        home, _ = _officers_and_stations(units)
        out = pd.DataFrame({"officer_id": home.index, "station": home.to_numpy()})
        if "name" in units.columns and show_names:
            names = pd.Series(units["name"].to_numpy(), index=units["unit_id"].astype(str))
            out.insert(1, "name", out["officer_id"].map(names))
        else:
            out.insert(1, "name", None)
    else:
        station = weighted.groupby("officer_id")["station"].agg(lambda s: s.mode().iloc[0])
        out = pd.DataFrame({"officer_id": station.index, "name": None, "station": station.to_numpy()})
    out = out.join(per, on="officer_id")
    out[["n_cases", "credit"]] = out[["n_cases", "credit"]].fillna(0.0)
    # The team is the officer's home station: a case worked with officers of another
    # station credits each officer's own team by their share, so shares add up to 1.
    out["team_credit"] = out.groupby("station")["credit"].transform("sum")
    out["team_share"] = (out["credit"] / out["team_credit"]).where(out["team_credit"] > 0)
    out = out.sort_values(["station", "credit", "officer_id"], ascending=[True, False, True])
    return out.reset_index(drop=True)


def team_credit(
    collab: pd.DataFrame,
    *,
    period: str | pd.Period | None = None,
    case_credit: float | Mapping[str, float] | pd.Series = 1.0,
) -> pd.DataFrame:
    """Team credit per station: the credit of all cases it handled.

    Returns
    -------
    pandas.DataFrame
        ``station``, ``n_cases``, ``n_officers`` (distinct participants),
        ``team_credit``, ``mean_participants`` (officers per case), sorted by
        team credit (highest first).
    """
    rows = _in_period(collab, period)
    credit = _case_credit(rows, case_credit)
    cases = (
        rows.assign(credit=credit)
        .groupby("case_id")
        .agg(station=("station", "first"), credit=("credit", "first"), participants=("officer_id", "size"))
    )
    out = cases.groupby("station").agg(
        n_cases=("credit", "size"), team_credit=("credit", "sum"), mean_participants=("participants", "mean")
    )
    out.insert(1, "n_officers", rows.groupby("station")["officer_id"].nunique())
    out = out.reset_index().sort_values(["team_credit", "station"], ascending=[False, True])
    return out.reset_index(drop=True)[["station", "n_cases", "n_officers", "team_credit", "mean_participants"]]


def trailing_months(period: str | pd.Period, n: int = 12) -> list[str]:
    """The ``n`` months ending with the last month of ``period``, oldest first.

    Examples
    --------
    >>> trailing_months("2025Q1", 4)
    ['2024-12', '2025-01', '2025-02', '2025-03']
    """
    last = months_in(period)[-1]
    return [str(last - k) for k in range(n - 1, -1, -1)]


def collaboration_summary(collab: pd.DataFrame, *, period: str | pd.Period | None = None) -> dict[str, float]:
    """Key numbers of the collaborations in a period.

    Returns
    -------
    dict
        ``n_cases``, ``n_stations``, ``n_officers`` (distinct participants) and
        ``mean_participants`` (officers per case; NaN without cases).
    """
    rows = _in_period(collab, period)
    n_cases = rows["case_id"].nunique()
    return {
        "n_cases": int(n_cases),
        "n_stations": int(rows["station"].nunique()),
        "n_officers": int(rows["officer_id"].nunique()),
        "mean_participants": len(rows) / n_cases if n_cases else float("nan"),
    }


def monthly_credit(
    collab: pd.DataFrame,
    units: pd.DataFrame,
    *,
    period: str | pd.Period | None = None,
    months: Sequence[str] | None = None,
    case_credit: float | Mapping[str, float] | pd.Series = 1.0,
) -> pd.DataFrame:
    """Credit of every officer in every month, zero when they took part in no case.

    The months are ``months`` if given (e.g. :func:`trailing_months`), else those
    of ``period``, else all months present in ``collab``; months in which no
    collaborative case at all is recorded are taken as not covered by the data and
    left out. The team is the officer's home station (``parent_id`` in ``units``).

    Returns
    -------
    pandas.DataFrame
        ``officer_id``, ``station``, ``period``, ``credit`` — the panel that
        :func:`variance_decomposition` splits into team, individual and noise.
    """
    if months is not None:
        months = [str(parse_month(m)) for m in months]
    elif period is not None:
        months = [str(m) for m in months_in(period)]
    else:
        months = sorted(collab["period"].unique())
    months = [m for m in months if m in set(collab["period"])]
    rows = collab[collab["period"].isin(months)]
    if not months:
        raise CollaborationError("no collaborative cases to analyse; check the period and the file")
    home, _ = _officers_and_stations(units)
    credit = (
        rows.assign(credit=rows["contribution_share"] * _case_credit(rows, case_credit))
        .groupby(["officer_id", "period"])["credit"]
        .sum()
    )
    grid = pd.MultiIndex.from_product([home.index, months], names=["officer_id", "period"])
    out = credit.reindex(grid, fill_value=0.0).reset_index()
    out.insert(1, "station", out["officer_id"].map(home))
    return out


def planted_team_shares(folder: str | Path) -> dict[str, float]:
    """The team shares planted in a sample written by :mod:`perfmodel.simulate`.

    Returns ``{}`` unless ``folder/parameters.json`` says the data were simulated.
    Otherwise: ``collaboration_credit`` — the team share of the officers' expected
    collaborative credit (:class:`~perfmodel.simulate.CollaborationEffects`, when
    ``collaborations.csv`` is there) — and ``officer_performance`` — the share of
    the station in officers' true performance (``officer_icc``).
    """
    import json

    from perfmodel.simulate import COLLABORATION_EFFECTS

    path = Path(folder) / "parameters.json"
    if not path.is_file():
        return {}
    try:
        parameters = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not str(parameters.get("generator", "")).startswith("perfmodel.simulate"):
        return {}
    out: dict[str, float] = {}
    if (Path(folder) / "collaborations.csv").is_file():
        out["collaboration_credit"] = COLLABORATION_EFFECTS.team_share
    icc = parameters.get("effects", {}).get("officer_icc")
    if icc is not None:
        out["officer_performance"] = float(icc)
    return out


# ---------------------------------------------------------------- variance decomposition
@dataclass(frozen=True)
class VarianceShare:
    """Variance components of an outcome: team, individual, team × period and residual.

    Attributes
    ----------
    outcome
        What was decomposed.
    method
        ``mixedlm`` (REML) or ``anova`` (balanced method of moments).
    team, individual
        Persistent differences between teams and between officers of a team.
        Without repeated observations per officer the individual component is the
        residual (it then includes measurement noise).
    residual
        Period-to-period noise of an officer (NaN without repeated observations).
    team_period
        Shocks shared by a team in one period (a busy month for the whole station);
        NaN unless a period column was given.
    n_teams, n_individuals, n_observations
        Sizes.
    converged
        Whether the optimiser reported convergence (always ``True`` for ANOVA).
    """

    outcome: str
    method: str
    team: float
    individual: float
    residual: float
    n_teams: int
    n_individuals: int
    n_observations: int
    team_period: float = float("nan")
    converged: bool = True

    @property
    def team_share(self) -> float:
        """``team / (team + individual)``: the team's part of the persistent differences.

        Negative (ANOVA) components count as zero.
        """
        team, individual = max(self.team, 0.0), max(self.individual, 0.0)
        return team / (team + individual) if team + individual > 0 else float("nan")

    @property
    def team_share_total(self) -> float:
        """The team's part of all variance, shocks and noise included."""
        parts = [max(v, 0.0) for v in (self.team, self.individual, self.team_period, self.residual) if not np.isnan(v)]
        return max(self.team, 0.0) / sum(parts) if sum(parts) > 0 else float("nan")


def _prepared(
    frame: pd.DataFrame,
    outcome: str,
    team: str,
    individual: str | None,
    period: str | None = None,
    adjust_for: Sequence[str] = (),
) -> pd.DataFrame:
    if period is not None and individual is None:
        raise CollaborationError(
            "a period column needs an individual column too (repeated observations of each officer)"
        )
    needed = [outcome, team, *(c for c in (individual, period) if c), *adjust_for]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise CollaborationError(
            f"column(s) {', '.join(map(repr, missing))} not in the data; it has {', '.join(map(str, frame.columns))}"
        )
    y = pd.to_numeric(frame[outcome], errors="coerce")
    bad = y.isna() & frame[outcome].notna()
    if bad.any():
        raise CollaborationError(
            f"column {outcome!r} is not numeric in {bad.sum()} row(s) (positions "
            f"{', '.join(map(str, np.flatnonzero(bad.to_numpy())[:_MAX_LISTED]))}); "
            "give numbers or leave the cell empty"
        )
    data = pd.DataFrame({"y": y, "team": frame[team].astype(str)})
    if individual:
        data["individual"] = frame[team].astype(str) + "/" + frame[individual].astype(str)
    if period:
        data["period"] = frame[period].astype(str)
    for i, column in enumerate(adjust_for):
        data[f"x{i}"] = frame[column].astype(str)
    data = data[data["y"].notna() & frame[team].notna()]
    if data["team"].nunique() < 2:
        raise CollaborationError(
            f"need at least two teams (values of {team!r}) to separate team from individual variance"
        )
    return data.reset_index(drop=True)


def variance_decomposition(
    frame: pd.DataFrame,
    outcome: str,
    team: str,
    individual: str | None = None,
    *,
    period: str | None = None,
    adjust_for: Sequence[str] = (),
) -> VarianceShare:
    """Split the variance of ``outcome`` into team and individual parts (MixedLM, REML).

    Parameters
    ----------
    frame
        One row per observation.
    outcome
        Numeric column to decompose (a score, or a monthly credit).
    team
        Column naming the team (station) of each row: random intercept.
    individual
        Column naming the officer, when officers are observed repeatedly (e.g.
        monthly): a variance component nested in the team, so that
        period-to-period noise goes to the residual and not to the officer.
    period
        Column naming the period of repeated observations: a team × period
        variance component, so that shocks shared by a whole team in one month
        (with monthly credit: the station's number of cases that month) are not
        counted as a persistent team effect.
    adjust_for
        Categorical columns entered as fixed effects (e.g. ``role`` when
        scores of several role frameworks are pooled).

    Returns
    -------
    VarianceShare
        ``method="mixedlm"``; ``converged`` is ``False`` when statsmodels warned
        that the fit did not converge or ended on the boundary (a zero component).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> team = np.repeat(np.arange(40), 5)
    >>> y = rng.normal(0, 1, 40)[team] + rng.normal(0, 1, 200)
    >>> share = variance_decomposition(pd.DataFrame({"y": y, "t": team}), "y", "t").team_share
    >>> 0.25 < share < 0.75
    True
    """
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = _prepared(frame, outcome, team, individual, period, adjust_for)
    rhs = " + ".join(["1", *[f"C(x{i})" for i in range(len(adjust_for))]])
    components = {"individual": "0 + C(individual)"} if individual else {}
    if period:
        components["period"] = "0 + C(period)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = smf.mixedlm(f"y ~ {rhs}", data, groups=data["team"], re_formula="1", vc_formula=components or None)
        fit = model.fit(reml=True)
    trouble = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    vc = dict(zip(model.exog_vc.names, np.asarray(fit.vcomp, dtype=float), strict=True)) if components else {}
    if individual:
        individual_var, residual = vc["individual"], float(fit.scale)
    else:
        individual_var, residual = float(fit.scale), float("nan")
    return VarianceShare(
        outcome=outcome,
        method="mixedlm",
        team=float(np.asarray(fit.cov_re)[0, 0]),
        individual=individual_var,
        residual=residual,
        team_period=vc.get("period", float("nan")),
        n_teams=int(data["team"].nunique()),
        n_individuals=int(data["individual"].nunique()) if individual else len(data),
        n_observations=len(data),
        converged=bool(fit.converged) and not trouble,
    )


def _balanced_error(what: str) -> CollaborationError:
    return CollaborationError(
        f"ANOVA estimates need balanced data: {what}; use variance_decomposition for unbalanced data"
    )


@dataclass(frozen=True)
class _TeamStatistics:
    """Per-team sufficient statistics of a balanced design (arrays over teams)."""

    mean: np.ndarray
    ss_individual: np.ndarray  # one-way: the within-team sum of squares
    ss_period: np.ndarray | None
    ss_residual: np.ndarray | None
    b: int  # officers per team (1 for one-way)
    n: int  # rows per officer (one-way: rows per team)


def _team_statistics(data: pd.DataFrame, individual: bool, period: bool) -> _TeamStatistics:
    """Sums of squares per team; raises when the design is not balanced."""
    sizes = data.groupby("team").size()
    team_mean = data.groupby("team")["y"].transform("mean")

    def by_team(values: pd.Series) -> np.ndarray:
        return values.groupby(data["team"]).sum().reindex(sizes.index).to_numpy()

    mean = data.groupby("team")["y"].mean().reindex(sizes.index).to_numpy()
    if not individual:
        if sizes.nunique() != 1:
            raise _balanced_error(f"teams have {sizes.min()} to {sizes.max()} rows")
        return _TeamStatistics(mean, by_team((data["y"] - team_mean) ** 2), None, None, 1, int(sizes.iloc[0]))
    per_team = data.groupby("team")["individual"].nunique()
    per_individual = data.groupby("individual").size()
    if per_team.nunique() != 1 or per_individual.nunique() != 1:
        raise _balanced_error("every team needs the same number of officers and every officer the same number of rows")
    cell = data.groupby("individual")["y"].transform("mean")
    ss_individual = by_team((cell - team_mean) ** 2)
    if not period:
        return _TeamStatistics(
            mean,
            ss_individual,
            None,
            by_team((data["y"] - cell) ** 2),
            int(per_team.iloc[0]),
            int(per_individual.iloc[0]),
        )
    if (
        data.groupby(["team", "period"]).size().nunique() != 1
        or data.groupby(["individual", "period"]).size().max() != 1
    ):
        raise _balanced_error("every officer needs exactly one row in every period")
    shock = data.groupby(["team", "period"])["y"].transform("mean")
    return _TeamStatistics(
        mean,
        ss_individual,
        by_team((shock - team_mean) ** 2),
        by_team((data["y"] - cell - shock + team_mean) ** 2),
        int(per_team.iloc[0]),
        int(per_individual.iloc[0]),
    )


def _components(stats: _TeamStatistics, teams: np.ndarray | None = None) -> dict[str, float]:
    """ANOVA estimates from the statistics of the teams ``teams`` (all by default)."""
    pick = np.arange(len(stats.mean)) if teams is None else teams
    mean, a, b, n = stats.mean[pick], len(pick), stats.b, stats.n
    ms_team = b * n * ((mean - mean.mean()) ** 2).sum() / (a - 1)
    if stats.ss_residual is None:
        msw = stats.ss_individual[pick].sum() / (a * (n - 1))
        return {"team": (ms_team - msw) / n, "individual": msw}
    ms_individual = stats.ss_individual[pick].sum() / (a * (b - 1))
    if stats.ss_period is None:
        mse = stats.ss_residual[pick].sum() / (a * b * (n - 1))
        return {"team": (ms_team - ms_individual) / (b * n), "individual": (ms_individual - mse) / n, "residual": mse}
    ms_period = stats.ss_period[pick].sum() / (a * (n - 1))
    mse = stats.ss_residual[pick].sum() / (a * (b - 1) * (n - 1))
    return {
        "team": (ms_team - ms_individual - ms_period + mse) / (b * n),
        "individual": (ms_individual - mse) / n,
        "team_period": (ms_period - mse) / b,
        "residual": mse,
    }


def anova_components(
    frame: pd.DataFrame, outcome: str, team: str, individual: str | None = None, *, period: str | None = None
) -> VarianceShare:
    """Classical ANOVA estimates of the variance components for **balanced** data.

    With ``a`` teams, ``b`` officers per team and ``n`` rows (periods) per officer:

    - one-way (``individual=None``, ``n`` rows per team): ``σ²_individual = MSW``,
      ``σ²_team = (MSB − MSW) / n``;
    - nested: ``σ²_residual = MSE``, ``σ²_individual = (MS_officer − MSE) / n``,
      ``σ²_team = (MS_team − MS_officer) / (b n)``;
    - nested with periods crossed within teams (one row per officer and period):
      ``σ²_residual = MSE``, ``σ²_individual = (MS_officer − MSE) / n``,
      ``σ²_team×period = (MS_period − MSE) / b``,
      ``σ²_team = (MS_team − MS_officer − MS_period + MSE) / (b n)``.

    The estimates can be negative (a sign that the component is zero); REML
    (:func:`variance_decomposition`) gives the same values when they are positive.

    Raises
    ------
    CollaborationError
        When the data are not balanced.
    """
    data = _prepared(frame, outcome, team, individual, period)
    stats = _team_statistics(data, individual is not None, period is not None)
    parts = {k: float(v) for k, v in _components(stats).items()}
    return VarianceShare(
        outcome,
        "anova",
        team=parts["team"],
        individual=parts["individual"],
        residual=parts.get("residual", float("nan")),
        team_period=parts.get("team_period", float("nan")),
        n_teams=len(stats.mean),
        n_individuals=len(stats.mean) * stats.b if individual else len(data),
        n_observations=len(data),
    )


def team_share_interval(
    frame: pd.DataFrame,
    outcome: str,
    team: str,
    individual: str | None = None,
    *,
    period: str | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    rng: RngLike = None,
) -> tuple[float, float]:
    """Bootstrap interval of the team share, resampling whole teams (balanced data).

    Each replicate draws as many teams as there are, with replacement, and
    recomputes the ANOVA estimates (:func:`anova_components`); negative
    components count as zero. Returns the ``(1 − confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of the replicates' team shares. ``rng``: an int
    seed, a Generator or None (:mod:`perfmodel.randomness`).
    """
    confidence = check_confidence(confidence)
    data = _prepared(frame, outcome, team, individual, period)
    stats = _team_statistics(data, individual is not None, period is not None)
    rng = as_generator(rng)
    a = len(stats.mean)
    shares = np.empty(n_boot)
    for k in range(n_boot):
        parts = _components(stats, rng.integers(0, a, a))
        team_var, individual_var = max(parts["team"], 0.0), max(parts["individual"], 0.0)
        shares[k] = team_var / (team_var + individual_var) if team_var + individual_var > 0 else np.nan
    low, high = np.nanquantile(shares, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def variance_table(results: Sequence[VarianceShare], lang: str = "zh") -> pd.DataFrame:
    """One row per decomposition: components, team share and sizes, for a report."""
    check_lang(lang)
    rows = []
    for r in results:
        rows.append(
            {
                say("monitor.team.outcome", lang): r.outcome,
                say("monitor.team.method", lang): r.method,
                say("monitor.team.team_variance", lang): r.team,
                say("monitor.team.individual_variance", lang): r.individual,
                say("monitor.team.team_month_variance", lang): r.team_period,
                say("monitor.team.noise_variance", lang): r.residual,
                say("monitor.team.team_share", lang): r.team_share,
                say("monitor.team.team_share_of_total", lang): r.team_share_total,
                say("monitor.team.teams", lang): r.n_teams,
                say("monitor.team.officers", lang): r.n_individuals,
                say("monitor.team.observations", lang): r.n_observations,
                say("monitor.team.converged", lang): r.converged,
            }
        )
    return pd.DataFrame(rows)


def credit_table(credits: pd.DataFrame, teams: pd.DataFrame, lang: str = "zh", top: int = 3) -> pd.DataFrame:
    """Individual credit of the officers of the ``top`` stations with the most team credit, for a report.

    Parameters
    ----------
    credits
        :func:`credit_split` output (with units, so every officer is listed).
    teams
        :func:`team_credit` output (sorted by team credit, highest first).
    lang
        Language of the column names.
    top
        Stations shown.

    Returns
    -------
    pandas.DataFrame
        The :func:`credit_split` columns with localised names; the last column is
        the officer's share of the team credit (a fraction, to show as a percentage).
    """
    check_lang(lang)
    labels = {
        "officer_id": say("monitor.team.officer", lang),
        "name": say("monitor.team.name", lang),
        "station": say("monitor.team.station", lang),
        "n_cases": say("monitor.team.cases", lang),
        "credit": say("monitor.team.individual_credit", lang),
        "team_credit": say("monitor.team.team_credit", lang),
        "team_share": say("monitor.team.share_of_team_credit", lang),
    }
    shown = credits[credits["station"].isin(teams["station"].head(top))]
    if shown["name"].isna().all():  # names only when credit_split was asked for them
        del labels["name"]
    return shown[list(labels)].rename(columns=labels)


# ---------------------------------------------------------------- figures
def figure_team_credit(credits: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh", top: int = 15) -> Axes:
    """Stacked bars: each station's team credit split into its officers' individual credit.

    ``credits`` is :func:`credit_split` output; the ``top`` stations with the most
    team credit are shown.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    teams = credits.groupby("station")["credit"].sum().sort_values(ascending=False).head(top)
    ax = report_axes(ax, figsize=(9, 4.5))
    cmap = plt.get_cmap("tab20")
    for x, station in enumerate(teams.index):
        parts = credits[credits["station"] == station].sort_values("credit", ascending=False)
        bottom = 0.0
        for k, value in enumerate(parts["credit"]):
            ax.bar(x, value, bottom=bottom, color=cmap(k % 20), edgecolor="white", lw=0.5)
            bottom += value
    ax.set_xticks(range(len(teams)), teams.index, rotation=45, ha="right")
    ax.set_title(t["credit_title"])
    ax.set_xlabel(t["credit_x"])
    ax.set_ylabel(t["credit_y"])
    return ax


def figure_variance_shares(
    results: Sequence[VarianceShare],
    *,
    ax: Axes | None = None,
    lang: str = "zh",
    labels: Sequence[str] | None = None,
    planted: Mapping[int, float] | None = None,
    intervals: Mapping[int, tuple[float, float]] | None = None,
    confidence: float = 0.95,
) -> Axes:
    """Team versus individual share of the persistent differences, one bar per outcome.

    Period shocks and noise are left out (they are in :func:`variance_table`).
    ``planted`` maps a result's position to a known true team share (a black
    tick), ``intervals`` to a (low, high) interval of the team share (a whisker) of coverage
    ``confidence`` (named in the legend).

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    labels = list(labels) if labels is not None else [r.outcome for r in results]
    ax = report_axes(ax, figsize=(8, 0.8 * len(results) + 1.8))
    planted, intervals = dict(planted or {}), dict(intervals or {})
    for y, r in enumerate(results):
        share = 0.0 if np.isnan(r.team_share) else r.team_share
        ax.barh(y, share, color="#4d7ea8", label=t["team"] if y == 0 else None)
        ax.barh(y, 1 - share, left=share, color="#f4a582", label=t["individual"] if y == 0 else None)
        ax.text(0.01, y, f"{r.team_share:.0%}", va="center", fontsize=9, color="white")
        if y in intervals:
            low, high = intervals[y]
            ax.plot(
                [low, high],
                [y, y],
                color="#333333",
                lw=1.2,
                label=t["interval"].format(pct=f"{confidence:.0%}") if y == min(intervals) else None,
            )
            for end in (low, high):
                ax.plot([end, end], [y - 0.12, y + 0.12], color="#333333", lw=1.2)
        if y in planted:
            ax.plot(
                [planted[y]] * 2,
                [y - 0.4, y + 0.4],
                color="black",
                lw=2.2,
                label=t["planted"] if y == min(planted) else None,
            )
    ax.set_yticks(range(len(results)), labels)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4)
    ax.set_title(t["variance_title"])
    ax.set_xlabel(t["variance_x"])
    ax.set_ylabel(t["variance_y"])
    return ax
