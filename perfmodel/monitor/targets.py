"""Reform-target tracking (R21): staged targets, progress, on-track status and forecasts.

Seed 004 sets staged reform targets (2023–2025 / 2026–2028 / 2029–2030): citizen
satisfaction ≥ 95 % by 2030, grassroots police share 45 % → 60 % by 2026, rural
police per 10,000 residents 12 → 20, full online service 80 %, processing within
3 working days, complaint rate −50 % and more. A targets file
(``perfmodel/data/reform_targets.yaml``, schema below) declares them; an observed
series (``indicator, period, value``) records where the bureau stands.

* :func:`load_targets`, :func:`targets_from_dict` — read and validate a targets
  file (:class:`TargetError` names the target, the field and the fix);
* :func:`read_progress` — read and validate the observed series;
* :func:`planned_value` — the staged path: linear from baseline to target, or
  piecewise linear through the milestones;
* :func:`forecast` — the value at a future date from the observed trend, with a
  prediction interval: ordinary least squares on time (default) or Holt's
  linear exponential smoothing (``statsmodels`` ETS);
* :func:`progress_table` — per target: progress made, where the staged path says
  it should be, status (achieved / on track / at risk / off track), the forecast
  at the deadline and the probability of meeting the target.

Years are read as their end: a baseline of 2022 is the value at the end of 2022,
a deadline of 2026 means by 31 December 2026, a milestone of 2028 the value due at
the end of 2028. Observed periods (``2024``, ``2024Q2``, ``2024-06``) are placed
at the end of the period too.

Targets file schema::

    id: seed004_reform_targets
    name: {zh: …, en: …}
    source: where the targets come from
    targets:
      - indicator: grassroots_police_share      # unique id, used in the observed series
        name: {zh: 基层派出所警力占比, en: …}
        unit: share                             # share (0–1), per_10000, working_days, index, rate …
        direction: higher                       # higher | lower is better
        baseline: {year: 2022, value: 0.45}     # value: null = take the observed value of that year
        target: 0.60                            # or target_change: -0.5 (relative to the baseline)
        deadline: 2026
        path: milestones                        # linear | milestones (default: milestones if any)
        milestones: [{year: 2023, value: 0.55}]
        note: seed 004 §8.1–8.2
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.errors import PerfmodelError, UnknownKeyError, check_confidence
from perfmodel.periods import PeriodError, parse_period
from perfmodel.randomness import RngLike, as_generator
from perfmodel.text import check_lang, has_message, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_PROGRESS",
    "DEFAULT_TARGETS",
    "STATUSES",
    "Forecast",
    "Milestone",
    "Target",
    "TargetError",
    "TargetSet",
    "figure_progress_overview",
    "figure_targets",
    "forecast",
    "load_targets",
    "planned_value",
    "progress_report_table",
    "progress_table",
    "read_progress",
    "status_label",
    "synthetic_progress",
    "targets_from_dict",
    "targets_table",
    "to_time",
]

_DATA = Path(__file__).resolve().parents[1] / "data"
DEFAULT_TARGETS = _DATA / "reform_targets.yaml"
"""The shipped targets file: seed 004's reform targets."""
DEFAULT_PROGRESS = _DATA / "reform_progress_sample.csv"
"""A small **synthetic** observed series for the shipped targets (for demonstrations and tests)."""

STATUSES: tuple[str, ...] = ("achieved", "on_track", "at_risk", "off_track", "no_data")
_TOP_KEYS = {"id", "name", "source", "description", "targets"}
_TARGET_KEYS = {
    "indicator",
    "name",
    "unit",
    "direction",
    "baseline",
    "target",
    "target_change",
    "deadline",
    "path",
    "milestones",
    "note",
}


class TargetError(PerfmodelError, ValueError):
    """A targets file or observed series that cannot be used; the message says where and how to fix it."""


@dataclass(frozen=True)
class Milestone:
    """A staged value due by the end of ``year``."""

    year: int
    value: float


@dataclass(frozen=True)
class Target:
    """One reform target (see the module docstring for the file schema)."""

    indicator: str
    name_zh: str
    name_en: str
    unit: str
    direction: Literal["higher", "lower"]
    baseline_year: int
    baseline_value: float | None
    deadline: int
    target: float | None = None
    target_change: float | None = None
    path: Literal["linear", "milestones"] = "linear"
    milestones: tuple[Milestone, ...] = ()
    note: str = ""

    def name(self, lang: str = "zh") -> str:
        """The target's name in ``lang``."""
        check_lang(lang)
        return self.name_en if lang == "en" else self.name_zh

    def resolved(self, baseline: float) -> tuple[float, float]:
        """(baseline, target value) once the baseline is known."""
        value = self.target if self.target is not None else baseline * (1.0 + float(self.target_change))
        return baseline, float(value)

    def meets(self, value: float, goal: float) -> bool:
        """Whether ``value`` meets the goal in this target's direction."""
        return value >= goal - 1e-12 if self.direction == "higher" else value <= goal + 1e-12

    def oriented(self, value: float | np.ndarray) -> float | np.ndarray:
        """``value`` with "lower is better" turned into "higher is better"."""
        return value if self.direction == "higher" else -np.asarray(value)


@dataclass(frozen=True)
class TargetSet:
    """A validated targets file."""

    id: str
    name_zh: str
    name_en: str
    source: str
    targets: tuple[Target, ...]

    def get(self, indicator: str) -> Target:
        """The target of ``indicator``."""
        for target in self.targets:
            if target.indicator == indicator:
                return target
        raise UnknownKeyError(f"no target for indicator {indicator!r}; known: {', '.join(self.indicators)}")

    @property
    def indicators(self) -> list[str]:
        return [t.indicator for t in self.targets]


# ----------------------------------------------------------------------------- reading targets
def _where(source: str, index: int | None = None, indicator: object = None) -> str:
    if index is None:
        return source
    label = f" ({indicator!r})" if indicator else ""
    return f"{source}, target {index + 1}{label}"


def _unknown_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TargetError(f"{where}: unknown key(s) {', '.join(hints)}; allowed keys: {', '.join(sorted(allowed))}")


def _number(value: object, where: str, name: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise TargetError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def _year(value: object, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200:
        raise TargetError(f"{where}: {name} must be a year such as 2026, got {value!r}")
    return int(value)


def _target_from_dict(raw: Any, index: int, source: str) -> Target:
    if not isinstance(raw, Mapping):
        raise TargetError(f"{_where(source, index)}: each target must be a mapping of keys, got {raw!r}")
    where = _where(source, index, raw.get("indicator"))
    _unknown_keys(raw, _TARGET_KEYS, where)
    for key in ("indicator", "name", "direction", "baseline", "deadline"):
        if key not in raw:
            raise TargetError(f"{where}: missing required key {key!r}")
    indicator = raw["indicator"]
    if not isinstance(indicator, str) or not indicator.strip() or not indicator.replace("_", "").isalnum():
        raise TargetError(f"{where}: indicator must be an identifier such as 'grassroots_police_share'")
    name = raw["name"]
    if isinstance(name, str):
        name = {"zh": name, "en": name}
    if not isinstance(name, Mapping) or not name.get("zh"):
        raise TargetError(f"{where}: name must give at least the Chinese name, e.g. name: {{zh: 群众满意度, en: …}}")
    _unknown_keys(name, {"zh", "en"}, f"{where}, name (quote a name that contains a comma)")
    direction = raw["direction"]
    if direction not in ("higher", "lower"):
        raise TargetError(f"{where}: direction must be 'higher' or 'lower' (which way is better), got {direction!r}")
    baseline = raw["baseline"]
    if not isinstance(baseline, Mapping) or "year" not in baseline:
        raise TargetError(f"{where}: baseline must be a mapping with 'year' and 'value' (value may be null)")
    _unknown_keys(baseline, {"year", "value"}, f"{where}, baseline")
    baseline_year = _year(baseline["year"], where, "baseline.year")
    baseline_value = _number(baseline.get("value"), where, "baseline.value", allow_none=True)
    deadline = _year(raw["deadline"], where, "deadline")
    if deadline <= baseline_year:
        raise TargetError(f"{where}: deadline {deadline} must come after the baseline year {baseline_year}")
    has_target, has_change = raw.get("target") is not None, raw.get("target_change") is not None
    if has_target == has_change:
        raise TargetError(
            f"{where}: give exactly one of 'target' (the value to reach) or 'target_change' "
            "(a change relative to the baseline, e.g. -0.5 for −50 %)"
        )
    target = _number(raw.get("target"), where, "target", allow_none=True)
    change = _number(raw.get("target_change"), where, "target_change", allow_none=True)
    if change is not None:
        if change <= -1.0:
            raise TargetError(f"{where}: target_change {change} would take the value to zero or below")
        if (change > 0) != (direction == "higher") or change == 0:
            raise TargetError(
                f"{where}: target_change {change:+g} points the wrong way for direction {direction!r}; "
                "use a positive change for 'higher', a negative one for 'lower'"
            )
    milestones = _milestones(raw.get("milestones") or [], where, baseline_year, deadline)
    path = raw.get("path") or ("milestones" if milestones else "linear")
    if path not in ("linear", "milestones"):
        raise TargetError(f"{where}: path must be 'linear' or 'milestones', got {path!r}")
    if path == "milestones" and not milestones:
        raise TargetError(f"{where}: path 'milestones' needs a milestones list; use path: linear otherwise")
    unit = str(raw.get("unit") or "")
    out = Target(
        indicator=indicator,
        name_zh=str(name["zh"]),
        name_en=str(name.get("en") or name["zh"]),
        unit=unit,
        direction=direction,
        baseline_year=baseline_year,
        baseline_value=baseline_value,
        deadline=deadline,
        target=target,
        target_change=change,
        path=path,
        milestones=milestones,
        note=str(raw.get("note") or ""),
    )
    _check_values(out, where)
    return out


def _milestones(raw: Any, where: str, first: int, last: int) -> tuple[Milestone, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise TargetError(f"{where}: milestones must be a list of {{year, value}} mappings")
    out = []
    for item in raw:
        if not isinstance(item, Mapping) or set(item) != {"year", "value"}:
            raise TargetError(f"{where}: each milestone needs exactly 'year' and 'value', got {item!r}")
        year = _year(item["year"], where, "milestone year")
        if not first < year < last:
            raise TargetError(
                f"{where}: milestone {year} must lie strictly between the baseline year {first} and the "
                f"deadline {last} (the deadline's value is the target itself)"
            )
        out.append(Milestone(year, float(_number(item["value"], where, f"milestone {year} value"))))
    years = [m.year for m in out]
    if years != sorted(set(years)):
        raise TargetError(f"{where}: milestone years must be increasing and not repeated, got {years}")
    return tuple(out)


def _check_values(t: Target, where: str) -> None:
    values = {
        "baseline.value": t.baseline_value,
        "target": t.target,
        **{f"milestone {m.year}": m.value for m in t.milestones},
    }
    if t.unit == "share":
        for key, value in values.items():
            if value is not None and not 0.0 <= value <= 1.0:
                raise TargetError(f"{where}: {key} {value:g} is outside 0–1 for unit 'share'; write 95 % as 0.95")
    if t.baseline_value is not None and t.target is not None and not t.meets(t.target, t.baseline_value):
        raise TargetError(
            f"{where}: target {t.target:g} is on the wrong side of the baseline {t.baseline_value:g} for "
            f"direction {t.direction!r}; check the direction or the numbers"
        )
    if t.baseline_value is not None:
        _, goal = t.resolved(t.baseline_value)
        chain = [t.baseline_value, *[m.value for m in t.milestones], goal]
        steps = np.diff(t.oriented(np.array(chain)))
        if np.any(steps < -1e-12):
            raise TargetError(
                f"{where}: the staged values {', '.join(f'{v:g}' for v in chain)} go backwards; each "
                "milestone must lie between the previous one and the target"
            )


def targets_from_dict(raw: Mapping[str, Any], source: str = "<targets>") -> TargetSet:
    """Validate a parsed targets file (see the module docstring for the schema)."""
    if not isinstance(raw, Mapping):
        raise TargetError(f"{source}: the file must be a mapping with a 'targets' list")
    _unknown_keys(raw, _TOP_KEYS, source)
    items = raw.get("targets")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise TargetError(f"{source}: 'targets' must be a non-empty list of targets")
    targets = tuple(_target_from_dict(item, i, source) for i, item in enumerate(items))
    seen: set[str] = set()
    for t in targets:
        if t.indicator in seen:
            raise TargetError(f"{source}: indicator {t.indicator!r} has more than one target; give each one target")
        seen.add(t.indicator)
    name = raw.get("name") or {}
    if isinstance(name, str):
        name = {"zh": name, "en": name}
    return TargetSet(
        id=str(raw.get("id") or Path(source).stem),
        name_zh=str(name.get("zh", "")),
        name_en=str(name.get("en", name.get("zh", ""))),
        source=str(raw.get("source") or ""),
        targets=targets,
    )


def load_targets(path: str | Path | None = None) -> TargetSet:
    """Read and validate a targets YAML file (default: the shipped seed-004 targets)."""
    import yaml

    file = Path(path) if path else DEFAULT_TARGETS
    if not file.is_file():
        raise TargetError(f"targets file {file} does not exist; give the path of a YAML targets file")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TargetError(f"{file.name} is not valid YAML: {exc}") from exc
    return targets_from_dict(raw, file.name)


# ----------------------------------------------------------------------------- observed series
def to_time(period: object) -> float:
    """Decimal year at the **end** of a period: ``2024`` → 2025.0, ``2024Q2`` and ``2024-06`` → ≈ 2024.5."""
    if isinstance(period, int | np.integer) and not isinstance(period, bool):
        return float(period) + 1.0
    p = parse_period(str(period))
    end = p.end_time.normalize() + pd.Timedelta(days=1)
    start_of_year = pd.Timestamp(year=end.year, month=1, day=1)
    days = 366 if end.is_leap_year else 365
    return end.year + (end - start_of_year).days / days


def _date(time: float | np.ndarray) -> pd.DatetimeIndex:
    """Decimal years (:func:`to_time`) as dates, for plotting."""
    t = np.atleast_1d(np.asarray(time, dtype=float))
    years = np.floor(t).astype(int)
    starts = pd.to_datetime([f"{y}-01-01" for y in years])
    lengths = np.where([pd.Timestamp(year=y, month=1, day=1).is_leap_year for y in years], 366, 365)
    return starts + pd.to_timedelta((t - years) * lengths, unit="D")


def _year_axis(ax) -> None:
    """Year bands on the x axis: ticks at 1 January, each year's label centred in its band."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter(""))
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=7, bymonthday=1))
    ax.xaxis.set_minor_formatter(mdates.DateFormatter("%Y"))
    ax.tick_params(axis="x", which="minor", length=0)


def read_progress(data: str | Path | pd.DataFrame | None, targets: TargetSet) -> pd.DataFrame:
    """Read and validate an observed series of the targets' indicators.

    Parameters
    ----------
    data
        A CSV file (lines starting with ``#`` are comments) or a frame with
        columns ``indicator``, ``period`` (``2024``, ``2024Q2`` or ``2024-06``) and
        ``value``; ``None`` reads the shipped synthetic sample.
    targets
        The targets the series must belong to.

    Returns
    -------
    pandas.DataFrame
        ``indicator, period, value, time`` (decimal year at the period's end),
        sorted by indicator and time.

    Raises
    ------
    TargetError
        Naming the row (1 = first data row) and how to fix it.
    """
    if data is None:
        data = DEFAULT_PROGRESS
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.is_file():
            raise TargetError(f"observed series {path} does not exist")
        frame = pd.read_csv(path, comment="#", dtype=str, skipinitialspace=True)
        source = path.name
    else:
        frame, source = data.copy(), "observed series"
    missing = [c for c in ("indicator", "period", "value") if c not in frame.columns]
    if missing:
        raise TargetError(
            f"{source} lacks column(s) {', '.join(missing)}; it needs indicator, period and value "
            f"(found: {', '.join(map(str, frame.columns))})"
        )
    known = set(targets.indicators)
    rows = []
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        indicator = str(row.indicator).strip()
        where = f"{source}, row {i} ({indicator}, {row.period})"
        if indicator not in known:
            close = difflib.get_close_matches(indicator, sorted(known), n=1)
            raise TargetError(
                f"{where}: indicator {indicator!r} has no target"
                + (f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}")
            )
        try:
            time = to_time(str(row.period).strip())
        except PeriodError:
            raise TargetError(
                f"{where}: period {row.period!r} is not a year, quarter or month (write 2024, 2024Q2 or 2024-06)"
            ) from None
        try:
            value = float(row.value)
        except (TypeError, ValueError):
            raise TargetError(f"{where}: value {row.value!r} is not a number") from None
        if not math.isfinite(value):
            raise TargetError(f"{where}: value is missing; delete the row or fill it in")
        if targets.get(indicator).unit == "share" and not 0.0 <= value <= 1.0:
            raise TargetError(f"{where}: value {value:g} is a share and must be within 0–1; write 95 % as 0.95")
        rows.append({"indicator": indicator, "period": str(row.period).strip(), "value": value, "time": time})
    out = pd.DataFrame(rows, columns=["indicator", "period", "value", "time"])
    dup = out.duplicated(["indicator", "time"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise TargetError(
            f"{source}: indicator {first['indicator']!r} has two values for the period ending "
            f"with {first['period']}; keep one"
        )
    return out.sort_values(["indicator", "time"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- staged path
def _baseline(target: Target, observed: pd.DataFrame) -> float:
    if target.baseline_value is not None:
        return target.baseline_value
    own = observed[observed["indicator"] == target.indicator]
    in_year = own[(own["time"] > target.baseline_year) & (own["time"] <= target.baseline_year + 1.0 + 1e-9)]
    if in_year.empty:
        raise TargetError(
            f"target {target.indicator!r} takes its baseline from the observed series, which has no value in "
            f"{target.baseline_year}; add one or set baseline.value in the targets file"
        )
    return float(in_year.sort_values("time")["value"].iloc[-1])


def _path_points(target: Target, baseline: float) -> tuple[np.ndarray, np.ndarray]:
    _, goal = target.resolved(baseline)
    years = [target.baseline_year]
    values = [baseline]
    if target.path == "milestones":
        for m in target.milestones:
            years.append(m.year)
            values.append(m.value)
    years.append(target.deadline)
    values.append(goal)
    return np.array(years, dtype=float) + 1.0, np.array(values, dtype=float)


def planned_value(target: Target, time: float | np.ndarray, baseline: float | None = None) -> np.ndarray:
    """Where the staged path says the indicator should be at ``time`` (decimal years).

    Linear from the baseline (end of the baseline year) to the target (end of the
    deadline year), or piecewise linear through the milestones. Before the
    baseline the path is the baseline; after the deadline, the target.
    """
    base = target.baseline_value if baseline is None else baseline
    if base is None:
        raise TargetError(f"target {target.indicator!r} has no baseline value; pass baseline=")
    xs, ys = _path_points(target, float(base))
    return np.interp(np.asarray(time, dtype=float), xs, ys)


# ----------------------------------------------------------------------------- forecasting
@dataclass(frozen=True)
class Forecast:
    """A forecast at ``time`` with a prediction interval at ``confidence``."""

    time: float
    mean: float
    lower: float
    upper: float
    confidence: float
    method: str
    sd: float
    df: float = field(default=np.inf)

    def probability_at_least(self, value: float) -> float:
        """Predictive probability that the outcome is at least ``value``."""
        if not np.isfinite(self.sd) or self.sd <= 0:
            return float(self.mean >= value)
        dist = stats.t(self.df) if np.isfinite(self.df) else stats.norm()
        return float(1.0 - dist.cdf((value - self.mean) / self.sd))


def forecast(
    times: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    at: float | Sequence[float],
    *,
    method: Literal["ols", "holt"] = "ols",
    confidence: float = 0.95,
) -> list[Forecast]:
    """Forecast the series at future times from its observed trend.

    Parameters
    ----------
    times, values
        The observations (decimal years).
    at
        Time(s) to forecast.
    method
        ``ols``: straight line on time (statsmodels OLS) with the exact
        prediction interval for normal errors (parameter uncertainty included),
        needs 3 points; ``holt``: Holt's linear trend (ETS A,A,N), observations
        equally spaced, needs 6 points, interval from the ETS model. The ETS
        interval leaves out the uncertainty of the estimated trend, so far from the
        data it is too narrow: on 12 quarterly points of a known linear trend, the
        90 % interval 20 quarters ahead covered about half of the outcomes (OLS:
        89 %). Prefer ``ols`` for deadlines years away.
    confidence
        Coverage of the prediction interval.

    Raises
    ------
    ValueError
        Too few points, or unequal spacing for ``holt``.
    """
    import statsmodels.api as sm

    t = np.asarray(times, dtype=float)
    y = np.asarray(values, dtype=float)
    targets = np.atleast_1d(np.asarray(at, dtype=float))
    confidence = check_confidence(confidence)
    order = np.argsort(t)
    t, y = t[order], y[order]
    alpha = 1.0 - confidence
    if method == "ols":
        if len(t) < 3:
            raise TargetError(f"an OLS trend forecast needs at least 3 observations, got {len(t)}")
        fit = sm.OLS(y, sm.add_constant(t)).fit()
        exog = np.column_stack([np.ones_like(targets), targets])
        frame = fit.get_prediction(exog).summary_frame(alpha=alpha)
        sd = np.sqrt(fit.scale + frame["mean_se"].to_numpy() ** 2)
        return [
            Forecast(float(x), float(m), float(lo), float(hi), confidence, "ols", float(s), float(fit.df_resid))
            for x, m, lo, hi, s in zip(
                targets, frame["mean"], frame["obs_ci_lower"], frame["obs_ci_upper"], sd, strict=True
            )
        ]
    if method == "holt":
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        if len(t) < 6:
            raise TargetError(f"a Holt forecast needs at least 6 equally spaced observations, got {len(t)}")
        steps = np.diff(t)
        if not np.allclose(steps, steps.mean(), rtol=0.02, atol=0.01):
            raise TargetError("Holt's method needs equally spaced observations (e.g. every quarter); use method='ols'")
        spacing = float(steps.mean())
        horizon = np.maximum(np.round((targets - t[-1]) / spacing).astype(int), 1)
        fit = ETSModel(pd.Series(y, index=pd.RangeIndex(len(y))), error="add", trend="add").fit(disp=False)
        frame = fit.get_prediction(start=len(y), end=len(y) + int(horizon.max()) - 1).summary_frame(alpha=alpha)
        z = stats.norm.ppf(1 - alpha / 2)
        out = []
        for x, h in zip(targets, horizon, strict=True):
            row = frame.iloc[h - 1]
            out.append(
                Forecast(
                    float(x),
                    float(row["mean"]),
                    float(row["pi_lower"]),
                    float(row["pi_upper"]),
                    confidence,
                    "holt",
                    float((row["pi_upper"] - row["pi_lower"]) / (2 * z)),
                )
            )
        return out
    raise TargetError(f"method must be 'ols' or 'holt', got {method!r}")


# ----------------------------------------------------------------------------- progress
def progress_table(
    targets: TargetSet,
    observed: pd.DataFrame,
    *,
    as_of: str | int | None = None,
    method: Literal["ols", "holt"] = "ols",
    confidence: float = 0.95,
    tolerance: float = 0.02,
) -> pd.DataFrame:
    """Progress of every target: how far, where it should be, status, forecast at the deadline.

    Parameters
    ----------
    observed
        :func:`read_progress` output.
    as_of
        Ignore observations after the end of this period (``2025``, ``2025Q2``).
    method, confidence
        Forecast method and prediction-interval coverage (:func:`forecast`).
    tolerance
        Share of the baseline-to-target distance a unit may lag the staged path
        and still count as on track.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``indicator, name, unit, direction, baseline,
        baseline_year, target, deadline, latest, latest_period, progress``
        (share of the distance covered), ``planned`` (staged value at the
        latest observation), ``planned_progress``, ``status`` (one of
        :data:`STATUSES`), ``forecast, forecast_lower, forecast_upper``
        (at the deadline), ``probability`` (of meeting the target by then),
        ``n``, ``note``.

    Status: *achieved* when the latest value meets the target; *on track* when it
    is at or ahead of the staged path (within ``tolerance``); otherwise *at risk*
    when the forecast at the deadline meets the target, *off track* when it does
    not.
    """
    cutoff = to_time(as_of) if as_of is not None else np.inf
    obs = observed[observed["time"] <= cutoff + 1e-9]
    rows = []
    for t in targets.targets:
        own = obs[obs["indicator"] == t.indicator].sort_values("time")
        row: dict[str, Any] = {
            "indicator": t.indicator,
            "name": t.name_zh,
            "name_en": t.name_en,
            "unit": t.unit,
            "direction": t.direction,
            "baseline_year": t.baseline_year,
            "deadline": t.deadline,
            "n": len(own),
            "note": t.note,
        }
        try:
            baseline = _baseline(t, obs)
        except TargetError:
            baseline = None
        if baseline is None or own.empty:
            rows.append({**row, "baseline": baseline, "target": t.target, "status": "no_data"})
            continue
        baseline, goal = t.resolved(baseline)
        latest = own.iloc[-1]
        planned = float(planned_value(t, latest["time"], baseline))
        distance = goal - baseline
        progress = (latest["value"] - baseline) / distance if distance else np.nan
        planned_progress = (planned - baseline) / distance if distance else np.nan
        deadline_time = t.deadline + 1.0
        fc = None
        try:
            fc = forecast(own["time"], own["value"], deadline_time, method=method, confidence=confidence)[0]
        except ValueError:
            fc = None
        if t.meets(float(latest["value"]), goal):
            status = "achieved"
        elif progress >= planned_progress - tolerance:
            status = "on_track"
        elif fc is not None and t.meets(fc.mean, goal):
            status = "at_risk"
        else:
            status = "off_track"
        probability = np.nan
        if fc is not None:
            p_high = fc.probability_at_least(goal)
            probability = p_high if t.direction == "higher" else 1.0 - p_high
        rows.append(
            {
                **row,
                "baseline": baseline,
                "target": goal,
                "latest": float(latest["value"]),
                "latest_period": latest["period"],
                "progress": progress,
                "planned": planned,
                "planned_progress": planned_progress,
                "status": status,
                "forecast": float(_clip(t, fc.mean)) if fc else np.nan,
                "forecast_lower": float(_clip(t, fc.lower)) if fc else np.nan,
                "forecast_upper": float(_clip(t, fc.upper)) if fc else np.nan,
                "probability": probability,
            }
        )
    columns = [
        "indicator",
        "name",
        "name_en",
        "unit",
        "direction",
        "baseline",
        "baseline_year",
        "target",
        "deadline",
        "latest",
        "latest_period",
        "progress",
        "planned",
        "planned_progress",
        "status",
        "forecast",
        "forecast_lower",
        "forecast_upper",
        "probability",
        "n",
        "note",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def _clip(target: Target, values: Sequence[float] | float) -> np.ndarray:
    """Values kept within 0–1 for shares (a trend line does not know a share stops at 100 %)."""
    array = np.asarray(values, dtype=float)
    return np.clip(array, 0.0, 1.0) if target.unit == "share" else array


def status_label(status: str, lang: str = "zh") -> str:
    """Readable text of a status in ``lang``."""
    check_lang(lang)
    key = f"monitor.targets.status.{status}"
    return say(key, lang) if has_message(key) else status


# ----------------------------------------------------------------------------- synthetic series
_SYNTHETIC_STARTS = {
    "citizen_satisfaction": 0.86,
    "new_type_crime_clearance": 0.62,
    "response_efficiency_index": 100.0,
    "complaint_rate": 12.0,
}
"""Made-up starting values for targets whose baseline seed 004 does not give (synthetic data only)."""


def synthetic_progress(
    targets: TargetSet,
    *,
    start: str = "2023Q1",
    end: str = "2025Q4",
    rng: RngLike = None,
    noise: float = 0.04,
    starts: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A made-up quarterly observed series for ``targets`` (clearly synthetic; for demonstrations).

    Each indicator starts near its baseline (or a made-up value from ``starts``
    when the baseline is taken from the data) and moves towards its target at a
    random pace between 0.4 and 1.3 times the staged path's average speed, with
    noise of ``noise`` × the baseline-to-target distance. Same arguments and an
    int ``rng``, same series (the shipped sample: ``rng=2025``).

    Returns
    -------
    pandas.DataFrame
        ``indicator, period, value, source`` (``synthetic``).
    """
    rng = as_generator(rng)
    quarters = pd.period_range(parse_period(start), parse_period(end), freq="Q")
    starts = {**_SYNTHETIC_STARTS, **dict(starts or {})}
    rows = []
    for t in targets.targets:
        base = t.baseline_value if t.baseline_value is not None else starts.get(t.indicator)
        if base is None:
            raise TargetError(f"no baseline for {t.indicator!r}; pass starts={{{t.indicator!r}: value}}")
        base, goal = t.resolved(base)
        pace = rng.uniform(0.4, 1.3)
        speed = (goal - base) / (t.deadline - t.baseline_year)
        spread = noise * abs(goal - base)
        for q in quarters:
            time = to_time(str(q))
            value = base + pace * speed * (time - (t.baseline_year + 1.0)) + rng.normal(0, spread)
            if t.unit == "share":
                value = float(np.clip(value, 0.0, 1.0))
            digits = 3 if abs(goal) < 2 else 1
            rows.append(
                {"indicator": t.indicator, "period": str(q), "value": round(value, digits), "source": "synthetic"}
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- figures
def _unit_text(unit: str, lang: str) -> str:
    key = f"monitor.targets.unit.{unit}"
    return say(key, lang) if has_message(key) else unit


def figure_targets(
    targets: TargetSet,
    observed: pd.DataFrame,
    table: pd.DataFrame,
    *,
    fig: Figure | None = None,
    method: Literal["ols", "holt"] = "ols",
    confidence: float = 0.95,
    lang: str = "zh",
    columns: int = 2,
) -> Figure:
    """Small multiples, one per target: observations, staged path, milestones, forecast band, target.

    Several axes: drawn on ``fig`` (an empty figure; default: a new one) after applying the
    report style (CJK font); returns the figure.
    """
    from perfmodel.report.style import report_subplots

    check_lang(lang)

    shown = [t for t in targets.targets if table.set_index("indicator").loc[t.indicator, "status"] != "no_data"]
    rows = max(1, math.ceil(len(shown) / columns))
    fig, axes = report_subplots(fig, rows, columns, figsize=(5.2 * columns, 3.3 * rows), squeeze=False)
    info = table.set_index("indicator")
    for ax, t in zip(axes.ravel(), shown, strict=False):
        own = observed[observed["indicator"] == t.indicator].sort_values("time")
        base, goal = float(info.loc[t.indicator, "baseline"]), float(info.loc[t.indicator, "target"])
        xs, ys = _path_points(t, base)
        ax.plot(_date(xs), ys, color="grey", ls="--", lw=1.2, label=say("monitor.targets.staged_path", lang))
        ax.scatter(_date(xs[1:-1]), ys[1:-1], marker="D", color="grey", s=22, zorder=3)
        ax.scatter(
            _date(own["time"]), own["value"], color="#2166ac", s=14, zorder=4, label=say("common.observed", lang)
        )
        grid = np.linspace(own["time"].iloc[-1], t.deadline + 1.0, 30)
        try:
            fcs = forecast(own["time"], own["value"], grid, method=method, confidence=confidence)
            lower, upper = _clip(t, [f.lower for f in fcs]), _clip(t, [f.upper for f in fcs])
            ax.plot(
                _date(grid),
                _clip(t, [f.mean for f in fcs]),
                color="#d6604d",
                lw=1.4,
                label=say("monitor.targets.forecast", lang),
            )
            ax.fill_between(
                _date(grid),
                lower,
                upper,
                color="#d6604d",
                alpha=0.18,
                label=say("monitor.targets.prediction_interval", lang, level=confidence),
            )
        except ValueError:
            pass
        _year_axis(ax)
        ax.axhline(goal, color="#1b7837", lw=1, label=say("monitor.targets.target", lang))
        status = status_label(str(info.loc[t.indicator, "status"]), lang)
        ax.set_title(say("monitor.targets.panel_title", lang, name=t.name(lang), status=status), fontsize=10)
        ax.set_xlabel(say("monitor.targets.year", lang))
        ax.set_ylabel(_unit_text(t.unit, lang))
    for ax in axes.ravel()[len(shown) :]:
        ax.set_visible(False)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(say("monitor.targets.reform_targets_progress_and_forecast", lang))
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig


def figure_progress_overview(table: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Bars: share of the baseline-to-target distance covered, against where the staged path is.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)

    zh = lang != "en"
    t = table[table["status"] != "no_data"].iloc[::-1]
    colours = {"achieved": "#1b7837", "on_track": "#7fbf7b", "at_risk": "#f4a582", "off_track": "#b2182b"}
    ax = report_axes(ax, figsize=(8, max(3.0, 0.45 * len(t) + 1.2)))
    names = t["name"] if zh else t["name_en"]
    ax.barh(names, t["progress"] * 100, color=t["status"].map(colours))
    ax.scatter(
        t["planned_progress"] * 100,
        names,
        marker="|",
        s=300,
        color="black",
        label=say("monitor.targets.where_the_staged_path_is", lang),
    )
    ax.axvline(100, color="#1b7837", lw=1)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    ax.set_title(say("monitor.targets.progress_of_the_baseline_to", lang))
    ax.set_xlabel(say("monitor.targets.progress_axis", lang))
    ax.set_ylabel(say("monitor.targets.target", lang))
    return ax


# ----------------------------------------------------------------------------- report tables
def _format_value(value: float | None, unit: str, lang: str) -> str:
    if value is None or not np.isfinite(value):
        return say("monitor.targets.from_the_data", lang)
    if unit == "share":
        return f"{value:.0%}" if abs(value * 100 - round(value * 100)) < 1e-9 else f"{value:.1%}"
    return f"{value:.4g}"


def targets_table(targets: TargetSet, lang: str = "zh") -> pd.DataFrame:
    """The targets as declared: baseline, staged milestones, target and deadline, with notes."""
    check_lang(lang)
    rows = []
    for t in targets.targets:
        goal = (
            _format_value(t.target, t.unit, lang)
            if t.target is not None
            else f"{t.target_change:+.0%}" + say("monitor.targets.vs_baseline", lang)
        )
        stages = "; ".join(f"{m.year}: {_format_value(m.value, t.unit, lang)}" for m in t.milestones)
        rows.append(
            {
                say("monitor.targets.target", lang): t.name(lang),
                say("monitor.targets.unit_header", lang): _unit_text(t.unit, lang),
                say("monitor.targets.better", lang): say(
                    f"monitor.targets.direction.{'higher' if t.direction == 'higher' else 'lower'}", lang
                ),
                say(
                    "monitor.targets.baseline", lang
                ): f"{_format_value(t.baseline_value, t.unit, lang)} ({t.baseline_year})",
                say("monitor.targets.milestones", lang): stages or say("monitor.targets.linear_path", lang),
                say("monitor.targets.goal", lang): goal,
                say("monitor.targets.deadline", lang): t.deadline,
                say("monitor.targets.source", lang): t.note,
            }
        )
    return pd.DataFrame(rows)


def progress_report_table(table: pd.DataFrame, confidence: float = 0.95, lang: str = "zh") -> pd.DataFrame:
    """:func:`progress_table` for the report: values formatted in their units, status in words."""
    check_lang(lang)
    zh = lang != "en"
    rows = []
    for r in table.itertuples(index=False):
        fmt = lambda v, u=r.unit: _format_value(v, u, lang)  # noqa: E731
        interval = (
            f"{fmt(r.forecast)} [{fmt(r.forecast_lower)}, {fmt(r.forecast_upper)}]" if np.isfinite(r.forecast) else "–"
        )
        rows.append(
            {
                say("monitor.targets.target", lang): r.name if zh else r.name_en,
                say("monitor.targets.baseline", lang): fmt(r.baseline),
                say("monitor.targets.latest", lang): f"{fmt(r.latest)} ({r.latest_period})"
                if np.isfinite(r.latest)
                else "–",
                say("monitor.targets.goal", lang): f"{fmt(r.target)} ({r.deadline})",
                say("monitor.targets.progress_header", lang): r.progress,
                say("monitor.targets.planned_progress", lang): r.planned_progress,
                say("monitor.targets.status_header", lang): status_label(r.status, lang),
                say("monitor.targets.forecast_at_deadline", lang, level=confidence): interval,
                say("monitor.targets.probability_of_meeting_it", lang): r.probability,
            }
        )
    return pd.DataFrame(rows)
