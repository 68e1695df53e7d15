"""perfmodel: computable, comparable and auditable police performance evaluation (公安绩效考核).

The main entry points are available from the package itself and imported only
when first used (PEP 562), so ``import perfmodel`` stays fast and pulls in
neither pandas nor the modelling and plotting libraries::

    import perfmodel

    ev = perfmodel.evaluate_files("station_four_dimension", "observations.csv",
                                  "units.csv", "2025Q2")
    ev.scores                                   # score, rank, grade per unit
    ev.regen(calibration="full").scores         # the same data, calibrated
    perfmodel.run_audit(ev)["findings"]         # fairness and policy audit

The sub-packages are reachable as attributes too (``perfmodel.calibrate``,
``perfmodel.audit``, ``perfmodel.design``, ``perfmodel.report`` …), also
imported on first use. A function whose name equals a module's is not
exported here, so the two never shadow each other: use
``perfmodel.simulate.simulate`` and ``perfmodel.calibrate.calibrate``. The
package layout and data flow are described in ``docs/architecture.md``, the
methods in ``docs/methodology.md``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from perfmodel._lazy import lazy_exports

FALLBACK_VERSION = "0+unknown"
"""``__version__`` when the package metadata is not available (run from a bare checkout)."""

try:
    __version__: str = version("perfmodel")
except PackageNotFoundError:  # not installed: say so rather than guess a number
    __version__ = FALLBACK_VERSION

_EXPORTS: dict[str, str] = {
    # indicator systems (docs/framework.md)
    "Framework": "framework",
    "FrameworkError": "framework",
    "framework_from_dict": "framework",
    "load_framework": "framework",
    "shipped_frameworks": "framework",
    # reading and validating input files (docs/data-contract.md)
    "InputError": "io",
    "read_table": "io",
    "write_table": "io",
    "ValidationResult": "validation",
    "read_inputs": "validation",
    "validate_observations": "validation",
    "validate_units": "validation",
    # scoring, grading and ranking
    "Evaluation": "evaluation",
    "EvaluationError": "evaluation",
    "Settings": "evaluation",
    "evaluate": "evaluation",
    "evaluate_files": "evaluation",
    # synthetic data with known truth
    "Sample": "simulate",
    "generate_sample": "simulate",
    "write_sample": "simulate",
    # calibration (Settings(calibration="casemix" | "full") runs it inside an evaluation)
    "CalibrationResult": "calibrate.pipeline",
    "calibrate_values": "calibrate.pipeline",
    "truth_recovery": "calibrate.pipeline",
    # fairness and policy audit
    "AuditError": "audit",
    "run_audit": "audit",
    # indicator design lab
    "UncertaintySpec": "design.sensitivity",
    "sobol": "design.sensitivity",
    "uncertainty": "design.sensitivity",
    "redundancy_report": "design.redundancy",
    "compare_designs": "design.compare",
    "run_designs": "design.compare",
    "detect_gaming": "design.gaming",
    # reports
    "NotebookRun": "report.runner",
    "run_notebook": "report.runner",
    "apply_report_style": "report.style",
    "save_figure": "report.style",
}
"""Public name → module (relative to ``perfmodel``) that defines it."""

__all__ = [
    "AuditError",
    "CalibrationResult",
    "Evaluation",
    "EvaluationError",
    "Framework",
    "FrameworkError",
    "InputError",
    "NotebookRun",
    "Sample",
    "Settings",
    "UncertaintySpec",
    "ValidationResult",
    "apply_report_style",
    "calibrate_values",
    "compare_designs",
    "detect_gaming",
    "evaluate",
    "evaluate_files",
    "framework_from_dict",
    "generate_sample",
    "load_framework",
    "read_inputs",
    "read_table",
    "redundancy_report",
    "run_audit",
    "run_designs",
    "run_notebook",
    "save_figure",
    "shipped_frameworks",
    "sobol",
    "truth_recovery",
    "uncertainty",
    "validate_observations",
    "validate_units",
    "write_sample",
    "write_table",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from perfmodel.audit import AuditError, run_audit
    from perfmodel.calibrate.pipeline import CalibrationResult, calibrate_values, truth_recovery
    from perfmodel.design.compare import compare_designs, run_designs
    from perfmodel.design.gaming import detect_gaming
    from perfmodel.design.redundancy import redundancy_report
    from perfmodel.design.sensitivity import UncertaintySpec, sobol, uncertainty
    from perfmodel.evaluation import Evaluation, EvaluationError, Settings, evaluate, evaluate_files
    from perfmodel.framework import (
        Framework,
        FrameworkError,
        framework_from_dict,
        load_framework,
        shipped_frameworks,
    )
    from perfmodel.io import InputError, read_table, write_table
    from perfmodel.report.runner import NotebookRun, run_notebook
    from perfmodel.report.style import apply_report_style, save_figure
    from perfmodel.simulate import Sample, generate_sample, write_sample
    from perfmodel.validation import (
        ValidationResult,
        read_inputs,
        validate_observations,
        validate_units,
    )


def _submodules() -> set[str]:
    """Public modules and sub-packages of ``perfmodel`` (found on disk, nothing imported)."""
    import pkgutil

    return {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}


def _submodule(name: str) -> Any:
    """A public sub-module or sub-package, imported on first access."""
    if name.startswith("_") or name not in _submodules():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), fallback=_submodule, extra_names=_submodules)
