"""The graph IR: the flat list of operations the C runtime executes, with every tensor's shape.

This is what `capture` produces from a torch model, what `pack` serialises into a .lre blob and what
`read_blob` parses back. Activations are fp32, batch 1, shapes without the batch dimension ([C, H, W]
or [F]). Constant values are held exactly as stored (fp16 storage rounds them once, in `pack`).

An int8 graph (format version 4, docs/INTEGER.md) has every tensor int8 with its scale and zero point
(`Tensor.dtype == "int8"`) and every op's integer arithmetic fixed in `Op.iparams`, as TFLite's Prepare
fixes it: multipliers and shifts, int32 biases, the output clamp. `Graph.is_int8` tells which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linrep_edge.format.fb.Unary import Unary

# UNARY (format version 7): the schema's `Unary` values by name (gelu, gelu_tanh, elu, ...); SELU is ELU with these
# alpha and scale
UNARY_NAMES = {v: k.lower() for k, v in vars(Unary).items() if not k.startswith("_") and isinstance(v, int)}
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

FUSABLE = ("CONV2D", "LINREP_CONV2D", "LINEAR", "ADD",  # ops that may carry a fused activation
           "CONV_TRANSPOSE2D", "MUL", "AFFINE",        # (format version 3)
           "SUB")                                      # (format version 7)


def operand_form(first: tuple[int, ...], second: tuple[int, ...], op_type: str) -> str | None:
    """How the second input of an ADD / SUB / MUL meets the first (the runtime's verifier holds the same rule):
    "same" shape, "channel" (one value per channel of a [C, H, W] first: [C, 1, 1] or [C]), "pixel" (MUL only,
    format version 8: [1, H, W], one value per pixel for every channel, C > 1), or None (not allowed)."""
    if first == second:
        return "same"
    if len(first) == 3 and second in ((first[0], 1, 1), (first[0],)):
        return "channel"
    if op_type == "MUL" and len(first) == 3 and first[0] > 1 and second == (1,) + tuple(first[1:]):
        return "pixel"
    return None


@dataclass
class Tensor:
    shape: tuple[int, ...]
    name: str = ""
    dtype: str = "fp32"  # "fp32" or "int8" (format version 4: real = scale * (q - zero_point))
    scale: float = 0.0  # int8: > 0, a float32 value
    zero_point: int = 0  # int8: -128 .. 127

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Constant:
    values: np.ndarray  # float32, any shape (int8: the dequantized q * scale)
    dtype: str = "fp32"  # storage in the blob: "fp32", "fp16" or "int8" (conv / linear weights)
    q: np.ndarray | None = None  # int8: the stored integers
    scale: np.ndarray | None = None  # int8: fp32 scale per output channel


@dataclass
class Codebook:
    """K template kernels of one shape: what the blob stores once and LinRep layers index into. The
    method (`compress`) makes them, the graph and the blob carry them; `layers` names the layers that
    share it (informational: the graph's ops say which codebook they use)."""

    templates: np.ndarray  # (K, kh, kw) float32, zero-mean unit-norm up to storage rounding
    dtype: str = "fp16"  # storage in the blob: "fp16", "fp32" or "int8" (int8 graphs: templates = q * scale)
    layers: list[str] = field(default_factory=list)
    q: np.ndarray | None = None  # int8: (K, kh, kw) int8 integers t_q
    scale: float = 0.0  # int8: the codebook's one scale

    @property
    def size(self) -> int:
        return int(self.templates.shape[0])

    @property
    def kernel_shape(self) -> tuple[int, int]:
        return int(self.templates.shape[1]), int(self.templates.shape[2])


@dataclass
class LinRepWeights:
    """The LinRep weights of a LINREP_CONV2D op, or of a CONV_TRANSPOSE2D op whose kernels are LinRep: every
    array below is over the kernel grid, the first two dimensions of the dense weight it represents,
    (Cout, Cin/groups) for a conv and (Cin, Cout/groups) for a transposed conv ("Cout" below: its rows)."""

    codebook: int
    idx: np.ndarray  # (Cout, Cin/groups) int64
    a: np.ndarray  # (Cout, Cin/groups) float32: fp16-representable once packed, or a_q * a_scale
    b: np.ndarray
    index_bits: int = 0  # 0 = ⌈log2 K⌉ of its codebook
    ab_bits: int = 0  # 0: a, b stored as fp16; 2..8: as integers a_q, b_q with per-output-channel scales
    a_q: np.ndarray | None = None  # (Cout, Cin/groups) int64
    b_q: np.ndarray | None = None
    a_scale: np.ndarray | None = None  # (Cout,) float32
    b_scale: np.ndarray | None = None
    mask: np.ndarray | None = None  # (Cout, Cin/groups) bool, False = pruned (a = b = 0, no index); None: all kept
    b_exponent: np.ndarray | None = None  # int8 graphs: (Cout,) int e_o (docs/INTEGER.md, integer LinRep)

    def set_quantized(self, a_q: np.ndarray, a_scale: np.ndarray, b_q: np.ndarray, b_scale: np.ndarray) -> None:
        """Store integer a/b; a and b become the values the runtime computes, q * scale in fp32."""
        self.a_q, self.b_q = a_q.astype(np.int64), b_q.astype(np.int64)
        self.a_scale, self.b_scale = a_scale.astype(np.float32), b_scale.astype(np.float32)
        self.a = (self.a_q.astype(np.float32) * self.a_scale[:, None]).astype(np.float32)
        self.b = (self.b_q.astype(np.float32) * self.b_scale[:, None]).astype(np.float32)


@dataclass
class IntParams:
    """The integer arithmetic of one op of an int8 graph (docs/INTEGER.md), fixed when the graph is
    quantised: nothing is derived from floats at run time."""

    multiplier: np.ndarray  # int32, Q31: conv / linear [Cout] or [1]; ADD [in0, in1, out]; SOFTMAX [beta]
    shift: np.ndarray  # int32, same length; > 0 left, < 0 right (TFLite's convention)
    act_min: int = -128  # output clamp
    act_max: int = 127
    bias: np.ndarray | None = None  # int32 [Cout]: CONV2D, LINREP_CONV2D, LINEAR, CONV_TRANSPOSE2D
    extra: np.ndarray | None = None  # int32, op-specific (SOFTMAX: [diff_min])
    table: np.ndarray | None = None  # int8 [256], UNARY (format version 7): entry v the output for input byte v


@dataclass
class Op:
    type: str  # an OpType name of the schema (CONV2D, LINREP_CONV2D, LINEAR, RELU, ...)
    name: str
    inputs: list[int]
    output: int
    activation: str = "NONE"  # fused, applied to the result (ops in FUSABLE only)
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    out_channels: int = 0
    count_include_pad: bool = True
    alpha: float = 0.0  # LEAKY_RELU slope; CLAMP lower bound; PAD value; UNARY: its first parameter
    weight: int = -1  # index into Graph.constants
    bias: int = -1
    linrep: LinRepWeights | None = None
    beta: float = float("inf")  # CLAMP upper bound (format version 3); UNARY: its second parameter (version 7)
    mode: int = 0  # RESIZE: 0 nearest, 1 bilinear, 2 bilinear with align_corners (format version 3); PAD: 0 constant,
    # 1 reflect, 2 replicate (version 6); UNARY: its function, a `Unary` value of the schema (version 7)
    start: int = 0  # SLICE: first channel or feature taken (format version 3)
    iparams: IntParams | None = None  # int8 graphs (format version 4): the op's integer arithmetic


@dataclass
class Graph:
    tensors: list[Tensor]
    input: int
    output: int
    ops: list[Op]
    constants: list[Constant] = field(default_factory=list)
    codebooks: list[Codebook] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    outputs: list[int] = field(default_factory=list)  # several results in order (format version 3); [] = [output]

    @property
    def is_int8(self) -> bool:
        """Whether this is an int8 graph (format version 4): its tensors are int8."""
        return bool(self.tensors) and self.tensors[0].dtype == "int8"

    @property
    def results(self) -> list[int]:
        """The model's result tensors in order: `outputs`, or the one `output`."""
        return list(self.outputs) if self.outputs else [self.output]

    def add_tensor(self, shape: tuple[int, ...], name: str = "") -> int:
        self.tensors.append(Tensor(tuple(int(s) for s in shape), name))
        return len(self.tensors) - 1

    def add_constant(self, values: np.ndarray, dtype: str = "fp32") -> int:
        self.constants.append(Constant(np.ascontiguousarray(values, dtype=np.float32), dtype))
        return len(self.constants) - 1

    def weight_shape(self, op: Op) -> tuple[int, ...]:
        """Dense weight shape of a conv/linear op (for LinRep: the shape it represents; a transposed conv's
        is [Cin, Cout/groups, kh, kw])."""
        if op.linrep is not None:
            assert op.linrep is not None
            return (*op.linrep.idx.shape, *self.codebooks[op.linrep.codebook].templates.shape[1:])
        return tuple(self.constants[op.weight].values.shape)

    def dense_weight(self, op: Op) -> np.ndarray:
        """The float32 weight of a conv op ((Cout, Cin/groups, kh, kw); a transposed conv's (Cin, Cout/groups,
        kh, kw)), reconstructed for LinRep."""
        if op.linrep is not None:
            lr = op.linrep
            assert lr is not None
            t = self.codebooks[lr.codebook].templates.astype(np.float32)
            return (lr.a[..., None, None] * t[lr.idx] + lr.b[..., None, None]).astype(np.float32)
        return self.constants[op.weight].values
