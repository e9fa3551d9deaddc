"""Storage report of a .lre blob: real bytes per section and per layer, and the compression ratios.

Sections are counted from the blob itself (vector lengths × element size), never from parameter counts:
codebooks (templates), indices, a, b, other tensors (dense weights and biases of every op: convs,
transposed convs, linears, PReLU slopes, AFFINE scales and shifts), and the format's own
overhead (root, tables, vtables, vector length prefixes, strings, metadata, alignment padding) as the
remainder. So the sections add up to the file size exactly. Int8 models (format version 4): int8 codebooks
count in `codebooks`, int32 biases in `other_tensors`, and `int_params` holds the rest of the integer
arithmetic (multipliers, shifts, LinRep b exponents, op integers, each tensor's scale and zero point).

Each LinRep conv also shows the path the C runtime's cost model picks for it (direct or template
reuse) and the modelled cost of that path (multiply-adds + memory words), as lr_op_conv_info gives it.

Ratios: `conv_compression_vs_fp32` = fp32 bytes of the LinRep conv kernels / (their indices + a + b +
the codebooks); `model_compression_vs_fp32` = fp32 bytes of every weight and bias of the BN-folded
network / the whole blob. int8 reference bytes follow TFLite's per-channel scheme: 1 byte per weight,
4 per bias (int32) and 4 per output channel scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from linrep_edge.format.fb.Model import Model as FbModel
from linrep_edge.plotting import figure, png_bytes
from linrep_edge.format.reader import Blob, kept_kernels, parse
from linrep_edge.format.text import column_names, plot_label, shown
from linrep_edge.format.transport import zstd

WEIGHTED = ("CONV2D", "LINREP_CONV2D", "LINEAR", "PRELU", "CONV_TRANSPOSE2D", "AFFINE")  # ops with a layer row
SECTIONS = ("codebooks", "indices", "a", "b", "ab_scales", "kernel_mask", "other_tensors", "int_params", "overhead")


@dataclass
class LayerRow:
    name: str
    kind: str
    shape: list[int]
    kernels: int
    fp32_bytes: int
    fp16_bytes: int
    int8_bytes: int
    indices_bytes: int = 0
    a_bytes: int = 0
    b_bytes: int = 0
    codebook_share_bytes: float = 0.0
    other_bytes: int = 0
    index_bits: int = 0
    templates: int = 0
    ab_bits: int = 16  # 16: fp16 a/b; 2..8: integers
    ab_scale_bytes: int = 0  # integer a/b: the per-output-channel fp32 scales
    mask_bytes: int = 0  # pruned kernels: one bit per kernel
    sparsity: float = 0.0  # fraction of the layer's kernels pruned
    path: str = ""  # LinRep convs: the runtime's automatic choice, "direct" or "reuse" (lr_op_conv_info)
    cost: dict[str, Any] = field(default_factory=dict)  # the cost model's figures for this layer

    @property
    def packed_bytes(self) -> float:
        return (self.indices_bytes + self.a_bytes + self.b_bytes + self.ab_scale_bytes + self.mask_bytes
                + self.codebook_share_bytes + self.other_bytes)


@dataclass
class Report:
    total_bytes: int
    zstd_bytes: int
    sections: dict[str, int]
    layers: list[LayerRow] = field(default_factory=list)
    fp32_bytes: int = 0
    int8_bytes: int = 0
    conv_fp32_bytes: int = 0
    conv_packed_bytes: int = 0
    arena_bytes: int = 0              # RAM the C runtime asks for (lr_arena_size)
    activation_lower_bound: int = 0   # the largest live set of activations: no planner can use less
    int8_other_tensors_saving_bytes: int = 0  # what --weights-dtype int8 would save on dense conv/linear weights
    metadata: dict[str, Any] = field(default_factory=dict)
    activations: str = "fp32"  # "int8" for an int8 model (format version 4): 1-byte activations in the arena

    @property
    def overhead_bytes(self) -> int:
        return self.sections["overhead"]

    @property
    def conv_compression_vs_fp32(self) -> float:
        return self.conv_fp32_bytes / self.conv_packed_bytes if self.conv_packed_bytes else 0.0

    @property
    def model_compression_vs_fp32(self) -> float:
        return self.fp32_bytes / self.total_bytes

    def to_json(self) -> dict[str, Any]:
        layers = []
        for r in self.layers:
            d = asdict(r)
            d["packed_bytes"] = round(r.packed_bytes, 2)
            d["codebook_share_bytes"] = round(r.codebook_share_bytes, 2)
            layers.append(d)
        return {
            "total_bytes": self.total_bytes, "overhead_bytes": self.overhead_bytes, "zstd_bytes": self.zstd_bytes,
            "overhead_fraction": self.overhead_bytes / self.total_bytes,
            "sections": self.sections, "fp32_bytes": self.fp32_bytes, "int8_bytes": self.int8_bytes,
            "conv_fp32_bytes": self.conv_fp32_bytes, "conv_packed_bytes": self.conv_packed_bytes,
            "conv_compression_vs_fp32": self.conv_compression_vs_fp32,
            "model_compression_vs_fp32": self.model_compression_vs_fp32,
            "model_compression_vs_int8": self.int8_bytes / self.total_bytes,
            "arena_bytes": self.arena_bytes, "activation_lower_bound_bytes": self.activation_lower_bound,
            "int8_other_tensors_saving_bytes": self.int8_other_tensors_saving_bytes,
            "metadata": self.metadata, "activations": self.activations, "layers": layers,
        }


def _op_tensor_bytes(o) -> int:  # type: ignore[no-untyped-def]
    """Bytes of an op's dense weight and bias vectors as stored (int8 weights with their scales)."""
    return (4 * (o.WeightF32Length() + o.BiasF32Length() + o.WeightScaleLength() + o.BiasI32Length())
            + 2 * (o.WeightF16Length() + o.BiasF16Length()) + o.WeightI8Length())


def _op_int_param_bytes(o) -> int:  # type: ignore[no-untyped-def]
    """Bytes of an op's integer arithmetic (format version 4): multipliers, shifts, b exponents, qparams."""
    return 4 * (o.MultiplierLength() + o.QparamsLength()) + o.ShiftLength() + o.BExponentLength()


def storage_report(blob: bytes, where: str = "blob", parsed: Blob | None = None) -> Report:
    """Per-section and per-layer byte counts of a (valid) blob; `parsed` saves parsing it again."""
    parsed = parsed or parse(blob, where, weights=False)  # sizes and counts only: no weight arrays
    g = parsed.graph
    m = FbModel.GetRootAs(blob, 0)
    sec = dict.fromkeys(SECTIONS, 0)
    cb_bytes = []
    for i in range(m.CodebooksLength()):
        cb = m.Codebooks(i)
        cb_bytes.append(cb.F32Length() * 4 + cb.F16Length() * 2 + cb.I8Length())
    sec["codebooks"] = sum(cb_bytes)
    sec["other_tensors"] = sum(_op_tensor_bytes(m.Ops(i)) for i in range(m.OpsLength()))
    sec["int_params"] = sum(_op_int_param_bytes(m.Ops(i)) for i in range(m.OpsLength())) + 8 * m.TensorQuantLength()
    cb_kernels = [0] * len(cb_bytes)
    for op in g.ops:
        if op.linrep is not None:
            cb_kernels[op.linrep.codebook] += op.linrep.idx.size
    rep = Report(len(blob), len(zstd(blob)), sec, metadata=g.metadata, arena_bytes=parsed.check.arena_bytes,
                 activation_lower_bound=parsed.check.activation_lower_bound,
                 activations="int8" if g.is_int8 else "fp32")
    for i, op in enumerate(g.ops):
        if op.type not in WEIGHTED:
            continue
        shape = list(g.weight_shape(op)) if op.type not in ("PRELU", "AFFINE") else \
            list(g.constants[op.weight].values.shape)
        n = int(np.prod(shape))
        fo = m.Ops(i)
        # the bias as stored: a constant (fp32 / fp16 models) or the op's int32 vector (int8 models, whose fp32
        # and int8 reference columns then count it too, as those of the same model packed with fp32 activations)
        nb = g.constants[op.bias].values.size if op.bias >= 0 else fo.BiasI32Length()
        # int8 reference: a scale per output channel (a transposed conv's weight is [Cin, Cout/groups, kh, kw])
        cout = {"PRELU": 0, "AFFINE": 0, "CONV_TRANSPOSE2D": op.out_channels}.get(op.type, shape[0])
        row = LayerRow(op.name, op.type, shape, int(np.prod(shape[:2])) if len(shape) == 4 else 0,
                       4 * (n + nb), 2 * (n + nb), n + 4 * nb + 4 * cout)
        row.other_bytes = _op_tensor_bytes(fo)
        if op.type in ("CONV2D", "LINEAR") and op.linrep is None and not fo.WeightI8Length():
            # --weights-dtype int8: 1 byte per weight + an fp32 scale per output channel, fp32 bias
            wn, bn = fo.WeightF32Length() + fo.WeightF16Length(), fo.BiasF32Length() + fo.BiasF16Length()
            rep.int8_other_tensors_saving_bytes += max(0, row.other_bytes - (wn + 4 * shape[0] + 4 * bn))
        if op.linrep is not None:
            row.indices_bytes = fo.IndicesLength()
            if fo.AbBits():  # integer pairs: half the packed bytes each, plus the scales
                row.ab_bits = fo.AbBits()
                row.a_bytes = fo.AbQLength() // 2
                row.b_bytes = fo.AbQLength() - row.a_bytes
                row.ab_scale_bytes = 4 * (fo.AScaleLength() + fo.BScaleLength())
            else:
                row.a_bytes = row.b_bytes = fo.AbLength()  # half of the interleaved fp16 pairs each
            c = op.linrep.codebook
            row.codebook_share_bytes = cb_bytes[c] * op.linrep.idx.size / cb_kernels[c]
            row.index_bits = fo.IndexBits()
            row.templates = g.codebooks[c].size
            if op.type == "LINREP_CONV2D":  # the conv cost model (a LinRep transposed conv has one path only)
                conv = parsed.check.conv[i]
                row.path = conv["path"]
                row.cost = {key: conv[key] for key in ("path", "templates_used", "kernels", "direct_macs",
                                                       "direct_words", "direct_cost", "reuse_macs", "reuse_words",
                                                       "reuse_cost")}
            sec["indices"] += row.indices_bytes
            sec["a"] += row.a_bytes
            sec["b"] += row.b_bytes
            sec["ab_scales"] += row.ab_scale_bytes
            row.mask_bytes = fo.KernelMaskLength()
            if row.mask_bytes:
                row.sparsity = 1.0 - kept_kernels(fo, op.linrep.idx.size) / max(op.linrep.idx.size, 1)
            sec["kernel_mask"] += row.mask_bytes
            rep.conv_fp32_bytes += 4 * n
        rep.fp32_bytes += row.fp32_bytes
        rep.int8_bytes += row.int8_bytes
        rep.layers.append(row)
    rep.conv_packed_bytes = (sec["indices"] + sec["a"] + sec["b"] + sec["ab_scales"] + sec["kernel_mask"]
                             + sec["codebooks"])
    sec["overhead"] = len(blob) - sum(v for k, v in sec.items() if k != "overhead")
    return rep


def format_report(rep: Report, title: str = "") -> str:
    """A readable table: one row per weighted layer, then sections and ratios."""
    out = []
    if title:
        out.append(title)
    kw = max([14] + [len(r.kind) for r in rep.layers])  # CONV_TRANSPOSE2D widens the column
    hdr = (f"{'layer':<22} {'kind':<{kw}} {'shape':<16} {'K':>4} {'bits':>4} {'a/b':>4} {'fp32':>9} {'int8':>8} "
           f"{'packed':>9} {'ratio':>6}  {'path':<6} {'cost Mops':>9}")
    out.append(hdr)
    out.append("-" * len(hdr))
    for r, name in zip(rep.layers, column_names([r.name for r in rep.layers], 22)):
        shape = "x".join(str(s) for s in r.shape)
        ratio = r.fp32_bytes / r.packed_bytes if r.packed_bytes else 0.0
        ab = r.ab_bits if r.templates else ""
        cost = f"{r.cost[f'{r.path}_cost'] / 1e6:>9.3f}" if r.path else ""
        out.append(f"{name:<22} {r.kind:<{kw}} {shape:<16} {r.templates or '':>4} {r.index_bits or '':>4} "
                   f"{ab:>4} {r.fp32_bytes:>9} {r.int8_bytes:>8} {r.packed_bytes:>9.0f} {ratio:>5.1f}x  {r.path:<6} "
                   f"{cost}".rstrip())
    out.append("")
    out.append("sections (bytes):  " + "  ".join(f"{k} {v}" for k, v in rep.sections.items()))
    out.append(f"blob {rep.total_bytes} bytes on flash (overhead {100 * rep.overhead_bytes / rep.total_bytes:.2f}%), "
               f"zstd transport {rep.zstd_bytes} bytes")
    out.append(f"conv layers: {rep.conv_fp32_bytes} B fp32 -> {rep.conv_packed_bytes} B packed = "
               f"{rep.conv_compression_vs_fp32:.2f}x" if rep.conv_packed_bytes else "conv layers: none is LinRep")
    out.append(f"whole model: {rep.fp32_bytes} B fp32, {rep.int8_bytes} B int8 -> {rep.total_bytes} B = "
               f"{rep.model_compression_vs_fp32:.2f}x vs fp32, {rep.int8_bytes / rep.total_bytes:.2f}x vs int8")
    if rep.int8_other_tensors_saving_bytes:
        out.append(f"--weights-dtype int8 would save {rep.int8_other_tensors_saving_bytes} bytes on the dense conv/linear "
                   "weights LinRep does not cover")
    out.append(f"RAM: C runtime arena {rep.arena_bytes} bytes (activations lower bound "
               f"{rep.activation_lower_bound} bytes)" + (", int8 activations (1 byte each), integer-only ops"
                                                        if rep.activations == "int8" else ""))
    if any(r.path for r in rep.layers):
        out.append("path: how the C runtime runs each LinRep conv by default (direct: kernels rebuilt; reuse: one "
                   "response per input channel and template); cost: its modelled multiply-adds + memory words")
    return "\n".join(out)


PLOT_MAX_LAYERS = 40  # more layers: the largest (by fp32 bytes) are drawn, the rest summed into one bar


def plot_report(rep: Report, path: str) -> bytes:
    """PNG bytes: per layer, packed bytes stacked by section beside the fp32 and int8 bars.

    Names are escaped and shortened (`plot_label`: no mathtext, no control characters); at most
    PLOT_MAX_LAYERS bars are drawn, so the figure's size is bounded whatever the blob holds."""
    parts = [("indices", "indices_bytes", "#1f77b4"), ("a", "a_bytes", "#ff7f0e"), ("b", "b_bytes", "#2ca02c"),
             ("a/b scales", "ab_scale_bytes", "#e377c2"), ("kernel mask", "mask_bytes", "#bcbd22"),
             ("codebook share", "codebook_share_bytes", "#9467bd"), ("other tensors", "other_bytes", "#8c564b")]
    fields = ["fp32_bytes", "int8_bytes"] + [attr for _, attr, _ in parts]
    rows = [(plot_label(r.name), {f: float(getattr(r, f)) for f in fields}) for r in rep.layers]
    if len(rows) > PLOT_MAX_LAYERS:
        order = sorted(range(len(rows)), key=lambda i: -rows[i][1]["fp32_bytes"])
        keep = sorted(order[:PLOT_MAX_LAYERS - 1])
        rest = [rows[i][1] for i in order[PLOT_MAX_LAYERS - 1:]]
        rows = [rows[i] for i in keep] + [(f"{len(rest)} other layers", {f: sum(r[f] for r in rest) for f in fields})]
    names = [name for name, _ in rows]
    x = np.arange(len(names))
    fig, ax = figure((max(8, 0.7 * len(names)), 5))
    ax.bar(x - 0.3, [v["fp32_bytes"] for _, v in rows], 0.28, label="fp32", color="#bbbbbb")
    ax.bar(x, [v["int8_bytes"] for _, v in rows], 0.28, label="int8 (TFLite scheme)", color="#888888")
    bottom = np.zeros(len(names))
    for label, attr, color in parts:
        vals = np.array([v[attr] for _, v in rows], dtype=float)
        ax.bar(x + 0.3, vals, 0.28, bottom=bottom, label=f"packed: {label}", color=color)
        bottom += vals
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("bytes")
    ax.set_title(f"linrep-edge storage: {rep.total_bytes} B blob, conv {rep.conv_compression_vs_fp32:.1f}x vs fp32")
    ax.legend(fontsize=8)
    return png_bytes(fig, dpi=100)
