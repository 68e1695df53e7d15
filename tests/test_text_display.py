"""Words at the edge: the catalogue gives the report's old Chinese words, and English has no Chinese.

The Chinese texts below were copied from the tables the catalogue replaced
(``glossary.COLUMNS``/``LABELS``, ``report.quarterly.TEXT``, ``workbook.SHEET_LABELS``,
``template._TEXT``); they must not change. English renderings of the migrated
tables and figures may contain Chinese only where it comes from data (unit and
peer-group names, the engine's ``flags``).
"""

from __future__ import annotations

import re
import typing

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from perfmodel.evaluation import evaluate_files
from perfmodel.framework import GRADES, load_framework
from perfmodel.glossary import column_header, column_info, grade_label, label
from perfmodel.grading import NOT_GRADED
from perfmodel.monitor.targets import status_label
from perfmodel.monitor.training import level_name
from perfmodel.report import quarterly as q
from perfmodel.report.workbook import score_workbook
from perfmodel.simulate import generate_sample
from perfmodel.template import template_sheets
from perfmodel.text import has_message, say, templates

FRAMEWORK = "station_four_dimension"
CJK = re.compile(r"[\u4e00-\u9fff\u3001-\u303f\uff00-\uffef]")  # ideographs and CJK punctuation (not U+3000)


def _cjk(texts) -> list[str]:
    return [t for t in map(str, texts) if CJK.search(t)]


@pytest.fixture(scope="module")
def ev(tmp_path_factory):
    out = tmp_path_factory.mktemp("text_display")
    sample = generate_sample(out, stations=24, months=6, rng=5, start="2025-01", frameworks=[FRAMEWORK])
    return evaluate_files(FRAMEWORK, sample["station_observations"], sample["units"], "2025Q2")


# ------------------------------------------------------------------ Chinese: the old words
@pytest.mark.parametrize(
    ("got", "old"),
    [
        (lambda: column_header("score"), "综合得分"),
        (lambda: column_header("rank_change"), "排名变化"),
        (lambda: column_info("availability"), ("数据覆盖", "有数据的指标权重占比", "%")),
        (lambda: column_info("rank"), ("组内排名", "同类组内的名次,1 为最好", "名")),
        (lambda: label("source", "citizen"), "群众评价"),
        (lambda: label("direction", "target"), "接近目标值"),
        (lambda: q.consequence_label("grade_cap", "合格"), "等级最高为合格"),
        (lambda: q.consequence_label("warning"), "一票警示"),
        (lambda: say("figure.score_distribution.title", "zh"), "各同类组综合得分分布"),
        (lambda: say("figure.dimension_profiles.colorbar", "zh"), "维度得分(0–100)"),
        (lambda: say("report.quarterly.late_rows", "zh"), "迟报条数"),
        (lambda: say("workbook.sheet.negative_list", "zh"), "负面清单"),
        (lambda: templates("template.words", "zh")["role_case"], "{parent}的案件类型(计数)"),
        (lambda: status_label("at_risk"), "滞后但预计可达成"),
        (lambda: level_name("top"), "一级维度"),
    ],
)
def test_chinese_words_are_the_ones_the_old_tables_held(got, old):
    assert got() == old


def test_grades_keep_their_official_name_in_chinese_and_are_translated_in_english():
    assert [grade_label(g) for g in (*GRADES, NOT_GRADED)] == [*GRADES, NOT_GRADED]
    assert [grade_label(g, "en") for g in (*GRADES, NOT_GRADED)] == ["Excellent", "Good", "Pass", "Fail", "Not graded"]
    assert grade_label("一类", "en") == "一类"  # not a grade: as it is
    assert pd.isna(grade_label(float("nan"), "en"))


def test_english_quarterly_tables_show_english_grades_and_chinese_only_from_data(ev):
    data_names = set(ev.scores["name"]) | set(ev.scores["peer_group"].astype(str))
    ranking = q.ranking_table(ev, "en")
    assert set(ranking["Grade"]) <= {"Excellent", "Good", "Pass", "Fail", "Not graded"}
    assert _cjk(ranking.columns) == []
    shown = ranking.drop(columns=["Name", "Flags"])
    assert _cjk(shown.to_numpy().ravel()) == []
    grades = q.grade_table(ev, "en")
    assert _cjk([*grades.columns, grades.index.name]) == []
    assert set(grades.index) <= data_names
    for frame in (q.breach_table(ev, "en"), q.negative_table(ev, "en"), q.weight_tree_table(ev.framework, "en")):
        assert _cjk([*frame.columns, *frame.to_numpy().ravel()]) == []
    text = str(q.headline(ev, "en")) + str(q.methodology_markdown(ev, "en"))
    for name in data_names | set(ev.framework.difficulty.coefficients):  # class names are data
        text = text.replace(name, "")
    assert _cjk([text]) == []
    # the same tables in Chinese keep the official grade names
    assert set(q.ranking_table(ev)["等级"]) <= {*GRADES, NOT_GRADED}


def _figure_words(fig) -> list[str]:
    """Titles, axis labels, colour-bar label and legend texts (not tick labels: those are data)."""
    words = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        words += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            groups = {t.get_text() for t in legend.get_texts()}
            words += [legend.get_title().get_text(), *groups]
    return [w for w in words if w]


@pytest.mark.parametrize("figure", ["figure_score_distribution", "figure_dimension_profiles", "figure_grade_counts"])
def test_english_quarterly_figures_have_no_chinese_words(ev, figure):
    fig = getattr(q, figure)(ev, lang="en").figure
    words = _figure_words(fig)
    assert words, "the figure has no title or labels"
    assert _cjk(words) == []
    plt.close(fig)
    zh = _figure_words(getattr(q, figure)(ev, lang="zh").figure)
    assert _cjk(zh), "the Chinese figure should be in Chinese"


def test_english_workbook_headers_sheets_and_grades_have_no_chinese(ev):
    tables = {"breaches": ev.stages["breaches"], "negative_list": ev.stages["negative_hits"]}
    sheets, _ = score_workbook(ev.scores, ev.framework, lang="en", tables=tables)
    groups = set(ev.scores["peer_group"].astype(str))
    assert _cjk([s for s in sheets if s not in groups]) == []
    for name, sheet in sheets.items():
        assert _cjk(sheet.columns) == [], name
    assert set(sheets["All units"]["Grade"]) <= {"Excellent", "Good", "Pass", "Fail", "Not graded"}
    caps = sheets["Threshold breaches"].get("Grade cap", pd.Series(dtype=object)).dropna()
    assert _cjk(caps) == []


def test_english_template_has_chinese_only_in_units_of_measure_from_the_framework():
    fw = load_framework(FRAMEWORK)
    measures = {ind.unit for ind in fw.indicators() if getattr(ind, "unit", None)}
    sheets, _ = template_sheets(fw, lang="en")
    for name, sheet in sheets.items():
        cells = [*sheet.columns, *sheet.to_numpy().ravel()]
        assert [c for c in _cjk(cells) if c not in measures] == [], name


def test_award_table_names_grades_and_review_flag_in_the_reader_language():
    from perfmodel.awards import allocate_awards, award_table
    from perfmodel.framework import Award

    frame = pd.DataFrame(
        {"unit_id": ["a", "b"], "peer_group": "一类", "score": [90.0, 70.0], "grade": ["优秀", "合格"]}
    )
    allocation = allocate_awards(
        frame, [Award(id="merit", name={"zh": "嘉奖", "en": "merit"}, level="collective", slots=3)]
    )
    english = award_table(allocation, {"a": "甲所", "b": "乙所"}, "en")
    assert list(english["grade"]) == ["Excellent", "Pass"]
    assert _cjk(english.columns) == []
    chinese = award_table(allocation, {"a": "甲所", "b": "乙所"}, "zh")
    assert list(chinese["等次"]) == ["优秀", "合格"]
    assert list(chinese.columns[:4]) == ["单位", "名称", "同类组", "等次"]


# ------------------------------------------------------------------ every code has its words
def _literal_values(model, field: str) -> tuple[str, ...]:
    return typing.get_args(model.model_fields[field].annotation)


def _code_registries() -> dict[str, tuple[str, ...]]:
    """Section → the codes whose words it must hold.

    Keys built at run time, so the literal-key test cannot see them.
    """
    from perfmodel.audit.policy import SOURCES
    from perfmodel.framework import Indicator, NegativeItem, Threshold
    from perfmodel.glossary import COLUMNS, LABEL_FIELDS
    from perfmodel.monitor.cockpit import AXES
    from perfmodel.monitor.development import OUTCOMES
    from perfmodel.monitor.targets import STATUSES
    from perfmodel.monitor.training import LEVELS
    from perfmodel.report.workbook import SHEETS
    from perfmodel.validation import REASONS

    registries = {
        "grade": (*GRADES, NOT_GRADED),
        "column": tuple(COLUMNS),
        "column_meaning": tuple(COLUMNS),
        "consequence": tuple(
            dict.fromkeys((*_literal_values(Threshold, "consequence"), *_literal_values(NegativeItem, "consequence")))
        ),
        "workbook.sheet": SHEETS,
        "reason.validation": REASONS,
        "audit.policy.source": SOURCES,
        "audit.policy.level": ("indicator", "source", "dimension"),
        "audit.effect_size": ("negligible", "small", "medium", "large"),
        "monitor.cockpit.axis": AXES,
        "monitor.development.outcome": OUTCOMES,
        "monitor.targets.status": STATUSES,
        "monitor.training.level": LEVELS,
        "common.month": tuple(f"m{m}" for m in range(1, 13)),
        "report.grading_notes": ("incomplete_data", "non_finite_score", "quota_tie_broken", "quota_tie_lowered"),
    }
    for field in LABEL_FIELDS:
        registries[f"label.{field}"] = _literal_values(Indicator, field)
    return registries


@pytest.mark.parametrize(("section", "codes"), list(_code_registries().items()), ids=list(_code_registries()))
def test_every_code_of_a_registry_has_its_words(section, codes):
    assert codes, section
    missing = [code for code in codes if not has_message(f"{section}.{code}")]
    assert missing == [], f"{section}: no words for {missing}"


def test_robustness_verdicts_name_grades_in_the_reader_language(ev):
    from perfmodel.audit.robustness import bootstrap_grades

    english = bootstrap_grades(ev, n_boot=20, lang="en").to_frame()
    scored = english[english["p_grade_change"].notna()]
    assert len(scored) and _cjk(scored["verdict"]) == []
    assert scored["verdict"].str.contains("grade '(?:Excellent|Good|Pass|Fail)'").all()
    chinese = bootstrap_grades(ev, n_boot=20, lang="zh").to_frame()
    assert chinese["verdict"].str.contains("等级“(?:优秀|良好|合格|不合格)”").loc[scored.index].all()


def test_context_neutrality_rows_name_their_variables_and_grade_in_the_reader_language():
    """The neutrality table keeps codes; shown, its context columns and its top grade are words."""
    import pandas as pd

    from perfmodel.report.audit import fairness_headed

    frame = pd.DataFrame(
        {
            "measure": ["r2", "partial_r2", "auc"],
            "variable": ["population, incident_volume, area_type", "population", "优秀"],
            "n": [120, 120, 120],
        }
    )
    zh = fairness_headed(frame, "zh").iloc[:, 1].tolist()
    en = fairness_headed(frame, "en").iloc[:, 1].tolist()
    assert zh == ["辖区人口、警情量、城乡类型", "辖区人口", "优秀"]
    assert en == ["population, incident volume, area type", "population", "Excellent"]
    assert frame["variable"].tolist()[2] == "优秀"  # the data keep their codes


def test_a_neutrality_finding_names_its_variables_in_words():
    import pandas as pd

    from perfmodel.report.audit import fairness_headed

    findings = pd.DataFrame(
        {
            "check": ["context_neutrality", "disaggregated"],
            "attribute": ["", "area_type"],
            "group": ["population, area_type", "农村"],
            "verdict": ["…", "…"],
        }
    )
    assert fairness_headed(findings, "zh").iloc[:, 2].tolist() == ["辖区人口、城乡类型", "农村"]
    assert fairness_headed(findings, "en").iloc[:, 2].tolist() == ["population, area type", "农村"]
