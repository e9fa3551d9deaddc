/*
 * lr_silu_s8_ref.c -- SILU of an int8 model as TFLite converters emit it, LOGISTIC then MUL (docs/INTEGER.md
 * section 6.7): g = the int8 LOGISTIC of x (lr_sigmoid_s8_ref: scale 1/256, zero point -128, not stored), then
 * TFLite's int8 MUL of x by g: zp_out + MBQM((x - zp_in) * (g + 128), M, s), clamped to int8. The verifier
 * keeps SIGMOID's bounds on the logistic constants and 255 * 255 * 2^max(s, 0) below 2^31.
 */
#include "kernels/lr_kernels.h"

void lr_silu_s8_ref(const int8_t *x, uint32_t n, const lr_silu_s8_params *p, int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        int8_t g;
        int32_t out;
        lr_sigmoid_s8_ref(x + i, 1u, p->zp_in, p->mult_logistic, p->shift_logistic, p->radius, &g);
        out = p->zp_out + lr_mbqm(((int32_t)x[i] - p->zp_in) * ((int32_t)g + 128), p->mult_mul, p->shift_mul);
        y[i] = (int8_t)(out < -128 ? -128 : out > 127 ? 127 : out);
    }
}
