"""What each column of perfmodel's tables means, in Chinese and English: one table.

:data:`COLUMNS` maps a column code (the name in the data) to its header, its
meaning and its unit in each language, and to how it is shown in a workbook
(:data:`FORMATS`). Workbook writers (:mod:`perfmodel.report.workbook`,
:mod:`perfmodel.template`) take headers and the "说明/notes" sheet from here, so
a header means the same wherever it appears.
"""

from __future__ import annotations

from typing import NamedTuple

from perfmodel.text import check_lang

__all__ = ["Column", "COLUMNS", "FORMATS", "LABELS", "column_header", "column_info", "label"]


class Column(NamedTuple):
    """One column: header, meaning and unit in Chinese and English, and its display kind."""

    zh: str
    en: str
    meaning_zh: str
    meaning_en: str
    unit_zh: str = ""
    unit_en: str = ""
    kind: str = "text"


FORMATS: dict[str, str] = {
    "score": "0.0",
    "percent": "0.0%",
    "rank": "0",
    "count": "0",
    "number": "0.00",
    "coefficient": "0.000",
}
"""Display kind → Excel number format (values are stored unrounded; ``text`` has none)."""

_PTS = ("分", "points")
_PCT = ("%", "%")

COLUMNS: dict[str, Column] = {
    # scores
    "unit_id": Column("单位编号", "Unit id", "单位(派出所或民警)的编号,与单位表一致",
                      "the station or officer, as in the units table"),
    "name": Column("单位名称", "Name", "单位或民警的名称", "station or officer name"),
    "period": Column("考核期", "Period", "考核期间(季度、月或年)", "evaluation period (quarter, month or year)"),
    "peer_group": Column("同类组", "Peer group", "与之比较排名的同类单位组", "group of comparable units ranked together"),
    "score": Column("综合得分", "Score", "难度系数调整、加减分后的综合得分(0–100)",
                    "overall score after difficulty, bonus and deductions (0–100)", *_PTS, "score"),
    "rank": Column("组内排名", "Rank in group", "同类组内的名次,1 为最好", "rank within the peer group, 1 is best",
                   "名", "place", "rank"),
    "rank_overall": Column("全局排名", "Overall rank", "全部单位中的名次,1 为最好", "rank among all units, 1 is best",
                           "名", "place", "rank"),
    "grade": Column("等级", "Grade", "考核等级(优秀/良好/合格/不合格;未评定:数据不足)",
                    "grade (excellent/good/pass/fail; not graded: too little data)"),
    "raw_score": Column("加权得分", "Weighted score", "各维度加权汇总的得分(难度调整前)",
                        "weighted sum of dimension scores (before difficulty)", *_PTS, "score"),
    "difficulty": Column("难度系数", "Difficulty", "按单位类别给定的难度系数,乘以加权得分",
                         "difficulty coefficient of the unit's class, multiplies the weighted score",
                         "倍", "factor", "coefficient"),
    "bonus": Column("加分", "Bonus", "加分项合计", "bonus points in total", *_PTS, "score"),
    "deduction": Column("扣分", "Deduction", "负面清单扣分合计", "negative-list deductions in total", *_PTS, "score"),
    "availability": Column("数据覆盖", "Data coverage", "有数据的指标权重占比", "share of indicator weight with data",
                           *_PCT, "percent"),
    "flags": Column("提示", "Flags", "需要注意的事项:负面清单、硬性指标、数据不完整等",
                    "what needs attention: negative list, hard thresholds, incomplete data"),
    "previous_rank": Column("上期排名", "Previous rank", "上一期的组内排名", "rank in group in the previous period",
                            "名", "place", "rank"),
    "rank_change": Column("排名变化", "Rank change", "上期排名减本期排名,正数为进步",
                          "previous rank minus current rank; positive is an improvement", "名", "places", "rank"),
    "previous_grade": Column("上期等级", "Previous grade", "上一期的等级", "grade in the previous period"),
    # breaches, negative list, grading notes
    "indicator": Column("指标", "Indicator", "指标的代码(见框架的指标列表)", "the indicator's code (see the framework's list)"),
    "value": Column("实际值", "Value", "指标的实际值(比率为小数,0.93 即 93%)",
                    "the indicator's value (rates as fractions: 0.93 is 93%)", kind="number"),
    "min": Column("下限", "Minimum", "硬性指标要求的最低值", "lowest value the hard threshold allows", kind="number"),
    "max": Column("上限", "Maximum", "硬性指标允许的最高值", "highest value the hard threshold allows", kind="number"),
    "consequence": Column("后果", "Consequence", "未达标或命中负面清单的后果(代码)",
                          "what follows from the breach or hit (code)"),
    "grade_cap": Column("最高等级", "Grade cap", "该事项限定的最高等级", "highest grade the item allows"),
    "item": Column("事项", "Item", "负面清单或加分事项编号", "negative-list or bonus item id"),
    "count": Column("次数", "Count", "发生次数", "number of occurrences", "次", "times", "count"),
    "points": Column("分值", "Points", "每次扣(加)的分数", "points per occurrence", *_PTS, "score"),
    "code": Column("代码", "Code", "说明的代码", "code of the note"),
    "detail": Column("详情", "Detail", "具体说明", "what happened"),
    # quarantine
    "file": Column("文件", "File", "出问题的输入文件", "the input file with the problem"),
    "row": Column("行号", "Row", "在表格软件中看到的行号(表头为第 1 行)",
                  "row number as seen in a spreadsheet (header is row 1)", kind="count"),
    "column": Column("列", "Column", "出问题的列", "the column with the problem"),
    "reason": Column("原因代码", "Reason", "被隔离的原因代码", "why the row was held back (code)"),
    "message": Column("说明", "Message", "问题及修改方法", "the problem and how to fix it"),
    "numerator": Column("分子", "Numerator", "比率的分子(如规范办理的案件数)",
                        "the count behind a rate (e.g. cases handled correctly)", kind="number"),
    "denominator": Column("分母", "Denominator", "比率的分母(如办理的案件数)",
                          "the volume behind a rate (e.g. cases handled)", kind="number"),
    "rater_id": Column("评分人", "Rater", "给出主观评分的人的编号", "who gave a subjective rating"),
    "submitted_at": Column("上报时间", "Submitted at", "数据上报的时间,用于判断是否迟报",
                           "when the figure was reported, checked against the deadline"),
    # weight tree
    "id": Column("编号", "Id", "维度或指标编号", "dimension or indicator id"),
    "name_zh": Column("中文名称", "Chinese name", "中文名称", "Chinese name"),
    "name_en": Column("英文名称", "English name", "英文名称", "English name"),
    "type": Column("类型", "Type", "维度或指标", "dimension or indicator"),
    "level": Column("层级", "Level", "在指标树中的层级,1 为最上层", "depth in the indicator tree, 1 is the top",
                    kind="count"),
    "parent": Column("上级", "Parent", "上级维度编号", "the parent dimension"),
    "weight": Column("权重", "Weight", "在上级中的权重", "weight within the parent", kind="number"),
    "effective_weight": Column("总权重", "Total weight", "在综合得分中的实际权重", "weight in the overall score",
                               *_PCT, "percent"),
    "kind": Column("类别", "Kind", "指标类别:比率、计数、时长、评分、积分",
                   "indicator kind: rate, count, duration, score, points"),
    "direction": Column("方向", "Direction", "越大越好、越小越好或接近目标值",
                        "higher is better, lower is better or closest to target"),
    "source": Column("来源", "Source", "数据来源:系统、上级、同事、自评、群众",
                     "source: system, supervisor, peer, self, citizen"),
    "threshold": Column("硬性标准", "Threshold", "硬性指标的标准", "the hard threshold"),
    "temporary": Column("临时指标", "Temporary", "临时指标的有效期", "when a temporary indicator is valid"),
}
"""Column code → :class:`Column`. Add a row here when a table gains a column."""


def column_info(code: str, lang: str = "zh") -> tuple[str, str, str] | None:
    """Header, meaning and unit of column ``code`` in ``lang``; None for an unknown code.

    Examples
    --------
    >>> column_info("score", "en")
    ('Score', 'overall score after difficulty, bonus and deductions (0–100)', 'points')
    """
    check_lang(lang)
    col = COLUMNS.get(code)
    if col is None:
        return None
    if lang == "en":
        return col.en, col.meaning_en, col.unit_en
    return col.zh, col.meaning_zh, col.unit_zh


def column_header(code: str, lang: str = "zh") -> str:
    """The header of column ``code`` in ``lang``; the code itself when it has none.

    Examples
    --------
    >>> column_header("rank"), column_header("rank", "en"), column_header("other")
    ('组内排名', 'Rank in group', 'other')
    """
    check_lang(lang)
    info = column_info(code, lang)
    return info[0] if info else code


LABELS: dict[str, dict[str, dict[str, str]]] = {
    "direction": {
        "zh": {"higher": "越大越好", "lower": "越小越好", "target": "接近目标值"},
        "en": {"higher": "higher is better", "lower": "lower is better", "target": "closest to target"},
    },
    "source": {
        "zh": {"system": "系统数据", "supervisor": "上级评价", "peer": "同事互评", "self": "自评", "citizen": "群众评价"},
        "en": {"system": "system", "supervisor": "supervisor", "peer": "peer", "self": "self", "citizen": "citizen"},
    },
    "kind": {
        "zh": {"rate": "比率", "count": "计数", "duration": "时长", "score": "评分", "points": "积分"},
        "en": {"rate": "rate", "count": "count", "duration": "duration", "score": "score", "points": "points"},
    },
}
"""Codes of an indicator's direction, source and kind → text in each language."""


def label(field: str, code: str, lang: str = "zh") -> str:
    """The text of code ``code`` of ``field`` (``direction``, ``source``, ``kind``) in ``lang``.

    Examples
    --------
    >>> label("direction", "lower"), label("kind", "rate", "en")
    ('越小越好', 'rate')
    """
    check_lang(lang)
    return LABELS[field][lang].get(code, code)
