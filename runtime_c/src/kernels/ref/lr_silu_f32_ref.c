/*
 * lr_silu_f32_ref.c -- SILU (swish): x / (1 + exp(-x)), torch's formula (so silu(-inf) is NaN, as there).
 */
#include "kernels/lr_kernels.h"

void lr_silu_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] / (1.0f + lr_expf(-x[i]));
    }
}
