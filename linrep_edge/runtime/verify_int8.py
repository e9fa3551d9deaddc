"""`linrep-edge verify` on an int8 blob (format version 4): the C runtime against the Python integer
reference, bit for bit, and against the original model.

Float inputs are quantised with the blob's input scale and zero point (as lr_run does); the C runtime
runs them with lr_run_i8 and the Python reference (`integer/batch.run_int8_batch`, equal to
`executor.run_int8`, itself equal to TFLite Micro's arithmetic) on the same int8 inputs: every output
byte must agree (`differing_output_bytes` 0: the verdict). Accuracy of both when labels exist; against
the original model (given, or the embedded default the metadata names): top-1 agreement and relative
error of the dequantised outputs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph
from linrep_edge.format.reader import Blob


REFERENCE_CHUNK = 500  # inputs per batched run: the batched evaluator's float64 intermediates of 10,000
# Fashion-MNIST images at once took 11.9 GB (peak RSS of `linrep-edge demo`); 500 at a time keep it small


def _reference(g: Graph, xq: np.ndarray) -> list[np.ndarray]:
    """The Python integer reference on int8 inputs [N, ...], REFERENCE_CHUNK inputs at a time: the batched
    evaluator where it covers every op, else `executor.run_int8` one input at a time (the same integers)."""
    from linrep_edge.integer.batch import run_int8_batch
    from linrep_edge.integer.executor import run_int8

    parts: list[list[np.ndarray]] = []
    for start in range(0, max(len(xq), 1), REFERENCE_CHUNK):
        chunk = xq[start:start + REFERENCE_CHUNK]
        try:
            parts.append(run_int8_batch(g, chunk))
        except LinRepError:
            per = [run_int8(g, x) for x in chunk]
            parts.append([np.stack([p[k] for p in per]) for k in range(len(g.results))])
    return [np.concatenate([p[k] for p in parts]) for k in range(len(g.results))]


def verify_int8(blob: bytes, parsed: Blob, x: np.ndarray, labels: np.ndarray | None, where: str,
                conv_path: str = "auto", original: torch.nn.Module | None = None,
                layer_images: int = 64, inputs_name: str = "the inputs") -> dict[str, Any]:
    """verify's result for an int8 blob; against the original (given, or the embedded default): top-1 agreement,
    relative output error and the per-layer SQNR table (`layers`) on the first `layer_images` inputs."""
    from linrep_edge.agreement import accuracy
    from linrep_edge.integer.batch import dequantize_outputs, quantize_input
    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.verify import (_torch_outputs, input_notes, layer_fidelity,
                                            original_fidelity, original_model)

    g = parsed.graph
    rt = CRuntime(blob, where, conv_path=conv_path)
    xq = quantize_input(g, np.asarray(x, np.float32).reshape(len(x), *rt.input_shape))
    t0 = time.perf_counter()
    c_out = rt.run_int8(xq)
    c_seconds = time.perf_counter() - t0
    py_out = _reference(g, xq)
    diff = sum(int((c.reshape(-1) != p.reshape(-1)).sum()) for c, p in zip(c_out, py_out))
    n = len(x)

    c_f = [d.astype(np.float32) for d in dequantize_outputs(g, c_out)]
    orig = original if original is not None else original_model(g.metadata)
    o_out = _torch_outputs(orig, np.asarray(x, np.float32).reshape(len(x), *rt.input_shape)) if orig is not None else None
    res: dict[str, Any] = {
        "verdict": "pass" if diff == 0 else "fail", "activations": "int8", "images": int(n), "outputs": len(c_out),
        "differing_output_bytes": diff, "output_bytes": int(sum(c.size for c in c_out)),
        "c_accuracy": accuracy(c_out[0], labels), "python_int8_accuracy": accuracy(py_out[0], labels),
        "original_accuracy": accuracy(o_out[0], labels) if o_out is not None else None,
        "original_top1_agreement": None, "original_relative_error": None, "layers": None,
        "conv_path": conv_path, "arena_bytes": rt.arena_bytes,
        "activation_lower_bound_bytes": rt.activation_lower_bound_bytes, "c_seconds_per_image": c_seconds / max(n, 1),
    }
    if o_out is not None:
        if [o.size // max(n, 1) for o in o_out] != [c.size // max(n, 1) for c in c_f]:
            raise LinRepError(f"the original model's outputs {[o.shape for o in o_out]} do not match the blob's "
                              f"{[c.shape for c in c_f]}: is --model the model this blob was packed from?")
        res.update(original_fidelity(c_f, o_out))
        xs = np.asarray(x[:layer_images], np.float32).reshape(-1, *rt.input_shape)
        res["layers"] = layer_fidelity(g, orig, xs)
    res["notes"] = input_notes(o_out, inputs_name)
    return res


def format_result_int8(r: dict[str, Any]) -> str:
    from linrep_edge.runtime.verify import accuracy_line, fidelity_lines, layer_table, note_lines

    lines = [f"{r['images']} inputs, int8 model (lr_run_i8); verdict {r['verdict']}: "
             f"{r['differing_output_bytes']} of {r['output_bytes']} output bytes differ between the C runtime and the "
             "Python integer reference",
             accuracy_line((("C runtime", r["c_accuracy"]), ("Python integer reference", r["python_int8_accuracy"]),
                            ("original model", r["original_accuracy"])))]
    lines += fidelity_lines(r, "C vs original model")
    lines.append(f"C runtime: arena {r['arena_bytes']} B (activation lower bound {r['activation_lower_bound_bytes']} B), "
                 f"{1000 * r['c_seconds_per_image']:.2f} ms per image on this host")
    return "\n".join(lines + layer_table(r.get("layers")) + note_lines(r))
