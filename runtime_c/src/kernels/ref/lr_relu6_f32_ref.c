/*
 * lr_relu6_f32_ref.c -- RELU6 (also the fused RELU6 activation, in place): relu6(x) = min(max(x, 0), 6).
 */
#include "kernels/lr_kernels.h"

void lr_relu6_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] < 0.0f ? 0.0f : (x[i] > 6.0f ? 6.0f : x[i]);
    }
}
