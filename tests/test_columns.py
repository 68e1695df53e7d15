"""The context columns have one home (``perfmodel.columns``); every other list derives from it."""

from __future__ import annotations

import ast
from pathlib import Path

from perfmodel import columns

PACKAGE = Path(__file__).resolve().parents[1] / "perfmodel"

# Literal lists that may still name three or more context columns, and why.
ALLOWED = {
    # the column layout of the sample units file (order is the file's)
    ("simulate.py", "UNIT_COLUMNS"),
    # the deployment view's required columns and display columns (order is the table's)
    ("monitor/deployment.py", "_STATION_COLUMNS"),
    ("monitor/deployment.py", "context"),
    # the optimiser's neutrality covariates: two derived ones and a chosen subset of the contract
    ("design/optimise.py", "CONTEXT"),
}


def test_contract_by_hand() -> None:
    assert columns.NUMERIC_CONTEXT == ("population", "incident_volume", "officers")
    assert set(columns.CONTEXT_COLUMNS) == {
        "population",
        "incident_volume",
        "officers",
        "area_type",
        "station_type",
        "station_class",
        "district",
        "parent_id",
        "role",
        "gender",
        "age_band",
        "tenure_band",
    }
    assert len(columns.CONTEXT_COLUMNS) == len(set(columns.CONTEXT_COLUMNS)) == 12


def test_named_variants_keep_their_values() -> None:
    """Each former copy now derives from perfmodel.columns and still holds what it held."""
    from perfmodel.audit.run import DEFAULT_BY, DEFAULT_CONTEXT
    from perfmodel.calibrate.peers import CONTEXT_COLUMNS as PEERS_CONTEXT
    from perfmodel.calibrate.step import UNITS_CONTEXT
    from perfmodel.report.quarterly import CONTEXT_COLUMNS as REPORT_CONTEXT
    from perfmodel.simulate import UNIT_COLUMNS
    from perfmodel.validation import UNIT_NUMERIC_COLUMNS

    assert PEERS_CONTEXT is columns.NUMERIC_CONTEXT
    assert UNIT_NUMERIC_COLUMNS is columns.NUMERIC_CONTEXT
    assert UNITS_CONTEXT is columns.CONTEXT_COLUMNS
    assert REPORT_CONTEXT == ("population", "incident_volume", "officers", "area_type", "station_type")
    assert dict(DEFAULT_BY) == {
        "station": ("station_type", "area_type", "station_class", "district"),
        "officer": ("role", "gender", "age_band", "tenure_band"),
    }
    assert dict(DEFAULT_CONTEXT) == {"station": ("population", "incident_volume", "area_type"), "officer": ()}
    # the sample units file has exactly the contract's context columns
    assert set(UNIT_COLUMNS) == {"unit_id", "name", "level", *columns.CONTEXT_COLUMNS}


def _literal_lists(path: Path) -> list[tuple[str, list[str]]]:
    """(assigned name, string elements) of every literal tuple/list assigned in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            name = next((t.id for t in targets if isinstance(t, ast.Name)), "?")
            for sub in ast.walk(node.value) if node.value is not None else ():
                if isinstance(sub, (ast.Tuple, ast.List)):
                    strings = [e.value for e in sub.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                    out.append((name, strings))
    return out


def test_no_module_writes_the_context_list_again() -> None:
    known = set(columns.CONTEXT_COLUMNS)
    copies = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "columns.py":
            continue
        for name, strings in _literal_lists(path):
            if len(known.intersection(strings)) >= 3 and (module, name) not in ALLOWED:
                copies.append(f"{module}: {name} = {strings}")
    assert not copies, "context columns written out again; import them from perfmodel.columns:\n" + "\n".join(copies)
