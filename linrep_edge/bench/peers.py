"""The peers, used as they ship on PyPI: TFLite fp32 / int8 run by LiteRT and TFLite Micro, and TFLM's
lookup-table (LUT) compression.

* `to_tflite`: torch → .tflite by litert-torch (no TensorFlow install).
* `quantize_int8`: full-integer int8 by ai-edge-quantizer's `static_wi8_ai8` recipe (per-channel int8
  weights, int8 activations, calibrated on real training images).
* `cluster_weights`: per-output-channel k-means of conv / linear weights to 2^bits values, the weight
  clustering TFLM's LUT compression needs (a tensor is LUT-compressible only if each channel has at
  most 2^bits distinct values).
* `lut_compress`: int8 weight tensors → bit-packed indices into per-channel value tables, with the
  DECODE operators TFLM inserts (tflite_micro.compression).
* `LiteRT` / `TFLM`: run a .tflite one image at a time (1 thread); TFLM's smallest working arena is
  found by bisection (`tflm_min_arena`).

The packages are an optional extra (`pip install 'linrep-edge[peers]'`, ~1.2 GB); `require()` names the
install command when they are missing. Nothing here is needed by the core package.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from linrep_edge.errors import LinRepError

INSTALL_HINT = "pip install 'linrep-edge[peers]'  (or: make peers)"
PEER_MODULES = ("litert_torch", "ai_edge_quantizer", "ai_edge_litert", "tflite_micro")


def missing_message(missing: list[str], what: str = "the peers comparison") -> str:
    """What `require()` says when the optional packages `missing`, which `what` needs, are not installed."""
    return f"{what} needs the optional packages {', '.join(missing)}: {INSTALL_HINT}"


def require(modules: tuple[str, ...] = PEER_MODULES, what: str = "the peers comparison") -> None:
    """LinRepError naming what needs them and the install command if an optional peer package of `modules`
    (default: all of them) is missing; imports them once with their start-up logging silenced."""
    import importlib
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise LinRepError(missing_message(missing, what))
    with quiet_fds():
        for m in modules:
            importlib.import_module(m)


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Silence stdout/stderr at the file-descriptor level: the converters and TFLM's C++ side print
    progress and allocation failures (expected while bisecting the arena) straight to fd 1 and 2."""
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def to_tflite(model: nn.Module, example: torch.Tensor) -> bytes:
    """fp32 .tflite of `model` (NCHW input kept as is) by litert-torch."""
    import litert_torch

    with quiet_fds():
        converted = litert_torch.convert(copy.deepcopy(model).eval(), (example,))
        return bytes(converted.model_content())


def quantize_int8(tflite_fp32: bytes, calibration: np.ndarray) -> bytes:
    """Full-integer int8 (per-channel weights, int8 activations and I/O) calibrated on `calibration`
    (N images shaped like the model input)."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    signatures = Interpreter(model_content=tflite_fp32).get_signature_list()
    key = next(iter(signatures))
    name = signatures[key]["inputs"][0]
    samples = [{name: calibration[i:i + 1].astype(np.float32)} for i in range(len(calibration))]
    with quiet_fds():
        qt = quantizer.Quantizer(tflite_fp32, recipe.static_wi8_ai8())
        result = qt.quantize(qt.calibrate({key: samples}, num_threads=1), enable_progress_report=False)
    return bytes(result.quantized_model)


def _kmeans_1d(values: np.ndarray, k: int, iters: int = 50) -> np.ndarray:
    """Lloyd's k-means on scalars, started at quantiles (deterministic); returns each value's centroid."""
    v = values.astype(np.float64)
    if np.unique(v).size <= k:
        return v
    c = np.quantile(v, (np.arange(k) + 0.5) / k)
    for _ in range(iters):
        assign = np.abs(v[:, None] - c[None, :]).argmin(1)
        new = np.array([v[assign == j].mean() if (assign == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c[np.abs(v[:, None] - c[None, :]).argmin(1)]


def cluster_weights(model: nn.Module, bits: int) -> nn.Module:
    """A copy of `model` whose conv and linear weights hold at most 2^bits values per output channel."""
    out = copy.deepcopy(model).eval()
    with torch.no_grad():
        for m in out.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight.detach().numpy().reshape(m.weight.shape[0], -1)
                shared = np.stack([_kmeans_1d(row, 2 ** bits) for row in w])
                m.weight.copy_(torch.from_numpy(shared.reshape(m.weight.shape)).float())
    return out


def lut_compress(tflite_int8: bytes, bits: int) -> bytes:
    """TFLM LUT compression of every int8 conv / fully-connected weight tensor (per output channel;
    depthwise weights along their channel axis 3), with DECODE operators inserted."""
    from tflite_micro.tensorflow.lite.micro.compression import compress, model_editor, spec  # compress: the function
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    ops = tfl.BuiltinOperator
    axis_of = {ops.CONV_2D: 0, ops.FULLY_CONNECTED: 0, ops.DEPTHWISE_CONV_2D: 3}
    model = model_editor.read(tflite_int8)
    specs, seen = [], set()
    for si, sg in enumerate(model.subgraphs):
        for op in sg.operators:
            axis = axis_of.get(op.opcode)
            if axis is None or len(op.inputs) < 2 or op.inputs[1] is None:
                continue
            t = op.inputs[1]
            if t.index in seen or t.array is None or t.array.dtype != np.int8:
                continue
            seen.add(t.index)
            method = spec.LookUpTableCompression(index_bitwidth=bits, mode=spec.PerChannel(axis=axis))
            specs.append(spec.Tensor(subgraph=si, tensor=t.index, compression=[method]))
    if not specs:
        raise LinRepError("no int8 conv or fully-connected weights to LUT-compress")
    with quiet_fds():
        return bytes(compress(tflite_int8, specs))


class _Quantized:
    """float ↔ the model's I/O dtype (int8 models take and give int8 with a scale and zero point)."""

    def __init__(self, detail: dict[str, Any]) -> None:
        self.dtype = detail["dtype"]
        self.scale, self.zero = 0.0, 0
        if "quantization_parameters" in detail:  # TFLM's form: per-tensor scale and zero point in arrays
            qp = detail["quantization_parameters"]
            if len(qp["scales"]):
                self.scale, self.zero = float(qp["scales"][0]), int(qp["zero_points"][0])
        else:  # LiteRT's form
            self.scale, self.zero = detail["quantization"]
        if self.dtype == np.int8 and not self.scale > 0:
            raise LinRepError(f"int8 model I/O without a quantization scale: {detail}")

    def to_model(self, x: np.ndarray) -> np.ndarray:
        if self.dtype == np.int8:
            return np.clip(np.round(x / self.scale) + self.zero, -128, 127).astype(np.int8)
        return x.astype(self.dtype)

    def from_model(self, y: np.ndarray) -> np.ndarray:
        if self.dtype == np.int8:
            return (y.astype(np.float32) - self.zero) * self.scale
        return y.astype(np.float32)


class LiteRT:
    """A .tflite in LiteRT's interpreter (XNNPACK on CPU), one thread, one image per call."""

    engine = "litert"

    def __init__(self, tflite: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with quiet_fds():
            self._it = Interpreter(model_content=tflite, num_threads=1)
            self._it.allocate_tensors()
        i, o = self._it.get_input_details()[0], self._it.get_output_details()[0]
        self._in, self._out = i["index"], o["index"]
        self._qi, self._qo = _Quantized(i), _Quantized(o)
        self.input_dtype = self._qi.dtype

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits (float32) of one image batch of size 1."""
        self._it.set_tensor(self._in, self._qi.to_model(x))
        self._it.invoke()
        return self._qo.from_model(self._it.get_tensor(self._out))


class TFLM:
    """A .tflite in TFLite Micro's interpreter (reference kernels, x86 build from PyPI)."""

    engine = "tflm"

    def __init__(self, tflite: bytes, arena_bytes: int) -> None:
        from tflite_micro.python.tflite_micro import runtime

        self.arena_bytes = arena_bytes
        with quiet_fds():
            self._ip = runtime.Interpreter.from_bytes(tflite, arena_size=arena_bytes)
        self._qi = _Quantized(self._ip.get_input_details(0))
        self._qo = _Quantized(self._ip.get_output_details(0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._ip.set_input(self._qi.to_model(x), 0)
        self._ip.invoke()
        return self._qo.from_model(self._ip.get_output(0))


def tflm_min_arena(tflite: bytes, probe: np.ndarray, hi: int = 1 << 24) -> int:
    """Smallest TFLM arena (to 16 bytes) with which the model initialises and runs `probe`."""
    def works(n: int) -> bool:
        try:
            with quiet_fds():  # TFLM prints each failed allocation
                TFLM(tflite, n)(probe)
            return True
        except RuntimeError:  # "TFLM failed to allocate tensors" (or to run, when the arena is short)
            return False

    lo = 0
    if not works(hi):
        raise LinRepError(f"TFLite Micro cannot run this model even with a {hi}-byte arena")
    while hi - lo > 16:
        mid = (lo + hi) // 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    return hi
