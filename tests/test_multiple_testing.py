"""The one home of q-values and Holm p-values (``perfmodel.multiple_testing``).

Checked against statsmodels to the last bit, against hand-computed values, and
for ``nan`` handling; and every former copy (funnel, gaming, trends, audit) is
checked to call it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from perfmodel.multiple_testing import adjust_pvalues, bh_qvalues, holm

PACKAGE = Path(__file__).resolve().parents[1] / "perfmodel"


def statsmodels_holm(p: list[float]) -> np.ndarray:
    """statsmodels' Holm p-values, without the ``gc.collect()`` its Holm branch ends with.

    That call frees nothing the result needs, but it is a full garbage collection per
    call: with a test session's heap, 100 examples took over a minute. The values are
    statsmodels' own.
    """
    with mock.patch("gc.collect", return_value=0):
        return multipletests(np.array(p), method="holm")[1]


# p-values with ties (drawn from a small pool) and exact 0 and 1.
p_families = st.lists(
    st.one_of(st.floats(0.0, 1.0, allow_nan=False), st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(p_families)
def test_bh_qvalues_equal_statsmodels_bit_for_bit(p: list[float]) -> None:
    expected = multipletests(np.array(p), method="fdr_bh")[1]
    np.testing.assert_array_equal(bh_qvalues(p), expected)


@settings(max_examples=100, deadline=None)
@given(p_families)
def test_holm_equals_statsmodels(p: list[float]) -> None:
    np.testing.assert_allclose(holm(p), statsmodels_holm(p), rtol=1e-15)


@settings(max_examples=100, deadline=None)
@given(p_families, st.lists(st.booleans(), min_size=60, max_size=60))
def test_nan_is_left_out_of_the_family(p: list[float], drop: list[bool]) -> None:
    arr = np.array(p)
    holes = np.array(drop[: len(p)])
    with_nan = np.where(holes, np.nan, arr)
    q = bh_qvalues(with_nan)
    assert np.isnan(q[holes]).all()
    if (~holes).any():
        np.testing.assert_array_equal(q[~holes], multipletests(arr[~holes], method="fdr_bh")[1])
    np.testing.assert_array_equal(adjust_pvalues(with_nan, "fdr_bh"), q, strict=True)


def test_bh_qvalues_hand_computed() -> None:
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): p·m/rank = 0.04, 0.06, 0.16/3, 0.5;
    # step-up minimum from the largest: 0.04, 0.16/3, 0.16/3, 0.5.
    q = bh_qvalues([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.5], rtol=1e-15)
    # capped at 1; q ≥ p; the largest p is its own q-value
    np.testing.assert_array_equal(bh_qvalues([0.9, 0.95]), [0.95, 0.95])
    assert bh_qvalues([]).shape == (0,)
    np.testing.assert_array_equal(bh_qvalues([np.nan, np.nan]), [np.nan, np.nan])


def test_adjust_pvalues_none_and_holm_by_hand() -> None:
    p = [0.01, np.nan, 0.04, 0.03]
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)
    # Holm on the three finite values: 0.01·3, 0.03·2, max(0.06, 0.04·1)
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, np.nan, 0.06, 0.06], rtol=1e-15)


def _calls_and_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


@pytest.mark.parametrize(
    "module", ["calibrate/funnel.py", "design/gaming/detect.py", "monitor/trends.py", "audit/_frame.py"]
)
def test_former_copies_use_the_one_home(module: str) -> None:
    """No module but ``multiple_testing`` computes BH itself or calls statsmodels for it."""
    names = _calls_and_imports(PACKAGE / module)
    assert names & {"perfmodel.multiple_testing.bh_qvalues", "perfmodel.multiple_testing.adjust_pvalues"}
    assert not {n for n in names if n.startswith("statsmodels.stats.multitest")}
    assert "accumulate" not in names


def test_public_alias_is_the_same_function() -> None:
    from perfmodel.audit._frame import adjust_pvalues as audit_adjust
    from perfmodel.design import benjamini_hochberg

    assert benjamini_hochberg is bh_qvalues
    assert audit_adjust is adjust_pvalues
