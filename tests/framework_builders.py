"""Small framework dictionaries for tests (one home; test modules import from here)."""

from __future__ import annotations


def indicator_node(node_id: str, weight: float, **extra) -> dict:
    """A rate indicator node on ``[0, 1]`` with goalposts ``[0.5, 1]``; ``extra`` overrides keys."""
    return {
        "id": node_id,
        "name": {"zh": f"指标{node_id}", "en": f"Indicator {node_id}"},
        "weight": weight,
        "kind": "rate",
        "range": [0, 1],
        "goalposts": [0.5, 1.0],
        **extra,
    }


def dimension_node(node_id: str, weight: float, children: list[dict]) -> dict:
    """A dimension node holding ``children``."""
    return {
        "id": node_id,
        "name": {"zh": f"维度{node_id}", "en": f"Dimension {node_id}"},
        "weight": weight,
        "children": children,
    }
