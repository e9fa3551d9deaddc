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


# -- gemmlowp's fixed-point transcendental functions (docs/INTEGER.md §4, §6) ------------------------------
# A Qm.(31−m) number is an int32 raw value r meaning r / 2^(31−m). SOFTMAX (Q5.26 input), SIGMOID and TANH
# (Q4.27 input) share them; the C runtime's are in runtime_c/src/kernels/ref/lr_fixedpoint_ref.c.

def saturating_shift_left(x: np.ndarray | int, e: int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingMultiplyByPOT<e> for e > 0: x · 2^e saturated to int32."""
    x64 = _i64(x)
    threshold = (1 << (31 - e)) - 1
    return np.where(x64 > threshold, INT32_MAX, np.where(x64 < -threshold, INT32_MIN, x64 << e))


def _exp_on_interval(a: np.ndarray) -> np.ndarray:
    """gemmlowp's exp_on_interval_between_negative_one_quarter_and_0_excl (Q0.31 in and out): a Taylor
    series around −1/8."""
    srdhm = saturating_rounding_doubling_high_mul
    constant_term = 1895147668  # exp(−1/8)
    one_third = 715827883
    x = a + (1 << 28)  # a + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(srdhm(x4_over_4 + x3, one_third) + x2, 1)
    return constant_term + srdhm(constant_term, x + poly)  # exp(−1/8)·(1 + x + x²/2 + x³/6 + x⁴/24)


# exp(−2^k) in Q0.31 for k = −2 .. 4: gemmlowp's barrel shifter constants
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
               (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray | int, integer_bits: int) -> np.ndarray:
    """gemmlowp's exp_on_negative_values for a Q(integer_bits).(31−integer_bits) input a <= 0 (integer_bits
    1..5), result Q0.31. The barrel shifter uses the constants of the exponents below integer_bits."""
    if not 1 <= integer_bits <= 5:
        raise ValueError(f"exp_on_negative_values with {integer_bits} integer bits (1..5)")
    a64 = _i64(a)
    frac_bits = 31 - integer_bits
    quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_quarter = (a64 & (quarter - 1)) - quarter
    result = _exp_on_interval(saturating_shift_left(a_mod_quarter_minus_quarter, integer_bits))
    remainder = a_mod_quarter_minus_quarter - a64
    for exponent, multiplier in _EXP_BARREL:
        if exponent < integer_bits:
            bit = (remainder & (1 << (frac_bits + exponent))) != 0
            result = np.where(bit, saturating_rounding_doubling_high_mul(result, multiplier), result)
    return np.where(a64 == 0, INT32_MAX, result)


def _rounding_half_sum_with_one(a: np.ndarray) -> np.ndarray:
    """gemmlowp's RoundingHalfSum(a, One) in Q0.31: (a + 2^31 − 1 + sign) / 2, C division."""
    total = _i64(a) + INT32_MAX
    return np.where(total >= 0, (total + 1) // 2, -((-total + 1) // 2))


def _newton_two_over_one_plus_x(half_denominator: np.ndarray) -> np.ndarray:
    """2 / (1 + x) in Q2.29 from hd = (1 + x) / 2: 48/17 − 32/17·hd, then three Newton–Raphson steps."""
    srdhm = saturating_rounding_doubling_high_mul
    x = 1515870810 + srdhm(half_denominator, -1010580540)  # 48/17 − 32/17 · d in Q2.29
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_denominator, x)
        x = x + saturating_shift_left(srdhm(x, one_minus), 2)
    return x


def one_over_one_plus_x(a: np.ndarray | int) -> np.ndarray:
    """gemmlowp's one_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out."""
    return saturating_shift_left(_newton_two_over_one_plus_x(_rounding_half_sum_with_one(a)), 1)


def one_minus_x_over_one_plus_x(a: np.ndarray | int) -> np.ndarray:
    """gemmlowp's one_minus_x_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out (2/(1+x) − 1)."""
    return saturating_shift_left(_newton_two_over_one_plus_x(_rounding_half_sum_with_one(a)) - (1 << 29), 2)


def logistic_q31(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp's logistic of a Q(integer_bits) number: 1 / (1 + exp(−|a|)) for a > 0, one minus it for
    a < 0, 1/2 at 0; Q0.31 result. |a| must not be INT32_MIN."""
    a64 = _i64(a)
    pos = one_over_one_plus_x(exp_on_negative_values(-np.abs(a64), integer_bits))
    return np.where(a64 == 0, 1 << 30, np.where(a64 > 0, pos, INT32_MAX - pos))


def tanh_q31(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp's tanh of a Q(integer_bits) number (integer_bits <= 4): t = (1 − e)/(1 + e) with
    e = exp(−2|a|) (the doubled value read with one more integer bit); −t for a < 0, 0 at 0; Q0.31."""
    a64 = _i64(a)
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(-np.abs(a64), integer_bits + 1))
    return np.where(a64 == 0, 0, np.where(a64 < 0, -t, t))


def input_rescale_params(scale: float, integer_bits: int = 4) -> tuple[int, int, int]:
    """TFLite's int8 LOGISTIC / TANH Prepare: real = scale · 2^(31 − integer_bits) in double (float32 scale
    widened), (q, shift) = frexp(real), multiplier = round(q · 2^31) (half away from zero; no renormalising,
    unlike QuantizeMultiplier), radius = ⌊(2^integer_bits − 1) · 2^(31 − integer_bits) / 2^shift⌋
    (CalculateInputRadius). Returns (multiplier, shift, radius). Refuses what TFLite's arithmetic leaves
    undefined: a multiplier rounding to 2^31, a negative or > 30 shift."""
    real = float(np.float32(scale)) * float(1 << (31 - integer_bits))
    q, shift = math.frexp(real)
    mult = _round_half_away(q * float(1 << 31))
    if mult >= 1 << 31 or not 0 <= shift <= 30:
        raise ValueError(f"input scale {scale}: TFLite's fixed-point input rescaling is undefined for it")
    radius = math.floor(((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << shift))
    return mult, shift, radius


# -- int16 fixed point (TFLite's int8 HARD_SWISH, docs/INTEGER.md §6.2) ---------------------------------

INT16_MIN = -(1 << 15)
INT16_MAX = (1 << 15) - 1


def downscale_multiplier_int16(multiplier: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier: (m + 2^15) >> 16, or 32767 when m >= 2^31 − 1 − 2^15."""
    if multiplier >= INT32_MAX - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16


def srdhm16(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul: (a·b + nudge) / 2^15 (C division), nudge 2^14 or
    1 − 2^14 by the sign of a·b; a = b = −2^15 gives 2^15 − 1."""
    a64, b64 = np.broadcast_arrays(_i64(a), _i64(b))
    ab = a64 * b64
    num = ab + np.where(ab >= 0, np.int64(1 << 14), np.int64(1 - (1 << 14)))
    q = np.abs(num) >> 15
    return np.where((a64 == INT16_MIN) & (b64 == INT16_MIN), INT16_MAX, np.where(num < 0, -q, q))


def sdhm16(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """TFLite's SaturatingDoublingHighMul (int16, like SQDMULH): a·b / 2^15 truncated toward zero;
    a = b = −2^15 gives 2^15 − 1."""
    a64, b64 = np.broadcast_arrays(_i64(a), _i64(b))
    ab = a64 * b64
    q = np.abs(ab) >> 15
    return np.where((a64 == INT16_MIN) & (b64 == INT16_MIN), INT16_MAX, np.where(ab < 0, -q, q))


def saturating_shift_left16(x: np.ndarray | int, amount: int) -> np.ndarray:
    """TFLite's SaturatingLeftShift (int16): x · 2^amount clamped to int16."""
    return np.clip(_i64(x) << amount, INT16_MIN, INT16_MAX)


def hardswish_params(s_in: float, s_out: float) -> tuple[int, int, int, int]:
    """TFLite Micro's HardSwishPrepare for int8: (output multiplier int16, its exponent, reluish multiplier
    int16, its exponent). In float32 as TFLite: hires = s_in / 128, output real = hires / s_out, reluish real
    = hires / (3 / 32768); each through QuantizeMultiplier and DownScaleInt32ToInt16Multiplier. Refuses
    exponents outside what the int16 arithmetic defines here: output −15 … 0, reluish −15 … 30."""
    f32 = np.float32
    hires = f32(1.0 / 128.0) * f32(s_in)
    out_m, out_e = quantize_multiplier(float(f32(hires / f32(s_out))))
    rel_m, rel_e = quantize_multiplier(float(f32(hires / f32(3.0 / 32768.0))))
    if not -15 <= out_e <= 0 or not -15 <= rel_e <= 30:
        raise ValueError(f"input/output scales {s_in}/{s_out}: TFLite's int8 hard-swish multipliers have exponents "
                         f"{out_e} (output, needs -15..0) and {rel_e} (reluish, needs -15..30)")
    return downscale_multiplier_int16(out_m), out_e, downscale_multiplier_int16(rel_m), rel_e


def leaky_relu_params(s_in: float, alpha: float, s_out: float) -> tuple[int, int, int, int]:
    """TFLite Micro's CalculateOpDataLeakyRelu: (identity multiplier, shift, alpha multiplier, shift) from
    s_in / s_out and s_in · alpha / s_out in double (float32 values widened). Refuses a negative alpha (a
    negative multiplier) and left shifts over 23 (255 · 2^shift must fit int32)."""
    if not np.float32(alpha) >= 0:
        raise ValueError(f"leaky ReLU slope {alpha}: the int8 form needs a slope >= 0")
    s_i, s_o = float(np.float32(s_in)), float(np.float32(s_out))
    mi, si = quantize_multiplier(s_i / s_o)
    ma, sa = quantize_multiplier(s_i * float(np.float32(alpha)) / s_o)
    if max(si, sa) > 23:
        raise ValueError(f"input/output scales {s_in}/{s_out}: a left shift of {max(si, sa)} (at most 23)")
    return mi, si, ma, sa


def prelu_params(s_in: float, s_alpha: float, s_out: float) -> tuple[int, int, int, int]:
    """TFLite Micro's CalculatePreluParams: (identity multiplier, shift, alpha multiplier, shift) from s_in / s_out
    and s_in · s_alpha / s_out in double (float32 scales widened). Refuses left shifts the int32 products
    cannot take: identity over 23 (255 · 2^s), alpha over 15 (255 · 255 · 2^s)."""
    s_i, s_a, s_o = (float(np.float32(v)) for v in (s_in, s_alpha, s_out))
    m1, sh1 = quantize_multiplier(s_i / s_o)
    m2, sh2 = quantize_multiplier(s_i * s_a / s_o)
    if sh1 > 23 or sh2 > 15:
        raise ValueError(f"input/slope/output scales {s_in}/{s_alpha}/{s_out}: left shifts {sh1}, {sh2} "
                         "(at most 23, 15)")
    return m1, sh1, m2, sh2


def silu_params(s_in: float, s_out: float) -> tuple[int, int, int, int, int]:
    """SILU as TFLite converters emit it, LOGISTIC then MUL of the input by it: (logistic multiplier, shift,
    radius) of `input_rescale_params`, then TFLite Micro's MUL multiplier (M, s) = QuantizeMultiplier(s_in ·
    (1/256) / s_out) (double from the float32 scales), the sigmoid being quantised 1/256, −128. Refuses a MUL
    left shift over 15 (255 · 255 · 2^s must fit int32)."""
    ml, sl, radius = input_rescale_params(s_in, 4)
    mm, sm = quantize_multiplier(float(np.float32(s_in)) * (1.0 / 256.0) / float(np.float32(s_out)))
    if sm > 15:
        raise ValueError(f"input/output scales {s_in}/{s_out}: a MUL left shift of {sm} (at most 15)")
    return ml, sl, radius, mm, sm


def hardsigmoid_params(s_in: float, s_out: float) -> tuple[int, int, int, int]:
    """Our int8 HARDSIGMOID (docs/INTEGER.md §6.8): (output multiplier, shift, reluish multiplier int16, exponent):
    the reluish pair is HARD_SWISH's (`hardswish_params`, depends on s_in only), the output pair
    QuantizeMultiplier(2^−15 / s_out) (double from the float32 scale). Refuses an output left shift over 16
    (32767 · 2^s must fit int32)."""
    _, _, rel_m, rel_e = hardswish_params(s_in, s_in)
    out_m, out_s = quantize_multiplier(1.0 / 32768.0 / float(np.float32(s_out)))
    if out_s > 16:
        raise ValueError(f"output scale {s_out}: a left shift of {out_s} (at most 16)")
    return out_m, out_s, rel_m, rel_e


def clamp_range(lo: float, hi: float, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite Micro's CalculateReluOpData bounds for int8: zp + roundf(bound / scale) in float32 (half away
    from zero), within −128 … 127; an infinite bound is the int8 end."""
    def q(bound: float, end: int) -> int:
        if math.isinf(bound):
            return end
        r = float(np.float32(bound) / np.float32(scale))
        return int(np.clip(zero_point + _round_half_away(max(min(r, 1e9), -1e9)), -128, 127))
    return q(lo, -128), q(hi, 127)
