"""The columns of perfmodel's tables: which codes exist, how each is shown, and its words.

:data:`COLUMNS` maps a column code (the name in the data) to its display kind,
and :data:`FORMATS` a display kind to an Excel number format: these are not
words and stay in code. The words, a column's header, meaning and unit in each
language, are messages of the catalogue (:mod:`perfmodel.text`,
``perfmodel/data/messages.toml``): ``column.<code>``, ``column_meaning.<code>``
and ``column_unit.<code>``; the words of an indicator's direction, source and
kind codes are ``label.<field>.<code>``. Workbook writers
(:mod:`perfmodel.report.workbook`, :mod:`perfmodel.template`) and the report
take headers and the "说明/notes" sheet from here, so a header means the same
wherever it appears.
"""

from __future__ import annotations

from perfmodel.errors import check_choice
from perfmodel.groups import GROUP_SEPARATOR
from perfmodel.text import check_lang, has_message, say

__all__ = [
    "COLUMNS",
    "FORMATS",
    "LABEL_FIELDS",
    "attribute_label",
    "column_header",
    "column_info",
    "grade_label",
    "label",
]

FORMATS: dict[str, str] = {
    "score": "0.0",
    "percent": "0.0%",
    "rank": "0",
    "count": "0",
    "number": "0.00",
    "coefficient": "0.000",
}
"""Display kind → Excel number format (values are stored unrounded; ``text`` has none)."""

COLUMNS: dict[str, str] = {
    # scores
    "unit_id": "text",
    "name": "text",
    "period": "text",
    "peer_group": "text",
    "score": "score",
    "rank": "rank",
    "rank_overall": "rank",
    "grade": "text",
    "raw_score": "score",
    "difficulty": "coefficient",
    "bonus": "score",
    "deduction": "score",
    "availability": "percent",
    "flags": "text",
    "previous_rank": "rank",
    "rank_change": "rank",
    "previous_grade": "text",
    # breaches, negative list, grading notes
    "indicator": "text",
    "value": "number",
    "min": "number",
    "max": "number",
    "consequence": "text",
    "grade_cap": "text",
    "item": "text",
    "count": "count",
    "points": "score",
    "code": "text",
    "detail": "text",
    # quarantine
    "file": "text",
    "row": "count",
    "column": "text",
    "reason": "text",
    "message": "text",
    "numerator": "number",
    "denominator": "number",
    "rater_id": "text",
    "submitted_at": "text",
    # weight tree
    "id": "text",
    "name_zh": "text",
    "name_en": "text",
    "type": "text",
    "level": "count",
    "parent": "text",
    "weight": "number",
    "effective_weight": "percent",
    "kind": "text",
    "direction": "text",
    "source": "text",
    "threshold": "text",
    "temporary": "text",
}
"""Column code → display kind (a key of :data:`FORMATS`, or ``text``).

Add a row here, and ``column.<code>`` and ``column_meaning.<code>`` (and
``column_unit.<code>`` if it has a unit) to the catalogue, when a table gains a
column."""

LABEL_FIELDS: tuple[str, ...] = ("direction", "source", "kind")
"""Fields of an indicator whose codes have words (``label.<field>.<code>`` in the catalogue)."""


def column_info(code: str, lang: str = "zh") -> tuple[str, str, str] | None:
    """Header, meaning and unit of column ``code`` in ``lang``; None for an unknown code.

    Examples
    --------
    >>> column_info("score", "en")
    ('Score', 'overall score after difficulty, bonus and deductions (0–100)', 'points')
    """
    check_lang(lang)
    if code not in COLUMNS:
        return None
    unit = say(f"column_unit.{code}", lang) if has_message(f"column_unit.{code}") else ""
    return say(f"column.{code}", lang), say(f"column_meaning.{code}", lang), unit


def column_header(code: str, lang: str = "zh") -> str:
    """The header of column ``code`` in ``lang``; the code itself when it has none.

    Examples
    --------
    >>> column_header("rank"), column_header("rank", "en"), column_header("other")
    ('组内排名', 'Rank in group', 'other')
    """
    check_lang(lang)
    return say(f"column.{code}", lang) if code in COLUMNS else code


def label(field: str, code: str, lang: str = "zh") -> str:
    """The words of code ``code`` of ``field`` (``direction``, ``source``, ``kind``) in ``lang``.

    Unknown codes are shown as they are.

    Examples
    --------
    >>> label("direction", "lower"), label("kind", "rate", "en")
    ('越小越好', 'rate')
    """
    check_lang(lang)
    check_choice("field", field, LABEL_FIELDS)
    key = f"label.{field}.{code}"
    return say(key, lang) if has_message(key) else code


def grade_label(grade: object, lang: str = "zh") -> object:
    """A grade in words in ``lang``; values that are no grade (NaN, other text) are returned as they are.

    Grades in data are the official names (优秀, 良好, 合格, 不合格, 未评定), which are
    also their Chinese words; the catalogue has them as ``grade.<name>``.

    Examples
    --------
    >>> grade_label("良好", "en"), grade_label("良好"), grade_label(None, "en")
    ('Good', '良好', None)
    """
    check_lang(lang)
    key = f"grade.{grade}"
    return say(key, lang) if isinstance(grade, str) and has_message(key) else grade


def attribute_label(attribute: str, lang: str = "zh") -> str:
    """A unit attribute (a context column, or a combination the audit groups by) in words.

    The words are ``report.fairness_summary.attribute.<code>``; a combination
    (``"area_type × station_class"``) is named part by part; codes the catalogue
    does not know are shown as they are.

    Examples
    --------
    >>> attribute_label("area_type"), attribute_label("area_type × district", "en")
    ('城乡类型', 'area type × district')
    """
    check_lang(lang)
    parts = str(attribute).split(GROUP_SEPARATOR)
    return GROUP_SEPARATOR.join(
        say(f"report.fairness_summary.attribute.{p}", lang)
        if has_message(f"report.fairness_summary.attribute.{p}")
        else p
        for p in parts
    )
