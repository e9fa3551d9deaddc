/*
 * lr_softmax_s8_ref.c -- SOFTMAX of an int8 model: TFLite's reference int8 softmax (gemmlowp's
 * fixed-point exp and reciprocal), over the c values of each of the `inner` positions of [c][inner]
 * (element (k, p) at k * inner + p). Input differences to the row's maximum are rescaled by the beta
 * multiplier into Q5.26, exp'd into Q0.31, summed in Q12.19; the sum's reciprocal scales each exp to
 * the output (scale 1/256, zero point -128). Differences below diff_min give -128. The verifier keeps
 * c <= 256 and |diff_min| * 2^shift below 2^31, so every step stays in TFLite's defined range.
 */
#include "kernels/lr_kernels.h"

/* gemmlowp's SaturatingRoundingMultiplyByPOT<e> for e > 0: x * 2^e saturated to int32. */
static int32_t sat_shl(int32_t x, int32_t e)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - e)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((int64_t)x * ((int64_t)1 << e));
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668, one_third = 715827883;
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = lr_srdhm(x, x), x3 = lr_srdhm(x2, x), x4 = lr_srdhm(x2, x2);
    const int32_t x4_over_4 = lr_rdbpot(x4, 2);
    const int32_t poly = lr_rdbpot(lr_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + lr_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0: a in Q5.26, result in Q0.31 (gemmlowp's exp_on_negative_values). */
static int32_t exp_negative(int32_t a)
{
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t quarter = 1 << 24, mask = quarter - 1;
    const int32_t a_mod = (int32_t)((uint32_t)a & (uint32_t)mask) - quarter; /* (a & mask) - 1/4 */
    const int32_t remainder = a_mod - a;
    int32_t result = exp_quarter(sat_shl(a_mod, 5)), k;
    for (k = 0; k < 7; k++) { /* exponents -2 .. 4: bit 26 + exponent of the remainder */
        if (((uint32_t)remainder >> (24 + k)) & 1u) {
            result = lr_srdhm(result, mult[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson in Q2.29). */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + lr_srdhm(half_den, -1010580540), i;
    for (i = 0; i < 3; i++) {
        const int32_t hdx = lr_srdhm(half_den, x);
        const int32_t one_minus = (1 << 29) - hdx;
        x = x + sat_shl(lr_srdhm(x, one_minus), 2);
    }
    return sat_shl(x, 1);
}

static int32_t clz32(uint32_t v)
{
    int32_t n = 0;
    if (v == 0u) {
        return 32;
    }
    while ((v & 0x80000000u) == 0u) {
        v <<= 1;
        n++;
    }
    return n;
}

void lr_softmax_s8_ref(const int8_t *x, uint32_t c, uint32_t inner, int32_t mult, int32_t shift, int32_t diff_min,
                       int8_t *y)
{
    uint32_t p, k;
    for (p = 0; p < inner; p++) {
        int32_t max_v = -128, sum = 0, headroom, bits_over_unit, scale;
        for (k = 0; k < c; k++) {
            max_v = x[k * inner + p] > max_v ? x[k * inner + p] : max_v;
        }
        for (k = 0; k < c; k++) {
            const int32_t diff = (int32_t)x[k * inner + p] - max_v;
            if (diff >= diff_min) {
                sum += lr_rdbpot(exp_negative(lr_mbqm(diff, mult, shift)), 12); /* Q0.31 -> Q12.19 */
            }
        }
        headroom = clz32((uint32_t)sum);
        bits_over_unit = 12 - headroom;
        scale = one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        for (k = 0; k < c; k++) {
            const int32_t diff = (int32_t)x[k * inner + p] - max_v;
            int32_t v = -128;
            if (diff >= diff_min) {
                const int32_t e = exp_negative(lr_mbqm(diff, mult, shift));
                v = lr_rdbpot(lr_srdhm(scale, e), bits_over_unit + 31 - 8) - 128;
                v = v < -128 ? -128 : v > 127 ? 127 : v;
            }
            y[k * inner + p] = (int8_t)v;
        }
    }
}
