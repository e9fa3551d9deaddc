"""Quantisation-aware fine-tuning of a and b for an int8 graph: the fp32 graph run in torch with everything
the integer model rounds rounded in the loop (straight-through gradients) — int8 activations with the
calibrated scales and zero points and their clamps, int8 dense weights, int8 templates and a/b integers
of `ab_bits` bits with the power-of-two b exponent (`scheme.py`) — so the model trained is the integer
model `quantize_graph` then makes. Templates and indices stay fixed; only a and b train
(`method.finetune`'s schedule and loss), and the biases if asked (int32 in the blob: free).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph, Op
from linrep_edge.graph.executor import GraphModel, _pool, unary_f32
from linrep_edge.integer.quantize import (Ranges, act_range, assign_tensor_quant, calibrate, check_supported,
                                          prelu_slopes)
from linrep_edge.integer.scheme import bias_floor, fake_activation, fake_linrep_ab, template_quant
from linrep_edge.method.linrep_conv import LinRepConv2d, LinRepConvTranspose2d
from linrep_edge.method.quantize import quantize_int8_weights


ACTIVATIONS = ("SIGMOID", "HARDSWISH", "TANH", "RELU", "RELU6", "CLAMP", "LEAKY_RELU", "SILU",
               "HARDSIGMOID", "UNARY")  # and PRELU (a layer)


def _activation(op: Op, x: torch.Tensor) -> torch.Tensor:
    """An elementwise activation in fp32; the output's fake quantisation (TFLite's fixed output scale) follows."""
    if op.type == "SIGMOID":
        return torch.sigmoid(x)
    if op.type == "HARDSWISH":
        return F.hardswish(x)
    if op.type == "TANH":
        return torch.tanh(x)
    if op.type == "RELU":
        return F.relu(x)
    if op.type == "RELU6":
        return F.relu6(x)
    if op.type == "CLAMP":
        return torch.clamp(x, op.alpha, op.beta)
    if op.type == "LEAKY_RELU":
        return F.leaky_relu(x, op.alpha)
    if op.type == "HARDSIGMOID":
        return F.hardsigmoid(x)
    if op.type == "SILU":  # x times its sigmoid quantised 1/256, -128 (the integer op's LOGISTIC then MUL)
        return x * fake_activation(torch.sigmoid(x), 1.0 / 256.0, -128, -128, 127)
    if op.type == "UNARY":
        return unary_f32(op, x)
    raise LinRepError(f"op {op.name!r}: {op.type} is not supported by int8 fine-tuning")


class FakeQuantLinRep(nn.Module):
    """A LinRepConv2d whose kernels are the integer layer's: (a_q·s_a)·(t_q·s_T)[idx] + b_q·s_b."""

    ONE_SCALE = False  # one s_a per output channel (a transposed conv: one for the layer)

    def __init__(self, m: LinRepConv2d, bits: int, s_in: float) -> None:
        super().__init__()
        self.m = m
        self.bits = bits
        m.set_ab_bits(bits)  # a, b are integers in the end (finetune's fp16 rounding does not apply)
        t_q, self.s_t = template_quant(m.templates)
        self.register_buffer("t_deq", t_q.float() * self.s_t)
        # the packer's least s_a per channel for the bias (scheme.bias_floor; the bias is not trained)
        self.floor = bias_floor(m.bias.detach().numpy() if m.bias is not None else None, s_in, self.s_t,
                                one_scale=self.ONE_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        a, b = m.masked_ab()
        a_f, b_f = fake_linrep_ab(a, b, self.s_t, self.bits, self.floor)
        w = a_f[..., None, None] * self.t_deq[m.idx] + b_f[..., None, None]
        return F.conv2d(x, w, m.bias, m.stride, m.padding, m.dilation, m.groups)


class FakeQuantLinRepTranspose(FakeQuantLinRep):
    """A LinRepConvTranspose2d whose kernels are the integer layer's: one a scale and one exponent for the whole
    layer (quantize._linrep_transpose_params)."""

    ONE_SCALE = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        a, b = m.masked_ab()
        a_f, b_f = fake_linrep_ab(a.reshape(1, -1), b.reshape(1, -1), self.s_t, self.bits, self.floor)
        w = a_f.reshape(a.shape)[..., None, None] * self.t_deq[m.idx] + b_f.reshape(b.shape)[..., None, None]
        return F.conv_transpose2d(x, w, m.bias, m.stride, m.padding, m.output_padding,  # type: ignore[attr-defined]
                                  m.groups, m.dilation)


class QATGraphModel(nn.Module):
    """The fp32 graph `g` (N, *input) → (N, *output) with int8 rounding in the loop (see module doc)."""

    def __init__(self, g: Graph, ranges: Ranges, bits: int, layer_bits: dict[str, int] | None = None) -> None:
        super().__init__()
        check_supported(g)
        self.graph = g
        self.inner = GraphModel(g)
        q = copy.deepcopy(g)
        assign_tensor_quant(q, ranges)
        self.quant = [(t.scale, t.zero_point) for t in q.tensors]
        self.clamps = {op.output: act_range(op, *self.quant[op.output]) for op in g.ops}
        self.wrapped = nn.ModuleDict()
        for i, op in enumerate(g.ops):
            layer = self.inner.layers[f"op{i}"] if f"op{i}" in self.inner.layers else None
            if op.type == "LINREP_CONV2D":
                assert isinstance(layer, LinRepConv2d)
                self.wrapped[f"op{i}"] = FakeQuantLinRep(layer, (layer_bits or {}).get(op.name, bits),
                                                         self.quant[op.inputs[0]][0])
            elif op.type == "PRELU":  # the int8 slopes, fixed
                assert isinstance(layer, nn.PReLU)
                with torch.no_grad():
                    a_q, s_a = prelu_slopes(layer.weight.detach().numpy())
                    layer.weight.copy_(torch.from_numpy((a_q.astype(np.float32) * np.float32(s_a)).astype(np.float32)))
                layer.weight.requires_grad_(False)
            elif op.type in ("CONV2D", "LINEAR"):
                assert layer is not None
                with torch.no_grad():  # int8 per output channel, fixed
                    _, _, deq = quantize_int8_weights(layer.weight.detach().numpy())
                    layer.weight.copy_(torch.from_numpy(deq))
                layer.weight.requires_grad_(False)
            elif op.type == "CONV_TRANSPOSE2D" and op.linrep is not None:
                assert isinstance(layer, LinRepConvTranspose2d)
                self.wrapped[f"op{i}"] = FakeQuantLinRepTranspose(layer, (layer_bits or {}).get(op.name, bits),
                                                                  self.quant[op.inputs[0]][0])
            elif op.type in ("AFFINE", "CONV_TRANSPOSE2D"):
                self._fix_geo_weights(i, op)

    def _fix_geo_weights(self, i: int, op: Op) -> None:
        """AFFINE and dense CONV_TRANSPOSE2D weights: int8 per output channel (quantize._geo_params), fixed."""
        from linrep_edge.integer.quantize import _transpose_rows

        with torch.no_grad():
            if op.type == "AFFINE":  # a new buffer: the old one shares memory with the caller's graph
                buf = getattr(self.inner, f"op{i}_weight")
                _, _, deq = quantize_int8_weights(buf.numpy().reshape(-1, 1))
                self.inner.register_buffer(f"op{i}_weight", torch.from_numpy(deq.reshape(-1).copy()))
                return
            layer = self.inner.layers[f"op{i}"]
            w = layer.weight.detach().numpy()
            _, _, deq = quantize_int8_weights(_transpose_rows(w, op.groups))
            layer.weight.copy_(torch.from_numpy(_transpose_rows(deq, op.groups)))
            layer.weight.requires_grad_(False)

    def _fq(self, t: int, y: torch.Tensor) -> torch.Tensor:
        scale, zp = self.quant[t]
        lo, hi = self.clamps.get(t, (-128, 127))
        return fake_activation(y, scale, zp, lo, hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.graph
        vals = {g.input: self._fq(g.input, x.float().reshape(x.shape[0], *g.tensors[g.input].shape))}
        for i, op in enumerate(g.ops):
            ins = [vals[t] for t in op.inputs]
            key = f"op{i}"
            if op.type == "LINREP_CONV2D":
                y = self.wrapped[key](ins[0])
            elif op.type in ("CONV2D", "LINEAR", "PRELU"):
                y = self.inner.layers[key](ins[0])
            elif op.type in ("ADD", "SUB"):  # the second input may hold one value per channel ([C, 1, 1] or [C])
                b = ins[1]
                b = b.reshape(*b.shape[:2], *([1] * (ins[0].dim() - 2))) if b.shape != ins[0].shape else b
                y = ins[0] - b if op.type == "SUB" else ins[0] + b
            elif op.type in ("MAX_POOL2D", "AVG_POOL2D"):
                y = _pool(op, ins[0])
            elif op.type == "ADAPTIVE_AVG_POOL2D":
                y = F.adaptive_avg_pool2d(ins[0], op.kernel)
            elif op.type == "RESHAPE":
                y = ins[0].reshape(ins[0].shape[0], *g.tensors[op.output].shape)
            elif op.type == "SOFTMAX":
                y = torch.softmax(ins[0], 1)
            elif op.type in ("MUL", "AFFINE", "RESIZE", "CONV_TRANSPOSE2D"):
                y = self._geo(i, op, ins)
            elif op.type in ACTIVATIONS:
                y = _activation(op, ins[0])
            else:
                raise LinRepError(f"op {op.name!r}: {op.type} is not supported by int8 fine-tuning")
            if op.activation == "RELU":
                y = F.relu(y)
            elif op.activation == "RELU6":
                y = F.relu6(y)
            vals[op.output] = self._fq(op.output, y)
        return vals[g.output]

    def _geo(self, i: int, op: Op, ins: list[torch.Tensor]) -> torch.Tensor:
        """MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D as the fp32 graph computes them (weights fixed above)."""
        x0 = ins[0]
        if op.type == "CONV_TRANSPOSE2D":
            return (self.wrapped[f"op{i}"] if f"op{i}" in self.wrapped else self.inner.layers[f"op{i}"])(x0)
        if op.type == "MUL":
            b = ins[1] if ins[1].dim() == x0.dim() else ins[1].reshape(x0.shape[0], -1, *([1] * (x0.ndim - 2)))
            return x0 * b
        if op.type == "RESIZE":
            size = self.graph.tensors[op.output].shape[1:]
            if op.mode in (0, 3):
                return F.interpolate(x0, size=size, mode="nearest")
            return F.interpolate(x0, size=size, mode="bilinear", align_corners=op.mode == 2)
        shape = (1, -1) + (1,) * (x0.ndim - 2)
        y = x0 * getattr(self.inner, f"op{i}_weight").reshape(shape)
        if op.bias >= 0:
            y = y + getattr(self.inner, f"op{i}_bias").reshape(shape)
        return y

    def write_back(self) -> Graph:
        """A copy of the fp32 graph with the trained a and b (pruned kernels 0) and biases."""
        out = copy.deepcopy(self.graph)
        for i, op in enumerate(out.ops):
            layer = self.inner.layers[f"op{i}"] if f"op{i}" in self.inner.layers else None
            bias = getattr(layer, "bias", None)
            if op.bias >= 0 and isinstance(bias, torch.Tensor):
                out.constants[op.bias].values = bias.detach().float().numpy().reshape(
                    out.constants[op.bias].values.shape).copy()
            if op.type == "LINREP_CONV2D" or (op.type == "CONV_TRANSPOSE2D" and op.linrep is not None):
                a, b = self.wrapped[f"op{i}"].m.masked_ab()
                assert op.linrep is not None
                op.linrep.a = a.detach().double().numpy()
                op.linrep.b = b.detach().double().numpy()
        return out


def _train(model: QATGraphModel, loader: torch.utils.data.DataLoader, params: list[nn.Parameter], epochs: float,
           lr: float, show_progress: bool) -> None:
    """`method.finetune`'s schedule (Adam, cosine decay to 0, eval mode) over `params` only."""
    import math

    from linrep_edge.method.finetune import ab_loss, cosine_schedule
    from linrep_edge.progress import progress

    chosen = {id(p) for p in params}
    saved = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in chosen)
    steps = max(1, math.ceil(epochs * len(loader)))
    opt = torch.optim.Adam(params, lr=lr)
    sched = cosine_schedule(opt, steps)
    model.eval()
    done = 0
    try:
        with progress(total=steps, desc="int8 fine-tune a,b", enabled=show_progress) as bar:
            while done < steps:
                for x, y in loader:
                    loss = ab_loss(model, x, y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    done += 1
                    bar.update(1)
                    if done >= steps:
                        break
    finally:
        for p in model.parameters():
            p.requires_grad_(saved[id(p)])


def qat_finetune(g: Graph, calibration: np.ndarray, train: torch.utils.data.Dataset, bits: int, epochs: float,
                 lr: float = 1e-3, batch: int = 64, seed: int = 0, percentile: float = 100.0,
                 show_progress: bool = True, layer_bits: dict[str, int] | None = None,
                 train_bias: bool = False) -> tuple[Graph, QATGraphModel]:
    """Fine-tune a, b of the fp32 graph `g` with the int8 model in the loop; returns (the fp32 graph with
    the new a, b — quantise it with `quantize_graph` —, the QAT model). `train_bias`: the conv and linear
    biases train too (they are int32 in the blob: no byte more)."""
    from linrep_edge.method.finetune import trainable_parameters

    ranges = calibrate(g, calibration, percentile)
    model = QATGraphModel(g, ranges, bits, layer_bits)
    if epochs > 0:
        gen = torch.Generator().manual_seed(seed)
        loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, generator=gen)
        params = trainable_parameters(model)
        if train_bias:
            params += [m.bias for m in model.inner.layers.values()
                       if isinstance(m, (nn.Conv2d, nn.Linear, LinRepConv2d)) and m.bias is not None]
        _train(model, loader, params, epochs, lr, show_progress)
    return model.write_back(), model
