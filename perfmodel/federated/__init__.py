"""Fair cross-region comparison without pooling rows (R22).

* :mod:`~perfmodel.federated.region` — a region's side: it keeps its rows and
  answers with sums (sufficient statistics, score vectors, information matrices);
* :mod:`~perfmodel.federated.messages` — what crosses the boundary, with its size;
* :mod:`~perfmodel.federated.compare` — the coordinator: federated case-mix GLMs,
  the naive and the calibrated league table with rank intervals;
* :mod:`~perfmodel.federated.example` — three simulated regions, one in a harder context;
* :mod:`~perfmodel.federated.cli` — ``perfmodel compare-regions``.
"""

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
