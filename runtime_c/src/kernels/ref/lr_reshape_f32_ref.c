/*
 * lr_reshape_f32_ref.c -- RESHAPE (flatten): the same n values in the same order, copied to the output's buffer.
 */
#include "kernels/lr_kernels.h"

void lr_reshape_f32_ref(const float *x, uint32_t n, float *y)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}
