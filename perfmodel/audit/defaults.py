"""The one set of defaults of the fairness audit, and the minimum data each check needs.

The quarterly report's fairness paragraph
(:func:`~perfmodel.report.audit.fairness_summary_markdown`), the fairness
report (``notebooks/fairness_audit.ipynb``) and ``perfmodel audit`` all call
:func:`~perfmodel.audit.run.run_audit`; an option they leave at ``None``
takes its value from :data:`AUDIT_DEFAULTS` here, so the three run the same
checks on the same attributes and count the same findings. Change a default
here, and only here.

The ``MIN_*`` constants are the least data a check needs to say anything; below
them :func:`~perfmodel.audit.run.run_audit` skips the check with a note
that says so (codes `audit.note.too_few_groups` and `audit.note.too_few_units`; see :func:`too_few_groups_note` and
:func:`too_few_units_note`).

Examples
--------
>>> AUDIT_DEFAULTS.n_boot, AUDIT_DEFAULTS.min_n
(100, 5)
>>> AUDIT_DEFAULTS.resolve(n_boot=None, seed=3).seed
3
>>> AUDIT_DEFAULTS.by["station"]
('station_type', 'area_type', 'station_class', 'district')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from perfmodel.calibrate.difficulty import CONTEXT_UNITS_PER_TERM, MIN_CONTEXT_UNITS, context_units_needed
from perfmodel.columns import NUMERIC_CONTEXT, OFFICER_CONTEXT, STATION_CONTEXT
from perfmodel.text import check_lang, say

__all__ = [
    "AuditDefaults",
    "AUDIT_DEFAULTS",
    "MIN_GROUPS",
    "MIN_CONTEXT_UNITS",
    "CONTEXT_UNITS_PER_TERM",
    "context_units_needed",
    "too_few_groups_note",
    "too_few_groups_values",
    "too_few_units_note",
    "too_few_units_values",
]


def _frozen(mapping: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class AuditDefaults:
    """Default options of :func:`~perfmodel.audit.run.run_audit`.

    Attributes
    ----------
    by
        Unit attributes audited per framework level (those present with at
        least two groups are used).
    legitimate
        Legitimate factors for conditional parity per level (workload per
        officer for stations).
    context
        Context variables for context neutrality per level.
    min_n
        Fewest units a group needs to be reported (smaller groups are
        suppressed, see :mod:`perfmodel.privacy`); also the fewest units per
        group a group comparison needs.
    alpha
        Significance level after correction.
    correction
        Multiple-testing correction.
    n_boot
        Bootstrap replicates of the grade robustness and effective weights.
        100, not more: the quarterly report now runs the same audit as the
        fairness report (grade bootstrap included), and each replicate re-runs
        the whole evaluation; 100 keeps ``make report`` within its time budget
        while the grade-change probability near the 20 % robustness line has a
        Monte Carlo standard error of about 4 points. Raise it here (or with
        ``--n-boot``) for a final audit.
    min_parity_boot
        Fewest bootstrap replicates of the Oaxaca–Blinder intervals (used even
        when ``n_boot`` is smaller, e.g. 0).
    seed
        Seed of every resampling.
    """

    by: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: _frozen(
            {
                "station": (*STATION_CONTEXT, "district"),
                "officer": OFFICER_CONTEXT,
            }
        )
    )
    legitimate: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: _frozen(
            {
                "station": ("incidents_per_officer",),
                "officer": (),
            }
        )
    )
    context: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: _frozen(
            {
                # ``officers`` is left out: staffing is controlled for through ``incidents_per_officer``
                "station": (*(c for c in NUMERIC_CONTEXT if c != "officers"), "area_type"),
                "officer": (),
            }
        )
    )
    min_n: int = 5
    alpha: float = 0.05
    correction: str = "holm"
    n_boot: int = 100
    min_parity_boot: int = 50
    seed: int = 0

    def resolve(self, **given: Any) -> AuditDefaults:
        """A copy with every option given as not ``None`` replaced; ``None`` keeps the default.

        Raises :class:`TypeError` for a name that is not an option.
        """
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})


AUDIT_DEFAULTS = AuditDefaults()
"""The defaults every entry point of the audit uses (report paragraph, fairness report, CLI)."""

MIN_GROUPS = 2
"""A group comparison needs at least this many groups with :attr:`AuditDefaults.min_n` units each."""

# The minimum of a regression on context has one home (calibrate.difficulty, next to r2_on_context);
# context neutrality and the quarterly report's calibration paragraph both apply it.


def too_few_groups_values(attribute: str, enough: int, min_n: int) -> dict[str, Any]:
    """The values of the note ``audit.note.too_few_groups`` (see :func:`too_few_groups_note`)."""
    return {"groups": MIN_GROUPS, "min_n": min_n, "attribute": attribute, "enough": enough}


def too_few_units_values(n: int, terms: int) -> dict[str, Any]:
    """The values of the note ``audit.note.too_few_units`` (see :func:`too_few_units_note`)."""
    return {
        "needed": context_units_needed(terms),
        "floor": MIN_CONTEXT_UNITS,
        "per_term": CONTEXT_UNITS_PER_TERM,
        "terms": terms,
        "n": n,
    }


def too_few_groups_note(attribute: str, enough: int, min_n: int, lang: str) -> str:
    """Why a group comparison was skipped, in words: what it needs and what the data have.

    ``enough`` is how many groups have ``min_n`` units or more; no group's own
    count is named (small counts are suppressed, see :mod:`perfmodel.privacy`).

    >>> print(too_few_groups_note("area_type", 1, 5, "en"))  # doctest: +NORMALIZE_WHITESPACE
    Too few data for this analysis: it needs at least 5 units in each of 2 groups;
    only 1 group(s) of 'area_type' have 5 or more units
    """
    check_lang(lang)
    return say("audit.note.too_few_groups", lang, **too_few_groups_values(attribute, enough, min_n))


def too_few_units_note(n: int, terms: int, lang: str) -> str:
    """Why context neutrality was skipped: units needed for ``terms`` terms, units present."""
    check_lang(lang)
    return say("audit.note.too_few_units", lang, **too_few_units_values(n, terms))
