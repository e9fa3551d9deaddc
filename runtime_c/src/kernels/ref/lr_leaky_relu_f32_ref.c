/*
 * lr_leaky_relu_f32_ref.c -- LEAKY_RELU: leaky_relu(x) = x > 0 ? x : x * alpha.
 */
#include "kernels/lr_kernels.h"

void lr_leaky_relu_f32_ref(const float *x, uint32_t n, float alpha, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] > 0.0f ? x[i] : x[i] * alpha;
    }
}
