# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

from .compare import (
    DEFAULT_TERMS as DEFAULT_TERMS,
    CrossRegionComparison as CrossRegionComparison,
    FederatedFit as FederatedFit,
    compare_regions as compare_regions,
    figure_league as figure_league,
    figure_rank_gap as figure_rank_gap,
    fit_federated as fit_federated,
    rank_gap as rank_gap,
)
from .example import HARDER as HARDER, RegionsExample as RegionsExample, simulate_regions as simulate_regions
from .messages import (
    ExchangeLog as ExchangeLog,
    GlmContribution as GlmContribution,
    RegionInventory as RegionInventory,
    UnitIndicatorStatistics as UnitIndicatorStatistics,
    UnitTotals as UnitTotals,
)
from .region import CaseMixSpec as CaseMixSpec, Region as Region, RegionError as RegionError, family_for as family_for
