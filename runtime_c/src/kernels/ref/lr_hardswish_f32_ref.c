/*
 * lr_hardswish_f32_ref.c -- HARDSWISH: hardswish(x) = x * relu6(x + 3) / 6, evaluated as (x * r) / 6 like torch.
 */
#include "kernels/lr_kernels.h"

void lr_hardswish_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        float r = x[i] + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        y[i] = x[i] * r / 6.0f;
    }
}
