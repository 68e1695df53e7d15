"""Whole-language output (issue 11): one report per language, none overwriting the other.

The quarterly report of the shipped sample (2025Q2) is written with ``perfmodel report``
in Chinese and then in English into the same ``--out`` folder (one run per language,
shared by the tests of this module). The visible text of each is searched for words
of the other language:

* the English report may show Chinese only where it is data: the units table's own
  values (station names, peer-group labels such as 一类) and ids in parentheses;
* the Chinese report may show English only as ids and codes (in parentheses, in
  ``<code>``, with ``_`` or digits), proper names and abbreviations (:data:`ALLOWED_EN`).

What is left comes from modules outside this test's reach and is listed, with its
source, in :data:`KNOWN_LEAKS`; the list may only shrink.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from perfmodel import cli

REPO = Path(__file__).resolve().parents[1]
OBSERVATIONS = REPO / "data_samples" / "station_observations.csv.gz"
UNITS = REPO / "data_samples" / "units.csv"
FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"

CJK = re.compile(r"[\u3001-\u303f\u3400-\u9fff\uff01-\uffef]+")
"""Chinese characters and Chinese punctuation (the ideographic space U+3000 is whitespace)."""
ENGLISH_WORD = re.compile(r"(?<![\w.\-/])[A-Za-z][A-Za-z'’-]+(?![\w.\-/])")
"""A word of two or more Latin letters that is not part of an id, a file name or a path."""
IN_PARENTHESES = re.compile(r"[(（][^()（）\n]{0,80}[)）]")

ALLOWED_EN = frozenset(
    {
        # abbreviations and proper names of methods
        "ICC",
        "Spearman",
        "Kendall",
        "Krippendorff",
        "SHA",
        "YYYY-MM",
        # software named in the provenance table
        "Python",
        "perfmodel",
        "numpy",
        "pandas",
        "scipy",
        "statsmodels",
        "scikit-learn",
        "matplotlib",
        "papermill",
        "nbconvert",
        "git",
    }
)
"""English words the Chinese report may show: abbreviations, proper names, software."""

KNOWN_LEAKS: dict[str, dict[str, str]] = {
    "zh": {},
    "en": {},
}
"""Words of the other language that still reach a report, with the code that writes them."""


def visible_text(html: str, data_words: set[str]) -> str:
    """The text a reader sees, without code, ids in parentheses and the data's own words."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup(["script", "style", "code"]):
        element.decompose()
    text = soup.get_text("\n")
    for word in sorted(data_words, key=len, reverse=True):
        text = text.replace(word, " ")
    return IN_PARENTHESES.sub(" ", text)


def other_language(text: str, lang: str) -> Counter[str]:
    """Words of the language other than ``lang`` in ``text``, with their counts."""
    if lang == "en":
        return Counter(CJK.findall(text))
    return Counter(word for word in ENGLISH_WORD.findall(text) if word not in ALLOWED_EN)


def data_words() -> set[str]:
    """The units table's values in Chinese (names, peer-group labels, area types): data, not words."""
    units = pd.read_csv(UNITS, dtype=str)
    values = {value for column in units.columns for value in units[column].dropna()}
    return {value for value in values if CJK.search(value)}


def folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The quarterly report in zh, then in en, into the same --out; the zh folder's hash between."""
    out = tmp_path_factory.mktemp("language") / "reports"
    folders, hashes = {}, {}
    for lang in ("zh", "en"):
        options = ["--observations", str(OBSERVATIONS), "--units", str(UNITS), "--out", str(out)]
        code = cli.main(["--quiet", "report", "--period", PERIOD, "--lang", lang, *options])
        assert code == 0
        folders[lang] = out / FRAMEWORK / PERIOD / lang
        hashes[lang] = {name: folder_hash(folder) for name, folder in folders.items()}
    return {"folders": folders, "hashes": hashes}


@pytest.mark.notebook
def test_reports_in_two_languages_go_side_by_side(reports):
    folders, hashes = reports["folders"], reports["hashes"]
    for lang, folder in folders.items():
        html = (folder / "report.html").read_text(encoding="utf-8")
        assert f'lang="{"en" if lang == "en" else "zh-CN"}"' in html
    assert hashes["en"]["zh"] == hashes["zh"]["zh"], "the English run changed the Chinese report"


@pytest.mark.notebook
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_shows_no_word_of_the_other_language(reports, lang):
    html = (reports["folders"][lang] / "report.html").read_text(encoding="utf-8")
    found = other_language(visible_text(html, data_words()), lang)
    known = KNOWN_LEAKS[lang]
    assert not set(found) - set(known), f"{lang} report shows: {dict(found)}"
    gone = set(known) - set(found)
    assert not gone, f"no longer in the {lang} report; delete from KNOWN_LEAKS: {sorted(gone)}"


def test_the_word_counter_sees_both_languages():
    """The counter itself, on hand-made text: what it must count and what it must leave."""
    html = (
        "<p>得分 score（s001)<code>perfmodel report</code> ICC file.csv station_four_dimension</p>"
        "<p>Score 一类 of 城南派出所 (城南)</p>"
    )
    text = visible_text(html, {"城南派出所", "一类"})
    assert other_language(text, "zh") == Counter({"score": 1, "Score": 1, "of": 1})
    assert other_language(text, "en") == Counter({"得分": 1})
