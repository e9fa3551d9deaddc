"""Graph capture: a torch model + example input → the flat op list the C runtime executes.

The model is exported with `torch.export` (LinRep layers are first materialised as plain convs so that
the exporter sees ordinary `aten.conv2d`; their weights are then taken from the LinRep representation,
not from the materialised tensor). Batch-norm in eval mode that directly follows a conv is folded into
it exactly: for a scale s = γ/√(σ² + ε) per output channel, W' = s·W (for LinRep layers a' = s·a and
b' = s·b; with integer a/b the integers stay and s multiplies the per-channel scales) and bias' = s·(bias − μ) + β. Any operation outside the supported list raises LinRepError
naming the op and the module path it comes from.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.graph.fuse import fuse_activations
from linrep_edge.format.ir import Graph, LinRepWeights, Op
from linrep_edge.method.linrep_conv import LinRepConv2d, materialize

aten = torch.ops.aten

ALIAS_OPS = {aten.dropout.default, aten.clone.default, aten.alias.default, aten.detach.default,
             aten.contiguous.default, aten.feature_dropout.default, aten.alpha_dropout.default,
             aten.lift_fresh_copy.default}
RESHAPE_OPS = {aten.flatten.using_ints, aten.view.default, aten.reshape.default, aten._unsafe_view.default,
               aten.squeeze.dim, aten.squeeze.dims, aten.unsqueeze.default, aten.squeeze.default}
ELEMENTWISE = {aten.relu.default: "RELU", aten.relu_.default: "RELU", aten.relu6.default: "RELU6",
               aten.sigmoid.default: "SIGMOID", aten.hardswish.default: "HARDSWISH",
               aten.hardswish_.default: "HARDSWISH"}


def _module_path(node: torch.fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "<top level>"
    path, cls = list(stack.values())[-1]
    cls_name = getattr(cls, "__name__", None) or str(cls).rpartition(".")[2]
    return f"{path or '<top level>'} ({cls_name})"


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    val = node.meta.get("val")
    if not isinstance(val, torch.Tensor):
        raise LinRepError(f"cannot infer the shape of {node.target} at {_module_path(node)}")
    if val.dim() < 1 or val.shape[0] != 1:
        raise LinRepError(f"{node.target} at {_module_path(node)}: batch dimension must be 1, shape {tuple(val.shape)}")
    return tuple(int(s) for s in val.shape[1:])


def _pair(v: Any, default: int) -> tuple[int, int]:
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return default, default
    if isinstance(v, int):
        return v, v
    if len(v) == 1:
        return int(v[0]), int(v[0])
    return int(v[0]), int(v[1])


def _arg(node: torch.fx.Node, i: int, name: str, default: Any) -> Any:
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


class _Capture:
    def __init__(self, ep: torch.export.ExportedProgram, linrep: dict[str, LinRepConv2d],
                 names: dict[str, str], linrep_codebook_dtype: str | None) -> None:
        self.ep = ep
        self.linrep = linrep
        self.names = names
        self.cb_dtype = linrep_codebook_dtype
        self.values: dict[str, torch.Tensor] = {}
        self.targets: dict[str, str] = {}
        consts = getattr(self.ep, "constants", {}) or {}
        for spec in self.ep.graph_signature.input_specs:
            if spec.target is None:
                continue
            t = self.ep.state_dict.get(spec.target)
            if t is None:
                t = consts.get(spec.target)
            if isinstance(t, torch.Tensor):
                self.values[spec.arg.name] = t.detach()
                self.targets[spec.arg.name] = spec.target
        self.g = Graph(tensors=[], input=-1, output=-1, ops=[])
        self.env: dict[str, int] = {}
        self.producer: dict[int, Op] = {}
        self.codebook_ids: dict[int, int] = {}

    # -- helpers -----------------------------------------------------------------------------------
    def param(self, node: Any) -> torch.Tensor:
        if not isinstance(node, torch.fx.Node) or node.name not in self.values:
            raise LinRepError(f"expected a parameter, got {node}")
        return self.values[node.name].to(torch.float64)

    def emit(self, node: torch.fx.Node, op_type: str, inputs: list[int], **kw: Any) -> Op:
        out = self.g.add_tensor(_shape(node), node.name)
        op = Op(op_type, kw.pop("name", _module_path(node).split(" (")[0]), inputs, out, **kw)
        self.g.ops.append(op)
        self.env[node.name] = out
        self.producer[out] = op
        return op

    def tensor_in(self, arg: Any, node: torch.fx.Node) -> int:
        if not isinstance(arg, torch.fx.Node) or arg.name not in self.env:
            raise LinRepError(f"{node.target} at {_module_path(node)}: input {arg} is not an activation "
                              "(constant or parameter operands are not supported)")
        return self.env[arg.name]

    # -- ops -----------------------------------------------------------------------------------------
    def conv(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        wnode = node.args[1]
        weight = self.param(wnode)
        bias_node = _arg(node, 2, "bias", None)
        stride = _pair(_arg(node, 3, "stride", 1), 1)
        padding = _arg(node, 4, "padding", 0)
        dilation = _pair(_arg(node, 5, "dilation", 1), 1)
        groups = int(_arg(node, 6, "groups", 1))
        kh, kw = int(weight.shape[2]), int(weight.shape[3])
        if isinstance(padding, str):
            if padding == "valid":
                pads = (0, 0, 0, 0)
            else:  # "same": torch puts the odd extra pixel at the bottom/right
                th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
                pads = (th // 2, tw // 2, th - th // 2, tw - tw // 2)
        else:
            ph, pw = _pair(padding, 0)
            pads = (ph, pw, ph, pw)
        module = self.targets.get(wnode.name, "").rpartition(".")[0]
        name = self.names.get(module, module)
        bias = self.g.add_constant(self.param(bias_node).numpy()) if bias_node is not None else -1
        common = dict(kernel=(kh, kw), stride=stride, pads=pads, dilation=dilation, groups=groups,
                      out_channels=int(weight.shape[0]), bias=bias)
        if module in self.linrep:
            m = self.linrep[module]
            cb = self.codebook_ids.setdefault(m.codebook, len(self.g.codebooks))
            if cb == len(self.g.codebooks):
                from linrep_edge.format.ir import Codebook

                self.g.codebooks.append(Codebook(m.templates.detach().numpy().astype(np.float32),
                                                 self.cb_dtype or m.codebook_dtype))
            a, b = m.masked_ab()
            mask = None if bool(m.mask.all()) else m.mask.detach().numpy().astype(bool)
            lr = LinRepWeights(cb, m.idx.detach().numpy().astype(np.int64), a.detach().double().numpy(),
                               b.detach().double().numpy(), ab_bits=m.ab_bits, mask=mask)
            if m.ab_bits:
                a_q, a_s, b_q, b_s = (t.detach().numpy() for t in m.quantized_ab())
                lr.set_quantized(a_q, a_s, b_q, b_s)
            self.emit(node, "LINREP_CONV2D", [x], name=name, linrep=lr, **common)
        else:
            w = self.g.add_constant(weight.numpy())
            self.emit(node, "CONV2D", [x], name=name or _module_path(node).split(" (")[0], weight=w, **common)

    def batch_norm(self, node: torch.fx.Node, args: list[Any]) -> None:
        x_node, gamma, beta, mean, var, eps = args
        src = self.env.get(x_node.name) if isinstance(x_node, torch.fx.Node) else None
        op = self.producer.get(src) if src is not None else None
        if op is None or op.type not in ("CONV2D", "LINREP_CONV2D") or len(x_node.users) != 1:
            raise LinRepError(f"unsupported operation: batch_norm at {_module_path(node)} "
                              "(only batch-norm directly after a conv is supported; it is folded into the conv)")
        mu, v = self.param(mean), self.param(var)
        g = self.param(gamma) if gamma is not None else torch.ones_like(mu)
        bt = self.param(beta) if beta is not None else torch.zeros_like(mu)
        s = g / torch.sqrt(v + float(eps))
        old_bias = torch.from_numpy(self.g.constants[op.bias].values).double() if op.bias >= 0 else torch.zeros_like(mu)
        new_bias = (s * (old_bias - mu) + bt).numpy()
        if op.bias >= 0:
            self.g.constants[op.bias].values = new_bias.astype(np.float32)
        else:
            op.bias = self.g.add_constant(new_bias)
        sn = s.numpy()
        if op.type == "LINREP_CONV2D":
            lr = op.linrep
            assert lr is not None
            if lr.ab_bits:  # integer a/b: the BN scale folds into the per-channel scales
                assert lr.a_q is not None and lr.b_q is not None and lr.a_scale is not None and lr.b_scale is not None
                lr.set_quantized(lr.a_q, lr.a_scale * sn, lr.b_q, lr.b_scale * sn)
            else:
                lr.a = lr.a * sn[:, None]
                lr.b = lr.b * sn[:, None]
        else:
            c = self.g.constants[op.weight]
            c.values = (c.values.astype(np.float64) * sn[:, None, None, None]).astype(np.float32)
        self.env[node.name] = src

    def alias(self, node: torch.fx.Node, src: Any) -> None:
        self.env[node.name] = self.tensor_in(src, node)

    def run(self) -> Graph:
        handlers = self._handlers()
        for node in self.ep.graph.nodes:
            if node.op == "placeholder":
                if node.name in self.values:
                    continue
                if self.g.input >= 0:
                    raise LinRepError("models with more than one input are not supported")
                self.g.input = self.g.add_tensor(_shape(node), "input")
                self.env[node.name] = self.g.input
            elif node.op == "output":
                outs = node.args[0]
                if len(outs) != 1:
                    raise LinRepError(f"models with {len(outs)} outputs are not supported (exactly one)")
                self.g.output = self.tensor_in(outs[0], node)
            elif node.op == "call_function":
                fn = handlers.get(node.target)
                if fn is None:
                    name = getattr(node.target, "__name__", str(node.target))
                    raise LinRepError(f"unsupported operation: {name} at {_module_path(node)}")
                fn(node)
            else:
                raise LinRepError(f"unsupported graph node {node.op} {node.target}")
        for op in self.g.ops:
            if op.linrep is not None:
                op.linrep.a = op.linrep.a.astype(np.float32)
                op.linrep.b = op.linrep.b.astype(np.float32)
        return self.g

    def _handlers(self) -> dict[Any, Callable[[torch.fx.Node], None]]:
        h: dict[Any, Callable[[torch.fx.Node], None]] = {}
        h[aten.conv2d.default] = self.conv
        h[aten.conv2d.padding] = self.conv
        h[aten.batch_norm.default] = lambda n: self.batch_norm(n, [n.args[0], n.args[1], n.args[2], n.args[3], n.args[4], n.args[7]])
        h[aten._native_batch_norm_legit_no_training.default] = lambda n: self.batch_norm(n, [*n.args[:5], n.args[6]])
        h[operator.getitem] = self._getitem
        h[aten._assert_tensor_metadata.default] = lambda n: None  # a dtype/shape assertion, no data
        h[aten.to.dtype] = lambda n: self.alias(n, n.args[0])
        for t in ALIAS_OPS:
            h[t] = lambda n: self.alias(n, n.args[0])
        for t in RESHAPE_OPS:
            h[t] = self._reshape
        for t, kind in ELEMENTWISE.items():
            h[t] = lambda n, kind=kind: self.emit(n, kind, [self.tensor_in(n.args[0], n)])
        h[aten.hardtanh.default] = self._hardtanh
        h[aten.leaky_relu.default] = lambda n: self.emit(n, "LEAKY_RELU", [self.tensor_in(n.args[0], n)],
                                                         alpha=float(_arg(n, 1, "negative_slope", 0.01)))
        h[aten.prelu.default] = self._prelu
        h[aten._prelu_kernel.default] = self._prelu
        h[aten.max_pool2d.default] = self._max_pool
        h[aten.max_pool2d_with_indices.default] = self._max_pool
        h[aten.avg_pool2d.default] = self._avg_pool
        h[aten.adaptive_avg_pool2d.default] = self._adaptive
        h[aten._adaptive_avg_pool2d.default] = self._adaptive
        h[aten.mean.dim] = self._mean
        h[aten.add.Tensor] = self._add
        h[aten.cat.default] = self._cat
        h[aten.linear.default] = self._linear
        h[aten.softmax.int] = self._softmax
        h[aten._softmax.default] = self._softmax
        return h

    def _getitem(self, node: torch.fx.Node) -> None:
        src, i = node.args
        if i != 0:
            if len(node.users) == 0:
                return
            raise LinRepError(f"unsupported use of output {i} of {getattr(src, 'target', src)} at {_module_path(node)}")
        self.env[node.name] = self.tensor_in(src, node)

    def _reshape(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        if self.g.tensors[x].shape == _shape(node):
            self.env[node.name] = x
        else:
            self.emit(node, "RESHAPE", [x])

    def _hardtanh(self, node: torch.fx.Node) -> None:
        lo, hi = float(_arg(node, 1, "min_val", -1.0)), float(_arg(node, 2, "max_val", 1.0))
        if (lo, hi) != (0.0, 6.0):
            raise LinRepError(f"unsupported operation: hardtanh({lo}, {hi}) at {_module_path(node)} (only relu6)")
        self.emit(node, "RELU6", [self.tensor_in(node.args[0], node)])

    def _prelu(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        w = self.g.add_constant(self.param(node.args[1]).reshape(-1).numpy())
        self.emit(node, "PRELU", [x], weight=w, name=self._param_module(node.args[1]) or _module_path(node))

    def _pool_common(self, node: torch.fx.Node, pad_index: int) -> dict[str, Any]:
        kernel = _pair(node.args[1], 1)
        stride = _pair(_arg(node, 2, "stride", None), 0)
        if stride == (0, 0):
            stride = kernel
        ph, pw = _pair(_arg(node, pad_index, "padding", 0), 0)
        return dict(kernel=kernel, stride=stride, pads=(ph, pw, ph, pw))

    def _max_pool(self, node: torch.fx.Node) -> None:
        kw = self._pool_common(node, 3)
        dilation = _pair(_arg(node, 4, "dilation", 1), 1)
        if _arg(node, 5, "ceil_mode", False):
            raise LinRepError(f"unsupported operation: max_pool2d with ceil_mode=True at {_module_path(node)}")
        self.emit(node, "MAX_POOL2D", [self.tensor_in(node.args[0], node)], dilation=dilation, **kw)

    def _avg_pool(self, node: torch.fx.Node) -> None:
        kw = self._pool_common(node, 3)
        if _arg(node, 4, "ceil_mode", False) or _arg(node, 6, "divisor_override", None) is not None:
            raise LinRepError(f"unsupported operation: avg_pool2d with ceil_mode or divisor_override at {_module_path(node)}")
        self.emit(node, "AVG_POOL2D", [self.tensor_in(node.args[0], node)],
                  count_include_pad=bool(_arg(node, 5, "count_include_pad", True)), **kw)

    def _adaptive(self, node: torch.fx.Node) -> None:
        oh, ow = _pair(node.args[1], 1)
        self.emit(node, "ADAPTIVE_AVG_POOL2D", [self.tensor_in(node.args[0], node)], kernel=(oh, ow))

    def _mean(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        dims = sorted(d % 4 for d in node.args[1])
        if len(self.g.tensors[x].shape) != 3 or dims != [2, 3]:
            raise LinRepError(f"unsupported operation: mean over dims {list(node.args[1])} at {_module_path(node)} "
                              "(only a spatial mean of an NCHW tensor)")
        c = self.g.tensors[x].shape[0]
        keep = bool(_arg(node, 2, "keepdim", False))
        out = self.g.add_tensor((c, 1, 1), node.name + "_pool")
        self.g.ops.append(Op("ADAPTIVE_AVG_POOL2D", _module_path(node).split(" (")[0], [x], out, kernel=(1, 1)))
        self.producer[out] = self.g.ops[-1]
        if not keep:  # [C, 1, 1] -> [C]
            op = Op("RESHAPE", self.g.ops[-1].name, [out], self.g.add_tensor((c,), node.name))
            self.g.ops.append(op)
            out = op.output
        self.env[node.name] = out

    def _add(self, node: torch.fx.Node) -> None:
        if _arg(node, 2, "alpha", 1) != 1:
            raise LinRepError(f"unsupported operation: add with alpha at {_module_path(node)}")
        a, b = self.tensor_in(node.args[0], node), self.tensor_in(node.args[1], node)
        if self.g.tensors[a].shape != self.g.tensors[b].shape:
            raise LinRepError(f"unsupported operation: broadcasting add at {_module_path(node)}")
        self.emit(node, "ADD", [a, b])

    def _cat(self, node: torch.fx.Node) -> None:
        ins = [self.tensor_in(t, node) for t in node.args[0]]
        dim = int(_arg(node, 1, "dim", 0))
        rank = len(self.g.tensors[ins[0]].shape) + 1
        if rank != 4 or dim % 4 != 1:
            raise LinRepError(f"unsupported operation: cat along dim {dim} at {_module_path(node)} (only channels)")
        self.emit(node, "CONCAT", ins)

    def _linear(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        if len(self.g.tensors[x].shape) != 1:
            raise LinRepError(f"linear at {_module_path(node)}: input must be flat [N, F]")
        w = self.param(node.args[1])
        b = _arg(node, 2, "bias", None)
        self.emit(node, "LINEAR", [x], weight=self.g.add_constant(w.numpy()), out_channels=int(w.shape[0]),
                  bias=self.g.add_constant(self.param(b).numpy()) if b is not None else -1,
                  name=self._param_module(node.args[1]) or _module_path(node))

    def _param_module(self, pnode: torch.fx.Node) -> str:
        module = self.targets.get(pnode.name, "").rpartition(".")[0]
        return self.names.get(module, module)

    def _softmax(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        dim = int(node.args[1])
        if len(self.g.tensors[x].shape) != 1 or dim % 2 != 1:
            raise LinRepError(f"unsupported operation: softmax over dim {dim} at {_module_path(node)} (only [N, F] over F)")
        self.emit(node, "SOFTMAX", [x])


def capture(model: nn.Module, example: torch.Tensor, codebook_dtype: str | None = None) -> Graph:
    """Export `model` (eval mode) on `example` (batch 1) and return its graph IR with BN folded.

    Codebooks keep the storage dtype they were made with unless `codebook_dtype` overrides it.
    """
    if example.dim() < 2 or example.shape[0] != 1:
        raise LinRepError(f"example input must have batch size 1, got shape {tuple(example.shape)}")
    model = model.eval()
    linrep = {n: m for n, m in model.named_modules() if isinstance(m, LinRepConv2d)}
    plain = materialize(model).eval()
    import logging

    quiet = [logging.getLogger(n) for n in ("torch._subclasses.fake_tensor", "torch.export", "torch._dynamo")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.CRITICAL)  # torch logs tracebacks before raising; the one line below says it
    try:
        ep = torch.export.export(plain, (example,))
    except Exception as exc:  # the exporter's own first line is the useful part
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LinRepError(f"torch.export failed on input shape {tuple(example.shape)}: {msg}") from None
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    return _finish(_Capture(ep, linrep, dict(getattr(model, "layer_names", {}) or {}), codebook_dtype).run())


def capture_program(ep: torch.export.ExportedProgram) -> Graph:
    """The graph IR of an already exported program (no LinRep layers in it)."""
    return _finish(_Capture(ep, {}, {}, "fp16").run())


def _finish(g: Graph) -> Graph:
    if g.input < 0 or g.output < 0:
        raise LinRepError("model has no tensor input or no output")
    if g.output == g.input:
        raise LinRepError("model output is its input: nothing to run")
    return fuse_activations(g)
