#!/usr/bin/env python3
"""Choose the fine-tuning learning rate on the validation split (never the test set).

Compresses the default model (K = 16, sign-free, global), fine-tunes a and b for one epoch on the
training split minus the 5k validation images at each learning rate, and prints validation accuracy.
The chosen value is the default of `finetune()` and of the CLI's --lr.

    .venv/bin/python tools/choose_finetune.py [--lrs 1e-4 3e-4 1e-3] [--templates 16] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import itertools
import json

import torch

from linrep_edge.method.compress import compress
from linrep_edge.method.finetune import evaluate, finetune
from linrep_edge.models.resnet8 import load_default_model
from linrep_edge.pipeline import finetune_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lrs", type=float, nargs="+", default=[3e-4, 1e-3])
    ap.add_argument("--templates", type=int, default=16)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--distill", type=float, nargs="+", default=[0.0])
    ap.add_argument("--batch", type=int, nargs="+", default=[64])
    args = ap.parse_args()
    model = load_default_model()
    train, val, _ = finetune_split("fashion-mnist", 0)
    base = evaluate(model, val.loader(1000))
    print(json.dumps({"baseline_val_accuracy": base}))
    for lr, distill, batch, seed in itertools.product(args.lrs, args.distill, args.batch, args.seeds):
        cm, _ = compress(model, args.templates, seed=seed, show_progress=False)
        before = evaluate(cm, val.loader(1000))
        torch.manual_seed(seed)
        finetune(cm, train.loader(batch, shuffle=True, seed=seed), args.epochs, lr, show_progress=False,
                 teacher=model if distill else None, distill=distill)
        print(json.dumps({"lr": lr, "distill": distill, "batch": batch, "seed": seed, "val_before": before,
                          "val_after": evaluate(cm, val.loader(1000))}), flush=True)


if __name__ == "__main__":
    main()
