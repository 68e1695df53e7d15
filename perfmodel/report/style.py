"""Figure style for reports and a guarded, deterministic PNG writer."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from perfmodel.errors import OptionError, OptionTypeError
from perfmodel.report.fonts import use_cjk_font

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["REPORT_RC", "apply_report_style", "report_axes", "report_subplots", "save_figure"]

#: rcParams applied by :func:`apply_report_style` (on top of the CJK font settings).
REPORT_RC: Mapping[RcKeyType, Any] = {
    "figure.dpi": 110,
    "figure.figsize": (8.0, 4.5),
    "figure.facecolor": "white",
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.1,
    "savefig.facecolor": "white",
    "font.size": 10.5,
    "axes.titlesize": 12.5,
    "axes.titleweight": "normal",
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "lines.linewidth": 1.6,
    # Keep text as text in SVG and embed TrueType/OpenType outlines in PDF/PS.
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}

# PNG metadata written by :func:`save_figure`. matplotlib writes no timestamp into PNGs;
# dropping "Software" removes the matplotlib version, so the bytes depend only on the
# drawing (and the same matplotlib/FreeType rendering).
_PNG_METADATA: dict[str, str | None] = {"Software": None}


def apply_report_style() -> str:
    """Apply the report figure style; return the CJK font family in use.

    Registers Noto Sans SC (:func:`~perfmodel.report.fonts.use_cjk_font`) and sets
    readable defaults: 110 dpi on screen, 150 dpi when saved, a tight bounding box,
    light grid lines and no top/right spines. Idempotent.
    """
    family = use_cjk_font()
    matplotlib.rcParams.update(REPORT_RC)
    return family


def report_axes(ax: Axes | None = None, *, figsize: tuple[float, float] | None = None) -> Axes:
    """The axes a figure function draws on, after applying the report style.

    Every ``figure_*`` function of perfmodel starts here, so that it draws Chinese
    text with the bundled CJK font whether or not the caller applied the style.

    Parameters
    ----------
    ax
        The caller's axes (drawn on as they are), or None for a new figure.
    figsize
        Size of the new figure (ignored when ``ax`` is given).
    """
    apply_report_style()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def report_subplots(
    fig: Figure | None,
    *args: Any,
    figsize: tuple[float, float] | None = None,
    layout: Literal["constrained", "compressed", "tight", "none"] | None = None,
    **kwargs: Any,
) -> tuple[Figure, Any]:
    """:func:`matplotlib.pyplot.subplots` for figure functions that need several axes.

    Applies the report style, then makes the grid on ``fig`` (the caller's figure,
    which should be empty) or on a new figure of size ``figsize``. Returns
    ``(figure, axes)`` as ``plt.subplots`` does.
    """
    apply_report_style()
    if fig is None:
        import matplotlib.pyplot as plt

        return plt.subplots(*args, figsize=figsize, layout=layout, **kwargs)
    if layout is not None:
        fig.set_layout_engine(layout)
    return fig, fig.subplots(*args, **kwargs)


def _data_axes(fig: Figure | SubFigure) -> list[Axes]:
    """Visible axes of *fig* that carry data (colorbars are excluded)."""
    axes = []
    for ax in fig.get_axes():
        if not ax.get_visible():
            continue
        if getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>":
            continue
        axes.append(ax)
    return axes


def _figure_text(fig: Figure | SubFigure, attr: str) -> str:
    text = getattr(fig, attr, None)
    return text.get_text().strip() if text is not None else ""


def _axes_title(ax: Axes) -> str:
    return " ".join(ax.get_title(loc=loc).strip() for loc in ("left", "center", "right")).strip()


def _shows_scale(ax: Axes, axis: Any) -> bool:
    """Whether *axis* is drawn with ticks, i.e. shows a scale that needs a label.

    Axes turned off (``ax.axis("off")``) and axes without ticks (pie charts) are exempt.
    """
    return bool(ax.axison and axis.get_visible() and len(axis.get_ticklocs()) > 0)


def _check_labels(fig: Figure, *, title_required: bool) -> None:
    axes = _data_axes(fig)
    if not axes:
        raise OptionError("save_figure: the figure has no visible axes; nothing to save.")
    suptitle = _figure_text(fig, "_suptitle")
    supxlabel = _figure_text(fig, "_supxlabel")
    supylabel = _figure_text(fig, "_supylabel")
    problems = []
    for i, ax in enumerate(axes):
        name = f"axes {i}" + (f" ({_axes_title(ax)!r})" if _axes_title(ax) else "")
        missing = []
        if title_required and not (_axes_title(ax) or suptitle):
            missing.append("a title (ax.set_title or fig.suptitle)")
        if _shows_scale(ax, ax.xaxis) and not (ax.get_xlabel().strip() or supxlabel):
            missing.append("an x-axis label (ax.set_xlabel or fig.supxlabel)")
        if _shows_scale(ax, ax.yaxis) and not (ax.get_ylabel().strip() or supylabel):
            missing.append("a y-axis label (ax.set_ylabel or fig.supylabel)")
        if missing:
            problems.append(f"{name} lacks " + " and ".join(missing))
    if problems:
        raise OptionError(
            "save_figure refuses an unlabelled report figure: "
            + "; ".join(problems)
            + ". Every figure in a report must say what it shows and in which units."
        )


def save_figure(
    fig: Figure | Axes,
    path: str | os.PathLike[str],
    *,
    title_required: bool = True,
) -> Path:
    """Write *fig* as a PNG at *path* after checking it is labelled; return the path.

    Every visible data axes must have x and y axis labels (axes with the axis turned
    off, e.g. pie charts, are exempt) and, when *title_required*, a title; a figure
    ``suptitle``/``supxlabel``/``supylabel`` also counts. Otherwise a :class:`ValueError`
    lists what is missing and nothing is written.

    The file is written with fixed PNG metadata so saving the same figure twice gives
    identical bytes. Parent folders are created. Only ``.png`` paths are accepted.
    An ``Axes`` (what the ``figure_*`` functions return) saves the figure it is in.
    """
    figure = fig.figure if isinstance(fig, Axes) else fig  # an Axes in a SubFigure gives the SubFigure
    if not isinstance(figure, Figure):
        raise OptionTypeError(f"save_figure expects a matplotlib Figure, got {type(figure).__name__}")
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise OptionError(f"save_figure writes PNG files; {out} does not end in .png")
    _check_labels(figure, title_required=title_required)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", metadata=dict(_PNG_METADATA))
    return out
