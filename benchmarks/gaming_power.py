"""Power study of the threshold-gaming detector (issue 14 §1, R16).

For each generating process of ``tests/gaming_worlds.py`` (``far_reach``
included: a manipulation wider than the test's band), with numerators and
denominators and as rates alone: ROC AUC of the shipped unit score (the
empirical-Bayes Bayes factor of the threshold test; other checks only through
their leads), of the threshold test's ``−log10 p`` and of the naive baseline,
recall and precision of the leads at ``alpha``, recall among manipulators with
four or more months just below the threshold, and the share of all-honest
worlds with any lead, with its Clopper–Pearson 95 % interval. All checks run.

Run: ``PYTHONPATH=. python benchmarks/gaming_power.py [--seeds 8] [--honest 40] [--units 120] [--record]``
(``--record`` writes ``benchmarks/results/gaming_power.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gaming_worlds import EXTRA_PROCESSES, PROCESSES, study  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "gaming_power.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="worlds with manipulators per process (default 8)")
    parser.add_argument("--honest", type=int, default=40, help="all-honest worlds per process (default 40)")
    parser.add_argument("--units", type=int, default=120, help="units per world (default 120)")
    parser.add_argument("--alpha", type=float, default=0.1, help="FDR level of the leads (default 0.1)")
    parser.add_argument("--record", action="store_true", help=f"write the table to {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    lines = [
        "# Threshold-gaming detector: power study",
        "",
        f"{args.seeds} worlds with manipulators and {args.honest} all-honest worlds per process and data "
        f"mode, {args.units} units × 24 months, 15 % manipulators, all checks, leads at q ≤ {args.alpha:g} "
        "(weighted Benjamini–Hochberg over all checks, half the budget to the threshold test). "
        "AUC: the shipped unit score (the threshold test's empirical-Bayes Bayes factor; other checks "
        "only through their leads); AUC p: the threshold test's −log10 p; naive: months in [95 %, 96 %) "
        "minus half the months in [93 %, 95 %). Recall (busy): manipulators with four or more months in "
        "[93 %, 95 %) before manipulating, pooled over the worlds. False-lead rate: share of all-honest "
        "worlds of the same process with any lead, with its Clopper–Pearson 95 % interval; (threshold): "
        "with a lead of the threshold test. The honest worlds of *far* and *far_reach* are the same.",
        "",
        "| process | data | AUC | AUC p | AUC naive | recall | precision | recall (busy) "
        "| false-lead rate [95 % CI] | (threshold) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    started = time.perf_counter()
    for process in PROCESSES + EXTRA_PROCESSES:
        for rates in (False, True):
            r = study(
                process,
                range(args.seeds),
                honest_seeds=range(args.honest),
                n_units=args.units,
                alpha=args.alpha,
                rates=rates,
            )
            k, n = int(r["honest_with_leads"]), int(r["honest_worlds"])
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
            lines.append(
                f"| {process} | {'rates only' if rates else 'counts'} | {r['auc']:.3f} | {r['auc_p']:.3f} | "
                f"{r['auc_naive']:.3f} | {r['recall']:.2f} | {r['precision']:.2f} | "
                f"{r['recall_busy_pooled']:.2f} ({r['busy_named_total']}/{r['busy_total']}) | "
                f"{k}/{n} = {k / n:.3f} [{ci.low:.3f}, {ci.high:.3f}] | "
                f"{int(r['honest_with_threshold_leads'])}/{n} |"
            )
            print(lines[-1], flush=True)
    lines += ["", f"Run time {time.perf_counter() - started:.0f} s."]
    if args.record:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
