"""A national world simulated city by city and written as partitioned Parquet, in bounded memory.

:func:`generate_national` (``perfmodel sample --officers N --provinces N --format
parquet``) simulates a nation of ``provinces`` provinces, each made of
prefecture-level cities, for the benchmarks of the columnar core and the
partitioned evaluation. A city is one world of :mod:`perfmodel.simulate` (the same
generating process, indicators, truth and observation contract as the shipped
sample, with its own random streams); the nation is never held in memory:

1. For each province, for each of its cities (at most :data:`CITY_STATIONS`
   stations), the city's world is built and its observations for every month are
   generated with numpy (one city × year block at a time).
2. The block is cut by month into Arrow tables and appended to the open writer of
   its partition ``observations/province=P01/month=2025-01/part-0.parquet``; a
   writer flushes a row group every ``row_group_size`` rows. The province's writers
   are closed before the next province starts.
3. The units (with ``province`` and ``city`` columns) and their truth go to
   ``units.parquet`` and ``truth_units.parquet`` the same way.

Peak memory is therefore set by the size of a city (and ``row_group_size`` rows per
month of a province), not by the number of provinces or officers.

Unit ids are made unique across the nation by the city's prefix: station
``P01-C02-PS001``, officer ``P01-C02-PS001-M07``, district ``P01-C02-D01``. The data
are clean (no injected defects, no missing unit-months), so every row passes
validation. Same arguments and seed → byte-identical files (fixed writer options,
no timestamps in the files).

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     paths = generate_national(folder, officers=200, provinces=2, months=1, start="2025-01", rng=1)
...     sorted(p.relative_to(folder).as_posix() for p in paths["observations"])
['observations/province=P01/month=2025-01/part-0.parquet', 'observations/province=P02/month=2025-01/part-0.parquet']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from perfmodel.columns import NUMERIC_CONTEXT
from perfmodel.framework import Framework, load_framework
from perfmodel.periods import parse_month
from perfmodel.randomness import RngLike, seed_from
from perfmodel.simulate import (
    EFFECTS,
    TRUTH_UNIT_COLUMNS,
    UNIT_COLUMNS,
    SimulationError,
    _build_world,
    _framework_hash,
    _observations,
    _specs,
    _truth_units,
    _version,
    _World,
)

__all__ = [
    "CITY_STATIONS",
    "NATIONAL_UNIT_COLUMNS",
    "OFFICERS_PER_STATION",
    "PARQUET_OPTIONS",
    "generate_national",
]

OFFICERS_PER_STATION = 50
"""Officers per station when ``stations_per_province`` is not given: the nation's
2 million officers in about 40,000 stations (issue 13)."""

CITY_STATIONS = 200
"""Most stations simulated as one world (a prefecture-level city); a province has
as many cities as it needs. It bounds the memory of the generator."""

NATIONAL_UNIT_COLUMNS: list[str] = [*UNIT_COLUMNS, "province", "city"]
"""Columns of ``units.parquet``: the sample's units columns, then the province and city."""

PARQUET_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}
"""Writer options of every file (fixed, so that files are byte-identical for a seed;
statistics let a reader skip row groups by ``period``)."""


def _schemas() -> dict[str, object]:
    import pyarrow as pa

    text = pa.string()
    return {
        "observations": pa.schema(
            [
                ("period", text),
                ("unit_id", text),
                ("indicator", text),
                ("value", pa.float64()),
                ("numerator", pa.int64()),
                ("denominator", pa.int64()),
                ("rater_id", text),
                ("submitted_at", text),
            ]
        ),
        "units": pa.schema([(c, pa.int64() if c in NUMERIC_CONTEXT else text) for c in NATIONAL_UNIT_COLUMNS]),
        "truth_units": pa.schema([(c, pa.float64() if c.startswith("true_") else text) for c in TRUTH_UNIT_COLUMNS]),
    }


class _Sink:
    """One Parquet file written in row groups of ``row_group_size`` rows, appended table by table."""

    def __init__(self, path: Path, schema: object, row_group_size: int) -> None:
        self.path, self.schema, self.size = path, schema, row_group_size
        self.pending: list = []
        self.rows = 0
        self.written = 0
        self.writer = None

    def append(self, table: object) -> None:
        self.pending.append(table)
        self.rows += table.num_rows  # type: ignore[attr-defined]
        if self.rows >= self.size:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, self.schema, **PARQUET_OPTIONS)
        table = pa.concat_tables(self.pending)
        cut = table.num_rows if final else table.num_rows - table.num_rows % self.size
        if cut:
            self.writer.write_table(table.slice(0, cut), row_group_size=self.size)
        self.pending = [table.slice(cut)] if cut < table.num_rows else []
        self.rows = table.num_rows - cut
        self.written += cut

    def close(self) -> int:
        """Write what is left and close the file; the number of rows written."""
        if self.pending or self.writer is None:
            self.pending = self.pending or [self.schema.empty_table()]  # type: ignore[attr-defined]
            self._flush(final=True)
        self.writer.close()  # type: ignore[union-attr]
        return self.written


@dataclass(frozen=True)
class _Layout:
    """How the nation is divided: stations per province, their cities, officers per station."""

    provinces: int
    stations_per_province: int
    officers_per_station: int
    city_sizes: tuple[int, ...]

    @classmethod
    def plan(cls, officers: int, provinces: int, stations_per_province: int | None) -> _Layout:
        for name, value in (("officers", officers), ("provinces", provinces)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise SimulationError(f"{name} must be an integer >= 1, got {value!r}")
        if provinces > 99:
            raise SimulationError(f"provinces must be at most 99, got {provinces}")
        stations = stations_per_province or max(1, round(officers / provinces / OFFICERS_PER_STATION))
        if not isinstance(stations, (int, np.integer)) or stations < 1:
            raise SimulationError(f"stations_per_province must be an integer >= 1, got {stations_per_province!r}")
        per_station = round(officers / (provinces * stations))
        if not 1 <= per_station <= 99:
            raise SimulationError(
                f"{officers} officers in {provinces} × {stations} stations is {officers / (provinces * stations):.2f} "
                "officers a station; give between 1 and 99 officers a station (change stations_per_province)"
            )
        n_cities = -(-stations // CITY_STATIONS)
        sizes = tuple(int(s) for s in np.diff(np.linspace(0, stations, n_cities + 1).round().astype(int)))
        return cls(provinces, int(stations), int(per_station), sizes)


def _city_seed(seed: int, province: int, city: int) -> int:
    """The seed of one city's world, from the nation's seed (independent streams per city)."""
    digest = hashlib.sha256(f"{seed}\x1fnational\x1f{province}\x1f{city}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _rename(world: _World, prefix: str) -> pd.DataFrame:
    """Prefix the world's unit and district ids with ``prefix`` (in place); its units table."""
    world.stations.ids = (prefix + pd.Series(world.stations.ids, dtype=object)).to_numpy(dtype=object)
    world.officers.ids = (prefix + pd.Series(world.officers.ids, dtype=object)).to_numpy(dtype=object)
    units = world.units.copy()
    for column in ("unit_id", "parent_id", "district"):
        units[column] = prefix + units[column]
    world.units = units
    return units


def _observation_tables(obs: pd.DataFrame, prefix: str, periods: list[str]) -> dict[str, object]:
    """A city's observations (sorted by month first) as one Arrow table per month."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = _schemas()["observations"]
    raters = obs["rater_id"].astype("string")
    foreign = raters.notna() & ~raters.str.startswith(prefix, na=False)  # district supervisors: D01-S2
    raters = raters.where(~foreign, prefix + raters)
    stamps = pa.array(obs["submitted_at"].to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"))
    table = pa.table(
        {
            "period": pa.array(obs["period"].to_numpy(dtype=object), type=pa.string()),
            "unit_id": pa.array(obs["unit_id"].to_numpy(dtype=object), type=pa.string()),
            "indicator": pa.array(obs["indicator"].to_numpy(dtype=object), type=pa.string()),
            "value": pa.array(obs["value"].to_numpy(dtype=float), type=pa.float64()),
            "numerator": pa.array(obs["numerator"], type=pa.int64()),
            "denominator": pa.array(obs["denominator"], type=pa.int64()),
            "rater_id": pa.array(raters, type=pa.string()),
            "submitted_at": pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S"),
        },
        schema=schema,
    )
    bounds = np.searchsorted(obs["period"].to_numpy(dtype=object), periods + ["~"], side="left")
    return {p: table.slice(bounds[k], bounds[k + 1] - bounds[k]) for k, p in enumerate(periods)}


def _frame_table(frame: pd.DataFrame, schema: object) -> object:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False).replace_schema_metadata(None)


def generate_national(
    out: str | Path,
    *,
    officers: int,
    provinces: int,
    stations_per_province: int | None = None,
    months: int = 12,
    start: str = "2025-01",
    framework: str | Path | Framework = "station_four_dimension",
    rng: RngLike = None,
    row_group_size: int = 122_880,
) -> dict[str, object]:
    """Simulate a nation province by province, city by city, and write it as partitioned Parquet.

    Parameters
    ----------
    out
        Output folder (created if needed).
    officers
        Officers in the nation (``officers / provinces / stations_per_province``,
        rounded, per station; the number simulated is written in ``parameters.json``).
    provinces
        Number of provinces, ``P01`` … (at most 99).
    stations_per_province
        Stations per province; default ``officers / provinces /``
        :data:`OFFICERS_PER_STATION`. A province is split into cities of at most
        :data:`CITY_STATIONS` stations.
    months, start
        Months covered, from ``start`` (``YYYY-MM``).
    framework
        The framework observed (a shipped id, a YAML path or a :class:`Framework`):
        its stations, or its officers of the framework's role.
    rng
        Seed of every stream (an int gives byte-identical files); recorded in
        ``parameters.json``.
    row_group_size
        Rows per Parquet row group (the last of a file may be smaller).

    Returns
    -------
    dict
        ``observations`` (list of partition files), ``units``, ``truth_units``,
        ``parameters`` (paths), and ``rows`` (province → month → rows written).

    Raises
    ------
    SimulationError
        For sizes that cannot be simulated (see :class:`_Layout`), a bad ``start`` or
        ``row_group_size``, or an officer framework whose role has no officers.
    """
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    layout = _Layout.plan(officers, provinces, stations_per_province)
    if not isinstance(months, (int, np.integer)) or months < 1:
        raise SimulationError(f"months must be an integer >= 1, got {months!r}")
    if not isinstance(row_group_size, (int, np.integer)) or row_group_size < 1:
        raise SimulationError(f"row_group_size must be an integer >= 1, got {row_group_size!r}")
    seed = seed_from(rng)
    first = parse_month(start)
    month_list = list(pd.period_range(first, periods=months, freq="M"))
    periods = [str(m) for m in month_list]
    folder = Path(out)
    schemas = _schemas()
    specs = _specs(fw)
    units_sink = _Sink(folder / "units.parquet", schemas["units"], row_group_size)
    truth_sink = _Sink(folder / "truth_units.parquet", schemas["truth_units"], row_group_size)
    files: list[Path] = []
    rows: dict[str, dict[str, int]] = {}
    for p in range(1, layout.provinces + 1):
        province = f"P{p:02d}"
        sinks = {
            m: _Sink(
                folder / "observations" / f"province={province}" / f"month={m}" / "part-0.parquet",
                schemas["observations"],
                row_group_size,
            )
            for m in periods
        }
        for c, size in enumerate(layout.city_sizes, start=1):
            world = _build_world(
                seed=_city_seed(seed, p, c),
                n_stations=size,
                months=month_list,
                officers_per_station=layout.officers_per_station,
                confounding=True,
                effects=EFFECTS,
            )
            prefix = f"{province}-C{c:02d}-"
            units = _rename(world, prefix).assign(province=province, city=f"{province}-C{c:02d}")
            units_sink.append(_frame_table(units, schemas["units"]))
            obs, _, _ = _observations(world, fw, specs, {}, 0.0, {})
            for m, table in _observation_tables(obs, prefix, periods).items():
                sinks[m].append(table)
            truth_sink.append(_frame_table(_truth_units(world, fw), schemas["truth_units"]))
            del world, obs, units
        rows[province] = {m: sink.close() for m, sink in sinks.items()}
        files += [sink.path for sink in sinks.values()]
    units_sink.close()
    truth_sink.close()
    total_officers = layout.provinces * layout.stations_per_province * layout.officers_per_station
    parameters = {
        "generator": "perfmodel.simulate_national.generate_national",
        "perfmodel_version": _version(),
        "seed": seed,
        "officers": total_officers,
        "provinces": layout.provinces,
        "stations_per_province": layout.stations_per_province,
        "officers_per_station": layout.officers_per_station,
        "cities_per_province": len(layout.city_sizes),
        "months": months,
        "start": str(first),
        "framework": {"id": fw.id, "version": fw.version, "sha256": _framework_hash(fw)},
        "row_group_size": row_group_size,
        "rows": sum(sum(r.values()) for r in rows.values()),
        "command": (
            f"perfmodel sample --out <folder> --format parquet --officers {officers} --provinces {provinces} "
            f"--months {months} --start {first} --seed {seed}"
        ),
    }
    text = json.dumps(parameters, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (folder / "parameters.json").write_text(text, encoding="utf-8")
    return {
        "observations": files,
        "units": units_sink.path,
        "truth_units": truth_sink.path,
        "parameters": folder / "parameters.json",
        "rows": rows,
    }
