/*
 * lr_mul_f32_ref.c -- MUL of two tensors of the same shape: y = a * b.
 */
#include "kernels/lr_kernels.h"

void lr_mul_f32_ref(const float *a, const float *b, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = a[i] * b[i];
    }
}
