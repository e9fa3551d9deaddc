/*
 * lr_slice_f32_ref.c -- SLICE of channels [start, start + C_out) of [C, H, W] (or features of [F]): the
 * channels are contiguous, so it is the n = C_out * H * W values from x + start * H * W (the caller
 * passes that pointer), copied to the output's buffer.
 */
#include "kernels/lr_kernels.h"

void lr_slice_f32_ref(const float *x, uint32_t n, float *y)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}
