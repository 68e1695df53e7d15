"""Evaluations partitioned by assessment unit, in parallel on Dask (issue 13 §3, ``perfmodel score --partition-by``).

Two scopes:

``partition`` (:func:`evaluate_partitioned`)
    An *assessment unit* is the set of units sharing one value of a units-table
    column (``province``, ``district``): each is scored alone, so peer groups,
    ranks and grades are within it, exactly as :func:`perfmodel.evaluation.evaluate`
    on that partition's units and observations would give.
``national`` (:func:`evaluate_national`)
    One evaluation of all units together, in two passes. Pass 1, on the workers:
    each partition's observations are validated and reduced to per-unit
    aggregates (:func:`perfmodel.source.aggregate_observations`: roll-ups of every
    period the evaluation asks, rows and late rows per unit × month). Pass 2, on
    the calling machine: one :class:`~perfmodel.evaluation.Evaluation` over an
    :class:`~perfmodel.source.AggregateSource` of all partitions — national
    normalisation, ranks, quotas and case-mix models. Every aggregate is per unit,
    so the result is exactly the single-process evaluation's.

Reading: when the observations are a folder of Parquet files partitioned by
``COLUMN=VALUE`` folders (as ``perfmodel sample --format parquet`` writes
``observations/province=P01/month=2025-01/part-0.parquet``), each worker is sent
the path of its own folder and reads and validates it (only the period's months),
so no observation row crosses the network; only the validated units table is sent.
Otherwise (one file) the inputs are read and validated once here and each
partition's validated rows are scattered to the workers. The cluster is a
``LocalCluster`` of worker processes on this machine, or an existing cluster given
by its scheduler's address (``docs/scale.md``).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pandas as pd

from perfmodel import progress
from perfmodel.errors import OptionError, check_choice
from perfmodel.evaluation import Evaluation, Settings, evaluate, read_evaluation_inputs
from perfmodel.framework import Framework
from perfmodel.periods import months_in, parse_period, previous
from perfmodel.source import Aggregates, AggregateSource, FrameSource, aggregate_observations
from perfmodel.validation import ValidationResult

CONNECT_TIMEOUT = "10s"
"""How long to wait for the scheduler given by ``scheduler`` before giving up."""


@dataclass
class PartitionedEvaluation:
    """The scores of every partition, one table, and the rows validation rejected.

    Attributes
    ----------
    partition_by
        The units column the units were partitioned by.
    scores
        The scores tables of the partitions, one after the other in the order of the
        partition values, each with the column ``partition_by`` after ``unit_id``.
    quarantine
        The rows rejected by validation, read once for all partitions, with the
        column ``partition_by``: the partition of the row's unit, empty for a row
        of no known unit (an unknown ``unit_id``, a rejected units row).
    """

    partition_by: str
    scores: pd.DataFrame
    quarantine: pd.DataFrame

    def summary(self) -> str:
        """The run in one readable line: partitions, units scored, rows quarantined."""
        parts = self.scores[self.partition_by].nunique()
        return (
            f"{len(self.scores)} units scored in {parts} partitions by {self.partition_by!r} "
            f"({len(self.quarantine)} input rows quarantined)"
        )

    def to_frame(self) -> pd.DataFrame:
        """The scores of every partition (a copy)."""
        return self.scores.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table: ``scores`` and ``quarantine``."""
        return {"scores": self.to_frame(), "quarantine": self.quarantine.copy()}


def partitions(
    observations: pd.DataFrame, units: pd.DataFrame, partition_by: str
) -> list[tuple[Any, pd.DataFrame, pd.DataFrame]]:
    """Split validated frames into ``(value, observations, units)``, one per value of ``partition_by``.

    Units with no value in ``partition_by`` form no partition and are not scored.

    Raises
    ------
    OptionError
        When ``partition_by`` is not a column of the units table.
    """
    check_choice("partition-by", partition_by, tuple(c for c in units.columns if c != "source_row"))
    out = []
    for value, part_units in units.groupby(partition_by, sort=True):
        part_obs = observations[observations["unit_id"].isin(part_units["unit_id"])]
        out.append((value, part_obs, part_units))
    return out


def evaluate_partition(
    framework: Framework,
    observations: pd.DataFrame,
    units: pd.DataFrame,
    period: str,
    partition_by: str,
    value: Any,
    settings: dict[str, Any],
) -> pd.DataFrame:
    """The scores table of one partition, with its ``partition_by`` value (runs on a worker)."""
    table = evaluate(framework, observations, units, period, **settings).scores.copy()
    table.insert(1, partition_by, value)
    return table


def _client(scheduler: str | None, workers: int) -> Any:
    """A ``distributed.Client`` on ``scheduler``, or on a new LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        if workers < 1:
            raise OptionError(key="error.workers_at_least_one", values={"workers": workers})
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster)
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(
            key="error.scheduler_unreachable", values={"address": scheduler, "reason": str(exc).splitlines()[0]}
        ) from exc


SCOPES: tuple[str, ...] = ("partition", "national")
"""``perfmodel score --scope``: each partition ranked alone, or all units ranked together."""


def periods_asked(framework: Framework, period: str | pd.Period, settings: Settings) -> list[pd.Period]:
    """Every period whose observations an evaluation of ``period`` reads, first its own.

    The period; the previous one when ``settings.compare_previous``; with carry-forward
    imputation, the ``missing.max_age`` periods before each of those.
    """
    own = parse_period(period)
    imputation = settings.imputation or framework.missing.imputation
    depth = framework.missing.max_age if imputation == "carry_forward" else 0
    ends = [own, previous(own)] if settings.compare_previous else [own]
    asked = [end if k == 0 else previous(end, k) for end in ends for k in range(depth + 1)]
    return list(dict.fromkeys(asked))


@dataclass
class PartitionRows:
    """What a worker gives back of one partition's observations, besides its result.

    Attributes
    ----------
    key
        The partition (a folder's ``COLUMN=VALUE`` value, or a units-table value).
    quarantine
        The partition's rejected observation rows (empty when they were validated
        on the calling machine).
    n_input
        Observation rows read (0 when validated on the calling machine).
    indicators
        Accepted rows per indicator (for :func:`~perfmodel.evaluation.check_data_fits_framework`).
    units
        The units with accepted rows.
    raters
        Whether an accepted row names a rater.
    """

    key: str
    quarantine: pd.DataFrame
    n_input: int
    indicators: pd.Series
    units: list[str]
    raters: bool


def _describe(key: str, data: pd.DataFrame, quarantine: pd.DataFrame, n_input: int) -> PartitionRows:
    raters = "rater_id" in data.columns and bool(data["rater_id"].notna().any())
    indicators = data["indicator"].astype(str).value_counts(sort=False)
    units = sorted(map(str, data["unit_id"].unique()))
    return PartitionRows(key, quarantine, n_input, indicators, units, raters)


def folder_partitions(
    observations: object, partition_by: str, months: list[str] | None
) -> list[tuple[str, str]] | None:
    """``(value, pattern)`` of each ``partition_by=value`` folder of a partitioned input, in file order.

    Each pattern, absolute, matches exactly the Parquet files below its folder (of
    ``months``) and names them relative to the same folder as the whole input does
    (:func:`perfmodel.engine.validate.partition_files`), so a worker reading it
    writes the same quarantine. ``None`` when the input is not a folder whose
    every file sits in such a folder directly below it (then the rows are read here
    and scattered).
    """
    from perfmodel.engine.validate import partition_files

    if not isinstance(observations, (str, Path)) or not Path(observations).is_dir():
        return None
    if not (partition_by[:1].isalnum() or partition_by[:1] == "_"):
        return None
    base, files = partition_files(observations, months)
    prefix = f"{partition_by}="
    keys = []
    for path in files:
        top = path.relative_to(base).parts[0]
        if not top.startswith(prefix) or len(path.relative_to(base).parts) < 2:
            return None
        keys.append(top[len(prefix) :])
    order = list(dict.fromkeys(keys))
    if sorted(order) != order:  # a value's files must come together, in the order of the whole input
        return None
    root = base.absolute()
    out = []
    for value in order:  # "[p]rovince=P01": the pattern's fixed part is the input's folder
        pattern = root / f"[{partition_by[0]}]{glob.escape(partition_by[1:] + '=' + value)}" / "**" / "*.parquet"
        mine = [f for f, k in zip(files, keys, strict=True) if k == value]
        found_base, found = partition_files(pattern, months)
        if found_base != root or [f.relative_to(root) for f in found] != [f.relative_to(base) for f in mine]:
            return None
        out.append((value, str(pattern)))
    return out


def units_for_validation(units: ValidationResult) -> ValidationResult:
    """The validated units as validating observations reads them: ids and levels, not the other columns.

    What a worker needs to validate its partition's rows (unknown units, units of
    another level, units the units file rejected), a few bytes per unit.
    """
    data = units.data[[c for c in ("unit_id", "level") if c in units.data.columns]].copy()
    data.attrs = dict(units.data.attrs)
    return replace(units, data=data, quarantine=units.quarantine.iloc[:0])


def worker_threads() -> int | None:
    """The threads of the Dask worker running this task (``--nthreads``), or None outside a worker.

    A partition read on a worker gives DuckDB that many threads: DuckDB would
    otherwise take every core of the machine in each worker process.
    """
    try:
        from distributed import get_worker
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    try:
        worker = get_worker()
    except ValueError:  # not on a worker
        return None
    state = getattr(worker, "state", None)
    return int(getattr(state, "nthreads", None) or worker.nthreads)


def partition_connection(memory_limit: str | None) -> Any:
    """The DuckDB connection a partition is read with: ``memory_limit``, and the worker's threads.

    See :func:`perfmodel.engine.validate.connect` and :func:`worker_threads`.
    """
    from perfmodel.engine.validate import connect

    return connect(memory_limit, threads=worker_threads())


def read_partition(
    framework: Framework,
    pattern: str,
    units: ValidationResult,
    months: list[str] | None,
    memory_limit: str | None,
    label: str,
) -> ValidationResult:
    """Read and validate one partition's files (on the worker), as the whole input would be.

    ``label`` is the input folder as the caller named it: the quarantine's ``file``.
    """
    from perfmodel.engine.validate import validate_observations_engine

    con = partition_connection(memory_limit)
    try:
        result = validate_observations_engine(framework, pattern, units, months=months, con=con)
    finally:
        con.close()
    if len(result.quarantine) and "file" in result.quarantine.columns:
        column = result.quarantine["file"]
        result.quarantine["file"] = pd.Series(label, index=column.index, dtype=column.dtype)
    return result


def reduce_partition(
    framework: Framework,
    observations: pd.DataFrame | str,
    units: ValidationResult | None,
    months: list[str] | None,
    memory_limit: str | None,
    label: str,
    key: str,
    periods: list[pd.Period],
) -> tuple[Aggregates, PartitionRows]:
    """Pass 1 of a national evaluation for one partition (runs on a worker).

    ``observations`` is the partition's validated rows, or the pattern of its files,
    read and validated here against ``units`` (pruned to ``months``).
    """
    if isinstance(observations, str):
        assert units is not None
        result = read_partition(framework, observations, units, months, memory_limit, label)
        data, quarantine, n_input = result.data, result.quarantine, result.n_input
    else:
        data, quarantine, n_input = observations, pd.DataFrame(), 0
    aggregates = aggregate_observations(data, framework.rollup_kinds(), periods)
    return aggregates, _describe(key, data, quarantine, n_input)


def evaluate_partition_files(
    framework: Framework,
    pattern: str | None,
    units: ValidationResult,
    months: list[str] | None,
    memory_limit: str | None,
    label: str,
    period: str,
    partition_by: str,
    value: str,
    part_units: pd.DataFrame,
    settings: dict[str, Any],
) -> tuple[pd.DataFrame | None, PartitionRows, list[str]]:
    """Read one partition's files and score its units alone (runs on a worker).

    ``units`` validates the rows (:func:`units_for_validation`), ``part_units`` are
    the partition's units, every column. Returns the scores table (``None`` when no
    unit has the value ``value``), what was read, and the units whose rows are here
    though they belong to another partition (the caller refuses those).
    """
    if pattern is None:  # a partition without files: scored on no rows, as the whole input would score it
        data = pd.DataFrame(columns=["period", "unit_id", "indicator", "value", "numerator", "denominator"])
        quarantine, n_input = pd.DataFrame(), 0
    else:
        result = read_partition(framework, pattern, units, months, memory_limit, label)
        data, quarantine, n_input = result.data, result.quarantine, result.n_input
    foreign = sorted(set(map(str, data["unit_id"].unique())) - set(map(str, part_units["unit_id"])))
    rows = _describe(value, data, quarantine, n_input)
    if foreign or part_units.empty:
        return None, rows, foreign
    return evaluate_partition(framework, data, part_units, period, partition_by, value, settings), rows, []


def evaluate_partitioned(
    framework: Framework | str | Path,
    observations: str | Path,
    units: str | Path,
    period: str,
    *,
    partition_by: str,
    client: Any = None,
    scheduler: str | None = None,
    workers: int = 2,
    sheet: int | str | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
    **settings: Any,
) -> PartitionedEvaluation:
    """Evaluate each partition alone, on Dask.

    Parameters
    ----------
    framework, observations, units, period
        As for :func:`perfmodel.evaluation.evaluate_files` (``observations`` may be a
        folder of Parquet partitions).
    partition_by
        The units column whose values make the partitions (``province``, ``district``).
        When ``observations`` is a folder with one ``partition_by=VALUE`` folder per
        value, each worker reads and validates its own folder.
    client
        A ``distributed.Client`` to use as is (left open). Without it, one is made on
        ``scheduler`` (an address such as ``tcp://host:8786``) or, without that, on a
        new ``LocalCluster`` of ``workers`` worker processes; it is closed at the end.
    sheet, engine, memory_limit, settings
        As for :func:`perfmodel.evaluation.evaluate_files`.

    Returns
    -------
    PartitionedEvaluation
        Equal to the concatenation of :func:`perfmodel.evaluation.evaluate` on each
        partition's validated frames, and the quarantine of reading the inputs once
        (with each row's partition).

    Raises
    ------
    OptionError
        When ``partition_by`` is not a units column, when the scheduler cannot be
        reached, or when a folder holds rows of another partition's units.
    """
    plan = _plan(framework, observations, units, period, partition_by, sheet, engine, memory_limit)
    fw = plan.framework
    with _session(client, scheduler, workers) as session:
        progress.step("scoring", framework=fw.id, period=period)
        futures = []
        if plan.folders is not None:
            units_f = session.scatter(units_for_validation(plan.units), broadcast=True)
            data = plan.units.data
            for value, pattern in plan.work_items(partition_by):
                part_units = session.scatter(data[data[partition_by].astype(str) == value] if len(data) else data)
                futures.append(
                    session.submit(
                        evaluate_partition_files,
                        *(fw, pattern, units_f, plan.months, memory_limit, plan.label),
                        *(period, partition_by, value, part_units, settings),
                        pure=False,
                    )
                )
            results = session.gather(futures)
        else:
            for value, obs, unit_frame in partitions(plan.observations, plan.units.data, partition_by):
                obs_f, units_f = session.scatter([obs, unit_frame])  # large frames do not belong in the task graph
                futures.append(
                    session.submit(
                        evaluate_partition, fw, obs_f, units_f, period, partition_by, value, settings, pure=False
                    )
                )
            results = [(table, None, []) for table in session.gather(futures)]
    for rows, foreign in ((r[1], r[2]) for r in results):
        if foreign:
            raise OptionError(
                key="error.rows_in_other_partition",
                hint_key="error.rows_in_other_partition_hint",
                values={"unit": foreign[0], "n": len(foreign), "folder": f"{partition_by}={rows.key}"},
            )
    quarantine = plan.quarantine([r[1] for r in results if r[1] is not None])
    tables = [r[0] for r in results if r[0] is not None]
    scores = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return PartitionedEvaluation(partition_by, scores, _with_partition(quarantine, plan.units.data, partition_by))


def evaluate_national(
    framework: Framework | str | Path,
    observations: str | Path,
    units: str | Path,
    period: str,
    *,
    partition_by: str,
    client: Any = None,
    scheduler: str | None = None,
    workers: int = 2,
    sheet: int | str | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
    keep: Iterable[str] | None = None,
    **settings: Any,
) -> Evaluation:
    """One evaluation of all units, its observations reduced partition by partition on Dask.

    Pass 1 (workers): each partition's observations are validated and reduced to
    per-unit aggregates for every period the evaluation asks (:func:`periods_asked`).
    Pass 2 (here): one :class:`~perfmodel.evaluation.Evaluation` over the
    :class:`~perfmodel.source.AggregateSource` of all partitions, so normalisation,
    ranks, quotas and case-mix models are national.

    Parameters
    ----------
    framework, observations, units, period
        As for :func:`perfmodel.evaluation.evaluate_files`.
    partition_by
        The units column whose values make the partitions; with a folder of
        ``partition_by=VALUE`` folders, each worker reads its own.
    client, scheduler, workers
        As for :func:`evaluate_partitioned`.
    sheet, engine, memory_limit, keep, settings
        As for :func:`perfmodel.evaluation.evaluate_files`.

    Returns
    -------
    Evaluation
        Run; its scores equal those of :func:`perfmodel.evaluation.evaluate_files` on
        the same inputs, its quarantine equals that run's with the column
        ``partition_by`` added. It holds aggregates, not rows: ``stages["raw"]`` has
        only the number of rows (:class:`~perfmodel.source.RowsNotHeld`).

    Raises
    ------
    OptionError
        As :func:`evaluate_partitioned`; when a unit's rows are in two folders; when
        ``calibration='full'`` would calibrate raters (that needs the rows).
    """
    plan = _plan(framework, observations, units, period, partition_by, sheet, engine, memory_limit)
    fw = plan.framework
    chosen = Settings(**settings)
    periods = periods_asked(fw, period, chosen)
    with _session(client, scheduler, workers) as session:
        progress.step("reducing", framework=fw.id, period=period)
        futures = []
        if plan.folders is not None:
            units_f = session.scatter(units_for_validation(plan.units), broadcast=True)
            for value, pattern in plan.folders:
                args = (fw, pattern, units_f, plan.months, memory_limit, plan.label, value, periods)
                futures.append(session.submit(reduce_partition, *args, pure=False))
        else:
            owner = plan.units.data.drop_duplicates("unit_id").set_index("unit_id")[partition_by].astype(str)
            keys = plan.observations["unit_id"].map(owner).fillna("")
            for value, obs in plan.observations.groupby(keys, sort=True):
                obs_f = session.scatter(obs)
                args = (fw, obs_f, None, None, None, plan.label, str(value), periods)
                futures.append(session.submit(reduce_partition, *args, pure=False))
        passes = session.gather(futures)
    reads = [rows for _, rows in passes]
    _check_disjoint(reads, partition_by)
    if chosen.calibration == "full" and fw.calibration.raters and any(r.raters for r in reads):
        raise OptionError(key="error.national_rater_calibration", hint_key="error.national_rater_calibration_hint")
    source = AggregateSource([aggregates for aggregates, _ in passes]) if passes else FrameSource(plan.observations)
    ev = Evaluation(
        fw,
        source,
        plan.units.data,
        period,
        chosen,
        quarantine=_with_partition(plan.quarantine(reads), plan.units.data, partition_by),
        inputs={"observations": Path(observations), "units": Path(units)},
    )
    ev.n_input = {"observations": plan.n_observations(reads), "units": plan.units.n_input}
    progress.step("scoring", framework=fw.id, period=period)
    return ev.run(keep)


def _check_disjoint(reads: list[PartitionRows], partition_by: str) -> None:
    """Refuse a unit with rows in two partitions: its aggregates would be split."""
    seen: dict[str, str] = {}
    for rows in reads:
        for unit in rows.units:
            if unit in seen:
                raise OptionError(
                    key="error.unit_in_two_partitions",
                    hint_key="error.unit_in_two_partitions_hint",
                    values={
                        "unit": unit,
                        "first": f"{partition_by}={seen[unit]}",
                        "second": f"{partition_by}={rows.key}",
                    },
                )
            seen[unit] = rows.key


@dataclass
class _Plan:
    """The inputs as prepared here: the units validated, the observations read here or left to the workers."""

    framework: Framework
    units: ValidationResult
    label: str
    observations_path: str | Path
    folders: list[tuple[str, str]] | None
    months: list[str] | None
    observations: pd.DataFrame
    read_here: pd.DataFrame | None  # the quarantine of reading everything here
    n_read_here: int

    def work_items(self, partition_by: str) -> list[tuple[str, str | None]]:
        """Each partition value with its folder's pattern (``None`` without one), in the input's file order."""
        assert self.folders is not None
        folders = dict(self.folders)
        data = self.units.data
        values = sorted(set(data[partition_by].dropna().astype(str))) if len(data) else []
        return [*self.folders, *((v, None) for v in values if v not in folders)]

    def quarantine(self, reads: list[PartitionRows]) -> pd.DataFrame:
        """The units' quarantine, then the observations' in file order (as one reading of everything gives)."""
        if self.read_here is not None:
            return self.read_here
        from perfmodel.evaluation import EvaluationError, check_data_fits_framework

        rejected = [r.quarantine for r in reads if len(r.quarantine)]
        observations = pd.concat(rejected, ignore_index=True) if rejected else _first_columns(reads)
        missing = observations[observations["reason"] == "missing_column"] if len(observations) else observations
        if len(missing):
            raise EvaluationError(f"{missing['message'].iloc[0]}; no row of the file can be used")
        tally = pd.concat([r.indicators for r in reads]).groupby(level=0).sum() if reads else pd.Series(dtype=int)
        check_data_fits_framework(self.framework, cast(pd.Series, _Tally(tally)), observations, self.observations_path)
        parts = [q for q in (self.units.quarantine, observations) if len(q)]
        return pd.concat(parts, ignore_index=True) if parts else observations

    def n_observations(self, reads: list[PartitionRows]) -> int:
        return self.n_read_here if self.read_here is not None else sum(r.n_input for r in reads)


def _first_columns(reads: list[PartitionRows]) -> pd.DataFrame:
    return reads[0].quarantine if reads else pd.DataFrame()


class _Tally:
    """The accepted rows' ``indicator`` column as :func:`~perfmodel.evaluation.check_data_fits_framework` reads it.

    Its length (the number of rows) and its values (each indicator once), without the rows.
    """

    def __init__(self, counts: pd.Series) -> None:
        self.counts = counts

    def __len__(self) -> int:
        return int(self.counts.sum())

    def astype(self, dtype: Any) -> pd.Index:
        return pd.Index(self.counts.index).astype(dtype)


def _plan(
    framework: Framework | str | Path,
    observations: str | Path,
    units: str | Path,
    period: str,
    partition_by: str,
    sheet: int | str | None,
    engine: str,
    memory_limit: str | None,
) -> _Plan:
    """Validate the units here; the observations too unless each worker can read its own folder."""
    from perfmodel.engine.validate import is_partitioned, use_engine
    from perfmodel.evaluation import EvaluationError
    from perfmodel.io import UNIT_ALIASES, read_table
    from perfmodel.validation import resolve_input_order, validate_units

    fw = resolve_input_order(framework, observations, units, caller="evaluate_partitioned")
    folders = None
    if use_engine(observations, engine) and is_partitioned(observations):
        months = [str(m) for m in months_in(period)]
        folders = folder_partitions(observations, partition_by, months)
    if folders is None:
        fw, clean_obs, clean_units, quarantine, n_input = read_evaluation_inputs(
            fw, observations, units, sheet=sheet, engine=engine, memory_limit=memory_limit, period=period
        )
        units_result = ValidationResult(clean_units, pd.DataFrame(), n_input["units"], str(units))
        check_choice("partition-by", partition_by, tuple(c for c in clean_units.columns if c != "source_row"))
        return _Plan(
            fw,
            units_result,
            str(observations),
            observations,
            None,
            None,
            clean_obs,
            quarantine,
            n_input["observations"],
        )
    progress.step("reading_units", path=units)
    raw = read_table(units, aliases=UNIT_ALIASES)
    denominators = [ind.denominator for ind in fw.indicators() if ind.denominator]
    progress.step("validating_units")
    units_result = validate_units(raw, source=str(raw.attrs.get("source", "<units>")), numeric_columns=denominators)
    rejected = units_result.quarantine
    if len(rejected) and (rejected["reason"] == "missing_column").any():
        message = rejected.loc[rejected["reason"] == "missing_column", "message"].iloc[0]
        raise EvaluationError(f"{message}; no row of the file can be used")
    check_choice("partition-by", partition_by, tuple(c for c in units_result.data.columns if c != "source_row"))
    label = str(Path(observations))
    return _Plan(fw, units_result, label, observations, folders, months, pd.DataFrame(), None, 0)


@contextmanager
def _session(client: Any, scheduler: str | None, workers: int) -> Iterator[Any]:
    """``client`` as given (left open), or a new one (:func:`_client`) closed with its cluster at the end."""
    if client is not None:
        yield client
        return
    own = _client(scheduler, workers)
    try:
        yield own
    finally:
        cluster = own.cluster
        own.close()
        if cluster is not None:
            cluster.close()


def _with_partition(quarantine: pd.DataFrame, units: pd.DataFrame, partition_by: str) -> pd.DataFrame:
    """The quarantine with the ``partition_by`` value of each row's unit, empty for rows of no known unit."""
    out = quarantine.copy()
    owner = units.drop_duplicates("unit_id").set_index("unit_id")[partition_by]
    ids = out["unit_id"] if "unit_id" in out.columns else pd.Series(pd.NA, index=out.index)
    out[partition_by] = ids.map(owner)
    return out
