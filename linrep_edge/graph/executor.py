"""Run a graph IR in torch: the model rebuilt from a blob, op for op as the C runtime runs it.

`GraphModel(graph)` is an nn.Module taking a batch (N, *input_shape) and returning (N, *output_shape).
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
from linrep_edge.format.ir import Graph, Op
from linrep_edge.method.linrep_conv import LinRepConv2d


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
            elif op.type == "PRELU":
                p = nn.PReLU(graph.constants[op.weight].values.size)
                with torch.no_grad():
                    p.weight.copy_(torch.from_numpy(graph.constants[op.weight].values.reshape(-1)))
                self.layers[key] = p
            else:
                continue
            self.layer_names[f"layers.{key}"] = op.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.graph
        vals: dict[int, torch.Tensor] = {g.input: x.float()}
        for i, op in enumerate(g.ops):
            ins = [vals[t] for t in op.inputs]
            x0 = ins[0]
            t = op.type
            if t in ("CONV2D", "LINREP_CONV2D", "LINEAR", "PRELU"):
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
            elif t == "MAX_POOL2D":
                y = F.max_pool2d(x0, op.kernel, op.stride, op.pads[:2], op.dilation)
            elif t == "AVG_POOL2D":
                y = F.avg_pool2d(x0, op.kernel, op.stride, op.pads[:2], count_include_pad=op.count_include_pad)
            elif t == "ADAPTIVE_AVG_POOL2D":
                y = F.adaptive_avg_pool2d(x0, op.kernel)
            elif t == "ADD":
                y = ins[0] + ins[1]
            elif t == "CONCAT":
                y = torch.cat(ins, 1)
            elif t == "RESHAPE":
                y = x0.reshape(x0.shape[0], *g.tensors[op.output].shape)
            elif t == "SOFTMAX":
                y = torch.softmax(x0, 1)
            else:
                raise LinRepError(f"op {op.name!r}: type {t} cannot be executed")
            if op.activation == "RELU":
                y = F.relu(y)
            elif op.activation == "RELU6":
                y = F.relu6(y)
            vals[op.output] = y
        return vals[g.output]
