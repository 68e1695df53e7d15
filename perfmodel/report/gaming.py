"""Figures of the gaming lab (R16): the distribution around a threshold.

The analysis is :mod:`perfmodel.design.gaming`; this module draws its results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from perfmodel.report.style import apply_report_style
from perfmodel.text import check_lang

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from perfmodel.design.gaming.bunching import BunchingResult

__all__ = ["figure_bunching"]


def figure_bunching(
    result: BunchingResult, *, title: str | None = None, ax: Axes | None = None, lang: str = "zh"
) -> Axes:
    """Histogram around the threshold with the counterfactual density and the excluded window.

    Bars: observed unit-months per bin (rates spread over their lattice cell);
    line: the polynomial counterfactual; shaded: the hole (failing side) and the
    heap (passing side) left out of the fit; dashed: the threshold.

    Parameters
    ----------
    result : BunchingResult
        From :func:`~perfmodel.design.gaming.bunching`.
    title : str, optional
        Replaces the default title (the excess mass with its interval).
    ax : matplotlib.axes.Axes, optional
        Draw on this Axes; default a new 8 × 4.2 in figure.
    lang : {"zh", "en"}

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_lang(lang)
    apply_report_style()

    zh = lang == "zh"
    bins = result.bins
    rate = result.fit_range[1] <= 1.0 + 1e-9 and result.fit_range[0] >= -1e-9
    scale = 100.0 if rate else 1.0
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8.0, 4.2))
    colours = {"fit": "#9aa5b1", "hole": "#d9822b", "heap": "#c23030"}
    for region, group in bins.groupby("region", sort=False):
        ax.bar(
            group["left"] * scale,
            group["count"],
            width=(group["right"] - group["left"]) * scale,
            align="edge",
            color=colours[region],
            edgecolor="white",
            linewidth=0.4,
            label={
                "fit": "观测(拟合区)" if zh else "observed (fit)",
                "hole": "观测(阈值下方排除区)" if zh else "observed (hole, excluded)",
                "heap": "观测(阈值上方排除区)" if zh else "observed (heap, excluded)",
            }[region],
        )
    ax.plot(
        bins["centre"] * scale,
        bins["counterfactual"],
        color="#1f4e79",
        linewidth=2,
        label="反事实密度(多项式)" if zh else "counterfactual (polynomial)",
    )
    lo, hi = sorted(result.exclude)
    ax.axvspan(
        lo * scale, hi * scale, color="#f5d0a9", alpha=0.35, zorder=0, label="排除窗口" if zh else "excluded window"
    )
    ax.axvline(
        result.threshold * scale,
        color="black",
        linestyle="--",
        linewidth=1.2,
        label=("阈值 " if zh else "threshold ") + (f"{result.threshold:.0%}" if rate else f"{result.threshold:g}"),
    )
    unit = "%" if rate else ""
    ax.set_xlabel(("指标值" if zh else "value") + (f"({unit})" if zh and unit else f" ({unit})" if unit else ""))
    ax.set_ylabel("单位月数" if zh else "unit-months")
    lo_ci, hi_ci = result.excess_ci
    default = (
        f"阈值附近的分布:超额堆积 {result.excess:.0f}(95%区间 {lo_ci:.0f}~{hi_ci:.0f})"
        if zh
        else f"Distribution around the threshold: excess mass {result.excess:.0f} (95% CI {lo_ci:.0f} to {hi_ci:.0f})"
    )
    ax.set_title(title or default)
    ax.legend(loc="upper left", fontsize=8.5)
    cast("Figure", ax.figure).tight_layout()
    return ax
