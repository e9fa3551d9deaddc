/*
 * lr_transpose_hwc_f32_ref.c -- TRANSPOSE_HWC: [c][h][w] -> [h][w][c] flattened (NCHW -> NHWC, then
 * flatten: torch's x.permute(0, 2, 3, 1).flatten(1)); element (ch, p) with p = y * w + x goes to
 * p * c + ch.
 */
#include "kernels/lr_kernels.h"

void lr_transpose_hwc_f32_ref(const float *x, uint32_t c, uint32_t hw, float *y)
{
    uint32_t ch, p;
    for (p = 0; p < hw; p++) {
        for (ch = 0; ch < c; ch++) {
            y[p * c + ch] = x[ch * hw + p];
        }
    }
}
