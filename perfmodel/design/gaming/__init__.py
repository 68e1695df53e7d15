"""Gaming and data-distortion detection on monthly data (R16): leads, not verdicts.

Score chasing and careless or doctored statistics leave traces in the figures
units report. This package looks for them unit by unit (one check per trace
below) and ranks units by the combined evidence:

``threshold_heaping``
    Values pile up just above a hard threshold (e.g. 三实信息采集率 ≥ 95 %, R9)
    and are missing just below it — the "hole and heap" left when months at
    93–95 % are reported as 95 %. For each unit, the months near the threshold
    are split into "just meeting" and "just missing"; under the unit's own level
    and monthly denominators (beta-binomial with the dispersion shared by all
    units; the level estimated with those months censored, so the manipulation
    cannot hide itself) each month has an exact probability of landing on the
    meeting side. The number of meeting months is compared with that
    Poisson-binomial distribution (exact one-sided p-value). Conditioning on the
    months near the threshold makes the test insensitive to how far the unit's
    level is from the threshold.
``under_dispersion``
    A rate varies less from month to month than its volume allows: the Pearson
    dispersion index ``Σ (k − nμ)² / (nμ(1 − μ)) / (M − 1)`` against the binomial
    (Poisson for counts), lower tail of χ²(M − 1). Real data are usually
    *over*-dispersed, so the test is conservative.
``level_shift``
    A sudden change of level: the most significant break month by the exact
    Wilcoxon rank-sum test (at least ``min_segment`` months on each side),
    Bonferroni-corrected for the number of candidates.
``repeated_values``
    The same figures (value, or numerator and denominator) in ``k`` or more
    consecutive months. The p-value is the chance of such a run under the unit's
    own rate and volume (binomial; Poisson for counts; the unit's own value
    frequencies otherwise), Bonferroni-corrected for the possible starts.
``last_digit`` and ``round_numbers``
    Last digits of reported counts (count values and denominators of series whose
    month-to-month spread is wide enough for last digits to be uniform) tested
    against uniformity (χ², exact multinomial by simulation for few digits), and
    the share ending in 0 or 5 against 20 % (one-sided binomial).
``round_percent``
    Rates reported without numerator and denominator that are round percentages
    (multiples of 5 %) more often than among the other units.

Pooled across units, :func:`pooled_heaping_test` sums the per-unit threshold
comparisons (is there heaping at all?); :func:`bunching` estimates the excess
mass above and the missing mass below a threshold against a polynomial
counterfactual density (Chetty et al. 2011; Kleven 2016) with bootstrap
confidence intervals; and :func:`window_test` is the classic narrow-window
binomial test (expected share 1/2, or from a locally linear density — which
misleads when the threshold sits at the mode of the distribution, as targets
often do).

All p-values of all units, indicators and checks form one family for the
Benjamini–Hochberg q-values; a row is a *lead* when ``q ≤ alpha``. A unit's
``score`` is ``−log10`` of the harmonic mean of its p-values (Wilson 2019), which
ranks units by combined evidence whether it comes from one strong check or from
several moderate ones.

Every output says it plainly: flags are leads for verification — a third-party
check of the underlying records (第三方校验, R16) — never proof of manipulation.
A genuine improvement, a real change of catchment or a legitimately constant
denominator can trigger a check.

Modules
-------
:mod:`~perfmodel.design.gaming.data`
    the monthly series the checks read, check names, the disclaimer;
:mod:`~perfmodel.design.gaming.heaping`
    threshold heaping per unit and pooled;
:mod:`~perfmodel.design.gaming.bunching`
    pooled bunching estimator and the narrow-window test;
:mod:`~perfmodel.design.gaming.checks`
    dispersion, level shifts, repeated figures, digits; combining p-values;
:mod:`~perfmodel.design.gaming.detect`
    :func:`detect_gaming` and its :class:`GamingReport`, tables for display.

The figure (:func:`figure_bunching`) is in the report layer
(:mod:`perfmodel.report.gaming`) and the ``perfmodel lab gaming`` runner
(:func:`run_gaming`) in the command-line layer (:mod:`perfmodel.design.cli`);
both are re-exported here on first use. Names are imported on first use.

References
----------
Chetty, R., Friedman, J., Olsen, T., Pistaferri, L. (2011). Adjustment costs, firm
responses, and micro vs. macro labor supply elasticities. QJE 126(2), 749–804.
Kleven, H. J. (2016). Bunching. Annual Review of Economics 8, 435–464.
Wilson, D. J. (2019). The harmonic mean p-value for combining dependent tests.
PNAS 116(4), 1195–1200.
"""


from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from perfmodel._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "benjamini_hochberg": "checks",
    "bunching": "bunching",
    "BunchingResult": "bunching",
    "CHECKS": "data",
    "checks_table": "detect",
    "default_window": "heaping",
    "detect_gaming": "detect",
    "digit_checks": "checks",
    "DigitTest": "checks",
    "DISCLAIMER": "data",
    "dispersion_checks": "checks",
    "GamingReport": "detect",
    "harmonic_mean_p": "checks",
    "last_digit_test": "checks",
    "leads_table": "detect",
    "level_shift_checks": "checks",
    "monthly_values": "data",
    "pooled_heaping_test": "heaping",
    "PooledHeaping": "heaping",
    "repeat_checks": "checks",
    "round_percent_checks": "checks",
    "select_months": "data",
    "TEST_COLUMNS": "data",
    "threshold_checks": "heaping",
    "threshold_specs": "heaping",
    "ThresholdSpec": "heaping",
    "units_table": "detect",
    "window_test": "bunching",
    "WindowTest": "bunching",
}
"""Public name → the module of this package that defines it; imported on first use."""

_ELSEWHERE: dict[str, str] = {
    "figure_bunching": "perfmodel.report.gaming",
    "run_gaming": "perfmodel.design.cli",
}
"""Names of the gaming lab defined in the report and command-line layers, re-exported here on first use."""


def _elsewhere(name: str) -> Any:
    if name not in _ELSEWHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_ELSEWHERE[name]), name)


__all__ = [
    "benjamini_hochberg",
    "bunching",
    "BunchingResult",
    "CHECKS",
    "checks_table",
    "default_window",
    "detect_gaming",
    "digit_checks",
    "DigitTest",
    "DISCLAIMER",
    "dispersion_checks",
    "figure_bunching",
    "GamingReport",
    "harmonic_mean_p",
    "last_digit_test",
    "leads_table",
    "level_shift_checks",
    "monthly_values",
    "pooled_heaping_test",
    "PooledHeaping",
    "repeat_checks",
    "round_percent_checks",
    "run_gaming",
    "select_months",
    "TEST_COLUMNS",
    "threshold_checks",
    "threshold_specs",
    "ThresholdSpec",
    "units_table",
    "window_test",
    "WindowTest",
]

if TYPE_CHECKING:
    from perfmodel.design.cli import run_gaming
    from perfmodel.design.gaming.bunching import (
        BunchingResult,
        WindowTest,
        bunching,
        window_test,
    )
    from perfmodel.design.gaming.checks import (
        DigitTest,
        benjamini_hochberg,
        digit_checks,
        dispersion_checks,
        harmonic_mean_p,
        last_digit_test,
        level_shift_checks,
        repeat_checks,
        round_percent_checks,
    )
    from perfmodel.design.gaming.data import (
        CHECKS,
        DISCLAIMER,
        TEST_COLUMNS,
        monthly_values,
        select_months,
    )
    from perfmodel.design.gaming.detect import (
        GamingReport,
        checks_table,
        detect_gaming,
        leads_table,
        units_table,
    )
    from perfmodel.design.gaming.heaping import (
        PooledHeaping,
        ThresholdSpec,
        default_window,
        pooled_heaping_test,
        threshold_checks,
        threshold_specs,
    )
    from perfmodel.report.gaming import figure_bunching

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), fallback=_elsewhere,
                                    extra_names=lambda: set(_ELSEWHERE))
