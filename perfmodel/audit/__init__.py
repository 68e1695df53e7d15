"""The fairness and policy audit: who the assessment favours, what drives the score, how robust grades are.

Every check takes an :class:`~perfmodel.evaluation.Evaluation` (or a per-unit
frame) and returns a :class:`CheckResult`: a tidy table (``to_frame()``) with
``n``, ``estimate``, an uncertainty (``se`` and/or ``ci_low``/``ci_high``) and a
one-line ``verdict`` in Chinese (``lang="zh"``) or English (``lang="en"``), the
options it ran with (``parameters``), its ``note`` and a ``summary()``. Small groups
are suppressed (named, without count or estimate; see :mod:`perfmodel.privacy`), p-values come with a
multiple-testing correction, and the reference group can be chosen.

===================================  ==============================================================
check                                question
===================================  ==============================================================
:func:`disaggregate`                 How do groups (area type, station class, …) score and grade?
:func:`adverse_impact`               Does a group reach the good grades less often (four-fifths
                                     rule, Fisher's exact test, shortfall)?
:func:`conditional_parity`           Is there a gap left after legitimate factors such as workload?
:func:`context_neutrality`           How much of the score does uncontrollable context predict?
:func:`weight_policy`                Do the weights respect the temporary, subjective and citizen
                                     limits — on paper and in effect?
:func:`stated_vs_variance_shares`    Which indicators and sources actually drive the ranking
                                     (stated weight vs share of the score's variance)?
:func:`bootstrap_grades`             How sure is each unit's rank and grade?
:func:`rank_stability`               Do ranks persist from one period to the next?
:func:`rater_bias`                   Do raters rate some groups differently from other raters?
===================================  ==============================================================

:func:`run_audit` (:mod:`perfmodel.audit.run`) runs all that apply and returns an
:class:`AuditResult`; :func:`fairness_summary_markdown` writes the paragraph for
the quarterly report and :func:`figure_group_means` / :func:`figure_impact_ratios`
draw the group checks (both in the report layer, :mod:`perfmodel.report.audit`). Both, the fairness report and
``perfmodel audit`` take their defaults from :data:`AUDIT_DEFAULTS`
(:mod:`perfmodel.audit.defaults`). Errors are :class:`AuditError` with
messages kept as ``ERR_*`` constants of the modules.

Examples
--------
>>> from perfmodel.audit import inflated_weight_example, stated_vs_variance_shares
>>> ev = inflated_weight_example(n_units=40, rng=1)
>>> table = stated_vs_variance_shares(ev, level="source", n_boot=0).to_frame()
>>> table[["item", "stated"]].to_dict("records")
[{'item': 'system', 'stated': 0.7}, {'item': 'supervisor', 'stated': 0.3}]
"""

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
