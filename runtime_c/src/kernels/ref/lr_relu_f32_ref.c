/*
 * lr_relu_f32_ref.c -- RELU (also the fused RELU activation, in place): relu(x) = max(x, 0); NaN stays NaN as in torch.
 */
#include "kernels/lr_kernels.h"

void lr_relu_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
    }
}
