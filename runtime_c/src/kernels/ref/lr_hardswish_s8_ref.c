/*
 * lr_hardswish_s8_ref.c -- HARDSWISH of an int8 model: TFLite's int8 HARD_SWISH (reference_ops::HardSwish,
 * int16 fixed point; docs/INTEGER.md section 6.2). The input on a "hires" scale v * 2^7 is rescaled once to
 * the output scale (before its right shift) and once to the "reluish" value (3 = 2^15, saturated to [-1, 1],
 * then mapped to [0, 1]); their truncating doubling high product, shifted right by the output exponent, plus
 * the output zero point, clamped. The verifier keeps both multipliers in 0 .. 32767, the output exponent in
 * -15 .. 0 and the reluish one in -15 .. 30, so every step below is defined.
 */
#include "kernels/lr_kernels.h"

/* gemmlowp's int16 SaturatingRoundingDoublingHighMul. */
static int32_t srdhm16(int32_t a, int32_t b)
{
    const int32_t ab = a * b; /* |a|, |b| <= 2^15: fits */
    const int32_t nudge = ab >= 0 ? (1 << 14) : 1 - (1 << 14);
    return (a == INT16_MIN && b == INT16_MIN) ? INT16_MAX : (ab + nudge) / (1 << 15);
}

/* TFLite's SaturatingDoublingHighMul (int16, truncating). */
static int32_t sdhm16(int32_t a, int32_t b)
{
    return (a == INT16_MIN && b == INT16_MIN) ? INT16_MAX : (a * b) / (1 << 15);
}

/* TFLite's SaturatingLeftShift (int16), 0 <= amount <= 29. */
static int32_t sat_shl16(int32_t v, int32_t amount)
{
    const int64_t r = (int64_t)v * ((int64_t)1 << amount);
    return r > INT16_MAX ? INT16_MAX : r < INT16_MIN ? INT16_MIN : (int32_t)r;
}

int32_t lr_reluish_q15(int32_t hires, int32_t rel_mult, int32_t rel_exp)
{
    int32_t r = hires;
    if (rel_exp > 0) {
        r = sat_shl16(r, rel_exp - 1);
    }
    r = srdhm16(r, rel_mult);
    if (rel_exp > 0) {
        r = sat_shl16(r, 1);
    } else if (rel_exp < 0) {
        r = lr_rdbpot(r, -rel_exp);
    }
    return (r + (1 << 15)) >> 1; /* [-1, 1] -> [0, 1] */
}

void lr_hardswish_s8_ref(const int8_t *x, uint32_t n, const lr_hardswish_s8_params *p, int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t hires = ((int32_t)x[i] - p->zp_in) * 128; /* |x - zp| <= 255: within int16 */
        const int32_t pre_out = srdhm16(hires, p->out_mult);
        const int32_t r = lr_reluish_q15(hires, p->rel_mult, p->rel_exp);
        const int32_t out = lr_rdbpot(sdhm16(r, pre_out), -p->out_exp) + p->zp_out;
        y[i] = (int8_t)(out < -128 ? -128 : out > 127 ? 127 : out);
    }
}
