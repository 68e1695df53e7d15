"""Synthetic police stations and officers whose true performance is known.

:func:`simulate` builds a jurisdiction of districts, stations (派出所) and officers
(民警), gives every unit a latent true performance, and generates monthly
observations for every indicator of any framework from the indicator's
attributes alone (``kind``, ``direction``, ``goalposts``, ``range``, ``threshold``,
``source``, ``points``, ``denominator``, ``temporary``), so it works for user
frameworks as well as the shipped ones. The data follow the observation contract
(``docs/data-contract.md``) and come with the truth needed to test calibration
and fairness methods:

- ``truth_units``: the latent true performance of every unit, overall and per
  top-level dimension of each framework;
- ``truth_values``: per unit × month × indicator, the value the unit would show
  under average context and without measurement noise;
- ``defects``: the data defects injected on purpose, the ground truth for the
  validator.

Generating process (all effect sizes are in :class:`Effects`)
-------------------------------------------------------------
*Context.* Districts differ in urbanisation and difficulty. A station's area
type (城区核心 / 城乡结合部 / 农村) follows its district's urbanisation; its
population is lognormal; its monthly incident volume is population × an
area-specific incident rate × district difficulty × noise (治安派出所, stations for
transport hubs and commercial areas, have few residents and many incidents); its
headcount grows less than proportionally with incidents and some stations are
under-staffed, so load per officer varies. Station classes (一类/二类/三类) follow
population and incident-volume thresholds (:data:`CLASS_RULES`, R4).

*Truth.* Station performance θ ~ N(0, 1), mildly correlated with resources
(urban core, staffing) as it is in practice, plus a linear trend and an AR(1)
month-to-month fluctuation. Officer θ = √ICC · station θ + individual part (which
rises slightly with tenure). Each indicator's latent is θ + a deviation of the
unit on that indicator (keyed by the indicator id, not by the framework, so that an
indicator shared by several frameworks has the same data in each). Truth per
framework node is the weight-averaged latent of its indicators over the months.

*Observation.* An indicator's "goodness" in a month is its latent plus, when
``confounding=True``, uncontrollable context: load per officer, urban-rural
fringe, district difficulty, area type for citizen sources, seasonality
(summer incident peak, telecom-fraud peak in winter) and rater leniency. The
goodness is mapped onto the indicator's natural scale around a typical value set
from its goalposts: rates are Binomial(denominator, logistic(·)) with
denominators from workload (small rural stations have small denominators),
counts are overdispersed Poisson with exposure, durations are means of Gamma
case durations, scores are true score + rater effect + noise, clipped to the
range. ``confounding=False`` removes every context effect and keeps the noise.

Random numbers are drawn from streams keyed by the seed and by what they are
for (an indicator id, a level), so an indicator's data do not change when other
frameworks are added, and the same indicator id in two frameworks with the
same attributes has the same data.

Examples
--------
>>> from perfmodel.framework import load_framework
>>> s = simulate([load_framework("station_four_dimension")], stations=8, months=3,
...              officers_per_station=2, rng=1)
>>> sorted(s.observations)
['station_four_dimension']
>>> int((s.units["level"] == "station").sum())
8
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from perfmodel.columns import NUMERIC_CONTEXT
from perfmodel.errors import PerfmodelError, renamed_keywords
from perfmodel.framework import (
    Dimension,
    Framework,
    Indicator,
    Temporary,
    load_framework,
    shipped_frameworks,
)
from perfmodel.periods import parse_month, reporting_deadline
from perfmodel.randomness import RngLike, seed_from

__all__ = [
    "AREA_TYPES",
    "CLASS_RULES",
    "COLLABORATION_COLUMNS",
    "CollaborationEffects",
    "DEFECT_COLUMNS",
    "DEFECT_TYPES",
    "DEFAULT_REPORT_FRAMEWORK",
    "Effects",
    "HotSpot",
    "LOCATION_COLUMNS",
    "OBSERVATION_COLUMNS",
    "ROLES",
    "STATION_TYPES",
    "Sample",
    "SimulationError",
    "TRUTH_UNIT_COLUMNS",
    "TRUTH_VALUE_COLUMNS",
    "UNIT_COLUMNS",
    "generate_sample",
    "place_stations",
    "simulate",
    "simulate_collaborations",
    "write_sample",
]

# ----------------------------------------------------------------------------- contract
UNIT_COLUMNS: list[str] = [
    "unit_id",
    "name",
    "level",
    "parent_id",
    "district",
    "station_class",
    "station_type",
    "area_type",
    "population",
    "incident_volume",
    "officers",
    "role",
    "gender",
    "age_band",
    "tenure_band",
]
"""Columns of the units table (stations and officers in one table)."""

LOCATION_COLUMNS: list[str] = ["lon", "lat"]
"""Columns added at the end of the units table by ``simulate(..., coordinates=True)``:
longitude and latitude (WGS84 degrees) of the station (an officer carries their station's)."""

OBSERVATION_COLUMNS: list[str] = [
    "period",
    "unit_id",
    "indicator",
    "value",
    "numerator",
    "denominator",
    "rater_id",
    "submitted_at",
]
"""Columns of an observations table (long: period × unit × indicator × rater)."""

TRUTH_UNIT_COLUMNS: list[str] = ["framework", "unit_id", "level", "node", "true_latent", "true_trend"]
TRUTH_VALUE_COLUMNS: list[str] = ["framework", "period", "unit_id", "indicator", "true_value"]
DEFECT_COLUMNS: list[str] = [
    "framework",
    "row",
    "period",
    "unit_id",
    "indicator",
    "rater_id",
    "defect",
    "original",
]
COLLABORATION_COLUMNS: list[str] = ["case_id", "period", "station", "officer_id", "contribution_share"]
"""Columns of the collaborations table (R17): one row per case × participating officer."""

DEFECT_TYPES: tuple[str, ...] = (
    "numerator_exceeds_denominator",
    "percentage_not_fraction",
    "non_numeric_value",
    "duplicate_row",
    "unknown_unit",
    "unparseable_period",
    "negative_count",
)
"""Defects :func:`simulate` can inject (see ``defect_rate``)."""

ROLES: tuple[str, ...] = ("community_policing", "criminal_investigation", "traffic", "emergency")
"""Officer roles; officer frameworks select their officers by ``role``."""

_ROLE_PATTERN = (
    "community_policing",
    "criminal_investigation",
    "traffic",
    "emergency",
    "community_policing",
    "criminal_investigation",
)
"""Role of the officer in position 1, 2, … of a station (repeats after six)."""

AREA_TYPES: tuple[str, ...] = ("城区核心", "城乡结合部", "农村")
"""Urban core, urban-rural fringe, rural."""

STATION_TYPES: tuple[str, ...] = ("地区派出所", "治安派出所")
"""Regional stations and public-security stations (seed 001)."""

CLASS_RULES: tuple[tuple[str, int, int], ...] = (("一类", 60_000, 400), ("二类", 30_000, 150))
"""(class, population at least, or monthly incidents at least); the rest are 三类 (R4)."""

DEFAULT_REPORT_FRAMEWORK = "station_four_dimension"
"""Framework copied to ``station_observations.csv.gz`` by :func:`write_sample`."""

COUNT_GOALPOST_MONTHS = 3
"""Count goalposts are read as values for a quarter (the usual evaluation period)."""

_FRAUD = re.compile(r"fraud|诈")
_FRAUD_MONTHS = (11, 12, 1, 2)
_VOLUME_HINTS: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(pattern), volume)
    for pattern, volume in (
        (r"homicide|命案", 0.1),
        (r"household|入户|three_real|三实|采集|visit|走访", 150.0),
        (r"major|重大", 3.0),
        (r"roving|流窜", 4.0),
        (r"fraud|诈|new_type|新型", 8.0),
        (r"satisf|满意|survey|测评|安全感|rating|评价|评警", 40.0),
        (r"training|培训|abilit|能力", 25.0),
    )
)
"""Typical monthly volume (cases, call-backs, households…) behind an indicator at an
average station, recognised from its id or name; others get a random volume."""

_OFFICER_VOLUME_SHARE = 1 / 8
"""An officer's volume relative to a station's."""

_BAD_GOALPOST_SD = 1.8
"""A unit this many latent sd below average is expected at the bad goalpost."""

_THRESHOLD_MARGIN_SD = 1.8
"""A unit this many latent sd below average is expected at a hard threshold (R9), so
that breaches are the exception (about one unit in eight, context included)."""


class SimulationError(PerfmodelError, ValueError):
    """Arguments or frameworks that cannot be simulated; the message says how to fix them."""


@dataclass(frozen=True)
class Effects:
    """Effect sizes of the generating process, on the latent (θ, sd 1) scale unless stated.

    Context effects (``load``, ``fringe``, ``district``, ``area_citizen``,
    ``season``, ``fraud_season``, leniencies) are switched off by ``confounding=False``.
    """

    indicator_sd: float = 0.6
    theta_resource_corr: float = 0.25
    officer_icc: float = 0.30
    officer_tenure: float = 0.30
    station_trend_sd: float = 0.20
    officer_trend_sd: float = 0.30
    ar_sd: float = 0.15
    ar_phi: float = 0.6
    load: float = 0.35
    fringe: float = 0.30
    district: float = 0.25
    area_citizen: tuple[float, float, float] = (-0.10, -0.30, 0.25)
    citizen_load_share: float = 0.5
    supervisor_context_share: float = 0.5
    peer_self_context_share: float = 0.25
    season: float = 0.15
    workload_season: float = 0.12
    fraud_season: float = 0.30
    fraud_exposure: float = 1.6
    month_shock_sd: float = 0.15
    count_dispersion: float = 10.0
    supervisor_lenient_share: float = 0.15
    supervisor_severe_share: float = 0.15
    supervisor_leniency: float = 8.0
    supervisor_leniency_sd: float = 2.0
    supervisor_noise: float = 4.0
    peer_generosity: float = 2.0
    peer_noise: float = 5.0
    peer_slope: float = 0.6
    self_leniency: float = 6.0
    self_noise: float = 3.0
    self_slope: float = 0.4
    late_units_share: float = 0.15
    late_prob_typical: float = 0.01
    late_prob_clustered: float = 0.15


EFFECTS = Effects()


@dataclass(frozen=True)
class CollaborationEffects:
    """How collaborative cases (R17) are generated, with a planted team effect.

    Officer *i* of station *s* earns on average ``λ_i = mean_credit + t_s + a_i``
    case credits a month from collaborative cases (a case is worth one credit,
    split by contribution shares). The station (team) effects ``t_s`` and the
    individual effects ``a_i`` are normal draws standardised to sd
    :attr:`team_sd` and :attr:`individual_sd`, so ``team_share`` of the variance of
    the officers' expected credit belongs to the team. Each case has ``slots``
    equal parts drawn from the station's officers with probability
    ``λ_i / Σ λ``; an officer's contribution share is the number of parts drawn
    for them ÷ ``slots`` (so shares are multiples of 1/``slots``), which makes
    the expected monthly credit exactly ``λ_i``.
    """

    mean_credit: float = 0.8
    persistent_sd: float = 0.24
    team_share: float = 0.4
    slots: int = 4
    min_credit: float = 0.05

    @property
    def team_sd(self) -> float:
        """Sd of the station (team) effect on monthly credit."""
        return self.persistent_sd * float(np.sqrt(self.team_share))

    @property
    def individual_sd(self) -> float:
        """Sd of the individual effect on monthly credit."""
        return self.persistent_sd * float(np.sqrt(1 - self.team_share))


COLLABORATION_EFFECTS = CollaborationEffects()


@dataclass(frozen=True)
class HotSpot:
    """A planted hot-spot (R20): a cluster of neighbouring stations with depressed performance.

    A centre station is drawn at random (stream ``hotspot``); it and its
    ``stations - 1`` nearest stations (by :data:`LOCATION_COLUMNS`) have their
    true performance θ lowered by ``depression`` latent sd, and their officers by
    ``√officer_icc · depression`` (officer θ = √ICC · station θ + individual part).
    The truth tables show the lowered θ; ``Sample.parameters["hotspot"]["units"]``
    lists the planted stations.
    """

    stations: int = 8
    depression: float = 1.0


CITY_CENTRE: tuple[float, float] = (113.65, 34.75)
"""(lon, lat) around which simulated stations are placed: a made-up prefecture-level
city on the central Chinese plain, about 90 km × 80 km including its rural counties."""

_KM_PER_DEGREE = 111.2
"""Kilometres per degree of latitude (and of longitude at the equator)."""


@dataclass
class Sample:
    """A simulated dataset with its truth.

    Attributes
    ----------
    units
        Stations and officers (:data:`UNIT_COLUMNS`).
    observations
        Framework id → its observations (:data:`OBSERVATION_COLUMNS`): station
        rows only for a station framework, officers of the framework's role only
        for an officer framework.
    truth_units
        :data:`TRUTH_UNIT_COLUMNS`: per framework and unit, the true latent
        performance (``node`` = ``overall`` or a top-level dimension id), averaged
        over the simulated months, and the unit's true trend (latent units per year).
    truth_values
        :data:`TRUTH_VALUE_COLUMNS`: the expected value of every observed
        indicator under average context and without noise.
    defects
        :data:`DEFECT_COLUMNS`: every injected defect; ``row`` is the 0-based
        position in the framework's observations table (file line ``row + 2``).
    parameters
        Everything needed to regenerate the sample.
    collaborations
        :data:`COLLABORATION_COLUMNS`: collaborative cases and their
        participants (R17), when asked for (``simulate(..., collaborations=True)``);
        see :class:`CollaborationEffects`.
    """

    units: pd.DataFrame
    observations: dict[str, pd.DataFrame]
    truth_units: pd.DataFrame
    truth_values: pd.DataFrame
    defects: pd.DataFrame
    parameters: dict = field(default_factory=dict)
    collaborations: pd.DataFrame | None = None


# ----------------------------------------------------------------------------- randomness
def _rng(seed: int, *key: object) -> np.random.Generator:
    """An independent random stream for ``key`` (stable across runs and platforms)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode("utf-8")).digest()
    return np.random.default_rng([seed, *np.frombuffer(digest[:16], dtype=np.uint32).tolist()])


def _standardise(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return np.asarray(x, dtype=float)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x, dtype=float)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


# ----------------------------------------------------------------------------- names
_URBAN_NAMES = (
    "城关 东城 西城 南关 北关 新华 人民路 解放路 和平 建设路 中山路 文化路 胜利 东风 红旗 光明 朝阳 "
    "向阳 长安 新城 鼓楼 钟楼 府前 文昌 前进 团结 幸福 青年路 工农 五一路 八一路 南门 北门 东门 西门 "
    "花园 湖滨 车站 振兴 迎宾路"
).split()
_FRINGE_NAMES = (
    "滨河 滨江 城北 城南 城西 城东 河西 河东 桥东 桥西 新区 高新 开发区 园区 望江 龙湖 金桥 翠屏 "
    "凤凰 白鹭 桂园 梅林 松岗 柳岸 月湖 星光 锦绣 华庭 紫荆 丰收"
).split()
_RURAL_NAMES = (
    "柳树 杨庄 李集 王店 马桥 石桥 河口 高村 张湾 黄坡 白沙 青山 双河 三里 十里铺 龙泉 桃源 杏林 "
    "梨园 官庄 新集 大王庄 小河 金沟 银山 铁炉 沙河 清水 长岭 平安 古城 南坪 北坡 石门 东岗 西岭 "
    "马家 赵集 孙庄 周口 蒋店 韩庄 唐河 尚村 刘集 郭庄"
).split()
_SECURITY_NAMES = "火车站 汽车站 高铁站 机场 港区 商业街 步行街 景区 物流园 大学城 会展中心 客运站".split()
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
_GIVEN_MALE = "伟强磊军洋勇杰涛明超刚华飞鹏辉斌宇浩凯健俊帆旭宁龙林波峰晨阳亮建文海东志国成兵锋鑫"
_GIVEN_FEMALE = "芳娜敏静艳秀霞丽玲婷雪琳倩颖萍燕慧佳欣悦莉娟晶璐蕾"
_NUMERALS = "一二三四五六七八九"


def _station_names(area: np.ndarray, station_type: np.ndarray, rng: np.random.Generator) -> list[str]:
    pools = {
        "security": (_SECURITY_NAMES, "治安派出所"),
        AREA_TYPES[0]: (_URBAN_NAMES, "派出所"),
        AREA_TYPES[1]: (_FRINGE_NAMES, "派出所"),
        AREA_TYPES[2]: (_RURAL_NAMES, "派出所"),
    }
    keys = np.where(station_type == STATION_TYPES[1], "security", area)
    names = np.empty(len(area), dtype=object)
    for key, (pool, suffix) in pools.items():
        where = np.flatnonzero(keys == key)
        order = rng.permutation(len(pool))
        for n, position in enumerate(where):
            base = pool[order[n % len(pool)]]
            if key == AREA_TYPES[2]:
                base += "乡" if order[n % len(pool)] % 4 == 0 else "镇"
            repeat = n // len(pool)
            ordinal = f"第{_NUMERALS[min(repeat, 8)]}" if repeat else ""
            names[position] = f"{base}{ordinal}{suffix}" if repeat < 9 else f"{base}{repeat + 1}{suffix}"
    return names.tolist()


def _person_names(female: np.ndarray, rng: np.random.Generator) -> list[str]:
    n = len(female)
    surname = rng.integers(0, len(_SURNAMES), n)
    two = rng.random(n) < 0.6
    male_pool, female_pool = np.array(list(_GIVEN_MALE)), np.array(list(_GIVEN_FEMALE))
    first = np.where(
        female, female_pool[rng.integers(0, len(female_pool), n)], male_pool[rng.integers(0, len(male_pool), n)]
    )
    second = np.where(
        female, female_pool[rng.integers(0, len(female_pool), n)], male_pool[rng.integers(0, len(male_pool), n)]
    )
    sur = np.array(list(_SURNAMES))[surname]
    return [s + f + (g if t else "") for s, f, g, t in zip(sur, first, second, two, strict=True)]


# ----------------------------------------------------------------------------- the world
@dataclass
class _Level:
    """Units of one level with their context and latent truth, arrays over units (× months)."""

    ids: np.ndarray  # (U,) unit ids
    station: np.ndarray  # (U,) index of the unit's station
    district: np.ndarray  # (U,) district index
    area: np.ndarray  # (U,) area type index 0/1/2
    exposure: np.ndarray  # (U, T) workload relative to the mean (mean 1)
    z_load: np.ndarray  # (U, T) standardised log load per officer
    theta: np.ndarray  # (U,) time-invariant latent
    trend: np.ndarray  # (U,) latent units per year
    wobble: np.ndarray  # (U, T) AR(1) fluctuation
    late_prob: np.ndarray  # (U,)
    role: np.ndarray | None = None  # (U,) officers only

    @property
    def n(self) -> int:
        return len(self.ids)

    def theta_t(self, months: int) -> np.ndarray:
        """Latent general performance in each month, (U, T)."""
        centre = (months - 1) / 2
        steps = (np.arange(months) - centre) / 12
        return self.theta[:, None] + self.trend[:, None] * steps[None, :] + self.wobble


@dataclass
class _World:
    seed: int
    months: list[pd.Period]
    units: pd.DataFrame
    stations: _Level
    officers: _Level
    hardness: np.ndarray  # (U_station,) standardised district difficulty per station
    month_numbers: np.ndarray  # (T,)
    confounding: bool
    effects: Effects
    officers_per_station: int

    def level(self, name: str) -> _Level:
        return self.stations if name == "station" else self.officers


@dataclass
class _Jurisdiction:
    """Fixed context of every station (arrays over stations)."""

    ids: np.ndarray
    district: np.ndarray
    hardness: np.ndarray  # per district, standardised
    area: np.ndarray
    station_type: np.ndarray
    population: np.ndarray
    incident_volume: np.ndarray
    staffing: np.ndarray
    headcount: np.ndarray
    station_class: np.ndarray


def _ar1(rng: np.random.Generator, n: int, months: int, sd: float, phi: float) -> np.ndarray:
    out = np.empty((n, months))
    out[:, 0] = rng.normal(0, sd, n)
    innovation = sd * np.sqrt(1 - phi**2)
    for t in range(1, months):
        out[:, t] = phi * out[:, t - 1] + rng.normal(0, innovation, n)
    return out


def _bands(values: np.ndarray, edges: Sequence[float], labels: Sequence[str]) -> np.ndarray:
    return np.asarray(labels, dtype=object)[np.searchsorted(np.asarray(edges), values, side="right")]


def _jurisdiction(rng: np.random.Generator, n_stations: int, officers_per_station: int) -> _Jurisdiction:
    """Districts, area types, station types, population, incidents, headcount and class."""
    width = max(3, len(str(n_stations)))
    ids = np.array([f"PS{i + 1:0{width}d}" for i in range(n_stations)], dtype=object)
    # districts: about 15 stations each, differing in urbanisation and difficulty
    n_districts = max(1, round(n_stations / 15))
    urbanisation = rng.uniform(0.05, 1.0, n_districts)
    hardness = _standardise(rng.normal(0, 1, n_districts)) if n_districts > 1 else np.zeros(1)
    district = np.sort(  # every district gets at least one station
        np.concatenate([np.arange(n_districts), rng.integers(0, n_districts, n_stations - n_districts)])
    )
    p_core = 0.65 * urbanisation[district]
    u = rng.random(n_stations)
    area = np.where(u < p_core, 0, np.where(u < p_core + 0.30, 1, 2))
    security = rng.random(n_stations) < np.array([0.12, 0.05, 0.0])[area]

    population = np.array([55_000, 48_000, 22_000])[area] * np.exp(rng.normal(0, 0.45, n_stations))
    population = np.where(security, 6_000 * np.exp(rng.normal(0, 0.5, n_stations)), population)
    population = np.round(population, -2).astype(np.int64).clip(1_000)
    incident_rate = np.array([6.0, 7.5, 3.2])[area]  # per 1,000 residents per month
    crime = np.exp(0.2 * hardness[district] + rng.normal(0, 0.25, n_stations))
    incidents = population / 1000 * incident_rate * crime
    incidents = np.where(security, 350 * np.exp(rng.normal(0, 0.35, n_stations)), incidents)
    incident_volume = np.maximum(np.round(incidents), 5).astype(np.int64)

    understaffed = rng.random(n_stations) < 0.2
    staffing = np.exp(rng.normal(0, 0.15, n_stations)) * np.where(understaffed, 0.7, 1.0)
    headcount = np.round(4 + 0.09 * incident_volume**0.92 * staffing).astype(np.int64)
    headcount = np.maximum(headcount, max(officers_per_station, 3))

    station_class = np.full(n_stations, "三类", dtype=object)
    for label, min_pop, min_incidents in reversed(CLASS_RULES):
        station_class[(population >= min_pop) | (incident_volume >= min_incidents)] = label
    return _Jurisdiction(
        ids=ids,
        district=district,
        hardness=hardness,
        area=area,
        station_type=np.where(security, STATION_TYPES[1], STATION_TYPES[0]),
        population=population,
        incident_volume=incident_volume,
        staffing=staffing,
        headcount=headcount,
        station_class=station_class,
    )


def _station_level(
    rng: np.random.Generator, j: _Jurisdiction, month_numbers: np.ndarray, confounding: bool, fx: Effects
) -> tuple[_Level, np.ndarray]:
    """Stations' monthly workload and true performance; also their load per officer (U, T)."""
    n, n_t = len(j.ids), len(month_numbers)
    season = 1 + fx.workload_season * np.cos(2 * np.pi * (month_numbers - 7.5) / 12)  # summer peak
    if not confounding:
        season = np.ones(n_t)
    incidents = j.incident_volume[:, None] * season[None, :] * np.exp(rng.normal(0, 0.08, (n, n_t)))
    load = incidents / j.headcount[:, None]
    resources = _standardise((j.area == 0) + 0.5 * _standardise(np.log(j.staffing)) - 0.5 * j.hardness[j.district])
    theta = fx.theta_resource_corr * resources + np.sqrt(1 - fx.theta_resource_corr**2) * rng.normal(0, 1, n)
    late_cluster = rng.random(n) < fx.late_units_share
    level = _Level(
        ids=j.ids,
        station=np.arange(n),
        district=j.district,
        area=j.area,
        exposure=incidents / incidents.mean(),
        z_load=_standardise(np.log(load)),
        theta=theta,
        trend=rng.normal(0, fx.station_trend_sd, n),
        wobble=_ar1(rng, n, n_t, fx.ar_sd, fx.ar_phi),
        late_prob=np.where(late_cluster, fx.late_prob_clustered, fx.late_prob_typical),
    )
    return level, load


def _officer_level(
    rng: np.random.Generator, stations: _Level, station_load: np.ndarray, per_station: int, fx: Effects
) -> tuple[_Level, dict[str, np.ndarray]]:
    """Officers (``per_station`` per station) with personal load and truth; also their profile."""
    o_station = np.repeat(np.arange(stations.n), per_station)
    position = np.tile(np.arange(per_station), stations.n)
    n, n_t = len(o_station), station_load.shape[1]
    ids = np.array([f"{stations.ids[s]}-M{p + 1:02d}" for s, p in zip(o_station, position, strict=True)], dtype=object)
    role = np.array([_ROLE_PATTERN[p % len(_ROLE_PATTERN)] for p in position], dtype=object)
    female = rng.random(n) < np.where(role == "community_policing", 0.22, 0.12)
    age = rng.uniform(23, 59, n)
    tenure = np.clip(age - 22 - rng.exponential(2.0, n), 0, None)
    load = station_load[o_station] * np.exp(rng.normal(0, 0.3, n))[:, None]
    individual = fx.officer_tenure * _standardise(np.log1p(tenure)) + np.sqrt(1 - fx.officer_tenure**2) * rng.normal(
        0, 1, n
    )
    level = _Level(
        ids=ids,
        station=o_station,
        district=stations.district[o_station],
        area=stations.area[o_station],
        exposure=load / load.mean() if n else load,
        z_load=_standardise(np.log(load)) if n else load,
        theta=np.sqrt(fx.officer_icc) * stations.theta[o_station] + np.sqrt(1 - fx.officer_icc) * individual,
        trend=rng.normal(0, fx.officer_trend_sd, n),
        wobble=_ar1(rng, n, n_t, fx.ar_sd, fx.ar_phi),
        late_prob=stations.late_prob[o_station],
        role=role,
    )
    profile = {
        "name": np.array(_person_names(female, rng), dtype=object),
        "gender": np.where(female, "女", "男"),
        "age_band": _bands(age, [30, 40, 50], ["<30", "30-39", "40-49", "50+"]),
        "tenure_band": _bands(tenure, [5, 15, 25], ["<5", "5-14", "15-24", "25+"]),
    }
    return level, profile


def _units_table(j: _Jurisdiction, names: list[str], officers: _Level, profile: dict[str, np.ndarray]) -> pd.DataFrame:
    """The units table: stations, then officers with their station's context columns."""
    district_ids = np.array([f"D{d + 1:02d}" for d in j.district], dtype=object)
    stations = pd.DataFrame(
        {
            "unit_id": j.ids,
            "name": names,
            "level": "station",
            "parent_id": district_ids,
            "district": district_ids,
            "station_class": j.station_class,
            "station_type": j.station_type,
            "area_type": np.asarray(AREA_TYPES, dtype=object)[j.area],
            "population": j.population,
            "incident_volume": j.incident_volume,
            "officers": j.headcount,
        }
    )
    people = (
        stations.iloc[officers.station]
        .reset_index(drop=True)
        .assign(
            unit_id=officers.ids,
            level="officer",
            parent_id=j.ids[officers.station],
            role=officers.role,
            **profile,
        )
    )
    units = pd.concat([stations, people], ignore_index=True).reindex(columns=UNIT_COLUMNS)
    for column in UNIT_COLUMNS:
        units[column] = units[column].astype(np.int64 if column in NUMERIC_CONTEXT else "string")
    return units


def _build_world(
    *,
    seed: int,
    n_stations: int,
    months: list[pd.Period],
    officers_per_station: int,
    confounding: bool,
    effects: Effects,
) -> _World:
    """Stations and officers with context and truth (random streams ``units`` and ``officers``)."""
    month_numbers = np.array([m.month for m in months])
    rng = _rng(seed, "units")
    j = _jurisdiction(rng, n_stations, officers_per_station)
    stations, station_load = _station_level(rng, j, month_numbers, confounding, effects)
    names = _station_names(np.asarray(AREA_TYPES, dtype=object)[j.area], j.station_type, rng)
    officers, profile = _officer_level(_rng(seed, "officers"), stations, station_load, officers_per_station, effects)
    return _World(
        seed=seed,
        months=months,
        units=_units_table(j, names, officers, profile),
        stations=stations,
        officers=officers,
        hardness=j.hardness[j.district],
        month_numbers=month_numbers,
        confounding=confounding,
        effects=effects,
        officers_per_station=officers_per_station,
    )


# ----------------------------------------------------------------------------- indicator specs
@dataclass(frozen=True)
class _Spec:
    """What is observed under one indicator id, with the attributes the simulation needs."""

    key: str  # indicator id in the observations
    latent: str  # id whose latent deviation it uses
    purpose: str  # indicator | case_type | bonus | negative
    kind: str  # rate | count | duration | score
    direction: str
    source: str
    goalposts: tuple[float, float] | None
    range: tuple[float, float] | None
    target: float | None
    threshold_min: float | None
    threshold_max: float | None
    denominator: str | None
    per: float
    points: float | None
    temporary: Temporary | None
    text: str

    @property
    def sign(self) -> float:
        return -1.0 if self.direction == "lower" else 1.0


def _spec_from_indicator(ind: Indicator) -> _Spec:
    return _Spec(
        key=ind.id,
        latent=ind.id,
        purpose="indicator",
        kind=ind.kind,
        direction=ind.direction,
        source=ind.source,
        goalposts=ind.goalposts,
        range=ind.range,
        target=ind.target,
        threshold_min=ind.threshold.min if ind.threshold else None,
        threshold_max=ind.threshold.max if ind.threshold else None,
        denominator=ind.denominator,
        per=ind.per,
        points=None,
        temporary=ind.temporary,
        text=f"{ind.id} {ind.name.en} {ind.name.zh}".lower(),
    )


def _specs(fw: Framework) -> list[_Spec]:
    """Every observed indicator of ``fw`` in tree order, then bonus and negative-list counts."""
    specs: list[_Spec] = []
    for info in fw.walk():
        node = info.node
        if not isinstance(node, Indicator):
            continue
        base = _spec_from_indicator(node)
        if node.kind == "points":
            for case_type, points in node.points.items():
                specs.append(
                    _Spec(
                        **{
                            **base.__dict__,
                            "key": case_type,
                            "purpose": "case_type",
                            "kind": "count",
                            "direction": "higher",
                            "goalposts": None,
                            "range": None,
                            "target": None,
                            "threshold_min": None,
                            "threshold_max": None,
                            "points": float(points),
                            "text": f"{case_type} {base.text}",
                        }
                    )
                )
        else:
            specs.append(base)
    seen = {s.key for s in specs}
    for purpose, items in (("bonus", fw.bonus), ("negative", fw.negative_list)):
        for item in items:
            if item.indicator in seen:
                continue
            seen.add(item.indicator)
            specs.append(
                _Spec(
                    key=item.indicator,
                    latent=item.indicator,
                    purpose=purpose,
                    kind="count",
                    direction="higher" if purpose == "bonus" else "lower",
                    source="system",
                    goalposts=None,
                    range=None,
                    target=None,
                    threshold_min=None,
                    threshold_max=None,
                    denominator=None,
                    per=1.0,
                    points=None,
                    temporary=None,
                    text=f"{item.indicator} {item.name.en} {item.name.zh}".lower(),
                )
            )
    return specs


@dataclass(frozen=True)
class _Shape:
    """How goodness maps onto the natural scale: ``typical`` value, ``slope`` per latent sd."""

    typical: float
    slope: float
    spread: float  # distance scale for direction 'target'


def _typical(lo: float, hi: float, direction: str) -> float:
    good, bad = (hi, lo) if direction != "lower" else (lo, hi)
    return bad + 0.6 * (good - bad)


def _shape(spec: _Spec, level: str) -> _Shape:
    """Typical value and slope from the goalposts (or defaults), per kind."""
    kind, direction = spec.kind, spec.direction
    lo_r, hi_r = spec.range if spec.range else (0.0, 100.0 if kind == "score" else np.inf)
    if direction == "target":
        if kind in ("count", "duration"):  # relative distance from the target
            return _Shape(spec.target / (COUNT_GOALPOST_MONTHS if kind == "count" else 1), 0.0, 0.3)
        width = (
            spec.goalposts[1] - spec.goalposts[0]
            if spec.goalposts
            else (0.3 if kind == "rate" else 0.6 * max(abs(spec.target), 1.0))
        )
        return _Shape(spec.target, 0.0, width / 6)
    if kind == "rate" and _continuous_rate(spec):
        lo, hi = spec.goalposts or (max(lo_r, -0.1), min(hi_r, 0.25))
        return _Shape(_typical(lo, hi, direction), (hi - lo) / 4, (hi - lo) / 6)
    if kind == "rate":
        lo, hi = spec.goalposts or ((0.5, 1.0) if direction != "lower" else (0.0, 0.5))
        lo_c, hi_c = max(lo, 0.005), min(hi, 0.995)
        centre = _logit(float(np.clip(_typical(lo_c, hi_c, direction), 0.01, 0.99)))
        bad = _logit(lo_c if direction != "lower" else hi_c)
        slope = float(np.clip(abs(centre - bad) / _BAD_GOALPOST_SD, 0.3, 1.5))
        if direction == "higher" and spec.threshold_min is not None and 0 < spec.threshold_min < 1:
            centre = max(centre, _logit(spec.threshold_min) + _THRESHOLD_MARGIN_SD * slope)
        if direction == "lower" and spec.threshold_max is not None and 0 < spec.threshold_max < 1:
            centre = min(centre, _logit(spec.threshold_max) - _THRESHOLD_MARGIN_SD * slope)
        return _Shape(centre, slope, (hi - lo) / 6)
    if kind == "score":
        width = hi_r - lo_r
        lo, hi = spec.goalposts or ((lo_r + 0.6 * width, hi_r) if direction != "lower" else (lo_r, lo_r + 0.4 * width))
        return _Shape(_typical(lo, hi, direction), (hi - lo) / 5, (hi - lo) / 6)
    if kind == "duration":
        top = hi_r if np.isfinite(hi_r) else 60.0
        lo, hi = spec.goalposts or (top / 50, top / 8)
        return _log_shape(lo if lo > 0 else hi / 20, hi, direction, 1.0)
    # counts: typical monthly count at an average unit
    scale = 1.0 if level == "officer" else 1 / _OFFICER_VOLUME_SHARE
    if spec.purpose == "case_type":
        return _Shape(min(8.0, 600 / spec.points**2) * scale, 0.35, 0.3)
    if spec.purpose == "bonus":
        return _Shape(0.1 if level == "officer" else 0.3, 0.5, 0.3)
    if spec.purpose == "negative":
        return _Shape(0.01 if level == "officer" else 0.05, 0.5, 0.3)
    if spec.goalposts is None:
        return _Shape((4.0 if direction != "lower" else 1.0) * scale, 0.35, 0.3)
    lo, hi = spec.goalposts
    return _log_shape(lo if lo > 0 else hi / 20, hi, direction, 1 / COUNT_GOALPOST_MONTHS)


def _log_shape(lo: float, hi: float, direction: str, scale: float) -> _Shape:
    """Shape of a positive quantity modelled on the log scale (durations, counts)."""
    typical = _typical(lo, hi, direction)
    bad = lo if direction != "lower" else hi
    slope = float(np.clip(abs(np.log(typical / bad)) / _BAD_GOALPOST_SD, 0.1, 0.8))
    return _Shape(typical * scale, slope, 0.3)


def _continuous_rate(spec: _Spec) -> bool:
    """A 'rate' whose range leaves [0, 1] (e.g. a relative change) is not a proportion."""
    return spec.range is not None and (spec.range[0] < 0 or spec.range[1] > 1)


def _volume(spec: _Spec, level: str, seed: int, volumes: Mapping[str, float]) -> float:
    """Typical monthly volume (denominator, cases, citizen raters) at an average unit."""
    if spec.key in volumes:
        return float(volumes[spec.key])
    station_volume = next((v for pattern, v in _VOLUME_HINTS if pattern.search(spec.text)), None)
    if station_volume is None:
        station_volume = float(np.exp(_rng(seed, "volume", spec.key).normal(np.log(30), 0.5)))
    return station_volume * (_OFFICER_VOLUME_SHARE if level == "officer" else 1.0)


def _expected(spec: _Spec, shape: _Shape, goodness: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Expected natural-scale value for latent goodness ``goodness`` (any shape)."""
    kind = spec.kind
    if spec.direction == "target":  # better units land closer to the target, on either side
        distance = shape.spread * np.exp(-0.6 * goodness) * side
        if kind in ("count", "duration"):
            return shape.typical * np.maximum(1 + distance, 0.05)
        value = shape.typical + distance
        if kind == "rate" and not _continuous_rate(spec):
            return np.clip(value, 0.001, 0.999)
        return np.clip(value, *spec.range) if spec.range else value
    s = spec.sign
    if kind == "rate" and not _continuous_rate(spec):
        return _logistic(shape.typical + s * shape.slope * goodness)
    if kind in ("score", "rate"):
        value = shape.typical + s * shape.slope * goodness
        return np.clip(value, *spec.range) if spec.range else value
    return shape.typical * np.exp(s * shape.slope * goodness)


# ----------------------------------------------------------------------------- raters
@dataclass
class _Ratings:
    """Who rates whom in each month, for one level and source: (U, T, R) arrays."""

    rater_ids: np.ndarray  # (U, T, R) object
    valid: np.ndarray  # (U, T, R) bool
    leniency: np.ndarray  # (U, T, R) points on a 0–100 scale
    noise: float
    slope: float


def _choose(rng: np.random.Generator, shape: tuple[int, ...], pool: int, k: int) -> np.ndarray:
    """``k`` distinct positions out of ``pool`` for every cell of ``shape``."""
    return np.argsort(rng.random((*shape, pool)), axis=-1)[..., :k]


def _leniencies(rng: np.random.Generator, n: int, fx: Effects) -> np.ndarray:
    u = rng.random(n)
    centre = np.where(
        u < fx.supervisor_lenient_share,
        fx.supervisor_leniency,
        np.where(u < fx.supervisor_lenient_share + fx.supervisor_severe_share, -fx.supervisor_leniency, 0.0),
    )
    return centre + rng.normal(0, fx.supervisor_leniency_sd, n)


def _ratings(world: _World, level_name: str, source: str) -> _Ratings:
    """Raters of every unit-month for a subjective source, with their leniency (0 without confounding)."""
    rng = _rng(world.seed, "raters", level_name, source)
    lenient = 1.0 if world.confounding else 0.0
    if source == "self":
        return _self_ratings(world, level_name, rng, lenient)
    if source == "supervisor":
        return _supervisor_ratings(world, level_name, rng, lenient)
    return _peer_ratings(world, level_name, rng, lenient)


def _self_ratings(world: _World, level_name: str, rng: np.random.Generator, lenient: float) -> _Ratings:
    """One self-rating a month, rater id = the unit's own id, inflated by a personal amount."""
    lv, fx = world.level(level_name), world.effects
    ids = np.broadcast_to(lv.ids[:, None, None], (lv.n, len(world.months), 1))
    own = rng.normal(fx.self_leniency, 3.0, lv.n) * lenient
    return _Ratings(
        ids, np.ones(ids.shape, bool), np.broadcast_to(own[:, None, None], ids.shape), fx.self_noise, fx.self_slope
    )


def _supervisor_ratings(world: _World, level_name: str, rng: np.random.Generator, lenient: float) -> _Ratings:
    """2–3 raters a month: of six district-bureau supervisors (stations) or three station leaders."""
    lv, fx = world.level(level_name), world.effects
    if level_name == "station":
        pool, owners, digits = 6, lv.district, 2
        prefixes = np.array([f"D{d + 1:02d}-S" for d in range(lv.district.max() + 1)], dtype=object)[owners]
    else:
        pool, owners, digits = 3, lv.station, 1
        prefixes = world.stations.ids[lv.station] + "-L"
    picks = _choose(rng, (lv.n, len(world.months)), pool, 3)
    k = rng.integers(2, 4, picks.shape[:2])
    valid = np.arange(3)[None, None, :] < k[..., None]
    n_owners = int(owners.max()) + 1
    table = _leniencies(rng, n_owners * pool, fx).reshape(n_owners, pool) * lenient
    ids = prefixes[:, None, None] + np.char.zfill((picks + 1).astype(str), digits).astype(object)
    return _Ratings(ids, valid, table[owners[:, None, None], picks], fx.supervisor_noise, 1.0)


def _peer_ratings(world: _World, level_name: str, rng: np.random.Generator, lenient: float) -> _Ratings:
    """Up to three peers a month: other stations of the district, or colleagues of the station."""
    lv, fx, n_t = world.level(level_name), world.effects, len(world.months)
    generosity = rng.normal(fx.peer_generosity, 2.0, lv.n) * lenient
    ids = np.full((lv.n, n_t, 3), "", dtype=object)
    valid = np.zeros((lv.n, n_t, 3), dtype=bool)
    leniency = np.zeros((lv.n, n_t, 3))
    groups = lv.district if level_name == "station" else lv.station
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        k = min(3, len(members) - 1)
        if k <= 0:
            continue
        keys = rng.random((len(members), n_t, len(members)))
        keys[np.arange(len(members)), :, np.arange(len(members))] = np.inf  # nobody rates themself
        picks = members[np.argsort(keys, axis=-1)[..., :k]]
        ids[members, :, :k] = lv.ids[picks]
        valid[members, :, :k] = True
        leniency[members, :, :k] = generosity[picks]
    return _Ratings(ids, valid, leniency, fx.peer_noise, fx.peer_slope)


# ----------------------------------------------------------------------------- one indicator
@dataclass
class _Block:
    """Rows of one indicator: flat arrays over the kept (unit, month, rater) cells."""

    unit: np.ndarray
    month: np.ndarray
    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    rater: np.ndarray
    rater_order: np.ndarray


def _context(world: _World, lv: _Level, source: str) -> np.ndarray:
    """Context effect on latent goodness, (U, T); zero without confounding."""
    fx = world.effects
    if not world.confounding:
        return np.zeros_like(lv.z_load)
    hardness = world.hardness[lv.station][:, None]
    fringe = (lv.area == 1)[:, None]
    system = -fx.load * lv.z_load - fx.fringe * fringe - fx.district * hardness
    if source == "citizen":
        area = np.asarray(fx.area_citizen)[lv.area][:, None]
        return area - fx.citizen_load_share * fx.load * lv.z_load - fx.district * hardness
    if source == "supervisor":
        return fx.supervisor_context_share * system
    if source in ("peer", "self"):
        return fx.peer_self_context_share * system
    return system


def _season(world: _World, spec: _Spec, rng: np.random.Generator) -> np.ndarray:
    """Seasonal shift of goodness, (T,): an indicator-specific cycle plus the fraud peak."""
    fx, m = world.effects, world.month_numbers
    amplitude, phase = rng.normal(0, fx.season), rng.uniform(0, 12)
    shift = amplitude * np.cos(2 * np.pi * (m - phase) / 12)
    if _FRAUD.search(spec.text):
        shift = shift - fx.fraud_season * np.isin(m, _FRAUD_MONTHS)
    return shift if world.confounding else np.zeros(len(m))


def _exposure(world: _World, lv: _Level, spec: _Spec, *, volume: bool) -> np.ndarray:
    """Relative size behind the indicator in each unit-month, (U, T), mean about 1.

    ``volume``: the number of cases behind a rate, duration or citizen score; it
    follows workload (incidents, with their season) and only sets the noise.
    Otherwise the exposure of a count's mean: with confounding, workload too
    (incidents grow with population and with the area's incident rate, so a count
    per resident still carries the area's context); without confounding, the
    ``denominator`` column (so that the denominated count is free of context) or 1.
    """
    if volume or world.confounding:
        base = lv.exposure
        if world.confounding and _FRAUD.search(spec.text):
            peak = np.isin(world.month_numbers, _FRAUD_MONTHS)
            base = base * np.where(peak, world.effects.fraud_exposure, 1.0)
        return base
    if spec.denominator is not None:
        column = _unit_column(world, lv, spec.denominator)
        return np.broadcast_to((column / column.mean())[:, None], lv.exposure.shape)
    return np.ones_like(lv.exposure)


def _unit_column(world: _World, lv: _Level, column: str) -> np.ndarray:
    level = "station" if lv is world.stations else "officer"
    values = pd.to_numeric(world.units.loc[world.units["level"] == level, column], errors="coerce")
    values = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise SimulationError(
            f"indicator denominator column {column!r} must be positive and numeric for every {level}; "
            f"use one of population, incident_volume, officers"
        )
    return values


def _latents(world: _World, level_name: str, spec: _Spec) -> np.ndarray:
    """The indicator's latent true performance in each month, (U, T)."""
    lv, fx = world.level(level_name), world.effects
    n = lv.n
    own = _rng(world.seed, "indicator", level_name, spec.latent).normal(0, fx.indicator_sd, n)
    latent = lv.theta_t(len(world.months)) + own[:, None]
    if spec.purpose == "case_type":
        latent = latent + _rng(world.seed, "case_type", level_name, spec.key).normal(0, 0.2, n)[:, None]
    return latent


def _simulate_spec(
    world: _World, level_name: str, spec: _Spec, volumes: Mapping[str, float], ratings_cache: dict
) -> tuple[_Block, np.ndarray]:
    """Observations of one indicator for every unit of the level, and its true values (U, T)."""
    lv = world.level(level_name)
    rng = _rng(world.seed, "observe", level_name, spec.key, spec.kind, spec.direction, spec.source)
    shape = _shape(spec, level_name)
    latent = _latents(world, level_name, spec)
    side = np.where(rng.random(lv.n) < 0.5, -1.0, 1.0)[:, None]  # over or under a target
    if spec.kind == "count" and spec.denominator is not None and (spec.goalposts or spec.target is not None):
        # goalposts and targets are per `per` of the denominator: scale to an average unit's count
        mean_size = _unit_column(world, lv, spec.denominator).mean()
        shape = _Shape(shape.typical * mean_size / spec.per, shape.slope, shape.spread)
    truth = _expected(spec, shape, latent, side)
    season = _season(world, spec, rng)[None, :]
    if spec.kind == "score" and spec.source in ("supervisor", "peer", "self"):
        key = (level_name, spec.source)
        if key not in ratings_cache:
            ratings_cache[key] = _ratings(world, level_name, spec.source)
        rated = ratings_cache[key].slope * latent + season + _context(world, lv, spec.source)
        return _rated_block(spec, _expected(spec, shape, rated, side), ratings_cache[key], rng), truth
    goodness = latent + season + _context(world, lv, spec.source)
    volume = _volume(spec, level_name, world.seed, volumes) * _exposure(world, lv, spec, volume=True)
    return _measured_block(world, lv, spec, shape, goodness, side, volume, rng), truth


def _rated_block(spec: _Spec, mean: np.ndarray, ratings: _Ratings, rng: np.random.Generator) -> _Block:
    """Ratings: the rated mean + the rater's leniency + noise, clipped to the range."""
    lo, hi = spec.range or (0.0, 100.0)
    keep = ratings.valid
    noise = rng.normal(0, ratings.noise, keep.shape)
    value = np.round(np.clip(mean[..., None] + (ratings.leniency + noise) * (hi - lo) / 100, lo, hi), 1)
    units, months, order = np.meshgrid(*(np.arange(size) for size in keep.shape), indexing="ij")
    return _Block(
        unit=units[keep],
        month=months[keep],
        value=value[keep],
        numerator=np.full(keep.sum(), np.nan),
        denominator=np.full(keep.sum(), np.nan),
        rater=np.asarray(ratings.rater_ids)[keep],
        rater_order=order[keep],
    )


def _measured_block(
    world: _World,
    lv: _Level,
    spec: _Spec,
    shape: _Shape,
    goodness: np.ndarray,
    side: np.ndarray,
    volume: np.ndarray,
    rng: np.random.Generator,
) -> _Block:
    """One row per unit-month (none where there were no cases): rates, counts, durations, scores."""
    fx, size = world.effects, goodness.shape
    numerator = denominator = np.full(size, np.nan)
    keep = np.ones(size, dtype=bool)
    shock = rng.normal(0, fx.month_shock_sd, size)
    if spec.kind == "rate" and not _continuous_rate(spec):
        den = rng.poisson(volume)
        num = rng.binomial(den, _expected(spec, shape, goodness + shock, side))
        keep = den > 0
        value = np.divide(num, den, out=np.full(size, np.nan), where=keep)
        numerator, denominator = num.astype(float), den.astype(float)
    elif spec.kind in ("rate", "score"):
        cases = rng.poisson(volume) if spec.source == "citizen" else np.ones(size)
        keep = cases > 0
        lo, hi = spec.range or (0.0, 100.0)
        if spec.kind == "rate":  # a relative change: noise of one latent sd, less with volume
            noise_sd = shape.slope / np.sqrt(1 + volume / 10)
        else:  # citizen scores average many ratings; system scores are a single measurement
            noise_sd = (0.15 if spec.source == "citizen" else 0.04) * (hi - lo) / np.sqrt(np.maximum(cases, 1))
        value = np.clip(_expected(spec, shape, goodness, side) + rng.normal(0, 1, size) * noise_sd, lo, hi)
        value = np.round(value, 1 if spec.kind == "score" else 4)
    elif spec.kind == "duration":  # the mean of the month's Gamma(2) case durations
        cases = rng.poisson(volume)
        keep = cases > 0
        shape_k = 2.0 * np.maximum(cases, 1)
        value = rng.gamma(shape_k, _expected(spec, shape, goodness + shock, side) / shape_k)
        value = np.round(np.clip(value, *spec.range) if spec.range else value, 2)
    else:  # count: overdispersed Poisson with exposure
        rate = _expected(spec, shape, goodness, side) * _exposure(world, lv, spec, volume=False)
        rate = rate * rng.gamma(fx.count_dispersion, 1 / fx.count_dispersion, size)
        value = rng.poisson(rate).astype(float)
    units, months = np.meshgrid(np.arange(size[0]), np.arange(size[1]), indexing="ij")
    return _Block(
        unit=units[keep],
        month=months[keep],
        value=value[keep],
        numerator=numerator[keep],
        denominator=denominator[keep],
        rater=np.full(keep.sum(), None, dtype=object),
        rater_order=np.zeros(keep.sum(), dtype=np.int64),
    )


# ----------------------------------------------------------------------------- assembly
def _selected(world: _World, fw: Framework) -> np.ndarray:
    """Positions (within the level) of the units a framework scores."""
    lv = world.level(fw.level)
    if fw.level == "officer" and fw.role is not None:
        if fw.role not in ROLES:
            raise SimulationError(
                f"framework {fw.id!r} scores officers with role {fw.role!r}, but simulated officers "
                f"have roles {', '.join(ROLES)}; set the framework's role to one of them"
            )
        chosen = np.flatnonzero(lv.role == fw.role)
        if len(chosen) == 0:
            raise SimulationError(
                f"framework {fw.id!r} needs {fw.role} officers, but officers_per_station="
                f"{world.officers_per_station} gives none; use officers_per_station >= 4 "
                "(roles repeat community, criminal investigation, traffic, emergency, …)"
            )
        return chosen
    if lv.n == 0:
        raise SimulationError(
            f"framework {fw.id!r} scores {fw.level}s, but there are none; "
            "use officers_per_station >= 1 for officer frameworks"
        )
    return np.arange(lv.n)


def _active_months(world: _World, spec: _Spec) -> np.ndarray:
    if spec.temporary is None:
        return np.ones(len(world.months), dtype=bool)
    return np.array([spec.temporary.active(m) for m in world.months])


def _submission_offsets(world: _World, level_name: str) -> np.ndarray:
    """Seconds from the reporting deadline to each unit-month's submission, (U, T)."""
    lv = world.level(level_name)
    rng = _rng(world.seed, "submitted", level_name)
    shape = (lv.n, len(world.months))
    late = rng.random(shape) < lv.late_prob[:, None]
    before = np.minimum(rng.exponential(4 * 86_400, shape), 20 * 86_400)
    after = 1 + rng.exponential(3 * 86_400, shape)
    return np.where(late, after, -before).astype(np.int64)


def _unit_months_missing(world: _World, level_name: str, rate: float) -> np.ndarray:
    lv = world.level(level_name)
    return _rng(world.seed, "missing", level_name).random((lv.n, len(world.months))) < rate


def _observations(
    world: _World,
    fw: Framework,
    specs: list[_Spec],
    volumes: Mapping[str, float],
    missing_rate: float,
    caches: dict,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """A framework's observations (sorted), the kind of each row, and its true values."""
    level_name, lv = fw.level, world.level(fw.level)
    chosen = np.zeros(lv.n, dtype=bool)
    chosen[_selected(world, fw)] = True
    missing = _unit_months_missing(world, level_name, missing_rate)
    periods = np.array([str(m) for m in world.months], dtype=object)
    blocks, truths = [], []
    for order, spec in enumerate(specs):
        block, truth = _simulate_spec(world, level_name, spec, volumes, caches.setdefault(level_name, {}))
        active = _active_months(world, spec)
        keep = chosen[block.unit] & active[block.month] & ~missing[block.unit, block.month]
        row_kind = "rate" if spec.kind == "rate" and not _continuous_rate(spec) else spec.kind
        blocks.append((order, row_kind, block, keep))
        u, t = np.meshgrid(np.flatnonzero(chosen), np.flatnonzero(active), indexing="ij")
        truths.append((u.ravel(), t.ravel(), np.full(u.size, order), truth[u.ravel(), t.ravel()]))

    def cat(getter) -> np.ndarray:
        parts = [getter(b)[k] for _, _, b, k in blocks]
        return np.concatenate(parts) if parts else np.array([])

    unit, month = cat(lambda b: b.unit).astype(np.int64), cat(lambda b: b.month).astype(np.int64)
    spec_order = np.concatenate([np.full(k.sum(), o) for o, _, _, k in blocks]).astype(np.int64)
    kinds = np.concatenate([np.full(k.sum(), rk, dtype=object) for _, rk, _, k in blocks])
    rater_order = cat(lambda b: b.rater_order).astype(np.int64)
    order = np.lexsort((rater_order, spec_order, unit, month))
    keys = np.array([s.key for s in specs], dtype=object)
    deadlines = np.array(
        [
            reporting_deadline(m, fw.reporting.deadline_day, fw.reporting.deadline_month_offset)
            .to_datetime64()
            .astype("datetime64[s]")
            for m in world.months
        ]
    )
    offsets = caches.setdefault(("submitted", level_name), _submission_offsets(world, level_name))
    unit, month = unit[order], month[order]
    numerator, denominator = cat(lambda b: b.numerator)[order], cat(lambda b: b.denominator)[order]
    obs = pd.DataFrame(
        {
            "period": periods[month],
            "unit_id": lv.ids[unit],
            "indicator": keys[spec_order[order]],
            "value": cat(lambda b: b.value)[order].astype(float),
            "numerator": pd.array(np.where(np.isnan(numerator), None, numerator), dtype="Int64"),
            "denominator": pd.array(np.where(np.isnan(denominator), None, denominator), dtype="Int64"),
            "rater_id": cat(lambda b: b.rater)[order],
            "submitted_at": deadlines[month] + offsets[unit, month].astype("timedelta64[s]"),
        }
    )
    t_unit, t_month, t_spec, t_value = (np.concatenate(parts) for parts in zip(*truths, strict=True))
    t_order = np.lexsort((t_spec, t_unit, t_month))
    truth_values = pd.DataFrame(
        {
            "framework": fw.id,
            "period": periods[t_month[t_order]],
            "unit_id": lv.ids[t_unit[t_order]],
            "indicator": keys[t_spec[t_order]],
            "true_value": np.round(t_value[t_order].astype(float), 6),
        }
    )
    return obs, kinds[order], truth_values


def _truth_units(world: _World, fw: Framework) -> pd.DataFrame:
    """True latent performance per unit: overall and per top-level node, averaged over months."""
    level_name, lv = fw.level, world.level(fw.level)
    chosen = _selected(world, fw)
    weights = fw.effective_weights()
    nodes: dict[str, list[tuple[float, np.ndarray]]] = {"overall": []}
    for info in fw.walk():
        if isinstance(info.node, Indicator):
            spec = _spec_from_indicator(info.node)
            mean = _latents(world, level_name, spec).mean(axis=1)[chosen]
            nodes["overall"].append((weights[info.id], mean))
            nodes.setdefault(info.path[0], []).append((weights[info.id], mean))
        elif info.depth == 1 and isinstance(info.node, Dimension):
            nodes.setdefault(info.id, [])
    frames = []
    for node, parts in nodes.items():
        if not parts:
            continue
        total = sum(w for w, _ in parts)
        value = sum(w * m for w, m in parts) / total if total > 0 else sum(m for _, m in parts) / len(parts)
        frames.append(
            pd.DataFrame(
                {
                    "framework": fw.id,
                    "unit_id": lv.ids[chosen],
                    "level": level_name,
                    "node": node,
                    "true_latent": np.round(value, 6),
                    "true_trend": np.round(lv.trend[chosen], 6),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- defects
_NON_NUMERIC = ("待核实", "#DIV/0!", "约{value}", "见附表", "{value}左右")
"""Text typed where a number belongs (missing-value markers such as "N/A" are not
used: a validator rightly reads those as missing, not as wrong)."""
_BAD_PERIODS = ("{y}-13", "{y}-00", "{yy}-{mm}", "{mm}/{y}", "{y}年{m}月份", "第{m}月")


def _inject_defects(
    obs: pd.DataFrame, kinds: np.ndarray, fw: Framework, world: _World, rate: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrupt a random ``rate`` share of rows with documented defects; return both tables."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in DEFECT_COLUMNS}).astype({"row": np.int64})
    n = len(obs)
    rng = _rng(world.seed, "defects", fw.id)
    k = int(rng.binomial(n, rate)) if n and rate > 0 else 0
    if k == 0:
        return obs, empty
    rows = np.sort(rng.choice(n, size=k, replace=False))
    value = obs["value"].to_numpy()[rows]
    den = obs["denominator"].to_numpy(dtype=float, na_value=np.nan)[rows]
    applicable = np.column_stack(
        [
            (kinds[rows] == "rate") & (den >= 1),
            (kinds[rows] == "rate") & (value >= 0.02),
            np.ones(k, bool),
            np.ones(k, bool),
            np.ones(k, bool),
            np.ones(k, bool),
            kinds[rows] == "count",
        ]
    )
    scores = np.where(applicable, rng.random(applicable.shape), -1.0)
    defect = np.asarray(DEFECT_TYPES, dtype=object)[scores.argmax(axis=1)]

    out = obs.copy()
    values = out["value"].to_numpy(dtype=object).copy()
    numerators = out["numerator"].to_numpy(dtype=object, na_value=None).copy()
    unit_ids, periods = out["unit_id"].to_numpy(dtype=object).copy(), out["period"].to_numpy(dtype=object).copy()
    original = np.full(k, "", dtype=object)
    n_stations = world.stations.n
    width = max(3, len(str(n_stations)))
    for j, (row, kind) in enumerate(zip(rows, defect, strict=True)):
        v = values[row]
        if kind == "numerator_exceeds_denominator":
            original[j] = str(numerators[row])
            new = int(den[j]) + 1 + int(rng.poisson(2))
            numerators[row], values[row] = new, new / den[j]
        elif kind == "percentage_not_fraction":
            original[j], values[row] = f"{v:.10g}", round(float(v) * 100, 4)
        elif kind == "non_numeric_value":
            original[j] = f"{v:.10g}"
            values[row] = _NON_NUMERIC[rng.integers(len(_NON_NUMERIC))].format(value=f"{float(v):.2f}")
        elif kind == "unknown_unit":
            original[j] = unit_ids[row]
            extra = int(rng.integers(1, 10))
            unit_ids[row] = (
                f"PS{n_stations + extra:0{width}d}"
                if "-" not in unit_ids[row]
                else f"{unit_ids[row].split('-M')[0]}-M{world.officers_per_station + extra:02d}"
            )
        elif kind == "unparseable_period":
            original[j] = periods[row]
            month = parse_month(periods[row])
            template = _BAD_PERIODS[rng.integers(len(_BAD_PERIODS))]
            periods[row] = template.format(
                y=month.year, yy=f"{month.year % 100:02d}", mm=f"{month.month:02d}", m=month.month
            )
        elif kind == "negative_count":
            original[j] = f"{v:.10g}"
            values[row] = -float(v) if v > 0 else -float(1 + rng.poisson(1))
    out["value"] = values if (defect == "non_numeric_value").any() else values.astype(float)
    out["numerator"] = pd.array(numerators, dtype="Int64")
    out["unit_id"], out["period"] = unit_ids, periods

    duplicated = rows[defect == "duplicate_row"]
    source = np.concatenate([np.arange(n), duplicated])
    copy = np.concatenate([np.zeros(n, np.int64), np.ones(len(duplicated), np.int64)])
    order = np.lexsort((copy, source))
    position = np.empty(len(source), dtype=np.int64)
    position[order] = np.arange(len(source))
    out = out.iloc[source[order]].reset_index(drop=True)
    final = position[rows]
    final[defect == "duplicate_row"] = position[n:]
    report = out.iloc[final][["period", "unit_id", "indicator", "rater_id"]].reset_index(drop=True)
    defects = pd.DataFrame({"framework": fw.id, "row": final, **report, "defect": defect, "original": original})
    return out, defects.sort_values("row", kind="stable").reset_index(drop=True)[DEFECT_COLUMNS]


# ----------------------------------------------------------------------------- collaborations
def simulate_collaborations(
    units: pd.DataFrame,
    months: Sequence[pd.Period | str],
    *,
    rng: RngLike = None,
    effects: CollaborationEffects | None = None,
) -> pd.DataFrame:
    """Collaborative cases of the officers in ``units``, with a planted team effect (R17).

    Parameters
    ----------
    units
        Units table; its officers (``level == "officer"``) take part in the cases
        of their station (``parent_id``).
    months
        Months to simulate.
    rng
        Seed of the random stream ``collaborations`` (independent of all other streams): an
        int, a Generator (an int seed is drawn from it) or None (fresh entropy).
    effects
        Generating process; :data:`COLLABORATION_EFFECTS` by default.

    Returns
    -------
    pandas.DataFrame
        :data:`COLLABORATION_COLUMNS`, sorted by period, case and officer; the
        shares of every case add up to 1.
    """
    fx = effects or COLLABORATION_EFFECTS
    officers = units[units["level"] == "officer"]
    officer_ids = officers["unit_id"].astype(str).to_numpy()
    station_of = officers["parent_id"].astype(str).to_numpy()
    stations = list(dict.fromkeys(station_of))
    index = {s: i for i, s in enumerate(stations)}
    labels = [str(parse_month(m)) for m in months]
    rng = _rng(seed_from(rng), "collaborations")
    team = fx.team_sd * _standardise(rng.normal(0, 1, len(stations)))
    individual = fx.individual_sd * _standardise(rng.normal(0, 1, len(officer_ids)))
    credit = np.maximum(fx.mean_credit + team[[index[s] for s in station_of]] + individual, fx.min_credit)
    frames = []
    for station in stations:
        members = np.flatnonzero(station_of == station)
        expected = credit[members]
        cases = rng.poisson(expected.sum(), len(labels))
        parts = rng.multinomial(fx.slots, expected / expected.sum(), size=int(cases.sum()))
        case, member = np.nonzero(parts)
        month = np.repeat(np.arange(len(labels)), cases)[case]
        number = (np.arange(int(cases.sum())) - np.repeat(np.cumsum(cases) - cases, cases))[case] + 1
        period = np.asarray(labels, dtype=object)[month]
        frames.append(
            pd.DataFrame(
                {
                    "case_id": [f"{station}-{p.replace('-', '')}-{n:03d}" for p, n in zip(period, number, strict=True)],
                    "period": period,
                    "station": station,
                    "officer_id": officer_ids[members[member]],
                    "contribution_share": parts[case, member] / fx.slots,
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLLABORATION_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["period", "case_id", "officer_id"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- places (R20)
def _place(seed: int, district: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of stations (stream ``coordinates``; no other stream changes).

    ``district`` holds district indices 0…D-1 and ``area`` area-type indices into
    :data:`AREA_TYPES`. Districts sit around :data:`CITY_CENTRE`, the more urban
    ones (more 城区核心 stations) nearer to it; stations scatter around their
    district's centre, urban core stations within a few kilometres, rural ones over
    a county (sd 2 / 4 / 8 km for 城区核心 / 城乡结合部 / 农村).
    """
    rng = _rng(seed, "coordinates")
    n, n_districts = len(district), int(district.max()) + 1 if len(district) else 0
    core_share = np.array([np.mean(area[district == d] == 0) for d in range(n_districts)])
    radius = 4.0 + 30.0 * (1.0 - core_share) * rng.uniform(0.6, 1.2, n_districts)
    angle = (np.arange(n_districts) + rng.uniform(0, 0.6, n_districts)) * 2 * np.pi / max(n_districts, 1)
    centre_x, centre_y = radius * np.cos(angle), radius * np.sin(angle)
    spread = np.array([2.0, 4.0, 8.0])[area]
    x = centre_x[district] + rng.normal(0, 1, n) * spread
    y = centre_y[district] + rng.normal(0, 1, n) * spread
    lon0, lat0 = CITY_CENTRE
    lat = lat0 + y / _KM_PER_DEGREE
    lon = lon0 + x / (_KM_PER_DEGREE * np.cos(np.radians(lat0)))
    return np.round(lon, 5), np.round(lat, 5)


def place_stations(units: pd.DataFrame, *, rng: RngLike = None) -> pd.DataFrame:
    """Plausible made-up coordinates for the stations of a units table (R20 examples).

    The placement of :func:`simulate` with ``coordinates=True``, from a table's own
    ``district`` and ``area_type`` columns: for the shipped sample (or any
    simulated units table) and the seed it was made with, the same coordinates
    as ``simulate(..., coordinates=True)`` gives. For trying the spatial analyses
    (:mod:`perfmodel.spatial`) on data without coordinates; the places are not real.

    Returns
    -------
    pandas.DataFrame
        ``unit_id`` of every station row, ``lon``, ``lat``.

    Raises
    ------
    SimulationError
        When the table lacks ``unit_id``, ``level``, ``district`` or ``area_type``.
    """
    missing = [c for c in ("unit_id", "level", "district", "area_type") if c not in units.columns]
    if missing:
        raise SimulationError(f"the units table has no column {', '.join(missing)}; place_stations needs them")
    stations = units[units["level"] == "station"]
    district = pd.factorize(stations["district"].astype(str), sort=True)[0]
    area = np.array([AREA_TYPES.index(a) if a in AREA_TYPES else 1 for a in stations["area_type"]], dtype=int)
    lon, lat = _place(seed_from(rng), district, area)
    return pd.DataFrame({"unit_id": stations["unit_id"].astype(str).to_numpy(), "lon": lon, "lat": lat})


def _plant_hotspot(world: _World, lon: np.ndarray, lat: np.ndarray, hotspot: HotSpot) -> list[str]:
    """Lower θ of a cluster of neighbouring stations and of their officers; return the station ids."""
    if not 1 <= hotspot.stations <= world.stations.n:
        raise SimulationError(
            f"hotspot.stations must be between 1 and the number of stations ({world.stations.n}), "
            f"got {hotspot.stations}"
        )
    rng = _rng(world.seed, "hotspot")
    centre = int(rng.integers(world.stations.n))
    lat0 = np.radians(CITY_CENTRE[1])
    distance = np.hypot((lon - lon[centre]) * np.cos(lat0), lat - lat[centre])
    cluster = np.sort(np.argsort(distance, kind="stable")[: hotspot.stations])
    world.stations.theta = world.stations.theta.copy()
    world.stations.theta[cluster] -= hotspot.depression
    planted_officers = np.isin(world.officers.station, cluster)
    world.officers.theta = world.officers.theta - planted_officers * np.sqrt(world.effects.officer_icc) * (
        hotspot.depression
    )
    return [str(u) for u in world.stations.ids[cluster]]


def _locate(world: _World, hotspot: HotSpot | None) -> dict:
    """Add :data:`LOCATION_COLUMNS` to the units table and plant ``hotspot``; return the parameters entry."""
    lon, lat = _place(world.seed, world.stations.district, world.stations.area)
    station_of = np.concatenate([np.arange(world.stations.n), world.officers.station])
    world.units = world.units.assign(lon=lon[station_of], lat=lat[station_of])
    entry: dict = {"coordinates": True}
    if hotspot is not None:
        entry["hotspot"] = {**asdict(hotspot), "units": _plant_hotspot(world, lon, lat, hotspot)}
    return entry


# ----------------------------------------------------------------------------- public API
def _framework_hash(fw: Framework) -> str:
    return hashlib.sha256(fw.model_dump_json().encode("utf-8")).hexdigest()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("perfmodel")
    except Exception:  # not installed: record that instead of failing
        return "unknown"


def _check_arguments(
    frameworks: Sequence[Framework],
    stations: int,
    months: int,
    officers_per_station: int,
    defect_rate: float,
    missing_rate: float,
) -> None:
    if not frameworks:
        raise SimulationError("no frameworks given; pass at least one Framework (see load_framework)")
    ids = [fw.id for fw in frameworks]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SimulationError(f"framework id(s) given twice: {', '.join(repeated)}; pass each framework once")
    for name, value, low in (
        ("stations", stations, 1),
        ("months", months, 1),
        ("officers_per_station", officers_per_station, 0),
    ):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise SimulationError(f"{name} must be an integer >= {low}, got {value!r}")
    for name, value in (("defect_rate", defect_rate), ("missing_rate", missing_rate)):
        if not 0 <= value < 0.5:
            raise SimulationError(f"{name} must be a share between 0 and 0.5, got {value!r}")


@renamed_keywords(n_stations="stations", n_months="months", seed="rng")
def simulate(
    frameworks: Sequence[Framework],
    *,
    stations: int = 120,
    months: int = 24,
    start: str = "2024-01",
    officers_per_station: int = 6,
    rng: RngLike = None,
    confounding: bool = True,
    defect_rate: float = 0.002,
    missing_rate: float = 0.0,
    volumes: Mapping[str, float] | None = None,
    effects: Effects | None = None,
    collaborations: bool = False,
    coordinates: bool = False,
    hotspot: HotSpot | None = None,
) -> Sample:
    """Simulate stations and officers with known truth, observed through ``frameworks``.

    Parameters
    ----------
    frameworks
        The indicator systems to observe; each gets its own observations table.
    stations, months, start
        Number of stations and of months covered (``start`` as ``YYYY-MM``).
    officers_per_station
        Officers simulated per station; their roles repeat community policing,
        criminal investigation, traffic, emergency, community policing, criminal
        investigation (:data:`ROLES`).
    rng
        Every random stream is derived from one integer seed: ``rng`` itself when it is an
        int (same arguments give identical frames), else one drawn from it
        (:func:`perfmodel.randomness.seed_from`). The seed used is recorded in
        ``Sample.parameters["seed"]``.
    confounding
        Whether uncontrollable context (load, fringe, district, area type,
        season, rater leniency) affects the observations. With ``False`` only the
        truth and noise (and the sizes that set the noise) remain.
    defect_rate
        Share of observation rows corrupted with a defect of :data:`DEFECT_TYPES`
        (listed in ``Sample.defects``). ``0`` gives clean data.
    missing_rate
        Share of unit-months that report nothing at all.
    volumes
        Indicator id → typical monthly volume (cases, call-backs…) behind a rate,
        duration or citizen score at an average station, overriding the defaults.
    effects
        Effect sizes; :class:`Effects` by default.
    collaborations
        Also simulate collaborative cases (:func:`simulate_collaborations`, with
        :data:`COLLABORATION_EFFECTS`) into ``Sample.collaborations``.
    coordinates
        Add :data:`LOCATION_COLUMNS` (``lon``, ``lat``) to the units table: stations
        placed around :data:`CITY_CENTRE`, drawn from their own random stream, so
        every other table is the same as without them.
    hotspot
        Plant a cluster of neighbouring stations with depressed true performance
        (:class:`HotSpot`; implies ``coordinates``). Recorded, with the planted
        stations, in ``Sample.parameters["hotspot"]``.

    Returns
    -------
    Sample

    Raises
    ------
    SimulationError
        For impossible arguments, repeated framework ids, or an officer role the
        simulation has no officers for.
    OptionError
        For an ``rng`` that is not an int >= 0, a Generator or None.
    """
    frameworks = list(frameworks)
    _check_arguments(frameworks, stations, months, officers_per_station, defect_rate, missing_rate)
    seed = seed_from(rng)
    n_stations, n_months = stations, months
    first = parse_month(start)
    months = list(pd.period_range(first, periods=n_months, freq="M"))
    fx = effects or EFFECTS
    volumes = dict(volumes or {})
    world = _build_world(
        seed=int(seed),
        n_stations=n_stations,
        months=months,
        officers_per_station=officers_per_station,
        confounding=confounding,
        effects=fx,
    )
    located = _locate(world, hotspot) if coordinates or hotspot is not None else {}
    observations, truth_values, truth_units, defects = {}, [], [], []
    caches: dict = {}
    for fw in frameworks:
        obs, kinds, values = _observations(world, fw, _specs(fw), volumes, missing_rate, caches)
        obs, found = _inject_defects(obs, kinds, fw, world, defect_rate)
        observations[fw.id] = obs
        truth_values.append(values)
        truth_units.append(_truth_units(world, fw))
        defects.append(found)

    parameters = {
        "generator": "perfmodel.simulate.simulate",
        "perfmodel_version": _version(),
        "seed": seed,
        "n_stations": n_stations,  # recorded under the names of the first samples' parameters.json
        "n_months": n_months,
        "start": str(first),
        "officers_per_station": officers_per_station,
        "confounding": confounding,
        "defect_rate": defect_rate,
        "missing_rate": missing_rate,
        "volumes": volumes,
        "effects": asdict(fx),
        "frameworks": [{"id": fw.id, "version": fw.version, "sha256": _framework_hash(fw)} for fw in frameworks],
        **located,
    }
    return Sample(
        units=world.units,
        observations=observations,
        truth_units=pd.concat(truth_units, ignore_index=True),
        truth_values=pd.concat(truth_values, ignore_index=True),
        defects=pd.concat(defects, ignore_index=True),
        parameters=parameters,
        collaborations=simulate_collaborations(world.units, months, rng=seed) if collaborations else None,
    )


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    if "value" in out.columns and out["value"].dtype == object:
        out["value"] = [
            v if isinstance(v, str) else ("" if v is None or np.isnan(v) else f"{v:.10g}") for v in out["value"]
        ]
    return out.to_csv(index=False, float_format="%.10g", lineterminator="\n").encode("utf-8")


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return path


def write_sample(sample: Sample, out_dir: str | Path) -> dict[str, Path]:
    """Write a sample as UTF-8 CSV files; same sample → byte-identical files.

    Layout: ``units.csv``; ``observations/<framework_id>.csv.gz`` (one per
    framework); ``station_observations.csv.gz`` (a copy of the
    ``station_four_dimension`` observations, when simulated); ``truth_units.csv``;
    ``truth_values.csv.gz``; ``defects.csv``; ``parameters.json``; and
    ``collaborations.csv`` when the sample has collaborations.

    Returns
    -------
    dict
        File key → written path.
    """
    out = Path(out_dir)
    paths: dict[str, Path] = {"units": _write(out / "units.csv", _csv_bytes(sample.units))}
    for fid, obs in sample.observations.items():
        data = _csv_bytes(obs)
        paths[f"observations/{fid}"] = _write(out / "observations" / f"{fid}.csv.gz", data)
        if fid == DEFAULT_REPORT_FRAMEWORK:
            paths["station_observations"] = _write(out / "station_observations.csv.gz", data)
    paths["truth_units"] = _write(out / "truth_units.csv", _csv_bytes(sample.truth_units))
    paths["truth_values"] = _write(out / "truth_values.csv.gz", _csv_bytes(sample.truth_values))
    paths["defects"] = _write(out / "defects.csv", _csv_bytes(sample.defects))
    if sample.collaborations is not None:
        paths["collaborations"] = _write(out / "collaborations.csv", _csv_bytes(sample.collaborations))
    text = json.dumps(sample.parameters, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    paths["parameters"] = _write(out / "parameters.json", text.encode("utf-8"))
    return paths


def generate_sample(
    out_dir: str | Path,
    *,
    stations: int = 120,
    months: int = 24,
    rng: RngLike = None,
    start: str = "2024-01",
    frameworks: Sequence[str | Path | Framework] | None = None,
    coordinates: bool = False,
    hotspot: HotSpot | None = None,
) -> dict[str, Path]:
    """Simulate the sample dataset and write it to ``out_dir`` (``perfmodel sample``).

    Parameters
    ----------
    out_dir
        Output folder (created if needed).
    stations, months, rng, start
        As for :func:`simulate`. ``perfmodel sample`` passes ``--seed`` (default 20250101);
        the seed used is written into ``parameters.json`` with the command that repeats it.
    frameworks
        Framework ids, YAML paths or :class:`Framework` objects; by default every
        framework shipped in ``perfmodel/frameworks``.
    coordinates, hotspot
        As for :func:`simulate` (``perfmodel sample --coordinates``, ``--hotspot N``).

    Returns
    -------
    dict
        File key → written path (see :func:`write_sample`).
    """
    if frameworks is None:
        frameworks = list(shipped_frameworks())
    loaded, files = [], {}
    for item in frameworks:
        if isinstance(item, Framework):
            loaded.append(item)
            continue
        fw = load_framework(item)
        loaded.append(fw)
        path = Path(shipped_frameworks().get(str(item), item))
        files[fw.id] = {"file": path.name, "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    seed = seed_from(rng)
    sample = simulate(
        loaded,
        stations=stations,
        months=months,
        rng=seed,
        start=start,
        collaborations=True,
        coordinates=coordinates,
        hotspot=hotspot,
    )
    for entry in sample.parameters["frameworks"]:
        entry.update(files.get(entry["id"], {}))
    sample.parameters["command"] = (
        f"perfmodel sample --out <folder> --stations {stations} --months {months} --seed {seed} --start {start}"
    )
    if hotspot is not None:
        sample.parameters["command"] += f" --hotspot {hotspot.stations} --hotspot-depression {hotspot.depression:g}"
    elif coordinates:
        sample.parameters["command"] += " --coordinates"
    return write_sample(sample, out_dir)
