/*
 * lr_softmax_s8_ref.c -- SOFTMAX of an int8 model: TFLite's reference int8 softmax (gemmlowp's
 * fixed-point exp and reciprocal), over the c values of each of the `inner` positions of [c][inner]
 * (element (k, p) at k * inner + p). Input differences to the row's maximum are rescaled by the beta
 * multiplier into Q5.26, exp'd into Q0.31, summed in Q12.19; the sum's reciprocal scales each exp to
 * the output (scale 1/256, zero point -128). Differences below diff_min give -128. The verifier keeps
 * c <= 256 and |diff_min| * 2^shift below 2^31, so every step stays in TFLite's defined range.
 */
#include "kernels/lr_kernels.h"

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
                sum += lr_rdbpot(lr_exp_on_negative_values(lr_mbqm(diff, mult, shift), 5), 12); /* Q0.31 -> Q12.19 */
            }
        }
        headroom = clz32((uint32_t)sum);
        bits_over_unit = 12 - headroom;
        scale = lr_one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        for (k = 0; k < c; k++) {
            const int32_t diff = (int32_t)x[k * inner + p] - max_v;
            int32_t v = -128;
            if (diff >= diff_min) {
                const int32_t e = lr_exp_on_negative_values(lr_mbqm(diff, mult, shift), 5);
                v = lr_rdbpot(lr_srdhm(scale, e), bits_over_unit + 31 - 8) - 128;
                v = v < -128 ? -128 : v > 127 ? 127 : v;
            }
            y[k * inner + p] = (int8_t)v;
        }
    }
}
