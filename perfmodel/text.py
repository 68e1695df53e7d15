"""Languages of perfmodel's text: reports, tables and figures are written in Chinese or English.

Every public function that takes ``lang`` calls :func:`check_lang` first, so
``lang="fr"`` is refused with the allowed values instead of silently falling
back to one of the languages.
"""

from __future__ import annotations

from perfmodel.errors import check_choice

__all__ = ["LANGS", "check_lang"]

LANGS: tuple[str, ...] = ("zh", "en")
"""The languages of perfmodel's text: Chinese (the default) and English."""


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
    return lang  # type: ignore[return-value]
