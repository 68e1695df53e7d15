"""Golden test: the COINr ASEM Sustainable Connectivity example, stage by stage.

Reproduces ``build_ASEM()`` of the R package COINr (``data/ASEM_COIN.rda``): 51
countries, 49 indicators → 8 pillars (``Agg1``) → 2 sub-indices (``Agg2``) →
``Index``; denominate → impute (``Group_EurAsia`` group mean) → treat
(winsorise, at most 6 steps) → min-max [0, 100] after orienting by
``Direction`` → equal-weight arithmetic means level by level → rank.

Every intermediate stage and every aggregate is compared with the published
numbers within 1e-9 (absolute); on failure the message gives the largest
deviation and where it is.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfmodel.aggregate import aggregate_tree
from perfmodel.denominate import DenominatorWarning, denominate, denominator_problems
from perfmodel.framework import Framework, framework_from_dict
from perfmodel.impute import impute
from perfmodel.normalise import normalise, orient
from perfmodel.treat import treat

pytestmark = pytest.mark.golden

TOLERANCE = 1e-9
LEVELS = ("Agg1", "Agg2", "Agg3")


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, index_col="UnitCode")


class Asem:
    """The published inputs and outputs, and our pipeline run on them."""

    def __init__(self, folder: Path) -> None:
        self.meta = pd.read_csv(folder / "indicator_meta.csv")
        self.agg_meta = pd.read_csv(folder / "aggregate_meta.csv")
        self.codes = self.meta["IndCode"].tolist()
        self.units = _read(folder, "denominators.csv")
        self.raw = _read(folder, "raw.csv")[self.codes]
        self.published = {
            stage: _read(folder, f"stage_{stage}.csv")[self.codes]
            for stage in ("denominated", "imputed", "treated", "normalised")
        }
        self.aggregated = _read(folder, "published_aggregated_full_precision.csv")
        self.scores = _read(folder, "published_scores.csv")
        self.framework = asem_framework(self.meta, self.agg_meta)
        self._run()

    def _run(self) -> None:
        denominators = self.meta.dropna(subset=["Denominator"]).set_index("IndCode")["Denominator"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.denominated = denominate(self.raw, denominators.to_dict(), self.units)
        self.denominator_warnings = [w for w in caught if issubclass(w.category, DenominatorWarning)]
        self.denominator_problems = denominator_problems(self.raw, denominators.to_dict(), self.units)
        self.imputation = impute(self.denominated, "group_mean", groups=self.units["Group_EurAsia"])
        self.treatment = treat(self.imputation.values, max_points=6)
        directions = {row.IndCode: "higher" if row.Direction > 0 else "lower" for row in self.meta.itertuples()}
        self.normalised = normalise(orient(self.treatment.values, directions), "minmax", lo=0, hi=100)
        # framework ids are lowercase ([a-z0-9_]); COINr's codes are mixed case, so map there and back
        published_code = {code.lower(): code for code in [*self.codes, *self.agg_meta["Code"]]}
        aggregates = aggregate_tree(self.normalised.rename(columns=str.lower), self.framework, "arithmetic")
        self.aggregates = aggregates.rename(columns=published_code)


def asem_framework(meta: pd.DataFrame, agg_meta: pd.DataFrame) -> Framework:
    """The ASEM tree as a :class:`Framework`, equal weights normalised within each node."""
    names = agg_meta.set_index("Code")["Name"].to_dict()

    def node(code: str, children: list[dict]) -> dict:
        name = names.get(code, code)
        return {"id": code.lower(), "name": {"zh": name, "en": name}, "weight": 1.0, "children": children}

    def build(frame: pd.DataFrame, depth: int) -> list[dict]:
        if depth < 0:
            leaves = [
                {
                    "id": row.IndCode.lower(),
                    "name": {"zh": row.IndName, "en": row.IndName},
                    "weight": row.IndWeight,
                    "direction": "higher" if row.Direction > 0 else "lower",
                    "kind": "score",
                }
                for row in frame.itertuples()
            ]
            return _normalised_weights(leaves)
        level = LEVELS[depth]
        groups = [node(code, build(frame[frame[level] == code], depth - 1)) for code in dict.fromkeys(frame[level])]
        return _normalised_weights(groups)

    (index,) = build(meta, len(LEVELS) - 1)
    raw = {
        "id": "asem",
        "name": {"zh": "ASEM Sustainable Connectivity", "en": "ASEM Sustainable Connectivity"},
        "level": "station",
        "tree": index["children"],
    }
    return framework_from_dict(raw, source="golden/asem")


def _normalised_weights(nodes: list[dict]) -> list[dict]:
    total = sum(n["weight"] for n in nodes)
    return [{**n, "weight": n["weight"] / total} for n in nodes]


@pytest.fixture(scope="module")
def asem(golden_dir: Path) -> Asem:
    folder = golden_dir / "asem"
    if not folder.is_dir():
        pytest.skip(f"ASEM golden data not found at {folder}")
    return Asem(folder)


def _deviation(ours: pd.DataFrame, published: pd.DataFrame) -> tuple[float, str]:
    """Largest absolute deviation and where it is; NaN patterns must agree."""
    ours = ours.reindex(index=published.index, columns=published.columns)
    nan_mismatch = ours.isna() != published.isna()
    if nan_mismatch.to_numpy().any():
        rows, cols = np.nonzero(nan_mismatch.to_numpy())
        cells = [f"{published.index[r]}×{published.columns[c]}" for r, c in zip(rows, cols, strict=True)]
        return float("inf"), f"missing values differ at {', '.join(cells[:5])}"
    diff = (ours - published).abs()
    if not diff.notna().to_numpy().any():
        return 0.0, "all missing"
    column = diff.max().idxmax()
    unit = diff[column].idxmax()
    return float(diff.to_numpy()[~np.isnan(diff.to_numpy())].max()), f"{unit}×{column}"


def _assert_stage(name: str, ours: pd.DataFrame, published: pd.DataFrame) -> None:
    deviation, where = _deviation(ours, published)
    print(f"ASEM stage {name}: max |deviation| = {deviation:.3g} ({where})")
    assert deviation <= TOLERANCE, f"stage {name}: max |deviation| {deviation:.3g} at {where}"


@pytest.mark.parametrize("stage", ["denominated", "imputed", "treated", "normalised"])
def test_every_stage_matches_published(asem: Asem, stage: str) -> None:
    ours = {
        "denominated": asem.denominated,
        "imputed": asem.imputation.values,
        "treated": asem.treatment.values,
        "normalised": asem.normalised,
    }[stage]
    _assert_stage(stage, ours, asem.published[stage])


def test_every_aggregate_matches_published(asem: Asem) -> None:
    published = asem.aggregated
    ours = asem.aggregates.rename(columns={"score": "Index"})
    levels = [*asem.meta["Agg1"].unique(), *asem.meta["Agg2"].unique(), "Index"]
    assert sorted(ours.columns) == sorted(levels)
    _assert_stage("aggregated (indicators)", asem.normalised, published[asem.codes])
    _assert_stage("aggregated (pillars, sub-indices, index)", ours[levels], published[levels])


def test_ranks_match_published(asem: Asem) -> None:
    index = asem.aggregates["score"]
    ranks = index.rank(ascending=False, method="min").astype(int)
    published = asem.scores["Rank"].astype(int)
    assert ranks.reindex(published.index).tolist() == published.tolist()


def test_published_two_decimal_scores(asem: Asem) -> None:
    ours = asem.aggregates.rename(columns={"score": "Index"})
    columns = [c for c in asem.scores.columns if c not in ("UnitName", "Rank")]
    deviation = (ours[columns].reindex(asem.scores.index) - asem.scores[columns]).abs().max().max()
    assert deviation <= 0.005 + 1e-12


def test_missing_denominator_is_reported(asem: Asem) -> None:
    """One unit has no energy denominator: its Elec and Gas become NaN and are listed."""
    missing = asem.units.index[asem.units["Den_Energy"].isna()]
    assert len(missing) == 1
    problems = asem.denominator_problems
    expected = {
        (missing[0], code)
        for code in asem.meta.loc[asem.meta["Denominator"] == "Den_Energy", "IndCode"]
        if pd.notna(asem.raw.loc[missing[0], code])
    }
    assert expected, "the golden data should have an observed value over the missing denominator"
    assert set(zip(problems["unit"], problems["indicator"], strict=True)) == expected
    assert set(problems["reason"]) == {"denominator missing"}
    assert len(asem.denominator_warnings) == 1
    assert not np.isinf(asem.denominated.to_numpy()).any()


def test_imputation_log_covers_every_missing_cell(asem: Asem) -> None:
    n_missing = int(asem.denominated.isna().sum().sum())
    log = asem.imputation.log
    assert len(log) == n_missing
    assert (log["status"] == "imputed").all()
    assert int(asem.imputation.imputed.sum().sum()) == n_missing
    assert asem.imputation.unresolved.empty


def test_treatment_log(asem: Asem) -> None:
    """15 indicators are winsorised (COINr's summary table), all brought within thresholds."""
    log = asem.treatment.log.set_index("indicator")
    winsorised = log[log["steps"] > 0]
    assert len(winsorised) == 15
    assert set(winsorised["status"]) == {"winsorised"}
    assert winsorised.loc["Services", "steps"] == 4
    assert winsorised.loc["FemLab", "side"] == "low"
    assert ((winsorised["skew"].abs() < 2) | (winsorised["kurtosis"] < 3.5)).all()
    changed = asem.treatment.changed.sum()
    assert (changed[winsorised.index] == winsorised["points"]).all()
    assert changed.drop(winsorised.index).eq(0).all()
