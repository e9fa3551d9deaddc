"""Per-layer sensitivity for `pack --max-bytes / --min-agreement` (issue 15 item 8).

For every compressible conv (a k×k `Conv2d`, k > 1, after --include/--exclude) and every candidate
storage of it — LinRep with a per-layer codebook of K templates for each candidate K (capped by the
kernels the layer has; duplicates after the cap dropped), or the layer left dense as int8 (per output
channel) or fp16 — this module

- replaces only that layer in the original model and measures, on the calibration inputs, the top-1
  agreement with the original (its drop from 100 %) and the relative error of the outputs
  ‖y − y₀‖ / ‖y₀‖ (every head);
- counts what the choice costs in the blob, exactly as the writer lays it out: the original graph is
  captured once, the layer's op is rewritten in the IR to the candidate's storage (bytes depend on
  shapes and widths only, not on values) and packed; the difference in blob length from the layer
  stored as fp16 is added to the fp16 layer's vector bytes.

Each candidate's replacement module is kept (`Sensitivity.modules`) so that an assignment is assembled
without compressing again (`budget.assemble`). Sum of per-layer bytes + `fixed_bytes` estimates the blob
of any assignment to within alignment padding; the budget step verifies it by packing.

With int8 activations (`pack --activations int8`, format version 4) every weight is int8: the candidates
are LinRep at each K (int8 codebook, integer a/b of the int8 width, `--ab-bits` or 6) and dense int8. The
bytes come from int8 blobs (one per candidate column: every layer at its j-th candidate, quantised on a
few calibration inputs, each layer's bytes read from the storage report); a candidate's effect on the
outputs is measured by a fast proxy, the fp32 model with that layer's int8 weights or integer a/b (the
activation quantisation is common to all candidates); the budget step measures the packed int8 blob itself
through the integer reference.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from linrep_edge.agreement import top1_agreement
from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Codebook, Constant, Graph, LinRepWeights, Op
from linrep_edge.format.writer import pack_graph
from linrep_edge.method.collect import collect_convs, convs_1d_as_2d
from linrep_edge.method.linrep_conv import LinRepConv2d, _set_submodule
from linrep_edge.method.quantize import quantize_int8_weights
from linrep_edge.progress import progress

CANDIDATE_TEMPLATES = (4, 8, 16, 32, 64)
DENSE_CHOICES = ("int8", "fp16")  # a layer left dense: int8 per output channel, or fp16


def choice_name(templates: int) -> str:
    return f"K{templates}"


@dataclass
class Option:
    """One storage of one layer: what it costs and how far it moves the outputs (that layer alone)."""

    choice: str  # "K16" (LinRep, K templates), "int8" or "fp16" (dense)
    templates: int  # K; 0 for dense
    bytes: int  # the layer's bytes in the blob with this storage
    top1_drop: float | None  # 1 − top-1 agreement with the original (None: its first head has no classes)
    rel_error: float  # ‖y − y₀‖ / ‖y₀‖ over the calibration inputs, every head

    def to_json(self) -> dict[str, Any]:
        return {"choice": self.choice, "templates": self.templates, "bytes": self.bytes,
                "top1_drop": self.top1_drop, "relative_output_error": self.rel_error}


@dataclass
class LayerSensitivity:
    name: str  # module path in the model (after 1-D convs became 2-D ones)
    op_name: str  # the op's name in the graph / blob
    kernels: int  # Cout · Cin/groups
    kernel_shape: tuple[int, int]
    options: list[Option] = field(default_factory=list)

    def option(self, choice: str) -> Option:
        for o in self.options:
            if o.choice == choice:
                return o
        raise KeyError(choice)


@dataclass
class Sensitivity:
    layers: list[LayerSensitivity]
    fixed_bytes: int  # blob bytes outside the chosen layers' vectors (header, other ops, tables, metadata)
    base: nn.Module  # the original with 1-D convs as 2-D: what the replacements are swapped into
    modules: dict[tuple[str, str], nn.Module]  # (layer, choice) -> its replacement module
    inputs: int  # calibration inputs measured on
    int8_bits: int = 0  # int8 activations: the a/b width of every LinRep layer (0: fp32 activations)
    calibration: np.ndarray | None = None  # int8 activations: the inputs the activation ranges come from

    def estimate_bytes(self, plan: dict[str, str]) -> int:
        return self.fixed_bytes + sum(layer.option(plan[layer.name]).bytes for layer in self.layers)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"layer": s.op_name, "kernels": s.kernels, "options": [o.to_json() for o in s.options]}
                for s in self.layers]


def is_int8(settings: Any) -> bool:
    return getattr(settings, "activations", "fp32") == "int8"


def dense_choices(settings: Any) -> tuple[str, ...]:
    """Dense storages a layer may keep: int8 or fp16; with int8 activations every weight is int8."""
    return ("int8",) if is_int8(settings) else DENSE_CHOICES


def int8_ab_bits(settings: Any) -> int:
    """The integer a/b width of an int8-activation model: --ab-bits, else the int8 packer's default."""
    from linrep_edge.integer.pack import DEFAULT_AB_BITS

    return int(settings.ab_bits or DEFAULT_AB_BITS)


def assemble_modules(base: nn.Module, modules: dict[tuple[str, str], nn.Module], plan: dict[str, str]) -> nn.Module:
    """`base` with each layer of `plan` replaced by (a copy of) its chosen module, in plan order; LinRep
    layers get codebook ids of their own."""
    model = copy.deepcopy(base)
    for i, (name, choice) in enumerate(plan.items()):
        m = copy.deepcopy(modules[(name, choice)])
        if isinstance(m, LinRepConv2d):
            m.codebook = i
        _set_submodule(model, name, m)
    return model.eval()


def int8_blob(model: nn.Module, example: torch.Tensor, calibration: np.ndarray, bits: int,
              metadata: dict[str, Any] | None = None) -> bytes:
    """An assembled model as an int8 blob (format version 4), ranges from `calibration`, no fine-tuning."""
    from linrep_edge.integer.pack import int8_graph

    g = int8_graph(model, example, bits, calibration, show_progress=False)
    if metadata is not None:
        g.metadata = metadata
    return pack_graph(g)


def layer_bytes_int8(base: nn.Module, modules: dict[tuple[str, str], nn.Module], op_names: dict[str, str],
                     choices: dict[str, list[tuple[str, int]]], example: torch.Tensor, calibration: np.ndarray,
                     bits: int) -> tuple[int, dict[tuple[str, str], int]]:
    """(fixed bytes, bytes of each (layer, choice)) of int8 blobs: column j packs every layer at its j-th
    candidate (its last when it has fewer) and reads each layer's bytes (indices, a/b and their scales, the
    codebook, int8 weights, int32 bias, multipliers) from the storage report; fixed bytes from column 0."""
    from linrep_edge.format.report import storage_report

    out: dict[tuple[str, str], int] = {}
    fixed = 0
    for j in range(max(len(c) for c in choices.values())):
        plan = {n: c[min(j, len(c) - 1)][0] for n, c in choices.items()}
        blob = int8_blob(assemble_modules(base, modules, plan), example, calibration, bits)
        rows = {r.name: r for r in storage_report(blob).layers}
        for n, choice in plan.items():
            out[(n, choice)] = int(round(rows[op_names[n]].packed_bytes))
        if j == 0:
            fixed = len(blob) - sum(out[(n, choice)] for n, choice in plan.items())
    return fixed, out


def heads(y: Any) -> list[torch.Tensor]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


@torch.no_grad()
def outputs_of(model: nn.Module, x: torch.Tensor, batch: int = 256) -> list[torch.Tensor]:
    """Every head of `model` on `x`, concatenated over batches."""
    model.eval()
    parts: list[list[torch.Tensor]] = []
    for i in range(0, int(x.shape[0]), batch):
        parts.append([h.detach() for h in heads(model(x[i:i + batch]))])
    return [torch.cat([p[j] for p in parts]) for j in range(len(parts[0]))]


def fidelity(out: list[torch.Tensor], ref: list[torch.Tensor]) -> tuple[float | None, float]:
    """(top-1 agreement of the first head, per input or per position (`linrep_edge.agreement`), None for one
    score per input; relative output error over every head)."""
    agree = top1_agreement(out[0], ref[0])
    num = sum(float(((a.double() - b.double()) ** 2).sum()) for a, b in zip(out, ref))
    den = sum(float((b.double() ** 2).sum()) for b in ref)
    return agree, math.sqrt(num / den) if den > 0 else math.sqrt(num)


def dense_module(conv: nn.Conv2d | nn.ConvTranspose2d, dtype: str) -> nn.Module:
    """A copy of `conv` whose weight (and bias) hold the values the blob would: int8 per output channel
    (bias fp32) or fp16. BatchNorm folding scales each output channel, which per-channel int8 follows. A
    transposed conv's weight is [Cin, Cout/groups, kh, kw]: its output channels are the second axis."""
    out = copy.deepcopy(conv)
    with torch.no_grad():
        if dtype == "int8":
            w = conv.weight.detach().numpy()
            if isinstance(conv, nn.ConvTranspose2d):
                q = quantize_int8_weights(np.ascontiguousarray(w.swapaxes(0, 1)))[2].swapaxes(0, 1)
            else:
                q = quantize_int8_weights(w)[2]
            out.weight.copy_(torch.from_numpy(np.ascontiguousarray(q)))
        else:
            out.weight.copy_(conv.weight.half().float())
            if out.bias is not None:
                out.bias.copy_(conv.bias.half().float())  # type: ignore[union-attr]
    return out


def _linrep_candidates(model: nn.Module, settings: Any, templates: Sequence[int],
                       names: list[str]) -> dict[tuple[str, int], LinRepConv2d]:
    """Per-layer LinRep modules for every candidate K (scope layer: each layer its own codebook, K capped
    by its kernels of non-zero variance), keyed by (layer, effective K)."""
    from linrep_edge.method.compress import compress

    found: dict[tuple[str, int], LinRepConv2d] = {}
    for k in sorted(set(templates)):
        cm, _ = compress(model, k, settings.distance, "layer", settings.seed, settings.include, settings.exclude,
                         settings.codebook_dtype, show_progress=False)
        mods = dict(cm.named_modules())
        for n in names:
            m = mods[n]
            assert isinstance(m, LinRepConv2d)
            if settings.ab_bits:
                m.set_ab_bits(settings.ab_bits, per_channel=settings.ab_scale == "channel")
            found.setdefault((n, int(m.templates.shape[0])), m)
    return found


# ---- bytes, through the writer -------------------------------------------------------------------------

def _restore_dense(g: Graph, op: Op, dtype: str) -> Op:
    """A copy of conv op `op` of `g` stored dense as `dtype`, its constants new (values as captured)."""
    w = g.constants[op.weight]
    new = copy.copy(op)
    if dtype == "int8":
        q, s, deq = quantize_int8_weights(w.values)
        g.constants.append(Constant(deq, "int8", q, s))
    else:
        g.constants.append(Constant(w.values, dtype))
    new.weight = len(g.constants) - 1
    if op.bias >= 0:
        g.constants.append(Constant(g.constants[op.bias].values, "fp32" if dtype == "int8" else dtype))
        new.bias = len(g.constants) - 1
    return new


def _as_linrep(g: Graph, op: Op, k: int, settings: Any) -> Op:
    """A copy of conv op `op` as a LinRep op with its own codebook of `k` templates (values zero: the
    bytes depend only on shapes and widths). A CONV_TRANSPOSE2D stays one, its kernels LinRep over its
    [Cin, Cout/groups] grid (rows: input channels)."""
    from linrep_edge.method.quantize import quantize

    kh, kw = op.kernel
    cout, cin_g = g.weight_shape(op)[:2]
    g.codebooks.append(Codebook(np.zeros((k, kh, kw), np.float32), settings.codebook_dtype))
    zeros = np.zeros((cout, cin_g), np.float32)
    lr = LinRepWeights(len(g.codebooks) - 1, np.zeros((cout, cin_g), np.int64), zeros, zeros.copy())
    if settings.ab_bits:
        lr.ab_bits = settings.ab_bits
        q, s = quantize(torch.from_numpy(zeros), settings.ab_bits, settings.ab_scale == "channel")
        lr.set_quantized(q.numpy(), s.numpy(), q.numpy(), s.numpy())
    new = copy.copy(op)
    new.type = "CONV_TRANSPOSE2D" if op.type == "CONV_TRANSPOSE2D" else "LINREP_CONV2D"
    new.weight, new.linrep = -1, lr
    if op.bias >= 0:  # LinRep biases are stored like the other non-weight constants (pipeline.set_storage)
        g.constants.append(Constant(g.constants[op.bias].values, "fp32" if settings.weights_dtype == "fp32" else "fp16"))
        new.bias = len(g.constants) - 1
    return new


def _with(g: Graph, replace: dict[int, Any]) -> Graph:
    """A shallow copy of `g` whose ops at the given positions are rewritten by the given functions."""
    h = copy.copy(g)
    h.constants, h.codebooks, h.ops = list(g.constants), list(g.codebooks), list(g.ops)
    for i, fn in replace.items():
        h.ops[i] = fn(h, g.ops[i])
    return h


def layer_bytes(g: Graph, positions: dict[str, int], settings: Any,
                choices: dict[str, list[tuple[str, int]]]) -> tuple[int, dict[tuple[str, str], int]]:
    """(fixed bytes, bytes of each (layer, choice)) by packing IR variants of the dense graph `g` (storage
    already set). The baseline has every chosen layer at its first (smallest-K) candidate, so the tables a
    LinRep op shares with the others are counted once; each variant changes one layer. A layer's bytes
    are its fp16 weight and bias bytes plus the blob's growth from fp16 to that candidate."""
    def variant(dense: Op, choice: str, k: int) -> Any:  # rewrites from the captured dense op
        if k:
            return lambda h, _op: _as_linrep(h, dense, k, settings)
        return lambda h, _op: _restore_dense(h, dense, choice)

    first = {name: choices[name][0] for name in positions}
    rewrite = {i: variant(g.ops[i], *first[n]) for n, i in positions.items()}
    base = len(pack_graph(_with(g, rewrite)))
    sizes: dict[tuple[str, str], int] = {}
    for name, i in positions.items():
        for choice, k in choices[name]:
            sizes[(name, choice)] = base if (choice, k) == first[name] else \
                len(pack_graph(_with(g, {**rewrite, i: variant(g.ops[i], choice, k)})))
    own: dict[str, int] = {}
    for name, i in positions.items():
        op = g.ops[i]
        own[name] = 2 * (g.constants[op.weight].values.size + (g.constants[op.bias].values.size if op.bias >= 0 else 0))
    out = {(name, c): own[name] + sizes[(name, c)] - sizes[(name, "fp16")] for name in positions for c, _ in choices[name]}
    all_fp16 = base + sum(sizes[(name, "fp16")] - base for name in positions)
    return all_fp16 - sum(own.values()), out


# ---- the measurement ----------------------------------------------------------------------------------

def compressible_layers(model: nn.Module, settings: Any) -> tuple[nn.Module, list[str]]:
    """(the model with 1-D convs as 2-D ones, in eval mode; names of its compressible convs: Conv2d and
    ConvTranspose2d with kernel area > 1)."""
    base = copy.deepcopy(model).eval()
    convs_1d_as_2d(base)
    sites = collect_convs(base, settings.include, settings.exclude, allow_empty=True)
    if not sites:
        raise LinRepError("--max-bytes / --min-agreement: the model has no compressible conv (a Conv2d or "
                          "ConvTranspose2d with kernel area > 1) to choose a storage for")
    return base, [s.name for s in sites]


def layer_dense_choices(conv: nn.Module, settings: Any) -> tuple[str, ...]:
    """Dense storages of one layer: `dense_choices`, but an fp32-activation model stores a dense transposed
    conv as float only (the format has no int8 CONV_TRANSPOSE2D weights with float activations)."""
    if isinstance(conv, nn.ConvTranspose2d) and not is_int8(settings):
        return ("fp16",)
    return dense_choices(settings)


CACHE_VERSION = 2  # 2: transposed convs are candidates too


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for the block: dozens of small clusterings and forward passes run faster on one
    core each than on contended threads, and leave the other cores alone."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def cache_key(model: nn.Module, example: torch.Tensor, x: torch.Tensor, settings: Any, templates: Sequence[int]) -> str:
    """What a measurement depends on: the weights, the inputs, the input shape, the storage settings, the
    candidate K values."""
    h = hashlib.sha256(f"linrep-edge sensitivity {CACHE_VERSION}".encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    what = {k: getattr(settings, k) for k in ("distance", "seed", "codebook_dtype", "ab_bits", "ab_scale", "weights_dtype")}
    what["activations"] = getattr(settings, "activations", "fp32")
    what.update(include=list(settings.include or []), exclude=list(settings.exclude or []), templates=sorted(set(templates)),
                example=list(example.shape), inputs=list(x.shape))
    h.update(json.dumps(what, sort_keys=True).encode())
    return h.hexdigest()


def _load_cache(path: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def measure_sensitivity(model: nn.Module, example: torch.Tensor, x: torch.Tensor, settings: Any,
                        templates: Sequence[int] = CANDIDATE_TEMPLATES, show_progress: bool = True,
                        cache: str | Path | None = None) -> Sensitivity:
    """Every candidate of every compressible layer of `model`: bytes and fidelity on inputs `x` (that
    layer alone replaced). `settings`: a PackSettings (distance, seed, codebook dtype, a/b bits,
    include/exclude, weights dtype). `cache`: a JSON file of the measurements, reused when the model,
    inputs and settings are the same (another budget for the same model), else (re)written."""
    with one_thread():
        return _measure(model, example, x, settings, templates, show_progress, cache)


def _measure(model: nn.Module, example: torch.Tensor, x: torch.Tensor, settings: Any, templates: Sequence[int],
             show_progress: bool, cache: str | Path | None) -> Sensitivity:
    from linrep_edge.graph.capture import capture
    from linrep_edge.pipeline import set_storage

    if not templates or min(templates) < 1 or max(templates) > 65536:
        raise LinRepError("--budget-templates: give candidate K values between 1 and 65536")
    base, names = compressible_layers(model, settings)
    mods = dict(base.named_modules())
    int8 = is_int8(settings)
    bits = int8_ab_bits(settings) if int8 else 0
    lin = _linrep_candidates(model, dataclasses.replace(settings, ab_bits=bits) if int8 else settings, templates, names)
    choices: dict[str, list[tuple[str, int]]] = {}
    modules: dict[tuple[str, str], nn.Module] = {}
    for n in names:
        ks = sorted(k for (m, k) in lin if m == n)
        dense = layer_dense_choices(mods[n], settings)
        choices[n] = [(choice_name(k), k) for k in ks] + [(d, 0) for d in dense]
        for k in ks:
            modules[(n, choice_name(k))] = lin[(n, k)]
        for d in dense:
            modules[(n, d)] = dense_module(mods[n], d)  # type: ignore[arg-type]
    calibration = None
    if int8:
        from linrep_edge.integer.pack import calibration_subset

        calibration = calibration_subset(x, seed=settings.seed)

    key = cache_key(model, example, x, settings, templates) if cache is not None else ""
    hit = _load_cache(Path(cache), key) if cache is not None else None
    if hit is not None:
        layers = [LayerSensitivity(d["name"], d["op_name"], d["kernels"], tuple(d["kernel_shape"]),  # type: ignore[arg-type]
                                   [Option(**o) for o in d["options"]]) for d in hit["layers"]]
        if [s.name for s in layers] == names and all(
                [o.choice for o in s.options] == [c for c, _ in choices[s.name]] for s in layers):
            return Sensitivity(layers, int(hit["fixed_bytes"]), base, modules, int(x.shape[0]), bits, calibration)
    g = capture(base, example)
    set_storage(g, settings.weights_dtype)
    layer_names = dict(getattr(base, "layer_names", {}) or {})
    op_names = {n: layer_names.get(n, n) for n in names}
    where = {op.name: i for i, op in enumerate(g.ops) if op.type in ("CONV2D", "CONV_TRANSPOSE2D")}
    missing = [op_names[n] for n in names if op_names[n] not in where]
    if missing:
        raise LinRepError(f"--max-bytes / --min-agreement: conv {missing[0]!r} is not an op of the captured graph")
    positions = {n: where[op_names[n]] for n in names}
    if int8:
        assert calibration is not None
        fixed, nbytes = layer_bytes_int8(base, modules, op_names, choices, example, calibration[:64], bits)
    else:
        fixed, nbytes = layer_bytes(g, positions, settings, choices)

    ref = outputs_of(base, x)
    layers = []
    total = sum(len(c) for c in choices.values())
    with progress(total=total, desc="layer sensitivity", enabled=show_progress) as bar:
        for n in names:
            conv = mods[n]
            shape = tuple(int(s) for s in conv.weight.shape)  # type: ignore[union-attr]
            sens = LayerSensitivity(n, op_names[n], shape[0] * shape[1], (shape[2], shape[3]))
            for choice, k in choices[n]:
                _set_submodule(base, n, modules[(n, choice)])
                try:
                    agree, err = fidelity(outputs_of(base, x), ref)
                finally:
                    _set_submodule(base, n, conv)  # put the original back
                sens.options.append(Option(choice, k, nbytes[(n, choice)], None if agree is None else 1.0 - agree, err))
                bar.update(1)
            layers.append(sens)
    if cache is not None:
        from dataclasses import asdict

        from linrep_edge.atomic import write_atomic

        data = {"key": key, "fixed_bytes": fixed, "layers": [asdict(s) for s in layers]}
        write_atomic(Path(cache), (json.dumps(data) + "\n").encode())
    return Sensitivity(layers, fixed, base, modules, int(x.shape[0]), bits, calibration)
