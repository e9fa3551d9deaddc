"""`linrep-edge verify model.tflite`: our C runtime against TFLite Micro on the same int8 inputs.

The full-integer .tflite is imported (`import_tflite`), packed (format version 4) and run by the C
runtime's lr_run_i8; TFLite Micro (reference kernels, the microcontroller reference: the oracle) and
LiteRT with its reference kernels (BUILTIN_REF) run the original file. Inputs: `n` seeded random int8
inputs, plus real ones when given (float inputs quantised with the model's input scale and zero
point). The verdict is "pass" when no output byte differs from TFLite Micro's.

With the float model the int8 file was made from (`--model`), the int8 file's fidelity to it on the real
inputs: top-1 agreement and relative output error of its dequantised outputs (ours, equal to TFLite Micro's
byte for byte when the verdict passes), the figures `verify` gives for a .lre, so that a packed model and the
TFLite int8 model are measured against the same original on the same inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from linrep_edge.errors import LinRepError


def _diff(a: list[np.ndarray], b: list[np.ndarray]) -> int:
    return sum(int((x.reshape(-1) != y.reshape(-1)).sum()) for x, y in zip(a, b))


def tflite_input_shape(path: str | Path) -> tuple[int, ...]:
    """The imported model's input shape without the batch (C, H, W for images: NCHW, as `verify` takes)."""
    from linrep_edge.models.tflite_import import import_tflite_mapped

    g = import_tflite_mapped(path).graph
    return tuple(g.tensors[g.input].shape)


def verify_tflite(path: str | Path, n: int = 200, seed: int = 0, real: np.ndarray | None = None,
                  shown: str | None = None, original: Any = None, inputs_name: str = "the inputs") -> dict[str, Any]:
    """Differing output bytes of our C runtime vs TFLite Micro (and vs LiteRT-reference, and the two
    TFLite engines with each other) over n random int8 inputs and the `real` float inputs (N, *input shape),
    if any; with `original` (the float model, a torch module) the int8 file's fidelity to it on `real`."""
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.batch import quantize_input
    from linrep_edge.integer.oracle import LiteRTRefRunner, TflmRunner
    from linrep_edge.models.tflite_import import import_tflite_mapped
    from linrep_edge.bench.peers import require
    from linrep_edge.runtime.binding import CRuntime, fits_input

    # both engines, named at once, before any work
    require(("tflite_micro", "ai_edge_litert"), "verify on a .tflite (TFLite Micro and LiteRT as the references)")
    name = shown or Path(path).name
    imp = import_tflite_mapped(path)
    g = imp.graph
    if not g.is_int8:
        raise LinRepError(f"{name}: verify compares int8 models byte for byte; this .tflite is fp32 "
                          "(pack it with `linrep-edge pack` and verify the blob on a data set)")
    if n < 0:
        raise LinRepError("--n must be >= 0")
    shape = g.tensors[g.input].shape
    xs = [np.random.default_rng(seed).integers(-128, 128, (n, *shape)).astype(np.int8)]
    n_real = 0
    if real is not None and len(real) and not fits_input(tuple(real.shape[1:]), tuple(shape)):
        raise LinRepError(f"inputs have shape {tuple(real.shape)}, the model takes (N, {', '.join(map(str, shape))})")
    if real is not None and len(real):
        q = quantize_input(g, np.asarray(real, np.float32).reshape(len(real), *shape))
        xs.append(q.astype(np.int8))
        n_real = len(real)
    x = np.concatenate(xs)
    if len(x) == 0:
        raise LinRepError("no inputs to verify (an empty input set proves nothing)")
    blob = pack_graph(g)
    rt = CRuntime(blob, name)
    ours_all = rt.run_int8(x)
    tflm, litert = TflmRunner(path, imp), LiteRTRefRunner(path, imp)
    counts = {"ours_vs_tflm": 0, "ours_vs_litert_ref": 0, "tflm_vs_litert_ref": 0}
    inputs_differing = 0
    total = 0
    for i in range(len(x)):
        ours = [o[i] for o in ours_all]
        ref, lit = tflm(x[i]), litert(x[i])
        d = _diff(ours, ref)
        inputs_differing += d > 0
        counts["ours_vs_tflm"] += d
        counts["ours_vs_litert_ref"] += _diff(ours, lit)
        counts["tflm_vs_litert_ref"] += _diff(ref, lit)
        total += sum(y.size for y in ref)
    res = {"model": name, "random_inputs": n, "real_inputs": n_real, "seed": seed, "output_bytes": total,
           **counts, "inputs_with_a_difference_vs_tflm": int(inputs_differing), "blob_bytes": len(blob),
           "arena_bytes": rt.arena_bytes, "ops": len(g.ops),
           "verdict": "pass" if counts["ours_vs_tflm"] == 0 else "fail"}
    if original is not None:
        if not n_real:
            raise LinRepError("--model: give real inputs (--inputs X.npy or --data) to measure the int8 file's "
                              "fidelity to the original on")
        res.update(_fidelity(g, [o[n:] for o in ours_all], original, np.asarray(real, np.float32).reshape(
            n_real, *shape), inputs_name))
    return res


def _fidelity(g: Any, out_q: list[np.ndarray], original: Any, x: np.ndarray, inputs_name: str) -> dict[str, Any]:
    """Top-1 agreement and relative output error of the int8 outputs `out_q` (dequantised) against the
    original's on `x`, and verify's notes on the inputs."""
    from linrep_edge.integer.batch import dequantize_outputs
    from linrep_edge.runtime.verify import _torch_outputs, input_notes, original_fidelity

    o_out = _torch_outputs(original, x)
    deq = [d.astype(np.float32) for d in dequantize_outputs(g, out_q)]
    if [o.size for o in o_out] != [d.size for d in deq]:
        raise LinRepError(f"the original model's outputs {[o.shape for o in o_out]} do not match the .tflite's "
                          f"{[d.shape for d in deq]}: is --model the float model this file was made from?")
    return {**original_fidelity(deq, o_out), "notes": input_notes(o_out, inputs_name)}


def format_result(r: dict[str, Any]) -> str:
    from linrep_edge.runtime.verify import fidelity_lines

    return "\n".join([
        f"{r['model']}: {r['random_inputs']} random + {r['real_inputs']} real int8 inputs, {r['output_bytes']} output "
        f"bytes; our C runtime (lr_run_i8, {r['ops']} ops, blob {r['blob_bytes']} B, arena {r['arena_bytes']} B)",
        f"  differing output bytes vs TFLite Micro: {r['ours_vs_tflm']} (inputs with a difference: "
        f"{r['inputs_with_a_difference_vs_tflm']})",
        f"  vs LiteRT reference kernels: {r['ours_vs_litert_ref']}; TFLite Micro vs LiteRT-ref: {r['tflm_vs_litert_ref']}",
        *(fidelity_lines(r, f"int8 file vs original model, on the {r['real_inputs']} real inputs")
          if r.get("original_relative_error") is not None else []),
        f"verdict: {r['verdict']}", *(f"\n{note}" for note in r.get("notes") or [])])
