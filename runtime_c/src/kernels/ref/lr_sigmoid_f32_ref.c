/*
 * lr_sigmoid_f32_ref.c -- SIGMOID: sigmoid(x) = 1 / (1 + exp(-x)).
 */
#include "kernels/lr_kernels.h"

void lr_sigmoid_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = 1.0f / (1.0f + lr_expf(-x[i]));
    }
}
