"""A three-station toy evaluation whose scores are computed by hand in ``tests/test_evaluation.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd

TOY = {
    "id": "toy",
    "name": {"zh": "测试", "en": "Toy"},
    "level": "station",
    "normalisation": {"method": "minmax", "range": [0, 100]},
    "grading": {"method": "cutoffs", "cutoffs": {"优秀": 85, "良好": 75, "合格": 60}},
    "missing": {"min_availability": 0.5},
    "tree": [
        {
            "id": "d1",
            "name": {"zh": "一", "en": "one"},
            "weight": 0.6,
            "children": [
                {"id": "r", "name": {"zh": "率", "en": "rate"}, "weight": 0.5, "kind": "rate"},
                {
                    "id": "d",
                    "name": {"zh": "时长", "en": "days"},
                    "weight": 0.5,
                    "kind": "duration",
                    "direction": "lower",
                },
            ],
        },
        {
            "id": "d2",
            "name": {"zh": "二", "en": "two"},
            "weight": 0.4,
            "children": [
                {
                    "id": "s",
                    "name": {"zh": "评分", "en": "rating"},
                    "weight": 1.0,
                    "kind": "score",
                    "source": "citizen",
                },
            ],
        },
    ],
}
MONTHS = ["2025-04", "2025-05", "2025-06"]


def toy_data():
    units = pd.DataFrame({"unit_id": ["A", "B", "C"], "name": ["甲", "乙", "丙"], "level": "station"})
    rows = []
    rates = {"A": [(8, 10), (9, 10), (10, 10)], "B": [(1, 2), (1, 2), (5, 6)], "C": [(5, 10)] * 3}
    days = {"A": 2.0, "B": 4.0, "C": 3.0}
    ratings = {"A": [80, 90], "B": [70, 70], "C": [60, 60]}
    for u in "ABC":
        for m, (num, den) in zip(MONTHS, rates[u], strict=True):
            rows.append((m, u, "r", num / den, num, den, None))
            rows.append((m, u, "d", days[u], np.nan, np.nan, None))
            for k, rating in enumerate(ratings[u]):
                rows.append((m, u, "s", rating, np.nan, np.nan, f"R{k}"))
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs["late"] = False
    return units, obs
