"""CJK font registration, report style and the guarded PNG writer."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib import font_manager

from perfmodel.report import (
    CJK_FONT_FAMILY,
    CJKFontNotFoundError,
    apply_report_style,
    cjk_font_path,
    save_figure,
    use_cjk_font,
)
from perfmodel.report import fonts as fonts_module

GRADES = ["优秀", "良好", "合格", "不合格"]


@pytest.fixture(autouse=True)
def _restore_rcparams():
    """apply_report_style changes global rcParams; give every test a clean copy back."""
    with matplotlib.rc_context():
        yield
    plt.close("all")


def _chinese_figure():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(GRADES, [12, 30, 41, -5], color="#3b6ea8")
    ax.set_title("派出所综合得分")
    ax.set_xlabel("考核等级")
    ax.set_ylabel("派出所数量（个）")
    ax.text(0, 20, "Score 综合 -5")
    return fig, ax


def test_cjk_font_path_points_at_installed_noto_file():
    path = cjk_font_path()
    assert path.name == "NotoSansSC-Regular.otf"
    assert path.is_file()
    assert path.parent.name == "pylopdf_fonts_zh_cn"
    assert path.stat().st_size > 1_000_000


def test_cjk_font_path_missing_package_says_what_to_install(monkeypatch):
    def no_package(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(fonts_module.resources, "files", no_package)
    with pytest.raises(CJKFontNotFoundError, match="pip install pylopdf-fonts-zh-cn"):
        cjk_font_path()


def test_cjk_font_path_missing_file_is_clear(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts_module.resources, "files", lambda name: tmp_path)
    with pytest.raises(CJKFontNotFoundError, match="NotoSansSC-Regular.otf was not found"):
        cjk_font_path()


def test_use_cjk_font_sets_rcparams_and_is_idempotent():
    family = use_cjk_font()
    assert family == CJK_FONT_FAMILY == "Noto Sans SC"
    registered = [e for e in font_manager.fontManager.ttflist if e.fname == str(cjk_font_path())]
    assert use_cjk_font() == family
    again = [e for e in font_manager.fontManager.ttflist if e.fname == str(cjk_font_path())]
    assert len(again) == len(registered) >= 1
    sans = matplotlib.rcParams["font.sans-serif"]
    assert sans[:2] == ["Noto Sans SC", "DejaVu Sans"]
    assert len(sans) == len(set(sans))
    assert matplotlib.rcParams["font.family"] == ["sans-serif"]
    assert matplotlib.rcParams["axes.unicode_minus"] is False


def test_findfont_resolves_sans_serif_to_noto_file():
    use_cjk_font()
    found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert Path(found) == cjk_font_path()
    found = font_manager.findfont(font_manager.FontProperties(family=[CJK_FONT_FAMILY]))
    assert Path(found) == cjk_font_path()


def test_chinese_text_renders_without_missing_glyph_warnings(tmp_path):
    apply_report_style()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any "Glyph ... missing from font(s)" would raise
        fig, ax = _chinese_figure()
        ax.set_xticks(range(4), GRADES)
        fig.canvas.draw()
        out = save_figure(fig, tmp_path / "综合得分.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every tick label is drawn with the Noto font
    for label in ax.get_xticklabels():
        assert Path(font_manager.findfont(label.get_fontproperties())) == cjk_font_path()


def test_without_cjk_font_the_missing_glyph_check_would_fire():
    """Guards the test above: DejaVu alone lacks CJK glyphs and matplotlib warns."""
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    fig, ax = plt.subplots()
    ax.set_title("派出所")
    with pytest.warns(UserWarning, match="missing from font"):
        fig.canvas.draw()


def test_apply_report_style_defaults():
    assert apply_report_style() == "Noto Sans SC"
    rc = matplotlib.rcParams
    assert rc["figure.dpi"] == 110
    assert rc["savefig.dpi"] == 150
    assert rc["savefig.bbox"] == "tight"
    assert rc["axes.grid"] is True
    assert rc["grid.alpha"] == pytest.approx(0.3)
    assert rc["font.sans-serif"][0] == "Noto Sans SC"
    apply_report_style()  # idempotent
    assert rc["font.sans-serif"].count("Noto Sans SC") == 1


def test_save_figure_is_byte_for_byte_deterministic(tmp_path):
    apply_report_style()
    fig, _ = _chinese_figure()
    first = save_figure(fig, tmp_path / "a.png").read_bytes()
    second = save_figure(fig, tmp_path / "b.png").read_bytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    assert b"matplotlib version" not in first  # no "Software" metadata
    fig2, _ = _chinese_figure()  # an identical, freshly drawn figure
    assert save_figure(fig2, tmp_path / "c.png").read_bytes() == first


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("title", "lacks a title"),
        ("xlabel", "lacks an x-axis label"),
        ("ylabel", "lacks a y-axis label"),
    ],
)
def test_save_figure_refuses_unlabelled_axes(tmp_path, missing, message):
    apply_report_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    if missing != "title":
        ax.set_title("标题")
    if missing != "xlabel":
        ax.set_xlabel("月份")
    if missing != "ylabel":
        ax.set_ylabel("得分")
    target = tmp_path / "fig.png"
    with pytest.raises(ValueError, match=message):
        save_figure(fig, target)
    assert not target.exists()


def test_save_figure_title_optional_and_figure_level_labels(tmp_path):
    apply_report_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    ax.set_xlabel("月份")
    ax.set_ylabel("得分")
    assert save_figure(fig, tmp_path / "no_title.png", title_required=False).is_file()

    fig, axes = plt.subplots(1, 2, sharey=True)
    for ax in axes:
        ax.plot([1, 2], [3, 4])
    fig.suptitle("各派出所得分")
    fig.supxlabel("月份")
    fig.supylabel("得分")
    assert save_figure(fig, tmp_path / "panels.png").is_file()


def test_save_figure_exempts_axes_without_axis_lines_and_colorbars(tmp_path):
    apply_report_style()
    fig, (pie_ax, img_ax) = plt.subplots(1, 2)
    pie_ax.pie([1, 2, 3], labels=GRADES[:3])
    pie_ax.set_title("等级构成")
    image = img_ax.imshow([[1, 2], [3, 4]])
    img_ax.set_title("热力图")
    img_ax.set_xlabel("月份")
    img_ax.set_ylabel("派出所")
    fig.colorbar(image, ax=img_ax)
    assert save_figure(fig, tmp_path / "pie.png").is_file()


def test_save_figure_rejects_non_png(tmp_path):
    apply_report_style()
    fig, _ = _chinese_figure()
    with pytest.raises(ValueError, match=r"\.png"):
        save_figure(fig, tmp_path / "fig.pdf")
