"""Bit-packing of template indices at any width 1..16.

Layout (the one place it is written down; docs/FORMAT.md repeats it with the same example):
the indices form one little-endian bit stream. Index n occupies stream bits [n·w, (n+1)·w) with its
least significant bit first; stream bit j is bit (j mod 8) of byte ⌊j/8⌋. The stream is padded with
zero bits to a whole byte: ⌈N·w/8⌉ bytes.

Worked example, w = 3, indices [5, 1, 7]:
    5 = 101b → stream bits 0..2 = 1,0,1
    1 = 001b → stream bits 3..5 = 1,0,0
    7 = 111b → stream bits 6..8 = 1,1,1
    byte 0 = bits 7..0 = 1,1,0,0,1,1,0,1 = 0xCD;  byte 1 = 0000000 1 = 0x01   → b"\xcd\x01"
"""

from __future__ import annotations

import math

import numpy as np

from linrep_edge.errors import LinRepError


def index_bits(k: int) -> int:
    """The default index width of a codebook of k templates: ⌈log2 k⌉, at least 1."""
    return max(1, math.ceil(math.log2(k)))


def packed_size(count: int, width: int) -> int:
    return (count * width + 7) // 8


def pack_indices(indices: np.ndarray, width: int) -> bytes:
    """Pack non-negative integers < 2**width into the bit stream described above."""
    if not 1 <= width <= 16:
        raise LinRepError(f"index width must be 1..16 bits, got {width}")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= 1 << width):
        raise LinRepError(f"index out of range for {width}-bit packing: min {idx.min()}, max {idx.max()}")
    bits = ((idx[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(bits, bitorder="little").tobytes()


def unpack_indices(data: bytes, count: int, width: int, dtype: type = np.int64) -> np.ndarray:
    """Inverse of pack_indices: `count` indices of `width` bits from `data`, as `dtype`.

    No per-bit expansion: an index of w <= 16 bits lies within 3 bytes starting at byte ⌊n·w/8⌋, so each
    is gathered from those bytes and shifted, a chunk of indices at a time (temporaries stay a few MB
    whatever `count` is). Width 1 is numpy's unpackbits, widths 8 and 16 are plain views."""
    if not 1 <= width <= 16:
        raise LinRepError(f"index width must be 1..16 bits, got {width}")
    if count < 0 or len(data) < packed_size(count, width):
        raise LinRepError(f"packed indices truncated: {len(data)} bytes for {count} x {width} bits")
    raw = np.frombuffer(data, dtype=np.uint8)
    if width == 1:
        return np.unpackbits(raw[:packed_size(count, 1)], count=count, bitorder="little").astype(dtype, copy=False)
    if width in (8, 16):
        return raw[:count * width // 8].view("<u1" if width == 8 else "<u2").astype(dtype)
    padded = np.concatenate([raw[:packed_size(count, width)], np.zeros(3, np.uint8)])  # 3 zero bytes past the end
    out = np.empty(count, dtype)
    mask = (1 << width) - 1
    for lo in range(0, count, UNPACK_CHUNK):
        bit = np.arange(lo, min(lo + UNPACK_CHUNK, count), dtype=np.int64) * width
        byte, shift = bit >> 3, (bit & 7).astype(np.uint32)
        word = (padded[byte].astype(np.uint32) | (padded[byte + 1].astype(np.uint32) << 8)
                | (padded[byte + 2].astype(np.uint32) << 16))
        out[lo:lo + len(bit)] = (word >> shift) & mask
    return out


UNPACK_CHUNK = 1 << 16


def pack_signed(values: np.ndarray, width: int) -> bytes:
    """Signed integers in [-2^(width-1), 2^(width-1)) as `width`-bit two's complement, same bit stream.
    Worked example (docs/FORMAT.md): width 4, [-3, 5, 7, -8] → b"\x5d\x87"."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < -(1 << (width - 1)) or v.max() >= 1 << (width - 1)):
        raise LinRepError(f"value out of range for {width}-bit signed packing: min {v.min()}, max {v.max()}")
    return pack_indices(v & ((1 << width) - 1), width)


def unpack_signed(data: bytes, count: int, width: int) -> np.ndarray:
    """Inverse of pack_signed."""
    raw = unpack_indices(data, count, width, np.int32)
    raw[raw >= 1 << (width - 1)] -= 1 << width
    return raw.astype(np.int64)


def fp16_bits(values: np.ndarray) -> np.ndarray:
    """IEEE binary16 bit patterns (uint16) of `values`, round to nearest even (beyond ±65504: ±inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float32).astype(np.float16).view(np.uint16)


def check_fp16_range(values: np.ndarray, what: str) -> None:
    """Refuse finite values that fp16 storage would turn into infinities (|x| > 65504)."""
    v = np.asarray(values, dtype=np.float32)
    bad = np.isfinite(v) & (np.abs(v) >= 65520.0)  # rounds to inf in binary16
    if bad.any():
        raise LinRepError(f"{what}: value {float(v[bad][0]):g} does not fit fp16 (|x| <= 65504); "
                          "store it as fp32 (--weights-dtype fp32 / --codebook-dtype fp32)")


def fp16_values(bits: np.ndarray) -> np.ndarray:
    """float32 values of IEEE binary16 bit patterns."""
    return np.asarray(bits, dtype=np.uint16).view(np.float16).astype(np.float32)
