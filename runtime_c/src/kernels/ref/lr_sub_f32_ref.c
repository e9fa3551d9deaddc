/*
 * lr_sub_f32_ref.c -- SUB (format version 7): a - b element by element, or b holding one value per channel of a.
 */
#include "kernels/lr_kernels.h"

void lr_sub_f32_ref(const float *a, const float *b, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = a[i] - b[i];
    }
}

void lr_sub_channel_f32_ref(const float *a, const float *b, uint32_t c, uint32_t inner, float *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        for (i = 0; i < inner; i++) {
            y[ch * inner + i] = a[ch * inner + i] - b[ch];
        }
    }
}
