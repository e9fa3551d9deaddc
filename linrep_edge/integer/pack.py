"""`pack --activations int8`: a compressed model → an int8 IR graph (capture, calibration, quantisation-aware
fine-tuning of a and b, quantisation). The format writer turns the graph into a version-4 blob."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from linrep_edge.format.ir import Graph
from linrep_edge.graph.capture import capture
from linrep_edge.integer.qat import qat_finetune
from linrep_edge.integer.quantize import quantize_graph
from linrep_edge.method.linrep_conv import LinRepConv2d

DEFAULT_AB_BITS = 6  # int8 activations need integer a/b; this width when --ab-bits is not given
CALIBRATION_IMAGES = 2000  # training images whose activation ranges fix the int8 scales


def capture_float(cmodel: nn.Module, example: torch.Tensor) -> Graph:
    """The fp32 graph with each LinRep layer's raw a, b (not the fp path's integer a/b: the int8 scheme
    quantises them itself)."""
    layers = [m for m in cmodel.modules() if isinstance(m, LinRepConv2d)]
    saved = [m.ab_bits for m in layers]
    try:
        for m in layers:
            m.ab_bits = 0
        return capture(cmodel, example)
    finally:
        for m, bits in zip(layers, saved):
            m.ab_bits = bits


def calibration_subset(x: torch.Tensor | np.ndarray, n: int = CALIBRATION_IMAGES, seed: int = 0) -> np.ndarray:
    """n inputs drawn without replacement (all when fewer), float32 numpy."""
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if len(arr) > n:
        arr = arr[np.sort(np.random.default_rng(seed).choice(len(arr), n, replace=False))]
    return np.ascontiguousarray(arr, dtype=np.float32)


def int8_graph(cmodel: nn.Module, example: torch.Tensor, bits: int, calibration: np.ndarray,
               train: torch.utils.data.Dataset | None = None, epochs: float = 0.0, lr: float = 1e-3,
               batch: int = 64, seed: int = 0, percentile: float = 100.0, show_progress: bool = True,
               layer_bits: dict[str, int] | None = None, train_bias: bool = False) -> Graph:
    """The int8 graph of a compressed model: ranges from `calibration`, then (with `train` and epochs > 0)
    a, b fine-tuned with the int8 model in the loop, then every integer fixed (`quantize_graph`). `bits`: the
    a/b width, `layer_bits` a width per LinRep layer name that differs; `train_bias`: the biases (int32,
    no byte more) fine-tune with a and b."""
    g = capture_float(cmodel, example)
    if train is not None and epochs > 0:
        g, _ = qat_finetune(g, calibration, train, bits, epochs, lr, batch, seed, percentile, show_progress,
                            layer_bits, train_bias)
    return quantize_graph(g, calibration, ab_bits=bits, percentile=percentile, layer_bits=layer_bits)
