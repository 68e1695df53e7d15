"""A hostile copy of the shipped sample: every name and label an attacker could choose.

Used by ``tests/test_report_escaping.py``. Only names and labels change; numbers,
ids of indicators and frameworks (``[a-z0-9_]``) and the file layout stay those of
``data_samples/`` (``perfmodel sample``), so every notebook runs as on the real
sample. The names are the attacks of ``tests/data/adversarial/hostile_names.txt``:
HTML that runs script (``<script>``, ``onerror``, ``onload``) and Markdown that
would open a link, an image, a heading, emphasis, a table cell or a code span.
"""

from __future__ import annotations

import gzip
import io
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data_samples"
ADVERSARIAL = Path(__file__).resolve().parent / "data" / "adversarial"
NAMES_FILE = ADVERSARIAL / "hostile_names.txt"


def hostile_names() -> list[str]:
    """The attack strings, one per line of ``hostile_names.txt`` (comments start with ``#``)."""
    lines = NAMES_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


class Hostile:
    """Gives each distinct original label a hostile variant: the label followed by an attack.

    The original text stays at the front, so labels stay distinct and sort as before
    (一类 < 二类 < 三类), and each attack is used in turn.
    """

    def __init__(self) -> None:
        self.attacks = hostile_names()
        self.mapping: dict[str, str] = {}

    def __call__(self, label: object) -> object:
        if not isinstance(label, str) or not label:
            return label
        if label not in self.mapping:
            self.mapping[label] = label + self.attacks[len(self.mapping) % len(self.attacks)]
        return self.mapping[label]


#: units.csv columns whose values are names or group labels (peer groups, fairness and
#: disaggregation attributes, districts/areas).
LABEL_COLUMNS = ("name", "district", "station_class", "station_type", "area_type", "gender", "age_band", "tenure_band")
#: Stations whose id is made hostile too (with their officers, in every file).
HOSTILE_ID_STATIONS = 2


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.to_csv(index=False, lineterminator="\n")
    if path.name.endswith(".gz"):
        with gzip.GzipFile(path, "wb", mtime=0) as handle:
            handle.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


def _map_columns(frame: pd.DataFrame, columns: Iterable[str], mapping: Callable[[object], object]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = frame[column].map(mapping)
    return frame


def hostile_framework(source: Path, out: Path, label: Hostile, station_class: Hostile) -> Path:
    """A copy of a framework YAML with hostile names (framework, dimensions, indicators, lists).

    Difficulty coefficients are re-keyed by the hostile ``station_class`` labels, so
    they still apply. Ids stay as they are.
    """
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "name" and isinstance(value, dict):
                    node[key] = {lang: label(text) for lang, text in value.items()}
                elif key == "training_topic" and isinstance(value, str):
                    node[key] = label(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(raw)
    difficulty = raw.get("difficulty")
    if difficulty and difficulty.get("by") == "station_class":
        difficulty["coefficients"] = {station_class(k): v for k, v in difficulty["coefficients"].items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def build_hostile_sample(out: Path, stations: int = 24) -> dict[str, Path]:
    """The first *stations* stations of ``data_samples/`` (with their officers), all names hostile.

    Returns the paths: ``units``, ``station_observations``, ``observations`` (folder),
    ``collaborations``, ``framework`` (hostile ``station_four_dimension``),
    ``targets`` (hostile reform targets) and ``mapping`` (original → hostile label).
    """
    units = _read(SAMPLE / "units.csv")
    station_ids = units.loc[units["level"] == "station", "unit_id"].head(stations).tolist()
    keep = units["unit_id"].isin(station_ids) | units["parent_id"].isin(station_ids)
    units = units[keep].reset_index(drop=True)

    attacks = hostile_names()
    new_station = {sid: sid + attacks[i % len(attacks)] for i, sid in enumerate(station_ids[:HOSTILE_ID_STATIONS])}

    def unit_id(value: object) -> object:
        text = str(value)
        for old, new in new_station.items():
            if text == old or text.startswith(old + "-"):
                return new + text[len(old) :]
        return value

    label = Hostile()
    station_class = Hostile()
    units = _map_columns(units, ["unit_id", "parent_id"], unit_id)
    units["station_class"] = units["station_class"].map(station_class)
    units = _map_columns(units, [c for c in LABEL_COLUMNS if c != "station_class"], label)
    # districts are also the stations' parents: parent_id keeps naming the same (hostile) district
    units["parent_id"] = units["parent_id"].map(lambda p: label.mapping.get(p, p))

    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"units": out / "units.csv"}
    _write(units, paths["units"])
    kept = set(units["unit_id"])
    for source in sorted((SAMPLE / "observations").glob("*.csv.gz")):
        obs = _map_columns(_read(source), ["unit_id", "rater_id"], unit_id)
        _write(obs[obs["unit_id"].isin(kept)], out / "observations" / source.name)
    paths["observations"] = out / "observations"
    paths["station_observations"] = out / "station_observations.csv.gz"
    shutil.copyfile(paths["observations"] / "station_four_dimension.csv.gz", paths["station_observations"])
    collab = _map_columns(_read(SAMPLE / "collaborations.csv"), ["station", "officer_id"], unit_id)
    paths["collaborations"] = out / "collaborations.csv"
    _write(collab[collab["station"].isin(kept)], paths["collaborations"])

    framework_source = REPO / "perfmodel" / "frameworks" / "station_four_dimension.yaml"
    paths["framework"] = hostile_framework(
        framework_source, out / "hostile_station_four_dimension.yaml", label, station_class
    )
    targets = yaml.safe_load((REPO / "perfmodel" / "data" / "reform_targets.yaml").read_text(encoding="utf-8"))
    targets["name"] = {k: label(v) for k, v in targets["name"].items()}
    for target in targets["targets"]:
        target["name"] = {k: label(v) for k, v in target["name"].items()}
    paths["targets"] = out / "hostile_reform_targets.yaml"
    paths["targets"].write_text(yaml.safe_dump(targets, allow_unicode=True, sort_keys=False), encoding="utf-8")
    paths["mapping"] = out / "hostile_mapping.csv"
    mapping = {**label.mapping, **station_class.mapping, **new_station}
    _write(pd.DataFrame({"original": list(mapping), "hostile": list(mapping.values())}), paths["mapping"])
    return paths


def read_gz_text(path: Path) -> str:
    """Text of a gzip file (for checks)."""
    with gzip.open(path, "rb") as handle:
        return io.TextIOWrapper(handle, encoding="utf-8").read()
