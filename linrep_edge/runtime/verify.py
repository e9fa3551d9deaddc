"""`linrep-edge verify`: does the packed model give the same answers, through the C runtime?

Runs the same inputs through (1) the C runtime reading the blob in place, (2) the torch model rebuilt
from the blob (`GraphModel`, the reference for exactly what the blob holds) and (3) the original model
when it is known (the embedded default). Reports the accuracy of each (when labels exist), the top-1
agreement between C and the rebuilt torch model and the largest absolute logit difference.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from linrep_edge.errors import LinRepError
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.reader import parse


def load_inputs(inputs: str, labels: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 inputs (N, *input_shape) and optional int labels (N,) from .npy files."""
    def _load(path: str, what: str) -> np.ndarray:
        p = Path(path)
        if not p.is_file():
            raise LinRepError(f"--{what} {p}: no such file")
        try:
            return np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise LinRepError(f"--{what} {p}: not a .npy array ({exc})") from None

    x = _load(inputs, "inputs")
    if x.dtype.kind not in "fiu":
        raise LinRepError(f"--inputs {inputs}: expected numbers, got dtype {x.dtype}")
    y = None
    if labels is not None:
        y = _load(labels, "labels")
        if y.ndim != 1 or y.shape[0] != x.shape[0] or y.dtype.kind not in "iu":
            raise LinRepError(f"--labels {labels}: expected {x.shape[0]} integer labels, got shape {y.shape} {y.dtype}")
    return x.astype(np.float32), y


def original_model(metadata: dict[str, Any]) -> torch.nn.Module | None:
    if metadata.get("source") == "default":
        from linrep_edge.models.resnet8 import load_default_model

        return load_default_model()
    return None


def _accuracy(logits: np.ndarray, labels: np.ndarray | None) -> float | None:
    if labels is None:
        return None
    return float((logits.reshape(len(logits), -1).argmax(1) == labels).mean())


@torch.no_grad()
def _torch_outputs(model: torch.nn.Module, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    model.eval()
    outs = [model(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(outs)


def verify(blob: bytes, x: np.ndarray, labels: np.ndarray | None, where: str = "blob",
           conv_path: str = "auto") -> dict[str, Any]:
    from linrep_edge.runtime.binding import CRuntime

    parsed = parse(blob, where)
    rt = CRuntime(blob, where, conv_path=conv_path)
    if x.shape[1:] != rt.input_shape:
        raise LinRepError(f"inputs have shape {x.shape}, the model expects (N, {', '.join(map(str, rt.input_shape))})")
    t0 = time.perf_counter()
    c_out = rt.run(x)
    c_seconds = time.perf_counter() - t0
    ref = _torch_outputs(GraphModel(parsed.graph), x)
    orig = original_model(parsed.graph.metadata)
    o_out = _torch_outputs(orig, x) if orig is not None else None
    c_top = c_out.reshape(len(x), -1).argmax(1)
    r_top = ref.reshape(len(x), -1).argmax(1)
    return {
        "images": int(len(x)),
        "c_accuracy": _accuracy(c_out, labels),
        "torch_accuracy": _accuracy(ref, labels),
        "original_accuracy": _accuracy(o_out, labels) if o_out is not None else None,
        "top1_agreement": float((c_top == r_top).mean()),
        "max_abs_diff": float(np.abs(c_out - ref).max()) if len(x) else 0.0,
        "original_top1_agreement": float((c_top == o_out.reshape(len(x), -1).argmax(1)).mean()) if o_out is not None else None,
        "conv_path": conv_path,
        "arena_bytes": rt.arena_bytes,
        "activation_lower_bound_bytes": rt.activation_lower_bound_bytes,
        "c_seconds_per_image": c_seconds / max(len(x), 1),
    }


def format_result(r: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "n/a (no labels or no original)" if v is None else f"{100 * v:.2f}%"

    return "\n".join([
        f"{r['images']} inputs",
        f"accuracy: C runtime {pct(r['c_accuracy'])}, torch (rebuilt from blob) {pct(r['torch_accuracy'])}, "
        f"original model {pct(r['original_accuracy'])}",
        f"C vs rebuilt torch: top-1 agreement {100 * r['top1_agreement']:.2f}%, max |logit diff| {r['max_abs_diff']:.3g}",
        f"C runtime: arena {r['arena_bytes']} B (activation lower bound {r['activation_lower_bound_bytes']} B), "
        f"{1000 * r['c_seconds_per_image']:.2f} ms per image on this host",
    ])
