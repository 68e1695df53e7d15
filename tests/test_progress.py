"""Progress lines (perfmodel.progress): silent by default, one updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import io
import re

import pytest

from perfmodel import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_library_calls_show_nothing_unless_switched_on(capsys):
    progress.step("validating_units")
    progress.advance("calibrating", 1, 3, indicator="a")
    assert capsys.readouterr() == ("", "")


def test_quiet_shows_nothing_even_inside_a_shown_block():
    stream = io.StringIO()
    with progress.shown(stream=stream, lang="en"), progress.shown(enabled=False, stream=stream):
        progress.step("validating_units")
    assert stream.getvalue() == ""


def test_plain_lines_in_the_chosen_language():
    stream = io.StringIO()
    with progress.shown(stream=stream, lang="zh"):
        progress.step("scoring", framework="toy", period="2025Q2")
    with progress.shown(stream=stream, lang="en"):
        progress.step("validating_observations")
    assert stream.getvalue().splitlines() == [
        "[perfmodel] 正在计分:toy 2025Q2…",
        "[perfmodel] validating observations…",
    ]


def test_counted_steps_print_a_plain_line_at_most_every_interval_plus_the_last(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, progress.PLAIN_INTERVAL + 0.5, progress.PLAIN_INTERVAL + 1.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    with progress.shown(stream=stream, lang="en"):
        for cell in range(1, 6):
            progress.advance("notebook_cell", cell, 5, notebook="nb")
    shown = [line.split("(cell ")[1] for line in stream.getvalue().splitlines()]
    assert shown == ["1/5)…", "4/5)…", "5/5)…"]  # 2 and 3 came within the interval after 1


def test_a_terminal_gets_one_line_rewritten_in_place_and_cleared_at_the_end():
    stream = _Terminal()
    with progress.shown(stream=stream, lang="en"):
        progress.step("reading_units", path="units.csv")
        progress.step("scoring", framework="x", period="2025Q2")
    text = stream.getvalue()
    assert "\n" not in text
    first, second, blank, rest = text.split("\r")[1:]
    assert first == "[perfmodel] reading units (units.csv)…"
    assert second.rstrip() == "[perfmodel] scoring x 2025Q2…" and len(second) == len(first)  # old text blanked
    assert blank == " " * len(second.rstrip()) and rest == ""  # the terminal is left clean


@pytest.mark.parametrize("key", ["reading_units", "notebook_cell", "exporting"])
def test_every_progress_message_has_both_languages(key):
    from perfmodel.text import catalogue

    message = catalogue()[f"progress.{key}"]
    assert message.placeholders("zh") == message.placeholders("en")


def test_notebook_progress_counts_only_the_cells_that_run(tmp_path, capsys):
    """nbclient calls the hook for markdown cells too: they are not counted, so the count ends at n/n once."""
    import nbformat

    from perfmodel.report.runner import _cell_progress

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("text"),
        nbformat.v4.new_code_cell("   "),
        nbformat.v4.new_code_cell("y = 2"),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    hook = _cell_progress(path, injected=True)
    with progress.shown(enabled=True, lang="en"):
        for cell in [nbformat.v4.new_code_cell("x = 0"), *nb.cells]:  # the injected cell first
            hook(cell=cell, cell_index=0)
    counts = re.findall(r"cell (\d+)/(\d+)", capsys.readouterr().err)
    assert counts and counts[-1] == ("3", "3") and counts.count(("3", "3")) == 1
    assert all(total == "3" and int(done) <= 3 for done, total in counts)
