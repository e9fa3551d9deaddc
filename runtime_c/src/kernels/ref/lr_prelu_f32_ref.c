/*
 * lr_prelu_f32_ref.c -- PRELU: prelu(x) = x > 0 ? x : slope[c] * x; x is [c][inner]; one slope for all channels if
 * n_slopes == 1. Slopes are read in place (fp32 or fp16).
 */
#include "kernels/lr_kernels.h"

void lr_prelu_f32_ref(const float *x, uint32_t c, uint32_t inner, lr_values slopes, uint32_t n_slopes, float *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const float s = lr_value(slopes, n_slopes == 1u ? 0u : ch);
        for (i = 0; i < inner; i++) {
            const float v = x[ch * inner + i];
            y[ch * inner + i] = v > 0.0f ? v : s * v;
        }
    }
}
