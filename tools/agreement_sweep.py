#!/usr/bin/env python3
"""Python reader vs C verifier on many mutants of one blob: how often they disagree (expected: never).

    python tools/agreement_sweep.py --seeds 3000      # byte overwrites and bit flips, CRC re-fixed

Uses the blob and the mutations of tests/test_agreement.py, and the host C runtime
(make -C runtime_c). Prints the verdict counts by status and every disagreement; exit 1 if any.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_agreement as agreement  # noqa: E402

from linrep_edge.runtime.binding import CRuntime  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3000, help="mutation seeds; each gives an overwrite and a flip mutant")
    args = ap.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    disagree = 0
    for seed in range(args.seeds):
        for flips in (False, True):
            blob = agreement._mutate(seed, 1 + seed % 4, flips)
            c_status, _ = agreement._c_verdict(CRuntime, blob)
            py_status = agreement._py_verdict(blob)
            counts[c_status or "accepted"] += 1
            if c_status != py_status:
                disagree += 1
                print(f"seed {seed} flips={flips}: C {c_status}, Python {py_status}")
    print(f"{sum(counts.values())} mutants: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print(f"disagreements: {disagree}")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
