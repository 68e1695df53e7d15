"""Power study of the threshold-gaming detector (issue 14 §1, R16).

For each generating process of ``tests/gaming_worlds.py`` (and ``far_reach``,
a manipulation wider than the test's band), with numerators and denominators
and as rates alone: ROC AUC of the threshold test's unit score and of the
combined score over all checks, the naive baseline's AUC, recall and precision
of the leads at ``alpha``, recall among manipulators with four or more months
just below the threshold, and the share of all-honest worlds with any lead.
Writes ``benchmarks/results/gaming_power.md``.

Run: ``PYTHONPATH=. python benchmarks/gaming_power.py [--seeds 8] [--units 120]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gaming_worlds import EXTRA_PROCESSES, PROCESSES, study  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "gaming_power.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="worlds per process (default 8)")
    parser.add_argument("--units", type=int, default=120, help="units per world (default 120)")
    parser.add_argument("--alpha", type=float, default=0.1, help="FDR level of the leads (default 0.1)")
    args = parser.parse_args(argv)
    lines = [
        "# Threshold-gaming detector: power study",
        "",
        f"{args.seeds} worlds per process, {args.units} units × 24 months, 15 % manipulators, "
        f"leads at q ≤ {args.alpha:g} (Benjamini–Hochberg over all checks). AUC: the threshold "
        "test's unit score (−log10 p); combined: the unit score over all checks; naive: months in "
        "[95 %, 96 %) minus half the months in [93 %, 95 %). Recall (busy): manipulators with four or "
        "more months in [93 %, 95 %) before manipulating. False-lead rate: share of all-honest worlds "
        "of the same process with any lead (of any check; of the threshold test alone).",
        "",
        "| process | data | AUC | AUC combined | AUC naive | recall | precision | recall (busy) "
        "| false-lead rate | (threshold) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    started = time.perf_counter()
    for process in PROCESSES + EXTRA_PROCESSES:
        for rates in (False, True):
            r = study(process, range(args.seeds), n_units=args.units, alpha=args.alpha, rates=rates)
            lines.append(
                f"| {process} | {'rates only' if rates else 'counts'} | {r['auc']:.3f} | {r['auc_combined']:.3f} | "
                f"{r['auc_naive']:.3f} | {r['recall']:.2f} | {r['precision']:.2f} | {r['recall_busy']:.2f} | "
                f"{r['false_lead_rate']:.2f} | {r['false_lead_rate_threshold']:.2f} |"
            )
            print(lines[-1], flush=True)
    lines += ["", f"Run time {time.perf_counter() - started:.0f} s."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
