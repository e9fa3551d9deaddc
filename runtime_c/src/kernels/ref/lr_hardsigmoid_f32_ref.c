/*
 * lr_hardsigmoid_f32_ref.c -- HARDSIGMOID: min(max(x + 3, 0), 6) / 6, as torch (NaN stays NaN).
 */
#include "kernels/lr_kernels.h"

void lr_hardsigmoid_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        float r = x[i] + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        y[i] = r / 6.0f;
    }
}
