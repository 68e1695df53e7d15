"""Languages and the message catalogue: every word a reader sees, in Chinese and English.

Data hold codes (a flag's code, a reason code, a grade); words come at display
time from one catalogue, ``perfmodel/data/messages.toml``. Each message has a
dotted key (``flag.late_reports``) and a ``zh`` and an ``en`` template in
:meth:`str.format` syntax; :func:`say` fills one in::

    [flag.late_reports]
    zh = "迟报{rows}条"
    en = "{rows} rows reported late"

A test checks that every message has both languages with the same
placeholders, and that every key the package asks for with a literal string
exists.

Every public function that takes ``lang`` calls :func:`check_lang` first, so
``lang="fr"`` is refused with the allowed values instead of silently falling
back to one of the languages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from perfmodel._catalogue import CATALOGUE_FILE, LANGS, Message, MessageError, catalogue, fill, lookup
from perfmodel.errors import check_lang

__all__ = [
    "CATALOGUE_FILE",
    "LANGS",
    "LOCALE_VARIABLES",
    "Message",
    "MessageError",
    "catalogue",
    "check_lang",
    "environment_lang",
    "has_message",
    "say",
    "template",
    "templates",
]

LOCALE_VARIABLES: tuple[str, ...] = ("LC_ALL", "LC_MESSAGES", "LANG")
"""The environment variables :func:`environment_lang` reads, in POSIX order of precedence."""


def has_message(key: str) -> bool:
    """Whether the catalogue has a message ``key``."""
    return key in catalogue()


def say(key: str, lang: str = "zh", /, **values: Any) -> str:
    """The message ``key`` in ``lang``, with ``values`` filled in.

    Parameters
    ----------
    key
        Dotted key of the message, e.g. ``"flag.late_reports"``.
    lang
        ``"zh"`` or ``"en"``.
    **values
        The template's placeholders.

    Raises
    ------
    MessageError
        If the key is not in the catalogue or a placeholder has no value.

    Examples
    --------
    >>> say("lang.name", "en")
    'English'
    """
    check_lang(lang)
    return fill(key, lang, values)


def template(key: str, lang: str = "zh", /) -> str:
    """The unfilled template of message ``key`` in ``lang``.

    For callers that fill it themselves, e.g. :func:`perfmodel.report.render.say_md`,
    which escapes every value for Markdown.

    Raises
    ------
    MessageError
        If the key is not in the catalogue.

    Examples
    --------
    >>> template("count.units", "en")
    '{n} units'
    """
    check_lang(lang)
    return str(getattr(lookup(key), lang))


def templates(section: str, lang: str = "zh", /) -> dict[str, str]:
    """Every message under ``section`` in ``lang``: key after the section → unfilled template.

    For modules that look words up by a code held in data (a column, a figure
    label): ``templates("report.calibration", "en")["diff_x"]``. Fill a template
    with :meth:`str.format` (or :func:`perfmodel.report.render.md` for Markdown).

    Raises
    ------
    MessageError
        If the catalogue has no message under ``section``.

    Examples
    --------
    >>> templates("label.direction", "en")["lower"]
    'lower is better'
    """
    check_lang(lang)
    prefix = f"{section}."
    out = {key[len(prefix) :]: getattr(message, lang) for key, message in catalogue().items() if key.startswith(prefix)}
    if not out:
        raise MessageError(f"no messages under {section!r} in {CATALOGUE_FILE}")
    return out


def environment_lang(environ: Mapping[str, str] | None = None) -> str:
    """The language of the environment's locale: ``"zh"`` if it is Chinese, else ``"en"``.

    The first of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` that is set and not
    empty decides (the order in which POSIX looks them up): a value starting with
    ``zh`` (``zh_CN.UTF-8``, ``zh_TW``) gives ``"zh"``, any other value or none
    gives ``"en"``. The command line shows its messages in this language unless
    ``--lang`` is given.

    Parameters
    ----------
    environ
        The environment to read (default :data:`os.environ`).

    Examples
    --------
    >>> environment_lang({"LANG": "zh_CN.UTF-8"})
    'zh'
    >>> environment_lang({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"})
    'en'
    >>> environment_lang({})
    'en'
    """
    environ = os.environ if environ is None else environ
    for name in LOCALE_VARIABLES:
        value = environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"
