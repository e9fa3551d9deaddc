"""TFLite's fixed-point arithmetic, exactly (docs/INTEGER.md §1), vectorised over numpy int64 arrays.

Every function takes and returns integer arrays (or Python ints) and reproduces the C integer result
bit for bit: C's truncating division and arithmetic right shift are written out explicitly.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _i64(x: np.ndarray | int) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def saturating_rounding_doubling_high_mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """(a * b * 2 + 2^31 rounding) >> 32 as gemmlowp computes it: round half away from zero of
    a * b / 2^31, with the one overflowing case (both INT32_MIN) saturated to INT32_MAX."""
    a64, b64 = np.broadcast_arrays(_i64(a), _i64(b))
    ab = a64 * b64  # |ab| <= 2^62: no int64 overflow
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    num = ab + nudge
    q = np.abs(num) // np.int64(1 << 31)  # C division truncates toward zero
    high = np.where(num < 0, -q, q)
    overflow = (a64 == INT32_MIN) & (b64 == INT32_MIN)
    return np.where(overflow, np.int64(INT32_MAX), high)


def rounding_divide_by_pot(x: np.ndarray | int, exponent: np.ndarray | int) -> np.ndarray:
    """x / 2^exponent rounded half away from zero (gemmlowp's RoundingDivideByPOT), 0 <= exponent <= 31."""
    x64, e = np.broadcast_arrays(_i64(x), _i64(exponent))
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0).astype(np.int64)
    return (x64 >> e) + (remainder > threshold).astype(np.int64)


def multiply_by_quantized_multiplier(x: np.ndarray | int, multiplier: np.ndarray | int,
                                     shift: np.ndarray | int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier: x * multiplier / 2^31 * 2^shift with its two roundings.
    x must fit int32 after the left shift (the callers' bounds guarantee it)."""
    s = _i64(shift)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(_i64(x) << left, multiplier), right)


def multiply_by_quantized_multiplier_smaller_than_one(x: np.ndarray | int, multiplier: np.ndarray | int,
                                                      shift: np.ndarray | int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0): ADD's rescaling."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -_i64(shift))


def _round_half_away(x: float) -> int:
    """C's round() / std::round on a double: half away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: (multiplier, shift) with real = multiplier / 2^31 * 2^shift, multiplier
    in [2^30, 2^31) (or 0). `real` is the double the caller computed (TFLite: from float32 scales
    converted to double, multiplied in double)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = _round_half_away(q * float(1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: quantize_multiplier for 0 < real < 1 (shift <= 0)."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real} is not in (0, 1)")
    return quantize_multiplier(real)


def requant_scale(*factors: float, divide_by: float) -> float:
    """The double TFLite computes a requantisation scale as: each float32 factor widened to double,
    multiplied, then divided by the (widened) output scale."""
    r = 1.0
    for f in factors:
        r *= float(np.float32(f))
    return r / float(np.float32(divide_by))


def mean_multiplier(multiplier: int, shift: int, n: int) -> tuple[int, int]:
    """TFLite's QuantizedMeanOrSum folds 1/n into the output multiplier: with s = min(floor(log2 n), 32,
    31 + shift), multiplier' = (multiplier · 2^s) / n (int64, truncated), shift' = shift − s."""
    if n < 1:
        raise ValueError(f"mean of {n} values")
    s = min(n.bit_length() - 1, 32, 31 + shift)
    return int((multiplier << s) // n), shift - s


def saturate_int8(x: np.ndarray, lo: int = -128, hi: int = 127) -> np.ndarray:
    """Clamp to [lo, hi] and return int8."""
    return np.clip(_i64(x), lo, hi).astype(np.int8)
