"""perfmodel: computable, comparable and auditable police performance evaluation (公安绩效考核).

The main entry points are available from the package itself and imported only
when first used (PEP 562), so ``import perfmodel`` stays fast and pulls in
neither pandas nor the modelling and plotting libraries::

    import perfmodel

    ev = perfmodel.evaluate_files("station_four_dimension", "observations.csv",
                                  "units.csv", "2025Q2")
    ev.scores                                   # score, rank, grade per unit
    ev.regen(calibration="full").scores         # the same data, calibrated
    perfmodel.run_audit(ev).findings            # fairness and policy audit

The sub-packages are reachable as attributes too (``perfmodel.calibrate``,
``perfmodel.audit``, ``perfmodel.design``, ``perfmodel.report`` …), also
imported on first use. A function whose name equals a module's is not
exported here, so the two never shadow each other: use
``perfmodel.simulate.simulate`` and ``perfmodel.calibrate.calibrate``. The
package layout and data flow are described in ``docs/architecture.md``, the
methods in ``docs/methodology.md``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from perfmodel._lazy import attach_stub

FALLBACK_VERSION = "0+unknown"
"""``__version__`` when the package metadata is not available (run from a bare checkout)."""

try:
    __version__: str = version("perfmodel")
except PackageNotFoundError:  # not installed: say so rather than guess a number
    __version__ = FALLBACK_VERSION

# Public names: the ``from .module import name as name`` lines of __init__.pyi (one declaration).
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__, submodules=True)
