"""Indicator systems as data: the :class:`Framework` model, YAML loading and policy rules.

A framework is a tree of dimensions and indicators with weights, plus the rules
that turn indicator values into a score, a grade and a rank. It is written in
YAML (schema in ``docs/framework.md``) and validated on load; every error names
the offending node by its path in the tree, for example
``framework 'my.yaml', node tree › enforcement › case_rate: weight must be ...``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from perfmodel.errors import PerfmodelError, UnknownKeyError
from perfmodel.periods import PeriodError, parse_month
from perfmodel.text import check_lang
from perfmodel.weights import effective_weights

__all__ = [
    "GRADES",
    "GRADE_NAMES_EN",
    "SUBJECTIVE_SOURCES",
    "Source",
    "FrameworkError",
    "Name",
    "Threshold",
    "Temporary",
    "Indicator",
    "Dimension",
    "Award",
    "Framework",
    "NodeInfo",
    "load_framework",
    "read_framework_yaml",
    "framework_from_dict",
    "shipped_frameworks",
    "framework_path",
]

GRADES: tuple[str, ...] = ("优秀", "良好", "合格", "不合格")
"""Grades from best to worst (R12)."""

GRADE_NAMES_EN: dict[str, str] = {"优秀": "excellent", "良好": "good", "合格": "pass", "不合格": "fail"}

Source = Literal["system", "supervisor", "peer", "self", "citizen"]
"""Where an indicator's values come from."""

SUBJECTIVE_SOURCES: tuple[Source, ...] = ("supervisor", "peer", "self")
"""Sources counted as subjective evaluation by default (R8)."""

WEIGHT_TOLERANCE = 1e-6

ID_PATTERN = re.compile(r"[a-z0-9_]+")
"""Every id of a framework (its own, nodes, case types, bonus and negative-list items and
the inputs they count): ids become file names, folder names and column names."""

MAX_FRAMEWORK_BYTES = 1_000_000
"""Largest framework file read (the shipped ones are under 20 KB)."""

GEOMETRIC_FLOOR_SHARE = 0.01
"""Default ``aggregation.geometric_floor``: this share of the normalisation range above its low end."""


class FrameworkError(PerfmodelError, ValueError):
    """A framework file that cannot be used; the message names the node and the fix."""


def _check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"id {value!r} may hold only lowercase letters a-z, digits and '_' (ids name output "
            f"files and columns), e.g. {_suggest_id(value)!r}"
        )
    return value


def _suggest_id(value: str) -> str:
    """A valid id close to ``value`` for the error message."""
    return re.sub(r"[^a-z0-9_]+", "_", value.casefold()).strip("_") or "my_id"


Id = Annotated[str, AfterValidator(_check_id)]
"""A framework id: ``[a-z0-9_]+``."""


def _check_interval(value: tuple[float, float] | None) -> tuple[float, float] | None:
    if value is not None and not value[0] < value[1]:
        raise ValueError(
            f"[{value[0]:g}, {value[1]:g}] must be [low, high] in increasing order (low < high), "
            "e.g. [0, 100]; the direction, not the order, says which end is best"
        )
    return value


Interval = Annotated[tuple[float, float], AfterValidator(_check_interval)]
"""``[low, high]`` with finite ends and low < high."""


class _Model(BaseModel):
    # allow_inf_nan=False: no number of a framework may be NaN or infinite
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Name(_Model):
    """A bilingual name."""

    zh: str
    en: str

    def in_lang(self, lang: str) -> str:
        """The name in ``lang`` (``zh`` or ``en``).

        Examples
        --------
        >>> Name(zh="派出所", en="Police station").in_lang("en")
        'Police station'
        """
        return str(getattr(self, check_lang(lang)))


class Threshold(_Model):
    """A hard threshold on an indicator's period value (R9), e.g. 三实信息采集率 ≥ 95 %.

    ``consequence``: ``flag`` only marks the breach; ``grade_cap`` limits the unit's
    grade to ``grade_cap`` at best; ``zero`` sets the indicator's normalised score to
    the bottom of the scale.
    """

    min: float | None = None
    max: float | None = None
    consequence: Literal["flag", "grade_cap", "zero"] = "flag"
    grade_cap: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs 'min' or 'max'")
        if self.consequence == "grade_cap" and self.grade_cap not in GRADES:
            raise ValueError(f"consequence grade_cap needs grade_cap: one of {', '.join(GRADES)}")
        return self

    def breached(self, value: float) -> bool:
        """Whether ``value`` breaks the threshold (missing values do not)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return (self.min is not None and value < self.min) or (self.max is not None and value > self.max)

    def breached_where(self, values: npt.ArrayLike) -> np.ndarray:
        """Whether each of ``values`` breaks the threshold, as :meth:`breached` says of one (missing: no)."""
        numbers = np.asarray(values, dtype=float)
        out = np.zeros(numbers.shape, dtype=bool)
        if self.min is not None:
            out |= numbers < self.min  # NaN compares false
        if self.max is not None:
            out |= numbers > self.max
        return out


class Temporary(_Model):
    """Validity window of a temporary special indicator (R6), months inclusive."""

    valid_from: str
    valid_to: str
    reason: str | None = None

    @field_validator("valid_from", "valid_to")
    @classmethod
    def _month(cls, value: str) -> str:
        try:
            return str(parse_month(value))
        except PeriodError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _order(self) -> Temporary:
        if parse_month(self.valid_from) > parse_month(self.valid_to):
            raise ValueError(
                f"valid_from {self.valid_from} is after valid_to {self.valid_to}; the window would never be active"
            )
        return self

    def active(self, month: object) -> bool:
        """Whether the indicator counts in ``month``."""
        month = parse_month(month)
        return parse_month(self.valid_from) <= month <= parse_month(self.valid_to)


class Indicator(_Model):
    """A leaf of the tree: one measured indicator.

    ``aliases`` are other names of the indicator in the bureau's exports (zh or en);
    observations may name the indicator by its id, its zh or en name or an alias
    (see :meth:`Framework.indicator_lookup`).
    """

    id: Id
    name: Name
    aliases: tuple[str, ...] = ()
    weight: float = Field(ge=0)
    direction: Literal["higher", "lower", "target"] = "higher"
    target: float | None = None
    kind: Literal["rate", "count", "duration", "score", "points"]
    source: Source = "system"
    unit: str | None = None
    range: Interval | None = None
    layer: str | None = None
    quadrant: str | None = None
    preventable: bool | None = None
    threshold: Threshold | None = None
    temporary: Temporary | None = None
    denominator: str | None = None
    per: float = Field(default=1.0, gt=0)
    points: dict[Id, float] | None = None
    goalposts: Interval | None = None
    training_topic: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Indicator:
        if self.direction == "target" and self.target is None:
            raise ValueError("direction 'target' needs a 'target' value")
        if self.kind == "points" and not self.points:
            raise ValueError("kind 'points' needs 'points': a mapping of case type to points")
        if self.kind != "points" and self.points:
            raise ValueError("'points' is only allowed with kind 'points'")
        if self.kind == "points" and self.aliases:
            raise ValueError(
                "'aliases' are not allowed with kind 'points': observations carry its case types, "
                "not the indicator itself"
            )
        if any(not alias.strip() for alias in self.aliases):
            raise ValueError("aliases must not be empty")
        return self

    @property
    def is_subjective(self) -> bool:
        return self.source in SUBJECTIVE_SOURCES

    @property
    def inputs(self) -> tuple[str, ...]:
        """Indicator ids whose observations feed this indicator."""
        return tuple(self.points) if self.points else (self.id,)


class Dimension(_Model):
    """An inner node: a weighted group of sub-dimensions or indicators."""

    id: Id
    name: Name
    weight: float = Field(ge=0)
    children: tuple[Dimension | Indicator, ...]
    training_topic: str | None = None
    description: str | None = None


class Normalisation(_Model):
    method: Literal["minmax", "zscore", "rank", "goalposts", "target"] = "minmax"
    range: Interval = (0.0, 100.0)
    within: str | None = None


class Aggregation(_Model):
    """How scores are combined up the tree.

    ``geometric_floor`` not given: :data:`GEOMETRIC_FLOOR_SHARE` of the normalisation
    range above its low end (1 on 0–100, 0.01 on 0–1), filled in by :class:`Framework`.
    """

    method: Literal["arithmetic", "geometric"] = "arithmetic"
    respread_missing: bool = True
    geometric_floor: float = Field(default=1.0, gt=0)


class Missing(_Model):
    """Missing-data rules.

    ``min_months``: a unit needs data in at least this many months of the period to be
    graded; ``None`` means every month of the period.
    """

    imputation: Literal["none", "group_mean", "carry_forward"] = "none"
    group: str | None = None
    max_age: int = Field(default=1, ge=1)
    min_availability: float = Field(default=0.5, ge=0, le=1)
    min_months: int | None = Field(default=None, ge=1)


class Treatment(_Model):
    winsorise: bool = False
    skew: float = 2.0
    kurtosis: float = 3.5
    max_points: int = Field(default=6, ge=0)
    log: bool = False


class Difficulty(_Model):
    by: str
    coefficients: dict[str, Annotated[float, Field(gt=0)]]
    cap: float | None = Field(default=None, gt=0)


class BonusItem(_Model):
    id: Id
    name: Name
    indicator: Id
    points_per_unit: float = Field(gt=0)
    cap: float | None = Field(default=None, gt=0)


class NegativeItem(_Model):
    id: Id
    name: Name
    indicator: Id
    consequence: Literal["warning", "deduct", "grade_cap"] = "warning"
    points: float = Field(default=0.0, ge=0)
    grade_cap: str | None = None

    @model_validator(mode="after")
    def _check(self) -> NegativeItem:
        if self.consequence == "grade_cap" and self.grade_cap not in GRADES:
            raise ValueError(f"consequence grade_cap needs grade_cap: one of {', '.join(GRADES)}")
        if self.consequence == "deduct" and self.points <= 0:
            raise ValueError("consequence 'deduct' needs points > 0")
        return self


class Grading(_Model):
    method: Literal["cutoffs", "quota"] = "cutoffs"
    cutoffs: dict[str, float] = {"优秀": 85.0, "良好": 75.0, "合格": 60.0}
    quotas: dict[str, float] = {"优秀": 0.15, "良好": 0.35, "合格": 0.40}
    within: str | None = None
    tie_break: tuple[str, ...] = ("heaviest_dimension", "fewer_negative_hits")
    """Quota ties at a boundary are decided by these keys in turn (perfmodel.grading.TIE_BREAKS)."""

    @model_validator(mode="after")
    def _check(self) -> Grading:
        for key in (*self.cutoffs, *self.quotas):
            if key not in GRADES[:-1]:
                raise ValueError(f"unknown grade {key!r}; use {', '.join(GRADES[:-1])}")
        for key in self.tie_break:
            if key not in ("heaviest_dimension", "fewer_negative_hits") and not (
                key.startswith("dimension:") and len(key) > len("dimension:")
            ):
                raise ValueError(
                    f"tie_break: unknown key {key!r}; use heaviest_dimension, fewer_negative_hits or dimension:<id>"
                )
        if len(set(self.tie_break)) < len(self.tie_break):
            raise ValueError("tie_break: a key is listed twice; list each key once")
        cut = [self.cutoffs[g] for g in GRADES[:-1] if g in self.cutoffs]
        if any(a < b for a, b in zip(cut, cut[1:], strict=False)):
            raise ValueError("cutoffs must decrease from 优秀 to 合格")
        if sum(self.quotas.values()) > 1 + WEIGHT_TOLERANCE:
            raise ValueError("quotas must add up to at most 1")
        return self


class Calibration(_Model):
    """Context the units do not control, and how indicators are adjusted for it (R4, R5, R8).

    ``covariates`` are units-table columns (or derived columns such as
    ``log_workload``) entered in every indicator's case-mix model unless
    ``formulas`` gives an indicator its own right-hand side. ``exclude`` lists
    indicators never adjusted. ``shrinkage`` pulls small-volume rates towards
    their peer mean; ``raters`` removes rater leniency from multi-rater scores.
    ``nonpreventable`` says how ``preventable: false`` indicators enter a
    calibrated evaluation (R5): ``adjust`` them for context like the others
    (they keep their declared, usually reduced, weight), or ``exclude`` them from
    the score (their weight is re-spread over the other indicators).
    """

    covariates: tuple[str, ...] = ()
    formulas: dict[str, str] = {}
    exclude: tuple[str, ...] = ()
    shrinkage: bool = True
    raters: bool = True
    nonpreventable: Literal["adjust", "exclude"] = "adjust"


class Award(_Model):
    """An award kind whose slots are apportioned to units by grade (R12), see :mod:`perfmodel.awards`.

    ``level``: ``collective`` awards go to a unit as a whole (集体嘉奖, weight
    ``multiplier``); ``individual`` awards go to its officers (个人三等功/嘉奖, weight
    ``multiplier × headcount``). ``slots`` is the bureau's total; ``multipliers``
    names every grade and may not rise from 优秀 to 不合格 (better units get higher quotas).
    """

    id: Id
    name: Name
    level: Literal["collective", "individual"]
    slots: int = Field(ge=0)
    multipliers: dict[str, Annotated[float, Field(ge=0)]] = {"优秀": 1.5, "良好": 1.2, "合格": 1.0, "不合格": 0.0}

    @model_validator(mode="after")
    def _check(self) -> Award:
        if set(self.multipliers) != set(GRADES):
            raise ValueError(
                f"award {self.id!r}: multipliers must name every grade ({', '.join(GRADES)}) once; "
                f"got {', '.join(self.multipliers) or 'none'}"
            )
        values = [self.multipliers[g] for g in GRADES]
        if any(a < b for a, b in zip(values, values[1:], strict=False)):
            raise ValueError(
                f"award {self.id!r}: multipliers must not increase from 优秀 to 不合格 "
                f"({', '.join(f'{g} {v:g}' for g, v in zip(GRADES, values, strict=True))}): "
                "a better grade may not get a lower quota (R12)"
            )
        if self.slots and not any(values):
            raise ValueError(f"award {self.id!r}: every multiplier is 0, so its {self.slots} slots could go to nobody")
        return self


class Policy(_Model):
    max_temporary_weight: float = Field(default=0.20, ge=0, le=1)
    max_subjective_weight: float = Field(default=0.30, ge=0, le=1)
    subjective_sources: tuple[Source, ...] = SUBJECTIVE_SOURCES


class Reporting(_Model):
    deadline_day: int = Field(default=27, ge=1, le=31)
    deadline_month_offset: int = Field(default=1, ge=0, le=3)


@dataclass(frozen=True)
class NodeInfo:
    """A node of the tree with its place: path, depth and effective weight."""

    node: Dimension | Indicator
    path: tuple[str, ...]
    parent: str | None
    effective_weight: float

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def depth(self) -> int:
        return len(self.path)


class Framework(_Model):
    """An indicator system: the weight tree and every rule applied to it."""

    id: Id
    name: Name
    level: Literal["station", "officer"]
    role: str | None = None
    version: str = "1"
    description: str | None = None
    requirements: tuple[str, ...] = ()
    peer_group: str | None = None
    normalisation: Normalisation = Normalisation()
    aggregation: Aggregation = Aggregation()
    missing: Missing = Missing()
    treatment: Treatment = Treatment()
    difficulty: Difficulty | None = None
    calibration: Calibration = Calibration()
    bonus: tuple[BonusItem, ...] = ()
    negative_list: tuple[NegativeItem, ...] = ()
    grading: Grading = Grading()
    awards: tuple[Award, ...] = ()
    policy: Policy = Policy()
    reporting: Reporting = Reporting()
    tree: tuple[Dimension | Indicator, ...]

    # ------------------------------------------------------------------ walking
    def walk(self, overrides: Mapping[str, float] | None = None) -> Iterator[NodeInfo]:
        """Every node, depth first, with its path and effective (product) weight.

        ``overrides`` replaces the weights of the nodes it names (node id → weight).
        """
        products = effective_weights(self, overrides, normalise=False, dimensions=True)

        def visit(
            nodes: tuple[Dimension | Indicator, ...], path: tuple[str, ...], parent: str | None
        ) -> Iterator[NodeInfo]:
            for node in nodes:
                info = NodeInfo(node, (*path, node.id), parent, products[node.id])
                yield info
                if isinstance(node, Dimension):
                    yield from visit(node.children, info.path, node.id)

        yield from visit(self.tree, (), None)

    def indicators(self) -> list[Indicator]:
        """The leaves, in tree order."""
        return [i.node for i in self.walk() if isinstance(i.node, Indicator)]

    def dimensions(self) -> list[Dimension]:
        """The inner nodes, in tree order."""
        return [i.node for i in self.walk() if isinstance(i.node, Dimension)]

    def node(self, node_id: str) -> NodeInfo:
        for info in self.walk():
            if info.id == node_id:
                return info
        raise UnknownKeyError(f"framework {self.id!r} has no node {node_id!r}")

    def effective_weights(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Each indicator's share of the total score (product of the weights on its path).

        ``overrides`` replaces the weights of the nodes it names, as in
        :func:`perfmodel.aggregate.aggregate_tree`; the weights are multiplied as
        given (a valid framework's siblings sum to 1). See
        :func:`perfmodel.weights.effective_weights`, which this calls.
        """
        return effective_weights(self, overrides, normalise=False)

    def input_indicators(self) -> dict[str, str]:
        """Every indicator id that may appear in observations, with its kind.

        Tree indicators, the case types of points indicators (counts), and the
        counts behind bonus items and negative-list items.
        """
        kinds: dict[str, str] = {}
        for ind in self.indicators():
            if ind.kind == "points":
                for case_type in ind.inputs:
                    kinds[case_type] = "count"
            else:
                kinds[ind.id] = ind.kind
        for item in self.count_items():
            kinds.setdefault(item.indicator, "count")
        return kinds

    def count_items(self) -> tuple[BonusItem | NegativeItem, ...]:
        """The bonus and negative-list items: each counts an input indicator of its own."""
        return (*self.bonus, *self.negative_list)

    def event_indicators(self) -> set[str]:
        """Inputs that count events (case types, bonus and negative-list items).

        A month without a row for them means no event, so their period value is the
        plain sum, never prorated for missing months.
        """
        events = {c for ind in self.indicators() if ind.points for c in ind.points}
        return events | {item.indicator for item in self.count_items()}

    def rollup_kinds(self) -> dict[str, str]:
        """Input indicator → roll-up rule (kinds, with ``event`` for event counts)."""
        events = self.event_indicators()
        return {k: ("event" if k in events else v) for k, v in self.input_indicators().items()}

    def indicator_meta(self) -> dict[str, Indicator]:
        return {ind.id: ind for ind in self.indicators()}

    def source_weights(self) -> dict[str, float]:
        """Stated weight per source (system, supervisor, peer, self, citizen)."""
        out: dict[str, float] = {}
        for info in self.walk():
            if isinstance(info.node, Indicator):
                out[info.node.source] = out.get(info.node.source, 0.0) + info.effective_weight
        return out

    def temporary_weight(self) -> float:
        return sum(
            info.effective_weight
            for info in self.walk()
            if isinstance(info.node, Indicator) and info.node.temporary is not None
        )

    def subjective_weight(self) -> float:
        return sum(w for source, w in self.source_weights().items() if source in self.policy.subjective_sources)

    def weight_table(self):
        """The weight tree as a tidy DataFrame (one row per node) for reports."""
        import pandas as pd

        rows = []
        for info in self.walk():
            node = info.node
            ind = node if isinstance(node, Indicator) else None
            rows.append(
                {
                    "id": node.id,
                    "name_zh": node.name.zh,
                    "name_en": node.name.en,
                    "level": info.depth,
                    "parent": info.parent,
                    "type": "dimension" if ind is None else "indicator",
                    "weight": node.weight,
                    "effective_weight": info.effective_weight,
                    "direction": None if ind is None else ind.direction,
                    "kind": None if ind is None else ind.kind,
                    "source": None if ind is None else ind.source,
                    "threshold": None if ind is None else _describe_threshold(ind.threshold),
                    "temporary": (
                        f"{ind.temporary.valid_from}–{ind.temporary.valid_to}"
                        if ind is not None and ind.temporary
                        else None
                    ),
                }
            )
        return pd.DataFrame(rows)

    # ------------------------------------------------------- indicator names
    def _spellings(self) -> Iterator[tuple[str, str]]:
        """(spelling, input indicator id) for every name observations may use."""
        inputs = self.input_indicators()
        for input_id in inputs:
            yield input_id, input_id
        for ind in self.indicators():
            if ind.id in inputs:  # a points indicator is fed by its case types instead
                for spelling in (ind.name.zh, ind.name.en, *ind.aliases):
                    yield spelling, ind.id
        for item in self.count_items():
            yield item.name.zh, item.indicator
            yield item.name.en, item.indicator

    def _lookup_table(self) -> tuple[dict[str, str], dict[str, set[str]]]:
        from perfmodel.io import normalise_header  # lazy: io imports pandas

        table: dict[str, str] = {}
        clashes: dict[str, set[str]] = {}
        for spelling, input_id in self._spellings():
            key = normalise_header(spelling)
            if table.setdefault(key, input_id) != input_id:
                clashes.setdefault(key, {table[key]}).add(input_id)
        return table, clashes

    def indicator_lookup(self) -> dict[str, str]:
        """Every accepted spelling of an input indicator, normalised, → the indicator id.

        Observations may name an indicator by its id, its ``name.zh`` or ``name.en``, or
        one of its ``aliases``; case types of points indicators and the counts behind
        bonus and negative-list items by their id, and the latter also by the item's
        zh or en name. Spellings are keys as :func:`perfmodel.io.normalise_header`
        makes them (trimmed, case-folded, inner spaces and hyphens as ``_``): look a
        cell up with ``lookup[normalise_header(cell)]``. A spelling that would name
        two indicators is refused when the framework loads, so the mapping is never
        ambiguous.

        Examples
        --------
        >>> fw = load_framework("station_four_dimension")
        >>> lookup = fw.indicator_lookup()
        >>> lookup["case_compliance_rate"], lookup["案件规范率"]
        ('case_compliance_rate', 'case_compliance_rate')
        """
        return self._lookup_table()[0]

    def suggest_indicator(self, text: str, n: int = 3) -> list[str]:
        """Ids of the input indicators whose spellings are closest to ``text``, best first.

        For "did you mean" messages: the normalised ``text`` is compared with every
        spelling of :meth:`indicator_lookup` by :func:`difflib.get_close_matches`,
        character by character, so a one-character slip in a Chinese name is found
        as well as one in an English id. Empty when nothing is close.

        Examples
        --------
        >>> fw = load_framework("station_four_dimension")
        >>> fw.suggest_indicator("案件规苑率")
        ['case_compliance_rate']
        """
        from perfmodel.io import normalise_header

        table = self.indicator_lookup()
        close = difflib.get_close_matches(normalise_header(text), list(table), n=4 * n, cutoff=0.6)
        return list(dict.fromkeys(table[c] for c in close))[:n]

    # --------------------------------------------------------------- validation
    @model_validator(mode="before")
    @classmethod
    def _default_geometric_floor(cls, data: Any) -> Any:
        """Fill in ``aggregation.geometric_floor`` from the normalisation range when not given."""
        if not isinstance(data, Mapping):
            return data
        aggregation = data.get("aggregation", {})
        if isinstance(aggregation, Aggregation):
            if "geometric_floor" in aggregation.model_fields_set:
                return data
            aggregation = aggregation.model_dump(exclude_unset=True)
        if not isinstance(aggregation, Mapping) or "geometric_floor" in aggregation:
            return data
        normalisation = data.get("normalisation", {})
        if isinstance(normalisation, Normalisation):
            span = normalisation.range
        elif isinstance(normalisation, Mapping):
            span = normalisation.get("range", Normalisation().range)
        else:
            return data
        try:
            low, high = (float(x) for x in span)
        except (TypeError, ValueError):
            return data  # the range's own check reports it
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
            return data
        floor = low + GEOMETRIC_FLOOR_SHARE * (high - low)
        return {**data, "aggregation": {**aggregation, "geometric_floor": floor}}

    @model_validator(mode="after")
    def _check_tree(self) -> Framework:
        problems: list[str] = []
        _check_geometric(self, problems)
        for spelling, ids in sorted(self._lookup_table()[1].items()):
            problems.append(
                f"indicator name or alias {spelling!r} would name {' and '.join(sorted(ids))}; "
                "observations could not tell them apart: rename or remove one of them"
            )
        _check_weights(self.tree, ("tree",), problems)
        seen: dict[str, tuple[str, ...]] = {}
        for info in self.walk():
            if info.id in seen:
                problems.append(
                    f"node {' › '.join(('tree', *info.path))}: duplicate id {info.id!r} "
                    f"(already used at {' › '.join(('tree', *seen[info.id]))}); "
                    "ids must be unique: rename one of them"
                )
            seen[info.id] = info.path
        tree_ids = set(seen)
        for case_type in (c for ind in self.indicators() if ind.points for c in ind.points):
            if case_type in tree_ids:
                problems.append(f"points case type {case_type!r} is also a node id; give the case type its own id")
        for item in self.count_items():
            if item.indicator in tree_ids:
                problems.append(
                    f"bonus/negative item {item.id!r} counts indicator {item.indicator!r}, which is a "
                    "weighted tree node; bonus and negative-list counts must be separate indicators"
                )
        award_ids = [award.id for award in self.awards]
        if len(set(award_ids)) < len(award_ids):
            problems.append(f"awards: ids {', '.join(sorted(award_ids))} repeat one; give each award its own id")
        if self.normalisation.method == "goalposts":
            lacking = [i.id for i in self.indicators() if i.goalposts is None]
            if lacking:
                problems.append(
                    f"normalisation 'goalposts' needs goalposts on every indicator; missing on: {', '.join(lacking)}"
                )
        if self.normalisation.method == "target":
            lacking = [i.id for i in self.indicators() if i.target is None]
            if lacking:
                problems.append(
                    f"normalisation 'target' needs a target on every indicator; missing on: {', '.join(lacking)}"
                )
        temporary = self.temporary_weight()
        if temporary > self.policy.max_temporary_weight + WEIGHT_TOLERANCE:
            names = [i.id for i in self.indicators() if i.temporary]
            problems.append(
                f"temporary indicators ({', '.join(names)}) carry {temporary:.1%} of the total weight; "
                f"policy allows at most {self.policy.max_temporary_weight:.0%} (R6): lower their weights"
            )
        subjective = self.subjective_weight()
        if subjective > self.policy.max_subjective_weight + WEIGHT_TOLERANCE:
            problems.append(
                f"subjective sources ({', '.join(self.policy.subjective_sources)}) carry "
                f"{subjective:.1%} of the total weight; the framework's limit is "
                f"{self.policy.max_subjective_weight:.0%} (policy.max_subjective_weight, R8)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _check_geometric(fw: Framework, problems: list[str]) -> None:
    """The geometric floor lies in the normalisation range; geometric means need low >= 0."""
    low, high = fw.normalisation.range
    floor = fw.aggregation.geometric_floor
    if low < 0:
        if fw.aggregation.method == "geometric":
            problems.append(
                f"aggregation 'geometric' needs normalised values >= 0, but normalisation.range "
                f"is [{low:g}, {high:g}]: use a range with low >= 0 or aggregation 'arithmetic'"
            )
        return
    if not low <= floor < high:
        suggested = low + GEOMETRIC_FLOOR_SHARE * (high - low)
        problems.append(
            f"aggregation.geometric_floor {floor:g} is outside normalisation.range "
            f"[{low:g}, {high:g}]: values below the floor are raised to it, so a floor at or "
            f"above the top gives every unit the same score; use a floor in [{low:g}, {high:g}) "
            f"or leave it out for the default {suggested:g} (1 % of the range above its low end)"
        )


def _describe_threshold(threshold: Threshold | None) -> str | None:
    if threshold is None:
        return None
    parts = []
    if threshold.min is not None:
        parts.append(f"≥ {threshold.min:g}")
    if threshold.max is not None:
        parts.append(f"≤ {threshold.max:g}")
    consequence: str = threshold.consequence
    if consequence == "grade_cap":
        consequence = f"grade at most {threshold.grade_cap}"
    return f"{' and '.join(parts)} ({consequence})"


def _check_weights(nodes, path: tuple[str, ...], problems: list[str]) -> None:
    total = sum(node.weight for node in nodes)
    if not nodes:
        problems.append(f"node {' › '.join(path)}: has no children")
        return
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        listing = ", ".join(f"{n.id}={n.weight:g}" for n in nodes)
        problems.append(
            f"node {' › '.join(path)}: child weights add up to {total:.6g}, not 1 ({listing}); "
            "rescale them so they sum to 1"
        )
    for node in nodes:
        if isinstance(node, Dimension):
            _check_weights(node.children, (*path, node.id), problems)


# ------------------------------------------------------------------ loading
class _YamlRefused(Exception):
    """Raised inside the loader; :func:`read_framework_yaml` adds the file name."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1
        self.message = message


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys, anchors and aliases.

    The last of two equal keys silently winning hides a typo, and nested aliases
    ("billion laughs") expand a 1 KB file into gigabytes; a framework needs neither.
    """

    def compose_node(self, parent, index):  # PyYAML hooks
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise _YamlRefused(
                event.start_mark,
                f"YAML anchors and aliases ({sign}{event.anchor}) are not allowed in a framework; "
                "write the repeated part out in full",
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _YamlRefused(
                    key_node.start_mark,
                    f"duplicate key {key!r} (first on line {seen[key]}); the second would silently "
                    "replace the first: keep one of them",
                )
            try:
                seen[key] = line
            except TypeError:  # an unhashable key: let PyYAML report it
                break
        return super().construct_mapping(node, deep=deep)


def read_framework_yaml(path: str | Path) -> Any:
    """Parse a framework file safely: size-capped, no duplicate keys, no anchors or aliases.

    Raises
    ------
    FrameworkError
        Naming the file (and the line) when the file is too large, not UTF-8, not
        valid YAML, repeats a key or uses an anchor or alias.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FRAMEWORK_BYTES:
        raise FrameworkError(
            f"framework {str(path)!r} is {size:,} bytes; a framework file may hold at most "
            f"{MAX_FRAMEWORK_BYTES:,} bytes (the shipped ones hold under 20 KB): check that this "
            "is the framework file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FrameworkError(
            f"framework {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # _StrictLoader is a SafeLoader
    except _YamlRefused as exc:
        raise FrameworkError(f"framework {str(path)!r}, line {exc.line}: {exc.message}") from None
    except yaml.YAMLError as exc:
        raise FrameworkError(f"framework {str(path)!r} is not valid YAML: {exc}") from None


_NODE_KEYS_DIMENSION = set(Dimension.model_fields)
_NODE_KEYS_INDICATOR = set(Indicator.model_fields)


def _build_node(raw: Any, path: tuple[str, ...], source: str) -> Dimension | Indicator:
    if not isinstance(raw, Mapping):
        raise FrameworkError(f"framework {source!r}, node {' › '.join(path)}: expected a mapping with id, name, weight")
    node_id = str(raw.get("id", f"#{path[-1]}"))
    here = (*path[:-1], node_id)
    if "children" in raw:
        children = raw["children"]
        if not isinstance(children, list):
            raise FrameworkError(f"framework {source!r}, node {' › '.join(here)}: children must be a list")
        built = tuple(_build_node(c, (*here, str(i)), source) for i, c in enumerate(children))
        model: type[Dimension] | type[Indicator] = Dimension
        data = {**raw, "children": built}
    else:
        model, data = Indicator, dict(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FrameworkError(_explain(exc, source, here)) from None


def _did_you_mean(key: str) -> str:
    """`` (did you mean 'weight'?)`` for a misspelt key, or an empty string."""
    known = sorted({field for model in _Model.__subclasses__() for field in model.model_fields})
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explain(exc: ValidationError, source: str, path: tuple[str, ...]) -> str:
    messages = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "children")
        where = f"node {' › '.join(path)}" if path else "top level"
        if err["type"] == "extra_forbidden":
            messages.append(
                f"{where}: unknown key {loc!r}{_did_you_mean(str(err['loc'][-1]))}; "
                "check its spelling against docs/framework.md"
            )
        elif err["type"] == "missing":
            messages.append(f"{where}: missing required key {loc!r}")
        else:
            field = f" key {loc!r}:" if loc else ""
            messages.append(f"{where}:{field} {err['msg'].removeprefix('Value error, ')}")
    return f"framework {source!r}, " + "; ".join(messages)


def framework_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Framework:
    """Build and validate a :class:`Framework` from parsed YAML."""
    if not isinstance(raw, Mapping):
        raise FrameworkError(f"framework {source!r}: the file must hold a mapping at the top level")
    if "tree" not in raw or not isinstance(raw["tree"], list):
        raise FrameworkError(f"framework {source!r}, top level: 'tree' must be a list of dimensions")
    tree = tuple(_build_node(node, ("tree", str(i)), source) for i, node in enumerate(raw["tree"]))
    try:
        return Framework.model_validate({**raw, "tree": tree})
    except ValidationError as exc:
        raise FrameworkError(_explain(exc, source, ())) from None


def shipped_frameworks() -> dict[str, Path]:
    """Ids and paths of the frameworks shipped in ``perfmodel/frameworks``."""
    folder = resources.files("perfmodel") / "frameworks"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            out[entry.name.removesuffix(".yaml")] = Path(str(entry))
    return out


def framework_path(id_or_path: str | Path) -> Path:
    """Resolve a shipped framework id or a file path."""
    path = Path(id_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise FrameworkError(key="error.framework_file_missing", values={"path": repr(str(path))})
        return path
    shipped = shipped_frameworks()
    if str(id_or_path) in shipped:
        return shipped[str(id_or_path)]
    values = {"framework": repr(str(id_or_path)), "shipped": ", ".join(shipped)}
    raise FrameworkError(key="error.unknown_framework", values=values)


def load_framework(id_or_path: str | Path) -> Framework:
    """Load and validate a framework from a shipped id or a YAML file.

    Raises
    ------
    FrameworkError
        With a message that names the file and the offending node.

    Examples
    --------
    >>> fw = load_framework("station_four_dimension")
    >>> round(sum(d.weight for d in fw.tree), 6)
    1.0
    """
    path = framework_path(id_or_path)
    return framework_from_dict(read_framework_yaml(path), source=str(path))
