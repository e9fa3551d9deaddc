"""Per-layer choice under a budget vs one global K at the same bytes, on the default model (issue 15 item 8).

For each global K: pack the default model with one codebook of K templates (`pack --default --templates K`),
then with `pack --default --max-bytes <that blob's size>` (per-layer K from 4..64, dense int8 or fp16,
chosen from each layer's sensitivity on 1,024 Fashion-MNIST training images), both with the same
fine-tuning (none by default). Each blob is read back and run (torch executor of the parsed graph, the same
answers as the C runtime) on the 10,000 test images: accuracy, top-1 agreement with the original model,
relative error of the logits; plus bytes.

    PYTHONPATH=. .venv/bin/python tools/budget_bench.py [--templates 16 64] [--finetune-epochs 0] [--json OUT]

With `--activations int8` both blobs are full-integer (`pack --activations int8 --ab-bits B`, format
version 4; per-layer candidates LinRep at K and dense int8) and are run by the integer reference (the exact
int8 graph over a batch, bit-exact with the C runtime), their outputs dequantised:

    PYTHONPATH=. .venv/bin/python tools/budget_bench.py --activations int8 --ab-bits 6 --json docs/bench/budget_int8.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch


def evaluate_blob(blob: bytes, original: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    from linrep_edge.format.reader import parse
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.method.budget import int8_outputs
    from linrep_edge.method.sensitivity import fidelity, outputs_of

    graph = parse(blob).graph
    out = int8_outputs(graph, x, batch=500) if graph.is_int8 else outputs_of(GraphModel(graph), x, batch=500)
    ref = outputs_of(original, x, batch=500)
    agree, err = fidelity(out, ref)
    return {"bytes": len(blob), "test_accuracy": float((out[0].argmax(1) == y).double().mean()),
            "test_top1_agreement": float(agree or 0.0), "test_relative_output_error": err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--templates", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--finetune-epochs", type=float, default=0.0)
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--activations", choices=("fp32", "int8"), default="fp32")
    ap.add_argument("--ab-bits", type=int, default=0, help="integer a/b width (int8 activations: default 6)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from linrep_edge.datasets import load_fashion_mnist
    from linrep_edge.errors import LinRepError
    from linrep_edge.models.loading import load_default
    from linrep_edge.pipeline import PackSettings, pack_model

    model, example = load_default()
    test = load_fashion_mnist().test
    ft: dict[str, Any] = {"finetune_epochs": args.finetune_epochs, "data": "fashion-mnist"} if args.finetune_epochs else {}
    if args.activations == "int8":  # int8 calibrates its activation ranges on --data's training images
        ft.update(activations="int8", data="fashion-mnist", ab_bits=args.ab_bits)
    else:  # fp32 rows (int8 is pack's default for the default model)
        ft.update(activations="fp32", **({"ab_bits": args.ab_bits} if args.ab_bits else {}))
    with torch.no_grad():
        orig_acc = float((torch.cat([model(test.x[i:i + 500]) for i in range(0, len(test), 500)]).argmax(1)
                          == test.y).double().mean())
    rows = []
    for k in args.templates:
        t0 = time.perf_counter()
        glob = pack_model(model, example, PackSettings(templates=k, **ft), "default", show_progress=False)
        g = {"setting": f"global K={k}", **evaluate_blob(glob.blob, model, test.x, test.y),
             "seconds": time.perf_counter() - t0}
        t0 = time.perf_counter()
        try:
            res = pack_model(model, example, PackSettings(max_bytes=len(glob.blob), **ft), "default",
                             show_progress=False)
        except LinRepError as exc:  # below what per-layer codebooks can reach
            print(f"{g['setting']:<22} {g['bytes']:>7} B: --max-bytes {len(glob.blob)}: {exc}", flush=True)
            rows += [g, {"setting": f"--max-bytes {len(glob.blob)}", "error": str(exc)}]
            continue
        b = {"setting": f"--max-bytes {len(glob.blob)}", **evaluate_blob(res.blob, model, test.x, test.y),
             "seconds": time.perf_counter() - t0, "choice": {r["layer"]: r["choice"] for r in res.budget["layers"]},
             "held_out_top1_agreement": res.budget["held_out_top1_agreement"]}
        rows += [g, b]
        for r in (g, b):
            print(f"{r['setting']:<22} {r['bytes']:>7} B  accuracy {100 * r['test_accuracy']:.2f}%  agreement "
                  f"{100 * r['test_top1_agreement']:.2f}%  rel. error {r['test_relative_output_error']:.4f}"
                  + (f"  {r['choice']}" if "choice" in r else ""), flush=True)
        write(args.json, orig_acc, len(test), args, rows)  # after each K: a long run leaves what it measured
    print(f"original model: test accuracy {100 * orig_acc:.2f}%")
    write(args.json, orig_acc, len(test), args, rows)
    return 0


def write(path: str | None, orig_acc: float, test_images: int, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """The raw result so far as JSON (nothing without --json)."""
    if not path:
        return
    result = {"model": "default (ResNet-8, Fashion-MNIST)", "original_test_accuracy": orig_acc,
              "finetune_epochs": args.finetune_epochs, "test_images": test_images, "activations": args.activations,
              "ab_bits": args.ab_bits, "rows": rows,
              "command": "python tools/budget_bench.py " + " ".join(sys.argv[1:])}
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    raise SystemExit(main())
