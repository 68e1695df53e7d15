"""Run every benchmark (``benchmarks/bench_*.py``, then ``engines.py`` and ``scaling.py``) and record their results.

``make bench`` calls this. Each benchmark runs in its own process, one after the
other, so their timings and memory do not disturb each other.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in [*sorted(HERE.glob("bench_*.py")), HERE / "engines.py", HERE / "scaling.py"]:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script), "--record"], cwd=HERE.parent).returncode:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
