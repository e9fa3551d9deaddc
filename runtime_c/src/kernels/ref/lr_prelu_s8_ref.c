/*
 * lr_prelu_s8_ref.c -- PRELU of an int8 model: TFLite's int8 PRELU (BroadcastPrelu4DSlow, docs/INTEGER.md
 * section 6.6) over [c][inner]: v = x - zp_in; zp_out + MBQM(v, identity) for v >= 0, else
 * zp_out + MBQM(v * (a - zp_a), alpha) with a the int8 slope of the channel (n_alpha = c) or the one slope
 * (n_alpha = 1); clamped to int8. The slopes are little-endian int32 words in -128 .. 127 (the op's qparams
 * after zp_a). The verifier keeps 255 * 2^s (identity) and 255 * 255 * 2^s (alpha) below 2^31.
 */
#include "kernels/lr_kernels.h"

void lr_prelu_s8_ref(const int8_t *x, uint32_t c, uint32_t inner, const lr_prelu_s8_params *p, int8_t *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int32_t a = lr_lei32(p->alpha + 4u * (p->n_alpha == 1u ? 0u : ch)) - p->zp_alpha;
        for (i = 0; i < inner; i++) {
            const int32_t v = (int32_t)x[ch * inner + i] - p->zp_in;
            const int32_t out = p->zp_out + (v >= 0 ? lr_mbqm(v, p->mult_identity, p->shift_identity)
                                                    : lr_mbqm(v * a, p->mult_alpha, p->shift_alpha));
            y[ch * inner + i] = (int8_t)(out < -128 ? -128 : out > 127 ? 127 : out);
        }
    }
}
