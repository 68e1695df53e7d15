"""A three-region simulated example with one region in a harder context.

Each region is simulated by :func:`perfmodel.simulate.simulate` on its own seed,
so the true performance of its stations has the same distribution in every
region. The harder region's context weighs more on what it can show: the
effects of the urban-rural fringe, of workload per officer, of district
difficulty and of the area type on citizen ratings are larger there
(:data:`HARDER`). Its units look worse than they are; the naive pooled ranking
puts too many of them at the bottom, a comparison calibrated for context and
region does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.federated.region import Region
from perfmodel.framework import Framework
from perfmodel.randomness import RngLike, seed_from
from perfmodel.simulate import EFFECTS, Effects, simulate

__all__ = ["HARDER", "RegionsExample", "simulate_regions"]

HARDER = replace(
    EFFECTS,
    area_citizen=(-2.1, -2.3, -1.75),
    supervisor_lenient_share=0.0,
    supervisor_severe_share=1.0,
    supervisor_leniency=20.0,
)
"""Context effects of the harder region (the others keep :data:`perfmodel.simulate.EFFECTS`)."""


@dataclass
class RegionsExample:
    """Simulated regions with the truth.

    Attributes
    ----------
    regions
        The regions, ready for :func:`~perfmodel.federated.compare.compare_regions`.
    truth
        True overall performance (latent) indexed by ``region/unit_id``.
    harder
        Name of the region with the harder context.
    period
        The evaluation period.
    samples
        Region name → its :class:`~perfmodel.simulate.Sample` (rows and truth, for checks).
    """

    regions: list[Region]
    truth: pd.Series
    harder: str
    period: str
    samples: dict


def simulate_regions(
    framework: Framework,
    *,
    names: Sequence[str] = ("A", "B", "C"),
    harder: str = "C",
    stations: int = 40,
    months: int = 3,
    start: str = "2025-01",
    officers_per_station: int = 1,
    effects: Effects = HARDER,
    rng: RngLike = None,
) -> RegionsExample:
    """Simulate one region per name; ``harder`` gets the context ``effects``.

    Parameters
    ----------
    framework
        The framework every region observes.
    names
        Region names.
    harder
        The region in the harder context.
    stations, months, start
        Size of each region and the months simulated (the period is those months).
    officers_per_station
        Officers per station (roles repeat as in :func:`perfmodel.simulate.simulate`;
        an officer framework of another role than community policing needs 2 or more).
    effects
        Effect sizes of the harder region.
    rng
        Seed or generator; region *k* uses seed + k.

    Returns
    -------
    RegionsExample
    """
    seed = seed_from(rng)
    regions, truth, samples = [], [], {}
    period = _period([str(m) for m in pd.period_range(pd.Period(start, freq="M"), periods=months, freq="M")])
    for k, name in enumerate(names):
        sample = simulate(
            [framework],
            stations=stations,
            months=months,
            start=start,
            officers_per_station=officers_per_station,
            rng=int(seed) + k,
            defect_rate=0.0,
            effects=effects if name == harder else EFFECTS,
        )
        samples[name] = sample
        regions.append(Region(name, framework, sample.observations[framework.id], sample.units, period))
        t = sample.truth_units
        t = t[(t["framework"] == framework.id) & (t["node"] == "overall")]
        truth.append(pd.Series(t["true_latent"].to_numpy(float), index=name + "/" + t["unit_id"].astype(str)))
    return RegionsExample(
        regions=regions,
        truth=pd.concat(truth),
        harder=harder,
        period=period,
        samples=samples,
    )


def _period(months: list[str]) -> str:
    """The period label covering the simulated months (a quarter, a year or one month)."""
    first = pd.Period(months[0], freq="M")
    if len(months) == 1:
        return str(first)
    if len(months) == 3 and first.month % 3 == 1:
        return f"{first.year}Q{(first.month - 1) // 3 + 1}"
    if len(months) == 12 and first.month == 1:
        return str(first.year)
    raise OptionError(f"months {months[0]}…{months[-1]} are not one month, quarter or year")
