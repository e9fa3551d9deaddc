"""`linrep-edge bench pareto`: bytes vs accuracy over K x a/b bits x sparsity, on the default model.

Every point is packed by the same pipeline as `linrep-edge pack` (compress, fine-tune a and b for the
given epochs with the a/b quantization in the loop, capture, pack) and its accuracy is measured by the C
runtime on the test set; integer a/b points store the layers LinRep does not cover as int8, fp16 points
as fp16. Sparsity s prunes that fraction of each LinRep layer's kernels (smallest ‖a·T + b‖ first)
before fine-tuning. Non-dominated points (no other point is both smaller and at least as accurate)
are marked.

`activations` adds int8 rows beside the fp32 ones: each integer a/b point packed again with
`--activations int8` (full-integer model, format version 4: int8 activations calibrated on training images,
a and b fine-tuned with the int8 model in the loop for the same epochs, every weight int8), its accuracy
from the C runtime in integer arithmetic. fp16 a/b points have no int8 twin (int8 needs integer a/b). Every
point also carries the runtime's arena (`lr_arena_size`): the RAM int8 saves.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import torch

from linrep_edge.datasets import load_fashion_mnist
from linrep_edge.errors import LinRepError
from linrep_edge.method.finetune import evaluate
from linrep_edge.models.resnet8 import load_default_model
from linrep_edge.pipeline import PackSettings, pack_model
from linrep_edge.plotting import figure, png_bytes
from linrep_edge.format.report import storage_report
from linrep_edge.runtime.binding import CRuntime

DEFAULT_TEMPLATES = (8, 16)
DEFAULT_AB_BITS = (16, 8, 6, 4)
DEFAULT_SPARSITY = (0.0, 0.3)


ACTIVATIONS = ("fp32", "int8")


def _settings(k: int, bits: int, sparsity: float, activations: str, epochs: float, lr: float,
              seed: int) -> PackSettings:
    """`pack`'s settings for one point (int8: integer a/b only; its weights are int8 by the scheme)."""
    if activations == "int8":
        return PackSettings(templates=k, seed=seed, finetune_epochs=epochs, finetune_lr=lr, data="fashion-mnist",
                            ab_bits=bits, prune_sparsity=sparsity, activations="int8")
    return PackSettings(templates=k, seed=seed, finetune_epochs=epochs, finetune_lr=lr,
                        data="fashion-mnist" if epochs > 0 else None, ab_bits=0 if bits == 16 else bits,
                        weights_dtype="fp16" if bits == 16 else "int8", prune_sparsity=sparsity, activations="fp32")


def run(templates: list[int], ab_bits: list[int], sparsities: list[float] = [0.0], epochs: float = 1.0,  # noqa: B006
        lr: float = 1e-3, seed: int = 0, test_limit: int | None = None, show_progress: bool = True,
        activations: Sequence[str] = ("fp32",)) -> dict[str, Any]:
    """The points of templates × ab_bits × sparsities × activations (int8 rows for integer a/b only)."""
    bad = [a for a in activations if a not in ACTIVATIONS]
    if bad or not activations:
        raise LinRepError(f"--activations takes fp32 and/or int8, got {list(activations)}")
    model = load_default_model().eval()
    test = load_fashion_mnist().test.take(test_limit)
    x, y = test.x.numpy(), test.y.numpy()
    with torch.no_grad():
        baseline = evaluate(model, test.loader(1000))
    points = []
    for k, bits, sparsity, act in itertools.product(templates, ab_bits, sparsities, activations):
        if act == "int8" and bits == 16:
            continue
        t0 = time.perf_counter()
        settings = _settings(k, bits, sparsity, act, epochs, lr, seed)
        res = pack_model(model, torch.zeros(1, *x.shape[1:]), settings, source="default", show_progress=show_progress)
        rep = storage_report(res.blob)
        rt = CRuntime(res.blob)
        acc = float((rt.run(x).argmax(1) == y).mean())  # an int8 blob: lr_run quantises x, integer ops inside
        points.append({"templates": k, "ab_bits": bits, "sparsity": sparsity, "activations": act,
                       "weights_dtype": "int8" if act == "int8" else settings.weights_dtype,
                       "bytes": len(res.blob), "conv_bytes": rep.conv_packed_bytes,
                       "conv_compression_vs_fp32": rep.conv_compression_vs_fp32, "arena_bytes": rt.arena_bytes,
                       "accuracy": acc, "baseline_accuracy": baseline, "delta_pt": 100 * (acc - baseline),
                       "seconds": round(time.perf_counter() - t0, 1)})
    for p in points:
        p["pareto"] = not any(o["bytes"] <= p["bytes"] and o["accuracy"] >= p["accuracy"]
                              and (o["bytes"] < p["bytes"] or o["accuracy"] > p["accuracy"]) for o in points)
    return {"baseline_accuracy": baseline, "test_images": len(x), "finetune_epochs": epochs, "finetune_lr": lr,
            "seed": seed, "activations": list(activations), "points": points, "best": _best(points)}


def _best(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The smallest blob and the highest conv compression within 0.5 and 1 pt of the default model."""
    out: dict[str, Any] = {}
    for limit in (0.5, 1.0):
        ok = [p for p in points if p["delta_pt"] >= -limit]
        out[f"smallest_within_{limit}pt"] = min(ok, key=lambda p: p["bytes"]) if ok else None
        out[f"max_conv_compression_within_{limit}pt"] = max(ok, key=lambda p: p["conv_compression_vs_fp32"]) if ok else None
    return out


def _label(p: dict[str, Any]) -> str:
    pruned = f" {100 * p['sparsity']:.0f}% pruned" if p["sparsity"] else ""
    act = " int8 act." if p.get("activations") == "int8" else ""
    return f"K={p['templates']} a/b {'fp16' if p['ab_bits'] == 16 else str(p['ab_bits']) + '-bit'}{pruned}{act}"


def format_result(res: dict[str, Any]) -> str:
    out = [f"default model {100 * res['baseline_accuracy']:.2f}% on {res['test_images']:,} test images (C runtime "
           f"accuracy per point; fine-tuned {res['finetune_epochs']:g} epoch, lr {res['finetune_lr']:g})", "",
           "| K | a/b | pruned | activations | other weights | bytes | conv ×fp32 | arena B | accuracy | Δ pt | Pareto |",
           "|---:|---|---:|---|---|---:|---:|---:|---:|---:|:---:|"]
    for p in res["points"]:
        ab = "fp16" if p["ab_bits"] == 16 else f"int{p['ab_bits']}"
        out.append(f"| {p['templates']} | {ab} | {100 * p['sparsity']:.0f} % | {p.get('activations', 'fp32')} | "
                   f"{p['weights_dtype']} | {p['bytes']:,} | {p['conv_compression_vs_fp32']:.2f} | "
                   f"{p.get('arena_bytes', 0):,} | {100 * p['accuracy']:.2f} | {p['delta_pt']:+.2f} | "
                   f"{'◆' if p['pareto'] else ''} |")
    out.append("")
    for key, p in res["best"].items():
        if p is not None:
            out.append(f"{key.replace('_', ' ')}: {_label(p)}, {p['bytes']:,} bytes, conv "
                       f"{p['conv_compression_vs_fp32']:.2f}x, {p['delta_pt']:+.2f} pt")
    return "\n".join(out)


def plot(res: dict[str, Any]) -> bytes:
    """PNG: blob bytes vs accuracy, one marker per point, the Pareto front joined."""
    fig, ax = figure((7, 4.5))
    for p in res["points"]:
        ax.scatter(p["bytes"], 100 * p["accuracy"], color="C0" if p["pareto"] else "C7", zorder=3,
                   marker="s" if p.get("activations") == "int8" else "o")
        ax.annotate(_label(p), (p["bytes"], 100 * p["accuracy"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=7)
    front = sorted((p for p in res["points"] if p["pareto"]), key=lambda p: p["bytes"])
    ax.plot([p["bytes"] for p in front], [100 * p["accuracy"] for p in front], "--", color="C2", label="Pareto front")
    ax.axhline(100 * res["baseline_accuracy"], color="C3", lw=0.8, label="default model (fp32)")
    ax.axhline(100 * res["baseline_accuracy"] - 0.5, color="C3", lw=0.8, ls=":", label="-0.5 pt")
    ax.set_xlabel("blob bytes on flash")
    ax.set_ylabel(f"top-1 accuracy, C runtime, {res['test_images']:,} images (%)")
    ax.set_title("linrep-edge: K x a/b bits x pruning on the default ResNet-8 (squares: int8 activations)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return png_bytes(fig, dpi=120)
