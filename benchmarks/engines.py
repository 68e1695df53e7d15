"""Benchmark: the columnar engines (DuckDB, Polars) beside ``perfmodel score`` on the same files.

Run with ``python benchmarks/engines.py`` (``--rows 1000000 5000000`` by default);
``--record`` writes the table into ``benchmarks/results/engines.md`` (``make bench``
passes it). ``--formats csv.gz`` times one format only; ``--data DIR`` keeps the
generated files in ``DIR/ROWS/`` and reuses them on the next run, so that a before /
after comparison reads the same files. Not part of the test suite.

The data: synthetic stations × 12 months (2024-07 … 2025-06) × the 12 input
indicators of ``station_four_dimension``, generated inside DuckDB (no frame of the
whole file in Python) and written once as gzipped CSV and once as Parquet; about
one row in 1,000 carries a fault (a value that is not a number, a numerator above
its denominator, an unknown unit, a duplicate row) so that the quarantine is not
empty.

Timed, each in its own process, one after the other (never two at once):

- ``duckdb`` and ``polars``: read → the row-level checks of
  :mod:`perfmodel.validation` as vectorised expressions (missing key, bad period,
  unknown unit / indicator, non-numeric, non-finite and absurd numbers, missing
  value, negative count, zero denominator, numerator above denominator,
  inconsistent rate, rate out of range, duplicate key; one reason per row in the
  same precedence, the quarantine materialised) → roll-up of the quarter 2025Q2
  (rates Σnumerator/Σdenominator, means otherwise) → min-max per indicator (turned
  round for lower-is-better) → weighted sum with the framework's effective weights
  → rank. Polars runs lazily with the streaming engine.
- ``perfmodel score``: today's command (pandas), full validation and evaluation.

Each child reports its wall time and peak resident memory (``getrusage`` of the
process, or of its own child for ``perfmodel score``). The load average and the
machine are recorded with the table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _results import load_average, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "engines.md"
FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"
MONTHS = [f"2024-{m:02d}" for m in range(7, 13)] + [f"2025-{m:02d}" for m in range(1, 7)]
QUARTER = ["2025-04", "2025-05", "2025-06"]
MEMORY_LIMIT = "4GB"
"""Memory limit given to the engines (the machine is shared)."""


def _framework() -> tuple[dict[str, str], dict[str, float], dict[str, str], dict[str, tuple[float, float]]]:
    """Input kinds, effective weights, directions and declared ranges of the framework."""
    from perfmodel.framework import load_framework

    fw = load_framework(FRAMEWORK)
    kinds = dict(fw.input_indicators())
    weights = {k: float(v) for k, v in fw.effective_weights().items()}
    directions = {i.id: i.direction for i in fw.indicators()}
    ranges = {i.id: i.range for i in fw.indicators() if i.range is not None}
    return kinds, weights, directions, ranges


# ----------------------------------------------------------------------------- data
def write_files(
    folder: Path,
    rows: int,
    seed: float = 0.25,
    *,
    months: list[str] = MONTHS,
    formats: tuple[str, ...] = ("csv.gz", "parquet"),
) -> dict[str, Path]:
    """Units table, observations as .csv.gz and/or .parquet, with about ``rows`` rows over ``months``."""
    import duckdb

    kinds, *_ = _framework()
    n_stations = -(-rows // (len(months) * len(kinds)))
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{MEMORY_LIMIT}'; SET threads=2; SELECT setseed({seed})")
    con.execute(
        "CREATE TABLE units AS SELECT printf('S%06d', i) AS unit_id, printf('S%06d', i) AS name, "
        "'station' AS level, '' AS parent_id, ['一类', '二类', '三类'][1 + i % 3] AS station_class, "
        "CASE WHEN i % 10 = 0 THEN '治安派出所' ELSE '地区派出所' END AS station_type, "
        "['城区核心', '城乡结合部', '农村'][1 + (i // 3) % 3] AS area_type, "
        "(5000 + (i * 7919) % 115000) AS population, "
        f"(20 + (i * 31) % 880) AS incident_volume, (6 + i % 54) AS officers FROM range({n_stations}) t(i)"
    )
    kind_rows = ", ".join(f"('{k}', '{v}')" for k, v in kinds.items())
    month_rows = ", ".join(f"('{m}')" for m in months)
    con.execute(
        f"""
        CREATE VIEW obs AS
        WITH grid AS (
            SELECT m.period, u.unit_id, k.indicator, k.kind,
                   row_number() OVER () AS rn, random() AS r1, random() AS r2, random() AS r3
            FROM (VALUES {month_rows}) m(period), units u, (VALUES {kind_rows}) k(indicator, kind)
        ), base AS (
            SELECT *, floor(20 + 180 * r1) AS den FROM grid
        ), figures AS (
            SELECT *, CASE WHEN kind = 'rate' THEN floor(den * (0.8 + 0.2 * r2)) END AS num FROM base
        )
        SELECT period,
               CASE WHEN rn % 997 = 3 THEN 'X' || unit_id ELSE unit_id END AS unit_id,
               indicator,
               CASE WHEN rn % 1009 = 5 THEN 'n/a'
                    WHEN kind = 'rate' THEN CAST(num / den AS VARCHAR)
                    WHEN kind = 'count' THEN CAST(floor(-ln(1 - r3) * 1.0) AS VARCHAR)
                    WHEN kind = 'duration' THEN CAST(round(1 + 10 * r3, 1) AS VARCHAR)
                    ELSE CAST(round(60 + 40 * r3, 1) AS VARCHAR) END AS value,
               CASE WHEN kind = 'rate' THEN CASE WHEN rn % 1013 = 7 THEN den + 5 ELSE num END END AS numerator,
               CASE WHEN kind = 'rate' THEN den END AS denominator,
               NULL::VARCHAR AS rater_id,
               '2025-07-10 10:00:00' AS submitted_at
        FROM figures
        """
    )
    con.execute(
        "CREATE VIEW obs_all AS SELECT * FROM obs UNION ALL "
        "SELECT * FROM obs WHERE unit_id = 'S000001' AND period = '2025-04' AND indicator = 'discipline_score'"
    )
    out = {
        "units": folder / "units.csv",
        "csv.gz": folder / "observations.csv.gz",
        "parquet": folder / "observations.parquet",
    }
    con.execute(f"COPY units TO '{out['units']}' (HEADER)")
    con.execute(f"COPY (SELECT * FROM obs_all) TO '{out['parquet']}' (FORMAT parquet, ROW_GROUP_SIZE 250000)")
    if "csv.gz" in formats:
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{out['parquet']}')) TO '{out['csv.gz']}' (HEADER, COMPRESSION gzip)"
        )
    con.close()
    return out


# ----------------------------------------------------------------------------- the direct cores
REASON_ORDER = (
    "blank_row",
    "missing_key",
    "bad_period",
    "unknown_indicator",
    "unknown_unit",
    "non_numeric",
    "non_finite",
    "absurd_value",
    "missing_value",
    "duplicate_key",
    "negative_count",
    "zero_denominator",
    "numerator_gt_denominator",
    "inconsistent_rate",
    "rate_out_of_range",
)


def run_duckdb(observations: Path, units: Path) -> dict[str, object]:
    """Read, validate, roll up, normalise, weight and rank in DuckDB; counts of the result."""
    import duckdb

    kinds, weights, directions, _ = _framework()
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{MEMORY_LIMIT}'; SET threads=2; SET preserve_insertion_order=false")
    columns = "period, unit_id, indicator, value, numerator, denominator, rater_id, submitted_at"
    if observations.suffix == ".parquet":
        source = f"read_parquet('{observations}')"
    else:
        source = f"read_csv('{observations}', all_varchar=true, header=true)"
    con.execute(
        f"CREATE TEMP TABLE meta AS SELECT * FROM (VALUES {', '.join(f'({k!r}, {v!r})' for k, v in kinds.items())}) "
        "t(indicator, kind)"
    )
    con.execute(
        "CREATE TEMP TABLE unit_ids AS SELECT DISTINCT trim(unit_id) AS unit_id "
        f"FROM read_csv('{units}', all_varchar=true)"
    )
    number = "CAST({0} AS VARCHAR)"
    con.execute(
        f"""
        CREATE TEMP VIEW typed AS
        SELECT row_number() OVER () + 1 AS row, nullif(trim(CAST(period AS VARCHAR)), '') AS period,
               nullif(trim(CAST(unit_id AS VARCHAR)), '') AS unit_id,
               nullif(trim(CAST(indicator AS VARCHAR)), '') AS indicator,
               nullif(trim({number.format("value")}), '') AS value_text,
               nullif(trim({number.format("numerator")}), '') AS numerator_text,
               nullif(trim({number.format("denominator")}), '') AS denominator_text,
               nullif(trim(CAST(rater_id AS VARCHAR)), '') AS rater_id
        FROM (SELECT {columns} FROM {source})
        """
    )
    con.execute(
        """
        CREATE TEMP VIEW parsed AS
        SELECT t.*, m.kind, u.unit_id IS NOT NULL AS known_unit,
               TRY_CAST(value_text AS DOUBLE) AS v, TRY_CAST(numerator_text AS DOUBLE) AS n,
               TRY_CAST(denominator_text AS DOUBLE) AS d,
               regexp_full_match(coalesce(t.period, ''), '\\d{4}-\\d{2}') AS good_period,
               count(*) OVER (PARTITION BY t.period, t.unit_id, t.indicator, t.rater_id) AS copies
        FROM typed t LEFT JOIN meta m USING (indicator) LEFT JOIN unit_ids u ON t.unit_id = u.unit_id
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE checked AS
        SELECT period, unit_id, indicator, kind, row, coalesce(v, n / nullif(d, 0)) AS value, n, d,
          CASE
            WHEN period IS NULL AND unit_id IS NULL AND indicator IS NULL AND value_text IS NULL THEN 'blank_row'
            WHEN period IS NULL OR unit_id IS NULL OR indicator IS NULL THEN 'missing_key'
            WHEN NOT good_period THEN 'bad_period'
            WHEN kind IS NULL THEN 'unknown_indicator'
            WHEN NOT known_unit THEN 'unknown_unit'
            WHEN (value_text IS NOT NULL AND v IS NULL
                   AND lower(value_text) NOT IN ('na', 'n/a', 'nan', 'null', 'none', '-'))
              OR (numerator_text IS NOT NULL AND n IS NULL) OR (denominator_text IS NOT NULL AND d IS NULL)
              THEN 'non_numeric'
            WHEN isinf(v) OR isinf(n) OR isinf(d) THEN 'non_finite'
            WHEN abs(v) > 1e12 OR abs(n) > 1e12 OR abs(d) > 1e12 THEN 'absurd_value'
            WHEN v IS NULL AND (n IS NULL OR d IS NULL) THEN 'missing_value'
            WHEN copies > 1 THEN 'duplicate_key'
            WHEN (kind = 'count' AND v < 0) OR n < 0 OR d < 0 THEN 'negative_count'
            WHEN d = 0 THEN 'zero_denominator'
            WHEN kind = 'rate' AND n > d AND d > 0 THEN 'numerator_gt_denominator'
            WHEN v IS NOT NULL AND n IS NOT NULL AND d IS NOT NULL AND abs(v - n / d) > 1e-6 THEN 'inconsistent_rate'
            WHEN kind = 'rate' AND (coalesce(v, n / d) < 0 OR coalesce(v, n / d) > 1) THEN 'rate_out_of_range'
          END AS reason
        FROM parsed
        """
    )
    quarantine = con.execute("SELECT * FROM checked WHERE reason IS NOT NULL").df()
    n_input, n_used = con.execute("SELECT count(*), count(*) FILTER (reason IS NULL) FROM checked").fetchone()
    weight_rows = ", ".join(f"({k!r}, {w!r}, {directions[k]!r})" for k, w in weights.items())
    ranked = con.execute(
        f"""
        WITH rolled AS (
            SELECT unit_id, indicator,
                   CASE WHEN any_value(kind) = 'rate' AND count(n) = count(*) THEN sum(n) / sum(d)
                        ELSE avg(value) END AS value
            FROM checked WHERE reason IS NULL AND period IN {tuple(QUARTER)!r}
            GROUP BY unit_id, indicator
        ), scaled AS (
            SELECT r.unit_id, r.indicator, w.weight,
                   (r.value - min(r.value) OVER ind) / nullif(max(r.value) OVER ind - min(r.value) OVER ind, 0)
                   AS up, w.direction
            FROM rolled r JOIN (VALUES {weight_rows}) w(indicator, weight, direction) USING (indicator)
            WINDOW ind AS (PARTITION BY r.indicator)
        ), scored AS (
            SELECT unit_id, 100 * sum(weight * CASE WHEN direction = 'lower' THEN 1 - up ELSE up END)
                   / sum(weight) AS score
            FROM scaled GROUP BY unit_id
        )
        SELECT unit_id, score, rank() OVER (ORDER BY score DESC) AS rank FROM scored
        """
    ).df()
    return {
        "input": n_input,
        "used": n_used,
        "quarantined": len(quarantine),
        "units": len(ranked),
        "top": str(ranked.sort_values("rank")["unit_id"].iloc[0]),
    }


def run_polars(observations: Path, units: Path) -> dict[str, object]:
    """The same core in Polars, lazily, collected with the streaming engine."""
    import polars as pl

    kinds, weights, directions, _ = _framework()
    text_columns = ["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id", "submitted_at"]
    if observations.suffix == ".parquet":
        frame = pl.scan_parquet(observations)
    else:
        frame = pl.scan_csv(observations, infer_schema=False)
    frame = frame.select(
        [
            pl.col(c).cast(pl.String).str.strip_chars().replace("", None).alias(c)
            for c in text_columns
            if c != "submitted_at"
        ]
    ).with_row_index("row", offset=2)
    meta = pl.LazyFrame({"indicator": list(kinds), "kind": list(kinds.values())})
    unit_ids = (
        pl.scan_csv(units, infer_schema=False)
        .select(pl.col("unit_id").str.strip_chars())
        .unique()
        .with_columns(pl.lit(True).alias("known_unit"))
    )
    v = pl.col("value").cast(pl.Float64, strict=False)
    n = pl.col("numerator").cast(pl.Float64, strict=False)
    d = pl.col("denominator").cast(pl.Float64, strict=False)
    parsed = (
        frame.join(meta, on="indicator", how="left")
        .join(unit_ids, on="unit_id", how="left")
        .with_columns(
            v=v,
            n=n,
            d=d,
            good_period=pl.col("period").str.contains(r"^\d{4}-\d{2}$").fill_null(False),
            copies=pl.len().over(["period", "unit_id", "indicator", "rater_id"]),
        )
    )
    pv, pn, pd_ = pl.col("v"), pl.col("n"), pl.col("d")
    missing_tokens = ["na", "n/a", "nan", "null", "none", "-"]
    reason = (
        pl.when(pl.col("period").is_null() & pl.col("unit_id").is_null() & pl.col("indicator").is_null())
        .then(pl.lit("blank_row"))
        .when(pl.col("period").is_null() | pl.col("unit_id").is_null() | pl.col("indicator").is_null())
        .then(pl.lit("missing_key"))
        .when(~pl.col("good_period"))
        .then(pl.lit("bad_period"))
        .when(pl.col("kind").is_null())
        .then(pl.lit("unknown_indicator"))
        .when(pl.col("known_unit").is_null())
        .then(pl.lit("unknown_unit"))
        .when(
            (pl.col("value").is_not_null() & pv.is_null() & ~pl.col("value").str.to_lowercase().is_in(missing_tokens))
            | (pl.col("numerator").is_not_null() & pn.is_null())
            | (pl.col("denominator").is_not_null() & pd_.is_null())
        )
        .then(pl.lit("non_numeric"))
        .when(pv.is_infinite() | pn.is_infinite() | pd_.is_infinite())
        .then(pl.lit("non_finite"))
        .when((pv.abs() > 1e12) | (pn.abs() > 1e12) | (pd_.abs() > 1e12))
        .then(pl.lit("absurd_value"))
        .when(pv.is_null() & (pn.is_null() | pd_.is_null()))
        .then(pl.lit("missing_value"))
        .when(pl.col("copies") > 1)
        .then(pl.lit("duplicate_key"))
        .when(((pl.col("kind") == "count") & (pv < 0)) | (pn < 0) | (pd_ < 0))
        .then(pl.lit("negative_count"))
        .when(pd_ == 0)
        .then(pl.lit("zero_denominator"))
        .when((pl.col("kind") == "rate") & (pn > pd_) & (pd_ > 0))
        .then(pl.lit("numerator_gt_denominator"))
        .when((pv - pn / pd_).abs() > 1e-6)
        .then(pl.lit("inconsistent_rate"))
        .when((pl.col("kind") == "rate") & ((pv.fill_null(pn / pd_) < 0) | (pv.fill_null(pn / pd_) > 1)))
        .then(pl.lit("rate_out_of_range"))
        .otherwise(None)
    )
    checked = parsed.with_columns(reason=reason, value_num=pv.fill_null(pn / pd_))
    quarantine = checked.filter(pl.col("reason").is_not_null()).collect(engine="streaming")
    counts = checked.select(pl.len().alias("input"), pl.col("reason").is_null().sum().alias("used")).collect(
        engine="streaming"
    )
    weight_frame = pl.LazyFrame(
        {"indicator": list(weights), "weight": list(weights.values()), "direction": [directions[k] for k in weights]}
    )
    rolled = (
        checked.filter(pl.col("reason").is_null() & pl.col("period").is_in(QUARTER))
        .group_by("unit_id", "indicator")
        .agg(
            pl.when((pl.col("kind").first() == "rate") & pl.col("n").is_not_null().all())
            .then(pl.col("n").sum() / pl.col("d").sum())
            .otherwise(pl.col("value_num").mean())
            .alias("value")
        )
    )
    lo, hi = pl.col("value").min().over("indicator"), pl.col("value").max().over("indicator")
    up = (pl.col("value") - lo) / (hi - lo)
    ranked = (
        rolled.join(weight_frame, on="indicator")
        .with_columns(up=pl.when(pl.col("direction") == "lower").then(1 - up).otherwise(up))
        .group_by("unit_id")
        .agg((100 * (pl.col("weight") * pl.col("up")).sum() / pl.col("weight").sum()).alias("score"))
        .with_columns(rank=pl.col("score").rank("min", descending=True))
        .collect(engine="streaming")
    )
    return {
        "input": int(counts["input"][0]),
        "used": int(counts["used"][0]),
        "quarantined": quarantine.height,
        "units": ranked.height,
        "top": str(ranked.sort("rank")["unit_id"][0]),
    }


def run_perfmodel(observations: Path, units: Path, engine: str = "pandas") -> dict[str, object]:
    """``perfmodel score --engine ENGINE`` on the file, in a child process (pandas: the path before the engine)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.csv"
        command = [sys.executable, "-c", "import sys; from perfmodel.cli import main; sys.exit(main())"]
        command += ["score", "--observations", str(observations), "--engine", engine, "--memory-limit", MEMORY_LIMIT]
        command += ["--units", str(units), "--framework", FRAMEWORK, "--period", PERIOD, "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        import pandas as pd

        scored = pd.read_csv(out)
    return {"units": len(scored), "child_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def run_perfmodel_duckdb(observations: Path, units: Path) -> dict[str, object]:
    """``perfmodel score --engine duckdb``: reading and validation in the columnar core."""
    return run_perfmodel(observations, units, engine="duckdb")


def run_validation(observations: Path, units: Path, engine: str = "pandas") -> dict[str, object]:
    """Reading and validation only: ``read_inputs`` (pandas) or ``read_inputs_engine`` (DuckDB)."""
    from perfmodel.engine.validate import read_inputs_engine
    from perfmodel.validation import read_inputs

    if engine == "duckdb":
        result, _ = read_inputs_engine(FRAMEWORK, observations, units, memory_limit=MEMORY_LIMIT)
    else:
        result, _ = read_inputs(FRAMEWORK, observations, units)
    return {"input": result.n_input, "used": len(result.data), "quarantined": len(result.quarantine)}


def run_validation_duckdb(observations: Path, units: Path) -> dict[str, object]:
    """``read_inputs_engine``: reading and validation in the columnar core."""
    return run_validation(observations, units, engine="duckdb")


CORES = {
    "duckdb": run_duckdb,
    "polars": run_polars,
    "perfmodel score": run_perfmodel,
    "perfmodel score --engine duckdb": run_perfmodel_duckdb,
    "validation (pandas)": run_validation,
    "validation (duckdb)": run_validation_duckdb,
}


def child(core: str, observations: Path, units: Path) -> None:
    """Run one core and print its time, peak memory and counts as JSON (the child's side)."""
    start = time.perf_counter()
    counts = CORES[core](observations, units)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss = max(rss, float(counts.pop("child_rss_mib", 0.0)))  # type: ignore[arg-type]
    print(json.dumps({"seconds": seconds, "rss_mib": rss, **counts}))


def measure(core: str, observations: Path, units: Path) -> dict[str, object]:
    """One core in a fresh process; its report plus the load average at its start."""
    load = load_average()
    command = [sys.executable, __file__, "--child", core, str(observations), str(units)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed", "load": load}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


@contextlib.contextmanager
def _data_folder(data: Path | None, rows: int) -> Iterator[Path]:
    """``DATA/ROWS`` (kept), or a temporary folder removed afterwards."""
    if data is not None:
        folder = data / str(rows)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        yield Path(tmp)


def _files(folder: Path, rows: int) -> dict[str, Path]:
    """The files of ``rows`` rows in ``folder``: written there unless a complete set is there already."""
    done = folder / "complete"
    if done.exists():
        return {
            "units": folder / "units.csv",
            "csv.gz": folder / "observations.csv.gz",
            "parquet": folder / "observations.parquet",
        }
    files = write_files(folder, rows)
    done.write_text("written by benchmarks/engines.py\n", encoding="utf-8")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000], help="rows per file")
    parser.add_argument(
        "--cores", nargs="+", default=list(CORES)[:4], help="which cores to time (default: the four first)"
    )
    parser.add_argument("--record", action="store_true", help="write the table into benchmarks/results/engines.md")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the file --record writes")
    parser.add_argument(
        "--formats", nargs="+", default=["csv.gz", "parquet"], choices=["csv.gz", "parquet"], help="file formats"
    )
    parser.add_argument("--data", type=Path, help="keep the generated files in DATA/ROWS/ and reuse them")
    parser.add_argument("--child", nargs=3, metavar=("CORE", "OBSERVATIONS", "UNITS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        core, observations, units = args.child
        child(core, Path(observations), Path(units))
        return
    lines = [
        "| rows | file | engine | time (s) | peak RSS (MiB) | input / used / quarantined | units ranked | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rows in args.rows:
        with _data_folder(args.data, rows) as folder:
            files = _files(folder, rows)
            for fmt in args.formats:
                for core in args.cores:
                    got = measure(core, files[fmt], files["units"])
                    counts = f"{got['input']:,} / {got['used']:,} / {got['quarantined']:,}" if "input" in got else "–"
                    cells = (
                        [f"{got['seconds']:.1f}", f"{got['rss_mib']:.0f}", counts, f"{got.get('units', '–')}"]
                        if "seconds" in got
                        else [f"failed: {got['error']}", "", "", ""]
                    )
                    line = f"| {rows:,} | {fmt} | {core} | " + " | ".join(cells) + f" | {got['load']:.1f} |"
                    print(line, flush=True)
                    lines.append(line)
    if args.record:
        args.results.parent.mkdir(exist_ok=True)
        import duckdb
        import polars

        head = (
            "# Engines: DuckDB and Polars beside `perfmodel score`\n\n"
            "Written by `python benchmarks/engines.py --record` (see its docstring for what is timed).\n\n"
            f"- date: {datetime.date.today().isoformat()}\n- machine: {machine()}\n"
            f"- engines: DuckDB {duckdb.__version__}, Polars {polars.__version__}; memory limit {MEMORY_LIMIT}, "
            "2 threads\n\n"
        )
        args.results.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
