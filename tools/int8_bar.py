#!/usr/bin/env python3
"""Issue 16's bars for the default model with int8 activations: accuracy within 0.3 pt of the TFLite int8
model (91.94 % → ≥ 91.64 % on the Fashion-MNIST test set) and flash ≤ 25,252 B (0.25× its 101,008 B).

The default model is compressed once (K = 16, seed 0); for each candidate (a/b bits, per-layer widths,
epochs, lr) a and b are fine-tuned with the int8 model in the loop (`integer/qat.py`) on the training
split minus 5,000 validation images, quantised (`quantize_graph`, ranges from 2,000 training images),
packed (format version 4) and evaluated in integer arithmetic on the validation split. The candidate with
the best validation accuracy among those within the flash bar is chosen; only it is evaluated on the test
set, in Python (the batched exact evaluator, checked against `executor.run_int8` on both conv paths on a
few test images) and in the C runtime (`lr_run_i8` through `CRuntime.run_int8`, every test image).
Writes docs/bench/int8_bar.json. One thread (the machine is shared): about 2 minutes per epoch.

    PYTHONPATH=. python tools/int8_bar.py [--quick]

Spread over seeds (the choice stays the one made on validation with seed 0): re-run the chosen candidate
with other seeds (another compression, validation split, calibration subset and fine-tuning order), then
summarise the test accuracies:

    PYTHONPATH=. python tools/int8_bar.py --seed 1 --candidate "5bit+4bit-layer3.conv2, 2 epochs" \
        -o docs/bench/int8_bar_seed1.json
    PYTHONPATH=. python tools/int8_bar.py --summary docs/bench/int8_bar.json docs/bench/int8_bar_seed1.json ...
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linrep_edge.format.reader import parse
from linrep_edge.format.report import storage_report
from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.batch import int8_accuracy, quantize_input, run_int8_batch
from linrep_edge.integer.executor import run_int8
from linrep_edge.integer.pack import calibration_subset, int8_graph
from linrep_edge.models.resnet8 import DEFAULT_INPUT_SHAPE, load_default_model
from linrep_edge.pipeline import FINETUNE_BATCH, PackSettings, compress_model, finetune_split

TFLITE_INT8_ACCURACY = 0.9194
TFLITE_INT8_BYTES = 101_008
ACCURACY_BAR = TFLITE_INT8_ACCURACY - 0.003
FLASH_BAR = int(0.25 * TFLITE_INT8_BYTES)
BIG = "layer3.conv2"  # the largest LinRep layer (4,096 of the 8,208 kernels)

CANDIDATES = [  # (name, bits, per-layer widths, epochs, lr); a 1-epoch 5/4-bit run gave 91.78 % on validation
    ("5bit+4bit-layer3.conv2, 2 epochs", 5, {BIG: 4}, 2.0, 1e-3),
    ("6bit+4bit-layer3, 2 epochs", 6, {"layer3.conv1": 4, BIG: 4}, 2.0, 1e-3),
    ("5bit+4bit-layer3.conv2, 2 epochs, lr 2e-3", 5, {BIG: 4}, 2.0, 2e-3),
]


def summary(runs: list[dict]) -> dict:
    """Test accuracy of the same chosen candidate over seeds: mean, min, max, spread (max - min)."""
    chosen = {r["chosen"] for r in runs}
    if len(chosen) != 1:
        raise SystemExit(f"runs of different candidates: {sorted(chosen)}")
    acc = {r["settings"]["seed"]: r["test_accuracy"] for r in runs}
    c_acc = {r["settings"]["seed"]: r["c_runtime_test_accuracy"] for r in runs}
    values = list(acc.values())
    return {"chosen": chosen.pop(), "test_accuracy_by_seed": acc, "c_runtime_test_accuracy_by_seed": c_acc,
            "mean": float(np.mean(values)), "min": min(values), "max": max(values),
            "spread": max(values) - min(values), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "blob_bytes_by_seed": {r["settings"]["seed"]: r["blob_bytes"] for r in runs},
            "accuracy_bar": ACCURACY_BAR, "mean_meets_accuracy_bar": float(np.mean(values)) >= ACCURACY_BAR}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the first candidate only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "bench" / "int8_bar.json"))
    ap.add_argument("--blob", help="also write the chosen .lre here")
    ap.add_argument("--candidate", help="run this candidate only (by name; the choice made on validation)")
    ap.add_argument("--summary", nargs="+", metavar="JSON", help="summarise runs (test accuracy over seeds)")
    args = ap.parse_args()
    if args.summary:
        print(json.dumps(summary([json.loads(Path(f).read_text()) for f in args.summary]), indent=2))
        return 0
    candidates = CANDIDATES[:1] if args.quick else CANDIDATES
    if args.candidate:
        candidates = [c for c in CANDIDATES if c[0] == args.candidate]
        if not candidates:
            print(f"no candidate named {args.candidate!r}", file=sys.stderr)
            return 2
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    t_start = time.perf_counter()
    example = torch.zeros(DEFAULT_INPUT_SHAPE)
    settings = PackSettings(templates=16, seed=args.seed)
    base = compress_model(load_default_model(), settings, show_progress=False)
    train, val, test = finetune_split("fashion-mnist", args.seed)
    train_ds = torch.utils.data.TensorDataset(train.x, train.y)
    calib = calibration_subset(train.x, seed=args.seed)
    rows = []
    best = None
    for name, bits, layer_bits, epochs, lr in candidates:
        t0 = time.perf_counter()
        torch.manual_seed(args.seed)
        gi = int8_graph(copy.deepcopy(base), example, bits, calib, train_ds, epochs, lr, FINETUNE_BATCH, args.seed,
                        show_progress=False, layer_bits=layer_bits)
        gi.metadata = {**settings.metadata(), "ab_bits": bits, "layer_bits": layer_bits, "activations": "int8",
                       "finetune_epochs": epochs, "finetune_lr": lr, "data": "fashion-mnist", "source": "default"}
        blob = pack_graph(gi)
        graph = parse(blob).graph
        val_acc = int8_accuracy(graph, val.x.numpy(), val.y.numpy())
        row = {"name": name, "ab_bits": bits, "layer_bits": layer_bits, "epochs": epochs, "lr": lr,
               "blob_bytes": len(blob), "val_accuracy": val_acc, "within_flash_bar": len(blob) <= FLASH_BAR,
               "seconds": time.perf_counter() - t0}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if row["within_flash_bar"] and (best is None or val_acc > best[0]["val_accuracy"]):
            best = (row, blob, graph)
    if best is None:
        print("no candidate within the flash bar", file=sys.stderr)
        return 1
    row, blob, graph = best
    test_x, test_y = test.x.numpy(), test.y.numpy()
    test_acc = int8_accuracy(graph, test_x, test_y)
    xq = quantize_input(graph, test_x[:8])  # the batched evaluator against the per-image reference
    batch = run_int8_batch(graph, xq)[0]
    same = all(np.array_equal(run_int8(graph, xq[n], conv_path=p)[0], batch[n]) for n in range(8)
               for p in ("direct", "reuse"))
    from linrep_edge.method.finetune import evaluate
    from linrep_edge.runtime.binding import CRuntime

    c_out = CRuntime(blob).run_int8(quantize_input(graph, test_x))[0].reshape(len(test_x), -1)
    py_out = np.concatenate([run_int8_batch(graph, quantize_input(graph, test_x[i:i + 1000]))[0]
                             for i in range(0, len(test_x), 1000)]).reshape(len(test_x), -1)
    c_acc = float((c_out.argmax(1) == test_y).mean())
    original = load_default_model()
    if args.blob:
        Path(args.blob).write_bytes(blob)
    rep = storage_report(blob)
    result = {
        "bars": {"accuracy_min": ACCURACY_BAR, "flash_max_bytes": FLASH_BAR,
                 "tflite_int8_accuracy": TFLITE_INT8_ACCURACY, "tflite_int8_bytes": TFLITE_INT8_BYTES},
        "chosen": row["name"],
        "test_accuracy": test_acc,
        "blob_bytes": len(blob),
        "accuracy_bar_met": test_acc >= ACCURACY_BAR,
        "flash_bar_met": len(blob) <= FLASH_BAR,
        "bytes_per_section": rep.sections,
        "batched_equals_run_int8_on_8_test_images_both_paths": same,
        "c_runtime_test_accuracy": c_acc,
        "c_runtime_equals_python_on_every_test_image": bool(np.array_equal(c_out, py_out)),
        "original_fp32": {"test_accuracy": evaluate(original, test.loader(1000)),
                          "val_accuracy": evaluate(original, val.loader(1000))},
        "settings": {"templates": 16, "scope": "global", "distance": "signfree", "seed": args.seed,
                     "ab_bits": row["ab_bits"], "layer_bits": row["layer_bits"], "epochs": row["epochs"],
                     "lr": row["lr"], "batch": FINETUNE_BATCH, "calibration_images": len(calib),
                     "validation_images": len(val.x), "activation_ranges": "min/max"},
        "candidates": rows,
        "torch": torch.__version__, "python": platform.python_version(), "threads": 1,
        "seconds": time.perf_counter() - t_start,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("chosen", "test_accuracy", "blob_bytes", "accuracy_bar_met",
                                             "flash_bar_met", "batched_equals_run_int8_on_8_test_images_both_paths",
                                             "c_runtime_test_accuracy",
                                             "c_runtime_equals_python_on_every_test_image")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
