"""The message catalogue's file, read once: the part of :mod:`perfmodel.text` that errors need too.

:mod:`perfmodel.errors` renders an error's message from its catalogue key, and
:mod:`perfmodel.text` checks languages with :func:`perfmodel.errors.check_choice`;
this module, which imports nothing of perfmodel, keeps the two free of a cycle.
Use :mod:`perfmodel.text` (``say``, ``catalogue``), which re-exports these names.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

LANGS: tuple[str, ...] = ("zh", "en")
"""The languages of perfmodel's text: Chinese (the default) and English."""

CATALOGUE_FILE = "messages.toml"
"""The catalogue's file name inside the package's ``data`` folder."""


class MessageError(KeyError):
    """A message key that is not in the catalogue, or values that do not fill its template.

    Not a :class:`~perfmodel.errors.PerfmodelError`: the catalogue ships with the
    package, so a missing message is a bug in perfmodel, not something the user can fix.
    """

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class Message(NamedTuple):
    """One catalogue entry: the same message in each language."""

    zh: str
    en: str

    def placeholders(self, lang: str) -> frozenset[str]:
        """Names of the ``{fields}`` of the template in ``lang``."""
        template = getattr(self, lang)
        return frozenset(
            field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template) if field
        )


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, Message]) -> None:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if not isinstance(value, Mapping):
            raise MessageError(f"{CATALOGUE_FILE}: {key!r} is a bare value; a message is a table with zh and en")
        if set(LANGS) <= set(value):
            extra = sorted(set(value) - set(LANGS))
            if extra:
                raise MessageError(f"{CATALOGUE_FILE}: message {key!r} has unknown fields {extra}; only zh and en")
            out[key] = Message(**{lang: str(value[lang]) for lang in LANGS})
        elif set(LANGS) & set(value):
            raise MessageError(f"{CATALOGUE_FILE}: message {key!r} lacks a language; give both zh and en")
        else:
            _flatten(value, f"{key}.", out)


@cache
def catalogue() -> Mapping[str, Message]:
    """Every message of the catalogue, by dotted key (read once)."""
    text = resources.files("perfmodel").joinpath("data", CATALOGUE_FILE).read_text(encoding="utf-8")
    out: dict[str, Message] = {}
    _flatten(tomllib.loads(text), "", out)
    return out


def lookup(key: str) -> Message:
    """The message ``key`` of the catalogue.

    Raises
    ------
    MessageError
        If the key is not in the catalogue; the error lists messages of the same section.
    """
    try:
        return catalogue()[key]
    except KeyError:
        near = sorted(k for k in catalogue() if k.split(".")[0] == key.split(".")[0])[:8]
        nearby = f"; messages in that section: {', '.join(near)}" if near else ""
        raise MessageError(f"no message {key!r} in {CATALOGUE_FILE}{nearby}") from None


def fill(key: str, lang: str, values: Mapping[str, Any]) -> str:
    """The message ``key`` in ``lang`` (one of :data:`LANGS`, not checked here) with ``values`` filled in.

    Raises
    ------
    MessageError
        If the key is not in the catalogue or a placeholder has no value.
    """
    message = lookup(key)
    missing = message.placeholders(lang) - set(values)
    if missing:
        raise MessageError(f"message {key!r} needs {sorted(missing)}; got {sorted(values)}")
    return getattr(message, lang).format(**values)
