"""environment.yml (conda) and pyproject.toml (pip) must describe the same environment."""

from __future__ import annotations

import re
import tomllib

import yaml


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_packages_as_pyproject(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    pip_names |= {_name(r) for r in project["optional-dependencies"]["test"]}
    env = yaml.safe_load((repo_root / "environment.yml").read_text(encoding="utf-8"))
    conda_names: set[str] = set()
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            conda_names |= {_name(r) for r in entry["pip"] if not r.startswith("-e")}
        else:
            conda_names.add(_name(entry))
    conda_names -= {"python", "pip"}
    assert conda_names == pip_names, (
        f"only in environment.yml: {sorted(conda_names - pip_names)}; "
        f"only in pyproject.toml: {sorted(pip_names - conda_names)}"
    )


def test_version_floors_agree(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {_name(r): r.split(">=")[1] for r in project["dependencies"] if ">=" in r}
    env = yaml.safe_load((repo_root / "environment.yml").read_text(encoding="utf-8"))
    for entry in env["dependencies"]:
        if isinstance(entry, str) and ">=" in entry and _name(entry) in floors:
            assert entry.split(">=")[1] == floors[_name(entry)], entry
