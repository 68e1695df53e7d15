"""The top-level API of ``perfmodel``: lazily imported names, the version, a light import."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import tomllib

import pytest

import perfmodel
from perfmodel._lazy import stub_exports

HEAVY = ("matplotlib", "statsmodels", "sklearn", "papermill", "nbformat")
"""Libraries that only some functions need; ``import perfmodel`` must not load them."""


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter and return the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = """
import json, sys
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or m.startswith("perfmodel."))
print(json.dumps({{"loaded": loaded, "pandas": "pandas" in sys.modules}}))
"""


EXPORTS = stub_exports(perfmodel.__file__)
"""Public name → defining module, as declared (once) in ``perfmodel/__init__.pyi``."""

PACKAGES = [
    "perfmodel",
    "perfmodel.audit",
    "perfmodel.calibrate",
    "perfmodel.design",
    "perfmodel.monitor",
    "perfmodel.report",
]


def test_all_lists_exactly_the_lazily_exported_names():
    assert len(perfmodel.__all__) == len(set(perfmodel.__all__))
    assert set(perfmodel.__all__) == set(EXPORTS)


@pytest.mark.parametrize("name", perfmodel.__all__)
def test_every_public_name_is_the_object_its_module_defines(name):
    defining = importlib.import_module(f"perfmodel.{EXPORTS[name]}")
    assert getattr(perfmodel, name) is getattr(defining, name)
    assert name in vars(perfmodel)  # resolved once, then cached in the package


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_a_package_stub_declares_resolves_to_its_module(package):
    pkg = importlib.import_module(package)
    declared = stub_exports(pkg.__file__)
    assert declared and sorted(pkg.__all__) == sorted(declared)
    for name, module in declared.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(f"{package}.{module}"), name), name
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        pkg.no_such_name  # noqa: B018


def test_a_name_added_to_a_stub_is_exported_lazily(tmp_path, monkeypatch):
    pkg = tmp_path / "stubbed"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from perfmodel._lazy import attach_stub\n__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)\n",
        encoding="utf-8",
    )
    (pkg / "__init__.pyi").write_text("from .mod import answer as answer\n", encoding="utf-8")
    (pkg / "mod.py").write_text("answer = 42\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    stubbed = importlib.import_module("stubbed")
    assert stubbed.__all__ == ["answer"] and "stubbed.mod" not in sys.modules
    assert stubbed.answer == 42 and "stubbed.mod" in sys.modules
    for name in ("stubbed", "stubbed.mod"):
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize("name", perfmodel.__all__)
def test_no_public_name_shadows_a_module(name):
    # perfmodel.simulate must stay the module, not become the function of the same name
    assert importlib.util.find_spec(f"perfmodel.{name}") is None


def test_sub_packages_are_attributes_and_unknown_names_are_errors():
    assert perfmodel.audit is sys.modules["perfmodel.audit"]
    assert perfmodel.simulate is sys.modules["perfmodel.simulate"]
    assert {"audit", "calibrate", "design", "report", "evaluation"} <= set(dir(perfmodel))
    assert set(perfmodel.__all__) <= set(dir(perfmodel))
    assert "frameworks" not in dir(perfmodel)  # YAML folder, not a module
    with pytest.raises(AttributeError, match="no attribute 'score_units'"):
        perfmodel.score_units  # noqa: B018
    assert not hasattr(perfmodel, "_missing_private_name")


def test_import_perfmodel_loads_no_submodule_and_no_heavy_library():
    result = _run("import perfmodel\n" + LOADED.format(heavy=set(HEAVY)))
    assert result["loaded"] == ["perfmodel._lazy"]  # the small adapter of lazy_loader behind the lazy names
    assert result["pandas"] is False


def test_scoring_entry_points_need_neither_plotting_nor_model_libraries():
    code = (
        "import perfmodel\n"
        "perfmodel.load_framework, perfmodel.read_inputs, perfmodel.evaluate_files, perfmodel.Settings\n"
        + LOADED.format(heavy=set(HEAVY))
    )
    loaded = _run(code)["loaded"]
    assert "perfmodel.evaluation" in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY], loaded


def test_version_is_the_one_in_pyproject(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert perfmodel.__version__ == project["version"], (
        "installed metadata is stale: reinstall the package (pip install -e .) after changing the version"
    )


def test_version_falls_back_when_the_package_is_not_installed():
    code = (
        "import importlib.metadata as md, json\n"
        "def missing(name):\n"
        "    raise md.PackageNotFoundError(name)\n"
        "md.version = missing\n"
        "import perfmodel\n"
        "print(json.dumps({'version': perfmodel.__version__, 'fallback': perfmodel.FALLBACK_VERSION}))\n"
    )
    result = _run(code)
    assert result["version"] == result["fallback"] != perfmodel.__version__
