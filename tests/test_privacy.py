"""Privacy by choice: suppressed cells reveal nothing, keyed pseudonyms, officer names on request."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel import cli
from perfmodel.audit.fairness import adverse_impact, conditional_parity, disaggregate
from perfmodel.audit.raters import rater_bias
from perfmodel.framework import GRADES
from perfmodel.io import OBSERVATION_ALIASES, UNIT_ALIASES, read_table
from perfmodel.privacy import (
    COMPLEMENTARY,
    MIN_KEY_BYTES,
    SMALL_GROUP,
    TOKEN_CHARS,
    PseudonymisationError,
    Pseudonymiser,
    key_fingerprint,
    pseudonymise_inputs,
    pseudonymised_files,
    read_key,
    suppression_plan,
)
from perfmodel.simulate import generate_sample

FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"
LABELS = {"attribute", "cut", "cut_grade", "group", "role", "suppressed", "verdict", "effect_measure"}


# ============================================================================ suppression
def graded_frame(sizes: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = [g for g, n in sizes.items() for _ in range(n)]
    return pd.DataFrame(
        {"g": groups, "score": rng.normal(70, 10, len(groups)), "grade": rng.choice(GRADES, len(groups))}
    )


def numeric_values(row: pd.Series) -> dict[str, float]:
    """The non-missing numbers of a row, booleans and labels left out."""
    return {
        c: v
        for c, v in row.items()
        if c not in LABELS and not isinstance(v, (bool, np.bool_, str)) and v is not None and not pd.isna(v)
    }


def test_adverse_impact_suppressed_group_reveals_no_count():
    """The reported defect: two officers in a group, their count and selections printed."""
    frame = graded_frame({"a": 12, "b": 9, "c": 2})
    out = adverse_impact(frame, by="g", lang="en").to_frame()
    tiny = out[out["group"] == "c"]
    assert len(tiny) == 3 and (tiny["role"] == "suppressed").all()
    assert (tiny["suppressed"] == SMALL_GROUP).all()
    for _, row in tiny.iterrows():
        assert numeric_values(row) == {}, row
        assert " 2 " not in f" {row['verdict']} "


def test_complementary_suppression_hides_what_the_totals_would_reveal():
    # c (2 units) alone would be all 23 units minus a and b: b, the smallest shown, goes too
    assert suppression_plan({"a": 12, "b": 9, "c": 2}, 5) == {"c": SMALL_GROUP, "b": COMPLEMENTARY}
    # two small groups that together reach min_n protect each other
    assert suppression_plan({"a": 12, "c": 2, "d": 3}, 5) == {"c": SMALL_GROUP, "d": SMALL_GROUP}
    # the reference is suppressed only as a last resort: then nothing is shown
    assert suppression_plan({"a": 12, "c": 2}, 5, keep=["a"]) == {"c": SMALL_GROUP, "a": COMPLEMENTARY}
    assert suppression_plan({"a": 12, "b": 7}, 5) == {}
    out = adverse_impact(graded_frame({"a": 12, "b": 9, "c": 2}), by="g").to_frame()
    b = out[out["group"] == "b"]
    assert (b["suppressed"] == COMPLEMENTARY).all() and b["n"].isna().all() and b["rate"].isna().all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 12), min_size=2, max_size=6), min_n=st.integers(2, 6), seed=st.integers(0, 1000))
def test_no_suppressed_row_carries_a_number_and_totals_reveal_no_small_group(sizes, min_n, seed):
    counts = {f"g{i}": n for i, n in enumerate(sizes) if n}
    if len(counts) < 2 or max(counts.values()) < min_n:
        return  # no reference group possible: the audit refuses, nothing to publish
    frame = graded_frame(counts, seed)
    for check in (disaggregate(frame, by="g", min_n=min_n), adverse_impact(frame, by="g", min_n=min_n)):
        table = check.to_frame()
        hidden = table[table["role"] == "suppressed"]
        for _, row in hidden.iterrows():
            assert numeric_values(row) == {}, row.to_dict()
            assert row["suppressed"] in (SMALL_GROUP, COMPLEMENTARY)
        # everything not shown, taken together (= all units minus those shown), is 0 or ≥ min_n units
        unseen = sum(counts[g] for g in set(hidden["group"]))
        assert unseen == 0 or unseen >= min_n
        # and every group with fewer than min_n units is hidden
        assert {g for g, n in counts.items() if n < min_n} <= set(hidden["group"])


def test_conditional_parity_does_not_compare_complementary_groups():
    frame = graded_frame({"a": 12, "b": 9, "c": 2}).assign(load=lambda f: np.arange(len(f), dtype=float))
    out = conditional_parity(frame, by="g", legitimate=["load"], n_boot=5).to_frame()
    assert out.empty  # b would reveal c through a + b + c = total; c is too small


def test_rater_bias_suppressed_cells_have_no_counts():
    rng = np.random.default_rng(3)
    rows = []
    for unit in range(30):
        group = "big" if unit < 24 else "small"
        for rater in ("r1", "r2", "r3"):
            rows.append({"unit_id": f"u{unit}", "rater_id": rater, "value": rng.normal(80, 5), "g": group})
    out = rater_bias(pd.DataFrame(rows), by="g", min_n=8).to_frame()
    hidden = out[out["role"] == "suppressed"]
    assert len(hidden) and hidden["n"].isna().all() and hidden["n_reference"].isna().all()
    assert (hidden["suppressed"] == SMALL_GROUP).all()


# ============================================================================ pseudonymisation
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("privacy_sample")
    return generate_sample(out, stations=20, months=6, rng=11, start="2025-01", frameworks=[FRAMEWORK])


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "perfmodel.key"
    path.write_bytes(bytes(range(32)))
    return path


def secrets_of(units_file: Path) -> set[str]:
    """Every original id and name of the units table (the strings no output may contain)."""
    units = read_table(units_file, aliases=UNIT_ALIASES)
    values = pd.concat([units["unit_id"], units["name"], units["parent_id"]]).dropna().astype(str).str.strip()
    return {v for v in values if v}


def output_texts(folder: Path) -> dict[str, str]:
    """Every written file as text; workbooks as the text of their XML parts."""
    texts = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                texts[str(path)] = "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
        elif path.is_file():
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return texts


def test_tokens_are_keyed_stable_and_join_consistent():
    units = pd.DataFrame(
        {
            "unit_id": ["PS1", "PS1-M1", "PS2"],
            "name": ["桥东派出所", "张三", "河西派出所"],
            "parent_id": ["D1", "PS1", "D1"],
            "district": ["D1", "D1", "D1"],
        }
    )
    obs = pd.DataFrame(
        {"unit_id": [" PS1-M1", "PS2"], "rater_id": ["PS1-M1", None], "value": ["1", "2"], "station_id": ["PS1", "PS2"]}
    )
    key = b"k" * MIN_KEY_BYTES
    o1, u1 = pseudonymise_inputs(observations=obs, units=units, key=key)
    o2, u2 = pseudonymise_inputs(observations=obs, units=units, key=key)
    _, u3 = pseudonymise_inputs(observations=obs, units=units, key=b"K" * MIN_KEY_BYTES)
    pd.testing.assert_frame_equal(u1, u2)
    pd.testing.assert_frame_equal(o1, o2)
    assert not set(u1["unit_id"]) & set(u3["unit_id"])  # another key, other tokens
    token = dict(zip(units["unit_id"], u1["unit_id"], strict=True))
    assert o1["unit_id"].tolist() == [token["PS1-M1"], token["PS2"]]  # blanks around an id do not matter
    assert o1.loc[0, "rater_id"] == token["PS1-M1"] and pd.isna(o1.loc[1, "rater_id"])
    assert o1["station_id"].tolist() == [token["PS1"], token["PS2"]]
    assert u1.loc[1, "parent_id"] == token["PS1"]
    assert u1["district"].nunique() == 1 and u1.loc[0, "district"] == u1.loc[0, "parent_id"]  # D1 is a parent
    assert all(t.startswith("U-") and len(t) == 2 + TOKEN_CHARS for t in u1["unit_id"])
    assert all(t.startswith("N-") for t in u1["name"])
    assert o1["value"].tolist() == ["1", "2"]
    # 65 bits: the chance of any collision among 2 million ids is below 1e-7
    assert (2e6) ** 2 / 2 / 2 ** (5 * TOKEN_CHARS) < 1e-7


def test_a_collision_fails_loudly(monkeypatch: pytest.MonkeyPatch):
    import perfmodel.privacy as privacy

    monkeypatch.setattr(privacy, "TOKEN_CHARS", 0)
    pseudo = Pseudonymiser(b"k" * MIN_KEY_BYTES)
    pseudo.token("a")
    with pytest.raises(PseudonymisationError, match="same pseudonym"):
        pseudo.token("b")


def test_key_file_rules(tmp_path: Path):
    with pytest.raises(PseudonymisationError, match="does not exist"):
        read_key(tmp_path / "missing.key")
    weak = tmp_path / "weak.key"
    weak.write_bytes(b"secret")
    with pytest.raises(PseudonymisationError, match=r"6 bytes; at least 16"):
        read_key(weak)
    strong = tmp_path / "strong.key"
    strong.write_bytes(b"x" * 32)
    assert read_key(strong) == b"x" * 32
    fingerprint = key_fingerprint(b"x" * 32)
    assert len(fingerprint) == 16 and fingerprint not in (b"x" * 32).hex()


def test_pseudonymised_copies_keep_rows_and_are_deleted(sample: dict[str, Path], key_file: Path):
    original = read_table(sample["units"], aliases=UNIT_ALIASES)
    with pseudonymised_files(sample["station_observations"], sample["units"], key_file) as (obs, units, record):
        folder = units.parent
        copy = read_table(units, aliases=UNIT_ALIASES)
        copy_obs = read_table(obs, aliases=OBSERVATION_ALIASES)
        assert obs.name == "station_observations.csv" and units.name == "units.csv"
    assert not folder.exists()
    assert record == {"pseudonymised": True, "key_fingerprint": key_fingerprint(key_file.read_bytes())}
    assert copy["source_row"].tolist() == original["source_row"].tolist()
    assert copy["station_class"].tolist() == original["station_class"].tolist()
    obs_original = read_table(sample["station_observations"], aliases=OBSERVATION_ALIASES)
    assert len(copy_obs) == len(obs_original)
    assert copy_obs["value"].fillna("").tolist() == obs_original["value"].fillna("").tolist()


def test_weak_key_is_refused_by_the_cli(sample: dict[str, Path], tmp_path: Path, capsys):
    weak = tmp_path / "weak.key"
    weak.write_bytes(b"short")
    code = cli.main(
        [
            "score",
            "--observations",
            str(sample["station_observations"]),
            "--units",
            str(sample["units"]),
            "--framework",
            FRAMEWORK,
            "--period",
            PERIOD,
            "--out",
            str(tmp_path / "out" / "scores.csv"),
            "--pseudonymise",
            str(weak),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "at least 16" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def run_score_and_audit(sample: dict[str, Path], out: Path, key_file: Path | None) -> None:
    common = [
        "--observations",
        str(sample["station_observations"]),
        "--units",
        str(sample["units"]),
        "--framework",
        FRAMEWORK,
        "--period",
        PERIOD,
    ]
    private = ["--pseudonymise", str(key_file)] if key_file else []
    assert cli.main(["score", *common, "--out", str(out / "scores.csv"), *private]) == 0
    assert cli.main(["audit", *common, "--out", str(out / "audit"), "--n-boot", "5", *private]) == 0


def test_no_original_id_or_name_in_any_output(sample: dict[str, Path], key_file: Path, tmp_path: Path):
    secrets = secrets_of(sample["units"])
    assert len(secrets) > 100
    plain, private = tmp_path / "plain", tmp_path / "private"
    run_score_and_audit(sample, plain, None)
    run_score_and_audit(sample, private, key_file)
    plain_texts = output_texts(plain)
    assert any(s in text for text in plain_texts.values() for s in secrets)  # the check can see them
    texts = output_texts(private)
    assert (private / "scores.quarantine.csv").exists() and len(texts) >= 10
    leaks = {(Path(name).name, s) for name, text in texts.items() for s in secrets if s in text}
    assert not leaks, sorted(leaks)[:10]
    # same numbers, only the labels changed
    a = pd.read_csv(plain / "scores.csv").sort_values("score", kind="stable")
    b = pd.read_csv(private / "scores.csv").sort_values("score", kind="stable")
    assert np.allclose(a["score"], b["score"]) and a["grade"].tolist() == b["grade"].tolist()
    assert len(pd.read_csv(plain / "scores.quarantine.csv")) == len(pd.read_csv(private / "scores.quarantine.csv"))


def test_same_key_same_tokens_across_runs(sample: dict[str, Path], key_file: Path, tmp_path: Path):
    for name in ("one", "two"):
        assert (
            cli.main(
                [
                    "score",
                    "--observations",
                    str(sample["station_observations"]),
                    "--units",
                    str(sample["units"]),
                    "--framework",
                    FRAMEWORK,
                    "--period",
                    PERIOD,
                    "--out",
                    str(tmp_path / name / "scores.csv"),
                    "--pseudonymise",
                    str(key_file),
                ]
            )
            == 0
        )
    assert (tmp_path / "one" / "scores.csv").read_bytes() == (tmp_path / "two" / "scores.csv").read_bytes()
    assert math.isfinite(pd.read_csv(tmp_path / "one" / "scores.csv")["score"].iloc[0])


# ============================================================================ officer names
@pytest.fixture(scope="module")
def officers():
    """Community officers of 12 stations, one quarter."""
    from perfmodel.evaluation import Evaluation
    from perfmodel.framework import load_framework
    from perfmodel.simulate import simulate

    fw = load_framework("officer_community_policing")
    sample = simulate([fw], stations=12, months=6, rng=5, defect_rate=0.0)
    ev = Evaluation(fw, sample.observations[fw.id], sample.units, "2024Q2").run()
    names = set(sample.units.loc[sample.units["level"] == "officer", "name"].dropna().astype(str))
    return ev, names


def officer_tables(ev, show_names: bool) -> dict[str, pd.DataFrame]:
    """Every officer table the development report shows, built with or without names."""
    from perfmodel.monitor import cockpit, training

    c = cockpit.officer_cockpit(ev, show_names=show_names)
    records = cockpit.negative_records({"x": c})
    needs = training.bureau_training_needs([ev], show_names=show_names)
    tables = {
        "profiles": c.profiles,
        "profile_table": cockpit.profile_table(c, "en"),
        "needs": needs,
        "plan": training.training_plan([needs], "en"),
    }
    if len(records):
        tables["negative_table"] = cockpit.negative_table(records, "en")
    return tables


def names_in(table: pd.DataFrame, names: set[str]) -> set[str]:
    cells = {str(v) for v in table.astype(str).to_numpy().ravel()}
    return {n for n in names if n in cells or any(n in c for c in cells)}


def test_officer_tables_show_ids_only_by_default(officers):
    ev, names = officers
    assert len(names) > 20
    for label, table in officer_tables(ev, show_names=False).items():
        assert not names_in(table, names), label


def test_officer_names_shown_on_request(officers):
    ev, names = officers
    tables = officer_tables(ev, show_names=True)
    for label in ("profiles", "profile_table", "needs", "plan"):
        assert names_in(tables[label], names), label


def test_officer_profile_figure_titles_name_no_one_by_default(officers):
    import matplotlib.pyplot as plt

    from perfmodel.monitor import cockpit

    ev, names = officers
    c = cockpit.officer_cockpit(ev)
    chosen = cockpit.select_officers(c, 2)
    fig = cockpit.figure_officer_profiles(c, chosen, lang="en")
    titles = " ".join(ax.get_title() for ax in fig.axes)
    plt.close(fig)
    assert chosen[0] in titles and not {n for n in names if n in titles}


def test_credit_split_names_only_on_request():
    from perfmodel.monitor.team import credit_split

    units = pd.DataFrame(
        {
            "unit_id": ["S1", "S1-M1"],
            "name": ["桥东派出所", "张三"],
            "level": ["station", "officer"],
            "parent_id": [None, "S1"],
        }
    )
    collab = pd.DataFrame(
        {
            "case_id": ["A"],
            "period": ["2025-01"],
            "station": ["S1"],
            "officer_id": ["S1-M1"],
            "contribution_share": [1.0],
        }
    )
    assert credit_split(collab, units)["name"].isna().all()
    assert credit_split(collab, units, show_names=True)["name"].tolist() == ["张三"]


def test_grade_robustness_names_officers_only_on_request(officers):
    from perfmodel.audit.robustness import bootstrap_grades

    ev, names = officers
    assert not names_in(bootstrap_grades(ev, n_boot=2, rng=1).to_frame(), names)
    assert names_in(bootstrap_grades(ev, n_boot=2, rng=1, show_names=True).to_frame(), names)


# ============================================================================ pseudonymised commands
def test_validate_quarantine_quotes_pseudonyms_only(sample: dict[str, Path], key_file: Path, tmp_path: Path, capsys):
    target = tmp_path / "rejected.csv"
    code = cli.main(
        [
            "validate",
            "--observations",
            str(sample["station_observations"]),
            "--units",
            str(sample["units"]),
            "--framework",
            FRAMEWORK,
            "--quarantine",
            str(target),
            "--pseudonymise",
            str(key_file),
        ]
    )
    printed = capsys.readouterr()
    assert code == 1 and target.exists()  # the sample has planted defects
    assert str(sample["units"]) in printed.out  # the summary names the user's files, not the copies
    text = target.read_text(encoding="utf-8-sig") + printed.out + printed.err
    leaks = {s for s in secrets_of(sample["units"]) if s in text}
    assert not leaks, sorted(leaks)[:10]
    assert "U-" in text


def test_report_notebook_reads_pseudonymised_copies_deleted_afterwards(
    sample: dict[str, Path], key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from perfmodel.report import runner

    seen = {}

    def fake_run(notebook, out_dir, parameters, **options):
        for name in ("observations", "units"):  # relative to the report folder the kernel runs in
            path = (Path(out_dir) / parameters[name]).resolve()
            seen[name] = (path, path.read_text(encoding="utf-8"))
        return type("Run", (), {"html": Path(out_dir) / "report.html", "pdf": None, "docx": None})()

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    out = tmp_path / "reports"
    assert (
        cli.main(
            [
                "report",
                "--period",
                PERIOD,
                "--observations",
                str(sample["station_observations"]),
                "--units",
                str(sample["units"]),
                "--out",
                str(out),
                "--pseudonymise",
                str(key_file),
            ]
        )
        == 0
    )
    secrets = secrets_of(sample["units"])
    for name, (path, text) in seen.items():
        assert not path.exists(), name  # the private copies are gone
        assert out.resolve() not in path.parents  # and never were in the output folder
        assert not {s for s in secrets if s in text}, name
    units = read_table(sample["units"], aliases=UNIT_ALIASES)
    token = Pseudonymiser(key_file.read_bytes()).token(units["unit_id"].iloc[0])
    assert token in seen["units"][1] and token in seen["observations"][1]
    assert key_file.read_bytes().hex() not in "".join(p.read_bytes().hex() for p in out.rglob("*") if p.is_file())


def test_officer_scores_file_has_ids_only_unless_asked(tmp_path: Path):
    from perfmodel.framework import load_framework
    from perfmodel.simulate import simulate

    fw = load_framework("officer_community_policing")
    sample = simulate([fw], stations=6, months=3, rng=2, defect_rate=0.0, start="2025-04")
    units, observations = tmp_path / "units.csv", tmp_path / "obs.csv"
    sample.units.to_csv(units, index=False)
    sample.observations[fw.id].to_csv(observations, index=False)
    common = [
        "score",
        "--observations",
        str(observations),
        "--units",
        str(units),
        "--framework",
        fw.id,
        "--period",
        "2025Q2",
    ]
    assert cli.main([*common, "--out", str(tmp_path / "ids.csv")]) == 0
    assert cli.main([*common, "--out", str(tmp_path / "named.csv"), "--show-names"]) == 0
    assert "name" not in pd.read_csv(tmp_path / "ids.csv").columns
    named = pd.read_csv(tmp_path / "named.csv")
    assert set(named["name"]) <= set(sample.units["name"]) and named["name"].notna().all()


def test_quarterly_report_tables_list_officers_by_id_unless_asked(officers):
    from perfmodel.report import quarterly as q

    ev, names = officers
    shown = {"ranking": q.ranking_table(ev, "zh"), "movers": q.rank_change_table(ev, "zh")}
    for label, table in shown.items():
        cells = set(table.astype(str).to_numpy().ravel())
        assert not cells & names, label
    assert set(q.ranking_table(ev, "zh", show_names=True).astype(str).to_numpy().ravel()) & names
