# Public names of the package, declared once (SPEC 1): type checkers read this stub and
# perfmodel._lazy.attach_stub reads it at run time; a name's module is imported on first use.

from .fonts import (
    CJK_FONT_FAMILY as CJK_FONT_FAMILY,
    CJKFontNotFoundError as CJKFontNotFoundError,
    cjk_font_path as cjk_font_path,
    use_cjk_font as use_cjk_font,
)
from .style import apply_report_style as apply_report_style, save_figure as save_figure
from .provenance import (
    build_provenance as build_provenance,
    file_sha256 as file_sha256,
    git_commit as git_commit,
    package_versions as package_versions,
    write_provenance as write_provenance,
)
from .runner import (
    NotebookParameter as NotebookParameter,
    NotebookRun as NotebookRun,
    ReportError as ReportError,
    ReportExecutionError as ReportExecutionError,
    ReportKernelError as ReportKernelError,
    ReportParameterError as ReportParameterError,
    check_kernel as check_kernel,
    export_html_report as export_html_report,
    notebook_parameters as notebook_parameters,
    run_notebook as run_notebook,
    validate_parameters as validate_parameters,
)

# the analyses' figures and text (the analyses themselves return data only)
from .audit import (
    fairness_summary_markdown as fairness_summary_markdown,
    figure_group_means as figure_group_means,
    figure_impact_ratios as figure_impact_ratios,
)
from .gaming import figure_bunching as figure_bunching
from .monitor import (
    annual_headline as annual_headline,
    bulletin_headline as bulletin_headline,
    warnings_methodology_markdown as warnings_methodology_markdown,
)
