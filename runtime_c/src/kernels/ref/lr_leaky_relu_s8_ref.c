/*
 * lr_leaky_relu_s8_ref.c -- LEAKY_RELU of an int8 model: TFLite's int8 LEAKY_RELU (QuantizeLeakyRelu,
 * docs/INTEGER.md section 6.5): v = x - zp_in; zp_out + MBQM(v, identity) for v >= 0, zp_out + MBQM(v, alpha)
 * otherwise; clamped to int8. The verifier keeps 255 * 2^max(shift, 0) below 2^31 for both multipliers.
 */
#include "kernels/lr_kernels.h"

void lr_leaky_relu_s8_ref(const int8_t *x, uint32_t n, const lr_leaky_relu_s8_params *p, int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t v = (int32_t)x[i] - p->zp_in;
        const int32_t out = p->zp_out + (v >= 0 ? lr_mbqm(v, p->mult_identity, p->shift_identity)
                                                : lr_mbqm(v, p->mult_alpha, p->shift_alpha));
        y[i] = (int8_t)(out < -128 ? -128 : out > 127 ? 127 : out);
    }
}
