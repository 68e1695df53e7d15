"""Chinese (CJK) font support for matplotlib figures in reports.

The reports are written in Chinese, and matplotlib's bundled DejaVu fonts have no
CJK glyphs: without a CJK font every Chinese character is drawn as an empty box
("tofu") and matplotlib emits ``Glyph ... missing from font(s)`` warnings.

perfmodel depends on the ``pylopdf-fonts-zh-cn`` wheel, which ships Noto Sans SC
(SIL Open Font License 1.1). :func:`use_cjk_font` registers that file with
matplotlib's font manager directly, so figures render the same on every machine,
whatever fonts the operating system has installed.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import matplotlib
from matplotlib import font_manager

from perfmodel.errors import PerfmodelError

__all__ = [
    "CJK_FONT_FAMILY",
    "CJKFontNotFoundError",
    "LATIN_FALLBACK_FAMILY",
    "cjk_font_path",
    "use_cjk_font",
]

#: Distribution that ships the font, as given to ``pip install``.
FONT_DISTRIBUTION = "pylopdf-fonts-zh-cn"
#: Import package inside that distribution.
FONT_PACKAGE = "pylopdf_fonts_zh_cn"
#: File name of the font inside :data:`FONT_PACKAGE`.
FONT_FILE = "NotoSansSC-Regular.otf"
#: Family name matplotlib reads from the font file.
CJK_FONT_FAMILY = "Noto Sans SC"
#: Font used for glyphs Noto Sans SC lacks (matplotlib's bundled default).
LATIN_FALLBACK_FAMILY = "DejaVu Sans"

_lock = threading.Lock()


class CJKFontNotFoundError(PerfmodelError, FileNotFoundError):
    """The Noto Sans SC font file could not be found."""


def cjk_font_path() -> Path:
    """Return the path of ``NotoSansSC-Regular.otf`` from the installed font package.

    Raises
    ------
    CJKFontNotFoundError
        If ``pylopdf-fonts-zh-cn`` is not installed or does not contain the font.
    """
    fix = (
        f"Install it into this environment with `python -m pip install {FONT_DISTRIBUTION}` "
        "(it is a dependency of perfmodel, so `pip install -e .` or `make venv` also installs it)."
    )
    try:
        package_root = resources.files(FONT_PACKAGE)
    except ModuleNotFoundError as exc:
        raise CJKFontNotFoundError(
            f"The Chinese font package {FONT_PACKAGE!r} is not installed, so report figures "
            f"cannot render Chinese text. {fix}"
        ) from exc
    resource = package_root.joinpath(FONT_FILE)
    # The wheel installs as a plain directory, so the resource is a real file; a zipped
    # install would hand back a non-filesystem Traversable that matplotlib cannot open.
    path = Path(str(resource))
    if not isinstance(resource, Path) or not path.is_file():
        raise CJKFontNotFoundError(
            f"{FONT_FILE} was not found as a file inside the installed package {FONT_PACKAGE!r} "
            f"(looked at {resource}). Reinstall it: `python -m pip install --force-reinstall "
            f"{FONT_DISTRIBUTION}`."
        )
    return path


def _is_registered(path: Path) -> bool:
    target = str(path)
    return any(entry.fname == target for entry in font_manager.fontManager.ttflist)


def use_cjk_font() -> str:
    """Make matplotlib draw sans-serif text with Noto Sans SC; return the family name.

    * registers the font file with ``matplotlib.font_manager.fontManager`` (once);
    * puts ``"Noto Sans SC"`` first and ``"DejaVu Sans"`` second in
      ``rcParams["font.sans-serif"]`` (matplotlib falls back glyph by glyph, so
      characters Noto Sans SC lacks are taken from DejaVu Sans), and selects the
      ``sans-serif`` family;
    * sets ``axes.unicode_minus = False`` so negative numbers use an ASCII hyphen.

    Calling it again is harmless: the font is registered once and the family list
    is not duplicated.
    """
    path = cjk_font_path()
    with _lock:
        if not _is_registered(path):
            font_manager.fontManager.addfont(str(path))
        family = font_manager.FontProperties(fname=str(path)).get_name()
        rc = matplotlib.rcParams
        preferred = [family, LATIN_FALLBACK_FAMILY]
        rest = [name for name in rc["font.sans-serif"] if name not in preferred]
        rc["font.sans-serif"] = preferred + rest
        rc["font.family"] = ["sans-serif"]
        rc["axes.unicode_minus"] = False
    return family
