"""Report infrastructure: CJK figure fonts and style, Papermill runner, provenance.

Typical use in a report notebook::

    from perfmodel.report import apply_report_style, save_figure
    apply_report_style()
    ...
    save_figure(fig, "figures/综合得分.png")

and to produce a report::

    from perfmodel.report import run_notebook
    run = run_notebook("notebooks/quarterly.ipynb", "reports/2025Q2", {"period": "2025Q2"})
    run.html  # reports/2025Q2/report.html

Names are imported lazily: a notebook that only needs the figure helpers does not
pay for importing nbformat/papermill (about 2 s) inside its kernel.
"""

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
