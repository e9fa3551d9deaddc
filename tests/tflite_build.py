"""Small int8 `.tflite` models built op by op (TFLite Micro's own model_editor), for per-op oracle tests:
each op's corner cases (SAME padding at stride 2, dilation, depth multiplier, rescaling ADD, softmax at
several input scales, the NHWC flatten before a FULLY_CONNECTED) run in TFLite Micro and in our reference.
Needs the peers extra (tflite_micro)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Int8Builder:
    """One subgraph, int8 activations with random scales / zero points, random int8 weights (seeded)."""

    def __init__(self, seed: int) -> None:
        from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

        self.me, self.tfl = me, tfl
        self.rng = np.random.default_rng(seed)
        self.sg = me.Subgraph()
        self.model = me.Model(subgraphs=[self.sg])

    def act(self, shape: tuple[int, ...], scale: float | None = None, zp: int | None = None) -> Any:
        scale = float(self.rng.uniform(0.01, 0.1)) if scale is None else scale
        zp = int(self.rng.integers(-20, 20)) if zp is None else zp
        t = self.me.Tensor(shape=shape, dtype=self.tfl.TensorType.INT8,
                           quantization=self.me.Quantization(scales=scale, zero_points=zp))
        self.sg.tensors.append(t)
        return t

    def weights(self, shape: tuple[int, ...], axis: int, per_channel: bool = True) -> Any:
        q = self.rng.integers(-127, 128, shape).astype(np.int8)
        n = shape[axis] if per_channel else 1
        scales = [float(s) for s in self.rng.uniform(0.002, 0.02, n)]
        t = self.me.Tensor(shape=shape, dtype=self.tfl.TensorType.INT8, data=q,
                           quantization=self.me.Quantization(scales=scales, zero_points=[0] * n, axis=axis))
        self.sg.tensors.append(t)
        return t

    def bias(self, x: Any, w: Any, n: int) -> Any:
        """n int32 biases with TFLite's scale s_x · s_w (TFLite Micro checks it)."""
        ws = np.asarray(w.quantization.scales, np.float64)
        scales = [float(np.float32(x.quantization.scales) * np.float32(s)) for s in np.broadcast_to(ws, (n,))]
        t = self.me.Tensor(shape=(n,), dtype=self.tfl.TensorType.INT32,
                           data=self.rng.integers(-3000, 3000, n).astype(np.int32),
                           quantization=self.me.Quantization(scales=scales, zero_points=[0] * n, axis=0))
        self.sg.tensors.append(t)
        return t

    def int32_const(self, values: np.ndarray) -> Any:
        t = self.me.Tensor(shape=values.shape, dtype=self.tfl.TensorType.INT32, data=values.astype(np.int32))
        self.sg.tensors.append(t)
        return t

    def op(self, code: str, inputs: list[Any], outputs: list[Any], options: str | None = None,
           **fields: Any) -> None:
        op = self.me.Operator(opcode=getattr(self.tfl.BuiltinOperator, code), inputs=inputs, outputs=outputs)
        if options is not None:
            opt = getattr(self.tfl, options + "T")()
            for k, v in fields.items():
                setattr(opt, k, v)
            op._fb.builtinOptionsType = getattr(self.tfl.BuiltinOptions, options)
            op._fb.builtinOptions = opt
        self.sg.operators.append(op)

    def build(self, inputs: list[Any], outputs: list[Any]) -> bytes:
        self.sg.inputs, self.sg.outputs = inputs, outputs
        return bytes(self.model.build())


def conv_model(seed: int, padding: int, stride: int, dilation: int, act: int, out_scale: float | None = None) -> bytes:
    b = Int8Builder(seed)
    x, y = b.act((1, 11, 10, 6)), b.act((1, 1, 1, 1), out_scale)  # output shape fixed below
    k = 3
    eff = (k - 1) * dilation + 1
    oh = -(-11 // stride) if padding == 0 else (11 - eff + stride) // stride
    ow = -(-10 // stride) if padding == 0 else (10 - eff + stride) // stride
    y.shape = (1, oh, ow, 5)
    w = b.weights((5, k, k, 6), 0)
    b.op("CONV_2D", [x, w, b.bias(x, w, 5)], [y], "Conv2DOptions", padding=padding,
         strideW=stride, strideH=stride, dilationWFactor=dilation, dilationHFactor=dilation, fusedActivationFunction=act)
    return b.build([x], [y])


def depthwise_model(seed: int, multiplier: int, stride: int) -> bytes:
    b = Int8Builder(seed)
    x = b.act((1, 8, 9, 4))
    y = b.act((1, -(-8 // stride), -(-9 // stride), 4 * multiplier))
    w = b.weights((1, 3, 3, 4 * multiplier), 3)
    b.op("DEPTHWISE_CONV_2D", [x, w, b.bias(x, w, 4 * multiplier)], [y],
         "DepthwiseConv2DOptions", padding=0, strideW=stride, strideH=stride, depthMultiplier=multiplier,
         fusedActivationFunction=1)
    return b.build([x], [y])


def add_model(seed: int, act: int, code: str = "ADD") -> bytes:
    """Two inputs made by two convs of one input (a model input of TFLM takes one tensor here); `code` ADD or SUB."""
    b = Int8Builder(seed)
    x = b.act((1, 5, 6, 4))
    p, q, y = b.act((1, 5, 6, 4), 0.05, 3), b.act((1, 5, 6, 4), 0.02, -7), b.act((1, 5, 6, 4), 0.06, -2)
    for t in (p, q):
        w = b.weights((4, 1, 1, 4), 0)
        b.op("CONV_2D", [x, w, b.bias(x, w, 4)], [t], "Conv2DOptions", padding=1,
             strideW=1, strideH=1)
    b.op(code, [p, q], [y], "AddOptions" if code == "ADD" else "SubOptions", fusedActivationFunction=act)
    return b.build([x], [y])


def add_broadcast_model(seed: int, act: int, gate_first: bool = False, code: str = "ADD") -> bytes:
    """ADD (or SUB) of a 1×1 conv of the input and the input's MEAN over H, W ([1, 1, 1, C], one value per channel:
    TFLite's broadcast ADD); `gate_first`: ADD(gate, x)."""
    b = Int8Builder(seed)
    x = b.act((1, 5, 6, 4), 0.05, int(b.rng.integers(-30, 30)))
    p = b.act((1, 5, 6, 4), 0.04, int(b.rng.integers(-20, 20)))
    g = b.act((1, 1, 1, 4), 0.03, int(b.rng.integers(-60, 60)))
    y = b.act((1, 5, 6, 4), 0.06, int(b.rng.integers(-20, 20)))
    w = b.weights((4, 1, 1, 4), 0)
    b.op("CONV_2D", [x, w, b.bias(x, w, 4)], [p], "Conv2DOptions", padding=1, strideW=1, strideH=1)
    b.op("MEAN", [x, b.int32_const(np.array([1, 2]))], [g], "ReducerOptions", keepDims=True)
    b.op(code, [g, p] if gate_first else [p, g], [y], "AddOptions" if code == "ADD" else "SubOptions",
         fusedActivationFunction=act)
    return b.build([x], [y])


def pool_model(seed: int, kind: str, padding: int, k: int, stride: int) -> bytes:
    b = Int8Builder(seed)
    x = b.act((1, 10, 7, 3), 0.04, 5)
    oh = -(-10 // stride) if padding == 0 else (10 - k + stride) // stride
    ow = -(-7 // stride) if padding == 0 else (7 - k + stride) // stride
    y = b.act((1, oh, ow, 3), 0.04, 5)
    b.op(kind, [x], [y], "Pool2DOptions", padding=padding, strideW=stride, strideH=stride, filterWidth=k,
         filterHeight=k)
    return b.build([x], [y])


def flatten_fc_softmax_model(seed: int, logit_scale: float, beta: float) -> bytes:
    """[1, 3, 4, 5] → RESHAPE [1, 60] → FULLY_CONNECTED 7 → SOFTMAX: the NHWC flatten and softmax."""
    b = Int8Builder(seed)
    x = b.act((1, 3, 4, 5), 0.04, 3)
    f = b.act((1, 60), 0.04, 3)
    z, y = b.act((1, 7), logit_scale, 4), b.act((1, 7), 1.0 / 256.0, -128)
    b.op("RESHAPE", [x, b.int32_const(np.array([1, 60]))], [f])
    w = b.weights((7, 60), 0, per_channel=False)
    b.op("FULLY_CONNECTED", [f, w, b.bias(f, w, 7)], [z], "FullyConnectedOptions")
    b.op("SOFTMAX", [z], [y], "SoftmaxOptions", beta=beta)
    return b.build([x], [y])


def softmax_model(seed: int, scale: float, flatten: bool) -> bytes:
    """SOFTMAX over the channels of each pixel of [1, 3, 2, 6], or over a NHWC flatten of it (TRANSPOSE_HWC)."""
    b = Int8Builder(seed)
    x = b.act((1, 3, 2, 6), scale, 0)
    shape = (1, 36) if flatten else (1, 3, 2, 6)
    y = b.act(shape, 1.0 / 256.0, -128)
    if flatten:
        f = b.act((1, 36), scale, 0)
        b.op("RESHAPE", [x, b.int32_const(np.array([1, 36]))], [f])
        x2 = f
    else:
        x2 = x
    b.op("SOFTMAX", [x2], [y], "SoftmaxOptions", beta=1.0)
    return b.build([x], [y])


def concat_pad_model(seed: int) -> bytes:
    b = Int8Builder(seed)
    x = b.act((1, 4, 5, 3), 0.05, 2)
    c = b.act((1, 4, 5, 6), 0.05, 2)
    p = b.act((1, 7, 6, 6), 0.05, 2)
    y = b.act((1, 3, 3, 6), 0.05, 2)
    b.op("CONCATENATION", [x, x], [c], "ConcatenationOptions", axis=3)
    b.op("PAD", [c, b.int32_const(np.array([[0, 0], [1, 2], [0, 1], [0, 0]]))], [p])
    b.op("MAX_POOL_2D", [p], [y], "Pool2DOptions", padding=1, strideW=2, strideH=2, filterWidth=2, filterHeight=2)
    return b.build([x], [y])


def float_io_model(seed: int) -> bytes:
    """float input → QUANTIZE → AVERAGE_POOL_2D → DEQUANTIZE → float output: an int8 model with float ends."""
    b = Int8Builder(seed)
    xf = b.me.Tensor(shape=(1, 6, 6, 3), dtype=b.tfl.TensorType.FLOAT32)
    yf = b.me.Tensor(shape=(1, 3, 3, 3), dtype=b.tfl.TensorType.FLOAT32)
    b.sg.tensors += [xf, yf]
    q, p = b.act((1, 6, 6, 3), 0.05, -3), b.act((1, 3, 3, 3), 0.05, -3)
    b.op("QUANTIZE", [xf], [q])
    b.op("AVERAGE_POOL_2D", [q], [p], "Pool2DOptions", padding=1, strideW=2, strideH=2, filterWidth=2, filterHeight=2)
    b.op("DEQUANTIZE", [p], [yf])
    return b.build([xf], [yf])


def fc_per_channel_model(seed: int) -> bytes:
    """FULLY_CONNECTED with one weight scale per output (per-channel multipliers), fused ReLU."""
    b = Int8Builder(seed)
    x, z = b.act((1, 20), 0.04, 3), b.act((1, 9), 0.8, 4)
    w = b.weights((9, 20), 0, per_channel=True)
    b.op("FULLY_CONNECTED", [x, w, b.bias(x, w, 9)], [z], "FullyConnectedOptions", fusedActivationFunction=1)
    return b.build([x], [z])


def grouped_conv_model(seed: int) -> bytes:
    """CONV_2D whose weights see 4 of the 8 input channels: a grouped conv (groups = 2)."""
    b = Int8Builder(seed)
    x, y = b.act((1, 6, 6, 8)), b.act((1, 6, 6, 6))
    w = b.weights((6, 3, 3, 4), 0)
    b.op("CONV_2D", [x, w, b.bias(x, w, 6)], [y], "Conv2DOptions", padding=0, strideW=1, strideH=1)
    return b.build([x], [y])


def mean_model(seed: int, keep_dims: bool, same_quant: bool, axes: tuple[int, ...] = (1, 2), code: str = "MEAN") -> bytes:
    """MEAN (or REDUCE_MAX, quantised alike) of [1, 7, 5, 6] over H and W (global pooling) or over the channels
    (axes (3,): CBAM's map, keep_dims [1, 7, 5, 1]): output quantised apart or quantised alike (the same integers
    in TFLite Micro); over H and W keep_dims [1, 1, 1, 6] or [1, 6]."""
    b = Int8Builder(seed)
    x = b.act((1, 7, 5, 6), 0.05, -9)
    if {a % 4 for a in axes} == {3}:
        shape: tuple[int, ...] = (1, 7, 5, 1) if keep_dims else (1, 7, 5)
    else:
        shape = (1, 1, 1, 6) if keep_dims else (1, 6)
    y = b.act(shape, 0.05, -9) if same_quant else b.act(shape, 0.017, -100)
    b.op(code, [x, b.int32_const(np.array(axes))], [y], "ReducerOptions", keepDims=keep_dims)
    return b.build([x], [y])


def nchw_input_model(seed: int, transpose: bool) -> bytes:
    """An NCHW input as litert-torch converts one: [1, C, 6, 7] → TRANSPOSE [0, 2, 3, 1] (C = 3) or, for
    C = 1, RESHAPE to [1, 6, 7, 1] → CONV_2D (SAME, ReLU) → MEAN over H, W → FULLY_CONNECTED."""
    b = Int8Builder(seed)
    c = 3 if transpose else 1
    x = b.act((1, c, 6, 7), 0.04, -128)
    t = b.act((1, 6, 7, c), 0.04, -128)
    if transpose:
        b.op("TRANSPOSE", [x, b.int32_const(np.array([0, 2, 3, 1]))], [t])
    else:
        b.op("RESHAPE", [x, b.int32_const(np.array([1, 6, 7, 1]))], [t])
    h, m, z = b.act((1, 6, 7, 8), 0.03, -128), b.act((1, 8), 0.01, -128), b.act((1, 4), 0.1, 3)
    w = b.weights((8, 3, 3, c), 0)
    b.op("CONV_2D", [t, w, b.bias(t, w, 8)], [h], "Conv2DOptions", padding=0, strideW=1, strideH=1,
         fusedActivationFunction=1)
    b.op("MEAN", [h, b.int32_const(np.array([2, 1]))], [m], "ReducerOptions", keepDims=False)
    v = b.weights((4, 8), 0)
    b.op("FULLY_CONNECTED", [m, v, b.bias(m, v, 4)], [z], "FullyConnectedOptions")
    return b.build([x], [z])


# -- MUL, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE_CONV (tests/test_int8_geo_ops.py) ---------------

def mul_model(seed: int, broadcast: bool, act: int, out_scale: float = 0.002, gate_first: bool = False,
              pixel: bool = False) -> bytes:
    """MUL of two 1×1 convs of the input, or (broadcast) of the input by its MEAN over H, W ([1, 1, 1, C]:
    the squeeze-and-excitation gate; `gate_first`: MUL(gate, x)), or (pixel) by a 1×1 conv of it to one channel
    ([1, H, W, 1]: CBAM's spatial gate, TFLite's broadcast MUL over the channels)."""
    b = Int8Builder(seed)
    x = b.act((1, 5, 6, 4), 0.05, int(b.rng.integers(-30, 30)))
    y = b.act((1, 5, 6, 4), out_scale, int(b.rng.integers(-20, 20)))
    if pixel:
        g = b.act((1, 5, 6, 1), 0.04, int(b.rng.integers(-60, 60)))
        w = b.weights((1, 1, 1, 4), 0)
        b.op("CONV_2D", [x, w, b.bias(x, w, 1)], [g], "Conv2DOptions", padding=1, strideW=1, strideH=1)
        b.op("MUL", [g, x] if gate_first else [x, g], [y], "MulOptions", fusedActivationFunction=act)
        return b.build([x], [y])
    if broadcast:
        g = b.act((1, 1, 1, 4), 0.03, int(b.rng.integers(-60, 60)))
        b.op("MEAN", [x, b.int32_const(np.array([1, 2]))], [g], "ReducerOptions", keepDims=True)
        b.op("MUL", [g, x] if gate_first else [x, g], [y], "MulOptions", fusedActivationFunction=act)
        return b.build([x], [y])
    p, q = b.act((1, 5, 6, 4), 0.05, 3), b.act((1, 5, 6, 4), 0.04, -7)
    for t in (p, q):
        w = b.weights((4, 1, 1, 4), 0)
        b.op("CONV_2D", [x, w, b.bias(x, w, 4)], [t], "Conv2DOptions", padding=1, strideW=1, strideH=1)
    b.op("MUL", [p, q], [y], "MulOptions", fusedActivationFunction=act)
    return b.build([x], [y])


def depth_space_model(seed: int, kind: str, r: int) -> bytes:
    """A 1×1 conv of [1, 6, 9, 4] to 8 channels then DEPTH_TO_SPACE by r (8 divisible by r²), or SPACE_TO_DEPTH by r
    (6 and 9 divisible by r: r = 3) to 8 r² channels; input and output of the move quantised alike (TFLite's rule)."""
    b = Int8Builder(seed)
    x = b.act((1, 6, 9, 4), 0.05, int(b.rng.integers(-30, 30)))
    zp = int(b.rng.integers(-20, 20))
    p = b.act((1, 6, 9, 8), 0.04, zp)
    w = b.weights((8, 1, 1, 4), 0)
    b.op("CONV_2D", [x, w, b.bias(x, w, 8)], [p], "Conv2DOptions", padding=1, strideW=1, strideH=1)
    shape = (1, 6 * r, 9 * r, 8 // (r * r)) if kind == "DEPTH_TO_SPACE" else (1, 6 // r, 9 // r, 8 * r * r)
    y = b.act(shape, 0.04, zp)
    b.op(kind, [p], [y], "DepthToSpaceOptions" if kind == "DEPTH_TO_SPACE" else "SpaceToDepthOptions", blockSize=r)
    return b.build([x], [y])


def resize_model(seed: int, kind: str, size: tuple[int, int], align_corners: bool = False,
                 half_pixel: bool = False) -> bytes:
    """RESIZE_NEAREST_NEIGHBOR or RESIZE_BILINEAR of [1, 4, 5, 3] to `size` (input and output quantised alike)."""
    b = Int8Builder(seed)
    scale, zp = float(b.rng.uniform(0.01, 0.1)), int(b.rng.integers(-40, 40))
    x, y = b.act((1, 4, 5, 3), scale, zp), b.act((1, *size, 3), scale, zp)
    options = "ResizeNearestNeighborOptions" if kind == "RESIZE_NEAREST_NEIGHBOR" else "ResizeBilinearOptions"
    b.op(kind, [x, b.int32_const(np.array(size))], [y], options, alignCorners=align_corners,
         halfPixelCenters=half_pixel)
    return b.build([x], [y])


def transpose_conv_model(seed: int, padding: int, stride: int, k: int, act: int, bias: bool = True,
                         per_channel: bool = True) -> bytes:
    """TRANSPOSE_CONV of [1, 5, 4, 6] to 3 channels: output H = in·s (SAME) or (in − 1)·s + k (VALID)."""
    b = Int8Builder(seed)
    x = b.act((1, 5, 4, 6))
    oh, ow = (5 * stride, 4 * stride) if padding == 0 else ((5 - 1) * stride + k, (4 - 1) * stride + k)
    y = b.act((1, oh, ow, 3), float(b.rng.uniform(0.05, 0.2)))
    w = b.weights((3, k, k, 6), 0, per_channel)
    ins = [b.int32_const(np.array([1, oh, ow, 3])), w, x] + ([b.bias(x, w, 3)] if bias else [])
    b.op("TRANSPOSE_CONV", ins, [y], "TransposeConvOptions", padding=padding, strideW=stride, strideH=stride,
         fusedActivationFunction=act)
    return b.build([x], [y])


def depthwise_1x1_model(seed: int, act: int, bias: bool = True) -> bytes:
    """DEPTHWISE_CONV_2D 1×1 of [1, 5, 6, 4] (multiplier 1): how TFLite runs a per-channel scale and shift
    (our int8 AFFINE)."""
    b = Int8Builder(seed)
    x, y = b.act((1, 5, 6, 4), 0.05, int(b.rng.integers(-30, 30))), b.act((1, 5, 6, 4), 0.004, int(b.rng.integers(-9, 9)))
    w = b.weights((1, 1, 1, 4), 3)
    ins = [x, w] + ([b.bias(x, w, 4)] if bias else [])
    b.op("DEPTHWISE_CONV_2D", ins, [y], "DepthwiseConv2DOptions", padding=1, strideW=1, strideH=1, depthMultiplier=1,
         fusedActivationFunction=act)
    return b.build([x], [y])


# -- elementwise activations (tests/test_int8_activations.py) ----------------------------------------------

def activation_model(seed: int, code: str, in_q: tuple[float, int], out_q: tuple[float, int],
                     options: str | None = None, **fields: Any) -> bytes:
    """One elementwise activation (LOGISTIC, HARD_SWISH, TANH, ...) of a [1, 4, 8, 8] input: 256 values, so
    a permutation of -128..127 covers the whole int8 range."""
    b = Int8Builder(seed)
    x, y = b.act((1, 4, 8, 8), *in_q), b.act((1, 4, 8, 8), *out_q)
    b.op(code, [x], [y], options, **fields)
    return b.build([x], [y])


def prelu_model(seed: int, in_q: tuple[float, int], out_q: tuple[float, int], alpha_q: tuple[float, int],
                per_channel: bool) -> bytes:
    """PRELU of a [1, 4, 8, 8] input by a constant int8 slope tensor [1, 1, 8] (or [1]: one slope) with one
    scale and zero point, random slopes over the whole int8 range."""
    b = Int8Builder(seed)
    x, y = b.act((1, 4, 8, 8), *in_q), b.act((1, 4, 8, 8), *out_q)
    shape = (1, 1, 8) if per_channel else (1,)
    a = b.me.Tensor(shape=shape, dtype=b.tfl.TensorType.INT8, data=b.rng.integers(-128, 128, shape).astype(np.int8),
                    quantization=b.me.Quantization(scales=alpha_q[0], zero_points=alpha_q[1]))
    b.sg.tensors.append(a)
    b.op("PRELU", [x, a], [y])
    return b.build([x], [y])


def silu_model(seed: int, in_q: tuple[float, int], out_q: tuple[float, int]) -> bytes:
    """SILU as TFLite converters emit it: LOGISTIC (output 1/256, -128) then MUL of the input by it, [1, 4, 8, 8]."""
    b = Int8Builder(seed)
    x, g, y = b.act((1, 4, 8, 8), *in_q), b.act((1, 4, 8, 8), 1.0 / 256.0, -128), b.act((1, 4, 8, 8), *out_q)
    b.op("LOGISTIC", [x], [g])
    b.op("MUL", [x, g], [y], "MulOptions", fusedActivationFunction=0)
    return b.build([x], [y])


def mul_constant_model(seed: int, per_channel: bool, act: int, zp_c: int, first: bool = False) -> bytes:
    """MUL of [1, 8, 32, C] by an int8 constant of one value (C = 1: every input byte through it) or one per
    channel (C = 4, [1, 1, 1, 4]), quantised with zero point zp_c as ai-edge-quantizer leaves scalars (often
    −128 or 127, so q − zp leaves int8); `first`: MUL(constant, x)."""
    b = Int8Builder(seed)
    c = 4 if per_channel else 1
    x = b.act((1, 8, 32 // c, c), 0.05, int(b.rng.integers(-30, 30)))
    y = b.act((1, 8, 32 // c, c), 0.02, int(b.rng.integers(-20, 20)))
    shape = (1, 1, 1, c) if per_channel else ()
    q = b.rng.integers(-128, 128, shape if shape else (1,)).astype(np.int8).reshape(shape)
    if per_channel:  # q − zp within int8
        q = np.clip(q.astype(np.int64), zp_c - 128, zp_c + 127).clip(-128, 127).astype(np.int8)
    k = b.me.Tensor(shape=shape, dtype=b.tfl.TensorType.INT8, data=q,
                    quantization=b.me.Quantization(scales=0.004, zero_points=zp_c))
    b.sg.tensors.append(k)
    b.op("MUL", [k, x] if first else [x, k], [y], "MulOptions", fusedActivationFunction=act)
    return b.build([x], [y])


def requantize_model(seed: int, out_q: tuple[float, int]) -> bytes:
    """QUANTIZE of an int8 [1, 8, 32, 1] (every byte in one input) to another int8 quantisation (as
    ai-edge-quantizer puts before a CONCATENATION), then an AVERAGE_POOL_2D 1×1 so the QUANTIZE is inside."""
    b = Int8Builder(seed)
    x = b.act((1, 8, 32, 1), 0.05, -9)
    y = b.act((1, 8, 32, 1), *out_q)
    z = b.act((1, 8, 32, 1), *out_q)
    b.op("QUANTIZE", [x], [y])
    b.op("AVERAGE_POOL_2D", [y], [z], "Pool2DOptions", padding=1, strideW=1, strideH=1, filterWidth=1, filterHeight=1)
    return b.build([x], [z])


def buffers_inside(buf: bytes) -> bytes:
    """The same model with every constant inside the flatbuffer (buffers' `data`): TFLite Micro reads no
    offset / size buffers (ai-edge-quantizer writes larger files so) and runs such a file on whatever it finds."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    model = tfl.ModelT.InitFromPackedBuf(buf, 0)
    for b in model.buffers:
        if b.offset > 1:
            b.data = np.frombuffer(buf[b.offset:b.offset + b.size], np.uint8).copy()
            b.offset = b.size = 0
    fb = flatbuffers.Builder(1024)
    fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
    return bytes(fb.Output())


def float16_weights(buf: bytes) -> bytes:
    """A float .tflite with every float constant of more than 16 values stored as FLOAT16 behind a DEQUANTIZE (the
    layout of TFLite's float16 quantisation), written with TFLite Micro's schema object API."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    model = tfl.ModelT.InitFromPackedBuf(buf, 0)
    sg = model.subgraphs[0]
    codes = [c.builtinCode for c in model.operatorCodes]
    if tfl.BuiltinOperator.DEQUANTIZE not in codes:
        code = tfl.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = tfl.BuiltinOperator.DEQUANTIZE
        code.version = 1
        model.operatorCodes.append(code)
        codes.append(tfl.BuiltinOperator.DEQUANTIZE)
    deq = codes.index(tfl.BuiltinOperator.DEQUANTIZE)
    users = {i for op in sg.operators for i in op.inputs}
    new_ops = []
    for ti, t in enumerate(list(sg.tensors)):
        raw = model.buffers[t.buffer].data
        if t.type != tfl.TensorType.FLOAT32 or raw is None or len(raw) <= 64 or ti not in users:
            continue
        values = np.frombuffer(bytes(np.asarray(raw, np.uint8)), np.float32)
        half = tfl.BufferT()
        half.data = np.frombuffer(values.astype(np.float16).tobytes(), np.uint8).copy()
        model.buffers.append(half)
        t16 = tfl.TensorT()
        t16.shape, t16.type, t16.buffer = list(t.shape), tfl.TensorType.FLOAT16, len(model.buffers) - 1
        t16.name = (t.name or b"w") + b"/fp16"
        sg.tensors.append(t16)
        empty = tfl.BufferT()
        model.buffers.append(empty)
        t.buffer = len(model.buffers) - 1  # the float tensor is now the DEQUANTIZE's output
        op = tfl.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = deq, [len(sg.tensors) - 1], [ti]
        new_ops.append(op)
    sg.operators = new_ops + list(sg.operators)
    fb = flatbuffers.Builder(1024)
    fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
    return bytes(fb.Output())
