r"""The one way report text and tables are built: data escaped, only templates trusted.

Names in a report (units, peer groups, areas, officers, frameworks, dimensions,
indicators) come from people, and the report is opened in a browser. A name such as
``<img src=x onerror=alert(1)>`` or ``[x](javascript:alert(1))`` must show as that
text, never become markup. Every notebook and every library function that produces
display text therefore goes through this module:

* :func:`md` fills a *trusted* Markdown template (written by the programmer) with
  *untrusted* values, each escaped so that it can only ever be text: HTML
  metacharacters become entities (Markdown renderers pass raw HTML through) and
  Markdown punctuation is backslash-escaped (so a value cannot open a link, image,
  emphasis, heading, list, table cell or code span). The result is a
  :class:`SafeMarkdown`, which displays as Markdown in a notebook and is itself
  trusted when passed as a value to another :func:`md` (like ``markupsafe.Markup``).
* :func:`table` renders a DataFrame as a pandas ``Styler`` with every cell, column
  label and index label HTML-escaped, a fixed table id (so the HTML is the same on
  every run) and the report's number formats and wrapping rules.

Plain ``IPython.display.Markdown``/``HTML``, ``DataFrame.style`` and ``to_html`` are
not used for report output; the hostile-sample test
(``tests/test_report_escaping.py``) renders every notebook with hostile names to
keep it that way.

Examples
--------
>>> md("### {group}", group="<script>alert(1)</script>")
'### &lt;script&gt;alert\\(1\\)&lt;\\/script&gt;'
>>> md("**{name}** scored {score:.1f}", name="a_b", score=67.25)
'**a\\_b** scored 67\\.2'
"""

from __future__ import annotations

import hashlib
import itertools
import string
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.text import template

__all__ = [
    "PAGE_BREAK_CLASS",
    "SafeMarkdown",
    "SafeURL",
    "escape_markdown",
    "md",
    "say_md",
    "join",
    "page_break",
    "url",
    "table",
    "reset_table_ids",
]

#: HTML metacharacters and the entities that replace them (a Markdown renderer keeps
#: entities as they are, and the browser shows the character).
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}
#: ASCII punctuation that CommonMark (and mistune, which nbconvert uses) lets a
#: backslash escape; every one of them that is not turned into an entity is escaped,
#: so no Markdown construct (link, image, emphasis, code, heading, list, table,
#: math, autolink) can start inside a value.
_MARKDOWN_PUNCTUATION = frozenset("!#$()*+-./:;=?@[\\]^_`{|}~,%")


class SafeMarkdown(str):
    """Markdown whose every data value has been escaped; displays as Markdown.

    Only :func:`md` (and :func:`join`) should create one. It is a ``str``, so
    library functions that return it still compare and concatenate as strings
    (concatenation gives a plain ``str``, which :func:`md` escapes again).
    """

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return str(self)


class SafeURL(SafeMarkdown):
    """A link target made by :func:`url`: percent-encoded, relative or ``http(s)``/``mailto``."""

    __slots__ = ()


_URL_SCHEMES = ("http", "https", "mailto")


def url(value: object) -> SafeURL:
    """A link target for ``[text]({link})`` in an :func:`md` template.

    The target is percent-encoded (no space, quote, bracket or angle bracket can
    end the link or open markup), and a scheme other than ``http``, ``https`` or
    ``mailto`` (``javascript:``, ``data:``, ``vbscript:`` …) is refused.

    Raises
    ------
    ValueError
        When the target has another scheme.

    Examples
    --------
    >>> url("fairness_audit/report.html")
    'fairness_audit/report.html'
    >>> url("../a b/报告.html")
    '../a%20b/%E6%8A%A5%E5%91%8A.html'
    """
    from urllib.parse import quote, urlsplit

    text = "".join(str(value).split())  # browsers drop whitespace inside a scheme ("java\tscript:")
    scheme = urlsplit(text).scheme
    if scheme and scheme.lower() not in _URL_SCHEMES:
        raise OptionError(
            f"link target {str(value)!r} has the scheme {scheme!r}; only relative links and "
            f"{', '.join(_URL_SCHEMES)} are allowed in a report"
        )
    return SafeURL(quote(str(value).strip(), safe="/#?=&%.~-_:"))


def escape_markdown(value: object) -> str:
    r"""Text of *value* that a Markdown renderer shows literally and never as markup.

    Line breaks become spaces (a value cannot start a new block), and white space
    at either end is dropped (it would stop ``**{name}**`` from being bold).

    Examples
    --------
    >>> escape_markdown("![x](x) **b** <b>")
    '\\!\\[x\\]\\(x\\) \\*\\*b\\*\\* &lt;b&gt;'
    """
    if isinstance(value, SafeMarkdown):
        return str(value)
    out = []
    for char in str(value).strip():
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _MARKDOWN_PUNCTUATION:
            out.append("\\" + char)
        elif char in "\r\n\t\v\f\u2028\u2029":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


class _EscapingFormatter(string.Formatter):
    """``str.format`` that escapes every formatted value (after applying its spec)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, SafeMarkdown) and not format_spec:
            return str(value)
        return escape_markdown(format(value, format_spec))


_FORMATTER = _EscapingFormatter()


def _check_template(template: str, values: Mapping[str, Any]) -> None:
    """Refuse fields where escaping cannot make a value safe text (see below)."""
    links: list[str] = []
    _check_no_field_in_code_span(template, links)
    for field in links:
        if not isinstance(values.get(field), SafeURL):
            raise ValueError(
                f"md(): the value {{{field}}} is a link target in the template {template[:60]!r}; "
                f"pass it through url() ({field}=url(...)) so that its scheme is checked"
            )


def _check_no_field_in_code_span(template: str, links: list[str]) -> None:
    r"""Refuse a template that puts a value inside a Markdown code span.

    Backslash escapes and entities are shown literally inside ``` `…` ```, so an
    escaped value there would show as ``\_`` or ``&lt;``; write ``<code>{x}</code>``
    instead (trusted markup, escaped value). Fields that are link targets
    (``]({field})``) are appended to *links*.
    """
    ticks = 0
    for literal, field, _spec, _conversion in _FORMATTER.parse(template):
        ticks += literal.count("`")
        if field is not None and literal.endswith("]("):
            links.append(field)
        if field is not None and ticks % 2:
            raise ValueError(
                f"md(): the value {{{field}}} is inside a Markdown code span (`…`) in the template "
                f"{template[:60]!r}; escaped text shows literally there. Use <code>{{{field}}}</code> instead."
            )


def md(template: str, /, **values: Any) -> SafeMarkdown:
    """Fill a trusted Markdown *template* with escaped *values*.

    Parameters
    ----------
    template
        Markdown written by the programmer (a literal, never data), with
        ``str.format`` fields such as ``{name}`` or ``{score:.1f}``. It may contain
        Markdown and HTML markup; it is not escaped. Without *values* it is taken
        as it is (no field substitution), so literal braces need no doubling.
    **values
        Data. Each is formatted with its field's spec and then escaped with
        :func:`escape_markdown`; a :class:`SafeMarkdown` value (the result of
        another :func:`md`) is inserted as it is.

    Returns
    -------
    SafeMarkdown
        The Markdown text; ``display(md(...))`` shows it in a notebook.

    Raises
    ------
    ValueError
        When a field sits inside a Markdown code span, or is a link target
        (``[text]({link})``) whose value was not made by :func:`url`.
    KeyError
        When the template names a value that is not given.
    """
    if isinstance(template, SafeMarkdown) and not values:
        return template
    if not values:
        return SafeMarkdown(template)
    _check_template(template, values)
    return SafeMarkdown(_FORMATTER.vformat(template, (), values))


def say_md(key: str, lang: str = "zh", /, **values: Any) -> SafeMarkdown:
    """Catalogue message ``key`` in ``lang`` as Markdown: :func:`md` with the message as template.

    The catalogue ships with perfmodel, so its templates are trusted like a literal
    template; every value is escaped (see :mod:`perfmodel.text`).

    Examples
    --------
    >>> say_md("count.units", "en", n=3)
    '3 units'
    """
    return md(template(key, lang), **values)


def join(separator: str, parts: Iterable[object]) -> SafeMarkdown:
    r"""Join *parts* with the trusted *separator*; parts that are not :class:`SafeMarkdown` are escaped.

    Examples
    --------
    >>> join(", ", ["a*b", md("**c**")])
    'a\\*b, **c**'
    """
    return SafeMarkdown(separator.join(escape_markdown(p) for p in parts))


PAGE_BREAK_CLASS = "page-break"
"""Class of the empty ``div`` that breaks the page in the PDF, Word and printed HTML report."""


def page_break() -> SafeMarkdown:
    """A page break: ``display(page_break())`` ends the page in PDF, Word and the printed HTML.

    It is an empty ``<div class="page-break">`` (invisible on screen);
    :func:`perfmodel.report.export.page_break_blocks` turns it into ``#pagebreak()``
    in Typst and a Word page break, and the HTML report's print CSS breaks the page
    after it.
    """
    return SafeMarkdown(f'<div class="{PAGE_BREAK_CLASS}"></div>')


# ---------------------------------------------------------------------- tables
_TABLE_IDS = itertools.count(1)


def reset_table_ids() -> None:
    """Start table ids from 1 again (each report kernel starts from 1 anyway)."""
    global _TABLE_IDS
    _TABLE_IDS = itertools.count(1)


def _table_uuid(frame: pd.DataFrame) -> str:
    """A table id that is the same on every run: the table's place in the report and its columns.

    pandas otherwise draws a random id per table, which made every ``report.html``
    differ from the previous run in hundreds of lines.
    """
    columns = "\x1f".join(map(str, frame.columns))
    digest = hashlib.sha256(columns.encode("utf-8")).hexdigest()[:8]
    return f"t{next(_TABLE_IDS)}_{digest}"


def _is_long_text(column: pd.Series, longest: int = 30) -> bool:
    """Text columns with entries longer than ``longest`` characters wrap in HTML tables."""
    if pd.api.types.is_numeric_dtype(column) or column.empty:
        return False
    return bool(column.dropna().astype(str).str.len().max() > longest) if column.notna().any() else False


def table(
    frame: pd.DataFrame,
    percent: Iterable[object] = (),
    digits: int = 1,
    formats: Mapping[object, str] | None = None,
    *,
    index: bool = False,
):
    """A pandas ``Styler`` for the HTML report, with every cell and label escaped.

    Numbers are rounded to *digits* decimals; whole-number float columns (ranks,
    counts) show no decimals; columns in *percent* show as percentages; missing
    values show as "–". Cells stay on one line, except columns of long text
    (verdicts, flags, explanations), which wrap.

    Parameters
    ----------
    frame
        The table. Cell texts, column labels and index labels are data: all are
        HTML-escaped.
    percent
        Columns shown as ``{:.0%}``.
    digits
        Decimals of other float columns.
    formats
        Per-column format strings that override the defaults (e.g. ``{"p": "{:.1e}"}``).
    index
        Show the index (hidden by default).

    Returns
    -------
    pandas.io.formats.style.Styler
        Displays as an HTML table; its id is fixed (see :func:`_table_uuid`).
    """
    percent = list(percent)
    chosen: dict[object, object] = {}
    for column in frame.columns:
        series = frame[column]
        if isinstance(series, pd.DataFrame):  # duplicate labels: keep pandas' default formatting
            continue
        if column in percent:
            chosen[column] = "{:.0%}"
        elif pd.api.types.is_float_dtype(series):
            whole = series.dropna().eq(series.dropna().round()).all()
            chosen[column] = "{:.0f}" if whole and series.abs().max() >= 1 else f"{{:.{digits}f}}"
    chosen.update(formats or {})
    from pandas.io.formats.style import Styler

    styler = Styler(frame, uuid=_table_uuid(frame), cell_ids=False)
    # escape="html" on the cells, the column labels and the index labels: data never becomes markup
    styler = styler.format(chosen, na_rep="–", escape="html")
    styler = styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if not index:
        styler = styler.hide(axis="index")
    styler = styler.set_table_styles([{"selector": "td", "props": "white-space: nowrap;"}])
    wrapping = [c for c in frame.columns if not isinstance(frame[c], pd.DataFrame) and _is_long_text(frame[c])]
    if wrapping:
        long_text = [{"selector": "td", "props": "white-space: normal; min-width: 18em;"}]
        styler = styler.set_table_styles({c: long_text for c in wrapping}, overwrite=False)
    return styler
