"""Run a parameterised report notebook with Papermill and export it to HTML.

:func:`run_notebook` is stricter than Papermill:

* parameters are checked against the notebook's ``parameters`` cell *before* a
  kernel starts -- unknown names and values whose type does not match the default
  are errors (Papermill only warns about unknown names);
* the kernel must run the same Python environment as the caller, so the package
  versions recorded in the provenance are the ones that produced the report;
* a failing cell raises :class:`ReportExecutionError` naming the cell, the exception
  and the partially executed notebook, which is kept for inspection;
* the HTML report hides all code, Papermill's injected-parameters cell and prompts,
  declares UTF-8 and ``lang="zh-CN"``, uses a CJK font stack and loads no scripts
  from the internet.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from perfmodel import progress
from perfmodel.errors import MissingFileError, PerfmodelError
from perfmodel.outputs import write_bytes
from perfmodel.report.notebook_html import (
    INJECTED_TAG,
    PAPERMILL_ERROR_TAG,
    PARAMETERS_TAG,
    hide_cells_config,
    mark_numeric_cells,
)
from perfmodel.report.provenance import build_provenance, jsonable, write_provenance

__all__ = [
    "DOCX_NAME",
    "HTML_NAME",
    "PDF_NAME",
    "PROVENANCE_NAME",
    "REPORT_CSS",
    "NotebookParameter",
    "NotebookRun",
    "ReportError",
    "ReportExecutionError",
    "ReportKernelError",
    "ReportParameterError",
    "check_kernel",
    "export_html_report",
    "kernel_manager_config",
    "normalise_executed",
    "notebook_parameters",
    "parse_parameter_value",
    "run_notebook",
    "validate_parameters",
]

HTML_NAME = "report.html"
PDF_NAME = "report.pdf"
DOCX_NAME = "report.docx"
PROVENANCE_NAME = "provenance.json"


# ------------------------------------------------------------------------ errors


class ReportError(PerfmodelError):
    """Base class of report-running errors."""


class ReportParameterError(ReportError, ValueError):
    """The parameters do not fit the notebook's ``parameters`` cell."""


class ReportKernelError(ReportError, RuntimeError):
    """The Jupyter kernel is missing or runs a different Python environment."""


class ReportExecutionError(ReportError, RuntimeError):
    """A notebook cell raised. The partially executed notebook is kept on disk."""

    def __init__(
        self,
        message: str,
        *,
        notebook_path: Path,
        cell_index: int | None = None,
        execution_count: int | None = None,
        source: str = "",
        ename: str = "",
        evalue: str = "",
        traceback: str = "",
    ) -> None:
        super().__init__(message)
        self.notebook_path = notebook_path
        self.cell_index = cell_index
        self.execution_count = execution_count
        self.source = source
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback


# -------------------------------------------------------------------- parameters

_NO_DEFAULT = object()

# Annotations understood for type checking; anything else falls back to the default's type.
_ANNOTATION_TYPES: dict[str, type] = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "list": list,
    "dict": dict,
}


@dataclass(frozen=True)
class NotebookParameter:
    """One assignment in a notebook's ``parameters`` cell."""

    name: str
    #: The default as a Python value (``ast.literal_eval``); ``None`` if not a literal.
    default: Any
    #: Source text of the default expression.
    default_source: str
    #: Type a value must have; ``None`` accepts any JSON-like value.
    type: type | None
    annotation: str | None = None
    #: Whether the default is a Python literal (``default`` is then its value).
    is_literal: bool = True


def _find_parameters_cell(nb: nbformat.NotebookNode, notebook: Path) -> nbformat.NotebookNode:
    cells = [
        cell
        for cell in nb.cells
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if not cells:
        raise ReportParameterError(
            f"{notebook} has no code cell tagged {PARAMETERS_TAG!r}. Add the tag to the cell "
            "that assigns the report's default parameters (JupyterLab: Property Inspector -> "
            "Cell Tags), so that parameters can be checked and injected."
        )
    if len(cells) > 1:
        raise ReportParameterError(f"{notebook} has {len(cells)} cells tagged {PARAMETERS_TAG!r}; keep exactly one.")
    return cells[0]


def _strip_magics(source: str) -> str:
    # IPython magics / shell escapes are not Python; blank them (keeping line numbers).
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def notebook_parameters(notebook: str | os.PathLike[str]) -> dict[str, NotebookParameter]:
    """Parameters declared in the notebook's ``parameters`` cell, in order.

    Top-level ``name = value`` and ``name: type = value`` assignments are parameters.
    The expected type comes from a simple annotation (``bool``, ``int``, ``float``,
    ``str``, ``list``, ``dict``), otherwise from the literal default's type; a
    ``None`` or non-literal default accepts any JSON-like value.
    """
    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    cell = _find_parameters_cell(nb, path)
    source = _strip_magics(cell.source)
    try:
        tree = ast.parse(source, filename=f"{path}:parameters")
    except SyntaxError as exc:
        raise ReportParameterError(f"the parameters cell of {path} is not valid Python: {exc}") from exc
    params: dict[str, NotebookParameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value, annotation = node.targets, node.value, None
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value, annotation = [node.target], node.value, node.annotation
        else:
            continue
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            default_source = ast.get_source_segment(source, value) or ast.unparse(value)
            try:
                default = ast.literal_eval(value)
                is_literal = True
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                default, is_literal = None, False
            ann_text = ast.unparse(annotation) if annotation is not None else None
            expected: type | None
            if ann_text in _ANNOTATION_TYPES:
                expected = _ANNOTATION_TYPES[ann_text]
            elif is_literal and default is not None:
                expected = type(default)
                if expected is tuple:
                    expected = list
            else:
                expected = None
            params[target.id] = NotebookParameter(
                name=target.id,
                default=default,
                default_source=default_source,
                type=expected,
                annotation=ann_text,
                is_literal=is_literal,
            )
    return params


def _type_name(value_or_type: Any) -> str:
    kind = value_or_type if isinstance(value_or_type, type) else type(value_or_type)
    return "None" if kind is type(None) else kind.__name__


def _compatible(expected: type | None, value: Any) -> bool:
    if expected is None:
        return True
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is list:
        return isinstance(value, list | tuple)
    if expected is dict:
        return isinstance(value, Mapping)
    return isinstance(value, expected)


def validate_parameters(
    specs: Mapping[str, NotebookParameter], parameters: Mapping[str, Any], *, notebook: str = ""
) -> dict[str, Any]:
    """Check *parameters* against *specs*; return them converted to JSON-like values.

    Raises :class:`ReportParameterError` for unknown names, values that are not JSON-like
    (finite numbers, strings, booleans, None, lists and string-keyed dicts of those) and
    values whose type does not match the parameter (an int is accepted for a float,
    a path for a str).
    """
    where = f" for {notebook}" if notebook else ""
    unknown = [name for name in parameters if name not in specs]
    if unknown:
        accepted = ", ".join(specs) or "(none)"
        raise ReportParameterError(
            f"unknown parameter(s){where}: {', '.join(map(repr, unknown))}. Accepted parameters: {accepted}."
        )
    clean: dict[str, Any] = {}
    for name, value in parameters.items():
        spec = specs[name]
        if isinstance(value, os.PathLike) and spec.type in (str, None):
            value = os.fspath(value)
        try:
            value = jsonable(value, _where=f"parameter {name!r}")
        except TypeError as exc:
            raise ReportParameterError(
                f"{exc}{where}; parameters must be JSON-like (str, int, float, bool, None, lists and dicts of these)."
            ) from exc
        if not _compatible(spec.type, value):
            raise ReportParameterError(
                f"parameter {name!r}{where} expects {_type_name(spec.type)} "
                f"(default {spec.default_source}), got {_type_name(value)}: {value!r}"
            )
        if spec.type is float and isinstance(value, int):
            value = float(value)
        clean[name] = value
    return clean


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def parse_parameter_value(spec: NotebookParameter, text: str) -> Any:
    """The command-line text ``text`` as a value of the parameter ``spec`` (``-p NAME VALUE``).

    ``int`` and ``float`` parameters take numbers, ``bool`` ones ``true/false``
    (also ``yes/no``, ``1/0``, ``on/off``, any case), ``str`` ones the text as
    given, ``list`` and ``dict`` ones a Python literal (``"[1, 2]"``,
    ``"{'a': 1}"``). A parameter whose default is ``None`` takes a literal when
    the text is one (``3``, ``None``, ``['a']``), else the text.

    Raises
    ------
    ReportParameterError
        The text is not a value of the parameter's type: the message names the
        parameter, the value and the expected type.
    """
    expected = spec.type
    stripped = text.strip()
    if expected is str:
        return text
    if expected is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
    elif expected is None:
        try:
            return ast.literal_eval(stripped)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return text
    else:
        try:
            value = int(stripped) if expected is int else float(stripped) if expected is float else None
            if value is None:
                value = ast.literal_eval(stripped)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value = None
        if value is not None and _compatible(expected, value) and not (expected is float and not math.isfinite(value)):
            return value
    raise ReportParameterError(
        f"-p {spec.name} {text!r}: parameter {spec.name!r} expects {_example_of(expected)} "
        f"(default {spec.default_source})"
    )


def _example_of(expected: type | None) -> str:
    examples = {bool: "true or false", int: "an int, e.g. 3", float: "a float, e.g. 0.5"}
    examples |= {list: "a list literal, e.g. \"['a', 'b']\"", dict: "a dict literal, e.g. \"{'a': 1}\""}
    return examples.get(expected, _type_name(expected)) if expected is not None else "any value"


# ------------------------------------------------------------------------ kernel

_BARE_PYTHON = {
    "python",
    f"python{sys.version_info[0]}",
    "python{}.{}".format(*sys.version_info[:2]),
}


def _same_environment(python: str) -> tuple[bool, str]:
    """Whether the interpreter *python* runs in this process's environment (sys.prefix)."""
    if Path(python).name in _BARE_PYTHON and os.sep not in python:
        return True, sys.prefix  # jupyter_client substitutes sys.executable for a bare "python"
    exe = shutil.which(python) or python
    if Path(os.path.abspath(exe)).parent == Path(os.path.abspath(sys.executable)).parent:
        return True, sys.prefix
    try:
        result = subprocess.run(
            [exe, "-c", "import sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return False, f"(could not run {exe})"
    prefix = result.stdout.strip()
    return os.path.realpath(prefix) == os.path.realpath(sys.prefix), prefix


def check_kernel(kernel_name: str = "python3") -> Path:
    """Check that Jupyter kernel *kernel_name* exists and runs this Python environment.

    Returns the kernel spec's folder. Raises :class:`ReportKernelError` with the fix
    otherwise: the kernel would import other versions of perfmodel and its
    dependencies than the ones recorded in the provenance.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    fix = (
        f"Install this environment's kernel with `{sys.executable} -m ipykernel install "
        f"--sys-prefix --name {kernel_name}` (`make venv` does this)"
    )
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel as exc:
        raise ReportKernelError(f"Jupyter kernel {kernel_name!r} not found. {fix}.") from exc
    if (spec.language or "").lower() != "python" or not spec.argv:
        raise ReportKernelError(f"Jupyter kernel {kernel_name!r} ({spec.resource_dir}) is not a Python kernel. {fix}.")
    same, prefix = _same_environment(spec.argv[0])
    if not same:
        raise ReportKernelError(
            f"Jupyter kernel {kernel_name!r} defined in {spec.resource_dir} runs "
            f"{spec.argv[0]} (environment {prefix}), not this environment ({sys.prefix}). "
            f"{fix}, and remove or rename the other kernel spec if it shadows it "
            f"(`jupyter kernelspec list` shows which one wins)."
        )
    return Path(spec.resource_dir)


@contextlib.contextmanager
def _inline_matplotlib_env() -> Iterator[None]:
    """Let the kernel use the inline matplotlib backend.

    ipykernel only selects the inline backend when ``MPLBACKEND`` is unset; an inherited
    ``MPLBACKEND=Agg`` (common in CI) would silently drop every figure from the report.
    """
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


def kernel_manager_config(kernel_name: str = "python3") -> Any:
    """Configuration that keeps the kernel's traffic off plain TCP.

    ipykernel warns on every start ("Kernel is running over TCP without encryption")
    unless the kernel manager provisions CurveZMQ keys or the kernel talks over IPC
    (Unix sockets). With a kernel spec that declares ``supported_encryption: curve``
    (ipykernel >= 7) and a pyzmq built with CurveZMQ, encryption is required; otherwise,
    on POSIX systems, the IPC transport is used; elsewhere nothing can be done and the
    defaults stay (the warning then stays too).

    Parameters
    ----------
    kernel_name
        Jupyter kernel whose spec is read.

    Returns
    -------
    traitlets.config.Config
        Settings for ``KernelManager``, passed to papermill as ``config=``.
    """
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets.config import Config

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    declared = (spec.metadata or {}).get("supported_encryption") or []
    declared = [declared] if isinstance(declared, str) else declared
    if zmq.has("curve") and "curve" in {str(item).strip().lower() for item in declared}:
        return Config({"KernelManager": {"transport_encryption": "required"}})
    if os.name == "posix":
        return Config({"KernelManager": {"transport": "ipc"}})
    return Config()


# ---------------------------------------------------------------------- HTML

#: CSS added to every HTML report (after nbconvert's own styles).
REPORT_CSS = """
:root {
  --perfmodel-cjk-fonts: "Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC",
    "Microsoft YaHei", "PingFang SC", sans-serif;
  --jp-content-font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
    "Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
    sans-serif;
  --jp-ui-font-family: var(--jp-content-font-family);
  --jp-code-font-family: "DejaVu Sans Mono", Menlo, Consolas, "Noto Sans Mono CJK SC",
    "Noto Sans SC", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", monospace;
  --jp-content-font-size1: 15px;
}
html, body, .jp-Notebook, .jp-RenderedHTMLCommon, .jp-RenderedMarkdown {
  font-family: "Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
    "PingFang SC", sans-serif;
}
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 24px 32px; line-height: 1.6; }
.jp-Cell { padding: 2px 0; }
.jp-RenderedHTMLCommon h1, .jp-RenderedHTMLCommon h2, .jp-RenderedHTMLCommon h3 {
  font-weight: 600;
}
.jp-RenderedText pre { white-space: pre-wrap; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
/* Tables: "body.jp-Notebook" outranks JupyterLab's ":not(.jp-RenderedMarkdown)" rules. */
body.jp-Notebook .jp-RenderedHTMLCommon table {
  border-collapse: collapse;
  border: none;
  margin: 8px 0 16px 0;
  font-size: 13px;
  font-variant-numeric: tabular-nums;
  table-layout: auto;
}
body.jp-Notebook .jp-RenderedHTMLCommon thead { border-bottom: 2px solid #444; }
body.jp-Notebook .jp-RenderedHTMLCommon th,
body.jp-Notebook .jp-RenderedHTMLCommon td,
body.jp-Notebook .jp-RenderedHTMLCommon .dataframe thead th {
  padding: 4px 10px;
  border: none;
  text-align: left;
  vertical-align: middle;
  max-width: none;
}
body.jp-Notebook .jp-RenderedHTMLCommon th { font-weight: 600; }
body.jp-Notebook .jp-RenderedHTMLCommon td.num,
body.jp-Notebook .jp-RenderedHTMLCommon th.num,
body.jp-Notebook .jp-RenderedHTMLCommon .dataframe thead th.num { text-align: right; }
body.jp-Notebook .jp-RenderedHTMLCommon tbody tr:nth-child(odd) { background: #ffffff; }
body.jp-Notebook .jp-RenderedHTMLCommon tbody tr:nth-child(even) { background: #f3f5f8; }
body.jp-Notebook .jp-RenderedHTMLCommon tbody tr:hover { background: #e4ecf7; }
@media print {
  body.jp-Notebook { max-width: none; padding: 0; }
  .jp-RenderedHTMLCommon tr { break-inside: avoid; }
  .page-break { break-after: page; }
}
"""

# nbconvert's "lab" template loads require.js, MathJax and mermaid from a CDN. Reports
# are static (PNG figures, HTML tables) and are often read on networks without internet
# access, so these script tags are dropped and the report CSS is appended.
_REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">{{ resources.perfmodel_css }}</style>
{%- endblock html_head_css -%}
"""

#: Content-Security-Policy of every report: no script runs, no plug-in loads, no form
#: posts and no ``<base>`` redirects links. A report needs none of these (the export
#: template drops require.js, MathJax and mermaid, figures are inline PNGs), so this is
#: a second wall behind escaping (:mod:`perfmodel.report.render`): should a name ever
#: reach the page as markup, a browser still runs none of it. Styles and images stay
#: allowed (inline CSS, ``data:`` images).
REPORT_CSP = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"


def _add_content_security_policy(html: str) -> str:
    """Put :data:`REPORT_CSP` first in ``<head>`` (before anything that could load)."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}" />'
    return re.sub(r"<head\b[^>]*>", lambda m: f"{m.group(0)}\n{meta}", html, count=1)


def export_html_report(
    executed_notebook: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    *,
    title: str | None = None,
    lang: str = "zh-CN",
) -> Path:
    """Export an executed notebook to a standalone HTML report without code.

    Code inputs, prompts and cells tagged ``parameters``, ``injected-parameters``,
    ``papermill-error-cell-tag`` or ``remove-cell`` are left out; outputs (text,
    tables, embedded PNG figures) and markdown are kept. The page declares UTF-8 and
    *lang*, and uses :data:`REPORT_CSS` (CJK font stack, zebra-striped tables with
    right-aligned numbers). A Content-Security-Policy (:data:`REPORT_CSP`) forbids
    every script. The title is *title*, else the notebook's ``title``
    metadata, else the file stem.
    """
    from nbconvert import HTMLExporter

    src = Path(executed_notebook)
    out = Path(html_path)
    nb = nbformat.read(src, as_version=4)
    config = hide_cells_config()
    config.HTMLExporter.language_code = lang.split("-")[0].lower()
    exporter = HTMLExporter(config=config, template_name="lab")
    exporter.raw_template = _REPORT_TEMPLATE
    resources = {
        "metadata": {"name": title or nb.metadata.get("title") or src.stem},
        "perfmodel_css": REPORT_CSS,
    }
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    # nbconvert only accepts bare ISO 639-1 codes ("zh"); write the full tag ("zh-CN").
    body = re.sub(r"<html\b[^>]*>", f'<html lang="{lang}">', body, count=1)
    if not re.search(r"<meta\s+charset=\"?utf-8", body, flags=re.IGNORECASE):
        body = body.replace("<head>", '<head>\n<meta charset="utf-8" />', 1)
    body = _add_content_security_policy(mark_numeric_cells(body))
    return write_bytes(out, body.encode("utf-8"))


# ------------------------------------------------------------------ determinism

#: pandas gives every ``Styler`` a random 5-hex ``uuid`` used in its table and CSS ids.
_STYLER_UUID = re.compile(r'<table id="T_([0-9a-f]{5})"')
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
_RUN_METADATA = ("start_time", "end_time", "duration")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalise_executed(nb: nbformat.NotebookNode, *, notebook_name: str, executed_name: str) -> None:
    """Remove what differs between two runs of the same notebook on the same inputs.

    Papermill's start and end times and durations, nbclient's execution timing,
    the absolute input/output paths papermill records, the memory addresses in
    ``repr`` texts (``<… at 0x7f…>``) and the random ids pandas gives each
    ``Styler`` table (renumbered ``T_s1``, ``T_s2``… in order of appearance) and
    the random cell ids papermill and nbformat add (``cell-<position>``) are
    replaced in place by fixed values, so the executed notebook and its HTML
    export are byte-identical between reruns. The run time is in the provenance.
    """
    meta = nb.metadata.get("papermill")
    if meta is not None:
        for key in _RUN_METADATA:
            meta.pop(key, None)
        meta["input_path"] = notebook_name
        meta["output_path"] = executed_name
        meta.pop("environment_variables", None)
    renumbered: dict[str, str] = {}
    for position, cell in enumerate(nb.cells):
        if "id" in cell:  # papermill and nbformat's upgrade to 4.5 give cells random ids
            tags = cell.get("metadata", {}).get("tags", [])
            cell["id"] = INJECTED_TAG if INJECTED_TAG in tags else f"cell-{position}"
        cell_meta = cell.get("metadata", {})
        cell_meta.pop("execution", None)
        for key in _RUN_METADATA:
            cell_meta.get("papermill", {}).pop(key, None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                html = _text(data["text/html"])
                for uuid in _STYLER_UUID.findall(html):
                    renumbered.setdefault(uuid, f"s{len(renumbered) + 1}")
                for uuid, fixed in renumbered.items():
                    html = html.replace(f"T_{uuid}", f"T_{fixed}")
                data["text/html"] = html
            if "text/plain" in data:
                data["text/plain"] = _ADDRESS.sub(" at 0x0>", _text(data["text/plain"]))


# ----------------------------------------------------------------------- running


@dataclass(frozen=True)
class NotebookRun:
    """Files produced by :func:`run_notebook`."""

    notebook: Path
    executed_notebook: Path
    html: Path | None
    provenance: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    cwd: Path | None = None
    pdf: Path | None = None
    docx: Path | None = None


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return "(empty cell)"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _own_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The notebook's own cells: without papermill's injected-parameters and error markers."""
    hidden = {INJECTED_TAG, PAPERMILL_ERROR_TAG}
    return [c for c in nb.cells if not hidden & set(c.get("metadata", {}).get("tags", []))]


def _failed_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """First code cell with an error output or marked failed by papermill."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return cell
        if cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            return cell
    return None


def _execution_error(exc: Exception, output: Path, notebook: Path) -> ReportExecutionError:
    """Translate a Papermill/nbclient failure into a :class:`ReportExecutionError`."""
    exec_count = getattr(exc, "exec_count", None)
    source = getattr(exc, "source", None)
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:  # e.g. nbclient's CellTimeoutError / DeadKernelError
        evalue = _first_line(str(exc)) if str(exc).strip() else ""
    traceback = _ANSI.sub("", "\n".join(getattr(exc, "traceback", None) or []))

    nb = None
    if output.is_file():
        with contextlib.suppress(Exception):
            nb = nbformat.read(output, as_version=4)
    if nb is not None and source is None:  # find the cell from the saved notebook
        cell = _failed_cell(nb)
        if cell is not None:
            source, exec_count = cell.source, cell.get("execution_count")
    # Index among the notebook's own cells, as the author sees it (1-based in the message).
    own_index = None
    if nb is not None and source is not None:
        for i, cell in enumerate(_own_cells(nb)):
            if cell.source == source and cell.get("execution_count") == exec_count:
                own_index = i
                break
    where = f"In [{exec_count}]" if exec_count is not None else "a cell"
    if own_index is not None:
        where += f" (cell #{own_index + 1} of {notebook.name})"
    message = (
        f"notebook {notebook} failed in {where}, which starts with: {_first_line(source or '')}\n"
        f"{ename}: {evalue}\n"
        f"The partially executed notebook is kept for inspection at {output}"
    )
    return ReportExecutionError(
        message,
        notebook_path=output,
        cell_index=own_index,
        execution_count=exec_count,
        source=source or "",
        ename=ename,
        evalue=str(evalue),
        traceback=traceback,
    )


def _effective_parameters(specs: Mapping[str, NotebookParameter], given: Mapping[str, Any]) -> dict[str, Any]:
    """Value of every parameter in the run: given values, else the notebook's defaults.

    A default that is not a JSON-like literal is recorded as its source expression.
    """
    effective: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            effective[name] = given[name]
            continue
        try:
            effective[name] = jsonable(spec.default) if spec.is_literal else {"expression": spec.default_source}
        except TypeError:
            effective[name] = {"expression": spec.default_source}
    return effective


def _runs(cell: nbformat.NotebookNode) -> bool:
    """Whether the kernel runs ``cell``: a code cell with source."""
    return cell.cell_type == "code" and bool(cell.source.strip())


def _cell_progress(notebook: Path, *, injected: bool) -> Callable[..., None]:
    """An nbclient ``on_cell_start`` hook that reports ``cell i/n`` (:mod:`perfmodel.progress`).

    nbclient calls it for every cell, markdown ones too; only code cells that have
    source are counted (they are the ones that run). Papermill adds one
    injected-parameters cell when parameters are given.
    """
    nb = nbformat.read(notebook, as_version=4)
    total = sum(1 for cell in nb.cells if _runs(cell)) + int(injected)
    started = 0

    def on_cell_start(*, cell: nbformat.NotebookNode | None = None, **_: Any) -> None:
        nonlocal started
        if cell is not None and not _runs(cell):
            return
        started += 1
        progress.advance("notebook_cell", min(started, total), total, notebook=notebook.stem)

    return on_cell_start


def run_notebook(
    notebook: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    kernel_name: str = "python3",
    export_html: bool = True,
    timeout: float | None = None,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    html_lang: str = "zh-CN",
    provenance_extra: Mapping[str, Any] | None = None,
    formats: Sequence[str] = ("html",),
    running_header: str | None = None,
) -> NotebookRun:
    """Execute a parameterised notebook, export ``report.html`` and write provenance.

    Parameters
    ----------
    notebook
        The ``.ipynb`` to run; it must have one code cell tagged ``parameters``.
    out_dir
        Output folder (created). Receives ``<notebook stem>.ipynb`` (executed),
        ``report.html`` and ``provenance.json``.
    parameters
        Values for the notebook's parameters, checked before the kernel starts
        (see :func:`validate_parameters`).
    cwd
        Working directory of the kernel; defaults to *out_dir*, so relative paths
        written by the notebook land next to the report.
    kernel_name
        Jupyter kernel; it must run this Python environment (:func:`check_kernel`).
    export_html
        Write ``report.html`` (code hidden).
    timeout
        Per-cell time limit in seconds (``None``: no limit).
    inputs
        Extra input files (name -> path) to hash into the provenance record; the
        notebook itself is always recorded as input ``"notebook"``.
    html_lang
        Language tag of the HTML report (``lang`` attribute), e.g. ``"en"``.
    provenance_extra
        Further facts for the provenance record's ``"extra"`` (e.g. that the
        inputs were pseudonymised, with the key's fingerprint).
    formats
        Report formats besides the executed notebook: any of ``html``, ``pdf``
        (``report.pdf``, A4) and ``docx`` (``report.docx``), all from the same
        content (:mod:`perfmodel.report.export`); ``pdf`` and ``docx`` need
        ``export_html``.
    running_header
        Header line of the PDF's pages (default: the notebook's name).

    Raises
    ------
    ReportParameterError, ReportKernelError
        Before anything runs.
    ReportExecutionError
        A cell failed; the partially executed notebook is kept at ``.notebook_path``.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from perfmodel.report.export import check_formats

    nb_path = Path(notebook)
    if not nb_path.is_file():
        raise MissingFileError(f"notebook not found: {nb_path}")
    wanted = check_formats(formats) if export_html else ()
    specs = notebook_parameters(nb_path)
    clean = validate_parameters(specs, dict(parameters or {}), notebook=nb_path.name)
    check_kernel(kernel_name)

    out = Path(out_dir)
    executed = out / f"{nb_path.stem}.ipynb"
    if executed.resolve() == nb_path.resolve():
        raise ReportParameterError(
            f"out_dir {out} would overwrite the source notebook {nb_path}; choose another folder"
        )
    workdir = Path(cwd) if cwd is not None else out
    cell_timeout = None if timeout is None else max(1, math.ceil(timeout))  # nbclient wants int
    all_inputs = {"notebook": nb_path, **dict(inputs or {})}
    for name, path in all_inputs.items():  # fail before running, not after
        if not Path(path).is_file():
            raise MissingFileError(f"input {name!r}: no such file {path}")
    out.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    html_path = out / HTML_NAME
    provenance_path = out / PROVENANCE_NAME
    office = {"pdf": out / PDF_NAME, "docx": out / DOCX_NAME}
    # Never leave a previous run's report beside a new (possibly failing) run.
    for stale in (html_path, provenance_path, *office.values()):
        stale.unlink(missing_ok=True)

    # Hash the inputs before the kernel can touch them; written only after success.
    provenance = build_provenance(
        all_inputs,
        clean,
        extra={
            "notebook": nb_path.name,
            "kernel_name": kernel_name,
            "outputs": {
                "executed_notebook": executed.name,
                "html": HTML_NAME if export_html else None,
                **{fmt: path.name for fmt, path in office.items() if fmt in wanted},
            },
            "effective_parameters": _effective_parameters(specs, clean),
            "timeout_seconds": cell_timeout,
            **dict(provenance_extra or {}),
        },
    )

    progress.step("notebook_start", notebook=nb_path.stem)
    try:
        with _inline_matplotlib_env():
            papermill.execute_notebook(
                str(nb_path),
                str(executed),
                parameters=clean,
                kernel_name=kernel_name,
                cwd=str(workdir),
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout,
                config=kernel_manager_config(kernel_name),
                on_cell_start=_cell_progress(nb_path, injected=bool(clean)),
            )
    except PapermillExecutionError as exc:
        raise _execution_error(exc, executed, nb_path) from exc
    except Exception as exc:
        # Kernel death, cell timeouts and the like surface as nbclient/jupyter errors.
        if type(exc).__module__.split(".")[0] in {"nbclient", "jupyter_client", "papermill"}:
            raise _execution_error(exc, executed, nb_path) from exc
        raise

    nb = nbformat.read(executed, as_version=4)
    normalise_executed(nb, notebook_name=nb_path.name, executed_name=executed.name)
    text = nbformat.writes(nb)
    write_bytes(executed, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    html = None
    if export_html:
        progress.step("exporting", format="HTML")
        html = export_html_report(executed, html_path, lang=html_lang)
    written = _export_office_formats(
        executed, office, wanted, header=running_header or nb_path.stem, lang=html_lang.split("-")[0].lower()
    )
    write_provenance(provenance_path, provenance)
    return NotebookRun(
        notebook=nb_path,
        executed_notebook=executed,
        html=html,
        provenance=provenance_path,
        parameters=clean,
        cwd=workdir,
        pdf=written.get("pdf"),
        docx=written.get("docx"),
    )


def _export_office_formats(
    executed: Path, paths: Mapping[str, Path], wanted: Sequence[str], *, header: str, lang: str
) -> dict[str, Path]:
    """Write the PDF and Word versions of the executed notebook that are ``wanted``."""
    from perfmodel.report.export import export_docx, export_pdf

    written = {}
    if "pdf" in wanted:
        progress.step("exporting", format="PDF")
        written["pdf"] = export_pdf(executed, paths["pdf"], title=header, header=header, lang=lang)
    if "docx" in wanted:
        progress.step("exporting", format="Word")
        written["docx"] = export_docx(executed, paths["docx"])
    return written
