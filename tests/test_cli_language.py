"""The command line's language (issue 11): messages in ``--lang``, else in the locale's language.

Every command accepts ``--lang`` before or after its name; without it the messages
follow ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` and the outputs stay Chinese. Errors
carry catalogue keys and are shown in the message language.
"""

from __future__ import annotations

import argparse

import openpyxl
import pytest

from perfmodel import cli
from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.framework import FrameworkError, framework_path
from perfmodel.io import InputError, read_table
from perfmodel.periods import PeriodError, parse_period
from perfmodel.text import environment_lang


def run(capsys, *argv: object) -> tuple[int, str, str]:
    """Run ``perfmodel --quiet ARGV`` (no progress lines): exit code, stdout, stderr."""
    code = cli.main(["--quiet", *(str(a) for a in argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def chinese_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW"}, "zh"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "zh_CN.GB18030"}, "zh"),  # an empty variable does not count
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_locale_rule(environ, expected):
    assert environment_lang(environ) == expected


def test_messages_follow_the_locale_without_lang(chinese_locale, capsys):
    code, _, err = run(capsys, "frameworks", "show")
    assert code == cli.EXIT_USAGE
    assert err.splitlines() == [
        "perfmodel:错误:'frameworks show' 需要一个考核方案编号",
        "提示:运行 'perfmodel frameworks' 列出全部方案",
    ]


@pytest.mark.parametrize("where", ["before", "after"])
def test_lang_overrides_the_locale_before_or_after_the_command(chinese_locale, capsys, where):
    argv = ["--lang", "en", "frameworks", "show"] if where == "before" else ["frameworks", "show", "--lang", "en"]
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert err.splitlines() == [
        "perfmodel: error: 'frameworks show' needs a framework id",
        "hint: run 'perfmodel frameworks' to list them",
    ]


def test_every_command_accepts_lang():
    def commands(parser: argparse.ArgumentParser, path: str):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from commands(sub, f"{path} {name}".strip())

    found = list(commands(cli.build_parser(), ""))
    assert len(found) > 10, "the walk missed the commands"
    lacking = [path for path, parser in found if "--lang" not in parser._option_string_actions]
    assert not lacking, f"commands without --lang: {lacking}"


def test_common_user_errors_are_shown_in_chinese(chinese_locale, capsys, tmp_path):
    missing = tmp_path / "无此文件.csv"
    code, _, err = run(
        capsys, "validate", "--observations", missing, "--units", missing, "--framework", "station_four_dimension"
    )
    assert code == 1 and err.splitlines() == [f"perfmodel:错误:{missing}:找不到文件;请检查路径和文件名"]
    code, _, err = run(capsys, "frameworks", "show", "no_such_framework")
    assert code == 1 and err.startswith("perfmodel:错误:未知的考核方案 'no_such_framework':请给出 YAML 文件路径")
    files = ["--observations", missing, "--units", missing, "--framework", "station_four_dimension"]
    code, _, err = run(capsys, "awards", *files, "--period", "2025Q9", "--out", tmp_path / "a.csv")
    assert code == 1 and "'2025Q9' 不是考核期;请写月份(2025-04)、季度(2025Q2)或年份(2025)" in err
    code, _, err = run(capsys, "report", "--period", "2025Q2", *files, "--out", tmp_path / "r")
    assert code == 1 and err.splitlines() == [
        f"perfmodel:错误:考核数据文件 {missing} 不存在",
        "提示:运行 'make sample',或用 --observations/--units 指定文件",
    ]


def test_outputs_stay_chinese_when_only_the_messages_follow_an_english_locale(capsys, tmp_path):
    out = tmp_path / "模板.xlsx"
    code, printed, _ = run(capsys, "template", "--framework", "station_four_dimension", "--out", out)
    assert code == 0 and printed.startswith("template for station_four_dimension written to")
    assert "说明" in openpyxl.load_workbook(out, read_only=True).sheetnames


def test_an_error_with_keys_is_english_as_a_string_and_any_language_as_text():
    error = OptionError(key="error.choice", values={"name": "lang", "value": "'fr'", "choices": "'zh', 'en'"})
    assert str(error) == "lang='fr' is not allowed; choose one of: 'zh', 'en'"
    assert error.text("zh") == ("lang='fr' 不可用;可选值:'zh', 'en'", "")
    assert error.text("en") == (str(error), "")
    plain = PerfmodelError("as written", "a hint")
    assert plain.text("zh") == ("as written", "a hint")


@pytest.mark.parametrize(
    ("call", "error_type", "english"),
    [
        (lambda tmp: framework_path("no_such"), FrameworkError, "unknown framework 'no_such'"),
        (lambda tmp: framework_path(tmp / "x.yaml"), FrameworkError, "does not exist"),
        (lambda tmp: parse_period("2025-13"), PeriodError, "is not a period"),
        (lambda tmp: read_table(tmp / "none.csv", aliases={}), InputError, "file not found; check the path"),
        (lambda tmp: read_table(tmp, aliases={}), InputError, "is a folder, not a file"),
    ],
)
def test_library_errors_carry_a_key_and_keep_their_english_text(tmp_path, call, error_type, english):
    with pytest.raises(error_type) as caught:
        call(tmp_path)
    assert english in str(caught.value)
    message, _ = caught.value.text("zh")
    assert caught.value.key is not None and message != str(caught.value)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message
