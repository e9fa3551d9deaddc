"""A `.tflite` model → the graph IR in our layout: `import_tflite(path) -> Graph`.

fp32 files give an fp32 graph (run by `GraphModel` and the C runtime); full-integer int8 files give an
int8 graph (format version 4) whose integers are exactly those TFLite Micro's Prepare computes, so that
`run_int8` equals TFLite Micro byte for byte (docs/INTEGER.md).

Layout: NHWC activations become [C, H, W] (no batch), [1, F] becomes [F]; OHWI conv weights become
[O, I, kh, kw]; depthwise weights [1, kh, kw, C·M] become [C·M, 1, kh, kw] with groups = C; TF "SAME"
padding becomes explicit pads (the odd extra row / column at the bottom / right). A RESHAPE that flattens
[1, H, W, C] (H·W > 1) into a FULLY_CONNECTED keeps our cheap NCHW flatten: the FC's weight columns are
permuted so that the NCHW order gives TFLite's NHWC result (no data moves at run time); a flatten that
feeds anything else becomes TRANSPOSE_HWC. In fp32 graphs an asymmetric conv padding becomes a PAD op
before the conv (the torch executor builds symmetric `Conv2d`s); int8 convs keep asymmetric pads.
A QUANTIZE right after the model input and a DEQUANTIZE right before a model output are dropped: the
int8 graph takes and gives int8 (the tensors' scales say how to convert).

Files converted from an NCHW framework (litert-torch) start with a layout op on the model input: a
TRANSPOSE by [0, 2, 3, 1] of [1, C, H, W], or (C = 1) a RESHAPE of [1, 1, H, W] to [1, H, W, 1]. It becomes
the identity: the graph's input is the file's input as declared, [C, H, W] (`Imported.input_layout` says
"NCHW"). MEAN over H and W (global pooling, keep_dims either way) becomes ADAPTIVE_AVG_POOL2D to 1×1 with
TFLite Micro's integers (docs/INTEGER.md §5: one multiplier that holds 1/(H·W)), followed by a RESHAPE to
[C] when the file drops the dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from linrep_edge.errors import LinRepError
from linrep_edge.format.fb.Unary import Unary
from linrep_edge.format.ir import Constant, Graph, IntParams, Op, Tensor, operand_form
from linrep_edge.integer import arith
from linrep_edge.integer.ops import BYTES, byte_table
from linrep_edge.integer.quantize import unary_params
from linrep_edge.models.tflite_file import TflModel, TflOp, TflTensor, read_tflite

# inputs each supported operator needs at least (weights, bias, shape and padding tensors included)
MIN_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "SUB": 2, "AVERAGE_POOL_2D": 1,
              "MAX_POOL_2D": 1, "SOFTMAX": 1, "RESHAPE": 1, "CONCATENATION": 1, "PAD": 2, "QUANTIZE": 1,
              "DEQUANTIZE": 1, "TRANSPOSE": 2, "MEAN": 2, "LOGISTIC": 1, "HARD_SWISH": 1, "TANH": 1, "RELU": 1,
              "RELU6": 1, "LEAKY_RELU": 1, "PRELU": 2, "ELU": 1, "GELU": 1,
              "MUL": 2, "RESIZE_NEAREST_NEIGHBOR": 2, "RESIZE_BILINEAR": 2, "TRANSPOSE_CONV": 3,
              "DEPTH_TO_SPACE": 1, "SPACE_TO_DEPTH": 1, "REDUCE_MAX": 2, "PADV2": 3, "SLICE": 3}
NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_AXES = {0: 0, 1: 3, 2: 1, 3: 2}  # an axis of the NCHW view (NHWC_TO_NCHW) → the same axis of NHWC
ISLAND_OPS = ("REDUCE_MAX", "MAX_POOL_2D")  # pick values: max of the dequantised values = dequantised max, exactly
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
SOFTMAX_DIFF_INTEGER_BITS = 5


class _Skip(Exception):
    """An op whose input could not be imported: its problem was already reported."""


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8: the fused activation as an output clamp,
    zero_point + round(f / scale) computed in float32 as TFLite does."""
    def q(f: float) -> int:
        r = float(np.float32(f) / np.float32(scale))
        if not -2.0 ** 31 <= r <= 2.0 ** 31 - 1:  # TFLite's Quantize: no_integer_overflow_from_quantization
            raise LinRepError(f"fused {activation} with output scale {scale}: {f} / scale = {r:.3g} overflows int32 "
                              "(TFLite Micro refuses the file in Prepare; a calibration that saw no spread?)")
        return zero_point + _round_half_away(r)

    if activation == "NONE":
        return -128, 127
    if activation == "RELU":
        return max(-128, q(0.0)), 127
    if activation == "RELU6":
        return max(-128, q(0.0)), min(127, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(-128, q(-1.0)), min(127, q(1.0))
    raise LinRepError(f"fused activation {activation} is not supported")


def same_pads(size: int, k: int, stride: int, dilation: int, out: int) -> tuple[int, int]:
    """TFLite's SAME padding (ComputePaddingWithOffset): total split with the odd pixel after."""
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == 0 else (size - eff + stride) // stride


def _nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) == 4 and shape[0] == 1:
        return (shape[3], shape[1], shape[2])
    if len(shape) == 2 and shape[0] == 1:
        return (shape[1],)
    if len(shape) == 1:
        return shape
    raise LinRepError(f"tensor shape {list(shape)} (only [1, H, W, C] and [1, F] activations are supported)")


def _short_name(name: str) -> str:
    return name.split(";")[0][:64]


class _Importer:
    def __init__(self, model: TflModel, path: str) -> None:
        self.m = model
        self.path = path
        self.env: dict[int, int] = {}  # TFLite tensor → IR tensor
        self.flattened: dict[int, tuple[int, int, int]] = {}  # IR tensor made by an NCHW flatten of (C, H, W)
        self.failed: set[int] = set()  # TFLite tensors not imported
        self.problems: list[str] = []
        self.skipped_outputs: dict[int, int] = {}  # DEQUANTIZE output → its int8 input
        self.g = Graph([], 0, 0, [])
        self.readers: dict[int, list[TflOp]] = {}  # TFLite tensor → the ops that read it, in order (`_readers`)
        for o in model.ops:
            for t in dict.fromkeys(o.inputs):
                self.readers.setdefault(t, []).append(o)
        self.int8 = self._is_int8()
        self.layout_op2 = -1  # a 1-D input's second layout op (its TRANSPOSE after the RESHAPE), or -1
        self.layout_op = self._input_layout_op()  # index of the op turning an NCHW input into NHWC, or -1
        self.nchw_views: set[int] = set()  # TFLite tensors holding TRANSPOSE [0, 3, 1, 2] of an NHWC map (a MEAN reads)
        self.island_ends: set[int] = set()  # QUANTIZE ops closing DEQUANTIZE → a value-picking op → QUANTIZE
        self.not_ours: set[int] = set()  # TFLite tensors whose bytes are not our tensor's: float islands, NCHW views
        self.planes: dict[int, int] = {}  # IR map → its [1, C, H·W] plane (CBAM's mean and max share one)
        self.max_pads: dict[int, tuple[int, int, int, int]] = {}  # PADV2 output → its pads, for the max pool after
        self.nchw_outputs: set[int] = set()  # model outputs the file gives as NCHW (a TRANSPOSE [0, 3, 1, 2] at the end)
        self.absorbed: set[int] = set()  # ops of a TRANSPOSE / RESHAPE chain already imported as one op (`_move_chain`)

    def _readers(self, t: int) -> list[TflOp]:
        """The ops that read TFLite tensor `t`, in execution order."""
        return self.readers.get(t, [])

    def _input_tensor(self) -> int:
        """The TFLite tensor the graph's input stands for (a float input's QUANTIZE output in int8 files)."""
        ti = self.m.inputs[0]
        first = self._readers(ti)
        if self.int8 and self.m.tensors[ti].type == "FLOAT32" and len(first) == 1 and first[0].type == "QUANTIZE":
            return first[0].outputs[0]
        return ti

    def _input_layout_op(self) -> int:
        """The index of the model input's only consumer if it is a layout change from NCHW to NHWC: a
        TRANSPOSE by [0, 2, 3, 1], or a RESHAPE of [1, 1, H, W] to [1, H, W, 1] (the same bytes); for a 1-D
        model's [1, C, L] input (litert-torch's Conv1d), a RESHAPE to [1, C, 1, L] then that TRANSPOSE (sets
        layout_op2); else -1."""
        ti = self._input_tensor()
        users = self._readers(ti)
        shape = self.m.tensors[ti].shape
        if len(users) == 1 and len(shape) == 3 and shape[0] == 1 and users[0].type == "RESHAPE" and \
                users[0].inputs[0] == ti and self.m.tensors[users[0].outputs[0]].shape == (1, shape[1], 1, shape[2]):
            then = self._readers(users[0].outputs[0])
            perm = self.m.tensors[then[0].inputs[1]].data if len(then) == 1 and then[0].type == "TRANSPOSE" and \
                len(then[0].inputs) >= 2 and then[0].inputs[0] == users[0].outputs[0] else None
            if perm is not None and tuple(int(v) for v in perm.reshape(-1)) == NCHW_TO_NHWC:
                self.layout_op2 = then[0].index
                return users[0].index
            return -1
        if len(users) != 1 or len(shape) != 4 or shape[0] != 1 or len(users[0].outputs) != 1 or \
                users[0].inputs[0] != ti:
            return -1
        op = users[0]
        n, c, h, w = shape
        out = self.m.tensors[op.outputs[0]].shape
        if op.type == "TRANSPOSE" and len(op.inputs) >= 2 and op.inputs[1] >= 0:
            perm = self.m.tensors[op.inputs[1]].data
            if perm is not None and tuple(int(v) for v in perm.reshape(-1)) == NCHW_TO_NHWC and out == (n, h, w, c):
                return op.index
        if op.type == "RESHAPE" and c == 1 and out == (n, h, w, c):
            return op.index
        return -1

    def _input_shape(self, t: TflTensor) -> tuple[int, ...]:
        """Our shape of the model input: [C, H, W] of an NCHW input (see `_input_layout_op`), [C, 1, L] of a 1-D
        one (as capture takes a Conv1d model's), else `_nchw`."""
        if self.layout_op >= 0 and len(t.shape) == 3:
            return (t.shape[1], 1, t.shape[2])
        return tuple(t.shape[1:]) if self.layout_op >= 0 else _nchw(t.shape)

    # -- tensors ----------------------------------------------------------------------------------------
    def _is_int8(self) -> bool:
        t = self.m.tensors[self.m.inputs[0]]
        if t.type == "INT8":
            return True
        first = next(iter(self._readers(self.m.inputs[0])), None)
        return t.type == "FLOAT32" and first is not None and first.type == "QUANTIZE" and \
            self.m.tensors[first.outputs[0]].type == "INT8"

    def _tensor(self, t: TflTensor, shape: tuple[int, ...] | None = None) -> Tensor:
        shape = _nchw(t.shape) if shape is None else shape
        if not self.int8:
            if t.type != "FLOAT32":
                raise LinRepError(f"tensor {t.name!r} is {t.type} in a float model")
            return Tensor(shape, _short_name(t.name))
        if t.type != "INT8" or t.scale.size != 1 or not 0 < t.scale[0] < np.inf:
            raise LinRepError(f"tensor {t.name!r} is {t.type} with {t.scale.size} scales (an int8 model's "
                              "activations are int8 with one scale)")
        zp = int(t.zero_point[0]) if t.zero_point.size else 0
        if not -128 <= zp <= 127:
            raise LinRepError(f"tensor {t.name!r} has zero point {zp} (int8: -128 .. 127)")
        return Tensor(shape, _short_name(t.name), "int8", float(t.scale[0]), zp)

    def _input(self, op: TflOp, k: int = 0) -> int:
        ti = op.inputs[k]
        if ti in self.failed:
            raise _Skip
        if ti not in self.env:
            what = "a constant" if self.m.tensors[ti].data is not None else "not produced before"
            raise LinRepError(f"input {k} ({self.m.tensors[ti].name!r}) is {what} (an activation is expected)")
        return self.env[ti]

    def _new(self, shape: tuple[int, ...], like: Tensor, name: str) -> int:
        self.g.tensors.append(Tensor(shape, name, like.dtype, like.scale, like.zero_point))
        return len(self.g.tensors) - 1

    def _emit(self, tfl: TflOp, op_type: str, inputs: list[int], **kw: object) -> Op:
        """An op writing the TFLite op's output tensor (a new IR tensor)."""
        t = self.m.tensors[tfl.outputs[0]]
        self.g.tensors.append(self._tensor(t))
        out = len(self.g.tensors) - 1
        op = Op(op_type, _short_name(t.name), inputs, out, **kw)  # type: ignore[arg-type]
        if self.int8 and op.iparams is None:
            op.iparams = _no_params()
        self.g.ops.append(op)
        self.env[tfl.outputs[0]] = out
        return op

    def _emit_inner(self, op_type: str, inputs: list[int], shape: tuple[int, ...], name: str, **kw: object) -> int:
        """An op of our own (PAD, RESHAPE) writing a new tensor with the input's quantisation."""
        out = self._new(shape, self.g.tensors[inputs[0]], name)
        self.g.ops.append(Op(op_type, name, inputs, out, **kw))  # type: ignore[arg-type]
        if self.int8:
            self.g.ops[-1].iparams = _no_params()
        return out

    def _quant(self, ti: int) -> tuple[float, int]:
        t = self.g.tensors[ti]
        return t.scale, t.zero_point

    def _same_quant(self, op: TflOp, ins: list[int]) -> None:
        if not self.int8:
            return
        out = self._tensor(self.m.tensors[op.outputs[0]])
        for i in ins:
            if self._quant(i) != (out.scale, out.zero_point):
                raise LinRepError(f"input scale/zero point {self._quant(i)} differ from the output's "
                                  f"{(out.scale, out.zero_point)} (no integer form for a rescaling {op.type})")

    @staticmethod
    def _geometry(op: TflOp, options: str, keys: tuple[str, ...]) -> dict[str, int]:
        """The op's window options (strides, dilations, filter sizes: each >= 1; padding SAME or VALID)."""
        o = op.options
        if o.get("type") != options:
            raise LinRepError(f"{options} missing")
        values = {k: int(o[k]) for k in keys}
        if any(v < 1 for v in values.values()) or int(o["Padding"]) not in (0, 1):
            raise LinRepError(f"bad {options}: {values}, padding {o['Padding']}")
        return {**values, "Padding": int(o["Padding"])}

    def _activation(self, op: TflOp) -> str:
        act = ACTIVATIONS.get(int(op.options.get("FusedActivationFunction", 0)), "unknown")
        if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
            raise LinRepError(f"fused activation {act} is not supported")
        return act

    def _fp32_activation(self, op: Op, act: str, fusable: bool) -> None:
        """A fused activation in an fp32 graph: on the op if it can carry it, else a separate op."""
        if act == "NONE":
            return
        if fusable and act in ("RELU", "RELU6"):
            op.activation = act
            return
        y = self.g.tensors[op.output]
        out = self._new(y.shape, y, f"{op.name}/{act.lower()}")
        if act == "RELU_N1_TO_1":
            self.g.ops.append(Op("CLAMP", f"{op.name}/clamp", [op.output], out, alpha=-1.0, beta=1.0))
        else:
            self.g.ops.append(Op(act, f"{op.name}/{act.lower()}", [op.output], out))
        for k, v in self.env.items():
            if v == op.output:
                self.env[k] = out

    # -- weights ----------------------------------------------------------------------------------------
    def _weights(self, op: TflOp, w: np.ndarray, k: int = 1) -> int:
        """Constant of weights (already in our layout, output channel first)."""
        t = self.m.tensors[op.inputs[k]]
        if not self.int8:
            if t.type == "INT8" and t.scale.size in (1, w.shape[0]) and not (t.zero_point != 0).any():
                # a dynamic-range ("hybrid") file: float activations, int8 weights; the blob keeps the integers
                # and scales (int8 weight storage of an fp32 model: the runtime computes the same q * scale)
                scale = np.broadcast_to(t.scale, (w.shape[0],)).astype(np.float32)
                if not ((scale > 0) & (scale < np.inf)).all():
                    raise LinRepError(f"weights {t.name!r}: scales must be positive and finite")
                values = (w.astype(np.float32) * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
                self.g.constants.append(Constant(values, "int8", np.ascontiguousarray(w.astype(np.int8)),
                                                 scale.copy()))
                return len(self.g.constants) - 1
            if t.type != "FLOAT32":
                raise LinRepError(f"weights of type {t.type} in a float model")
            return self.g.add_constant(w.astype(np.float32))
        if t.type != "INT8" or t.scale.size not in (1, w.shape[0]) or (t.zero_point != 0).any():
            raise LinRepError(f"weights must be int8, symmetric, per tensor or per output channel (got {t.type}, "
                              f"{t.scale.size} scales)")
        scale = np.broadcast_to(t.scale, (w.shape[0],)).astype(np.float32)
        if not ((scale > 0) & (scale < np.inf)).all():
            raise LinRepError("weight scales must be positive and finite")
        values = (w.astype(np.float32) * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
        self.g.constants.append(Constant(values, "int8", np.ascontiguousarray(w.astype(np.int8)), scale.copy()))
        return len(self.g.constants) - 1

    def _bias(self, op: TflOp, cout: int, k: int = 2) -> np.ndarray | None:
        if len(op.inputs) < k + 1 or op.inputs[k] < 0:
            return None
        t = self.m.tensors[op.inputs[k]]
        if t.data is None or t.data.size != cout:
            raise LinRepError(f"bias {t.name!r} is not a constant of {cout} values")
        want = "INT32" if self.int8 else "FLOAT32"
        if t.type != want:
            raise LinRepError(f"bias of type {t.type} ({want} expected)")
        return t.data.reshape(-1).copy()

    def _weighted_params(self, x: int, weight: int, out_ti: int, bias: np.ndarray | None, act: str,
                         per_channel: bool) -> IntParams:
        """Multipliers as TFLite Micro's Prepare computes them: double(s_in) · double(s_w[o]) / double(s_out),
        then QuantizeMultiplier."""
        s_in, _ = self._quant(x)
        out = self._tensor(self.m.tensors[out_ti])  # validated: int8, one finite positive scale
        s_out, zp_out = out.scale, out.zero_point
        scales = self.g.constants[weight].scale
        assert scales is not None
        cout = scales.shape[0]  # one scale per output channel (broadcast from one)
        if not per_channel:
            scales = scales[:1]
        mq = [arith.quantize_multiplier(arith.requant_scale(s_in, float(s), divide_by=s_out)) for s in scales]
        lo, hi = activation_range(act, s_out, zp_out)
        b = np.zeros(cout, np.int32) if bias is None else bias.astype(np.int32)
        return IntParams(np.array([m for m, _ in mq], np.int32), np.array([s for _, s in mq], np.int32), lo, hi, b)

    # -- ops --------------------------------------------------------------------------------------------
    def conv(self, op: TflOp) -> None:
        depthwise = op.type == "DEPTHWISE_CONV_2D"
        x = self._input(op)
        wt = self.m.tensors[op.inputs[1]]
        if wt.data is None or len(wt.shape) != 4:
            raise LinRepError("weights are not a 4-D constant")
        cin, h, w = self.g.tensors[x].shape
        if depthwise:  # [1, kh, kw, C·M] → [C·M, 1, kh, kw]
            wq = wt.data.transpose(3, 0, 1, 2)
            groups = cin
        else:  # OHWI → [O, I, kh, kw]
            wq = wt.data.transpose(0, 3, 1, 2)
            if cin % wq.shape[1]:
                raise LinRepError(f"weights {list(wt.shape)} for {cin} input channels")
            groups = cin // wq.shape[1]
        cout, _, kh, kw = wq.shape
        o = self._geometry(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions",
                           ("StrideH", "StrideW", "DilationHFactor", "DilationWFactor"))
        stride, dilation = (o["StrideH"], o["StrideW"]), (o["DilationHFactor"], o["DilationWFactor"])
        oh, ow = (_out_size(int(o["Padding"]), s, k, st, d) for s, k, st, d in
                  ((h, kh, stride[0], dilation[0]), (w, kw, stride[1], dilation[1])))
        if _nchw(self.m.tensors[op.outputs[0]].shape) != (cout, oh, ow):
            raise LinRepError(f"output shape {list(self.m.tensors[op.outputs[0]].shape)} is not [1, {oh}, {ow}, {cout}]")
        top, bottom = same_pads(h, kh, stride[0], dilation[0], oh) if o["Padding"] == 0 else (0, 0)
        left, right = same_pads(w, kw, stride[1], dilation[1], ow) if o["Padding"] == 0 else (0, 0)
        act = self._activation(op)
        bias = self._bias(op, cout)
        weight = self._weights(op, np.ascontiguousarray(wq))
        common = dict(kernel=(kh, kw), stride=stride, dilation=dilation, groups=groups, out_channels=cout, weight=weight)
        if self.int8:
            params = self._weighted_params(x, weight, op.outputs[0], bias, act, True)
            self._emit(op, "CONV2D", [x], pads=(top, left, bottom, right), iparams=params, **common)
            return
        if (top, left) != (bottom, right):  # the torch executor's Conv2d pads symmetrically
            x = self._emit_inner("PAD", [x], (cin, h + top + bottom, w + left + right),
                                 f"{_short_name(self.m.tensors[op.outputs[0]].name)}/pad", pads=(top, left, bottom, right))
            top = left = bottom = right = 0
        b = self.g.add_constant(bias) if bias is not None else -1
        new = self._emit(op, "CONV2D", [x], pads=(top, left, bottom, right), bias=b, **common)
        self._fp32_activation(new, act, True)

    def fully_connected(self, op: TflOp) -> None:
        x = self._input(op)
        wt = self.m.tensors[op.inputs[1]]
        if wt.data is None or len(wt.shape) != 2:
            raise LinRepError("weights are not a 2-D constant")
        if op.options.get("WeightsFormat", 0) != 0:
            raise LinRepError("shuffled weights are not supported")
        w = wt.data
        shape = self.g.tensors[x].shape
        if len(shape) == 3:  # FC flattens its input (NHWC order): flatten here
            flat = (int(np.prod(shape)),)
            chw = (shape[0], shape[1], shape[2])
            x = self._emit_inner("RESHAPE", [x], flat, f"{_short_name(self.m.tensors[op.outputs[0]].name)}/flatten")
            self.flattened[x] = chw
        if self.g.tensors[x].shape != (w.shape[1],):
            raise LinRepError(f"input of {self.g.tensors[x].shape} for weights {list(w.shape)}")
        if x in self.flattened:  # NCHW flatten: column c·H·W + h·W + w takes TFLite's column (h·W + w)·C + c
            c, h, wd = self.flattened[x]
            w = w[:, np.arange(c * h * wd).reshape(h, wd, c).transpose(2, 0, 1).reshape(-1)]
        cout = w.shape[0]
        if _nchw(self.m.tensors[op.outputs[0]].shape) != (cout,):
            raise LinRepError(f"output shape {list(self.m.tensors[op.outputs[0]].shape)} is not [1, {cout}]")
        act = self._activation(op)
        bias = self._bias(op, cout)
        weight = self._weights(op, np.ascontiguousarray(w))
        if self.int8:
            per_channel = self.m.tensors[op.inputs[1]].scale.size > 1
            params = self._weighted_params(x, weight, op.outputs[0], bias, act, per_channel)
            self._emit(op, "LINEAR", [x], out_channels=cout, weight=weight, iparams=params)
            return
        b = self.g.add_constant(bias) if bias is not None else -1
        self._fp32_activation(self._emit(op, "LINEAR", [x], out_channels=cout, weight=weight, bias=b), act, True)

    def add(self, op: TflOp) -> None:
        """ADD and SUB (format version 7; TFLite's SUB: ADD's integers, the second input subtracted)."""
        kind = "SUB" if op.type == "SUB" else "ADD"
        a, b = self._input(op, 0), self._input(op, 1)
        sa, sb = self.g.tensors[a].shape, self.g.tensors[b].shape
        if len(sb) == 3 and sa in ((sb[0],), (sb[0], 1, 1)) and sa != sb:
            if kind == "SUB":
                raise LinRepError(f"a per-channel operand {sa} minus a feature map {sb} (only the feature map first)")
            a, b, sa, sb = b, a, sb, sa  # the gate first: TFLite's ADD commutes, ours takes it second
        if sa != sb and not (sb in ((sa[0],), (sa[0], 1, 1)) and len(sa) == 3):
            raise LinRepError(f"inputs of shapes {sa} and {sb} (equal shapes or one value per channel)")
        act = self._activation(op)
        if not self.int8:
            self._fp32_activation(self._emit(op, kind, [a, b]), act, True)
            return
        (s0, _), (s1, _) = self._quant(a), self._quant(b)
        out = self._tensor(self.m.tensors[op.outputs[0]])
        s_out, zp_out = out.scale, out.zero_point
        # TFLite Micro's Prepare for int8 ADD (left shift 20), in double from the float32 scales
        twice_max = 2.0 * float(max(np.float32(s0), np.float32(s1)))
        reals = (float(np.float32(s0)) / twice_max, float(np.float32(s1)) / twice_max,
                 twice_max / ((1 << 20) * float(np.float32(s_out))))
        if not reals[2] < 1.0:
            raise LinRepError(f"output scale {s_out} too small for TFLite's int8 ADD (multiplier {reals[2]} >= 1)")
        mq = [arith.quantize_multiplier_smaller_than_one(r) for r in reals]
        lo, hi = activation_range(act, s_out, zp_out)
        self._emit(op, kind, [a, b], iparams=IntParams(np.array([m for m, _ in mq], np.int32),
                                                        np.array([s for _, s in mq], np.int32), lo, hi))

    def padv2(self, op: TflOp) -> None:
        """PADV2 by the lowest value (−inf; int8: −128) read only by VALID MAX_POOL_2Ds (litert-torch's max pool with
        padding): the pool's own padding, whose taps a max ignores just as it ignores the lowest value."""
        x = self._input(op)
        p, v = self.m.tensors[op.inputs[1]].data, self.m.tensors[op.inputs[2]].data
        users = self._readers(op.outputs[0])
        lowest = v is not None and v.size == 1 and (float(v.reshape(-1)[0]) == -np.inf if not self.int8
                                                      else int(v.reshape(-1)[0]) == -128)
        if p is None or p.shape != (4, 2) or p[0].any() or p[3].any() or (p < 0).any() or not lowest or not users or \
                op.outputs[0] in self.m.outputs or \
                any(o.type != "MAX_POOL_2D" or o.options.get("Padding") != 1 for o in users):
            raise LinRepError("PADV2 other than by the lowest value (-inf, int8 -128) before VALID MAX_POOL_2Ds only")
        self._same_quant(op, [x])
        self.env[op.outputs[0]] = x
        self.not_ours.add(op.outputs[0])
        self.max_pads[op.outputs[0]] = (int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1]))

    def pool(self, op: TflOp) -> None:
        x = self._input(op)
        c, h, w = self.g.tensors[x].shape
        o = self._geometry(op, "Pool2DOptions", ("FilterHeight", "FilterWidth", "StrideH", "StrideW"))
        k, stride = (o["FilterHeight"], o["FilterWidth"]), (o["StrideH"], o["StrideW"])
        pt, pl, pb, pr = self.max_pads.get(op.inputs[0], (0, 0, 0, 0))  # a PADV2 before it (`padv2`)
        if max(pt, pb) >= k[0] or max(pl, pr) >= k[1]:
            raise LinRepError(f"PADV2 by {(pt, pl, pb, pr)} before a {k[0]}x{k[1]} max pool: a window of padding only")
        oh = _out_size(int(o["Padding"]), h + pt + pb, k[0], stride[0], 1)
        ow = _out_size(int(o["Padding"]), w + pl + pr, k[1], stride[1], 1)
        if _nchw(self.m.tensors[op.outputs[0]].shape) != (c, oh, ow):
            raise LinRepError(f"output shape {list(self.m.tensors[op.outputs[0]].shape)} is not [1, {oh}, {ow}, {c}]")
        top, bottom = same_pads(h, k[0], stride[0], 1, oh) if o["Padding"] == 0 else (pt, pb)
        left, right = same_pads(w, k[1], stride[1], 1, ow) if o["Padding"] == 0 else (pl, pr)
        self._same_quant(op, [x])
        act = self._activation(op)
        kind = "MAX_POOL2D" if op.type == "MAX_POOL_2D" else "AVG_POOL2D"
        new = self._emit(op, kind, [x], kernel=k, stride=stride, pads=(top, left, bottom, right),
                         count_include_pad=False)
        if self.int8:
            s, zp = self._quant(new.output)
            new.iparams = _no_params(*activation_range(act, s, zp))
        else:
            self._fp32_activation(new, act, False)

    def softmax(self, op: TflOp) -> None:
        x = self._input(op)
        if len(self.g.tensors[x].shape) not in (1, 3):
            raise LinRepError("softmax over a tensor that is neither [1, F] nor [1, H, W, C]")
        beta = float(np.float32(op.options.get("Beta", 1.0)))
        if not 0 < beta < np.inf:
            raise LinRepError(f"softmax beta {beta}")
        new = self._emit(op, "SOFTMAX", [x])
        if not self.int8:
            if beta != 1.0:
                raise LinRepError(f"softmax with beta {beta} (only 1 in float models)")
            return
        out = self.g.tensors[new.output]
        if (np.float32(out.scale), out.zero_point) != (np.float32(1.0 / 256.0), -128):
            raise LinRepError(f"int8 softmax output quantisation ({out.scale}, {out.zero_point}) is not (1/256, -128)")
        # TFLite's PreprocessSoftmaxScaling and CalculateInputRadius (5 integer bits of the scaled difference)
        s_in, _ = self._quant(x)
        real = min(beta * float(np.float32(s_in)) * float(1 << (31 - SOFTMAX_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
        m, shift = arith.quantize_multiplier(real)
        if real <= 1.0 or shift < 0:
            raise LinRepError(f"softmax input scale {s_in} too small for TFLite's int8 softmax")
        radius = math.floor(((1 << SOFTMAX_DIFF_INTEGER_BITS) - 1) * float(1 << (31 - SOFTMAX_DIFF_INTEGER_BITS))
                            / float(1 << shift))
        new.iparams = IntParams(np.array([m], np.int32), np.array([shift], np.int32), extra=np.array([-radius], np.int32))

    # -- elementwise activations (docs/INTEGER.md §6) ---------------------------------------------------
    ACTIVATION_OPS = {"LOGISTIC": "SIGMOID", "HARD_SWISH": "HARDSWISH", "TANH": "TANH", "RELU": "RELU", "RELU6": "RELU6",
                      "LEAKY_RELU": "LEAKY_RELU"}

    def activation(self, op: TflOp) -> None:
        """An elementwise activation: in int8 files, the integers TFLite Micro's Prepare computes."""
        x = self._input(op)
        kw = {"alpha": float(np.float32(op.options.get("Alpha", 0.0)))} if op.type == "LEAKY_RELU" else {}
        new = self._emit(op, self.ACTIVATION_OPS[op.type], [x], **kw)
        if not self.int8:
            return
        s_in, _ = self._quant(x)
        out = self.g.tensors[new.output]
        if op.type in ("LOGISTIC", "TANH"):
            want = (1.0 / 256.0, -128) if op.type == "LOGISTIC" else (1.0 / 128.0, 0)
            if (np.float32(out.scale), out.zero_point) != (np.float32(want[0]), want[1]):
                raise LinRepError(f"int8 {op.type.lower()} output quantisation ({out.scale}, {out.zero_point}) is not "
                                  f"(1/{round(1 / want[0])}, {want[1]})")
            try:
                m, shift, radius = arith.input_rescale_params(s_in, 4)
            except ValueError as exc:
                raise LinRepError(str(exc)) from None
            new.iparams = IntParams(np.array([m], np.int32), np.array([shift], np.int32),
                                    extra=np.array([radius], np.int32))
        elif op.type == "RELU":  # TFLite Micro's CalculateReluOpData: requantise, clamp at 0
            m, shift = arith.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(out.scale)))
            if shift > 23:
                raise LinRepError(f"input/output scales {s_in}/{out.scale}: a left shift of {shift} (at most 23)")
            lo, hi = arith.clamp_range(0.0, math.inf, out.scale, out.zero_point)
            new.iparams = IntParams(np.array([m], np.int32), np.array([shift], np.int32), lo, hi)
        elif op.type == "RELU6":  # TFLite Micro's Relu6: the input bytes clamped to [zp_in, q(6)], no requantising
            zp_in = self.g.tensors[x].zero_point
            if (np.float32(s_in), zp_in) != (np.float32(out.scale), out.zero_point):
                raise LinRepError(f"input and output quantised apart ({s_in}, {zp_in}) vs ({out.scale}, "
                                  f"{out.zero_point}): TFLite Micro's int8 RELU6 ignores the output quantisation")
            six = min(127, max(-128, _round_half_away(float(np.float32(6.0) / np.float32(s_in))) + zp_in))
            new.iparams = _no_params(zp_in, six)
        elif op.type == "LEAKY_RELU":  # TFLite Micro's CalculateOpDataLeakyRelu
            try:
                mi, si, ma, sa = arith.leaky_relu_params(s_in, new.alpha, out.scale)
            except ValueError as exc:
                raise LinRepError(str(exc)) from None
            new.iparams = IntParams(np.array([mi, ma], np.int32), np.array([si, sa], np.int32))
        elif op.type == "HARD_SWISH":
            try:
                out_m, out_e, rel_m, rel_e = arith.hardswish_params(s_in, out.scale)
            except ValueError as exc:
                raise LinRepError(str(exc)) from None
            new.iparams = IntParams(np.array([out_m, rel_m], np.int32), np.array([out_e, rel_e], np.int32))

    def unary(self, op: TflOp) -> None:
        """ELU and GELU (exact or tanh): one UNARY op; in int8 files, the lookup table TFLite's Prepare builds."""
        x = self._input(op)
        fn = "ELU" if op.type == "ELU" else "GELU_TANH" if op.options.get("Approximate") else "GELU"
        new = self._emit(op, "UNARY", [x], mode=int(getattr(Unary, fn)), alpha=1.0, beta=1.0 if fn == "ELU" else 0.0)
        if self.int8:
            s_in, zp_in = self._quant(x)
            out = self.g.tensors[new.output]
            new.iparams = unary_params(new, s_in, zp_in, out.scale, out.zero_point)

    def prelu(self, op: TflOp) -> None:
        """PRELU with a constant slope tensor: one slope, or one per channel (TFLite broadcasts [1, 1, C] or
        [C]); int8 files: the slopes' integers and zero point in qparams, TFLite Micro's two multipliers."""
        x = self._input(op)
        t = self.m.tensors[op.inputs[1]]
        c = self.g.tensors[x].shape[0]
        if t.data is None or t.data.size not in (1, c) or (t.data.size > 1 and t.shape[-1] != c):
            raise LinRepError(f"slope {t.name!r} is not a constant of 1 or {c} (per channel) values")
        raw = t.data.reshape(-1)
        if not self.int8:
            self._emit(op, "PRELU", [x], weight=self.g.add_constant(raw.astype(np.float32)))
            return
        if t.type != "INT8" or t.scale.size != 1:
            raise LinRepError(f"slope {t.name!r}: int8 with one scale expected, got {t.type} with {t.scale.size}")
        s_a, zp_a = float(t.scale[0]), int(t.zero_point[0]) if t.zero_point.size else 0
        values = ((raw.astype(np.float32) - np.float32(zp_a)) * np.float32(s_a)).astype(np.float32)
        new = self._emit(op, "PRELU", [x], weight=self.g.add_constant(values))
        s_in, _ = self._quant(x)
        out = self.g.tensors[new.output]
        try:
            m1, s1, m2, s2 = arith.prelu_params(s_in, s_a, out.scale)
        except ValueError as exc:
            raise LinRepError(str(exc)) from None
        new.iparams = IntParams(np.array([m1, m2], np.int32), np.array([s1, s2], np.int32),
                                extra=np.concatenate([[zp_a], raw.astype(np.int64)]).astype(np.int32))

    def reshape(self, op: TflOp) -> None:
        if op.index == self.layout_op:
            self._layout(op)
            return
        x = self._input(op)
        src = self.g.tensors[x].shape
        try:
            dst = _nchw(self.m.tensors[op.outputs[0]].shape)
        except LinRepError:
            if self._move_chain(op):
                return
            raise
        if int(np.prod(src)) != int(np.prod(dst)):
            raise LinRepError(f"reshape of {src} to {dst} changes the element count")
        self._same_quant(op, [x])
        channel_only = all(len(s) == 1 or s[1] * s[2] == 1 for s in (src, dst))
        if src == dst:
            self.env[op.outputs[0]] = x
        elif channel_only:
            self._emit(op, "RESHAPE", [x])
        elif len(src) == 3 and len(dst) == 1:
            consumers = self._readers(op.outputs[0])
            if consumers and all(o.type == "FULLY_CONNECTED" and o.inputs[0] == op.outputs[0] for o in consumers) \
                    and op.outputs[0] not in self.m.outputs:
                new = self._emit(op, "RESHAPE", [x])
                self.flattened[new.output] = (src[0], src[1], src[2])
            else:
                self._emit(op, "TRANSPOSE_HWC", [x])
        elif not self._move_chain(op):
            raise LinRepError(f"reshape of NHWC {list(self.m.tensors[op.inputs[0]].shape)} to "
                              f"{list(self.m.tensors[op.outputs[0]].shape)} has no NCHW equivalent")

    def _move_chain(self, op: TflOp) -> bool:
        """TRANSPOSEs and RESHAPEs from an NHWC map to another (or to an NCHW model output), as litert-torch writes
        torch's channel shuffle and pixel shuffle: the chain is followed while each tensor has one reader, run on the
        elements' indices, and imported as the one op of ours that moves every element the same way (the identity,
        CHANNEL_SHUFFLE, PIXEL_SHUFFLE in any mode); False if none does."""
        t_in = self.m.tensors[op.inputs[0]]
        x = self.env.get(op.inputs[0], -1)
        if len(t_in.shape) != 4 or t_in.shape[0] != 1 or x < 0 or len(self.g.tensors[x].shape) != 3:
            return False
        chain = [op]
        while chain[-1].outputs[0] not in self.m.outputs:
            users = self._readers(chain[-1].outputs[0])
            if len(users) != 1 or users[0].type not in ("TRANSPOSE", "RESHAPE") or len(users[0].inputs) < 2 or \
                    users[0].inputs[0] != chain[-1].outputs[0]:
                break
            chain.append(users[0])
        idx = np.arange(int(np.prod(t_in.shape))).reshape(t_in.shape)
        for o in chain:  # the chain on the elements' indices, in TFLite's layouts
            shape = self.m.tensors[o.outputs[0]].shape
            if o.type == "RESHAPE":
                if int(np.prod(shape)) != idx.size:
                    return False
                idx = idx.reshape(shape)
                continue
            perm = self.m.tensors[o.inputs[1]].data
            if perm is None or sorted(int(v) for v in perm.reshape(-1)) != list(range(idx.ndim)):
                return False
            idx = idx.transpose(tuple(int(v) for v in perm.reshape(-1)))
        c, h, w = self.g.tensors[x].shape
        hh, ww, cc = np.unravel_index(np.arange(h * w * c), (h, w, c))
        ours = (cc * h * w + hh * w + ww)[idx.reshape(-1)]  # each output element's index in our input
        end = chain[-1].outputs[0]
        t_end = self.m.tensors[end]
        if len(t_end.shape) != 4 or t_end.shape[0] != 1:
            return False
        for nchw in ((True, False) if end in self.m.outputs else (False,)):
            _, a, b, d = t_end.shape
            moved = ours.reshape(a, b, d) if nchw else ours.reshape(a, b, d).transpose(2, 0, 1)
            found = _same_move(moved, (c, h, w))
            if found is None:
                continue
            if self.int8 and any((np.float32(self.m.tensors[o.outputs[0]].scale[:1].sum()),
                                  int(self.m.tensors[o.outputs[0]].zero_point[:1].sum())) !=
                                 (np.float32(self.g.tensors[x].scale), self.g.tensors[x].zero_point) for o in chain):
                raise LinRepError("a TRANSPOSE / RESHAPE chain whose tensors are quantised apart")
            self.absorbed.update(o.index for o in chain[1:])
            if found[0] == "identity":
                self.env[end] = x
            else:
                self.g.tensors.append(self._tensor(t_end, moved.shape))
                self.g.ops.append(Op(found[0], _short_name(t_end.name), [x], len(self.g.tensors) - 1,
                                     **found[1]))  # type: ignore[arg-type]
                if self.int8:
                    self.g.ops[-1].iparams = _no_params()
                self.env[end] = len(self.g.tensors) - 1
            if nchw:
                self.nchw_outputs.add(end)
            return True
        return False

    def slice(self, op: TflOp) -> None:
        """SLICE of [1, H, W, C] along the channels only (shufflenet's split, litert-torch's `x[:, a:b]`):
        our SLICE of channels [begin, begin + size)."""
        x = self._input(op)
        t = self.m.tensors[op.inputs[0]]
        begin, size = self.m.tensors[op.inputs[1]].data, self.m.tensors[op.inputs[2]].data
        if begin is None or size is None or len(t.shape) != 4 or begin.size != 4 or size.size != 4:
            raise LinRepError("SLICE of a tensor that is not [1, H, W, C], or by begin / size that are not constants")
        b = [int(v) for v in begin.reshape(-1)]
        n = [int(v) if int(v) >= 0 else t.shape[k] - b[k] for k, v in enumerate(size.reshape(-1))]
        if b[:3] != [0, 0, 0] or n[:3] != list(t.shape[:3]) or not (0 <= b[3] and 0 < n[3] and b[3] + n[3] <= t.shape[3]):
            raise LinRepError(f"SLICE from {b} of size {n} (only along the channels)")
        self._same_quant(op, [x])
        self._emit(op, "SLICE", [x], start=b[3], out_channels=n[3])

    def _layout(self, op: TflOp) -> None:
        """The model input's NCHW → NHWC layout op: the identity on our [C, H, W] input."""
        x = self._input(op)
        self._same_quant(op, [x])
        self.env[op.outputs[0]] = x
        if op.index == self.layout_op and self.layout_op2 >= 0:
            self.not_ours.add(op.outputs[0])  # a 1-D input's [1, C, 1, L]: NCHW, read by the TRANSPOSE only

    def transpose(self, op: TflOp) -> None:
        if op.index in (self.layout_op, self.layout_op2):
            self._layout(op)
            return
        perm = self.m.tensors[op.inputs[1]].data
        users = self._readers(op.outputs[0])
        if perm is not None and tuple(int(v) for v in perm.reshape(-1)) == NHWC_TO_NCHW and not users and \
                op.outputs[0] in self.m.outputs:  # a map given back as NCHW (litert-torch): ours is [C, H, W]
            x = self._input(op)
            self._same_quant(op, [x])
            if len(self.g.tensors[x].shape) != 3:
                raise LinRepError("a TRANSPOSE [0, 3, 1, 2] to a model output of a tensor that is not [1, H, W, C]")
            self.env[op.outputs[0]] = x
            self.nchw_outputs.add(op.outputs[0])
            return
        if perm is not None and tuple(int(v) for v in perm.reshape(-1)) == NHWC_TO_NCHW and users and \
                op.outputs[0] not in self.m.outputs and all(self._nchw_mean(o) for o in users):
            x = self._input(op)  # NCHW for the MEAN after it: ours already is; the MEAN maps its axes
            self._same_quant(op, [x])
            self.env[op.outputs[0]] = x
            self.nchw_views.add(op.outputs[0])
            self.not_ours.add(op.outputs[0])
            return
        if self._move_chain(op):
            return
        raise LinRepError("a TRANSPOSE other than the model input's NCHW → NHWC layout change ([0, 2, 3, 1] of "
                          "the input) or an NHWC → NCHW one ([0, 3, 1, 2]) read only by a MEAN over H and W or "
                          "giving a model output, or a TRANSPOSE / RESHAPE chain that is a channel or pixel shuffle")

    def _nchw_mean(self, op: TflOp) -> bool:
        """A MEAN / REDUCE_MAX over H and W of an NCHW map ([2, 3]) that drops the dimensions (litert-torch's
        `x.mean((2, 3))`)."""
        axis = self.m.tensors[op.inputs[1]].data if op.type in ("MEAN", "REDUCE_MAX") and len(op.inputs) > 1 else None
        return axis is not None and axis.size > 0 and not op.options.get("KeepDims", False) and \
            {int(a) % 4 for a in axis.reshape(-1)} == {2, 3}

    def mean(self, op: TflOp) -> None:
        """MEAN / REDUCE_MAX of [1, H, W, C] over H and W (global pooling) or over the channels (CBAM's maps).
        Over H and W: MEAN is ADAPTIVE_AVG_POOL2D to 1×1 with TFLite Micro's integers (one multiplier holding
        1/(H·W)), REDUCE_MAX a MAX_POOL2D of the whole map (input and output quantised alike, TFLite's rule);
        then a RESHAPE to [C] when the file drops the dimensions. Over the channels (keep_dims: [1, H, W, 1]):
        the map read as [1, C, H·W] (a RESHAPE), MEAN an ADAPTIVE_AVG_POOL2D to 1 × H·W (the multiplier holding
        1/C), REDUCE_MAX a MAX_POOL2D by C × 1, read back as [1, H, W]."""
        x = self._input(op)
        what = op.type
        if len(self.g.tensors[x].shape) != 3:
            raise LinRepError(f"{what} of a tensor that is not [1, H, W, C]")
        c, h, w = self.g.tensors[x].shape
        axis = self.m.tensors[op.inputs[1]].data
        if axis is None or axis.size == 0:
            raise LinRepError(f"{what} with an axis that is not a constant")
        axes = {int(a) % 4 for a in axis.reshape(-1)}
        if op.inputs[0] in self.nchw_views:  # the NCHW view of our map (see `transpose`): its axes in NHWC
            axes = {NCHW_AXES[a] for a in axes}
        if any(not -4 <= int(a) < 4 for a in axis.reshape(-1)) or axes not in ({1, 2}, {3}):
            raise LinRepError(f"{what} over axes {axis.reshape(-1).tolist()} (only over H and W: [1, 2], or over "
                              "the channels: [3])")
        keep = bool(op.options.get("KeepDims", False))
        out_t = self.m.tensors[op.outputs[0]]
        if axes == {3}:
            self._reduce_channels(op, x, keep)
            return
        want = (1, 1, 1, c) if keep else (1, c)
        if tuple(out_t.shape) != want:
            raise LinRepError(f"{what} output shape {list(out_t.shape)} is not {list(want)}")
        name = _short_name(out_t.name)
        params = _no_params() if self.int8 else None
        if what == "REDUCE_MAX":
            self._same_quant(op, [x])
            kw: dict[str, object] = {"kernel": (h, w), "stride": (h, w), "pads": (0, 0, 0, 0)}
            kind = "MAX_POOL2D"
        else:
            if self.int8:
                out = self._tensor(out_t)
                params = mean_params(*self._quant(x), out.scale, out.zero_point, h * w)
            kw, kind = {"kernel": (1, 1)}, "ADAPTIVE_AVG_POOL2D"
        if keep:
            self._emit(op, kind, [x], iparams=params, **kw)
            return
        self.g.tensors.append(self._tensor(out_t, (c, 1, 1)))
        self.g.tensors[-1].name = f"{name}/pool"
        pooled = len(self.g.tensors) - 1
        self.g.ops.append(Op(kind, f"{name}/pool", [x], pooled, iparams=params, **kw))  # type: ignore[arg-type]
        self._emit(op, "RESHAPE", [pooled])

    def _reduce_channels(self, op: TflOp, x: int, keep: bool) -> None:
        """MEAN / REDUCE_MAX over the channels of [1, H, W, C] to [1, H, W, 1] (see `mean`)."""
        c, h, w = self.g.tensors[x].shape
        out_t = self.m.tensors[op.outputs[0]]
        if not keep or tuple(out_t.shape) != (1, h, w, 1):
            raise LinRepError(f"{op.type} over the channels to {list(out_t.shape)} (only keep_dims: [1, {h}, {w}, 1])")
        name = _short_name(out_t.name)
        if x not in self.planes:
            self.planes[x] = self._emit_inner("RESHAPE", [x], (1, c, h * w), f"{name}/plane")
        plane = self.planes[x]
        if op.type == "REDUCE_MAX":
            self._same_quant(op, [x])
            red = self._emit_inner("MAX_POOL2D", [plane], (1, 1, h * w), f"{name}/max", kernel=(c, 1), stride=(c, 1),
                                   pads=(0, 0, 0, 0))
        else:
            self.g.tensors.append(self._tensor(out_t, (1, 1, h * w)))
            self.g.tensors[-1].name = f"{name}/mean"
            red = len(self.g.tensors) - 1
            params = None
            if self.int8:
                params = mean_params(*self._quant(x), self.g.tensors[red].scale, self.g.tensors[red].zero_point, c)
            self.g.ops.append(Op("ADAPTIVE_AVG_POOL2D", f"{name}/mean", [plane], red, kernel=(1, h * w),
                                 iparams=params))
        self._emit(op, "RESHAPE", [red])

    def concat(self, op: TflOp) -> None:
        xs = [self._input(op, k) for k in range(len(op.inputs))]
        rank = len(self.m.tensors[op.inputs[0]].shape)
        axis = int(op.options.get("Axis", 0)) % rank
        if axis != rank - 1:
            raise LinRepError(f"concatenation along axis {axis} (only the channel axis)")
        if self._activation(op) != "NONE":
            raise LinRepError("fused activation on a concatenation")
        self._same_quant(op, xs)
        self._emit(op, "CONCAT", xs)

    def pad(self, op: TflOp) -> None:
        x = self._input(op)
        p = self.m.tensors[op.inputs[1]].data
        if p is None or p.shape != (4, 2) or p[0].any() or p[3].any() or (p < 0).any():
            raise LinRepError("padding other than a constant non-negative spatial [[0,0],[t,b],[l,r],[0,0]]")
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            raise LinRepError("padding with a value other than zero")
        self._same_quant(op, [x])
        pads = (int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1]))
        self._emit(op, "PAD", [x], pads=pads, alpha=0.0)

    def depth_space(self, op: TflOp) -> None:
        """DEPTH_TO_SPACE / SPACE_TO_DEPTH (NHWC: depth index (i r + j) C + c): PIXEL_SHUFFLE mode 2 / 3 (format
        version 8), input and output quantised alike (TFLite's rule)."""
        x = self._input(op)
        r = int(op.options.get("BlockSize", 0))
        if len(self.g.tensors[x].shape) != 3 or r < 1:
            raise LinRepError(f"{op.type.lower()} of a tensor that is not [1, H, W, C], or block size {r}")
        self._same_quant(op, [x])
        self._emit(op, "PIXEL_SHUFFLE", [x], mode=2 if op.type == "DEPTH_TO_SPACE" else 3, stride=(r, r))

    def _island(self, op: TflOp) -> TflOp | None:
        """The QUANTIZE closing DEQUANTIZE `op` → one value-picking op (ISLAND_OPS) → QUANTIZE, as ai-edge-quantizer
        leaves in float an op it does not quantise (REDUCE_MAX); None if `op` opens no such island."""
        mid = self._readers(op.outputs[0])
        if len(mid) != 1 or mid[0].type not in ISLAND_OPS or mid[0].inputs[0] != op.outputs[0] or \
                op.outputs[0] in self.m.outputs or mid[0].outputs[0] in self.m.outputs:
            return None
        end = self._readers(mid[0].outputs[0])
        return end[0] if len(end) == 1 and end[0].type == "QUANTIZE" else None

    def _float_island(self, op: TflOp, end: TflOp) -> None:
        """DEQUANTIZE → REDUCE_MAX / MAX_POOL_2D → QUANTIZE: the picking op runs on the int8 bytes (the dequantised
        values' max is the max's dequantised value), its tensors take the DEQUANTIZE input's quantisation; the
        QUANTIZE becomes a requantising table (`requantize_table`) if it changes the quantisation."""
        src = self.m.tensors[op.inputs[0]]
        mid = self._readers(op.outputs[0])[0]
        for t in (op.outputs[0], mid.outputs[0]):
            self.m.tensors[t] = replace(self.m.tensors[t], type="INT8", scale=src.scale, zero_point=src.zero_point)
            self.not_ours.add(t)  # float in the file
        self.env[op.outputs[0]] = self._input(op)
        self.island_ends.add(end.index)

    def _island_end(self, op: TflOp) -> None:
        x = self._input(op)
        s_in, zp_in = self._quant(x)
        out = self._tensor(self.m.tensors[op.outputs[0]])
        if (np.float32(s_in), zp_in) == (np.float32(out.scale), out.zero_point):
            self.env[op.outputs[0]] = x  # the same quantisation: TFLite's round trip gives every byte back
            return
        self._table_op(op, x, 1.0, requantize_table(s_in, zp_in, out.scale, out.zero_point))

    def _table_op(self, op: TflOp, x: int, alpha: float, table: np.ndarray) -> None:
        """UNARY's scale, alpha · x (format version 9): in an int8 graph one byte → byte table of TFLite's own
        arithmetic (an int8 model runs the table, alpha says what it means)."""
        new = self._emit(op, "UNARY", [x], mode=int(Unary.SCALE), alpha=float(np.float32(alpha)), beta=0.0)
        empty = np.zeros(0, np.int32)
        new.iparams = IntParams(empty, empty.copy(), table=table)

    def _requantize(self, op: TflOp) -> None:
        """QUANTIZE of an int8 tensor to another int8 quantisation (ai-edge-quantizer's before a CONCATENATION): TFLite
        Micro's Requantize, clamp(MBQM(x − zp_in, M, s) + zp_out) with M, s of s_in / s_out, as a table."""
        x = self._input(op)
        s_in, zp_in = self._quant(x)
        out = self._tensor(self.m.tensors[op.outputs[0]])
        if (np.float32(s_in), zp_in) == (np.float32(out.scale), out.zero_point):
            self.env[op.outputs[0]] = x
            return
        m, shift = arith.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(out.scale)))
        y = arith.multiply_by_quantized_multiplier(BYTES - zp_in, m, shift) + out.zero_point
        self._table_op(op, x, 1.0, byte_table(arith.saturate_int8(y)))

    def quantize_ends(self, op: TflOp) -> None:
        """QUANTIZE of a float model input / DEQUANTIZE to a model output: dropped (int8 graph I/O); QUANTIZE of an
        int8 tensor: a requantising table (`_requantize`); DEQUANTIZE of a constant: that constant (weight-only files); DEQUANTIZE → REDUCE_MAX / MAX_POOL_2D → QUANTIZE inside
        the graph: the picking op in int8 (`_float_island`)."""
        if op.type == "QUANTIZE" and op.index in self.island_ends:
            self._island_end(op)
            return
        src = self.m.tensors[op.inputs[0]]
        if op.type == "DEQUANTIZE" and src.data is not None and src.type in ("INT8", "FLOAT16"):
            # a weight-only file's weights (ai-edge-quantizer's weight_only recipes, TFLite's float16 files): the
            # constant itself, int8 with its scales (as a dynamic-range file's, kept int8) or fp16 as fp32
            out = self.m.tensors[op.outputs[0]]
            self.m.tensors[op.outputs[0]] = replace(src, name=out.name) if src.type == "INT8" else \
                replace(src, name=out.name, type="FLOAT32", data=src.data.astype(np.float32))
            return
        if op.type == "QUANTIZE" and self.int8 and self.m.tensors[op.inputs[0]].type == "INT8":
            self._requantize(op)
            return
        end = self._island(op) if op.type == "DEQUANTIZE" and self.int8 else None
        if end is not None:
            self._float_island(op, end)
            return
        if op.type == "QUANTIZE" and op.inputs[0] in self.m.inputs and self.int8 and \
                self.m.tensors[op.inputs[0]].type == "FLOAT32":
            self.env[op.outputs[0]] = self.g.input
            t = self.m.tensors[op.outputs[0]]
            self.g.tensors[self.g.input] = self._tensor(t, self._input_shape(t))
            return
        if op.type == "DEQUANTIZE" and op.outputs[0] in self.m.outputs and self.int8:
            self.env[op.outputs[0]] = self._input(op)
            return
        raise LinRepError("only a QUANTIZE of the float model input or of an int8 tensor, a DEQUANTIZE to a model "
                          "output, or a DEQUANTIZE → REDUCE_MAX / MAX_POOL_2D → QUANTIZE is supported (other ops "
                          "left in float between int8 ones are not)")

    # -- MUL, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE_CONV (docs/INTEGER.md §2) ---------------------
    def geo_handlers(self) -> dict[str, object]:
        return {"MUL": self.mul, "RESIZE_NEAREST_NEIGHBOR": self.resize, "RESIZE_BILINEAR": self.resize,
                "TRANSPOSE_CONV": self.transpose_conv}

    def mul(self, op: TflOp) -> None:
        """MUL of equal shapes, by one value per channel, or (format version 8) by one value per pixel ([1, H, W, 1]
        times [1, H, W, C]); int8: TFLite Micro's multiplier s0·s1 / s_out. By a constant: `_mul_constant`."""
        consts = [k for k in (0, 1) if self.m.tensors[op.inputs[k]].data is not None]
        if len(consts) == 1:
            self._mul_constant(op, 1 - consts[0], consts[0])
            return
        a, b = self._input(op, 0), self._input(op, 1)
        sa, sb = self.g.tensors[a].shape, self.g.tensors[b].shape
        if operand_form(sa, sb, "MUL") is None and operand_form(sb, sa, "MUL") is not None:
            a, b, sa, sb = b, a, sb, sa  # the gate first: MUL commutes, ours takes it second
        if operand_form(sa, sb, "MUL") is None:
            raise LinRepError(f"inputs of shapes {sa} and {sb} (equal shapes, one value per channel or per pixel)")
        act = self._activation(op)
        if not self.int8:
            self._fp32_activation(self._emit(op, "MUL", [a, b]), act, True)
            return
        (s0, _), (s1, _) = self._quant(a), self._quant(b)
        out = self._tensor(self.m.tensors[op.outputs[0]])
        m, shift = arith.quantize_multiplier(arith.requant_scale(s0, s1, divide_by=out.scale))
        if shift > 15:
            raise LinRepError(f"output scale {out.scale} too small for the inputs' scales {s0}, {s1} (left shift "
                              f"{shift} > 15: the product would overflow int32)")
        lo, hi = activation_range(act, out.scale, out.zero_point)
        self._emit(op, "MUL", [a, b], iparams=IntParams(np.array([m], np.int32), np.array([shift], np.int32), lo, hi))

    def _mul_constant(self, op: TflOp, k_x: int, k_c: int) -> None:
        """MUL by a constant of one value or one per channel (litert-torch's `x * 0.25`, hardsigmoid's `/ 6`): an
        AFFINE op (weight the constant per channel, zero bias). int8, one value: TFLite's MUL on every byte as a
        UNARY scale's table; one per channel: TFLite's MUL, (x − zp_x)·(q_c − zp_c) through the multiplier
        s_x·s_c / s_out, is AFFINE's (x − zp_x)·w through per-channel multipliers all equal to it, with
        w = q_c − zp_c (it must fit int8)."""
        x = self._input(op, k_x)
        t = self.m.tensors[op.inputs[k_c]]
        shape = self.g.tensors[x].shape
        c = shape[0]
        raw = t.data.reshape(-1)  # type: ignore[union-attr]
        if raw.size not in (1, c) or (raw.size > 1 and (len(shape) != 3 or t.shape[-1] != c)):
            raise LinRepError(f"MUL by the constant {t.name!r} of shape {list(t.shape)} (one value, or one per channel "
                              f"of the {c} channels)")
        act = self._activation(op)
        per = np.broadcast_to(raw, (c,))
        if not self.int8:
            new = self._emit(op, "AFFINE", [x], weight=self.g.add_constant(per.astype(np.float32)),
                             bias=self.g.add_constant(np.zeros(c, np.float32)))
            self._fp32_activation(new, act, True)
            return
        if t.type != "INT8" or t.scale.size != 1:
            raise LinRepError(f"MUL by the constant {t.name!r}: int8 with one scale expected, got {t.type} with "
                              f"{t.scale.size} scales")
        s_c, zp_c = float(t.scale[0]), int(t.zero_point[0]) if t.zero_point.size else 0
        w = per.astype(np.int64) - zp_c
        s_x, zp_x = self._quant(x)
        out = self._tensor(self.m.tensors[op.outputs[0]])
        m, shift = arith.quantize_multiplier(arith.requant_scale(s_x, s_c, divide_by=out.scale))
        lo, hi = activation_range(act, out.scale, out.zero_point)
        if raw.size == 1:  # a function of x alone: TFLite's MUL on every byte, as a table
            y = arith.multiply_by_quantized_multiplier((BYTES - zp_x) * int(w[0]), m, shift) + out.zero_point
            self._table_op(op, x, float(np.float32(s_c) * np.float32(w[0])), byte_table(arith.saturate_int8(y, lo, hi)))
            return
        if w.min() < -128 or w.max() > 127:
            raise LinRepError(f"MUL by the constant {t.name!r}: its integers minus the zero point {zp_c} leave int8")
        self.g.constants.append(Constant((w * np.float32(s_c)).astype(np.float32), "int8", w.astype(np.int8),
                                         np.full(c, np.float32(s_c), np.float32)))
        self._emit(op, "AFFINE", [x], weight=len(self.g.constants) - 1,
                   iparams=IntParams(np.full(c, m, np.int32), np.full(c, shift, np.int32), lo, hi))

    def resize(self, op: TflOp) -> None:
        """RESIZE_NEAREST_NEIGHBOR (neither align_corners nor half_pixel_centers: torch's nearest, any size;
        half_pixel_centers, as litert-torch converts torch's nearest: whole factors) and RESIZE_BILINEAR with half_pixel_centers (torch's align_corners=False) or align_corners."""
        x = self._input(op)
        if len(self.g.tensors[x].shape) != 3:
            raise LinRepError("resize of a tensor that is not [1, H, W, C]")
        c, h, w = self.g.tensors[x].shape
        size = self.m.tensors[op.inputs[1]].data
        out_shape = _nchw(self.m.tensors[op.outputs[0]].shape)
        if size is None or size.size != 2 or out_shape != (c, int(size.reshape(-1)[0]), int(size.reshape(-1)[1])):
            raise LinRepError(f"resize size {None if size is None else size.reshape(-1).tolist()} is not a constant "
                              f"matching the output {list(self.m.tensors[op.outputs[0]].shape)}")
        align, half = bool(op.options.get("AlignCorners", False)), bool(op.options.get("HalfPixelCenters", False))
        _, oh, ow = out_shape
        if op.type == "RESIZE_NEAREST_NEIGHBOR":
            whole = oh % h == 0 and ow % w == 0
            if align or (half and not whole):
                raise LinRepError(f"nearest resize of {h}x{w} to {oh}x{ow} with align_corners={align}, "
                                  f"half_pixel_centers={half} (only both false: torch's nearest; half_pixel_centers "
                                  "at whole factors)")
            # half pixel centres at a whole factor k pick floor((i + 0.5) / k) = floor(i / k): mode 0's rows
            mode = 0 if whole else 3  # 3: any size (format version 8), TFLite's own formula
        elif align == half:
            raise LinRepError(f"bilinear resize with align_corners={align}, half_pixel_centers={half} (one of them "
                              "must be set: torch's align_corners True or False)")
        else:
            mode = 2 if align else 1
        self._same_quant(op, [x])
        self._emit(op, "RESIZE", [x], mode=mode)

    def transpose_conv(self, op: TflOp) -> None:
        """TRANSPOSE_CONV (inputs: output shape, OHWI weights, input, optional bias) → CONV_TRANSPOSE2D, weights
        [Cin, Cout, kh, kw], TFLite Micro's padding (ComputePaddingHeightWidth on the output size) as torch's
        padding p with the output size (in − 1)·s − 2p + k + output_padding, 0 <= output_padding < s."""
        x = self._input(op, 2)
        wt = self.m.tensors[op.inputs[1]]
        if wt.data is None or len(wt.shape) != 4 or len(self.g.tensors[x].shape) != 3:
            raise LinRepError("weights are not a 4-D constant, or the input is not [1, H, W, C]")
        cin, h, w = self.g.tensors[x].shape
        cout, kh, kw, wc = wt.shape
        if wc != cin:
            raise LinRepError(f"weights {list(wt.shape)} for {cin} input channels")
        o = self._geometry(op, "TransposeConvOptions", ("StrideH", "StrideW"))
        stride = (o["StrideH"], o["StrideW"])
        out_shape = _nchw(self.m.tensors[op.outputs[0]].shape)
        if len(out_shape) != 3 or out_shape[0] != cout:
            raise LinRepError(f"output shape {list(self.m.tensors[op.outputs[0]].shape)} for {cout} output channels")
        pads = []
        for size_in, size_out, k, s in ((h, out_shape[1], kh, stride[0]), (w, out_shape[2], kw, stride[1])):
            n = _out_size(int(o["Padding"]), size_out, k, s, 1)  # TFLite: the conv this op transposes
            p = max((n - 1) * s + k - size_out, 0) // 2
            extra = size_out - ((size_in - 1) * s - 2 * p + k)
            if n != size_in or not 0 <= extra < s:
                raise LinRepError(f"transposed conv of {size_in} to {size_out} (kernel {k}, stride {s}, padding "
                                  f"{'SAME' if o['Padding'] == 0 else 'VALID'}) has no torch equivalent (output "
                                  f"padding {extra}, input size {n} expected)")
            pads.append(p)
        act = self._activation(op)
        wq = np.ascontiguousarray(wt.data.transpose(3, 0, 1, 2))  # [Cin, Cout, kh, kw]
        bias = self._bias(op, cout, 3)
        common = dict(kernel=(kh, kw), stride=stride, pads=(pads[0], pads[1], pads[0], pads[1]), out_channels=cout)
        if not self.int8:
            if wt.type != "FLOAT32":
                raise LinRepError(f"weights of type {wt.type} in a float model")
            weight = self.g.add_constant(wq.astype(np.float32))
            b = self.g.add_constant(bias) if bias is not None else -1
            self._fp32_activation(self._emit(op, "CONV_TRANSPOSE2D", [x], weight=weight, bias=b, **common), act, True)
            return
        if wt.type != "INT8" or wt.scale.size not in (1, cout) or (wt.zero_point != 0).any():
            raise LinRepError(f"weights must be int8, symmetric, per tensor or per output channel (got {wt.type}, "
                              f"{wt.scale.size} scales)")
        scale = np.broadcast_to(wt.scale, (cout,)).astype(np.float32)
        if not ((scale > 0) & (scale < np.inf)).all():
            raise LinRepError("weight scales must be positive and finite")
        self.g.constants.append(Constant((wq.astype(np.float32) * scale[None, :, None, None]).astype(np.float32),
                                         "int8", wq.astype(np.int8), scale.copy()))
        params = self._weighted_params(x, len(self.g.constants) - 1, op.outputs[0], bias, act, True)
        self._emit(op, "CONV_TRANSPOSE2D", [x], weight=len(self.g.constants) - 1, iparams=params, **common)

    # -- driver -----------------------------------------------------------------------------------------
    def run(self) -> Graph:
        m = self.m
        if len(m.inputs) != 1:
            raise LinRepError(f"{self.path}: models with {len(m.inputs)} inputs are not supported")
        handlers = {"CONV_2D": self.conv, "DEPTHWISE_CONV_2D": self.conv, "FULLY_CONNECTED": self.fully_connected,
                    "ADD": self.add, "SUB": self.add, "AVERAGE_POOL_2D": self.pool, "MAX_POOL_2D": self.pool, "SOFTMAX": self.softmax,
                    "RESHAPE": self.reshape, "CONCATENATION": self.concat, "PAD": self.pad, "PADV2": self.padv2,
                    "SLICE": self.slice,
                    "DEPTH_TO_SPACE": self.depth_space, "SPACE_TO_DEPTH": self.depth_space,
                    "QUANTIZE": self.quantize_ends, "DEQUANTIZE": self.quantize_ends, "TRANSPOSE": self.transpose,
                    "MEAN": self.mean, "REDUCE_MAX": self.mean, "PRELU": self.prelu, **{k: self.activation for k in self.ACTIVATION_OPS},
                    "ELU": self.unary, "GELU": self.unary,
                    **self.geo_handlers()}
        tin = m.tensors[m.inputs[0]]
        if tin.type == "INT16" or self.m.tensors[self._input_tensor()].type == "INT16" or \
                any(op.type == "QUANTIZE" and m.tensors[op.outputs[0]].type == "INT16" for op in m.ops):
            raise LinRepError(f"{self.path}: int16 activations (TFLite's 16x8 quantisation, ai-edge-quantizer's "
                              "static_wi8_ai16): the runtime runs int8 or fp32 activations; quantise with int8 "
                              "activations (static_wi8_ai8) or pack the float file")
        try:
            if self.int8 and tin.type == "FLOAT32":  # replaced by the QUANTIZE's output
                self.g.tensors.append(Tensor(self._input_shape(tin), "input", "int8", 1.0, 0))
            else:
                self.g.tensors.append(self._tensor(tin, self._input_shape(tin)))
        except LinRepError as exc:
            raise LinRepError(f"{self.path}: model input: {exc}") from None
        self.env[m.inputs[0]] = 0
        for op in m.ops:
            if op.index in self.absorbed:
                continue
            fn = handlers.get(op.type)
            try:
                if fn is None:
                    raise LinRepError("unsupported operator")
                if len(op.outputs) != 1 or len(op.inputs) < MIN_INPUTS[op.type] or \
                        any(i < 0 for i in op.inputs[:MIN_INPUTS[op.type]]):
                    raise LinRepError(f"malformed operator: {len(op.inputs)} inputs, {len(op.outputs)} outputs")
                fn(op)
            except _Skip:
                self.failed.update(op.outputs)
            except LinRepError as exc:
                self.problems.append(f"op {op.index} {op.type}: {exc}")
                self.failed.update(op.outputs)
        outs = [self.env.get(t, -1) for t in m.outputs if t not in self.failed]
        if self.problems:
            raise LinRepError(f"cannot import {Path(self.path).name}: " + "; ".join(self.problems))
        if -1 in outs or not outs or 0 in outs:
            raise LinRepError(f"cannot import {Path(self.path).name}: a model output is not computed by any op")
        self.g.output = outs[0]
        self.g.outputs = outs if len(outs) > 1 else []
        self.g.metadata = {"source": "tflite", "file": Path(self.path).name}
        return self.g


def mean_params(s_in: float, zp_in: int, s_out: float, zp_out: int, n: int) -> IntParams:
    """TFLite Micro's int8 MEAN of n values as ADAPTIVE_AVG_POOL2D's integers (docs/INTEGER.md §5): one
    multiplier, s_in / s_out with 1/n folded in (QuantizedMeanOrSum, which TFLite Micro runs whether or not
    input and output are quantised alike; zp_in and zp_out are the tensors')."""
    del zp_in, zp_out
    m, shift = arith.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    m, shift = arith.mean_multiplier(m, shift, n)
    if shift > 0 and (255 * n) << shift >= 1 << 31:
        raise LinRepError(f"MEAN of {n} values with input/output scales {s_in}/{s_out}: the rescaled sum "
                          "overflows int32 in TFLite's arithmetic")
    return IntParams(np.array([m], np.int32), np.array([shift], np.int32))


def _same_move(moved: np.ndarray, shape: tuple[int, int, int]) -> tuple[str, dict[str, object]] | None:
    """The op of ours that sends the elements of a [C, H, W] tensor where `moved` says (each output element's index
    in the input): ("identity", {}), CHANNEL_SHUFFLE with its groups, PIXEL_SHUFFLE with its mode and block size;
    None if none does."""
    from linrep_edge.integer.ops import channel_shuffle_s8, pixel_shuffle_s8

    c, h, w = shape
    x = np.arange(c * h * w).reshape(shape)
    if moved.shape == shape and np.array_equal(moved, x):
        return "identity", {}
    for g in range(2, c):
        if c % g == 0 and moved.shape == shape and np.array_equal(moved, channel_shuffle_s8(x, g)):
            return "CHANNEL_SHUFFLE", {"groups": g}
    for r in range(2, 17):
        for mode in (0, 2) if c % (r * r) == 0 else ():
            if moved.shape == (c // (r * r), h * r, w * r) and np.array_equal(moved, pixel_shuffle_s8(x, r, mode)):
                return "PIXEL_SHUFFLE", {"mode": mode, "stride": (r, r)}
        for mode in (1, 3) if h % r == 0 and w % r == 0 else ():
            if moved.shape == (c * r * r, h // r, w // r) and np.array_equal(moved, pixel_shuffle_s8(x, r, mode)):
                return "PIXEL_SHUFFLE", {"mode": mode, "stride": (r, r)}
    return None


def requantize_table(s_in: float, zp_in: int, s_out: float, zp_out: int) -> np.ndarray:
    """TFLite Micro's DEQUANTIZE then QUANTIZE of every int8 byte v, as a UNARY table (entry v as unsigned):
    x = float32(double(s_in) · (v − zp_in)), q = clamp(round_half_away(double(x) / double(s_out)) + zp_out)."""
    x = (np.float64(np.float32(s_in)) * (BYTES - zp_in)).astype(np.float32).astype(np.float64)
    r = x / np.float64(np.float32(s_out))
    return byte_table(arith.saturate_int8(np.sign(r) * np.floor(np.abs(r) + 0.5) + zp_out))


def _no_params(act_min: int = -128, act_max: int = 127) -> IntParams:
    return IntParams(np.zeros(0, np.int32), np.zeros(0, np.int32), act_min, act_max)


@dataclass
class Imported:
    """An imported model with where each TFLite tensor went (for checking every tensor against TFLite)."""

    graph: Graph
    tensor_map: dict[int, int]  # TFLite tensor index → IR tensor id (activations only)
    flattened: dict[int, tuple[int, int, int]]  # IR tensors holding an NCHW flatten of (C, H, W) where
    # TFLite holds the NHWC flatten (the FC weights after them are permuted)
    input_layout: str = "NHWC"  # the file's input: "NHWC" ([1, H, W, C]), "NCHW" ([1, C, H, W], as ours) or "NCL"
    # ([1, C, L], a 1-D model's: ours [C, 1, L])
    nchw_outputs: frozenset[int] = frozenset()  # IR tensors of model outputs the file gives as [1, C, H, W]


def import_tflite_mapped(path: str | Path | bytes) -> Imported:
    """`import_tflite` with the TFLite tensor → IR tensor map."""
    imp = _Importer(read_tflite(path), "<.tflite bytes>" if isinstance(path, bytes) else str(path))
    g = imp.run()
    mapped = {t: ir for t, ir in imp.env.items() if t not in imp.not_ours}
    if imp.layout_op >= 0:  # the NCHW input tensor: its NHWC twin (the layout op's output) is mapped instead
        mapped.pop(imp._input_tensor(), None)
        mapped.pop(imp.m.inputs[0], None)
    nchw = frozenset(imp.env[t] for t in imp.nchw_outputs)
    for t in imp.nchw_outputs:
        mapped.pop(t, None)  # its bytes are ours as they are; the runners read it through `nchw_outputs`
    layout = "NCL" if imp.layout_op2 >= 0 else "NCHW" if imp.layout_op >= 0 else "NHWC"
    return Imported(g, mapped, dict(imp.flattened), layout, nchw)


def import_tflite(path: str | Path | bytes) -> Graph:
    """An fp32 or full-integer int8 `.tflite` file (a path, or the file's bytes) → the graph IR (int8 files:
    an int8 graph).
    LinRepError listing every operator that cannot be imported, with its index and type."""
    return import_tflite_mapped(path).graph
