"""Audit checks return a CheckResult: the table, the options it ran with and its note, no ``DataFrame.attrs``."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from audit_builders import planted_data

from perfmodel.audit import FOUR_FIFTHS_NOTE, CheckResult, adverse_impact, disaggregate, run_audit, unit_table
from perfmodel.evaluation import evaluate

AUDIT = Path(__file__).resolve().parents[1] / "perfmodel" / "audit"


def _two_groups() -> pd.DataFrame:
    frame = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 5, "score": [1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7.0]})
    frame.attrs = {"source": "units.csv"}  # input-side metadata must not leak into the result
    return frame


def test_disaggregate_returns_the_table_and_the_options_it_ran_with():
    result = disaggregate(_two_groups(), by="g", lang="en")
    assert isinstance(result, CheckResult) and result.check == "disaggregate" and result.note == ""
    # what attrs held before issue 12 (level is now called confidence), without the check's name
    assert dict(result.parameters) == {
        "outcome": "score",
        "outcome_type": "continuous",
        "reference": "a",
        "min_n": 5,
        "confidence": 0.95,
        "correction": "holm",
    }
    table = result.to_frame()
    assert table.attrs == {}
    assert list(table.columns[:6]) == ["attribute", "group", "role", "n", "estimate", "sd"]
    # hand computed: a = 1..6 (mean 3.5, the larger group, so the reference), b = 3..7 (mean 5)
    assert table["group"].tolist() == ["a", "b"] and table["role"].tolist() == ["reference", "compared"]
    assert table["n"].tolist() == [6, 5]
    np.testing.assert_allclose(table["estimate"], [3.5, 5.0])
    np.testing.assert_allclose(table["sd"], [np.sqrt(17.5 / 5), np.sqrt(10 / 4)])
    assert np.isnan(table["difference"].iloc[0]) and table["difference"].iloc[1] == pytest.approx(1.5)
    assert len(result) == 2
    assert result.summary() == (
        "disaggregate: 2 rows, 0 flagged (outcome=score, outcome_type=continuous, reference=a, min_n=5, "
        "confidence=0.95, correction=holm)"
    )


def test_adverse_impact_keeps_the_four_fifths_note_as_a_field():
    frame = pd.DataFrame(
        {"g": ["a"] * 20 + ["b"] * 20, "grade": ["优秀"] * 10 + ["合格"] * 10 + ["优秀"] * 4 + ["合格"] * 16}
    )
    result = adverse_impact(frame, by="g", cuts=["优秀"], lang="zh")
    assert result.note == FOUR_FIFTHS_NOTE["zh"]
    assert dict(result.parameters) == {"threshold": 0.8, "comparison": "rest", "correction": "holm", "min_n": 5}
    assert result.summary().splitlines()[1] == FOUR_FIFTHS_NOTE["zh"]
    assert result.to_frame().attrs == {}


def test_parameters_cannot_be_changed_after_the_fact():
    result = disaggregate(_two_groups(), by="g")
    with pytest.raises(TypeError):
        result.parameters["min_n"] = 3  # type: ignore[index]


@pytest.fixture(scope="module")
def audited():
    fw, obs, units = planted_data(seed=3, n_units=90, biased_rater_points=10.0)
    ev = evaluate(fw, obs, units, "2025Q2")
    reference = {"area_type": "农村"}
    return ev, run_audit(ev, by=["area_type", "station_class"], reference=reference, n_boot=3, rng=1)


def test_no_table_of_a_whole_audit_carries_attrs(audited):
    ev, result = audited
    assert len(result.checks) >= 10
    for name, check in result.checks.items():
        assert isinstance(check, CheckResult), name
        assert check.to_frame().attrs == {}, name
    assert all(table.attrs == {} for table in result.tables().values())
    assert unit_table(ev).attrs == {}


def test_a_group_check_over_several_groupings_keeps_each_groupings_reference(audited):
    _, result = audited
    groups = result.checks["disaggregated"]
    table = groups.to_frame()
    largest = table[table["attribute"] == "station_class"].sort_values(["n", "group"], ascending=[False, True])
    # the reference differs between groupings: one value per attribute; min_n is shared: one value
    assert groups.parameters["reference"] == {"area_type": "农村", "station_class": largest["group"].iloc[0]}
    assert groups.parameters["min_n"] == 5
    assert set(table["attribute"]) == {"area_type", "station_class"}
    fragile = result.checks["grades_not_robust"]
    assert fragile.check == "non_robust_units" and fragile.parameters["n_boot"] == 3


def test_no_module_of_the_audit_reads_or_writes_dataframe_attrs():
    """Static: the only ``.attrs`` in the audit package is the emptying ``table.attrs = {}`` of finish()/_stack()."""
    emptied, other = 0, []
    for path in sorted(AUDIT.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = {
            id(t)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and not node.value.keys
            for t in node.targets
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "attrs":
                if id(node) in allowed:
                    emptied += 1
                else:
                    other.append(f"{path.name}:{node.lineno}")
    assert not other, other
    assert emptied == 2  # finish() and _stack()
