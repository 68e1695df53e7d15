"""``rng`` arguments (int, Generator or None) turned into the integer seed an analysis hands on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfmodel._rng import seed_of


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_an_int_is_its_own_seed(seed: int) -> None:
    """Results for rng=int are those of the former seed=int."""
    assert seed_of(seed) == seed and seed_of(np.int64(seed)) == seed


def test_a_generator_gives_one_draw_from_itself() -> None:
    expected = int(np.random.default_rng(11).integers(2**31 - 1))
    generator = np.random.default_rng(11)
    assert seed_of(generator) == expected
    second = np.random.default_rng(11)
    second.integers(2**31 - 1)
    assert seed_of(generator) == int(second.integers(2**31 - 1))  # the generator moved on: the next draw
    assert 0 <= seed_of(None) < 2**31 - 1


def test_none_takes_the_documented_default_when_there_is_one() -> None:
    assert seed_of(None, default=0) == 0
    assert seed_of(5, default=0) == 5


def test_a_bool_is_refused() -> None:
    with pytest.raises(TypeError, match="not a bool"):
        seed_of(True)
