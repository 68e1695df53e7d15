# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

# series: monthly bulletin, annual summary, deadline compliance (R11)
from .series import (
    AnnualSummary as AnnualSummary,
    PeriodSeries as PeriodSeries,
    add_changes as add_changes,
    annual_summary as annual_summary,
    combine_rollups as combine_rollups,
    compliance_summary as compliance_summary,
    deadline_compliance as deadline_compliance,
    evaluate_periods as evaluate_periods,
    grade_history as grade_history,
    monthly_scores as monthly_scores,
    read_monitoring_inputs as read_monitoring_inputs,
    rollup_reconciliation as rollup_reconciliation,
)

# warnings: early warnings and control charts (R14, R12)
from .warnings import (
    WarningRules as WarningRules,
    arl_cusum as arl_cusum,
    arl_ewma as arl_ewma,
    control_chart as control_chart,
    cusum_limit as cusum_limit,
    decline_threshold as decline_threshold,
    decline_warnings as decline_warnings,
    early_warnings as early_warnings,
    ewma_limit as ewma_limit,
    last_place_flags as last_place_flags,
    leader_flags as leader_flags,
    operating_characteristics as operating_characteristics,
    prepare_scores as prepare_scores,
    simulate_monitoring as simulate_monitoring,
)

# trends: seasonality and weak districts (R20, R6)
from .trends import (
    decompose as decompose,
    district_gaps as district_gaps,
    indicator_series as indicator_series,
    seasonality_table as seasonality_table,
    special_indicator_candidates as special_indicator_candidates,
)

# targets: reform-target tracking (R21)
from .targets import (
    TargetError as TargetError,
    forecast as forecast,
    load_targets as load_targets,
    planned_value as planned_value,
    progress_table as progress_table,
    read_progress as read_progress,
)

# cockpit: per-officer workload / quality / satisfaction profile and case points (R14, R13)
from .cockpit import (
    Cockpit as Cockpit,
    CockpitError as CockpitError,
    axes_description as axes_description,
    axis_scores as axis_scores,
    case_ledger as case_ledger,
    cockpit_axes as cockpit_axes,
    cockpit_summary as cockpit_summary,
    figure_cockpit_overview as figure_cockpit_overview,
    figure_officer_profile as figure_officer_profile,
    figure_officer_profiles as figure_officer_profiles,
    negative_records as negative_records,
    negative_table as negative_table,
    officer_cockpit as officer_cockpit,
    peer_groups as peer_groups,
    peer_percentiles as peer_percentiles,
    profile_table as profile_table,
    select_officers as select_officers,
)

# team: collaborative cases, credit split, team-vs-individual variance (R17)
from .team import (
    CollaborationError as CollaborationError,
    VarianceShare as VarianceShare,
    anova_components as anova_components,
    collaboration_summary as collaboration_summary,
    credit_split as credit_split,
    credit_table as credit_table,
    figure_team_credit as figure_team_credit,
    figure_variance_shares as figure_variance_shares,
    monthly_credit as monthly_credit,
    planted_team_shares as planted_team_shares,
    read_collaborations as read_collaborations,
    team_credit as team_credit,
    team_share_interval as team_share_interval,
    trailing_months as trailing_months,
    validate_collaborations as validate_collaborations,
    variance_decomposition as variance_decomposition,
    variance_table as variance_table,
)

# training: weakest areas relative to peers → training topics, bureau plan (R15)
from .training import (
    TrainingError as TrainingError,
    bureau_training_needs as bureau_training_needs,
    figure_training_plan as figure_training_plan,
    needs_excerpt as needs_excerpt,
    node_scores as node_scores,
    plan_table as plan_table,
    training_needs as training_needs,
    training_plan as training_plan,
    training_topic as training_topic,
    weakest_nodes as weakest_nodes,
)

# deployment: officers vs workload-based demand, constrained reallocation (R15)
from .deployment import (
    DeploymentError as DeploymentError,
    Reallocation as Reallocation,
    area_summary as area_summary,
    area_table as area_table,
    demand_weights as demand_weights,
    dispersion as dispersion,
    figure_load_before_after as figure_load_before_after,
    figure_police_density as figure_police_density,
    moves_table as moves_table,
    reallocate as reallocate,
    shortfall_table as shortfall_table,
    staffing_table as staffing_table,
)

# development: the development report's inputs and team-share comparison (R14, R15, R17)
from .development import (
    TeamShares as TeamShares,
    collaborations_of as collaborations_of,
    find_observations as find_observations,
    observation_folders as observation_folders,
    officer_evaluations as officer_evaluations,
    officer_scores as officer_scores,
    officer_truth as officer_truth,
    team_shares as team_shares,
)
