"""Award quotas (R12): apportionment methods, their stated properties, allocation and review flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.awards import (
    LEADERSHIP_REVIEW,
    METHODS,
    AwardError,
    allocate_awards,
    apportion,
    leadership_review,
)
from perfmodel.cli import AWARD_METHODS, main
from perfmodel.errors import OptionError
from perfmodel.evaluation import evaluate_files
from perfmodel.framework import GRADES, Award, FrameworkError, framework_from_dict, load_framework
from perfmodel.simulate import generate_sample

MULTIPLIERS = {"优秀": 1.5, "良好": 1.2, "合格": 1.0, "不合格": 0.0}

weights_st = st.lists(
    st.one_of(st.integers(0, 50).map(float), st.floats(0, 1e4, allow_nan=False, allow_infinity=False)),
    min_size=1,
    max_size=25,
).filter(lambda w: sum(w) > 0)


# ---------------------------------------------------------------- hand-computed cases
def test_dhondt_classic_example() -> None:
    # The textbook D'Hondt example: averages 100000, 80000, 50000, 40000, 33333, 30000,
    # 26667, 25000 take the 8 seats → 4 / 3 / 1 / 0.
    assert apportion([100_000, 80_000, 30_000, 20_000], 8, "dhondt").tolist() == [4, 3, 1, 0]


def test_largest_remainder_by_hand() -> None:
    # Same votes, 8 seats, total 230000: quotas 3.478, 2.783, 1.043, 0.696;
    # whole parts 3+2+1+0 = 6; 2 seats left go to the largest remainders .783 (B) and .696 (D).
    assert apportion([100_000, 80_000, 30_000, 20_000], 8).tolist() == [3, 3, 1, 1]


def test_largest_remainder_small_case_and_tie_rule() -> None:
    # weights 1.5, 1.2, 1.0, 1.0, total 5.0, 3 slots: quotas 0.9, 0.72, 0.6, 0.6 → whole parts 0;
    # remainders .9 > .72 > .6 = .6: the two units of weight 1.0 tie exactly, the one
    # first in `order` (smaller value) wins.
    assert apportion([1.5, 1.2, 1.0, 1.0], 3).tolist() == [1, 1, 1, 0]
    assert apportion([1.5, 1.2, 1.0, 1.0], 3, order=[0, 1, 3, 2]).tolist() == [1, 1, 0, 1]


def test_dhondt_tie_goes_to_larger_weight() -> None:
    # averages: A 6, 3, 2; B 3: the second slot is a tie 3 = 3, the larger weight (A) wins.
    assert apportion([6, 3], 2, "dhondt").tolist() == [2, 0]
    assert apportion([3, 6], 2, "dhondt").tolist() == [0, 2]


def test_zero_total_and_errors() -> None:
    assert apportion([1, 2], 0).tolist() == [0, 0]
    assert apportion([0, 0], 0).tolist() == [0, 0]
    with pytest.raises(AwardError, match="every weight is 0"):
        apportion([0, 0], 3)
    with pytest.raises(AwardError, match="position 1"):
        apportion([1, -1], 3)
    with pytest.raises(AwardError, match="position 0"):
        apportion([np.nan, 1], 3)
    with pytest.raises(AwardError, match="integer"):
        apportion([1, 1], 2.5)
    with pytest.raises(OptionError, match="method"):
        apportion([1, 1], 2, "sainte_lague")


# ---------------------------------------------------------------- stated properties
@settings(max_examples=200, deadline=None)
@given(weights=weights_st, total=st.integers(0, 60), method=st.sampled_from(tuple(METHODS)))
def test_total_is_exact_and_zero_weights_get_nothing(weights, total, method) -> None:
    slots = apportion(weights, total, method)
    assert slots.sum() == total
    assert (slots >= 0).all()
    assert (slots[np.asarray(weights) == 0] == 0).all()


@settings(max_examples=200, deadline=None)
@given(weights=weights_st, total=st.integers(0, 60), method=st.sampled_from(tuple(METHODS)))
def test_larger_weight_never_gets_fewer(weights, total, method) -> None:
    # For D'Hondt: a larger party never gets fewer seats; for Hamilton the same holds.
    slots = apportion(weights, total, method)
    w = np.asarray(weights)
    bigger = w[:, None] > w[None, :]
    assert not (bigger & (slots[:, None] < slots[None, :])).any()


@settings(max_examples=200, deadline=None)
@given(weights=weights_st, total=st.integers(0, 60))
def test_hamilton_stays_within_one_of_quota(weights, total) -> None:
    w = np.asarray(weights)
    quota = total * w / w.sum()
    slots = apportion(weights, total)
    assert (slots >= np.floor(quota) - 1e-9).all() and (slots <= np.ceil(quota) + 1e-9).all()


@settings(max_examples=200, deadline=None)
@given(weights=weights_st, total=st.integers(0, 60), method=st.sampled_from(tuple(METHODS)), data=st.data())
def test_permutation_invariance_with_order(weights, total, method, data) -> None:
    n = len(weights)
    order = np.arange(n)
    perm = np.asarray(data.draw(st.permutations(range(n))))
    slots = apportion(weights, total, method, order=order)
    permuted = apportion(np.asarray(weights)[perm], total, method, order=order[perm])
    assert permuted.tolist() == slots[perm].tolist()


grades_st = st.lists(st.sampled_from(GRADES), min_size=2, max_size=30)


def _scores(grades, scores=None) -> pd.DataFrame:
    n = len(grades)
    return pd.DataFrame(
        {
            "unit_id": [f"u{i:02d}" for i in range(n)],
            "grade": grades,
            "score": scores if scores is not None else np.linspace(90, 50, n),
            "peer_group": "g",
            "period": "2025",
        }
    )


@settings(max_examples=150, deadline=None)
@given(
    grades=grades_st,
    slots=st.integers(0, 40),
    method=st.sampled_from(tuple(METHODS)),
    level=st.sampled_from(["collective", "individual"]),
    seed=st.integers(0, 10_000),
)
def test_allocation_properties(grades, slots, method, level, seed) -> None:
    if slots and all(g == "不合格" for g in grades):
        return  # every multiplier 0: nothing to give (tested as an error below)
    rng = np.random.default_rng(seed)
    frame = _scores(grades, rng.normal(70, 10, len(grades)))
    heads = pd.Series(rng.integers(1, 4, len(grades)), index=frame["unit_id"])
    award = Award(id="a", name={"zh": "嘉奖", "en": "commendation"}, level=level, slots=slots)
    out = allocate_awards(frame, [award], headcount=heads, method=method)
    assert out["slots"].sum() == slots
    assert (out.loc[out["multiplier"] == 0, "slots"] == 0).all()
    rank = out["grade"].map({g: i for i, g in enumerate(GRADES)}).to_numpy()
    base, got = out["base"].to_numpy(), out["slots"].to_numpy()
    better_same_base = (rank[:, None] < rank[None, :]) & (base[:, None] == base[None, :])
    assert not (better_same_base & (got[:, None] < got[None, :])).any()
    # row order of the input does not matter: ties are broken by weight, score, unit id
    shuffled = allocate_awards(frame.sample(frac=1, random_state=seed), [award], headcount=heads, method=method)
    assert (
        shuffled.set_index("unit_id")["slots"].sort_index().tolist()
        == out.set_index("unit_id")["slots"].sort_index().tolist()
    )


def test_allocation_by_hand() -> None:
    # collective, 3 slots: weights 1.5, 1.2, 1.0, 1.0, 0 (total 4.7): quotas .957, .766, .638, .638, 0
    # → 优秀, 良好 and the better-scored 合格 unit (u02, score 70 > 60 for u03).
    frame = _scores(["优秀", "良好", "合格", "合格", "不合格"], [90, 80, 60, 70, 40])
    frame.loc[2:3, "unit_id"] = ["u03", "u02"]
    collective = Award(id="group", name={"zh": "集体嘉奖", "en": "unit"}, level="collective", slots=3)
    # individual, 10 slots: headcounts 2, 5, 3, 10, 8 → weights 3, 6, 3, 10, 0 (total 22):
    # quotas 1.364, 2.727, 1.364, 4.545, 0 → whole 1+2+1+4 = 8; remainders .727 and .545 win.
    individual = Award(id="merit", name={"zh": "嘉奖", "en": "merit"}, level="individual", slots=10)
    heads = pd.Series([2, 5, 3, 10, 8], index=frame["unit_id"])
    out = allocate_awards(frame, [collective, individual], headcount=heads)
    got = out.set_index(["award", "unit_id"])["slots"]
    assert got["group"].to_dict() == {"u00": 1, "u01": 1, "u03": 0, "u02": 1, "u04": 0}
    assert got["merit"].tolist() == [1, 3, 1, 5, 0]
    assert out.loc[out["award"] == "merit", "weight"].tolist() == [3.0, 6.0, 3.0, 10.0, 0.0]


def test_ungraded_units_get_nothing_and_errors_name_the_award_and_unit() -> None:
    frame = _scores(["优秀", "未评定"])
    award = Award(id="merit", name={"zh": "嘉奖", "en": "merit"}, level="individual", slots=4)
    out = allocate_awards(frame, [award])
    assert out["slots"].tolist() == [4, 0] and out["multiplier"].tolist() == [1.5, 0.0]
    with pytest.raises(AwardError, match="award 'merit'.*every weight is 0"):
        allocate_awards(_scores(["不合格", "未评定"]), [award])
    with pytest.raises(AwardError, match="unit 'u01'.*officers"):
        allocate_awards(frame, [award], headcount=pd.Series([3.0, np.nan], index=["u00", "u01"]))


# ---------------------------------------------------------------- leadership review
def test_leadership_review_two_year_toy() -> None:
    # A: a is the unique lowest in 2024 (50) and 2025 (45) → flagged.
    # D: c last in 2024 only, b last in 2025 only → neither.
    # B: d and e tie for last in both years → neither (last means the unique lowest).
    # C: only two units, below the minimum group of 3 → no last place.
    # E: k last in 2024, unscored in 2025 → not flagged.
    units = ["a", "b2", "c2", "x", "b", "c", "z", "d", "e", "y", "f", "g", "k", "m", "n"]
    groups = ["A"] * 4 + ["D"] * 3 + ["B"] * 3 + ["C"] * 2 + ["E"] * 3
    y2024 = pd.DataFrame(
        {
            "unit_id": units,
            "peer_group": groups,
            "period": "2024",
            "score": [50, 90, 55, 70, 80, 40, 70, 50, 50, 90, 10, 90, 20, 60, 70.0],
        }
    )
    y2025 = pd.DataFrame(
        {
            "unit_id": units,
            "peer_group": groups,
            "period": "2025",
            "score": [45, 60, 80, 70, 30, 90, 70, 50, 50, 90, 10, 90, np.nan, 60, 70.0],
        }
    )
    flags = leadership_review(y2025, y2024)
    assert flags.index.tolist() == units
    assert flags[flags].index.tolist() == ["a"]
    assert not leadership_review(y2025, None).any()
    # the same rule as the monitor's annual last-place warning (one rule in the package)
    award = Award(id="group", name={"zh": "集体嘉奖", "en": "unit"}, level="collective", slots=2)
    out = allocate_awards(y2025.assign(grade="合格"), [award], review=flags.index[flags])
    assert out.loc[out["flag"] == LEADERSHIP_REVIEW, "unit_id"].tolist() == ["a"]
    assert (out.loc[out["unit_id"] != "a", "flag"] == "").all()


# ---------------------------------------------------------------- framework schema
def _framework(awards) -> dict:
    raw = load_framework("station_four_dimension").model_dump(mode="json", exclude={"awards"})
    return {**raw, "tree": raw["tree"], "awards": awards}


def test_framework_awards_block_loads_and_checks() -> None:
    block = [{"id": "merit", "name": {"zh": "嘉奖", "en": "merit"}, "level": "individual", "slots": 30}]
    fw = framework_from_dict(_framework(block))
    assert fw.awards[0].multipliers == MULTIPLIERS
    bad = [
        ({**block[0], "multipliers": {"优秀": 1.0, "良好": 1.2, "合格": 1.0, "不合格": 0}}, "must not increase"),
        ({**block[0], "multipliers": {"优秀": 1.0}}, "must name every grade"),
        ({**block[0], "id": "Merit"}, "lowercase"),
        ({**block[0], "slots": -1}, "slots"),
        ({**block[0], "multipliers": {"优秀": float("inf"), "良好": 1, "合格": 1, "不合格": 0}}, "multipliers"),
        ({**block[0], "level": "team"}, "level"),
    ]
    for award, message in bad:
        with pytest.raises(FrameworkError, match=message):
            framework_from_dict(_framework([award]), source="awards.yaml")
    with pytest.raises(FrameworkError, match="awards: ids"):
        framework_from_dict(_framework(block * 2))


# ---------------------------------------------------------------- command line
AWARDS_BLOCK = [
    {
        "id": "unit_commendation",
        "name": {"zh": "集体嘉奖", "en": "unit commendation"},
        "level": "collective",
        "slots": 3,
    },
    {
        "id": "merit_third_class",
        "name": {"zh": "个人三等功", "en": "third-class merit"},
        "level": "individual",
        "slots": 25,
        "multipliers": {"优秀": 2.0, "良好": 1.5, "合格": 1.0, "不合格": 0},
    },
]


@pytest.fixture(scope="module")
def award_sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """12 stations over 2024-2025 scored by station_four_dimension plus an awards block."""
    folder = tmp_path_factory.mktemp("awards")
    framework = folder / "with_awards.yaml"
    raw = load_framework("station_four_dimension").model_dump(mode="json", exclude_none=True)
    framework.write_text(yaml.safe_dump({**raw, "awards": AWARDS_BLOCK}, allow_unicode=True), encoding="utf-8")
    paths = generate_sample(folder / "data", stations=12, months=24, rng=7, start="2024-01", frameworks=[framework])
    return {**paths, "framework": framework}


def test_cli_awards_end_to_end(award_sample, tmp_path, capsys) -> None:
    out = tmp_path / "awards.csv"
    args = [
        "awards",
        "--observations",
        str(award_sample["station_observations"]),
        "--units",
        str(award_sample["units"]),
        "--framework",
        str(award_sample["framework"]),
        "--period",
        "2025",
    ]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    totals = table.groupby("award")["slots"].sum().to_dict()
    assert totals == {"unit_commendation": 3, "merit_third_class": 25}
    assert (table.loc[table["grade"] == "不合格", "slots"] == 0).all()
    # individual base is the units table's headcount; collective base is 1
    units = pd.read_csv(award_sample["units"]).set_index("unit_id")["officers"]
    merit = table[table["award"] == "merit_third_class"].set_index("unit_id")
    assert merit["base"].to_dict() == units[merit.index].astype(float).to_dict()
    assert (table.loc[table["award"] == "unit_commendation", "base"] == 1).all()
    # the flag matches leadership_review on the two years' own evaluations
    fw = load_framework(award_sample["framework"])
    obs, units_file = award_sample["station_observations"], award_sample["units"]
    now = evaluate_files(fw, obs, units_file, "2025").scores
    before = evaluate_files(fw, obs, units_file, "2024").scores
    expected = leadership_review(now, before)
    flagged = set(merit.index[merit["flag"] == LEADERSHIP_REVIEW])
    assert flagged == set(expected[expected].index)
    assert flagged, "the seed should give a unit last in its peer group in 2024 and 2025"
    assert "unit_commendation" in capsys.readouterr().out
    dhondt = tmp_path / "dhondt.csv"
    assert main([*args, "--out", str(dhondt), "--method", "dhondt"]) == 0
    assert pd.read_csv(dhondt).groupby("award")["slots"].sum().to_dict() == totals
    # the output never overwrites an input
    assert main([*args, "--out", str(award_sample["units"])]) != 0


def test_cli_awards_refuses_framework_without_awards_and_quarters(award_sample, tmp_path, capsys) -> None:
    base = [
        "awards",
        "--observations",
        str(award_sample["station_observations"]),
        "--units",
        str(award_sample["units"]),
        "--out",
        str(tmp_path / "a.csv"),
    ]
    assert main([*base, "--framework", "station_balanced_scorecard", "--period", "2025"]) == 1
    assert "declares no awards" in capsys.readouterr().err
    assert main([*base, "--framework", str(award_sample["framework"]), "--period", "2025Q2"]) == 2
    assert "annual" in capsys.readouterr().err
    assert not (tmp_path / "a.csv").exists()


def test_cli_award_methods_match_the_module() -> None:
    assert AWARD_METHODS == tuple(METHODS)
