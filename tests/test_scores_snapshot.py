"""Before snapshot: scores, ranks and grades of every shipped framework on the sample.

Issue 12 rewrites the engine (one scoring engine, columnar core) with behaviour
unchanged. This test pins the behaviour: for every framework of
:func:`perfmodel.framework.shipped_frameworks` it reads and validates
``data_samples/observations/<framework>.csv.gz`` with ``data_samples/units.csv``
(the path the CLI takes, quarantine included), evaluates the quarter ``2025Q2`` and
the year ``2025`` with default settings, and compares ``unit_id``, ``peer_group``,
``score``, ``rank`` and ``grade`` with ``tests/data/snapshots/scores.csv.gz``:
ranks, grades and peer groups exactly, scores to 1e-9 (they are stored rounded to
nine decimals).

Regenerate the fixture only when a change of scores is intended, and say why in
the commit message::

    PYTHONPATH=. python tests/test_scores_snapshot.py
    # or: PERFMODEL_UPDATE_SNAPSHOT=1 python -m pytest tests/test_scores_snapshot.py

Each framework is read once and evaluated once per period (about 10 s in all).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfmodel.evaluation import Evaluation, Settings, read_evaluation_inputs
from perfmodel.framework import shipped_frameworks

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples"
SNAPSHOT = Path(__file__).resolve().parent / "data" / "snapshots" / "scores.csv.gz"
PERIODS = ("2025Q2", "2025")
COLUMNS = ["framework", "period", "unit_id", "peer_group", "score", "rank", "grade"]
SCORE_DECIMALS = 9
SCORE_TOLERANCE = 1e-9


@cache
def current_scores(framework_id: str) -> pd.DataFrame:
    """Scores of one shipped framework on the sample, both periods, snapshot columns."""
    observations = SAMPLE / "observations" / f"{framework_id}.csv.gz"
    fw, obs, units, quarantine, _ = read_evaluation_inputs(framework_id, observations, SAMPLE / "units.csv")
    frames = []
    for period in PERIODS:
        scores = Evaluation(fw, obs, units, period, Settings(), quarantine=quarantine).run().scores
        frame = scores[["unit_id", "peer_group", "score", "rank", "grade"]].copy()
        frame.insert(0, "period", period)
        frame.insert(0, "framework", framework_id)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["score"] = out["score"].astype(float).round(SCORE_DECIMALS)
    return out.sort_values(["framework", "period", "unit_id"], ignore_index=True)[COLUMNS]


def write_snapshot(path: Path = SNAPSHOT) -> pd.DataFrame:
    """Recompute the snapshot from the current engine and write it (gzip without timestamp)."""
    table = pd.concat([current_scores(fid) for fid in sorted(shipped_frameworks())], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(
        path,
        index=False,
        encoding="utf-8",
        float_format=f"%.{SCORE_DECIMALS}f",
        compression={"method": "gzip", "mtime": 0},
    )
    return table


def read_snapshot() -> pd.DataFrame:
    """The stored snapshot, typed like :func:`current_scores`."""
    return pd.read_csv(
        SNAPSHOT, dtype={"framework": str, "period": str, "unit_id": str, "peer_group": str, "grade": str}
    )


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    if os.environ.get("PERFMODEL_UPDATE_SNAPSHOT") == "1":
        write_snapshot()
    return read_snapshot()


def test_snapshot_covers_every_shipped_framework_and_period(snapshot: pd.DataFrame) -> None:
    pairs = set(map(tuple, snapshot[["framework", "period"]].drop_duplicates().to_numpy()))
    expected = {(fid, period) for fid in shipped_frameworks() for period in PERIODS}
    assert pairs == expected, (
        f"snapshot pairs differ: missing {sorted(expected - pairs)}, extra {sorted(pairs - expected)}; "
        "regenerate it (see the module docstring) if a framework was added or removed"
    )


@pytest.mark.parametrize("framework_id", sorted(shipped_frameworks()))
def test_scores_ranks_grades_match_snapshot(snapshot: pd.DataFrame, framework_id: str) -> None:
    expected = snapshot[snapshot["framework"] == framework_id].reset_index(drop=True)
    current = current_scores(framework_id)
    assert len(expected) > 0, f"{framework_id}: not in {SNAPSHOT.name}"
    key = ["period", "unit_id"]
    assert current[key].equals(expected[key].astype(current[key].dtypes.to_dict())), (
        f"{framework_id}: the set of (period, unit) rows differs from the snapshot"
    )
    for column in ("peer_group", "grade"):
        now, before = current[column].astype(object), expected[column].astype(object)
        differ = ~((now == before) | (now.isna() & before.isna()))
        assert not differ.any(), (
            f"{framework_id}: {column} differs for {int(differ.sum())} rows, first "
            f"{current.loc[differ, key].iloc[0].tolist()}: {now[differ].iloc[0]!r} != {before[differ].iloc[0]!r}"
        )
    now_rank, before_rank = current["rank"].to_numpy(float), expected["rank"].to_numpy(float)
    rank_differ = ~((now_rank == before_rank) | (np.isnan(now_rank) & np.isnan(before_rank)))
    assert not rank_differ.any(), (
        f"{framework_id}: rank differs for {int(rank_differ.sum())} rows, first "
        f"{current.loc[rank_differ, key].iloc[0].tolist()}"
    )
    now_score, before_score = current["score"].to_numpy(float), expected["score"].to_numpy(float)
    assert np.array_equal(np.isnan(now_score), np.isnan(before_score)), f"{framework_id}: missing scores differ"
    gap = np.abs(np.nan_to_num(now_score) - np.nan_to_num(before_score))
    assert gap.max(initial=0.0) <= SCORE_TOLERANCE * (1 + 1e-6), (
        f"{framework_id}: score differs by up to {gap.max():.3g} (tolerance {SCORE_TOLERANCE}) at "
        f"{current.loc[int(gap.argmax()), key].tolist()}"
    )


if __name__ == "__main__":
    written = write_snapshot()
    print(f"wrote {len(written)} rows to {SNAPSHOT}")
