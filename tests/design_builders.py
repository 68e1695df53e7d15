"""Small evaluations for the design-lab tests, built by hand so expectations are known.

This module holds helpers only (no tests); the ``test_design_*`` files import them
(shared test helpers live in ``tests/*_builders.py``, never in a ``test_*`` module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.evaluation import Evaluation, evaluate
from perfmodel.framework import Framework, framework_from_dict

PERIOD = "2025-06"


def name(text: str) -> dict[str, str]:
    return {"zh": text, "en": text}


def indicator(id: str, weight: float, **extra: Any) -> dict[str, Any]:
    return {"id": id, "name": name(id), "weight": weight, "kind": "score", **extra}


def toy_framework(**overrides: Any) -> Framework:
    """D1 (0.6): a (0.5), b (0.5, lower is better) · D2 (0.4): c (0.3), d (0.7); min-max."""
    raw = {
        "id": "toy",
        "name": name("toy"),
        "level": "station",
        "normalisation": {"method": "minmax"},
        "grading": {"method": "cutoffs", "cutoffs": {"优秀": 80, "良好": 60, "合格": 40}},
        "missing": {"min_availability": 0.3},
        "tree": [
            {
                "id": "d1",
                "name": name("d1"),
                "weight": 0.6,
                "children": [indicator("a", 0.5), indicator("b", 0.5, direction="lower")],
            },
            {"id": "d2", "name": name("d2"), "weight": 0.4, "children": [indicator("c", 0.3), indicator("d", 0.7)]},
        ],
    }
    raw.update(overrides)
    return framework_from_dict(raw)


def toy_frames(
    fw: Framework,
    n: int = 12,
    seed: int = 0,
    missing: Sequence[tuple[int, str]] = (),
    values: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units (two station classes) and one month of observations.

    Values are drawn continuously (no ties) unless ``values`` (units × indicators)
    is given; ``missing`` lists (unit position, indicator) cells left out.
    """
    rng = np.random.default_rng(seed)
    ids = [f"U{i:02d}" for i in range(n)]
    units = pd.DataFrame(
        {
            "unit_id": ids,
            "name": [f"单位{i}" for i in range(n)],
            "level": "station",
            "station_class": ["一类" if i % 2 else "二类" for i in range(n)],
        }
    )
    indicators = [i.id for i in fw.indicators()]
    if values is None:
        common = rng.normal(size=(n, 1))
        values = pd.DataFrame(
            50 + 10 * common + 8 * rng.normal(size=(n, len(indicators))), index=ids, columns=indicators
        )
    rows = []
    drop = {(ids[k], ind) for k, ind in missing}
    for unit_id in ids:
        for ind in indicators:
            if (unit_id, ind) not in drop:
                rows.append((PERIOD, unit_id, ind, float(values.loc[unit_id, ind])))
    obs = pd.DataFrame(rows, columns=["period", "unit_id", "indicator", "value"])
    obs["numerator"] = np.nan
    obs["denominator"] = np.nan
    obs["rater_id"] = None
    obs["late"] = False
    return units, obs


def toy_evaluation(
    fw: Framework | None = None,
    *,
    n: int = 12,
    seed: int = 0,
    missing: Sequence[tuple[int, str]] = (),
    values: pd.DataFrame | None = None,
    **settings: Any,
) -> Evaluation:
    fw = fw or toy_framework()
    units, obs = toy_frames(fw, n=n, seed=seed, missing=missing, values=values)
    settings.setdefault("compare_previous", False)
    return evaluate(fw, obs, units, PERIOD, **settings)
