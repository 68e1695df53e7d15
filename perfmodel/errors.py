"""The one base class of every error perfmodel raises on purpose.

Every user-facing error (bad input file, bad framework, impossible option,
report that cannot run …) subclasses :class:`PerfmodelError`. The command line
catches this class once and prints its message as one line; any other
exception is a bug in perfmodel and is shown as one.

Subclasses keep :class:`ValueError` (or :class:`RuntimeError`) as a second base
where callers relied on it before, so ``except ValueError`` goes on working.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

from perfmodel._catalogue import LANGS, fill

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = [
    "PerfmodelError",
    "OptionError",
    "OptionTypeError",
    "MissingFileError",
    "UnknownKeyError",
    "check_choice",
    "check_lang",
    "check_confidence",
    "renamed_keywords",
]


class PerfmodelError(Exception):
    """An error the user can fix: the message says what is wrong and how to fix it.

    An error may name its message and hint by catalogue keys (``error.*`` in
    ``perfmodel/data/messages.toml``) with the values that fill them: ``str(error)``
    is then the English text (for logs, scripts and ``except`` clauses), and
    :meth:`text` gives it in any language. The command line shows every error in
    its message language this way; an error without a key is shown as written
    (in English).

    Parameters
    ----------
    message
        What is wrong, naming the file, row, column or option at fault. Leave it
        empty when ``key`` is given.
    hint
        Optional: what to do about it, shown on a second line by the CLI.
    key, hint_key
        Optional catalogue keys of the message and of the hint.
    values
        The placeholders of ``key`` and ``hint_key``.

    Examples
    --------
    >>> error = PerfmodelError(key="error.missing_file", hint_key="error.missing_file_hint", values={"path": "a.csv"})
    >>> str(error)
    'file not found: a.csv'
    >>> error.text("zh")
    ('找不到文件:a.csv', '请检查路径和文件名')
    """

    def __init__(
        self,
        message: str = "",
        hint: str = "",
        *,
        key: str | None = None,
        hint_key: str | None = None,
        values: Mapping[str, object] | None = None,
    ) -> None:
        self.key, self.hint_key, self.values = key, hint_key, dict(values or {})
        if key is not None and not message:
            message = _say(key, "en", self.values)
        if hint_key is not None and not hint:
            hint = _say(hint_key, "en", self.values)
        super().__init__(message)
        self.hint = hint

    def text(self, lang: str) -> tuple[str, str]:
        """The message and the hint in ``lang`` (``"zh"`` or ``"en"``).

        From the catalogue where the error has keys; as written otherwise.
        """
        check_lang(lang)
        message = _say(self.key, lang, self.values) if self.key is not None else str(self)
        hint = _say(self.hint_key, lang, self.values) if self.hint_key is not None else self.hint
        return message, hint


def _say(key: str, lang: str, values: Mapping[str, object]) -> str:
    return fill(key, lang, values)


class OptionError(PerfmodelError, ValueError):
    """An option, argument or input table a function cannot accept as given.

    An unknown choice, a negative count, a confidence outside (0, 1), a missing
    column, too few units to fit a model. The message names the argument and
    says what to change. The command line exits with :attr:`code` 2 (a usage
    error, as argparse does).
    """

    code = 2


class OptionTypeError(PerfmodelError, TypeError):
    """An argument of the wrong type (``except TypeError`` keeps catching it)."""

    code = 2


class UnknownKeyError(PerfmodelError, KeyError):
    """A name, id or key the caller asked for that does not exist (an unknown indicator, node, design).

    Subclasses :class:`KeyError` so ``except KeyError`` keeps working, but shows its
    message as written rather than quoted the way ``KeyError`` does.
    """

    code = 2

    def __str__(self) -> str:
        return Exception.__str__(self)


class MissingFileError(PerfmodelError, FileNotFoundError):
    """A file the user named (an input, a notebook) does not exist; the message names it and its role."""


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
        raise OptionError(key="error.choice", values={"name": name, "value": repr(value), "choices": choices})


def check_lang(lang: object) -> str:
    """Return ``lang`` if it is one of :data:`LANGS`; otherwise raise :class:`~perfmodel.errors.OptionError`.

    Examples
    --------
    >>> check_lang("en")
    'en'
    >>> check_lang("fr")
    Traceback (most recent call last):
    ...
    perfmodel.errors.OptionError: lang='fr' is not allowed; choose one of: 'zh', 'en'
    """
    check_choice("lang", lang, LANGS)
    return str(lang)  # a str: it equals one of LANGS


def check_confidence(value: object, name: str = "confidence") -> float:
    """Return ``value`` as a float if it is strictly between 0 and 1, else raise :class:`OptionError`.

    The one check of an interval coverage (``confidence``, e.g. 0.95) and of a
    significance or false-discovery level (``alpha``, e.g. 0.05).

    Examples
    --------
    >>> check_confidence(0.9)
    0.9
    >>> check_confidence(95)
    Traceback (most recent call last):
    ...
    perfmodel.errors.OptionError: confidence=95 is not allowed; it must be strictly between 0 and 1 (for example 0.95)
    """
    example = "0.05" if name == "alpha" else "0.95"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) < 1:
        raise OptionError(
            f"{name}={value!r} is not allowed; it must be strictly between 0 and 1 (for example {example})"
        )
    return float(value)


def renamed_keywords(**old_to_new: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Accept a keyword's old name for a while, with a :class:`DeprecationWarning`.

    SPEC 7's transition for ``seed`` → ``rng``, used for the issue-12 renames (``seed`` →
    ``rng``, ``ci``/``level`` → ``confidence``) of functions that callers outside the
    package may still call by the old name. Giving both names is a ``TypeError``. Calls
    from inside perfmodel (modules not yet converted in issue 12) are translated without
    a warning: the warning is for users' code.

    Examples
    --------
    >>> @renamed_keywords(seed="rng")
    ... def draw(*, rng=None):
    ...     return rng
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     draw(seed=3)
    3
    """

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(function)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise OptionTypeError(f"{function.__name__}() got both {old}= (old name) and {new}=")
                    caller = sys._getframe(1).f_globals.get("__name__", "")
                    if not caller.startswith("perfmodel."):
                        warnings.warn(
                            f"{function.__name__}({old}=…) is deprecated; use {new}=… (issue 12)",
                            DeprecationWarning,
                            stacklevel=2,
                        )
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate
