"""Shared helpers of the benchmarks: the machine description and RESULTS.md sections."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """Cores, CPU model, Python, numpy, pandas and OS, on one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, {platform.system()} {platform.release()}"
    )


def load_average() -> float:
    """The one-minute load average (NaN where the OS does not tell)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def record(section: str, heading: str, lines: list[str], intro: str = "") -> None:
    """Replace the results list of one benchmark's section in RESULTS.md; other sections stay.

    ``section`` is the section's ``## …`` title line, ``heading`` the line that
    introduces the results list, ``intro`` the text written when the section is new.
    """
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(section)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section + "\n\n" + intro.strip() + "\n"
        start = text.find(section)
    following = text.find("\n## ", start + len(section))
    end = len(text) if following < 0 else following + 1
    current = text[start:end]
    marker = current.find(heading)
    head = current if marker < 0 else current[:marker]
    body = heading + "\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
    new_section = head.rstrip("\n") + "\n\n" + body + ("\n" if following >= 0 else "")
    RESULTS.write_text(text[:start] + new_section + text[end:], encoding="utf-8")
