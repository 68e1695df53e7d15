"""The API vocabulary of the house (issue 12, docs/architecture.md "API vocabulary").

Argument order ``(framework, observations, units, period, …)`` with the old order
refused, one ``rng`` convention, ``confidence``/``alpha`` names, results objects with
``summary() -> str`` and ``to_frame()``, figure functions that draw on a given axes
and set the report style themselves.
"""

from __future__ import annotations

import pandas as pd
import pytest

from perfmodel.errors import OptionError
from perfmodel.evaluation import evaluate_files, read_evaluation_inputs
from perfmodel.framework import load_framework
from perfmodel.privacy import MIN_KEY_BYTES, pseudonymise_inputs
from perfmodel.validation import read_inputs

FRAMEWORK = "station_four_dimension"
UNITS = "unit_id,name,level\nS01,东城所,station\nS02,西城所,station\n"
OBSERVATIONS = "period,unit_id,indicator,value\n2025-04,S01,case_clearance_rate,0.5\n"


@pytest.fixture
def files(tmp_path):
    obs, units = tmp_path / "obs.csv", tmp_path / "units.csv"
    obs.write_text(OBSERVATIONS, encoding="utf-8")
    units.write_text(UNITS, encoding="utf-8")
    return obs, units


def test_read_inputs_takes_framework_first_and_returns_observations_first(files):
    obs, units = files
    obs_result, units_result = read_inputs(FRAMEWORK, obs, units)
    assert set(units_result.data["unit_id"]) == {"S01", "S02"}  # the units table, second
    assert "indicator" in obs_result.data.columns and "indicator" not in units_result.data.columns


@pytest.mark.parametrize("function", [read_inputs, read_evaluation_inputs])
def test_old_argument_order_is_refused_with_the_new_order_in_the_message(files, function):
    obs, units = files
    with pytest.raises(OptionError, match=r"\(framework, observations, units, …\)") as info:
        function(obs, units, FRAMEWORK)
    assert function.__name__ in str(info.value) and "obs.csv" in str(info.value)


def test_evaluate_files_old_order_is_refused(files):
    obs, units = files
    with pytest.raises(OptionError, match="evaluate_files: the framework argument is .*obs.csv"):
        evaluate_files(obs, units, FRAMEWORK, "2025Q2")


@pytest.mark.parametrize("position", [1, 2])
def test_a_framework_in_a_data_position_is_refused(files, position):
    args = [load_framework(FRAMEWORK), *files]
    args[0], args[position] = "station_four_dimension", args[0]
    with pytest.raises(OptionError, match="a Framework, a framework"):
        read_inputs(*args)


def test_a_yaml_path_as_observations_is_refused(files):
    _, units = files
    with pytest.raises(OptionError, match="observations argument is 'fw.yaml', a framework"):
        read_inputs(FRAMEWORK, "fw.yaml", units)


def test_a_table_as_framework_is_refused():
    table = pd.DataFrame({"unit_id": ["S01"]})
    with pytest.raises(OptionError, match="framework argument is a table"):
        read_inputs(table, table, FRAMEWORK)


def test_pseudonymise_inputs_is_keyword_only_and_returns_observations_first():
    units = pd.DataFrame({"unit_id": ["PS1"], "name": ["桥东"]})
    obs = pd.DataFrame({"unit_id": ["PS1"], "value": ["1"]})
    key = b"k" * MIN_KEY_BYTES
    with pytest.raises(TypeError):
        pseudonymise_inputs(units, obs, key)  # type: ignore[misc]
    o, u = pseudonymise_inputs(observations=obs, units=units, key=key)
    assert list(o.columns) == ["unit_id", "value"] and "name" in u.columns
    assert o.loc[0, "unit_id"] == u.loc[0, "unit_id"] != "PS1"
