"""ONNX in: an `.onnx` file → an eval-mode torch module and an example input, for the same pipeline as any
torch model (compression finds its convs, fine-tuning trains it, capture exports it).

Guarantees: the file is read once, at most MAX_ONNX_BYTES, with external data only from files inside its
own folder (no absolute path, no `..`, no link out of it); `onnx.checker` accepts the model and shape
inference runs before anything is built. Constant subgraphs (what exporters emit to compute pads, shapes
and the like: Constant, Shape of a static shape, Gather, Concat, Cast, ...) are evaluated once with
`onnx.reference` on small tensors only. Every remaining node becomes one step of `OnnxModule.forward`,
which walks the nodes in their (topological) file order calling torch ops; Conv, ConvTranspose, Gemm,
MatMul (+ Add) with constant weights and BatchNormalization become real `nn.Conv2d`/`nn.Conv1d`/
`nn.ConvTranspose2d`/`nn.Linear`/`nn.BatchNorm2d` submodules, PRelu an `nn.PReLU`, Clip(0, 6) an
`nn.ReLU6`, so that compression sees the convs as a hand-written model's. A node outside the op set
(`SUPPORTED`), or one whose attributes this importer does not handle, is reported with every other such
node in one LinRepError naming each (name and op type).

The module is plain Python (no torch.fx): steps hold only names, numbers and tuples, and reach their
submodules and constant buffers by name at call time, so `copy.deepcopy` and module replacement work.
The batch dimension is 1 (a symbolic batch is taken as 1).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.format.text import shown

MAX_ONNX_BYTES = 1 << 30          # the .onnx file and its external data, together
MAX_FOLD_ELEMENTS = 1 << 22       # a constant computed while folding may hold at most this many values

SUPPORTED = frozenset((
    "Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "LeakyRelu", "PRelu",
    "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Softmax", "MaxPool", "AveragePool", "GlobalAveragePool",
    "ReduceMean", "ReduceMax", "GlobalMaxPool", "DepthToSpace", "SpaceToDepth", "Flatten", "Reshape", "Transpose", "Concat", "Slice", "Split", "Pad", "Resize", "Upsample",
    "BatchNormalization", "Identity", "Dropout", "Squeeze", "Unsqueeze", "Cast",
    "Elu", "Selu", "Celu", "Softplus", "Mish", "Gelu", "ThresholdedRelu", "Shrink"))  # format version 7 / 8's UNARY
# Ops evaluated ahead of time when every input is a constant (the shapes and pads exporters compute).
FOLDABLE = frozenset((
    "Constant", "ConstantOfShape", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Reshape", "Slice",
    "Transpose", "Cast", "Add", "Sub", "Mul", "Div", "Identity", "Range", "Size", "Neg", "Floor", "Ceil", "Sqrt",
    "Equal", "Where", "Expand", "ReduceProd", "Min", "Max", "Abs"))


def _onnx():  # type: ignore[no-untyped-def]
    try:
        import onnx
    except ImportError:
        raise LinRepError("reading .onnx files needs the onnx package: pip install 'linrep-edge[onnx]'") from None
    return onnx


# ---------------------------------------------------------------- reading the file


def _external_data(model: Any, folder: Path, where: str, budget: int) -> None:
    """Load external tensors, each from a file inside `folder` (resolved, links followed), within `budget`."""
    from onnx.external_data_helper import _get_all_tensors, load_external_data_for_tensor, uses_external_data

    root = folder.resolve()
    total = 0
    for t in _get_all_tensors(model):
        if not uses_external_data(t):
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if not loc or os.path.isabs(loc) or ".." in Path(loc).parts:
            raise LinRepError(f"{where}: tensor {shown(t.name, 80)!r} has external data at {shown(loc, 120)!r}; "
                              "only files inside the model's folder are read")
        path = (root / loc).resolve()
        if root not in path.parents or not path.is_file():
            raise LinRepError(f"{where}: external data {shown(loc, 120)!r} of tensor {shown(t.name, 80)!r} is not a "
                              "file inside the model's folder")
        total += int(info.get("length") or path.stat().st_size)
        if total > budget:
            raise LinRepError(f"{where}: the model and its external data exceed {MAX_ONNX_BYTES >> 20} MiB")
        load_external_data_for_tensor(t, str(root))
        del t.external_data[:]
        t.data_location = 0  # onnx.TensorProto.DEFAULT


def read_onnx(path: str | Path) -> Any:
    """The checked, shape-inferred ModelProto of an .onnx file (see the module docstring)."""
    onnx = _onnx()
    from linrep_edge.models.loading import read_bounded

    p = Path(path)
    where = shown(p)
    data = read_bounded(p, MAX_ONNX_BYTES)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise LinRepError(f"{where}: not an ONNX model ({type(exc).__name__})") from None
    if not model.graph.node:
        raise LinRepError(f"{where}: not an ONNX model (no graph nodes)")
    _external_data(model, p.parent, where, MAX_ONNX_BYTES - len(data))
    try:
        onnx.checker.check_model(model)
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:
        raise LinRepError(f"{where}: the ONNX checker refuses it: {shown(str(exc).splitlines()[0], 300)}") from None
    return model


# ---------------------------------------------------------------- the module


@dataclass
class Step:
    """One node: `kind` names an OnnxModule method `_op_<kind>`; `key` a submodule or buffer; `attrs` plain values."""

    kind: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    key: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


class OnnxModule(nn.Module):
    """An ONNX graph as torch: forward runs the steps in order over a name → tensor map."""

    def __init__(self, input_name: str, output_names: list[str], steps: list[Step]) -> None:
        super().__init__()
        self.input_name = input_name
        self.output_names = list(output_names)
        self.steps = steps
        self.layers = nn.ModuleDict()

    def forward(self, x: torch.Tensor) -> Any:
        env: dict[str, Any] = {self.input_name: x}
        for s in self.steps:
            out = getattr(self, f"_op_{s.kind}")(s, *[env[i] for i in s.inputs])
            if len(s.outputs) == 1:
                env[s.outputs[0]] = out
            else:
                for name, value in zip(s.outputs, out):
                    env[name] = value
        outs = [env[n] for n in self.output_names]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _const(self, s: Step) -> torch.Tensor:
        return getattr(self, s.key)

    # modules (Conv, ConvTranspose, Gemm, MatMul, BatchNormalization, PRelu, activations)
    def _op_module(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        if s.attrs.get("pad"):
            x = F.pad(x, s.attrs["pad"])
        return self.layers[s.key](x)

    def _op_identity(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return x

    def _op_clamp(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, s.attrs["lo"], s.attrs["hi"])

    def _op_elu(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.elu(x, s.attrs["alpha"], s.attrs["scale"])

    def _op_hardsigmoid(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x * s.attrs["alpha"] + s.attrs["beta"], 0.0, 1.0)

    def _op_binary(self, s: Step, *args: torch.Tensor) -> torch.Tensor:
        a = args[0]
        if "scalar" in s.attrs:
            b: Any = s.attrs["scalar"]
        elif s.key:
            b = self._const(s)
        else:
            b = args[1]
        if s.attrs.get("swap"):
            a, b = b, a
        op = s.attrs["op"]
        if op == "Add":
            return a + b
        if op == "Sub":
            return a - b
        if op == "Mul":
            return a * b
        return a / b

    def _op_softmax(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(x, dim=s.attrs["axis"])

    def _op_maxpool(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        fn = F.max_pool1d if s.attrs["rank"] == 1 else F.max_pool2d
        return fn(x, s.attrs["kernel"], s.attrs["stride"], s.attrs["padding"], s.attrs["dilation"],
                  ceil_mode=s.attrs["ceil"])

    def _op_avgpool(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        fn = F.avg_pool1d if s.attrs["rank"] == 1 else F.avg_pool2d
        return fn(x, s.attrs["kernel"], s.attrs["stride"], s.attrs["padding"], ceil_mode=s.attrs["ceil"],
                  count_include_pad=s.attrs["count_include_pad"])

    def _op_globalavg(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool1d(x, 1) if x.dim() == 3 else F.adaptive_avg_pool2d(x, 1)

    def _op_depth_space(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        """DepthToSpace (CRD: torch's pixel_shuffle; DCR: the depth index (i r + j) C + c, a channel shuffle of r²
        groups first) and SpaceToDepth (DCR: pixel_unshuffle, then a channel shuffle of C groups), written as capture
        reads them (PIXEL_SHUFFLE and CHANNEL_SHUFFLE)."""
        r = s.attrs["r"]
        if s.attrs["to_space"]:
            if s.attrs["dcr"]:
                n, c, h, w = x.shape
                x = x.view(n, r * r, c // (r * r), h, w).transpose(1, 2).reshape(n, c, h, w)
            return F.pixel_shuffle(x, r)
        y = F.pixel_unshuffle(x, r)
        n, c, h, w = y.shape
        return y.view(n, c // (r * r), r * r, h, w).transpose(1, 2).reshape(n, c, h, w)

    def _op_globalmax(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_max_pool1d(x, 1) if x.dim() == 3 else F.adaptive_max_pool2d(x, 1)

    def _op_mean(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return x.mean(s.attrs["axes"], keepdim=s.attrs["keepdim"])

    def _op_amax(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return x.amax(s.attrs["axes"], keepdim=s.attrs["keepdim"])

    def _op_flatten(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)

    def _op_reshape(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(s.attrs["shape"])

    def _op_transpose(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return x.permute(s.attrs["perm"])

    def _op_concat(self, s: Step, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(list(xs), s.attrs["axis"])

    def _op_slice(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None)] * x.dim()
        for axis, start, stop, step in s.attrs["slices"]:
            index[axis] = slice(start, stop, step)
        return x[tuple(index)]

    def _op_split(self, s: Step, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(x, s.attrs["sizes"], s.attrs["axis"])

    def _op_pad(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, s.attrs["pad"], value=s.attrs["value"])

    def _op_resize(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        if s.attrs["mode"] == "nearest":
            return F.interpolate(x, scale_factor=s.attrs["scale"], mode="nearest")
        return F.interpolate(x, scale_factor=s.attrs["scale"], mode="bilinear" if x.dim() == 4 else "linear",
                             align_corners=s.attrs["align_corners"])

    def _op_squeeze(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        return torch.squeeze(x, s.attrs["axes"]) if s.attrs["axes"] else torch.squeeze(x)

    def _op_unsqueeze(self, s: Step, x: torch.Tensor) -> torch.Tensor:
        for a in s.attrs["axes"]:
            x = torch.unsqueeze(x, a)
        return x


# ---------------------------------------------------------------- building it


class _Unsupported(Exception):
    """This node cannot be imported; the message says why (collected, then reported all at once)."""


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _s(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


class _Builder:
    def __init__(self, model: Any, where: str, input_shape: tuple[int, ...] | None) -> None:
        from onnx import numpy_helper

        self.model = model
        self.where = where
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        g = model.graph
        self.consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise LinRepError(f"{where}: the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                              "the runtime runs models with one input")
        self.input = inputs[0]
        self.shapes: dict[str, tuple[int, ...]] = {}
        for vi in [*g.input, *g.value_info, *g.output]:
            t = vi.type.tensor_type
            if t.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
                if dims and dims[0] == -1:
                    dims[0] = 1  # a symbolic batch
                self.shapes[vi.name] = tuple(dims)
        shape = self.shapes.get(self.input.name, ())
        if input_shape is not None:
            shape = tuple(input_shape)
        if not shape or any(d <= 0 for d in shape):
            raise LinRepError(f"{where}: input {self.input.name!r} has no static shape {list(shape)}; give "
                              "--input-shape (e.g. 1,3,224,224)")
        if shape[0] != 1:
            raise LinRepError(f"{where}: input batch size {shape[0]}; the runtime runs batch 1")
        self.input_shape = shape
        self.shapes[self.input.name] = shape
        self.module = OnnxModule(self.input.name, [o.name for o in g.output], [])
        self.names: set[str] = set()
        self.problems: list[str] = []

    # -- helpers
    def const(self, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise _Unsupported(f"{what} must be a constant")
        return self.consts[name]

    def opt_const(self, node: Any, i: int) -> np.ndarray | None:
        if len(node.input) <= i or not node.input[i]:
            return None
        return self.const(node.input[i], f"input {i} ({node.input[i]})")

    def key(self, node: Any) -> str:
        base = re.sub(r"\W+", "_", node.name or node.output[0]).strip("_") or node.op_type.lower()
        if base[0].isdigit():
            base = f"n_{base}"
        k, n = base, 1
        while k in self.names:
            n += 1
            k = f"{base}_{n}"
        self.names.add(k)
        return k

    def rank(self, name: str) -> int:
        if name not in self.shapes:
            raise _Unsupported(f"the rank of {name!r} is unknown (shape inference found none)")
        return len(self.shapes[name])

    def add(self, node: Any, kind: str, inputs: list[str] | None = None, key: str = "", **attrs: Any) -> None:
        ins = tuple(inputs if inputs is not None else [node.input[0]])
        outs = tuple(o for o in node.output if o) if kind == "split" else (node.output[0],)
        self.module.steps.append(Step(kind, ins, outs, key, attrs))

    def add_module(self, node: Any, mod: nn.Module, x: str | None = None, pad: tuple[int, ...] = ()) -> None:
        k = self.key(node)
        self.module.layers[k] = mod
        self.add(node, "module", [x or node.input[0]], k, pad=pad)

    # -- constant folding
    def fold(self, node: Any) -> bool:
        """Evaluate `node` now if it is a constant computation; True when done."""
        if node.op_type == "Constant":
            from onnx import numpy_helper

            a = node.attribute[0]
            if a.name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(a.t)
            else:
                self.consts[node.output[0]] = np.array(_attrs(node)[a.name])
            return True
        if node.op_type == "Shape" and node.input[0] in self.shapes and min(self.shapes[node.input[0]]) > 0:
            a = _attrs(node)
            shape = np.array(self.shapes[node.input[0]], np.int64)
            self.consts[node.output[0]] = shape[a.get("start", 0):a.get("end", len(shape))]
            return True
        ins = [i for i in node.input if i]
        if node.op_type not in FOLDABLE or not ins or not all(i in self.consts for i in ins):
            return False
        if node.op_type in ("ConstantOfShape", "Expand"):  # sizes known before allocating
            n = float(np.prod(self.consts[ins[-1]].astype(np.float64)))
        elif node.op_type == "Range":
            start, limit, delta = (float(self.consts[i].reshape(())) for i in ins[:3])
            n = math.ceil((limit - start) / delta) if delta else math.inf
        else:
            n = 0.0
        if n > MAX_FOLD_ELEMENTS:
            raise _Unsupported(f"a constant of {n:.0f} values")
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {f"in{k}": self.consts[i] for k, i in enumerate(node.input) if i}
        inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                  for k, v in feeds.items()]
        outputs = [helper.make_tensor_value_info(o, 0, None) for o in node.output if o]
        one = helper.make_node(node.op_type, [f"in{k}" if i else "" for k, i in enumerate(node.input)],
                               list(node.output), domain=node.domain, **_attrs(node))
        m = helper.make_model(helper.make_graph([one], "fold", inputs, outputs),
                              opset_imports=list(self.model.opset_import))
        for name, value in zip([o for o in node.output if o], ReferenceEvaluator(m).run(None, feeds)):
            value = np.asarray(value)
            if value.size > MAX_FOLD_ELEMENTS:
                raise _Unsupported(f"a constant of {value.size} values")
            self.consts[name] = value
        return True

    # -- one node
    def node(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx") or op not in SUPPORTED:
            raise _Unsupported("unsupported operation")
        a = _attrs(node)
        handler = getattr(self, f"_{op}", None)
        if handler is None:
            raise _Unsupported("unsupported operation")
        handler(node, a)

    def _pads(self, a: dict[str, Any], n: int, node: Any) -> tuple[list[int], list[int]]:
        """(begin, end) pads of n spatial dims from `pads` / `auto_pad`."""
        auto = _s(a.get("auto_pad", "NOTSET"))
        if auto in ("NOTSET", "VALID"):
            pads = list(a.get("pads", [0] * 2 * n)) if auto == "NOTSET" else [0] * 2 * n
            return pads[:n], pads[n:]
        # SAME_UPPER / SAME_LOWER: output = ceil(input / stride)
        shape = self.shapes.get(node.input[0])
        if shape is None:
            raise _Unsupported(f"auto_pad {auto} without a known input shape")
        kernel = a.get("kernel_shape") or list(self.consts[node.input[1]].shape[2:])
        strides, dil = a.get("strides", [1] * n), a.get("dilations", [1] * n)
        begin, end = [], []
        for d in range(n):
            size = shape[2 + d]
            total = max(0, (math.ceil(size / strides[d]) - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 - size)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(lo)
            end.append(total - lo)
        return begin, end

    @staticmethod
    def _torch_pad(begin: list[int], end: list[int]) -> tuple[int, ...]:
        """F.pad's order: last dim first."""
        out: list[int] = []
        for b, e in zip(reversed(begin), reversed(end)):
            out += [int(b), int(e)]
        return tuple(out)

    def _Conv(self, node: Any, a: dict[str, Any]) -> None:
        w = self.const(node.input[1], "the weight")
        b = self.opt_const(node, 2)
        n = w.ndim - 2
        if n not in (1, 2):
            raise _Unsupported(f"{n}-D convolution (1-D and 2-D are supported)")
        begin, end = self._pads(a, n, node)
        cls = nn.Conv1d if n == 1 else nn.Conv2d
        pad: tuple[int, ...] = ()
        if begin == end:
            padding: Any = tuple(begin)
        else:
            padding, pad = 0, self._torch_pad(begin, end)
        groups = int(a.get("group", 1))
        conv = cls(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=tuple(a.get("strides", [1] * n)),
                   padding=padding, dilation=tuple(a.get("dilations", [1] * n)), groups=groups, bias=b is not None)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.astype(np.float32)))
            if b is not None:
                conv.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        self.add_module(node, conv, pad=pad)

    def _ConvTranspose(self, node: Any, a: dict[str, Any]) -> None:
        w = self.const(node.input[1], "the weight")
        b = self.opt_const(node, 2)
        if w.ndim != 4:
            raise _Unsupported("only 2-D transposed convolution is supported")
        if "output_shape" in a or _s(a.get("auto_pad", "NOTSET")) != "NOTSET":
            raise _Unsupported("output_shape / auto_pad (give explicit pads)")
        pads = list(a.get("pads", [0] * 4))
        if pads[:2] != pads[2:]:
            raise _Unsupported(f"asymmetric pads {pads}")
        groups = int(a.get("group", 1))
        conv = nn.ConvTranspose2d(w.shape[0], w.shape[1] * groups, tuple(w.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                                  padding=tuple(pads[:2]), output_padding=tuple(a.get("output_padding", [0, 0])),
                                  groups=groups, bias=b is not None, dilation=tuple(a.get("dilations", [1, 1])))
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.astype(np.float32)))
            if b is not None:
                conv.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        self.add_module(node, conv)

    def _linear(self, node: Any, w: np.ndarray, b: np.ndarray | None) -> None:
        """w as nn.Linear stores it: [out, in]."""
        lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(np.broadcast_to(b, (w.shape[0],)).astype(np.float32)))
        self.add_module(node, lin)

    def _Gemm(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("transA", 0):
            raise _Unsupported("transA=1")
        w = self.const(node.input[1], "B (the weight)").astype(np.float64)
        w = w if a.get("transB", 0) else w.T
        c = self.opt_const(node, 2)
        w = w * float(a.get("alpha", 1.0))
        if c is not None:
            if c.size not in (1, w.shape[0]):
                raise _Unsupported(f"C of shape {list(c.shape)}")
            c = c.reshape(-1) * float(a.get("beta", 1.0))
        self._linear(node, w, c)

    def _MatMul(self, node: Any, a: dict[str, Any]) -> None:
        w = self.const(node.input[1], "the second operand (the weight)")
        if w.ndim != 2:
            raise _Unsupported(f"a weight of rank {w.ndim}")
        # MatMul followed by Add of a constant vector: one Linear with bias (the Add is skipped later).
        bias = None
        users = [n for n in self.model.graph.node if node.output[0] in n.input]
        if len(users) == 1 and users[0].op_type == "Add":
            other = [i for i in users[0].input if i != node.output[0]]
            if len(other) == 1 and other[0] in self.consts and self.consts[other[0]].size == w.shape[1]:
                bias = self.consts[other[0]].reshape(-1)
                self.fused.add(users[0].name or users[0].output[0])
                self.alias[users[0].output[0]] = node.output[0]
        self._linear(node, w.T, bias)

    def _BatchNormalization(self, node: Any, a: dict[str, Any]) -> None:
        scale, bias, mean, var = (self.const(node.input[i], n) for i, n in
                                  ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
        r = self.rank(node.input[0])
        bn = (nn.BatchNorm1d if r == 3 else nn.BatchNorm2d)(scale.size, eps=float(a.get("epsilon", 1e-5)))
        with torch.no_grad():
            for t, v in ((bn.weight, scale), (bn.bias, bias), (bn.running_mean, mean), (bn.running_var, var)):
                t.copy_(torch.from_numpy(v.astype(np.float32)))
        self.add_module(node, bn.eval())

    def _Relu(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.ReLU())

    def _Sigmoid(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.Sigmoid())

    def _Tanh(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.Tanh())

    def _HardSwish(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.Hardswish())

    def _HardSigmoid(self, node: Any, a: dict[str, Any]) -> None:
        alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
        if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
            self.add_module(node, nn.Hardsigmoid())
        else:
            self.add(node, "hardsigmoid", alpha=alpha, beta=beta)

    def _Elu(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.ELU(float(a.get("alpha", 1.0))))

    def _Selu(self, node: Any, a: dict[str, Any]) -> None:  # gamma * ELU(alpha): ELU with a scale (UNARY's beta)
        self.add(node, "elu", alpha=float(a.get("alpha", 1.67326319217681884765625)),
                 scale=float(a.get("gamma", 1.05070102214813232421875)))

    def _Celu(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.CELU(float(a.get("alpha", 1.0))))

    def _Softplus(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.Softplus())

    def _Mish(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.Mish())

    def _Gelu(self, node: Any, a: dict[str, Any]) -> None:
        approx = a.get("approximate", "none")
        approx = approx.decode() if isinstance(approx, bytes) else str(approx)
        if approx not in ("none", "tanh"):
            raise LinRepError(f"node {node.name!r} (Gelu): approximate={approx!r} (none or tanh)")
        self.add_module(node, nn.GELU(approx))

    def _ThresholdedRelu(self, node: Any, a: dict[str, Any]) -> None:  # x > alpha ? x : 0
        self.add_module(node, nn.Threshold(float(a.get("alpha", 1.0)), 0.0))

    def _Shrink(self, node: Any, a: dict[str, Any]) -> None:  # x < -lambd ? x + bias : x > lambd ? x - bias : 0
        lambd, bias = float(a.get("lambd", 0.5)), float(a.get("bias", 0.0))
        if bias == 0.0:
            self.add_module(node, nn.Hardshrink(lambd))
        elif bias == lambd and lambd >= 0.0:
            self.add_module(node, nn.Softshrink(lambd))
        else:
            raise _Unsupported(f"Shrink with bias {bias:g} and lambd {lambd:g} (only bias 0: Hardshrink, or bias = "
                               "lambd: Softshrink)")

    def _LeakyRelu(self, node: Any, a: dict[str, Any]) -> None:
        self.add_module(node, nn.LeakyReLU(float(a.get("alpha", 0.01))))

    def _PRelu(self, node: Any, a: dict[str, Any]) -> None:
        slope = self.const(node.input[1], "the slope").reshape(-1)
        p = nn.PReLU(slope.size)
        with torch.no_grad():
            p.weight.copy_(torch.from_numpy(slope.astype(np.float32)))
        self.add_module(node, p)

    def _Clip(self, node: Any, a: dict[str, Any]) -> None:
        lo, hi = a.get("min"), a.get("max")
        if self.opset >= 11:
            lo_c, hi_c = self.opt_const(node, 1), self.opt_const(node, 2)
            lo = float(lo_c) if lo_c is not None else None
            hi = float(hi_c) if hi_c is not None else None
        if lo == 0.0 and hi == 6.0:
            self.add_module(node, nn.ReLU6())
        elif lo == 0.0 and hi is None:
            self.add_module(node, nn.ReLU())
        else:
            self.add(node, "clamp", lo=lo, hi=hi)

    def _binary(self, node: Any, a: dict[str, Any]) -> None:
        x, y = node.input[0], node.input[1]
        op = node.op_type
        cx, cy = x in self.consts, y in self.consts
        if cx and cy:
            raise _Unsupported("both operands constant")
        if not cx and not cy:
            self.add(node, "binary", [x, y], op=op)
            return
        const, act, swap = (self.consts[y], x, False) if cy else (self.consts[x], y, True)
        if const.size == 1:
            v = float(const.reshape(()))
            if op == "Div" and not swap:  # x / c as x * (1 / c): what capture takes
                if v == 0:
                    raise _Unsupported("division by zero")
                self.add(node, "binary", [act], op="Mul", scalar=1.0 / v)
            elif op == "Sub" and not swap:
                self.add(node, "binary", [act], op="Add", scalar=-v)
            else:
                self.add(node, "binary", [act], op=op, scalar=v, swap=swap)
            return
        k = self.key(node)
        self.module.register_buffer(k, torch.from_numpy(np.ascontiguousarray(const, dtype=np.float32)))
        self.add(node, "binary", [act], k, op=op, swap=swap)

    _Add = _Sub = _Mul = _Div = _binary

    def _Softmax(self, node: Any, a: dict[str, Any]) -> None:
        r = self.rank(node.input[0])
        axis = int(a.get("axis", -1 if self.opset >= 13 else 1))
        axis = axis + r if axis < 0 else axis
        if self.opset < 13 and axis != r - 1:
            raise _Unsupported(f"opset {self.opset} softmax over axes {axis}.. (flattened); export with opset >= 13")
        self.add(node, "softmax", axis=axis)

    def _pool(self, node: Any, a: dict[str, Any], kind: str) -> None:
        k = list(a["kernel_shape"])
        n = len(k)
        begin, end = self._pads(a, n, node)
        if begin != end:
            raise _Unsupported(f"asymmetric pads {begin + end}")
        attrs = dict(rank=n, kernel=tuple(k), stride=tuple(a.get("strides", [1] * n)), padding=tuple(begin),
                     ceil=bool(a.get("ceil_mode", 0)))
        if kind == "maxpool":
            if len([o for o in node.output if o]) > 1:
                raise _Unsupported("the indices output")
            attrs["dilation"] = tuple(a.get("dilations", [1] * n))
        else:
            attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        self.add(node, kind, **attrs)

    def _MaxPool(self, node: Any, a: dict[str, Any]) -> None:
        self._pool(node, a, "maxpool")

    def _AveragePool(self, node: Any, a: dict[str, Any]) -> None:
        self._pool(node, a, "avgpool")

    def _GlobalAveragePool(self, node: Any, a: dict[str, Any]) -> None:
        self.add(node, "globalavg")

    def _DepthToSpace(self, node: Any, a: dict[str, Any]) -> None:
        mode = a.get("mode", "DCR")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode not in ("DCR", "CRD"):
            raise _Unsupported(f"DepthToSpace mode {mode}")
        self.add(node, "depth_space", r=int(a["blocksize"]), dcr=mode == "DCR", to_space=True)

    def _SpaceToDepth(self, node: Any, a: dict[str, Any]) -> None:
        self.add(node, "depth_space", r=int(a["blocksize"]), dcr=True, to_space=False)

    def _GlobalMaxPool(self, node: Any, a: dict[str, Any]) -> None:
        self.add(node, "globalmax")

    def _ReduceMean(self, node: Any, a: dict[str, Any]) -> None:
        self._reduce(node, a, "mean")

    def _ReduceMax(self, node: Any, a: dict[str, Any]) -> None:
        self._reduce(node, a, "amax")

    def _reduce(self, node: Any, a: dict[str, Any], how: str) -> None:
        """ReduceMean / ReduceMax over the spatial axes (global pooling) or over the channels alone (CBAM's channel
        pooling); axes as an attribute (opset < 18) or a constant input."""
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "axes").tolist()
        r = self.rank(node.input[0])
        axes = sorted(int(x) + r if int(x) < 0 else int(x) for x in (axes or []))
        if axes != [1] and (not axes or 0 in axes or 1 in axes):
            raise _Unsupported(f"{'mean' if how == 'mean' else 'max'} over axes {axes} (only over the spatial axes, "
                               "or over the channels alone)")
        self.add(node, how, axes=tuple(axes), keepdim=bool(a.get("keepdims", 1)))

    def _Flatten(self, node: Any, a: dict[str, Any]) -> None:
        if int(a.get("axis", 1)) not in (0, 1):
            raise _Unsupported(f"flatten from axis {a.get('axis')}")
        self.add(node, "flatten")

    def _Reshape(self, node: Any, a: dict[str, Any]) -> None:
        shape = [int(s) for s in self.const(node.input[1], "the shape")]
        src = self.shapes.get(node.input[0])
        if not a.get("allowzero", 0):
            shape = [src[i] if s == 0 and src is not None and i < len(src) else s for i, s in enumerate(shape)]
        if shape and shape[0] not in (1, -1):
            raise _Unsupported(f"a reshape to batch {shape[0]}")
        self.add(node, "reshape", shape=tuple([1, *shape[1:]] if shape and shape[0] == -1 and -1 in shape[1:]
                                               else shape))

    def _Transpose(self, node: Any, a: dict[str, Any]) -> None:
        perm = a.get("perm") or list(reversed(range(self.rank(node.input[0]))))
        self.add(node, "transpose", perm=tuple(int(p) for p in perm))

    def _Concat(self, node: Any, a: dict[str, Any]) -> None:
        if any(i in self.consts for i in node.input):
            raise _Unsupported("a constant operand")
        r = self.rank(node.input[0])
        axis = int(a["axis"])
        self.add(node, "concat", list(node.input), axis=axis + r if axis < 0 else axis)

    def _Slice(self, node: Any, a: dict[str, Any]) -> None:
        r = self.rank(node.input[0])
        if self.opset >= 10:
            starts, ends = self.const(node.input[1], "starts"), self.const(node.input[2], "ends")
            axes = self.opt_const(node, 3)
            steps = self.opt_const(node, 4)
        else:
            starts, ends, axes, steps = np.array(a["starts"]), np.array(a["ends"]), a.get("axes"), None
        axes = list(range(len(starts))) if axes is None else [int(x) for x in np.asarray(axes).reshape(-1)]
        steps = [1] * len(starts) if steps is None else [int(x) for x in steps]
        big = 1 << 62
        slices = []
        for ax, s0, s1, st in zip(axes, starts.tolist(), ends.tolist(), steps):
            ax = ax + r if ax < 0 else ax
            if st <= 0:
                raise _Unsupported(f"step {st}")
            slices.append((ax, int(max(min(s0, big), -big)), None if s1 >= big else int(max(s1, -big)), st))
        self.add(node, "slice", slices=tuple(slices))

    def _Split(self, node: Any, a: dict[str, Any]) -> None:
        r = self.rank(node.input[0])
        axis = int(a.get("axis", 0))
        axis = axis + r if axis < 0 else axis
        sizes = a.get("split")
        if sizes is None and len(node.input) > 1 and node.input[1]:
            sizes = self.const(node.input[1], "split").tolist()
        n_out = len([o for o in node.output if o])
        if sizes is None:
            dim = self.shapes[node.input[0]][axis]
            if dim % n_out:
                raise _Unsupported(f"{dim} does not split evenly into {n_out}")
            sizes = [dim // n_out] * n_out
        self.add(node, "split", axis=axis, sizes=[int(s) for s in sizes])

    def _Pad(self, node: Any, a: dict[str, Any]) -> None:
        mode = _s(a.get("mode", "constant"))
        if mode != "constant":
            raise _Unsupported(f"mode {mode!r} (only constant padding)")
        if self.opset >= 11:
            pads = self.const(node.input[1], "pads").tolist()
            v = self.opt_const(node, 2)
            value = float(v) if v is not None and v.size else 0.0
            if len(node.input) > 3 and node.input[3]:
                raise _Unsupported("the axes input")
        else:
            pads, value = list(a["pads"]), float(a.get("value", 0.0))
        n = len(pads) // 2
        if any(pads[:2]) or any(pads[n:n + 2]):
            raise _Unsupported("padding of the batch or channel axis")
        self.add(node, "pad", pad=self._torch_pad(pads[2:n], pads[n + 2:]), value=value)

    def _Resize(self, node: Any, a: dict[str, Any]) -> None:
        mode = _s(a.get("mode", "nearest"))
        src = self.shapes.get(node.input[0])
        scales = None
        if node.op_type == "Upsample":
            scales = self.const(node.input[1], "scales") if len(node.input) > 1 else np.array(a["scales"])
        else:
            s = self.opt_const(node, 2)
            sizes = self.opt_const(node, 3)
            if s is not None and s.size:
                scales = s
            elif sizes is not None and src is not None:
                scales = np.array(sizes, np.float64) / np.array(src, np.float64)
        if scales is None or src is None:
            raise _Unsupported("scales or sizes must be constant, with a known input shape")
        scales = [float(x) for x in scales]
        if scales[:2] != [1.0, 1.0]:
            raise _Unsupported(f"scales {scales} (batch and channel must stay)")
        ctm = _s(a.get("coordinate_transformation_mode", "half_pixel" if self.opset >= 11 else "asymmetric"))
        if mode == "nearest":
            nearest = _s(a.get("nearest_mode", "round_prefer_floor"))
            if ctm != "asymmetric" or (self.opset >= 11 and nearest != "floor"):
                raise _Unsupported(f"nearest with {ctm}/{nearest} (torch's nearest is asymmetric/floor)")
            self.add(node, "resize", mode="nearest", scale=tuple(scales[2:]), align_corners=None)
        elif mode == "linear":
            if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
                raise _Unsupported(f"linear with coordinate_transformation_mode {ctm}")
            self.add(node, "resize", mode="linear", scale=tuple(scales[2:]), align_corners=ctm == "align_corners")
        else:
            raise _Unsupported(f"mode {mode!r}")

    _Upsample = _Resize

    def _Identity(self, node: Any, a: dict[str, Any]) -> None:
        self.add(node, "identity")

    _Dropout = _Identity

    def _Cast(self, node: Any, a: dict[str, Any]) -> None:
        from onnx import TensorProto

        if int(a["to"]) != TensorProto.FLOAT:
            raise _Unsupported("a cast of an activation to a type other than float")
        self.add(node, "identity")

    def _Squeeze(self, node: Any, a: dict[str, Any]) -> None:
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "axes").tolist()
        self.add(node, "squeeze", axes=tuple(int(x) for x in axes or ()))

    def _Unsqueeze(self, node: Any, a: dict[str, Any]) -> None:
        axes = a.get("axes")
        if axes is None:
            axes = self.const(node.input[1], "axes").tolist()
        r = self.rank(node.input[0]) + len(axes)
        self.add(node, "unsqueeze", axes=tuple(sorted(int(x) + r if int(x) < 0 else int(x) for x in axes)))

    # -- the whole graph
    def build(self) -> OnnxModule:
        self.fused: set[str] = set()
        self.alias: dict[str, str] = {}
        for node in self.model.graph.node:
            label = f"node {node.name or node.output[0]!r} ({node.op_type})"
            if (node.name or node.output[0]) in self.fused:
                continue
            try:
                if self.fold(node):
                    continue
                self.node(node)
            except _Unsupported as exc:
                self.problems.append(f"{label}: {exc}")
            except (KeyError, ValueError, IndexError, TypeError) as exc:
                self.problems.append(f"{label}: cannot import ({type(exc).__name__}: {shown(str(exc), 160)})")
        if self.problems:
            n = len(self.problems)
            raise LinRepError(f"{self.where}: {n} ONNX node{'s' if n > 1 else ''} cannot be imported: "
                              + "; ".join(self.problems[:40]) + (f"; and {n - 40} more" if n > 40 else ""))
        for s in self.module.steps:  # outputs of fused Adds are the MatMul's
            s.inputs = tuple(self.alias.get(i, i) for i in s.inputs)
        self.module.output_names = [self.alias.get(o, o) for o in self.module.output_names]
        missing = [o for o in self.module.output_names if o in self.consts]
        if missing:
            raise LinRepError(f"{self.where}: output(s) {missing} are constants, not computed from the input")
        return self.module.eval()


def load_onnx(path: str | Path, input_shape: tuple[int, ...] | None = None) -> tuple[nn.Module, torch.Tensor]:
    """An .onnx file → (OnnxModule in eval mode, zeros of the input shape). See the module docstring."""
    where = shown(Path(path))
    model = read_onnx(path)
    b = _Builder(model, where, input_shape)
    module = b.build()
    example = torch.zeros(b.input_shape)
    try:
        with torch.no_grad():
            module(example)
    except Exception as exc:
        raise LinRepError(f"{where}: the imported graph does not run on its input shape {list(b.input_shape)} "
                          f"({type(exc).__name__}: {shown(str(exc).splitlines()[0] if str(exc) else '', 200)})") from None
    return module, example
