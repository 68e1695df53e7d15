"""Randomness arguments: ``rng`` is an int seed, a :class:`numpy.random.Generator` or ``None`` (SPEC 7).

Some analyses hand an integer seed on (to a simulation, to per-check seeds
``seed + i``, or record it so that a run can be repeated). :func:`seed_of` turns
any ``rng`` into that integer: an int is kept as it is, so results for an int
are those of the former ``seed=`` argument; a generator (or ``None``, fresh
entropy) gives one integer drawn from it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RNG", "seed_of"]

RNG = int | np.integer | np.random.Generator | None
"""What an ``rng`` argument accepts."""


def seed_of(rng: int | np.integer | np.random.Generator | None, default: int | None = None) -> int:
    """The integer seed of ``rng``: itself if an int; else one draw from ``numpy.random.default_rng(rng)``.

    Parameters
    ----------
    rng
        An int seed, a generator, or ``None``.
    default
        Returned for ``None`` instead of a fresh draw (for analyses whose
        documented default is a fixed seed, so that reports repeat).

    Examples
    --------
    >>> seed_of(7)
    7
    >>> seed_of(None, default=0)
    0
    >>> seed_of(np.random.default_rng(1)) == seed_of(np.random.default_rng(1))
    True
    """
    if isinstance(rng, bool):
        raise TypeError("rng must be an int, a numpy Generator or None, not a bool")
    if isinstance(rng, int | np.integer):
        return int(rng)
    if rng is None and default is not None:
        return int(default)
    return int(np.random.default_rng(rng).integers(2**31 - 1))
