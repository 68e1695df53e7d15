"""The one random-number convention of perfmodel (SPEC 7).

Every function that draws random numbers takes ``rng: int | numpy.random.Generator |
None = None``, keyword-only, and resolves it with :func:`as_generator`
(:func:`numpy.random.default_rng`): an int gives the same draws on every run, a
``Generator`` is used as it is (the caller's stream advances), ``None`` takes fresh
entropy from the operating system. Reports stay reproducible because every command
and notebook passes its integer seed explicitly and records it in provenance (the
name ``seed`` is kept for that recorded integer: CLI options, notebook parameters,
``AUDIT_DEFAULTS.seed``).
"""

from __future__ import annotations

import numbers

import numpy as np

from perfmodel.errors import OptionError

__all__ = ["RNG_HELP", "RngLike", "as_generator", "seed_from"]

RngLike = int | np.random.Generator | None
"""What an ``rng`` parameter accepts."""

RNG_HELP = "an int (the same draws on every run), a numpy.random.Generator, or None (fresh entropy)"


def _check(rng: object, name: str) -> None:
    if rng is None or isinstance(rng, np.random.Generator):
        return
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise OptionError(f"{name}={rng!r} is not allowed; {name} is {RNG_HELP}")
    if int(rng) < 0:
        raise OptionError(f"{name}={rng!r} is not allowed; an integer seed must be >= 0")


def as_generator(rng: RngLike, name: str = "rng") -> np.random.Generator:
    """The :class:`numpy.random.Generator` an ``rng`` argument stands for.

    Parameters
    ----------
    rng
        An int >= 0, a ``Generator`` (returned as it is) or ``None``.
    name
        The parameter's name, quoted in the error message.

    Raises
    ------
    OptionError
        For anything else (a float, a string, a bool, a negative int, a legacy
        ``RandomState``).

    Examples
    --------
    >>> as_generator(3).integers(100) == as_generator(3).integers(100)
    True
    """
    _check(rng, name)
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def seed_from(rng: RngLike, name: str = "rng") -> int:
    """An integer seed for ``rng``: the int itself, else one drawn from the stream.

    For code that derives several keyed streams from one integer (the simulator) or
    records the seed it ran with. An int is returned unchanged, so results for an int
    are those of the integer-seed API before issue 12.

    Raises
    ------
    OptionError
        As :func:`as_generator`.
    """
    _check(rng, name)
    if rng is None or isinstance(rng, np.random.Generator):
        return int(as_generator(rng).integers(0, 2**32))
    return int(rng)
