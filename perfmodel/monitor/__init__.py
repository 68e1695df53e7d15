"""Monitoring over time and development outputs (R11, R12, R14, R15, R17, R20, R21).

* :mod:`~perfmodel.monitor.series` — monthly scores and ranks with month-on-month
  change, data-deadline compliance, quarterly and annual summaries, grade history,
  monthly → quarterly → annual roll-up reconciliation;
* :mod:`~perfmodel.monitor.warnings` — early warnings (three-month decline,
  three months leading, last two years running) on risk-adjusted, shrunk scores,
  and risk-adjusted CUSUM / EWMA charts with a stated false-alarm rate;
* :mod:`~perfmodel.monitor.trends` — STL decomposition, seasonal pressure months,
  candidate temporary indicators (R6), persistently under-performing districts;
* :mod:`~perfmodel.monitor.targets` — reform targets (seed 004): staged paths,
  progress, on-track status and forecasts to the deadline;
* :mod:`~perfmodel.monitor.cockpit` — officer cockpit: workload, quality and
  citizen satisfaction against the role's peers, case points, bonus, negative list;
* :mod:`~perfmodel.monitor.team` — collaborative cases, team and individual
  credit, and how much of a score belongs to the team (MixedLM, ANOVA check);
* :mod:`~perfmodel.monitor.training` — weakest areas relative to peers mapped to
  the framework's training topics, and the bureau-level training plan;
* :mod:`~perfmodel.monitor.deployment` — officers per station against
  workload-based demand, and a constrained reallocation that evens out load;
* :mod:`~perfmodel.monitor.development` — the development report's inputs (role
  frameworks' observations, collaborations) and the team-share comparison.

Names are imported on first use, so ``import perfmodel.monitor`` loads neither
statsmodels nor matplotlib.
"""

from __future__ import annotations

from perfmodel._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # series: monthly bulletin, annual summary, deadline compliance (R11)
    "AnnualSummary": "series",
    "PeriodSeries": "series",
    "add_changes": "series",
    "annual_summary": "series",
    "combine_rollups": "series",
    "compliance_summary": "series",
    "deadline_compliance": "series",
    "evaluate_periods": "series",
    "grade_history": "series",
    "monthly_scores": "series",
    "read_monitoring_inputs": "series",
    "rollup_reconciliation": "series",
    # warnings: early warnings and control charts (R14, R12)
    "WarningRules": "warnings",
    "arl_cusum": "warnings",
    "arl_ewma": "warnings",
    "control_chart": "warnings",
    "cusum_limit": "warnings",
    "decline_threshold": "warnings",
    "decline_warnings": "warnings",
    "early_warnings": "warnings",
    "ewma_limit": "warnings",
    "last_place_flags": "warnings",
    "leader_flags": "warnings",
    "operating_characteristics": "warnings",
    "prepare_scores": "warnings",
    "simulate_monitoring": "warnings",
    # trends: seasonality and weak districts (R20, R6)
    "decompose": "trends",
    "district_gaps": "trends",
    "indicator_series": "trends",
    "seasonality_table": "trends",
    "special_indicator_candidates": "trends",
    # targets: reform-target tracking (R21)
    "TargetError": "targets",
    "forecast": "targets",
    "load_targets": "targets",
    "planned_value": "targets",
    "progress_table": "targets",
    "read_progress": "targets",
}

# ---------------------------------------------------------------------------------------------
# Development outputs (officer cockpit R14, team credit R17, training needs R15, deployment R15):
# their modules add their public names to this block.
_EXPORTS.update({
    # cockpit: per-officer workload / quality / satisfaction profile and case points (R14, R13)
    "Cockpit": "cockpit",
    "CockpitError": "cockpit",
    "axes_description": "cockpit",
    "axis_scores": "cockpit",
    "case_ledger": "cockpit",
    "cockpit_axes": "cockpit",
    "cockpit_summary": "cockpit",
    "figure_cockpit_overview": "cockpit",
    "figure_officer_profile": "cockpit",
    "figure_officer_profiles": "cockpit",
    "negative_records": "cockpit",
    "negative_table": "cockpit",
    "officer_cockpit": "cockpit",
    "peer_groups": "cockpit",
    "peer_percentiles": "cockpit",
    "profile_table": "cockpit",
    "select_officers": "cockpit",
    # team: collaborative cases, credit split, team-vs-individual variance (R17)
    "CollaborationError": "team",
    "VarianceShare": "team",
    "anova_components": "team",
    "collaboration_summary": "team",
    "credit_split": "team",
    "credit_table": "team",
    "figure_team_credit": "team",
    "figure_variance_shares": "team",
    "monthly_credit": "team",
    "planted_team_shares": "team",
    "read_collaborations": "team",
    "team_credit": "team",
    "team_share_interval": "team",
    "trailing_months": "team",
    "validate_collaborations": "team",
    "variance_decomposition": "team",
    "variance_table": "team",
    # training: weakest areas relative to peers → training topics, bureau plan (R15)
    "TrainingError": "training",
    "bureau_training_needs": "training",
    "figure_training_plan": "training",
    "needs_excerpt": "training",
    "node_scores": "training",
    "plan_table": "training",
    "training_needs": "training",
    "training_plan": "training",
    "training_topic": "training",
    "weakest_nodes": "training",
    # deployment: officers vs workload-based demand, constrained reallocation (R15)
    "DeploymentError": "deployment",
    "Reallocation": "deployment",
    "area_summary": "deployment",
    "area_table": "deployment",
    "demand_weights": "deployment",
    "dispersion": "deployment",
    "figure_load_before_after": "deployment",
    "figure_police_density": "deployment",
    "moves_table": "deployment",
    "reallocate": "deployment",
    "shortfall_table": "deployment",
    "staffing_table": "deployment",
    # development: the development report's inputs and team-share comparison (R14, R15, R17)
    "TeamShares": "development",
    "collaborations_of": "development",
    "find_observations": "development",
    "observation_folders": "development",
    "officer_evaluations": "development",
    "officer_scores": "development",
    "officer_truth": "development",
    "team_shares": "development",
})
# ---------------------------------------------------------------------------------------------

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
