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

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
