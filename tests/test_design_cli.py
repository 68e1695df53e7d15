"""``perfmodel lab …`` on small files: outputs written, exit codes, one-line errors."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from perfmodel import progress
from perfmodel.design import cli
from perfmodel.simulate import generate_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab_sample")
    return generate_sample(
        out, stations=18, months=6, rng=3, start="2025-01", frameworks=["station_four_dimension", "station_three_layer"]
    )


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="perfmodel")
    parser.add_argument("--debug", action="store_true")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def _inputs(sample) -> list[str]:
    return [
        "--observations",
        str(sample["station_observations"]),
        "--units",
        str(sample["units"]),
        "--framework",
        "station_four_dimension",
        "--period",
        "2025Q2",
    ]


def test_sensitivity_writes_tables_and_sobol_indices(sample, tmp_path, capsys):
    code = _run(
        "lab",
        "sensitivity",
        *_inputs(sample),
        "--out",
        str(tmp_path),
        "--draws",
        "40",
        "--normalisation",
        "minmax",
        "rank",
        "--drop",
        "--sobol",
        "16",
        "--bootstrap",
        "20",
        "--no-progress",
    )
    assert code == 0
    for name in ("by_unit", "replicates", "sobol_indices", "sobol_by_unit"):
        assert (tmp_path / f"{name}.csv").exists()
    assert set(pd.ExcelFile(tmp_path / "tables.xlsx").sheet_names) >= {"by_unit", "sobol_indices"}
    replicates = pd.read_csv(tmp_path / "replicates.csv")
    assert len(replicates) == 40 and {"normalisation", "drop", "w:case_compliance_rate"} <= set(replicates.columns)
    assert set(pd.read_csv(tmp_path / "sobol_indices.csv")["factor"]) == {"weights", "normalisation", "drop"}
    assert "median width" in capsys.readouterr().out
    run = pd.read_csv(tmp_path / "run_parameters.csv").set_index("parameter")["value"]
    assert run["seed"] == "1" and run["draws"] == "40"  # --seed's default, recorded


def test_sensitivity_with_the_same_seed_repeats_and_another_seed_does_not(sample, tmp_path):
    def replicates(seed: str, folder: str) -> pd.DataFrame:
        assert (
            _run(
                "lab",
                "sensitivity",
                *_inputs(sample),
                "--out",
                str(tmp_path / folder),
                "--draws",
                "12",
                "--seed",
                seed,
                "--no-progress",
            )
            == 0
        )
        run = pd.read_csv(tmp_path / folder / "run_parameters.csv").set_index("parameter")["value"]
        assert run["seed"] == seed
        return pd.read_csv(tmp_path / folder / "replicates.csv")

    first, again, other = replicates("5", "a"), replicates("5", "b"), replicates("6", "c")
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_redundancy_and_compare(sample, tmp_path, capsys):
    assert _run("lab", "redundancy", *_inputs(sample), "--out", str(tmp_path / "r"), "--threshold", "0.5") == 0
    assert (tmp_path / "r" / "merges.csv").exists() and (tmp_path / "r" / "weights.csv").exists()
    code = _run(
        "lab",
        "compare",
        "--units",
        str(sample["units"]),
        "--period",
        "2025Q2",
        "--out",
        str(tmp_path / "c"),
        "--design",
        f"four=station_four_dimension@{sample['station_observations']}",
        "--design",
        f"three=station_three_layer@{sample['observations/station_three_layer']}",
        "--flexible",
        "callback_satisfaction=+0.05,housekeeping_score=-0.05",
        "--weightings",
        "equal",
    )
    assert code == 0
    agreement = pd.read_csv(tmp_path / "c" / "rank_agreement.csv")
    assert {"three", "four_flex", "four:equal"} <= set(agreement["design_b"])
    assert "kendall_tau" in capsys.readouterr().out


def test_errors_are_one_line_with_exit_code_1(sample, tmp_path, capsys):
    from perfmodel.cli import main

    code = main(
        [
            "--quiet",  # no progress lines: stderr is the error alone
            "lab",
            "compare",
            "--units",
            str(sample["units"]),
            "--period",
            "2025Q2",
            "--out",
            str(tmp_path),
            "--design",
            f"four=station_four_dimension@{sample['station_observations']}",
            "--flexible",
            "callback_satisfaction=+0.25,case_compliance_rate=-0.15,mediation_success_rate=-0.10",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("perfmodel: error:") and "at most 20%" in err and "Traceback" not in err
    assert cli.run(argparse.Namespace(lab_command="nope")) == 1


def test_parse_changes_explains_bad_input():
    assert cli.parse_changes("a=+0.1, b=-0.1") == {"a": 0.1, "b": -0.1}
    with pytest.raises(ValueError, match="indicator=change pairs"):
        cli.parse_changes("a+0.1")


def test_gaming_subcommand_is_added_when_available():
    pytest.importorskip("perfmodel.design.gaming")
    parser = argparse.ArgumentParser(prog="perfmodel")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "lab",
            "gaming",
            "--observations",
            "o.csv",
            "--units",
            "u.csv",
            "--framework",
            "station_four_dimension",
            "--period",
            "2025",
            "--out",
            "x",
        ]
    )
    assert args.lab_command == "gaming"


def _one_error_line(err: str) -> str:
    """The error output, checked to be one ``perfmodel: error:`` line (after any progress) and no traceback."""
    lines = [line for line in err.strip().splitlines() if not line.startswith(progress.PREFIX)]
    assert len(lines) == 1 and lines[0].startswith("perfmodel: error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_mistyped_option_is_one_error_line_with_the_usage_exit_code(sample, tmp_path, capsys):
    from perfmodel.cli import EXIT_USAGE, main

    code = main(
        [
            "--quiet",  # no progress lines: stderr is the error alone
            "lab",
            "compare",
            "--units",
            str(sample["units"]),
            "--period",
            "2025Q2",
            "--out",
            str(tmp_path),
            "--design",
            f"four=station_four_dimension@{sample['station_observations']}",
            "--flexible",
            "callback_satisfaction+0.05",  # '=' forgotten
        ]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == EXIT_USAGE == 2
    assert "cannot read 'callback_satisfaction+0.05'" in line and "indicator=change pairs" in line


def test_gaming_shows_option_errors_as_one_line_and_bugs_as_tracebacks(sample, tmp_path, capsys, monkeypatch):
    pytest.importorskip("perfmodel.design.gaming")
    from perfmodel.cli import main
    from perfmodel.design.gaming import detect

    argv = [
        "lab",
        "gaming",
        "--observations",
        str(sample["station_observations"]),
        "--units",
        str(sample["units"]),
        "--framework",
        "station_four_dimension",
        "--period",
        "2025Q2",
        "--out",
        str(tmp_path / "g"),
    ]
    assert main([*argv, "--history", "0"]) == 2
    assert "history_months must be at least 1, got 0" in _one_error_line(capsys.readouterr().err)

    def broken(*args, **kwargs):
        raise ValueError("an internal slip")  # not a PerfmodelError: a bug, so not dressed up as the user's error

    monkeypatch.setattr(detect, "detect_gaming", broken)
    with pytest.raises(ValueError, match="an internal slip"):
        main(argv)
