"""Gaming and data-distortion detection on monthly data (R16): leads, not verdicts.

Score chasing and careless or doctored statistics leave traces in the figures
units report. This package looks for them unit by unit (one check per trace
below) and ranks units by the evidence:

``threshold_heaping``
    Values pile up just above a hard threshold (e.g. 三实信息采集率 ≥ 95 %, R9)
    and are missing just below it — the "hole and heap" left when months at
    93–95 % are reported as 95 %. For each unit, the months near the threshold
    are split into "just meeting" and "just missing"; the statistic is the
    number of meeting months, which a manipulated month raises by one whatever
    the unit's level. Its null comes from a counterfactual that the
    manipulation cannot move (:mod:`~perfmodel.design.gaming.counterfactual`):
    the peer group's month effects and distribution of unit levels (the
    cross-section) and the unit's own months *outside* the band (months in the
    band count only as "in the band"); the unit's level and spread are
    integrated over a grid. The p-value is the exact mid-p tail of the
    resulting Poisson-binomial mixture, for rates with numerator and
    denominator (the band's edges between possible counts) and for rates
    given alone alike.
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
weighted Benjamini–Hochberg q-values (the threshold tests share half the
budget, the other checks the other half; Genovese, Roeder & Wasserman 2006); a
row is a *lead* when ``q ≤ alpha``. Units are ranked by evidence, not by
p-values: a unit's ``score`` is the ``log10`` Bayes factor of manipulation
against none at its threshold (:mod:`~perfmodel.design.gaming.evidence`: the
counterfactual's per-month heap probabilities against a manipulated share
estimated across units by an empirical-Bayes mixture), and another check
enters it only when it is a lead, its p-value calibrated to a Bayes factor
(Shafer et al. 2011). A unit without a threshold test is ranked by the largest
calibrated evidence of its checks; ``combined_p`` (the harmonic mean of its
p-values, Wilson 2019) is shown beside the score.

Every output says it plainly: flags are leads for verification — a third-party
check of the underlying records (第三方校验, R16) — never proof of manipulation.
A genuine improvement, a real change of catchment or a legitimately constant
denominator can trigger a check.

Modules
-------
:mod:`~perfmodel.design.gaming.data`
    the monthly series the checks read, check names, the disclaimer;
:mod:`~perfmodel.design.gaming.counterfactual`
    where a unit's months would fall near a threshold without manipulation;
:mod:`~perfmodel.design.gaming.evidence`
    the Bayes factor that ranks units at a threshold;
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
import them from there. Names are imported on first use.

References
----------
Chetty, R., Friedman, J., Olsen, T., Pistaferri, L. (2011). Adjustment costs, firm
responses, and micro vs. macro labor supply elasticities. QJE 126(2), 749–804.
Genovese, C. R., Roeder, K., Wasserman, L. (2006). False discovery control with
p-value weighting. Biometrika 93(3), 509–524.
Kleven, H. J. (2016). Bunching. Annual Review of Economics 8, 435–464.
Shafer, G., Shen, A., Vereshchagin, N., Vovk, V. (2011). Test martingales, Bayes
factors and p-values. Statistical Science 26(1), 84–101.
Wilson, D. J. (2019). The harmonic mean p-value for combining dependent tests.
PNAS 116(4), 1195–1200.
"""

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
