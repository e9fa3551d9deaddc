"""Graph capture: a torch model + example input → the flat op list the C runtime executes.

The model is exported with `torch.export` (LinRep layers are first materialised as plain convs so that
the exporter sees ordinary `aten.conv2d`; their weights are then taken from the LinRep representation,
not from the materialised tensor). Batch-norm in eval mode that directly follows a conv is folded into
it exactly: for a scale s = γ/√(σ² + ε) per output channel, W' = s·W (for LinRep layers a' = s·a and
b' = s·b; with integer a/b the integers stay and s multiplies the per-channel scales) and bias' = s·(bias − μ) + β. Any operation outside the supported list raises LinRepError
naming the op and the module path it comes from; every unsupported operation of a model is reported in
one error (`check` lists them without raising), not only the first.

Beyond convs, the op set is what networks deployed on microcontrollers use, written the usual ways (in-place or not):
ReLU/ReLU6/hardtanh/clamp, LeakyReLU (RReLU in eval mode), PReLU, Sigmoid, Tanh, SiLU, Hardsigmoid, Hardswish (the
last three also written by hand: `x * sigmoid(x)`, `relu6(x + 3) / 6`, `x * relu6(x + 3) / 6`, graph/fuse.py); GELU,
ELU, SELU, CELU, Softplus, Mish, LogSigmoid and threshold (one UNARY op each, format version 7); max/avg pooling
(ceil_mode too), global and adaptive pooling, `mean` and `amax` over H, W; add/mul with channel broadcast
(squeeze-and-excitation) and by scalars, `x - y` (SUB, format version 7), `neg`, `number - x`; nearest/bilinear
upsampling; padding (constant, reflect, replicate; zero pads before a conv fold into it, graph/fuse.py); channel
`cat`, slicing, `split`, `chunk` and `tensor_split`; the channel shuffle (a view to [N, g, C/g, H, W], its two group
axes swapped, a reshape back: CHANNEL_SHUFFLE); NCHW→NHWC `permute` feeding a flatten; softmax over features or over
channels; batch norm after a conv (folded) or alone (a per-channel affine op); transposed convolution (LinRep weights
when the module is a `LinRepConvTranspose2d`); 1-D convolution and pooling as 2-D ones with H = 1 ([C, L] activations
are [C, 1, L]).
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.graph.fuse import fold_depth_orders, fold_zero_pads, fuse_activations, fuse_written_activations
from linrep_edge.format.fb.Unary import Unary
from linrep_edge.format.ir import SELU_ALPHA, SELU_SCALE, Graph, LinRepWeights, Op, operand_form
from linrep_edge.method.linrep_conv import LinRepConv2d, materialize

aten = torch.ops.aten

ALIAS_OPS = {aten.dropout.default, aten.clone.default, aten.alias.default, aten.detach.default,
             aten.contiguous.default, aten.feature_dropout.default, aten.alpha_dropout.default,
             aten.lift_fresh_copy.default}
RESHAPE_OPS = {aten.flatten.using_ints, aten.view.default, aten.reshape.default, aten._unsafe_view.default,
               aten.squeeze.dim, aten.squeeze.dims, aten.unsqueeze.default, aten.squeeze.default}
ELEMENTWISE = {aten.relu.default: "RELU", aten.relu_.default: "RELU", aten.relu6.default: "RELU6",
               aten.sigmoid.default: "SIGMOID", aten.sigmoid_.default: "SIGMOID",
               aten.hardswish.default: "HARDSWISH", aten.hardswish_.default: "HARDSWISH",
               aten.tanh.default: "TANH", aten.tanh_.default: "TANH",
               aten.silu.default: "SILU", aten.silu_.default: "SILU",
               aten.hardsigmoid.default: "HARDSIGMOID", aten.hardsigmoid_.default: "HARDSIGMOID"}
INF = float("inf")
UNARY_OPS = {aten.gelu.default: "GELU", aten.gelu_.default: "GELU", aten.elu.default: "ELU", aten.elu_.default: "ELU",
             aten.selu.default: "SELU", aten.selu_.default: "SELU", aten.celu.default: "CELU",
             aten.celu_.default: "CELU", aten.softplus.default: "SOFTPLUS", aten.mish.default: "MISH",
             aten.mish_.default: "MISH", aten.log_sigmoid.default: "LOG_SIGMOID",
             aten.threshold.default: "THRESHOLD", aten.threshold_.default: "THRESHOLD",
             aten.hardshrink.default: "HARDSHRINK", aten.softshrink.default: "SOFTSHRINK"}
BORDER_PADS = {aten.reflection_pad2d.default: "reflect", aten.reflection_pad1d.default: "reflect",
               aten.replication_pad2d.default: "replicate", aten.replication_pad1d.default: "replicate"}
# What to write instead, for operations users reach for that have no op of their own (the refusal names it)
NORM_HINT = "normalising over each sample is not supported; BatchNorm2d is, folded into the conv before it"
HINTS = {"erf": "a GELU written by hand? F.gelu(x) or nn.GELU() is one op",
         "layer_norm": NORM_HINT, "group_norm": NORM_HINT, "instance_norm": NORM_HINT,
         "stack": "torch.cat along the channels is supported",
         "abs": "F.relu(x) + F.relu(-x) is supported"}
SHUFFLE_PATTERN = ("5-D activations are supported only as a channel shuffle: view / unflatten to (N, g, C/g, H, W), "
                   "transpose(1, 2) or permute(0, 2, 1, 3, 4), then reshape / flatten back to (N, C, H, W)")


class _Pending:
    """A value that is not an activation tensor of its own: an NCHW→NHWC permute waiting for the flatten
    it must feed, the pieces of a channel split waiting for their getitem, or a channel shuffle on its way
    (`groups`: [C, H, W] viewed as [g, C/g, H, W], pieces [(g, C/g)]; `shuffle`: its two group axes
    swapped, waiting for the reshape back to [C, H, W])."""

    def __init__(self, kind: str, src: int, node: torch.fx.Node, pieces: list[tuple[int, int]] | None = None):
        self.kind, self.src, self.node, self.pieces = kind, src, node, pieces or []


def _module_path(node: torch.fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "<top level>"
    path, cls = list(stack.values())[-1]
    cls_name = getattr(cls, "__name__", None) or str(cls).rpartition(".")[2]
    return f"{path or '<top level>'} ({cls_name})"


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    """The activation's shape without the batch: [F], [C, H, W], or [C, L] of 1-D models as [C, 1, L]."""
    val = node.meta.get("val")
    if isinstance(val, (tuple, list)) and val and isinstance(val[0], torch.Tensor):
        val = val[0]  # (values, indices) of a *_with_indices op: the values are the activation
    if not isinstance(val, torch.Tensor):
        raise LinRepError(f"cannot infer the shape of {node.target} at {_module_path(node)}")
    if val.dim() < 1 or val.shape[0] != 1:
        raise LinRepError(f"{node.target} at {_module_path(node)}: batch dimension must be 1, shape {tuple(val.shape)}")
    shape = tuple(int(s) for s in val.shape[1:])
    if len(shape) == 2:
        return shape[0], 1, shape[1]
    if len(shape) > 3:
        raise LinRepError(f"{node.target} at {_module_path(node)}: {len(shape) + 1}-D tensors are not supported "
                          "(activations are [N, F], [N, C, L] or [N, C, H, W])")
    return shape


def _rank(node: torch.fx.Node) -> int:
    """torch's rank of an activation (with the batch dimension)."""
    val = node.meta.get("val")
    return int(val.dim()) if isinstance(val, torch.Tensor) else 0


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
        self.pending: dict[str, _Pending] = {}
        self.failed: set[str] = set()
        self.problems: list[str] = []
        self.producer: dict[int, Op] = {}
        self.codebook_ids: dict[int, int] = {}
        self.plane_of: dict[int, int] = {}  # [C, H, W] tensor -> its [1, C, H * W] reading (channel pooling)

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
        if isinstance(arg, torch.fx.Node) and arg.name in self.failed:
            raise _AlreadyReported()
        if isinstance(arg, torch.fx.Node) and arg.name in self.pending:
            p = self.pending[arg.name]
            if p.kind == "permute":
                raise LinRepError(f"unsupported operation: permute at {_module_path(p.node)} feeds "
                                  f"{getattr(node.target, '__name__', node.target)}; a permute is supported where "
                                  "it turns NCHW into NHWC right before a flatten")
            if p.kind in ("groups", "shuffle"):
                raise LinRepError(f"unsupported operation: 5-D view at {_module_path(p.node)} feeds "
                                  f"{getattr(node.target, '__name__', node.target)}; {SHUFFLE_PATTERN}")
            raise LinRepError(f"unsupported use of split at {_module_path(p.node)}")
        if not isinstance(arg, torch.fx.Node) or arg.name not in self.env:
            raise LinRepError(f"{node.target} at {_module_path(node)}: input {arg} is not an activation "
                              "(constant or parameter operands are not supported)")
        return self.env[arg.name]

    def _linrep_weights(self, m: LinRepConv2d) -> LinRepWeights:
        """The LinRep weights of module `m` (its codebook added to the graph once)."""
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
        return lr

    # -- ops -----------------------------------------------------------------------------------------
    def conv(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        wnode = node.args[1]
        weight = self.param(wnode)
        if weight.dim() == 3:  # conv1d: [Cout, Cin/g, k] on [C, 1, L]
            weight = weight[:, :, None, :]
            node.args = (node.args[0], node.args[1], *[_1d(a, i) for i, a in enumerate(node.args[2:], 2)])
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
            self.emit(node, "LINREP_CONV2D", [x], name=name, linrep=self._linrep_weights(self.linrep[module]), **common)
        else:
            w = self.g.add_constant(weight.numpy())
            self.emit(node, "CONV2D", [x], name=name or _module_path(node).split(" (")[0], weight=w, **common)

    def batch_norm(self, node: torch.fx.Node, args: list[Any]) -> None:
        x_node, gamma, beta, mean, var, eps = args
        src = self.tensor_in(x_node, node)
        op = self.producer.get(src)
        mu, v = self.param(mean), self.param(var)
        g = self.param(gamma) if gamma is not None else torch.ones_like(mu)
        bt = self.param(beta) if beta is not None else torch.zeros_like(mu)
        s = g / torch.sqrt(v + float(eps))
        if (op is None or op.type not in ("CONV2D", "LINREP_CONV2D") or len(x_node.users) != 1
                or op.activation != "NONE"):  # not foldable: a per-channel affine op of its own
            self.emit(node, "AFFINE", [src], weight=self.g.add_constant(s.numpy()),
                      bias=self.g.add_constant((bt - s * mu).numpy()), name=_module_path(node).split(" (")[0])
            return
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
        if isinstance(src, torch.fx.Node) and src.name in self.pending:  # e.g. .contiguous() after a permute
            self.pending[node.name] = self.pending[src.name]
            return
        if isinstance(src, torch.fx.Node) and src.name in self.values:  # a constant (lift_fresh_copy of an index)
            self.values[node.name] = self.values[src.name]
            return
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
                outs = [o for o in _flatten_outputs(node.args[0])]
                try:
                    results = [self.tensor_in(o, node) for o in outs]
                except _AlreadyReported:
                    continue
                except LinRepError as exc:
                    self.problems.append(str(exc))
                    continue
                self.g.output = results[0]
                self.g.outputs = results if len(results) > 1 else []
            elif node.op == "call_function":
                fn = handlers.get(node.target)
                try:
                    if fn is None:
                        name = getattr(node.target, "__name__", str(node.target))
                        hint = HINTS.get(name.split(".")[0])
                        raise LinRepError(f"unsupported operation: {name} at {_module_path(node)}"
                                          + (f" ({hint})" if hint else ""))
                    fn(node)
                except _AlreadyReported:
                    self.failed.add(node.name)
                except LinRepError as exc:
                    self.problems.append(str(exc))
                    self.failed.add(node.name)
            else:
                self.problems.append(f"unsupported graph node {node.op} {node.target}")
        for name, p in self.pending.items():
            if p.kind == "permute" and not any(u.name in self.env or u.name in self.failed or u.name in self.pending
                                               for u in p.node.users):
                self.problems.append(f"unsupported operation: permute at {_module_path(p.node)} (a permute is "
                                     "supported where it turns NCHW into NHWC right before a flatten)")
        if self.problems:
            raise CaptureError(self.problems)
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
        for t in (aten.hardtanh.default, aten.hardtanh_.default):
            h[t] = lambda n: self._clamp(n, float(_arg(n, 1, "min_val", -1.0)), float(_arg(n, 2, "max_val", 1.0)))
        for t in (aten.clamp.default, aten.clamp_.default):
            h[t] = lambda n: self._clamp(n, _bound(_arg(n, 1, "min", None), -INF), _bound(_arg(n, 2, "max", None), INF))
        for t in (aten.clamp_min.default, aten.clamp_min_.default):
            h[t] = lambda n: self._clamp(n, float(n.args[1]), INF)
        for t in (aten.clamp_max.default, aten.clamp_max_.default):
            h[t] = lambda n: self._clamp(n, -INF, float(n.args[1]))
        for t in (aten.leaky_relu.default, aten.leaky_relu_.default):
            h[t] = lambda n: self.emit(n, "LEAKY_RELU", [self.tensor_in(n.args[0], n)],
                                       alpha=float(_arg(n, 1, "negative_slope", 0.01)))
        for t, kind in UNARY_OPS.items():
            h[t] = lambda n, kind=kind: self._unary(n, kind)
        h[aten.rrelu.default] = lambda n: self.emit(  # eval mode: the mean slope
            n, "LEAKY_RELU", [self.tensor_in(n.args[0], n)],
            alpha=(float(_arg(n, 1, "lower", 1 / 8)) + float(_arg(n, 2, "upper", 1 / 3))) / 2)
        h[aten.prelu.default] = self._prelu
        h[aten._prelu_kernel.default] = self._prelu
        h[aten.max_pool2d.default] = self._max_pool
        h[aten.max_pool2d_with_indices.default] = self._max_pool
        h[aten.max_pool1d.default] = lambda n: self._max_pool(_as_2d_pool(n))
        h[aten.avg_pool2d.default] = self._avg_pool
        h[aten.avg_pool1d.default] = lambda n: self._avg_pool(_as_2d_pool(n))
        h[aten.adaptive_avg_pool2d.default] = self._adaptive
        h[aten._adaptive_avg_pool2d.default] = self._adaptive
        h[aten.adaptive_avg_pool1d.default] = self._adaptive
        h[aten.mean.dim] = self._mean
        h[aten.amax.default] = lambda n: self._reduce_hw(n, "amax")
        h[aten.max.dim] = lambda n: self._reduce_hw(n, "max")
        for t in (aten.adaptive_max_pool2d.default, aten.adaptive_max_pool1d.default):
            h[t] = self._adaptive_max
        h[aten.pow.Tensor_Scalar] = self._pow
        h[aten.neg.default] = lambda n: self._scalar_affine(n, self.tensor_in(n.args[0], n), -1.0, 0.0)
        h[aten.rsub.Scalar] = lambda n: self._scalar_affine(n, self.tensor_in(n.args[0], n),
                                                            -float(_arg(n, 2, "alpha", 1)), float(n.args[1]))
        for t in (aten.add.Tensor, aten.add_.Tensor):
            h[t] = self._add
        for t in (aten.mul.Tensor, aten.mul_.Tensor):
            h[t] = self._mul
        for t in (aten.div.Tensor, aten.div_.Tensor):
            h[t] = self._div
        h[aten.sub.Tensor] = self._sub
        h[aten.cat.default] = self._cat
        h[aten.linear.default] = self._linear
        h[aten.softmax.int] = self._softmax
        h[aten._softmax.default] = self._softmax
        h[aten.conv1d.default] = self.conv
        h[aten.conv1d.padding] = self.conv
        h[aten.conv_transpose2d.input] = self._conv_transpose
        for t in (aten.upsample_nearest2d.vec, aten.upsample_nearest2d.default):
            h[t] = lambda n: self._resize(n, 0)
        for t in (aten.upsample_bilinear2d.vec, aten.upsample_bilinear2d.default):
            h[t] = lambda n: self._resize(n, 2 if bool(_arg(n, 2, "align_corners", False)) else 1)
        h[aten.constant_pad_nd.default] = self._pad
        h[aten.pad.default] = self._pad
        for t in BORDER_PADS:
            h[t] = self._pad
        h[aten.pixel_shuffle.default] = lambda n: self.emit(n, "PIXEL_SHUFFLE", [self.tensor_in(n.args[0], n)], mode=0,
                                                            stride=(int(n.args[1]),) * 2)
        h[aten.pixel_unshuffle.default] = lambda n: self.emit(n, "PIXEL_SHUFFLE", [self.tensor_in(n.args[0], n)],
                                                              mode=1, stride=(int(n.args[1]),) * 2)
        for t in (aten.flip.default, aten.index_select.default, aten.index.Tensor):
            h[t] = self._gather
        h[aten.permute.default] = self._permute
        h[aten.slice.Tensor] = self._slice
        h[aten.narrow.default] = self._narrow
        for t in (aten.split.Tensor, aten.split_with_sizes.default):
            h[t] = self._split
        h[aten.chunk.default] = lambda n: self._split(n, "chunk")
        h[aten.transpose.int] = self._transpose
        h[aten.unflatten.int] = self._reshape
        for t in (aten.tensor_split.sections, aten.tensor_split.indices):
            h[t] = lambda n: self._split(n, "tensor_split")
        return h

    def _getitem(self, node: torch.fx.Node) -> None:
        src, i = node.args
        if isinstance(src, torch.fx.Node) and src.name in self.failed:
            raise _AlreadyReported()
        if isinstance(src, torch.fx.Node) and src.name in self.pending and self.pending[src.name].kind == "split":
            p = self.pending[src.name]
            start, size = p.pieces[int(i)]
            self._emit_slice(node, p.src, start, size)
            return
        if i != 0:
            if len(node.users) == 0:
                return
            raise LinRepError(f"unsupported use of output {i} of {getattr(src, 'target', src)} at {_module_path(node)}")
        self.env[node.name] = self.tensor_in(src, node)

    def _reshape(self, node: torch.fx.Node) -> None:
        arg = node.args[0]
        if isinstance(arg, torch.fx.Node) and arg.name in self.pending and \
                self.pending[arg.name].kind in ("groups", "shuffle"):
            self._shuffle_back(node, self.pending[arg.name])
            return
        if _rank(node) == 5:
            self._group_channels(node, self.tensor_in(arg, node))
            return
        if isinstance(arg, torch.fx.Node) and arg.name in self.pending and self.pending[arg.name].kind == "permute":
            p = self.pending[arg.name]
            if len(_shape(node)) != 1:
                raise LinRepError(f"unsupported operation: permute at {_module_path(p.node)} followed by a reshape to "
                                  f"{list(_shape(node))} (a permute is supported right before a flatten)")
            self.emit(node, "TRANSPOSE_HWC", [p.src])
            return
        x = self.tensor_in(arg, node)
        if self.g.tensors[x].shape == _shape(node):
            self.env[node.name] = x
        else:
            self.emit(node, "RESHAPE", [x])

    def _clamp(self, node: torch.fx.Node, lo: float, hi: float) -> None:
        """hardtanh / clamp: ReLU6 and ReLU where the bounds say so (fusable into the op before)."""
        x = self.tensor_in(node.args[0], node)
        if (lo, hi) == (0.0, 6.0):
            self.emit(node, "RELU6", [x])
        elif (lo, hi) == (0.0, INF):
            self.emit(node, "RELU", [x])
        else:
            self.emit(node, "CLAMP", [x], alpha=lo, beta=hi)

    def _unary(self, node: torch.fx.Node, kind: str) -> None:
        """GELU (exact or tanh), ELU / SELU, CELU, Softplus, Mish, LogSigmoid, threshold: one UNARY op (version 7)
        with the function in `mode` and its parameters in alpha, beta (the schema's `Unary`)."""
        x = self.tensor_in(node.args[0], node)
        where = _module_path(node)
        if kind == "GELU":
            approx = str(_arg(node, 1, "approximate", "none"))
            if approx not in ("none", "tanh"):
                raise LinRepError(f"unsupported operation: gelu with approximate={approx!r} at {where}")
            fn, alpha, beta = ("GELU_TANH" if approx == "tanh" else "GELU"), 0.0, 0.0
        elif kind == "ELU":
            alpha, beta = float(_arg(node, 1, "alpha", 1.0)), float(_arg(node, 2, "scale", 1.0))
            if float(_arg(node, 3, "input_scale", 1.0)) != 1.0:
                raise LinRepError(f"unsupported operation: elu with input_scale != 1 at {where}")
            fn = "ELU"
        elif kind == "SELU":
            fn, alpha, beta = "ELU", SELU_ALPHA, SELU_SCALE
        elif kind == "CELU":
            fn, alpha, beta = "CELU", float(_arg(node, 1, "alpha", 1.0)), 0.0
            if alpha == 0.0:
                raise LinRepError(f"unsupported operation: celu with alpha 0 at {where}")
        elif kind == "SOFTPLUS":
            fn, alpha, beta = "SOFTPLUS", float(_arg(node, 1, "beta", 1.0)), float(_arg(node, 2, "threshold", 20.0))
            if not 0.0 < alpha < INF:
                raise LinRepError(f"unsupported operation: softplus with beta {alpha} at {where} (only beta > 0)")
        elif kind == "THRESHOLD":
            fn, alpha, beta = "THRESHOLD", float(node.args[1]), float(node.args[2])
        elif kind in ("HARDSHRINK", "SOFTSHRINK"):  # format version 8
            fn, alpha, beta = kind, float(_arg(node, 1, "lambd", 0.5)), 0.0
        else:  # MISH, LOG_SIGMOID
            fn, alpha, beta = kind, 0.0, 0.0
        self.emit(node, "UNARY", [x], mode=int(getattr(Unary, fn)), alpha=alpha, beta=beta)

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

    def _ceil_pads(self, node: torch.fx.Node, x: int, kw: dict[str, Any], dilation: tuple[int, int]) -> bool:
        """ceil_mode: grow the bottom/right padding until the output has torch's size (the extra windows
        read padding, -inf for max pooling). True if any padding was added."""
        ih, iw = self.g.tensors[x].shape[1:]
        oh, ow = _shape(node)[1:]
        top, left, bottom, right = kw["pads"]
        need_b = (oh - 1) * kw["stride"][0] + dilation[0] * (kw["kernel"][0] - 1) + 1 - ih - top
        need_r = (ow - 1) * kw["stride"][1] + dilation[1] * (kw["kernel"][1] - 1) + 1 - iw - left
        kw["pads"] = (top, left, max(bottom, need_b), max(right, need_r))
        return kw["pads"] != (top, left, bottom, right)

    def _max_pool(self, node: torch.fx.Node) -> None:
        kw = self._pool_common(node, 3)
        dilation = _pair(_arg(node, 4, "dilation", 1), 1)
        x = self.tensor_in(node.args[0], node)
        if _arg(node, 5, "ceil_mode", False):
            self._ceil_pads(node, x, kw, dilation)
        self.emit(node, "MAX_POOL2D", [x], dilation=dilation, **kw)

    def _avg_pool(self, node: torch.fx.Node) -> None:
        kw = self._pool_common(node, 3)
        x = self.tensor_in(node.args[0], node)
        include_pad = bool(_arg(node, 5, "count_include_pad", True))
        if _arg(node, 6, "divisor_override", None) is not None:
            raise LinRepError(f"unsupported operation: avg_pool2d with divisor_override at {_module_path(node)}")
        if _arg(node, 4, "ceil_mode", False) and self._ceil_pads(node, x, kw, (1, 1)):
            if include_pad and kw["pads"][:2] != (0, 0):
                raise LinRepError(f"unsupported operation: avg_pool2d with ceil_mode=True, padding and "
                                  f"count_include_pad=True at {_module_path(node)} (torch divides the last windows by "
                                  "a size without the overhang): set count_include_pad=False or ceil_mode=False")
            include_pad = False  # no real padding: the overhang must not count, exactly as torch
        self.emit(node, "AVG_POOL2D", [x], count_include_pad=include_pad, **kw)

    def _adaptive(self, node: torch.fx.Node) -> None:
        out = node.args[1]
        oh, ow = (1, int(out[0])) if _rank(node) == 3 else _pair(out, 1)
        self.emit(node, "ADAPTIVE_AVG_POOL2D", [self.tensor_in(node.args[0], node)], kernel=(oh, ow))

    def _mean(self, node: torch.fx.Node) -> None:
        self._reduce_hw(node, "mean")

    def _reduce_hw(self, node: torch.fx.Node, how: str) -> None:
        """`mean` / `amax` over H, W of [N, C, H, W] (over L of a 1-D model's [N, C, L]): a global average or max
        pool, then [C, 1, 1] -> [C] unless keepdim."""
        x = self.tensor_in(node.args[0], node)
        rank = _rank(node.args[0]) if isinstance(node.args[0], torch.fx.Node) else 0
        asked = _arg(node, 1, "dim", []) or []
        asked = [asked] if isinstance(asked, int) else list(asked)
        dims = sorted(int(d) % max(rank, 1) for d in asked)
        keep = bool(_arg(node, 2, "keepdim", False))
        if len(self.g.tensors[x].shape) == 3 and rank in (3, 4) and dims == [1]:
            self._reduce_channels(node, x, how, keep)
            return
        if len(self.g.tensors[x].shape) != 3 or dims != ([2, 3] if rank == 4 else [2]):
            raise LinRepError(f"unsupported operation: {how} over dims {asked} at {_module_path(node)} (only over "
                              "H, W of an NCHW tensor, L of an NCL one, or the channels)")
        c, h, w = self.g.tensors[x].shape
        out = self.g.add_tensor((c, 1, 1), node.name + "_pool")
        if how == "mean":
            self.g.ops.append(Op("ADAPTIVE_AVG_POOL2D", _module_path(node).split(" (")[0], [x], out, kernel=(1, 1)))
        else:
            self.g.ops.append(Op("MAX_POOL2D", _module_path(node).split(" (")[0], [x], out, kernel=(h, w),
                                 stride=(h, w)))
        self.producer[out] = self.g.ops[-1]
        if not keep:  # [C, 1, 1] -> [C]
            op = Op("RESHAPE", self.g.ops[-1].name, [out], self.g.add_tensor((c,), node.name))
            self.g.ops.append(op)
            out = op.output
        self.env[node.name] = out

    def _reduce_channels(self, node: torch.fx.Node, x: int, how: str, keep: bool) -> None:
        """`mean` / `amax` / `max` over the channels of [C, H, W] (CBAM's channel pooling) to [1, H, W], as ops the
        runtime has: [C, H, W] read as one [1, C, H * W] plane (the same bytes), pooled by a C x 1 window (average or
        max, as pooling computes it in fp32 and int8), read back as [1, H, W]. Without keepdim torch's [N, H, W]
        must only be reshaped (unsqueeze(1), view, flatten): it is held as [1, H, W]."""
        c, h, w = self.g.tensors[x].shape
        where = _module_path(node)
        if not keep:
            users = [u for n in [node] + [g for g in node.users if g.target is operator.getitem and g.args[1] == 0]
                     for u in n.users if u.target is not operator.getitem]
            odd = [u for u in users if u.target not in RESHAPE_OPS]
            if odd:
                raise LinRepError(f"unsupported operation: {how} over the channels without keepdim at {where}, read "
                                  f"by {odd[0].target} (use keepdim=True, or unsqueeze(1) right after it)")
        if h * w > 0xFFFF or c > 0x7FFF:
            raise LinRepError(f"unsupported operation: {how} over the channels of a {c}x{h}x{w} tensor at {where} "
                              "(at most 32767 channels of at most 65535 pixels)")
        name = where.split(" (")[0]
        if c == 1:
            self.env[node.name] = x
            return
        rows = self.plane_of.get(x, -1)  # CBAM pools the same map twice (mean and max): one plane for both
        if rows < 0:
            rows = self.plane_of[x] = self._append(Op("RESHAPE", name, [x], self.g.add_tensor((1, c, h * w))))
        kind = "AVG_POOL2D" if how == "mean" else "MAX_POOL2D"
        out = self._append(Op(kind, name, [rows], self.g.add_tensor((1, 1, h * w)), kernel=(c, 1), stride=(c, 1)))
        if h != 1:
            out = self._append(Op("RESHAPE", name, [out], self.g.add_tensor((1, h, w), node.name)))
        self.env[node.name] = out

    def _append(self, op: Op) -> int:
        """Appends an op that no torch node names (a step of a lowering) and returns its output tensor."""
        self.g.ops.append(op)
        self.producer[op.output] = op
        return op.output

    def _adaptive_max(self, node: torch.fx.Node) -> None:
        """adaptive_max_pool2d / 1d to an output size that divides the input: MAX_POOL2D with window = stride
        (global max pooling at output 1). Its indices are not an activation (nothing may read them)."""
        x = self.tensor_in(node.args[0], node)
        c, h, w = self.g.tensors[x].shape
        out = node.args[1]
        oh, ow = (1, int(out[0])) if len(_arg(node, 1, "output_size", out)) == 1 else _pair(out, 1)
        if oh < 1 or ow < 1 or h % oh or w % ow:
            raise LinRepError(f"unsupported operation: adaptive max pool from {h}x{w} to {oh}x{ow} at "
                              f"{_module_path(node)} (only output sizes that divide the input)")
        k = (h // oh, w // ow)
        t = self.g.add_tensor((c, oh, ow), node.name)
        self.g.ops.append(Op("MAX_POOL2D", _module_path(node).split(" (")[0], [x], t, kernel=k, stride=k))
        self.producer[t] = self.g.ops[-1]
        self.env[node.name] = t

    def _channel_broadcast(self, node: torch.fx.Node, a: int, b: int, kind: str = "ADD") -> tuple[int, int]:
        """(full, other) for two activations of the same shape, one [C, H, W] and one [C, 1, 1] / [C], or (MUL)
        one [C, H, W] and one [1, H, W] (`operand_form`)."""
        sa, sb = self.g.tensors[a].shape, self.g.tensors[b].shape
        for full, other in ((a, b), (b, a)):
            if operand_form(self.g.tensors[full].shape, self.g.tensors[other].shape, kind) is not None:
                return full, other
        raise LinRepError(f"unsupported operation: {getattr(node.target, '__name__', node.target)} of shapes "
                          f"{list(sa)} and {list(sb)} at {_module_path(node)} (same shapes, or a per-channel "
                          "[C, 1, 1] operand of a [C, H, W] one" + (", or a per-pixel [1, H, W] one)" if kind == "MUL"
                                                                     else ")"))

    def _scalar_affine(self, node: torch.fx.Node, x: int, scale: float, shift: float) -> None:
        """x * scale + shift as a per-channel affine op."""
        c = self.g.tensors[x].shape[0]
        self.emit(node, "AFFINE", [x], weight=self.g.add_constant(np.full(c, scale, np.float64)),
                  bias=self.g.add_constant(np.full(c, shift, np.float64)))

    def _binary(self, node: torch.fx.Node, kind: str) -> None:
        a, b = node.args[0], node.args[1]
        if isinstance(a, (int, float)) and isinstance(b, torch.fx.Node):
            a, b = b, a
        x = self.tensor_in(a, node)
        if isinstance(b, (int, float)):
            if kind == "ADD":
                self._scalar_affine(node, x, 1.0, float(b))
            else:
                self._scalar_affine(node, x, float(b), 0.0)
            return
        if isinstance(b, torch.fx.Node) and b.name in self.values and self.values[b.name].numel() == 1:
            v = float(self.values[b.name])
            self._scalar_affine(node, x, 1.0 if kind == "ADD" else v, v if kind == "ADD" else 0.0)
            return
        full, other = self._channel_broadcast(node, x, self.tensor_in(b, node), kind)
        self.emit(node, kind, [full, other])

    def _add(self, node: torch.fx.Node) -> None:
        if _arg(node, 2, "alpha", 1) != 1:
            raise LinRepError(f"unsupported operation: add with alpha at {_module_path(node)}")
        self._binary(node, "ADD")

    def _mul(self, node: torch.fx.Node) -> None:
        self._binary(node, "MUL")

    def _pow(self, node: torch.fx.Node) -> None:
        """x ** 2 as x * x (x ** 1: x itself); other exponents are refused."""
        x, e = self.tensor_in(node.args[0], node), node.args[1]
        if e == 1:
            self.env[node.name] = x
        elif e == 2:
            self.emit(node, "MUL", [x, x])
        else:
            raise LinRepError(f"unsupported operation: pow with exponent {e} at {_module_path(node)} (only 1 and 2"
                              + ("; GELU's tanh form written by hand? F.gelu(x, approximate='tanh') is one op)"
                                 if e == 3 else ")"))

    def _div(self, node: torch.fx.Node) -> None:
        if not isinstance(node.args[1], (int, float)) or node.args[1] == 0:
            raise LinRepError(f"unsupported operation: division by a tensor at {_module_path(node)} (only by a "
                              "non-zero number)")
        self._scalar_affine(node, self.tensor_in(node.args[0], node), 1.0 / float(node.args[1]), 0.0)

    def _sub(self, node: torch.fx.Node) -> None:
        a, b = node.args[0], node.args[1]
        alpha = float(_arg(node, 2, "alpha", 1))
        if isinstance(b, (int, float)):
            self._scalar_affine(node, self.tensor_in(a, node), 1.0, -alpha * float(b))
        elif isinstance(a, (int, float)) and alpha == 1:
            self._scalar_affine(node, self.tensor_in(b, node), -1.0, float(a))
        elif alpha != 1:
            raise LinRepError(f"unsupported operation: sub with alpha {alpha:g} of two tensors at {_module_path(node)} "
                              "(only x - y)")
        else:  # x - y: SUB (format version 7); a per-channel gate minus a feature map: -(map) + gate
            x, y = self.tensor_in(a, node), self.tensor_in(b, node)
            full, other = self._channel_broadcast(node, x, y)
            if full == x:
                self.emit(node, "SUB", [x, y])
            else:
                self._scalar_affine(node, full, -1.0, 0.0)
                self.emit(node, "ADD", [self.env[node.name], other])

    def _conv_transpose(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        weight = self.param(node.args[1])
        bias_node = _arg(node, 2, "bias", None)
        stride = _pair(_arg(node, 3, "stride", 1), 1)
        ph, pw = _pair(_arg(node, 4, "padding", 0), 0)
        groups = int(_arg(node, 6, "groups", 1))
        dilation = _pair(_arg(node, 7, "dilation", 1), 1)
        module = self.targets.get(node.args[1].name, "").rpartition(".")[0]  # type: ignore[union-attr]
        name = self.names.get(module, module) or _module_path(node).split(" (")[0]
        common = dict(kernel=(int(weight.shape[2]), int(weight.shape[3])), stride=stride, pads=(ph, pw, ph, pw),
                      dilation=dilation, groups=groups, out_channels=int(weight.shape[1]) * groups,
                      bias=self.g.add_constant(self.param(bias_node).numpy()) if bias_node is not None else -1)
        if module in self.linrep:  # LinRep kernels over (Cin, Cout/groups): the same op with LinRep weights
            self.emit(node, "CONV_TRANSPOSE2D", [x], name=name, linrep=self._linrep_weights(self.linrep[module]), **common)
        else:
            self.emit(node, "CONV_TRANSPOSE2D", [x], name=name, weight=self.g.add_constant(weight.numpy()), **common)

    def _resize(self, node: torch.fx.Node, mode: int) -> None:
        """Bilinear (mode 1, 2) or nearest: mode 0 for integer multiples, else mode 3 (format version 8: the source
        index min(floor(i · in / out), in − 1) in float32, torch's formula for `size=`) when torch's own indices
        for this call (a `scale_factor` makes it use 1 / scale_factor instead) are those."""
        x = self.tensor_in(node.args[0], node)
        _, ih, iw = self.g.tensors[x].shape
        oh, ow = _shape(node)[1:]
        if mode == 0 and (oh % ih or ow % iw):
            from linrep_edge.integer.ops_geo import nearest_sources

            probe = torch.arange(ih * iw, dtype=torch.float64).reshape(1, 1, ih, iw)
            scales = _arg(node, 2, "scale_factors", None) if node.target == aten.upsample_nearest2d.vec else \
                [_arg(node, 2, "scales_h", None), _arg(node, 3, "scales_w", None)]
            if scales is not None and all(s is not None for s in scales):
                got = torch.ops.aten.upsample_nearest2d(probe, [oh, ow], *[float(s) for s in scales])
            else:
                got = torch.ops.aten.upsample_nearest2d(probe, [oh, ow])
            want = nearest_sources(oh, ih)[:, None] * iw + nearest_sources(ow, iw)[None, :]
            if not np.array_equal(got[0, 0].numpy().astype(np.int64), want):
                raise LinRepError(f"unsupported operation: nearest upsampling from {ih}x{iw} to {oh}x{ow} by a scale "
                                  f"factor at {_module_path(node)} (torch picks other rows than for the size; pass "
                                  f"size=({oh}, {ow}) instead)")
            mode = 3
        self.emit(node, "RESIZE", [x], mode=mode)

    def _pad(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        pads = [int(p) for p in node.args[1]]
        mode = _arg(node, 2, "mode", "constant") if node.target == aten.pad.default else \
            BORDER_PADS.get(node.target, "constant")
        value = float(_arg(node, 3 if node.target == aten.pad.default else 2, "value", 0.0) or 0.0)
        pads += [0] * (4 - len(pads))
        shape = self.g.tensors[x].shape
        left, right, top, bottom = pads[:4]
        if mode not in ("constant", "reflect", "replicate") or len(pads) > 4 or min(pads) < 0 or len(shape) != 3 or \
                (mode == "reflect" and (max(top, bottom) >= shape[1] or max(left, right) >= shape[2])):
            raise LinRepError(f"unsupported operation: pad {pads} ({mode}) at {_module_path(node)} (only padding of H "
                              "and W, non-negative; constant, reflect (each pad below its axis' size) or replicate)")
        self.emit(node, "PAD", [x], pads=(top, left, bottom, right), alpha=value,
                  mode={"constant": 0, "reflect": 1, "replicate": 2}[mode])

    def _group_channels(self, node: torch.fx.Node, x: int) -> None:
        """A view of [C, H, W] as [g, C/g, H, W]: the first step of a channel shuffle."""
        val = node.meta.get("val")
        shape = tuple(int(d) for d in val.shape) if isinstance(val, torch.Tensor) else ()
        c, *hw = self.g.tensors[x].shape
        if len(shape) != 5 or shape[0] != 1 or len(hw) != 2 or list(shape[3:]) != hw or shape[1] * shape[2] != c:
            raise LinRepError(f"unsupported operation: view to {list(shape)} at {_module_path(node)}: "
                              f"{SHUFFLE_PATTERN}")
        self.pending[node.name] = _Pending("groups", x, node, [(shape[1], shape[2])])

    def _swap_groups(self, node: torch.fx.Node, dims: list[int]) -> bool:
        """transpose(1, 2) / permute(0, 2, 1, 3, 4) of grouped channels: the shuffle's second step."""
        src = node.args[0]
        p = self.pending.get(src.name) if isinstance(src, torch.fx.Node) else None
        if p is None or p.kind != "groups":
            return False
        if dims != [0, 2, 1, 3, 4]:
            raise LinRepError(f"unsupported operation: permute {dims} of a 5-D view at {_module_path(node)}: "
                              f"{SHUFFLE_PATTERN}")
        self.pending[node.name] = _Pending("shuffle", p.src, node, p.pieces)
        return True

    def _transpose(self, node: torch.fx.Node) -> None:
        a, b = (int(d) for d in node.args[1:3])
        dims = list(range(max(_rank(node), 1)))
        dims[a], dims[b] = dims[b], dims[a]
        if not self._swap_groups(node, dims):
            raise LinRepError(f"unsupported operation: transpose({a}, {b}) at {_module_path(node)} (a transpose is "
                              f"supported only inside a channel shuffle: {SHUFFLE_PATTERN})")

    def _shuffle_back(self, node: torch.fx.Node, p: _Pending) -> None:
        """The reshape that ends a channel shuffle (or undoes a grouping view without a transpose)."""
        if _rank(node) != 4 or _shape(node) != self.g.tensors[p.src].shape:
            raise LinRepError(f"unsupported operation: reshape of a 5-D view to {list(_shape(node))} at "
                              f"{_module_path(node)}: {SHUFFLE_PATTERN}")
        groups = p.pieces[0][0]
        if p.kind == "groups" or groups == 1 or p.pieces[0][1] == 1:  # no channel moves
            self.env[node.name] = p.src
            return
        self.emit(node, "CHANNEL_SHUFFLE", [p.src], groups=groups)

    def _permute(self, node: torch.fx.Node) -> None:
        if _rank(node) == 5 and self._swap_groups(node, [int(d) % 5 for d in node.args[1]]):
            return
        dims = [int(d) % 4 for d in node.args[1]]
        if dims != [0, 2, 3, 1] or _rank(node) != 4:
            raise LinRepError(f"unsupported operation: permute {list(node.args[1])} at {_module_path(node)} (only "
                              "NCHW -> NHWC, (0, 2, 3, 1), right before a flatten)")
        self.pending[node.name] = _Pending("permute", self.tensor_in(node.args[0], node), node)

    def _gather(self, node: torch.fx.Node) -> None:
        """Channels picked by a constant list (`x[:, [2, 1, 0]]`, `index_select(x, 1, idx)`, `x.flip(1)`: an RGB / BGR
        swap, a channel subset or reorder) as ops the runtime has: each run of consecutive channels one SLICE, the
        runs' CONCAT (a run covering every channel in order: nothing)."""
        x = self.tensor_in(node.args[0], node)
        where = _module_path(node)
        shape = self.g.tensors[x].shape
        if node.target == aten.flip.default:
            dims, index = [int(d) % max(_rank(node), 1) for d in node.args[1]], None
        elif node.target == aten.index_select.default:
            dims, index = [int(node.args[1]) % max(_rank(node), 1)], node.args[2]
        else:  # index.Tensor: x[:, idx] (None for the batch)
            picks = list(node.args[1])
            dims = [i for i, p in enumerate(picks) if p is not None]
            index = picks[dims[0]] if len(dims) == 1 else None
        if len(shape) != 3 or dims != [1] or (node.target != aten.flip.default and
                                              not (isinstance(index, torch.fx.Node) and index.name in self.values)):
            raise LinRepError(f"unsupported operation: {getattr(node.target, '__name__', node.target)} at {where} "
                              "(only channels of an NCHW tensor by a constant list, or flip(1))")
        c = shape[0]
        idx = list(range(c - 1, -1, -1)) if index is None else \
            [int(i) % c for i in self.values[index.name].reshape(-1).tolist()]
        runs: list[list[int]] = []
        for i in idx:
            if runs and runs[-1][0] + runs[-1][1] == i:
                runs[-1][1] += 1
            else:
                runs.append([i, 1])
        if len(runs) > 64:
            raise LinRepError(f"unsupported operation: a gather of {len(runs)} channel runs at {where} (at most 64; "
                              "permute the weights of the conv that reads it instead)")
        if runs == [[0, c]]:
            self.env[node.name] = x
            return
        if len(runs) == 1:
            self._emit_slice(node, x, runs[0][0], runs[0][1])
            return
        pieces = [self._append(Op("SLICE", where.split(" (")[0], [x], self.g.add_tensor((size, *shape[1:])),
                                  start=start, out_channels=size)) for start, size in runs]
        self.emit(node, "CONCAT", pieces)

    def _emit_slice(self, node: torch.fx.Node, x: int, start: int, size: int) -> None:
        self.emit(node, "SLICE", [x], start=int(start), out_channels=int(size))

    def _slice(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        dim = int(_arg(node, 1, "dim", 0))
        rank = _rank(node)
        start = _arg(node, 2, "start", None) or 0
        end = _arg(node, 3, "end", None)
        step = int(_arg(node, 4, "step", 1))
        n = self.g.tensors[x].shape[0]
        start = max(0, start + n if start < 0 else start)
        end = n if end is None else min(n, end + n if end < 0 else end)
        if dim % rank != 1 or step != 1:
            if start == 0 and end == n and step == 1:  # a full slice of another dim: no data changes
                self.env[node.name] = x
                return
            raise LinRepError(f"unsupported operation: slice of dim {dim} (step {step}) at {_module_path(node)} "
                              "(only channel slices with step 1)")
        if start == 0 and end == n:
            self.env[node.name] = x
            return
        self._emit_slice(node, x, start, end - start)

    def _narrow(self, node: torch.fx.Node) -> None:
        x = self.tensor_in(node.args[0], node)
        if int(node.args[1]) % _rank(node) != 1:
            raise LinRepError(f"unsupported operation: narrow of dim {node.args[1]} at {_module_path(node)}")
        self._emit_slice(node, x, int(node.args[2]), int(node.args[3]))

    def _split(self, node: torch.fx.Node, how: str = "split") -> None:
        """A channel split (`split`, `split_with_sizes`, `chunk`, `tensor_split` into sections): its pieces wait
        for the getitems that take them, each a channel slice."""
        x = self.tensor_in(node.args[0], node)
        dim = int(_arg(node, 2, "dim", 0))
        rank = len(self.g.tensors[x].shape) + 1
        if dim % rank != 1:
            raise LinRepError(f"unsupported operation: {how} along dim {dim} at {_module_path(node)} (only channels)")
        n = self.g.tensors[x].shape[0]
        size = node.args[1]
        if isinstance(size, (list, tuple)):
            if how == "tensor_split":  # split points, not sizes
                cuts = [min(max(int(c), 0), n) for c in size]
                sizes = [b - a for a, b in zip([0] + cuts, cuts + [n])]
            else:
                sizes = [int(s) for s in size]
        elif how == "tensor_split":  # k sections, the first n % k one channel larger (numpy's array_split)
            k = int(size)
            sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        else:
            step = -(-n // int(size)) if how == "chunk" else int(size)  # chunk: k pieces of ceil(n / k)
            sizes = [step] * -(-n // step)
            sizes[-1] = n - step * (len(sizes) - 1)
        starts = np.cumsum([0] + sizes[:-1]).tolist()
        self.pending[node.name] = _Pending("split", x, node, list(zip(starts, sizes)))

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
        dim = int(node.args[1]) % _rank(node)
        if dim != 1:
            raise LinRepError(f"unsupported operation: softmax over dim {node.args[1]} at {_module_path(node)} "
                              "(over the features of [N, F] or the channels of [N, C, H, W])")
        self.emit(node, "SOFTMAX", [x])


class CaptureError(LinRepError):
    """Every unsupported operation of a model, one line each (`problems`)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(dict.fromkeys(problems))
        head = self.problems[0] if len(self.problems) == 1 else (
            f"{len(self.problems)} problems:\n  " + "\n  ".join(self.problems))
        super().__init__(head)


class _AlreadyReported(Exception):
    """An operation whose input failed already: its own failure is not a new problem."""


def _flatten_outputs(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in _flatten_outputs(o)]
    return [out]


def _bound(v: Any, default: float) -> float:
    return default if v is None else float(v)


def _1d(arg: Any, i: int) -> Any:
    """conv1d's stride/padding/dilation (args 3, 4, 5) as 2-D ones with H = 1; other args unchanged."""
    if i in (3, 5) and isinstance(arg, (list, tuple)):
        return [1, int(arg[0])]
    if i == 4 and isinstance(arg, (list, tuple)):
        return [0, int(arg[0])]
    return arg  # "same"/"valid" padding strings and the other args carry over as they are


def _as_2d_pool(node: torch.fx.Node) -> torch.fx.Node:
    """max_pool1d / avg_pool1d args as 2-D ones with H = 1 (kernel, stride, padding, dilation)."""
    args = list(node.args)
    for i, neutral in ((1, 1), (2, 1), (3, 0), (4, 1)):
        if len(args) > i and isinstance(args[i], (list, tuple)) and len(args[i]) == 1:
            args[i] = [neutral, int(args[i][0])]
    node.args = tuple(args)
    return node


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
    return fuse_activations(fold_depth_orders(fold_zero_pads(fuse_written_activations(g))))
