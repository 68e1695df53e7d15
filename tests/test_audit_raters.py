"""Rater fairness: a planted harsh rater is found; agreeing raters are not flagged."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from audit_builders import planted_data

from perfmodel.audit import AuditError, rater_bias, ratings_table
from perfmodel.audit.raters import ERR_NO_RATINGS, ERR_RATINGS_COLUMNS
from perfmodel.evaluation import evaluate

BIAS = 10.0


def evaluation(bias: float, seed: int = 6):
    fw, obs, units = planted_data(seed=seed, n_units=60, biased_rater_points=bias)
    return evaluate(fw, obs, units, "2025Q2", compare_previous=False)


@pytest.fixture(scope="module")
def biased():
    return evaluation(BIAS)


@pytest.mark.parametrize("model", ["fixed", "mixed"])
def test_planted_harsh_rater_is_found_with_group_and_direction(biased, model):
    table = rater_bias(biased, by="area_type", model=model).to_frame()
    test = table.iloc[0]
    assert test["scope"] == "interaction" and test["flagged"] and test["p_value"] < 1e-6
    flagged = table[(table["scope"] == "rater") & table["flagged"]]
    assert flagged[["rater_id", "group"]].values.tolist() == [["C1-0", "农村"]]
    gap = flagged.iloc[0]
    # the rater deducts 10 points from rural stations; the other raters are its reference
    assert gap["ci_low"] < -BIAS < gap["ci_high"]
    assert gap["estimate"] < 0 and "C1-0" in gap["verdict"] and "农村" in gap["verdict"]


def test_agreeing_raters_are_not_flagged():
    ev = evaluation(0.0)
    table = rater_bias(ev, by="area_type", lang="en").to_frame()
    assert not table["flagged"].any()
    assert table.iloc[0]["verdict"].startswith("No rater × group interaction")
    compared = table[table["role"] == "compared"]
    # every rater (4 citizen raters and 1 supervisor per district) × the 2 non-reference groups
    assert len(compared) == 2 * ratings_table(ev)["rater_id"].nunique() == 30
    assert compared["estimate"].abs().max() < 4


def test_raters_sharing_no_units_cannot_be_compared():
    rng = np.random.default_rng(1)
    rows = []
    for u in range(20):
        rater = "A" if u < 10 else "B"  # each unit rated by one rater only
        for _ in range(6):
            rows.append((f"U{u}", rater, 70 + rng.normal(0, 3), "农村" if u % 2 else "城区"))
    frame = pd.DataFrame(rows, columns=["unit_id", "rater_id", "value", "area_type"])
    table = rater_bias(frame, by="area_type", lang="en").to_frame()
    assert table.iloc[0]["verdict"] == "Raters share no rated units; the interaction cannot be identified"
    assert set(table.loc[table["scope"] == "rater", "role"]) == {"not_identified"}
    assert not table["flagged"].any()


def test_ratings_come_from_rated_indicators_of_the_period(biased):
    ratings = ratings_table(biased)
    assert set(ratings["indicator"]) == {"citizen_score", "supervisor_score"}
    assert set(ratings["period"]) == {"2025-04", "2025-05", "2025-06"}
    assert ratings["area_type"].notna().all()


def test_missing_ratings_are_explained():
    frame = pd.DataFrame({"unit_id": ["U1"], "value": [1.0], "area_type": ["x"]})
    with pytest.raises(AuditError, match=re.escape(ERR_RATINGS_COLUMNS.format(column="rater_id"))):
        rater_bias(frame, by="area_type")
    with pytest.raises(AuditError, match=re.escape(ERR_NO_RATINGS)):
        rater_bias(frame.assign(rater_id=None), by="area_type")
