/*
 * lr_sigmoid_s8_ref.c -- SIGMOID of an int8 model: TFLite's int8 LOGISTIC (reference_integer_ops::Logistic,
 * docs/INTEGER.md section 6). v = x - zp_in; v <= -radius gives -128, v >= radius 127; otherwise v is rescaled
 * into Q4.27 (MBQM with the input multiplier, shift >= 0), gemmlowp's logistic gives Q0.31, and the output
 * (scale 1/256, zero point -128) is RDBPOT(., 23) - 128 clamped. The verifier keeps 0 <= shift <= 30 and
 * min(radius - 1, 255) * 2^shift < 2^31, so the rescaling never overflows.
 */
#include "kernels/lr_kernels.h"

void lr_sigmoid_s8_ref(const int8_t *x, uint32_t n, int32_t zp_in, int32_t mult, int32_t shift, int32_t radius,
                       int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t v = (int32_t)x[i] - zp_in;
        int32_t out;
        if (v <= -radius) {
            out = -128;
        } else if (v >= radius) {
            out = 127;
        } else {
            out = lr_rdbpot(lr_logistic_q31(lr_mbqm(v, mult, shift), 4), 31 - 8) - 128;
            out = out < -128 ? -128 : out > 127 ? 127 : out;
        }
        y[i] = (int8_t)out;
    }
}
