"""Weight policy and variance shares: hand-checked shares, policy rules, stated ≠ variance share."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from perfmodel.audit import (
    AuditError,
    PolicyLimits,
    inflated_weight_example,
    stated_vs_variance_shares,
    weight_policy,
)
from perfmodel.audit.policy import ERR_NO_VARIANCE, ERR_WEIGHT_INPUT
from perfmodel.evaluation import evaluate
from perfmodel.framework import framework_from_dict


def leaf(id_, weight, source="system", **extra):
    return {
        "id": id_,
        "name": {"zh": id_, "en": id_},
        "weight": weight,
        "kind": "rate",
        "source": source,
        "range": [0, 1],
        "goalposts": [0.0, 1.0],
        **extra,
    }


def framework(children, **extra):
    return framework_from_dict(
        {
            "id": "policy_test",
            "name": {"zh": "测试", "en": "test"},
            "level": "station",
            "normalisation": {"method": "goalposts", "range": [0, 100]},
            "tree": [{"id": "all", "name": {"zh": "全部", "en": "all"}, "weight": 1.0, "children": children}],
            **extra,
        }
    )


def observations(values: dict[str, list[float]], months=("2025-04", "2025-05", "2025-06")):
    rows = []
    for indicator, per_unit in values.items():
        for u, value in enumerate(per_unit):
            for month in months:
                rows.append((month, f"U{u}", indicator, value, np.nan, np.nan, None))
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs["late"] = False
    units = pd.DataFrame({"unit_id": [f"U{u}" for u in range(len(next(iter(values.values()))))], "level": "station"})
    units["name"] = units["unit_id"]
    return obs, units


# ----------------------------------------------------------------------------- variance shares
def test_variance_shares_of_an_evaluation_match_the_hand_example():
    fw = framework([leaf("a", 0.5), leaf("b", 0.5, source="citizen")])
    obs, units = observations({"a": [0, 0, 1, 1], "b": [0.4, 0.6, 0.4, 0.6]})
    ev = evaluate(fw, obs, units, "2025Q2", compare_previous=False)
    table = stated_vs_variance_shares(ev, n_boot=0).to_frame().set_index("item")
    assert table["stated"].tolist() == pytest.approx([0.5, 0.5])
    assert table["estimate"].tolist() == pytest.approx([25 / 26, 1 / 26])
    assert table.loc["a", "ratio"] == pytest.approx(50 / 26)
    assert table.loc["a", "flagged"] and table.loc["b", "flagged"]
    assert table.loc["b", "sd"] == pytest.approx(np.std([40, 60, 40, 60], ddof=1))
    by_source = stated_vs_variance_shares(ev, level="source", n_boot=0).to_frame().set_index("item")
    assert by_source.loc["citizen", "estimate"] == pytest.approx(1 / 26)


# ----------------------------------------------------------------------------- stated vs variance share
def test_inflated_example_shows_a_30_percent_rating_driving_most_of_the_ranking():
    ev = inflated_weight_example(n_units=60, rng=0)
    sources = stated_vs_variance_shares(ev, level="source", n_boot=100, rng=1).to_frame().set_index("item")
    assert sources.loc["supervisor", "stated"] == pytest.approx(0.30)
    assert sources.loc["supervisor", "estimate"] > 0.55
    assert sources.loc["supervisor", "ci_low"] > 0.30  # markedly more than stated, not noise
    assert sources["estimate"].sum() == pytest.approx(1.0)
    policy = weight_policy(ev, n_boot=100, rng=1).to_frame().set_index("rule")
    subjective = policy.loc["subjective_share"]
    assert subjective["passes"] and not subjective["passes_effective"] and subjective["flagged"]
    assert "30.0%" in subjective["verdict"] and f"{subjective['effective']:.1%}" in subjective["verdict"]


# ----------------------------------------------------------------------------- policy rules
def test_policy_rules_by_hand():
    fw = framework(
        [
            leaf("sys", 0.55),
            leaf("tmp", 0.15, temporary={"valid_from": "2025-01", "valid_to": "2025-12"}),
            leaf("self", 0.10, source="self"),
            leaf("sup", 0.15, source="supervisor"),
            leaf("cit", 0.05, source="citizen"),
        ]
    )
    table = weight_policy(fw, limits=PolicyLimits(max_temporary=0.10), lang="en").to_frame().set_index("rule")
    assert table.loc["temporary_share", "estimate"] == pytest.approx(0.15)
    assert not table.loc["temporary_share", "passes"]  # 15 % > the 10 % asked for
    assert table.loc["subjective_share", "estimate"] == pytest.approx(0.25)
    assert table.loc["subjective_share", "passes"]  # framework's own 30 %
    # (self .10 + supervisor .15) / (self + supervisor + citizen .30) = 0.8333 > 0.8
    assert table.loc["self_superior_share", "estimate"] == pytest.approx(0.25 / 0.30)
    assert not table.loc["self_superior_share", "passes"]
    assert table.loc["citizen_share", "estimate"] == pytest.approx(0.05)
    assert not table.loc["citizen_share", "passes"] and table.loc["citizen_share", "basis"] == "guideline"
    assert table["effective"].isna().all()  # a framework alone has no effective weights
    assert table.loc["citizen_share", "verdict"].startswith("Stated 5.0%, below the minimum of 35%")


def test_weight_policy_errors_are_explained():
    with pytest.raises(AuditError, match=re.escape(ERR_WEIGHT_INPUT.format(kind="str"))):
        weight_policy("station_four_dimension")
    fw = framework([leaf("a", 0.5), leaf("b", 0.5)])
    obs, units = observations({"a": [0.5, 0.5, 0.5], "b": [0.2, 0.2, 0.2]})
    ev = evaluate(fw, obs, units, "2025Q2", compare_previous=False)
    with pytest.raises(AuditError, match=re.escape(ERR_NO_VARIANCE.format(n=3))):
        stated_vs_variance_shares(ev)
