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
from linrep_edge.format.reader import Blob, parse
from linrep_edge.format.text import shown
from linrep_edge.format.transport import DEFAULT_MAX_BYTES


def _npy(path: str, what: str, max_bytes: int) -> np.ndarray:
    """A .npy array, its header checked against the file before anything is allocated: a 144-byte
    file can claim 2**40 x 784 elements."""
    p = Path(path)
    if not p.is_file():
        raise LinRepError(f"--{what} {shown(p)}: no such file")
    try:
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unsupported .npy version {version}")
            read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(version, np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f, max_header_size=10000)
            data_bytes = p.stat().st_size - f.tell()
        if dtype.hasobject:
            raise ValueError("object arrays are not loaded")
        need = dtype.itemsize
        for d in shape:
            need *= d
        if need > data_bytes:
            raise ValueError(f"header claims shape {shape} {dtype} ({need} bytes), the file holds {data_bytes}")
        if need > max_bytes:
            raise ValueError(f"{need} bytes, more than the --max-size limit of {max_bytes}")
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise LinRepError(f"--{what} {shown(p)}: not a usable .npy array ({shown(exc, 200)})") from None


def load_inputs(inputs: str, labels: str | None, max_bytes: int = 1 << 30) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 inputs (N, *input_shape) and optional int labels (N,) from .npy files. Inputs that are
    not finite as float32 (NaN, ±inf, or beyond float32's range such as 1e300) are refused: a
    comparison on them passes without meaning anything."""
    x = _npy(inputs, "inputs", max_bytes)
    if x.dtype.kind not in "fiu":
        raise LinRepError(f"--inputs {shown(inputs)}: expected numbers, got dtype {x.dtype}")
    if x.ndim < 2:
        raise LinRepError(f"--inputs {shown(inputs)}: expected (N, *input_shape), got shape {x.shape}")
    y = None
    if labels is not None:
        y = _npy(labels, "labels", max_bytes)
        if y.ndim != 1 or y.shape[0] != x.shape[0] or y.dtype.kind not in "iu":
            raise LinRepError(f"--labels {shown(labels)}: expected {x.shape[0]} integer labels, got shape {y.shape} "
                              f"{y.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        x32 = x.astype(np.float32)
    bad = ~np.isfinite(x32)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise LinRepError(f"--inputs {shown(inputs)}: {int(bad.sum())} values are not finite as float32 (NaN, "
                          f"infinity or beyond ±3.4e38), the first at index {first} ({x[first]!r})")
    return x32, y


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
           conv_path: str = "auto", max_bytes: int = DEFAULT_MAX_BYTES, parsed: Blob | None = None) -> dict[str, Any]:
    """The comparison; `verdict` is "pass" only for a non-empty input set whose outputs (C and torch)
    are all finite. Non-finite inputs are the caller's to refuse (load_inputs does)."""
    from linrep_edge.runtime.binding import CRuntime

    if len(x) == 0:
        raise LinRepError("no inputs to verify (an empty input set proves nothing)")
    if not np.isfinite(x).all():
        raise LinRepError("inputs hold NaN or infinite values; a comparison on them means nothing")
    if parsed is None or not parsed.weights:
        parsed = parse(blob, where, max_bytes=max_bytes)
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
    c_bad, r_bad = int((~np.isfinite(c_out)).sum()), int((~np.isfinite(ref)).sum())
    finite = c_bad == 0 and r_bad == 0
    return {
        "verdict": "pass" if finite else "fail",
        "non_finite_outputs": {"c": c_bad, "torch": r_bad},
        "images": int(len(x)),
        "c_accuracy": _accuracy(c_out, labels),
        "torch_accuracy": _accuracy(ref, labels),
        "original_accuracy": _accuracy(o_out, labels) if o_out is not None else None,
        "top1_agreement": float((c_top == r_top).mean()),
        "max_abs_diff": float(np.abs(c_out - ref).max()) if finite else None,
        "original_top1_agreement": float((c_top == o_out.reshape(len(x), -1).argmax(1)).mean()) if o_out is not None else None,
        "conv_path": conv_path,
        "arena_bytes": rt.arena_bytes,
        "activation_lower_bound_bytes": rt.activation_lower_bound_bytes,
        "c_seconds_per_image": c_seconds / max(len(x), 1),
    }


def format_result(r: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "n/a (no labels or no original)" if v is None else f"{100 * v:.2f}%"

    diff = "n/a" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.3g}"
    bad = r.get("non_finite_outputs", {})
    verdict = ("FAIL: non-finite outputs (C runtime {c}, torch {torch}); the comparison does not hold"
               .format(**bad) if r.get("verdict") == "fail" else "pass: all outputs finite")
    return "\n".join([
        f"{r['images']} inputs; verdict {verdict}",
        f"accuracy: C runtime {pct(r['c_accuracy'])}, torch (rebuilt from blob) {pct(r['torch_accuracy'])}, "
        f"original model {pct(r['original_accuracy'])}",
        f"C vs rebuilt torch: top-1 agreement {100 * r['top1_agreement']:.2f}%, max |logit diff| {diff}",
        f"C runtime: arena {r['arena_bytes']} B (activation lower bound {r['activation_lower_bound_bytes']} B), "
        f"{1000 * r['c_seconds_per_image']:.2f} ms per image on this host",
    ])
