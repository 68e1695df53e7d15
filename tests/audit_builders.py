"""A small generator of stations with a known (planted or absent) disadvantage, for the audit tests.

Two levels of data:

- :func:`station_frames` — per-unit frames (score and grade directly), generated
  for many seeds in one vectorised draw, for the false-alarm and power tests;
- :func:`planted_data` — a framework and clean monthly observations for
  :func:`perfmodel.evaluation.evaluate`, where rural stations (农村) are penalised
  by an *uncalibrated* indicator: their response times are longer because of
  distance, not performance. True performance θ is independent of area type.

``tests/test_audit_generator.py`` checks the generator itself, so that the audit
tests rest on data that really have (or lack) the planted effect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from perfmodel.framework import framework_from_dict
from perfmodel.grading import grade_by_cutoffs

AREAS = ("城区核心", "城乡结合部", "农村")
AREA_SHARES = (0.4, 0.3, 0.3)
CUTOFFS = {"优秀": 80.0, "良好": 65.0, "合格": 50.0}
MONTHS = [f"2025-{m:02d}" for m in range(1, 7)]  # 2025Q1 and 2025Q2

FRAMEWORK = {
    "id": "audit_test",
    "name": {"zh": "审计测试框架", "en": "Audit test framework"},
    "level": "station",
    "normalisation": {"method": "goalposts", "range": [0, 100]},
    "grading": {"method": "cutoffs", "cutoffs": CUTOFFS},
    "tree": [
        {
            "id": "service",
            "name": {"zh": "业务", "en": "Service"},
            "weight": 0.6,
            "children": [
                {
                    "id": "response_minutes",
                    "name": {"zh": "出警时长", "en": "Response time"},
                    "weight": 0.5,
                    "kind": "duration",
                    "direction": "lower",
                    "unit": "分钟",
                    "range": [0, 120],
                    "goalposts": [5, 30],
                },
                {
                    "id": "case_compliance_rate",
                    "name": {"zh": "案件规范率", "en": "Case compliance"},
                    "weight": 0.5,
                    "kind": "rate",
                    "range": [0, 1],
                    "goalposts": [0.6, 1.0],
                },
            ],
        },
        {
            "id": "ratings",
            "name": {"zh": "评价", "en": "Ratings"},
            "weight": 0.4,
            "children": [
                {
                    "id": "citizen_score",
                    "name": {"zh": "群众评分", "en": "Citizen rating"},
                    "weight": 0.5,
                    "kind": "score",
                    "source": "citizen",
                    "range": [0, 100],
                    "goalposts": [50, 100],
                },
                {
                    "id": "supervisor_score",
                    "name": {"zh": "上级评分", "en": "Supervisor rating"},
                    "weight": 0.5,
                    "kind": "score",
                    "source": "supervisor",
                    "range": [0, 100],
                    "goalposts": [50, 100],
                },
            ],
        },
    ],
}


def framework():
    return framework_from_dict(FRAMEWORK, source="audit_test")


def _areas(n: int) -> np.ndarray:
    counts = np.round(np.array(AREA_SHARES) * n).astype(int)
    counts[0] += n - counts.sum()
    return np.repeat(np.array(AREAS), counts)


def station_frames(n_seeds: int, *, n_units: int = 60, penalty: float = 0.0, seed: int = 0) -> list[pd.DataFrame]:
    """Per-unit frames for ``n_seeds`` independent jurisdictions, drawn in one go.

    score = 65 + 10·θ − penalty·[农村] + noise, graded with :data:`CUTOFFS`.
    """
    rng = np.random.default_rng(seed)
    area = _areas(n_units)
    theta = rng.standard_normal((n_seeds, n_units))
    workload = rng.gamma(6.0, 10.0, size=(n_seeds, n_units))
    population = rng.lognormal(10.5, 0.5, size=(n_seeds, n_units))
    score = 65 + 10 * theta - penalty * (area == "农村")
    frames = []
    for s in range(n_seeds):
        frame = pd.DataFrame(
            {
                "unit_id": [f"S{i:03d}" for i in range(n_units)],
                "area_type": area,
                "score": score[s],
                "incidents_per_officer": workload[s],
                "population": population[s],
            }
        )
        frame["grade"] = grade_by_cutoffs(frame["score"], CUTOFFS)
        frames.append(frame)
    return frames


def planted_data(
    *,
    seed: int = 0,
    n_units: int = 60,
    rural_minutes: float = 0.0,
    noise: float = 1.0,
    biased_rater_points: float = 0.0,
) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """A framework, clean observations and clean units for :func:`perfmodel.evaluation.evaluate`.

    Parameters
    ----------
    rural_minutes
        Extra response minutes of rural stations (the uncalibrated indicator).
    noise
        Multiplier of every month-to-month and rater noise (0 = identical months
        and perfectly agreeing raters).
    biased_rater_points
        Points the citizen rater ``C1-0`` deducts from rural stations.
    """
    rng = np.random.default_rng(seed)
    area = _areas(n_units)
    ids = [f"S{i:03d}" for i in range(n_units)]
    district = np.array([f"D{i % 3 + 1}" for i in range(n_units)])
    officers = rng.integers(10, 41, n_units)
    population = np.round(rng.lognormal(10.5, 0.5, n_units)).astype(int)
    incident_volume = np.round(officers * rng.gamma(6.0, 10.0, n_units)).astype(int)
    units = pd.DataFrame(
        {
            "unit_id": ids,
            "name": [f"测试派出所{i}" for i in range(n_units)],
            "level": "station",
            "parent_id": None,
            "district": district,
            "station_class": pd.qcut(population, 3, labels=["三类", "二类", "一类"]).astype(str),
            "station_type": "地区派出所",
            "area_type": area,
            "population": population,
            "incident_volume": incident_volume,
            "officers": officers,
        }
    )
    theta = rng.standard_normal(n_units)
    rows = []
    citizen_raters = [f"C{d}-{k}" for d in range(1, 4) for k in range(4)]
    lenient = {r: rng.normal(0, 2) for r in citizen_raters}
    for month in MONTHS:
        shock = noise * rng.standard_normal((n_units, 4))
        for u, unit in enumerate(ids):
            minutes = 14 - 3 * theta[u] + 1.5 * shock[u, 0] + rural_minutes * (area[u] == "农村")
            rows.append((month, unit, "response_minutes", max(minutes, 1.0), np.nan, np.nan, None))
            cases = 60
            p = 1 / (1 + np.exp(-(2.0 + 0.6 * theta[u] + 0.2 * shock[u, 1])))
            k = int(round(cases * p))
            rows.append((month, unit, "case_compliance_rate", k / cases, float(k), float(cases), None))
            pool = [r for r in citizen_raters if r.startswith(f"C{district[u][1]}-")]
            start = (u + MONTHS.index(month)) % len(pool)
            for j in range(3):
                rater = pool[(start + j) % len(pool)]
                value = 78 + 6 * theta[u] + lenient[rater] + 3 * noise * rng.standard_normal()
                if rater == "C1-0" and area[u] == "农村":
                    value -= biased_rater_points
                rows.append((month, unit, "citizen_score", float(np.clip(value, 0, 100)), np.nan, np.nan, rater))
            value = 75 + 6 * theta[u] + 3 * shock[u, 3]
            rows.append(
                (month, unit, "supervisor_score", float(np.clip(value, 0, 100)), np.nan, np.nan, f"L{district[u]}")
            )
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs["late"] = False
    return framework(), obs, units


def write_files(folder: Path, **options) -> dict[str, Path]:
    """Write :func:`planted_data` as input files (units.csv, observations.csv, framework.yaml)."""
    _, obs, units = planted_data(**options)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "units": folder / "units.csv",
        "observations": folder / "observations.csv",
        "framework": folder / "audit_test.yaml",
    }
    units.to_csv(paths["units"], index=False)
    obs.drop(columns="late").to_csv(paths["observations"], index=False)
    paths["framework"].write_text(yaml.safe_dump(FRAMEWORK, allow_unicode=True), encoding="utf-8")
    return paths
