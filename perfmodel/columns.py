"""Context columns of the units table: the one home of their names.

*Context* is what describes a unit's circumstances rather than its
performance: its size and workload (numbers), the kind of station or officer
(categories) and where it sits in the hierarchy. Every module that needs these
names imports them from here; a module that uses a subset on purpose derives
a named variant from these constants and says why next to it.

This module belongs to the common layer: it imports nothing.
"""

from __future__ import annotations

__all__ = [
    "CONTEXT_COLUMNS",
    "HIERARCHY_CONTEXT",
    "NUMERIC_CONTEXT",
    "OFFICER_CONTEXT",
    "STATION_CONTEXT",
]

NUMERIC_CONTEXT: tuple[str, ...] = ("population", "incident_volume", "officers")
"""Numeric context: residents served, incidents handled and officers of a unit.
They must be numbers when present, and derived context (rates, logs) is computed from them."""

STATION_CONTEXT: tuple[str, ...] = ("station_type", "area_type", "station_class")
"""Categorical context of a station: kind of station, urban/rural area, size class
(``station_class`` bands stations by population and incident volume)."""

HIERARCHY_CONTEXT: tuple[str, ...] = ("district", "parent_id")
"""Where a unit sits: its district and its parent unit (an officer's station)."""

OFFICER_CONTEXT: tuple[str, ...] = ("role", "gender", "age_band", "tenure_band")
"""Attributes of an officer that are not performance."""

CONTEXT_COLUMNS: tuple[str, ...] = (
    *NUMERIC_CONTEXT,
    *STATION_CONTEXT,
    *HIERARCHY_CONTEXT,
    *OFFICER_CONTEXT,
)
"""Every context column of the units-table contract, in the order above."""
