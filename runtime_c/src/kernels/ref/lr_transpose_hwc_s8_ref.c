/*
 * lr_transpose_hwc_s8_ref.c -- TRANSPOSE_HWC of an int8 model: [c][h][w] -> [h][w][c] flattened.
 */
#include "kernels/lr_kernels.h"

void lr_transpose_hwc_s8_ref(const int8_t *x, uint32_t c, uint32_t hw, int8_t *y)
{
    uint32_t ch, p;
    for (p = 0; p < hw; p++) {
        for (ch = 0; ch < c; ch++) {
            y[p * c + ch] = x[ch * hw + p];
        }
    }
}
