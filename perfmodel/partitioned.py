"""One evaluation per assessment unit, in parallel on Dask (issue 13 §3, ``perfmodel score --partition-by``).

An *assessment unit* is the set of units sharing one value of a units-table column
(``province``, ``district``): each is scored alone, so peer groups, ranks and grades
are within it, exactly as :func:`perfmodel.evaluation.evaluate` on that partition's
units and observations would give. The inputs are read and validated once, on the
calling machine (:func:`perfmodel.evaluation.read_evaluation_inputs`); each
partition's validated frames are shipped to a ``dask.distributed`` worker, which runs
the evaluation and sends back its scores table. The cluster is a ``LocalCluster`` of
worker processes on this machine, or an existing cluster given by its scheduler's
address. See ``docs/scale.md`` for what is not built yet (a national ranking across
partitions; workers reading their own partition).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel import progress
from perfmodel.errors import OptionError, check_choice
from perfmodel.evaluation import evaluate, read_evaluation_inputs
from perfmodel.framework import Framework

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
    """Read and validate the inputs once, then evaluate each partition on Dask.

    Parameters
    ----------
    framework, observations, units, period
        As for :func:`perfmodel.evaluation.evaluate_files` (``observations`` may be a
        folder of Parquet partitions).
    partition_by
        The units column whose values make the partitions (``province``, ``district``).
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
        When ``partition_by`` is not a units column, or when the scheduler cannot be reached.
    """
    fw, clean_obs, clean_units, quarantine, _ = read_evaluation_inputs(
        framework, observations, units, sheet=sheet, engine=engine, memory_limit=memory_limit, period=period
    )
    parts = partitions(clean_obs, clean_units, partition_by)
    own = client is None
    if own:
        client = _client(scheduler, workers)
    try:
        progress.step("scoring", framework=fw.id, period=period)
        futures = []
        for value, obs, unit_frame in parts:  # scattered first: large frames do not belong in the task graph
            obs_f, units_f = client.scatter([obs, unit_frame])
            futures.append(
                client.submit(evaluate_partition, fw, obs_f, units_f, period, partition_by, value, settings, pure=False)
            )
        tables = client.gather(futures)
    finally:
        if own:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    scores = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return PartitionedEvaluation(partition_by, scores, _with_partition(quarantine, clean_units, partition_by))


def _with_partition(quarantine: pd.DataFrame, units: pd.DataFrame, partition_by: str) -> pd.DataFrame:
    """The quarantine with the ``partition_by`` value of each row's unit, empty for rows of no known unit."""
    out = quarantine.copy()
    owner = units.drop_duplicates("unit_id").set_index("unit_id")[partition_by]
    ids = out["unit_id"] if "unit_id" in out.columns else pd.Series(pd.NA, index=out.index)
    out[partition_by] = ids.map(owner)
    return out
