/*
 * lr_tanh_s8_ref.c -- TANH of an int8 model: TFLite's int8 TANH (reference_integer_ops::Tanh, docs/INTEGER.md
 * section 6.3). As SIGMOID: v = x - zp_in, -128 / 127 beyond the input radius, else the Q4.27 input through
 * gemmlowp's tanh; the output (scale 1/128, zero point 0) is RDBPOT(., 24) clamped. Same verifier bounds as
 * SIGMOID: the rescaling never overflows.
 */
#include "kernels/lr_kernels.h"

void lr_tanh_s8_ref(const int8_t *x, uint32_t n, int32_t zp_in, int32_t mult, int32_t shift, int32_t radius,
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
            out = lr_rdbpot(lr_tanh_q31(lr_mbqm(v, mult, shift), 4), 31 - 7);
            out = out < -128 ? -128 : out > 127 ? 127 : out;
        }
        y[i] = (int8_t)out;
    }
}
