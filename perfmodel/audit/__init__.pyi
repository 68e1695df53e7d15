# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

from ._frame import AuditError as AuditError, CheckResult as CheckResult, unit_table as unit_table
from .defaults import AUDIT_DEFAULTS as AUDIT_DEFAULTS, AuditDefaults as AuditDefaults
from .fairness import (
    FOUR_FIFTHS_NOTE as FOUR_FIFTHS_NOTE,
    adverse_impact as adverse_impact,
    conditional_parity as conditional_parity,
    context_neutrality as context_neutrality,
    disaggregate as disaggregate,
)
from .run import AuditNote as AuditNote, AuditResult as AuditResult, run_audit as run_audit
from .policy import (
    PolicyLimits as PolicyLimits,
    figure_weights as figure_weights,
    inflated_weight_example as inflated_weight_example,
    stated_vs_variance_shares as stated_vs_variance_shares,
    weight_policy as weight_policy,
)
from .raters import rater_bias as rater_bias, ratings_table as ratings_table
from .robustness import (
    bootstrap_grades as bootstrap_grades,
    figure_rank_intervals as figure_rank_intervals,
    non_robust_units as non_robust_units,
    rank_stability as rank_stability,
    resample_observations as resample_observations,
)
