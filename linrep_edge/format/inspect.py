"""`linrep-edge inspect`: a readable dump of a blob: header, tensors, ops with their parameters, sections."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from linrep_edge.format.ir import SELU_ALPHA, SELU_SCALE, UNARY_NAMES
from linrep_edge.format.ops_mask import ops_define, ops_mask
from linrep_edge.format.reader import Blob
from linrep_edge.format.report import storage_report
from linrep_edge.format.text import shown


def _metadata_text(meta: dict[str, Any]) -> str:
    try:
        text = json.dumps(meta, sort_keys=True, default=str)
    except (ValueError, RecursionError):
        text = "(not printable)"
    return shown(text, 400)


def unary_text(op) -> str:  # type: ignore[no-untyped-def]
    """A UNARY op's function with the parameters it uses, as torch writes it (`gelu`, `elu(alpha=0.7)`, ...)."""
    name = UNARY_NAMES.get(op.mode, f"unary{op.mode}")
    if name == "elu" and (op.alpha, op.beta) == (float(np.float32(SELU_ALPHA)), float(np.float32(SELU_SCALE))):
        return "selu"
    args = {"elu": f"alpha={op.alpha:g}" + (f", scale={op.beta:g}" if op.beta != 1.0 else ""),
            "celu": f"alpha={op.alpha:g}", "softplus": f"beta={op.alpha:g}, threshold={op.beta:g}",
            "threshold": f"threshold={op.alpha:g}, value={op.beta:g}", "hardshrink": f"lambd={op.alpha:g}",
            "softshrink": f"lambd={op.alpha:g}"}.get(name)
    return f"{name}({args})" if args else name


def _op_params(op) -> str:  # type: ignore[no-untyped-def]
    parts = []
    if op.type in ("CONV2D", "LINREP_CONV2D", "MAX_POOL2D", "AVG_POOL2D", "CONV_TRANSPOSE2D"):
        parts.append(f"k={op.kernel[0]}x{op.kernel[1]} s={op.stride[0]},{op.stride[1]} pad={','.join(map(str, op.pads))}")
        if op.dilation != (1, 1):
            parts.append(f"d={op.dilation[0]},{op.dilation[1]}")
        if op.groups != 1:
            parts.append(f"groups={op.groups}")
    if op.type == "ADAPTIVE_AVG_POOL2D":
        parts.append(f"out={op.kernel[0]}x{op.kernel[1]}")
    if op.type == "LEAKY_RELU":
        parts.append(f"alpha={op.alpha:g}")
    if op.type == "CLAMP":
        parts.append(f"min={op.alpha:g} max={op.beta:g}")
    if op.type == "RESIZE":
        parts.append("mode=" + {0: "nearest", 1: "bilinear", 2: "bilinear-align-corners",
                                3: "nearest-any-size"}.get(op.mode, str(op.mode)))
    if op.type == "PAD":
        border = {1: "reflect", 2: "replicate"}.get(op.mode, f"value={op.alpha:g}")
        parts.append(f"pad={','.join(map(str, op.pads))} {border}")
    if op.type == "SLICE":
        parts.append(f"start={op.start}")
    if op.type == "CHANNEL_SHUFFLE":
        parts.append(f"groups={op.groups}")
    if op.type == "PIXEL_SHUFFLE":
        parts.append(f"r={op.stride[0]} " + {0: "depth-to-space", 1: "space-to-depth", 2: "depth-to-space-dcr",
                                             3: "space-to-depth-dcr"}.get(op.mode, f"mode={op.mode}"))
    if op.type == "UNARY":
        parts.append(unary_text(op))
    if op.activation != "NONE":
        parts.append(f"+{op.activation.lower()}")
    if op.linrep is not None:
        parts.append(f"codebook={op.linrep.codebook} bits={op.linrep.index_bits}")
    if op.weight >= 0:
        parts.append(f"weight=c{op.weight}")
    ip = op.iparams  # int8 models: the integer arithmetic
    if ip is not None:
        if len(ip.multiplier):
            n = len(ip.multiplier)
            parts.append(f"M={int(ip.multiplier[0])}" + (f",... ({n})" if n > 1 else "") +
                         f" shift={int(ip.shift[0])}" + (",..." if n > 1 else ""))
        if (ip.act_min, ip.act_max) != (-128, 127):
            parts.append(f"clamp=[{ip.act_min},{ip.act_max}]")
        if ip.bias is not None:
            parts.append(f"bias_i32[{len(ip.bias)}]")
        if ip.extra is not None:
            parts.append("qparams=" + ",".join(str(int(v)) for v in ip.extra[:4]))
    if op.bias >= 0:
        parts.append(f"bias=c{op.bias}")
    return " ".join(parts)


def describe_blob(parsed: Blob, blob: bytes) -> tuple[str, dict[str, Any]]:
    """(text, JSON object) of a blob; the text escapes every name taken from the blob (`shown`), the
    JSON carries them as they are (json.dumps escapes control characters)."""
    g = parsed.graph
    rep = storage_report(blob, parsed=parsed)
    def quant(t: int) -> str:
        q = g.tensors[t]
        return f" int8 (scale {q.scale:.6g}, zero point {q.zero_point})" if q.dtype == "int8" else ""

    lines = [f"format version {parsed.format_version}, producer '{shown(parsed.producer, 80)}', {parsed.size} bytes"
             + (", int8 model" if g.is_int8 else ""),
             f"metadata: {_metadata_text(g.metadata)}",
             f"input t{g.input} {list(g.tensors[g.input].shape)}{quant(g.input)} -> "
             + ", ".join(f"output t{t} {list(g.tensors[t].shape)}{quant(t)}" for t in g.results),
             "", f"{len(g.ops)} ops:"]
    ops = []
    for i, op in enumerate(g.ops):
        ins = ",".join(f"t{t}" for t in op.inputs)
        shape = "x".join(map(str, g.tensors[op.output].shape)) if 0 <= op.output < len(g.tensors) else "?"
        lines.append(f"  {i:3d} {op.type:<20} {shown(op.name, 60):<22} ({ins}) -> t{op.output} [{shape}]  {_op_params(op)}")
        ops.append({"index": i, "type": op.type, "name": op.name, "inputs": op.inputs, "output": op.output,
                    "output_shape": list(g.tensors[op.output].shape), "params": _op_params(op)})
    lines.append("")
    lines.append(f"{len(g.codebooks)} codebooks: " + ", ".join(
        f"#{i} K={cb.size} {cb.templates.shape[1]}x{cb.templates.shape[2]} {cb.dtype}" for i, cb in enumerate(g.codebooks)))
    lines.append(f"{len(g.constants)} constants: " + ", ".join(
        f"c{i} {'x'.join(map(str, c.values.shape))} {c.dtype}" for i, c in enumerate(g.constants)))
    lines.append("sections (bytes): " + "  ".join(f"{k} {v}" for k, v in rep.sections.items()))
    lines.append(f"C runtime op selection for this blob (linrep.h, LR_OPS): {ops_define(g)}")
    obj = {"format_version": parsed.format_version, "producer": parsed.producer, "bytes": parsed.size,
           "metadata": g.metadata, "input": g.input, "output": g.output, "outputs": g.results,
           "tensors": [list(t.shape) for t in g.tensors], "ops": ops,
           "tensor_quant": [[t.scale, t.zero_point] for t in g.tensors] if g.is_int8 else None,
           "codebooks": [{"templates": cb.size, "kernel": list(cb.templates.shape[1:]), "dtype": cb.dtype} for cb in g.codebooks],
           "sections": rep.sections, "lr_ops": ops_mask(g)}
    return "\n".join(lines), obj
