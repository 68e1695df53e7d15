"""Data-entry workbooks: a template to fill in for a framework, read back by ``validate``.

:func:`template_sheets` builds the sheets of an ``.xlsx`` template and
:func:`write_template` writes it with :func:`perfmodel.io.write_workbook` (the one
workbook writer: formula guard, identical bytes on every run). The workbook has

- an instructions sheet (说明 / instructions): how to fill it, one line per column,
  the deadline rule and what to run afterwards;
- an indicators sheet: every input indicator with its kind, unit, direction,
  declared range, source and whether numerator and denominator are needed;
- the data sheet: the observation columns the framework needs (headers that
  :data:`perfmodel.io.OBSERVATION_ALIASES` accepts), and, given units and a
  period, one row per unit × month × input indicator to fill; drop-downs for
  months, units and indicator ids, and number validation of value, numerator
  and denominator (within the declared range, or 0–1 for a rate);
- a hidden sheet with the drop-down lists.

No cell outside the data sheet names an observation column, so
:func:`perfmodel.io.read_table` reads the data sheet only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pandas as pd

from perfmodel.framework import Framework, Indicator
from perfmodel.glossary import column_header, column_info, label
from perfmodel.io import (
    OBSERVATION_ALIASES,
    SheetFormat,
    Validation,
    normalise_header,
    write_workbook,
)
from perfmodel.periods import months_in, period_label, reporting_deadline
from perfmodel.text import check_lang, has_message, say, templates
from perfmodel.validation import MAX_MAGNITUDE

__all__ = ["template_columns", "template_sheets", "write_template"]

_LAST_ROW = 1_048_576
"""Last row of an Excel sheet: drop-downs cover every row a user may add."""


def template_columns(framework: Framework) -> list[str]:
    """Observation columns (codes) the template for ``framework`` has, in order.

    ``numerator`` and ``denominator`` when the framework has a rate; ``rater_id``
    when a score is given by people (a ``score`` indicator whose source is not
    ``system``, e.g. a supervisor's rating).

    Examples
    --------
    >>> from perfmodel.framework import load_framework
    >>> template_columns(load_framework("station_four_dimension"))
    ['period', 'unit_id', 'indicator', 'value', 'numerator', 'denominator', 'rater_id', 'submitted_at']
    """
    kinds = framework.input_indicators()
    columns = ["period", "unit_id", "indicator", "value"]
    if "rate" in kinds.values():
        columns += ["numerator", "denominator"]
    if any(ind.kind == "score" and ind.source != "system" for ind in framework.indicators()):
        columns.append("rater_id")
    return [*columns, "submitted_at"]


def _header(code: str, lang: str) -> str:
    own = f"template.header.{code}"  # where the template's header differs from the glossary's
    header = say(own, lang) if has_message(own) else column_header(code, lang)
    assert OBSERVATION_ALIASES.get(normalise_header(header)) == code, header  # read back as `code`
    return header


def _meaning(code: str, lang: str) -> str:
    own = f"template.meaning.{code}"  # where the template's meaning differs from the glossary's
    if has_message(own):
        return say(own, lang)
    info = column_info(code, lang)
    return info[1] if info else ""


def _safe(text: object) -> object:
    """Text outside the data sheet that would be taken for an observation header, quoted."""
    if isinstance(text, str) and normalise_header(text) in OBSERVATION_ALIASES:
        return f"“{text}”"
    return text


def _bounds(kind: str, ind: Indicator | None) -> tuple[float, float]:
    """The accepted values of an input: the declared range, else 0–1 for rates, ≥ 0 for counts."""
    if ind is not None and ind.range is not None:
        return float(ind.range[0]), float(ind.range[1])
    if kind == "rate":
        return 0.0, 1.0
    if kind == "count":
        return 0.0, MAX_MAGNITUDE
    return -MAX_MAGNITUDE, MAX_MAGNITUDE


class _Input(TypedDict):
    """One input indicator of the workbook (a row of its indicator sheet)."""

    id: str
    name: str
    kind: str
    ind: Indicator | None  # the tree indicator; None for case types and bonus/negative-list counts
    role: str


def _inputs(framework: Framework, lang: str) -> list[_Input]:
    """One entry per input indicator: id, name, kind, the tree indicator and its role."""
    t = templates("template.words", lang)
    meta = framework.indicator_meta()
    out: dict[str, _Input] = {}
    for ind in framework.indicators():
        name = ind.name.in_lang(lang)
        if ind.kind == "points":
            for case in ind.inputs:
                out.setdefault(
                    case,
                    {
                        "id": case,
                        "name": f"{name}: {case}",
                        "kind": "count",
                        "ind": None,
                        "role": t["role_case"].format(parent=name),
                    },
                )
        else:
            out[ind.id] = {"id": ind.id, "name": name, "kind": ind.kind, "ind": meta[ind.id], "role": t["role_tree"]}
    for key, items in (("role_bonus", framework.bonus), ("role_negative", framework.negative_list)):
        for item in items:
            name = item.name.in_lang(lang)
            out.setdefault(
                item.indicator,
                {"id": item.indicator, "name": name, "kind": "count", "ind": None, "role": t[key].format(name=name)},
            )
    return list(out.values())


def _indicator_table(entries: list[_Input], lang: str) -> pd.DataFrame:
    t = templates("template.words", lang)
    rows = []
    for e in entries:
        ind = e["ind"]
        kind = e["kind"]
        if ind is not None and ind.range is not None:
            shown_range = t["range"].format(low=ind.range[0], high=ind.range[1])
        else:
            shown_range = {"rate": t["rate_range"], "count": t["count_range"]}.get(kind, t["no_range"])
        rows.append(
            {
                t["ind_id"]: e["id"],
                t["ind_name"]: e["name"],
                t["ind_kind"]: label("kind", kind, lang),
                t["ind_unit"]: (ind.unit if ind is not None and ind.unit else ""),
                t["ind_dir"]: label("direction", ind.direction, lang) if ind is not None else "",
                t["ind_range"]: shown_range,
                t["ind_ratio"]: t["ratio_yes"] if kind == "rate" else t["ratio_no"],
                t["ind_source"]: label("source", ind.source, lang)
                if ind is not None
                else label("source", "system", lang),
                t["ind_role"]: e["role"],
            }
        )
    return pd.DataFrame(rows)


def _instructions(framework: Framework, columns: list[str], months: list[str], lang: str) -> pd.DataFrame:
    t = templates("template.words", lang)
    name = framework.name.in_lang(lang)
    day, offset = framework.reporting.deadline_day, framework.reporting.deadline_month_offset
    example = months[0] if months else "2025-04"
    due = reporting_deadline(example, day, offset).strftime("%Y-%m-%d")
    data, indicators = t["data"], t["indicators"]

    def line(key: str, **values: object) -> tuple[str, str]:
        return say(f"template.instructions.{key}_item", lang, **values), say(
            f"template.instructions.{key}", lang, **values
        )

    lines = [line("purpose", name=name, id=framework.id), line("how", data=data)]
    for code in columns:
        lines.append((say("template.instructions.column_item", lang, header=_header(code, lang)), _meaning(code, lang)))
    lines += [
        line("reference", unit_name=t["unit_name"], indicator_name=t["indicator_name"]),
        line("rates"),
        line("counts"),
        line("raters"),
        line("indicators", indicators=indicators),
        line("deadline", day=day, offset=offset, example=example, due=due),
        line("after", id=framework.id),
    ]
    return pd.DataFrame(lines, columns=[t["item"], t["detail"]]).map(_safe)


def _runs(rows: list[int], letter: str) -> str:
    """Excel ranges covering ``rows`` of column ``letter`` (consecutive rows merged)."""
    parts, start = [], None
    for i, row in enumerate(rows):
        if start is None:
            start = row
        if i + 1 == len(rows) or rows[i + 1] != row + 1:
            parts.append(f"{letter}{start}" if start == row else f"{letter}{start}:{letter}{row}")
            start = None
    return " ".join(parts)


def _number_rule(cells: str, low: float, high: float, lang: str) -> Validation:
    prompt = say("template.validation.number_prompt", lang, low=low, high=high)
    error = say("template.validation.number_error", lang, low=low, high=high)
    return Validation(cells, "decimal", f"{low!r}", f"{high!r}", prompt=prompt, error=error)


def template_sheets(
    framework: Framework,
    *,
    units: pd.DataFrame | None = None,
    period: str | None = None,
    lang: str = "zh",
) -> tuple[dict[str, pd.DataFrame], dict[str, SheetFormat]]:
    """The sheets and formats of a data-entry template for ``framework``.

    Parameters
    ----------
    framework
        The framework the data are for.
    units
        Validated units (``ValidationResult.data``): with ``period``, the data
        sheet gets one row per unit the framework scores (its level, and its
        role when it has one) × month × input indicator, and the unit column a
        drop-down.
    period
        ``2025Q2``, ``2025-04`` or ``2025``: the months offered (drop-down) and pre-filled.
    lang
        ``zh`` or ``en``: headers, sheet names and instructions.

    Returns
    -------
    sheets, formats
        For :func:`perfmodel.io.write_workbook`.
    """
    check_lang(lang)
    t = templates("template.words", lang)
    columns = template_columns(framework)
    entries = _inputs(framework, lang)
    months = [str(m) for m in months_in(period_label(period))] if period else []
    unit_rows = pd.DataFrame(columns=["unit_id", "name"])
    if units is not None:
        chosen = units[units["level"] == framework.level] if "level" in units.columns else units
        if framework.role is not None and "role" in chosen.columns:  # the units the framework scores
            chosen = chosen[chosen["role"] == framework.role]
        unit_rows = pd.DataFrame(
            {
                "unit_id": chosen["unit_id"].astype(str).to_numpy(),
                "name": (chosen["name"] if "name" in chosen.columns else chosen["unit_id"]).astype(object).to_numpy(),
            }
        )
    # data sheet: input columns plus two reference columns after unit and indicator
    order = ["period", "unit_id", "unit_name", "indicator", "indicator_name", *columns[3:]]
    rows = []
    if months and len(unit_rows):
        # month, then indicator, then unit: each indicator's cells are one block per month, so
        # its number validation is a few ranges (a unit finds its rows with the filter button)
        for month in months:
            for e in entries:
                for unit, unit_name in unit_rows.itertuples(index=False):
                    rows.append(
                        {
                            "period": month,
                            "unit_id": unit,
                            "unit_name": unit_name,
                            "indicator": e["id"],
                            "indicator_name": e["name"],
                        }
                    )
    data = pd.DataFrame(rows, columns=order).astype(object)
    headers = {code: _header(code, lang) for code in columns}
    headers.update(unit_name=t["unit_name"], indicator_name=t["indicator_name"])
    data.columns = [headers[c] for c in order]
    letter = {code: chr(ord("A") + i) for i, code in enumerate(order)}
    # drop-down lists, on a hidden sheet
    lists_sheet = t["lists"]
    lists = {
        t["list_ind"]: [e["id"] for e in entries],
        t["list_month"]: months,
        t["list_unit"]: unit_rows["unit_id"].tolist(),
    }
    longest = max(len(v) for v in lists.values())
    lists_frame = pd.DataFrame({_safe(k): v + [None] * (longest - len(v)) for k, v in lists.items()}).map(_safe)
    quoted = f"'{lists_sheet}'"
    last = len(data) + 1
    rules = [
        Validation(
            f"{letter['indicator']}2:{letter['indicator']}{_LAST_ROW}",
            "list",
            f"{quoted}!$A$2:$A${len(entries) + 1}",
            prompt=say("template.validation.indicator_prompt", lang),
            error=say("template.validation.indicator_error", lang),
        )
    ]
    if months:
        rules.append(
            Validation(
                f"{letter['period']}2:{letter['period']}{_LAST_ROW}",
                "list",
                f"{quoted}!$B$2:$B${len(months) + 1}",
                prompt=say("template.validation.month_prompt", lang),
                error=say("template.validation.month_error", lang),
            )
        )
    if len(unit_rows):
        rules.append(
            Validation(
                f"{letter['unit_id']}2:{letter['unit_id']}{_LAST_ROW}",
                "list",
                f"{quoted}!$C$2:$C${len(unit_rows) + 1}",
                prompt=say("template.validation.unit_prompt", lang),
                error=say("template.validation.unit_error", lang),
            )
        )
    kinds = {e["id"]: (e["kind"], e["ind"]) for e in entries}
    by_bounds: dict[tuple[float, float], list[int]] = {}
    for position, indicator in enumerate(rows):
        bounds = _bounds(*kinds[str(indicator["indicator"])])
        by_bounds.setdefault(bounds, []).append(position + 2)
    for (low, high), at in sorted(by_bounds.items()):
        rules.append(_number_rule(_runs(at, letter["value"]), low, high, lang))
    rules.append(
        _number_rule(f"{letter['value']}{last + 1}:{letter['value']}{_LAST_ROW}", -MAX_MAGNITUDE, MAX_MAGNITUDE, lang)
    )
    for code in ("numerator", "denominator"):
        if code in letter:
            rules.append(_number_rule(f"{letter[code]}2:{letter[code]}{_LAST_ROW}", 0.0, MAX_MAGNITUDE, lang))
    text_columns = tuple(headers[c] for c in ("period", "unit_id", "indicator", "rater_id") if c in headers)
    sheets = {
        t["instructions"]: _instructions(framework, columns, months, lang),
        t["indicators"]: _indicator_table(entries, lang).map(_safe),
        t["data"]: data,
        lists_sheet: lists_frame,
    }
    sheets[t["indicators"]].columns = [_safe(c) for c in sheets[t["indicators"]].columns]
    formats = {
        t["instructions"]: SheetFormat(autofilter=False),
        t["indicators"]: SheetFormat(),
        t["data"]: SheetFormat(text_columns=text_columns, validations=tuple(rules)),
        lists_sheet: SheetFormat(hidden=True, autofilter=False),
    }
    return sheets, formats


def write_template(
    framework: Framework,
    path: str | Path,
    *,
    units: pd.DataFrame | None = None,
    period: str | None = None,
    lang: str = "zh",
) -> Path:
    """Write the :func:`template_sheets` workbook to ``path`` (an ``.xlsx``).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    check_lang(lang)
    sheets, formats = template_sheets(framework, units=units, period=period, lang=lang)
    return write_workbook(sheets, path, formats)
