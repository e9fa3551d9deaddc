#!/usr/bin/env python3
"""Calibration and test arrays of natural-photo crops for an image model, from the photos that ship inside
scikit-image and scikit-learn (`linrep_edge.bench.photos`): nothing downloaded. Calibration crops come from
`CALIBRATION_PHOTOS`, test crops from the disjoint `TEST_PHOTOS`.

    PYTHONPATH=. .venv/bin/python tools/photo_crops.py --size 32 --n 512 --test 128 --range 255 -o /tmp/ic
        -> /tmp/ic_cal.npy (512, 32, 32, 3) and /tmp/ic_test.npy (128, 32, 32, 3), float32 in [0, 255]

Values are 8-bit pixels (k / 255 of the range). `--range` is the model's input range: 1 gives float32 in [0, 1]; 255 gives float32 in [0, 255] (MLPerf Tiny's
CIFAR-10 ResNet takes 0..255: its int8 sibling's input scale is 1.0). Arrays are NHWC, as a user's image
arrays usually are; `pack --calibration` and `verify --inputs` take them as they are (float32 is never rescaled;
uint8 is scaled by 1/255).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linrep_edge.bench.photos import CALIBRATION_PHOTOS, TEST_PHOTOS, random_crops  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, required=True, help="crop side in pixels (the model's input size)")
    ap.add_argument("--n", type=int, default=512, help="calibration crops")
    ap.add_argument("--test", type=int, default=128, help="test crops (other photos)")
    ap.add_argument("--range", type=float, default=1.0, help="the model's input range: values in [0, RANGE]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", required=True, help="prefix: writes PREFIX_cal.npy and PREFIX_test.npy")
    args = ap.parse_args()
    for name, photos, n, seed in (("cal", CALIBRATION_PHOTOS, args.n, args.seed),
                                  ("test", TEST_PHOTOS, args.test, args.seed + 1)):
        eight_bit = (random_crops(photos, n, args.size, seed) * 255).round()  # as a camera's pixels are
        x = (eight_bit.permute(0, 2, 3, 1).numpy() * np.float32(args.range / 255)).astype(np.float32)
        path = Path(f"{args.output}_{name}.npy")
        np.save(path, np.ascontiguousarray(x, dtype=np.float32))
        print(f"wrote {path}: {x.shape} float32 in [0, {args.range:g}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
