"""`linrep-edge verify`: does the packed model give the same answers, through the C runtime?

Runs the same inputs through (1) the C runtime reading the blob in place, (2) the torch model rebuilt
from the blob (`GraphModel`, the reference for exactly what the blob holds) and (3) the original model
whenever it is available (given with --model, or the embedded default named by the blob's metadata).
Reports the accuracy of each (when labels exist); C against the rebuilt model (top-1 agreement, largest
absolute output difference: is the runtime right?); and C against the original (top-1 agreement,
relative error of the outputs: is the compressed model still the user's model?), with a per-layer table
of the signal-to-quantisation-noise ratio of each layer's output against the original's on the same
inputs, so that the user sees where the error comes from.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from linrep_edge.agreement import accuracy, answer_kind, top1_agreement
from linrep_edge.errors import LinRepError
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.reader import Blob, parse
from linrep_edge.format.text import column_names, shown
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


def load_inputs(inputs: str, labels: str | None, max_bytes: int = 1 << 30,
                input_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 inputs (N, *input_shape) and optional int labels (N,), or (N, H, W) for a dense output, from
    .npy files. Inputs that are not finite as float32 (NaN, ±inf, or beyond float32's range such as 1e300) are refused: a
    comparison on them passes without meaning anything. Given the model's `input_shape` (C, H, W), images are
    taken as `pack --calibration` and `--data` take them: uint8 scaled by 1/255, (N, H, W) for one channel and
    NHWC made (N, C, H, W) (`user_data.channels_first`)."""
    x = _npy(inputs, "inputs", max_bytes)
    if input_shape is not None and len(input_shape) == 3:
        from linrep_edge.user_data import channels_first

        if x.dtype == np.uint8:
            x = x.astype(np.float32) / np.float32(255.0)
        x = channels_first(x, int(input_shape[0]))
    if x.dtype.kind not in "fiu":
        raise LinRepError(f"--inputs {shown(inputs)}: expected numbers, got dtype {x.dtype}")
    if x.ndim < 2:
        raise LinRepError(f"--inputs {shown(inputs)}: expected (N, *input_shape), got shape {x.shape}")
    y = None
    if labels is not None:
        y = _npy(labels, "labels", max_bytes)
        if y.ndim < 1 or y.shape[0] != x.shape[0] or y.dtype.kind not in "iu":
            raise LinRepError(f"--labels {shown(labels)}: expected {x.shape[0]} integer labels, one per input "
                              f"({x.shape[0]},), or one per position ({x.shape[0]}, H, W) for a dense output; got shape "
                              f"{y.shape} {y.dtype}")
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


@torch.no_grad()
def _torch_outputs(model: torch.nn.Module, x: np.ndarray, batch: int = 256) -> list[np.ndarray]:
    """Every output head of `model` on `x`, each (N, ...)."""
    model.eval()
    heads: list[list[np.ndarray]] = []
    for i in range(0, len(x), batch):
        y = model(torch.from_numpy(x[i:i + batch]))
        for k, t in enumerate(y if isinstance(y, (tuple, list)) else (y,)):
            if k == len(heads):
                heads.append([])
            heads[k].append(t.numpy())
    return [np.concatenate(h) for h in heads]


def _relative_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """‖got − want‖ / ‖want‖ over all heads and inputs."""
    num = sum(float(np.sum((g.reshape(w.shape).astype(np.float64) - w) ** 2)) for g, w in zip(got, want))
    den = sum(float(np.sum(w.astype(np.float64) ** 2)) for w in want)
    return float(np.sqrt(num / den)) if den > 0 else float(np.sqrt(num))


def _sqnr_db(signal: np.ndarray, approx: np.ndarray) -> float | None:
    """10·log10(Σ signal² / Σ (signal − approx)²); None when the two are equal."""
    noise = float(np.sum((signal.astype(np.float64) - approx) ** 2))
    power = float(np.sum(signal.astype(np.float64) ** 2))
    return None if noise == 0 else 10 * float(np.log10(max(power, 1e-300) / noise))


@torch.no_grad()
def layer_fidelity(blob_graph: Any, original: torch.nn.Module, x: np.ndarray) -> list[dict[str, Any]] | str:
    """Per op: SQNR (dB) of the blob's output of that op against the original model's output of the
    same op, on inputs `x`. The original is captured as a graph of its own (batch norm folded alike), so
    its ops line up with the blob's one to one; a LinRep conv stands where the original had a conv.
    A string says why there is no table (the two graphs do not line up)."""
    from linrep_edge.graph.capture import capture

    example = torch.zeros(1, *blob_graph.tensors[blob_graph.input].shape)
    orig_graph = capture(original, example)
    same = {"LINREP_CONV2D": "CONV2D"}
    if len(orig_graph.ops) != len(blob_graph.ops) or any(
            same.get(a.type, a.type) != same.get(b.type, b.type) for a, b in zip(orig_graph.ops, blob_graph.ops)):
        return "the blob's graph does not line up op for op with the original's (different ops)"
    xt = torch.from_numpy(x)
    ours = _int8_trace(blob_graph, x) if blob_graph.is_int8 else {
        k: v.numpy() for k, v in GraphModel(blob_graph).eval().trace(xt).items()}
    theirs = GraphModel(orig_graph).eval().trace(xt)
    rows = []
    for i, (a, b) in enumerate(zip(blob_graph.ops, orig_graph.ops)):
        rows.append({"op": i, "name": a.name, "type": a.type,
                     "sqnr_db": _sqnr_db(theirs[b.output].numpy(), ours[a.output])})
    return rows


def _int8_trace(g: Any, x: np.ndarray) -> dict[int, np.ndarray]:
    """Every tensor of an int8 graph for float inputs x [N, ...], as the Python integer reference computes it
    (equal to the C runtime byte for byte), dequantised with each tensor's scale and zero point."""
    from linrep_edge.integer.batch import quantize_input
    from linrep_edge.integer.executor import run_int8

    xq = quantize_input(g, np.asarray(x, np.float32))
    per = [run_int8(g, xi, trace=True) for xi in xq]
    return {k: np.float32(g.tensors[k].scale) * (np.stack([p[k] for p in per]).astype(np.float32)
                                                  - np.float32(g.tensors[k].zero_point))
            for k in range(len(g.tensors))}


def verify(blob: bytes, x: np.ndarray, labels: np.ndarray | None, where: str = "blob",
           conv_path: str = "auto", max_bytes: int = DEFAULT_MAX_BYTES, parsed: Blob | None = None,
           original: torch.nn.Module | None = None, layer_images: int = 64,
           inputs_name: str = "the inputs") -> dict[str, Any]:
    """C runtime vs the rebuilt torch model vs the original model (given, or the embedded default the
    blob's metadata names) on inputs `x` (`inputs_name`: how notes name them); per-layer SQNR against the
    original on the first `layer_images` inputs. `verdict` is "pass" only for a non-empty input set whose outputs (C and
    torch) are all finite. Non-finite inputs are the caller's to refuse (load_inputs does)."""
    from linrep_edge.runtime.binding import CRuntime, fits_input

    if len(x) == 0:
        raise LinRepError("no inputs to verify (an empty input set proves nothing)")
    if not np.isfinite(x).all():
        raise LinRepError("inputs hold NaN or infinite values; a comparison on them means nothing")
    if parsed is None or not parsed.weights:
        parsed = parse(blob, where, max_bytes=max_bytes)
    rt = CRuntime(blob, where, conv_path=conv_path)
    if x.shape[1:] != rt.input_shape and fits_input(x.shape[1:], rt.input_shape):
        x = x.reshape(len(x), *rt.input_shape)  # a 1-D model's [C, L] inputs are [C, 1, L] in the blob
    if x.shape[1:] != rt.input_shape:
        raise LinRepError(f"inputs have shape {x.shape}, the model expects (N, {', '.join(map(str, rt.input_shape))})")
    if parsed.graph.is_int8:  # C vs the Python integer reference, bit for bit
        from linrep_edge.runtime.verify_int8 import verify_int8

        return verify_int8(blob, parsed, x, labels, where, conv_path, original, layer_images, inputs_name)
    t0 = time.perf_counter()
    c_out = rt.run_all(x)
    c_seconds = time.perf_counter() - t0
    ref = _torch_outputs(GraphModel(parsed.graph), x)
    orig = original if original is not None else original_model(parsed.graph.metadata)
    o_out = _torch_outputs(orig, x) if orig is not None else None
    n = len(x)
    c_bad = sum(int((~np.isfinite(c)).sum()) for c in c_out)
    r_bad = sum(int((~np.isfinite(r)).sum()) for r in ref)
    finite = c_bad == 0 and r_bad == 0
    res: dict[str, Any] = {
        "verdict": "pass" if finite else "fail",
        "non_finite_outputs": {"c": c_bad, "torch": r_bad},
        "images": int(n),
        "outputs": len(c_out),
        "c_accuracy": accuracy(c_out[0], labels),
        "torch_accuracy": accuracy(ref[0], labels),
        "original_accuracy": accuracy(o_out[0], labels) if o_out is not None else None,
        "top1_agreement": top1_agreement(c_out[0], ref[0]),
        "max_abs_diff": max(float(np.abs(c.reshape(r.shape) - r).max()) for c, r in zip(c_out, ref)) if finite else None,
        "original_top1_agreement": None,
        "original_relative_error": None,
        "layers": None,
        "conv_path": conv_path,
        "arena_bytes": rt.arena_bytes,
        "activation_lower_bound_bytes": rt.activation_lower_bound_bytes,
        "c_seconds_per_image": c_seconds / max(n, 1),
    }
    if o_out is not None:
        if [o.shape for o in o_out] != [r.shape for r in ref]:
            raise LinRepError(f"the original model's outputs {[o.shape for o in o_out]} do not match the blob's "
                              f"{[r.shape for r in ref]}: is --model the model this blob was packed from?")
        res.update(original_fidelity(c_out, o_out))
        res["layers"] = layer_fidelity(parsed.graph, orig, x[:layer_images])
    res["notes"] = input_notes(o_out, inputs_name)
    return res


def original_fidelity(got: list[np.ndarray], want: list[np.ndarray]) -> dict[str, Any]:
    """The C runtime's outputs `got` (dequantised for int8) against the original's `want`: the first head's
    top-1 agreement (per input, or per position for a dense head; None for one score per input), the relative
    error over every head, and each head's own two figures (`original_outputs`)."""
    got = [g.reshape(w.shape) for g, w in zip(got, want)]
    heads = [{"shape": [int(d) for d in w.shape[1:]], "answers": answer_kind(w), "top1_agreement": top1_agreement(g, w),
              "relative_error": _relative_error([g], [w])} for g, w in zip(got, want)]
    return {"original_top1_agreement": heads[0]["top1_agreement"], "original_relative_error": _relative_error(got, want),
            "original_answers": heads[0]["answers"], "original_outputs": heads}


def fidelity_lines(r: dict[str, Any], what: str) -> list[str]:
    """verify's lines on fidelity to the original (`what`: who is compared), one per head when there are several."""
    if r.get("original_relative_error") is None:
        return [f"{what}: n/a (give the original with --model to measure fidelity)"]
    lines = [f"{what}: {_agreement_text(r['original_top1_agreement'], r.get('original_answers'))}, relative output "
             f"error {r['original_relative_error']:.4f}"]
    heads = r.get("original_outputs") or []
    if len(heads) > 1:
        lines += [f"  output {i} ({' x '.join(map(str, h['shape'])) or 'scalar'}): "
                  f"{_agreement_text(h['top1_agreement'], h['answers'])}, relative error {h['relative_error']:.4f}"
                  for i, h in enumerate(heads)]
    return lines


def _agreement_text(agree: float | None, answers: str | None) -> str:
    if agree is None:
        return "top-1 agreement n/a (one value per input, no classes)"
    return f"top-1 agreement {100 * agree:.2f}%" + ("" if answers in (None, "per input") else f" {answers}")


def input_notes(o_out: list[np.ndarray] | None, inputs_name: str) -> list[str]:
    """verify's notes on the inputs: the original answering one class to nearly all of them."""
    from linrep_edge.agreement import class_view
    from linrep_edge.user_data import one_answer_note

    if o_out is None:
        return []
    view = class_view(o_out[0])  # classifiers only: a dense head's background class is most positions' answer
    note = one_answer_note(view[:, :, 0], inputs_name) if view is not None and view.shape[2] == 1 else None
    return [note] if note else []


def format_result(r: dict[str, Any]) -> str:
    if r.get("activations") == "int8":
        from linrep_edge.runtime.verify_int8 import format_result_int8

        return format_result_int8(r)
    diff = "n/a" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.3g}"
    bad = r.get("non_finite_outputs", {})
    verdict = ("FAIL: non-finite outputs (C runtime {c}, torch {torch}); the comparison does not hold"
               .format(**bad) if r.get("verdict") == "fail" else "pass: all outputs finite")
    lines = [
        f"{r['images']} inputs" + (f", {r['outputs']} outputs" if r.get("outputs", 1) > 1 else "")
        + f"; verdict {verdict}",
        accuracy_line((("C runtime", r["c_accuracy"]), ("torch (rebuilt from blob)", r["torch_accuracy"]),
                       ("original model", r["original_accuracy"]))),
        f"C vs rebuilt torch (is the runtime right?): {_agreement_text(r['top1_agreement'], None)}, "
        f"max |output diff| {diff}",
    ]
    lines += fidelity_lines(r, "C vs original model (is it still your model?)")
    lines.append(f"C runtime: arena {r['arena_bytes']} B (activation lower bound {r['activation_lower_bound_bytes']} B), "
                 f"{1000 * r['c_seconds_per_image']:.2f} ms per image on this host")
    return "\n".join(lines + layer_table(r.get("layers")) + note_lines(r))


def note_lines(r: dict[str, Any]) -> list[str]:
    return [f"\n{n}" for n in r.get("notes") or []]


def accuracy_line(rows: tuple[tuple[str, float | None], ...]) -> str:
    """verify's accuracy line: each figure, or one reason for all (no labels) or for the original's (no --model)."""
    if all(v is None for _, v in rows):
        return "accuracy: n/a (no labels: give --labels Y.npy with --inputs, or --data)"
    return "accuracy: " + ", ".join(f"{name} " + (f"{100 * v:.2f}%" if v is not None else "n/a (no original: --model)")
                                    for name, v in rows)


def layer_table(layers: list[dict[str, Any]] | str | None) -> list[str]:
    """verify's per-layer SQNR lines (none without an original; one line saying why where the graphs differ)."""
    if isinstance(layers, str):
        return [f"per-layer fidelity: n/a ({layers})"]
    if not layers:
        return []
    lines = ["", "per layer, output vs the original's on the same inputs (SQNR; higher is closer):",
             f"{'op':>4} {'type':<20} {'name':<28} {'SQNR dB':>8}"]
    for row, name in zip(layers, column_names([row["name"] for row in layers], 28)):
        db = "exact" if row["sqnr_db"] is None else f"{row['sqnr_db']:.1f}"
        lines.append(f"{row['op']:>4} {row['type'][:20]:<20} {name:<28} {db:>8}")
    return lines
