"""The one base class of every error perfmodel raises on purpose.

Every user-facing error (bad input file, bad framework, impossible option,
report that cannot run …) subclasses :class:`PerfmodelError`. The command line
catches this class once and prints its message as one line; any other
exception is a bug in perfmodel and is shown as one.

Subclasses keep :class:`ValueError` (or :class:`RuntimeError`) as a second base
where callers relied on it before, so ``except ValueError`` goes on working.
"""

from __future__ import annotations

__all__ = ["PerfmodelError", "OptionError", "check_choice"]


class PerfmodelError(Exception):
    """An error the user can fix: the message says what is wrong and how to fix it.

    Parameters
    ----------
    message
        What is wrong, naming the file, row, column or option at fault.
    hint
        Optional: what to do about it, shown on a second line by the CLI.
    """

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class OptionError(PerfmodelError, ValueError):
    """An option or setting outside its allowed values."""


def check_choice(name: str, value: object, allowed: tuple | list | frozenset | set) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of ``allowed``.

    Parameters
    ----------
    name
        The option's name as the user wrote it (``"grading"``, ``"lang"``).
    value
        The value given.
    allowed
        The values accepted.

    Raises
    ------
    OptionError
        Naming the option, the value given and every allowed value.

    Examples
    --------
    >>> check_choice("lang", "zh", ("zh", "en"))
    >>> check_choice("lang", "fr", ("zh", "en"))
    Traceback (most recent call last):
    ...
    perfmodel.errors.OptionError: lang='fr' is not allowed; choose one of: 'zh', 'en'
    """
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise OptionError(f"{name}={value!r} is not allowed; choose one of: {choices}")
