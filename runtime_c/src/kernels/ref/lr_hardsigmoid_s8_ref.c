/*
 * lr_hardsigmoid_s8_ref.c -- HARDSIGMOID of an int8 model, our exact integer op (docs/INTEGER.md section 6.8;
 * TFLite has no such builtin): HARD_SWISH's reluish value r = (x + 3) / 6 in [0, 1] as int16 Q15
 * (lr_reluish_q15, TFLite's arithmetic), then zp_out + MBQM(r, M, s) clamped to int8. The verifier keeps the
 * reluish constants in HARD_SWISH's ranges and 32767 * 2^max(s, 0) below 2^31.
 */
#include "kernels/lr_kernels.h"

void lr_hardsigmoid_s8_ref(const int8_t *x, uint32_t n, const lr_hardswish_s8_params *p, int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t r = lr_reluish_q15(((int32_t)x[i] - p->zp_in) * 128, p->rel_mult, p->rel_exp);
        const int32_t out = p->zp_out + lr_mbqm(r, p->out_mult, p->out_exp);
        y[i] = (int8_t)(out < -128 ? -128 : out > 127 ? 127 : out);
    }
}
