"""Run a graph IR in torch: the model rebuilt from a blob, op for op as the C runtime runs it.

`GraphModel(graph)` is an nn.Module taking a batch (N, *input_shape) and returning (N, *output_shape), or
for a graph with several outputs (`Graph.outputs`) a tuple of them, in order.
Convs and linears become real submodules (LinRep layers become `LinRepConv2d` holding the blob's own
templates, indices, a and b), so the rebuilt model can be evaluated, exported again, compressed (a
model loaded from a .pt2 program takes this route) or fine-tuned. Weights are exactly the stored ones,
which makes its outputs the reference the C runtime is checked against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.format.fb.Unary import Unary
from linrep_edge.format.ir import Graph, Op
from linrep_edge.method.linrep_conv import LinRepConv2d, LinRepConvTranspose2d


def _conv_transpose_module(g: Graph, op: Op) -> nn.Module:
    """torch's ConvTranspose2d with the stored weight (a `LinRepConvTranspose2d` for LinRep weights);
    output_padding from the stored output shape."""
    top, left, bottom, right = op.pads
    if (top, left) != (bottom, right):
        raise LinRepError(f"op {op.name!r}: a transposed conv's padding must be symmetric")
    cin, cout_g, kh, kw = g.weight_shape(op)
    (_, h, w), (_, oh, ow) = g.tensors[op.inputs[0]].shape, g.tensors[op.output].shape
    out_pad = tuple(o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in
                    ((oh, h, op.stride[0], top, op.dilation[0], kh), (ow, w, op.stride[1], left, op.dilation[1], kw)))
    conv = nn.ConvTranspose2d(cin, cout_g * op.groups, (kh, kw), op.stride, (top, left), out_pad, op.groups,
                              op.bias >= 0, op.dilation)
    with torch.no_grad():
        if op.bias >= 0:
            conv.bias.copy_(torch.from_numpy(g.constants[op.bias].values))  # type: ignore[union-attr]
        if op.linrep is None:
            conv.weight.copy_(torch.from_numpy(g.constants[op.weight].values))
            return conv
    lr = op.linrep
    t = torch.from_numpy(g.codebooks[lr.codebook].templates.copy())
    return LinRepConvTranspose2d(conv, t, torch.from_numpy(lr.idx), torch.from_numpy(lr.a.copy()),
                                 torch.from_numpy(lr.b.copy()), lr.codebook, g.codebooks[lr.codebook].dtype)


def unary_f32(op: Op, x: torch.Tensor) -> torch.Tensor:
    """A UNARY op (format version 7) in torch: the function of the schema's `Unary` in op.mode, with op.alpha and
    op.beta (docs/FORMAT.md)."""
    fn, a, b = op.mode, op.alpha, op.beta
    if fn == Unary.GELU:
        return F.gelu(x)
    if fn == Unary.GELU_TANH:
        return F.gelu(x, approximate="tanh")
    if fn == Unary.ELU:  # aten's elu carries the scale: the rebuilt model exports (and captures) as one op again
        return torch.ops.aten.elu(x, a, b)
    if fn == Unary.CELU:
        return F.celu(x, a)
    if fn == Unary.SOFTPLUS:
        return F.softplus(x, a, b)
    if fn == Unary.MISH:
        return F.mish(x)
    if fn == Unary.LOG_SIGMOID:
        return F.logsigmoid(x)
    if fn == Unary.THRESHOLD:
        return F.threshold(x, a, b)
    if fn == Unary.HARDSHRINK:
        return F.hardshrink(x, a)
    if fn == Unary.SOFTSHRINK:
        return F.softshrink(x, a)
    if fn == Unary.SCALE:
        return x * a
    raise LinRepError(f"op {op.name!r}: UNARY function {fn} is not one of the format's (0 .. {Unary.SCALE})")


def pixel_shuffle_f32(x: torch.Tensor, r: int, mode: int) -> torch.Tensor:
    """PIXEL_SHUFFLE (format version 8) of a batch [N, C, H, W]: mode 0 torch's pixel_shuffle, 1 pixel_unshuffle,
    2 / 3 the same with the depth index (i r + j) C + c (TFLite's DEPTH_TO_SPACE / SPACE_TO_DEPTH)."""
    if mode == 0:
        return F.pixel_shuffle(x, r)
    if mode == 1:
        return F.pixel_unshuffle(x, r)
    n, c, h, w = x.shape
    if mode == 2:  # [N, (i, j, c), H, W] -> [N, c, (H, i), (W, j)]
        return x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c // (r * r), h * r, w * r)
    return x.reshape(n, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4).reshape(n, c * r * r, h // r, w // r)


def _per_channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A constant of one value per channel (of [N, C, H, W]) or per feature (of [N, F]), shaped to broadcast."""
    return v.reshape(1, -1, *([1] * (like.dim() - 2)))


def _conv_module(g: Graph, op: Op) -> nn.Module:
    top, left, bottom, right = op.pads
    if (top, left) != (bottom, right):
        raise LinRepError(f"op {op.name!r}: asymmetric padding cannot be rebuilt as a torch module")
    cout, cin_g, kh, kw = g.weight_shape(op)
    conv = nn.Conv2d(cin_g * op.groups, cout, (kh, kw), op.stride, (top, left), op.dilation, op.groups,
                     bias=op.bias >= 0)
    with torch.no_grad():
        if op.bias >= 0:
            conv.bias.copy_(torch.from_numpy(g.constants[op.bias].values))  # type: ignore[union-attr]
        if op.type == "CONV2D":
            conv.weight.copy_(torch.from_numpy(g.constants[op.weight].values))
            return conv
    lr = op.linrep
    assert lr is not None
    t = torch.from_numpy(g.codebooks[lr.codebook].templates.copy())
    return LinRepConv2d(conv, t, torch.from_numpy(lr.idx), torch.from_numpy(lr.a.copy()),
                        torch.from_numpy(lr.b.copy()), lr.codebook, g.codebooks[lr.codebook].dtype)


def _pool(op: Op, x: torch.Tensor) -> torch.Tensor:
    """Max or average pooling with the op's padding, which may be larger at the bottom/right (ceil_mode):
    max pooling pads with -inf; average pooling divides by the window (count_include_pad) or by the
    number of input values it covers."""
    top, left, bottom, right = op.pads
    if (top, left) == (bottom, right):
        if op.type == "MAX_POOL2D":
            return F.max_pool2d(x, op.kernel, op.stride, (top, left), op.dilation)
        return F.avg_pool2d(x, op.kernel, op.stride, (top, left), count_include_pad=op.count_include_pad)
    pad = (left, right, top, bottom)
    if op.type == "MAX_POOL2D":
        return F.max_pool2d(F.pad(x, pad, value=float("-inf")), op.kernel, op.stride, 0, op.dilation)
    total = F.avg_pool2d(F.pad(x, pad), op.kernel, op.stride, 0)
    if op.count_include_pad:
        return total
    count = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), pad), op.kernel, op.stride, 0)
    return total / count


class GraphModel(nn.Module):
    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph
        self.layers = nn.ModuleDict()
        self.layer_names: dict[str, str] = {}  # submodule path -> the op's own name, for capture
        for i, op in enumerate(graph.ops):
            key = f"op{i}"
            if op.type in ("CONV2D", "LINREP_CONV2D"):
                self.layers[key] = _conv_module(graph, op)
            elif op.type == "LINEAR":
                w = graph.constants[op.weight].values
                lin = nn.Linear(w.shape[1], w.shape[0], bias=op.bias >= 0)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(w))
                    if op.bias >= 0:
                        lin.bias.copy_(torch.from_numpy(graph.constants[op.bias].values))  # type: ignore[union-attr]
                self.layers[key] = lin
            elif op.type == "CONV_TRANSPOSE2D":
                self.layers[key] = _conv_transpose_module(graph, op)
            elif op.type == "AFFINE":
                self.register_buffer(f"{key}_weight", torch.from_numpy(graph.constants[op.weight].values.reshape(-1)))
                if op.bias >= 0:
                    self.register_buffer(f"{key}_bias", torch.from_numpy(graph.constants[op.bias].values.reshape(-1)))
                continue
            elif op.type == "PRELU":
                p = nn.PReLU(graph.constants[op.weight].values.size)
                with torch.no_grad():
                    p.weight.copy_(torch.from_numpy(graph.constants[op.weight].values.reshape(-1)))
                self.layers[key] = p
            else:
                continue
            self.layer_names[f"layers.{key}"] = op.name

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The model's result for a batch; a tuple when the graph has several outputs."""
        vals = self.trace(x)
        results = self.graph.results
        return vals[results[0]] if len(results) == 1 else tuple(vals[t] for t in results)

    def trace(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Every tensor of the graph (by tensor id) for a batch: the input and each op's output."""
        g = self.graph
        vals: dict[int, torch.Tensor] = {g.input: x.float().reshape(x.shape[0], *g.tensors[g.input].shape)}
        for i, op in enumerate(g.ops):
            ins = [vals[t] for t in op.inputs]
            x0 = ins[0]
            t = op.type
            if t in ("CONV2D", "LINREP_CONV2D", "LINEAR", "PRELU", "CONV_TRANSPOSE2D"):
                y = self.layers[f"op{i}"](x0)
            elif t == "RELU":
                y = F.relu(x0)
            elif t == "RELU6":
                y = F.relu6(x0)
            elif t == "LEAKY_RELU":
                y = F.leaky_relu(x0, op.alpha)
            elif t == "SIGMOID":
                y = torch.sigmoid(x0)
            elif t == "HARDSWISH":
                y = F.hardswish(x0)
            elif t in ("MAX_POOL2D", "AVG_POOL2D"):
                y = _pool(op, x0)
            elif t == "ADAPTIVE_AVG_POOL2D":
                y = F.adaptive_avg_pool2d(x0, op.kernel)
            elif t in ("ADD", "MUL", "SUB"):  # the second input may hold one value per channel ([C, 1, 1] or [C])
                # or (MUL) per pixel ([1, H, W]: torch broadcasts it as it is)
                b = ins[1] if ins[1].dim() == x0.dim() else ins[1].reshape(x0.shape[0], -1, 1, 1)
                y = x0 + b if t == "ADD" else x0 - b if t == "SUB" else x0 * b
            elif t == "CONCAT":
                y = torch.cat(ins, 1)
            elif t == "RESHAPE":
                y = x0.reshape(x0.shape[0], *g.tensors[op.output].shape)
            elif t == "SOFTMAX":  # over [F], or over the channels of each pixel
                y = torch.softmax(x0, 1)
            elif t == "TANH":
                y = torch.tanh(x0)
            elif t == "HARDSIGMOID":
                y = F.hardsigmoid(x0)
            elif t == "SILU":
                y = F.silu(x0)
            elif t == "CLAMP":
                y = torch.clamp(x0, op.alpha, op.beta)
            elif t == "RESIZE":
                size = g.tensors[op.output].shape[1:]
                if op.mode in (0, 3):  # nearest (3: any size, format version 8: torch's `size=` formula)
                    y = F.interpolate(x0, size=size, mode="nearest")
                else:
                    y = F.interpolate(x0, size=size, mode="bilinear", align_corners=op.mode == 2)
            elif t == "PAD":
                top, left, bottom, right = op.pads
                if op.mode:  # format version 6: the border from the input
                    y = F.pad(x0, (left, right, top, bottom), mode="reflect" if op.mode == 1 else "replicate")
                else:
                    y = F.pad(x0, (left, right, top, bottom), value=op.alpha)
            elif t == "SLICE":
                y = x0[:, op.start:op.start + g.tensors[op.output].shape[0]]
            elif t == "TRANSPOSE_HWC":
                y = x0.permute(0, 2, 3, 1).flatten(1)
            elif t == "CHANNEL_SHUFFLE":
                n, c, h, w = x0.shape
                y = x0.reshape(n, op.groups, c // op.groups, h, w).transpose(1, 2).reshape(n, c, h, w)
            elif t == "PIXEL_SHUFFLE":
                y = pixel_shuffle_f32(x0, op.stride[0], op.mode)
            elif t == "UNARY":
                y = unary_f32(op, x0)
            elif t == "AFFINE":
                y = x0 * _per_channel(getattr(self, f"op{i}_weight"), x0)
                if op.bias >= 0:
                    y = y + _per_channel(getattr(self, f"op{i}_bias"), x0)
            else:
                raise LinRepError(f"op {op.name!r}: type {t} cannot be executed")
            if op.activation == "RELU":
                y = F.relu(y)
            elif op.activation == "RELU6":
                y = F.relu6(y)
            vals[op.output] = y
        return vals
