"""`linrep-edge bench accuracy`: the paper's experiment on the default model and the full test set.

For every (K, distance, scope): compress, accuracy before fine-tuning, fine-tune a and b on the
training split (the 5k validation images held out), accuracy after, conv-layer compression vs fp32 in
real bits (⌈log2 K⌉-bit index, fp16 a and b, fp16 codebooks counted once), and wall times. Per-layer
codebooks use min(K, kernels in the layer) templates for layers with fewer kernels than K.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import torch

from linrep_edge.method.compress import compress
from linrep_edge.method.finetune import evaluate, finetune
from linrep_edge.models.resnet8 import load_default_model
from linrep_edge.pipeline import FINETUNE_BATCH, finetune_split

DEFAULT_TEMPLATES = (4, 8, 16, 32, 64, 256)


def run(templates: list[int], distances: list[str], scopes: list[str], epochs: float, lr: float,
        seeds: list[int], show_progress: bool = True) -> dict[str, Any]:
    model = load_default_model()
    train, val, test = finetune_split("fashion-mnist", 0)
    test_loader, val_loader = test.loader(1000), val.loader(1000)
    baseline = evaluate(model, test_loader)
    baseline_val = evaluate(model, val_loader)
    rows = []
    for k, dist, scope, seed in itertools.product(templates, distances, scopes, seeds):
        t0 = time.perf_counter()
        cm, rep = compress(model, k, dist, scope, seed, cap_templates=(scope == "layer"), show_progress=show_progress)
        t_compress = time.perf_counter() - t0
        before = evaluate(cm, test_loader)
        torch.manual_seed(seed)
        t1 = time.perf_counter()
        if epochs > 0:
            finetune(cm, train.loader(FINETUNE_BATCH, shuffle=True, seed=seed), epochs, lr, show_progress=show_progress)
        t_ft = time.perf_counter() - t1
        rows.append({
            "templates": k, "distance": dist, "scope": scope, "seed": seed,
            "baseline_accuracy": baseline, "accuracy_before_finetune": before,
            "accuracy_after_finetune": evaluate(cm, test_loader),
            "val_accuracy_after_finetune": evaluate(cm, val_loader),
            "conv_compression_vs_fp32": rep.conv_compression_vs_fp32(),
            "compress_seconds": round(t_compress, 2), "finetune_seconds": round(t_ft, 1),
        })
    return {"baseline_accuracy": baseline, "baseline_val_accuracy": baseline_val, "epochs": epochs, "lr": lr,
            "test_images": len(test), "rows": rows}


def format_result(res: dict[str, Any]) -> str:
    out = [f"default model: {100 * res['baseline_accuracy']:.2f}% on {res['test_images']} test images; "
           f"fine-tune {res['epochs']} epoch(s), Adam lr {res['lr']} with cosine decay, a and b only",
           "",
           "| K | distance | scope | seed | before FT | after FT | Δ vs default | conv ×fp32 | compress s | FT s |",
           "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        out.append(f"| {r['templates']} | {r['distance']} | {r['scope']} | {r['seed']} | "
                   f"{100 * r['accuracy_before_finetune']:.2f} | {100 * r['accuracy_after_finetune']:.2f} | "
                   f"{100 * (r['accuracy_after_finetune'] - r['baseline_accuracy']):+.2f} | "
                   f"{r['conv_compression_vs_fp32']:.2f} | {r['compress_seconds']:.1f} | {r['finetune_seconds']:.0f} |")
    return "\n".join(out)
