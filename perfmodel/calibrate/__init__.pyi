# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

from .casemix import CaseMixModel as CaseMixModel, indirect_standardisation as indirect_standardisation
from .difficulty import (
    class_coefficients as class_coefficients,
    declared_difficulty as declared_difficulty,
    difficulty_table as difficulty_table,
    expected_scores as expected_scores,
    TooFewUnitsError as TooFewUnitsError,
    context_units_needed as context_units_needed,
    r2_on_context as r2_on_context,
)
from .funnel import (
    FunnelPlot as FunnelPlot,
    FunnelResult as FunnelResult,
    OverdispersionEstimate as OverdispersionEstimate,
    estimate_overdispersion as estimate_overdispersion,
    funnel_analysis as funnel_analysis,
    funnel_limits as funnel_limits,
    confidence_label as confidence_label,
)
from .peers import (
    KMeansPeerGroups as KMeansPeerGroups,
    add_peer_column as add_peer_column,
    compare_with_neighbours as compare_with_neighbours,
    context_frame as context_frame,
    declared_peer_groups as declared_peer_groups,
    most_similar_units as most_similar_units,
)
from .step import CalibrationResult as CalibrationResult, calibrate as calibrate, calibrate_values as calibrate_values

# truth-recovery studies (an analysis on simulated cases; imported on first use like every name)
from .truth import (
    TRUTH_CONTEXT as TRUTH_CONTEXT,
    CalibrationCase as CalibrationCase,
    evaluate_case as evaluate_case,
    raw_scores as raw_scores,
    robustness_summary as robustness_summary,
    seed_robustness as seed_robustness,
    simulate_calibration_case as simulate_calibration_case,
    truth_recovery as truth_recovery,
    truth_recovery_table as truth_recovery_table,
)
from .raters import (
    RaterModel as RaterModel,
    calibrate_ratings as calibrate_ratings,
    central_tendency as central_tendency,
    halo as halo,
    self_enhancement as self_enhancement,
)
from .reliability import (
    icc as icc,
    icc_from_components as icc_from_components,
    krippendorff_alpha as krippendorff_alpha,
    ratings_matrix as ratings_matrix,
)
from .shrinkage import (
    BetaBinomialShrinkage as BetaBinomialShrinkage,
    NormalNormalShrinkage as NormalNormalShrinkage,
    beta_binomial_mom as beta_binomial_mom,
    dersimonian_laird as dersimonian_laird,
    reml_tau2 as reml_tau2,
)
