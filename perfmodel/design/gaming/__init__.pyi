# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

from .data import (
    CHECKS as CHECKS,
    DISCLAIMER as DISCLAIMER,
    TEST_COLUMNS as TEST_COLUMNS,
    monthly_values as monthly_values,
    select_months as select_months,
)
from .counterfactual import (
    BandFit as BandFit,
    fit_band as fit_band,
    mixture_sf as mixture_sf,
)
from .evidence import (
    calibrated_log10_bf as calibrated_log10_bf,
    heap_evidence as heap_evidence,
    HeapEvidence as HeapEvidence,
)
from .heaping import (
    default_window as default_window,
    pooled_heaping_test as pooled_heaping_test,
    PooledHeaping as PooledHeaping,
    threshold_checks as threshold_checks,
    threshold_specs as threshold_specs,
    ThresholdSpec as ThresholdSpec,
)
from .bunching import (
    bunching as bunching,
    BunchingResult as BunchingResult,
    window_test as window_test,
    WindowTest as WindowTest,
)
from .checks import (
    benjamini_hochberg as benjamini_hochberg,
    digit_checks as digit_checks,
    DigitTest as DigitTest,
    dispersion_checks as dispersion_checks,
    harmonic_mean_p as harmonic_mean_p,
    last_digit_test as last_digit_test,
    level_shift_checks as level_shift_checks,
    repeat_checks as repeat_checks,
    round_percent_checks as round_percent_checks,
)
from .detect import (
    checks_table as checks_table,
    detect_gaming as detect_gaming,
    GamingReport as GamingReport,
    leads_table as leads_table,
    units_table as units_table,
)
