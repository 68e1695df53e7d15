"""Indicator design lab: how robust, redundant and fair is an indicator system?

* :mod:`~perfmodel.design.sensitivity` — uncertainty analysis (rank intervals,
  grade probabilities) and Sobol' sensitivity indices of any evaluation;
* :mod:`~perfmodel.design.redundancy` — correlations, Cronbach's alpha, PCA, VIF,
  discriminating power, removal effects, merge suggestions, reporting burden;
* :mod:`~perfmodel.design.weights` — equal, PCA/factor, entropy, CRITIC,
  correlation-balanced and benefit-of-the-doubt weights;
* :mod:`~perfmodel.design.aggregators` — power means, Mazziotta–Pareto, Copeland,
  and composite indicators built from others (R10);
* :mod:`~perfmodel.design.compare` — several designs on the same units, the
  flexible indicator pool (R19);
* :mod:`~perfmodel.design.gaming`, :mod:`~perfmodel.design.simulate_gaming` —
  gaming detection and simulation (re-exported here when installed);
* :mod:`~perfmodel.design.cli` — ``perfmodel lab …``.
"""

from __future__ import annotations

from perfmodel.design.aggregators import (
    AGGREGATIONS,
    AggregationError,
    Composite,
    add_composite,
    aggregate_flat,
    arithmetic_mean,
    compare_aggregations,
    composite_table,
    composites,
    copeland,
    geometric_mean,
    harmonic_mean,
    mazziotta_pareto,
    power_mean,
)
from perfmodel.design.compare import (
    DesignComparison,
    FlexiblePoolError,
    check_flexible_pool,
    compare_designs,
    dimension_contributions,
    figure_bump,
    flexible_pool_example,
    flexible_pool_variant,
    movers,
    rank_agreement,
    run_designs,
    sibling_observations,
    top_k_overlap,
    transition_matrix,
    weight_shift,
    weighting_variants,
)
from perfmodel.design.redundancy import (
    KNOWN_MERGES,
    MergeRule,
    RedundancyReport,
    alpha_if_deleted,
    correlation_matrix,
    correlations,
    cronbach_alpha,
    dimension_members,
    discrimination,
    figure_correlation_heatmap,
    merge_suggestions,
    parent_correlations,
    pca_by_dimension,
    redundancy_report,
    reliability,
    removal_effect,
    reporting_burden,
    vif,
)
from perfmodel.design.sensitivity import (
    CHOICE_VALUES,
    GRADE_LABELS,
    PENDING_CHOICES,
    SensitivityError,
    SobolResult,
    UncertaintyResult,
    UncertaintySpec,
    aggregate_draws,
    choice_available,
    default_choices,
    factor_label,
    figure_rank_intervals,
    figure_sobol,
    saltelli_design,
    scenarios,
    sobol,
    sobol_analysis,
    sobol_estimates,
    stated_weights,
    uncertainty,
)
from perfmodel.design.weights import (
    WEIGHTINGS,
    BoDResult,
    WeightingError,
    alternative_weights,
    balanced_weights,
    benefit_of_the_doubt,
    critic_weights,
    effective_from_nodes,
    entropy_weights,
    equal_weights,
    node_weights,
    pca_weights,
    varimax,
    weight_table,
    weighting_data,
)

__all__ = [
    # sensitivity
    "CHOICE_VALUES", "GRADE_LABELS", "PENDING_CHOICES", "SensitivityError", "SobolResult",
    "UncertaintyResult", "UncertaintySpec", "aggregate_draws", "choice_available", "default_choices",
    "factor_label", "figure_rank_intervals", "figure_sobol", "saltelli_design",
    "scenarios", "sobol", "sobol_analysis", "sobol_estimates", "stated_weights", "uncertainty",
    # redundancy
    "KNOWN_MERGES", "MergeRule", "RedundancyReport", "alpha_if_deleted", "correlation_matrix",
    "correlations", "cronbach_alpha", "dimension_members", "discrimination",
    "figure_correlation_heatmap", "merge_suggestions",
    "parent_correlations", "pca_by_dimension", "redundancy_report", "reliability", "removal_effect",
    "reporting_burden", "vif",
    # weights
    "WEIGHTINGS", "BoDResult", "WeightingError", "alternative_weights", "balanced_weights",
    "benefit_of_the_doubt", "critic_weights", "effective_from_nodes", "entropy_weights",
    "equal_weights", "node_weights", "pca_weights", "varimax", "weight_table", "weighting_data",
    # aggregators and composites
    "AGGREGATIONS", "AggregationError", "Composite", "add_composite", "aggregate_flat",
    "arithmetic_mean", "compare_aggregations", "composite_table", "composites", "copeland",
    "geometric_mean", "harmonic_mean", "mazziotta_pareto", "power_mean",
    # design comparison
    "DesignComparison", "FlexiblePoolError", "check_flexible_pool", "compare_designs",
    "dimension_contributions", "figure_bump", "flexible_pool_example", "flexible_pool_variant",
    "movers", "rank_agreement", "run_designs", "sibling_observations", "top_k_overlap", "transition_matrix", "weight_shift", "weighting_variants",
]

# Gaming detection and simulation live in their own modules; either may be absent
# in a partial checkout, so their public names are re-exported only when present.
# A name equal to a submodule's (``simulate_gaming``) is not re-exported: it would
# shadow the module, and ``import perfmodel.design.simulate_gaming as m`` would then
# give the function. Use ``perfmodel.design.simulate_gaming.simulate_gaming``.
def _reexport(module_name: str) -> None:
    import importlib
    import importlib.util

    try:
        module = importlib.import_module(f"perfmodel.design.{module_name}")
    except ImportError:  # pragma: no cover - depends on the checkout
        return
    for name in module.__all__:
        if importlib.util.find_spec(f"perfmodel.design.{name}") is not None:
            continue
        globals()[name] = getattr(module, name)
        __all__.append(name)


_reexport("gaming")
_reexport("simulate_gaming")
