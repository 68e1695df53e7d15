# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

# indicator systems (docs/framework.md)
from .framework import (
    Framework as Framework,
    FrameworkError as FrameworkError,
    framework_from_dict as framework_from_dict,
    load_framework as load_framework,
    shipped_frameworks as shipped_frameworks,
)

# reading and validating input files (docs/data-contract.md)
from .io import InputError as InputError, read_table as read_table, write_table as write_table
from .validation import (
    ValidationResult as ValidationResult,
    read_inputs as read_inputs,
    validate_observations as validate_observations,
    validate_units as validate_units,
)

# scoring, grading and ranking
from .evaluation import (
    Evaluation as Evaluation,
    EvaluationError as EvaluationError,
    Settings as Settings,
    evaluate as evaluate,
    evaluate_files as evaluate_files,
)

# synthetic data with known truth
from .simulate import Sample as Sample, generate_sample as generate_sample, write_sample as write_sample

# calibration (Settings(calibration="casemix" | "full") runs it inside an evaluation)
from .calibrate.step import CalibrationResult as CalibrationResult, calibrate_values as calibrate_values
from .calibrate.truth import truth_recovery as truth_recovery

# fairness and policy audit
from .audit import AuditError as AuditError, run_audit as run_audit

# indicator design lab
from .design.sensitivity import UncertaintySpec as UncertaintySpec, sobol as sobol, uncertainty as uncertainty
from .design.redundancy import redundancy_report as redundancy_report
from .design.compare import compare_designs as compare_designs, run_designs as run_designs
from .design.gaming import detect_gaming as detect_gaming

# reports
from .report.runner import NotebookRun as NotebookRun, run_notebook as run_notebook
from .report.style import apply_report_style as apply_report_style, save_figure as save_figure

__version__: str
FALLBACK_VERSION: str
