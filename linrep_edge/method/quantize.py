"""Symmetric integer quantization: the one definition used in training (straight-through), at capture
and by the packer, so the model evaluated in torch is the model the blob holds.

q = clamp(round(x / scale), -qmax, qmax), qmax = 2^(bits-1) - 1, scale = max|x| / qmax over the group
(one output channel, or the whole tensor), 1 when the group is all zero. Dequantized value: q * scale
in fp32 — the C runtime computes exactly that product.
"""

from __future__ import annotations

import numpy as np
import torch

from linrep_edge.errors import LinRepError

AB_BITS = (2, 3, 4, 5, 6, 7, 8)  # integer widths for a and b; 0 (or 16 on the CLI) = fp16


def check_bits(bits: int) -> None:
    if bits not in AB_BITS:
        raise LinRepError(f"a/b bits must be 16 (fp16) or one of {', '.join(map(str, AB_BITS))}, got {bits}")


def qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def scales(x: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """fp32 scale per output channel (dim 0) — a per-tensor scale repeated when not per_channel."""
    flat = x.detach().float().reshape(x.shape[0], -1).abs()
    peak = flat.amax(1) if per_channel else flat.amax().expand(x.shape[0])
    s = peak / qmax(bits)
    return torch.where(s > 0, s, torch.ones_like(s)).float()


def quantize(x: torch.Tensor, bits: int, per_channel: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(integer tensor q shaped like x, fp32 scale [x.shape[0]])."""
    s = scales(x, bits, per_channel)
    shape = (-1,) + (1,) * (x.dim() - 1)
    q = torch.clamp(torch.round(x.detach().float() / s.reshape(shape)), -qmax(bits), qmax(bits))
    return q.to(torch.int64), s


def fake_quantize(x: torch.Tensor, bits: int, per_channel: bool = True) -> torch.Tensor:
    """q * scale in the forward pass, identity gradient (straight-through estimator)."""
    q, s = quantize(x, bits, per_channel)
    deq = q.float() * s.reshape((-1,) + (1,) * (x.dim() - 1))
    return x + (deq - x).detach()


def quantize_int8_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-output-channel int8 of a conv or linear weight: (q int8, scale fp32 [Cout], q * scale fp32)."""
    q, s = quantize(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)), 8, per_channel=True)
    qn, sn = q.numpy().astype(np.int8), s.numpy().astype(np.float32)
    deq = (qn.astype(np.float32) * sn.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
    return qn, sn, deq
