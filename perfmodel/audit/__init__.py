"""The fairness and policy audit: who the assessment favours, what drives the score, how robust grades are.

Every check takes an :class:`~perfmodel.evaluation.Evaluation` (or a per-unit
frame) and returns a tidy :class:`pandas.DataFrame` with ``n``, ``estimate``,
an uncertainty (``se`` and/or ``ci_low``/``ci_high``) and a one-line
``verdict`` in Chinese (``lang="zh"``) or English (``lang="en"``). Small groups
are suppressed (named, without count or estimate; see :mod:`perfmodel.privacy`), p-values come with a
multiple-testing correction, and the reference group can be chosen.

=============================  ==============================================================
check                          question
=============================  ==============================================================
:func:`disaggregate`           How do groups (area type, station class, …) score and grade?
:func:`adverse_impact`         Does a group reach the good grades less often (four-fifths
                               rule, Fisher's exact test, shortfall)?
:func:`conditional_parity`     Is there a gap left after legitimate factors such as workload?
:func:`context_neutrality`     How much of the score does uncontrollable context predict?
:func:`weight_policy`          Do the weights respect the temporary, subjective and citizen
                               limits — on paper and in effect?
:func:`effective_weights`      Which indicators and sources actually drive the ranking?
:func:`bootstrap_grades`       How sure is each unit's rank and grade?
:func:`rank_stability`         Do ranks persist from one period to the next?
:func:`rater_bias`             Do raters rate some groups differently from other raters?
=============================  ==============================================================

:func:`run_audit` runs all that apply; :func:`fairness_summary_markdown` writes
the paragraph for the quarterly report. Both, the fairness report and
``perfmodel audit`` take their defaults from :data:`AUDIT_DEFAULTS`
(:mod:`perfmodel.audit.defaults`). Errors are :class:`AuditError` with
messages kept as ``ERR_*`` constants of the modules.

Examples
--------
>>> from perfmodel.audit import inflated_weight_example, effective_weights
>>> ev = inflated_weight_example(n_units=40, rng=1)
>>> table = effective_weights(ev, level="source", n_boot=0)
>>> table[["item", "stated"]].to_dict("records")
[{'item': 'system', 'stated': 0.7}, {'item': 'supervisor', 'stated': 0.3}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfmodel._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AUDIT_DEFAULTS": "defaults",
    "AuditDefaults": "defaults",
    "AuditError": "_frame",
    "FOUR_FIFTHS_NOTE": "fairness",
    "PolicyLimits": "policy",
    "adverse_impact": "fairness",
    "bootstrap_grades": "robustness",
    "conditional_parity": "fairness",
    "context_neutrality": "fairness",
    "disaggregate": "fairness",
    "effective_weights": "policy",
    "fairness_summary_markdown": "fairness",
    "figure_group_means": "fairness",
    "figure_impact_ratios": "fairness",
    "figure_rank_intervals": "robustness",
    "figure_weights": "policy",
    "inflated_weight_example": "policy",
    "non_robust_units": "robustness",
    "rank_stability": "robustness",
    "rater_bias": "raters",
    "ratings_table": "raters",
    "resample_observations": "robustness",
    "run_audit": "fairness",
    "stated_weights": "policy",
    "unit_table": "_frame",
    "variance_shares": "policy",
    "weight_policy": "policy",
}
"""Public name → the module that defines it; imported on first use (``import perfmodel.audit`` stays light)."""

__all__ = [
    "AUDIT_DEFAULTS",
    "AuditDefaults",
    "AuditError",
    "FOUR_FIFTHS_NOTE",
    "PolicyLimits",
    "adverse_impact",
    "bootstrap_grades",
    "conditional_parity",
    "context_neutrality",
    "disaggregate",
    "effective_weights",
    "fairness_summary_markdown",
    "figure_group_means",
    "figure_impact_ratios",
    "figure_rank_intervals",
    "figure_weights",
    "inflated_weight_example",
    "non_robust_units",
    "rank_stability",
    "rater_bias",
    "ratings_table",
    "resample_observations",
    "run_audit",
    "stated_weights",
    "unit_table",
    "variance_shares",
    "weight_policy",
]

if TYPE_CHECKING:
    from perfmodel.audit._frame import AuditError, unit_table
    from perfmodel.audit.defaults import AUDIT_DEFAULTS, AuditDefaults
    from perfmodel.audit.fairness import (
        FOUR_FIFTHS_NOTE,
        adverse_impact,
        conditional_parity,
        context_neutrality,
        disaggregate,
        fairness_summary_markdown,
        figure_group_means,
        figure_impact_ratios,
        run_audit,
    )
    from perfmodel.audit.policy import (
        PolicyLimits,
        effective_weights,
        figure_weights,
        inflated_weight_example,
        stated_weights,
        variance_shares,
        weight_policy,
    )
    from perfmodel.audit.raters import rater_bias, ratings_table
    from perfmodel.audit.robustness import (
        bootstrap_grades,
        figure_rank_intervals,
        non_robust_units,
        rank_stability,
        resample_observations,
    )

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
