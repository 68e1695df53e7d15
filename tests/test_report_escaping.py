"""Escaping by construction: names from the data never become markup in a report (issue 10, defect 1).

Three layers of tests:

* the rendering path itself (:mod:`perfmodel.report.render`): ``md`` escapes every
  value and ``table`` every cell and label, checked by rendering through nbconvert's
  own Markdown renderer and parsing the HTML;
* a static check that every notebook builds its text through ``md`` with a literal
  template (never an f-string with data, never ``IPython.display.Markdown``/``HTML``,
  ``.style`` or ``to_html``);
* every report notebook rendered on a hostile copy of the shipped sample
  (``tests/hostile.py``), its ``report.html`` parsed with an HTML parser, and one
  report opened in headless Chromium.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from hostile import build_hostile_sample, hostile_names
from hypothesis import given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from perfmodel.report import quarterly as q
from perfmodel.report.render import SafeMarkdown, escape_markdown, join, md, table, url
from perfmodel.report.runner import run_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ATTACKS = hostile_names()


# ------------------------------------------------------------------ what "no markup from data" means
def injected(html: str) -> list[str]:
    """Elements and attributes in *html* that could only have come from a hostile name.

    Checks for script elements with the attacks' payloads, any ``on*`` event-handler
    attribute, ``javascript:`` links, the attacks' ``<img src=x>``/``<svg>``, and the
    Markdown attacks rendered as markup (a link to ``javascript:``, an image ``x``,
    ``<strong>b</strong>``, a heading ``h``).
    """
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for script in soup.find_all("script"):
        if re.search(r"alert|PWNED", script.get_text()):
            found.append(f"script: {script.get_text()[:60]}")
    for element in soup.find_all(True):
        for attribute, value in element.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if attribute.lower().startswith("on"):
                found.append(f"<{element.name} {attribute}={text[:40]}>")
            if attribute.lower() in {"href", "src", "action", "formaction", "xlink:href"} and re.match(
                r"\s*(javascript|vbscript):", text, flags=re.IGNORECASE
            ):
                found.append(f"<{element.name} {attribute}={text[:40]}>")
    found += [f"<img src={img.get('src')}>" for img in soup.find_all("img") if img.get("src") == "x"]
    found += ["<svg>" for _ in soup.find_all("svg")]
    found += [f"<{tag.name}>b" for tag in soup.find_all(["strong", "b"]) if tag.get_text(strip=True) == "b"]
    found += [
        f"<{tag.name}>h"
        for tag in soup.find_all(re.compile(r"^h[1-6]$"))
        if tag.get_text(strip=True).rstrip("¶") == "h"
    ]  # nbconvert adds an anchor link "¶"
    return found


def visible_text(html: str) -> str:
    return BeautifulSoup(html, "html.parser").get_text()


def render_markdown(text: str) -> str:
    """HTML of Markdown as nbconvert renders a notebook's ``text/markdown`` output."""
    return markdown2html_mistune(text)


# ------------------------------------------------------------------ md()
@pytest.mark.parametrize("attack", ATTACKS)
def test_md_shows_every_attack_as_text_and_never_as_markup(attack):
    template = "# Report · {name}\n\n**{name}** in group <code>{name}</code> | [{name}](report.html) {name}"
    html = render_markdown(md(template, name=attack))
    assert injected(html) == []
    text = visible_text(html)
    assert text.count(attack) == 5, text


_MARKUP = "<>&\"'`*_[]()!#|\\~-+.=:/{}$^"
_NAMES = st.text(
    alphabet=st.one_of(st.sampled_from(_MARKUP), st.characters(blacklist_categories=("Cs", "Cc"))), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(name=_NAMES)
def test_any_name_shows_exactly_as_its_text_inside_template_markup(name):
    html = render_markdown(md("## {name}\n\n**{name}** and <code>{name}</code>", name=name))
    soup = BeautifulSoup(html, "html.parser")
    # only the template's elements, and only nbconvert's heading anchor has attributes
    assert {tag.name for tag in soup.find_all(True)} <= {"h2", "a", "p", "strong", "code"}
    assert all(set(tag.attrs) <= {"id", "class", "href"} for tag in soup.find_all(True))
    assert all(a["href"].startswith("#") for a in soup.find_all("a"))

    def same(text: str) -> str:  # Markdown collapses and trims white space, nothing else
        return " ".join(text.split())

    for anchor in soup.select("a.anchor-link"):  # nbconvert's "¶" link beside each heading
        anchor.decompose()
    expected = same(name)
    if expected:
        assert same(soup.h2.get_text()) == expected
        assert same(soup.strong.get_text()) == expected
    assert same(soup.code.get_text()) == expected


def test_md_keeps_the_template_markup_and_the_number_formats():
    html = render_markdown(md("## {title}\n\n**{n:,}** rows, {share:.0%}", title="数据质量", n=12345, share=0.25))
    soup = BeautifulSoup(html, "html.parser")
    assert soup.h2.get_text().rstrip("¶") == "数据质量"  # nbconvert adds an anchor link "¶"
    assert soup.strong.get_text() == "12,345"
    assert "25%" in soup.get_text()


def test_md_inserts_safe_markdown_as_it_is_and_join_escapes_plain_parts():
    inner = md("**{x}**", x="<b>")
    joined = join(", ", [inner, "*y*"])
    assert isinstance(joined, SafeMarkdown)
    soup = BeautifulSoup(render_markdown(md("{a}", a=joined)), "html.parser")
    assert soup.strong.get_text() == "<b>" and "*y*" in soup.get_text() and soup.em is None


def test_md_refuses_a_value_inside_a_code_span_and_an_unchecked_link():
    with pytest.raises(ValueError, match="code span"):
        md("`{x}`", x="a")
    with pytest.raises(ValueError, match="url"):
        md("[report]({link})", link="javascript:alert(1)")
    with pytest.raises(ValueError, match="scheme"):
        url("java\tscript:alert(1)")
    html = render_markdown(md("[report]({link})", link=url("../a b/报告.html")))
    assert BeautifulSoup(html, "html.parser").a["href"] == "../a%20b/%E6%8A%A5%E5%91%8A.html"


def test_escape_markdown_turns_line_breaks_into_spaces():
    assert escape_markdown("a\n# h\r\nb") == "a \\# h  b"


# ------------------------------------------------------------------ table()
def test_table_escapes_cells_column_labels_and_index_labels():
    attack = "<img src=x onerror=alert(1)>"
    frame = pd.DataFrame(
        {f"名称{attack}": [f"所{attack}", "<script>alert(1)</script>"], "得分": [1.5, float("nan")]},
        index=[attack, "b"],
    )
    for html in (table(frame).to_html(), table(frame, index=True).to_html()):
        assert injected(html) == []
        text = visible_text(html)
        assert f"名称{attack}" in text and f"所{attack}" in text and "<script>alert(1)</script>" in text


def test_table_keeps_the_report_formats():
    frame = pd.DataFrame({"rank": [1.0, 2.0], "score": [67.25, float("nan")], "share": [0.25, 0.5]})
    cells = [
        td.get_text() for td in BeautifulSoup(table(frame, percent=["share"]).to_html(), "html.parser").find_all("td")
    ]
    assert cells == ["1", "67.2", "25%", "2", "–", "50%"]


def test_table_ids_are_the_same_on_every_run():
    from perfmodel.report import render

    frame = pd.DataFrame({"a": [1]})
    render.reset_table_ids()  # as in a fresh report kernel
    first = [table(frame).to_html() for _ in range(2)]
    render.reset_table_ids()
    second = [table(frame).to_html() for _ in range(2)]
    assert first == second
    assert first[0] != first[1]  # two tables in one report never share an id
    assert re.search(r'id="T_t1_[0-9a-f]{8}"', first[0])


def test_styled_is_the_escaping_table():
    html = q.styled(pd.DataFrame({"单位名称": ["<script>alert(1)</script>"]})).to_html()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ------------------------------------------------------------------ library texts with hostile framework names
@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """The shipped sample's first 24 stations with hostile names everywhere (tests/hostile.py)."""
    return build_hostile_sample(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def hostile_ev(hostile):
    from perfmodel.evaluation import evaluate_files

    return evaluate_files(hostile["framework"], hostile["station_observations"], hostile["units"], "2025Q2")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quarterly_texts_escape_framework_and_group_names(hostile_ev, lang):
    for text in (q.headline(hostile_ev, lang), q.methodology_markdown(hostile_ev, lang)):
        assert isinstance(text, SafeMarkdown)
        html = render_markdown(text)
        assert injected(html) == [], text
    methodology = visible_text(render_markdown(q.methodology_markdown(hostile_ev, lang)))
    classes = hostile_ev.units["station_class"].dropna().unique()
    assert all(c in methodology for c in classes), "difficulty coefficients name every hostile class as text"


def test_fairness_summary_escapes_groups_and_checks_the_link(hostile_ev):
    from perfmodel.report.audit import fairness_summary_markdown

    text = fairness_summary_markdown(
        hostile_ev, "en", link="fairness_audit/report.html", by=["station_class", "area_type"]
    )
    html = render_markdown(text)
    assert injected(html) == []
    assert BeautifulSoup(html, "html.parser").a["href"] == "fairness_audit/report.html"
    with pytest.raises(ValueError, match="scheme"):
        fairness_summary_markdown(hostile_ev, "en", link="javascript:alert(1)", by=["station_class"])


# ------------------------------------------------------------------ static: notebooks use only the render path
def _code_cells(notebook: Path):
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type == "code":
            source = "\n".join(
                "" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()
            )
            yield index, source


def _literal(node: ast.AST, literal_names: set[str]) -> bool:
    """A template built only from string literals (or a name assigned only such)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.IfExp):
        return _literal(node.body, literal_names) and _literal(node.orelse, literal_names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, literal_names) and _literal(node.right, literal_names)
    return isinstance(node, ast.Name) and node.id in literal_names


def _literal_names(tree: ast.AST) -> set[str]:
    """Names every assignment of which (``=`` and ``+=``) in the cell is a literal template."""
    assigned: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    ok = _literal(node.value, set())
                    assigned[target.id] = assigned.get(target.id, True) and ok
    return {name for name, ok in assigned.items() if ok}


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_build_report_text_only_through_the_render_path(notebook):
    problems = []
    for index, source in _code_cells(notebook):
        tree = ast.parse(source)
        literal_names = _literal_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                where = f"cell {index}, line {node.lineno}"
                if name == "md" and (not node.args or not _literal(node.args[0], literal_names)):
                    problems.append(f"{where}: md() template is not a literal: {ast.unparse(node)[:80]}")
                if name in {"Markdown", "HTML", "to_html", "styled"}:
                    problems.append(f"{where}: {name}() bypasses perfmodel.report.render")
            if isinstance(node, ast.Attribute) and node.attr == "style":
                problems.append(f"cell {index}, line {node.lineno}: DataFrame.style bypasses render.table")
            if isinstance(node, ast.ImportFrom) and node.module == "IPython.display":
                if {a.name for a in node.names} - {"display"}:
                    problems.append(f"cell {index}: imports {[a.name for a in node.names]} from IPython.display")
    assert problems == []


def test_the_package_renders_html_only_in_the_render_module():
    """No module but render.py builds HTML tables or IPython display objects (grep-level check)."""
    package = Path(__file__).resolve().parents[1] / "perfmodel"
    pattern = re.compile(r"\.style\.|\.to_html\(|from IPython\.display import|\bStyler\(")
    offenders = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "render.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


# ------------------------------------------------------------------ every notebook on the hostile sample
def _parameters(name: str, hostile: dict[str, Path], out: Path, lang: str) -> dict[str, object]:
    base = {
        "observations": str(hostile["station_observations"]),
        "units": str(hostile["units"]),
        "framework": str(hostile["framework"]),
        "period": "2025Q2",
        "lang": lang,
        "output_dir": str(out),
    }
    extra: dict[str, dict[str, object]] = {
        "quarterly_evaluation": {"calibration": "casemix"},
        "fairness_audit": {"n_boot": 5, "by": "station_type,area_type,station_class,district"},
        "annual_summary": {"period": "2025"},
        "monthly_bulletin": {"period": "2025-06"},
        "reform_targets": {"period": "2025", "targets": str(hostile["targets"])},
        "development": {"collaborations": str(hostile["collaborations"]), "cockpit_officers": 4},
        "gaming_lab": {"n_officers": 40},
        "indicator_design_lab": {"draws": 32},
        "calibration": {"stations": 40, "check_seeds": 1},
        "hotspots": {"permutations": 999},
    }
    return {**base, **extra[name]}


def _run_hostile(name: str, lang: str, hostile: dict[str, Path], out: Path):
    return run_notebook(
        NOTEBOOKS / f"{name}.ipynb",
        out,
        _parameters(name, hostile, out, lang),
        cwd=out,
        timeout=600,
        html_lang="zh-CN" if lang == "zh" else "en",
    )


HOSTILE_QUARTERLY = ("quarterly_evaluation", "zh")
"""The notebook and language of :func:`hostile_quarterly_report`."""
HOSTILE_QUARTERLY_GROUP = pytest.mark.xdist_group("hostile_quarterly_report")
"""The tests reading :func:`hostile_quarterly_report` run on one worker (make test: ``--dist loadgroup``)."""


@pytest.fixture(scope="module")
def hostile_quarterly_report(hostile, tmp_path_factory):
    """The quarterly report (zh) of the hostile sample, run once for the parser, Chromium and PDF/Word tests."""
    name, lang = HOSTILE_QUARTERLY
    return _run_hostile(name, lang, hostile, tmp_path_factory.mktemp("hostile_quarterly") / name)


NOTEBOOK_LANGS = [
    ("quarterly_evaluation", "zh"),
    ("quarterly_evaluation", "en"),
    ("fairness_audit", "zh"),
    ("annual_summary", "zh"),
    ("monthly_bulletin", "en"),
    ("reform_targets", "zh"),
    ("development", "zh"),
    ("gaming_lab", "en"),
    ("indicator_design_lab", "zh"),
    ("calibration", "zh"),
    ("hotspots", "zh"),
]


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("name", "lang"),
    [
        pytest.param(
            n, lang, id=f"{n}-{lang}", marks=[HOSTILE_QUARTERLY_GROUP] if (n, lang) == HOSTILE_QUARTERLY else []
        )
        for n, lang in NOTEBOOK_LANGS
    ],
)
def test_every_report_shows_hostile_names_as_text(request, hostile, tmp_path, name, lang):
    if (name, lang) == HOSTILE_QUARTERLY:
        run = request.getfixturevalue("hostile_quarterly_report")  # shared with the Chromium test
    else:
        run = _run_hostile(name, lang, hostile, tmp_path / name)
    executed = nbformat.read(run.executed_notebook, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    html = run.html.read_text(encoding="utf-8")
    assert injected(html) == []
    text = visible_text(html)
    shown = [attack for attack in ATTACKS if attack in text]
    assert len(shown) >= 3, f"the hostile names should show as text; found {shown}"
    assert "Content-Security-Policy" in html and "script-src 'none'" in html
    # the data's names reach the report as text (framework name, a unit, a peer group)
    mapping = pd.read_csv(hostile["mapping"], dtype=str, keep_default_na=False)
    hostile_labels = set(mapping["hostile"])
    assert any(label in text for label in hostile_labels)
    if name == "quarterly_evaluation":
        fw_name = "派出所基础绩效四维度考核" if lang == "zh" else "Police-station four-dimension assessment"
        assert any(label.startswith(fw_name) and label in text for label in hostile_labels)
        units = pd.read_csv(hostile["units"], dtype=str, keep_default_na=False)
        stations = units[units["level"] == "station"]
        assert all(n in text for n in stations["name"]), "every hostile station name shows as text"
        assert all(c in text for c in stations["station_class"].unique())
        assert all(i in text for i in stations["unit_id"].head(2)), "hostile unit ids show as text"


# ------------------------------------------------------------------ headless Chromium
#: Put first in a page without its CSP: every ``alert()`` then counts into the title instead of
#: opening a dialog (which would block headless Chromium).
_COUNT_ALERTS = (
    "<script>window.alerts = 0; window.alert = function () "
    '{ document.title = "ALERTS " + (++window.alerts); };</script>'
)


def _chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def _dump_dom(browser: str, page: Path) -> str:
    """The DOM of *page* after loading it (and running any script that is allowed to run)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=3000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.notebook
@HOSTILE_QUARTERLY_GROUP
def test_hostile_report_runs_no_script_in_chromium(request, tmp_path):
    """Open the hostile quarterly report in headless Chromium, with and without its CSP: nothing runs.

    A script that ran would set ``document.title`` to ``PWNED`` (the
    ``<script>document.title='PWNED'</script>`` names) or add an element; the DOM
    after loading shows neither, and the name shows as text. Without the CSP meta
    tag escaping alone must hold.
    """
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    report = request.getfixturevalue("hostile_quarterly_report").html
    html = report.read_text(encoding="utf-8")
    bare = tmp_path / "report_without_csp.html"
    bare.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', _COUNT_ALERTS, html, count=1), encoding="utf-8"
    )
    assert "Content-Security-Policy" not in bare.read_text(encoding="utf-8")
    for page in (report, bare):
        dom = _dump_dom(browser, page)
        soup = BeautifulSoup(dom, "html.parser")
        assert soup.title is not None
        assert "PWNED" not in soup.title.get_text() and "ALERTS" not in soup.title.get_text()
        assert injected(dom.replace(_COUNT_ALERTS, "")) == []
        assert "<script>document.title='PWNED'</script>" in soup.get_text()


def test_chromium_runs_a_planted_script_so_the_check_can_fail(tmp_path):
    """The Chromium check detects a script that runs (a control for the report check)."""
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    page = tmp_path / "control.html"
    page.write_text(
        "<html><head><title>t</title></head><body><script>document.title='PWNED'</script></body></html>",
        encoding="utf-8",
    )
    soup = BeautifulSoup(_dump_dom(browser, page), "html.parser")
    assert soup.title.get_text() == "PWNED"
    page.write_text(
        f"<html><head>{_COUNT_ALERTS}<title>t</title></head><body>"
        "<img src=x onerror=alert(1)><script>alert(2)</script></body></html>",
        encoding="utf-8",
    )
    soup = BeautifulSoup(_dump_dom(browser, page), "html.parser")
    assert soup.title.get_text() == "ALERTS 2"


# ------------------------------------------------------------------ PDF and Word
@pytest.mark.notebook
@HOSTILE_QUARTERLY_GROUP
def test_hostile_report_pdf_and_word_show_every_station_name_as_text(request, hostile, tmp_path):
    """The print and office formats carry the hostile names as text, like the HTML (issue 11)."""
    pdfium = pytest.importorskip("pypdfium2")
    docx = pytest.importorskip("docx")
    from perfmodel.report.export import export_docx, export_pdf

    run = request.getfixturevalue("hostile_quarterly_report")
    mapping = pd.read_csv(hostile["mapping"], dtype=str, keep_default_na=False)
    framework_name = next(label for label in mapping["hostile"] if label.startswith("派出所基础绩效四维度考核"))
    pdf = export_pdf(
        run.executed_notebook,
        tmp_path / "report.pdf",
        title=framework_name,
        header=f"{framework_name} · 2025Q2",
        lang="zh",
    )
    document = pdfium.PdfDocument(str(pdf))
    pages = [document[k].get_textpage().get_text_range() for k in range(len(document))]

    def squeezed(text: str) -> str:  # a wrapped or hyphenated table cell reads back in pieces
        return re.sub(r"[\s\-\u00ad]+", "", text)

    everything = squeezed("".join(pages))
    units = pd.read_csv(hostile["units"], dtype=str, keep_default_na=False)
    stations = units[units["level"] == "station"]
    missing = [n for n in stations["name"] if squeezed(n) not in everything]
    assert not missing, f"station names not shown as text in the PDF: {missing[:3]}"
    assert squeezed(framework_name) in squeezed(pages[1]), "the hostile framework name heads the pages as text"

    word = docx.Document(str(export_docx(run.executed_notebook, tmp_path / "report.docx")))
    cells = {cell.text for table in word.tables for row in table.rows for cell in row.cells}
    assert set(stations["name"]) <= cells, "every station name is a table cell's exact text in Word"
