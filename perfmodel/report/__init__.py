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

from __future__ import annotations

from typing import TYPE_CHECKING

from perfmodel._lazy import lazy_exports

__all__ = [
    "CJK_FONT_FAMILY",
    "CJKFontNotFoundError",
    "NotebookParameter",
    "NotebookRun",
    "ReportError",
    "ReportExecutionError",
    "ReportKernelError",
    "ReportParameterError",
    "apply_report_style",
    "build_provenance",
    "check_kernel",
    "cjk_font_path",
    "export_html_report",
    "file_sha256",
    "git_commit",
    "notebook_parameters",
    "package_versions",
    "run_notebook",
    "save_figure",
    "use_cjk_font",
    "validate_parameters",
    "write_provenance",
]

_MODULE_OF = {
    "CJK_FONT_FAMILY": "fonts",
    "CJKFontNotFoundError": "fonts",
    "cjk_font_path": "fonts",
    "use_cjk_font": "fonts",
    "apply_report_style": "style",
    "save_figure": "style",
    "build_provenance": "provenance",
    "file_sha256": "provenance",
    "git_commit": "provenance",
    "package_versions": "provenance",
    "write_provenance": "provenance",
    "NotebookParameter": "runner",
    "NotebookRun": "runner",
    "ReportError": "runner",
    "ReportExecutionError": "runner",
    "ReportKernelError": "runner",
    "ReportParameterError": "runner",
    "check_kernel": "runner",
    "export_html_report": "runner",
    "notebook_parameters": "runner",
    "run_notebook": "runner",
    "validate_parameters": "runner",
}

if TYPE_CHECKING:
    from perfmodel.report.fonts import (
        CJK_FONT_FAMILY,
        CJKFontNotFoundError,
        cjk_font_path,
        use_cjk_font,
    )
    from perfmodel.report.provenance import (
        build_provenance,
        file_sha256,
        git_commit,
        package_versions,
        write_provenance,
    )
    from perfmodel.report.runner import (
        NotebookParameter,
        NotebookRun,
        ReportError,
        ReportExecutionError,
        ReportKernelError,
        ReportParameterError,
        check_kernel,
        export_html_report,
        notebook_parameters,
        run_notebook,
        validate_parameters,
    )
    from perfmodel.report.style import apply_report_style, save_figure


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, globals())
